"""SQLAlchemy 2 typed models: the obligation ledger and everything around it.

Every `*_at` column is an aware UTC instant (`UTCDateTime`). States are string enums stored as
VARCHAR (no native PostgreSQL enum types: adding a state later is then a code change only).
Each index says which query uses it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, UTCDateTime


def _enum(enum_cls: type[StrEnum]) -> Enum:
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def new_uuid() -> str:
    return str(uuid.uuid4())


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    VIEWER = "viewer"


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


class ObligationState(StrEnum):
    OPEN = "open"
    DISCHARGED = "discharged"  # the candidate heard from us (update, contact, decision)
    CLOSED = "closed"  # nothing is owed any more (withdrawn, erased, hired elsewhere...)


class Rung(StrEnum):
    """The next step of the escalation ladder an open obligation is waiting for."""

    REMINDER_RECRUITER = "reminder_recruiter"
    REMINDER_HIRING_MANAGER = "reminder_hiring_manager"
    AUTOPILOT = "autopilot"  # or the escalation to talent ops when autopilot is off
    DEADLINE = "deadline"  # due_at passed: record the breach
    DONE = "done"


class NotificationKind(StrEnum):
    NEXT_STEPS = "next_steps"
    STATUS_UPDATE = "status_update"
    REJECTION = "rejection"
    JOB_CLOSED = "job_closed"
    REMINDER_RECRUITER = "reminder_recruiter"
    REMINDER_HIRING_MANAGER = "reminder_hiring_manager"
    ESCALATION = "escalation"
    DELIVERY_FAILED = "delivery_failed"
    REPLY_ACK = "reply_ack"  # to a candidate who replied: where things stand, once per cycle
    REPLY_FORWARD = "reply_forward"  # a candidate's reply, forwarded to the recruiter
    CANDIDATE_WITHDREW = "candidate_withdrew"  # to the recruiter: withdrawn from the status page

    @property
    def is_candidate_facing(self) -> bool:
        return self in CANDIDATE_KINDS

    @property
    def discharges(self) -> bool:
        """Whether sending this message means the candidate heard from us."""
        return self in (NotificationKind.STATUS_UPDATE, NotificationKind.REJECTION, NotificationKind.JOB_CLOSED)


CANDIDATE_KINDS = frozenset(
    {NotificationKind.NEXT_STEPS, NotificationKind.STATUS_UPDATE, NotificationKind.REJECTION,
     NotificationKind.JOB_CLOSED, NotificationKind.REPLY_ACK}
)


class DeliveryStatus(StrEnum):
    """What SendGrid's Event Webhook last told us about a sent message (None: nothing yet).

    Ordered by how final they are: a late `deferred` never overwrites `delivered`, and nothing
    overwrites `bounce`/`dropped` except a later `delivered` (a soft bounce that was retried).
    """

    PROCESSED = "processed"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    BOUNCE = "bounce"
    DROPPED = "dropped"
    SPAMREPORT = "spamreport"

    @property
    def undeliverable(self) -> bool:
        return self in (DeliveryStatus.BOUNCE, DeliveryStatus.DROPPED)


class ReplyState(StrEnum):
    MATCHED = "matched"  # from a known candidate: on their timeline, forwarded
    UNKNOWN_SENDER = "unknown_sender"  # stored for review, not answered
    ERASED = "erased"  # personal data removed


class NotificationState(StrEnum):
    SCHEDULED = "scheduled"  # waiting for scheduled_for; the sweep enqueues it
    QUEUED = "queued"  # an RQ job has been (or is about to be) enqueued
    SENDING = "sending"  # a worker claimed it and is talking to the provider
    SENT = "sent"  # the provider accepted it
    # A worker died mid-send or the provider did not answer: the message may or may not have gone
    # out. It is confirmed (sent) or refuted (scheduled again) by the provider's events, never
    # retried blindly and never reported as a bounce.
    UNKNOWN = "unknown"
    FAILED = "failed"  # permanently failed; escalated
    CANCELLED = "cancelled"  # no longer wanted (reopened, hired, erased, discharged...)


class EventOutcome(StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"  # valid but changes nothing (older than current state, erased candidate...)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    holiday_subdivision: Mapped[str | None] = mapped_column(String(16))
    working_weekdays: Mapped[str] = mapped_column(String(20), default="0,1,2,3,4")  # Monday=0
    sender_name: Mapped[str | None] = mapped_column(String(200))
    sender_email: Mapped[str | None] = mapped_column(String(320))
    escalation_email: Mapped[str | None] = mapped_column(String(320))  # the talent-ops lead
    locale: Mapped[str] = mapped_column(String(35), default="en")  # internal mail; candidates' fallback
    # SendGrid Event Webhook verification key (base64 DER, as SendGrid shows it); None: events refused.
    sendgrid_event_public_key: Mapped[str | None] = mapped_column(Text)
    # Inbound Parse: SHA-256 of the password in the URL SendGrid posts to (basic auth); None: refused.
    sendgrid_inbound_secret_hash: Mapped[str | None] = mapped_column(String(64))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # overrides of DEFAULT_POLICY
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    closures: Mapped[list[ClosureDate]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", order_by="ClosureDate.day"
    )


class ClosureDate(Base):
    __tablename__ = "closure_dates"
    __table_args__ = (UniqueConstraint("org_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    label: Mapped[str | None] = mapped_column(String(200))

    organization: Mapped[Organization] = relationship(back_populates="closures")


class ApiKey(Base):
    """Shown once at creation; only a SHA-256 of the (high-entropy, random) key is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to recognise a key in lists
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # lookup on every API request
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class User(Base):
    """A dashboard user. Signs in with email and password (argon2id hash); one organisation each.

    An email address belongs to one user in the whole installation, so signing in needs no
    organisation picker. An invited user has an invitation token (only its SHA-256 is stored) and
    no password until they accept.
    """

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("org_id", "email"),
        # Sign-in: look a user up by address, whatever its case.
        Index("uq_users_email_lower", func.lower(text("email")), unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    role: Mapped[Role] = mapped_column(_enum(Role))
    # Managers see these departments' jobs, plus the jobs where they are hiring manager or recruiter.
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    invite_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    invite_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    invited_by: Mapped[str | None] = mapped_column(String(200))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Part of every signed-in session: raised on sign-out and on disabling, which ends every session
    # (sessions live in the signed cookie, so a copied cookie would otherwise outlive them).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


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
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus), default=JobStatus.OPEN)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    policy_override: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Ontario ESA report: only publicly advertised jobs are in scope. None: not said (reported as
    # in scope, marked as assumed, until an admin says otherwise).
    publicly_advertised: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


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
    status: Mapped[ApplicationStatus] = mapped_column(_enum(ApplicationStatus), default=ApplicationStatus.ACTIVE)
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
    status: Mapped[InterviewStatus] = mapped_column(_enum(InterviewStatus), default=InterviewStatus.SCHEDULED)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    obligation_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    application: Mapped[Application] = relationship()


class Obligation(Base):
    """'This candidate must hear from us by due_at' for one cycle of one application."""

    __tablename__ = "obligations"
    __table_args__ = (
        # The sweep's query: open obligations whose next ladder step is due. Partial, so its size is
        # the number of open obligations, and a tick reads only the rows that are due.
        Index(
            "ix_obligations_next_action_at",
            "next_action_at",
            sqlite_where=text("next_action_at IS NOT NULL"),
            postgresql_where=text("next_action_at IS NOT NULL"),
        ),
        # One open obligation per application at a time.
        Index(
            "uq_obligations_open_application",
            "application_id",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        UniqueConstraint("application_id", "cycle"),
        # Dashboard: outcomes in a period (deadlines that passed, cycles discharged) and at risk now.
        Index("ix_obligations_org_due", "org_id", "due_at"),
        Index("ix_obligations_org_discharged", "org_id", "discharged_at"),
        # Dashboard: at risk now and still waiting past the deadline read only the open cycles.
        Index("ix_obligations_open_due", "org_id", "due_at",
              sqlite_where=text("state = 'open'"), postgresql_where=text("state = 'open'")),
        # Dashboard: applications autopilot has had to answer twice or more in a row (neglected).
        Index("ix_obligations_neglected", "org_id", "autopilot_run",
              sqlite_where=text("state = 'open' AND autopilot_run >= 2"),
              postgresql_where=text("state = 'open' AND autopilot_run >= 2")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    cycle: Mapped[int] = mapped_column(Integer)
    state: Mapped[ObligationState] = mapped_column(_enum(ObligationState), default=ObligationState.OPEN)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_by: Mapped[str] = mapped_column(String(32))  # interview | status_update | contact | reopened
    anchor_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the instant the deadline counts from
    # A person's status update told the candidate "you will hear from us by <this day>": the cycle it
    # opened is due at the end of that day's send window instead of after the cadence.
    promised_on: Mapped[date | None] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The end of the send window on the latest date a message put in writing for this cycle ("you
    # will hear from us by ..."). `due_at` never moves later than it (invariant 7).
    written_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How `due_at` was set (plugin.sla.deadlines.DueBasis): the policy's working days, a promised
    # decision date, a person's date, capped by a date in writing, or the earliest honest deadline
    # when the data came too late for the policy's (a backfilled interview, a lowered SLA).
    due_basis: Mapped[str | None] = mapped_column(String(32))
    # How many autopilot updates in a row, with nobody on the hiring team acting between them, came
    # before this cycle (0: a person or an event answered the last one). Drives the growing
    # cadence, the wording, and the neglect escalation.
    autopilot_run: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_rung: Mapped[Rung] = mapped_column(_enum(Rung))
    next_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    owner_email: Mapped[str | None] = mapped_column(String(320))  # who must act: the recruiter
    discharged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    discharged_by: Mapped[str | None] = mapped_column(String(32))
    closed_reason: Mapped[str | None] = mapped_column(String(32))
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # forgotten | autopilot_off | undeliverable | late (a message meant to meet the deadline could
    # not leave in time: a late sweep or worker) | unknown (a message whose fate is unknown)
    breach_reason: Mapped[str | None] = mapped_column(String(32))
    at_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    autopilot_stepped_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # Optimistic lock: two sweepers that read the same row cannot both act on it; the second
    # UPDATE ... WHERE version = <old> changes no row and SQLAlchemy raises StaleDataError.
    version: Mapped[int] = mapped_column(Integer, default=1)

    application: Mapped[Application] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def met(self) -> bool | None:
        """On time (True), missed (False), or neither yet (None), as of now: `plugin.reports.outcomes`,
        the rule every on-time rate counts by (an open cycle past its deadline is already missed)."""
        # Imported here: outcomes builds its SQL on this model.
        from plugin import clock
        from plugin.reports.outcomes import met

        return met(self, clock.now())


class Notification(Base):
    """One message to one person: the durable row between deciding to send and sending."""

    __tablename__ = "notifications"
    __table_args__ = (
        # Sweep: scheduled messages whose time has come.
        Index(
            "ix_notifications_due",
            "scheduled_for",
            sqlite_where=text("state = 'scheduled'"),
            postgresql_where=text("state = 'scheduled'"),
        ),
        # Sweep: queued/sending rows whose job was lost (crash between commit and enqueue), and
        # messages of unknown fate waiting for the provider's word.
        Index(
            "ix_notifications_in_flight",
            "queued_at",
            sqlite_where=text("state IN ('queued', 'sending', 'unknown')"),
            postgresql_where=text("state IN ('queued', 'sending', 'unknown')"),
        ),
        # Never two live messages with the same purpose (e.g. one status update per cycle).
        Index(
            "uq_notifications_dedupe_key",
            "org_id",
            "dedupe_key",
            unique=True,
            sqlite_where=text("state != 'cancelled' AND dedupe_key IS NOT NULL"),
            postgresql_where=text("state != 'cancelled' AND dedupe_key IS NOT NULL"),
        ),
        # Dashboard: proof-of-notice export for a period.
        Index("ix_notifications_org_sent", "org_id", "sent_at"),
        # Ontario ESA report: when each application was told whether a decision was made (index-only).
        Index("ix_notifications_told", "application_id", "sent_at", "kind", "delivery_status",
              sqlite_where=text("state = 'sent' AND kind IN ('status_update', 'rejection', 'job_closed')"),
              postgresql_where=text("state = 'sent' AND kind IN ('status_update', 'rejection', 'job_closed')")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)  # timeline
    obligation_id: Mapped[int | None] = mapped_column(ForeignKey("obligations.id"), index=True)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"), index=True)  # erase
    kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind))
    autopilot: Mapped[bool] = mapped_column(Boolean, default=False)
    recipient_email: Mapped[str | None] = mapped_column(String(320))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(35))
    subject: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[NotificationState] = mapped_column(_enum(NotificationState), default=NotificationState.SCHEDULED)
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # proof of notice (SendGrid `delivered`)
    delivery_status: Mapped[DeliveryStatus | None] = mapped_column(_enum(DeliveryStatus))
    delivery_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_detail: Mapped[str | None] = mapped_column(Text)  # bounce/dropped reason, SMTP response
    # The locale asked for when its templates did not exist (the message went out in `locale`).
    locale_fallback_from: Mapped[str | None] = mapped_column(String(35))
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    cancelled_reason: Mapped[str | None] = mapped_column(String(64))
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    application: Mapped[Application | None] = relationship()
    candidate: Mapped[Candidate | None] = relationship()


class MailEvent(Base):
    """One SendGrid Event Webhook event, kept as proof (delivered = the candidate received it)."""

    __tablename__ = "mail_events"
    __table_args__ = (
        # Duplicates: SendGrid re-posts events, sometimes with a new sg_event_id, so the key is
        # (message id, event, timestamp) when sg_event_id alone cannot be trusted.
        UniqueConstraint("org_id", "dedupe_key", name="uq_mail_events_dedupe"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"), index=True)  # proof
    dedupe_key: Mapped[str] = mapped_column(String(300))
    sg_event_id: Mapped[str | None] = mapped_column(String(100))
    sg_message_id: Mapped[str | None] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[str | None] = mapped_column(Text)  # reason / response / bounce type
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # minus the recipient address after retention


class CandidateReply(Base):
    """A mail received through SendGrid Inbound Parse (a candidate answering one of our messages)."""

    __tablename__ = "candidate_replies"
    __table_args__ = (
        # Re-posts of the same mail (SendGrid retries) are one reply, even when they race.
        Index("uq_candidate_replies_message_id", "org_id", "message_id", unique=True,
              sqlite_where=text("message_id IS NOT NULL"), postgresql_where=text("message_id IS NOT NULL")),
        # Retention: unknown senders' mail older than the period.
        Index("ix_candidate_replies_unknown_sender", "received_at",
              sqlite_where=text("state = 'unknown_sender'"), postgresql_where=text("state = 'unknown_sender'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"), index=True)  # erase
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)  # timeline
    state: Mapped[ReplyState] = mapped_column(_enum(ReplyState))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_email: Mapped[str | None] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(300))  # the Message-ID header: dedupe of re-posts
    forward_notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    ack_notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))


class TemplateOverride(Base):
    """An organisation's own wording for one message kind in one locale (any field may be unset)."""

    __tablename__ = "template_overrides"
    __table_args__ = (UniqueConstraint("org_id", "kind", "locale", name="uq_template_overrides"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind))
    locale: Mapped[str] = mapped_column(String(35))
    subject: Mapped[str | None] = mapped_column(Text)  # Jinja, same context as the packaged template
    body: Mapped[str | None] = mapped_column(Text)  # Jinja plain text; the HTML part is built from it
    sender_name: Mapped[str | None] = mapped_column(String(200))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    signature: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class InboundEvent(Base):
    """Every canonical event we accepted, raw and canonical, idempotent on (org, event id)."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("org_id", "event_id"),
        # Dashboard timeline: every event of one application.
        Index("ix_inbound_events_application", "org_id", "application_external_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32), default="api")
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    candidate_external_id: Mapped[str | None] = mapped_column(String(200), index=True)  # erasure scrubs these
    application_external_id: Mapped[str | None] = mapped_column(String(200))
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    canonical: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outcome: Mapped[EventOutcome] = mapped_column(_enum(EventOutcome))
    detail: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Who changed what, when, from what to what."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "org_id", "entity", "entity_id"),  # a record's history
        Index("ix_audit_log_org_at", "org_id", "at"),  # dashboard: recent configuration changes
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))  # "api-key:<prefix>", "sweeper", "worker", "cli"
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# -- ATS connections (plugin.ats) ------------------------------------------------------------------


class ConnectionState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # webhooks answered 410 so the vendor stops retrying; no polling


class DeliveryKind(StrEnum):
    WEBHOOK = "webhook"
    POLL = "poll"  # one page of records fetched by the reconciliation poll
    REPLAY = "replay"  # a file an operator replayed with `ghostless ats replay FILE`


class DeliveryState(StrEnum):
    RECEIVED = "received"  # stored, waiting for its job (or for a retry after a transient error)
    PROCESSING = "processing"
    PROCESSED = "processed"  # translated and recorded (possibly into zero events)
    IGNORED = "ignored"  # a ping or test request
    FAILED = "failed"  # a permanent error or too many attempts; `error` says why; can be retried


class AtsConnection(Base):
    """One ATS account connected to an organisation. Secrets are encrypted at rest (plugin.ats.secrets)."""

    __tablename__ = "ats_connections"
    __table_args__ = (
        # Reconciliation: connections whose next poll is due (sweep tick).
        Index("ix_ats_connections_next_poll", "next_poll_at",
              sqlite_where=text("state = 'active'"), postgresql_where=text("state = 'active'")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[ConnectionState] = mapped_column(_enum(ConnectionState), default=ConnectionState.ACTIVE)
    signing_secret: Mapped[str | None] = mapped_column(Text)  # encrypted
    previous_signing_secret: Mapped[str | None] = mapped_column(Text)  # encrypted; accepted until the grace ends
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    credentials: Mapped[str | None] = mapped_column(Text)  # encrypted JSON object
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Health, shown by the API: bad signatures are counted, never stored.
    rejected_signatures: Mapped[int] = mapped_column(Integer, default=0)
    last_rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Reconciliation poll.
    poll_cursor: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    poll_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_poll_error: Mapped[str | None] = mapped_column(Text)


class AtsDelivery(Base):
    """A webhook (or poll page) exactly as received, stored before it is acknowledged (invariant 3)."""

    __tablename__ = "ats_deliveries"
    __table_args__ = (
        # Dedupe: the vendor's delivery id (Greenhouse-Event-ID, Lever token, ...) or a body hash.
        UniqueConstraint("connection_id", "delivery_key"),
        # Sweep: deliveries whose job was lost or whose retry is due.
        Index("ix_ats_deliveries_pending", "next_attempt_at",
              sqlite_where=text("state IN ('received', 'processing')"),
              postgresql_where=text("state IN ('received', 'processing')")),
        # API and CLI: a connection's deliveries, newest first.
        Index("ix_ats_deliveries_connection_received", "connection_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("ats_connections.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    kind: Mapped[DeliveryKind] = mapped_column(_enum(DeliveryKind))
    delivery_key: Mapped[str] = mapped_column(String(300))
    vendor_event: Mapped[str | None] = mapped_column(String(100))  # "reject_candidate", "candidateStageChange"
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # minus credentials
    body: Mapped[bytes | None] = mapped_column(LargeBinary)  # exact bytes (signatures are over them)
    state: Mapped[DeliveryState] = mapped_column(_enum(DeliveryState), default=DeliveryState.RECEIVED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    # What it became: [{"id": event id, "type": ..., "status": applied|ignored|duplicate, "detail": ...}]
    events: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
