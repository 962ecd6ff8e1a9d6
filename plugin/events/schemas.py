"""Marshmallow schemas for canonical events (DESIGN.md, "Canonical events").

`load_events` turns the already-parsed JSON body of `POST /api/v1/events` into
`plugin.events.types.CanonicalEvent` objects. The whole payload is validated first; any error anywhere
raises `EventValidationError` carrying every message, so the caller can reject the request and
store nothing.

The field types they use (event type, UTC datetime, locale, time zone) are in `plugin.events.fields`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from plugin.events.fields import EventTypeField, Locale, TimeZoneName, UtcDateTime
from plugin.events.types import (
    APPLICATION_SCOPED,
    INTERVIEW_EVENTS,
    JOB_EVENTS,
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
from plugin.sla.calendar import CalendarError, validate_calendar

__all__ = ["MAX_BATCH", "EventValidationError", "load_events"]

MAX_BATCH = 1000

ID_MAX = 200
NAME_MAX = 200
TITLE_MAX = 300
STAGE_MAX = 200
EMAIL_MAX = 320
REASON_MAX = 1000
NOTE_MAX = 2000

NOT_OBJECT_MESSAGE = 'Expected one event object or {"events": [...]}.'
BATCH_SIZE_MESSAGE = f"Expected between 1 and {MAX_BATCH} events."


class EventValidationError(ValueError):
    """The payload is invalid. `errors` holds marshmallow-style nested messages (string keys)."""

    def __init__(self, errors: dict[str, Any]) -> None:
        self.errors: dict[str, Any] = _stringify_keys(errors)
        super().__init__(self.errors)


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stringify_keys(v) for v in value]
    return value


def _id(*, required: bool = True) -> fields.String:
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=ID_MAX))
    return fields.String(allow_none=True, validate=validate.Length(min=1, max=ID_MAX))


def _text(max_length: int) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=max_length))


def _email() -> fields.Email:
    return fields.Email(allow_none=True, validate=validate.Length(max=EMAIL_MAX))


# --- schemas ------------------------------------------------------------------------------------


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class PersonSchema(_Strict):
    name = _text(NAME_MAX)
    email = _email()

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> Person:
        return Person(**data)


class CandidateSchema(_Strict):
    id = _id()
    name = _text(NAME_MAX)
    email = _email()
    locale = Locale(allow_none=True)
    timezone = TimeZoneName(allow_none=True)
    country = fields.String(allow_none=True, validate=validate.Length(min=2, max=8))
    subdivision = fields.String(allow_none=True, validate=validate.Length(min=1, max=16))

    @validates_schema
    def _known_holiday_calendar(self, data: dict[str, Any], **kwargs: Any) -> None:
        """A country the holidays package does not know would silently mean "no holidays"."""
        country, subdivision = data.get("country"), data.get("subdivision")
        if subdivision is not None and country is None:
            raise ValidationError("A subdivision needs a country.", "subdivision")
        if country is None:
            return
        try:
            validate_calendar("UTC", country.upper(), subdivision.upper() if subdivision else None)
        except CalendarError as exc:
            raise ValidationError(str(exc), "subdivision" if "ubdivision" in str(exc) else "country") from None

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> CandidateRef:
        for key in ("country", "subdivision"):
            if data.get(key):
                data[key] = data[key].upper()
        return CandidateRef(**data)


class JobSchema(_Strict):
    id = _id()
    title = _text(TITLE_MAX)
    department = _text(NAME_MAX)
    hiring_manager = fields.Nested(PersonSchema, allow_none=True)
    recruiter = fields.Nested(PersonSchema, allow_none=True)

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> JobRef:
        return JobRef(**data)


class ApplicationSchema(_Strict):
    id = _id()
    stage = _text(STAGE_MAX)

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> ApplicationRef:
        return ApplicationRef(**data)


class InterviewSchema(_Strict):
    id = _id()
    starts_at = UtcDateTime(allow_none=True)
    ends_at = UtcDateTime(allow_none=True)
    stage = _text(STAGE_MAX)

    @validates_schema
    def _check_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at is not None and ends_at is not None and ends_at < starts_at:
            raise ValidationError("Must not be before starts_at.", "ends_at")

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> InterviewRef:
        return InterviewRef(**data)


# Optional top-level fields that only make sense for some event types (`merged_into` is checked
# with the erasure rules).
_ALLOWED_ONLY_FOR: dict[str, frozenset[EventType]] = {
    # DESIGN.md's own example sends the promised decision date with `interview.completed`.
    "decision_expected_by": frozenset(
        {EventType.DECISION_PROMISED, EventType.INTERVIEW_COMPLETED}
    ),
    "ats_notification": frozenset({EventType.APPLICATION_REJECTED}),
    "notify_not_before": frozenset({EventType.APPLICATION_REJECTED}),
    "channel": frozenset({EventType.CANDIDATE_CONTACTED}),
}


_ERASURE_REASONS = frozenset(r.value for r in ErasureReason)


def _required_fields(event_type: EventType) -> list[str]:
    required: list[str] = []
    if event_type in APPLICATION_SCOPED:
        required += ["candidate", "job", "application"]
    if event_type in INTERVIEW_EVENTS:
        required.append("interview")
    if event_type in JOB_EVENTS:
        required.append("job")
    if event_type is EventType.DECISION_PROMISED:
        required.append("decision_expected_by")
    if event_type is EventType.CANDIDATE_ERASED:
        # DESIGN: "only the candidate's `id` is required"; a missing reason means "deleted".
        required.append("candidate")
    return required


def _present(original: Mapping[str, Any], key: str) -> bool:
    return original.get(key) is not None


class EventSchema(_Strict):
    id = _id()
    type = EventTypeField(required=True)
    occurred_at = UtcDateTime(required=True)
    candidate = fields.Nested(CandidateSchema, allow_none=True)
    job = fields.Nested(JobSchema, allow_none=True)
    application = fields.Nested(ApplicationSchema, allow_none=True)
    interview = fields.Nested(InterviewSchema, allow_none=True)
    decision_expected_by = fields.Date(
        allow_none=True,
        metadata={"description": "The date promised to the candidate: required for decision.promised, "
                                 "optional for interview.completed (DESIGN's own example)."},
    )
    channel = fields.Enum(ContactChannel, by_value=True, allow_none=True)
    reason = fields.String(
        allow_none=True, validate=validate.Length(max=REASON_MAX),
        metadata={"description": "application.rejected: free text. candidate.erased: deleted | anonymised "
                                 "| merged, optional; missing means deleted."},
    )
    ats_notification = fields.Enum(AtsNotification, by_value=True, allow_none=True)
    notify_not_before = UtcDateTime(allow_none=True)
    merged_into = _id(required=False)
    note = _text(NOTE_MAX)

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _check_type_rules(
        self, data: dict[str, Any], original_data: Any, **kwargs: Any
    ) -> None:
        event_type = data.get("type")
        if not isinstance(event_type, EventType) or not isinstance(original_data, Mapping):
            return  # the type (or the whole input) already has its own error
        errors: dict[str, Any] = {}

        def add(key: str, message: str) -> None:
            errors.setdefault(key, []).append(message)

        for key in _required_fields(event_type):
            if not _present(original_data, key):
                add(key, f"Required for {event_type} events.")
        for key, allowed in _ALLOWED_ONLY_FOR.items():
            if _present(original_data, key) and event_type not in allowed:
                add(key, f"Not allowed for {event_type} events.")

        if event_type is EventType.INTERVIEW_SCHEDULED:
            interview = original_data.get("interview")
            if isinstance(interview, Mapping) and not _present(interview, "ends_at"):
                errors["interview"] = {"ends_at": [f"Required for {event_type} events."]}

        reason = original_data.get("reason")
        if event_type is EventType.CANDIDATE_ERASED:
            if isinstance(reason, str) and reason not in _ERASURE_REASONS:
                add("reason", "Must be one of: " + ", ".join(r.value for r in ErasureReason) + ".")
            if reason == ErasureReason.MERGED and not _present(original_data, "merged_into"):
                add("merged_into", "Required when reason is 'merged'.")
            if reason != ErasureReason.MERGED and _present(original_data, "merged_into"):
                add("merged_into", "Only allowed when reason is 'merged'.")
        elif _present(original_data, "merged_into"):
            add("merged_into", f"Not allowed for {event_type} events.")

        if errors:
            raise ValidationError(errors)

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> CanonicalEvent:
        if data["type"] is EventType.CANDIDATE_ERASED:
            # Stored explicitly, so the canonical log says what the erasure meant.
            data["reason"] = ErasureReason(data.get("reason") or ErasureReason.DELETED)
        return CanonicalEvent(**data)


_EVENT_SCHEMA = EventSchema()


def _load_one(item: Any) -> CanonicalEvent:
    try:
        event: CanonicalEvent = _EVENT_SCHEMA.load(item)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        raise EventValidationError(messages if isinstance(messages, dict) else {"_schema": messages})
    return event


def _load_batch(payload: Mapping[str, Any]) -> list[CanonicalEvent]:
    errors: dict[str, Any] = {str(key): ["Unknown field."] for key in payload if key != "events"}
    items = payload["events"]
    if not isinstance(items, list):
        errors["events"] = ["Expected a list of events."]
        raise EventValidationError(errors)
    if not 1 <= len(items) <= MAX_BATCH:
        errors["events"] = [BATCH_SIZE_MESSAGE]
        raise EventValidationError(errors)

    events: list[CanonicalEvent] = []
    item_errors: dict[str, Any] = {}
    for index, item in enumerate(items):
        try:
            events.append(_load_one(item))
        except EventValidationError as exc:
            item_errors[str(index)] = exc.errors
    if item_errors:
        errors["events"] = item_errors
    if errors:
        raise EventValidationError(errors)
    return events


def load_events(payload: Any) -> list[CanonicalEvent]:
    """Validate a parsed JSON body (one event or `{"events": [...]}`) and build the events.

    Raises `EventValidationError` with every error if anything is invalid; returns nothing partial.
    """
    if not isinstance(payload, dict):
        raise EventValidationError({"_schema": [NOT_OBJECT_MESSAGE]})
    if "events" in payload:
        return _load_batch(payload)
    return [_load_one(payload)]
