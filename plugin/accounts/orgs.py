"""Organisations and their API keys (created from the CLI, the demo and tests)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
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


def organization_for_key(session: Session, raw_key: str) -> tuple[Organization, ApiKey] | None:
    """The organisation and the live key, in one query (every API request runs it): the key by its hash
    through the unique index, its organisation joined. The organisation stays in the session's identity
    map, so the route's `current_org` reads it without another round trip."""
    row = session.execute(
        select(Organization, ApiKey).join(ApiKey, ApiKey.org_id == Organization.id)
        .where(ApiKey.key_hash == hash_key(raw_key), ApiKey.revoked_at.is_(None))
    ).first()
    return (row[0], row[1]) if row is not None else None
