"""Dashboard users and their roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, UTCDateTime
from plugin.models.columns import string_enum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    VIEWER = "viewer"


class User(Base):
    """A dashboard user. Signs in with email and password (argon2id hash); one organisation each.

    An address is unique within an organisation, whatever its letter case; the same person may have
    an account (and a password) in each of several organisations. An invited user has an invitation
    token (only its SHA-256 is stored) and no password until they accept.
    """

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("org_id", "email"),
        # One account per address in an organisation, whatever its case (not across organisations:
        # that told one organisation's admin who had an account at another, and let them squat it).
        Index("uq_users_org_email_lower", "org_id", func.lower(text("email")), unique=True),
        # Sign-in: every account of an address, in any organisation.
        Index("ix_users_email_lower", func.lower(text("email"))),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    role: Mapped[Role] = mapped_column(string_enum(Role))
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
