"""Forged proof of delivery (issue 13, item 6): an event's time must be possible, and the proof says
what each of its times rests on.

A `delivered` event's time becomes the proof-of-notice time, so one that claims to have happened
before the message was handed to SendGrid, longer ago than SendGrid retries, or in the future, is
refused: stored as refused, applied to nothing, audited on the message it named, listed in the proof.
Messages go out through the real SendGrid provider against the local stand-in (so the proof speaks of
SendGrid, not the .eml outbox); events are signed with a key the organisation set through the API.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import START
from helpers import interview_done, sent
from sqlalchemy import select
from test_sendgrid_events import Signer, mail_events, post, row, sg, signer  # noqa: F401  (signer: the fixture)

from plugin.mail.sendgrid import SendGridProvider
from plugin.models import AuditEntry, DeliveryStatus, Notification

PROOF = "/api/v1/applications/a-1/proof"
# The documented limits (README, Security), written out: a test that read them from the code would
# move with them.
CLOCK_SKEW = timedelta(minutes=5)
RETRY_WINDOW = timedelta(hours=24)  # SendGrid's Event Webhook retries "for up to 24 hours"


@pytest.fixture
def sendgrid(rt, sendgrid_standin):  # type: ignore[no-untyped-def]
    rt.mail = SendGridProvider(api_key="SG.test", host=sendgrid_standin.url, timeout=1.0)
    return sendgrid_standin


@pytest.fixture
def message(org, rt, tick, sendgrid, signer) -> Notification:  # type: ignore[no-untyped-def]
    """Next steps, handed to SendGrid at START (Mon 09:00 New York); the key was set just before."""
    org.post(interview_done(START))
    tick()
    [n] = sent(rt.db, "next_steps")
    assert n.sent_at == START and n.provider == "sendgrid"
    return n


def proof_of(org) -> dict:  # type: ignore[no-untyped-def]
    [m] = [m for m in org.get(PROOF)["messages"] if m["kind"] == "next_steps"]
    return m


def refusals(rt) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "delivery_event_refused")
                                    .order_by(AuditEntry.id)))  # in the order they were refused


# -- impossible times are refused -------------------------------------------------------------------


def test_delivered_before_the_send_is_refused_and_the_proof_keeps_the_send_time(org, rt, clock, client, signer,
                                                                                 message, caplog):
    clock.advance(timedelta(minutes=10))
    forged = message.sent_at - CLOCK_SKEW - timedelta(seconds=1)
    caplog.set_level("WARNING", logger="plugin.notify.delivery_events")
    answer = post(client, org.id, signer, [sg("delivered", message, forged, response="250 OK")])
    assert answer == {"received": 1, "stored": 1, "duplicates": 0, "unmatched": 0, "refused": 1}
    n = row(rt, message.id)
    assert n.delivered_at is None and n.delivery_status is None and n.sent_at == START
    [stored] = mail_events(rt)
    # Linked to no message (nothing that reads a message's events counts it), without its raw body.
    assert stored.notification_id is None and stored.raw is None and stored.detail is None
    assert "before the message was handed to SendGrid" in stored.refused_reason
    assert "refused" in caplog.text and str(message.id) in caplog.text
    [audited] = refusals(rt)
    assert audited.entity_id == str(message.id) and audited.after["event"] == "delivered"

    proof = proof_of(org)
    assert proof["delivered_at"] is None and proof["delivered_at_basis"] is None
    assert proof["sent_at"] == START.isoformat() and proof["events"] == []
    [refused] = proof["refused_events"]
    assert refused["event"] == "delivered" and refused["occurred_at"] == forged.isoformat()
    assert "before the message was handed to SendGrid" in refused["reason"]
    page = org.client.get(PROOF + "?format=html", headers=org.headers).get_data(as_text=True)
    assert "Refused events (not applied)" in page and "before the message was handed to SendGrid" in page

    # A re-post of the same forged event changes nothing, and is not audited twice.
    assert post(client, org.id, signer, [sg("delivered", message, forged)])["duplicates"] == 1
    assert len(refusals(rt)) == 1


def test_an_event_within_the_clock_skew_of_the_send_is_applied(org, rt, clock, client, signer, message):
    """SendGrid's `processed` precedes our send time (we take it after SendGrid's 202)."""
    clock.advance(timedelta(minutes=10))
    early = message.sent_at - CLOCK_SKEW + timedelta(seconds=1)
    answer = post(client, org.id, signer, [sg("delivered", message, early)])
    assert answer["refused"] == 0
    assert row(rt, message.id).delivered_at == early


def test_events_older_than_sendgrids_retry_window_or_in_the_future_are_refused(org, rt, clock, client, signer,
                                                                               message):
    delivered = message.sent_at + timedelta(minutes=1)
    clock.set(delivered + RETRY_WINDOW + CLOCK_SKEW + timedelta(seconds=1))  # the post arrives too late
    stale = post(client, org.id, signer, [sg("delivered", message, delivered)])
    assert stale["refused"] == 1 and row(rt, message.id).delivered_at is None
    assert "SendGrid retries for no longer than that" in mail_events(rt)[0].refused_reason

    clock.set(delivered + RETRY_WINDOW)  # the last retry SendGrid makes is still applied
    assert post(client, org.id, signer, [sg("delivered", message, delivered, message="m-2")])["refused"] == 0
    assert row(rt, message.id).delivered_at == delivered

    # A bounce that claims to come from the future does not undo the delivery.
    future = clock.now() + CLOCK_SKEW + timedelta(seconds=1)
    assert post(client, org.id, signer, [sg("bounce", message, future, message="m-3")])["refused"] == 1
    n = row(rt, message.id)
    assert n.delivery_status is DeliveryStatus.DELIVERED and n.delivered_at == delivered
    assert "after it arrived" in mail_events(rt)[-1].refused_reason
    assert [a.after["event"] for a in refusals(rt)] == ["delivered", "bounce"]


def test_an_unmatched_event_far_from_now_is_refused_too(org, rt, clock, client, signer):
    clock.advance(timedelta(days=3))
    answer = post(client, org.id, signer, [sg("delivered", None, START, message="other-mail")])
    assert answer == {"received": 1, "stored": 1, "duplicates": 0, "unmatched": 0, "refused": 1}
    assert refusals(rt) == []  # no message of ours to audit it on; the log says why


# -- what the times rest on ---------------------------------------------------------------------------


def test_the_proof_states_what_the_sent_and_delivered_times_rest_on(org, rt, clock, client, signer, message):
    settings = org.get("/api/v1/organization/mail")
    fingerprint, set_by = settings["event_public_key_fingerprint"], settings["event_public_key_set_by"]
    assert set_by.startswith("api-key:") and settings["event_public_key_set_at"] == START.isoformat()
    delivered = message.sent_at + timedelta(seconds=7)
    clock.advance(timedelta(minutes=1))
    post(client, org.id, signer, [sg("processed", message, message.sent_at + timedelta(seconds=1)),
                                  sg("delivered", message, delivered, response="250 OK")])

    proof = proof_of(org)
    assert proof["sent_at_basis"] == ("Handed to SendGrid at 2026-11-02 14:00:00 UTC (Ghostless's clock, when "
                                      "SendGrid accepted the message).")
    basis = proof["delivered_at_basis"]
    assert basis.startswith("Delivered at 2026-11-02 14:00:07 UTC per SendGrid's signed 'delivered' event")
    assert "received by Ghostless at 2026-11-02 14:01:00 UTC" in basis
    assert f"verified with the key {fingerprint} set by {set_by} on 2026-11-02 14:00:00 UTC" in basis
    assert proof["delivered_at_warnings"] == []
    assert {e["key_fingerprint"] for e in proof["events"]} == {fingerprint}
    assert not any(e["key_set_after_sent"] for e in proof["events"])
    assert "sent_at_basis" in org.get(PROOF)["timestamps"]["sent_at"]
    page = org.client.get(PROOF + "?format=html", headers=org.headers).get_data(as_text=True)
    assert "Delivered time rests on" in page and fingerprint in page and "Handed to SendGrid at" in page


def test_an_event_verified_by_a_key_set_after_the_send_is_flagged(org, rt, clock, client, message):
    """Whoever sets the key can sign events: a key that arrived after the message is worth doubting."""
    clock.advance(timedelta(hours=2))
    forger = Signer()
    org.client.patch("/api/v1/organization/mail", headers=org.headers,
                     json={"sendgrid_event_public_key": forger.public_b64})
    with rt.db.session() as session:  # the change is audited with who made it
        key_change = session.scalars(select(AuditEntry).where(AuditEntry.action == "mail_settings_updated")
                                     .order_by(AuditEntry.id.desc())).first()
    assert key_change.actor.startswith("api-key:") and key_change.at == clock.now()
    post(client, org.id, forger, [sg("delivered", message, message.sent_at + timedelta(minutes=5))])

    proof = proof_of(org)
    assert proof["delivered_at"] == (message.sent_at + timedelta(minutes=5)).isoformat()
    [warning] = proof["delivered_at_warnings"]
    assert "set on 2026-11-02 16:00:00 UTC, after the message was sent (2026-11-02 14:00:00 UTC)" in warning
    [event] = proof["events"]
    assert event["key_set_after_sent"] is True and event["key_set_at"] == clock.now().isoformat()
    page = org.client.get(PROOF + "?format=html", headers=org.headers).get_data(as_text=True)
    assert "set after the message was sent" in page and "whoever set it could have signed this event" in page
