"""Stored deliveries become canonical events: the job, retries, recovery, replay and the poll schedule."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from ats_support import connect, fixture_bytes, fixture_json
from click.testing import CliRunner
from sqlalchemy import select, update
from standins.greenhouse import GreenhouseStandIn

from plugin import runtime
from plugin.ats.signing import hmac_sha256_hex
from plugin.models import AtsConnection, AtsDelivery, DeliveryState, InboundEvent

SECRET = "gh-webhook-secret-1"


def signed(body: bytes, event_id: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Signature": f"sha256 {hmac_sha256_hex(SECRET, body)}",
            "Greenhouse-Event-ID": event_id}


def delivery(rt, delivery_id: int) -> AtsDelivery:
    with rt.db.session() as session:
        row = session.get(AtsDelivery, delivery_id)
        session.expunge(row)
        return row


@pytest.fixture
def harvest(vendor_env):
    with GreenhouseStandIn() as standin:
        yield standin


@pytest.fixture
def gh(org, harvest):
    return connect(org, "greenhouse", signing_secret=SECRET, credentials=harvest.credentials(),
                   options=harvest.options(poll_interval_minutes=0))


def post(org, gh, name: str, event_id: str) -> int:
    body = fixture_bytes("greenhouse", name)
    response = org.client.post(gh["webhook_path"], data=body, headers=signed(body, event_id))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["delivery_id"]


def test_a_delivery_is_processed_by_its_job_and_shows_what_it_became(rt, org, gh, tick):
    delivery_id = post(org, gh, "reject_candidate.json", "e-1")
    assert delivery(rt, delivery_id).state is DeliveryState.RECEIVED
    tick()
    shown = org.get(f"/api/v1/deliveries/{delivery_id}")
    assert shown["state"] == "processed" and shown["error"] is None
    assert [(e["type"], e["status"]) for e in shown["events"]] == [("application.rejected", "applied")]
    assert json.loads(shown["body"])["action"] == "reject_candidate"
    with rt.db.session() as session:
        assert session.scalar(select(InboundEvent.source)) == "greenhouse"


def test_the_same_fact_in_a_second_delivery_changes_nothing(rt, org, gh, tick):
    first = post(org, gh, "reject_candidate.json", "e-1")
    # A vendor retry with a new delivery id and the body serialised anew (the very same bytes under a
    # new id are a replay, refused at the door: tests/api/test_hostile_input.py).
    body = json.dumps(fixture_json("greenhouse", "reject_candidate.json")).encode()
    response = org.client.post(gh["webhook_path"], data=body, headers=signed(body, "e-2"))
    assert response.get_json()["status"] == "accepted"
    second = response.get_json()["delivery_id"]
    tick()
    assert [e["status"] for e in delivery(rt, first).events] == ["applied"]
    assert [e["status"] for e in delivery(rt, second).events] == ["duplicate"]


def test_a_vendor_outage_during_a_hint_check_retries_with_backoff(rt, org, gh, harvest, tick, clock):
    harvest.add_application(265277, candidate_id=265772, job_id=87752, updated_at="2026-11-01T10:00:00Z")
    harvest.fail_next(503)  # Greenhouse is down when the job asks for the token
    delivery_id = post(org, gh, "candidate_stage_change.json", "e-1")
    tick()
    row = delivery(rt, delivery_id)
    assert row.state is DeliveryState.RECEIVED and row.attempts == 1 and "503" in row.error
    assert row.next_attempt_at == clock.now() + timedelta(minutes=1)
    tick(by=timedelta(minutes=1))
    row = delivery(rt, delivery_id)
    assert row.state is DeliveryState.PROCESSED and row.attempts >= 2 and row.error is None


def test_a_permanent_error_fails_the_delivery_and_it_can_be_retried(rt, org, gh, tick):
    body = json.dumps({"action": "reject_candidate", "payload": {"application": {"id": 1}}}).encode()
    response = org.client.post(gh["webhook_path"], data=body, headers=signed(body, "e-bad"))
    delivery_id = response.get_json()["delivery_id"]
    tick()
    failed = org.get(f"/api/v1/deliveries/{delivery_id}")
    assert failed["state"] == "failed" and "candidate" in failed["error"]
    listed = org.get(f"/api/v1/connections/{gh['id']}/deliveries?state=failed")
    assert [d["id"] for d in listed] == [delivery_id]
    retried = org.client.post(f"/api/v1/deliveries/{delivery_id}/retry", headers=org.headers)
    assert retried.status_code == 202 and retried.get_json()["state"] == "received"
    tick()
    assert delivery(rt, delivery_id).state is DeliveryState.FAILED  # same bytes, same error: it says why


def test_a_lost_job_is_re_enqueued_by_the_sweep(rt, org, gh, tick):
    delivery_id = post(org, gh, "reject_candidate.json", "e-1")
    rt.redis.flushdb()  # the job vanished with Redis
    tick()
    assert delivery(rt, delivery_id).state is DeliveryState.RECEIVED
    tick(by=timedelta(minutes=2))
    assert delivery(rt, delivery_id).state is DeliveryState.PROCESSED


def test_a_worker_that_died_mid_delivery_is_recovered_without_a_second_effect(rt, org, gh, tick, clock):
    delivery_id = post(org, gh, "reject_candidate.json", "e-1")
    tick()
    with rt.db.session() as session:  # as if a worker had claimed it again and died
        session.execute(update(AtsDelivery).where(AtsDelivery.id == delivery_id).values(
            state=DeliveryState.PROCESSING, next_attempt_at=clock.now() + timedelta(minutes=10)))
    tick(by=timedelta(minutes=5))
    assert delivery(rt, delivery_id).state is DeliveryState.PROCESSING  # lease not over yet
    tick(by=timedelta(minutes=6))
    row = delivery(rt, delivery_id)
    assert row.state is DeliveryState.PROCESSED and [e["status"] for e in row.events] == ["duplicate"]


def test_ping_is_acknowledged_kept_and_not_processed(rt, org, gh, tick):
    body = json.dumps({"action": "ping", "payload": {"web_hook_id": 1}}).encode()
    response = org.client.post(gh["webhook_path"], data=body, headers=signed(body, "ping-1"))
    assert response.status_code == 200 and response.get_json()["status"] == "ping"
    tick()
    assert delivery(rt, response.get_json()["delivery_id"]).state is DeliveryState.IGNORED


# -- replay ---------------------------------------------------------------------------------------


@pytest.fixture
def cli(rt, monkeypatch):
    """The `ghostless` command on the test database, with the test secret key."""
    from plugin.cli import main

    monkeypatch.setenv("GHOSTLESS_DATABASE_URL", rt.db.url)
    monkeypatch.setenv("GHOSTLESS_SECRET_KEY", rt.settings.secret_key)
    monkeypatch.setenv("GHOSTLESS_INSTANCE_DIR", str(rt.settings.instance_dir))
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(main, list(args))
        runtime.install(rt)  # the command installed (and closed) its own runtime
        return result

    return invoke


def test_replay_by_delivery_id_reprocesses_idempotently(rt, org, gh, tick, cli):
    delivery_id = post(org, gh, "reject_candidate.json", "e-1")
    tick()
    result = cli("ats", "replay", str(delivery_id))
    assert result.exit_code == 0, result.output
    assert f"Delivery {delivery_id}: processed" in result.output
    assert "duplicate" in result.output and "application.rejected" in result.output


def test_replay_of_a_file_stores_it_and_applies_it(rt, org, gh, cli, tmp_path):
    path = tmp_path / "hire.json"
    path.write_bytes(fixture_bytes("greenhouse", "hire_candidate.json"))
    result = cli("ats", "replay", str(path), "--connection", gh["id"])
    assert result.exit_code == 0, result.output
    assert "applied" in result.output and "application.hired" in result.output
    with rt.db.session() as session:
        kinds = session.scalars(select(AtsDelivery.kind)).all()
    assert [k.value for k in kinds] == ["replay"]


@pytest.mark.parametrize("args, message", [
    (["ats", "replay", "999999"], "No delivery 999999"),
    (["ats", "replay", "nope.json"], "neither a delivery id nor a file"),
])
def test_replay_explains_what_is_wrong(cli, gh, args, message):
    result = cli(*args)
    assert result.exit_code != 0 and message in result.output


def test_deliveries_command_lists_failures(rt, org, gh, tick, cli):
    body = json.dumps({"action": "reject_candidate", "payload": {"application": {"id": 1}}}).encode()
    org.client.post(gh["webhook_path"], data=body, headers=signed(body, "e-bad"))
    tick()
    result = cli("ats", "deliveries", "--state", "failed")
    assert result.exit_code == 0 and "reject_candidate" in result.output and "error:" in result.output


# -- the poll schedule ----------------------------------------------------------------------------


def test_connections_with_credentials_are_polled_on_schedule(rt, org, harvest, tick, clock):
    conn = connect(org, "greenhouse", signing_secret=SECRET, credentials=harvest.credentials(),
                   options=harvest.options())
    assert conn["polling"] is True
    tick()
    assert len(harvest.api_requests("interviews")) == 1
    shown = org.get(f"/api/v1/connections/{conn['id']}")
    assert shown["last_poll_at"] is not None and shown["last_poll_error"] is None
    assert shown["next_poll_at"].startswith((clock.now() + timedelta(minutes=15)).isoformat()[:16])
    tick(by=timedelta(minutes=5))
    assert len(harvest.api_requests("interviews")) == 1  # not due yet
    tick(by=timedelta(minutes=10))
    assert len(harvest.api_requests("interviews")) == 2


def test_a_poll_error_is_shown_on_the_connection_and_keeps_the_cursor(rt, org, harvest, tick):
    conn = connect(org, "greenhouse", signing_secret=SECRET,
                   credentials={"client_id": "wrong", "client_secret": "wrong"}, options=harvest.options())
    tick()
    shown = org.get(f"/api/v1/connections/{conn['id']}")
    assert shown["last_poll_error"] and "401" in shown["last_poll_error"]


def test_connections_without_credentials_do_not_poll(org, gh):
    plain = connect(org, "greenhouse", signing_secret=SECRET)
    assert plain["polling"] is False
    response = org.client.post(f"/api/v1/connections/{plain['id']}/poll", headers=org.headers)
    assert response.status_code == 409 and "credentials" in response.get_json()["message"]


def test_poll_now_runs_the_poll(rt, org, harvest, tick):
    conn = connect(org, "greenhouse", signing_secret=SECRET, credentials=harvest.credentials(),
                   options=harvest.options(poll_interval_minutes=60))
    tick()
    assert len(harvest.api_requests("interviews")) == 1
    assert org.client.post(f"/api/v1/connections/{conn['id']}/poll", headers=org.headers).status_code == 202
    tick()
    assert len(harvest.api_requests("interviews")) == 2


def test_a_disabled_connection_is_not_polled(rt, org, harvest, tick):
    conn = connect(org, "greenhouse", signing_secret=SECRET, credentials=harvest.credentials(),
                   options=harvest.options())
    org.client.patch(f"/api/v1/connections/{conn['id']}", json={"enabled": False}, headers=org.headers)
    tick()
    assert harvest.api_requests("interviews") == []
    with rt.db.session() as session:
        assert session.get(AtsConnection, conn["id"]).next_poll_at is None


def test_erasing_a_candidate_removes_the_raw_deliveries_that_named_them(rt, org, gh, tick):
    rejected = post(org, gh, "reject_candidate.json", "e-1")  # Hector Porter, candidate 265788
    other = post(org, gh, "hire_candidate.json", "e-2")  # someone else
    tick()
    erase = json.loads(fixture_bytes("greenhouse", "delete_candidate.json"))
    erase["payload"]["person"]["id"] = 265788
    body = json.dumps(erase).encode()
    erased = org.client.post(gh["webhook_path"], data=body, headers=signed(body, "e-3")).get_json()["delivery_id"]
    tick()
    assert [e["type"] for e in delivery(rt, erased).events] == ["candidate.erased"]
    for delivery_id in (rejected, erased):
        row = delivery(rt, delivery_id)
        assert row.body is None and row.headers == {}
        assert b"Porter" not in json.dumps(org.get(f"/api/v1/deliveries/{delivery_id}")).encode()
    assert delivery(rt, other).body is not None
