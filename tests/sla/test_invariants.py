"""Property tests for DESIGN's invariants, through the real API, sweep, queue and worker.

Hypothesis draws a sequence of canonical events about a few candidates (New York, London with UK
holidays, Los Angeles, Tokyo with or without Japanese holidays) and applications on one or two jobs
(out of order, duplicated, late), people's status updates, policy changes, interleaved with clock
steps. Every clock step runs the sweeper the way production does (every few seconds), simulated by
ticking at each instant something becomes due; a "sweeper down" step moves the clock 1-60 hours without
ticking. Afterwards the clock runs 21 more days (some examples: weeks more, nobody acting), and:

0. the independent oracle (tests/oracle.py) replays the inputs and checks what people received and
   what the API reports against the rules, without reading the ledger's rows;

and the final state is checked from the ledger's own rows:

1. every obligation whose `due_at` passed was met (discharged by `due_at`), or stopped being owed
   before `due_at` (withdrawn, erased...), or is undeliverable and escalated; with autopilot on and an
   email address, never a breach. Deadlines that were already past when they were set (a promise
   reported for a day already gone) cannot be met and are exempt.
2. never two sent messages of one kind for one obligation; a rejection is only sent while the
   application is rejected (never to someone hired); nothing candidate-facing after an erasure.
"""

from __future__ import annotations

import email.policy
import os
import shutil
from collections import Counter
from datetime import datetime, timedelta
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import oracle
import pytest
from conftest import START, Org, _empty_tables
from helpers import event, iso
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from oracle import PolicySet, Posted, StatusUpdateAsked, SweeperDown, Swept, Verdict
from sqlalchemy import func, select

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
TITLES = {"j-0": "Backend Engineer", "j-1": "Data Engineer"}  # what tells a candidate's two jobs apart
# (time zone, holiday country): a UK bank holiday (Mon 28 Dec 2026) is a US working day; Japan has
# November holidays (3rd, 23rd); Tokyo's 17:00 is before New York opens.
PLACES = [(None, None), ("Europe/London", "GB"), ("America/Los_Angeles", None), ("Asia/Tokyo", None),
          ("Asia/Tokyo", "JP")]
FINAL_DAYS = 21

LAG = st.sampled_from([timedelta(0), timedelta(minutes=5), timedelta(hours=3), timedelta(days=1),
                       timedelta(days=2)])
APP = st.integers(0, len(APPS) - 1)

REJECTED = st.tuples(st.just("application.rejected"), APP, LAG,
                     st.sampled_from(["sent", "scheduled", "none", "unknown", None]),
                     st.sampled_from([None, timedelta(hours=1), timedelta(days=1)]))
# A person's update: next_date that many days after the candidate's today (None: the cadence).
STATUS_UPDATE = st.tuples(st.just("status_update"), APP, st.sampled_from([None, 1, 2, 4, 7, 12]))
EVENTS = st.one_of(  # rejections and people's updates twice: they are where decisions and promises meet
    st.tuples(st.just("interview.completed"), APP, st.integers(0, 1), LAG, st.sampled_from([None, None, -1, 3, 9])),
    st.tuples(st.just("interview.scheduled"), APP, st.integers(0, 1),
              st.sampled_from([timedelta(hours=-30), timedelta(hours=-2), timedelta(hours=1),
                               timedelta(days=1), timedelta(days=3)])),
    st.tuples(st.just("candidate.contacted"), APP, LAG),
    st.tuples(st.just("decision.promised"), APP, st.integers(-2, 8)),
    REJECTED,
    REJECTED,
    st.tuples(st.sampled_from(["application.reopened", "application.hired", "application.withdrawn"]), APP, LAG),
    st.tuples(st.sampled_from(["job.closed", "job.reopened"]), st.integers(0, 1), LAG),
    st.tuples(st.just("candidate.erased"), st.integers(0, 1), LAG),
    st.tuples(st.just("duplicate"), st.integers(0, 1000), st.booleans()),
    STATUS_UPDATE,
    STATUS_UPDATE,
    st.tuples(st.just("policy"), st.sampled_from([3, 5, 8])),
    st.tuples(st.just("down"), st.sampled_from([1, 5, 17, 40, 60])),
)
CLOCK = st.tuples(st.just("clock"), st.sampled_from([
    timedelta(minutes=7), timedelta(minutes=45), timedelta(hours=4), timedelta(hours=11), timedelta(days=1),
    timedelta(days=2), timedelta(days=4)]))
# Most examples start with interviews, so there are obligations for the rest to disturb.
PREFIX = st.lists(st.tuples(st.just("interview.completed"), APP, st.just(0), LAG, st.just(None)),
                  min_size=0, max_size=3)
STEPS = st.builds(lambda prefix, rest: prefix + rest, PREFIX,
                  st.lists(st.one_of(EVENTS, CLOCK), min_size=1, max_size=18))
# A few examples end with weeks of nobody acting, so autopilot writes again and again.
SILENCE = st.sampled_from([0, 0, 0, 0, 0, 0, 0, 5, 8])


class World:
    """One example: a fresh organisation, the events posted so far, and the trace the oracle replays."""

    def __init__(self, rt: Any, client: Any, clock: Any, tick: Any,
                 places: list[tuple[str | None, str | None]]) -> None:
        _empty_tables(rt.db)
        rt.redis.flushdb()
        shutil.rmtree(rt.settings.resolved_outbox_dir, ignore_errors=True)
        clock.set(START)
        self.rt, self.client, self.clock, self._tick = rt, client, clock, tick
        self.org = Org(rt, client)
        self.places = places
        self.posted: list[dict[str, Any]] = []
        self.log: list[str] = []
        self.trace: list[Any] = []

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def outbox_dir(self) -> Path:
        return Path(self.rt.settings.resolved_outbox_dir)

    def post(self, body: dict[str, Any]) -> None:
        self.org.post(body)
        self.posted.append(body)
        self.trace.append(Posted(self.now, body))
        self.log.append(f"{iso(self.now)} POST {body['type']} {body.get('application', body.get('job', body.get('candidate')))}"
                        f" occurred_at={body['occurred_at']} "
                        + " ".join(f"{k}={body[k]}" for k in ("interview", "ats_notification", "decision_expected_by",
                                                                "reason", "notify_not_before") if k in body))

    def app_event(self, type_: str, index: int, at: datetime, **extra: Any) -> dict[str, Any]:
        app, candidate, job = APPS[index]
        zone, country = self.places[int(candidate[-1])]
        body = event(type_, at, app=app, candidate=candidate, job=job, timezone=zone, **extra)
        body["job"]["title"] = TITLES[job]
        if country:
            body["candidate"]["country"] = country
        return body

    def job_event(self, type_: str, job: str, at: datetime) -> dict[str, Any]:
        body = event(type_, at, job=job)
        body["job"]["title"] = TITLES[job]
        return body

    def ask_status_update(self, app: str, body: dict[str, Any]) -> int:
        """A person sends an update through the API; 409 and 422 answers are part of the story."""
        response = self.client.post(f"/api/v1/applications/{app}/status-updates", json=body, headers=self.org.headers)
        assert response.status_code in (202, 404, 409, 422), response.get_json()
        self.trace.append(StatusUpdateAsked(self.now, app, body, response.status_code, response.get_json() or {}))
        self.log.append(f"{iso(self.now)} STATUS UPDATE {app} {body} -> {response.status_code}")
        return response.status_code

    def set_policy(self, overrides: dict[str, Any], job: str | None = None) -> Any:
        path = "/api/v1/policies/organization" if job is None else f"/api/v1/policies/jobs/{job}"
        response = self.client.put(path, json=overrides, headers=self.org.headers)
        assert response.status_code == 200, response.get_json()
        self.trace.append(PolicySet(self.now, job, overrides, response.status_code))
        self.log.append(f"{iso(self.now)} PUT {path} {overrides}")
        return response.get_json()

    def sweeper_down(self, hours: float) -> None:
        """The sweeper runs now, then not for `hours` (the clock moves without ticking), then again."""
        self.tick()
        start = self.now
        self.clock.advance(timedelta(hours=hours))
        self.trace.append(SweeperDown(start, self.now))
        self.log.append(f"{iso(start)} SWEEPER DOWN until {iso(self.now)}")
        self.tick()

    def apply(self, step: tuple) -> None:  # type: ignore[type-arg]
        kind = step[0]
        now = self.now
        if kind == "clock":
            self.run_until(now + step[1])
        elif kind == "interview.completed":
            _, index, k, lag, promise = step
            at = now - lag
            extra: dict[str, Any] = {}
            if promise is not None:
                extra["decision_expected_by"] = (now + timedelta(days=promise)).date().isoformat()
            self.post(self.app_event(kind, index, at, interview={"id": f"i-{index}-{k}", "ends_at": iso(at)}, **extra))
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
            extra = {"reason": "Another candidate"}
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
            self.post(self.job_event(kind, f"j-{index}", now - lag))
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
            self.trace.append(Posted(now, body))
            self.log.append(f"{iso(now)} REPOST {'same id' if same_id else 'new id'} {original['id']}")
        elif kind == "status_update":
            _, index, days = step
            known = [i for i, (a, _c, _j) in enumerate(APPS)
                     if any(b.get("application", {}).get("id") == a for b in self.posted)]
            if known:  # about an application the ATS has told us of (else it is just a 404)
                index = known[index % len(known)]
            app, candidate, _job = APPS[index]
            zone = self.places[int(candidate[-1])][0] or "America/New_York"
            body = {} if days is None else {
                "next_date": (now.astimezone(ZoneInfo(zone)).date() + timedelta(days=days)).isoformat()}
            self.ask_status_update(app, body)
        elif kind == "policy":
            self.set_policy({"first_update_working_days": step[1]})
        elif kind == "down":
            self.sweeper_down(step[1])

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

    def outbox_files(self) -> set[str]:
        return {p.name for p in self.outbox_dir.glob("*.eml")} if self.outbox_dir.is_dir() else set()

    def _due_now(self) -> bool:
        """Something became due at this very instant during the last sweep (e.g. the worker's send
        opened a cycle whose escalation is for now): production's sweeper, a few seconds later, sends it."""
        now = self.now
        with self.rt.db.session() as s:
            return bool(s.scalar(select(func.count()).select_from(Notification).where(
                Notification.state == NotificationState.SCHEDULED, Notification.scheduled_for <= now))
                or s.scalar(select(func.count()).select_from(Obligation).where(
                    Obligation.state == ObligationState.OPEN, Obligation.next_action_at <= now)))

    def tick(self) -> None:
        for _ in range(3):
            before = self.outbox_files()
            self._tick()
            self.trace.append(Swept(self.now, sorted(self.outbox_files() - before)))
            if not self._due_now():
                break
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

    def tick_at(self, at: datetime) -> None:
        """One sweep at `at` (a cron-driven sweeper), nothing in between."""
        self.clock.set(at)
        self.tick()

    # -- the oracle -----------------------------------------------------------------------------------
    def application_records(self) -> dict[str, Any]:
        records = {}
        for app, _candidate, _job in APPS:
            response = self.client.get(f"/api/v1/applications/{app}", headers=self.org.headers)
            if response.status_code == 200:
                records[app] = response.get_json()
        return records

    def messages(self) -> list[tuple[str, Any]]:
        """(file name, parsed message) for every mail in the outbox, in file order."""
        parser = BytesParser(policy=email.policy.default)
        found = []
        for path in sorted(self.outbox_dir.glob("*.eml")) if self.outbox_dir.is_dir() else []:
            with path.open("rb") as handle:
                found.append((path.name, parser.parse(handle)))
        return found

    def verdict(self) -> Verdict:
        """The oracle's verdict on everything so far: the trace, the outbox and the API's records."""
        return oracle.check(self.trace, self.messages(), self.application_records(), self.now)


# -- the checks -------------------------------------------------------------------------------------


def _audits(session: Any, entity: str, entity_id: object, *actions: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(
        AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id), AuditEntry.action.in_(actions))
        .order_by(AuditEntry.id)))


def check_invariant_1(rt: Any, now: datetime, sweeper_was_down: bool = False) -> None:
    """`sweeper_was_down`: a 'late' breach (a message that could not leave in time) is then allowed here;
    the oracle checks that it is exactly where the sweeper's outage made the message miss."""
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
            if sweeper_was_down and ob.breach_reason == "late":
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


def observe(what: str) -> None:
    """hypothesis.event, and nothing when an example is replayed outside Hypothesis."""
    try:
        hypothesis_event(what)
    except InvalidArgument:
        pass


def _observe(rt: Any, now: datetime) -> None:
    """Coverage statistics (pytest --hypothesis-show-statistics): which outcomes the examples reached."""
    with rt.db.session() as s:
        for ob in s.scalars(select(Obligation).where(Obligation.due_at <= now)):
            observe(f"past-due obligation: {ob.state.value} by {ob.discharged_by or ob.closed_reason}")
        for kind in s.scalars(select(Notification.kind).where(Notification.state == NotificationState.SENT)).all():
            observe(f"sent {kind.value}")


def _observe_oracle(verdict: Verdict) -> None:
    observe("oracle: fully checked" if verdict.fully_checked else "oracle: stopped checking an application")
    for why in verdict.skipped.values():
        observe(f"oracle stopped: {why.split(' (at ')[0]}")
    for what in verdict.checked:
        observe(f"oracle checked: {what}")


def run_example(world: World, steps: list, silence_weeks: int = 0) -> Verdict:  # type: ignore[type-arg]
    """Play the steps, let the clock run on with nobody acting, then check: the oracle, and the ledger's
    own rows (invariants 1 and 2). Every failure is reported, with the events that led to it."""
    try:
        for step in steps:
            world.apply(step)
        end = world.now + timedelta(days=max(FINAL_DAYS, 7 * silence_weeks))
        world.run_until(end)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nevents:\n  " + "\n  ".join(world.log)) from exc
    failures = []
    down = any(isinstance(s, SweeperDown) for s in world.trace)
    for check in (lambda: check_invariant_1(world.rt, world.now, down), lambda: check_invariant_2(world.rt)):
        try:
            check()
        except AssertionError as exc:
            failures.append(f"ledger check: {exc}")
    verdict = world.verdict()
    failures += verdict.failures
    _observe(world.rt, world.now)
    _observe_oracle(verdict)
    if failures:
        raise AssertionError("\n".join(failures) + "\nevents:\n  " + "\n  ".join(world.log))
    return verdict


FULLY_CHECKED_SHARE = 0.6  # the oracle must not pass by giving up on most examples


def test_invariants_hold_for_any_event_sequence(rt, client, clock, tick):  # type: ignore[no-untyped-def]
    tally: Counter = Counter()

    # The same examples on every run unless GHOSTLESS_PROPERTY_RANDOM=1: CI must not go red on a
    # sequence no one has seen before. Explore with random sequences (and more of them) by hand:
    #   GHOSTLESS_PROPERTY_RANDOM=1 GHOSTLESS_PROPERTY_EXAMPLES=400 pytest tests/sla/test_invariants.py
    @settings(max_examples=int(os.environ.get("GHOSTLESS_PROPERTY_EXAMPLES", "40")), deadline=None,
              derandomize=os.environ.get("GHOSTLESS_PROPERTY_RANDOM") != "1",
              suppress_health_check=[HealthCheck.too_slow])
    @given(steps=STEPS, places=st.lists(st.sampled_from(PLACES), min_size=2, max_size=2), silence=SILENCE)
    def examples(steps, places, silence):  # type: ignore[no-untyped-def]
        verdict = run_example(World(rt, client, clock, tick, places), steps, silence)
        tally["examples"] += 1
        tally["fully checked"] += verdict.fully_checked

    examples()
    share = tally["fully checked"] / tally["examples"]
    print(f"oracle: {tally['fully checked']} of {tally['examples']} examples fully checked ({share:.0%})")
    assert share >= FULLY_CHECKED_SHARE, f"the oracle fully checked only {share:.0%} of the examples"


# -- minimal sequences for bugs found while writing the property ------------------------------------


def test_the_oracle_notices_what_the_ledger_checks_cannot(rt, client, clock, tick, monkeypatch):  # type: ignore[no-untyped-def]
    """Issue 11: with no obligation ever opened, the checks that read the ledger's rows pass; the
    oracle, which reads only the inputs and the outbox, reports the candidate left in silence."""
    import plugin.sla.ledger_interviews

    monkeypatch.setattr(plugin.sla.ledger_interviews, "open_for_interview", lambda *args, **kwargs: None)
    world = World(rt, client, clock, tick, [(None, None), (None, None)])
    world.apply(("interview.completed", 0, 0, timedelta(0), None))
    world.run_until(world.now + timedelta(days=10))
    check_invariant_1(world.rt, world.now)
    check_invariant_2(world.rt)
    verdict = world.verdict()
    assert [f.split(":")[0] for f in verdict.failures] == ["invariant 1"], verdict.report()


def oracle_agrees(world: World) -> None:
    verdict = world.verdict()
    if verdict.failures:
        pytest.fail(verdict.report(), pytrace=False)

DUE = datetime(2026, 11, 9, 22, 0, tzinfo=START.tzinfo)  # interview Mon 2 Nov 09:00 NY -> due Mon 9 Nov 17:00
AUTOPILOT = DUE - timedelta(hours=8)  # 09:00 New York on the due day


@pytest.fixture
def world(rt, client, clock, tick):  # type: ignore[no-untyped-def]
    w = World(rt, client, clock, tick, [(None, None), (None, None)])
    w.apply(("interview.completed", 0, 0, timedelta(0), None))
    return w


def test_job_closed_then_reopened_around_autopilot_time_still_gets_autopilot(world):
    world.run_until(AUTOPILOT - timedelta(minutes=30))
    world.apply(("job.closed", 0, timedelta(0)))  # closing notice held until 09:30
    world.run_until(AUTOPILOT + timedelta(minutes=15))  # autopilot rung: "decision already on its way"
    world.apply(("job.reopened", 0, timedelta(0)))  # the closing notice is cancelled
    world.run_until(DUE + timedelta(days=2))
    check_invariant_1(world.rt, world.now)
    oracle_agrees(world)


def test_rejection_cancelled_by_reopen_after_autopilot_rung_still_gets_autopilot(world):
    world.run_until(AUTOPILOT - timedelta(minutes=30))
    world.apply(("application.rejected", 0, timedelta(0), "none", timedelta(hours=1, minutes=30)))
    world.run_until(AUTOPILOT + timedelta(minutes=15))
    world.apply(("application.reopened", 0, timedelta(0)))
    world.run_until(DUE + timedelta(days=2))
    check_invariant_1(world.rt, world.now)
    oracle_agrees(world)


def test_rejection_pending_at_autopilot_time_discharges_in_time(world):
    """The happy path of the same situation: the rejection goes out and discharges the obligation."""
    world.run_until(AUTOPILOT - timedelta(minutes=30))
    world.apply(("application.rejected", 0, timedelta(0), "none", timedelta(hours=1, minutes=30)))
    world.run_until(DUE + timedelta(days=2))
    check_invariant_1(world.rt, world.now)
    oracle_agrees(world)
    check_invariant_2(world.rt)


def test_rejection_held_past_due_by_ats_still_leaves_nobody_uninformed(world):
    """The ATS holds the rejection (notify_not_before) until after due_at: autopilot still updates the
    candidate by the deadline, and the rejection later ends the cycle that update opened."""
    world.run_until(DUE - timedelta(days=1))
    world.apply(("application.rejected", 0, timedelta(0), "none", timedelta(days=1, hours=2)))
    world.run_until(DUE + timedelta(days=3))
    check_invariant_1(world.rt, world.now)
    oracle_agrees(world)
    check_invariant_2(world.rt)
