"""Applying a batch of events without deadlocks: locks in one stable order, and a retry for the rest.

Two batches that touch the same applications in opposite orders (an ATS replaying, two webhooks
racing a poll) each lock the rows of their first events and then wait for the other's: PostgreSQL
kills one of them with a deadlock. Before applying anything, a batch therefore takes a transaction
advisory lock for every candidate, application and job it names, in ascending key order. Two
batches that share a key then queue up at the first key they share instead of crossing. Everything
else that may still conflict (a worker applying a bounce to an obligation the batch also changes)
is a transient conflict: the caller rolls back and applies the whole batch again, which is safe
because events are idempotent on their id.

SQLite needs none of this: it has one writer at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from plugin.events.types import CanonicalEvent

# PostgreSQL's SQLSTATEs for "try the transaction again": serialization_failure, deadlock_detected,
# lock_not_available (a lock waited longer than plugin.db.LOCK_TIMEOUT_MS).
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def lock_in_stable_order(session: Session, org_id: int, events: Iterable[CanonicalEvent]) -> None:
    """Take the batch's advisory locks (held until commit or rollback), smallest key first."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    keys = sorted({_key(org_id, kind, ref) for event in events for kind, ref in _references(event)})
    if not keys:
        return
    session.execute(
        text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS t(k, n) "
             "ORDER BY n"),
        {"keys": keys},
    )


def is_transient_conflict(exc: BaseException) -> bool:
    """A deadlock or serialisation failure: the same transaction may succeed if run again."""
    if not isinstance(exc, DBAPIError):
        return False
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in RETRYABLE_SQLSTATES


def _references(event: CanonicalEvent) -> Iterator[tuple[str, str]]:
    if event.candidate is not None:
        yield "candidate", event.candidate.id
    if event.merged_into:
        yield "candidate", event.merged_into
    if event.application is not None:
        yield "application", event.application.id
    if event.job is not None:
        yield "job", event.job.id


def _key(org_id: int, kind: str, external_id: str) -> int:
    """A signed 64-bit key (what pg_advisory_xact_lock takes); a collision only serialises two batches."""
    digest = hashlib.blake2b(f"{org_id}:{kind}:{external_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
