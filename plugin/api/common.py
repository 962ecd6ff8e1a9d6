"""What every API route shares: the bearer key check, the caller's organisation, the time."""

from __future__ import annotations

from datetime import datetime

from flask import g, request
from flask_smorest import abort
from sqlalchemy.orm import Session

from plugin import clock
from plugin.accounts.orgs import organization_for_key
from plugin.models import Organization
from plugin.web.sessions import db_session

__all__ = ["authenticate", "current_org", "db_session", "now"]


def authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, message="Send your organisation's API key as 'Authorization: Bearer <key>'.",
              headers={"WWW-Authenticate": "Bearer"})
    found = organization_for_key(db_session(), token.strip())
    if found is None:
        abort(401, message="This API key is not valid (unknown or revoked).", headers={"WWW-Authenticate": "Bearer"})
    org, key = found
    g.org_id = org.id
    g.actor = f"api-key:{key.prefix}"


def current_org(session: Session) -> Organization:
    org = session.get(Organization, g.org_id)
    assert org is not None
    return org


def now() -> datetime:
    return clock.now()
