"""Shared pieces for ATS adapter tests: a real `Context`, fixture files, and connecting through the API.

Adapter unit tests:
    ctx = context(rt, org.id, "greenhouse", options={"api_base_url": standin.url})
    events = GreenhouseAdapter().events_from_webhook(webhook(body, headers), ctx)

End-to-end tests (signed webhook -> email in the outbox):
    conn = connect(org, "greenhouse", signing_secret="s3cret", options={"api_base_url": gh.url})
    response = org.client.post(conn["webhook_url_path"], data=body, headers={...})
    tick()   # runs the delivery job, then the sweep and the mail jobs
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from plugin import clock
from plugin.ats.base import Connection, Context, WebhookRequest
from plugin.ats.lookup import DbLookup

FIXTURES = Path(__file__).parent / "fixtures" / "ats"


def fixture_bytes(vendor: str, name: str) -> bytes:
    return (FIXTURES / vendor / name).read_bytes()


def fixture_json(vendor: str, name: str) -> Any:
    return json.loads(fixture_bytes(vendor, name))


def webhook(body: bytes | str | Mapping[str, Any], headers: Mapping[str, str] | None = None) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    return WebhookRequest(body=raw, headers={k.lower(): v for k, v in (headers or {}).items()},
                          payload=json.loads(raw))


@contextmanager
def context(rt: Any, org_id: str, provider: str, *, secrets: tuple[str, ...] = ("s3cret",),
            credentials: Mapping[str, str] | None = None, options: Mapping[str, Any] | None = None,
            now: datetime | None = None) -> Iterator[Context]:
    """A real adapter Context: the lookup reads the test database."""
    connection = Connection(id="conn-test", org_id=org_id, provider=provider, signing_secrets=secrets,
                            credentials=dict(credentials or {}), options=dict(options or {}))
    with rt.db.session() as session:
        yield Context(connection=connection, now=now or clock.now(), lookup=DbLookup(session, org_id))


def connect(org: Any, provider: str, *, signing_secret: str | None = "s3cret",
            credentials: Mapping[str, str] | None = None, options: Mapping[str, Any] | None = None,
            expect: int = 201) -> Any:
    """Create a connection through `POST /api/v1/connections`; returns the JSON answer."""
    body: dict[str, Any] = {"provider": provider}
    if signing_secret is not None:
        body["signing_secret"] = signing_secret
    if credentials:
        body["credentials"] = dict(credentials)
    if options:
        body["options"] = dict(options)
    response = org.client.post("/api/v1/connections", json=body, headers=org.headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()
