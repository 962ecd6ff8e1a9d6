"""Several sweepers at once: every rung is acted on exactly once, every message is claimed once.

DESIGN: "one or more sweepers on any number of machines: every claim is safe to run concurrently".
The sweepers run `plugin.sla.sweep.sweep` in threads released together by a barrier, each with its
own dispatch that records the ids it was handed.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from conftest import START
from helpers import interviews_ended, notifications, obligations
from sqlalchemy import select

from plugin.models import AuditEntry, NotificationKind, NotificationState, Organization, Rung
from plugin.sla.sweep import SweepReport, sweep


def _open_obligations(org, rt, count: int) -> None:  # type: ignore[no-untyped-def]
    interviews_ended(org, rt.db, START, count)  # no thank-you mails: only the ladder is under test
    obs = obligations(rt.db)
    assert len(obs) == count and len({o.next_action_at for o in obs}) == 1


def _race(rt, now, sweepers: int) -> tuple[list[SweepReport], list[list[int]]]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(sweepers)
    reports: list[SweepReport | None] = [None] * sweepers
    dispatched: list[list[int]] = [[] for _ in range(sweepers)]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            reports[i] = sweep(rt.db, now, dispatched[i].extend)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(sweepers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a sweeper hung"
    assert errors == []
    return [r for r in reports if r is not None], dispatched


def _assert_rung_acted_on_once(rt, kind: NotificationKind, count: int, reports, dispatched,  # type: ignore[no-untyped-def]
                               still_queued: set[int]) -> None:
    all_ids = [i for ids in dispatched for i in ids]
    assert len(all_ids) == len(set(all_ids)), "a notification was dispatched by two sweepers"
    rows = notifications(rt.db, kind.value)
    per_obligation = Counter(n.obligation_id for n in rows)
    assert len(per_obligation) == count and set(per_obligation.values()) == {1}
    # The new messages, plus the earlier round's (never run by a worker here, so re-dispatched once
    # by the lost-job recovery, by exactly one of the sweepers).
    assert set(all_ids) == {n.id for n in rows} | still_queued
    assert all(n.state is NotificationState.QUEUED for n in rows)
    assert sum(r.rungs[kind.value] for r in reports) == count
    assert sum(r.queued for r in reports) == count
    assert sum(r.requeued for r in reports) == len(still_queued)
    with rt.db.session() as session:
        scheduled = Counter(session.scalars(select(AuditEntry.entity_id).where(
            AuditEntry.entity == "notification", AuditEntry.action == "scheduled",
            AuditEntry.entity_id.in_([str(n.id) for n in rows]))))
    assert len(scheduled) == count and set(scheduled.values()) == {1}


def _ladder_race(rt, org, count: int, sweepers: int) -> None:  # type: ignore[no-untyped-def]
    _open_obligations(org, rt, count)
    for rung, kind in [(Rung.REMINDER_RECRUITER, NotificationKind.REMINDER_RECRUITER),
                       (Rung.REMINDER_HIRING_MANAGER, NotificationKind.REMINDER_HIRING_MANAGER)]:
        obs = obligations(rt.db)
        assert {o.next_rung for o in obs} == {rung}
        now = obs[0].next_action_at  # the clock moved to the rung time; nobody swept in between
        still_queued = {n.id for n in notifications(rt.db) if n.state is NotificationState.QUEUED}
        reports, dispatched = _race(rt, now, sweepers)
        _assert_rung_acted_on_once(rt, kind, count, reports, dispatched, still_queued)
    assert {o.next_rung for o in obligations(rt.db)} == {Rung.AUTOPILOT}
    with rt.db.session() as session:
        internal = Counter(session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "obligation")))
    assert internal == {"opened": count}  # reminders change no obligation state beyond the rung


def test_two_sweepers_take_each_rung_once(rt, org):
    """Runs on every back end; on SQLite, BEGIN IMMEDIATE serialises the writers."""
    _ladder_race(rt, org, count=50, sweepers=2)


@pytest.mark.postgres_only
def test_many_sweepers_take_each_rung_once_on_postgres(rt, org):
    if rt.db.is_sqlite:
        pytest.skip("needs PostgreSQL (FOR UPDATE SKIP LOCKED)")
    _ladder_race(rt, org, count=250, sweepers=4)  # more than one BATCH (100) per sweeper


def test_two_sweepers_open_ended_interviews_once(rt, org):
    """Interviews whose end passed without a 'completed' event: each opens exactly one obligation."""
    from helpers import event, iso

    with rt.db.session() as session:
        session.get(Organization, org.id).policy = {"next_steps": False}
    ends = START + timedelta(hours=2)
    org.post(*[event("interview.scheduled", START, app=f"a-{i}", candidate=f"c-{i}",
                     interview={"id": f"i-{i}", "ends_at": iso(ends)}) for i in range(40)])
    assert obligations(rt.db) == []
    reports, _ = _race(rt, ends + timedelta(minutes=1), 2)
    assert sum(r.interviews_ended for r in reports) == 40
    obs = obligations(rt.db)
    assert len(obs) == 40 and len({o.application_id for o in obs}) == 40
