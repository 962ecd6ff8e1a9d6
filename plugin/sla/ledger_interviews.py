"""Ledger handlers for interviews: scheduled, completed, cancelled, and the cycle an ended
interview opens (`open_for_interview`, also called by the sweep for interviews that ended without a
"completed" event).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.events.types import EventType
from plugin.models import (
    Application,
    ApplicationStatus,
    Interview,
    InterviewStatus,
    Obligation,
    ObligationState,
    Organization,
)
from plugin.sla import obligations
from plugin.sla.ledger_context import APPLIED, EventContext, Outcome, ignored, newer
from plugin.sla.ledger_decisions import (
    promise_decision,
    rejected_before_we_knew_of_the_interview,
    rejection_unsent,
)
from plugin.sla.obligations import open_obligation


def _interview(ctx: EventContext, app: Application) -> tuple[Interview, bool]:
    ref = ctx.event.interview
    assert ref is not None
    interview = ctx.batch.interview(ref.id)
    created = interview is None
    if interview is None:
        # The relationship too: a new row is not flushed before the commit, and is read through it.
        interview = ctx.batch.add(Interview(org_id=ctx.org.id, external_id=ref.id, application_id=app.id,
                                            application=app, ends_at=ref.ends_at or ctx.at,
                                            status=InterviewStatus.SCHEDULED, created_at=ctx.now))
    # A reschedule older than what we already know (webhooks out of order) must not move the time.
    reschedule_is_current = created or newer(ctx.at, interview.status_changed_at)
    if ref.ends_at is not None and interview.obligation_opened_at is None and reschedule_is_current:
        interview.ends_at = ref.ends_at
        if ref.starts_at is not None:
            interview.starts_at = ref.starts_at
        if ctx.event.type is EventType.INTERVIEW_SCHEDULED and interview.status is InterviewStatus.SCHEDULED:
            interview.status_changed_at = ctx.at
    if ref.stage is not None:
        interview.stage = ref.stage
    return interview, created


def interview_scheduled(ctx: EventContext) -> Outcome:
    app = ctx.application()
    ctx.person_acted(app)
    interview, created = _interview(ctx, app)
    if created:
        interview.status_changed_at = ctx.at
    current = open_obligation(app)
    # An invitation to a further round is news for the candidate: it discharges the open cycle.
    if created and current is not None and interview.ends_at > ctx.now and ctx.at >= current.opened_at:
        obligations.discharge(current, at=ctx.at, by="next_interview", now=ctx.now, actor=ctx.actor, next_cycle=False)
    if interview.ends_at <= ctx.now:
        open_for_interview(ctx.session, ctx.org, interview, now=ctx.now, actor=ctx.actor)
    return APPLIED


def interview_completed(ctx: EventContext) -> Outcome:
    app = ctx.application()
    ctx.person_acted(app)
    if ctx.event.decision_expected_by is not None:  # DESIGN's own example sends the promise with it
        promise_decision(ctx, app)
    interview, _ = _interview(ctx, app)
    if newer(ctx.at, interview.status_changed_at):
        interview.status, interview.status_changed_at = InterviewStatus.COMPLETED, ctx.at
    if ctx.event.interview and ctx.event.interview.ends_at is None and interview.ends_at > ctx.at:
        interview.ends_at = ctx.at  # completed earlier than planned
    if interview.status is InterviewStatus.COMPLETED:
        open_for_interview(ctx.session, ctx.org, interview, now=ctx.now, actor=ctx.actor)
    return APPLIED


def interview_cancelled(ctx: EventContext) -> Outcome:
    app = ctx.application()
    interview, _ = _interview(ctx, app)
    if interview.obligation_opened_at is not None:
        return ignored("interview already took place; its obligation stays open")
    if newer(ctx.at, interview.status_changed_at):
        interview.status, interview.status_changed_at = InterviewStatus.CANCELLED, ctx.at
    # The invitation to this round discharged the last cycle; with the round cancelled the candidate
    # is owed news again.
    last = ctx.session.scalar(select(Obligation).where(Obligation.application_id == app.id)
                              .order_by(Obligation.cycle.desc()).limit(1))
    if (interview.status is InterviewStatus.CANCELLED and app.status is ApplicationStatus.ACTIVE
            and last is not None and last.state is ObligationState.DISCHARGED
            and last.discharged_by == "next_interview" and app.candidate.erased_at is None
            and not _another_round_pending(ctx, app)):
        obligations.open_cycle(ctx.session, ctx.org, app, anchor=ctx.at, opened_by="interview_cancelled",
                               now=ctx.now, actor=ctx.actor)
    return APPLIED


def _another_round_pending(ctx: EventContext, app: Application) -> bool:
    return any(i.status is InterviewStatus.SCHEDULED and i.obligation_opened_at is None
               for i in ctx.batch.interviews_of_app(app))


def open_for_interview(session: Session, org: Organization, interview: Interview, *, now: datetime,
                       actor: str) -> None:
    """The interview has ended: open a cycle for its application (once per interview)."""
    if interview.obligation_opened_at is not None or interview.status is InterviewStatus.CANCELLED:
        return
    interview.obligation_opened_at = now
    app = interview.application
    if app.first_interview_ended_at is None or interview.ends_at < app.first_interview_ended_at:
        app.first_interview_ended_at = interview.ends_at
    if app.status is ApplicationStatus.REJECTED:
        rejected_before_we_knew_of_the_interview(session, org, app, interview, now=now, actor=actor)
    # A rejection we still have to send (held for the ATS's notify_not_before) leaves the candidate
    # owed news until it goes out, as when the interview is known first: the cycle keeps its deadline
    # and autopilot stands down only if the rejection comes by then.
    awaiting_our_rejection = app.status is ApplicationStatus.REJECTED and rejection_unsent(session, app)
    if (app.status is not ApplicationStatus.ACTIVE and not awaiting_our_rejection) or app.candidate.erased_at is not None:
        return
    current = open_obligation(app)
    if current is not None:
        if current.anchor_at >= interview.ends_at:
            return  # a later interview already anchors the open cycle
        # Another interview is itself contact with the candidate: close the old cycle, start anew.
        obligations.discharge(current, at=interview.starts_at or interview.ends_at, by="next_interview",
                              now=now, actor=actor, next_cycle=False)
    obligations.open_cycle(session, org, app, anchor=interview.ends_at, opened_by="interview", now=now, actor=actor)
