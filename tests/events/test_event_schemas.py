"""Tests for plugin.events.schemas (DESIGN.md, "Canonical events")."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin.events.schemas import MAX_BATCH, EventValidationError, load_events
from plugin.events.types import (
    ApplicationRef,
    AtsNotification,
    CandidateRef,
    CanonicalEvent,
    ContactChannel,
    ErasureReason,
    EventType,
    InterviewRef,
    JobRef,
    Person,
)

UTC = timezone.utc

DESIGN_EXAMPLE: dict[str, Any] = {
    "id": "evt-42",
    "type": "interview.completed",
    "occurred_at": "2026-11-20T15:00:00Z",
    "candidate": {
        "id": "c-1",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "locale": "en",
        "timezone": "Europe/London",
    },
    "job": {
        "id": "j-1",
        "title": "Backend Engineer",
        "department": "Engineering",
        "hiring_manager": {"name": "Grace Hopper", "email": "grace@corp.example"},
        "recruiter": {"name": "Alan Turing", "email": "alan@corp.example"},
    },
    "application": {"id": "a-1"},
    "interview": {"id": "i-1", "ends_at": "2026-11-20T15:00:00Z", "stage": "Onsite"},
    "decision_expected_by": "2026-11-27",
}

BASE = {"id": "e-1", "occurred_at": "2026-11-20T15:00:00+01:00"}
APP = {"candidate": {"id": "c-1"}, "job": {"id": "j-1"}, "application": {"id": "a-1"}}

MINIMAL: dict[EventType, dict[str, Any]] = {
    EventType.APPLICATION_CREATED: {**APP},
    EventType.APPLICATION_STAGE_CHANGED: {**APP},
    EventType.INTERVIEW_SCHEDULED: {**APP, "interview": {"id": "i-1", "ends_at": "2026-11-21T10:00Z"}},
    EventType.INTERVIEW_COMPLETED: {**APP, "interview": {"id": "i-1"}},
    EventType.INTERVIEW_CANCELLED: {**APP, "interview": {"id": "i-1"}},
    EventType.DECISION_PROMISED: {**APP, "decision_expected_by": "2026-11-27"},
    EventType.CANDIDATE_CONTACTED: {**APP},
    EventType.APPLICATION_REJECTED: {**APP},
    EventType.APPLICATION_REOPENED: {**APP},
    EventType.APPLICATION_HIRED: {**APP},
    EventType.APPLICATION_WITHDRAWN: {**APP},
    EventType.JOB_CLOSED: {"job": {"id": "j-1"}},
    EventType.JOB_REOPENED: {"job": {"id": "j-1"}},
    EventType.CANDIDATE_ERASED: {"candidate": {"id": "c-1"}, "reason": "deleted"},
}


def event(event_type: EventType | str, **overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(MINIMAL.get(EventType(event_type), {})) if event_type in set(EventType) else {}
    return {**BASE, "type": str(event_type), **body, **overrides}


def errors_of(payload: Any) -> dict[str, Any]:
    with pytest.raises(EventValidationError) as info:
        load_events(payload)
    json.dumps(info.value.errors)  # always JSON-serialisable
    return info.value.errors


def test_every_type_has_a_minimal_payload() -> None:
    assert set(MINIMAL) == set(EventType)


def test_design_example_loads() -> None:
    [loaded] = load_events(copy.deepcopy(DESIGN_EXAMPLE))
    assert loaded == CanonicalEvent(
        id="evt-42",
        type=EventType.INTERVIEW_COMPLETED,
        occurred_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
        candidate=CandidateRef(
            id="c-1",
            name="Ada Lovelace",
            email="ada@example.com",
            locale="en",
            timezone="Europe/London",
        ),
        job=JobRef(
            id="j-1",
            title="Backend Engineer",
            department="Engineering",
            hiring_manager=Person(name="Grace Hopper", email="grace@corp.example"),
            recruiter=Person(name="Alan Turing", email="alan@corp.example"),
        ),
        application=ApplicationRef(id="a-1"),
        interview=InterviewRef(
            id="i-1", ends_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC), stage="Onsite"
        ),
        decision_expected_by=date(2026, 11, 27),
    )
    assert loaded.type is EventType.INTERVIEW_COMPLETED
    assert loaded.occurred_at.utcoffset() is not None


@pytest.mark.parametrize("event_type", list(EventType), ids=str)
def test_minimal_payload_of_every_type_loads(event_type: EventType) -> None:
    [loaded] = load_events(event(event_type))
    assert isinstance(loaded, CanonicalEvent)
    assert loaded.type is event_type
    assert loaded.occurred_at == datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    assert loaded.occurred_at.tzinfo == UTC


def test_optional_fields_become_enums_dates_and_utc() -> None:
    [rejected, contacted, promised, erased] = load_events(
        {
            "events": [
                event(
                    EventType.APPLICATION_REJECTED,
                    reason="Position filled",
                    ats_notification="scheduled",
                    notify_not_before="2026-11-21T09:00:00-05:00",
                    note="n",
                ),
                event(EventType.CANDIDATE_CONTACTED, channel="phone"),
                event(EventType.DECISION_PROMISED),
                event(EventType.CANDIDATE_ERASED, reason="merged", merged_into="c-2"),
            ]
        }
    )
    assert rejected.ats_notification is AtsNotification.SCHEDULED
    assert rejected.notify_not_before == datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
    assert rejected.reason == "Position filled"
    assert contacted.channel is ContactChannel.PHONE
    assert promised.decision_expected_by == date(2026, 11, 27)
    assert erased.reason == ErasureReason.MERGED and erased.merged_into == "c-2"


def test_locale_is_normalised() -> None:
    payload = event(EventType.APPLICATION_CREATED, candidate={"id": "c-1", "locale": "de_de"})
    [loaded] = load_events(payload)
    assert loaded.candidate is not None and loaded.candidate.locale == "de-DE"


def test_bad_locale() -> None:
    payload = event(EventType.APPLICATION_CREATED, candidate={"id": "c-1", "locale": "english!"})
    assert "locale" in errors_of(payload)["candidate"]


def test_batch_limits() -> None:
    batch = [event(EventType.APPLICATION_CREATED, id=f"e-{i}") for i in range(MAX_BATCH)]
    assert len(load_events({"events": batch})) == MAX_BATCH
    too_many = errors_of({"events": batch + [event(EventType.APPLICATION_CREATED)]})
    assert too_many == {"events": [f"Expected between 1 and {MAX_BATCH} events."]}
    assert errors_of({"events": []}) == too_many
    assert "events" in errors_of({"events": "nope"})


def test_batch_object_rejects_other_keys() -> None:
    errors = errors_of({"events": [event(EventType.JOB_CLOSED)], "source": "x"})
    assert errors == {"source": ["Unknown field."]}


def test_duplicate_ids_in_batch_are_kept() -> None:
    loaded = load_events({"events": [event(EventType.JOB_CLOSED)] * 2})
    assert [e.id for e in loaded] == ["e-1", "e-1"]


@pytest.mark.parametrize("payload", [[], [event(EventType.JOB_CLOSED)], "x", 3, 1.5, None, True])
def test_non_object_payload(payload: Any) -> None:
    assert errors_of(payload) == {"_schema": ['Expected one event object or {"events": [...]}.']}


def test_unknown_type_is_named() -> None:
    [message] = errors_of(event("foo"))["type"]
    assert message.startswith("Unknown event type 'foo'. Expected one of: application.created, ")
    assert "candidate.erased" in message


def test_unknown_fields_are_named() -> None:
    errors = errors_of(
        event(EventType.APPLICATION_CREATED, color="blue", candidate={"id": "c", "nickname": "x"})
    )
    assert errors == {"color": ["Unknown field."], "candidate": {"nickname": ["Unknown field."]}}
    nested = errors_of(
        event(EventType.JOB_CLOSED, job={"id": "j", "recruiter": {"name": "R", "phone": "1"}})
    )
    assert nested == {"job": {"recruiter": {"phone": ["Unknown field."]}}}


def test_naive_occurred_at_is_rejected() -> None:
    [message] = errors_of(event(EventType.JOB_CLOSED, occurred_at="2026-11-20T15:00:00"))["occurred_at"]
    assert "offset" in message
    assert "occurred_at" in errors_of(event(EventType.JOB_CLOSED, occurred_at="2026-11-20"))


def test_required_top_level_fields() -> None:
    errors = errors_of({"candidate": {"id": "c"}})
    assert set(errors) == {"id", "type", "occurred_at"}
    assert "id" in errors_of(event(EventType.JOB_CLOSED, id=""))
    assert "id" in errors_of(event(EventType.JOB_CLOSED, id="x" * 201))


def test_invalid_email() -> None:
    payload = event(EventType.APPLICATION_CREATED, candidate={"id": "c", "email": "not-an-email"})
    assert errors_of(payload) == {"candidate": {"email": ["Not a valid email address."]}}


def test_invalid_time_zone() -> None:
    for zone in ["Mars/Olympus", "Europe", "../../etc/passwd", "localtime"]:
        payload = event(EventType.APPLICATION_CREATED, candidate={"id": "c", "timezone": zone})
        assert errors_of(payload) == {"candidate": {"timezone": [f"Unknown time zone {zone!r}."]}}


def test_missing_per_type_requirements() -> None:
    errors = errors_of({**BASE, "type": "application.rejected"})
    required = ["Required for application.rejected events."]
    assert errors == {"candidate": required, "job": required, "application": required}
    assert errors_of({**BASE, "type": "job.closed"}) == {"job": ["Required for job.closed events."]}
    assert errors_of(event(EventType.INTERVIEW_COMPLETED, interview=None)) == {
        "interview": ["Required for interview.completed events."]
    }
    assert errors_of(event(EventType.INTERVIEW_SCHEDULED, interview={"id": "i"})) == {
        "interview": {"ends_at": ["Required for interview.scheduled events."]}
    }
    promised = event(EventType.DECISION_PROMISED)
    del promised["decision_expected_by"]
    assert errors_of(promised) == {
        "decision_expected_by": ["Required for decision.promised events."]
    }
    assert errors_of({**BASE, "type": "candidate.erased"}) == {
        "candidate": ["Required for candidate.erased events."],
    }


def test_erasure_without_reason_means_deleted() -> None:
    """DESIGN: "only the candidate's `id` is required" for candidate.erased."""
    for payload in ({**BASE, "type": "candidate.erased", "candidate": {"id": "c-1"}},
                    {**BASE, "type": "candidate.erased", "candidate": {"id": "c-1"}, "reason": None}):
        [erased] = load_events(payload)
        assert erased.reason is ErasureReason.DELETED
        assert erased.to_json()["reason"] == "deleted"


def test_merged_into_without_reason_is_refused() -> None:
    payload = {**BASE, "type": "candidate.erased", "candidate": {"id": "c-1"}, "merged_into": "c-2"}
    assert errors_of(payload) == {"merged_into": ["Only allowed when reason is 'merged'."]}


def test_interview_completed_carries_the_promised_decision_date() -> None:
    [loaded] = load_events(event(EventType.INTERVIEW_COMPLETED, decision_expected_by="2026-11-27"))
    assert loaded.decision_expected_by == date(2026, 11, 27)
    assert loaded.to_json()["decision_expected_by"] == "2026-11-27"
    [without] = load_events(event(EventType.INTERVIEW_COMPLETED))
    assert without.decision_expected_by is None


def test_erasure_reason_must_be_known() -> None:
    assert "reason" in errors_of(event(EventType.CANDIDATE_ERASED, reason="because"))


def test_merged_needs_merged_into_and_only_then() -> None:
    assert errors_of(event(EventType.CANDIDATE_ERASED, reason="merged")) == {
        "merged_into": ["Required when reason is 'merged'."]
    }
    assert "merged_into" in errors_of(
        event(EventType.CANDIDATE_ERASED, reason="deleted", merged_into="c-2")
    )


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        (EventType.APPLICATION_CREATED, "decision_expected_by", "2026-11-27"),
        (EventType.APPLICATION_HIRED, "ats_notification", "sent"),
        (EventType.APPLICATION_WITHDRAWN, "notify_not_before", "2026-11-27T00:00:00Z"),
        (EventType.APPLICATION_REJECTED, "channel", "email"),
        (EventType.JOB_CLOSED, "merged_into", "c-2"),
    ],
)
def test_field_not_allowed_for_type(event_type: EventType, field: str, value: str) -> None:
    assert errors_of(event(event_type, **{field: value})) == {
        field: [f"Not allowed for {event_type} events."]
    }


def test_interview_cannot_end_before_it_starts() -> None:
    interview = {"id": "i", "starts_at": "2026-11-21T10:00Z", "ends_at": "2026-11-21T09:00Z"}
    errors = errors_of(event(EventType.INTERVIEW_SCHEDULED, interview=interview))
    assert "ends_at" in errors["interview"]


def test_errors_are_collected_across_batch_items() -> None:
    batch = [
        event(EventType.JOB_CLOSED),
        event("nope"),
        event(EventType.APPLICATION_CREATED, candidate={"id": "c", "email": "x"}),
        "not an object",
        event(EventType.JOB_REOPENED),
    ]
    errors = errors_of({"events": batch})
    assert set(errors) == {"events"}
    assert set(errors["events"]) == {"1", "2", "3"}
    assert "type" in errors["events"]["1"]
    assert errors["events"]["2"] == {"candidate": {"email": ["Not a valid email address."]}}
    assert "_schema" in errors["events"]["3"]
    assert json.loads(json.dumps(errors)) == errors


def test_single_event_errors_are_its_own_messages() -> None:
    errors = errors_of(event("foo", candidate={"id": "c", "email": "bad"}))
    assert set(errors) == {"type", "candidate"}


# --- property: arbitrary JSON never raises anything but EventValidationError ---------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)

FIELD_NAMES = [
    "id", "type", "occurred_at", "candidate", "job", "application", "interview",
    "decision_expected_by", "channel", "reason", "ats_notification", "notify_not_before",
    "merged_into", "note",
]  # fmt: skip
SAMPLE_VALUES = st.sampled_from(
    [
        *[t.value for t in EventType],
        "2026-11-20T15:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2026-11-27",
        "merged",
        "sent",
        "email",
        {"id": "x"},
        {"id": "x", "ends_at": "2026-11-20T15:00:00Z", "starts_at": "bad"},
        {"id": "x", "timezone": "Europe/Berlin", "locale": "pt_br", "email": "a@b.co"},
        {"id": "x", "hiring_manager": {"email": "x"}},
    ]
)
event_like = st.dictionaries(st.sampled_from(FIELD_NAMES), SAMPLE_VALUES | json_values, max_size=10)


def _check(payload: Any) -> None:
    try:
        result = load_events(payload)
    except EventValidationError as exc:
        json.dumps(exc.errors)
    else:
        assert all(isinstance(e, CanonicalEvent) for e in result)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_only_raises_validation_errors(payload: Any) -> None:
    _check(payload)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(event_like, st.builds(lambda xs: {"events": xs}, st.lists(event_like, max_size=3))))
def test_event_like_payloads_only_raise_validation_errors(payload: Any) -> None:
    _check(payload)
