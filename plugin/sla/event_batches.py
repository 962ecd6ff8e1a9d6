"""Stored API batches: store on request, apply in a job, recover what a lost job or a dead worker left.

`POST /api/v1/events` validates the whole request (a bad one is refused with 422 and stores
nothing), stores it here in ONE row and answers 202 before anything is applied: acknowledging costs
one insert, whatever the size of the batch or of the organisation's data. Then, like an ATS delivery:
1. `process` claims the row (queued -> processing), a conditional update that must change one row;
2. validates the stored body again (the rules may have changed in a release between the two) and
   applies every event through `apply.apply_events`, marking the row processed with each event's
   outcome in the SAME transaction, and dropping the body: the ledger now holds each event;
3. a database that is unreachable puts the row back to queued with a backoff; anything else (a bug)
   marks it failed with the error, for a person to read; nothing of it was applied.
A worker that dies after 1 leaves "processing" with a lease; `recover` (a sweep step) re-enqueues it,
and re-enqueues a queued row whose job never ran (Redis was down when the request enqueued it).
Outcomes are kept for KEEP_OUTCOMES, then `forget_old` deletes the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from plugin.db import Database
from plugin.events.schemas import EventValidationError, load_events
from plugin.json_input import BadJson, parse_json
from plugin.models import BatchState, EventBatch, Organization
from plugin.sla.apply import apply_events

log = logging.getLogger(__name__)

LOST_JOB_GRACE = timedelta(minutes=2)  # a queued row whose job has not started by then is re-enqueued
LEASE = timedelta(minutes=10)  # a "processing" row older than this belonged to a worker that died
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
MAX_ATTEMPTS = len(BACKOFF) + 1
KEEP_OUTCOMES = timedelta(days=7)

Enqueue = Callable[[Sequence[int]], None]


def store(session: Session, org_id: str, body: bytes, event_ids: list[str], *, actor: str, now: datetime) -> int:
    """Insert the validated request in one statement; the caller commits, then enqueues. Returns its id."""
    return session.execute(
        insert(EventBatch).values(org_id=org_id, received_at=now, actor=actor, state=BatchState.QUEUED, attempts=0,
                                  next_attempt_at=now + LOST_JOB_GRACE, event_count=len(event_ids),
                                  event_ids=event_ids, body=body)
        .returning(EventBatch.id)).scalar_one()


def process(db: Database, batch_id: int, *, now: datetime) -> str:
    """The job's work. Returns the batch's state afterwards ("not claimed" when another has it)."""
    with db.session() as session:
        claimed = session.execute(
            update(EventBatch)
            .where(EventBatch.id == batch_id, EventBatch.state == BatchState.QUEUED)
            .values(state=BatchState.PROCESSING, attempts=EventBatch.attempts + 1, next_attempt_at=now + LEASE)
        ).rowcount
        if claimed != 1:
            return "not claimed"  # applied already, or another worker has it
        row = session.execute(select(EventBatch.org_id, EventBatch.actor, EventBatch.body)
                              .where(EventBatch.id == batch_id)).one()
    try:
        payload = parse_json(row.body or b"null")
        events = load_events(payload)
        raws = payload["events"] if isinstance(payload, dict) and "events" in payload else [payload]

        def finish(session: Session, org: Organization, results: list[dict[str, Any]]) -> None:
            session.execute(update(EventBatch).where(EventBatch.id == batch_id).values(
                state=BatchState.PROCESSED, processed_at=now, next_attempt_at=None, body=None, results=results,
                error=None))

        results = apply_events(db, row.org_id, events, raws, now=now, actor=row.actor, source="api", finish=finish)
    except OperationalError as exc:  # the database went away: it will be back
        return _failed_attempt(db, batch_id, f"database unavailable: {exc.orig!r}", now, permanent=False)
    except (BadJson, EventValidationError) as exc:
        return _failed_attempt(db, batch_id, f"the stored batch no longer validates: {exc}", now, permanent=True)
    except Exception as exc:  # noqa: BLE001 - a bug must not lose the batch: keep it, say what happened
        log.exception("event batch %s: unexpected error", batch_id)
        return _failed_attempt(db, batch_id, f"internal error: {exc!r}", now, permanent=True)
    statuses = [r["status"] for r in results]
    log.info("event batch %s applied: %s", batch_id,
             ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses))) or "no events")
    return BatchState.PROCESSED.value


def _failed_attempt(db: Database, batch_id: int, error: str, now: datetime, *, permanent: bool) -> str:
    with db.session() as session:
        batch = session.get(EventBatch, batch_id)
        if batch is None:
            return "gone"
        batch.error = error[:4000]
        if permanent or batch.attempts >= MAX_ATTEMPTS:
            batch.state, batch.next_attempt_at = BatchState.FAILED, None
            log.warning("event batch %s (organisation %s) failed: %s", batch_id, batch.org_id, error)
        else:
            batch.state = BatchState.QUEUED
            batch.next_attempt_at = now + BACKOFF[min(batch.attempts - 1, len(BACKOFF) - 1)]
            log.info("event batch %s: will retry at %s after: %s", batch_id, batch.next_attempt_at, error)
        return batch.state.value


def recover(db: Database, now: datetime, enqueue: Enqueue, limit: int = 500) -> int:
    """Sweep step: re-enqueue batches whose job was lost, whose retry is due or whose worker died.

    One conditional UPDATE ... RETURNING: a second sweeper running at once finds the rows' lease
    already moved on (PostgreSQL re-checks the WHERE on rows another transaction changed) and
    re-enqueues nothing twice.
    """
    with db.session() as session:
        due = (select(EventBatch.id)
               .where(EventBatch.state.in_((BatchState.QUEUED, BatchState.PROCESSING)),
                      EventBatch.next_attempt_at <= now)
               .order_by(EventBatch.next_attempt_at).limit(limit))
        ids = list(session.scalars(
            update(EventBatch)
            .where(EventBatch.id.in_(due), EventBatch.state.in_((BatchState.QUEUED, BatchState.PROCESSING)),
                   EventBatch.next_attempt_at <= now)
            .values(state=BatchState.QUEUED, next_attempt_at=now + LOST_JOB_GRACE)
            .returning(EventBatch.id)
            .execution_options(synchronize_session=False)))
    if ids:
        enqueue(sorted(ids))
    return len(ids)


def forget_old(db: Database, now: datetime) -> int:
    """Sweep step: delete outcomes (processed or failed) older than KEEP_OUTCOMES."""
    with db.session() as session:
        return session.execute(
            delete(EventBatch).where(EventBatch.state.in_((BatchState.PROCESSED, BatchState.FAILED)),
                                     EventBatch.received_at < now - KEEP_OUTCOMES)
            .execution_options(synchronize_session=False)).rowcount
