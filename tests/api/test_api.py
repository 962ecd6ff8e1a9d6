"""The JSON API under /api/v1: authentication, bad input (invariant 5), isolation (invariant 6), policies."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Org
from helpers import event, interview_done, obligations, sent
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder, run_wsgi_app

from plugin import create_app
from plugin.models import Application, Candidate, EventBatch, InboundEvent, Obligation

ENDED = datetime(2026, 11, 6, 20, 0, tzinfo=UTC)  # Fri 15:00 New York
DUE = datetime(2026, 11, 16, 22, 0, tzinfo=UTC)  # Mon 16 Nov 17:00 New York (Veterans Day skipped)


def test_create_app_can_be_called_twice(rt):
    """Tests, the demo and `serve` build several apps in one process; each must still require a key."""
    create_app(runtime=rt)
    second = create_app(runtime=rt)
    assert second.test_client().get("/api/v1/obligations").status_code == 401
    assert second.test_client().get("/api/v1/openapi.json").status_code == 200


def count(db, model, **where):
    with db.session() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return session.scalar(query)


def assert_nothing_stored(org, rt, app_id="a-1"):
    org.get(f"/api/v1/applications/{app_id}", expect=404)
    assert count(rt.db, InboundEvent) == 0
    assert count(rt.db, Application) == 0
    assert count(rt.db, EventBatch) == 0  # a refused request is not even stored for later
    assert rt.queue.count == 0


# --- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer gl_not-a-real-key"])
def test_requests_without_a_valid_key_get_401(client, org, rt, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.post("/api/v1/events", json=interview_done(ENDED), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = response.get_json()
    assert "key" in body["message"].lower()
    assert count(rt.db, InboundEvent) == 0
    for path in ("/api/v1/policies/organization", "/api/v1/organization", "/api/v1/obligations",
                 "/api/v1/notifications", "/api/v1/applications/a-1"):
        assert client.get(path, headers=headers).status_code == 401, path


def test_unknown_key_message_differs_from_missing_header(client, org):
    missing = client.get("/api/v1/obligations").get_json()["message"]
    unknown = client.get("/api/v1/obligations", headers={"Authorization": "Bearer gl_nope"}).get_json()["message"]
    assert "Authorization: Bearer" in missing
    assert "not valid" in unknown


# --- bad bodies ----------------------------------------------------------------------------------


def test_body_over_one_megabyte_gets_413_and_stores_nothing(client, org, rt):
    big = interview_done(ENDED, name="A" * 100)
    big["padding"] = "x" * (1024 * 1024 + 10)
    response = client.post("/api/v1/events", json=big, headers=org.headers)
    assert response.status_code == 413
    assert "larger than" in response.get_json()["message"]
    assert_nothing_stored(org, rt)


def _post_without_content_length(app, org, data):
    """What a WSGI server passes on for a chunked request: no Content-Length, an input stream that ends by
    itself. The test client always adds Content-Length, so the app is called directly."""
    environ = EnvironBuilder("/api/v1/events", method="POST", input_stream=io.BytesIO(data),
                             content_type="application/json", headers=org.headers).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input_terminated"] = True
    body, status, _headers = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), json.loads(b"".join(body))


OVERSIZED = b'{"id": "evt-1", "type": "interview.completed", "pad": "' + b"x" * (1024 * 1024 + 10) + b'"}'


def test_body_over_one_megabyte_without_content_length_is_refused_and_stores_nothing(app, org, rt):
    status, _body = _post_without_content_length(app, org, OVERSIZED)
    assert 400 <= status < 500
    assert_nothing_stored(org, rt)


def test_small_body_without_content_length_is_accepted(app, org, rt, clock):
    clock.set(ENDED)
    status, body = _post_without_content_length(app, org, json.dumps(interview_done(ENDED)).encode())
    assert (status, body["state"], body["received"]) == (202, "queued", 1)


def test_body_over_one_megabyte_without_content_length_gets_413(app, org, rt):
    status, body = _post_without_content_length(app, org, OVERSIZED)
    assert status == 413, body
    assert "larger than" in body["message"]


def test_malformed_json_gets_400_saying_so(client, org, rt):
    response = client.post("/api/v1/events", data=b'{"id": "evt-1", "type": ', content_type="application/json",
                           headers=org.headers)
    assert response.status_code == 400
    assert "not valid JSON" in response.get_json()["message"]
    assert_nothing_stored(org, rt)


def test_non_json_content_type_gets_400_saying_so(client, org, rt):
    response = client.post("/api/v1/events", data="id=evt-1&type=interview.completed",
                           content_type="application/x-www-form-urlencoded", headers=org.headers)
    assert response.status_code == 400
    assert "application/json" in response.get_json()["message"]
    assert_nothing_stored(org, rt)


def test_unknown_event_type_gets_422_naming_it(client, org, rt):
    response = client.post("/api/v1/events", json=event("interview.teleported", ENDED), headers=org.headers)
    assert response.status_code == 422
    body = response.get_json()
    assert "nothing was stored" in body["message"]
    assert "interview.teleported" in str(body["errors"]["json"]["type"])
    assert_nothing_stored(org, rt)


def test_unknown_field_gets_422_naming_it(client, org, rt):
    bad = interview_done(ENDED, app="a-2", candidate="c-2")
    bad["candidate"]["nickname"] = "Countess"
    body = {"events": [interview_done(ENDED), bad]}
    response = client.post("/api/v1/events", json=body, headers=org.headers)
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert errors["events"]["1"]["candidate"]["nickname"] == ["Unknown field."]
    assert "0" not in errors["events"]
    assert_nothing_stored(org, rt)
    assert_nothing_stored(org, rt, "a-2")


def test_batch_with_one_bad_event_of_three_stores_nothing(client, org, rt):
    good1 = interview_done(ENDED, app="a-1", candidate="c-1")
    bad = interview_done(ENDED, app="a-2", candidate="c-2", email="not-an-email")
    good3 = interview_done(ENDED, app="a-3", candidate="c-3")
    response = client.post("/api/v1/events", json={"events": [good1, bad, good3]}, headers=org.headers)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["json"]["events"]) == {"1"}
    for app_id in ("a-1", "a-2", "a-3"):
        org.get(f"/api/v1/applications/{app_id}", expect=404)
    assert count(rt.db, InboundEvent) == 0
    assert count(rt.db, Application) == 0
    assert count(rt.db, Obligation) == 0


# --- valid events and records ----------------------------------------------------------------------


def test_valid_batch_is_counted_and_a_repeat_is_a_duplicate(org, rt, clock):
    clock.set(ENDED)
    batch = [interview_done(ENDED, app="a-1", candidate="c-1", interview="i-1"),
             interview_done(ENDED, app="a-2", candidate="c-2", interview="i-2")]
    first = org.post(*batch)
    assert (first["received"], first["applied"], first["duplicates"]) == (2, 2, 0)
    assert [r["status"] for r in first["results"]] == ["applied", "applied"]
    again = org.post(*batch)
    assert (again["received"], again["applied"], again["duplicates"]) == (2, 0, 2)
    assert count(rt.db, InboundEvent) == 2
    assert len(obligations(rt.db)) == 2


def test_application_detail_has_status_obligations_notifications_and_timeline(org, clock):
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    detail = org.get("/api/v1/applications/a-1")
    assert detail["id"] == "a-1"
    assert detail["status"] == "active"
    assert detail["job_id"] == "j-1" and detail["candidate_id"] == "c-1"
    [ob] = detail["obligations"]
    assert ob["state"] == "open" and ob["cycle"] == 1
    assert datetime.fromisoformat(ob["due_at"]) == DUE
    assert [n["kind"] for n in detail["notifications"]] == ["next_steps"]
    actions = {(e["entity"], e["action"]) for e in detail["timeline"]}
    assert ("obligation", "opened") in actions
    assert ("notification", "scheduled") in actions


def test_erasure_without_reason_erases_the_candidate_as_deleted(org, rt, clock):
    """DESIGN: for candidate.erased "only the candidate's `id` is required"; no reason means deleted."""
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    body = org.post({"id": "evt-erase", "type": "candidate.erased", "occurred_at": ENDED.isoformat(),
                     "candidate": {"id": "c-1"}})
    assert [r["status"] for r in body["results"]] == ["applied"]
    with rt.db.session() as session:
        candidate = session.scalars(select(Candidate).where(Candidate.external_id == "c-1")).one()
        assert candidate.erased_at is not None and candidate.erasure_reason == "deleted"
        # Erasure scrubs every stored event naming the person, this one included: only its facts stay.
        stored = session.scalars(select(InboundEvent).where(InboundEvent.event_id == "evt-erase")).one()
        assert (stored.event_type, stored.outcome.value, stored.canonical) == ("candidate.erased", "applied", None)


def test_promised_decision_date_on_interview_completed_reaches_the_canonical_event(org, rt, clock):
    """DESIGN's own example sends `decision_expected_by` with interview.completed; it must not be dropped."""
    clock.set(ENDED)
    org.post(interview_done(ENDED, id="evt-done", decision_expected_by="2026-11-11"))
    with rt.db.session() as session:
        stored = session.scalars(select(InboundEvent).where(InboundEvent.event_id == "evt-done")).one()
        assert stored.canonical is not None and stored.canonical["decision_expected_by"] == "2026-11-11"


def test_unknown_application_is_404(org):
    body = org.get("/api/v1/applications/nope", expect=404)
    assert "nope" in body["message"]


# --- organisation isolation (invariant 6) ----------------------------------------------------------


def test_other_org_cannot_read_an_application(org, rt, client, clock):
    clock.set(ENDED)
    org.post(interview_done(ENDED, id="evt-shared"))
    other = Org(rt, client, name="Other")
    other.get("/api/v1/applications/a-1", expect=404)
    assert other.get("/api/v1/obligations") == []
    assert other.get("/api/v1/notifications") == []


def test_each_org_has_its_own_event_id_space(org, rt, client, clock):
    clock.set(ENDED)
    first = org.post(interview_done(ENDED, id="evt-shared"))
    other = Org(rt, client, name="Other")
    second = other.post(interview_done(ENDED, id="evt-shared"))
    assert first["applied"] == 1 and second["applied"] == 1 and second["duplicates"] == 0
    assert count(rt.db, InboundEvent, org_id=org.id) == 1
    assert count(rt.db, InboundEvent, org_id=other.id) == 1
    assert count(rt.db, Application) == 2  # same external id, two organisations, two rows
    [mine] = org.get("/api/v1/obligations")
    [theirs] = other.get("/api/v1/obligations")
    assert mine["application_id"] == theirs["application_id"] == "a-1"
    assert mine["id"] != theirs["id"]


def test_other_orgs_policy_change_does_not_touch_this_org(org, rt, client, clock):
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    other = Org(rt, client, name="Other")
    other.post(interview_done(ENDED))
    result = other.put("/api/v1/policies/organization", {"first_update_working_days": 10})
    assert result["recomputed"] == 1
    assert org.get("/api/v1/policies/organization")["effective"]["first_update_working_days"] == 5
    [mine] = org.get("/api/v1/obligations?state=open")
    [theirs] = other.get("/api/v1/obligations?state=open")
    assert datetime.fromisoformat(mine["due_at"]) == DUE
    assert datetime.fromisoformat(theirs["due_at"]) > DUE


def test_other_org_cannot_set_policy_on_this_orgs_job(org, rt, client, clock):
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    other = Org(rt, client, name="Other")
    other.put("/api/v1/policies/jobs/j-1", {"autopilot": False}, expect=404)
    other.get("/api/v1/policies/jobs/j-1", expect=404)
    assert org.get("/api/v1/policies/jobs/j-1")["overrides"] == {}


# --- policies --------------------------------------------------------------------------------------


def test_organization_policy_defaults(org):
    policy = org.get("/api/v1/policies/organization")
    assert policy["level"] == "organization" and policy["overrides"] == {}
    effective = policy["effective"]
    assert effective["first_update_working_days"] == 5
    assert effective["cadence_working_days"] == 5
    assert effective["promised_decision_grace_working_days"] == 2
    assert effective["autopilot"] is True
    assert effective["next_steps"] is True
    assert (effective["send_window_start"], effective["send_window_end"]) == ("09:00", "17:00")


def test_policy_with_unknown_field_is_422_and_changes_nothing(org):
    org.put("/api/v1/policies/organization", {"cadence_working_days": 3})
    response = org.client.put("/api/v1/policies/organization", headers=org.headers,
                              json={"cadence_working_days": 7, "first_update_workdays": 3})
    assert response.status_code == 422
    assert "first_update_workdays" in response.get_json()["errors"]["json"]
    assert org.get("/api/v1/policies/organization")["overrides"] == {"cadence_working_days": 3}


def test_policy_send_window_ending_before_it_starts_is_422(org):
    response = org.client.put("/api/v1/policies/organization", headers=org.headers,
                              json={"send_window_start": "18:00", "send_window_end": "09:00"})
    assert response.status_code == 422
    assert "send_window_end" in response.get_json()["errors"]["json"]
    assert org.get("/api/v1/policies/organization")["overrides"] == {}


@pytest.mark.parametrize("body", [
    {"autopilot": "yes"}, {"next_steps": "true"}, {"autopilot": None},
    {"autopilot": 1},    {"first_update_working_days": "10"}, {"first_update_working_days": 0}, {"reminder_time": "9am"},
])
def test_policy_values_of_the_wrong_type_are_refused(org, body):
    response = org.client.put("/api/v1/policies/organization", headers=org.headers, json=body)
    assert response.status_code == 422
    assert set(body) <= set(response.get_json()["errors"]["json"])
    assert org.get("/api/v1/policies/organization")["overrides"] == {}


def test_longer_first_update_moves_the_open_deadline_later(org, rt, clock):
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    result = org.put("/api/v1/policies/organization", {"first_update_working_days": 10})
    assert result["recomputed"] == 1
    assert result["effective"]["first_update_working_days"] == 10
    [ob] = obligations(rt.db)
    # 10 working days after Fri 6 Nov, skipping Veterans Day (11) -> Mon 23 Nov 17:00 New York
    assert ob.due_at.astimezone(UTC) == datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    again = org.put("/api/v1/policies/organization", {"first_update_working_days": 10})
    assert again["recomputed"] == 0


def test_job_policy_for_unknown_job_is_404(org):
    body = org.put("/api/v1/policies/jobs/j-missing", {"autopilot": False}, expect=404)
    assert "j-missing" in body["message"]


def test_job_without_autopilot_escalates_and_breaches_instead(org, rt, tick):
    tick(at=ENDED)
    org.post(interview_done(ENDED, app="a-1", candidate="c-1", job="j-1", interview="i-1"))
    org.post(interview_done(ENDED, app="a-2", candidate="c-2", job="j-2", interview="i-2"))
    result = org.put("/api/v1/policies/jobs/j-1", {"autopilot": False})
    assert result["effective"]["autopilot"] is False
    assert org.get("/api/v1/policies/jobs/j-2")["effective"]["autopilot"] is True
    for day in range(1, 12):
        tick(at=ENDED + timedelta(days=day))
        tick(by=timedelta(hours=1))
    updates = sent(rt.db, "status_update")
    assert [(u.recipient_email, u.autopilot) for u in updates] == [("c-2@example.com", True)]
    [escalation] = sent(rt.db, "escalation")
    assert escalation.recipient_email == "talent-ops@acme.example"
    by_app = {o["application_id"]: o for o in org.get("/api/v1/obligations")}
    assert by_app["a-1"]["breach_reason"] == "autopilot_off"
    assert datetime.fromisoformat(by_app["a-1"]["breached_at"]) == DUE
    assert by_app["a-2"]["breach_reason"] is None


# --- lists -----------------------------------------------------------------------------------------


def test_lists_show_only_this_orgs_rows(org, rt, client, tick):
    tick(at=ENDED)
    org.post(interview_done(ENDED))
    other = Org(rt, client, name="Other")
    other.post(interview_done(ENDED, app="b-1", candidate="d-1"))
    tick(by=timedelta(minutes=1))
    mine = org.get("/api/v1/obligations?state=open")
    assert [o["application_id"] for o in mine] == ["a-1"]
    theirs = other.get("/api/v1/obligations?state=open")
    assert [o["application_id"] for o in theirs] == ["b-1"]
    assert org.get("/api/v1/obligations?state=discharged") == []
    my_notes = org.get("/api/v1/notifications?kind=next_steps")
    assert [n["recipient_email"] for n in my_notes] == ["c-1@example.com"]
    assert [n["recipient_email"] for n in other.get("/api/v1/notifications?kind=next_steps")] == ["d-1@example.com"]


@pytest.mark.parametrize("query", ["/api/v1/obligations?state=bogus", "/api/v1/notifications?kind=bogus",
                                   "/api/v1/obligations?limit=0"])
def test_invalid_list_filters_get_422(org, query):
    response = org.client.get(query, headers=org.headers)
    assert response.status_code == 422
    assert response.get_json()["errors"]["query"]


# --- documents and probes --------------------------------------------------------------------------


def test_openapi_document_is_served_without_a_key(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    assert "/api/v1/events" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert {"bearerAuth": []} in spec["security"]


def test_health_probes(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready"}
