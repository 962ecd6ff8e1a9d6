"""Greenhouse Recruiting: webhooks in, Harvest v3 for interviews and reconciliation.

Vendor sources (facts and quotes collected in ../shared/notes/ats/ats-greenhouse.md):
- Webhooks: https://developers.greenhouse.io/webhooks.html, source GitHub `grnhse/greenhouse-api-docs`
  `source/includes/webhooks/_introduction.md` (signature, Greenhouse-Event-ID, ping on save, retries),
  `_application_events.md`, `_candidate_events.md`, `_job_events.md`, `_interview_events.md` (payloads;
  copies in tests/fixtures/ats/greenhouse/, see SOURCES.md there).
- Harvest v3: https://harvestdocs.greenhouse.io/docs/authentication (client credentials: POST
  https://auth.greenhouse.io/token, HTTP Basic client_id:client_secret, form grant_type=client_credentials
  and sub=<user_id>; calls with `Authorization: Bearer`), /docs/pagination and /docs/list-endpoints
  (cursor in `Link: <...>; rel="next"`, the cursor must be the only parameter; filters `ids`, parent
  `*_ids`, `updated_at=gte|<iso>`), /reference/get_v3-interviews (`application_ids`, per_page 1-500).
  Harvest v1/v2 are retired on 2026-08-31, so nothing here uses them.
- The v3 object fields (interview `starts_at`/`ends_at`/`status`/`application_id`; application
  `candidate_id`/`job_id`/`status`/`rejected_at`/`rejection_reason_id`; token answer `access_token`,
  `expires_at`) are as quoted by Airbyte's source-greenhouse manifest from the v3 spec
  (airbytehq/airbyte, airbyte-integrations/connectors/source-greenhouse/manifest.yaml): the reference
  pages themselves were only reachable in excerpts. Readers here are tolerant of missing fields.

Greenhouse sends no "interview scheduled" or "interview completed" webhook. The stage payloads list
`current_stage.interviews[]`, but those are interview-plan slots (no ids we can cancel, no times), so
they are ignored. Instead, application webhooks fetch the application's scheduled interviews from
Harvest v3 when the connection has API credentials, and the reconciliation poll lists interviews and
applications changed since its cursor. Both paths build interview events with the same ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from plugin.ats.base import (
    Adapter,
    AdapterError,
    ApplicationKeys,
    Context,
    PollPage,
    WebhookRequest,
    clean_email,
    clip,
    parse_time,
)
from plugin.ats.greenhouse_harvest import (
    DEFAULT_API_BASE_URL,
    LISTS,
    PAGE_SIZE_MAX,
    HarvestClient,
    _dict,
    _Sweep,
    _v3_time,
)
from plugin.ats.http import PermanentAtsError
from plugin.ats.signing import hmac_sha256_hex, matches_any
from plugin.events.types import (
    ApplicationRef,
    AtsNotification,
    CandidateRef,
    CanonicalEvent,
    ErasureReason,
    EventType,
    InterviewRef,
    JobRef,
    Person,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Interview statuses (v3 `interviews.status`, same words as the webhook table): past the interview
# with feedback due or in. Everything else (to_be_scheduled, skipped, take-home states) is not a
# scheduled meeting we can date, so it yields nothing.
SCHEDULED_STATUSES = frozenset({"scheduled"})
HELD_STATUSES = frozenset({"awaiting_feedback", "complete"})
ACTIVE_APPLICATION_STATUSES = frozenset({"active", "in_process"})  # webhook word, v3 word
INTERVIEW_FETCHING_ACTIONS = frozenset({"new_candidate_application", "candidate_stage_change", "reject_candidate"})


# -- small readers -------------------------------------------------------------------------------

def _id(value: Any) -> str | None:
    """A vendor id as text; Greenhouse ids are integers in JSON."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    return str(value)


def _require(value: Any, field: str) -> str:
    found = _id(value)
    if found is None:
        raise AdapterError(f"{field} is missing")
    return found


def _stamp(at: datetime) -> str:
    """The time part of an event id. Webhooks give whole seconds, v3 gives milliseconds: drop them."""
    return at.replace(microsecond=0).isoformat()


def _time(value: Any, field: str) -> datetime | None:
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


def _person(value: Any) -> Person | None:
    data = _dict(value)
    name, email = clip(data.get("name")), clean_email(data.get("email"))
    return Person(name=name, email=email) if name or email else None


def _candidate_ref(data: Mapping[str, Any], candidate_id: str) -> CandidateRef:
    return CandidateRef(id=candidate_id, name=_full_name(data), email=_pick_email(data.get("email_addresses")))


# -- refs from a webhook application -------------------------------------------------------------

@dataclass(frozen=True)
class _Refs:
    candidate: CandidateRef
    job: JobRef
    application: ApplicationRef


def _first_job(application: Mapping[str, Any]) -> dict[str, Any] | None:
    jobs = application.get("jobs")
    if isinstance(jobs, list) and jobs and isinstance(jobs[0], dict):
        return jobs[0]  # candidate applications have exactly one job (Harvest docs, applications)
    return _dict(application.get("job")) or None  # `job` is the deprecated singular (hire_candidate)


def _hiring_person(job: Mapping[str, Any], role: str) -> Person | None:
    # The documented hiring_team entries carry only user_id/employee_id; use them if a payload ever
    # includes a name or email, otherwise there is no person to name.
    members = _dict(job.get("hiring_team")).get(role)
    for member in members if isinstance(members, list) else []:
        person = _person(member)
        if person:
            return person
    return None


def _webhook_refs(application: Mapping[str, Any]) -> _Refs:
    application_id = _require(application.get("id"), "payload.application.id")
    candidate = _dict(application.get("candidate"))
    candidate_id = _require(candidate.get("id"), "payload.application.candidate.id")
    job = _first_job(application)
    if job is None:
        raise AdapterError("payload.application.jobs is empty")
    job_id = _require(job.get("id"), "payload.application.jobs[0].id")
    departments = job.get("departments")
    department = clip(departments[0].get("name")) if isinstance(departments, list) and departments and \
        isinstance(departments[0], dict) else None
    job_ref = JobRef(
        id=job_id, title=clip(job.get("name"), 300), department=department,
        hiring_manager=_hiring_person(job, "hiring_managers"),
        # No job-level recruiter with a name in the payload: the candidate's recruiter is the person.
        recruiter=_hiring_person(job, "recruiters") or _person(candidate.get("recruiter")),
    )
    stage = clip(_dict(application.get("current_stage")).get("name"))
    return _Refs(_candidate_ref(candidate, candidate_id), job_ref, ApplicationRef(id=application_id, stage=stage))


def _event(event_id: str, type_: EventType, at: datetime, refs: _Refs | None = None, **fields: Any) -> CanonicalEvent:
    if refs is not None:
        fields.update(candidate=refs.candidate, job=refs.job, application=refs.application)
    return CanonicalEvent(id=event_id, type=type_, occurred_at=at, **fields)


# -- interviews (a v3 interview object, from either path) ----------------------------------------

def _interview_window(record: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    # v3 names the times `starts_at`/`ends_at`; the v1 scheduled-interview object (Harvest v1 docs) used
    # `start.date_time`/`end.date_time`. Reading both costs nothing and keeps v1-shaped records usable.
    starts = _time(record.get("starts_at") or _dict(record.get("start")).get("date_time"), "interview.starts_at")
    ends = _time(record.get("ends_at") or _dict(record.get("end")).get("date_time"), "interview.ends_at")
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


def interview_events(record: Mapping[str, Any], refs: _Refs, now: datetime) -> list[CanonicalEvent]:
    """Events for one v3 interview. Ids: `greenhouse:interview:<id>:scheduled:<ends_at>` (a reschedule is
    a new fact) and `greenhouse:interview:<id>:completed`."""
    interview_id = _require(record.get("id"), "interview.id")
    status = str(record.get("status") or "")
    if status not in SCHEDULED_STATUSES | HELD_STATUSES:
        return []
    starts, ends = _interview_window(record)
    updated = _time(record.get("updated_at"), "interview.updated_at")
    first_placed = _time(record.get("scheduled_at"), "interview.scheduled_at") or \
        _time(record.get("created_at"), "interview.created_at")
    ref = InterviewRef(id=interview_id, starts_at=starts, ends_at=ends)
    events = []
    if ends is not None:
        # While it is `scheduled`, the last change is the (re)scheduling; once held, the invitation
        # happened when it was first placed on the calendar (before the completion below).
        invited = (updated or first_placed) if status in SCHEDULED_STATUSES else (first_placed or updated)
        events.append(_event(f"greenhouse:interview:{interview_id}:scheduled:{_stamp(ends)}",
                             EventType.INTERVIEW_SCHEDULED, invited or now, refs, interview=ref))
    if status in HELD_STATUSES:
        # No completion time in v3: feedback was due from the end, and Greenhouse said so by `updated_at`.
        held = max((t for t in (ends, updated) if t is not None), default=now)
        events.append(_event(f"greenhouse:interview:{interview_id}:completed", EventType.INTERVIEW_COMPLETED,
                             held, refs, interview=ref))
    return events


# -- the adapter -----------------------------------------------------------------------------------

class GreenhouseAdapter(Adapter):
    provider: ClassVar[str] = "greenhouse"
    title: ClassVar[str] = "Greenhouse"
    success_status: ClassVar[int] = 200  # anything but HTTP 200 counts as a failed delivery
    default_api_base_url: ClassVar[str] = DEFAULT_API_BASE_URL
    # Harvest v3 custom integrations: client credentials, optionally the user the calls act as.
    # `access_token` takes a ready bearer token instead (it expires within the hour, so polling is
    # switched on by client_id + client_secret).
    credential_fields: ClassVar[tuple[str, ...]] = ("client_id", "client_secret", "user_id", "access_token")
    required_credentials: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")
    signing_secret_required: ClassVar[bool] = True

    # -- webhooks ----------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> bool:
        """`Signature: sha256 <hex>`: HMAC-SHA256 of the raw body keyed by the webhook's secret key."""
        header = request.header("Signature")
        if not header:
            return False
        parts = header.strip().split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "sha256":
            return False
        return matches_any(parts[1], [hmac_sha256_hex(secret, request.body) for secret in secrets if secret])

    def delivery_id(self, request: WebhookRequest) -> str | None:
        value = request.header("Greenhouse-Event-ID")
        return value.strip() if value and value.strip() else None

    def is_ping(self, request: WebhookRequest) -> bool:
        # Greenhouse pings the URL when a webhook is saved, "with a payload containing some configuration
        # settings"; the body is not documented. We accept `"action": "ping"` and, being tolerant, any
        # object without an action and without a payload, which no documented event looks like.
        payload = request.payload
        if not isinstance(payload, dict):
            return False
        action = payload.get("action")
        return action == "ping" or (action is None and "payload" not in payload)

    def events_from_webhook(self, request: WebhookRequest, ctx: Context) -> list[CanonicalEvent]:
        body = request.payload if isinstance(request.payload, dict) else {}
        action = str(body.get("action") or "")
        payload = _dict(body.get("payload"))
        if action == "job_updated":
            return _on_job_updated(payload, ctx, self.delivery_id(request))
        handler = _WEBHOOK_HANDLERS.get(action)
        if handler is None:
            return []  # offers, job posts, candidate updates, ...: acknowledged and kept, nothing to apply
        events = handler(payload, ctx)
        if action in INTERVIEW_FETCHING_ACTIONS and events:
            events += _scheduled_interviews(payload, ctx)
        return events

    # -- reconciliation --------------------------------------------------------------------------
    def fetch_changes(self, ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
        client = HarvestClient(ctx.connection, ctx.cache)
        sweep = _Sweep.load(cursor, ctx.now, int(ctx.connection.options.get("poll_lookback_days", 14)))
        if sweep.started_at is None:
            sweep.started_at = _v3_time(ctx.now)
        name = sweep.phase
        per_page = max(1, min(PAGE_SIZE_MAX, int(ctx.connection.options.get("poll_page_size", PAGE_SIZE_MAX))))
        records, next_cursor = client.page(
            f"/v3/{name}", {"updated_at": f"gte|{sweep.since[name]}", "per_page": per_page}, cursor=sweep.next[name])
        sweep.saw(name, records)
        sweep.next[name] = next_cursor
        more = True
        if next_cursor is None:
            if name == LISTS[-1]:
                sweep.finish()
                more = False
            else:
                sweep.phase = LISTS[LISTS.index(name) + 1]
        return PollPage(records=records, cursor=sweep.dump(), more=more)

    def events_from_records(self, records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
        # Records are raw v3 objects from the two lists: an interview names its application
        # (`application_id`), an application names its candidate (`candidate_id`).
        interviews = [r for r in records if isinstance(r, Mapping) and "application_id" in r]
        applications = [r for r in records if isinstance(r, Mapping) and "candidate_id" in r
                        and "application_id" not in r]
        resolver = _Resolver(ctx)
        resolver.prefetch([_id(r.get("application_id")) for r in interviews], applications)
        events: list[CanonicalEvent] = []
        for record in interviews:
            refs = resolver.refs(_id(record.get("application_id")))
            if refs is None:
                log.info("Greenhouse interview %s: application %s unknown here and not fetchable; skipped",
                         record.get("id"), record.get("application_id"))
                continue
            events += interview_events(record, refs, ctx.now)
        for record in applications:
            events += _application_record_events(record, resolver, ctx)
        return events


# -- webhook handlers (payload -> events) ----------------------------------------------------------

def _application(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    application = payload.get("application")
    if not isinstance(application, dict):
        raise AdapterError("payload.application is missing")
    if application.get("prospect") is True:
        return None  # a prospect has not applied to a job: nothing is owed to them yet
    return application


def _activity_at(application: Mapping[str, Any], ctx: Context) -> datetime:
    return _time(application.get("last_activity_at"), "payload.application.last_activity_at") or ctx.now


def _on_new_application(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    application = _application(payload)
    if application is None:
        return []
    refs = _webhook_refs(application)
    at = _time(application.get("applied_at"), "payload.application.applied_at") or _activity_at(application, ctx)
    return [_event(f"greenhouse:application:{refs.application.id}:created", EventType.APPLICATION_CREATED, at, refs)]


def _on_stage_change(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    application = _application(payload)
    if application is None:
        return []
    refs = _webhook_refs(application)
    at = _activity_at(application, ctx)
    stage_id = _id(_dict(application.get("current_stage")).get("id")) or "none"
    return [_event(f"greenhouse:application:{refs.application.id}:stage:{stage_id}:{_stamp(at)}",
                   EventType.APPLICATION_STAGE_CHANGED, at, refs)]


def _rejected(refs: _Refs, at: datetime, reason: str | None) -> CanonicalEvent:
    # No Greenhouse payload or record says whether Greenhouse emailed the candidate.
    return _event(f"greenhouse:application:{refs.application.id}:rejected:{_stamp(at)}", EventType.APPLICATION_REJECTED,
                  at, refs, reason=reason, ats_notification=AtsNotification.UNKNOWN)


def _on_reject(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    application = _application(payload)
    if application is None:
        return []
    refs = _webhook_refs(application)
    at = _time(application.get("rejected_at"), "payload.application.rejected_at") or _activity_at(application, ctx)
    reason = clip(_dict(application.get("rejection_reason")).get("name"), 1000)
    return [_rejected(refs, at, reason)]


def _on_reopen(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    """unreject_candidate and unhire_candidate: the application is active again."""
    application = _application(payload)
    if application is None:
        return []
    refs = _webhook_refs(application)
    at = _activity_at(application, ctx)
    return [_event(f"greenhouse:application:{refs.application.id}:reopened:{_stamp(at)}",
                   EventType.APPLICATION_REOPENED, at, refs)]


def _hired(refs: _Refs, at: datetime) -> CanonicalEvent:
    # No version marker: a v3 application record carries no hire time, and the poll must find the same id.
    return _event(f"greenhouse:application:{refs.application.id}:hired", EventType.APPLICATION_HIRED, at, refs)


def _on_hire(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    application = _application(payload)
    if application is None:
        return []
    refs = _webhook_refs(application)
    # `offer.resolved_at`: "Date the offer was accepted" (the hire webhook fires on Accept Offer).
    at = _time(_dict(application.get("offer")).get("resolved_at"), "payload.application.offer.resolved_at")
    return [_hired(refs, at or ctx.now)]


def _on_job_updated(payload: Mapping[str, Any], ctx: Context, delivery_id: str | None) -> list[CanonicalEvent]:
    job = _dict(payload.get("job"))
    job_id = _require(job.get("id"), "payload.job.id")
    departments = job.get("departments")
    ref = JobRef(id=job_id, title=clip(job.get("name"), 300),
                 department=clip(departments[0].get("name")) if isinstance(departments, list) and departments
                 and isinstance(departments[0], dict) else None,
                 hiring_manager=_hiring_person(job, "hiring_managers"), recruiter=_hiring_person(job, "recruiters"))
    status = job.get("status")
    if status == "closed":
        at = _time(job.get("closed_at"), "payload.job.closed_at") or ctx.now
        return [_event(f"greenhouse:job:{job_id}:closed:{_stamp(at)}", EventType.JOB_CLOSED, at, job=ref)]
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
        record = _optional(lambda: client.by_ids("jobs", [ref.id]).get(ref.id), f"job {ref.id}")
        if record is not None:
            if record.get("status") != "open":
                return []  # the webhook is older than the job's current state: nothing to reopen
            at = _time(record.get("updated_at"), "job.updated_at")
            if at is not None:
                return [_event(f"greenhouse:job:{ref.id}:open:{_stamp(at)}", EventType.JOB_REOPENED, at, job=ref)]
    if not delivery_id:
        return []
    return [_event(f"greenhouse:job:{ref.id}:open:event:{delivery_id[:100]}", EventType.JOB_REOPENED, ctx.now,
                   job=ref)]


def _on_job_deleted(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    # Greenhouse only deletes closed jobs; the payload carries no time.
    job = _dict(payload.get("job"))
    job_id = _require(job.get("id"), "payload.job.id")
    return [_event(f"greenhouse:job:{job_id}:deleted", EventType.JOB_CLOSED, ctx.now,
                   job=JobRef(id=job_id, title=clip(job.get("name"), 300)))]


def _erased(candidate_id: str, reason: ErasureReason, ctx: Context, merged_into: str | None = None) -> CanonicalEvent:
    suffix = f":{merged_into}" if merged_into else ""
    # The deletion payloads carry no time of their own.
    return _event(f"greenhouse:candidate:{candidate_id}:erased:{reason.value}{suffix}", EventType.CANDIDATE_ERASED,
                  ctx.now, candidate=CandidateRef(id=candidate_id), reason=reason.value, merged_into=merged_into)


def _on_delete_candidate(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    candidate_id = _require(_dict(payload.get("person")).get("id"), "payload.person.id")
    return [_erased(candidate_id, ErasureReason.DELETED, ctx)]


def _on_merge_candidate(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    person = _dict(payload.get("person"))
    candidate_id = _require(person.get("id"), "payload.person.id")
    survivor = _require(person.get("new_candidate_id"), "payload.person.new_candidate_id")
    return [_erased(candidate_id, ErasureReason.MERGED, ctx, merged_into=survivor)]


def _on_anonymized(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    # Any anonymisation erases: we cannot keep a partly anonymised person in step with Greenhouse.
    candidate_id = _require(payload.get("candidate_id"), "payload.candidate_id")
    return [_erased(candidate_id, ErasureReason.ANONYMISED, ctx)]


def _on_interview_deleted(payload: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
    """Only `interview.id` is sent: the application comes from what we already hold."""
    interview_id = _require(_dict(payload.get("interview")).get("id"), "payload.interview.id")
    keys = ctx.lookup.interview(interview_id)
    if keys is None:
        return []  # never seen here: nothing to cancel
    return [_event(f"greenhouse:interview:{interview_id}:cancelled", EventType.INTERVIEW_CANCELLED, ctx.now,
                   _ids_refs(keys), interview=InterviewRef(id=interview_id))]


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
    refs = _webhook_refs(_dict(payload.get("application")))
    records = _optional(lambda: client.interviews_of(refs.application.id), f"interviews of {refs.application.id}")
    events: list[CanonicalEvent] = []
    for record in records or []:
        events += interview_events(record, refs, ctx.now)
    return events


def _optional(fetch: Callable[[], T], what: str) -> T | None:
    try:
        return fetch()
    except PermanentAtsError as exc:
        log.warning("Greenhouse: could not fetch %s: %s", what, exc)
        return None


# -- poll records (v3 applications) ----------------------------------------------------------------

def _ids_refs(keys: ApplicationKeys, stage: str | None = None) -> _Refs:
    return _Refs(CandidateRef(id=keys.candidate_id), JobRef(id=keys.job_id),
                 ApplicationRef(id=keys.application_id, stage=stage))


class _Resolver:
    """Refs for v3 records, which name only ids. Known applications keep what the ledger holds (ids
    suffice); unknown ones are filled from Harvest (candidate name and email, job title, department) so
    a missed `new_candidate_application` still leaves us someone to write to."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = HarvestClient(ctx.connection, ctx.cache)
        self.applications: dict[str, dict[str, Any]] = {}

    def prefetch(self, interview_app_ids: Sequence[str | None], applications: Sequence[Mapping[str, Any]]) -> None:
        for record in applications:
            if _id(record.get("id")):
                self.applications[str(record["id"])] = dict(record)
        if not self.client.configured:
            return  # replaying stored records without credentials: known applications still resolve
        # A permanent refusal (a scope not granted) costs the details, not the page's other events.
        unknown = [i for i in interview_app_ids if i and i not in self.applications
                   and self.ctx.lookup.application(i) is None]
        if unknown:
            self.applications.update(_optional(lambda: self.client.by_ids("applications", unknown),
                                               "applications") or {})
        # People and jobs only for the unknown applications that will produce events.
        eventful = set(filter(None, interview_app_ids)) | {
            str(r.get("id")) for r in applications if r.get("status") in ("rejected", "hired")}
        unseen = [r for i, r in self.applications.items()
                  if i in eventful and self.ctx.lookup.application(i) is None]
        if unseen:
            _optional(lambda: self.client.by_ids("candidates", [_id(r.get("candidate_id")) or "" for r in unseen]),
                      "candidates")
            jobs = _optional(lambda: self.client.by_ids("jobs", [_id(r.get("job_id")) or "" for r in unseen]),
                             "jobs") or {}
            _optional(lambda: self.client.by_ids("departments", [_id(j.get("department_id")) or ""
                                                                 for j in jobs.values()]), "departments")

    def refs(self, application_id: str | None) -> _Refs | None:
        if not application_id:
            return None
        known = self.ctx.lookup.application(application_id)
        if known is not None:
            return _ids_refs(known)
        record = self.applications.get(application_id)
        if record is None:
            return None
        candidate_id, job_id = _id(record.get("candidate_id")), _id(record.get("job_id"))
        if candidate_id is None or job_id is None:
            return None  # a jobless prospect: not an application we track
        cache = self.ctx.cache
        candidate = _dict(cache.get("greenhouse:candidates", {}).get(candidate_id))
        job = _dict(cache.get("greenhouse:jobs", {}).get(job_id))
        department = _dict(cache.get("greenhouse:departments", {}).get(_id(job.get("department_id")) or ""))
        return _Refs(_candidate_ref(candidate, candidate_id),
                     JobRef(id=job_id, title=clip(job.get("name"), 300), department=clip(department.get("name"))),
                     ApplicationRef(id=application_id, stage=clip(record.get("stage_name"))))

    def rejection_reason(self, reason_id: str | None) -> str | None:
        if not reason_id or not self.client.configured:
            return None
        reasons = _optional(lambda: self.client.by_ids("rejection_reasons", [reason_id]), "rejection reasons")
        return clip(_dict((reasons or {}).get(reason_id)).get("name"), 1000)


def _application_record_events(record: Mapping[str, Any], resolver: _Resolver, ctx: Context) -> list[CanonicalEvent]:
    """Decisions the webhooks may have missed: rejected, hired, and active again (unreject/unhire)."""
    application_id = _require(record.get("id"), "application.id")
    refs = resolver.refs(application_id)
    if refs is None:
        return []
    status = record.get("status")
    if status == "rejected":
        at = _time(record.get("rejected_at"), "application.rejected_at")
        if at is None:
            return []
        return [_rejected(refs, at, resolver.rejection_reason(_id(record.get("rejection_reason_id"))))]
    if status == "hired":
        at = _time(record.get("updated_at"), "application.updated_at") or ctx.now
        return [_hired(refs, at)]
    if status in ACTIVE_APPLICATION_STATUSES and ctx.lookup.application(application_id) is not None:
        # Active as of `updated_at`: undoes a rejection or hire we hold from before then (a lost
        # unreject/unhire webhook). For an application already active the ledger only notes the time.
        at = _time(record.get("updated_at"), "application.updated_at")
        if at is not None:
            return [_event(f"greenhouse:application:{application_id}:active:{_stamp(at)}",
                           EventType.APPLICATION_REOPENED, at, refs)]
    return []
