"""The ledger end to end: canonical events through the real API, the real sweep and RQ worker.

Conftest's clock starts Mon 2026-11-02 14:00Z (09:00 New York, EST since 1 Nov). The org is
America/New_York with US holidays (Wed 11 Nov Veterans Day, Thu 26 Nov Thanksgiving).
"""

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from conftest import Org
from helpers import event, interview_done, notifications, obligations, sent
from sqlalchemy import select

from plugin.models import (
    Application,
    ApplicationStatus,
    Candidate,
    InboundEvent,
    NotificationState,
    ObligationState,
    Rung,
)

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
STEP = timedelta(minutes=30)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def walk(tick, until: datetime, step: timedelta = STEP) -> None:  # type: ignore[no-untyped-def]
    """Tick every `step` (sweep + worker) from the current clock up to and including `until`."""
    from plugin import clock

    while clock.now() + step <= until:
        tick(by=step)
    if clock.now() < until:
        tick(at=until)


def in_window(instant: datetime, tz: ZoneInfo) -> bool:
    local = instant.astimezone(tz)
    return local.weekday() < 5 and 9 <= local.hour < 17


def kinds(db, **filters) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.kind.value for n in sent(db) if all(getattr(n, k) == v for k, v in filters.items())]


def application(db, external_id: str) -> Application:  # type: ignore[no-untyped-def]
    with db.session() as session:
        app = session.scalar(select(Application).where(Application.external_id == external_id))
        assert app is not None
        session.expunge(app)
        return app


def candidate(db, external_id: str) -> Candidate:  # type: ignore[no-untyped-def]
    with db.session() as session:
        cand = session.scalar(select(Candidate).where(Candidate.external_id == external_id))
        assert cand is not None
        session.expunge(cand)
        return cand


def rejected(at: datetime, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("ats_notification", "none")
    return event("application.rejected", at, reason="Another candidate was a closer fit", **kw)


# -- 1-5: rejections --------------------------------------------------------------------------------

def test_rejection_after_interview_sent_once_one_working_day_later_inside_window(org, tick, rt):
    ended = utc(2026, 11, 2, 23)  # Mon 18:00 New York, after the window
    tick(at=ended)
    org.post(interview_done(ended))
    tick(by=timedelta(minutes=30))
    assert org.post(rejected(utc(2026, 11, 2, 23, 30)))["applied"] == 1
    # 1 working day after the end: Tue 18:00 NY, outside the window -> Wed 09:00 NY (14:00Z).
    walk(tick, utc(2026, 11, 4, 13, 30))
    assert sent(rt.db, "rejection") == []
    walk(tick, utc(2026, 11, 6, 23))
    [rejection] = notifications(rt.db, "rejection")
    assert rejection.state is NotificationState.SENT
    assert rejection.sent_at == utc(2026, 11, 4, 14)
    assert rejection.sent_at >= utc(2026, 11, 3, 23)  # not within 1 working day of the interview's end
    assert in_window(rejection.sent_at, NY)
    assert rejection.recipient_email == "c-1@example.com"
    [ob] = obligations(rt.db)
    assert ob.state is ObligationState.DISCHARGED
    assert ob.discharged_by == "rejection" and ob.discharged_at == rejection.sent_at
    assert application(rt.db, "a-1").status is ApplicationStatus.REJECTED
    # The decision ends the ladder: no reminders, no autopilot, ever.
    walk(tick, utc(2026, 11, 12, 23), step=timedelta(hours=1))
    assert "status_update" not in kinds(rt.db)
    assert kinds(rt.db).count("rejection") == 1


def test_rejection_waits_for_the_ats_notify_not_before(org, tick, rt):
    ended = utc(2026, 11, 2, 15)  # Mon 10:00 NY
    tick(at=ended)
    org.post(interview_done(ended))
    not_before = utc(2026, 11, 5, 15, 30)  # Thu 10:30 NY, later than "1 working day" (Tue 10:00)
    org.post(rejected(utc(2026, 11, 2, 16), notify_not_before=not_before.isoformat()))
    walk(tick, utc(2026, 11, 5, 15))
    assert sent(rt.db, "rejection") == []
    walk(tick, utc(2026, 11, 6, 22))
    [rejection] = sent(rt.db, "rejection")
    assert rejection.sent_at == not_before
    assert in_window(rejection.sent_at, NY)


def test_rejection_the_ats_already_sent_is_recorded_and_nothing_is_emailed(org, tick, rt):
    ended = utc(2026, 11, 2, 23)
    tick(at=ended)
    org.post(interview_done(ended))
    told = utc(2026, 11, 2, 23, 30)
    org.post(rejected(told, ats_notification="sent"))
    [ob] = obligations(rt.db)
    assert ob.state is ObligationState.DISCHARGED
    assert ob.discharged_by == "ats_rejection" and ob.discharged_at == told
    walk(tick, utc(2026, 11, 12, 23), step=timedelta(hours=1))
    assert notifications(rt.db, "rejection") == []
    assert sent(rt.db) == []  # the pending next steps were cancelled with the cycle too
    assert {n.state for n in notifications(rt.db)} <= {NotificationState.CANCELLED}


def test_rejection_cancelled_by_reopen_before_send_time_keeps_obligation_and_ladder(org, tick, rt):
    ended = utc(2026, 11, 2, 15)  # Mon 10:00 NY
    tick(at=ended)
    org.post(interview_done(ended))
    [ob] = obligations(rt.db)
    org.post(rejected(utc(2026, 11, 2, 16)))  # would go out Tue 10:00 NY (15:00Z)
    tick(at=utc(2026, 11, 2, 17))
    assert org.post(event("application.reopened", utc(2026, 11, 2, 17)))["applied"] == 1
    [rejection] = notifications(rt.db, "rejection")
    assert rejection.state is NotificationState.CANCELLED
    [still] = obligations(rt.db)
    assert still.id == ob.id and still.state is ObligationState.OPEN
    assert still.due_at == ob.due_at == utc(2026, 11, 9, 22)  # Mon 9 Nov 17:00 EST
    assert still.next_rung is Rung.REMINDER_RECRUITER and still.next_action_at == utc(2026, 11, 5, 14)
    walk(tick, utc(2026, 11, 9, 23), step=timedelta(hours=1))
    assert sent(rt.db, "rejection") == []
    # The thank-you was still unsent when the rejection arrived, so it was cancelled (a decision
    # says what happens next); the reopen then leaves the ladder to run as usual.
    assert kinds(rt.db) == ["reminder_recruiter", "reminder_hiring_manager", "status_update"]
    assert application(rt.db, "a-1").status is ApplicationStatus.ACTIVE


def test_rejection_that_arrives_before_the_interview_it_followed_is_still_sent(org, tick, rt):
    # Polls and webhooks race: the ATS's rejection reaches us before the poll reports the interview.
    ended = utc(2026, 11, 2, 15)  # Mon 10:00 NY
    tick(at=utc(2026, 11, 2, 17))
    org.post(rejected(utc(2026, 11, 2, 16, 30)))
    org.post(interview_done(ended))
    walk(tick, utc(2026, 11, 6, 22))
    [rejection] = sent(rt.db, "rejection")
    assert rejection.sent_at == utc(2026, 11, 3, 15)  # 1 working day after the interview, in the window
    assert kinds(rt.db).count("rejection") == 1 and "status_update" not in kinds(rt.db)


def test_late_interview_after_a_rejection_the_ats_sent_itself_sends_nothing(org, tick, rt):
    tick(at=utc(2026, 11, 2, 17))
    org.post(rejected(utc(2026, 11, 2, 16, 30), ats_notification="sent"))
    org.post(interview_done(utc(2026, 11, 2, 15)))
    walk(tick, utc(2026, 11, 6, 22))
    assert sent(rt.db) == []


def test_an_interview_after_the_rejection_does_not_bring_a_rejection(org, tick, rt):
    tick(at=utc(2026, 11, 2, 17))
    org.post(rejected(utc(2026, 11, 2, 14)))
    org.post(interview_done(utc(2026, 11, 2, 16)))  # a round the ATS still reports after rejecting
    walk(tick, utc(2026, 11, 6, 22))
    assert notifications(rt.db, "rejection") == []


def test_rejection_of_a_candidate_never_interviewed_sends_nothing(org, tick, rt):
    org.post(event("application.created", utc(2026, 11, 2, 14)))
    result = org.post(rejected(utc(2026, 11, 2, 15)))
    assert result["applied"] == 1
    walk(tick, utc(2026, 11, 6, 23), step=timedelta(hours=1))
    assert notifications(rt.db) == [] and obligations(rt.db) == []


def test_late_arriving_older_rejection_does_not_undo_newer_reopen(org, tick, rt):
    ended = utc(2026, 11, 2, 15)
    tick(at=ended)
    org.post(interview_done(ended))
    tick(at=utc(2026, 11, 2, 18))
    # The ATS rejected at 16:00 and reopened at 17:00; the webhooks arrive in the wrong order.
    org.post(event("application.reopened", utc(2026, 11, 2, 17)))
    result = org.post(rejected(utc(2026, 11, 2, 16)))
    assert result["ignored"] == 1
    assert application(rt.db, "a-1").status is ApplicationStatus.ACTIVE
    walk(tick, utc(2026, 11, 4, 22), step=timedelta(hours=1))
    assert sent(rt.db, "rejection") == []
    [ob] = obligations(rt.db)
    assert ob.state is ObligationState.OPEN


def test_late_arriving_older_reopen_does_not_undo_newer_rejection(org, tick, rt):
    ended = utc(2026, 11, 2, 15)
    tick(at=ended)
    org.post(interview_done(ended))
    tick(at=utc(2026, 11, 2, 18))
    org.post(rejected(utc(2026, 11, 2, 17)))
    result = org.post(event("application.reopened", utc(2026, 11, 2, 16)))  # older, arrives later
    assert result["ignored"] == 1 and result["results"][0]["status"] == "ignored"
    assert application(rt.db, "a-1").status is ApplicationStatus.REJECTED
    walk(tick, utc(2026, 11, 4, 22))
    [rejection] = sent(rt.db, "rejection")
    assert rejection.sent_at == utc(2026, 11, 3, 15)  # Tue 10:00 NY, 1 working day after the end
    [ob] = obligations(rt.db)
    assert ob.discharged_by == "rejection"


# -- 6: hired, withdrawn ------------------------------------------------------------------------------

def test_hired_discharges_cancels_pending_and_never_gets_a_rejection(org, tick, rt):
    ended = utc(2026, 11, 2, 23)  # Mon 18:00 NY: next steps wait for Tue 09:00
    tick(at=ended)
    org.post(interview_done(ended))
    org.post(rejected(utc(2026, 11, 2, 23, 10)))  # pending until Wed 09:00 NY
    tick(at=utc(2026, 11, 2, 23, 30))
    hired_at = utc(2026, 11, 2, 23, 20)
    assert org.post(event("application.hired", hired_at))["applied"] == 1
    [ob] = obligations(rt.db)
    assert ob.state is ObligationState.DISCHARGED and ob.discharged_by == "hired" and ob.discharged_at == hired_at
    assert {n.kind.value: n.state for n in notifications(rt.db)} == {
        "next_steps": NotificationState.CANCELLED, "rejection": NotificationState.CANCELLED}
    # A rejection that arrives later, newer or older, changes nothing.
    later = org.post(rejected(utc(2026, 11, 3, 15)), rejected(utc(2026, 11, 2, 12)))
    assert later["ignored"] == 2
    walk(tick, utc(2026, 11, 13, 23), step=timedelta(hours=1))
    assert sent(rt.db) == []
    assert all(n.state is NotificationState.CANCELLED for n in notifications(rt.db, "rejection"))
    assert application(rt.db, "a-1").status is ApplicationStatus.HIRED


def test_withdrawn_closes_obligation_and_nothing_more_is_sent(org, tick, rt):
    ended = utc(2026, 11, 2, 15)
    tick(at=ended)
    org.post(interview_done(ended))
    tick()
    assert kinds(rt.db) == ["next_steps"]
    tick(at=utc(2026, 11, 3, 15))
    org.post(event("application.withdrawn", utc(2026, 11, 3, 15)))
    [ob] = obligations(rt.db)
    assert ob.state is ObligationState.CLOSED and ob.closed_reason == "withdrawn"
    assert ob.next_action_at is None
    walk(tick, utc(2026, 11, 13, 23), step=timedelta(hours=1))
    assert kinds(rt.db) == ["next_steps"]
    assert application(rt.db, "a-1").status is ApplicationStatus.WITHDRAWN


# -- 7: job closed ------------------------------------------------------------------------------------

def _round_on_job_1(org, tick):  # type: ignore[no-untyped-def]
    """c-1 and c-2 interviewed and active; c-3 never interviewed; c-4 interviewed but rejected."""
    tick(at=utc(2026, 11, 2, 14))
    org.post(
        interview_done(utc(2026, 11, 2, 14), app="a-1", candidate="c-1", interview="i-1"),
        interview_done(utc(2026, 11, 2, 14), app="a-2", candidate="c-2", interview="i-2", name="Bob"),
        event("application.created", utc(2026, 11, 2, 14), app="a-3", candidate="c-3", name="Cy"),
        interview_done(utc(2026, 11, 2, 14), app="a-4", candidate="c-4", interview="i-4", name="Di"),
        rejected(utc(2026, 11, 2, 14, 1), app="a-4", candidate="c-4", name="Di", ats_notification="sent"),
    )
    tick()


def test_job_closed_notice_after_hold_to_interviewed_active_candidates_only(org, tick, rt):
    _round_on_job_1(org, tick)
    closed = utc(2026, 11, 3, 15)  # Tue 10:00 NY
    tick(at=closed)
    org.post(event("job.closed", closed))
    walk(tick, closed + timedelta(minutes=59), step=timedelta(minutes=1))
    assert sent(rt.db, "job_closed") == []
    walk(tick, utc(2026, 11, 3, 16))
    notices = sent(rt.db, "job_closed")
    assert sorted(n.recipient_email for n in notices) == ["c-1@example.com", "c-2@example.com"]
    assert all(n.sent_at == closed + timedelta(hours=1) and in_window(n.sent_at, NY) for n in notices)
    for ob in obligations(rt.db):
        if ob.state is ObligationState.DISCHARGED and ob.discharged_by != "ats_rejection":
            assert ob.discharged_by == "job_closed"
    assert {ob.state for ob in obligations(rt.db)} == {ObligationState.DISCHARGED}
    walk(tick, utc(2026, 11, 13, 23), step=timedelta(hours=1))
    assert len(sent(rt.db, "job_closed")) == 2
    assert sent(rt.db, "status_update") == []
    assert not any(n.candidate_id in (candidate(rt.db, "c-3").id, candidate(rt.db, "c-4").id)
                   for n in notifications(rt.db, "job_closed"))


def test_job_closed_late_in_the_day_waits_for_the_next_send_window(org, tick, rt):
    _round_on_job_1(org, tick)
    closed = utc(2026, 11, 3, 21, 30)  # Tue 16:30 NY: the hold ends after 17:00
    tick(at=closed)
    org.post(event("job.closed", closed))
    walk(tick, utc(2026, 11, 4, 13, 30))
    assert sent(rt.db, "job_closed") == []
    walk(tick, utc(2026, 11, 4, 16))
    notices = sent(rt.db, "job_closed")
    assert len(notices) == 2
    assert {n.sent_at for n in notices} == {utc(2026, 11, 4, 14)}  # Wed 09:00 NY


def test_job_reopened_within_hold_cancels_closing_notices(org, tick, rt):
    _round_on_job_1(org, tick)
    closed = utc(2026, 11, 3, 15)
    tick(at=closed)
    org.post(event("job.closed", closed))
    tick(at=closed + timedelta(minutes=30))
    org.post(event("job.reopened", closed + timedelta(minutes=30)))
    walk(tick, utc(2026, 11, 6, 23), step=timedelta(hours=1))
    assert sent(rt.db, "job_closed") == []
    assert all(n.state is NotificationState.CANCELLED for n in notifications(rt.db, "job_closed"))
    open_obs = [ob for ob in obligations(rt.db) if ob.state is ObligationState.OPEN]
    assert len(open_obs) == 2  # c-1 and c-2 are still owed an update


def test_two_jobs_closing_together_send_one_notice_per_person(org, tick, rt):
    tick(at=utc(2026, 11, 2, 14))
    org.post(
        interview_done(utc(2026, 11, 2, 14), app="a-1", job="j-1", interview="i-1"),
        interview_done(utc(2026, 11, 2, 14), app="a-2", job="j-2", interview="i-2"),
    )
    closed = utc(2026, 11, 3, 15)
    tick(at=closed)
    org.post(event("job.closed", closed, job="j-1"))
    tick(at=closed + timedelta(minutes=10))
    org.post(event("job.closed", closed + timedelta(minutes=10), job="j-2"))
    walk(tick, utc(2026, 11, 6, 23), step=timedelta(hours=1))
    [notice] = sent(rt.db, "job_closed")
    assert notice.recipient_email == "c-1@example.com"
    assert sorted(notice.context["application_ids"]) == sorted(
        [application(rt.db, "a-1").id, application(rt.db, "a-2").id])
    obs = obligations(rt.db)
    assert len(obs) == 2 and all(ob.discharged_by == "job_closed" for ob in obs)


# -- 8-9: erasure and merge -----------------------------------------------------------------------

def test_erased_candidate_loses_personal_data_and_never_hears_again(org, tick, rt):
    tick(at=utc(2026, 11, 2, 14))
    org.post(interview_done(utc(2026, 11, 2, 14)))
    tick()
    assert kinds(rt.db) == ["next_steps"]
    tick(at=utc(2026, 11, 2, 15))
    org.post(rejected(utc(2026, 11, 2, 15)))  # pending until Tue 09:00 NY
    tick(at=utc(2026, 11, 2, 16))
    org.post(event("candidate.erased", utc(2026, 11, 2, 16), reason="deleted"))
    [rejection] = notifications(rt.db, "rejection")
    assert rejection.state is NotificationState.CANCELLED
    cand = candidate(rt.db, "c-1")
    assert cand.erased_at is not None
    assert (cand.name, cand.email, cand.locale, cand.timezone) == (None, None, None, None)
    for n in notifications(rt.db):
        assert n.recipient_email is None and n.recipient_name is None and n.body_text is None
    [ob] = obligations(rt.db)
    assert ob.state is ObligationState.CLOSED and ob.closed_reason == "erased"
    # Later events naming the candidate are ignored and stored without personal data.
    later = org.post(
        event("application.created", utc(2026, 11, 3, 15), app="a-2", job="j-2"),
        interview_done(utc(2026, 11, 3, 16), app="a-2", job="j-2", interview="i-2"),
        event("application.reopened", utc(2026, 11, 3, 17)),
        interview_done(utc(2026, 11, 3, 18), interview="i-3"),
    )
    assert later["ignored"] == 4
    org.post(event("job.closed", utc(2026, 11, 3, 19)))  # her application on j-1 is still "active"
    cand = candidate(rt.db, "c-1")
    assert cand.name is None and cand.email is None
    with rt.db.session() as session:
        assert session.scalar(select(Application).where(Application.external_id == "a-2")) is None
        raws = list(session.scalars(select(InboundEvent).where(InboundEvent.candidate_external_id == "c-1")))
        assert raws and all(e.raw is None and e.canonical is None for e in raws)
    sent_before = {n.id for n in sent(rt.db)}
    walk(tick, utc(2026, 11, 13, 23), step=timedelta(hours=1))
    assert {n.id for n in sent(rt.db)} == sent_before
    assert len(obligations(rt.db)) == 1
    for n in notifications(rt.db):
        assert n.recipient_email is None and n.recipient_name is None


def test_merged_candidate_applications_move_to_the_survivor(org, tick, rt):
    tick(at=utc(2026, 11, 2, 14))
    org.post(
        interview_done(utc(2026, 11, 2, 14), app="a-1", candidate="c-1", job="j-1"),
        event("application.created", utc(2026, 11, 2, 14), app="a-2", candidate="c-2", job="j-2", name="Ada L."),
    )
    tick(at=utc(2026, 11, 2, 15))
    org.post(event("candidate.erased", utc(2026, 11, 2, 15), candidate="c-1", reason="merged", merged_into="c-2"))
    survivor = candidate(rt.db, "c-2")
    assert application(rt.db, "a-1").candidate_id == survivor.id
    assert application(rt.db, "a-2").candidate_id == survivor.id
    loser = candidate(rt.db, "c-1")
    assert loser.merged_into_id == survivor.id and loser.email is None
    [ob] = obligations(rt.db)
    assert ob.state is ObligationState.OPEN  # still owed: the person did not go away
    # The survivor is the one who hears about a-1 from now on.
    org.post(rejected(utc(2026, 11, 2, 16), app="a-1", candidate="c-2", name="Ada L."))
    walk(tick, utc(2026, 11, 4, 22))
    [rejection] = sent(rt.db, "rejection")
    assert rejection.recipient_email == "c-2@example.com" and rejection.candidate_id == survivor.id


# -- 10-12: contact, promised decision, scheduled-only interview ------------------------------------

def test_contact_after_interview_discharges_cycle_and_opens_next(org, tick, rt):
    ended = utc(2026, 11, 2, 20)  # Mon 15:00 NY: due Mon 9 Nov 17:00 EST
    tick(at=ended)
    org.post(interview_done(ended))
    [first] = obligations(rt.db)
    assert first.due_at == utc(2026, 11, 9, 22)
    contacted = utc(2026, 11, 4, 15)  # Wed 10:00 NY
    tick(at=contacted)
    org.post(event("candidate.contacted", contacted, channel="phone"))
    first, second = obligations(rt.db)
    assert first.state is ObligationState.DISCHARGED and first.discharged_by == "contact"
    assert first.discharged_at == contacted
    assert second.cycle == 2 and second.state is ObligationState.OPEN and second.opened_by == "contact"
    # 5 working days after Wed 4 Nov: Thu 5, Fri 6, Mon 9, Tue 10, (Veterans Day) Thu 12.
    assert second.due_at == utc(2026, 11, 12, 22)
    walk(tick, utc(2026, 11, 9, 23), step=timedelta(hours=1))
    assert kinds(rt.db, obligation_id=first.id) == ["next_steps"]  # no reminders, no autopilot
    assert sent(rt.db, "status_update") == []


def test_promised_decision_due_two_working_days_after_date_skipping_thanksgiving(org, tick, rt):
    ended = utc(2026, 11, 23, 20)  # Mon 15:00 NY
    tick(at=ended)
    org.post(interview_done(ended))
    [ob] = obligations(rt.db)
    assert ob.due_at == utc(2026, 12, 1, 22)  # default: 5 working days, Thanksgiving skipped
    tick(at=utc(2026, 11, 23, 21))
    org.post(event("decision.promised", utc(2026, 11, 23, 21), decision_expected_by="2026-11-25"))
    [ob] = obligations(rt.db)
    # Wed 25 + 2 working days: (Thu 26 Thanksgiving) Fri 27, Mon 30 -> 17:00 EST.
    assert ob.due_at == utc(2026, 11, 30, 22)
    assert ob.next_rung is Rung.REMINDER_RECRUITER and ob.next_action_at == utc(2026, 11, 25, 14)
    walk(tick, utc(2026, 12, 1, 0), step=timedelta(hours=1))
    [update] = sent(rt.db, "status_update")
    assert update.autopilot and update.sent_at == utc(2026, 11, 30, 14)
    assert kinds(rt.db, obligation_id=ob.id) == [
        "next_steps", "reminder_recruiter", "reminder_hiring_manager", "status_update"]


def test_interview_never_completed_opens_obligation_when_its_end_passes(org, tick, rt):
    ends = utc(2026, 11, 3, 20)  # Tue 15:00 NY
    org.post(event("interview.scheduled", utc(2026, 11, 2, 14),
                   interview={"id": "i-1", "ends_at": ends.isoformat(), "stage": "Onsite"}))
    walk(tick, ends - timedelta(minutes=30))
    assert obligations(rt.db) == []
    tick(at=ends)
    [ob] = obligations(rt.db)
    assert ob.anchor_at == ends and ob.opened_by == "interview"
    assert ob.due_at == utc(2026, 11, 10, 22)  # Wed 4, Thu 5, Fri 6, Mon 9, Tue 10
    walk(tick, utc(2026, 11, 11, 0), step=timedelta(hours=1))
    assert kinds(rt.db) == ["next_steps", "reminder_recruiter", "reminder_hiring_manager", "status_update"]
    by_kind = {n.kind.value: n for n in sent(rt.db)}
    assert by_kind["next_steps"].sent_at == ends
    assert by_kind["reminder_recruiter"].sent_at == utc(2026, 11, 6, 14)
    assert by_kind["reminder_hiring_manager"].sent_at == utc(2026, 11, 9, 14)
    assert by_kind["status_update"].sent_at == utc(2026, 11, 10, 14) and by_kind["status_update"].autopilot


def test_interview_rescheduled_webhooks_out_of_order_open_at_the_newest_end_time(org, tick, rt):
    first_end, moved_end = utc(2026, 11, 3, 20), utc(2026, 11, 5, 20)  # Tue, then moved to Thu 15:00 NY
    scheduled = event("interview.scheduled", utc(2026, 11, 2, 14),
                      interview={"id": "i-1", "ends_at": first_end.isoformat()})
    moved = event("interview.scheduled", utc(2026, 11, 2, 15),
                  interview={"id": "i-1", "ends_at": moved_end.isoformat()})
    tick(at=utc(2026, 11, 2, 16))
    org.post(moved)
    org.post(scheduled)  # the older webhook arrives last
    walk(tick, moved_end - timedelta(minutes=30), step=timedelta(hours=1))
    assert obligations(rt.db) == []  # the interview has not happened yet
    tick(at=moved_end)
    [ob] = obligations(rt.db)
    assert ob.anchor_at == moved_end


def test_cancelled_next_round_leaves_the_candidate_owed_an_update(org, tick, rt):
    ended = utc(2026, 11, 2, 20)
    tick(at=ended)
    org.post(interview_done(ended))
    tick(at=utc(2026, 11, 3, 15))
    second = {"id": "i-2", "ends_at": utc(2026, 11, 10, 16).isoformat()}
    org.post(event("interview.scheduled", utc(2026, 11, 3, 15), interview=second))
    tick(at=utc(2026, 11, 4, 15))
    org.post(event("interview.cancelled", utc(2026, 11, 4, 15), interview=second))
    # Interviewed, still active, and the next round will not happen: someone must tell them.
    assert [ob.state for ob in obligations(rt.db)][-1] is ObligationState.OPEN
    walk(tick, utc(2026, 11, 13, 23), step=timedelta(hours=1))
    assert len(sent(rt.db, "status_update")) == 1


# -- 13: Friday before a bank holiday ---------------------------------------------------------------

def test_friday_before_bank_holiday_in_london_skips_the_holiday(rt, client, clock, tick):
    clock.set(utc(2026, 8, 28, 13))
    london = Org(rt, client, timezone="Europe/London", country="GB", subdivision="ENG")
    ended = utc(2026, 8, 28, 14)  # Fri 15:00 BST; Mon 31 Aug is the Summer bank holiday
    tick(at=ended)
    london.post(interview_done(ended))
    [ob] = obligations(rt.db)
    # 5 working days after Fri 28: Tue 1, Wed 2, Thu 3, Fri 4, Mon 7 Sep -> 17:00 BST.
    assert ob.due_at == utc(2026, 9, 7, 16)
    # Recruiter reminder 2 working days before Mon 7: Thu 3 Sep, 09:00 BST.
    assert ob.next_rung is Rung.REMINDER_RECRUITER and ob.next_action_at == utc(2026, 9, 3, 8)
    walk(tick, utc(2026, 9, 7, 17), step=timedelta(hours=1))
    [update] = sent(rt.db, "status_update")
    assert update.sent_at == utc(2026, 9, 7, 8)  # 09:00 BST on the due day


def test_deadline_counted_across_the_dst_change_without_shifting(rt, clock, org, tick):
    ended = utc(2026, 10, 30, 19)  # Fri 15:00 EDT; clocks go back on Sun 1 Nov
    tick(at=ended)
    org.post(interview_done(ended))
    tick()
    [ob] = obligations(rt.db)
    assert ob.due_at == utc(2026, 11, 6, 22)  # Mon 2 ... Fri 6, 17:00 EST
    walk(tick, utc(2026, 11, 6, 23), step=timedelta(hours=1))
    by_kind = {n.kind.value: n.sent_at for n in sent(rt.db)}
    assert by_kind == {"next_steps": ended, "reminder_recruiter": utc(2026, 11, 4, 14),
                       "reminder_hiring_manager": utc(2026, 11, 5, 14), "status_update": utc(2026, 11, 6, 14)}


# -- 14: idempotency ----------------------------------------------------------------------------------

def test_same_event_posted_five_times_has_one_effect(org, tick, rt):
    ended = utc(2026, 11, 2, 14)
    tick(at=ended)
    body = interview_done(ended, id="evt-dup")
    results = [org.post(body) for _ in range(5)]
    assert [r["applied"] for r in results] == [1, 0, 0, 0, 0]
    assert [r["duplicates"] for r in results] == [0, 1, 1, 1, 1]
    assert [r["results"][0]["status"] for r in results[1:]] == ["duplicate"] * 4
    walk(tick, utc(2026, 11, 2, 18))
    assert len(obligations(rt.db)) == 1
    assert len(notifications(rt.db, "next_steps")) == 1 and len(sent(rt.db, "next_steps")) == 1
    with rt.db.session() as session:
        assert len(list(session.scalars(select(InboundEvent).where(InboundEvent.event_id == "evt-dup")))) == 1


def test_batch_with_the_same_id_twice_is_applied_once(org, tick, rt):
    ended = utc(2026, 11, 2, 14)
    tick(at=ended)
    body = interview_done(ended, id="evt-twice")
    result = org.post(body, body)
    assert result["received"] == 2 and result["applied"] == 1 and result["duplicates"] == 1
    tick(by=timedelta(minutes=5))
    assert len(obligations(rt.db)) == 1 and len(sent(rt.db, "next_steps")) == 1


# -- 15-16: cycles ------------------------------------------------------------------------------------

def test_autopilot_update_opens_next_cycle_and_ladder_runs_again(org, tick, rt):
    ended = utc(2026, 11, 6, 20)  # Fri 15:00 NY: due Mon 16 Nov 17:00 EST
    tick(at=ended)
    org.post(interview_done(ended))
    walk(tick, utc(2026, 11, 30, 23), step=timedelta(hours=1))
    obs = obligations(rt.db)
    assert [ob.cycle for ob in obs] == [1, 2, 3]
    first, second, third = obs
    updates = sent(rt.db, "status_update")
    assert [u.sent_at for u in updates] == [utc(2026, 11, 16, 14), utc(2026, 11, 23, 14)]
    assert all(u.autopilot for u in updates)
    assert first.discharged_by == "status_update" and first.discharged_at == updates[0].sent_at
    # Cycle 2 counts 5 working days from the update: Tue 17 ... Mon 23.
    assert second.opened_by == "status_update" and second.anchor_at == updates[0].sent_at
    assert second.due_at == utc(2026, 11, 23, 22)
    assert second.discharged_at == updates[1].sent_at
    # Cycle 3, after the 2nd autopilot update in a row, waits 10 working days, not 5: Tue 24, Wed 25,
    # (Thanksgiving) Fri 27, Mon 30, Tue 1, Wed 2, Thu 3, Fri 4, Mon 7, Tue 8 Dec.
    assert third.due_at == utc(2026, 12, 8, 22) and third.state is ObligationState.OPEN
    assert third.autopilot_run == 2
    assert third.next_rung is Rung.REMINDER_RECRUITER and third.next_action_at == utc(2026, 12, 4, 14)
    assert kinds(rt.db, obligation_id=first.id) == [
        "next_steps", "reminder_recruiter", "reminder_hiring_manager", "status_update"]
    assert kinds(rt.db, obligation_id=second.id) == ["reminder_recruiter", "reminder_hiring_manager", "status_update"]
    assert [n.sent_at for n in sent(rt.db) if n.obligation_id == second.id] == [
        utc(2026, 11, 19, 14), utc(2026, 11, 20, 14), utc(2026, 11, 23, 14)]
    for ob in obs:
        counts = Counter(n.kind.value for n in notifications(rt.db) if n.obligation_id == ob.id
                         and n.state is not NotificationState.CANCELLED)
        assert all(c == 1 for c in counts.values()), (ob.cycle, counts)
    assert all(u.sent_at <= ob.due_at for u, ob in zip(updates, obs))


def test_next_round_interview_discharges_cycle_and_its_end_opens_a_new_one(org, tick, rt):
    ended = utc(2026, 11, 2, 20)
    tick(at=ended)
    org.post(interview_done(ended))
    invited = utc(2026, 11, 4, 15)
    tick(at=invited)
    second_end = utc(2026, 11, 9, 16)  # Mon 11:00 NY
    org.post(event("interview.scheduled", invited,
                   interview={"id": "i-2", "ends_at": second_end.isoformat(), "stage": "Final"}))
    [first] = obligations(rt.db)
    assert first.state is ObligationState.DISCHARGED and first.discharged_by == "next_interview"
    walk(tick, second_end - timedelta(minutes=30), step=timedelta(hours=1))
    assert len(obligations(rt.db)) == 1  # nothing owed while the next round is pending
    assert kinds(rt.db) == ["next_steps"]
    walk(tick, second_end)
    first, second = obligations(rt.db)
    assert second.cycle == 2 and second.state is ObligationState.OPEN and second.anchor_at == second_end
    assert second.due_at == utc(2026, 11, 17, 22)  # Tue 10, (Veterans Day), Thu 12, Fri 13, Mon 16, Tue 17
    next_steps = sent(rt.db, "next_steps")
    assert [n.obligation_id for n in next_steps] == [first.id, second.id]
    assert next_steps[1].sent_at == second_end


# -- 17: candidate time zone ------------------------------------------------------------------------

def test_candidate_in_london_hears_inside_their_own_window(org, tick, rt):
    ended = utc(2026, 11, 2, 20)  # Mon 15:00 NY = 20:00 London, after the London window
    tick(at=ended)
    org.post(interview_done(ended, timezone="Europe/London"))
    [ob] = obligations(rt.db)
    # 5 working days after Mon 2 (London date): Tue 3 ... Mon 9 -> 17:00 GMT.
    assert ob.due_at == utc(2026, 11, 9, 17)
    walk(tick, utc(2026, 11, 9, 18), step=timedelta(hours=1))
    assert kinds(rt.db) == ["next_steps", "reminder_recruiter", "reminder_hiring_manager", "status_update"]
    by_kind = {n.kind.value: n for n in sent(rt.db)}
    assert by_kind["next_steps"].sent_at == utc(2026, 11, 3, 9)  # Tue 09:00 London
    assert by_kind["status_update"].sent_at == utc(2026, 11, 9, 9)  # Mon 09:00 London, due day
    for kind in ("next_steps", "status_update"):
        assert in_window(by_kind[kind].sent_at, LONDON)
    # Reminders follow the organisation's calendar: 09:00 New York.
    assert by_kind["reminder_recruiter"].sent_at == utc(2026, 11, 5, 14)
    assert by_kind["reminder_hiring_manager"].sent_at == utc(2026, 11, 6, 14)
    assert in_window(by_kind["reminder_recruiter"].sent_at, NY)
