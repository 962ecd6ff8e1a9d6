"""The canonical event vocabulary every ATS integration speaks (DESIGN.md, "Canonical events").

Plain frozen dataclasses: no Flask, no database. The HTTP layer (`plugin.events.schemas`) turns
JSON into these, ATS adapters build them from vendor payloads, and the ledger (`plugin.sla.ledger`)
applies them.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    APPLICATION_CREATED = "application.created"
    APPLICATION_STAGE_CHANGED = "application.stage_changed"
    INTERVIEW_SCHEDULED = "interview.scheduled"
    INTERVIEW_COMPLETED = "interview.completed"
    INTERVIEW_CANCELLED = "interview.cancelled"
    DECISION_PROMISED = "decision.promised"
    CANDIDATE_CONTACTED = "candidate.contacted"
    APPLICATION_REJECTED = "application.rejected"
    APPLICATION_REOPENED = "application.reopened"
    APPLICATION_HIRED = "application.hired"
    APPLICATION_WITHDRAWN = "application.withdrawn"
    JOB_CLOSED = "job.closed"
    JOB_REOPENED = "job.reopened"
    CANDIDATE_ERASED = "candidate.erased"


# Events about one application must name the candidate, the job and the application, so that an
# event arriving before `application.created` (out of order) can still be applied.
APPLICATION_SCOPED = frozenset(
    {
        EventType.APPLICATION_CREATED,
        EventType.APPLICATION_STAGE_CHANGED,
        EventType.INTERVIEW_SCHEDULED,
        EventType.INTERVIEW_COMPLETED,
        EventType.INTERVIEW_CANCELLED,
        EventType.DECISION_PROMISED,
        EventType.CANDIDATE_CONTACTED,
        EventType.APPLICATION_REJECTED,
        EventType.APPLICATION_REOPENED,
        EventType.APPLICATION_HIRED,
        EventType.APPLICATION_WITHDRAWN,
    }
)
INTERVIEW_EVENTS = frozenset(
    {EventType.INTERVIEW_SCHEDULED, EventType.INTERVIEW_COMPLETED, EventType.INTERVIEW_CANCELLED}
)
JOB_EVENTS = frozenset({EventType.JOB_CLOSED, EventType.JOB_REOPENED})


class AtsNotification(StrEnum):
    """What the ATS says about its own email to a rejected candidate."""

    SENT = "sent"
    SCHEDULED = "scheduled"
    NONE = "none"
    UNKNOWN = "unknown"


class ContactChannel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    OTHER = "other"


class ErasureReason(StrEnum):
    DELETED = "deleted"
    ANONYMISED = "anonymised"
    MERGED = "merged"


@dataclass(frozen=True)
class Person:
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class CandidateRef:
    id: str
    name: str | None = None
    email: str | None = None
    locale: str | None = None
    timezone: str | None = None
    # Where the candidate lives, for their public holidays (send windows); ISO 3166 codes.
    country: str | None = None
    subdivision: str | None = None


@dataclass(frozen=True)
class JobRef:
    id: str
    title: str | None = None
    department: str | None = None
    hiring_manager: Person | None = None
    recruiter: Person | None = None


@dataclass(frozen=True)
class ApplicationRef:
    id: str
    stage: str | None = None


@dataclass(frozen=True)
class InterviewRef:
    id: str
    ends_at: datetime | None = None
    starts_at: datetime | None = None
    stage: str | None = None


@dataclass(frozen=True)
class CanonicalEvent:
    """One fact reported by an ATS. `occurred_at` (aware, UTC) decides ordering, not arrival."""

    id: str
    type: EventType
    occurred_at: datetime
    candidate: CandidateRef | None = None
    job: JobRef | None = None
    application: ApplicationRef | None = None
    interview: InterviewRef | None = None
    decision_expected_by: date | None = None
    channel: ContactChannel | None = None
    reason: str | None = None
    ats_notification: AtsNotification | None = None
    notify_not_before: datetime | None = None
    merged_into: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The canonical form stored in the inbound event log (ISO strings, no None values)."""
        return _jsonable(self)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _jsonable(value: Any) -> Any:
    # Nested dataclasses directly, not through dataclasses.asdict: its deep copies were a tenth of
    # the ledger's time for a batch (issue 14).
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _jsonable(v) for name in _field_names(type(value))
                if (v := getattr(value, name)) is not None}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value
