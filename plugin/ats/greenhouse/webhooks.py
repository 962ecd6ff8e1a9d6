"""Greenhouse webhooks: each documented action's payload to canonical events.

Greenhouse webhooks carry the record (they are not hints), so most handlers read the payload alone;
application actions add the application's scheduled interviews from Harvest v3 when the connection
has API credentials, and `job_updated` asks Harvest when the job (re)opened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from plugin.ats.base import AdapterError, Context, clean_email, clip
from plugin.ats.greenhouse.client import HarvestClient, as_dict, optional
from plugin.ats.greenhouse.mapping import (
    Refs,
    candidate_ref,
    hired_event,
    id_text,
    interview_events,
    make_event,
    read_time,
    refs_from_keys,
    rejected_event,
    required_id,
    stamp,
)
from plugin.events.types import (
    ApplicationRef,
    CandidateRef,
    CanonicalEvent,
    ErasureReason,
    EventType,
    InterviewRef,
    JobRef,
    Person,
)

__all__ = ["INTERVIEW_FETCHING_ACTIONS", "webhook_events"]

INTERVIEW_FETCHING_ACTIONS = frozenset({"new_candidate_application", "candidate_stage_change", "reject_candidate"})


def webhook_events(body: Any, ctx: Context, delivery_id: str | None) -> list[CanonicalEvent]:
    """Events for one delivery's parsed body; `delivery_id` is its Greenhouse-Event-ID (see `_job_open`)."""
    body = body if isinstance(body, dict) else {}
    action = str(body.get("action") or "")
    payload = as_dict(body.get("payload"))
    if action == "job_updated":
        return _on_job_updated(payload, ctx, delivery_id)
    handler = _WEBHOOK_HANDLERS.get(action)
    if handler is None:
        return []  # offers, job posts, candidate updates, ...: acknowledged and kept, nothing to apply
    events = handler(payload, ctx)
    if action in INTERVIEW_FETCHING_ACTIONS and events:
        events += _scheduled_interviews(payload, ctx)
    return events


# -- refs from a webhook application -------------------------------------------------------------

def _person(value: Any) -> Person | None:
    data = as_dict(value)
    name, email = clip(data.get("name")), clean_email(data.get("email"))
    return Person(name=name, email=email) if name or email else None


def _first_job(application: Mapping[str, Any]) -> dict[str, Any] | None:
    jobs = application.get("jobs")
    if isinstance(jobs, list) and jobs and isinstance(jobs[0], dict):
        return jobs[0]  # candidate applications have exactly one job (Harvest docs, applications)
    return as_dict(application.get("job")) or None  # `job` is the deprecated singular (hire_candidate)


def _hiring_person(job: Mapping[str, Any], role: str) -> Person | None:
    # The documented hiring_team entries carry only user_id/employee_id; use them if a payload ever
    # includes a name or email, otherwise there is no person to name.
    members = as_dict(job.get("hiring_team")).get(role)
    for member in members if isinstance(members, list) else []:
        person = _person(member)
        if person:
            return person
    return None


def _webhook_refs(application: Mapping[str, Any]) -> Refs:
    application_id = required_id(application.get("id"), "payload.application.id")
    candidate = as_dict(application.get("candidate"))
    candidate_id = required_id(candidate.get("id"), "payload.application.candidate.id")
    job = _first_job(application)
    if job is None:
        raise AdapterError("payload.application.jobs is empty")
    job_id = required_id(job.get("id"), "payload.application.jobs[0].id")
    departments = job.get("departments")
    department = clip(departments[0].get("name")) if isinstance(departments, list) and departments and \
        isinstance(departments[0], dict) else None
    job_ref = JobRef(
        id=job_id, title=clip(job.get("name"), 300), department=department,
        hiring_manager=_hiring_person(job, "hiring_managers"),
        # No job-level recruiter with a name in the payload: the candidate's recruiter is the person.
        recruiter=_hiring_person(job, "recruiters") or _person(candidate.get("recruiter")),
    )
    stage = clip(as_dict(application.get("current_stage")).get("name"))
    return Refs(candidate_ref(candidate, candidate_id), job_ref, ApplicationRef(id=application_id, stage=stage))


# -- webhook handlers (payload -> events) ----------------------------------------------------------

def _application(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    application = payload.get("application")
    if not isinstance(application, dict):
        raise AdapterError("payload.application is missing")
    if application.get("prospect") is True:
        return None  # a prospect has not applied to a job: nothing is owed to them yet
    return application


def _activity_at(application: Mapping[str, Any], ctx: Context) -> datetime:
    return read_time(application.get("last_activity_at"), "payload.application.last_activity_at") or ctx.now


def _on_new_application(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    application = _application(payload)
    if application is None:
        return []
    refs = _webhook_refs(application)
    at = read_time(application.get("applied_at"), "payload.application.applied_at") or _activity_at(application, ctx)
    return [make_event(f"greenhouse:application:{refs.application.id}:created", EventType.APPLICATION_CREATED,
                       at, refs)]


def _on_stage_change(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    application = _application(payload)
    if application is None:
        return []
    refs = _webhook_refs(application)
    at = _activity_at(application, ctx)
    stage_id = id_text(as_dict(application.get("current_stage")).get("id")) or "none"
    return [make_event(f"greenhouse:application:{refs.application.id}:stage:{stage_id}:{stamp(at)}",
                       EventType.APPLICATION_STAGE_CHANGED, at, refs)]


def _on_reject(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    application = _application(payload)
    if application is None:
        return []
    refs = _webhook_refs(application)
    at = read_time(application.get("rejected_at"), "payload.application.rejected_at") or _activity_at(application, ctx)
    reason = clip(as_dict(application.get("rejection_reason")).get("name"), 1000)
    return [rejected_event(refs, at, reason)]


def _on_reopen(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    """unreject_candidate and unhire_candidate: the application is active again."""
    application = _application(payload)
    if application is None:
        return []
    refs = _webhook_refs(application)
    at = _activity_at(application, ctx)
    return [make_event(f"greenhouse:application:{refs.application.id}:reopened:{stamp(at)}",
                       EventType.APPLICATION_REOPENED, at, refs)]


def _on_hire(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    application = _application(payload)
    if application is None:
        return []
    refs = _webhook_refs(application)
    # `offer.resolved_at`: "Date the offer was accepted" (the hire webhook fires on Accept Offer).
    at = read_time(as_dict(application.get("offer")).get("resolved_at"), "payload.application.offer.resolved_at")
    return [hired_event(refs, at or ctx.now)]


def _on_job_updated(payload: Mapping[str, Any], ctx: Context, delivery_id: str | None) -> list[CanonicalEvent]:
    job = as_dict(payload.get("job"))
    job_id = required_id(job.get("id"), "payload.job.id")
    departments = job.get("departments")
    ref = JobRef(id=job_id, title=clip(job.get("name"), 300),
                 department=clip(departments[0].get("name")) if isinstance(departments, list) and departments
                 and isinstance(departments[0], dict) else None,
                 hiring_manager=_hiring_person(job, "hiring_managers"), recruiter=_hiring_person(job, "recruiters"))
    status = job.get("status")
    if status == "closed":
        at = read_time(job.get("closed_at"), "payload.job.closed_at") or ctx.now
        return [make_event(f"greenhouse:job:{job_id}:closed:{stamp(at)}", EventType.JOB_CLOSED, at, job=ref)]
    if status == "open":
        return _job_open(ref, ctx, delivery_id)
    return []  # draft: not hiring yet


def _job_open(ref: JobRef, ctx: Context, delivery_id: str | None) -> list[CanonicalEvent]:
    """`job_updated` fires for many edits and says nothing about when the job (re)opened.

    With API credentials the job's v3 `updated_at` dates this state. Without them we use the time we
    process it and mark the id with the delivery's Greenhouse-Event-ID, so a retried or replayed delivery
    is the same event; a late out-of-order delivery could then reopen a job closed in the meantime, which
    the next `job_updated` (or job close) corrects. Reopening an open job changes nothing in the ledger.
    """
    client = HarvestClient(ctx.connection, ctx.cache)
    if client.configured:
        record = optional(lambda: client.by_ids("jobs", [ref.id]).get(ref.id), f"job {ref.id}")
        if record is not None:
            if record.get("status") != "open":
                return []  # the webhook is older than the job's current state: nothing to reopen
            at = read_time(record.get("updated_at"), "job.updated_at")
            if at is not None:
                return [make_event(f"greenhouse:job:{ref.id}:open:{stamp(at)}", EventType.JOB_REOPENED, at, job=ref)]
    if not delivery_id:
        return []
    return [make_event(f"greenhouse:job:{ref.id}:open:event:{delivery_id[:100]}", EventType.JOB_REOPENED, ctx.now,
                       job=ref)]


def _on_job_deleted(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    # Greenhouse only deletes closed jobs; the payload carries no time.
    job = as_dict(payload.get("job"))
    job_id = required_id(job.get("id"), "payload.job.id")
    return [make_event(f"greenhouse:job:{job_id}:deleted", EventType.JOB_CLOSED, ctx.now,
                       job=JobRef(id=job_id, title=clip(job.get("name"), 300)))]


def _erased(candidate_id: str, reason: ErasureReason, ctx: Context, merged_into: str | None = None) -> CanonicalEvent:
    suffix = f":{merged_into}" if merged_into else ""
    # The deletion payloads carry no time of their own.
    return make_event(f"greenhouse:candidate:{candidate_id}:erased:{reason.value}{suffix}",
                      EventType.CANDIDATE_ERASED, ctx.now, candidate=CandidateRef(id=candidate_id),
                      reason=reason.value, merged_into=merged_into)


def _on_delete_candidate(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    candidate_id = required_id(as_dict(payload.get("person")).get("id"), "payload.person.id")
    return [_erased(candidate_id, ErasureReason.DELETED, ctx)]


def _on_merge_candidate(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    person = as_dict(payload.get("person"))
    candidate_id = required_id(person.get("id"), "payload.person.id")
    survivor = required_id(person.get("new_candidate_id"), "payload.person.new_candidate_id")
    return [_erased(candidate_id, ErasureReason.MERGED, ctx, merged_into=survivor)]


def _on_anonymized(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    # Any anonymisation erases: we cannot keep a partly anonymised person in step with Greenhouse.
    candidate_id = required_id(payload.get("candidate_id"), "payload.candidate_id")
    return [_erased(candidate_id, ErasureReason.ANONYMISED, ctx)]


def _on_interview_deleted(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    """Only `interview.id` is sent: the application comes from what we already hold."""
    interview_id = required_id(as_dict(payload.get("interview")).get("id"), "payload.interview.id")
    keys = ctx.lookup.interview(interview_id)
    if keys is None:
        return []  # never seen here: nothing to cancel
    return [make_event(f"greenhouse:interview:{interview_id}:cancelled", EventType.INTERVIEW_CANCELLED, ctx.now,
                       refs_from_keys(keys), interview=InterviewRef(id=interview_id))]


def _ignore(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    return []


# job_updated is dispatched on its own: it also needs the delivery id (see _job_open).
_WEBHOOK_HANDLERS: dict[str, Callable[[Mapping[str, Any], Context], list[CanonicalEvent]]] = {
    "new_candidate_application": _on_new_application,
    "candidate_stage_change": _on_stage_change,
    "reject_candidate": _on_reject,
    "unreject_candidate": _on_reopen,
    "unhire_candidate": _on_reopen,
    "hire_candidate": _on_hire,
    "job_deleted": _on_job_deleted,
    "delete_candidate": _on_delete_candidate,
    "merge_candidate": _on_merge_candidate,
    "candidate_anonymized": _on_anonymized,
    "interview_deleted": _on_interview_deleted,
    # An application deleted on its own (removed from a job, duplicate merged) has no canonical
    # meaning; a deleted candidate comes as delete_candidate. Offers: the hire is hire_candidate.
    "delete_application": _ignore,
    "offer_created": _ignore, "offer_approved": _ignore, "offer_updated": _ignore, "offer_deleted": _ignore,
}


def _scheduled_interviews(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    """The application's scheduled interviews from Harvest v3, with the webhook's (fuller) refs.

    Without API credentials this is skipped: the poll finds them. A permanent API error (missing scope,
    bad credentials) must not lose the webhook's own events, so it is logged and skipped; transient
    errors raise and the delivery is retried.
    """
    client = HarvestClient(ctx.connection, ctx.cache)
    if not client.configured:
        return []
    refs = _webhook_refs(as_dict(payload.get("application")))
    records = optional(lambda: client.interviews_of(refs.application.id), f"interviews of {refs.application.id}")
    events: list[CanonicalEvent] = []
    for record in records or []:
        events += interview_events(record, refs, ctx.now)
    return events
