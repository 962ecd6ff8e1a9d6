"""Candidate mail follows the candidate's own calendar: their time zone, working hours and public
holidays; the deadline counts the same days, so autopilot still lands before `due_at`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from helpers import interview_done, obligations, sent

from plugin.models import Candidate, NotificationState

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def saxon_interview(at: datetime, **candidate: Any) -> dict[str, Any]:
    """An interview with a candidate in Leipzig (Saxony keeps Buß- und Bettag, Wed 18 Nov 2026)."""
    body = interview_done(at, name="Jana Schmidt")
    body["candidate"].update({"timezone": "Europe/Berlin", "locale": "de", "country": "DE", "subdivision": "SN",
                              **candidate})
    return body


def test_the_candidates_public_holiday_is_not_a_working_day_for_their_deadline(org: Any, tick: Any, rt: Any) -> None:
    ends = berlin(2026, 11, 13, 15)  # Friday
    tick(at=ends)
    org.post(saxon_interview(ends))
    tick()
    [ob] = obligations(rt.db)
    # Mon 16, Tue 17, (Wed 18 Buß- und Bettag in Saxony), Thu 19, Fri 20, Mon 23: 17:00 in Leipzig.
    assert ob.due_at == berlin(2026, 11, 23, 17)
    with rt.db.session() as session:
        [candidate] = session.query(Candidate).all()
        assert (candidate.holiday_country, candidate.holiday_subdivision) == ("DE", "SN")


def test_candidate_mail_waits_for_the_end_of_the_candidates_holiday(org: Any, tick: Any, rt: Any) -> None:
    ends = berlin(2026, 11, 17, 17, 30)  # Tuesday, after the window; Wednesday is their holiday
    tick(at=ends)
    org.post(saxon_interview(ends))
    tick(at=berlin(2026, 11, 18, 10))
    assert sent(rt.db, "next_steps") == []
    tick(at=berlin(2026, 11, 19, 9))
    [thanks] = sent(rt.db, "next_steps")
    assert thanks.sent_at == berlin(2026, 11, 19, 9) and thanks.locale == "de"


def test_an_unknown_country_is_refused_with_the_reason(org: Any, rt: Any) -> None:
    result = org.post(saxon_interview(berlin(2026, 11, 13, 15), country="XX", subdivision=None), expect=422)
    assert "XX" in str(result)
    assert obligations(rt.db) == []


def test_a_retry_of_candidate_mail_waits_for_the_next_send_window(org: Any, tick: Any, rt: Any, sendgrid_standin: Any) -> None:
    from plugin.mail.sendgrid import SendGridProvider

    rt.mail = SendGridProvider(api_key="SG.test", host=sendgrid_standin.url, timeout=5.0)
    ends = berlin(2026, 11, 16, 16, 59, 30)  # Monday, 30 seconds before the window closes
    tick(at=ends)
    org.post(saxon_interview(ends))
    sendgrid_standin.fail_next(503)
    tick()
    [thanks] = [n for n in _all(rt) if n.kind.value == "next_steps"]
    assert thanks.state is NotificationState.SCHEDULED
    assert thanks.scheduled_for == berlin(2026, 11, 17, 9)  # not 17:00:30, after hours
    tick(at=berlin(2026, 11, 17, 9) + timedelta(minutes=1))
    assert [n.sent_at for n in sent(rt.db, "next_steps")] == [berlin(2026, 11, 17, 9, 1)]


def _all(rt: Any) -> list[Any]:
    from helpers import notifications

    return notifications(rt.db)
