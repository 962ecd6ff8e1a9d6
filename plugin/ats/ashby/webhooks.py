"""Ashby webhooks: each action's `data` to canonical events (related webhooks carry the same state,
so they give the same event ids)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from plugin.ats.ashby.mapping import application_events, id_at, job_events, object_at, schedule_events
from plugin.ats.base import Context
from plugin.events.types import CandidateRef, CanonicalEvent, ErasureReason, EventType

__all__ = ["webhook_events"]


def webhook_events(payload: Any, ctx: Context) -> list[CanonicalEvent]:
    """Events for one (non-ping) delivery's parsed body."""
    payload = object_at(payload, "payload")
    handler = _WEBHOOK_HANDLERS.get(str(payload.get("action")))
    if handler is None:
        return []  # offers, postings, surveys, openings ...: acknowledged and kept, nothing to do
    return handler(object_at(payload.get("data"), "data"), ctx)


def _on_application(data: Mapping[str, Any], ctx: Context, *, submitted: bool) -> list[CanonicalEvent]:
    app = object_at(data.get("application"), "data.application")
    return application_events(app, ctx, "data.application", created=submitted, changes=not submitted)


def _on_schedule(data: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    schedule = object_at(data.get("interviewSchedule"), "data.interviewSchedule")
    return schedule_events(schedule, ctx, "data.interviewSchedule")


def _on_job(data: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    return job_events(object_at(data.get("job"), "data.job"), ctx, "data.job")


def _on_candidate_delete(data: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    candidate_id = id_at(object_at(data.get("candidate"), "data.candidate"), "id", "data.candidate")
    # The payload carries no time: it happened when Ashby sent it.
    return [CanonicalEvent(id=f"ashby:candidate:{candidate_id}:deleted", type=EventType.CANDIDATE_ERASED,
                           occurred_at=ctx.now, candidate=CandidateRef(id=candidate_id),
                           reason=ErasureReason.DELETED)]


def _on_candidate_merge(data: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    deleted = id_at(object_at(data.get("deletedCandidate"), "data.deletedCandidate"), "id", "data.deletedCandidate")
    merged = id_at(object_at(data.get("mergedCandidate"), "data.mergedCandidate"), "id", "data.mergedCandidate")
    return [CanonicalEvent(id=f"ashby:candidate:{deleted}:merged:{merged}", type=EventType.CANDIDATE_ERASED,
                           occurred_at=ctx.now, candidate=CandidateRef(id=deleted),
                           reason=ErasureReason.MERGED, merged_into=merged)]


_Handler = Callable[[Mapping[str, Any], Context], list[CanonicalEvent]]

_WEBHOOK_HANDLERS: dict[str, _Handler] = {
    "applicationSubmit": lambda d, c: _on_application(d, c, submitted=True),
    "applicationUpdate": lambda d, c: _on_application(d, c, submitted=False),
    "candidateStageChange": lambda d, c: _on_application(d, c, submitted=False),
    "candidateHire": lambda d, c: _on_application(d, c, submitted=False),
    "interviewScheduleCreate": _on_schedule,
    "interviewScheduleUpdate": _on_schedule,
    "jobUpdate": _on_job,
    "candidateDelete": _on_candidate_delete,
    "candidateMerge": _on_candidate_merge,
}
