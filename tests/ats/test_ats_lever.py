"""Lever adapter: signature over token + triggeredAt, webhooks as hints re-fetched from the REST API
(a local stand-in of Lever's documented responses), the mapping to canonical events, and the poll."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ats_support import context, fixture_bytes, fixture_json, webhook
from helpers import notifications
from standins.lever import LeverStandIn

from plugin.ats.base import AdapterError, WebhookRequest
from plugin.ats.http import PermanentAtsError, TransientAtsError
from plugin.ats.lever import LeverAdapter
from plugin.ats.lever.client import LeverClient
from plugin.ats.signing import hmac_sha256_hex
from plugin.events.schemas import load_events
from plugin.events.types import AtsNotification, CanonicalEvent, EventType

SECRET = "lever-signature-token"
KEY = "lever-api-key"
START = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # the frozen clock of tests/conftest.py
ADAPTER = LeverAdapter()

# The published stage-change example (tests/fixtures/ats/lever/candidateStageChange.json).
EX_OPP, EX_CONTACT = "3410c8b9-5c31-4bab-b7e9-9f710206d647", "05c248f9-ccb1-435f-bab5-0ec608aec263"
EX_TO_STAGE, EX_FROM_STAGE = "7c2690d8-6308-4ed9-ae2a-cbfe7db26593", "992f01a9-ee19-41d2-ae79-1040701b195c"
EX_TRIGGERED = datetime(2015, 5, 12, 18, 12, 10, 72000, tzinfo=UTC)  # triggeredAt 1431454330072


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def at(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


CREATED = START - timedelta(days=10)
ADVANCED = START - timedelta(days=2)


def check(events: list[CanonicalEvent]) -> list[CanonicalEvent]:
    """What the core does with adapter output: every event must pass the canonical schema."""
    if events:
        load_events({"events": [e.to_json() for e in events]})
    return events


def by_type(events: list[CanonicalEvent]) -> dict[EventType, list[CanonicalEvent]]:
    found: dict[EventType, list[CanonicalEvent]] = {}
    for event in events:
        found.setdefault(event.type, []).append(event)
    return found


def sign(payload: dict[str, Any], secret: str = SECRET) -> dict[str, Any]:
    signed = dict(payload)
    signed["signature"] = hmac_sha256_hex(secret, str(payload["token"]) + str(payload["triggeredAt"]))
    return signed


def delivery(event: str, data: dict[str, Any], *, triggered: datetime = START,
             token: str = "be58f711f349c7780e4579cd7c63341ac6f881e4dccc3154") -> WebhookRequest:
    body = sign({"triggeredAt": ms(triggered), "event": event, "data": data, "token": token})
    return webhook(body, {"User-Agent": "Lever-Webhooks", "Content-Type": "application/json"})


@pytest.fixture
def lever(vendor_env: None) -> Iterator[LeverStandIn]:
    with LeverStandIn(api_key=KEY) as standin:
        standin.add_user("u-grace", "Grace Hopper", "grace@acme.example")
        standin.add_user("u-alan", "Alan Turing", "alan@acme.example")
        for stage_id, text in (("st-new", "New applicant"), ("st-phone", "Phone screen"), ("st-onsite", "On-site"),
                               (EX_TO_STAGE, "On-site interview"), (EX_FROM_STAGE, "Phone screen")):
            standin.add_stage(stage_id, text)
        standin.add_archive_reason("r-hired", "Hired", "hired")
        standin.add_archive_reason("r-under", "Underqualified", "non-hired")
        standin.add_archive_reason("r-old", "Position filled (retired reason)", "non-hired", status="inactive")
        standin.add_posting("p-1", "Backend Engineer", department="Engineering", team="Platform",
                            hiring_manager="u-grace", owner="u-alan")
        standin.add_opportunity("o-1", contact="c-1", name="Ada Lovelace", emails=["not-an-email", "ada@example.com"],
                                posting="p-1", stage="st-phone", created_at=ms(CREATED),
                                last_advanced_at=ms(ADVANCED), updated_at=ms(ADVANCED))
        yield standin


def ctx_for(rt: Any, org: Any, lever: LeverStandIn, **kwargs: Any) -> Any:
    options = {"api_base_url": lever.base_url, **kwargs.pop("options", {})}
    return context(rt, org.id, "lever", secrets=(SECRET,), credentials=kwargs.pop("credentials", {"api_key": KEY}),
                   options=options, **kwargs)


def translate(rt: Any, org: Any, lever: LeverStandIn, request: WebhookRequest, **kwargs: Any) -> list[CanonicalEvent]:
    with ctx_for(rt, org, lever, **kwargs) as ctx:
        return check(ADAPTER.events_from_webhook(request, ctx))


def application_event(type_: str, when: datetime, *, app: str = "o-1", candidate: str = "c-1",
                      job: str = "p-1", **extra: Any) -> dict[str, Any]:
    """A canonical event posted through the API, so the lookup knows the application (or interview)."""
    return {"id": f"seed-{type_}-{app}-{ms(when)}", "type": type_, "occurred_at": when.isoformat(),
            "candidate": {"id": candidate}, "job": {"id": job}, "application": {"id": app}, **extra}


# -- the published fixtures ----------------------------------------------------------------------

def test_published_stage_change_example_is_not_valid_json() -> None:
    # As published by Lever (missing and trailing commas): the core answers 400 to such a body.
    with pytest.raises(json.JSONDecodeError):
        json.loads(fixture_bytes("lever", "candidateStageChange.as-published.txt"))


def test_corrected_stage_change_example_is_the_published_one_with_commas_fixed() -> None:
    published = fixture_bytes("lever", "candidateStageChange.as-published.txt").decode()
    corrected = fixture_json("lever", "candidateStageChange.json")
    assert corrected["data"] == {"opportunityId": EX_OPP, "candidateId": "daeaa038-cddb-4d69-9b8c-74b6c23be3f3",
                                 "contactId": EX_CONTACT, "toStageId": EX_TO_STAGE, "fromStageId": EX_FROM_STAGE}
    for value in (corrected["token"], corrected["signature"], str(corrected["triggeredAt"])):
        assert value in published


def test_stage_change_example_fetches_the_opportunity_and_maps_its_state(rt: Any, org: Any,
                                                                         lever: LeverStandIn) -> None:
    lever.add_opportunity(EX_OPP, contact=EX_CONTACT, name="Katherine Johnson", emails=["kj@example.com"],
                          posting="p-1", stage=EX_TO_STAGE, created_at=1431400000000,
                          last_advanced_at=1431454330000, updated_at=1431454330000)
    request = webhook(fixture_bytes("lever", "candidateStageChange.json"))
    assert ADAPTER.event_name(request) == "candidateStageChange"
    assert ADAPTER.delivery_id(request) == "be58f711f349c7780e4579cd7c63341ac6f881e4dccc3154"
    assert not ADAPTER.is_ping(request)

    events = translate(rt, org, lever, request)

    assert [(e.type, e.id) for e in events] == [
        (EventType.APPLICATION_CREATED, f"lever:opportunity:{EX_OPP}:created"),
        (EventType.APPLICATION_STAGE_CHANGED, f"lever:opportunity:{EX_OPP}:stage:{EX_TO_STAGE}:1431454330000"),
    ]
    created, stage = events
    assert created.occurred_at == at(1431400000000)
    assert stage.occurred_at == at(1431454330000)
    assert stage.application is not None and stage.application.id == EX_OPP
    assert stage.application.stage == "On-site interview"
    assert created.application is not None and created.application.stage is None
    assert stage.candidate is not None and (stage.candidate.id, stage.candidate.name, stage.candidate.email) == (
        EX_CONTACT, "Katherine Johnson", "kj@example.com")
    assert stage.job is not None and (stage.job.id, stage.job.title, stage.job.department) == (
        "p-1", "Backend Engineer", "Engineering")
    assert stage.job.hiring_manager is not None and stage.job.hiring_manager.email == "grace@acme.example"
    assert stage.job.recruiter is not None and stage.job.recruiter.name == "Alan Turing"
    paths = [r.path for r in lever.requests]
    assert paths == [f"/v1/opportunities/{EX_OPP}", "/v1/postings/p-1", f"/v1/opportunities/{EX_OPP}/interviews"]
    assert sorted(lever.requests[0].query["expand"]) == ["applications", "stage"]


def test_stage_change_example_is_stale_now_and_fresh_at_its_own_time() -> None:
    request = webhook(fixture_bytes("lever", "candidateStageChange.json"))
    reason = ADAPTER.stale_reason(request, START)
    assert reason is not None and "24 hours old" in reason
    assert ADAPTER.stale_reason(request, EX_TRIGGERED + timedelta(hours=23)) is None
    assert ADAPTER.stale_reason(request, EX_TRIGGERED + timedelta(hours=25)) is not None
    # the connection's max_age_hours option, when the core passes the options along
    assert ADAPTER.stale_reason(request, EX_TRIGGERED + timedelta(hours=25), {"max_age_hours": 48}) is None
    assert ADAPTER.stale_reason(request, EX_TRIGGERED - timedelta(minutes=4)) is None
    future = ADAPTER.stale_reason(request, EX_TRIGGERED - timedelta(minutes=6))
    assert future is not None and "future" in future


def test_settings_page_test_request_is_a_ping_that_never_verifies(rt: Any, org: Any, lever: LeverStandIn) -> None:
    request = webhook(fixture_bytes("lever", "test_request.json"))
    assert ADAPTER.is_ping(request)
    assert ADAPTER.event_name(request) == "candidateHired"
    assert ADAPTER.delivery_id(request) == "657fd5a0759c87d35660b096dbc388d1d31058869f08ce3f"
    # Its published signature has non-hex letters ("m3e7..."): illustrative, no secret can match it.
    assert not ADAPTER.verify(request, [SECRET, "", "test"])
    assert translate(rt, org, lever, request) == []
    assert lever.requests == []


def test_a_real_test_request_signed_with_our_secret_verifies_and_is_still_a_ping() -> None:
    body = fixture_json("lever", "test_request.json")
    request = webhook(sign(body))
    assert ADAPTER.verify(request, [SECRET])
    assert ADAPTER.is_ping(request)


# -- signature -----------------------------------------------------------------------------------

def test_signature_valid() -> None:
    request = delivery("candidateStageChange", {"opportunityId": "o-1"})
    expected = hmac_sha256_hex(SECRET, request.payload["token"] + str(request.payload["triggeredAt"]))
    assert request.payload["signature"] == expected
    assert ADAPTER.verify(request, [SECRET])


def test_signature_upper_case_hex_is_accepted() -> None:
    body = sign({"triggeredAt": ms(START), "event": "applicationCreated", "data": {"opportunityId": "o-1"},
                 "token": "t-1"})
    body["signature"] = body["signature"].upper()
    assert ADAPTER.verify(webhook(body), [SECRET])


def test_signature_wrong_secret() -> None:
    assert not ADAPTER.verify(delivery("candidateStageChange", {"opportunityId": "o-1"}), ["another-token"])
    assert not ADAPTER.verify(delivery("candidateStageChange", {"opportunityId": "o-1"}), [])


@pytest.mark.parametrize("field", ["signature", "token", "triggeredAt"])
def test_signature_missing_parts(field: str) -> None:
    body = dict(delivery("candidateStageChange", {"opportunityId": "o-1"}).payload)
    del body[field]
    assert not ADAPTER.verify(webhook(body), [SECRET])


@pytest.mark.parametrize("change", [{"token": "a" * 48}, {"triggeredAt": ms(START) + 1},
                                    {"triggeredAt": float(ms(START))}, {"triggeredAt": True}])
def test_signature_tampered_token_or_time(change: dict[str, Any]) -> None:
    body = {**delivery("candidateStageChange", {"opportunityId": "o-1"}).payload, **change}
    assert not ADAPTER.verify(webhook(body), [SECRET])


def test_signature_does_not_cover_data_so_data_is_never_trusted(rt: Any, org: Any, lever: LeverStandIn) -> None:
    original = delivery("candidateStageChange", {"opportunityId": "o-1", "toStageId": "st-phone"})
    tampered_body = {**original.payload, "data": {"opportunityId": "o-1", "toStageId": "st-onsite"}}
    tampered = webhook(tampered_body)
    # Lever's documented limitation: the signature covers token + triggeredAt only ...
    assert ADAPTER.verify(tampered, [SECRET])
    # ... so the adapter acts on what Lever's API says, not on the body.
    events = translate(rt, org, lever, tampered)
    stage = by_type(events)[EventType.APPLICATION_STAGE_CHANGED][0]
    assert stage.application is not None and stage.application.stage == "Phone screen"


def test_signature_rotation_second_secret_matches() -> None:
    request = delivery("candidateStageChange", {"opportunityId": "o-1"})
    assert ADAPTER.verify(request, ["the-new-token", SECRET])
    assert not ADAPTER.verify(request, ["the-new-token", "yet-another"])


def test_delivery_id_is_the_token_and_absent_without_one() -> None:
    assert ADAPTER.delivery_id(delivery("applicationCreated", {"opportunityId": "o-1"}, token="tok-1")) == "tok-1"
    assert ADAPTER.delivery_id(webhook({"event": "applicationCreated", "data": {}})) is None


def test_stale_reason_without_triggered_at() -> None:
    assert ADAPTER.stale_reason(webhook({"event": "candidateHired", "data": {}}), START) is not None


# -- mapping (webhook -> fetch -> canonical) -----------------------------------------------------

def test_application_created_maps_created_and_current_stage(rt: Any, org: Any, lever: LeverStandIn) -> None:
    events = translate(rt, org, lever, delivery("applicationCreated", {"opportunityId": "o-1"}))
    assert [e.id for e in events] == ["lever:opportunity:o-1:created",
                                      f"lever:opportunity:o-1:stage:st-phone:{ms(ADVANCED)}"]
    assert events[0].occurred_at == CREATED and events[1].occurred_at == ADVANCED
    candidate = events[0].candidate
    assert candidate is not None and candidate.email == "ada@example.com"  # the first usable address


def test_archive_with_non_hired_reason_is_a_rejection(rt: Any, org: Any, lever: LeverStandIn) -> None:
    archived_at = START - timedelta(hours=3)
    lever.archive("o-1", "r-under", ms(archived_at))
    events = translate(rt, org, lever, delivery("candidateArchiveChange", {"opportunityId": "o-1"}))
    [rejected] = by_type(events)[EventType.APPLICATION_REJECTED]
    assert rejected.id == f"lever:opportunity:o-1:rejected:{ms(archived_at)}"
    assert rejected.occurred_at == archived_at
    assert rejected.reason == "Underqualified"
    assert rejected.ats_notification is AtsNotification.UNKNOWN
    assert EventType.APPLICATION_HIRED not in by_type(events)
    assert EventType.APPLICATION_REOPENED not in by_type(events)


def test_inactive_archive_reason_is_still_found(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.archive("o-1", "r-old", ms(START - timedelta(hours=1)))
    events = translate(rt, org, lever, delivery("candidateArchiveChange", {"opportunityId": "o-1"}))
    assert by_type(events)[EventType.APPLICATION_REJECTED][0].reason == "Position filled (retired reason)"


def test_archive_with_hired_reason_is_a_hire(rt: Any, org: Any, lever: LeverStandIn) -> None:
    hired_at = START - timedelta(hours=1)
    lever.archive("o-1", "r-hired", ms(hired_at))
    events = translate(rt, org, lever, delivery("candidateHired", {"opportunityId": "o-1"}))
    [hired] = by_type(events)[EventType.APPLICATION_HIRED]
    assert (hired.id, hired.occurred_at) == (f"lever:opportunity:o-1:hired:{ms(hired_at)}", hired_at)
    assert EventType.APPLICATION_REJECTED not in by_type(events)


def test_unknown_archive_reason_is_refused(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.archive("o-1", "r-missing", ms(START))
    with pytest.raises(AdapterError, match="archive reason r-missing"):
        translate(rt, org, lever, delivery("candidateArchiveChange", {"opportunityId": "o-1"}))


def test_archive_reasons_are_fetched_once_per_run(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.archive("o-1", "r-under", ms(START))
    with ctx_for(rt, org, lever) as ctx:
        ADAPTER.events_from_webhook(delivery("candidateArchiveChange", {"opportunityId": "o-1"}), ctx)
        ADAPTER.events_from_webhook(delivery("candidateArchiveChange", {"opportunityId": "o-1"}, token="t2"), ctx)
    assert [r.path for r in lever.requests].count("/v1/archive_reasons") == 1
    assert [r.path for r in lever.requests].count("/v1/postings/p-1") == 1


def test_unarchive_is_a_reopen_dated_by_updated_at(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.archive("o-1", "r-under", ms(START - timedelta(hours=5)))
    unarchived_at = START - timedelta(hours=1)
    lever.unarchive("o-1", ms(unarchived_at))
    events = translate(rt, org, lever, delivery("candidateArchiveChange", {"opportunityId": "o-1"}))
    [reopened] = by_type(events)[EventType.APPLICATION_REOPENED]
    assert (reopened.id, reopened.occurred_at) == (f"lever:opportunity:o-1:reopened:{ms(unarchived_at)}", unarchived_at)
    # a second unarchive later is a new fact with its own id
    lever.archive("o-1", "r-under", ms(START - timedelta(minutes=30)))
    lever.unarchive("o-1", ms(START - timedelta(minutes=10)))
    again = by_type(translate(rt, org, lever, delivery("candidateArchiveChange", {"opportunityId": "o-1"})))
    assert again[EventType.APPLICATION_REOPENED][0].id != reopened.id


def test_active_unknown_application_is_not_reopened_on_other_events(rt: Any, org: Any, lever: LeverStandIn) -> None:
    events = translate(rt, org, lever, delivery("candidateStageChange", {"opportunityId": "o-1"}))
    assert EventType.APPLICATION_REOPENED not in by_type(events)


def test_interviews_scheduled_cancelled_and_completed_by_feedback(rt: Any, org: Any, lever: LeverStandIn) -> None:
    first = START - timedelta(days=1)
    lever.add_interview("o-1", "iv-1", date=ms(first), duration=45, created_at=ms(START - timedelta(days=5)),
                        stage="st-onsite")
    lever.add_interview("o-1", "iv-2", date=ms(START + timedelta(days=2)), duration=60,
                        created_at=ms(START - timedelta(days=4)), canceled_at=ms(START - timedelta(hours=2)))
    lever.add_interview("o-1", "iv-3", date=ms(START + timedelta(days=3)), duration=30,
                        created_at=ms(START - timedelta(days=1)))
    lever.add_feedback("o-1", "fb-late", interview="iv-1", completed_at=ms(START - timedelta(hours=12)))
    lever.add_feedback("o-1", "fb-first", interview="iv-1", completed_at=ms(START - timedelta(hours=20)))
    lever.add_feedback("o-1", "fb-manual", interview=None, completed_at=ms(START - timedelta(hours=1)))

    events = by_type(translate(rt, org, lever, delivery("interviewCreated", {"opportunityId": "o-1",
                                                                              "interviewId": "iv-3"})))

    scheduled = {e.interview.id: e for e in events[EventType.INTERVIEW_SCHEDULED] if e.interview}
    assert set(scheduled) == {"iv-1", "iv-3"}
    iv1 = scheduled["iv-1"]
    assert iv1.id == f"lever:interview:iv-1:scheduled:{ms(first)}:45"
    assert iv1.occurred_at == START - timedelta(days=5)
    assert iv1.interview is not None and iv1.interview.starts_at == first
    assert iv1.interview.ends_at == first + timedelta(minutes=45) and iv1.interview.stage == "On-site"
    [cancelled] = events[EventType.INTERVIEW_CANCELLED]
    assert cancelled.id == f"lever:interview:iv-2:cancelled:{ms(START - timedelta(hours=2))}"
    assert cancelled.occurred_at == START - timedelta(hours=2)
    [completed] = events[EventType.INTERVIEW_COMPLETED]
    assert completed.id == "lever:interview:iv-1:completed"
    assert completed.occurred_at == START - timedelta(hours=20)  # the first submitted form
    assert "/v1/opportunities/o-1/feedback" in [r.path for r in lever.requests]


def test_feedback_is_not_fetched_when_no_interview_has_forms(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.add_interview("o-1", "iv-1", date=ms(START), duration=30, created_at=ms(START - timedelta(days=1)))
    translate(rt, org, lever, delivery("interviewCreated", {"opportunityId": "o-1", "interviewId": "iv-1"}))
    assert "/v1/opportunities/o-1/feedback" not in [r.path for r in lever.requests]


def test_rescheduled_interview_is_a_new_fact(rt: Any, org: Any, lever: LeverStandIn) -> None:
    interview = lever.add_interview("o-1", "iv-1", date=ms(START + timedelta(days=1)), duration=30,
                                    created_at=ms(START - timedelta(days=1)))
    before = translate(rt, org, lever, delivery("interviewCreated", {"opportunityId": "o-1", "interviewId": "iv-1"}))
    interview["date"] = ms(START + timedelta(days=2))
    after = translate(rt, org, lever, delivery("interviewUpdated", {"opportunityId": "o-1", "interviewId": "iv-1"},
                                               token="t2"))
    ids_before = {e.id for e in by_type(before)[EventType.INTERVIEW_SCHEDULED]}
    ids_after = {e.id for e in by_type(after)[EventType.INTERVIEW_SCHEDULED]}
    assert ids_before.isdisjoint(ids_after)


def test_deleted_interview_we_hold_is_cancelled(rt: Any, org: Any, lever: LeverStandIn) -> None:
    ends = START + timedelta(days=1)
    org.post(application_event("interview.scheduled", START - timedelta(days=1),
                               interview={"id": "iv-gone", "ends_at": ends.isoformat()}))
    request = delivery("interviewDeleted", {"opportunityId": "o-1", "interviewId": "iv-gone"})
    events = by_type(translate(rt, org, lever, request))
    [cancelled] = events[EventType.INTERVIEW_CANCELLED]
    assert (cancelled.id, cancelled.occurred_at) == ("lever:interview:iv-gone:deleted", START)
    # without an opportunity id the lookup finds the application from the interview
    no_opp = delivery("interviewDeleted", {"interviewId": "iv-gone"}, token="t2")
    again = by_type(translate(rt, org, lever, no_opp))[EventType.INTERVIEW_CANCELLED]
    assert [e.id for e in again] == ["lever:interview:iv-gone:deleted"]


def test_deleted_interview_we_never_held_changes_nothing(rt: Any, org: Any, lever: LeverStandIn) -> None:
    events = translate(rt, org, lever, delivery("interviewDeleted", {"opportunityId": "o-1", "interviewId": "iv-x"}))
    assert EventType.INTERVIEW_CANCELLED not in by_type(events)


def test_candidate_deleted_404_erases_the_contact(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.delete("o-1", ms(START - timedelta(minutes=1)))
    request = delivery("candidateDeleted", {"opportunityId": "o-1", "contactId": "c-1"})
    assert translate(rt, org, lever, request) == []  # a person we never held: nothing to erase
    org.post(application_event("application.created", CREATED, app="o-other"))  # we hold c-1 elsewhere
    events = translate(rt, org, lever, delivery("candidateDeleted", {"opportunityId": "o-1", "contactId": "c-1"}))
    [erased] = events
    assert (erased.type, erased.id, erased.reason, erased.occurred_at) == (
        EventType.CANDIDATE_ERASED, "lever:opportunity:o-1:deleted", "deleted", START)
    assert erased.candidate is not None and erased.candidate.id == "c-1" and erased.candidate.name is None


def test_candidate_deleted_without_contact_uses_what_we_hold(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.delete("o-1", ms(START))
    request = delivery("candidateDeleted", {"opportunityId": "o-1"})
    assert translate(rt, org, lever, request) == []  # never held: nothing to erase
    org.post(application_event("application.created", CREATED))
    [erased] = translate(rt, org, lever, request)
    assert erased.candidate is not None and erased.candidate.id == "c-1"


def test_anonymised_opportunity_is_only_an_erasure(rt: Any, org: Any, lever: LeverStandIn) -> None:
    org.post(application_event("application.created", CREATED))
    lever.anonymize("o-1", ms(START - timedelta(minutes=5)))
    [erased] = translate(rt, org, lever, delivery("candidateStageChange", {"opportunityId": "o-1"}))
    assert (erased.id, erased.reason, erased.occurred_at) == (
        "lever:opportunity:o-1:anonymised", "anonymised", START - timedelta(minutes=5))
    assert [r.path for r in lever.requests] == ["/v1/opportunities/o-1"]


def test_opportunity_without_posting_is_not_an_application(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.add_opportunity("o-lead", contact="c-9", name="Lead", emails=[], posting=None, stage="st-new",
                          created_at=ms(CREATED))
    assert translate(rt, org, lever, delivery("candidateStageChange", {"opportunityId": "o-lead"})) == []


def test_unavailable_posting_leaves_a_job_with_its_id_only(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.add_opportunity("o-2", contact="c-2", name="Bo", emails=["bo@example.com"], posting="p-gone",
                          stage="st-new", created_at=ms(CREATED))
    events = translate(rt, org, lever, delivery("applicationCreated", {"opportunityId": "o-2"}))
    assert events and all(e.job is not None and e.job.id == "p-gone" and e.job.title is None for e in events)


@pytest.mark.parametrize("event", ["contactCreated", "contactUpdated", "someFutureEvent"])
def test_events_that_mean_nothing_to_us_are_empty(rt: Any, org: Any, lever: LeverStandIn, event: str) -> None:
    assert translate(rt, org, lever, delivery(event, {"contactId": "c-1"})) == []
    assert lever.requests == []


def test_missing_opportunity_id_names_the_field(rt: Any, org: Any, lever: LeverStandIn) -> None:
    with pytest.raises(AdapterError, match="data.opportunityId"):
        translate(rt, org, lever, delivery("candidateStageChange", {"contactId": "c-1"}))


def test_deprecated_candidate_id_is_the_opportunity_id(rt: Any, org: Any, lever: LeverStandIn) -> None:
    events = translate(rt, org, lever, delivery("candidateStageChange", {"candidateId": "o-1"}))
    assert events[0].application is not None and events[0].application.id == "o-1"


def test_gone_opportunity_on_another_event_is_a_permanent_error(rt: Any, org: Any, lever: LeverStandIn) -> None:
    with pytest.raises(PermanentAtsError) as caught:
        translate(rt, org, lever, delivery("candidateStageChange", {"opportunityId": "o-nope"}))
    assert caught.value.status == 404


def apply(org: Any, events: list[CanonicalEvent]) -> dict[str, str]:
    """Record events like the core does (oldest first); returns event id -> ledger status."""
    ordered = sorted(events, key=lambda e: e.occurred_at)
    answer = org.post({"events": [e.to_json() for e in ordered]})
    return {r["id"]: r["status"] for r in answer["results"]}


def test_archive_after_an_interview_schedules_our_rejection_and_unarchive_cancels_it(
        rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.add_interview("o-1", "iv-1", date=ms(START - timedelta(days=3)), duration=60,
                        created_at=ms(START - timedelta(days=6)))
    lever.add_feedback("o-1", "fb-1", interview="iv-1", completed_at=ms(START - timedelta(days=2)))
    lever.archive("o-1", "r-under", ms(START - timedelta(hours=2)))
    archived = translate(rt, org, lever, delivery("candidateArchiveChange", {"opportunityId": "o-1"}))
    statuses = apply(org, archived)
    assert set(statuses.values()) == {"applied"}
    [rejection] = notifications(rt.db, "rejection")
    assert rejection.state.value == "scheduled"

    lever.unarchive("o-1", ms(START - timedelta(hours=1)))
    reopened = translate(rt, org, lever, delivery("candidateArchiveChange", {"opportunityId": "o-1"}, token="t2"))
    statuses = apply(org, reopened)
    assert statuses["lever:opportunity:o-1:reopened:" + str(ms(START - timedelta(hours=1)))] == "applied"
    assert statuses["lever:interview:iv-1:completed"] == "duplicate"  # same fact, same id: applied once
    [rejection] = notifications(rt.db, "rejection")
    assert rejection.state.value == "cancelled"


# -- REST client ---------------------------------------------------------------------------------

def test_client_sends_basic_auth_with_the_api_key(rt: Any, org: Any, lever: LeverStandIn) -> None:
    translate(rt, org, lever, delivery("applicationCreated", {"opportunityId": "o-1"}))
    expected = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert lever.requests and all(r.headers["authorization"] == expected for r in lever.requests)


def test_wrong_api_key_is_permanent(rt: Any, org: Any, lever: LeverStandIn) -> None:
    with pytest.raises(PermanentAtsError) as caught:
        translate(rt, org, lever, delivery("applicationCreated", {"opportunityId": "o-1"}),
                  credentials={"api_key": "wrong"})
    assert caught.value.status == 401


def test_missing_api_key_is_permanent(rt: Any, org: Any, lever: LeverStandIn) -> None:
    with pytest.raises(PermanentAtsError, match="api_key"):
        translate(rt, org, lever, delivery("applicationCreated", {"opportunityId": "o-1"}), credentials={})


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limit_and_server_errors_are_transient(rt: Any, org: Any, lever: LeverStandIn, status: int) -> None:
    lever.fail_next(status)
    with pytest.raises(TransientAtsError) as caught:
        translate(rt, org, lever, delivery("applicationCreated", {"opportunityId": "o-1"}))
    assert caught.value.status == status
    if status == 429:
        assert caught.value.retry_after == 30


def test_client_follows_offset_pagination(rt: Any, org: Any, lever: LeverStandIn) -> None:
    for n in range(230):
        lever.add_archive_reason(f"r-{n}", f"Reason {n}", "non-hired")
    with ctx_for(rt, org, lever) as ctx:
        client = LeverClient(ctx)
        assert client.archive_reason("r-229") is not None
    calls = [r for r in lever.requests if r.path == "/v1/archive_reasons"]
    assert len(calls) == 3
    assert calls[0].param("offset") is None and calls[1].param("offset") and calls[2].param("offset")
    assert all(r.param("limit") == "100" for r in calls)


# -- reconciliation poll -------------------------------------------------------------------------

def poll_all(rt: Any, org: Any, lever: LeverStandIn, cursor: dict[str, Any] | None, *, now: datetime = START,
             options: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """Call fetch_changes until `more` is False, like the core's poll loop; returns records, cursor, pages."""
    records: list[dict[str, Any]] = []
    pages = 0
    with ctx_for(rt, org, lever, now=now, options=options or {}) as ctx:
        while True:
            page = ADAPTER.fetch_changes(ctx, cursor)
            json.dumps(page.cursor)  # the core stores it as JSON
            records.extend(page.records)
            cursor, pages = page.cursor, pages + 1
            if not page.more:
                return records, cursor, pages


def test_first_poll_looks_back_the_configured_days(rt: Any, org: Any, lever: LeverStandIn) -> None:
    poll_all(rt, org, lever, None, options={"poll_lookback_days": 3})
    first = lever.requests[0]
    assert first.path == "/v1/opportunities"
    assert first.param("updated_at_start") == str(ms(START - timedelta(days=3)))
    assert sorted(first.query["expand"]) == ["applications", "stage"]
    deleted = [r for r in lever.requests if r.path == "/v1/opportunities/deleted"]
    assert deleted and deleted[0].param("deleted_at_start") == str(ms(START - timedelta(days=3)))


def test_first_poll_default_look_back_is_14_days(rt: Any, org: Any, lever: LeverStandIn) -> None:
    poll_all(rt, org, lever, None)
    assert lever.requests[0].param("updated_at_start") == str(ms(START - timedelta(days=14)))


def test_poll_pages_through_opportunities_then_deleted(rt: Any, org: Any, lever: LeverStandIn) -> None:
    for n in range(30):
        lever.add_opportunity(f"o-bulk-{n}", contact=f"c-bulk-{n}", name=f"Person {n}", emails=[], posting="p-1",
                              stage="st-new", created_at=ms(START - timedelta(days=1)))
    lever.add_opportunity("o-del", contact="c-del", name="Gone", emails=[], posting="p-1", stage="st-new",
                          created_at=ms(CREATED))
    lever.delete("o-del", ms(START - timedelta(hours=1)))
    org.post(application_event("application.created", CREATED, app="o-del", candidate="c-del"))
    records, cursor, pages = poll_all(rt, org, lever, None)
    assert pages == 3  # 31 opportunities in pages of 25, then one page of deleted ones
    assert len(records) == 32
    listed = [r for r in lever.requests if r.path == "/v1/opportunities"]
    assert [r.param("limit") for r in listed] == ["25", "25"] and listed[1].param("offset")
    assert cursor["phase"] == "opportunities" and cursor["offset"] is None
    assert cursor["updated_at_start"] == ms(START - timedelta(minutes=5))
    assert cursor["last_updated_at"] == ms(START - timedelta(days=1))
    with ctx_for(rt, org, lever) as ctx:
        events = check(ADAPTER.events_from_records(records, ctx))
    erased = by_type(events)[EventType.CANDIDATE_ERASED]
    assert [(e.id, e.occurred_at) for e in erased] == [("lever:opportunity:o-del:deleted", START - timedelta(hours=1))]


def test_poll_ignores_deleted_and_anonymised_strangers(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.add_opportunity("o-x", contact="c-x", name="Stranger", emails=[], posting="p-1", stage="st-new",
                          created_at=ms(CREATED))
    lever.delete("o-x", ms(START - timedelta(hours=1)))
    lever.anonymize("o-1", ms(START - timedelta(hours=2)))
    records, _, _ = poll_all(rt, org, lever, None)
    assert len(records) == 2
    with ctx_for(rt, org, lever) as ctx:
        assert ADAPTER.events_from_records(records, ctx) == []


def test_second_poll_returns_only_newer_records(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.add_opportunity("o-recent", contact="c-r", name="Recent", emails=[], posting="p-1", stage="st-new",
                          created_at=ms(START - timedelta(minutes=2)))  # inside the overlap window
    records, cursor, _ = poll_all(rt, org, lever, None)
    assert {r["opportunity"]["id"] for r in records} == {"o-1", "o-recent"}

    later = START + timedelta(minutes=15)
    lever.move("o-1", "st-onsite", ms(START + timedelta(minutes=10)))
    lever.requests.clear()
    again, cursor2, _ = poll_all(rt, org, lever, cursor, now=later)
    assert [r["opportunity"]["id"] for r in again] == ["o-1"]  # o-recent was re-read in the overlap, not returned
    assert lever.requests[0].param("updated_at_start") == str(ms(START - timedelta(minutes=5)))
    assert cursor2["updated_at_start"] == ms(later - timedelta(minutes=5))

    lever.requests.clear()
    nothing, _, _ = poll_all(rt, org, lever, cursor2, now=later + timedelta(minutes=15))
    assert nothing == []


def test_webhook_and_poll_give_identical_event_ids(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.add_interview("o-1", "iv-1", date=ms(START - timedelta(days=1)), duration=60,
                        created_at=ms(START - timedelta(days=3)))
    lever.add_feedback("o-1", "fb-1", interview="iv-1", completed_at=ms(START - timedelta(hours=20)))
    lever.archive("o-1", "r-under", ms(START - timedelta(hours=2)))
    from_webhook = translate(rt, org, lever, delivery("candidateArchiveChange", {"opportunityId": "o-1"}))
    records, _, _ = poll_all(rt, org, lever, None)
    with ctx_for(rt, org, lever) as ctx:
        from_poll = check(ADAPTER.events_from_records(records, ctx))
    assert sorted(e.id for e in from_webhook) == sorted(e.id for e in from_poll)
    assert {e.type for e in from_poll} == {EventType.APPLICATION_CREATED, EventType.APPLICATION_STAGE_CHANGED,
                                           EventType.INTERVIEW_SCHEDULED, EventType.INTERVIEW_COMPLETED,
                                           EventType.APPLICATION_REJECTED}
    assert [e.to_json() for e in from_webhook] == [e.to_json() for e in from_poll]


def test_poll_records_replay_without_asking_lever(rt: Any, org: Any, vendor_env: None) -> None:
    with LeverStandIn(api_key=KEY) as standin:
        standin.add_stage("st-new", "New applicant")
        standin.add_posting("p-1", "Backend Engineer")
        standin.add_opportunity("o-1", contact="c-1", name="Ada", emails=["ada@example.com"], posting="p-1",
                                stage="st-new", created_at=ms(CREATED))
        records, _, _ = poll_all(rt, org, standin, None)
        with ctx_for(rt, org, standin) as ctx:
            first = ADAPTER.events_from_records(records, ctx)
        base_url = standin.base_url
    stored = json.loads(json.dumps(records))  # what the core keeps
    with context(rt, org.id, "lever", credentials={"api_key": KEY}, options={"api_base_url": base_url}) as ctx:
        replayed = ADAPTER.events_from_records(stored, ctx)  # the stand-in is gone: no call may happen
    assert [e.to_json() for e in replayed] == [e.to_json() for e in first]


def test_poll_catches_a_missed_unarchive_of_an_application_we_hold(rt: Any, org: Any, lever: LeverStandIn) -> None:
    org.post(application_event("application.rejected", START - timedelta(hours=5)))
    lever.archive("o-1", "r-under", ms(START - timedelta(hours=5)))
    unarchived = START - timedelta(hours=1)
    lever.unarchive("o-1", ms(unarchived))  # the candidateArchiveChange webhook was lost
    records, _, _ = poll_all(rt, org, lever, None)
    with ctx_for(rt, org, lever) as ctx:
        events = by_type(check(ADAPTER.events_from_records(records, ctx)))
    [reopened] = events[EventType.APPLICATION_REOPENED]
    assert (reopened.id, reopened.occurred_at) == (f"lever:opportunity:o-1:reopened:{ms(unarchived)}", unarchived)


def test_poll_stops_on_a_transient_error_with_the_cursor_unchanged(rt: Any, org: Any, lever: LeverStandIn) -> None:
    lever.fail_next(503)
    with ctx_for(rt, org, lever) as ctx, pytest.raises(TransientAtsError):
        ADAPTER.fetch_changes(ctx, None)


def test_poll_record_without_contact_names_the_field(rt: Any, org: Any) -> None:
    with context(rt, org.id, "lever") as ctx, pytest.raises(AdapterError, match="opportunity.contact"):
        ADAPTER.events_from_records([{"opportunity": {"id": "o-1", "applications": []}}], ctx)
