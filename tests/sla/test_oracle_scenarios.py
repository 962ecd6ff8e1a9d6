"""Issue 11's observations, one deterministic scenario each, judged by the independent oracle.

Each scenario plays a few events through the real API, sweeper and worker (the property test's
World), then asserts the oracle's verdict (tests/oracle.py: expectations from the inputs only, checked
against the outbox and the API) and what the candidate or talent ops actually received. Each also
feeds the oracle the same inputs with the outputs the bug would have produced (a mail missing, moved,
or added) and asserts that the oracle reports it, so a green scenario cannot be a blind oracle.

New York organisation with US holidays; Thanksgiving is Thu 26 Nov 2026, Veterans Day Wed 11 Nov.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

import oracle
import pytest
from oracle import Swept, Verdict
from test_invariants import World

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")
HERE = (None, None)


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)


@pytest.fixture
def make_world(rt, client, clock, tick):  # type: ignore[no-untyped-def]
    def make(*places: tuple[str | None, str | None]) -> World:
        return World(rt, client, clock, tick, list(places) + [HERE] * (2 - len(places)))
    return make


def interview(world: World, index: int, ended: datetime, k: int = 0, **extra: Any) -> None:
    """Interview `i-<index>-<k>` of application a-<index> ended at `ended`, reported now."""
    app, _candidate, _job = ("a-0", "c-0", "j-0") if index == 0 else ("a-1", "c-1", "j-0")
    world.post(world.app_event("interview.completed", index, ended,
                               interview={"id": f"i-{index}-{k}", "ends_at": ended.isoformat()}, **extra))


def received(world: World, kind: str) -> list[EmailMessage]:
    return [m for _, m in world.messages() if m["X-Ghostless-Kind"] == kind]


def sent_at(message: EmailMessage) -> datetime:
    return message["Date"].datetime.astimezone(UTC)


def text(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def clean(verdict: Verdict) -> None:
    """The oracle found nothing wrong, and checked every application to the end."""
    if verdict.failures or not verdict.fully_checked:
        pytest.fail(verdict.report(), pytrace=False)


# -- feeding the oracle the outputs a bug would have produced -----------------------------------------


def replay(world: World, drop: tuple[str, ...] = (), add: tuple[tuple[str, EmailMessage], ...] = (),
           move: dict[str, datetime] | None = None) -> Verdict:
    """The oracle on the world's inputs, with some mails dropped, added or sent at another time."""
    move = move or {}
    messages = [(name, message) for name, message in world.messages() if name not in drop]
    trace: list[Any] = [copy.copy(step) for step in world.trace]
    for step in trace:
        if isinstance(step, Swept):
            step.files = [f for f in step.files if f not in drop and f not in move]
    for name, message in list(add) + [(n, m) for n, m in messages if n in move]:
        at = move.get(name, sent_at(message))
        if name in move:
            message = with_date(message, at)
            messages = [(n, message if n == name else m) for n, m in messages]
        position = max((i + 1 for i, s in enumerate(trace) if _instant(s) < at), default=0)
        trace.insert(position, Swept(at, [name]))
    messages += list(add)
    return oracle.check(trace, messages, world.application_records(), world.now)


def _instant(step: Any) -> datetime:
    return step.end if isinstance(step, oracle.SweeperDown) else step.at


def with_date(message: EmailMessage, at: datetime) -> EmailMessage:
    moved = copy.deepcopy(message)
    moved.replace_header("Date", format_datetime(at))
    return moved


def file_of(world: World, kind: str, index: int = 0) -> str:
    return [name for name, m in world.messages() if m["X-Ghostless-Kind"] == kind][index]


def forged(template: EmailMessage, kind: str, at: datetime, body: str | None = None,
           autopilot: bool = False) -> EmailMessage:
    """A mail like `template` (same recipient) of another kind, as a buggy system might send it."""
    message = EmailMessage()
    for header in ("From", "To", "Subject"):
        message[header] = template[header]
    message["Date"] = format_datetime(at)
    message["X-Ghostless-Kind"] = kind
    message["X-Ghostless-Notification-Id"] = "9999"
    if autopilot:
        message["X-Ghostless-Autopilot"] = "yes"
    message.set_content(body if body is not None else text(template))
    return message


# -- 1. a date in writing is a promise -----------------------------------------------------------------


def test_a_later_promised_decision_does_not_move_the_date_already_in_writing(make_world):
    world = make_world()
    ended = ny(2026, 11, 24, 15)  # Tue 24 Nov: Wed 25, (Thanksgiving), Fri 27, Mon 30, Tue 1, Wed 2 Dec
    world.clock.set(ended)
    interview(world, 0, ended)
    world.tick()
    [thanks] = received(world, "next_steps")
    assert "by Wednesday 2 December at the latest" in text(thanks)
    world.run_until(ended + timedelta(minutes=10))
    # Fri 4 Dec + 2 working days would be Tue 8 Dec: later than the date in writing.
    world.post(world.app_event("decision.promised", 0, world.now, decision_expected_by="2026-12-04"))
    world.run_until(ny(2026, 12, 3, 12))

    verdict = world.verdict()
    clean(verdict)
    assert verdict.checked["promise in writing"] >= 1
    [update] = received(world, "status_update")
    assert sent_at(update) == ny(2026, 12, 2, 9) and update["X-Ghostless-Autopilot"] == "yes"

    # Had the candidate first heard a day after the date in writing, the oracle says so.
    late = replay(world, move={file_of(world, "status_update"): ny(2026, 12, 3, 9)})
    assert any(f.startswith("invariant 7") for f in late.failures), late.report()


# -- 2. the send window holds when the message is handed over -----------------------------------------


@pytest.mark.parametrize("not_before, down_from, back_at", [
    # The rejection may leave Fri 4 Dec 16:58; the sweeper ticks at 16:50, then 40 minutes late.
    (ny(2026, 12, 4, 16, 58), ny(2026, 12, 4, 16, 50), ny(2026, 12, 4, 17, 38)),
    # The sweeper is down over the weekend and comes back on Saturday morning.
    (ny(2026, 12, 4, 16), ny(2026, 12, 4, 15), ny(2026, 12, 5, 10, 30)),
])
def test_a_rejection_the_sweeper_missed_on_friday_waits_for_monday_morning(make_world, not_before, down_from,
                                                                             back_at):
    world = make_world()
    ended = ny(2026, 11, 30, 11)  # Mon 30 Nov: due Mon 7 Dec 17:00
    world.clock.set(ended)
    interview(world, 0, ended)
    world.run_until(ny(2026, 12, 1, 10))
    world.post(world.app_event("application.rejected", 0, world.now, reason="Another candidate",
                               ats_notification="none", notify_not_before=not_before.isoformat()))
    world.run_until(down_from)
    world.sweeper_down((back_at - down_from) / timedelta(hours=1))
    assert received(world, "rejection") == []  # not at 17:38, not on Saturday
    world.run_until(ny(2026, 12, 7, 12))

    clean(world.verdict())
    [rejection] = received(world, "rejection")
    assert sent_at(rejection) == ny(2026, 12, 7, 9)

    # A rejection handed over when the sweeper came back would be outside the window.
    eager = replay(world, move={file_of(world, "rejection"): back_at})
    assert any(f.startswith("invariant 8") for f in eager.failures), eager.report()


# -- 3. internal mail keeps the organisation's hours ---------------------------------------------------


@pytest.mark.parametrize("place, due, escalated_at", [
    # London: due Mon 16 Nov 17:00 London (12:00 New York); autopilot's time would be 04:00 New York.
    (("Europe/London", "GB"), local(LONDON, 2026, 11, 16, 17), ny(2026, 11, 16, 9)),
    # Tokyo: due Mon 16 Nov 17:00 Tokyo = 03:00 New York, before New York opens: Friday's window.
    (("Asia/Tokyo", None), local(TOKYO, 2026, 11, 16, 17), ny(2026, 11, 13, 9)),
])
def test_an_autopilot_off_escalation_reaches_talent_ops_in_new_york_hours(make_world, place, due, escalated_at):
    world = make_world(place)
    ended = ny(2026, 11, 6, 10)  # Fri 6 Nov: 5 working days, Veterans Day skipped -> Mon 16 Nov
    world.clock.set(ended)
    interview(world, 0, ended)
    world.set_policy({"autopilot": False}, job="j-0")
    world.run_until(due + timedelta(hours=1))

    verdict = world.verdict()
    clean(verdict)
    assert verdict.checked["autopilot-off escalation"] == 1
    assert verdict.checked["deadline missed: autopilot off"] == 1  # and the API reports it so
    [escalation] = received(world, "escalation")
    assert str(escalation["To"]) == "talent-ops@acme.example"
    assert sent_at(escalation) == escalated_at

    # The same escalation at 09:00 New York on the due day would be too late for Tokyo, and one at
    # 04:00 New York (the candidate's morning in London) outside office hours.
    wrong = ny(2026, 11, 16, 9) if place[0] == "Asia/Tokyo" else ny(2026, 11, 16, 4)
    moved = replay(world, move={file_of(world, "escalation"): wrong})
    assert moved.failures, moved.report()


# -- 4. a person's promised day is a working day of the candidate --------------------------------------


def test_a_uk_bank_holiday_cannot_be_promised_to_a_uk_candidate(make_world):
    world = make_world(("Europe/London", "GB"))
    ended = ny(2026, 12, 14, 10)  # Mon 14 Dec: due Mon 21 Dec 17:00 London
    world.clock.set(ended)
    interview(world, 0, ended)
    world.run_until(ny(2026, 12, 18, 10))  # Fri 18 Dec, 15:00 in London
    # Mon 28 Dec is Boxing Day (observed) in the UK, a working day in New York.
    assert world.ask_status_update("a-0", {"next_date": "2026-12-28"}) == 422
    refusal = world.trace[-1].answer
    assert "next_date" in refusal["errors"]["json"], refusal
    assert world.ask_status_update("a-0", {"next_date": "2026-12-29"}) == 202
    world.run_until(local(LONDON, 2026, 12, 30, 12))

    verdict = world.verdict()
    clean(verdict)
    assert verdict.checked["person's day judged"] == 2
    person, autopilot = received(world, "status_update")
    assert "by Tuesday 29 December at the latest" in text(person)
    assert sent_at(autopilot) == local(LONDON, 2026, 12, 29, 9)  # the promised day, at the window's opening

    # Had the API accepted Mon 28 Dec, the oracle would say so.
    accepted = copy.copy(world.trace)
    index = next(i for i, s in enumerate(accepted) if isinstance(s, oracle.StatusUpdateAsked))
    accepted[index] = oracle.StatusUpdateAsked(accepted[index].at, "a-0", {"next_date": "2026-12-28"}, 202, {})
    wrong = oracle.check(accepted, world.messages(), world.application_records(), world.now)
    assert any("accepted next_date Mon 28 Dec 2026" in f for f in wrong.failures), wrong.report()


# -- 5. after autopilot ----------------------------------------------------------------------------------


def test_eight_weeks_of_silence_autopilot_changes_its_words_and_talent_ops_hears(make_world):
    world = make_world()
    ended = ny(2026, 11, 2, 15)  # Mon 2 Nov: due Mon 9 Nov
    world.clock.set(ended)
    interview(world, 0, ended)
    world.run_until(ended + timedelta(weeks=8))

    verdict = world.verdict()
    clean(verdict)
    updates = received(world, "status_update")
    # 5 working days after the interview, then 5, 10, 15, 15 after each update (US holidays skipped).
    assert [sent_at(m).astimezone(NY).date().isoformat() for m in updates] == [
        "2026-11-09", "2026-11-17", "2026-12-02", "2026-12-23"]
    assert verdict.checked["autopilot update #1 in a row"] == 1
    assert verdict.checked["autopilot update #2 in a row"] == 1
    assert verdict.checked["autopilot update #3+ in a row"] == 2
    assert verdict.checked["neglect escalations"] == 1
    [neglect] = received(world, "escalation")
    assert sent_at(neglect) == ny(2026, 11, 17, 9)

    # Without the escalation, with the 2nd update worded like the 1st, or with a weekly cadence, the
    # oracle objects.
    assert replay(world, drop=(file_of(world, "escalation"),)).failures
    first, second = updates[0], updates[1]
    first_date = oracle.NAMED_DATE.search(text(first)).group(0)  # type: ignore[union-attr]
    second_date = oracle.NAMED_DATE.search(text(second)).group(0)  # type: ignore[union-attr]
    parrot = forged(second, "status_update", sent_at(second), body=text(first).replace(first_date, second_date),
                    autopilot=True)
    repeated = replay(world, drop=(file_of(world, "status_update", 1),), add=(("99999999-parrot.eml", parrot),))
    assert any("repeats the previous one's wording" in f for f in repeated.failures), repeated.report()
    assert any("does not apologise" in f for f in repeated.failures), repeated.report()
    weekly = replay(world, move={file_of(world, "status_update", 2): ny(2026, 11, 24, 9)})
    assert weekly.failures, weekly.report()


# -- 6. and 7. recomputations never put a deadline in the past, nor remind about one ----------------------


def test_a_lowered_sla_gives_honest_deadlines_not_breaches(make_world):
    world = make_world()
    for index, day in ((0, 2), (1, 3)):  # Mon 2 and Tue 3 Nov: due Mon 9 and Tue 10 Nov
        world.run_until(ny(2026, 11, day, 10))
        interview(world, index, world.now)
    world.run_until(ny(2026, 11, 9, 8))  # Monday 08:00
    # 3 working days would have been Thu 5 / Fri 6 Nov: already past.
    world.set_policy({"first_update_working_days": 3})
    honest = oracle.candidate_calendar(None, None).honest_deadline(world.now)
    assert honest == ny(2026, 11, 9, 17)  # the end of the first window ending 2 hours from now or later
    world.run_until(ny(2026, 11, 9, 18))

    verdict = world.verdict()
    clean(verdict)  # includes: the API reports no breach for either
    assert verdict.checked["deadline passed"] >= 2
    records = world.application_records()
    for app in ("a-0", "a-1"):
        first = min(records[app]["obligations"], key=lambda o: o["cycle"])
        assert (first["due_at"], first["breached_at"]) == (honest.isoformat(), None)
    updates = received(world, "status_update")
    assert sorted(sent_at(m) for m in updates) == [ny(2026, 11, 9, 9)] * 2  # inside the window

    # A reminder about the recomputed deadline that had already passed would be reported.
    [template] = [m for m in received(world, "reminder_recruiter") if "Application: a-1" in text(m)]
    stale = forged(template, "reminder_recruiter", ny(2026, 11, 9, 8, 30),  # about Fri 6 Nov, 3 days gone
                   body=text(template).replace("Deadline: Tue 10 Nov", "Deadline: Fri 6 Nov"))
    reminded = replay(world, add=(("99999999-stale.eml", stale),))
    assert any("names the deadline Fri 06 Nov" in f and "(honest)" in f for f in reminded.failures), \
        reminded.report()


def test_an_interview_backfilled_three_weeks_late_gets_an_honest_deadline(make_world):
    world = make_world()
    world.clock.set(ny(2026, 11, 30, 10))  # Mon 30 Nov; the interview was on Mon 9 Nov
    interview(world, 0, ny(2026, 11, 9, 11))
    world.run_until(ny(2026, 12, 1, 12))

    verdict = world.verdict()
    clean(verdict)
    assert verdict.checked["deadline passed"] == 1
    kinds = [m["X-Ghostless-Kind"] for _, m in world.messages()]
    assert "reminder_recruiter" not in kinds and "reminder_hiring_manager" not in kinds
    [update] = received(world, "status_update")
    assert sent_at(update) <= ny(2026, 11, 30, 17)  # by the honest deadline, the end of today's window

    # Silence until Tuesday would be a miss of the honest deadline.
    assert replay(world, move={file_of(world, "status_update"): ny(2026, 12, 1, 9)}).failures


# -- 8. no status update just before a decision ------------------------------------------------------------


def test_no_status_update_right_before_the_closing_notice(make_world):
    world = make_world()
    ended = ny(2026, 11, 2, 15)
    world.clock.set(ended)
    interview(world, 0, ended)
    world.run_until(ny(2026, 11, 9, 8, 30))  # autopilot is due at 09:00
    world.post(world.job_event("job.closed", "j-0", ny(2026, 11, 9, 7, 30)))  # closed an hour ago
    world.run_until(ny(2026, 11, 9, 12))

    verdict = world.verdict()
    clean(verdict)
    assert received(world, "status_update") == []
    [closing] = received(world, "job_closed")
    assert sent_at(closing) == ny(2026, 11, 9, 9)
    assert verdict.checked["closing notice timing"] == 1

    # "Still very much in the process" at 09:00, then "closed": the oracle objects.
    update = forged(closing, "status_update", ny(2026, 11, 9, 9), autopilot=True,
                    body="There is no decision yet. You will hear from us again by Monday 16 November at the "
                         "latest. Backend Engineer")
    both = replay(world, add=(("00000000-update.eml", update),))
    assert any("decision mail was due" in f for f in both.failures), both.report()


# -- found by the property test (tests/sla/test_invariants.py runs the oracle on random sequences) -------------


def test_messages_held_up_by_an_outage_do_not_name_a_day_already_gone(make_world):
    """After the sweeper was down, a thank-you naming Wednesday and a reminder about Wednesday's deadline
    must not be handed over on Thursday."""
    world = make_world()
    world.clock.set(ny(2026, 11, 2, 18))  # Mon 18:00, after the window
    world.set_policy({"first_update_working_days": 2})
    interview(world, 0, world.now)  # due Wed 4 Nov 17:00; thank-you and reminder wait for Tue 09:00
    world.tick()
    world.sweeper_down(64)  # back Thu 5 Nov 10:00
    world.run_until(ny(2026, 11, 5, 12))

    verdict = world.verdict()
    clean(verdict)
    assert not any("Wednesday 4 November" in text(m) for m in received(world, "next_steps"))
    assert received(world, "reminder_recruiter") == []


def test_a_reminder_is_not_handed_over_with_the_rejection(make_world):
    """A reminder scheduled before the rejection arrived leaves with it ("update the candidate")."""
    world = make_world()
    world.clock.set(ny(2026, 11, 2, 10))  # due Mon 9 Nov 17:00; the recruiter's rung is Thu 5 Nov 09:00
    interview(world, 0, world.now)
    world.run_until(ny(2026, 11, 4, 18))
    world.sweeper_down(28)  # back Thu 22:00: the recruiter's reminder waits for Fri 09:00
    world.post(world.app_event("application.rejected", 0, world.now, reason="Another candidate",
                               ats_notification="none"))  # the rejection leaves Fri 09:00 too
    world.run_until(ny(2026, 11, 10, 12))

    clean(world.verdict())
    [rejection] = received(world, "rejection")
    assert all(sent_at(m) < sent_at(rejection) for m in received(world, "reminder_recruiter"))


def test_a_rejection_reported_before_its_interview_still_leaves_a_deadline(make_world):
    """The ATS holds the rejection three weeks and reports it before the interview that preceded it:
    the candidate is still owed news within 5 working days of the interview."""
    world = make_world()
    world.clock.set(ny(2026, 11, 2, 12))
    world.post(world.app_event("application.rejected", 0, world.now, reason="Another candidate",
                               ats_notification="none", notify_not_before=ny(2026, 11, 23, 9).isoformat()))
    interview(world, 0, ny(2026, 11, 2, 10))  # due Mon 9 Nov 17:00
    world.run_until(ny(2026, 11, 24, 12))

    clean(world.verdict())
    assert any(sent_at(m) <= ny(2026, 11, 9, 17) for m in received(world, "status_update"))


def test_neglect_is_two_autopilot_updates_with_nobody_acting_between_them(make_world):
    """The lead's rule for issue 11: a person acting before the first autopilot update does not make
    the next two updates in a row any less neglected. (The ledger counts from the first cycle.)"""
    world = make_world()
    world.clock.set(ny(2026, 11, 2, 15))
    interview(world, 0, world.now)
    world.run_until(ny(2026, 11, 4, 10))
    world.post(world.app_event("application.stage_changed", 0, world.now,
                               application={"id": "a-0", "stage": "References"}))
    world.run_until(ny(2026, 11, 20, 12))  # autopilot Mon 9 and Tue 17 Nov, nobody acting between them

    clean(world.verdict())
    [neglect] = received(world, "escalation")
    assert sent_at(neglect) == ny(2026, 11, 17, 9)


def test_a_person_acting_between_autopilot_updates_restarts_the_cadence(make_world):
    """The lead's rule for issue 11: after a person acted, autopilot's next update is the 1st in a row
    again, so it names the date 5 working days on, not 10. (The ledger counts cycles, not actions.)"""
    world = make_world()
    world.clock.set(ny(2026, 11, 2, 15))
    interview(world, 0, world.now)
    world.run_until(ny(2026, 11, 11, 10))  # autopilot wrote Mon 9 Nov
    world.post(world.app_event("application.stage_changed", 0, world.now,
                               application={"id": "a-0", "stage": "References"}))
    world.run_until(ny(2026, 11, 20, 12))

    clean(world.verdict())
    second = received(world, "status_update")[1]
    assert "by Tuesday 24 November at the latest" in text(second)  # Tue 17 Nov + 5 working days
