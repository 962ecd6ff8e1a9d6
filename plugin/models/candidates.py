"""What the ATS tells us: jobs, candidates, their applications and interviews."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, UTCDateTime
from plugin.models.columns import string_enum


class JobStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ApplicationStatus(StrEnum):
    ACTIVE = "active"
    REJECTED = "rejected"
    HIRED = "hired"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"  # the job closed and the candidate was told


class InterviewStatus(StrEnum):
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id"),
        # Dashboard: a manager's departments, and the department filter.
        Index("ix_jobs_org_department", "org_id", "department"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(300))
    department: Mapped[str | None] = mapped_column(String(200))
    hiring_manager_name: Mapped[str | None] = mapped_column(String(200))
    hiring_manager_email: Mapped[str | None] = mapped_column(String(320))
    recruiter_name: Mapped[str | None] = mapped_column(String(200))
    recruiter_email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[JobStatus] = mapped_column(string_enum(JobStatus), default=JobStatus.OPEN)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    policy_override: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Ontario ESA report: only publicly advertised jobs are in scope. None: not said (reported as
    # in scope, marked as assumed, until an admin says otherwise).
    publicly_advertised: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A closing too large for one request continues in the sweep (plugin.sla.ledger_jobs): the last
    # application id already added to a closing notice, and the hold those notices wait for.
    # None: nothing left to do.
    closing_fanout_after: Mapped[int | None] = mapped_column(Integer)
    closing_hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Candidate(Base):
    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id"),
        # Inbound replies: who sent this mail (addresses compare case-insensitively).
        Index("ix_candidates_email", "org_id", func.lower(text("email"))),
        # Retention: only people whose data is still here are candidates for anonymisation.
        Index("ix_candidates_living", "id", sqlite_where=text("erased_at IS NULL"),
              postgresql_where=text("erased_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str | None] = mapped_column(String(35))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Public holidays of the candidate's own country (send windows); None: the organisation's.
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    holiday_subdivision: Mapped[str | None] = mapped_column(String(16))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    erasure_reason: Mapped[str | None] = mapped_column(String(32))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (UniqueConstraint("org_id", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)  # erase / merge
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)  # job closed: open applications
    status: Mapped[ApplicationStatus] = mapped_column(string_enum(ApplicationStatus), default=ApplicationStatus.ACTIVE)
    # occurred_at of the event that set `status`: an older event never overrides a newer one.
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stage: Mapped[str | None] = mapped_column(String(200))
    stage_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_expected_by: Mapped[date | None] = mapped_column(Date)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    first_interview_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When a person last did something about this application that the ATS told us (a stage change,
    # a promised date, an interview, a contact) or sent an update through Ghostless. Autopilot's
    # wording and the neglect escalation depend on it ("After autopilot" in DESIGN.md).
    last_human_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    candidate: Mapped[Candidate] = relationship()
    job: Mapped[Job] = relationship()

    @property
    def interviewed(self) -> bool:
        return self.first_interview_ended_at is not None


class Interview(Base):
    __tablename__ = "interviews"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id"),
        # Sweep: interviews whose end time passed without a "completed" event (many ATSs never send one).
        Index(
            "ix_interviews_awaiting_end",
            "ends_at",
            sqlite_where=text("status = 'scheduled' AND obligation_opened_at IS NULL"),
            postgresql_where=text("status = 'scheduled' AND obligation_opened_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[InterviewStatus] = mapped_column(string_enum(InterviewStatus), default=InterviewStatus.SCHEDULED)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    obligation_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    application: Mapped[Application] = relationship()
