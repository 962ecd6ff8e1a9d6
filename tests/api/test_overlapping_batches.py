"""Overlapping batches posted at once never answer 500 (issue 13, item 10).

Two batches that touch the same applications in opposite orders used to deadlock on PostgreSQL (11
of 15 requests answered 500): each request locked the rows of its first events and waited for the
other's. Requests now take their locks in one stable order before applying anything, and a
serialisation failure or deadlock the database still reports is retried with the whole batch.
Every request answers 200, every event is stored once, and the result is what applying the events
in any order gives.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from conftest import START
from helpers import event, interview_done, obligations
from sqlalchemy import func, select, text

from plugin.models import Application, InboundEvent

APPS = 12
ROUNDS = 5  # requests per direction


def _setup(org) -> None:  # type: ignore[no-untyped-def]
    org.post(*[event("application.created", START, app=f"a-{i}", candidate=f"c-{i}") for i in range(APPS)])


def _batch(round_: int, direction: str) -> list[dict]:
    order = range(APPS) if direction == "up" else reversed(range(APPS))
    at = START + timedelta(minutes=round_)
    return [interview_done(at, app=f"a-{i}", candidate=f"c-{i}", interview=f"i-{i}-{direction}-{round_}",
                           id=f"evt-{i}-{direction}-{round_}", stage=f"Round {round_}")
            for i in order]


def _deadlocks(rt) -> int | None:  # type: ignore[no-untyped-def]
    """PostgreSQL's count of deadlocks in this database (None on SQLite, which cannot deadlock)."""
    if rt.db.engine.dialect.name != "postgresql":
        return None
    time.sleep(1.1)  # a backend reports its statistics at most once a second
    with rt.db.engine.connect() as conn:
        return conn.scalar(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))


def test_overlapping_batches_in_opposite_orders_all_succeed(org, rt):
    _setup(org)
    deadlocks_before = _deadlocks(rt)
    app = org.client.application
    batches = [_batch(r, d) for r in range(ROUNDS) for d in ("up", "down")]
    barrier = threading.Barrier(len(batches))
    answers: list[tuple[int, object]] = []
    lock = threading.Lock()

    def post(body: list[dict]) -> None:
        client = app.test_client()
        barrier.wait(timeout=30)
        response = client.post("/api/v1/events", json={"events": body}, headers=org.headers)
        with lock:
            answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=post, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a request hung"
    assert [status for status, _ in answers] == [200] * len(batches), [a for a in answers if a[0] != 200]
    assert all(body["applied"] + body["ignored"] == APPS for _, body in answers)  # type: ignore[index]
    with rt.db.session() as session:
        stored = session.scalar(select(func.count()).select_from(InboundEvent).where(InboundEvent.org_id == org.id))
        assert stored == APPS + APPS * len(batches)  # the creations, then every interview once
        assert session.scalar(select(func.count()).select_from(Application)) == APPS
    assert len({o.application_id for o in obligations(rt.db)}) == APPS
    # Not merely retried: the stable lock order means the database never had to break a deadlock.
    assert _deadlocks(rt) == deadlocks_before
