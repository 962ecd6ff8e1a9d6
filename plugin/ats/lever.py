"""Lever: webhooks are hints, the opportunity fetched from Lever's REST API is the truth.

Sources (facts and caveats in ../shared/notes/ats/ats-lever.md):
- https://hire.lever.co/developer/documentation, sections "Webhooks", "Pagination", "Customizing the
  Response" (expand), "Opportunities" (retrieve, list, list deleted), "Interviews", "Feedback",
  "Archive Reasons", "Postings", "Rate Limits"; https://hire.lever.co/developer/support (FAQ: every
  account has the archive reason "Hired"; any other archive reason means rejected).
- https://help.lever.co/hc/en-us/articles/20087284427677-Configuring-webhooks (test request, retries).
- Field names of the REST objects were cross-checked against corbaltcode/lever-data-api-go (a typed
  client generated from the same docs; secondary evidence only).

What Lever documents and what we do with it:
- The signature is a field of the JSON body: hex HMAC-SHA256(signature token, token + triggeredAt).
  It does NOT cover the body, so `data` could be altered without breaking it. Every webhook is
  therefore only a hint: we fetch `GET /opportunities/{id}` (plus its interviews, feedback, archive
  reason and posting) and translate that authoritative state, never the webhook's `data`.
- Replay: Lever says to cache `token` values (the core dedupes on `delivery_id` = token) and to check
  that `triggeredAt` is recent (`stale_reason`).
- `data` fields are documented only for candidateStageChange (opportunityId, candidateId, contactId,
  toStageId, fromStageId); the docs' field lists for the other events are collapsed in the copy we
  could read. We assume `data.opportunityId` (and `data.interviewId` for interview events) and fall
  back to `data.candidateId`, which Lever says equals the opportunity id since the migration.
- Canonical ids: the Lever opportunity id is the application id (an opportunity holds at most one
  application), the contact id is the candidate id, the posting id is the job id.

A poll record (and the state a webhook fetches) is one "snapshot": raw Lever objects side by side,
`{"opportunity", "posting", "archive_reason", "interviews", "feedback"}`, so a stored poll page can be
replayed without asking Lever again, and both paths run the same translation (same event ids).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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

__all__ = ["LeverAdapter", "LeverClient"]

DEFAULT_API_BASE_URL = "https://api.lever.co/v1"

# Lever retries a failed delivery "five times, waiting longer and longer" without publishing the
# schedule, and a retry (or a manual "Rerun" from the delivery history) may carry the original
# triggeredAt. 24 hours leaves room for that backoff while still refusing old captured requests; the
# token cache in the core is the exact replay check, this is the coarse one Lever recommends.
DEFAULT_MAX_AGE_HOURS = 24.0
MAX_FUTURE_SKEW = timedelta(minutes=5)

OPPORTUNITY_EVENTS = frozenset({
    "applicationCreated", "candidateHired", "candidateStageChange", "candidateArchiveChange", "candidateDeleted",
})
INTERVIEW_EVENTS = frozenset({"interviewCreated", "interviewUpdated", "interviewDeleted"})  # Beta at Lever
# contactCreated / contactUpdated: person-level changes with no documented data fields; name and email
# reach us with the next opportunity event or poll, and anonymisation shows as `isAnonymized` there.
EXPAND_OPPORTUNITY = ["applications", "stage"]  # documented expandable fields of an opportunity
POLL_PAGE_SIZE = 25  # each opportunity costs 1-3 more calls (interviews, feedback, posting)
POLL_OVERLAP = timedelta(minutes=5)  # covers clock skew and updates that land while a pass runs
HIRED = "hired"  # archive reason type; the other documented type is "non-hired"


# -- REST client ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ListPage:
    data: list[dict[str, Any]]
    next: str | None


class LeverClient:
    """The Lever calls the adapter needs, with the documented list pagination (`offset` <- `next`).

    Auth: HTTP Basic with the API key as user name and an empty password. Lever allows 10 requests
    per second steady (bursts to 20) and answers 429 beyond; a small token bucket keeps one client
    under that so a poll page does not trip it (429 still maps to TransientAtsError).
    """

    RATE_PER_SECOND = 10.0
    BURST = 10.0

    def __init__(self, ctx: Context) -> None:
        api_key = ctx.connection.credentials.get("api_key")
        if not api_key:
            raise PermanentAtsError("Lever: the connection has no api_key credential; add one to fetch opportunities")
        self.api = ApiClient(base_url=ctx.connection.api_base_url(DEFAULT_API_BASE_URL), vendor="Lever",
                             auth=(api_key, ""))
        self.cache = ctx.cache
        self._tokens, self._last = self.BURST, time.monotonic()

    def _get(self, path: str, **params: Any) -> Any:
        self._throttle()
        return self.api.get(path, **params).data

    def _throttle(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.BURST, self._tokens + (now - self._last) * self.RATE_PER_SECOND)
        self._last = now
        if self._tokens < 1:
            time.sleep((1 - self._tokens) / self.RATE_PER_SECOND)
            self._tokens, self._last = 1.0, time.monotonic()
        self._tokens -= 1

    def page(self, path: str, offset: str | None = None, **params: Any) -> ListPage:
        body = self._get(path, offset=offset, **params)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise AdapterError(f"Lever GET {path} answered without a `data` list")
        following = body.get("next") if body.get("hasNext") else None
        return ListPage([item for item in body["data"] if isinstance(item, dict)],
                        str(following) if following else None)

    def all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset: str | None = None
        while True:
            page = self.page(path, offset, limit=100, **params)
            items.extend(page.data)
            if page.next is None:
                return items
            offset = page.next

    def opportunity(self, opportunity_id: str) -> dict[str, Any]:
        body = self._get(f"/opportunities/{opportunity_id}", expand=EXPAND_OPPORTUNITY)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise AdapterError(f"Lever GET /opportunities/{opportunity_id} answered without a `data` object")
        return data

    def interviews(self, opportunity_id: str) -> list[dict[str, Any]]:
        return self.all(f"/opportunities/{opportunity_id}/interviews", expand="stage")

    def feedback(self, opportunity_id: str) -> list[dict[str, Any]]:
        return self.all(f"/opportunities/{opportunity_id}/feedback")

    def archive_reason(self, reason_id: str) -> dict[str, Any] | None:
        """One archive reason (memoised list: reasons are account settings, read once per run)."""
        reasons = self.cache.get("lever:archive_reasons")
        if reasons is None:
            reasons = {str(r.get("id")): r for r in self.all("/archive_reasons")}
            self.cache["lever:archive_reasons"] = reasons
        return reasons.get(reason_id)

    def posting(self, posting_id: str) -> dict[str, Any] | None:
        """The posting with its hiring manager and owner expanded; None when Lever will not show it.

        Only decoration (title, department, people), so a deleted posting or an API key without the
        postings scope must not fail the delivery: the job ref then carries the id alone.
        """
        key = f"lever:posting:{posting_id}"
        if key not in self.cache:
            try:
                body = self._get(f"/postings/{posting_id}", expand=["hiringManager", "owner"])
                data = body.get("data") if isinstance(body, dict) else None
                self.cache[key] = data if isinstance(data, dict) else None
            except PermanentAtsError:
                self.cache[key] = None
        return self.cache[key]

    def snapshot(self, opportunity: dict[str, Any]) -> dict[str, Any]:
        """Everything the translation needs about one opportunity, as raw Lever objects."""
        record: dict[str, Any] = {"opportunity": opportunity}
        if not opportunity.get("id"):
            raise AdapterError("opportunity.id is missing")
        if opportunity.get("isAnonymized") or opportunity.get("deletedAt"):
            return record  # only the erasure is emitted; nothing else to fetch
        posting_id = _posting_id(opportunity)
        if posting_id:
            record["posting"] = self.posting(posting_id)
        reason_id = _archive_reason_id(opportunity)
        if reason_id:
            record["archive_reason"] = self.archive_reason(reason_id)
        interviews = self.interviews(str(opportunity.get("id")))
        record["interviews"] = interviews
        # Feedback only when an interview lists submitted forms: one call fewer for most opportunities.
        if any(iv.get("feedbackForms") and not iv.get("canceledAt") for iv in interviews):
            record["feedback"] = self.feedback(str(opportunity.get("id")))
        return record


# -- translation ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hint:
    """What the webhook said, used only where the fetched state cannot tell (unarchive, deletions)."""

    event: str
    triggered_at: datetime
    interview_id: str | None = None


def _ms(value: Any) -> str:
    """The vendor timestamp as it appears in ids (epoch milliseconds)."""
    return str(int(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _expanded_text(value: Any) -> str | None:
    return clip(value.get("text")) if isinstance(value, dict) else None


def _posting_id(opportunity: Mapping[str, Any]) -> str | None:
    applications = opportunity.get("applications") or []
    for application in applications:
        if isinstance(application, dict):
            posting = application.get("posting")
            if isinstance(posting, dict):
                posting = posting.get("id")
            if posting:
                return str(posting)
    return None


def _archive_reason_id(opportunity: Mapping[str, Any]) -> str | None:
    archived = opportunity.get("archived")
    reason = archived.get("reason") if isinstance(archived, dict) else None
    return str(reason) if reason else None  # Lever unarchives by setting the reason to null


def _person(user: Any) -> Person | None:
    if not isinstance(user, dict):
        return None  # not expanded: a bare user id says nothing we can show
    person = Person(name=clip(user.get("name")), email=clean_email(user.get("email")))
    return person if person.name or person.email else None


class _Translation:
    def __init__(self, record: Mapping[str, Any], ctx: Context, hint: Hint | None) -> None:
        opportunity = record.get("opportunity")
        if not isinstance(opportunity, dict):
            raise AdapterError("the Lever record has no `opportunity` object")
        self.record, self.ctx, self.hint, self.opp = record, ctx, hint, opportunity
        self.refs: dict[str, Any] = {}  # candidate and job, shared by every application event
        self.id = self._required("id")
        self.contact = self._required("contact")

    def _required(self, field: str) -> str:
        value = self.opp.get(field)
        if isinstance(value, dict):
            value = value.get("id")
        if not value:
            raise AdapterError(f"opportunity.{field} is missing")
        return str(value)

    def _time(self, value: Any) -> datetime | None:
        return parse_time(value) if value is not None else None

    def updated_at(self) -> datetime:
        return (self._time(self.opp.get("updatedAt")) or self._time(self.opp.get("createdAt"))
                or (self.hint.triggered_at if self.hint else self.ctx.now))

    # refs
    def candidate(self) -> CandidateRef:
        emails = [clean_email(e) for e in self.opp.get("emails") or []]
        return CandidateRef(id=self.contact, name=clip(self.opp.get("name")),
                            email=next((e for e in emails if e), None))

    def job(self) -> JobRef | None:
        posting_id = _posting_id(self.opp)
        if posting_id is None:
            return None
        posting = self.record.get("posting")
        if not isinstance(posting, dict):
            return JobRef(id=posting_id)
        categories = posting.get("categories") if isinstance(posting.get("categories"), dict) else {}
        return JobRef(
            id=posting_id, title=clip(posting.get("text"), 300),
            department=clip(categories.get("department") or categories.get("team")),
            hiring_manager=_person(posting.get("hiringManager")),
            # Lever's posting owner "is directly responsible for managing all candidates applied to
            # that role": the recruiter in our vocabulary.
            recruiter=_person(posting.get("owner")),
        )

    # events
    def events(self) -> list[CanonicalEvent]:
        if self.erased():
            return self.erasure()  # nothing personal is re-emitted for an erased person
        job = self.job()
        if job is None:
            # An opportunity without a posting (a sourced lead) is not an application to a job yet;
            # the canonical application events need a job, so there is nothing to say.
            return []
        self.refs = {"candidate": self.candidate(), "job": job}
        return [self.created(), *self.stage_changed(), *self.interviews(), *self.archive_state()]

    def app_event(self, event_id: str, type_: EventType, at: datetime, **extra: Any) -> CanonicalEvent:
        # The current stage rides only on the stage change: other events may be older than it.
        stage = _expanded_text(self.opp.get("stage")) if type_ is EventType.APPLICATION_STAGE_CHANGED else None
        return CanonicalEvent(id=event_id, type=type_, occurred_at=at,
                              application=ApplicationRef(id=self.id, stage=stage), **self.refs, **extra)

    def created(self) -> CanonicalEvent:
        at = self._time(self.opp.get("createdAt")) or self.updated_at()
        return self.app_event(f"lever:opportunity:{self.id}:created", EventType.APPLICATION_CREATED, at)

    def stage_changed(self) -> list[CanonicalEvent]:
        stage = self.opp.get("stage")
        if not _expanded_text(stage):
            return []  # stage not expanded: no name to show, and the id alone means nothing to people
        stage_id = stage.get("id") if isinstance(stage, dict) else stage
        advanced = self.opp.get("lastAdvancedAt") or self.opp.get("createdAt")
        at = self._time(advanced) or self.updated_at()
        return [self.app_event(f"lever:opportunity:{self.id}:stage:{stage_id}:{_ms(advanced)}",
                               EventType.APPLICATION_STAGE_CHANGED, at)]

    def archive_state(self) -> list[CanonicalEvent]:
        reason_id = _archive_reason_id(self.opp)
        if reason_id is None:
            return self.reopened()
        archived = self.opp.get("archived") or {}
        archived_at = archived.get("archivedAt")
        at = self._time(archived_at) or self.updated_at()
        reason = self.record.get("archive_reason")
        if not isinstance(reason, dict):
            # Lever's list includes inactive reasons too, so a miss is an inconsistency: refusing is
            # safer than guessing between "rejected" and "hired".
            raise AdapterError(f"archive reason {reason_id} of opportunity {self.id} is not in GET /archive_reasons")
        marker = _ms(archived_at if archived_at is not None else self.opp.get("updatedAt"))
        if reason.get("type") == HIRED:
            return [self.app_event(f"lever:opportunity:{self.id}:hired:{marker}", EventType.APPLICATION_HIRED, at)]
        return [self.app_event(f"lever:opportunity:{self.id}:rejected:{marker}", EventType.APPLICATION_REJECTED, at,
                               reason=clip(reason.get("text"), 1000), ats_notification=AtsNotification.UNKNOWN)]

    def reopened(self) -> list[CanonicalEvent]:
        """Not archived now. Worth saying only when it may undo an archive we recorded.

        The state alone cannot tell "never archived" from "unarchived", so: after a
        candidateArchiveChange webhook, or when we already hold the application (the poll then
        catches a lost unarchive webhook). Where the application is active already the ledger just
        notes the time, so a late older rejection cannot undo the reopening.
        """
        updated = self.opp.get("updatedAt")
        if updated is None:
            return []  # never updated means never archived and unarchived
        archive_hint = self.hint is not None and self.hint.event == "candidateArchiveChange"
        if not archive_hint and self.ctx.lookup.application(self.id) is None:
            return []
        return [self.app_event(f"lever:opportunity:{self.id}:reopened:{_ms(updated)}",
                               EventType.APPLICATION_REOPENED, self.updated_at())]

    def interviews(self) -> list[CanonicalEvent]:
        listed = [iv for iv in self.record.get("interviews") or [] if isinstance(iv, dict) and iv.get("id")]
        events: list[CanonicalEvent] = []
        for interview in listed:
            events.extend(self.interview_events(interview))
        hint = self.hint
        if (hint and hint.event == "interviewDeleted" and hint.interview_id
                and hint.interview_id not in {str(iv["id"]) for iv in listed}
                and self.ctx.lookup.interview(hint.interview_id) is not None):
            # Gone from Lever: cancelled. Only for an interview we hold (nothing to cancel otherwise).
            events.append(self.app_event(f"lever:interview:{hint.interview_id}:deleted",
                                         EventType.INTERVIEW_CANCELLED, hint.triggered_at,
                                         interview=InterviewRef(id=hint.interview_id)))
        return events

    def interview_events(self, interview: Mapping[str, Any]) -> list[CanonicalEvent]:
        interview_id = str(interview["id"])
        starts = self._time(interview.get("date"))
        duration = interview.get("duration")
        # Lever documents `duration` in minutes; without it the end is unknown, so the start stands in
        # (the obligation then opens at the start, hours early at worst, never days late).
        ends = starts + timedelta(minutes=duration) if starts and isinstance(duration, (int, float)) else starts
        ref = InterviewRef(id=interview_id, starts_at=starts, ends_at=ends,
                           stage=_expanded_text(interview.get("stage")))
        canceled = interview.get("canceledAt")
        if canceled is not None:
            return [self.app_event(f"lever:interview:{interview_id}:cancelled:{_ms(canceled)}",
                                   EventType.INTERVIEW_CANCELLED, self._time(canceled) or self.ctx.now, interview=ref)]
        events: list[CanonicalEvent] = []
        if starts is not None:
            # Lever's interview has createdAt but no updatedAt: a reschedule is a new fact (new id from
            # date and duration) dated at creation, which the ledger accepts as current (not older).
            created = self._time(interview.get("createdAt")) or self.ctx.now
            events.append(self.app_event(f"lever:interview:{interview_id}:scheduled:{_ms(interview.get('date'))}:"
                                         f"{_ms(duration)}", EventType.INTERVIEW_SCHEDULED, created, interview=ref))
        completed = self.feedback_completed(interview_id)
        if completed is not None:
            events.append(self.app_event(f"lever:interview:{interview_id}:completed", EventType.INTERVIEW_COMPLETED,
                                         completed, interview=ref))
        return events

    def feedback_completed(self, interview_id: str) -> datetime | None:
        """When the first feedback form for this interview was submitted (Lever has no webhook for it)."""
        times = [self._time(form.get("completedAt")) for form in self.record.get("feedback") or []
                 if isinstance(form, dict) and str(form.get("interview")) == interview_id
                 and form.get("completedAt") is not None and not form.get("deletedAt")]
        found = [t for t in times if t is not None]
        return min(found) if found else None

    def erased(self) -> bool:
        return self.opp.get("deletedAt") is not None or bool(self.opp.get("isAnonymized"))

    def erasure(self) -> list[CanonicalEvent]:
        if not _holds(self.ctx, self.id, self.contact):
            return []  # nobody we know: nothing to erase (and no tombstone for a stranger's id)
        deleted = self.opp.get("deletedAt")
        if deleted is not None:
            return [_erased(self.id, self.contact, ErasureReason.DELETED, self._time(deleted) or self.ctx.now)]
        return [_erased(self.id, self.contact, ErasureReason.ANONYMISED, self.updated_at())]


def _holds(ctx: Context, opportunity_id: str, contact_id: str) -> bool:
    """Whether we hold this application or person (both paths ask the same, so their ids agree)."""
    return (ctx.lookup.application(opportunity_id) is not None
            or bool(ctx.lookup.applications_of_candidate(contact_id)))


def _erased(opportunity_id: str, contact_id: str, reason: ErasureReason, at: datetime) -> CanonicalEvent:
    # Per opportunity (the Lever fact), so the webhook and the deleted-opportunities poll share the id.
    return CanonicalEvent(id=f"lever:opportunity:{opportunity_id}:{reason.value}", type=EventType.CANDIDATE_ERASED,
                          occurred_at=at, candidate=CandidateRef(id=contact_id), reason=reason.value)


# -- the adapter ---------------------------------------------------------------------------------

class LeverAdapter(Adapter):
    provider = "lever"
    title = "Lever"
    success_status = 200  # Lever accepts any 2xx
    default_api_base_url = DEFAULT_API_BASE_URL
    credential_fields = ("api_key",)
    required_credentials = ("api_key",)  # every webhook is re-fetched, so the key is not optional

    # -- webhooks --------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> bool:
        message = _signed_message(request.payload)
        if message is None or not secrets:
            return False
        signature = request.payload.get("signature")
        if not isinstance(signature, str):
            return False
        return matches_any(signature, [hmac_sha256_hex(secret, message) for secret in secrets])

    def delivery_id(self, request: WebhookRequest) -> str | None:
        token = request.payload.get("token") if isinstance(request.payload, dict) else None
        return token if isinstance(token, str) and token else None  # Lever: "cache tokens" to refuse repeats

    def is_ping(self, request: WebhookRequest) -> bool:
        # The settings page's "test" request is a candidateHired with empty `data` (docs example).
        return isinstance(request.payload, dict) and not request.payload.get("data")

    def stale_reason(self, request: WebhookRequest, now: datetime,
                     options: Mapping[str, Any] | None = None) -> str | None:
        """Lever's replay advice: refuse a `triggeredAt` far from now.

        `options` (the connection's, for `max_age_hours`) is an extension of the base signature; the
        base interface does not pass the connection, so without it the default applies.
        """
        triggered = _triggered_at(request.payload)
        if triggered is None:
            return "triggeredAt is missing or not epoch milliseconds"
        max_age = timedelta(hours=float((options or {}).get("max_age_hours", DEFAULT_MAX_AGE_HOURS)))
        if now - triggered > max_age:
            return f"triggeredAt {triggered.isoformat()} is more than {max_age.total_seconds() / 3600:g} hours old"
        if triggered - now > MAX_FUTURE_SKEW:
            return f"triggeredAt {triggered.isoformat()} is in the future"
        return None

    def events_from_webhook(self, request: WebhookRequest, ctx: Context) -> list[CanonicalEvent]:
        payload = request.payload
        if not isinstance(payload, dict):
            raise AdapterError("the Lever body is not a JSON object")
        event = str(payload.get("event") or "")
        if self.is_ping(request) or event not in OPPORTUNITY_EVENTS | INTERVIEW_EVENTS:
            return []  # test request, contact events, or an event Lever added later: nothing for us
        data = payload["data"] if isinstance(payload.get("data"), dict) else {}
        triggered = _triggered_at(payload)
        if triggered is None:
            raise AdapterError("triggeredAt is missing")
        interview_id = str(data["interviewId"]) if data.get("interviewId") else None
        opportunity_id = _opportunity_id(data, interview_id, ctx)
        hint = Hint(event=event, triggered_at=triggered, interview_id=interview_id)
        client = LeverClient(ctx)
        try:
            opportunity = client.opportunity(opportunity_id)
        except PermanentAtsError as exc:
            if exc.status == 404 and event == "candidateDeleted":
                return _deleted_without_record(opportunity_id, data, hint, ctx)
            raise
        return _Translation(client.snapshot(opportunity), ctx, hint).events()

    # -- reconciliation --------------------------------------------------------------------------
    def fetch_changes(self, ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
        state = _PollCursor.load(cursor, ctx)
        client = LeverClient(ctx)
        if state.phase == "opportunities":
            page = client.page("/opportunities", state.offset, updated_at_start=state.updated_at_start,
                               expand=EXPAND_OPPORTUNITY, limit=POLL_PAGE_SIZE)
            fresh = state.take(page.data, "updatedAt", prefix="")
            records = [client.snapshot(opportunity) for opportunity in fresh]
        else:
            page = client.page("/opportunities/deleted", state.offset, deleted_at_start=state.deleted_at_start,
                               limit=POLL_PAGE_SIZE)
            records = [{"opportunity": opportunity} for opportunity in state.take(page.data, "deletedAt", "deleted:")]
        return PollPage(records=records, cursor=state.advance(page.next), more=state.more)

    def events_from_records(self, records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
        events: list[CanonicalEvent] = []
        for record in records:
            events.extend(_Translation(record, ctx, None).events())
        return events


def _signed_message(payload: Any) -> str | None:
    """token + triggeredAt exactly as Lever concatenates them (the ms number printed as digits)."""
    if not isinstance(payload, dict):
        return None
    token, triggered = payload.get("token"), payload.get("triggeredAt")
    if not isinstance(token, str) or not token:
        return None
    if isinstance(triggered, bool) or not isinstance(triggered, (int, str)) or not str(triggered).isdigit():
        return None
    return token + str(triggered)


def _triggered_at(payload: Any) -> datetime | None:
    triggered = payload.get("triggeredAt") if isinstance(payload, dict) else None
    if isinstance(triggered, str) and triggered.isdigit():
        triggered = int(triggered)
    if isinstance(triggered, bool) or not isinstance(triggered, int):
        return None
    return parse_time(triggered)


def _opportunity_id(data: Mapping[str, Any], interview_id: str | None, ctx: Context) -> str:
    found = data.get("opportunityId") or data.get("candidateId")  # candidateId == opportunity id (Lever)
    if found:
        return str(found)
    if interview_id:
        keys = ctx.lookup.interview(interview_id)
        if keys is not None:
            return keys.application_id
    raise AdapterError("data.opportunityId is missing")


def _deleted_without_record(opportunity_id: str, data: Mapping[str, Any], hint: Hint,
                            ctx: Context) -> list[CanonicalEvent]:
    """candidateDeleted and Lever no longer has the opportunity (404), as expected after a delete."""
    keys = ctx.lookup.application(opportunity_id)
    contact = data.get("contactId") or (keys.candidate_id if keys else None)
    if not contact or not _holds(ctx, opportunity_id, str(contact)):
        return []  # we never held this person: nothing to erase (the deleted-opportunities poll agrees)
    return [_erased(opportunity_id, str(contact), ErasureReason.DELETED, hint.triggered_at)]


class _PollCursor:
    """Two phases per pass: opportunities updated since `updated_at_start`, then deleted ones.

    A pass's next start is the time it began minus POLL_OVERLAP (not the newest `updatedAt` seen):
    Lever's list order is not by update time, so an opportunity updated while we page could sit on a
    page already read. The overlap is re-read next pass; `skip` holds (id -> timestamp) of what this
    pass already took inside that window, so a second poll returns only newer records.
    """

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = dict(raw)
        self.phase: str = raw["phase"]
        self.offset: str | None = raw.get("offset")
        self.updated_at_start: int = int(raw["updated_at_start"])
        self.deleted_at_start: int = int(raw["deleted_at_start"])
        self.next_start: int = int(raw["next_start"])
        self.skip: dict[str, int] = dict(raw.get("skip") or {})
        self.carry: dict[str, int] = dict(raw.get("carry") or {})
        self.last_updated_at: int | None = raw.get("last_updated_at")
        self.more = False

    @classmethod
    def load(cls, cursor: Mapping[str, Any] | None, ctx: Context) -> "_PollCursor":
        now_ms = _epoch_ms(ctx.now)
        if not cursor:
            days = int(ctx.connection.options.get("poll_lookback_days", 14))
            start = _epoch_ms(ctx.now - timedelta(days=days))
            cursor = {"phase": "opportunities", "updated_at_start": start, "deleted_at_start": start}
        raw = dict(cursor)
        if raw.get("phase") == "opportunities" and not raw.get("offset"):
            raw["next_start"] = now_ms - int(POLL_OVERLAP.total_seconds() * 1000)  # a pass begins
            raw["carry"] = {}
        raw.setdefault("next_start", now_ms - int(POLL_OVERLAP.total_seconds() * 1000))
        return cls(raw)

    def take(self, items: list[dict[str, Any]], field: str, prefix: str) -> list[dict[str, Any]]:
        fresh = []
        for item in items:
            key, stamp = prefix + str(item.get("id")), item.get(field)
            if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
                if stamp >= self.next_start:
                    self.carry[key] = int(stamp)  # inside the next pass's overlap: it must skip this
                if field == "updatedAt":
                    self.last_updated_at = max(self.last_updated_at or 0, int(stamp))
                if self.skip.get(key) == int(stamp):
                    continue  # taken by the previous pass inside the overlap window
            fresh.append(item)
        return fresh

    def advance(self, following: str | None) -> dict[str, Any]:
        common = {"updated_at_start": self.updated_at_start, "deleted_at_start": self.deleted_at_start,
                  "next_start": self.next_start, "skip": self.skip, "carry": self.carry,
                  "last_updated_at": self.last_updated_at}
        if following is not None:
            self.more = True
            return {**common, "phase": self.phase, "offset": following}
        if self.phase == "opportunities":
            self.more = True
            return {**common, "phase": "deleted", "offset": None}
        # The pass is complete: the next one starts at this pass's start minus the overlap.
        return {"phase": "opportunities", "offset": None, "updated_at_start": self.next_start,
                "deleted_at_start": self.next_start, "next_start": self.next_start, "skip": self.carry,
                "carry": {}, "last_updated_at": self.last_updated_at}


def _epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
