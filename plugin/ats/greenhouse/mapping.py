"""Greenhouse objects to canonical events, shared by the webhook and the poll path.

Small readers (ids, times, people), the refs an event carries, and the interview events of a v3
interview object; both paths build them the same way, so their event ids agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from plugin.ats.base import AdapterError, ApplicationKeys, clean_email, clip, parse_time
from plugin.ats.greenhouse.client import as_dict
from plugin.events.types import (
    ApplicationRef,
    AtsNotification,
    CandidateRef,
    CanonicalEvent,
    EventType,
    InterviewRef,
    JobRef,
)

__all__ = [
    "HELD_STATUSES", "SCHEDULED_STATUSES", "Refs", "candidate_ref", "hired_event", "id_text",
    "interview_events", "make_event", "read_time", "refs_from_keys", "rejected_event", "required_id", "stamp",
]

# Interview statuses (v3 `interviews.status`, same words as the webhook table): past the interview
# with feedback due or in. Everything else (to_be_scheduled, skipped, take-home states) is not a
# scheduled meeting we can date, so it yields nothing.
SCHEDULED_STATUSES = frozenset({"scheduled"})
HELD_STATUSES = frozenset({"awaiting_feedback", "complete"})


# -- small readers -------------------------------------------------------------------------------

def id_text(value: Any) -> str | None:
    """A vendor id as text; Greenhouse ids are integers in JSON."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    return str(value)


def required_id(value: Any, field: str) -> str:
    """`id_text`, or AdapterError naming the missing `field`."""
    found = id_text(value)
    if found is None:
        raise AdapterError(f"{field} is missing")
    return found


def stamp(at: datetime) -> str:
    """The time part of an event id. Webhooks give whole seconds, v3 gives milliseconds: drop them."""
    return at.replace(microsecond=0).isoformat()


def read_time(value: Any, field: str) -> datetime | None:
    """`parse_time`, with `field` named in the error."""
    try:
        return parse_time(value)
    except AdapterError as exc:
        raise AdapterError(f"{field}: {exc}") from exc


def _pick_email(addresses: Any) -> str | None:
    """The personal address first (we write to the person, not their current employer), then any."""
    entries = [a for a in addresses if isinstance(a, dict)] if isinstance(addresses, list) else []
    ordered = [a for a in entries if a.get("type") == "personal"] + [a for a in entries if a.get("type") != "personal"]
    for entry in ordered:
        email = clean_email(entry.get("value"))
        if email:
            return email
    return None


def _full_name(person: Mapping[str, Any]) -> str | None:
    return clip(" ".join(str(p) for p in (person.get("first_name"), person.get("last_name")) if p))


def candidate_ref(data: Mapping[str, Any], candidate_id: str) -> CandidateRef:
    """The candidate with name and email from a webhook or v3 candidate object."""
    return CandidateRef(id=candidate_id, name=_full_name(data), email=_pick_email(data.get("email_addresses")))


# -- refs from a webhook application -------------------------------------------------------------

@dataclass(frozen=True)
class Refs:
    """What an application-scoped event names: the candidate, the job and the application."""

    candidate: CandidateRef
    job: JobRef
    application: ApplicationRef


def make_event(event_id: str, type_: EventType, at: datetime, refs: Refs | None = None,
               **fields: Any) -> CanonicalEvent:
    """A canonical event, with candidate, job and application from `refs` when given."""
    if refs is not None:
        fields.update(candidate=refs.candidate, job=refs.job, application=refs.application)
    return CanonicalEvent(id=event_id, type=type_, occurred_at=at, **fields)


# -- interviews (a v3 interview object, from either path) ----------------------------------------

def _interview_window(record: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    # v3 names the times `starts_at`/`ends_at`; the v1 scheduled-interview object (Harvest v1 docs) used
    # `start.date_time`/`end.date_time`. Reading both costs nothing and keeps v1-shaped records usable.
    starts = read_time(record.get("starts_at") or as_dict(record.get("start")).get("date_time"), "interview.starts_at")
    ends = read_time(record.get("ends_at") or as_dict(record.get("end")).get("date_time"), "interview.ends_at")
    if ends is None and record.get("all_day_end_on"):
        # All-day events carry dates only (no zone): count the whole day, ending at the next UTC midnight.
        try:
            start_day = date.fromisoformat(str(record.get("all_day_start_on") or record["all_day_end_on"]))
            end_day = date.fromisoformat(str(record["all_day_end_on"]))
        except ValueError as exc:
            raise AdapterError(f"interview.all_day_end_on: {exc}") from exc
        starts = datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC)
        ends = datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC) + timedelta(days=1)
    return starts, ends


def interview_events(record: Mapping[str, Any], refs: Refs, now: datetime) -> list[CanonicalEvent]:
    """Events for one v3 interview. Ids: `greenhouse:interview:<id>:scheduled:<ends_at>` (a reschedule is
    a new fact) and `greenhouse:interview:<id>:completed`."""
    interview_id = required_id(record.get("id"), "interview.id")
    status = str(record.get("status") or "")
    if status not in SCHEDULED_STATUSES | HELD_STATUSES:
        return []
    starts, ends = _interview_window(record)
    updated = read_time(record.get("updated_at"), "interview.updated_at")
    first_placed = read_time(record.get("scheduled_at"), "interview.scheduled_at") or \
        read_time(record.get("created_at"), "interview.created_at")
    ref = InterviewRef(id=interview_id, starts_at=starts, ends_at=ends)
    events = []
    if ends is not None:
        # While it is `scheduled`, the last change is the (re)scheduling; once held, the invitation
        # happened when it was first placed on the calendar (before the completion below).
        invited = (updated or first_placed) if status in SCHEDULED_STATUSES else (first_placed or updated)
        events.append(make_event(f"greenhouse:interview:{interview_id}:scheduled:{stamp(ends)}",
                                 EventType.INTERVIEW_SCHEDULED, invited or now, refs, interview=ref))
    if status in HELD_STATUSES:
        # No completion time in v3: feedback was due from the end, and Greenhouse said so by `updated_at`.
        held = max((t for t in (ends, updated) if t is not None), default=now)
        events.append(make_event(f"greenhouse:interview:{interview_id}:completed", EventType.INTERVIEW_COMPLETED,
                                 held, refs, interview=ref))
    return events


def rejected_event(refs: Refs, at: datetime, reason: str | None) -> CanonicalEvent:
    # No Greenhouse payload or record says whether Greenhouse emailed the candidate.
    return make_event(f"greenhouse:application:{refs.application.id}:rejected:{stamp(at)}",
                      EventType.APPLICATION_REJECTED, at, refs, reason=reason, ats_notification=AtsNotification.UNKNOWN)


def hired_event(refs: Refs, at: datetime) -> CanonicalEvent:
    # No version marker: a v3 application record carries no hire time, and the poll must find the same id.
    return make_event(f"greenhouse:application:{refs.application.id}:hired", EventType.APPLICATION_HIRED, at, refs)


def refs_from_keys(keys: ApplicationKeys, stage: str | None = None) -> Refs:
    """Refs of an application we already hold, by ids alone (the ledger keeps the rest)."""
    return Refs(CandidateRef(id=keys.candidate_id), JobRef(id=keys.job_id),
                ApplicationRef(id=keys.application_id, stage=stage))
