"""Workable objects to canonical events: a candidate's current state (detail or list shape, so a webhook
fetch and a poll give the same ids) and an interview from `/events`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from plugin.ats.base import AdapterError, Context, clean_email, clip, parse_time
from plugin.ats.http import PermanentAtsError
from plugin.ats.workable.client import WorkableClient
from plugin.events.types import (
    ApplicationRef,
    AtsNotification,
    CandidateRef,
    CanonicalEvent,
    ErasureReason,
    EventType,
    InterviewRef,
    JobRef,
)

__all__ = [
    "PROVIDER", "candidate_events", "erasure_event", "interview_events", "is_interview_record", "iso",
    "stage_map",
]

PROVIDER = "workable"
STANDARD_KINDS = frozenset({"sourced", "applied", "shortlisted", "assessment", "phone-screen", "interview",
                            "offer", "hired"})
_STAGES_CACHE = "workable:stages"


def candidate_events(candidate: Mapping[str, Any], ctx: Context,
                     stages: Mapping[str, Mapping[str, str]]) -> list[CanonicalEvent]:
    """Canonical events for one candidate's current state (detail or list shape).

    Every fact but creation is versioned by `updated_at`, the one timestamp both the detail and the list
    carry, so a webhook fetch and a poll of the same state give the same ids. Exactly one of rejected,
    withdrawn, hired or reopened follows the stage, because the state says only where the candidate is.
    """
    candidate_id = _required_id(candidate.get("id"), "candidate id")
    job = candidate.get("job") if isinstance(candidate.get("job"), dict) else {}
    shortcode = _required_id(job.get("shortcode"), f"job.shortcode of Workable candidate {candidate_id}")
    updated = parse_time(candidate.get("updated_at")) or parse_time(candidate.get("created_at")) or ctx.now
    version = iso(updated)
    refs = {"candidate": _candidate_ref(candidate_id, candidate),
            "job": JobRef(id=shortcode, title=clip(job.get("title"), 300))}
    key = f"{PROVIDER}:application:{candidate_id}"
    events: list[CanonicalEvent] = []

    created = parse_time(candidate.get("created_at"))
    if created is not None:
        events.append(_event(f"{key}:created", EventType.APPLICATION_CREATED, created, candidate_id, refs))
    stage_text = clip(candidate.get("stage"))
    stage = stages.get(_slug(stage_text)) if stage_text else None
    if stage_text:
        display = stage.get("name") if stage and stage.get("name") else stage_text
        events.append(_event(f"{key}:stage:{_slug(stage_text)[:60]}:{version}", EventType.APPLICATION_STAGE_CHANGED,
                             updated, candidate_id, refs, stage=clip(display)))

    if candidate.get("disqualified") is True:
        at = parse_time(candidate.get("disqualified_at")) or updated
        if candidate.get("withdrew") is True:  # list only: "withdrew and was disqualified"
            events.append(_event(f"{key}:withdrawn:{version}", EventType.APPLICATION_WITHDRAWN, at, candidate_id, refs))
        else:
            events.append(_event(f"{key}:rejected:{version}", EventType.APPLICATION_REJECTED, at, candidate_id, refs,
                                 reason=clip(candidate.get("disqualification_reason"), 1000),
                                 ats_notification=AtsNotification.UNKNOWN))
    elif _is_hired(candidate, stage_text, stage):
        events.append(_event(f"{key}:hired:{version}", EventType.APPLICATION_HIRED, _hired_at(candidate, updated),
                             candidate_id, refs))
    elif ctx.lookup.application(candidate_id) is not None:
        # Workable's "revert disqualification" (and a move out of the hired stage) leaves no trace but
        # the state. The ledger ignores a reopen of an active application, so this is safe for one we
        # hold; for one we never saw there is nothing to reopen and no event is sent.
        events.append(_event(f"{key}:reopened:{version}", EventType.APPLICATION_REOPENED, updated,
                             candidate_id, refs))
    return events


def _is_hired(candidate: Mapping[str, Any], stage_text: str | None, stage: Mapping[str, str] | None) -> bool:
    """The stage's kind decides when it is known; `hired_at` only when it is not (it may outlive an unhire)."""
    kind = candidate.get("stage_kind") if isinstance(candidate.get("stage_kind"), str) else None
    if not kind and stage:
        kind = stage.get("kind")
    if not kind and stage_text and _slug(stage_text) in STANDARD_KINDS:
        kind = _slug(stage_text)
    if kind:
        return _slug(kind) == "hired"
    return bool(candidate.get("hired_at"))


def _hired_at(candidate: Mapping[str, Any], updated: datetime) -> datetime:
    # `hired_at` is documented as a date: midnight would sort before the same day's earlier events,
    # so a date alone gives way to `updated_at` (which is never before the hire).
    value = candidate.get("hired_at")
    if isinstance(value, str) and "T" in value:
        return parse_time(value) or updated
    return updated


def erasure_event(candidate_id: str, ctx: Context) -> CanonicalEvent:
    # Workable gives no deletion time; the fact has no version (a deleted id does not come back).
    return CanonicalEvent(id=_checked_id(f"{PROVIDER}:candidate:{candidate_id}:erased"), type=EventType.CANDIDATE_ERASED,
                          occurred_at=ctx.now, candidate=CandidateRef(id=candidate_id), reason=ErasureReason.DELETED)


def is_interview_record(record: Mapping[str, Any]) -> bool:
    return "starts_at" in record or "ends_at" in record  # `/events` objects; candidates have neither


def interview_events(record: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    """interview.scheduled (versioned by its times) or interview.cancelled for one `/events` object.

    No time of scheduling or cancelling is documented, so `occurred_at` is when we saw it.
    """
    event_type = record.get("type")
    if isinstance(event_type, str) and "interview" not in event_type.lower():
        return []  # we ask for type=interview; calls and meetings are not interviews
    interview_id = _required_id(record.get("id"), "id of a Workable event")
    person = record.get("candidate") if isinstance(record.get("candidate"), dict) else {}
    job = record.get("job") if isinstance(record.get("job"), dict) else {}
    candidate_id = str(person.get("id") or "").strip()
    if not candidate_id:
        return []  # an interview slot with no candidate owes nobody an answer
    shortcode = str(job.get("shortcode") or "").strip()
    if not shortcode:  # the docs say "id and title" of the job; their example shows the shortcode
        known = ctx.lookup.application(candidate_id)
        shortcode = known.job_id if known else ""
    if not shortcode:
        return []
    starts, ends = parse_time(record.get("starts_at")), parse_time(record.get("ends_at"))
    if starts is not None and ends is not None and ends < starts:
        starts = None  # unusable start; the end is what the sweeper needs
    refs = {"candidate": CandidateRef(id=candidate_id, name=clip(person.get("name"))),
            "job": JobRef(id=shortcode, title=clip(job.get("title"), 300))}
    interview = InterviewRef(id=interview_id, starts_at=starts, ends_at=ends)
    key = f"{PROVIDER}:interview:{interview_id}"
    if record.get("cancelled") is True:
        return [_event(f"{key}:cancelled", EventType.INTERVIEW_CANCELLED, ctx.now, candidate_id, refs,
                       interview=interview)]
    if ends is None:
        return []  # interview.scheduled needs an end
    version = f"{iso(starts) if starts else ''}:{iso(ends)}"
    return [_event(f"{key}:scheduled:{version}", EventType.INTERVIEW_SCHEDULED, ctx.now, candidate_id, refs,
                   interview=interview)]


# -- helpers -------------------------------------------------------------------------------------

def _event(event_id: str, event_type: EventType, at: datetime, application_id: str, refs: Mapping[str, Any], *,
           stage: str | None = None, **fields: Any) -> CanonicalEvent:
    return CanonicalEvent(id=_checked_id(event_id), type=event_type, occurred_at=at, candidate=refs["candidate"],
                          job=refs["job"], application=ApplicationRef(id=application_id, stage=stage), **fields)


def _candidate_ref(candidate_id: str, candidate: Mapping[str, Any]) -> CandidateRef:
    name = candidate.get("name") or " ".join(
        str(part) for part in (candidate.get("firstname"), candidate.get("lastname")) if part)
    return CandidateRef(id=candidate_id, name=clip(name), email=clean_email(candidate.get("email")))


def stage_map(ctx: Context, client: WorkableClient) -> dict[str, dict[str, str]]:
    """Account stages by slugified slug and name (memoised per run): display names and kinds.

    Best effort: a token without the r_jobs scope (403) still maps candidates, by stage text alone.
    """
    if _STAGES_CACHE not in ctx.cache:
        try:
            stages = client.stages()
        except PermanentAtsError as exc:
            if exc.status not in (403, 404):
                raise
            stages = []
        table: dict[str, dict[str, str]] = {}
        for stage in stages:
            entry = {k: str(stage[k]) for k in ("slug", "name", "kind") if stage.get(k)}
            for label in (stage.get("slug"), stage.get("name")):
                if label:
                    table.setdefault(_slug(str(label)), entry)
        ctx.cache[_STAGES_CACHE] = table
    cached: dict[str, dict[str, str]] = ctx.cache[_STAGES_CACHE]
    return cached


def _slug(text: str) -> str:
    """"Phone Screen" (detail: stage name) and "phone-screen" (list: slug) must give one event id."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "stage"


def _required_id(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise AdapterError(f"{what} is missing")
    return str(value).strip()


def _checked_id(event_id: str) -> str:
    if len(event_id) > 200:
        raise AdapterError(f"event id too long for the canonical schema: {event_id[:80]}...")
    return event_id


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
