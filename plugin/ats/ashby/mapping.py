"""Ashby objects to canonical events: applications (with their archive state), interview schedules
and jobs, read the same way whether a webhook carried them or the poll listed them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plugin.ats.ashby.client import application_info, interview_events_of, stage_title, text_or_none
from plugin.ats.base import AdapterError, Context, clean_email, clip, parse_time
from plugin.events.types import (
    ApplicationRef,
    AtsNotification,
    CandidateRef,
    CanonicalEvent,
    EventType,
    InterviewRef,
    JobRef,
    Person,
)

__all__ = ["application_events", "id_at", "job_events", "object_at", "schedule_events"]

SCHEDULE_ACTIVE = "Scheduled"
SCHEDULE_DONE = frozenset({"WaitingOnFeedback", "Complete"})
SCHEDULE_CANCELLED = "Cancelled"
JOB_CLOSED_STATUSES = frozenset({"Closed", "Archived"})
# archiveReason.reasonType (archiveReason.list): the candidate withdrew, Ashby's own word for it.
WITHDRAWN_REASON_TYPE = "RejectedByCandidate"
HIRING_MANAGER_ROLE = "Hiring Manager"
RECRUITER_ROLE = "Recruiter"


def object_at(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AdapterError(f"{where} is missing or not an object")
    return value


def id_at(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    raise AdapterError(f"{where}.{key} is missing")


def _time(obj: Mapping[str, Any], key: str, where: str) -> datetime | None:
    try:
        return parse_time(obj.get(key))
    except AdapterError as exc:
        raise AdapterError(f"{where}.{key}: {exc}") from exc


def _stamp(at: datetime) -> str:
    """The version marker in event ids: Ashby's timestamps carry milliseconds, so keep exactly those."""
    return at.isoformat(timespec="milliseconds")


def _person(member: Mapping[str, Any]) -> Person | None:
    name = clip(" ".join(str(member.get(k) or "") for k in ("firstName", "lastName")))
    email = clean_email(member.get("email"))
    return Person(name=name, email=email) if name or email else None


def _hiring_team(team: Any) -> tuple[Person | None, Person | None]:
    """`hiringTeam[]` members (hiringTeam.addMember schema): {userId, firstName, lastName, email, role}."""
    manager = recruiter = None
    for member in team if isinstance(team, list) else []:
        if not isinstance(member, Mapping):
            continue
        if member.get("role") == HIRING_MANAGER_ROLE and manager is None:
            manager = _person(member)
        elif member.get("role") == RECRUITER_ROLE and recruiter is None:
            recruiter = _person(member)
    return manager, recruiter


@dataclass(frozen=True)
class _Refs:
    candidate: CandidateRef
    job: JobRef
    application: ApplicationRef

    def as_kwargs(self) -> dict[str, Any]:
        return {"candidate": self.candidate, "job": self.job, "application": self.application}


def _application_refs(app: Mapping[str, Any], where: str) -> _Refs:
    """Refs from Ashby's application object (webhooks, application.info and application.list share it)."""
    candidate = object_at(app.get("candidate"), f"{where}.candidate")
    job = object_at(app.get("job"), f"{where}.job")
    email = candidate.get("primaryEmailAddress")
    manager, recruiter = _hiring_team(app.get("hiringTeam"))
    stage = app.get("currentInterviewStage")
    # Only ids reach us for department and location (`departmentId`); names would need more calls.
    return _Refs(
        candidate=CandidateRef(id=id_at(candidate, "id", f"{where}.candidate"), name=clip(candidate.get("name")),
                               email=clean_email(email.get("value")) if isinstance(email, Mapping) else None),
        job=JobRef(id=id_at(job, "id", f"{where}.job"), title=clip(job.get("title"), 300),
                   hiring_manager=manager, recruiter=recruiter),
        application=ApplicationRef(id=id_at(app, "id", where),
                                   stage=clip(stage.get("title")) if isinstance(stage, Mapping) else None),
    )


# -- applications --------------------------------------------------------------------------------

def application_events(app: Mapping[str, Any], ctx: Context, where: str, *,
                       created: bool, changes: bool) -> list[CanonicalEvent]:
    """`created`: the application.created fact; `changes`: stage and status facts of this state."""
    refs = _application_refs(app, where)
    app_id = refs.application.id
    updated_at = _time(app, "updatedAt", where) or ctx.now
    events: list[CanonicalEvent] = []
    if created:
        events.append(CanonicalEvent(id=f"ashby:application:{app_id}:created", type=EventType.APPLICATION_CREATED,
                                     occurred_at=_time(app, "createdAt", where) or updated_at, **refs.as_kwargs()))
    if not changes:
        return events
    stage = app.get("currentInterviewStage")
    if isinstance(stage, Mapping) and stage.get("id"):
        # Keyed by stage and state time: a move back to an earlier stage is a new fact.
        events.append(CanonicalEvent(
            id=f"ashby:application:{app_id}:stage:{stage['id']}:{_stamp(updated_at)}",
            type=EventType.APPLICATION_STAGE_CHANGED, occurred_at=updated_at, **refs.as_kwargs()))
    status = app.get("status")
    if status == "Archived":
        events.append(_archived_event(app, refs, updated_at, where))
    elif status == "Hired":
        # No hiredAt in the application schema: the state time marks this hire.
        events.append(CanonicalEvent(id=f"ashby:application:{app_id}:hired:{_stamp(updated_at)}",
                                     type=EventType.APPLICATION_HIRED, occurred_at=updated_at, **refs.as_kwargs()))
    elif status == "Active" and ctx.lookup.application(app_id) is not None:
        # Ashby has no unarchive event: an application we hold that is Active again may have been
        # archived before. The ledger ignores a reopen of an active application (but remembers
        # when, so an older rejection arriving late cannot win). Unknown applications cannot have
        # been rejected here, so they get no reopen.
        events.append(CanonicalEvent(id=f"ashby:application:{app_id}:active:{_stamp(updated_at)}",
                                     type=EventType.APPLICATION_REOPENED, occurred_at=updated_at,
                                     **refs.as_kwargs()))
    return events


# -- interviews ----------------------------------------------------------------------------------

def schedule_events(schedule: Mapping[str, Any], ctx: Context, where: str) -> list[CanonicalEvent]:
    status = schedule.get("status")
    if status != SCHEDULE_ACTIVE and status != SCHEDULE_CANCELLED and status not in SCHEDULE_DONE:
        return []  # NeedsScheduling, WaitingOnCandidate*, OnHold, Unknown: nothing has a time yet
    schedule_id = id_at(schedule, "id", where)
    refs, stage_title = _schedule_context(schedule, ctx, where)
    updated_at = _time(schedule, "updatedAt", where) or ctx.now
    events: list[CanonicalEvent] = []
    for index, item in enumerate(interview_events_of(schedule, schedule_id, ctx)):
        item_where = f"{where}.interviewEvents[{index}]"
        event = object_at(item, item_where)
        event_id = id_at(event, "id", item_where)
        interview = InterviewRef(id=event_id, starts_at=_time(event, "startTime", item_where),
                                 ends_at=_time(event, "endTime", item_where), stage=stage_title)
        if status == SCHEDULE_ACTIVE:
            if interview.ends_at is None:
                raise AdapterError(f"{item_where}.endTime is missing")
            at = _time(event, "updatedAt", item_where) or updated_at
            events.append(CanonicalEvent(id=f"ashby:interview:{event_id}:scheduled:{_stamp(at)}",
                                         type=EventType.INTERVIEW_SCHEDULED, occurred_at=at,
                                         interview=interview, **refs.as_kwargs()))
        elif status in SCHEDULE_DONE:
            # WaitingOnFeedback then Complete: one fact, whichever Ashby told us first.
            events.append(CanonicalEvent(id=f"ashby:interview:{event_id}:completed",
                                         type=EventType.INTERVIEW_COMPLETED, occurred_at=updated_at,
                                         interview=interview, **refs.as_kwargs()))
        else:
            events.append(CanonicalEvent(id=f"ashby:interview:{event_id}:cancelled:{_stamp(updated_at)}",
                                         type=EventType.INTERVIEW_CANCELLED, occurred_at=updated_at,
                                         interview=interview, **refs.as_kwargs()))
    return events


def _schedule_context(schedule: Mapping[str, Any], ctx: Context, where: str) -> tuple[_Refs, str | None]:
    """Candidate/job/application of a schedule (it names only `applicationId`) and its stage title."""
    application_id = id_at(schedule, "applicationId", where)
    stage_id = text_or_none(schedule.get("interviewStageId"))
    known = ctx.lookup.application(application_id)
    if known is not None:
        refs = _Refs(CandidateRef(id=known.candidate_id), JobRef(id=known.job_id),
                     ApplicationRef(id=known.application_id))
    else:
        app = application_info(application_id, ctx)
        refs = _application_refs(app, "application.info results")
        current = app.get("currentInterviewStage")
        if isinstance(current, Mapping) and stage_id and current.get("id") == stage_id:
            return refs, clip(current.get("title"))
    return refs, stage_title(stage_id, ctx)


def _archived_event(app: Mapping[str, Any], refs: _Refs, updated_at: datetime, where: str) -> CanonicalEvent:
    """Archived = rejected (or withdrawn, when the archive reason says the candidate declined)."""
    archived_at = _time(app, "archivedAt", where) or updated_at
    reason = app.get("archiveReason")
    reason = reason if isinstance(reason, Mapping) else {}
    # archiveReason.list documents `text`; `title` is accepted in case a payload uses it.
    text = clip(reason.get("text") or reason.get("title"), 1000)
    event_id = f"ashby:application:{refs.application.id}:archived:{_stamp(archived_at)}"
    if reason.get("reasonType") == WITHDRAWN_REASON_TYPE:
        return CanonicalEvent(id=event_id, type=EventType.APPLICATION_WITHDRAWN, occurred_at=archived_at,
                              reason=text, **refs.as_kwargs())
    return CanonicalEvent(id=event_id, type=EventType.APPLICATION_REJECTED, occurred_at=archived_at, reason=text,
                          ats_notification=AtsNotification.UNKNOWN, **refs.as_kwargs())


def job_events(job: Mapping[str, Any], ctx: Context, where: str) -> list[CanonicalEvent]:
    job_id = id_at(job, "id", where)
    manager, recruiter = _hiring_team(job.get("hiringTeam"))
    ref = JobRef(id=job_id, title=clip(job.get("title"), 300), hiring_manager=manager, recruiter=recruiter)
    updated_at = _time(job, "updatedAt", where) or ctx.now
    status = job.get("status")
    if status in JOB_CLOSED_STATUSES:
        # Closed -> Archived keeps closedAt: one closing fact.
        closed_at = _time(job, "closedAt", where) or updated_at
        return [CanonicalEvent(id=f"ashby:job:{job_id}:closed:{_stamp(closed_at)}", type=EventType.JOB_CLOSED,
                               occurred_at=closed_at, job=ref)]
    if status == "Open":
        # jobUpdate fires for any edit and has no "reopened at": every Open state is a reopen fact at its
        # update time; the ledger ignores it unless the job was closed before that time.
        return [CanonicalEvent(id=f"ashby:job:{job_id}:open:{_stamp(updated_at)}", type=EventType.JOB_REOPENED,
                               occurred_at=updated_at, job=ref)]
    return []  # Draft
