"""Ashby: signed webhooks, the RPC-style REST API and its incremental (`syncToken`) sync.

What Ashby documents, and where (research note: ../shared/notes/ats/ats-ashby.md):
- Webhooks: https://developers.ashbyhq.com/docs/setting-up-webhooks, /docs/authenticating-webhooks
  (`Ashby-Signature: sha256=<hex>`, HMAC-SHA256 of the raw body, optional secret), /docs/common-payload-data
  (`{"webhookActionId", "action", "data"}`), /docs/related-webhooks (one action can fan out into several
  webhooks sharing one `webhookActionId`), /docs/retries (success = 2xx).
- Event payloads: Ashby's reference pages (`/reference/<event>webhook`) render schemas, not examples. We
  read them through the OpenAPI extract in GitHub `api-evangelist/ashby`,
  `openapi/ashby-webhook-payloads-api-openapi.yml` (descriptions match Ashby's pages word for word).
- REST: https://developers.ashbyhq.com/docs/responses (HTTP 200 with `success: false` and `errorInfo`
  for what would be a 4xx), /docs/pagination-and-incremental-sync and /docs/sync (`cursor`/`nextCursor`,
  `moreDataAvailable`, `syncToken` on the last page), changelog 2026-05-14 (`incremental_sync_too_large`:
  drop the token, full sync). Endpoint schemas `application.list/info`, `interviewSchedule.list`,
  `interviewEvent.list`, `interviewStage.info` from the same extract (`openapi/ashby-*-api-openapi.yml`).
  Auth: HTTP Basic, API key as the user name, empty password.

Ashby has no dedicated rejection, unarchive or "feedback due" event: a rejection is an application whose
`status` became `Archived` (with `archiveReason`, `archivedAt`), seen in `candidateStageChange` /
`applicationUpdate`; interviews are `interviewSchedule` objects whose `status` moves through
`Scheduled` -> `WaitingOnFeedback` -> `Complete` (or `Cancelled`). Because related webhooks carry the
same application state, every canonical id is derived from that state, so the copies apply once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from plugin.ats.base import (
    Adapter,
    AdapterError,
    Context,
    PollPage,
    WebhookRequest,
    clean_email,
    clip,
    parse_time,
)
from plugin.ats.http import ApiClient, PermanentAtsError
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

__all__ = ["AshbyAdapter", "AshbyClient", "SyncRestartRequired"]

DEFAULT_API_BASE_URL = "https://api.ashbyhq.com"
PAGE_LIMIT = 100  # the documented maximum (and default) `limit` of the list endpoints
# Both list endpoints take `syncToken` in their request schema, so both support incremental sync.
STREAMS = ("application.list", "interviewSchedule.list")
# After a full sync that had to replace a lost token, keep a margin before the last completed pass so
# clock skew between Ashby and us cannot hide a change (re-reading is harmless: ids are per fact).
RESYNC_MARGIN = timedelta(hours=1)
# `incremental_sync_too_large` is documented (changelog 2026-05-14). `sync_token_expired` is not on the
# pages we could read, but third-party clients report it; a token Ashby refuses can only be replaced by
# a full sync, so it gets the same treatment rather than failing every poll forever.
RESTART_SYNC_CODES = frozenset({"incremental_sync_too_large", "sync_token_expired"})

SCHEDULE_ACTIVE = "Scheduled"
SCHEDULE_DONE = frozenset({"WaitingOnFeedback", "Complete"})
SCHEDULE_CANCELLED = "Cancelled"
JOB_CLOSED_STATUSES = frozenset({"Closed", "Archived"})
# archiveReason.reasonType (archiveReason.list): the candidate withdrew, Ashby's own word for it.
WITHDRAWN_REASON_TYPE = "RejectedByCandidate"
HIRING_MANAGER_ROLE = "Hiring Manager"
RECRUITER_ROLE = "Recruiter"


class SyncRestartRequired(PermanentAtsError):
    """Ashby refused the sync token: drop it and run a full sync (retrying the same token cannot help)."""


# -- REST client ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ListPage:
    results: list[dict[str, Any]]
    more: bool
    next_cursor: str | None
    sync_token: str | None


class AshbyClient:
    """Ashby's API is RPC over POST: `POST /<object>.<verb>` with a JSON body, answers `{success, results}`."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.api = ApiClient(base_url=base_url, vendor="Ashby", auth=(api_key, ""))

    def call(self, endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The decoded answer of a successful call; `success: false` raises (Ashby sends it with HTTP 200)."""
        data = self.api.post(f"/{endpoint}", json=dict(body)).data
        if not isinstance(data, dict):
            raise PermanentAtsError(f"Ashby answered {endpoint} with something that is not a JSON object")
        if data.get("success") is not True:
            codes = _error_codes(data)
            message = f"Ashby refused {endpoint}: {', '.join(codes) or 'no error code given'}"
            if RESTART_SYNC_CODES.intersection(codes):
                raise SyncRestartRequired(message)
            raise PermanentAtsError(message)
        return data

    def list_page(self, endpoint: str, *, sync_token: str | None, cursor: str | None,
                  limit: int = PAGE_LIMIT) -> ListPage:
        body: dict[str, Any] = {"limit": limit}
        if sync_token:
            body["syncToken"] = sync_token  # kept on every page of an incremental pass
        if cursor:
            body["cursor"] = cursor
        data = self.call(endpoint, body)
        results = data.get("results")
        if not isinstance(results, list):
            raise PermanentAtsError(f"Ashby answered {endpoint} without a results list")
        more = data.get("moreDataAvailable") is True
        next_cursor = _text_or_none(data.get("nextCursor"))
        if more and not next_cursor:
            raise PermanentAtsError(f"Ashby answered {endpoint} with moreDataAvailable but no nextCursor")
        return ListPage([r for r in results if isinstance(r, dict)], more, next_cursor,
                        _text_or_none(data.get("syncToken")))

    def application_info(self, application_id: str) -> dict[str, Any]:
        return _result_object(self.call("application.info", {"applicationId": application_id}), "application.info")

    def interview_stage_info(self, stage_id: str) -> dict[str, Any]:
        return _result_object(self.call("interviewStage.info", {"interviewStageId": stage_id}), "interviewStage.info")

    def interview_events(self, schedule_id: str) -> list[dict[str, Any]]:
        """Every event of one schedule (a schedule holds a handful; follow the cursor anyway)."""
        events: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            body: dict[str, Any] = {"interviewScheduleId": schedule_id, "limit": PAGE_LIMIT}
            if cursor:
                body["cursor"] = cursor
            data = self.call("interviewEvent.list", body)
            events += [e for e in data.get("results") or [] if isinstance(e, dict)]
            cursor = _text_or_none(data.get("nextCursor"))
            if data.get("moreDataAvailable") is not True or not cursor:
                return events


def _error_codes(data: Mapping[str, Any]) -> list[str]:
    """Codes from `errorInfo.code` (docs/responses) and `errors[]` (strings in the endpoint schemas)."""
    codes: list[str] = []
    info = data.get("errorInfo")
    if isinstance(info, Mapping) and info.get("code"):
        codes.append(str(info["code"]))
    for item in data.get("errors") or []:
        code = (item.get("code") or item.get("message")) if isinstance(item, Mapping) else item
        if code and str(code) not in codes:
            codes.append(str(code))
    return codes


def _result_object(data: Mapping[str, Any], endpoint: str) -> dict[str, Any]:
    results = data.get("results")
    if not isinstance(results, dict):
        raise PermanentAtsError(f"Ashby answered {endpoint} without a results object")
    return results


# -- payload helpers ---------------------------------------------------------------------------------

def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AdapterError(f"{where} is missing or not an object")
    return value


def _id(obj: Mapping[str, Any], key: str, where: str) -> str:
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


def _text_or_none(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


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
    candidate = _object(app.get("candidate"), f"{where}.candidate")
    job = _object(app.get("job"), f"{where}.job")
    email = candidate.get("primaryEmailAddress")
    manager, recruiter = _hiring_team(app.get("hiringTeam"))
    stage = app.get("currentInterviewStage")
    # Only ids reach us for department and location (`departmentId`); names would need more calls.
    return _Refs(
        candidate=CandidateRef(id=_id(candidate, "id", f"{where}.candidate"), name=clip(candidate.get("name")),
                               email=clean_email(email.get("value")) if isinstance(email, Mapping) else None),
        job=JobRef(id=_id(job, "id", f"{where}.job"), title=clip(job.get("title"), 300),
                   hiring_manager=manager, recruiter=recruiter),
        application=ApplicationRef(id=_id(app, "id", where),
                                   stage=clip(stage.get("title")) if isinstance(stage, Mapping) else None),
    )


def _is_schedule(record: Mapping[str, Any]) -> bool:
    """Poll records are raw: an interview schedule names its application, an application embeds its candidate."""
    return "applicationId" in record and "candidate" not in record


def _updated_since(record: Mapping[str, Any], floor: datetime) -> bool:
    try:
        updated = parse_time(record.get("updatedAt"))
    except AdapterError:
        return True  # keep what we cannot date; translating it will name the bad field
    return updated is None or updated >= floor


# -- the adapter -------------------------------------------------------------------------------------

class AshbyAdapter(Adapter):
    provider: ClassVar[str] = "ashby"
    title: ClassVar[str] = "Ashby"
    success_status: ClassVar[int] = 200  # the reference pages: "Return a 200 status"
    default_api_base_url: ClassVar[str] = DEFAULT_API_BASE_URL
    credential_fields: ClassVar[tuple[str, ...]] = ("api_key",)
    # Reconciliation and schedules of unknown applications need the API (candidatesRead, interviewsRead).
    required_credentials: ClassVar[tuple[str, ...]] = ("api_key",)
    # Ashby makes the secret token optional, but an unsigned webhook could be forged by anyone who learns
    # the URL, and it would reject candidates and erase them: we require one.
    signing_secret_required: ClassVar[bool] = True

    # -- webhooks ----------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> bool:
        """`Ashby-Signature: sha256=<hex>`; the prefix names the algorithm, the digest covers the raw body."""
        received = request.header("Ashby-Signature")
        expected = [f"sha256={hmac_sha256_hex(secret, request.body)}" for secret in secrets if secret]
        return bool(received and expected) and matches_any(received, expected)

    def delivery_id(self, request: WebhookRequest) -> str | None:
        # Related webhooks (candidateHire -> applicationUpdate + candidateStageChange) share one
        # webhookActionId, and retries reuse it: the action makes each related webhook its own delivery.
        payload = request.payload if isinstance(request.payload, Mapping) else {}
        action_id = _text_or_none(payload.get("webhookActionId"))
        if action_id is None:
            return None
        return f"{action_id}:{payload.get('action') or 'unknown'}"

    def is_ping(self, request: WebhookRequest) -> bool:
        payload = request.payload if isinstance(request.payload, Mapping) else {}
        data = payload.get("data")
        return payload.get("action") == "ping" or (
            isinstance(data, Mapping) and data.get("webhookActionType") == "ping")

    def events_from_webhook(self, request: WebhookRequest, ctx: Context) -> list[CanonicalEvent]:
        payload = _object(request.payload, "payload")
        handler = _WEBHOOK_HANDLERS.get(str(payload.get("action")))
        if handler is None or self.is_ping(request):
            return []  # offers, postings, surveys, openings ...: acknowledged and kept, nothing to do
        return handler(self, _object(payload.get("data"), "data"), ctx)

    def _on_application(self, data: Mapping[str, Any], ctx: Context, *, submitted: bool) -> list[CanonicalEvent]:
        app = _object(data.get("application"), "data.application")
        return self._application_events(app, ctx, "data.application", created=submitted, changes=not submitted)

    def _on_schedule(self, data: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
        schedule = _object(data.get("interviewSchedule"), "data.interviewSchedule")
        return self._schedule_events(schedule, ctx, "data.interviewSchedule")

    def _on_job(self, data: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
        return _job_events(_object(data.get("job"), "data.job"), ctx, "data.job")

    def _on_candidate_delete(self, data: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
        candidate_id = _id(_object(data.get("candidate"), "data.candidate"), "id", "data.candidate")
        # The payload carries no time: it happened when Ashby sent it.
        return [CanonicalEvent(id=f"ashby:candidate:{candidate_id}:deleted", type=EventType.CANDIDATE_ERASED,
                               occurred_at=ctx.now, candidate=CandidateRef(id=candidate_id),
                               reason=ErasureReason.DELETED)]

    def _on_candidate_merge(self, data: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
        deleted = _id(_object(data.get("deletedCandidate"), "data.deletedCandidate"), "id", "data.deletedCandidate")
        merged = _id(_object(data.get("mergedCandidate"), "data.mergedCandidate"), "id", "data.mergedCandidate")
        return [CanonicalEvent(id=f"ashby:candidate:{deleted}:merged:{merged}", type=EventType.CANDIDATE_ERASED,
                               occurred_at=ctx.now, candidate=CandidateRef(id=deleted),
                               reason=ErasureReason.MERGED, merged_into=merged)]

    # -- applications ------------------------------------------------------------------------------
    def _application_events(self, app: Mapping[str, Any], ctx: Context, where: str, *,
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

    # -- interviews --------------------------------------------------------------------------------
    def _schedule_events(self, schedule: Mapping[str, Any], ctx: Context, where: str) -> list[CanonicalEvent]:
        status = schedule.get("status")
        if status != SCHEDULE_ACTIVE and status != SCHEDULE_CANCELLED and status not in SCHEDULE_DONE:
            return []  # NeedsScheduling, WaitingOnCandidate*, OnHold, Unknown: nothing has a time yet
        schedule_id = _id(schedule, "id", where)
        refs, stage_title = self._schedule_context(schedule, ctx, where)
        updated_at = _time(schedule, "updatedAt", where) or ctx.now
        events: list[CanonicalEvent] = []
        for index, item in enumerate(self._interview_events(schedule, schedule_id, ctx)):
            item_where = f"{where}.interviewEvents[{index}]"
            event = _object(item, item_where)
            event_id = _id(event, "id", item_where)
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

    def _interview_events(self, schedule: Mapping[str, Any], schedule_id: str, ctx: Context) -> list[Any]:
        """The schedule's events; when the payload lists none, ask interviewEvent.list (if we may).

        Not documented: whether a cancelled schedule still lists its events. Without events there is no
        interview id to act on, so such a schedule yields nothing (the sweeper's end-time rule remains).
        """
        events = schedule.get("interviewEvents")
        if isinstance(events, list) and events:
            return events
        if not ctx.connection.credentials.get("api_key"):
            return []
        key = f"ashby:interviewEvent.list:{schedule_id}"
        if key not in ctx.cache:
            ctx.cache[key] = self._client(ctx).interview_events(schedule_id)
        return list(ctx.cache[key])

    def _schedule_context(self, schedule: Mapping[str, Any], ctx: Context, where: str) -> tuple[_Refs, str | None]:
        """Candidate/job/application of a schedule (it names only `applicationId`) and its stage title."""
        application_id = _id(schedule, "applicationId", where)
        stage_id = _text_or_none(schedule.get("interviewStageId"))
        known = ctx.lookup.application(application_id)
        if known is not None:
            refs = _Refs(CandidateRef(id=known.candidate_id), JobRef(id=known.job_id),
                         ApplicationRef(id=known.application_id))
        else:
            app = self._application_info(application_id, ctx)
            refs = _application_refs(app, "application.info results")
            current = app.get("currentInterviewStage")
            if isinstance(current, Mapping) and stage_id and current.get("id") == stage_id:
                return refs, clip(current.get("title"))
        return refs, self._stage_title(stage_id, ctx)

    def _application_info(self, application_id: str, ctx: Context) -> dict[str, Any]:
        key = f"ashby:application.info:{application_id}"
        if key not in ctx.cache:
            ctx.cache[key] = self._client(ctx).application_info(application_id)
        return dict(ctx.cache[key])

    def _stage_title(self, stage_id: str | None, ctx: Context) -> str | None:
        if not stage_id or not ctx.connection.credentials.get("api_key"):
            return None  # the title is a nicety for emails; ids alone are enough to act
        key = f"ashby:interviewStage.info:{stage_id}"
        if key not in ctx.cache:
            try:
                ctx.cache[key] = clip(self._client(ctx).interview_stage_info(stage_id).get("title"))
            except PermanentAtsError:
                ctx.cache[key] = None  # a deleted stage must not fail the interview; outages still retry
        return ctx.cache[key]  # type: ignore[no-any-return]

    def _client(self, ctx: Context) -> AshbyClient:
        client = ctx.cache.get("ashby:client")
        if isinstance(client, AshbyClient):
            return client
        api_key = ctx.connection.credentials.get("api_key")
        if not api_key:
            raise PermanentAtsError("Ashby needs an API key (credential api_key) for this; none is configured")
        client = AshbyClient(ctx.connection.api_base_url(DEFAULT_API_BASE_URL), api_key)
        ctx.cache["ashby:client"] = client
        return client

    # -- reconciliation ----------------------------------------------------------------------------
    def fetch_changes(self, ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
        """One page of application.list, then interviewSchedule.list, each an incremental sync.

        Cursor: `{"stream": <endpoint>, <endpoint>: {"syncToken", "nextCursor", "floor", "syncedAt"}}`.
        A pass without a token (the first poll, or after Ashby refused the token) is a full sync, as the
        docs require to obtain a token; records updated before `floor` are dropped from it, so the first
        poll looks back `poll_lookback_days` only. `more` stays true until both streams finished a pass.
        """
        state = _cursor_state(cursor)
        stream = state["stream"]
        sync = dict(state[stream])
        if not sync.get("syncToken") and not sync.get("nextCursor") and not sync.get("floor"):
            sync["floor"] = self._full_sync_floor(sync, ctx).isoformat()
        try:
            page = self._client(ctx).list_page(stream, sync_token=sync.get("syncToken"),
                                               cursor=sync.get("nextCursor"))
        except SyncRestartRequired:
            if not sync.get("syncToken"):
                raise  # a full sync was refused: dropping a token we did not send cannot help
            state[stream] = {"syncToken": None, "nextCursor": None, "syncedAt": sync.get("syncedAt"),
                             "floor": self._full_sync_floor(sync, ctx).isoformat()}
            return PollPage(records=[], cursor=state, more=True)
        floor = parse_time(sync.get("floor"))
        records = [r for r in page.results if floor is None or _updated_since(r, floor)]
        if page.more:
            state[stream] = {**sync, "nextCursor": page.next_cursor}
            return PollPage(records=records, cursor=state, more=True)
        state[stream] = {"syncToken": page.sync_token or sync.get("syncToken"), "nextCursor": None,
                         "floor": None, "syncedAt": ctx.now.isoformat()}
        last = STREAMS.index(stream) == len(STREAMS) - 1
        state["stream"] = STREAMS[0] if last else STREAMS[STREAMS.index(stream) + 1]
        return PollPage(records=records, cursor=state, more=not last)

    @staticmethod
    def _full_sync_floor(sync: Mapping[str, Any], ctx: Context) -> datetime:
        synced_at = parse_time(sync.get("syncedAt"))
        if synced_at is not None:  # replacing a lost token: everything since the last completed pass
            return synced_at - RESYNC_MARGIN
        return ctx.now - timedelta(days=int(ctx.connection.options.get("poll_lookback_days", 14)))

    def events_from_records(self, records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
        events: list[CanonicalEvent] = []
        for record in records:
            if _is_schedule(record):
                events += self._schedule_events(record, ctx, "interviewSchedule")
            else:
                events += self._application_events(record, ctx, "application", created=True, changes=True)
        return events


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


def _job_events(job: Mapping[str, Any], ctx: Context, where: str) -> list[CanonicalEvent]:
    job_id = _id(job, "id", where)
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


def _cursor_state(cursor: Mapping[str, Any] | None) -> dict[str, Any]:
    state: dict[str, Any] = {"stream": STREAMS[0]}
    given = cursor if isinstance(cursor, Mapping) else {}
    for stream in STREAMS:
        saved = given.get(stream)
        state[stream] = dict(saved) if isinstance(saved, Mapping) else {}
    if given.get("stream") in STREAMS:
        state["stream"] = given["stream"]
    return state


_Handler = Callable[[AshbyAdapter, Mapping[str, Any], Context], list[CanonicalEvent]]

_WEBHOOK_HANDLERS: dict[str, _Handler] = {
    "applicationSubmit": lambda a, d, c: a._on_application(d, c, submitted=True),
    "applicationUpdate": lambda a, d, c: a._on_application(d, c, submitted=False),
    "candidateStageChange": lambda a, d, c: a._on_application(d, c, submitted=False),
    "candidateHire": lambda a, d, c: a._on_application(d, c, submitted=False),
    "interviewScheduleCreate": AshbyAdapter._on_schedule,
    "interviewScheduleUpdate": AshbyAdapter._on_schedule,
    "jobUpdate": AshbyAdapter._on_job,
    "candidateDelete": AshbyAdapter._on_candidate_delete,
    "candidateMerge": AshbyAdapter._on_candidate_merge,
}
