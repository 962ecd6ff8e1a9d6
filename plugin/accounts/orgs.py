"""Organisations and their API keys (created from the CLI, the demo and tests)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from plugin.models import ApiKey, Organization
from plugin.sla.calendar import validate_calendar

KEY_PREFIX = "gl_"


def hash_key(raw_key: str) -> str:
    # API keys are 256-bit random tokens, so a plain SHA-256 is enough (no password stretching needed).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_organization(
    session: Session, name: str, *, timezone: str, country: str | None, subdivision: str | None = None,
    now: datetime, sender_name: str | None = None, sender_email: str | None = None,
    escalation_email: str | None = None,
) -> tuple[Organization, str]:
    """Create an organisation and its first API key. Returns the key in clear, to show once."""
    validate_calendar(timezone, country, subdivision)  # raises CalendarError with a clear message
    org = Organization(
        name=name, timezone=timezone, holiday_country=country, holiday_subdivision=subdivision,
        working_weekdays="0,1,2,3,4", policy={}, created_at=now, sender_name=sender_name,
        sender_email=sender_email, escalation_email=escalation_email,
    )
    session.add(org)
    session.flush()
    return org, issue_api_key(session, org, "default", now=now)


def issue_api_key(session: Session, org: Organization, name: str, *, now: datetime) -> str:
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(org_id=org.id, name=name, prefix=raw[:10], key_hash=hash_key(raw), created_at=now))
    session.flush()
    return raw


@dataclass(frozen=True)
class KeyOwner:
    """Who an API key speaks for: what every API request needs before its route runs."""

    org_id: str
    prefix: str  # the key's first characters, for the audit trail's actor (`api-key:<prefix>`)


# Built once: every API request runs it. A live key only (not revoked), found by its hash through
# the unique index. Keys are deleted with their organisation (ON DELETE CASCADE), so no join.
_KEY_OWNER = select(ApiKey.org_id, ApiKey.prefix).where(ApiKey.key_hash == bindparam("key_hash"),
                                                        ApiKey.revoked_at.is_(None))


def key_owner(session: Session, raw_key: str) -> KeyOwner | None:
    """The organisation a live API key belongs to, or None. One Core statement on the session's own
    connection (the request's transaction), with no ORM objects loaded: on POST /api/v1/events the
    ORM's version of this lookup was a quarter of the request's CPU time. A route that needs the
    organisation itself loads it by primary key (`plugin.api.common.current_org`)."""
    row = session.connection().execute(_KEY_OWNER, {"key_hash": hash_key(raw_key)}).first()
    return KeyOwner(row.org_id, row.prefix) if row is not None else None
