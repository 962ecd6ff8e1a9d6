"""A job closed with more interviewed candidates than a request may handle (issue 13, item 13).

`job.closed` for a job with 10,000 interviewed candidates did everything inside the request: the ATS
got a 500 after 30 s and the closing was never stored. Now the request adds the first
`IN_REQUEST` candidates to closing notices and answers; the sweep adds the rest. Each candidate
still gets exactly one notice, after the same hold, and a reopen during the fan-out stops it.
"""

from __future__ import annotations

from datetime import timedelta

from conftest import START
from helpers import event, interviews_ended, notifications
from sqlalchemy import select

from plugin.models import Job, NotificationState
from plugin.sla.ledger_jobs import IN_REQUEST

COUNT = IN_REQUEST + 60  # more than one request's share
CLOSED_AT = START + timedelta(hours=1)


def _covered(rt) -> list[int]:  # type: ignore[no-untyped-def]
    """Every application id some live closing notice speaks for, with repeats."""
    return [i for n in notifications(rt.db, "job_closed") if n.state is not NotificationState.CANCELLED
            for i in n.context["application_ids"]]


def _cursor(rt) -> int | None:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        return session.scalar(select(Job.closing_fanout_after))


def test_a_large_closing_answers_at_once_and_the_sweep_tells_everyone_once(org, rt, tick):
    interviews_ended(org, rt.db, START, COUNT)
    answer = org.post(event("job.closed", CLOSED_AT))
    assert answer["applied"] == 1
    assert len(_covered(rt)) == IN_REQUEST and _cursor(rt) is not None  # the rest is left to the sweep
    tick(at=CLOSED_AT)
    covered = _covered(rt)
    assert len(covered) == COUNT and len(set(covered)) == COUNT and _cursor(rt) is None
    holds = {n.scheduled_for for n in notifications(rt.db, "job_closed")}
    assert len(holds) == 1 and min(holds) >= CLOSED_AT + timedelta(hours=1)  # every notice waits the same hold
    people = [n.candidate_id for n in notifications(rt.db, "job_closed")]
    assert len(people) == len(set(people)) == COUNT  # one notice per person
    tick(at=CLOSED_AT + timedelta(minutes=5))
    assert len(notifications(rt.db, "job_closed")) == COUNT  # a later tick adds nobody twice


def test_a_reopen_during_the_fan_out_stops_it_and_cancels_what_was_scheduled(org, rt, tick):
    interviews_ended(org, rt.db, START, COUNT)
    org.post(event("job.closed", CLOSED_AT))
    org.post(event("job.reopened", CLOSED_AT + timedelta(minutes=10)))
    assert _covered(rt) == [] and _cursor(rt) is None
    tick(at=CLOSED_AT + timedelta(hours=2))
    assert _covered(rt) == []
    assert [n for n in notifications(rt.db, "job_closed") if n.state is NotificationState.SENT] == []
