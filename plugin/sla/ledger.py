"""Apply canonical events to the ledger: applications, interviews, obligations, pending messages.

Rules that hold for every event:
1. `occurred_at` decides, not arrival order: a status change older than the current status is
   recorded but changes nothing (a late "reopened" never undoes a newer rejection).
2. An erased candidate is never touched again; events naming them are recorded without personal data.
3. Each handler leaves the database consistent on its own; the caller commits once per request, so a
   rejected request stores nothing.

Each event family has its handlers in a sibling module: `ledger_interviews`, `ledger_decisions`
(promises, contacts, rejections, reopens, hires, withdrawals) and `ledger_jobs`; what they share
(the event's context, the outcome) is in `ledger_context`. This module stores each event, picks its
handler, handles an application appearing or changing stage, and erases candidates (by event, by
merge, or for retention).

A batch (`record_events`) is applied with what it reads again and again read once up front and its
new rows written at the commit (`ledger_batch`); `record_event` alone is a batch of one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.audit import audit
from plugin.events.types import CandidateRef, CanonicalEvent, ErasureReason, EventType
from plugin.models import (
    Application,
    ApplicationStatus,
    Candidate,
    Notification,
    Organization,
)
from plugin.sla import erasure, ledger_batch, ledger_decisions, ledger_interviews, ledger_jobs, obligations
from plugin.sla.ledger_context import APPLIED, EventContext, Outcome, ignored, is_erased
from plugin.sla.obligations import cancel_unsent, open_obligation

Handler = Callable[[EventContext], Outcome]


def record_events(
    session: Session, org: Organization, events: Sequence[CanonicalEvent], raws: Sequence[dict | None], *,
    now: datetime, actor: str, source: str = "api",
) -> list[tuple[str, Outcome | None]]:
    """Store and apply a batch in order (the caller commits once). One result per event, as
    `record_event` gives it; what the batch reads is read once for all its events (`ledger_batch`)."""
    with ledger_batch.batch(session, org, events) as batch:
        results = [_record(batch, event, raw, now=now, actor=actor, source=source)
                   for event, raw in zip(events, raws, strict=True)]
        batch.write_held()
        return results


def record_event(
    session: Session, org: Organization, event: CanonicalEvent, raw: dict | None, *, now: datetime,
    actor: str, source: str = "api",
) -> tuple[str, Outcome | None]:
    """Store and apply one event. Returns ("duplicate", None) for an id seen before."""
    batch = ledger_batch.active(session)
    if batch is None or batch.org.id != org.id:
        return record_events(session, org, [event], [raw], now=now, actor=actor, source=source)[0]
    return _record(batch, event, raw, now=now, actor=actor, source=source)


def _record(batch: ledger_batch.LedgerBatch, event: CanonicalEvent, raw: dict | None, *, now: datetime,
            actor: str, source: str) -> tuple[str, Outcome | None]:
    if batch.is_stored(event.id):
        return "duplicate", None
    session, org = batch.session, batch.org
    outcome = apply_event(session, org, event, now=now, actor=actor)
    candidate_id = event.candidate.id if event.candidate else None
    scrub = candidate_id is not None and is_erased(session, org, candidate_id)
    # Held by the batch and written with its other events in one statement (before any flush, so a
    # query sees it); the batch remembers the id for duplicates within itself.
    batch.hold_event(dict(
        org_id=org.id, source=source, event_id=event.id, event_type=event.type.value,
        occurred_at=event.occurred_at, received_at=now, candidate_external_id=candidate_id,
        application_external_id=event.application.id if event.application else None,
        raw=None if scrub else raw, canonical=None if scrub else event.to_json(),
        outcome=outcome.outcome, detail=outcome.detail,
    ))
    batch.stored(event.id)
    return outcome.outcome.value, outcome


def apply_event(session: Session, org: Organization, event: CanonicalEvent, *, now: datetime, actor: str) -> Outcome:
    ctx = EventContext(session, org, event, now, actor)
    handler = _HANDLERS[event.type]
    return handler(ctx)


def _guard_erased(ctx: EventContext) -> Outcome | None:
    if ctx.event.candidate and is_erased(ctx.session, ctx.org, ctx.event.candidate.id):
        return ignored("candidate was erased; event recorded without personal data")
    return None


def _guarded(handler: Handler) -> Handler:
    def run(ctx: EventContext) -> Outcome:
        return _guard_erased(ctx) or handler(ctx)
    return run


# -- handlers of this module: an application appears or moves on; a candidate is erased ----------

def _application_created(ctx: EventContext) -> Outcome:
    ctx.application()
    return APPLIED


def _stage_changed(ctx: EventContext) -> Outcome:
    ctx.person_acted(ctx.application())
    return APPLIED


def _candidate_erased(ctx: EventContext) -> Outcome:
    event = ctx.event
    assert event.candidate is not None
    candidate = ctx.batch.candidate(event.candidate.id)
    if candidate is None:
        candidate = ctx.batch.add(Candidate(org_id=ctx.org.id, external_id=event.candidate.id, created_at=ctx.now))
    if candidate.erased_at is not None:
        return ignored("candidate already erased")
    reason = ErasureReason(event.reason) if event.reason else ErasureReason.DELETED
    if reason is ErasureReason.MERGED:
        assert event.merged_into is not None
        _merge(ctx, candidate, CandidateRef(id=event.merged_into))
    else:
        erase_candidate(ctx.session, candidate, now=ctx.now, actor=ctx.actor, reason=reason.value)
    return APPLIED


def _merge(ctx: EventContext, loser: Candidate, survivor_ref: CandidateRef) -> None:
    survivor = ctx.candidate(survivor_ref)
    ctx.session.flush()
    if survivor.id == loser.id:
        return
    for field in PERSONAL_FIELDS:
        if getattr(survivor, field) is None:
            setattr(survivor, field, getattr(loser, field))
    ctx.session.execute(update(Application).where(Application.candidate_id == loser.id)
                        .values(candidate_id=survivor.id))
    ctx.session.execute(update(Notification).where(Notification.candidate_id == loser.id)
                        .values(candidate_id=survivor.id))
    loser.merged_into_id = survivor.id
    loser.erased_at, loser.erasure_reason = ctx.now, ErasureReason.MERGED.value
    _clear_personal_data(loser)
    ctx.audit("candidate", loser.id, "merged", after={"into": survivor.id})


def erase_candidate(session: Session, candidate: Candidate, *, now: datetime, actor: str, reason: str) -> None:
    """Cancel everything pending and remove the person's data; timestamps stay for the proof."""
    batch = ledger_batch.active(session)
    if batch is not None:
        batch.write_held()  # the batch's events about them are scrubbed with the others
    org = session.get(Organization, candidate.org_id)
    assert org is not None
    cancel_unsent(session, org.id, reason="candidate erased", now=now, actor=actor,
                  where=[Notification.candidate_id == candidate.id])
    for app in session.scalars(select(Application).where(Application.candidate_id == candidate.id)):
        current = open_obligation(app)
        if current is not None:
            obligations.close(current, reason="erased", now=now, actor=actor)
    # Every other copy of their data (messages, replies, raw deliveries, the audit trail, files).
    erasure.erase_personal_data(session, candidate, erasure.traces_of(session, candidate), now=now)
    _clear_personal_data(candidate)
    candidate.erased_at, candidate.erasure_reason = now, reason
    audit(session, org.id, "candidate", candidate.id, "erased", now, actor, after={"reason": reason})


PERSONAL_FIELDS = ("name", "email", "locale", "timezone", "holiday_country", "holiday_subdivision")


def _clear_personal_data(candidate: Candidate) -> None:
    for field in PERSONAL_FIELDS:
        setattr(candidate, field, None)


_HANDLERS: dict[EventType, Handler] = {
    EventType.APPLICATION_CREATED: _guarded(_application_created),
    EventType.APPLICATION_STAGE_CHANGED: _guarded(_stage_changed),
    EventType.INTERVIEW_SCHEDULED: _guarded(ledger_interviews.interview_scheduled),
    EventType.INTERVIEW_COMPLETED: _guarded(ledger_interviews.interview_completed),
    EventType.INTERVIEW_CANCELLED: _guarded(ledger_interviews.interview_cancelled),
    EventType.DECISION_PROMISED: _guarded(ledger_decisions.decision_promised),
    EventType.CANDIDATE_CONTACTED: _guarded(ledger_decisions.candidate_contacted),
    EventType.APPLICATION_REJECTED: _guarded(ledger_decisions.application_rejected),
    EventType.APPLICATION_REOPENED: _guarded(ledger_decisions.application_reopened),
    EventType.APPLICATION_HIRED: _guarded(
        lambda ctx: ledger_decisions.application_finished(ctx, ApplicationStatus.HIRED)),
    EventType.APPLICATION_WITHDRAWN: _guarded(
        lambda ctx: ledger_decisions.application_finished(ctx, ApplicationStatus.WITHDRAWN)),
    EventType.JOB_CLOSED: ledger_jobs.job_closed,
    EventType.JOB_REOPENED: ledger_jobs.job_reopened,
    EventType.CANDIDATE_ERASED: _candidate_erased,
}
