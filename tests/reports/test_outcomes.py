"""One definition of the on-time rate (plugin.reports.outcomes): the demo summary, the dashboard overview
and the per-cycle `met` of the API, the proof and the timeline count the same cycles the same way.

The round (Acme, New York, US holidays; autopilot off for the whole organisation). Interviews ending
Mon 2 Nov 15:00Z are due Mon 9 Nov 17:00 EST (22:00Z); ending Mon 9 Nov, due Mon 16 Nov. Read at
Thu 12 Nov 15:00Z.

  app     what happens                                              outcome
  ann     ATS rejection it sent itself, Wed 4 Nov                   on time
  bob     deadline passes (breach: autopilot off), told Tue 10 Nov  missed (answered late)
  cat     deadline passes (breach: autopilot off), nobody writes    missed (still waiting)
  dan     withdrew Wed 4 Nov                                        nothing owed: neither
  eve     interview Mon 9 Nov, told Tue 10 Nov (due Mon 16 Nov)     on time, before its deadline
  fay     interview Mon 9 Nov (due Mon 16 Nov), nobody writes yet   not yet: neither
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dashboard_support import add_user, sign_in
from helpers import event, interview_done
from sqlalchemy import select

from plugin import clock
from plugin.cli.demo import _print_summary, summarize
from plugin.models import Application, Obligation, ObligationState
from plugin.reports import outcomes
from plugin.reports.outcomes import Outcome

MON_2 = datetime(2026, 11, 2, 15, tzinfo=UTC)
DUE_9 = datetime(2026, 11, 9, 22, tzinfo=UTC)
MON_9 = datetime(2026, 11, 9, 15, tzinfo=UTC)
DUE_16 = datetime(2026, 11, 16, 22, tzinfo=UTC)
READ_AT = datetime(2026, 11, 12, 15, tzinfo=UTC)

EXPECTED = {"ann": Outcome.ON_TIME, "bob": Outcome.MISSED, "cat": Outcome.MISSED, "dan": Outcome.NOT_OWED,
            "eve": Outcome.ON_TIME, "fay": Outcome.PENDING}


def interview(who: str, at: datetime) -> dict[str, Any]:
    return interview_done(at, interview=f"i-{who}", app=f"a-{who}", candidate=f"c-{who}", name=who.title())


def ev(kind: str, who: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return event(kind, at, app=f"a-{who}", candidate=f"c-{who}", name=who.title(), **extra)


def told_by_ats(who: str, at: datetime) -> dict[str, Any]:
    return ev("application.rejected", who, at, reason="Another candidate was a closer fit", ats_notification="sent")


@pytest.fixture
def small_round(rt, org, tick):  # type: ignore[no-untyped-def]
    org.put("/api/v1/policies/organization", {"autopilot": False})
    tick(at=MON_2)
    org.post(*(interview(who, MON_2) for who in ("ann", "bob", "cat", "dan")))
    tick(at=MON_2 + timedelta(days=2))
    org.post(told_by_ats("ann", MON_2 + timedelta(days=2)), ev("application.withdrawn", "dan", MON_2 + timedelta(days=2)))
    tick(at=MON_9)
    org.post(interview("eve", MON_9), interview("fay", MON_9))
    tick(at=DUE_9 + timedelta(minutes=1))  # bob's and cat's deadline passes: breaches (autopilot off)
    tick(at=MON_9 + timedelta(days=1))
    org.post(told_by_ats("bob", MON_9 + timedelta(days=1)), told_by_ats("eve", MON_9 + timedelta(days=1)))
    tick(at=READ_AT)
    add_user(rt, org.id, "boss@acme.example", "admin")


def by_application(rt: Any) -> dict[str, Obligation]:
    with rt.db.session() as session:
        rows = session.execute(select(Application.external_id, Obligation)
                               .join(Obligation, Obligation.application_id == Application.id)
                               .where(Obligation.cycle == 1)).all()
        return {external_id.removeprefix("a-"): obligation for external_id, obligation in rows}


def test_demo_summary_and_dashboard_count_the_same_cycles(rt, client, small_round):
    out = io.StringIO()
    _print_summary({"events": 0, "steps": 0}, rt, out)
    line = next(line for line in out.getvalue().splitlines() if "on-time rate:" in line)
    # 2 on time (ann, eve) of 4 with an outcome: bob answered late, cat still waits past the deadline;
    # dan withdrew and fay's deadline has not passed, so neither counts.
    assert "50.0% (2 of 4 cycles answered or past their deadline)" in line
    summary = summarize(rt)
    assert (summary["on_time"], summary["missed"]) == (2, 2)

    sign_in(client, "boss@acme.example")
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get("/dashboard/").get_data(as_text=True)))
    assert "On time, last 30 days 50% 2 of 4 cycles on time" in page
    assert "On time, last 90 days 50% 2 of 4 cycles on time" in page


def test_each_cycle_has_the_outcome_the_sql_counts(rt, small_round):
    found = by_application(rt)
    now = clock.now()
    assert {who: outcomes.outcome_of(ob, now) for who, ob in found.items()} == EXPECTED
    assert {who: outcomes.met(ob, now) for who, ob in found.items()} == {
        "ann": True, "bob": False, "cat": False, "dan": None, "eve": True, "fay": None}
    on_time, missed, instant = outcomes.outcome_columns(now)
    with rt.db.session() as session:
        rows = session.execute(select(Application.external_id, on_time, missed, instant)
                               .join(Obligation, Obligation.application_id == Application.id)
                               .where(Obligation.cycle == 1)).all()
    for external_id, sql_on_time, sql_missed, sql_instant in rows:
        who = external_id.removeprefix("a-")
        python = EXPECTED[who]
        assert (bool(sql_on_time), bool(sql_missed)) == (python is Outcome.ON_TIME, python is Outcome.MISSED), who
        if python in (Outcome.ON_TIME, Outcome.MISSED):
            assert _aware(sql_instant) == outcomes.outcome_instant(found[who], now), who


def test_the_api_reports_met_in_the_same_terms(org, small_round):
    cycles = {o["application_id"]: o["met"] for o in org.get("/api/v1/obligations?limit=50") if o["cycle"] == 1}
    assert cycles == {"a-ann": True, "a-bob": False, "a-cat": False, "a-dan": None, "a-eve": True, "a-fay": None}


def _aware(value: Any) -> datetime:
    """SQLite returns the CASE's instant as text; PostgreSQL as an aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _obligation(**values: Any) -> Obligation:
    base = {"state": ObligationState.OPEN, "due_at": DUE_16, "discharged_at": None, "breached_at": None}
    return Obligation(**{**base, **values})


@pytest.mark.parametrize(("values", "expected"), [
    ({}, Outcome.PENDING),
    ({"due_at": READ_AT - timedelta(seconds=1)}, Outcome.MISSED),  # past due; the sweep has not recorded it yet
    ({"state": ObligationState.DISCHARGED, "discharged_at": DUE_16}, Outcome.ON_TIME),  # at the deadline itself
    ({"state": ObligationState.DISCHARGED, "discharged_at": DUE_16 + timedelta(seconds=1)}, Outcome.MISSED),
    # A breach recorded (e.g. a message whose fate is unknown) outweighs a discharge in time.
    ({"state": ObligationState.DISCHARGED, "discharged_at": DUE_9, "breached_at": DUE_9}, Outcome.MISSED),
    ({"state": ObligationState.CLOSED}, Outcome.NOT_OWED),
    ({"state": ObligationState.CLOSED, "due_at": DUE_9}, Outcome.NOT_OWED),  # withdrew after the deadline
    ({"state": ObligationState.CLOSED, "due_at": DUE_9, "breached_at": DUE_9}, Outcome.MISSED),
])
def test_outcome_of_one_cycle(values: dict[str, Any], expected: Outcome) -> None:
    ob = _obligation(**values)
    assert outcomes.outcome_of(ob, READ_AT) is expected
    assert outcomes.met(ob, READ_AT) == {Outcome.ON_TIME: True, Outcome.MISSED: False}.get(expected)
    instant = {Outcome.ON_TIME: ob.discharged_at, Outcome.MISSED: ob.due_at}.get(expected)
    assert outcomes.outcome_instant(ob, READ_AT) == instant
