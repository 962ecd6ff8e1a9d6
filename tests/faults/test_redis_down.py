"""Fault injection: Redis goes down during ingest and comes back (issue 13, "Faults").

The Redis here is the test's own, a real server started, stopped and started again by the test
(never the machine's). While it is down: the API (202) and an ATS webhook (200) still answer and store
every event (the acknowledgement rests on the database alone), and a sweep tick fails without
losing its claims. When a Redis is back: every stored event is applied once, every message is sent
once, and nothing is sent twice, counted from the database and the outbox.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from ats_support import connect, fixture_bytes
from conftest import START
from dashboard_support import csrf_token
from helpers import interview_done, notifications, sent
from sqlalchemy import func, select
from standins.greenhouse import GreenhouseStandIn

from plugin import runtime
from plugin.ats.signing import hmac_sha256_hex
from plugin.models import AtsDelivery, BatchState, DeliveryState, EventBatch, InboundEvent, NotificationState
from plugin.processes import run_worker, sweep_once
from plugin.sla.sweep import REQUEUE_AFTER
from plugin.web.unavailable import RETRY_AFTER_SECONDS

SECRET = "gh-webhook-secret-faults"


class OwnRedis:
    """A real Redis server of the test's own, pointed to by the runtime, that the test can stop."""

    def __init__(self, rt: runtime.Runtime, root: Path) -> None:
        self.rt, self.root, self.generation = rt, root, 0
        self.server = None
        self.start()

    def start(self) -> None:
        self.generation += 1
        folder = self.root / f"redis-{self.generation}"
        folder.mkdir()
        self.server = runtime.start_embedded_redis(folder)
        self.rt._redis = self.server

    def stop(self) -> None:
        runtime.stop_embedded_redis(self.server)


@pytest.fixture
def own_redis(rt: runtime.Runtime) -> Iterator[OwnRedis]:
    original = rt._redis
    root = Path(tempfile.mkdtemp(prefix="gl-faults-"))  # short: a Unix socket path is limited to 107 bytes
    own = OwnRedis(rt, root)
    yield own
    try:
        own.stop()
    except Exception:  # noqa: BLE001 - already stopped by the test
        pass
    rt._redis = original
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def gh(org, vendor_env):  # type: ignore[no-untyped-def]
    with GreenhouseStandIn() as harvest:
        yield connect(org, "greenhouse", signing_secret=SECRET, credentials=harvest.credentials(),
                      options=harvest.options(poll_interval_minutes=0))


def _count(rt, model, *where) -> int:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_redis_down_during_ingest_loses_nothing_and_sends_once(org, rt, clock, gh, own_redis, outbox):
    org.post(interview_done(START, app="a-1", candidate="c-1", interview="i-1"),
             interview_done(START, app="a-2", candidate="c-2", interview="i-2"))  # applied while Redis is up
    own_redis.stop()
    # Ingest with Redis down: an API batch and a signed Greenhouse webhook are acknowledged and stored.
    posted = org.client.post("/api/v1/events", json=interview_done(START, app="a-3", candidate="c-3", interview="i-3"),
                             headers=org.headers)
    assert posted.status_code == 202, posted.get_json()
    body = fixture_bytes("greenhouse", "reject_candidate.json")
    answer = org.client.post(gh["webhook_path"], data=body, headers={
        "Content-Type": "application/json", "Signature": f"sha256 {hmac_sha256_hex(SECRET, body)}",
        "Greenhouse-Event-ID": "faults-1"})
    assert answer.status_code == 200, answer.get_json()
    assert _count(rt, EventBatch, EventBatch.state == BatchState.QUEUED) == 1
    assert _count(rt, AtsDelivery, AtsDelivery.state == DeliveryState.RECEIVED) == 1
    # A tick while Redis is down claims the thank-you mails, cannot hand them to a worker, and fails.
    with pytest.raises(Exception):  # noqa: B017 - whichever error redis-py raises for a dead server
        sweep_once(rt, START)
    claimed = notifications(rt.db, "next_steps")
    assert len(claimed) == 2 and all(n.state is NotificationState.QUEUED for n in claimed)

    own_redis.start()  # a Redis again (a fresh one: nothing it held before survives)
    clock.set(START + REQUEUE_AFTER + timedelta(minutes=1))
    for _ in range(3):  # the lost jobs are re-queued, the batch and delivery re-enqueued, a worker runs them
        sweep_once(rt, clock.now())
        if rt.queue.count:
            run_worker(rt, burst=True, simple=True)
        clock.advance(timedelta(minutes=3))
    thanks = sent(rt.db, "next_steps")
    assert sorted(n.candidate_id for n in thanks) == sorted({n.candidate_id for n in thanks})
    assert len(thanks) == 3
    assert _count(rt, EventBatch, EventBatch.state == BatchState.PROCESSED) == 2
    assert _count(rt, AtsDelivery, AtsDelivery.state == DeliveryState.PROCESSED) == 1
    assert _count(rt, InboundEvent, InboundEvent.org_id == org.id) == 4  # each event once
    assert len(outbox()) == len(sent(rt.db))  # one file per message sent: nothing went out twice


def test_signing_in_with_redis_down_is_refused_for_now_not_a_500(org, rt, own_redis):
    """The throttle counts attempts in Redis: without it nobody may sign in uncounted, and is told why."""
    own_redis.stop()
    client = org.client.application.test_client()
    page = client.get("/dashboard/sign-in")
    answer = client.post("/dashboard/sign-in", data={"email": "ada@acme.example", "password": "whatever-it-is",
                                                     "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "Briefly unavailable" in answer.get_data(as_text=True)
