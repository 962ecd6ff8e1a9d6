"""Property tests for DESIGN invariants 1 and 2, through the real API, sweep, queue and worker.

Hypothesis draws a sequence of canonical events about a few candidates and applications on one or two
jobs (out of order, duplicated, late), interleaved with clock steps. Every clock step runs the sweeper
the way production does (every few seconds), simulated by ticking at each instant something becomes
due. Afterwards the clock runs 30 more days, and the final state is checked:

1. every obligation whose `due_at` passed was met (discharged by `due_at`), or stopped being owed
   before `due_at` (withdrawn, erased...), or is undeliverable and escalated; with autopilot on and an
   email address, never a breach. Deadlines that were already past when they were set (a promise
   reported for a day already gone) cannot be met and are exempt.
2. never two sent messages of one kind for one obligation; a rejection is only sent while the
   application is rejected (never to someone hired); nothing candidate-facing after an erasure.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as observe
from hypothesis import strategies as st
from sqlalchemy import func, select

from conftest import START, Org, _empty_tables
from helpers import event, iso
from plugin.models import (
    Application,
    AuditEntry,
    Candidate,
    Interview,
    InterviewStatus,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    ObligationState,
)




APPS = [  # (application, candidate, job)
    ("a-0", "c-0", "j-0"),
    ("a-1", "c-1", "j-0"),
    ("a-2", "c-1", "j-1"),  # the same person on a second job
]
TIMEZONES = [None, "Europe/London", "America/Los_Angeles", "Asia/Tokyo"]
FINAL_DAYS = 21

LAG = st.sampled_from([timedelta(0), timedelta(minutes=5), timedelta(hours=3), timedelta(days=1),
                       timedelta(days=2)])
APP = st.integers(0, len(APPS) - 1)

EVENTS = st.one_of(
    st.tuples(st.just("interview.completed"), APP, st.integers(0, 1), LAG),
    st.tuples(st.just("interview.scheduled"), APP, st.integers(0, 1),
              st.sampled_from([timedelta(hours=-30), timedelta(hours=-2), timedelta(hours=1),
                               timedelta(days=1), timedelta(days=3)])),
    st.tuples(st.just("candidate.contacted"), APP, LAG),
    st.tuples(st.just("decision.promised"), APP, st.integers(-2, 8)),
    st.tuples(st.just("application.rejected"), APP, LAG,
              st.sampled_from(["sent", "scheduled", "none", "unknown", None]),
              st.sampled_from([None, timedelta(hours=1), timedelta(days=1)])),
    st.tuples(st.sampled_from(["application.reopened", "application.hired", "application.withdrawn"]), APP, LAG),
    st.tuples(st.sampled_from(["job.closed", "job.reopened"]), st.integers(0, 1), LAG),
    st.tuples(st.just("candidate.erased"), st.integers(0, 1), LAG),
    st.tuples(st.just("duplicate"), st.integers(0, 1000), st.booleans()),
)
CLOCK = st.tuples(st.just("clock"), st.sampled_from([
    timedelta(minutes=7), timedelta(minutes=45), timedelta(hours=4), timedelta(hours=11), timedelta(days=1),
    timedelta(days=2), timedelta(days=4)]))
# Most examples start with interviews, so there are obligations for the rest to disturb.
PREFIX = st.lists(st.tuples(st.just("interview.completed"), APP, st.just(0), LAG), min_size=0, max_size=3)
STEPS = st.builds(lambda prefix, rest: prefix + rest, PREFIX,
                  st.lists(st.one_of(EVENTS, CLOCK), min_size=1, max_size=18))


class World:
    """One example: a fresh organisation and the events posted so far."""

    def __init__(self, rt: Any, client: Any, clock: Any, tick: Any, tzs: list[str | None]) -> None:
        _empty_tables(rt.db)
        rt.redis.flushdb()
        shutil.rmtree(rt.settings.resolved_outbox_dir, ignore_errors=True)
        clock.set(START)
        self.rt, self.clock, self._tick = rt, clock, tick
        self.org = Org(rt, client)
        self.tzs = tzs
        self.posted: list[dict[str, Any]] = []
        self.log: list[str] = []

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def post(self, body: dict[str, Any]) -> None:
        self.org.post(body)
        self.posted.append(body)
        self.log.append(f"{iso(self.now)} POST {body['type']} {body.get('application', body.get('job', body.get('candidate')))}"
                        f" occurred_at={body['occurred_at']} "
                        + " ".join(f"{k}={body[k]}" for k in ("interview", "ats_notification", "decision_expected_by",
                                                                "reason") if k in body))

    def app_event(self, type_: str, index: int, at: datetime, **extra: Any) -> dict[str, Any]:
        app, candidate, job = APPS[index]
        tz = self.tzs[int(candidate[-1])]
        return event(type_, at, app=app, candidate=candidate, job=job, timezone=tz, **extra)

    def apply(self, step: tuple) -> None:  # type: ignore[type-arg]
        kind = step[0]
        now = self.now
        if kind == "clock":
            self.run_until(now + step[1])
        elif kind == "interview.completed":
            _, index, k, lag = step
            at = now - lag
            self.post(self.app_event(kind, index, at, interview={"id": f"i-{index}-{k}", "ends_at": iso(at)}))
        elif kind == "interview.scheduled":
            _, index, k, offset = step
            ends = now + offset
            self.post(self.app_event(kind, index, now, interview={
                "id": f"i-{index}-{k}", "starts_at": iso(ends - timedelta(hours=1)), "ends_at": iso(ends)}))
        elif kind == "candidate.contacted":
            _, index, lag = step
            self.post(self.app_event(kind, index, now - lag, channel="phone"))
        elif kind == "decision.promised":
            _, index, days = step
            self.post(self.app_event(kind, index, now, decision_expected_by=(now + timedelta(days=days)).date().isoformat()))
        elif kind == "application.rejected":
            _, index, lag, ats, not_before = step
            extra: dict[str, Any] = {"reason": "Another candidate"}
            if ats is not None:
                extra["ats_notification"] = ats
            if not_before is not None:
                extra["notify_not_before"] = iso(now + not_before)
            self.post(self.app_event(kind, index, now - lag, **extra))
        elif kind.startswith("application."):
            _, index, lag = step
            self.post(self.app_event(kind, index, now - lag))
        elif kind.startswith("job."):
            _, index, lag = step
            self.post(event(kind, now - lag, job=f"j-{index}"))
        elif kind == "candidate.erased":
            _, index, lag = step
            self.post(event(kind, now - lag, candidate=f"c-{index}", reason="deleted"))
        elif kind == "duplicate":
            _, pick, same_id = step
            if not self.posted:
                return
            original = self.posted[pick % len(self.posted)]
            body = dict(original) if same_id else {**original, "id": original["id"] + "-again"}
            self.org.post(body)
            self.log.append(f"{iso(now)} REPOST {'same id' if same_id else 'new id'} {original['id']}")

    # -- the sweeper, as if it ran continuously ---------------------------------------------------
    def _next_instant(self) -> datetime | None:
        now = self.now
        with self.rt.db.session() as s:
            candidates = [
                s.scalar(select(func.min(Obligation.next_action_at)).where(
                    Obligation.state == ObligationState.OPEN, Obligation.next_action_at > now)),
                s.scalar(select(func.min(Notification.scheduled_for)).where(
                    Notification.state == NotificationState.SCHEDULED, Notification.scheduled_for > now)),
                s.scalar(select(func.min(Interview.ends_at)).where(
                    Interview.status == InterviewStatus.SCHEDULED, Interview.obligation_opened_at.is_(None),
                    Interview.ends_at > now)),
            ]
        found = [c for c in candidates if c is not None]
        return min(found) if found else None

    def tick(self) -> None:
        self._tick()
        with self.rt.db.session() as s:  # nothing may be left in flight by an in-process worker
            stuck = s.scalar(select(func.count()).select_from(Notification).where(
                Notification.state.in_((NotificationState.QUEUED, NotificationState.SENDING))))
        assert stuck == 0, "a dispatched message was not processed by the worker"

    def run_until(self, target: datetime) -> None:
        self.tick()
        for _ in range(2000):
            nxt = self._next_instant()
            step_to = min(target, nxt) if nxt is not None else target
            step_to = min(step_to, self.now + timedelta(days=1))  # at least daily, like cron
            self.clock.set(step_to)
            self.tick()
            if step_to >= target:
                return
        raise AssertionError("the sweeper never caught up")


# -- the checks -------------------------------------------------------------------------------------


def _audits(session: Any, entity: str, entity_id: object, *actions: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(
        AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id), AuditEntry.action.in_(actions))
        .order_by(AuditEntry.id)))


def check_invariant_1(rt: Any, now: datetime) -> None:
    with rt.db.session() as s:
        for ob in s.scalars(select(Obligation).order_by(Obligation.id)):
            if ob.due_at > now:
                continue
            set_by = _audits(s, "obligation", ob.id, "opened", "recomputed")[-1]
            if ob.due_at <= set_by.at:
                continue  # the deadline was already past when it was set: nobody could meet it
            where = f"obligation {ob.id} (app {ob.application_id}, cycle {ob.cycle}, due {iso(ob.due_at)})"
            candidate = ob.application.candidate
            if ob.at_risk:  # undeliverable: escalated to a person and reported
                escalated = s.scalar(select(func.count()).select_from(Notification).where(
                    Notification.obligation_id == ob.id,
                    Notification.kind.in_((NotificationKind.DELIVERY_FAILED, NotificationKind.ESCALATION))))
                assert escalated, f"{where} is at risk but nobody was told"
                continue
            assert ob.breached_at is None, f"{where} breached ({ob.breach_reason}) with autopilot on"
            assert ob.state is not ObligationState.OPEN, f"{where} is still open after its deadline"
            if ob.state is ObligationState.DISCHARGED:
                assert ob.discharged_at is not None and ob.discharged_at <= ob.due_at, (
                    f"{where} discharged late at {ob.discharged_at} by {ob.discharged_by}")
            else:  # closed: nothing owed any more, which must have been known by the deadline
                [closed] = _audits(s, "obligation", ob.id, "closed")
                assert closed.at <= ob.due_at or candidate.erased_at is not None and candidate.erased_at <= ob.due_at, (
                    f"{where} closed ({ob.closed_reason}) only at {closed.at}, after its deadline")


def check_invariant_2(rt: Any) -> None:
    with rt.db.session() as s:
        sent = list(s.scalars(select(Notification).where(Notification.state == NotificationState.SENT)
                              .order_by(Notification.id)))
        per_cycle = Counter((n.obligation_id, n.kind) for n in sent if n.obligation_id is not None
                            and n.kind is not NotificationKind.DELIVERY_FAILED)
        twice = {k: v for k, v in per_cycle.items() if v > 1}
        assert not twice, f"two messages of one kind in one cycle: {twice}"
        closing = Counter(n.application_id for n in sent if n.kind is NotificationKind.JOB_CLOSED)
        assert all(v == 1 for v in closing.values()), f"two closing notices for one application: {closing}"
        for n in sent:
            [sent_audit] = _audits(s, "notification", n.id, "sent")
            if n.kind is NotificationKind.REJECTION:
                history = [a for a in _audits(s, "application", n.application_id, "status") if a.id < sent_audit.id]
                status = history[-1].after["status"] if history else "active"
                assert status == "rejected", f"rejection {n.id} sent while the application was {status}"
            if n.kind.is_candidate_facing and n.candidate_id is not None:
                candidate = s.get(Candidate, n.candidate_id)
                erased = _audits(s, "candidate", candidate.id, "erased")
                assert not erased or sent_audit.id < erased[0].id, (
                    f"{n.kind.value} {n.id} sent after candidate {candidate.id} was erased")
        hired_rejections = s.scalars(select(Notification.id).join(Application, Notification.application_id == Application.id)
                                     .where(Notification.kind == NotificationKind.REJECTION,
                                            Notification.state == NotificationState.SENT,
                                            Application.status == "hired")).all()
        for nid in hired_rejections:  # hired, and the hire was known before the rejection went out
            n = s.get(Notification, nid)
            [sent_audit] = _audits(s, "notification", nid, "sent")
            hires = [a for a in _audits(s, "application", n.application_id, "status") if a.after["status"] == "hired"]
            assert all(a.id > sent_audit.id for a in hires), f"rejection {nid} sent to a hired candidate"


def _observe(rt: Any, now: datetime) -> None:
    """Coverage statistics (pytest --hypothesis-show-statistics): which outcomes the examples reached."""
    with rt.db.session() as s:
        for ob in s.scalars(select(Obligation).where(Obligation.due_at <= now)):
            observe(f"past-due obligation: {ob.state.value} by {ob.discharged_by or ob.closed_reason}")
        for kind in s.scalars(select(Notification.kind).where(Notification.state == NotificationState.SENT)).all():
            observe(f"sent {kind.value}")


def run_example(world: World, steps: list) -> None:  # type: ignore[type-arg]
    try:
        for step in steps:
            world.apply(step)
        end = world.now + timedelta(days=FINAL_DAYS)
        world.run_until(end)
        check_invariant_1(world.rt, world.now)
        check_invariant_2(world.rt)
        _observe(world.rt, world.now)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nevents:\n  " + "\n  ".join(world.log)) from exc


@settings(max_examples=int(os.environ.get("GHOSTLESS_PROPERTY_EXAMPLES", "40")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS, tzs=st.lists(st.sampled_from(TIMEZONES), min_size=2, max_size=2))
def test_invariants_hold_for_any_event_sequence(rt, client, clock, tick, steps, tzs):
    run_example(World(rt, client, clock, tick, tzs), steps)


# -- minimal sequences for bugs found while writing the property ------------------------------------

DUE = datetime(2026, 11, 9, 22, 0, tzinfo=START.tzinfo)  # interview Mon 2 Nov 09:00 NY -> due Mon 9 Nov 17:00
AUTOPILOT = DUE - timedelta(hours=8)  # 09:00 New York on the due day


@pytest.fixture
def world(rt, client, clock, tick):  # type: ignore[no-untyped-def]
    w = World(rt, client, clock, tick, [None, None])
    w.apply(("interview.completed", 0, 0, timedelta(0)))
    return w


def test_job_closed_then_reopened_around_autopilot_time_still_gets_autopilot(world):
    world.run_until(AUTOPILOT - timedelta(minutes=30))
    world.apply(("job.closed", 0, timedelta(0)))  # closing notice held until 09:30
    world.run_until(AUTOPILOT + timedelta(minutes=15))  # autopilot rung: "decision already on its way"
    world.apply(("job.reopened", 0, timedelta(0)))  # the closing notice is cancelled
    world.run_until(DUE + timedelta(days=2))
    check_invariant_1(world.rt, world.now)


def test_rejection_cancelled_by_reopen_after_autopilot_rung_still_gets_autopilot(world):
    world.run_until(AUTOPILOT - timedelta(minutes=30))
    world.apply(("application.rejected", 0, timedelta(0), "none", timedelta(hours=1, minutes=30)))
    world.run_until(AUTOPILOT + timedelta(minutes=15))
    world.apply(("application.reopened", 0, timedelta(0)))
    world.run_until(DUE + timedelta(days=2))
    check_invariant_1(world.rt, world.now)


def test_rejection_pending_at_autopilot_time_discharges_in_time(world):
    """The happy path of the same situation: the rejection goes out and discharges the obligation."""
    world.run_until(AUTOPILOT - timedelta(minutes=30))
    world.apply(("application.rejected", 0, timedelta(0), "none", timedelta(hours=1, minutes=30)))
    world.run_until(DUE + timedelta(days=2))
    check_invariant_1(world.rt, world.now)
    check_invariant_2(world.rt)


def test_rejection_held_past_due_by_ats_still_leaves_nobody_uninformed(world):
    """The ATS holds the rejection (notify_not_before) until after due_at: autopilot still updates the
    candidate by the deadline, and the rejection later ends the cycle that update opened."""
    world.run_until(DUE - timedelta(days=1))
    world.apply(("application.rejected", 0, timedelta(0), "none", timedelta(days=1, hours=2)))
    world.run_until(DUE + timedelta(days=3))
    check_invariant_1(world.rt, world.now)
    check_invariant_2(world.rt)
