"""Proof of notice: `GET /api/v1/applications/<id>/proof` as JSON and as a printable page.

A real round through the API, the sweep and the RQ worker (conftest's `tick`): interview Mon 2 Nov
09:00 New York, next steps at once, reminders Thu 5 and Fri 6, autopilot status update Mon 9,
rejection Tue 10. Delivery events come from SendGrid's Event Webhook (built elsewhere); here they are
inserted as rows, the way that webhook stores them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import START, Org
from helpers import event, interview_done, sent
from sqlalchemy import select, update

from plugin.models import DeliveryStatus, MailEvent, Notification, NotificationKind

PROOF = "/api/v1/applications/a-1/proof"
REJECTED_AT = datetime(2026, 11, 10, 15, tzinfo=UTC)  # Tue 10:00 New York
HOSTILE = "<script>alert(1)</script>"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def play_round(org, tick, name: str = "Ada Lovelace") -> None:  # type: ignore[no-untyped-def]
    """Next steps, two reminders, an autopilot status update, then a rejection; all sent."""
    org.post(interview_done(START, name=name))
    tick()
    for at in (utc(2026, 11, 5, 14), utc(2026, 11, 6, 14), utc(2026, 11, 9, 14)):
        tick(at=at)
    tick(at=REJECTED_AT)
    org.post(event("application.rejected", REJECTED_AT, name=name, reason="Another candidate was a closer fit",
                   ats_notification="none"))
    tick()


def add_delivery_events(rt, kind: str, *events: tuple[str, timedelta, str | None]) -> Notification:  # type: ignore[no-untyped-def]
    """Store SendGrid events for the sent message of `kind`, as the event webhook does."""
    [message] = sent(rt.db, kind)
    assert message.sent_at is not None
    with rt.db.session() as session:
        for i, (name, after, detail) in enumerate(events):
            at = message.sent_at + after
            session.add(MailEvent(org_id=message.org_id, notification_id=message.id, dedupe_key=f"{message.id}:{i}",
                                  sg_event_id=f"sg-{message.id}-{i}", sg_message_id="sg-msg-1", event=name,
                                  occurred_at=at, received_at=at + timedelta(seconds=30), detail=detail,
                                  raw={"event": name, "email": message.recipient_email}))
            values = {"delivery_status": DeliveryStatus(name), "delivery_status_at": at}
            if name == "delivered":
                values["delivered_at"] = at
            session.execute(update(Notification).where(Notification.id == message.id).values(**values))
    [message] = sent(rt.db, kind)
    return message


def by_kind(proof: dict) -> dict[str, dict]:
    return {m["kind"]: m for m in proof["messages"]}


def instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


# --- JSON ------------------------------------------------------------------------------------------


def test_proof_lists_the_round_with_content_times_and_delivery_events(org, rt, tick, clock):
    play_round(org, tick)
    rejection = add_delivery_events(rt, "rejection", ("processed", timedelta(seconds=2), None),
                                    ("deferred", timedelta(minutes=1), "421 try again later"),
                                    ("delivered", timedelta(minutes=7), "250 2.0.0 OK"))
    proof = org.get(PROOF)

    assert instant(proof["generated_at"]) == clock.now()
    assert proof["organization"] == {"id": org.id, "name": "Acme", "timezone": "America/New_York"}
    app = proof["application"]
    assert app["id"] == "a-1" and app["status"] == "rejected"
    assert instant(app["status_changed_at"]) == REJECTED_AT
    assert instant(app["first_interview_ended_at"]) == START
    assert app["job"] == {"id": "j-1", "title": "Backend Engineer"}
    assert app["candidate"] == {"id": "c-1", "name": "Ada Lovelace", "email": "c-1@example.com",
                                "erased_at": None, "erasure_reason": None}

    first, second = proof["obligations"]
    assert (first["cycle"], first["state"], first["discharged_by"], first["met"]) == (1, "discharged", "status_update", True)
    assert instant(first["opened_at"]) == START and instant(first["due_at"]) == utc(2026, 11, 9, 22)
    assert instant(first["discharged_at"]) == utc(2026, 11, 9, 14)
    assert (second["cycle"], second["discharged_by"], second["met"]) == (2, "rejection", True)
    assert first["breach_reason"] is None and second["breach_reason"] is None

    assert [m["kind"] for m in proof["messages"]] == [
        "next_steps", "reminder_recruiter", "reminder_hiring_manager", "status_update", "rejection"]
    messages = by_kind(proof)
    assert messages["status_update"]["autopilot"] is True and messages["next_steps"]["autopilot"] is False
    assert messages["reminder_recruiter"]["audience"] == "internal"
    assert messages["reminder_recruiter"]["recipient_email"] == "alan@acme.example"
    assert instant(messages["next_steps"]["sent_at"]) == START

    shown = messages["rejection"]
    assert shown["audience"] == "candidate" and shown["state"] == "sent"
    assert shown["recipient_email"] == "c-1@example.com" and shown["recipient_name"] == "Ada Lovelace"
    assert shown["locale"] == "en" and shown["locale_fallback_from"] is None
    assert instant(shown["scheduled_for"]) == REJECTED_AT and instant(shown["sent_at"]) == REJECTED_AT
    assert shown["provider"] == "outbox" and shown["provider_message_id"] == rejection.provider_message_id
    assert shown["delivery_status"] == "delivered"
    assert instant(shown["delivered_at"]) == REJECTED_AT + timedelta(minutes=7)
    # Exactly what was stored (and sent), not a re-rendering.
    assert (shown["subject"], shown["body_text"], shown["body_html"]) == (
        rejection.subject, rejection.body_text, rejection.body_html)
    assert shown["subject"] and "Ada" in shown["body_text"] and shown["body_html"].lstrip().startswith("<")
    assert [(e["event"], instant(e["occurred_at"]), instant(e["received_at"]), e["detail"]) for e in shown["events"]] == [
        ("processed", REJECTED_AT + timedelta(seconds=2), REJECTED_AT + timedelta(seconds=32), None),
        ("deferred", REJECTED_AT + timedelta(minutes=1), REJECTED_AT + timedelta(minutes=1, seconds=30),
         "421 try again later"),
        ("delivered", REJECTED_AT + timedelta(minutes=7), REJECTED_AT + timedelta(minutes=7, seconds=30),
         "250 2.0.0 OK"),
    ]
    assert messages["next_steps"]["events"] == [] and messages["next_steps"]["delivered_at"] is None


def test_proof_says_what_each_timestamp_means(org, rt, tick):
    play_round(org, tick)
    meanings = org.get(PROOF)["timestamps"]
    assert "accepted the message" in meanings["sent_at"] and "not proof" in meanings["sent_at"]
    assert "recipient's mail server accepted" in meanings["delivered_at"]
    assert "UTC" in meanings["time_zone"]
    assert {"scheduled_for", "events.occurred_at", "obligations.due_at", "generated_at"} <= meanings.keys()


def test_proof_lists_a_cancelled_message_without_content(org, rt, tick):
    org.post(interview_done(START))
    tick()
    tick(at=REJECTED_AT)
    org.post(event("application.rejected", REJECTED_AT, ats_notification="none"))
    org.post(event("application.reopened", REJECTED_AT + timedelta(minutes=1)))  # before it went out
    tick()
    rejection = by_kind(org.get(PROOF))["rejection"]
    assert rejection["state"] == "cancelled" and rejection["cancelled_reason"] == "application reopened"
    assert rejection["sent_at"] is None and rejection["body_text"] is None


def test_closing_notice_covering_two_applications_is_in_both_proofs(org, rt, tick):
    org.post(interview_done(START), interview_done(START, app="a-2", job="j-2", interview="i-2"))
    tick()
    closed = START + timedelta(days=1)
    tick(at=closed)
    org.post(event("job.closed", closed, job="j-1"), event("job.closed", closed, job="j-2"))
    tick(by=timedelta(hours=2))
    [notice] = sent(rt.db, "job_closed")
    for app in ("a-1", "a-2"):
        proof = org.get(f"/api/v1/applications/{app}/proof")
        assert [m["id"] for m in proof["messages"] if m["kind"] == "job_closed"] == [notice.id]


# --- errors and isolation --------------------------------------------------------------------------


def test_unknown_application_is_404_like_the_application_itself(org):
    proof = org.get("/api/v1/applications/nope/proof", expect=404)
    detail = org.get("/api/v1/applications/nope", expect=404)
    assert proof["message"] == detail["message"] == "No application with id 'nope' in this organisation."


def test_another_orgs_application_is_404(org, rt, client, tick):
    play_round(org, tick)
    other = Org(rt, client, name="Other")
    body = other.get(PROOF, expect=404)
    assert "a-1" in body["message"]
    response = client.get(PROOF + "?format=html", headers=other.headers)
    assert response.status_code == 404 and "Ada" not in response.get_data(as_text=True)


def test_proof_needs_an_api_key(client, org):
    assert client.get(PROOF).status_code == 401


@pytest.mark.parametrize("value", ["pdf", "", "HTML", "json,html"])
def test_unknown_format_is_422_naming_the_allowed_ones(org, rt, tick, value):
    play_round(org, tick)
    response = org.client.get(f"{PROOF}?format={value}", headers=org.headers)
    assert response.status_code == 422
    message = response.get_json()["message"]
    assert "json, html" in message and repr(value) in message


# --- the printable page ----------------------------------------------------------------------------


def page(org, query: str = "?format=html", **headers: str) -> str:  # type: ignore[no-untyped-def]
    response = org.client.get(PROOF + query, headers={**org.headers, **headers})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none' covers it
    return response.get_data(as_text=True)


def test_printable_page_shows_times_in_utc_and_the_orgs_zone(org, rt, tick, clock):
    play_round(org, tick)
    add_delivery_events(rt, "rejection", ("delivered", timedelta(minutes=7), "250 2.0.0 OK"))
    html = page(org)
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "@page" in html and "A4" in html and "@media print" in html
    assert "2026-11-10 15:00:00 UTC" in html and "2026-11-10 10:00:00 EST" in html  # sent
    assert "2026-11-10 15:07:00 UTC" in html and "2026-11-10 10:07:00 EST" in html  # delivered
    assert "America/New_York" in html
    for label in ("Next steps", "Status update", "Rejection", "Reminder to the recruiter", "autopilot"):
        assert label in html
    [rejection] = sent(rt.db, "rejection")
    assert rejection.body_text and rejection.body_text.splitlines()[0] in html
    assert html.count("<pre>") == 5  # one text part per sent message
    assert "250 2.0.0 OK" in html
    footer = html[html.index('<footer class="page">'):]
    assert "Acme" in footer and clock.now().strftime("%Y-%m-%d %H:%M:%S UTC") in footer


def test_accept_header_that_prefers_html_gets_the_page(org, rt, tick):
    play_round(org, tick)
    html = page(org, "", Accept="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
    assert "Proof of notice" in html
    as_json = org.client.get(PROOF, headers={**org.headers, "Accept": "application/json, text/html;q=0.5"})
    assert as_json.mimetype == "application/json"
    anything = org.client.get(PROOF, headers={**org.headers, "Accept": "*/*"})
    assert anything.mimetype == "application/json" and "Accept" in anything.headers["Vary"]


def test_printable_page_escapes_a_hostile_name(org, rt, tick):
    play_round(org, tick, name=HOSTILE)
    with rt.db.session() as session:  # a hostile delivery detail too: it comes from a remote mail server
        session.execute(update(Notification).where(Notification.kind == NotificationKind.REJECTION)
                        .values(delivery_status=DeliveryStatus.BOUNCE,
                                delivery_detail='<img src=x onerror="alert(2)">'))
    html = page(org)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=" in html
    assert HOSTILE in org.get(PROOF)["application"]["candidate"]["name"]  # the JSON keeps the value as is


def test_json_serialises_everything_it_lists(org, rt, tick):
    play_round(org, tick)
    proof = org.get(PROOF)
    assert json.loads(json.dumps(proof)) == proof
    with rt.db.session() as session:
        ids = set(session.scalars(select(Notification.id).where(Notification.application_id.is_not(None))))
    assert {m["id"] for m in proof["messages"]} == ids
