"""Lever objects to canonical events: one snapshot (opportunity, posting, archive reason, interviews,
feedback) gives the events of its current state, whether a webhook fetched it or the poll listed it.

Ids: the Lever opportunity id is the application id, the contact id the candidate id, the posting id
the job id (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from plugin.ats.base import AdapterError, Context, clean_email, clip, parse_time
from plugin.ats.lever.client import archive_reason_id_of, posting_id_of
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

__all__ = ["HIRED", "Hint", "Translation", "erasure_event", "holds"]

HIRED = "hired"  # archive reason type; the other documented type is "non-hired"


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


def _person(user: Any) -> Person | None:
    if not isinstance(user, dict):
        return None  # not expanded: a bare user id says nothing we can show
    person = Person(name=clip(user.get("name")), email=clean_email(user.get("email")))
    return person if person.name or person.email else None


class Translation:
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
        posting_id = posting_id_of(self.opp)
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
        reason_id = archive_reason_id_of(self.opp)
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
        if not holds(self.ctx, self.id, self.contact):
            return []  # nobody we know: nothing to erase (and no tombstone for a stranger's id)
        deleted = self.opp.get("deletedAt")
        if deleted is not None:
            return [erasure_event(self.id, self.contact, ErasureReason.DELETED,
                                  self._time(deleted) or self.ctx.now)]
        return [erasure_event(self.id, self.contact, ErasureReason.ANONYMISED, self.updated_at())]


def holds(ctx: Context, opportunity_id: str, contact_id: str) -> bool:
    """Whether we hold this application or person (both paths ask the same, so their ids agree)."""
    return (ctx.lookup.application(opportunity_id) is not None
            or bool(ctx.lookup.applications_of_candidate(contact_id)))


def erasure_event(opportunity_id: str, contact_id: str, reason: ErasureReason, at: datetime) -> CanonicalEvent:
    # Per opportunity (the Lever fact), so the webhook and the deleted-opportunities poll share the id.
    return CanonicalEvent(id=f"lever:opportunity:{opportunity_id}:{reason.value}", type=EventType.CANDIDATE_ERASED,
                          occurred_at=at, candidate=CandidateRef(id=contact_id), reason=reason.value)
