"""Workable: SPI v3 candidate webhooks, treated as hints, and a candidate + interview poll.

Sources (Workable's developer docs, https://workable.readme.io; notes in ../shared/notes/ats/ats-workable.md):
- reference/webhook-subscriptions-candidates-employees, reference/webhooks: events `candidate_created`,
  `candidate_moved`, `candidate_deleted`; header `X-Workable-Signature` = HMAC-SHA256 over the request
  payload keyed by the account API token (OAuth apps: the app secret); answer 200 or Workable replays.
- reference/candidate-events: the pushed data is "similar to candidate details", wrapped in `data`;
  it reflects the state when Workable SENDS it, not when the event happened.
- reference/job-candidates-show: `GET /candidates/:id` -> `{"candidate": {...}}` with `stage` (the stage
  *name*), `disqualified`, `disqualified_at`, `disqualification_reason`, `job{shortcode,title}`, `updated_at`.
- reference/job-candidates-index: `GET /candidates?updated_after=&since_id=&limit=` (limit <= 100) ->
  `{"candidates": [...], "paging": {"next": <url>}}`; here `stage` is the stage *slug*, plus `stage_kind`,
  `withdrew` and `hired_at`, but no `disqualified_at`. docs/whats-new-in-v3: ISO 8601 UTC timestamps,
  candidates sorted by insertion (not by update).
- reference/stages: `GET /stages` -> `{"stages": [{slug, name, kind, position}]}`, kinds sourced, applied,
  shortlisted, assessment, phone-screen, interview, offer, hired.
- reference/events: `GET /events?type=interview&start_date=&include_cancelled=true` -> `{"events": [...]}`
  with `starts_at`, `ends_at`, `cancelled`, `job`, `candidate{id,name}` (scope r_jobs).

What Workable leaves open, and what this module does about it:
- No event name, delivery id or timestamp is documented in the body: every delivery is routed the same
  way (fetch the candidate, map its state); the core dedupes on a body hash.
- The digest encoding is not stated: lowercase or uppercase hex are accepted (`matches_any`).
- No ping or test request is documented, so nothing is treated as one.
- No interview, rejection or hire webhook: rejections and hires are read from the candidate's state,
  interviews only from the `/events` poll (there is no "interview completed": the sweeper opens the
  obligation when `ends_at` passes).
- Workable candidates are per job, so the candidate id is also our application id; the job is its shortcode.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

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
)

PROVIDER = "workable"
SIGNATURE_HEADER = "X-Workable-Signature"
PAGE_LIMIT = 100  # the documented maximum per page
# `/events` filters on when an interview is scheduled, not when it changed: each pass re-reads from a
# day before the previous pass, so interviews that started meanwhile, and all future ones, are seen again.
INTERVIEW_OVERLAP = timedelta(hours=24)
STANDARD_KINDS = frozenset({"sourced", "applied", "shortlisted", "assessment", "phone-screen", "interview",
                            "offer", "hired"})
_SUBDOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_STAGES_CACHE = "workable:stages"


def api_base_url(ctx: Context) -> str:
    """`options.api_base_url`, else `https://<options.subdomain>.workable.com/spi/v3`."""
    options = ctx.connection.options
    if options.get("api_base_url"):
        return str(options["api_base_url"])
    subdomain = options.get("subdomain")
    if not isinstance(subdomain, str) or not _SUBDOMAIN.match(subdomain):
        raise AdapterError("the Workable connection needs options.subdomain (e.g. 'acme' for acme.workable.com) "
                           "to call the Workable API")
    return WorkableAdapter.default_api_base_url.format(subdomain=subdomain.lower())


class WorkableClient:
    """The SPI v3 calls this adapter makes (Bearer token, JSON)."""

    def __init__(self, ctx: Context) -> None:
        token = ctx.connection.credentials.get("api_token")
        if not token:
            raise AdapterError("the Workable connection has no credentials.api_token to call the Workable API")
        self.api = ApiClient(base_url=api_base_url(ctx), vendor="Workable", bearer=token)

    def candidate(self, candidate_id: str) -> dict[str, Any] | None:
        """The candidate's current state, or None when Workable says it does not exist (404)."""
        try:
            data = self.api.get(f"candidates/{quote(candidate_id, safe='')}").data
        except PermanentAtsError as exc:
            if exc.status == 404:
                return None
            raise
        found = data.get("candidate", data) if isinstance(data, dict) else None
        if not isinstance(found, dict):
            raise AdapterError(f"Workable's GET /candidates/{candidate_id} answer has no candidate object")
        return found

    def confirm_account(self) -> None:
        """Raises unless the account's candidate list answers: proves a 404 was about one candidate."""
        self.api.get("candidates", limit=1)

    def candidates_page(self, *, updated_after: str, next_url: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return self._page("candidates", next_url, updated_after=updated_after, limit=PAGE_LIMIT)

    def interviews_page(self, *, start_date: str, next_url: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return self._page("events", next_url, type="interview", start_date=start_date, include_cancelled="true",
                          limit=PAGE_LIMIT)

    def stages(self) -> list[dict[str, Any]]:
        data = self.api.get("stages").data
        stages = data.get("stages") if isinstance(data, dict) else None
        return [s for s in stages or [] if isinstance(s, dict)]

    def _page(self, key: str, next_url: str | None, **params: Any) -> tuple[list[dict[str, Any]], str | None]:
        if next_url is not None:
            self._check_same_origin(next_url)
            data = self.api.get(next_url).data  # the `next` URL carries every filter already
        else:
            data = self.api.get(key, **params).data
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise AdapterError(f"Workable's GET /{key} answer has no '{key}' list")
        paging = data.get("paging")
        following = paging.get("next") if isinstance(paging, dict) else None
        return [r for r in data[key] if isinstance(r, dict)], (str(following) if following else None)

    def _check_same_origin(self, url: str) -> None:
        # The Bearer token goes wherever `next` points: only ever to the API we were configured with.
        if urlsplit(url)[:2] != urlsplit(self.api.base_url)[:2]:
            raise AdapterError(f"Workable's paging.next points outside {self.api.base_url}: {url[:200]}")


class WorkableAdapter(Adapter):
    provider = PROVIDER
    title = "Workable"
    success_status = 200  # anything else is "replayed" (reference/webhooks)
    default_api_base_url = "https://{subdomain}.workable.com/spi/v3"
    credential_fields = ("api_token",)
    required_credentials = ("api_token",)
    # The signing secret is the same account API token (or the OAuth app secret for OAuth apps).
    signing_secret_required = True

    # -- webhooks --------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> bool:
        # Encoding of the digest is not documented; matches_any compares hex case-insensitively.
        expected = [hmac_sha256_hex(secret, request.body) for secret in secrets if secret]
        return matches_any(request.header(SIGNATURE_HEADER), expected)

    def delivery_id(self, request: WebhookRequest) -> str | None:
        return None  # none documented: the core dedupes on a hash of the body

    def event_name(self, request: WebhookRequest) -> str:
        # Not documented; third-party handlers disagree (`type` vs `event_type`). Shown in lists only.
        payload = request.payload
        if isinstance(payload, dict):
            for key in ("event_type", "type", "event", "action"):
                if isinstance(payload.get(key), str) and payload[key]:
                    return clip(payload[key], 100) or "candidate_event"
        return "candidate_event"

    def is_ping(self, request: WebhookRequest) -> bool:
        return False  # Workable documents no ping or test request

    def events_from_webhook(self, request: WebhookRequest, ctx: Context) -> list[CanonicalEvent]:
        """Fetch the candidate named by `data.id` and map what Workable says NOW (the body is a hint).

        A 404 means the candidate was deleted (`candidate_deleted`), once a second call proves the
        account itself answers: a wrong subdomain must not erase anyone.
        """
        candidate_id = _webhook_candidate_id(request.payload)
        client = WorkableClient(ctx)
        candidate = client.candidate(candidate_id)
        if candidate is None:
            client.confirm_account()
            return [_erased(candidate_id, ctx)]
        return _candidate_events(candidate, ctx, _stage_map(ctx, client))

    # -- reconciliation --------------------------------------------------------------------------
    def fetch_changes(self, ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
        """One page of a pass: candidates changed since the cursor, then interviews (see `_Cursor`)."""
        state = _Cursor.load(cursor, ctx)
        client = WorkableClient(ctx)
        if state.phase == "candidates":
            return _candidates_step(client, state)
        return _interviews_step(client, state, ctx)

    def events_from_records(self, records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
        events: list[CanonicalEvent] = []
        stages: dict[str, dict[str, str]] | None = None
        for record in records:
            if _is_interview_record(record):
                events.extend(_interview_events(record, ctx))
                continue
            if stages is None:
                stages = _stage_map(ctx, WorkableClient(ctx))
            events.extend(_candidate_events(record, ctx, stages))
        return events


# -- poll cursor ---------------------------------------------------------------------------------

class _Cursor:
    """A pass = all candidate pages (`updated_after`), then all interview pages (`start_date`).

    `updated_after` only advances to the largest `updated_at` seen once a pass over the candidates is
    complete (pages come in insertion order, not update order); `next` keeps the page in progress.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.phase: str = str(data.get("phase") or "candidates")
        self.updated_after: str = str(data["updated_after"])
        self.max_seen: str | None = data.get("max_seen")
        self.next: str | None = data.get("next")
        self.start_date: str = str(data["start_date"])
        self.interviews_next: str | None = data.get("interviews_next")

    @classmethod
    def load(cls, cursor: Mapping[str, Any] | None, ctx: Context) -> "_Cursor":
        if cursor and cursor.get("updated_after") and cursor.get("start_date"):
            return cls(cursor)
        since = _iso(ctx.now - timedelta(days=int(ctx.connection.options.get("poll_lookback_days", 14))))
        return cls({"phase": "candidates", "updated_after": since, "start_date": since})

    def dump(self) -> dict[str, Any]:
        return {"phase": self.phase, "updated_after": self.updated_after, "max_seen": self.max_seen,
                "next": self.next, "start_date": self.start_date, "interviews_next": self.interviews_next}


def _candidates_step(client: WorkableClient, state: _Cursor) -> PollPage:
    records, following = client.candidates_page(updated_after=state.updated_after, next_url=state.next)
    for record in records:
        seen = parse_time(record.get("updated_at"))
        if seen is not None and (state.max_seen is None or seen > _parsed(state.max_seen)):
            state.max_seen = _iso(seen)
    if following:
        state.next = following
    else:  # the pass over candidates is complete: only now may the window move
        state.updated_after, state.max_seen, state.next = state.max_seen or state.updated_after, None, None
        state.phase = "interviews"
    return PollPage(records=records, cursor=state.dump(), more=True)


def _interviews_step(client: WorkableClient, state: _Cursor, ctx: Context) -> PollPage:
    try:
        records, following = client.interviews_page(start_date=state.start_date, next_url=state.interviews_next)
    except PermanentAtsError as exc:
        if exc.status != 403:
            raise
        # A token without the r_jobs scope cannot read /events: candidates still reconcile.
        records, following = [], None
    if following:
        state.interviews_next = following
        return PollPage(records=records, cursor=state.dump(), more=True)
    state.interviews_next, state.phase = None, "candidates"
    state.start_date = _iso(ctx.now - INTERVIEW_OVERLAP)
    return PollPage(records=records, cursor=state.dump(), more=False)


# -- mapping -------------------------------------------------------------------------------------

def _webhook_candidate_id(payload: Any) -> str:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise AdapterError("the Workable payload has no 'data' object")
    candidate_id = data.get("id")
    if not isinstance(candidate_id, (str, int)) or isinstance(candidate_id, bool) or not str(candidate_id).strip():
        raise AdapterError("data.id is missing from the Workable payload")
    return str(candidate_id).strip()


def _candidate_events(candidate: Mapping[str, Any], ctx: Context,
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
    version = _iso(updated)
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


def _erased(candidate_id: str, ctx: Context) -> CanonicalEvent:
    # Workable gives no deletion time; the fact has no version (a deleted id does not come back).
    return CanonicalEvent(id=_checked_id(f"{PROVIDER}:candidate:{candidate_id}:erased"), type=EventType.CANDIDATE_ERASED,
                          occurred_at=ctx.now, candidate=CandidateRef(id=candidate_id), reason=ErasureReason.DELETED)


def _is_interview_record(record: Mapping[str, Any]) -> bool:
    return "starts_at" in record or "ends_at" in record  # `/events` objects; candidates have neither


def _interview_events(record: Mapping[str, Any], ctx: Context) -> list[CanonicalEvent]:
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
    version = f"{_iso(starts) if starts else ''}:{_iso(ends)}"
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


def _stage_map(ctx: Context, client: WorkableClient) -> dict[str, dict[str, str]]:
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


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _parsed(text: str) -> datetime:
    moment = parse_time(text)
    assert moment is not None
    return moment
