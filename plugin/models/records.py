"""What came in and what changed: every canonical event received, and the audit trail."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, UTCDateTime
from plugin.models.columns import string_enum


class EventOutcome(StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"  # valid but changes nothing (older than current state, erased candidate...)


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
    outcome: Mapped[EventOutcome] = mapped_column(string_enum(EventOutcome))
    detail: Mapped[str | None] = mapped_column(Text)


class BatchState(StrEnum):
    QUEUED = "queued"  # stored and acknowledged, waiting for its job (or for a retry)
    PROCESSING = "processing"
    PROCESSED = "processed"  # every event applied, ignored or recognised as a duplicate
    FAILED = "failed"  # not applied (a bug, or an organisation gone): kept for a person to read


class EventBatch(Base):
    """A `POST /api/v1/events` request, validated and stored before it was acknowledged (202); an RQ
    job applies it. The caller reads each event's outcome at `GET /api/v1/event-batches/<id>`."""

    __tablename__ = "event_batches"
    __table_args__ = (
        # Sweep: batches whose job was lost or whose worker died.
        Index("ix_event_batches_pending", "next_attempt_at",
              sqlite_where=text("state IN ('queued', 'processing')"),
              postgresql_where=text("state IN ('queued', 'processing')")),
        # Sweep: outcomes older than the time they are kept.
        Index("ix_event_batches_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))  # "api-key:<prefix>"
    state: Mapped[BatchState] = mapped_column(string_enum(BatchState), default=BatchState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # lost job / dead worker / retry
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    event_count: Mapped[int] = mapped_column(Integer)
    event_ids: Mapped[list[str]] = mapped_column(JSON)  # in the order posted
    # The request body as received. Dropped once applied: from then on the ledger holds each event.
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    # [{"id", "type", "status": applied|ignored|duplicate, "detail"}] once processed.
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


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
