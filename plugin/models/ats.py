"""ATS connections and every delivery (webhook or poll) received through them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, UTCDateTime
from plugin.models.columns import new_uuid, string_enum


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
    state: Mapped[ConnectionState] = mapped_column(string_enum(ConnectionState), default=ConnectionState.ACTIVE)
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
        # ... and on the verified body: a signed body replayed under a new delivery id is the same delivery.
        UniqueConstraint("connection_id", "content_hash", name="uq_ats_deliveries_connection_id_content_hash"),
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
    kind: Mapped[DeliveryKind] = mapped_column(string_enum(DeliveryKind))
    delivery_key: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str | None] = mapped_column(String(80))  # "sha256:<hex>" of a webhook's body
    vendor_event: Mapped[str | None] = mapped_column(String(100))  # "reject_candidate", "candidateStageChange"
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # minus credentials
    body: Mapped[bytes | None] = mapped_column(LargeBinary)  # exact bytes (signatures are over them)
    state: Mapped[DeliveryState] = mapped_column(string_enum(DeliveryState), default=DeliveryState.RECEIVED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    # What it became: [{"id": event id, "type": ..., "status": applied|ignored|duplicate, "detail": ...}]
    events: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
