"""Ashby adapter: fixtures -> canonical events, signatures, ping, the REST client and the incremental poll.

The fixtures are constructed from Ashby's schemas (tests/fixtures/ats/ashby/SOURCES.md); the REST calls
go to a local stand-in of Ashby's API (tests/standins/ashby.py).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ats_support import FIXTURES, context, fixture_bytes, fixture_json, webhook
from helpers import event as canonical
from helpers import interview_done, notifications
from standins.ashby import API_KEY, AshbyStandIn

from plugin.ats.ashby import AshbyAdapter
from plugin.ats.base import AdapterError, Context
from plugin.ats.http import PermanentAtsError, TransientAtsError
from plugin.ats.signing import hmac_sha256_hex
from plugin.events.schemas import load_events
from plugin.events.types import AtsNotification, CanonicalEvent, ErasureReason, EventType
from plugin.models import NotificationState, Organization
from plugin.sla.ledger import record_event

ADAPTER = AshbyAdapter()
NOW = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # conftest START: the frozen clock
APP = "3ae2b801-19f6-41ef-ad28-214bd731948f"
CANDIDATE = "f8b3c0e2-7d4a-4c1e-9a57-2b6e1d0c9a11"
JOB = "4071538b-3cac-4fbf-ac76-f78ed250ffdd"
HIRED_APP = "0f42c5b7-13d6-47e8-8093-afb0c1d2e3fb"
STAGE_REVIEW = "d7783394-a800-4b9b-882a-fcaffe955b02"
STAGE_ONSITE = "8c2955af-1318-4800-9343-8828bdedd470"
STAGE_ARCHIVED = "b1a0d7c4-3f5e-4e2a-8c9d-6f1e2a3b4c5d"
STAGE_HIRED = "c2b1e8d5-4a6f-4f3b-9d0e-7a2f3b4c5d6e"
SCHEDULE = "9d34f544-c150-4d70-91c4-e8b0b4a72846"
EVENT_1 = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b01"
EVENT_2 = "4a3b2c1d-0e9f-4a8b-9c7d-6e5f4a3b2c02"
EVENT_3 = "7c1f9284-e0a3-44b5-9d60-7c8d9eafb0c7"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (type, id, occurred_at) per fixture, with an empty database (no application known yet).
EXPECTED: dict[str, list[tuple[EventType, str, datetime]]] = {
    "applicationSubmit.json": [
        (EventType.APPLICATION_CREATED, f"ashby:application:{APP}:created", at("2026-10-20T09:15")),
    ],
    "candidateStageChange.json": [
        (EventType.APPLICATION_STAGE_CHANGED,
         f"ashby:application:{APP}:stage:{STAGE_ONSITE}:2026-10-26T10:00:00.000+00:00", at("2026-10-26T10:00")),
    ],
    "interviewScheduleCreate.json": [
        (EventType.INTERVIEW_SCHEDULED, f"ashby:interview:{EVENT_1}:scheduled:2026-10-26T11:00:00.000+00:00",
         at("2026-10-26T11:00")),
        (EventType.INTERVIEW_SCHEDULED, f"ashby:interview:{EVENT_2}:scheduled:2026-10-26T11:00:00.000+00:00",
         at("2026-10-26T11:00")),
    ],
    "interviewScheduleUpdate-waiting_on_feedback.json": [
        (EventType.INTERVIEW_COMPLETED, f"ashby:interview:{EVENT_1}:completed", at("2026-10-29T17:05")),
        (EventType.INTERVIEW_COMPLETED, f"ashby:interview:{EVENT_2}:completed", at("2026-10-29T17:05")),
    ],
    "interviewScheduleUpdate-complete.json": [
        (EventType.INTERVIEW_COMPLETED, f"ashby:interview:{EVENT_1}:completed", at("2026-10-30T12:00")),
        (EventType.INTERVIEW_COMPLETED, f"ashby:interview:{EVENT_2}:completed", at("2026-10-30T12:00")),
    ],
    "interviewScheduleUpdate-cancelled.json": [
        (EventType.INTERVIEW_CANCELLED, f"ashby:interview:{EVENT_3}:cancelled:2026-10-28T09:00:00.000+00:00",
         at("2026-10-28T09:00")),
    ],
    "applicationUpdate-archived.json": [
        (EventType.APPLICATION_STAGE_CHANGED,
         f"ashby:application:{APP}:stage:{STAGE_ARCHIVED}:2026-11-02T13:30:00.000+00:00", at("2026-11-02T13:30")),
        (EventType.APPLICATION_REJECTED, f"ashby:application:{APP}:archived:2026-11-02T13:30:00.000+00:00",
         at("2026-11-02T13:30")),
    ],
    "applicationUpdate-unarchived.json": [
        (EventType.APPLICATION_STAGE_CHANGED,
         f"ashby:application:{APP}:stage:{STAGE_ONSITE}:2026-11-02T13:45:00.000+00:00", at("2026-11-02T13:45")),
    ],
    "candidateHire.json": [
        (EventType.APPLICATION_STAGE_CHANGED,
         f"ashby:application:{HIRED_APP}:stage:{STAGE_HIRED}:2026-10-31T16:20:00.000+00:00", at("2026-10-31T16:20")),
        (EventType.APPLICATION_HIRED, f"ashby:application:{HIRED_APP}:hired:2026-10-31T16:20:00.000+00:00",
         at("2026-10-31T16:20")),
    ],
    "jobUpdate-closed.json": [
        (EventType.JOB_CLOSED, f"ashby:job:{JOB}:closed:2026-11-01T18:00:00.000+00:00", at("2026-11-01T18:00")),
    ],
    "jobUpdate-open.json": [
        (EventType.JOB_REOPENED, f"ashby:job:{JOB}:open:2026-11-01T20:00:00.000+00:00", at("2026-11-01T20:00")),
    ],
    "candidateDelete.json": [
        (EventType.CANDIDATE_ERASED, "ashby:candidate:e5978ba0-c365-4e7f-8081-5c6d7e8f9a03:deleted", NOW),
    ],
    "candidateMerge.json": [
        (EventType.CANDIDATE_ERASED,
         f"ashby:candidate:f6a89cb1-d476-4f80-9192-6d7e8f9a0b14:merged:{CANDIDATE}", NOW),
    ],
    "ping.json": [],
    "surveySubmit.json": [],
}


# -- fixtures and helpers ----------------------------------------------------------------------------

@pytest.fixture
def ashby(vendor_env: None) -> Iterator[AshbyStandIn]:
    """The stand-in, holding the fixtures' application (as application.info would return it) and stages."""
    with AshbyStandIn() as standin:
        standin.put_application(application("applicationSubmit.json"))
        for name in ("applicationSubmit.json", "candidateStageChange.json", "applicationUpdate-archived.json",
                     "candidateHire.json"):
            standin.put_stage(application(name)["currentInterviewStage"])
        yield standin  # type: ignore[misc]


def application(name: str) -> dict[str, Any]:
    return copy.deepcopy(fixture_json("ashby", name)["data"]["application"])


def schedule(name: str) -> dict[str, Any]:
    return copy.deepcopy(fixture_json("ashby", name)["data"]["interviewSchedule"])


def options(standin: AshbyStandIn, **extra: Any) -> dict[str, Any]:
    return {"api_base_url": standin.url, **extra}


def creds(key: str = API_KEY) -> dict[str, str]:
    return {"api_key": key}


def signed(body: bytes, secret: str = "s3cret") -> dict[str, str]:
    return {"Ashby-Signature": "sha256=" + hmac_sha256_hex(secret, body), "Content-Type": "application/json"}


def from_fixture(name: str, ctx: Context) -> list[CanonicalEvent]:
    body = fixture_bytes("ashby", name)
    return ADAPTER.events_from_webhook(webhook(body, signed(body)), ctx)


def from_payload(payload: dict[str, Any], ctx: Context) -> list[CanonicalEvent]:
    return ADAPTER.events_from_webhook(webhook(payload), ctx)


def valid(events: list[CanonicalEvent]) -> list[CanonicalEvent]:
    """What the core does too: every emitted event must pass the canonical schema."""
    if events:
        load_events({"events": [e.to_json() for e in events]})
    return events


def seed_application(org: Any, app: str = APP, candidate: str = CANDIDATE, job: str = JOB) -> None:
    """Make the application known to the organisation through the public events API."""
    org.post(canonical("application.created", NOW - timedelta(days=20), app=app, candidate=candidate, job=job))


def full_poll(ctx: Context, cursor: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """Call fetch_changes until it says a poll is over; returns records, cursor and the number of pages."""
    records: list[dict[str, Any]] = []
    pages = 0
    while True:
        page = ADAPTER.fetch_changes(ctx, cursor)
        json.dumps(page.cursor)  # cursors are stored as JSON
        records += page.records
        cursor, pages = dict(page.cursor), pages + 1
        if not page.more:
            return records, cursor, pages
        assert pages < 50, "the poll never ends"


# -- every fixture through the adapter ---------------------------------------------------------------

def test_every_fixture_file_has_expectations() -> None:
    files = {p.name for p in (FIXTURES / "ashby").glob("*.json")}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_becomes_the_expected_canonical_events(rt: Any, org: Any, ashby: AshbyStandIn, name: str) -> None:
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        events = valid(from_fixture(name, ctx))
    assert [(e.type, e.id, e.occurred_at) for e in events] == EXPECTED[name]
    assert all(len(e.id) <= 200 for e in events)


def test_application_refs_carry_candidate_job_and_hiring_team(rt: Any, org: Any) -> None:
    with context(rt, org.id, "ashby") as ctx:
        (created,) = valid(from_fixture("applicationSubmit.json", ctx))
    assert created.candidate is not None and created.job is not None and created.application is not None
    assert (created.candidate.id, created.candidate.name, created.candidate.email) == (
        CANDIDATE, "Ada Lovelace", "ada.lovelace@example.com")
    assert (created.job.id, created.job.title) == (JOB, "Staff Backend Engineer")
    assert created.job.hiring_manager is not None and created.job.recruiter is not None
    assert (created.job.hiring_manager.name, created.job.hiring_manager.email) == (
        "Grace Hopper", "grace.hopper@acme.example")
    assert (created.job.recruiter.name, created.job.recruiter.email) == ("Alan Turing", "alan.turing@acme.example")
    assert (created.application.id, created.application.stage) == (APP, "Application Review")


def test_archived_application_is_a_rejection_with_its_reason(rt: Any, org: Any) -> None:
    with context(rt, org.id, "ashby") as ctx:
        stage, rejected = valid(from_fixture("applicationUpdate-archived.json", ctx))
    assert rejected.reason == "Not a fit for the role"
    assert rejected.ats_notification is AtsNotification.UNKNOWN  # Ashby does not say whether it emailed
    assert stage.application is not None and stage.application.stage == "Archived"


def test_archive_reason_rejected_by_candidate_is_a_withdrawal(rt: Any, org: Any) -> None:
    payload = fixture_json("ashby", "applicationUpdate-archived.json")
    payload["data"]["application"]["archiveReason"].update(text="Accepted another offer",
                                                           reasonType="RejectedByCandidate")
    with context(rt, org.id, "ashby") as ctx:
        _, withdrawn = valid(from_payload(payload, ctx))
    assert (withdrawn.type, withdrawn.reason) == (EventType.APPLICATION_WITHDRAWN, "Accepted another offer")
    assert withdrawn.id == f"ashby:application:{APP}:archived:2026-11-02T13:30:00.000+00:00"


def test_active_again_reopens_an_application_we_hold(rt: Any, org: Any) -> None:
    seed_application(org)
    with context(rt, org.id, "ashby") as ctx:
        events = valid(from_fixture("applicationUpdate-unarchived.json", ctx))
    reopened = [e for e in events if e.type is EventType.APPLICATION_REOPENED]
    assert [(e.id, e.occurred_at) for e in reopened] == [
        (f"ashby:application:{APP}:active:2026-11-02T13:45:00.000+00:00", at("2026-11-02T13:45"))]


def test_reject_then_unarchive_sends_no_rejection(rt: Any, org: Any) -> None:
    seed_application(org)
    org.post(interview_done(NOW - timedelta(days=4), interview="i-onsite", app=APP, candidate=CANDIDATE, job=JOB))
    with context(rt, org.id, "ashby") as ctx:
        rejected = from_fixture("applicationUpdate-archived.json", ctx)
        unarchived = from_fixture("applicationUpdate-unarchived.json", ctx)
    apply(rt, org, rejected)
    assert [n.state for n in notifications(rt.db, "rejection")] == [NotificationState.SCHEDULED]
    apply(rt, org, unarchived)
    assert [n.state for n in notifications(rt.db, "rejection")] == [NotificationState.CANCELLED]
    assert application_status(rt, org, APP) == "active"


def test_candidate_erasure_carries_reason_and_survivor(rt: Any, org: Any) -> None:
    with context(rt, org.id, "ashby") as ctx:
        (deleted,) = valid(from_fixture("candidateDelete.json", ctx))
        (merged,) = valid(from_fixture("candidateMerge.json", ctx))
    assert deleted.reason == ErasureReason.DELETED and deleted.merged_into is None
    assert merged.reason == ErasureReason.MERGED and merged.merged_into == CANDIDATE
    assert merged.candidate is not None and merged.candidate.id == "f6a89cb1-d476-4f80-9192-6d7e8f9a0b14"


def test_job_events_carry_title_and_hiring_team(rt: Any, org: Any) -> None:
    with context(rt, org.id, "ashby") as ctx:
        (closed,) = valid(from_fixture("jobUpdate-closed.json", ctx))
    assert closed.job is not None and closed.job.title == "Staff Backend Engineer"
    assert closed.job.hiring_manager is not None and closed.job.hiring_manager.name == "Grace Hopper"


def test_draft_job_means_nothing(rt: Any, org: Any) -> None:
    payload = fixture_json("ashby", "jobUpdate-open.json")
    payload["data"]["job"]["status"] = "Draft"
    with context(rt, org.id, "ashby") as ctx:
        assert from_payload(payload, ctx) == []


# -- interviews --------------------------------------------------------------------------------------

def test_scheduled_interview_events_carry_times_and_stage(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        first, second = valid(from_fixture("interviewScheduleCreate.json", ctx))
    assert first.interview is not None and second.interview is not None
    assert (first.interview.id, first.interview.starts_at, first.interview.ends_at) == (
        EVENT_1, at("2026-10-29T15:00"), at("2026-10-29T16:00"))
    assert (second.interview.id, second.interview.ends_at) == (EVENT_2, at("2026-10-29T17:00"))
    assert first.interview.stage == "Onsite"
    # The schedule names only the application: candidate and job came from application.info.
    assert first.candidate is not None and first.candidate.name == "Ada Lovelace"
    assert first.job is not None and first.job.title == "Staff Backend Engineer"
    assert [r.json() for r in ashby.calls("application.info")] == [{"applicationId": APP}]


def test_schedule_of_a_known_application_asks_no_application_info(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    seed_application(org)
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        events = valid(from_fixture("interviewScheduleCreate.json", ctx) + from_fixture(
            "interviewScheduleUpdate-complete.json", ctx))
    assert ashby.calls("application.info") == []
    assert len(ashby.calls("interviewStage.info")) == 1  # the stage title, once per run (ctx.cache)
    assert {(e.candidate.id, e.job.id, e.application.id) for e in events  # type: ignore[union-attr]
            } == {(CANDIDATE, JOB, APP)}


def test_schedule_of_a_known_application_works_without_api_key(rt: Any, org: Any) -> None:
    seed_application(org)
    with context(rt, org.id, "ashby") as ctx:
        events = valid(from_fixture("interviewScheduleCreate.json", ctx))
    assert [e.interview.stage for e in events] == [None, None]  # type: ignore[union-attr]


def test_unknown_interview_stage_does_not_fail_the_interview(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    seed_application(org)
    ashby.stages.clear()  # interviewStage.info answers success: false
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        events = valid(from_fixture("interviewScheduleCreate.json", ctx))
    assert [e.interview.stage for e in events] == [None, None]  # type: ignore[union-attr]


def test_schedule_of_an_unknown_application_without_api_key_fails_permanently(rt: Any, org: Any) -> None:
    with context(rt, org.id, "ashby") as ctx, pytest.raises(PermanentAtsError, match="api_key"):
        from_fixture("interviewScheduleCreate.json", ctx)


def test_schedule_without_listed_events_asks_interview_event_list(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    ashby.put_schedule(schedule("interviewScheduleUpdate-cancelled.json"))
    payload = fixture_json("ashby", "interviewScheduleUpdate-cancelled.json")
    payload["data"]["interviewSchedule"]["interviewEvents"] = []
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        (cancelled,) = valid(from_payload(payload, ctx))
    assert cancelled.interview is not None and cancelled.interview.id == EVENT_3
    assert [r.json()["interviewScheduleId"] for r in ashby.calls("interviewEvent.list")] == [
        "6b0e8173-df92-43a4-8c5f-6b7c8d9eafb6"]


@pytest.mark.parametrize("status", ["NeedsScheduling", "WaitingOnCandidateBooking", "OnHold", "Unknown"])
def test_schedule_without_a_time_means_nothing(rt: Any, org: Any, status: str) -> None:
    payload = fixture_json("ashby", "interviewScheduleCreate.json")
    payload["data"]["interviewSchedule"]["status"] = status
    with context(rt, org.id, "ashby") as ctx:
        assert from_payload(payload, ctx) == []


def test_waiting_on_feedback_then_complete_is_one_completion(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        waiting = from_fixture("interviewScheduleUpdate-waiting_on_feedback.json", ctx)
        complete = from_fixture("interviewScheduleUpdate-complete.json", ctx)
    outcomes = apply(rt, org, waiting + complete)
    assert outcomes[2:] == ["duplicate", "duplicate"]


# -- unreadable payloads -----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "path", "message"), [
    ("applicationSubmit.json", ["application", "candidate", "id"], "data.application.candidate.id is missing"),
    ("candidateStageChange.json", ["application", "job"], "data.application.job is missing"),
    ("applicationUpdate-archived.json", ["application", "id"], "data.application.id is missing"),
    ("interviewScheduleCreate.json", ["interviewSchedule", "applicationId"],
     "data.interviewSchedule.applicationId is missing"),
    ("jobUpdate-closed.json", ["job", "id"], "data.job.id is missing"),
    ("candidateDelete.json", ["candidate", "id"], "data.candidate.id is missing"),
    ("candidateMerge.json", ["mergedCandidate"], "data.mergedCandidate is missing"),
])
def test_payload_without_ids_names_the_missing_field(rt: Any, org: Any, name: str, path: list[str],
                                                     message: str) -> None:
    payload = fixture_json("ashby", name)
    parent = payload["data"]
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    with context(rt, org.id, "ashby") as ctx, pytest.raises(AdapterError, match=message):
        from_payload(payload, ctx)


def test_scheduled_event_without_end_time_names_the_field(rt: Any, org: Any) -> None:
    seed_application(org)
    payload = fixture_json("ashby", "interviewScheduleCreate.json")
    del payload["data"]["interviewSchedule"]["interviewEvents"][1]["endTime"]
    with context(rt, org.id, "ashby") as ctx, pytest.raises(
            AdapterError, match=r"data.interviewSchedule.interviewEvents\[1\].endTime is missing"):
        from_payload(payload, ctx)


def test_payload_without_data_is_unreadable(rt: Any, org: Any) -> None:
    with context(rt, org.id, "ashby") as ctx, pytest.raises(AdapterError, match="data is missing"):
        from_payload({"webhookActionId": "x", "action": "applicationUpdate"}, ctx)


# -- signatures, ping, delivery ids ------------------------------------------------------------------

def test_signature_over_the_raw_body_is_accepted() -> None:
    body = fixture_bytes("ashby", "applicationSubmit.json")
    assert ADAPTER.verify(webhook(body, signed(body)), ["s3cret"])


def test_wrong_secret_is_refused() -> None:
    body = fixture_bytes("ashby", "applicationSubmit.json")
    assert not ADAPTER.verify(webhook(body, signed(body, "not-the-secret")), ["s3cret"])


def test_missing_signature_is_refused() -> None:
    body = fixture_bytes("ashby", "applicationSubmit.json")
    assert not ADAPTER.verify(webhook(body, {"Content-Type": "application/json"}), ["s3cret"])


def test_tampered_body_is_refused() -> None:
    body = fixture_bytes("ashby", "applicationUpdate-archived.json")
    headers = signed(body)
    tampered = body.replace(b"Not a fit for the role", b"Great fit for the role")
    assert tampered != body
    assert not ADAPTER.verify(webhook(tampered, headers), ["s3cret"])


def test_signature_without_the_algorithm_prefix_is_refused() -> None:
    body = fixture_bytes("ashby", "applicationSubmit.json")
    assert not ADAPTER.verify(webhook(body, {"Ashby-Signature": hmac_sha256_hex("s3cret", body)}), ["s3cret"])


def test_second_secret_during_rotation_is_accepted() -> None:
    body = fixture_bytes("ashby", "candidateHire.json")
    assert ADAPTER.verify(webhook(body, signed(body, "old-secret")), ["new-secret", "old-secret"])
    assert not ADAPTER.verify(webhook(body, signed(body, "older-secret")), ["new-secret", "old-secret"])


def test_no_configured_secret_accepts_nothing() -> None:
    body = fixture_bytes("ashby", "applicationSubmit.json")
    assert not ADAPTER.verify(webhook(body, signed(body)), [])
    assert AshbyAdapter.signing_secret_required is True


def test_ping_is_recognised() -> None:
    assert ADAPTER.is_ping(webhook(fixture_bytes("ashby", "ping.json")))
    assert not any(ADAPTER.is_ping(webhook(fixture_bytes("ashby", name))) for name in EXPECTED if name != "ping.json")
    assert (AshbyAdapter.success_status, AshbyAdapter.provider, AshbyAdapter.title) == (200, "ashby", "Ashby")


def test_event_name_is_the_action() -> None:
    assert ADAPTER.event_name(webhook(fixture_bytes("ashby", "candidateHire.json"))) == "candidateHire"


def test_related_webhooks_are_separate_deliveries_with_the_same_facts(rt: Any, org: Any) -> None:
    """candidateHire also sends applicationUpdate and candidateStageChange with the same webhookActionId."""
    hire = fixture_json("ashby", "candidateHire.json")
    related = [{**hire, "action": action, "data": {"application": hire["data"]["application"]}}
               for action in ("applicationUpdate", "candidateStageChange")]
    requests = [webhook(payload) for payload in [hire, *related]]
    action_id = hire["webhookActionId"]
    assert [ADAPTER.delivery_id(r) for r in requests] == [
        f"{action_id}:candidateHire", f"{action_id}:applicationUpdate", f"{action_id}:candidateStageChange"]
    assert ADAPTER.delivery_id(webhook(hire)) == ADAPTER.delivery_id(requests[0])  # a retry is the same delivery
    with context(rt, org.id, "ashby") as ctx:
        batches = [ADAPTER.events_from_webhook(r, ctx) for r in requests]
    assert [e.id for e in batches[0]] == [e.id for e in batches[1]] == [e.id for e in batches[2]]
    outcomes = apply(rt, org, [e for batch in batches for e in batch])
    assert outcomes[2:] == ["duplicate"] * 4  # the related copies apply once
    assert application_status(rt, org, HIRED_APP) == "hired"


def test_payload_without_webhook_action_id_has_no_delivery_id() -> None:
    assert ADAPTER.delivery_id(webhook({"action": "ping", "data": {"webhookActionType": "ping"}})) is None


# -- REST client against the stand-in ----------------------------------------------------------------

def test_rest_calls_send_the_api_key_as_basic_user(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        from_fixture("interviewScheduleCreate.json", ctx)
    expected = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
    assert ashby.requests and all(r.method == "POST" and r.headers["authorization"] == expected
                                  for r in ashby.requests)


def test_wrong_api_key_is_a_permanent_error(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    with context(rt, org.id, "ashby", credentials=creds("wrong"), options=options(ashby)) as ctx:
        with pytest.raises(PermanentAtsError) as error:
            ADAPTER.fetch_changes(ctx, None)
    assert error.value.status == 401


@pytest.mark.parametrize("status", [404, 403])
def test_other_client_errors_are_permanent(rt: Any, org: Any, ashby: AshbyStandIn, status: int) -> None:
    ashby.fail_next(status)
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        with pytest.raises(PermanentAtsError):
            ADAPTER.fetch_changes(ctx, None)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_outages_are_transient(rt: Any, org: Any, ashby: AshbyStandIn, status: int) -> None:
    ashby.fail_next(status)
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        with pytest.raises(TransientAtsError) as error:
            from_fixture("interviewScheduleCreate.json", ctx)
    if status == 429:
        assert error.value.retry_after == 30


def test_refusal_with_success_false_is_permanent_and_named(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    ashby.applications.clear()  # application.info answers success: false, application_not_found
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        with pytest.raises(PermanentAtsError, match="application_not_found"):
            from_fixture("interviewScheduleCreate.json", ctx)


# -- reconciliation ----------------------------------------------------------------------------------

def recent_application(app_id: str, updated: datetime, **changes: Any) -> dict[str, Any]:
    app = application("candidateStageChange.json")
    stamp = updated.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    app.update(id=app_id, updatedAt=stamp, createdAt=stamp, **changes)
    return app


def test_first_poll_looks_back_and_ends_with_sync_tokens(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    ashby.applications.clear()
    ashby.put_application(recent_application("old-app", NOW - timedelta(days=30)))
    ashby.put_application(recent_application("new-app", NOW - timedelta(days=2)))
    ashby.put_schedule(schedule("interviewScheduleCreate.json"))
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        records, cursor, pages = full_poll(ctx, None)
    assert [r["id"] for r in records] == ["new-app", SCHEDULE]  # old-app is beyond the 14-day look-back
    assert pages == 2  # one page of applications, then one of interview schedules
    # A first poll is a full sync (that is how Ashby hands out sync tokens): no token was sent.
    assert all("syncToken" not in r.json() for r in ashby.requests)
    assert cursor["application.list"]["syncToken"] and cursor["interviewSchedule.list"]["syncToken"]
    assert cursor["stream"] == "application.list"


def test_look_back_follows_the_connection_option(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    ashby.applications.clear()
    ashby.put_application(recent_application("old-app", NOW - timedelta(days=30)))
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby, poll_lookback_days=40)) as ctx:
        records, _, _ = full_poll(ctx, None)
    assert [r["id"] for r in records] == ["old-app"]


def test_poll_follows_pagination(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    ashby.applications.clear()
    ashby.page_size = 2
    for n in range(5):
        ashby.put_application(recent_application(f"app-{n}", NOW - timedelta(hours=n + 1)))
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        first = ADAPTER.fetch_changes(ctx, None)
        assert first.more and first.cursor["application.list"]["nextCursor"]
        records, _, pages = full_poll(ctx, first.cursor)
    assert [r["id"] for r in first.records + records] == [f"app-{n}" for n in range(5)]
    assert pages == 3  # two more application pages, then the schedules
    sent_cursors = [r.json().get("cursor") for r in ashby.calls("application.list")]
    assert sent_cursors[0] is None and all(sent_cursors[1:])


def test_second_poll_returns_only_what_changed(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    ashby.applications.clear()
    ashby.put_application(recent_application("app-1", NOW - timedelta(days=1)))
    ashby.put_application(recent_application("app-2", NOW - timedelta(days=1)))
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        _, cursor, _ = full_poll(ctx, None)
        ashby.modify_application("app-2", status="Archived", archivedAt="2026-11-02T13:50:00.000Z",
                                 updatedAt="2026-11-02T13:50:00.000Z",
                                 archiveReason={"id": "r-1", "text": "Position filled", "reasonType": "RejectedByOrg",
                                                "isArchived": False, "customFields": []})
        records, cursor, _ = full_poll(ctx, cursor)
        events = valid(ADAPTER.events_from_records(records, ctx))
        again, _, _ = full_poll(ctx, cursor)
    assert [r["id"] for r in records] == ["app-2"]
    assert [r.json().get("syncToken") for r in ashby.calls("application.list")][-2] is not None
    assert "ashby:application:app-2:archived:2026-11-02T13:50:00.000+00:00" in {e.id for e in events}
    assert again == []


def test_too_large_incremental_sync_falls_back_to_a_full_sync(rt: Any, org: Any, ashby: AshbyStandIn,
                                                               clock: Any) -> None:
    ashby.applications.clear()
    ashby.put_application(recent_application("app-1", NOW - timedelta(days=1)))
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        _, cursor, _ = full_poll(ctx, None)
    clock.advance(timedelta(days=3))
    later = NOW + timedelta(days=3)
    ashby.put_application(recent_application("app-2", later - timedelta(hours=1)))
    ashby.reject_incremental()
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        dropped = ADAPTER.fetch_changes(ctx, cursor)
        assert (dropped.records, dropped.more) == ([], True)
        assert dropped.cursor["application.list"]["syncToken"] is None
        records, cursor, _ = full_poll(ctx, dropped.cursor)
    full_sync = ashby.calls("application.list")[-1].json()
    assert "syncToken" not in full_sync  # the token was discarded
    # The full sync keeps only what changed since the last completed pass (app-1 is older than that).
    assert [r["id"] for r in records] == ["app-2"]
    assert cursor["application.list"]["syncToken"]


def test_webhook_and_poll_give_the_same_event_ids(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    ashby.applications.clear()
    ashby.put_application(application("applicationUpdate-archived.json"))
    ashby.put_schedule(schedule("interviewScheduleUpdate-complete.json"))
    ashby.put_application(application("candidateHire.json"))
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        records, _, _ = full_poll(ctx, None)
        polled = {e.id: e for e in valid(ADAPTER.events_from_records(records, ctx))}
        hooked = [e for name in ("applicationUpdate-archived.json", "interviewScheduleUpdate-complete.json",
                                 "candidateHire.json") for e in from_fixture(name, ctx)]
    assert hooked and all(polled[e.id] == e for e in hooked)
    # The poll also states the creation, with the id the applicationSubmit webhook uses.
    with context(rt, org.id, "ashby") as ctx:
        (created,) = from_fixture("applicationSubmit.json", ctx)
    assert created.id in polled


def test_missed_rejection_is_caught_by_the_poll(rt: Any, org: Any, ashby: AshbyStandIn) -> None:
    seed_application(org)
    ashby.applications.clear()
    ashby.put_application(application("applicationUpdate-archived.json"))
    with context(rt, org.id, "ashby", credentials=creds(), options=options(ashby)) as ctx:
        records, _, _ = full_poll(ctx, None)
        events = ADAPTER.events_from_records(records, ctx)
    apply(rt, org, events)
    assert application_status(rt, org, APP) == "rejected"


# -- ledger helpers ----------------------------------------------------------------------------------

def apply(rt: Any, org: Any, events: list[CanonicalEvent]) -> list[str]:
    """Record events through the ledger like the core does; returns each outcome ("duplicate" when seen)."""
    outcomes = []
    with rt.db.session() as session:
        organization = session.get(Organization, org.id)
        for event in valid(events):
            outcome, _ = record_event(session, organization, event, None, now=NOW, actor="ats:ashby", source="ashby")
            outcomes.append(outcome)
    return outcomes


def application_status(rt: Any, org: Any, external_id: str) -> str:
    from sqlalchemy import select

    from plugin.models import Application

    with rt.db.session() as session:
        app = session.scalar(select(Application).where(Application.org_id == org.id,
                                                       Application.external_id == external_id))
        assert app is not None
        return app.status.value
