"""ATS connections: create, read (decrypted, for adapters), rotate secrets, enable/disable, poll schedule.

No HTTP here: `plugin.api.connections` (JSON API) and the CLI call these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from plugin.ats import egress, registry
from plugin.ats.base import Adapter, Connection
from plugin.ats.secrets import SecretBox
from plugin.audit import audit
from plugin.models import AtsConnection, ConnectionState
from plugin.settings import HostPattern

DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=7)

# Options every connection understands, with their checks. Vendor-specific ones are below.
COMMON_OPTIONS: dict[str, str] = {
    "api_base_url": "url",  # the vendor's REST API; other hosts only where the operator allows them (egress)
    "poll_interval_minutes": "interval",  # reconciliation poll interval; 0 turns polling off
    "poll_lookback_days": "lookback",  # how far back the first poll looks
}
VENDOR_OPTIONS: dict[str, dict[str, str]] = {
    "greenhouse": {"auth_url": "url", "poll_page_size": "page_size"},  # OAuth token endpoint; Harvest v3 per_page
    "lever": {"max_age_hours": "max_age"},  # refuse signed requests older than this (replay check)
    "workable": {"subdomain": "subdomain"},  # https://<subdomain>.workable.com/spi/v3
    "ashby": {},
}


class ConnectionError_(ValueError):
    """Invalid connection input. `errors` maps field -> messages, like marshmallow."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(errors)
        self.errors = errors


def adapter_for(provider: str) -> Adapter:
    adapter = registry.get(provider)
    if adapter is None:
        raise ConnectionError_({"provider": [f"Unknown provider {provider!r}; one of: {', '.join(registry.providers())}."]})
    return adapter


def validate_options(provider: str, options: Mapping[str, Any],
                     allowed_hosts: Sequence[HostPattern] = ()) -> dict[str, Any]:
    """The options if valid; URLs must pass the SSRF policy (`allowed_hosts`: the operator's extra hosts)."""
    allowed = {**COMMON_OPTIONS, **VENDOR_OPTIONS.get(provider, {})}
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key, value in options.items():
        kind = allowed.get(key)
        if kind is None:
            errors[key] = [f"Unknown option for {provider}; allowed: {', '.join(sorted(allowed))}."]
            continue
        problem = _check_url(provider, key, value, allowed_hosts) if kind == "url" else _check_option(kind, value)
        if problem:
            errors[key] = [problem]
        else:
            clean[key] = value
    if errors:
        raise ConnectionError_({"options": errors})
    return clean


def _check_url(provider: str, key: str, value: Any, allowed_hosts: Sequence[HostPattern]) -> str | None:
    if not isinstance(value, str) or len(value) > 2000:
        return f"{key} must be an https URL on {egress.allowed_text(provider, allowed_hosts)}."
    try:
        egress.check(provider, value, allowed_hosts)
    except egress.DestinationRefused as exc:
        return f"{key} {exc}."
    return None


def _check_option(kind: str, value: Any) -> str | None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "interval":
        return None if number and (value == 0 or 1 <= value <= 1440) else "Minutes between 1 and 1440, or 0 for no polling."
    if kind == "lookback":
        return None if number and 1 <= value <= 90 else "Days between 1 and 90."
    if kind == "page_size":
        return None if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 500 else "Between 1 and 500."
    if kind == "max_age":
        return None if number and 0 < value <= 168 else "Hours between 0 and 168."
    if kind == "subdomain":
        ok = isinstance(value, str) and value.replace("-", "").isalnum() and len(value) <= 63
        return None if ok else "Your Workable subdomain, e.g. 'acme' for acme.workable.com."
    return None


def validate_credentials(adapter: Adapter, credentials: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, list[str]] = {}
    for key, value in credentials.items():
        if key not in adapter.credential_fields:
            allowed = ", ".join(adapter.credential_fields) or "none"
            errors[key] = [f"Unknown credential for {adapter.title}; allowed: {allowed}."]
        elif not isinstance(value, str) or not value.strip() or len(value) > 4000:
            errors[key] = ["Must be a non-empty string."]
    if errors:
        raise ConnectionError_({"credentials": errors})
    return {k: v.strip() for k, v in credentials.items()}


def polls(adapter: Adapter, credentials: Mapping[str, str], options: Mapping[str, Any]) -> bool:
    """Polling needs the REST credentials the adapter requires, and may be switched off with interval 0."""
    has_credentials = all(credentials.get(name) for name in adapter.required_credentials)
    return has_credentials and options.get("poll_interval_minutes", 1) != 0


def poll_interval(options: Mapping[str, Any], default_minutes: float) -> timedelta:
    return timedelta(minutes=float(options.get("poll_interval_minutes") or default_minutes))


def create(session: Session, box: SecretBox, org_id: str, *, provider: str, name: str | None,
           signing_secret: str | None, credentials: Mapping[str, Any], options: Mapping[str, Any],
           now: datetime, actor: str, allowed_hosts: Sequence[HostPattern] = ()) -> AtsConnection:
    """`allowed_hosts`: the operator's GHOSTLESS_ATS_ALLOWED_HOSTS (vendors' own hosts are always allowed)."""
    adapter = adapter_for(provider)
    errors: dict[str, Any] = {}
    if adapter.signing_secret_required and not signing_secret:
        errors["signing_secret"] = [f"{adapter.title} webhooks are verified with a signing secret; it is required."]
    try:
        clean_credentials = validate_credentials(adapter, credentials)
    except ConnectionError_ as exc:
        errors.update(exc.errors)
        clean_credentials = {}
    try:
        clean_options = validate_options(provider, options, allowed_hosts)
    except ConnectionError_ as exc:
        errors.update(exc.errors)
        clean_options = {}
    if errors:
        raise ConnectionError_(errors)
    connection = AtsConnection(
        org_id=org_id, provider=provider, name=name or adapter.title, state=ConnectionState.ACTIVE,
        signing_secret=box.seal(signing_secret) if signing_secret else None,
        credentials=box.seal_json(clean_credentials) if clean_credentials else None,
        options=clean_options, created_at=now, updated_at=now, rejected_signatures=0,
        # The first poll runs at the next sweep: it also proves the credentials work.
        next_poll_at=now if polls(adapter, clean_credentials, clean_options) else None,
    )
    session.add(connection)
    session.flush()
    audit(session, org_id, "ats_connection", connection.id, "created", now, actor, None,
          _audit_view(connection, clean_credentials))
    return connection


def _audit_view(connection: AtsConnection, credentials: Mapping[str, str]) -> dict[str, Any]:
    """What the audit log keeps: never secret values, only which ones are set."""
    return {"provider": connection.provider, "name": connection.name, "state": connection.state.value,
            "options": dict(connection.options or {}), "credentials_set": sorted(credentials),
            "has_signing_secret": connection.signing_secret is not None}


def update(session: Session, box: SecretBox, connection: AtsConnection, *, name: str | None = None,
           enabled: bool | None = None, credentials: Mapping[str, Any] | None = None,
           options: Mapping[str, Any] | None = None, now: datetime, actor: str,
           allowed_hosts: Sequence[HostPattern] = ()) -> AtsConnection:
    adapter = adapter_for(connection.provider)
    current_credentials = box.open_json(connection.credentials)
    before = _audit_view(connection, current_credentials)
    if credentials is not None:
        current_credentials = validate_credentials(adapter, credentials)
        connection.credentials = box.seal_json(current_credentials) if current_credentials else None
    if options is not None:
        connection.options = validate_options(connection.provider, options, allowed_hosts)
    if name is not None:
        connection.name = name
    if enabled is not None:
        connection.state = ConnectionState.ACTIVE if enabled else ConnectionState.DISABLED
        connection.disabled_at = None if enabled else now
    if connection.state is ConnectionState.ACTIVE and polls(adapter, current_credentials, connection.options or {}):
        if connection.next_poll_at is None or credentials is not None:
            connection.next_poll_at = now
    else:
        connection.next_poll_at = None
    connection.updated_at = now
    audit(session, connection.org_id, "ats_connection", connection.id, "updated", now, actor, before,
          _audit_view(connection, current_credentials))
    return connection


def rotate_secret(session: Session, box: SecretBox, connection: AtsConnection, new_secret: str,
                  grace: timedelta, *, now: datetime, actor: str) -> AtsConnection:
    """The new secret signs from now on; the old one is still accepted until `now + grace`."""
    if not new_secret:
        raise ConnectionError_({"signing_secret": ["Required."]})
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise ConnectionError_({"grace_hours": [f"Between 0 and {int(MAX_GRACE.total_seconds() // 3600)} hours."]})
    if connection.signing_secret is not None and grace > timedelta(0):
        connection.previous_signing_secret = connection.signing_secret
        connection.previous_secret_expires_at = now + grace
    else:
        connection.previous_signing_secret = connection.previous_secret_expires_at = None
    connection.signing_secret = box.seal(new_secret)
    connection.secret_rotated_at = connection.updated_at = now
    audit(session, connection.org_id, "ats_connection", connection.id, "secret_rotated", now, actor, None,
          {"previous_accepted_until": connection.previous_secret_expires_at.isoformat()
           if connection.previous_secret_expires_at else None})
    return connection


def accepted_secrets(connection: AtsConnection, box: SecretBox, now: datetime) -> tuple[str, ...]:
    """The signing secrets that verify a webhook now: the current one, then a rotated-out one in grace."""
    secrets = [box.open(connection.signing_secret)] if connection.signing_secret else []
    if (connection.previous_signing_secret and connection.previous_secret_expires_at
            and now < connection.previous_secret_expires_at):
        secrets.append(box.open(connection.previous_signing_secret))
    return tuple(secrets)


def view(connection: AtsConnection, box: SecretBox, now: datetime) -> Connection:
    """The decrypted connection an adapter works with."""
    return Connection(id=connection.id, org_id=connection.org_id, provider=connection.provider,
                      signing_secrets=accepted_secrets(connection, box, now),
                      credentials=box.open_json(connection.credentials), options=dict(connection.options or {}))


def credential_names(connection: AtsConnection, box: SecretBox) -> list[str]:
    return sorted(box.open_json(connection.credentials))
