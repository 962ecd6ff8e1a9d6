"""Stored deliveries -> canonical events -> ledger: the RQ job, retries, recovery and replay.

`process_delivery(id)` is safe to run twice and safe to die in:
1. claim: received -> processing, a conditional update that must change exactly one row;
2. translate outside any write transaction (the adapter may call the vendor's REST API);
3. record every canonical event and mark the delivery processed in ONE transaction. Event ids are
   derived from facts, so re-processing a delivery (a retry, a replay, a poll that saw the same
   change) is acknowledged as "duplicate" by the ledger and changes nothing;
4. on a transient vendor error the delivery goes back to "received" with a backoff; on a permanent
   one (or too many attempts) it is "failed" with the error, for a person to read and retry.
A worker that dies after 1 leaves "processing" with a lease; the sweep puts it back to "received".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin import clock, runtime
from plugin.ats import connections as connections_module
from plugin.ats.base import AdapterError, Context, WebhookRequest
from plugin.ats.http import AtsError
from plugin.ats.lookup import DbLookup
from plugin.ats.secrets import SecretBox, SecretsUnreadable
from plugin.db import Database
from plugin.events.schemas import EventValidationError, load_events
from plugin.events.types import CanonicalEvent
from plugin.models import AtsConnection, AtsDelivery, Candidate, DeliveryKind, DeliveryState, Organization
from plugin.sla.apply import apply_events
from plugin.sla.erasure_deliveries import scrub_deliveries

log = logging.getLogger(__name__)

BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3),
           timedelta(hours=6))
MAX_ATTEMPTS = len(BACKOFF) + 1
LEASE = timedelta(minutes=10)  # a "processing" row older than this belonged to a worker that died
LOST_JOB_GRACE = timedelta(minutes=2)  # a "received" row whose job never ran is re-enqueued after this
# Headers never stored: credentials some vendors let admins add (Greenhouse Basic auth), cookies.
DROPPED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})

Enqueue = Callable[[Sequence[int]], None]


@dataclass(frozen=True)
class Stored:
    delivery_id: int
    duplicate: bool


def storable_headers(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() not in DROPPED_HEADERS}


def store(session: Session, connection: AtsConnection, *, kind: DeliveryKind, key: str, body: bytes,
          headers: dict[str, str], vendor_event: str | None, now: datetime,
          state: DeliveryState = DeliveryState.RECEIVED, content_hash: str | None = None) -> Stored:
    """Insert the raw delivery unless (connection, key) or (connection, content_hash) exists.

    `content_hash` (a webhook's verified body, `signing.body_hash`): vendors sign the body, not the
    delivery id they send beside it (Greenhouse-Event-ID is a header), so the same signed body under
    a new id is a replay, not news. Commits nothing; a savepoint absorbs a race.
    """
    key = key[:300]  # the column's size: look up exactly what is stored, or a long key never dedupes
    same = AtsDelivery.delivery_key == key
    if content_hash is not None:
        same = or_(same, AtsDelivery.content_hash == content_hash)

    def existing() -> int | None:
        return session.scalar(select(AtsDelivery.id).where(AtsDelivery.connection_id == connection.id, same)
                              .order_by(AtsDelivery.id).limit(1))

    if (found := existing()) is not None:
        return Stored(found, duplicate=True)
    delivery = AtsDelivery(
        org_id=connection.org_id, connection_id=connection.id, provider=connection.provider, kind=kind,
        delivery_key=key, content_hash=content_hash, vendor_event=(vendor_event or "")[:100] or None,
        received_at=now, headers=headers, body=body, state=state, attempts=0,
        next_attempt_at=now + LOST_JOB_GRACE if state is DeliveryState.RECEIVED else None,
        processed_at=now if state is DeliveryState.IGNORED else None,
    )
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError:  # the same delivery arrived twice at once: the other request stored it
        found = existing()
        assert found is not None
        return Stored(found, duplicate=True)
    connection.last_delivery_at = now
    return Stored(delivery.id, duplicate=False)


def dispatch(queue: Any, ids: Sequence[int]) -> None:
    """One job per delivery, enqueued after commit. Duplicates are harmless: the job claims its row."""
    for delivery_id in ids:
        queue.enqueue(process_delivery, delivery_id, description=f"process ATS delivery {delivery_id}",
                      job_timeout=300, result_ttl=600, failure_ttl=7 * 24 * 3600)


def process_delivery(delivery_id: int) -> str:
    """The RQ job. Returns the delivery's final state."""
    rt = runtime.current()
    return process(rt.db, SecretBox(rt.settings), delivery_id, now=clock.now())


def process(db: Database, box: SecretBox, delivery_id: int, *, now: datetime) -> str:
    with db.session() as session:
        claimed = session.execute(
            update(AtsDelivery)
            .where(AtsDelivery.id == delivery_id, AtsDelivery.state == DeliveryState.RECEIVED)
            .values(state=DeliveryState.PROCESSING, attempts=AtsDelivery.attempts + 1, next_attempt_at=now + LEASE)
        ).rowcount
    if claimed != 1:
        return "not claimed"  # processed already, or another worker has it
    try:
        events = _translate(db, box, delivery_id, now)
        results = _record(db, delivery_id, events, now)
    except AtsError as exc:
        return _failed_attempt(db, delivery_id, str(exc), now, permanent=exc.permanent, retry_after=exc.retry_after)
    except (AdapterError, EventValidationError, SecretsUnreadable, ValueError) as exc:
        return _failed_attempt(db, delivery_id, _describe(exc), now, permanent=True)
    except Exception as exc:  # noqa: BLE001 - a bug must not lose the delivery: keep it, say what happened
        log.exception("ATS delivery %s: unexpected error", delivery_id)
        return _failed_attempt(db, delivery_id, f"internal error: {exc!r}", now, permanent=True)
    log.info("ATS delivery %s processed: %s", delivery_id, _count(results))
    return DeliveryState.PROCESSED.value


def _describe(exc: Exception) -> str:
    if isinstance(exc, EventValidationError):
        return f"the adapter produced an invalid canonical event: {json.dumps(exc.errors)[:1000]}"
    return str(exc)


def _count(results: list[dict[str, Any]]) -> str:
    statuses = [r["status"] for r in results]
    return ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses))) or "no events"


def _translate(db: Database, box: SecretBox, delivery_id: int, now: datetime) -> list[CanonicalEvent]:
    with db.session() as session:
        delivery = session.get(AtsDelivery, delivery_id)
        assert delivery is not None
        connection_row = session.get(AtsConnection, delivery.connection_id)
        assert connection_row is not None
        adapter = connections_module.adapter_for(delivery.provider)
        ctx = Context(connection=connections_module.view(connection_row, box, now), now=now,
                      lookup=DbLookup(session, delivery.org_id))
        try:
            payload = json.loads(delivery.body or b"null")
        except ValueError as exc:
            raise AdapterError(f"the stored body is not JSON: {exc}") from exc
        if delivery.kind is DeliveryKind.POLL:
            events = adapter.events_from_records(payload.get("records", []), ctx)
        else:
            request = WebhookRequest(body=delivery.body or b"", headers=dict(delivery.headers or {}), payload=payload)
            events = adapter.events_from_webhook(request, ctx)
        session.rollback()  # read-only: nothing to keep
    # The same checks as POST /api/v1/events: an adapter bug must not write a half-valid event.
    if events:
        load_events({"events": [event.to_json() for event in events]})
    return events


def _record(db: Database, delivery_id: int, events: list[CanonicalEvent], now: datetime) -> list[dict[str, Any]]:
    with db.session() as session:
        delivery = session.get(AtsDelivery, delivery_id)
        assert delivery is not None
        org_id, actor, provider = delivery.org_id, f"ats:{delivery.provider}:{delivery.connection_id}", delivery.provider
    ordered = sorted(events, key=lambda e: e.occurred_at)

    def finish(session: Session, org: Organization, results: list[dict[str, Any]]) -> None:
        delivery = session.get(AtsDelivery, delivery_id)
        assert delivery is not None
        delivery.state, delivery.processed_at, delivery.error = DeliveryState.PROCESSED, now, None
        delivery.next_attempt_at, delivery.events = None, results
        if _names_an_erased_person(session, org.id, events):
            scrub_deliveries(session, {delivery_id})  # the erasure (or news of an erased person) itself

    return apply_events(db, org_id, ordered, [{"ats_delivery_id": delivery_id}] * len(ordered), now=now,
                        actor=actor, source=provider, finish=finish)


def _names_an_erased_person(session: Session, org_id: str, events: list[CanonicalEvent]) -> bool:
    ids = {event.candidate.id for event in events if event.candidate is not None}
    return bool(ids) and session.scalar(
        select(Candidate.id).where(Candidate.org_id == org_id, Candidate.external_id.in_(ids),
                                   Candidate.erased_at.is_not(None)).limit(1)) is not None


def _failed_attempt(db: Database, delivery_id: int, error: str, now: datetime, *, permanent: bool,
                    retry_after: float | None = None) -> str:
    with db.session() as session:
        delivery = session.get(AtsDelivery, delivery_id)
        assert delivery is not None
        delivery.error = error[:4000]
        if permanent or delivery.attempts >= MAX_ATTEMPTS:
            delivery.state, delivery.next_attempt_at = DeliveryState.FAILED, None
            log.warning("ATS delivery %s (connection %s) failed: %s", delivery_id, delivery.connection_id, error)
        else:
            wait = BACKOFF[min(delivery.attempts - 1, len(BACKOFF) - 1)]
            if retry_after:
                wait = max(wait, timedelta(seconds=retry_after))
            delivery.state, delivery.next_attempt_at = DeliveryState.RECEIVED, now + wait
            log.info("ATS delivery %s: will retry at %s after: %s", delivery_id, delivery.next_attempt_at, error)
        return delivery.state.value


def retry(session: Session, delivery: AtsDelivery, now: datetime) -> bool:
    """Make a failed (or processed, for a replay) delivery run again. Returns False while it is in flight."""
    if delivery.state in (DeliveryState.RECEIVED, DeliveryState.PROCESSING):
        return False
    delivery.state, delivery.next_attempt_at, delivery.attempts = DeliveryState.RECEIVED, now + LOST_JOB_GRACE, 0
    return True


def recover(db: Database, now: datetime, enqueue: Enqueue, batch: int = 500) -> int:
    """Sweep step: re-enqueue deliveries whose job was lost, whose retry is due, or whose worker died."""
    with db.session() as session:
        due = session.execute(
            select(AtsDelivery.id, AtsDelivery.state, AtsDelivery.next_attempt_at)
            .where(AtsDelivery.state.in_((DeliveryState.RECEIVED, DeliveryState.PROCESSING)),
                   AtsDelivery.next_attempt_at <= now)
            .order_by(AtsDelivery.next_attempt_at).limit(batch)
        ).all()
        ids = []
        for delivery_id, state, seen_at in due:
            # Conditional on what we read: two sweepers never both re-enqueue one row.
            changed = session.execute(
                update(AtsDelivery)
                .where(AtsDelivery.id == delivery_id, AtsDelivery.state == state,
                       AtsDelivery.next_attempt_at == seen_at)
                .values(state=DeliveryState.RECEIVED, next_attempt_at=now + LOST_JOB_GRACE)
            ).rowcount
            if changed == 1:
                ids.append(delivery_id)
    if ids:
        enqueue(ids)
    return len(ids)
