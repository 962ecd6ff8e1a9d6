"""Workable adapter: signature, webhook-as-hint mapping, REST client, reconciliation poll.

Workable publishes no payload examples: the fixtures are constructed from its field tables (see
tests/fixtures/ats/workable/SOURCES.md). The stand-in serves the documented REST shapes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ats_support import connect, context, fixture_bytes, fixture_json, webhook
from helpers import obligations, sent
from sqlalchemy import select
from standins.workable import WorkableStandIn

from plugin.ats.base import AdapterError, Context
from plugin.ats.http import PermanentAtsError, TransientAtsError
from plugin.ats.registry import get as registry_get
from plugin.ats.signing import hmac_sha256_hex
from plugin.ats.workable import WorkableAdapter
from plugin.ats.workable.client import api_base_url
from plugin.events.schemas import load_events
from plugin.events.types import AtsNotification, CanonicalEvent, ErasureReason, EventType
from plugin.models import AtsDelivery, DeliveryKind, DeliveryState, InboundEvent

TOKEN = "tok-3f2b"
CID = "3f2b1c07"  # the candidate of every fixture
ADAPTER = WorkableAdapter()


@pytest.fixture
def wk(vendor_env: None) -> Iterator[WorkableStandIn]:
    with WorkableStandIn(token=TOKEN) as standin:
        yield standin


@contextmanager
def ctx_for(rt: Any, org: Any, wk: WorkableStandIn, **kwargs: Any) -> Iterator[Context]:
    options = {"api_base_url": wk.api_url, **kwargs.pop("options", {})}
    credentials = kwargs.pop("credentials", {"api_token": TOKEN})
    with context(rt, org.id, "workable", credentials=credentials, options=options, **kwargs) as ctx:
        yield ctx


def valid(events: list[CanonicalEvent]) -> list[CanonicalEvent]:
    """The same check the core applies before recording anything."""
    if events:
        load_events({"events": [event.to_json() for event in events]})
    return events


def by_type(events: list[CanonicalEvent]) -> dict[EventType, CanonicalEvent]:
    found = {event.type: event for event in events}
    assert len(found) == len(events), [e.id for e in events]
    return found


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def seed(wk: WorkableStandIn, name: str) -> dict[str, Any]:
    """Put the state a fixture describes into the stand-in (the authoritative side)."""
    data = fixture_json("workable", name)["data"]
    slug = next(s["slug"] for s in wk.stages if s["name"] == data["stage"])
    if data["id"] not in wk.candidates:
        wk.add_candidate(candidate_id=data["id"], at=data["created_at"], name=data["name"], email=data["email"],
                         stage="applied", shortcode=data["job"]["shortcode"], title=data["job"]["title"])
    wk.move(data["id"], slug, at=data["updated_at"])
    if data["disqualified"]:
        wk.disqualify(data["id"], at=data["disqualified_at"], reason=data["disqualification_reason"])
    return data


def deliver(rt: Any, org: Any, wk: WorkableStandIn, name: str, **kwargs: Any) -> list[CanonicalEvent]:
    with ctx_for(rt, org, wk, **kwargs) as ctx:
        return valid(ADAPTER.events_from_webhook(webhook(fixture_bytes("workable", name)), ctx))


def record(org: Any, events: list[CanonicalEvent]) -> Any:
    """Apply events to the ledger through the public events API (so lookups see the application)."""
    return org.post(*[event.to_json() for event in events])


# -- fixtures through the adapter ---------------------------------------------------------------

def test_candidate_created_maps_the_fetched_candidate(rt, org, wk):
    seed(wk, "candidate_created.json")
    events = deliver(rt, org, wk, "candidate_created.json")
    assert [e.type for e in events] == [EventType.APPLICATION_CREATED, EventType.APPLICATION_STAGE_CHANGED]
    created, stage = events
    assert created.id == f"workable:application:{CID}:created"
    assert created.occurred_at == at("2026-10-26T09:15:00Z")
    assert created.candidate is not None and created.job is not None and created.application is not None
    assert (created.candidate.id, created.candidate.name, created.candidate.email) == (
        CID, "Ada Lovelace", "ada.lovelace@example.com")
    assert (created.job.id, created.job.title) == ("GROOV005", "Office Manager")
    assert created.application.id == CID  # Workable candidates are per job
    assert stage.id == f"workable:application:{CID}:stage:applied:2026-10-26T09:15:00Z"
    assert stage.application is not None and stage.application.stage == "Applied"
    assert wk.requests[0].path == f"/spi/v3/candidates/{CID}"


def test_candidate_moved_to_interview_stage(rt, org, wk):
    seed(wk, "candidate_moved.json")
    found = by_type(deliver(rt, org, wk, "candidate_moved.json"))
    stage = found[EventType.APPLICATION_STAGE_CHANGED]
    assert stage.id == f"workable:application:{CID}:stage:interview:2026-10-28T10:30:00Z"
    assert stage.occurred_at == at("2026-10-28T10:30:00Z")
    assert stage.application is not None and stage.application.stage == "Interview"
    assert set(found) == {EventType.APPLICATION_CREATED, EventType.APPLICATION_STAGE_CHANGED}
    # Workable has no interview webhooks: nothing about interviews is invented from a stage name.
    assert not any(e.type.value.startswith("interview.") for e in found.values())


def test_candidate_moved_to_hired_stage_is_a_hire(rt, org, wk):
    seed(wk, "candidate_moved_hired.json")
    found = by_type(deliver(rt, org, wk, "candidate_moved_hired.json"))
    hired = found[EventType.APPLICATION_HIRED]
    assert hired.id == f"workable:application:{CID}:hired:2026-11-02T11:05:00Z"
    assert hired.occurred_at == at("2026-11-02T11:05:00Z")
    assert hired.application is not None and hired.application.id == CID
    assert found[EventType.APPLICATION_STAGE_CHANGED].id.endswith(":stage:hired:2026-11-02T11:05:00Z")


def test_candidate_disqualified_is_a_rejection_with_reason(rt, org, wk):
    seed(wk, "candidate_moved_disqualified.json")
    found = by_type(deliver(rt, org, wk, "candidate_moved_disqualified.json"))
    rejected = found[EventType.APPLICATION_REJECTED]
    assert rejected.id == f"workable:application:{CID}:rejected:2026-10-30T16:20:00Z"
    assert rejected.occurred_at == at("2026-10-30T16:20:00Z")
    assert rejected.reason == "Position filled"
    assert rejected.ats_notification is AtsNotification.UNKNOWN
    assert set(found) == {EventType.APPLICATION_CREATED, EventType.APPLICATION_STAGE_CHANGED,
                          EventType.APPLICATION_REJECTED}


def test_candidate_deleted_is_an_erasure_once_the_api_says_not_found(rt, org, wk):
    events = deliver(rt, org, wk, "candidate_deleted.json")  # the stand-in does not know the candidate
    assert len(events) == 1
    erased = events[0]
    assert erased.type is EventType.CANDIDATE_ERASED
    assert erased.id == f"workable:candidate:{CID}:erased"
    assert erased.reason is ErasureReason.DELETED
    assert erased.candidate is not None and erased.candidate.id == CID and erased.candidate.email is None
    assert [r.path for r in wk.requests] == [f"/spi/v3/candidates/{CID}", "/spi/v3/candidates"]


def test_a_not_found_from_a_wrong_account_url_erases_nobody(rt, org, wk):
    with ctx_for(rt, org, wk, options={"api_base_url": wk.url + "/wrong/spi/v3"}) as ctx:
        with pytest.raises(PermanentAtsError) as raised:
            ADAPTER.events_from_webhook(webhook(fixture_bytes("workable", "candidate_deleted.json")), ctx)
    assert raised.value.status == 404


def test_webhook_is_a_hint_the_fetched_state_wins(rt, org, wk):
    # The body (sent before the recruiter disqualified) says "Interview, qualified"; the API knows better.
    seed(wk, "candidate_moved.json")
    wk.disqualify(CID, at="2026-10-29T08:00:00Z", reason="Not a fit")
    found = by_type(deliver(rt, org, wk, "candidate_moved.json"))
    assert found[EventType.APPLICATION_REJECTED].reason == "Not a fit"
    assert found[EventType.APPLICATION_REJECTED].occurred_at == at("2026-10-29T08:00:00Z")


def test_revert_disqualification_reopens_a_known_application(rt, org, wk, clock):
    seed(wk, "candidate_moved_disqualified.json")
    rejected = deliver(rt, org, wk, "candidate_moved_disqualified.json")
    record(org, rejected)
    wk.revert(CID, at="2026-10-31T09:00:00Z")
    found = by_type(deliver(rt, org, wk, "candidate_moved_disqualified.json"))  # a replay of the old body
    reopened = found[EventType.APPLICATION_REOPENED]
    assert reopened.id == f"workable:application:{CID}:reopened:2026-10-31T09:00:00Z"
    assert reopened.occurred_at == at("2026-10-31T09:00:00Z")
    assert EventType.APPLICATION_REJECTED not in found
    assert record(org, [reopened])["applied"] == 1


def test_move_out_of_the_hired_stage_reopens_a_known_application(rt, org, wk):
    seed(wk, "candidate_moved_hired.json")
    record(org, deliver(rt, org, wk, "candidate_moved_hired.json"))
    wk.move(CID, "offer", at="2026-11-02T12:00:00Z")
    found = by_type(deliver(rt, org, wk, "candidate_moved_hired.json"))
    assert EventType.APPLICATION_HIRED not in found
    assert found[EventType.APPLICATION_REOPENED].occurred_at == at("2026-11-02T12:00:00Z")
    assert record(org, [found[EventType.APPLICATION_REOPENED]])["applied"] == 1


def test_custom_stage_of_kind_hired_is_a_hire(rt, org, wk):
    wk.stages.append({"slug": "welcome-aboard", "name": "Welcome aboard!", "kind": "hired", "position": 6})
    seed(wk, "candidate_created.json")
    wk.move(CID, "welcome-aboard", at="2026-11-02T09:00:00Z")
    found = by_type(deliver(rt, org, wk, "candidate_created.json"))
    assert found[EventType.APPLICATION_HIRED].id == f"workable:application:{CID}:hired:2026-11-02T09:00:00Z"
    assert found[EventType.APPLICATION_STAGE_CHANGED].application.stage == "Welcome aboard!"  # type: ignore[union-attr]


def test_hired_at_left_over_on_a_non_hired_stage_is_not_a_hire(rt, org, wk):
    cid = wk.add_candidate(at="2026-10-26T09:00:00Z", stage="offer")
    wk.update(cid, at="2026-10-30T09:00:00Z", hired_at="2026-10-29")  # moved back after a hire
    with ctx_for(rt, org, wk) as ctx:
        events = valid(ADAPTER.events_from_records([wk.listed(cid)], ctx))
    assert EventType.APPLICATION_HIRED not in by_type(events)


def test_withdrawn_candidate_is_a_withdrawal_not_a_rejection(rt, org, wk):
    cid = wk.add_candidate(at="2026-10-26T09:00:00Z", stage="interview")
    wk.disqualify(cid, at="2026-10-30T10:00:00Z", withdrew=True)
    with ctx_for(rt, org, wk) as ctx:
        found = by_type(valid(ADAPTER.events_from_records([wk.listed(cid)], ctx)))
    assert found[EventType.APPLICATION_WITHDRAWN].id == f"workable:application:{cid}:withdrawn:2026-10-30T10:00:00Z"
    assert EventType.APPLICATION_REJECTED not in found


def test_stages_unreadable_without_scope_still_maps_candidates(rt, org, wk):
    cid = wk.add_candidate(at="2026-10-26T09:00:00Z", stage="hired")
    wk.fail_next(403)  # GET /stages: a token without r_jobs
    with ctx_for(rt, org, wk) as ctx:
        found = by_type(valid(ADAPTER.events_from_records([wk.listed(cid)], ctx)))
    assert EventType.APPLICATION_HIRED in found
    assert found[EventType.APPLICATION_STAGE_CHANGED].application.stage == "hired"  # type: ignore[union-attr]


def test_stages_are_fetched_once_per_run(rt, org, wk):
    first, second = (wk.add_candidate(at="2026-10-26T09:00:00Z") for _ in range(2))
    with ctx_for(rt, org, wk) as ctx:
        valid(ADAPTER.events_from_records([wk.listed(first), wk.listed(second)], ctx))
        ADAPTER.events_from_webhook(webhook({"data": {"id": first}}), ctx)
    assert [r.path for r in wk.requests].count("/spi/v3/stages") == 1


# -- unreadable payloads and configuration ------------------------------------------------------

@pytest.mark.parametrize("payload, message", [
    ({"data": {"firstname": "Ada"}}, "data.id is missing"),
    ({"candidate": {"id": CID}}, "no 'data' object"),
    ([], "no 'data' object"),
])
def test_unreadable_payload_names_the_field(rt, org, wk, payload, message):
    with ctx_for(rt, org, wk) as ctx, pytest.raises(AdapterError, match=message):
        ADAPTER.events_from_webhook(webhook(payload), ctx)
    assert wk.requests == []


def test_candidate_without_job_shortcode_is_unreadable(rt, org, wk):
    cid = wk.add_candidate(at="2026-10-26T09:00:00Z")
    wk.candidates[cid]["job"] = {"title": "Office Manager"}
    with ctx_for(rt, org, wk) as ctx, pytest.raises(AdapterError, match="job.shortcode"):
        ADAPTER.events_from_webhook(webhook({"data": {"id": cid}}), ctx)


def test_base_url_comes_from_the_subdomain(rt, org):
    with context(rt, org.id, "workable", options={"subdomain": "acme"}) as ctx:
        assert api_base_url(ctx) == "https://acme.workable.com/spi/v3"


@pytest.mark.parametrize("options", [{}, {"subdomain": "acme.evil.example/x"}, {"subdomain": ""}])
def test_missing_or_bad_subdomain_is_a_clear_error(rt, org, options):
    with context(rt, org.id, "workable", credentials={"api_token": TOKEN}, options=options) as ctx:
        with pytest.raises(AdapterError, match="options.subdomain"):
            ADAPTER.events_from_webhook(webhook(fixture_bytes("workable", "candidate_moved.json")), ctx)


def test_missing_api_token_is_a_clear_error(rt, org, wk):
    with ctx_for(rt, org, wk, credentials={}) as ctx, pytest.raises(AdapterError, match="api_token"):
        ADAPTER.events_from_webhook(webhook(fixture_bytes("workable", "candidate_moved.json")), ctx)


# -- signature, ping, delivery id ---------------------------------------------------------------

def signed(body: bytes, secret: str = "s3cret", header: str = "X-Workable-Signature") -> Any:
    return webhook(body, {header: hmac_sha256_hex(secret, body)})


def test_signature_valid():
    body = fixture_bytes("workable", "candidate_moved.json")
    assert ADAPTER.verify(signed(body), ["s3cret"])


def test_signature_uppercase_hex_accepted():
    body = fixture_bytes("workable", "candidate_moved.json")
    assert ADAPTER.verify(webhook(body, {"X-Workable-Signature": hmac_sha256_hex("s3cret", body).upper()}),
                          ["s3cret"])


def test_signature_wrong_secret_rejected():
    body = fixture_bytes("workable", "candidate_moved.json")
    assert not ADAPTER.verify(signed(body, secret="other"), ["s3cret"])


def test_signature_missing_rejected():
    assert not ADAPTER.verify(webhook(fixture_bytes("workable", "candidate_moved.json")), ["s3cret"])


def test_signature_over_tampered_body_rejected():
    body = fixture_bytes("workable", "candidate_moved.json")
    tampered = body.replace(b'"Interview"', b'"Hired"')
    request = webhook(tampered, {"X-Workable-Signature": hmac_sha256_hex("s3cret", body)})
    assert not ADAPTER.verify(request, ["s3cret"])


def test_signature_second_secret_matches_during_rotation():
    body = fixture_bytes("workable", "candidate_moved.json")
    assert ADAPTER.verify(signed(body, secret="old-token"), ["new-token", "old-token"])
    assert not ADAPTER.verify(signed(body, secret="older-token"), ["new-token", "old-token"])


def test_no_ping_and_no_delivery_id_are_documented():
    request = signed(fixture_bytes("workable", "candidate_created.json"))
    assert ADAPTER.is_ping(request) is False
    assert ADAPTER.is_ping(signed(b"{}")) is False
    assert ADAPTER.delivery_id(request) is None  # the core dedupes on a body hash
    assert ADAPTER.event_name(request) == "candidate_event"
    assert ADAPTER.event_name(signed(json.dumps({"event_type": "candidate_moved", "data": {}}).encode())) == (
        "candidate_moved")


def test_registered_under_workable():
    adapter = registry_get("workable")
    assert isinstance(adapter, WorkableAdapter)
    assert (adapter.title, adapter.success_status, adapter.required_credentials) == ("Workable", 200, ("api_token",))


# -- REST client ---------------------------------------------------------------------------------

def test_rest_client_sends_the_bearer_token(rt, org, wk):
    seed(wk, "candidate_moved.json")
    deliver(rt, org, wk, "candidate_moved.json")
    assert wk.requests and all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in wk.requests)
    assert wk.requests[0].headers["accept"] == "application/json"


def test_rest_client_wrong_token_is_permanent(rt, org, wk):
    seed(wk, "candidate_moved.json")
    with pytest.raises(PermanentAtsError) as raised:
        deliver(rt, org, wk, "candidate_moved.json", credentials={"api_token": "revoked"})
    assert raised.value.status == 401


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rest_client_rate_limit_and_server_errors_are_transient(rt, org, wk, status):
    seed(wk, "candidate_moved.json")
    wk.fail_next(status)
    with pytest.raises(TransientAtsError) as raised:
        deliver(rt, org, wk, "candidate_moved.json")
    assert raised.value.status == status
    if status == 429:
        assert raised.value.retry_after == 30


def test_paging_next_outside_the_configured_api_is_refused(rt, org, wk, clock):
    cursor = {"phase": "candidates", "updated_after": "2026-10-19T14:00:00Z", "start_date": "2026-10-19T14:00:00Z",
              "next": "https://evil.example/spi/v3/candidates?since_id=1"}
    with ctx_for(rt, org, wk) as ctx, pytest.raises(AdapterError, match="outside"):
        ADAPTER.fetch_changes(ctx, cursor)
    assert wk.requests == []


# -- reconciliation poll -------------------------------------------------------------------------

def poll_pass(ctx: Context, cursor: dict[str, Any] | None) -> tuple[list[list[dict[str, Any]]], dict[str, Any]]:
    """Pages until `more` is false, like the core's poll loop."""
    pages: list[list[dict[str, Any]]] = []
    for _ in range(20):
        page = ADAPTER.fetch_changes(ctx, cursor)
        json.dumps(page.cursor)  # cursors are stored as JSON
        pages.append(page.records)
        cursor = page.cursor
        if not page.more:
            return pages, cursor
    raise AssertionError("the poll never finished")


def test_first_poll_looks_back_and_follows_paging(rt, org, wk, clock):
    wk.add_candidate(at="2026-10-01T09:00:00Z", name="Old Timer")  # before the 14-day look-back
    recent = [wk.add_candidate(at=f"2026-10-2{day}T09:00:00Z", name=f"Recent {day}") for day in (6, 7, 8)]
    wk.max_page_size = 2
    with ctx_for(rt, org, wk) as ctx:
        first = ADAPTER.fetch_changes(ctx, None)
        assert wk.requests[0].param("updated_after") == "2026-10-19T14:00:00Z"  # now - 14 days
        assert wk.requests[0].param("limit") == "100"
        assert [r["id"] for r in first.records] == recent[:2] and first.more
        assert first.cursor["next"] and first.cursor["updated_after"] == "2026-10-19T14:00:00Z"
        second = ADAPTER.fetch_changes(ctx, first.cursor)
    assert wk.requests[1].param("since_id") == recent[2]  # the documented `paging.next` was followed
    assert [r["id"] for r in second.records] == recent[2:] and second.more
    assert second.cursor["phase"] == "interviews" and second.cursor["next"] is None
    assert second.cursor["updated_after"] == "2026-10-28T09:00:00Z"  # the newest updated_at seen


def test_poll_lookback_is_configurable(rt, org, wk, clock):
    with ctx_for(rt, org, wk, options={"poll_lookback_days": 3}) as ctx:
        ADAPTER.fetch_changes(ctx, None)
    assert wk.requests[0].param("updated_after") == "2026-10-30T14:00:00Z"


def test_second_poll_returns_only_newer_records(rt, org, wk, clock):
    first, second = (wk.add_candidate(at=f"2026-10-2{d}T09:00:00Z") for d in (6, 7))
    with ctx_for(rt, org, wk) as ctx:
        pages, cursor = poll_pass(ctx, None)
    assert [r["id"] for r in pages[0]] == [first, second]
    wk.move(first, "interview", at="2026-11-02T15:00:00Z")
    third = wk.add_candidate(at="2026-11-02T15:30:00Z")
    clock.advance(timedelta(hours=2))
    with ctx_for(rt, org, wk) as ctx:
        pages, cursor = poll_pass(ctx, cursor)
    assert [r["id"] for r in pages[0]] == [first, third]
    assert cursor["updated_after"] == "2026-11-02T15:30:00Z"
    with ctx_for(rt, org, wk) as ctx:
        pages, _ = poll_pass(ctx, cursor)
    assert pages[0] == []


def test_poll_resumes_an_interrupted_page_from_the_cursor(rt, org, wk, clock):
    ids = [wk.add_candidate(at=f"2026-10-2{d}T09:00:00Z") for d in (5, 6, 7)]
    wk.max_page_size = 2
    with ctx_for(rt, org, wk) as ctx:
        first = ADAPTER.fetch_changes(ctx, None)
        wk.fail_next(503)
        with pytest.raises(TransientAtsError):
            ADAPTER.fetch_changes(ctx, first.cursor)
        again = ADAPTER.fetch_changes(ctx, first.cursor)  # the core keeps the last saved cursor
    assert [r["id"] for r in again.records] == ids[2:]


def test_poll_reads_interviews_scheduled_and_cancelled(rt, org, wk, clock):
    cid = wk.add_candidate(at="2026-10-26T09:00:00Z", stage="interview")
    upcoming = wk.add_interview(cid, starts_at="2026-11-04T15:00:00.000Z", ends_at="2026-11-04T16:00:00.000Z")
    cancelled = wk.add_interview(cid, starts_at="2026-11-05T15:00:00Z", ends_at="2026-11-05T15:30:00Z",
                                 cancelled=True)
    wk.add_interview(cid, starts_at="2026-11-05T17:00:00Z", ends_at="2026-11-05T17:15:00Z", event_type="call")
    with ctx_for(rt, org, wk) as ctx:
        pages, cursor = poll_pass(ctx, None)
        events = valid(ADAPTER.events_from_records([r for page in pages for r in page], ctx))
    query = next(r for r in wk.requests if r.path == "/spi/v3/events")
    assert (query.param("type"), query.param("include_cancelled")) == ("interview", "true")
    assert query.param("start_date") == "2026-10-19T14:00:00Z"
    interviews = {e.interview.id: e for e in events if e.interview is not None}
    assert set(interviews) == {upcoming, cancelled}
    scheduled = interviews[upcoming]
    assert scheduled.type is EventType.INTERVIEW_SCHEDULED
    assert scheduled.id == f"workable:interview:{upcoming}:scheduled:2026-11-04T15:00:00Z:2026-11-04T16:00:00Z"
    assert scheduled.interview is not None and scheduled.interview.ends_at == at("2026-11-04T16:00:00Z")
    assert scheduled.application is not None and scheduled.application.id == cid
    assert scheduled.job is not None and scheduled.job.id == "GROOV005"
    assert scheduled.candidate is not None and scheduled.candidate.name == "Ada Lovelace"
    assert scheduled.occurred_at == clock.now()  # Workable gives no time of scheduling
    assert interviews[cancelled].type is EventType.INTERVIEW_CANCELLED
    assert interviews[cancelled].id == f"workable:interview:{cancelled}:cancelled"
    assert cursor["start_date"] == "2026-11-01T14:00:00Z"  # next pass: a day before now


def test_rescheduled_interview_gets_a_new_event_id(rt, org, wk, clock):
    cid = wk.add_candidate(at="2026-10-26T09:00:00Z")
    interview = wk.add_interview(cid, starts_at="2026-11-04T15:00:00Z", ends_at="2026-11-04T16:00:00Z")
    record = dict(wk.events[interview])
    with ctx_for(rt, org, wk) as ctx:
        before = valid(ADAPTER.events_from_records([record], ctx))
        record.update(starts_at="2026-11-06T15:00:00Z", ends_at="2026-11-06T16:00:00Z")
        after = valid(ADAPTER.events_from_records([record], ctx))
    assert before[0].id != after[0].id


def test_interviews_unreadable_without_scope_do_not_stop_the_poll(rt, org, wk, clock):
    wk.add_candidate(at="2026-10-26T09:00:00Z")
    with ctx_for(rt, org, wk) as ctx:
        first = ADAPTER.fetch_changes(ctx, None)
        wk.fail_next(403)  # GET /events without r_jobs
        last = ADAPTER.fetch_changes(ctx, first.cursor)
    assert last.records == [] and last.more is False and last.cursor["phase"] == "candidates"


def test_webhook_and_poll_give_identical_event_ids(rt, org, wk, clock):
    # The detail says stage "Phone Screen" (a name), the list says "phone-screen" (a slug).
    cid = wk.add_candidate(at="2026-10-26T09:00:00Z", stage="applied")
    wk.move(cid, "phone-screen", at="2026-10-29T10:00:00Z")
    wk.disqualify(cid, at="2026-10-30T11:00:00Z", reason="Salary expectations")
    with ctx_for(rt, org, wk) as ctx:
        from_webhook = valid(ADAPTER.events_from_webhook(webhook({"data": {"id": cid}}), ctx))
        pages, _ = poll_pass(ctx, None)
        from_poll = valid(ADAPTER.events_from_records(pages[0], ctx))
    assert sorted(e.id for e in from_webhook) == sorted(e.id for e in from_poll)
    assert len(from_webhook) == 3
    rejected = by_type(from_webhook)[EventType.APPLICATION_REJECTED]
    assert rejected.id == f"workable:application:{cid}:rejected:2026-10-30T11:00:00Z"


def test_a_rejection_missed_by_webhooks_is_caught_by_the_poll(rt, org, wk, clock):
    seed(wk, "candidate_moved.json")
    record(org, deliver(rt, org, wk, "candidate_moved.json"))
    wk.disqualify(CID, at="2026-10-30T16:20:00Z", reason="Position filled")  # its webhook is lost
    with ctx_for(rt, org, wk) as ctx:
        pages, _ = poll_pass(ctx, None)
        events = valid(ADAPTER.events_from_records([r for page in pages for r in page], ctx))
    rejected = by_type(events)[EventType.APPLICATION_REJECTED]
    assert rejected.reason == "Position filled"
    result = record(org, events)
    assert result["applied"] >= 1


# -- end to end ----------------------------------------------------------------------------------

def test_end_to_end_poll_finds_the_interview_and_a_signed_webhook_brings_the_rejection_email(
        org, rt, wk, tick, clock, outbox):
    cid = wk.add_candidate(at="2026-10-26T09:00:00Z", stage="interview", email="ada@example.com")
    wk.add_interview(cid, starts_at="2026-11-02T12:00:00Z", ends_at="2026-11-02T13:00:00Z")  # ended at 08:00 NY
    conn = connect(org, "workable", signing_secret=TOKEN, credentials={"api_token": TOKEN},
                   options={"api_base_url": wk.api_url})
    tick()  # the first poll: Workable sends no interview webhooks, the poll finds the one that ended
    assert [ob.application_id for ob in obligations(rt.db)]
    wk.disqualify(cid, at="2026-11-02T14:10:00Z", reason="Position filled")
    clock.advance(timedelta(minutes=5))  # the next poll is due at 14:15: this is the webhook's work
    body = json.dumps({"data": {"id": cid, "stage": "Interview", "disqualified": False}}).encode()
    headers = {"Content-Type": "application/json", "X-Workable-Signature": hmac_sha256_hex(TOKEN, body)}
    response = org.client.post(conn["webhook_path"], data=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert org.client.post(conn["webhook_path"], data=body, headers=headers).get_json()["status"] == "duplicate"
    bad = org.client.post(conn["webhook_path"], data=body, headers={**headers, "X-Workable-Signature": "0" * 64})
    assert bad.status_code == 401
    tick(by=timedelta(minutes=1))
    with rt.db.session() as session:
        webhook_rows = session.scalars(select(AtsDelivery).where(AtsDelivery.kind == DeliveryKind.WEBHOOK)).all()
        assert [(d.state, d.vendor_event) for d in webhook_rows] == [(DeliveryState.PROCESSED, "candidate_event")]
        assert session.scalar(select(InboundEvent.outcome).where(
            InboundEvent.event_id == f"workable:application:{cid}:rejected:2026-11-02T14:10:00Z")) is not None
    until = datetime(2026, 11, 4, 23, tzinfo=UTC)
    while clock.now() < until:
        tick(by=timedelta(minutes=30))
    [rejection] = sent(rt.db, "rejection")
    assert rejection.recipient_email == "ada@example.com"
    assert any(message["To"] and "ada@example.com" in message["To"] for message in outbox())
