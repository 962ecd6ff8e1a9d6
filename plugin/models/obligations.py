"""The obligation ledger: each cycle of "this candidate must hear from us by then"."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, UTCDateTime
from plugin.models.columns import string_enum

if TYPE_CHECKING:  # relationships name these classes; SQLAlchemy resolves them by name
    from plugin.models.candidates import Application


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
        # Ontario ESA report (reports/compliance.py OntarioReport._sources): contacts and decisions the
        # ATS recorded without a message of ours (RECORDED_CONTACTS), read from the index alone.
        Index("ix_obligations_org_contacts", "org_id", "application_id", "discharged_at", "discharged_by",
              sqlite_where=text("state = 'discharged' AND discharged_by IN ('contact', 'ats_rejection', "
                                "'job_closed', 'hired')"),
              postgresql_where=text("state = 'discharged' AND discharged_by IN ('contact', 'ats_rejection', "
                                    "'job_closed', 'hired')")),
        # Dashboard: applications autopilot has had to answer twice or more in a row (neglected).
        Index("ix_obligations_neglected", "org_id", "autopilot_run",
              sqlite_where=text("state = 'open' AND autopilot_run >= 2"),
              postgresql_where=text("state = 'open' AND autopilot_run >= 2")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    cycle: Mapped[int] = mapped_column(Integer)
    state: Mapped[ObligationState] = mapped_column(string_enum(ObligationState), default=ObligationState.OPEN)
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
    next_rung: Mapped[Rung] = mapped_column(string_enum(Rung))
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
