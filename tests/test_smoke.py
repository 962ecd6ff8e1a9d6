"""End to end: an interview, the ladder, autopilot, through the real API, sweep, queue and worker."""

from datetime import UTC, datetime, timedelta

from helpers import interview_done, obligations, sent


def test_forgotten_candidate_gets_autopilot_update_on_due_day(org, tick, rt, outbox):
    ended = datetime(2026, 11, 6, 20, 0, tzinfo=UTC)  # Fri 15:00 New York
    tick(at=ended)
    org.post(interview_done(ended))
    [ob] = obligations(rt.db)
    assert ob.due_at == datetime(2026, 11, 16, 22, 0, tzinfo=UTC)  # Veterans Day skipped
    for day in range(1, 12):
        tick(at=ended + timedelta(days=day))
        tick(by=timedelta(hours=1))
    kinds = [n.kind.value for n in sent(rt.db)]
    assert kinds == ["next_steps", "reminder_recruiter", "reminder_hiring_manager", "status_update"]
    [update] = sent(rt.db, "status_update")
    assert update.autopilot and update.sent_at <= ob.due_at
    assert any(m["X-Ghostless-Autopilot"] == "yes" for m in outbox())
