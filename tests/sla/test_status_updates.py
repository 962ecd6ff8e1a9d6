"""A person sends a candidate a status update through Ghostless: the API and the dashboard's button.

The promise in the message ("you will hear from us by Friday 20 November") becomes the next
deadline, so it is enforced like any other; bad input is refused with a reason and sends nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import Org
from dashboard_support import add_user, sign_in, submit
from helpers import event, interview_done, notifications, obligations
from sqlalchemy import select

from plugin import clock
from plugin.models import Application, NotificationKind, NotificationState
from plugin.reports import outcomes

ENDED = datetime(2026, 11, 6, 20, 0, tzinfo=UTC)  # Fri 6 Nov 15:00 New York
MONDAY_9AM = datetime(2026, 11, 9, 14, 0, tzinfo=UTC)  # Mon 9 Nov 09:00 New York: inside the send window
SUNDAY = datetime(2026, 11, 8, 15, 0, tzinfo=UTC)  # outside any send window
FRIDAY_20_END = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)  # Fri 20 Nov 17:00 New York
UPDATES = "/api/v1/applications/a-1/status-updates"


@pytest.fixture
def interviewed(org, clock):  # type: ignore[no-untyped-def]
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    return org


def post(org: Org, body: dict, expect: int, path: str = UPDATES) -> dict:  # type: ignore[type-arg]
    response = org.client.post(path, json=body, headers=org.headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def status_updates(rt):  # type: ignore[no-untyped-def]
    return [n for n in notifications(rt.db) if n.kind is NotificationKind.STATUS_UPDATE]


def test_the_update_goes_out_with_the_note_and_the_promise_becomes_the_next_deadline(
        interviewed, rt, clock, tick, outbox):
    clock.set(MONDAY_9AM)
    answer = post(interviewed, {"next_date": "2026-11-20", "note": "We loved meeting you & the team is deciding."},
                  202)
    assert answer["send_at"].startswith("2026-11-09T14:00") and answer["next_date"] == "2026-11-20"
    assert answer["notification"]["kind"] == "status_update" and answer["notification"]["autopilot"] is False
    tick()
    [mail] = [m for m in outbox() if "update on your application" in m["Subject"]]
    text = mail.get_body(("plain",)).get_content()
    assert "We loved meeting you & the team is deciding." in text
    assert "by Friday 20 November at the latest" in text
    first, second = obligations(rt.db)
    assert (first.state.value, first.discharged_by, outcomes.met(first, clock.now())) == \
        ("discharged", "status_update", True)
    assert (second.opened_by, second.promised_on.isoformat(), second.due_at) == \
        ("status_update", "2026-11-20", FRIDAY_20_END)

    # The promise is the deadline: a later cadence change does not move it.
    interviewed.put("/api/v1/policies/organization", {"cadence_working_days": 2})
    assert obligations(rt.db)[1].due_at == FRIDAY_20_END


def test_without_a_date_the_cadence_decides_and_outside_the_window_it_waits(interviewed, rt, clock, tick):
    clock.set(SUNDAY)
    answer = post(interviewed, {}, 202)
    assert answer["send_at"].startswith("2026-11-09T14:00")  # Monday 09:00 in New York
    tick()
    assert [n.state for n in status_updates(rt)] == [NotificationState.SCHEDULED]
    tick(at=MONDAY_9AM)
    assert [n.state for n in status_updates(rt)] == [NotificationState.SENT]
    assert obligations(rt.db)[1].promised_on is None  # due after the cadence, as autopilot's would be


@pytest.mark.parametrize("next_date, message", [
    ("2026-11-09", "Choose a day after today (in the candidate's time zone)."),
    ("2026-11-14", "Saturday 14 November 2026 is not a working day for the candidate: choose one of their working days."),
    ("2026-11-26", "Thursday 26 November 2026 is Thanksgiving"),
    ("2027-06-01", "Choose a day within 60 working days."),
])
def test_a_date_that_cannot_be_promised_is_refused_next_to_the_field(interviewed, rt, clock, next_date, message):
    clock.set(MONDAY_9AM)
    answer = post(interviewed, {"next_date": next_date}, 422)
    assert message in answer["errors"]["json"]["next_date"][0]
    assert status_updates(rt) == []


def test_a_promised_day_must_be_a_working_day_where_the_candidate_lives(org, rt, clock, tick, outbox):
    """Mon 28 Dec 2026 is a UK bank holiday (Boxing Day, substituted) and a US working day: a London
    candidate cannot be promised it, since autopilot could only write to them on the 29th, after
    the deadline. The 29th is fine. Checked against the candidate's calendar, not the organisation's."""
    ended = datetime(2026, 12, 14, 15, 0, tzinfo=UTC)  # Mon 14 Dec 15:00 London
    clock.set(ended)
    body = interview_done(ended, timezone="Europe/London")
    body["candidate"]["country"] = "GB"
    org.post(body)
    clock.set(datetime(2026, 12, 15, 10, 0, tzinfo=UTC))  # Tue 15 Dec 10:00 London
    answer = post(org, {"next_date": "2026-12-28"}, 422)
    assert answer["errors"]["json"]["next_date"] == [
        "Monday 28 December 2026 is Boxing Day (observed) for the candidate: choose one of their working days."]
    assert status_updates(rt) == []
    post(org, {"next_date": "2026-12-29"}, 202)
    tick()
    [update] = [n for n in status_updates(rt) if n.state is NotificationState.SENT]
    assert "by Tuesday 29 December at the latest" in update.body_text
    # Due at the end of the candidate's window on the 29th: 17:00 London.
    assert obligations(rt.db)[1].due_at == datetime(2026, 12, 29, 17, 0, tzinfo=UTC)


def test_bad_bodies_are_refused_and_send_nothing(interviewed, rt, clock):
    clock.set(MONDAY_9AM)
    assert "next_date" in post(interviewed, {"next_date": "next friday"}, 422)["errors"]["json"]
    assert "note" in post(interviewed, {"note": "x" * 2001}, 422)["errors"]["json"]
    assert "nextdate" in post(interviewed, {"nextdate": "2026-11-20"}, 422)["errors"]["json"]
    assert status_updates(rt) == []


def test_nothing_owed_already_on_its_way_unknown_or_another_organisation(interviewed, rt, client, clock):
    clock.set(MONDAY_9AM)
    post(interviewed, {"note": "first"}, 202)
    assert "already on its way" in post(interviewed, {"note": "second"}, 409)["message"]
    post(interviewed, {}, 404, path="/api/v1/applications/nope/status-updates")
    other = Org(rt, client, name="Other")
    post(other, {}, 404)  # a-1 belongs to Acme
    interviewed.post(event("application.rejected", MONDAY_9AM, id="rej"))
    assert "rejected" in post(interviewed, {}, 409)["message"]
    assert len(status_updates(rt)) == 1


# -- the dashboard's button ---------------------------------------------------------------------------


def application_id(rt) -> int:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        return session.scalar(select(Application.id).where(Application.external_id == "a-1"))


def test_a_manager_sends_an_update_from_the_timeline(interviewed, rt, client, clock):
    clock.set(MONDAY_9AM)
    add_user(rt, interviewed.id, "grace@acme.example", "manager", departments=["Engineering"])
    sign_in(client, "grace@acme.example")
    timeline = f"/dashboard/applications/{application_id(rt)}"
    refused = submit(client, timeline, f"{timeline}/status-updates", {"next_date": "2026-11-14", "note": "Hi"},
                     expect=400)
    page = refused.get_data(as_text=True)
    assert 'id="update-next-date-error"' in page and "is not a working day" in page
    assert ">Hi</textarea>" in page  # what was typed is kept
    assert status_updates(rt) == []
    done = submit(client, timeline, f"{timeline}/status-updates", {"next_date": "2026-11-20", "note": "Hi"},
                  expect=302)
    assert done.headers["Location"].endswith(timeline)
    assert "The update is scheduled for" in client.get(timeline).get_data(as_text=True)
    [update] = status_updates(rt)
    assert update.context["sent_by"] == "user:grace@acme.example"
    assert update.context["promised_next_date"] == "2026-11-20"


def test_viewers_have_no_button_and_cannot_post(interviewed, rt, client, clock):
    clock.set(MONDAY_9AM)
    add_user(rt, interviewed.id, "vic@acme.example", "viewer")
    sign_in(client, "vic@acme.example")
    timeline = f"/dashboard/applications/{application_id(rt)}"
    assert "Send the update" not in client.get(timeline).get_data(as_text=True)
    submit(client, timeline, f"{timeline}/status-updates", {"note": "Hi"}, expect=403)
    assert status_updates(rt) == []
