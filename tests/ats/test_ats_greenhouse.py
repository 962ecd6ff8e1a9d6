"""Greenhouse adapter: every documented payload, the signature, the Harvest v3 client and the poll.

Payload files are verbatim copies of Greenhouse's docs (tests/fixtures/ats/greenhouse/SOURCES.md).
Where a test needs a variant the docs do not print (a closed job), it edits a parsed copy and says so.
The Harvest v3 side runs against tests/standins/greenhouse.py, a local server with the documented shapes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ats_support import connect, context, fixture_bytes, fixture_json, webhook
from conftest import START
from helpers import event, obligations, sent
from sqlalchemy import select
from standins.greenhouse import GreenhouseStandIn

from plugin.ats.base import AdapterError
from plugin.ats.greenhouse import GreenhouseAdapter
from plugin.ats.greenhouse.client import HarvestClient
from plugin.ats.http import PermanentAtsError, TransientAtsError
from plugin.events.schemas import load_events
from plugin.events.types import AtsNotification, CanonicalEvent, EventType, Person
from plugin.models import InboundEvent

ADAPTER = GreenhouseAdapter()
VENDOR = "greenhouse"
SECRET = "gh-webhook-secret"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def valid(events: list[CanonicalEvent]) -> list[CanonicalEvent]:
    """The core's own check: every event must load through the public event schema."""
    if events:
        load_events({"events": [e.to_json() for e in events]})
    return events


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Signature": "sha256 " + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def translate(rt: Any, org: Any, name: str, **kw: Any) -> list[CanonicalEvent]:
    with context(rt, org.id, VENDOR, **kw) as ctx:
        return valid(ADAPTER.events_from_webhook(webhook(fixture_bytes(VENDOR, name)), ctx))


@pytest.fixture
def gh(vendor_env: None) -> Iterator[GreenhouseStandIn]:
    with GreenhouseStandIn() as standin:
        yield standin


def api(gh: GreenhouseStandIn, **options: Any) -> dict[str, Any]:
    return {"credentials": gh.credentials(), "options": gh.options(**options)}


# -- every documented payload ------------------------------------------------------------------------

def test_new_candidate_application_becomes_application_created(rt, org):
    [created] = translate(rt, org, "new_candidate_application.json")
    assert created.type is EventType.APPLICATION_CREATED
    assert created.id == "greenhouse:application:71980812:created"
    assert created.occurred_at == at("2017-10-27T14:44:43Z")  # applied_at
    assert (created.candidate.id, created.candidate.name) == ("60304594", "Jane Smith")
    assert created.candidate.email == "person@example.com"  # the personal address, not the work one
    assert (created.job.id, created.job.title, created.job.department) == ("274075", "Data Scientist", "Data Science")
    assert created.job.recruiter == Person(name="Betty Smith", email="employee@test.com")
    assert created.job.hiring_manager is None  # hiring_team lists user ids only
    assert (created.application.id, created.application.stage) == ("71980812", "Preliminary Phone Screen")


def test_stage_change_becomes_stage_changed_without_interview_events(rt, org):
    events = translate(rt, org, "candidate_stage_change.json")
    assert [e.type for e in events] == [EventType.APPLICATION_STAGE_CHANGED]  # plan slots are not interviews
    [changed] = events
    assert changed.id == "greenhouse:application:265277:stage:71416:2015-02-09T16:38:36+00:00"
    assert changed.occurred_at == at("2015-02-09T16:38:36Z")  # last_activity_at
    assert changed.application.stage == "Assessment"
    assert (changed.job.id, changed.job.title, changed.job.department) == ("3485", "Designer", "Community")
    assert changed.candidate.email == "giuseppe.hurley@example.com"


def test_reject_candidate_becomes_rejection_with_reason_and_unknown_notification(rt, org):
    [rejected] = translate(rt, org, "reject_candidate.json")
    assert rejected.type is EventType.APPLICATION_REJECTED
    assert rejected.id == "greenhouse:application:265293:rejected:2015-02-11T15:50:41+00:00"
    assert rejected.occurred_at == at("2015-02-11T15:50:41Z")  # rejected_at
    assert rejected.reason == "Too Junior"
    assert rejected.ats_notification is AtsNotification.UNKNOWN
    assert (rejected.candidate.id, rejected.candidate.name) == ("265788", "Hector Porter")
    assert rejected.job.recruiter is None  # the candidate has no recruiter in this payload


def test_unreject_candidate_becomes_reopened(rt, org):
    [reopened] = translate(rt, org, "unreject_candidate.json")
    assert reopened.type is EventType.APPLICATION_REOPENED
    assert reopened.id == "greenhouse:application:265293:reopened:2015-02-11T15:50:41+00:00"
    assert reopened.occurred_at == at("2015-02-11T15:50:41Z")
    assert reopened.application.stage == "Offer"


def test_unhire_candidate_becomes_reopened(rt, org):
    [reopened] = translate(rt, org, "unhire_candidate.json")
    assert reopened.type is EventType.APPLICATION_REOPENED
    assert reopened.id == "greenhouse:application:265293:reopened:2015-03-18T20:28:09+00:00"
    assert reopened.occurred_at == at("2015-03-18T20:28:09Z")


def test_hire_candidate_becomes_hired_when_the_offer_was_accepted(rt, org):
    [hired] = translate(rt, org, "hire_candidate.json")
    assert hired.type is EventType.APPLICATION_HIRED
    assert hired.id == "greenhouse:application:46194062:hired"
    assert hired.occurred_at == at("2014-11-20T22:49:14Z")  # offer.resolved_at
    assert (hired.job.id, hired.job.title, hired.job.department) == ("323753", "Developer", "Technology")
    assert hired.candidate.email == "personal@example.com"
    assert hired.job.recruiter == Person(name="Bob Johnson", email="bob_johnson@localhost.com")


def test_job_updated_closed_becomes_job_closed(rt, org):
    # The docs print only an open job; this is their payload with the two fields a close changes.
    body = fixture_json(VENDOR, "job_updated.json")
    body["payload"]["job"].update(status="closed", closed_at="2015-09-01T12:00:00Z")
    with context(rt, org.id, VENDOR) as ctx:
        [closed] = valid(ADAPTER.events_from_webhook(webhook(body), ctx))
    assert closed.type is EventType.JOB_CLOSED
    assert closed.id == "greenhouse:job:100445:closed:2015-09-01T12:00:00+00:00"
    assert closed.occurred_at == at("2015-09-01T12:00:00Z")
    assert (closed.job.title, closed.job.department) == ("Assistant Store Manager, NYC", "Guideshops")


def test_job_updated_open_without_api_is_dated_by_processing_and_keyed_by_the_delivery(rt, org, clock):
    raw = fixture_bytes(VENDOR, "job_updated.json")
    with context(rt, org.id, VENDOR) as ctx:
        [reopened] = valid(ADAPTER.events_from_webhook(webhook(raw, {"Greenhouse-Event-ID": "evt-77"}), ctx))
        assert ADAPTER.events_from_webhook(webhook(raw), ctx) == []  # no time and no delivery id: nothing to key
    assert reopened.type is EventType.JOB_REOPENED
    assert reopened.id == "greenhouse:job:100445:open:event:evt-77"
    assert reopened.occurred_at == START


def test_job_updated_open_with_api_is_dated_by_the_jobs_updated_at(rt, org, gh):
    gh.add_job(100445, name="Assistant Store Manager, NYC", updated_at="2026-10-30T09:15:00.250Z")
    with context(rt, org.id, VENDOR, **api(gh)) as ctx:
        [reopened] = valid(ADAPTER.events_from_webhook(webhook(fixture_bytes(VENDOR, "job_updated.json")), ctx))
    assert reopened.id == "greenhouse:job:100445:open:2026-10-30T09:15:00+00:00"
    assert reopened.occurred_at == at("2026-10-30T09:15:00.250Z")
    gh.update("jobs", 100445, status="closed")  # the webhook is older than the job's state now
    with context(rt, org.id, VENDOR, **api(gh)) as ctx:
        assert ADAPTER.events_from_webhook(webhook(fixture_bytes(VENDOR, "job_updated.json")), ctx) == []


def test_job_deleted_becomes_job_closed(rt, org):
    [closed] = translate(rt, org, "job_deleted.json")
    assert closed.type is EventType.JOB_CLOSED
    assert closed.id == "greenhouse:job:209256:deleted"
    assert closed.job.title == "Project Manager"
    assert closed.occurred_at == START  # the payload has no time


@pytest.mark.parametrize(("name", "reason", "event_id", "merged_into"), [
    ("delete_candidate.json", "deleted", "greenhouse:candidate:37031511:erased:deleted", None),
    ("candidate_anonymized.json", "anonymised", "greenhouse:candidate:37031511:erased:anonymised", None),
    ("merge_candidate.json", "merged", "greenhouse:candidate:37031511:erased:merged:457456", "457456"),
])
def test_candidate_deletion_payloads_erase_the_candidate(rt, org, name, reason, event_id, merged_into):
    [erased] = translate(rt, org, name)
    assert erased.type is EventType.CANDIDATE_ERASED
    assert (erased.id, erased.reason, erased.merged_into) == (event_id, reason, merged_into)
    assert erased.candidate.id == "37031511" and erased.candidate.name is None


@pytest.mark.parametrize("name", ["offer_created.json", "offer_updated.json", "offer_deleted.json",
                                  "delete_application.json"])
def test_offers_and_application_deletion_mean_nothing_canonical(rt, org, name):
    assert translate(rt, org, name) == []


def test_interview_deleted_for_an_unknown_interview_cancels_nothing(rt, org):
    assert translate(rt, org, "interview_deleted.json") == []


def test_interview_deleted_cancels_the_interview_we_hold(rt, org):
    ends = START - timedelta(days=1)
    org.post(event("interview.scheduled", ends - timedelta(days=2), app="71980812", candidate="60304594",
                   job="274075", interview={"id": "31087450", "ends_at": ends.isoformat()}))
    [cancelled] = translate(rt, org, "interview_deleted.json")
    assert cancelled.type is EventType.INTERVIEW_CANCELLED
    assert cancelled.id == "greenhouse:interview:31087450:cancelled"
    assert (cancelled.application.id, cancelled.candidate.id, cancelled.job.id) == ("71980812", "60304594", "274075")
    assert cancelled.occurred_at == START


def test_harvest_v1_scheduled_interview_object_reads_as_held_interview(rt, org, gh):
    # The v1 object (docs' `start.date_time`/`end.date_time`) read through the poll path.
    gh.add_application(4684156, candidate_id=4001, job_id=5001, updated_at="2016-05-23T20:43:11.679Z")
    gh.add_candidate(4001, first_name="John", last_name="Locke", email="john.locke@example.com")
    gh.add_job(5001, name="Accounting Manager")
    record = fixture_json(VENDOR, "harvest-scheduled_interview_object.json")
    with context(rt, org.id, VENDOR, **api(gh)) as ctx:
        scheduled, completed = valid(ADAPTER.events_from_records([record], ctx))
    assert scheduled.id == "greenhouse:interview:9128481:scheduled:2014-03-26T22:30:00+00:00"
    assert (scheduled.interview.starts_at, scheduled.interview.ends_at) == (at("2014-03-26T22:15:00Z"),
                                                                            at("2014-03-26T22:30:00Z"))
    assert scheduled.occurred_at == at("2016-02-10T14:31:51.019Z")  # first placed: no scheduled_at, created_at
    assert completed.id == "greenhouse:interview:9128481:completed"
    assert completed.occurred_at == at("2016-05-23T20:43:11.679Z")  # awaiting_feedback as of updated_at
    assert (completed.candidate.name, completed.candidate.email) == ("John Locke", "john.locke@example.com")
    assert completed.job.title == "Accounting Manager"


def test_harvest_activity_feed_object_is_not_a_poll_record(rt, org):
    # Greenhouse's only record of emails sent is the activity feed (v1; `/v3/notes` in v3): nothing we map.
    with context(rt, org.id, VENDOR) as ctx:
        assert ADAPTER.events_from_records([fixture_json(VENDOR, "harvest-activity_feed_object.json")], ctx) == []


def test_payload_without_ids_is_refused_naming_the_field(rt, org):
    body = fixture_json(VENDOR, "reject_candidate.json")
    del body["payload"]["application"]["candidate"]["id"]
    with context(rt, org.id, VENDOR) as ctx, pytest.raises(AdapterError, match="payload.application.candidate.id"):
        ADAPTER.events_from_webhook(webhook(body), ctx)
    body = fixture_json(VENDOR, "reject_candidate.json")
    body["payload"]["application"]["jobs"] = []
    with context(rt, org.id, VENDOR) as ctx, pytest.raises(AdapterError, match="payload.application.jobs"):
        ADAPTER.events_from_webhook(webhook(body), ctx)


def test_prospect_applications_are_acknowledged_without_events(rt, org):
    body = fixture_json(VENDOR, "reject_candidate.json")
    body["payload"]["application"].update(prospect=True, jobs=[])
    with context(rt, org.id, VENDOR) as ctx:
        assert ADAPTER.events_from_webhook(webhook(body), ctx) == []


# -- signature, delivery id, ping --------------------------------------------------------------------

def test_signature_over_the_raw_body_is_accepted():
    body = fixture_bytes(VENDOR, "reject_candidate.json")
    assert ADAPTER.verify(webhook(body, signed(body)), [SECRET])


def test_wrong_missing_or_malformed_signature_is_refused():
    body = fixture_bytes(VENDOR, "reject_candidate.json")
    assert not ADAPTER.verify(webhook(body, signed(body, "other")), [SECRET])
    assert not ADAPTER.verify(webhook(body), [SECRET])
    digest = signed(body)["Signature"].split()[1]
    for header in (digest, f"sha1 {digest}", "sha256", f"sha256={digest}"):
        assert not ADAPTER.verify(webhook(body, {"Signature": header}), [SECRET]), header


def test_tampered_body_fails_the_signature():
    body = fixture_bytes(VENDOR, "reject_candidate.json")
    headers = signed(body)
    tampered = body.replace(b"Too Junior", b"Too Senior")
    assert not ADAPTER.verify(webhook(tampered, headers), [SECRET])


def test_rotated_secret_second_in_list_still_verifies():
    body = fixture_bytes(VENDOR, "hire_candidate.json")
    assert ADAPTER.verify(webhook(body, signed(body, "old-secret")), ["new-secret", "old-secret"])
    assert not ADAPTER.verify(webhook(body, signed(body, "older")), ["new-secret", "old-secret"])


def test_delivery_id_is_the_greenhouse_event_id_header():
    body = fixture_bytes(VENDOR, "hire_candidate.json")
    assert ADAPTER.delivery_id(webhook(body, {"Greenhouse-Event-ID": "a1b2"})) == "a1b2"
    assert ADAPTER.delivery_id(webhook(body)) is None
    assert ADAPTER.event_name(webhook(body)) == "hire_candidate"


def test_ping_is_recognised_and_events_are_not():
    assert ADAPTER.is_ping(webhook({"action": "ping", "payload": {"webhook_url": "https://x.example/hook"}}))
    assert ADAPTER.is_ping(webhook({"url": "https://x.example/hook", "events": ["reject_candidate"]}))  # tolerant
    for name in ("reject_candidate.json", "interview_deleted.json", "offer_created.json"):
        assert not ADAPTER.is_ping(webhook(fixture_bytes(VENDOR, name))), name


# -- Harvest v3 client ---------------------------------------------------------------------------------

@contextmanager
def connection_client(rt: Any, org: Any, gh: GreenhouseStandIn, **credentials: str) -> Iterator[HarvestClient]:
    creds = credentials or gh.credentials()
    with context(rt, org.id, VENDOR, credentials=creds, options=gh.options()) as ctx:
        yield HarvestClient(ctx.connection, ctx.cache)


def test_client_gets_a_token_with_client_credentials_and_sends_it(rt, org, gh):
    gh.add_candidate(1, first_name="Ada", last_name="L", email="ada@example.com")
    creds = {**gh.credentials(), "user_id": "4242"}
    with connection_client(rt, org, gh, **creds) as client:
        assert set(client.by_ids("candidates", ["1"])) == {"1"}
    [token_request] = gh.token_requests
    assert token_request.headers["authorization"].startswith("Basic ")
    assert "client_credentials" in token_request.body.decode() and "sub=4242" in token_request.body.decode()
    [call] = gh.api_requests("candidates")
    assert call.headers["authorization"].startswith("Bearer ")
    assert call.param("ids") == "1"


def test_token_is_reused_then_renewed_once_after_a_401(rt, org, gh):
    gh.add_job(7, name="Designer")
    with connection_client(rt, org, gh) as client:
        client.page("/v3/jobs")
    with connection_client(rt, org, gh) as client:
        client.page("/v3/jobs")
    assert len(gh.token_requests) == 1  # the second client reused the process's token
    gh.revoke_tokens()
    with connection_client(rt, org, gh) as client:
        records, _ = client.page("/v3/jobs")
    assert [r["id"] for r in records] == [7] and len(gh.token_requests) == 2


def test_ready_access_token_is_used_as_is(rt, org, gh):
    gh.tokens.add("ready-token")
    gh.add_job(7, name="Designer")
    with connection_client(rt, org, gh, access_token="ready-token") as client:
        records, _ = client.page("/v3/jobs")
    assert [r["id"] for r in records] == [7] and gh.token_requests == []
    assert gh.api_requests("jobs")[0].headers["authorization"] == "Bearer ready-token"


def test_pagination_follows_link_with_the_cursor_alone(rt, org, gh):
    for n in range(1, 6):
        gh.add_job(n, name=f"Job {n}")
    with connection_client(rt, org, gh) as client:
        records = client.every("/v3/jobs", {"per_page": 2})
    assert [r["id"] for r in records] == [1, 2, 3, 4, 5]
    first, *follow_ups = gh.api_requests("jobs")
    assert first.param("per_page") == "2" and len(follow_ups) == 2
    assert all(set(r.query) == {"cursor"} for r in follow_ups)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limit_and_server_errors_are_transient(rt, org, gh, status):
    with connection_client(rt, org, gh) as client:
        client.page("/v3/jobs")  # token fetched first
        gh.fail_next(status)
        with pytest.raises(TransientAtsError) as raised:
            client.page("/v3/jobs")
    assert raised.value.status == status
    assert raised.value.retry_after == (30.0 if status == 429 else None)


def test_bad_client_credentials_and_unknown_routes_are_permanent(rt, org, gh):
    with connection_client(rt, org, gh, client_id="gh-client", client_secret="wrong") as client:
        with pytest.raises(PermanentAtsError) as raised:
            client.page("/v3/jobs")
    assert raised.value.status == 401
    with connection_client(rt, org, gh) as client:
        with pytest.raises(PermanentAtsError) as raised:
            client.page("/v3/no_such_list")
    assert raised.value.status == 404


def test_rejected_ready_token_is_permanent(rt, org, gh):
    with connection_client(rt, org, gh, access_token="not-issued") as client:
        with pytest.raises(PermanentAtsError) as raised:
            client.page("/v3/jobs")
    assert raised.value.status == 401


# -- interviews fetched for application webhooks ---------------------------------------------------

def test_stage_change_with_api_fetches_the_applications_scheduled_interviews(rt, org, gh):
    gh.add_interview(501, application_id=265277, status="scheduled", starts_at="2026-11-05T15:00:00.000Z",
                     ends_at="2026-11-05T16:00:00.000Z", updated_at="2026-11-01T09:00:00.000Z")
    gh.add_interview(502, application_id=265277, status="awaiting_feedback", starts_at="2026-10-28T15:00:00.000Z",
                     ends_at="2026-10-28T15:45:00.000Z", updated_at="2026-10-28T16:10:00.000Z",
                     scheduled_at="2026-10-20T08:00:00.000Z")
    gh.add_interview(503, application_id=265277, status="to_be_scheduled", starts_at=None, ends_at=None,
                     updated_at="2026-11-01T09:00:00.000Z")
    gh.add_interview(504, application_id=999, status="scheduled", starts_at="2026-11-05T15:00:00.000Z",
                     ends_at="2026-11-05T16:00:00.000Z", updated_at="2026-11-01T09:00:00.000Z")
    events = translate(rt, org, "candidate_stage_change.json", **api(gh))
    by_id = {e.id: e for e in events}
    assert set(by_id) == {
        "greenhouse:application:265277:stage:71416:2015-02-09T16:38:36+00:00",
        "greenhouse:interview:501:scheduled:2026-11-05T16:00:00+00:00",
        "greenhouse:interview:502:scheduled:2026-10-28T15:45:00+00:00",
        "greenhouse:interview:502:completed",
    }
    upcoming = by_id["greenhouse:interview:501:scheduled:2026-11-05T16:00:00+00:00"]
    assert upcoming.occurred_at == at("2026-11-01T09:00:00Z")
    assert upcoming.candidate.email == "giuseppe.hurley@example.com"  # the webhook's refs
    assert by_id["greenhouse:interview:502:scheduled:2026-10-28T15:45:00+00:00"].occurred_at == \
        at("2026-10-20T08:00:00Z")
    assert by_id["greenhouse:interview:502:completed"].occurred_at == at("2026-10-28T16:10:00Z")
    [call] = gh.api_requests("interviews")
    assert call.param("application_ids") == "265277"


def test_a_permanent_api_error_keeps_the_webhooks_own_events(rt, org, gh):
    events = translate(rt, org, "reject_candidate.json", credentials={"access_token": "not-issued"},
                       options=gh.options())
    assert [e.type for e in events] == [EventType.APPLICATION_REJECTED]


def test_a_transient_api_error_fails_the_delivery_for_a_retry(rt, org, gh):
    gh.fail_next(503, times=5)
    with pytest.raises(TransientAtsError):
        translate(rt, org, "new_candidate_application.json", **api(gh))


# -- the poll --------------------------------------------------------------------------------------

def poll_all(rt: Any, org: Any, gh: GreenhouseStandIn, cursor: dict[str, Any] | None, **options: Any
             ) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """Call fetch_changes until `more` is false, like the core's poll loop. Returns records, cursor, pages."""
    records: list[dict[str, Any]] = []
    pages = 0
    while True:
        with context(rt, org.id, VENDOR, **api(gh, **options)) as ctx:
            page = ADAPTER.fetch_changes(ctx, cursor)
        json.dumps(page.cursor)  # stored as JSON by the core
        records += page.records
        cursor, pages = page.cursor, pages + 1
        if not page.more:
            return records, cursor, pages


def seed_poll_world(gh: GreenhouseStandIn) -> None:
    gh.add_application(801, candidate_id=901, job_id=701, updated_at="2026-10-30T10:00:00.000Z",
                       status="rejected", rejected_at="2026-10-30T10:00:00.123Z", rejection_reason_id=14)
    gh.add_application(802, candidate_id=902, job_id=701, updated_at="2026-10-31T10:00:00.000Z", status="hired")
    gh.add_application(803, candidate_id=903, job_id=701, updated_at="2026-09-01T10:00:00.000Z")  # too old
    gh.add_interview(601, application_id=801, status="complete", starts_at="2026-10-27T14:00:00.000Z",
                     ends_at="2026-10-27T15:00:00.000Z", updated_at="2026-10-28T09:00:00.000Z")
    gh.add_interview(602, application_id=802, status="scheduled", starts_at="2026-11-04T14:00:00.000Z",
                     ends_at="2026-11-04T15:00:00.000Z", updated_at="2026-10-29T09:00:00.000Z")
    gh.add_interview(603, application_id=803, status="complete", starts_at="2026-08-01T14:00:00.000Z",
                     ends_at="2026-08-01T15:00:00.000Z", updated_at="2026-08-10T09:00:00.000Z")  # too old
    for n in (901, 902, 903):
        gh.add_candidate(n, first_name="Cand", last_name=str(n), email=f"c{n}@example.com")
    gh.add_job(701, name="Data Scientist", department_id=31)
    gh.put("departments", {"id": 31, "name": "Data Science"})
    gh.put("rejection_reasons", {"id": 14, "name": "Too Junior", "type": {"id": 3, "name": "Wrong skill set"}})


def test_first_poll_looks_back_and_pages_through_interviews_then_applications(rt, org, gh):
    seed_poll_world(gh)
    records, cursor, pages = poll_all(rt, org, gh, None, poll_page_size=1)
    assert sorted((r.get("application_id") is not None, r["id"]) for r in records) == [
        (False, 801), (False, 802), (True, 601), (True, 602)]
    assert pages == 4  # one record per page: 2 interview pages, then 2 application pages
    first = gh.api_requests("interviews")[0]
    assert first.param("updated_at") == "gte|" + (START - timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert first.param("per_page") == "1"
    assert all(set(r.query) == {"cursor"} for r in gh.api_requests("interviews")[1:])
    # The next sweep starts before this one did (less the overlap), at the newest record seen at most.
    assert cursor["interviews"]["since"] == "2026-10-29T08:55:00Z"
    assert cursor["applications"]["since"] == "2026-10-31T09:55:00Z"
    assert cursor["phase"] == "interviews" and cursor["interviews"]["next"] is None


def test_lookback_is_configurable(rt, org, gh):
    seed_poll_world(gh)
    records, _, _ = poll_all(rt, org, gh, None, poll_lookback_days=90)
    assert {r["id"] for r in records} == {601, 602, 603, 801, 802, 803}


def test_second_poll_returns_only_records_changed_since(rt, org, gh):
    seed_poll_world(gh)
    _, cursor, _ = poll_all(rt, org, gh, None)
    gh.update("interviews", 602, status="awaiting_feedback", updated_at="2026-11-02T13:30:00.000Z")
    gh.add_application(804, candidate_id=903, job_id=701, updated_at="2026-11-02T13:40:00.000Z",
                       status="rejected", rejected_at="2026-11-02T13:40:00.000Z")
    records, cursor, _ = poll_all(rt, org, gh, cursor)
    assert sorted(r["id"] for r in records) == [602, 802, 804]  # 802 is inside the overlap: re-seen, same ids
    assert cursor["interviews"]["since"] == "2026-11-02T13:25:00Z"


def test_poll_records_become_events_with_fetched_people(rt, org, gh):
    seed_poll_world(gh)
    records, _, _ = poll_all(rt, org, gh, None)
    with context(rt, org.id, VENDOR, **api(gh)) as ctx:
        events = valid(ADAPTER.events_from_records(records, ctx))
    by_id = {e.id: e for e in events}
    assert set(by_id) == {
        "greenhouse:interview:601:scheduled:2026-10-27T15:00:00+00:00",
        "greenhouse:interview:601:completed",
        "greenhouse:interview:602:scheduled:2026-11-04T15:00:00+00:00",
        "greenhouse:application:801:rejected:2026-10-30T10:00:00+00:00",
        "greenhouse:application:802:hired",
    }
    rejected = by_id["greenhouse:application:801:rejected:2026-10-30T10:00:00+00:00"]
    assert rejected.reason == "Too Junior" and rejected.ats_notification is AtsNotification.UNKNOWN
    assert (rejected.candidate.name, rejected.candidate.email) == ("Cand 901", "c901@example.com")
    assert (rejected.job.title, rejected.job.department) == ("Data Scientist", "Data Science")
    completed = by_id["greenhouse:interview:601:completed"]
    assert completed.candidate.id == "901" and completed.job.id == "701" and completed.application.id == "801"
    assert by_id["greenhouse:application:802:hired"].occurred_at == at("2026-10-31T10:00:00Z")
    # People are fetched once per run, in batches; the applications came with the records.
    assert len(gh.api_requests("candidates")) == 1 and len(gh.api_requests("applications")) == 1
    assert set(gh.api_requests("candidates")[0].param("ids").split(",")) == {"901", "902"}


def test_interview_page_alone_fetches_its_unknown_applications(rt, org, gh):
    seed_poll_world(gh)
    with context(rt, org.id, VENDOR, **api(gh)) as ctx:
        page = ADAPTER.fetch_changes(ctx, None)  # the first page holds the interviews only
        events = valid(ADAPTER.events_from_records(page.records, ctx))
    assert {e.application.id for e in events} == {"801", "802"}
    fetched = [r for r in gh.api_requests("applications") if r.param("ids")]
    assert len(fetched) == 1 and set(fetched[0].param("ids").split(",")) == {"801", "802"}


def test_poll_uses_what_the_ledger_knows_and_notes_active_applications(rt, org, gh):
    org.post(event("application.created", START - timedelta(days=30), app="805", candidate="905", job="701"))
    gh.add_application(805, candidate_id=905, job_id=701, updated_at="2026-11-01T08:00:00.000Z")
    gh.add_application(806, candidate_id=906, job_id=701, updated_at="2026-11-01T08:00:00.000Z")  # unknown here
    gh.add_interview(605, application_id=805, status="scheduled", starts_at="2026-11-06T14:00:00.000Z",
                     ends_at="2026-11-06T15:00:00.000Z", updated_at="2026-11-01T08:00:00.000Z")
    records, _, _ = poll_all(rt, org, gh, None)
    with context(rt, org.id, VENDOR, **api(gh)) as ctx:
        events = valid(ADAPTER.events_from_records(records, ctx))
    assert sorted(e.id for e in events) == [
        "greenhouse:application:805:active:2026-11-01T08:00:00+00:00",  # undoes a lost unreject, if any
        "greenhouse:interview:605:scheduled:2026-11-06T15:00:00+00:00",
    ]
    scheduled = next(e for e in events if e.type is EventType.INTERVIEW_SCHEDULED)
    assert scheduled.candidate.name is None  # the ledger already holds the person
    assert gh.api_requests("candidates") == []


def test_webhook_and_poll_give_the_same_event_ids_for_the_same_facts(rt, org, gh):
    gh.add_application(265293, candidate_id=265788, job_id=371417, updated_at="2026-10-30T10:00:00.000Z",
                       status="rejected", rejected_at="2015-02-11T15:50:41.000Z", rejection_reason_id=14)
    gh.put("rejection_reasons", {"id": 14, "name": "Too Junior"})
    gh.add_interview(611, application_id=265293, status="awaiting_feedback", starts_at="2026-10-29T14:00:00.000Z",
                     ends_at="2026-10-29T15:00:00.000Z", updated_at="2026-10-29T16:00:00.000Z")
    gh.add_candidate(265788, first_name="Hector", last_name="Porter", email="hector.porter.265788@example.com")
    gh.add_job(371417, name="Designer")
    from_webhook = translate(rt, org, "reject_candidate.json", **api(gh))
    records, _, _ = poll_all(rt, org, gh, None)
    with context(rt, org.id, VENDOR, **api(gh)) as ctx:
        from_poll = valid(ADAPTER.events_from_records(records, ctx))
    expected = {"greenhouse:application:265293:rejected:2015-02-11T15:50:41+00:00",
                "greenhouse:interview:611:scheduled:2026-10-29T15:00:00+00:00",
                "greenhouse:interview:611:completed"}
    assert {e.id for e in from_webhook} == {e.id for e in from_poll} == expected
    assert {e.id: e.reason for e in from_webhook} == {e.id: e.reason for e in from_poll}


def test_missed_rejection_is_applied_once_whichever_path_comes_first(rt, org, gh):
    """Through the real ledger: the webhook's rejection and the poll's are one inbound event."""
    gh.add_application(265293, candidate_id=265788, job_id=371417, updated_at="2026-10-30T10:00:00.000Z",
                       status="rejected", rejected_at="2015-02-11T15:50:41.000Z")
    records, _, _ = poll_all(rt, org, gh, None)
    with context(rt, org.id, VENDOR, **api(gh)) as ctx:
        from_poll = valid(ADAPTER.events_from_records(records, ctx))
    from_webhook = translate(rt, org, "reject_candidate.json")
    [rejection] = from_poll
    assert org.post(rejection.to_json())["results"][0]["status"] == "applied"
    assert org.post(from_webhook[0].to_json())["results"][0]["status"] == "duplicate"


def test_poll_without_credentials_is_a_clear_permanent_error(rt, org):
    with context(rt, org.id, VENDOR) as ctx, pytest.raises(PermanentAtsError, match="client_id and client_secret"):
        ADAPTER.fetch_changes(ctx, None)


def test_adapter_declares_its_credentials_and_success_code():
    assert (ADAPTER.provider, ADAPTER.title, ADAPTER.success_status) == ("greenhouse", "Greenhouse", 200)
    assert ADAPTER.required_credentials == ("client_id", "client_secret")
    assert set(ADAPTER.credential_fields) == {"client_id", "client_secret", "user_id", "access_token"}
    assert ADAPTER.default_api_base_url == "https://harvest.greenhouse.io"


# -- end to end ----------------------------------------------------------------------------------

def test_end_to_end_poll_finds_the_interview_and_a_signed_rejection_webhook_brings_the_email(
        org, rt, gh, tick, clock, outbox):
    gh.add_application(265293, candidate_id=265788, job_id=371417, updated_at="2026-11-02T13:05:00.000Z")
    gh.add_candidate(265788, first_name="Hector", last_name="Porter", email="hector.porter.265788@example.com")
    gh.add_job(371417, name="Designer")
    gh.add_interview(611, application_id=265293, status="awaiting_feedback", starts_at="2026-11-02T12:00:00.000Z",
                     ends_at="2026-11-02T13:00:00.000Z", updated_at="2026-11-02T13:05:00.000Z")
    conn = connect(org, VENDOR, signing_secret=SECRET, credentials=gh.credentials(), options=gh.options())
    tick()  # the first poll: Greenhouse sends no interview webhooks, the poll finds the one that ended
    assert [ob.application_id for ob in obligations(rt.db)]

    ping = json.dumps({"action": "ping", "payload": {"web_hook_id": 1}}).encode()
    assert org.client.post(conn["webhook_path"], data=ping, headers={
        "Content-Type": "application/json", **signed(ping)}).status_code == 200
    # The docs' rejection, dated now (its 2015 date would predate the interview and be ignored).
    body = fixture_json(VENDOR, "reject_candidate.json")
    body["payload"]["application"].update(rejected_at="2026-11-02T14:10:00Z", last_activity_at="2026-11-02T14:10:00Z")
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Greenhouse-Event-ID": "gh-evt-1", **signed(raw)}
    clock.advance(timedelta(minutes=12))
    response = org.client.post(conn["webhook_path"], data=raw, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert org.client.post(conn["webhook_path"], data=raw, headers=headers).get_json()["status"] == "duplicate"
    bad = {**headers, "Signature": "sha256 " + "0" * 64, "Greenhouse-Event-ID": "gh-evt-2"}
    assert org.client.post(conn["webhook_path"], data=raw, headers=bad).status_code == 401
    tick(by=timedelta(minutes=1))
    with rt.db.session() as session:
        outcome = session.scalar(select(InboundEvent.outcome).where(
            InboundEvent.event_id == "greenhouse:application:265293:rejected:2026-11-02T14:10:00+00:00"))
    assert outcome is not None
    until = datetime(2026, 11, 5, 23, tzinfo=UTC)
    while clock.now() < until:
        tick(by=timedelta(minutes=30))
    [rejection] = sent(rt.db, "rejection")
    assert rejection.recipient_email == "hector.porter.265788@example.com"
    assert any(m["To"] and "hector.porter.265788@example.com" in m["To"] for m in outbox())
