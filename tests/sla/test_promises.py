"""Issue 11's observations about the promise, one test each, checked on what people received and on
what the API reports (the oracle in tests/oracle.py checks the same rules on random sequences).

New York organisation with US holidays (conftest `Org`); Thanksgiving is Thu 26 Nov 2026.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dashboard_support import add_user, sign_in
from helpers import event, interview_done, notifications, sent
from sqlalchemy import select

from plugin.models import Application, NotificationState
from plugin.processes import sweep_once

NY = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)


def cycles(org, app: str = "a-1") -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The application's cycles as the API reports them, first cycle first."""
    return sorted(org.get(f"/api/v1/applications/{app}")["obligations"], key=lambda c: c["cycle"])


def app_row_id(rt, external_id: str = "a-1") -> int:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        return session.scalar(select(Application.id).where(Application.external_id == external_id))


def walk(tick, clock, until: datetime, step: timedelta = timedelta(hours=1)) -> None:  # type: ignore[no-untyped-def]
    """The sweeper on time: a tick at every whole multiple of `step` (on the hour, by default) up to
    `until`, as a cron-driven `ghostless sweep` would run."""
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    while True:
        following = epoch + ((clock.now() - epoch) // step + 1) * step
        if following > until:
            break
        tick(at=following)
    if clock.now() < until:
        tick(at=until)


def candidate_mail(outbox, kind: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return [m for m in outbox() if m["X-Ghostless-Kind"] == kind]


def in_window(mail: Any, tz: ZoneInfo) -> bool:
    local = mail["Date"].datetime.astimezone(tz)
    return local.weekday() < 5 and 9 <= local.hour < 17


# -- 1. a date in writing is a promise ---------------------------------------------------------------


def test_a_promised_decision_date_never_moves_the_deadline_past_the_date_already_in_writing(org, tick, clock,
                                                                                            outbox):
    ended = ny(2026, 11, 24, 15)  # Tue 24 Nov 15:00: Wed 25, (Thanksgiving), Fri 27, Mon 30, Tue 1, Wed 2
    clock.set(ended)
    org.post(interview_done(ended))
    tick()
    [thanks] = candidate_mail(outbox, "next_steps")
    assert "by Wednesday 2 December at the latest" in thanks.get_body(("plain",)).get_content()
    # Minutes later the ATS reports a decision promised for Thu 3 Dec (+2 working days: Mon 7 Dec).
    tick(by=timedelta(minutes=10))
    org.post(event("decision.promised", clock.now(), decision_expected_by="2026-12-03"))
    [cycle] = cycles(org)
    assert cycle["due_at"] == "2026-12-02T22:00:00+00:00" and cycle["due_basis"] == "written"
    # Nobody acts: autopilot writes on the morning of the day in writing, naming the new date.
    walk(tick, clock, ny(2026, 12, 2, 12))
    [update] = candidate_mail(outbox, "status_update")
    assert update["Date"].datetime == ny(2026, 12, 2, 9)
    first = cycles(org)[0]
    assert first["met"] is True and first["discharged_by"] == "status_update"


def test_a_promise_known_before_the_thank_you_goes_out_is_the_date_it_names(org, tick, clock, outbox):
    ended = ny(2026, 11, 24, 18)  # Tue 24 Nov 18:00: after the window, the thank-you waits for Wed 09:00
    clock.set(ended)
    org.post(interview_done(ended))
    tick()
    org.post(event("decision.promised", clock.now(), decision_expected_by="2026-12-03"))
    walk(tick, clock, ny(2026, 11, 25, 10))
    [thanks] = candidate_mail(outbox, "next_steps")
    assert "by Monday 7 December at the latest" in thanks.get_body(("plain",)).get_content()
    assert cycles(org)[0]["due_at"] == "2026-12-07T22:00:00+00:00"


def test_a_promise_may_move_the_deadline_earlier(org, tick, clock):
    ended = ny(2026, 11, 24, 15)
    clock.set(ended)
    org.post(interview_done(ended))
    tick()
    org.post(event("decision.promised", clock.now(), decision_expected_by="2026-11-25"))
    assert cycles(org)[0]["due_at"] == ny(2026, 11, 30, 17).isoformat()  # Wed 25 + 2: Fri 27, Mon 30


# -- 2. and 3. the send window holds when a message is handed over ------------------------------------


def rejected_with_hold(org, clock, tick, not_before: datetime) -> None:  # type: ignore[no-untyped-def]
    ended = ny(2026, 11, 30, 11)  # Mon 30 Nov
    clock.set(ended)
    org.post(interview_done(ended))
    tick()
    clock.set(ny(2026, 12, 1, 10))
    org.post(event("application.rejected", clock.now(), reason="Another candidate", ats_notification="none",
                   notify_not_before=not_before.isoformat()))


def test_a_rejection_claimed_forty_minutes_late_waits_for_monday_morning(org, tick, clock, outbox):
    rejected_with_hold(org, clock, tick, ny(2026, 12, 4, 16, 58))  # Fri 4 Dec 16:58
    tick(at=ny(2026, 12, 4, 17, 38))  # the sweeper was 40 minutes late
    assert candidate_mail(outbox, "rejection") == []
    [rejection] = notifications(org.rt.db, "rejection")
    assert rejection.state is NotificationState.SCHEDULED and rejection.scheduled_for == ny(2026, 12, 7, 9)
    tick(at=ny(2026, 12, 5, 11))  # Saturday: nothing
    assert candidate_mail(outbox, "rejection") == []
    tick(at=ny(2026, 12, 7, 9))
    [mail] = candidate_mail(outbox, "rejection")
    assert mail["Date"].datetime == ny(2026, 12, 7, 9)


def test_a_sweeper_down_over_the_weekend_does_not_mail_on_saturday(org, tick, clock, outbox):
    rejected_with_hold(org, clock, tick, ny(2026, 12, 4, 16))
    tick(at=ny(2026, 12, 5, 10, 30))  # the sweeper comes back on Saturday morning
    assert candidate_mail(outbox, "rejection") == []
    tick(at=ny(2026, 12, 7, 9))
    assert [m["Date"].datetime for m in candidate_mail(outbox, "rejection")] == [ny(2026, 12, 7, 9)]


def test_autopilot_that_could_not_leave_in_time_is_a_late_breach_not_a_success(org, tick, clock, outbox):
    ended = ny(2026, 11, 6, 15)  # Fri 6 Nov: due Mon 16 Nov 17:00 (Veterans Day skipped)
    clock.set(ended)
    org.post(interview_done(ended))
    walk(tick, clock, ny(2026, 11, 16, 8))
    tick(at=ny(2026, 11, 16, 18))  # the sweeper was down all day
    [cycle] = [c for c in cycles(org) if c["cycle"] == 1]
    assert cycle["breach_reason"] == "late" and cycle["met"] is False
    assert candidate_mail(outbox, "status_update") == []  # not at 18:00: the window had closed
    tick(at=ny(2026, 11, 17, 9))
    [update] = candidate_mail(outbox, "status_update")
    assert update["Date"].datetime == ny(2026, 11, 17, 9)
    assert cycles(org)[0]["met"] is False  # the candidate heard a day late, and it says so


def test_a_rejection_the_ats_holds_past_the_deadline_does_not_make_the_breach_late(org, tick, clock):
    """Autopilot off; the ATS holds its rejection until after the deadline: that is a choice, not a
    message that could not leave in time."""
    ended = ny(2026, 11, 2, 15)  # due Mon 9 Nov 17:00
    clock.set(ended)
    org.post(interview_done(ended))
    org.put("/api/v1/policies/jobs/j-1", {"autopilot": False})
    walk(tick, clock, ny(2026, 11, 5, 10))
    org.post(event("application.rejected", clock.now(), reason="Another candidate", ats_notification="none",
                   notify_not_before=ny(2026, 11, 10, 10).isoformat()))
    walk(tick, clock, ny(2026, 11, 10, 12))
    first = cycles(org)[0]
    assert (first["breach_reason"], first["met"], first["discharged_by"]) == ("autopilot_off", False, "rejection")


@pytest.mark.parametrize("zone, due, escalated_at", [
    # London: due Mon 16 Nov 17:00 London (12:00 New York); autopilot's time is 04:00 New York.
    ("Europe/London", datetime(2026, 11, 16, 17, tzinfo=UTC), ny(2026, 11, 16, 9)),
    # Tokyo: due Mon 16 Nov 17:00 Tokyo = 03:00 New York, before New York opens: the previous
    # New York working day's window (Fri 13 Nov).
    ("Asia/Tokyo", datetime(2026, 11, 16, 8, tzinfo=UTC), ny(2026, 11, 13, 9)),
])
def test_an_escalation_reaches_talent_ops_in_their_own_working_hours(org, tick, clock, outbox, zone, due,
                                                                     escalated_at):
    ended = ny(2026, 11, 6, 10)  # Fri 6 Nov, before the job exists
    clock.set(ended)
    org.post(interview_done(ended, timezone=zone))
    org.put("/api/v1/policies/jobs/j-1", {"autopilot": False})
    walk(tick, clock, due + timedelta(hours=1))
    [escalation] = candidate_mail(outbox, "escalation")
    assert "talent-ops@acme.example" in str(escalation["To"])
    assert escalation["Date"].datetime == escalated_at
    assert cycles(org)[0]["due_at"] == due.isoformat()
    for mail in outbox():
        internal = mail["X-Ghostless-Kind"] in ("reminder_recruiter", "reminder_hiring_manager", "escalation")
        assert in_window(mail, NY if internal else ZoneInfo(zone)), (mail["X-Ghostless-Kind"], mail["Date"])


# -- 5. after autopilot ---------------------------------------------------------------------------------


def test_autopilot_does_not_repeat_itself_its_cadence_grows_and_neglect_reaches_talent_ops(org, tick, clock,
                                                                                           outbox):
    ended = ny(2026, 11, 2, 15)  # Mon 2 Nov: due Mon 9 Nov
    clock.set(ended)
    org.post(interview_done(ended))
    walk(tick, clock, ny(2027, 1, 29, 18), step=timedelta(hours=3))
    updates = candidate_mail(outbox, "status_update")
    sent_days = [m["Date"].datetime.astimezone(NY).date().isoformat() for m in updates]
    # 5 working days after the interview, then 5, 10, 15, 15 working days after each update.
    # Mon 9 Nov; Tue 17 Nov (Veterans Day skipped); Wed 2 Dec (Thanksgiving); Wed 23 Dec; Fri 15 Jan.
    assert sent_days == ["2026-11-09", "2026-11-17", "2026-12-02", "2026-12-23", "2027-01-15"]
    bodies = [m.get_body(("plain",)).get_content() for m in updates]
    paragraphs = [b.split("\n\n")[2] for b in bodies]  # where things stand
    assert all(a != b for a, b in zip(paragraphs, paragraphs[1:])), paragraphs
    assert all("sorry" in p or "apology" in p for p in paragraphs[1:])
    assert not any("working on" in b or "working through" in b for b in bodies)  # nobody acted
    assert "since Monday 2 November" in paragraphs[1]
    [neglect] = [m for m in candidate_mail(outbox, "escalation")]
    # Right after the 2nd update in a row (the sweeper here ticks every 3 hours), in office hours.
    assert neglect["Date"].datetime.astimezone(NY).date().isoformat() == "2026-11-17" and in_window(neglect, NY)
    text = neglect.get_body(("plain",)).get_content()
    assert "talent-ops@acme.example" in str(neglect["To"])
    assert all(name in text for name in ("Backend Engineer", "Alan Turing", "Grace Hopper")), text
    assert cycles(org)[-1]["autopilot_run"] == 5


def test_a_person_acting_ends_autopilots_run(org, tick, clock, outbox):
    ended = ny(2026, 11, 2, 15)
    clock.set(ended)
    org.post(interview_done(ended))
    walk(tick, clock, ny(2026, 11, 12, 10), step=timedelta(hours=3))  # one autopilot update (Mon 9 Nov)
    org.post(event("application.stage_changed", clock.now(), application={"id": "a-1", "stage": "References"}))
    walk(tick, clock, ny(2026, 11, 17, 12), step=timedelta(hours=3))
    first, second = [m.get_body(("plain",)).get_content() for m in candidate_mail(outbox, "status_update")]
    # A person acted between the two updates: the run starts again (cadence 5 working days, no
    # apology due yet), and the update may say the team is working on it, because someone was.
    assert "working through their decision" in second and "working through" not in first
    assert "sorry" not in second
    assert "by Tuesday 24 November" in second  # 5 working days after Tue 17 Nov, not 10
    assert candidate_mail(outbox, "escalation") == []  # not neglected: a person acted
    org.post(event("candidate.contacted", clock.now(), channel="phone"))
    assert cycles(org)[-1]["autopilot_run"] == 0


# -- 6. and 7. recomputations never create a breach in the past, nor remind about one -------------


def test_a_lowered_sla_gives_the_earliest_honest_deadline_not_a_breach(org, tick, clock, outbox):
    for n, day in ((1, 2), (2, 3)):  # interviews Mon 2 and Tue 3 Nov: due Mon 9 and Tue 10 Nov
        clock.set(ny(2026, 11, day, 10))
        org.post(interview_done(clock.now(), app=f"a-{n}", candidate=f"c-{n}", interview=f"i-{n}"))
        tick()
    walk(tick, clock, ny(2026, 11, 9, 8))  # Monday 08:00; both recruiters reminded already
    reminders_before = len(sent(org.rt.db, "reminder_recruiter")) + len(sent(org.rt.db, "reminder_hiring_manager"))
    answer = org.put("/api/v1/policies/organization", {"first_update_working_days": 3})
    # a-1 was due today already and stays; a-2 (due tomorrow) moves to the end of today's window.
    assert (answer["recomputed"], answer["honest_deadlines"], answer["autopilot_within_a_day"],
            answer["reminders_within_a_day"]) == (1, 1, 1, 0)
    for app in ("a-1", "a-2"):
        [cycle] = cycles(org, app)
        # 3 working days would have been Thu 5 / Fri 6 Nov, already past: the end of today's window.
        assert (cycle["due_at"], cycle["due_basis"], cycle["breached_at"]) == (
            ny(2026, 11, 9, 17).isoformat(), "honest", None)
    walk(tick, clock, ny(2026, 11, 9, 18))
    assert len(sent(org.rt.db, "reminder_recruiter")) + len(sent(org.rt.db, "reminder_hiring_manager")) \
        == reminders_before  # nobody is reminded about a deadline that had passed
    updates = candidate_mail(outbox, "status_update")
    assert sorted(m["Date"].datetime for m in updates) == [ny(2026, 11, 9, 9)] * 2
    assert all(cycles(org, app)[0]["met"] is True for app in ("a-1", "a-2"))


def test_an_interview_reported_three_weeks_late_reminds_nobody_of_the_past_deadline(org, rt, client, tick, clock,
                                                                                   outbox):
    clock.set(ny(2026, 11, 30, 10))  # Mon 30 Nov; the interview was on Mon 9 Nov
    org.post(interview_done(ny(2026, 11, 9, 11)))
    [cycle] = cycles(org)
    assert (cycle["due_at"], cycle["due_basis"]) == (ny(2026, 11, 30, 17).isoformat(), "honest")
    add_user(rt, org.id, "boss@acme.example", "admin")
    sign_in(client, "boss@acme.example")
    timeline = client.get(f"/dashboard/applications/{app_row_id(rt)}")
    assert "not counted as forgotten" in timeline.get_data(as_text=True)
    walk(tick, clock, ny(2026, 12, 1, 12))
    assert [m["X-Ghostless-Kind"] for m in outbox()] == ["status_update"]  # no thank-you 3 weeks on, no reminder
    assert cycles(org)[0]["met"] is True


def test_no_status_update_just_before_the_closing_notice(org, tick, clock, outbox):
    ended = ny(2026, 11, 2, 15)
    clock.set(ended)
    org.post(interview_done(ended))
    walk(tick, clock, ny(2026, 11, 9, 8))
    # The autopilot update is scheduled for 09:00; the ATS reports the job closed an hour ago.
    clock.set(ny(2026, 11, 9, 8, 30))
    org.post(event("job.closed", ny(2026, 11, 9, 7, 30), job="j-1"))
    walk(tick, clock, ny(2026, 11, 9, 12))
    assert candidate_mail(outbox, "status_update") == []
    [closing] = candidate_mail(outbox, "job_closed")
    assert closing["Date"].datetime == ny(2026, 11, 9, 9)
    assert cycles(org)[0]["met"] is True


# -- found by the property test with the oracle ------------------------------------------------------


def test_a_promise_for_the_candidates_tomorrow_that_is_their_today_when_sent_still_stands(org, tick, clock, outbox):
    """Tokyo: promised at Mon 23:00 local for Tue; the update leaves Tue 09:00 Tokyo, naming Tuesday."""
    clock.set(datetime(2026, 11, 2, 14, tzinfo=UTC))  # Mon 23:00 Tokyo
    org.post(interview_done(clock.now(), timezone="Asia/Tokyo"))
    answer = org.client.post("/api/v1/applications/a-1/status-updates", json={"next_date": "2026-11-03"},
                             headers=org.headers)
    assert answer.status_code == 202, answer.get_json()
    tick(at=datetime(2026, 11, 3, 0, tzinfo=UTC))  # Tue 09:00 Tokyo
    [update] = candidate_mail(outbox, "status_update")
    assert "by Tuesday 3 November at the latest" in update.get_body(("plain",)).get_content()
    assert cycles(org)[1]["due_at"] == datetime(2026, 11, 3, 8, tzinfo=UTC).isoformat()  # 17:00 Tokyo


def test_a_promise_reported_after_the_deadline_passed_does_not_move_it(org, tick, clock):
    """Promised decision Mon 2 Nov: due Wed 4 Nov 17:00. The sweeper is down until Wed 18:00; then a
    new promise for Thu 5 Nov arrives. The passed deadline stays, and is reported as missed (late)."""
    clock.set(ny(2026, 11, 2, 9))
    org.post(interview_done(clock.now(), decision_expected_by="2026-11-02"))
    assert cycles(org)[0]["due_at"] == ny(2026, 11, 4, 17).isoformat()
    clock.set(ny(2026, 11, 4, 18))  # the sweeper was down all that time
    org.post(event("decision.promised", clock.now(), decision_expected_by="2026-11-05"))
    tick()
    first = cycles(org)[0]
    assert (first["due_at"], first["breach_reason"]) == (ny(2026, 11, 4, 17).isoformat(), "late")


def test_no_thank_you_beside_a_closing_notice_that_speaks_for_two_jobs(org, tick, clock, outbox):
    """One person, two jobs. Job 1 closes (her notice is held); her interview for job 2 ends; job 2
    closes too and joins the same notice. The thank-you for job 2 must not go out beside it."""
    clock.set(ny(2026, 11, 2, 18))  # Mon 18:00: everything waits for Tue 09:00
    org.post(interview_done(ny(2026, 11, 2, 11), app="a-1", job="j-1", interview="i-1"))
    org.post(event("job.closed", clock.now(), app="a-1", job="j-1"))
    org.post(interview_done(ny(2026, 11, 2, 17, 30), app="a-2", job="j-2", interview="i-2"))
    org.post(event("job.closed", clock.now(), app="a-2", job="j-2"))
    walk(tick, clock, ny(2026, 11, 3, 12))
    kinds = [m["X-Ghostless-Kind"] for m in outbox()]
    assert kinds.count("job_closed") == 1 and "next_steps" not in kinds, kinds


@pytest.mark.parametrize("held_first", [True, False], ids=["held-first", "past-first"])
def test_two_closings_in_one_notice_wait_for_the_later_hold_whichever_arrives_first(org, tick, clock, outbox,
                                                                                    held_first):
    """One person, two jobs (found by the oracle). Job 1 closes now, Mon 09:00: its hold ends at 10:00.
    The ATS reports job 2 closed at 06:00 (its hold is over). One notice speaks for both, and it waits
    for job 1's hold, so a reopen of job 1 can still cancel it; it used to leave at 09:00 when job 2's
    closing arrived first, telling her about job 1 before its hold had ended."""
    clock.set(ny(2026, 10, 30, 16))
    org.post(interview_done(ny(2026, 10, 30, 11), app="a-1", job="j-1", interview="i-1"))
    org.post(interview_done(ny(2026, 10, 30, 14), app="a-2", job="j-2", interview="i-2"))
    tick()
    clock.set(ny(2026, 11, 2, 9))
    closings = [event("job.closed", clock.now(), job="j-1"), event("job.closed", ny(2026, 11, 2, 6), job="j-2")]
    for body in closings if held_first else reversed(closings):
        org.post(body)
    tick()
    walk(tick, clock, ny(2026, 11, 2, 12))
    [notice] = candidate_mail(outbox, "job_closed")
    assert notice["Date"].datetime == ny(2026, 11, 2, 10)
    text = notice.get_body(("plain",)).get_content()
    assert text.count("Backend Engineer") >= 1 and len(sent_closing_ids(org.rt)) == 2


def sent_closing_ids(rt) -> list[int]:  # type: ignore[no-untyped-def]
    [notice] = sent(rt.db, "job_closed")
    return list(notice.context["application_ids"])


def test_no_status_update_beside_a_closing_notice_both_released_after_an_outage(org, tick, clock, outbox):
    """Found by the oracle. Interview Mon 2 Nov; the SLA is lowered to 3 working days (due Thu 17:00);
    the job closes Wed evening, so the closing notice waits for Thu 09:00 and so does autopilot's update.
    The sweeper is then down until the weekend: on Monday the closing notice leaves, alone."""
    clock.set(ny(2026, 11, 2, 9))
    org.post(interview_done(clock.now()))
    tick()
    clock.set(ny(2026, 11, 4, 21))  # the sweeper was down since Monday
    org.put("/api/v1/policies/organization", {"first_update_working_days": 3})
    org.post(event("job.closed", ny(2026, 11, 4, 20, 55)))
    tick(at=ny(2026, 11, 5, 2))
    clock.set(ny(2026, 11, 7, 14))  # down again from Thu 02:00 until Sat 14:00
    walk(tick, clock, ny(2026, 11, 9, 12))
    kinds = [m["X-Ghostless-Kind"] for m in outbox()]
    assert kinds.count("job_closed") == 1 and "status_update" not in kinds, kinds


def test_no_reminder_beside_the_update_a_person_just_sent(org, tick, clock, outbox, rt):
    """Found by the oracle. Due Wed 4 Nov (3 working days after a Saturday interview), so the recruiter's
    reminder is due Mon 09:00, the minute the recruiter sends an update through Ghostless. The sweeper
    has queued the reminder but no worker has sent it yet: it stands down, for it would name a
    deadline the update has just replaced."""
    clock.set(ny(2026, 11, 2, 9))
    org.put("/api/v1/policies/organization", {"first_update_working_days": 3})
    org.post(interview_done(ny(2026, 10, 31, 9)))
    sweep_once(rt, clock.now())  # the reminder is queued ahead of the update
    answer = org.client.post("/api/v1/applications/a-1/status-updates", json={"next_date": "2026-11-03"},
                             headers=org.headers)
    assert answer.status_code == 202, answer.get_json()
    tick()
    kinds = [m["X-Ghostless-Kind"] for m in outbox()]
    assert "reminder_recruiter" not in kinds and kinds.count("status_update") == 1, kinds
