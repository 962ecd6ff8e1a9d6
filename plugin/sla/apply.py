"""Apply a batch of canonical events to the ledger in one transaction, whoever stored it.

The API's stored batches (`sla/event_batches.py`) and the ATS deliveries (`ats/deliveries.py`) both
end here, so the rules of a batch hold the same way for both:
1. the batch's advisory locks are taken in one stable order before anything is applied
   (`batch_locks`), so two overlapping batches queue up instead of deadlocking;
2. every event is recorded (`ledger.record_events`: what the batch names is read once), and the caller's `finish` marks its own row
   done in the SAME transaction: a batch is applied whole, and marked applied, or not at all;
3. a transient conflict (a deadlock the locks could not prevent, a serialisation failure, a lock
   wait too long) or two batches racing to create the same candidate (an IntegrityError) rolls the
   whole batch back and applies it again, which is safe because events are idempotent on their id.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from plugin.db import Database
from plugin.events.types import CanonicalEvent
from plugin.models import Organization
from plugin.sla.batch_locks import is_transient_conflict, lock_in_stable_order
from plugin.sla.ledger import record_events

ATTEMPTS = 5  # the loser of a race retries; five losses in a row is a real problem worth raising
Finish = Callable[[Session, Organization, list[dict[str, Any]]], None]


def apply_events(db: Database, org_id: str, events: Sequence[CanonicalEvent], raws: Sequence[dict | None], *,
                 now: datetime, actor: str, source: str, finish: Finish) -> list[dict[str, Any]]:
    """Record `events` (with `raws[i]` stored beside events[i]) and call `finish`; commit once.

    Returns one result per event, in the order given: {"id", "type", "status", "detail"} with status
    applied | ignored | duplicate.
    """
    for attempt in range(ATTEMPTS):
        session = db.sessionmaker()
        try:
            org = session.get(Organization, org_id)
            if org is None:
                raise LookupError(f"organisation {org_id} no longer exists")
            lock_in_stable_order(session, org.id, events)
            recorded = record_events(session, org, events, raws, now=now, actor=actor, source=source)
            results = [{"id": event.id, "type": event.type.value, "status": status,
                        "detail": outcome.detail if outcome else None}
                       for event, (status, outcome) in zip(events, recorded, strict=True)]
            finish(session, org, results)
            session.commit()
            return results
        except (IntegrityError, DBAPIError) as exc:
            session.rollback()
            if not (isinstance(exc, IntegrityError) or is_transient_conflict(exc)) or attempt == ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # let the other batch finish first
        finally:
            session.close()
    raise AssertionError("unreachable")
