"""Messages: every email Ghostless schedules or sends, its delivery events, and candidates' replies."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, UTCDateTime
from plugin.models.columns import string_enum

if TYPE_CHECKING:  # relationships name these classes; SQLAlchemy resolves them by name
    from plugin.models.candidates import Application, Candidate
    from plugin.models.obligations import Obligation


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
    # From a candidate's address but failing SPF and DKIM (`held_reason`): kept for review, never
    # forwarded, answered or put on the timeline.
    HELD = "held"
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
        # Ontario ESA report (reports/compliance.py OntarioReport._sources): when each application was
        # told whether a decision was made, read from the index alone (migration 0011).
        Index("ix_notifications_org_told", "org_id", "application_id", "sent_at", "kind", "delivery_status",
              sqlite_where=text("state = 'sent' AND kind IN ('status_update', 'rejection', 'job_closed')"),
              postgresql_where=text("state = 'sent' AND kind IN ('status_update', 'rejection', 'job_closed')")),
        # Proof-of-notice page (reports/proof_export.py ProofExport.count): candidate-facing messages
        # sent (CANDIDATE_KINDS), counted from the index alone.
        Index("ix_notifications_org_proof", "org_id", "sent_at", "application_id",
              sqlite_where=text("state = 'sent' AND kind IN ('next_steps', 'status_update', 'rejection', "
                                "'job_closed', 'reply_ack')"),
              postgresql_where=text("state = 'sent' AND kind IN ('next_steps', 'status_update', 'rejection', "
                                    "'job_closed', 'reply_ack')")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)  # timeline
    obligation_id: Mapped[int | None] = mapped_column(ForeignKey("obligations.id"), index=True)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"), index=True)  # erase
    kind: Mapped[NotificationKind] = mapped_column(string_enum(NotificationKind))
    autopilot: Mapped[bool] = mapped_column(Boolean, default=False)
    recipient_email: Mapped[str | None] = mapped_column(String(320))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(35))
    subject: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[NotificationState] = mapped_column(string_enum(NotificationState), default=NotificationState.SCHEDULED)
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # proof of notice (SendGrid `delivered`)
    delivery_status: Mapped[DeliveryStatus | None] = mapped_column(string_enum(DeliveryStatus))
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
    # Also tells a flush to insert the cycle before its messages: the ledger gives new rows their ids
    # itself and writes a whole batch in one flush (plugin.sla.ledger_batch).
    obligation: Mapped[Obligation | None] = relationship()


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
    # The key that verified the post, and who set it when (copied at receipt: a later key change
    # does not rewrite what this event rests on). None: received before keys were recorded.
    key_fingerprint: Mapped[str | None] = mapped_column(String(40))
    key_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    key_set_by: Mapped[str | None] = mapped_column(String(200))
    # Why the event was not applied (its time is impossible for the message, or far from now); a
    # refused event is linked to no message and keeps no raw body.
    refused_reason: Mapped[str | None] = mapped_column(Text)


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
    state: Mapped[ReplyState] = mapped_column(string_enum(ReplyState))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_email: Mapped[str | None] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(300))  # the Message-ID header: dedupe of re-posts
    forward_notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    ack_notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    # SendGrid's SPF and DKIM verdicts as received, e.g. "SPF pass for example.com; DKIM pass for example.com".
    authentication: Mapped[str | None] = mapped_column(String(500))
    held_reason: Mapped[str | None] = mapped_column(String(500))  # why a HELD reply was not acted on
