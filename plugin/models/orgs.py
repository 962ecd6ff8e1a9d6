"""Organisations: their calendar, sender identity, policy, closure dates, API keys and email wording."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, UTCDateTime
from plugin.models.columns import new_uuid, string_enum
from plugin.models.notifications import NotificationKind


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
    # Who set that key and when: the proof of notice names them beside every event the key verified.
    sendgrid_event_key_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sendgrid_event_key_set_by: Mapped[str | None] = mapped_column(String(200))
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


class TemplateOverride(Base):
    """An organisation's own wording for one message kind in one locale (any field may be unset)."""

    __tablename__ = "template_overrides"
    __table_args__ = (UniqueConstraint("org_id", "kind", "locale", name="uq_template_overrides"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(string_enum(NotificationKind))
    locale: Mapped[str] = mapped_column(String(35))
    subject: Mapped[str | None] = mapped_column(Text)  # Jinja, same context as the packaged template
    body: Mapped[str | None] = mapped_column(Text)  # Jinja plain text; the HTML part is built from it
    sender_name: Mapped[str | None] = mapped_column(String(200))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    signature: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))
