"""Reconciliation: a scheduled poll per connection finds what webhooks missed.

Webhooks get lost (Greenhouse gives up after ~15 h, Teamtailor never retries) and some vendors never
send "interview completed". Each active connection with API credentials is polled every
`poll_interval_minutes` (default GHOSTLESS_POLL_INTERVAL_MINUTES, 15):
1. the sweep claims due connections with a conditional update of `next_poll_at` (one sweeper wins)
   and enqueues `poll_connection(id)`;
2. the job asks the adapter for pages of changed records from the stored cursor;
3. each page is stored raw as a delivery (kind "poll", keyed by a hash of its content, so an
   identical page is not stored twice) and processed like a webhook. Canonical event ids come from
   facts, so a change seen by both a webhook and the poll acts once;
4. the cursor is saved after each page. A vendor error stops this run, is shown on the connection
   (`last_poll_error`) and the next run starts again from the last saved cursor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from plugin import clock, runtime
from plugin.ats import connections as connections_module
from plugin.ats import deliveries
from plugin.ats.base import AdapterError, Context
from plugin.ats.http import AtsError
from plugin.ats.lookup import DbLookup
from plugin.ats.secrets import SecretBox, SecretsUnreadable
from plugin.ats.signing import body_hash
from plugin.db import Database
from plugin.models import AtsConnection, ConnectionState, DeliveryKind

log = logging.getLogger(__name__)

MAX_PAGES = 50  # per run; a backlog larger than this continues at the next run from the saved cursor


@dataclass
class PollReport:
    connection_id: str
    pages: int = 0
    records: int = 0
    deliveries: int = 0
    error: str | None = None

    def summary(self) -> str:
        text = f"{self.pages} page(s), {self.records} record(s), {self.deliveries} new delivery(ies)"
        return text + (f"; stopped: {self.error}" if self.error else "")


def claim_due(db: Database, now: datetime, default_minutes: float, enqueue: Callable[[Sequence[str]], None],
              batch: int = 200) -> int:
    """Sweep step: enqueue a poll for each connection whose `next_poll_at` passed."""
    with db.session() as session:
        due = session.execute(
            select(AtsConnection.id, AtsConnection.next_poll_at, AtsConnection.options)
            .where(AtsConnection.state == ConnectionState.ACTIVE, AtsConnection.next_poll_at <= now)
            .order_by(AtsConnection.next_poll_at).limit(batch)
        ).all()
        ids = []
        for connection_id, seen_at, options in due:
            changed = session.execute(
                update(AtsConnection)
                .where(AtsConnection.id == connection_id, AtsConnection.next_poll_at == seen_at)
                .values(next_poll_at=now + connections_module.poll_interval(options or {}, default_minutes))
            ).rowcount
            if changed == 1:
                ids.append(connection_id)
    if ids:
        enqueue(ids)
    return len(ids)


def dispatch(queue: Any, ids: Sequence[str]) -> None:
    for connection_id in ids:
        queue.enqueue(poll_connection, connection_id, description=f"poll ATS connection {connection_id}",
                      job_timeout=900, result_ttl=600, failure_ttl=7 * 24 * 3600)


def poll_connection(connection_id: str) -> str:
    """The RQ job."""
    rt = runtime.current()
    return poll(rt.db, SecretBox(rt.settings), connection_id, now=clock.now()).summary()


def poll(db: Database, box: SecretBox, connection_id: str, *, now: datetime) -> PollReport:
    report = PollReport(connection_id)
    with db.session() as session:
        row = session.get(AtsConnection, connection_id)
        if row is None or row.state is not ConnectionState.ACTIVE:
            report.error = "connection missing or disabled"
            return report
        cursor = row.poll_cursor
        row.poll_started_at = now
    try:
        for _ in range(MAX_PAGES):
            page = _fetch(db, box, connection_id, cursor, now)
            report.pages += 1
            report.records += len(page.records)
            if page.records:
                new_id = _store_page(db, connection_id, cursor, page.records, now)
                if new_id is not None:
                    report.deliveries += 1
                    deliveries.process(db, box, new_id, now=now)
            cursor = page.cursor
            _save_cursor(db, connection_id, cursor, now, error=None)
            if not page.more:
                break
    except (AtsError, AdapterError, SecretsUnreadable) as exc:
        report.error = str(exc)
        _save_cursor(db, connection_id, cursor, now, error=report.error)
        log.warning("poll of ATS connection %s stopped: %s", connection_id, exc)
    return report


def _fetch(db: Database, box: SecretBox, connection_id: str, cursor: Any, now: datetime) -> Any:
    with db.session() as session:
        row = session.get(AtsConnection, connection_id)
        assert row is not None
        adapter = connections_module.adapter_for(row.provider)
        ctx = Context(connection=connections_module.view(row, box, now), now=now, lookup=DbLookup(session, row.org_id))
        page = adapter.fetch_changes(ctx, cursor)
        session.rollback()
    return page


def _store_page(db: Database, connection_id: str, cursor: Any, records: list[dict[str, Any]],
                now: datetime) -> int | None:
    body = json.dumps({"cursor": cursor, "records": records}, sort_keys=True, default=str).encode("utf-8")
    records_only = json.dumps(records, sort_keys=True, default=str).encode("utf-8")
    with db.session() as session:
        row = session.get(AtsConnection, connection_id)
        assert row is not None
        stored = deliveries.store(session, row, kind=DeliveryKind.POLL, key="poll:" + body_hash(records_only),
                                  body=body, headers={}, vendor_event="poll", now=now)
    return None if stored.duplicate else stored.delivery_id


def _save_cursor(db: Database, connection_id: str, cursor: Any, now: datetime, *, error: str | None) -> None:
    with db.session() as session:
        row = session.get(AtsConnection, connection_id)
        assert row is not None
        row.poll_cursor, row.last_poll_at, row.last_poll_error = cursor, now, (error or None)
