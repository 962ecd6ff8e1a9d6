"""Overlapping batches posted and applied at once never fail (issue 13, item 10).

Two batches that touch the same applications in opposite orders used to deadlock on PostgreSQL (11
of 15 requests answered 500): each locked the rows of its first events and waited for the other's.
A request now only stores its batch (202), and the jobs applying batches take their locks in one
stable order before applying anything; a serialisation failure or deadlock the database still
reports is retried with the whole batch. Every request is acknowledged, every job applies its whole
batch, every event is stored once, and the result is what applying the events in any order gives.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from conftest import START
from helpers import event, interview_done, obligations
from sqlalchemy import func, select, text

from plugin.ats.api_batches import apply_event_batch
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
    answers: list[tuple[int, object]] = []
    lock = threading.Lock()

    def post(body: list[dict]) -> None:
        client = app.test_client()
        response = client.post("/api/v1/events", json={"events": body}, headers=org.headers)
        with lock:
            answers.append((response.status_code, response.get_json()))

    _all_at_once(post, batches)
    assert [status for status, _ in answers] == [202] * len(batches), [a for a in answers if a[0] != 202]
    # The jobs, all at once, as that many workers would run them.
    outcomes: list[str] = []
    _all_at_once(lambda batch_id: outcomes.append(apply_event_batch(batch_id)),
                 [body["batch_id"] for _, body in answers])  # type: ignore[index]
    assert outcomes == ["processed"] * len(batches)
    for _, body in answers:
        outcome = org.get(body["url"])  # type: ignore[index]
        assert outcome["applied"] + outcome["ignored"] == APPS, outcome
    with rt.db.session() as session:
        stored = session.scalar(select(func.count()).select_from(InboundEvent).where(InboundEvent.org_id == org.id))
        assert stored == APPS + APPS * len(batches)  # the creations, then every interview once
        assert session.scalar(select(func.count()).select_from(Application)) == APPS
    assert len({o.application_id for o in obligations(rt.db)}) == APPS
    # Not merely retried: the stable lock order means the database never had to break a deadlock.
    assert _deadlocks(rt) == deadlocks_before


def _all_at_once(work, items) -> None:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(len(items))

    def run(item) -> None:  # type: ignore[no-untyped-def]
        barrier.wait(timeout=30)
        work(item)

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a request or a job hung"
