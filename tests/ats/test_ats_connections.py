"""ATS connections and the webhook endpoint: secrets at rest, rotation, status codes, raw-first storage."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from ats_support import connect, fixture_bytes
from sqlalchemy import func, select, text

from plugin.ats.signing import hmac_sha256_hex
from plugin.models import AtsConnection, AtsDelivery, AuditEntry, InboundEvent

SECRET = "gh-webhook-secret-1"


def signed(body: bytes, secret: str = SECRET, event_id: str = "evt-1") -> dict[str, str]:
    return {"Content-Type": "application/json", "Signature": f"sha256 {hmac_sha256_hex(secret, body)}",
            "Greenhouse-Event-ID": event_id}


def count(rt, model) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def gh(org):
    return connect(org, "greenhouse", signing_secret=SECRET, credentials={"access_token": "tok-123"})


# -- connections API -------------------------------------------------------------------------------


def test_creating_a_connection_returns_its_webhook_url_and_never_a_secret(org, gh):
    assert gh["provider"] == "greenhouse" and gh["state"] == "active"
    assert gh["webhook_url"] == f"http://127.0.0.1:5000/webhooks/greenhouse/{gh['id']}"
    assert gh["has_signing_secret"] is True and gh["credentials_set"] == ["access_token"]
    listed = org.get("/api/v1/connections")
    text_of_everything = json.dumps(listed) + json.dumps(org.get(f"/api/v1/connections/{gh['id']}"))
    assert SECRET not in text_of_everything and "tok-123" not in text_of_everything
    assert [c["id"] for c in listed] == [gh["id"]]


def test_secrets_are_encrypted_at_rest_and_kept_out_of_the_audit_log(rt, gh):
    with rt.db.engine.connect() as conn:
        stored = " ".join(str(v) for v in conn.execute(text("SELECT * FROM ats_connections")).one())
        audit = " ".join(str(v) for v in conn.execute(text("SELECT before, after FROM audit_log")).all())
    assert SECRET not in stored and "tok-123" not in stored
    assert SECRET not in audit and "tok-123" not in audit and "access_token" in audit


@pytest.mark.parametrize("body, field", [
    ({"provider": "taleo", "signing_secret": SECRET}, "provider"),
    ({"provider": "greenhouse"}, "signing_secret"),
    ({"provider": "greenhouse", "signing_secret": "short"}, "signing_secret"),
    ({"provider": "greenhouse", "signing_secret": SECRET, "credentials": {"password": "x"}}, "credentials"),
    ({"provider": "greenhouse", "signing_secret": SECRET, "options": {"poll_interval_minutes": -5}}, "options"),
    ({"provider": "greenhouse", "signing_secret": SECRET, "options": {"api_base_url": "ftp://x"}}, "options"),
    ({"provider": "greenhouse", "signing_secret": SECRET, "colour": "blue"}, "colour"),
])
def test_invalid_connections_are_refused_with_the_field_named_and_nothing_stored(rt, org, body, field):
    response = org.client.post("/api/v1/connections", json=body, headers=org.headers)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]["json"]
    assert count(rt, AtsConnection) == 0


def test_another_organisation_cannot_see_or_change_a_connection(rt, client, gh):
    from conftest import Org

    other = Org(rt, client, name="Other")
    assert other.get("/api/v1/connections") == []
    assert client.get(f"/api/v1/connections/{gh['id']}", headers=other.headers).status_code == 404
    response = client.patch(f"/api/v1/connections/{gh['id']}", json={"enabled": False}, headers=other.headers)
    assert response.status_code == 404


# -- the webhook endpoint ---------------------------------------------------------------------------


def test_a_signed_webhook_is_stored_raw_before_it_is_acknowledged(rt, org, gh):
    body = fixture_bytes("greenhouse", "reject_candidate.json")
    response = org.client.post(gh["webhook_path"], data=body, headers=signed(body))
    assert response.status_code == 200 and response.get_json()["status"] == "accepted"
    with rt.db.session() as session:
        delivery = session.scalars(select(AtsDelivery)).one()
        assert delivery.body == body  # the exact bytes: signatures are over them
        assert delivery.delivery_key == "evt-1" and delivery.vendor_event == "reject_candidate"
        assert "signature" in delivery.headers


def test_the_same_delivery_twice_is_stored_once(rt, org, gh):
    body = fixture_bytes("greenhouse", "reject_candidate.json")
    first = org.client.post(gh["webhook_path"], data=body, headers=signed(body))
    second = org.client.post(gh["webhook_path"], data=body, headers=signed(body))
    assert second.status_code == 200 and second.get_json() == {"status": "duplicate",
                                                               "delivery_id": first.get_json()["delivery_id"]}
    assert count(rt, AtsDelivery) == 1


@pytest.mark.parametrize("headers", [
    {"Content-Type": "application/json"},  # no signature
    {"Content-Type": "application/json", "Signature": "sha256 " + "0" * 64},
    {"Content-Type": "application/json", "Signature": "sha1 abc"},
])
def test_a_bad_or_missing_signature_stores_nothing_but_a_counter(rt, org, gh, headers, caplog):
    body = fixture_bytes("greenhouse", "reject_candidate.json")
    response = org.client.post(gh["webhook_path"], data=body, headers=headers)
    assert response.status_code == 401 and "signature" in response.get_json()["message"]
    assert count(rt, AtsDelivery) == 0 and count(rt, InboundEvent) == 0
    assert org.get(f"/api/v1/connections/{gh['id']}")["rejected_signatures"] == 1
    assert gh["id"] in caplog.text


def test_a_tampered_body_fails_its_signature(rt, org, gh):
    body = fixture_bytes("greenhouse", "reject_candidate.json")
    tampered = body.replace(b"Too Junior", b"Too Senior")
    assert org.client.post(gh["webhook_path"], data=tampered, headers=signed(body)).status_code == 401
    assert count(rt, AtsDelivery) == 0


def test_status_codes_say_what_is_wrong(rt, org, gh):
    body = fixture_bytes("greenhouse", "reject_candidate.json")
    cases = [
        ("/webhooks/greenhouse/00000000-0000-0000-0000-000000000000", body, signed(body), 404),
        (f"/webhooks/taleo/{gh['id']}", body, signed(body), 404),
        (f"/webhooks/lever/{gh['id']}", body, signed(body), 404),  # right id, wrong provider
        (gh["webhook_path"], b"{not json", signed(b"{not json"), 400),
        (gh["webhook_path"], body, {**signed(body), "Content-Type": "text/plain"}, 400),
        (gh["webhook_path"], b"{" + b" " * (1024 * 1024) + b"}", signed(b"{}"), 413),
    ]
    for path, data, headers, expected in cases:
        response = org.client.post(path, data=data, headers=headers)
        assert response.status_code == expected, (path, expected, response.get_json())
        assert response.get_json()["message"]
    assert count(rt, AtsDelivery) == 0


def test_a_disabled_connection_answers_410_so_the_vendor_stops(rt, org, gh):
    response = org.client.patch(f"/api/v1/connections/{gh['id']}", json={"enabled": False}, headers=org.headers)
    assert response.status_code == 200 and response.get_json()["state"] == "disabled"
    body = fixture_bytes("greenhouse", "reject_candidate.json")
    assert org.client.post(gh["webhook_path"], data=body, headers=signed(body)).status_code == 410
    assert count(rt, AtsDelivery) == 0
    org.client.patch(f"/api/v1/connections/{gh['id']}", json={"enabled": True}, headers=org.headers)
    assert org.client.post(gh["webhook_path"], data=body, headers=signed(body)).status_code == 200


def test_a_rotated_secret_keeps_the_old_one_for_the_grace_period(rt, org, gh, clock):
    body = fixture_bytes("greenhouse", "reject_candidate.json")
    rotated = org.client.post(f"/api/v1/connections/{gh['id']}/rotate-secret",
                              json={"signing_secret": "gh-webhook-secret-2", "grace_hours": 2}, headers=org.headers)
    assert rotated.status_code == 200
    assert rotated.get_json()["previous_secret_accepted_until"].startswith("2026-11-02T16:00")
    assert org.client.post(gh["webhook_path"], data=body, headers=signed(body, event_id="a")).status_code == 200
    assert org.client.post(gh["webhook_path"], data=body,
                           headers=signed(body, "gh-webhook-secret-2", event_id="b")).status_code == 200
    clock.advance(timedelta(hours=2, seconds=1))
    assert org.client.post(gh["webhook_path"], data=body, headers=signed(body, event_id="c")).status_code == 401
    assert org.client.post(gh["webhook_path"], data=body,
                           headers=signed(body, "gh-webhook-secret-2", event_id="d")).status_code == 200
    with rt.db.session() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "ats_connection")).all()
    assert "secret_rotated" in actions


def test_rotation_without_grace_drops_the_old_secret_at_once(org, gh):
    body = fixture_bytes("greenhouse", "reject_candidate.json")
    org.client.post(f"/api/v1/connections/{gh['id']}/rotate-secret",
                    json={"signing_secret": "gh-webhook-secret-2", "grace_hours": 0}, headers=org.headers)
    assert org.client.post(gh["webhook_path"], data=body, headers=signed(body)).status_code == 401


def test_every_shared_fixture_is_exercised_somewhere():
    """tests/fixtures/ats/ holds every payload of the research notes; each must be used by a test."""
    from pathlib import Path

    here = Path(__file__).parent
    sources = "".join(p.read_text() for p in here.glob("test_ats_*.py"))
    missing = [f"{p.parent.name}/{p.name}" for p in (here.parent / "fixtures" / "ats").glob("*/*")
               if p.suffix in (".json", ".txt") and p.stem not in sources and p.name not in sources]
    assert missing == []


def test_ashbys_published_envelope_is_not_json_and_is_refused_with_400(org):
    ashby = connect(org, "ashby", signing_secret=SECRET)
    body = fixture_bytes("other", "ashby-common_payload_envelope.txt")  # `"data": {...}` as published
    headers = {"Content-Type": "application/json",
               "Ashby-Signature": "sha256=" + hmac_sha256_hex(SECRET, body)}
    response = org.client.post(ashby["webhook_path"], data=body, headers=headers)
    assert response.status_code == 400 and "not valid JSON" in response.get_json()["message"]


def test_a_vendor_without_an_adapter_gets_404_naming_the_ones_we_have(org, gh):
    body = fixture_bytes("other", "teamtailor-job_update.json")  # Teamtailor: not supported yet
    response = org.client.post(f"/webhooks/teamtailor/{gh['id']}", data=body,
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 404
    assert "ashby, greenhouse, lever, workable" in response.get_json()["message"]
