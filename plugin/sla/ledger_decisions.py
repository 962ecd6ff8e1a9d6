"""Ledger handlers for what the hiring team decided or did: a promised decision date, a contact
with the candidate, a rejection (sent by us after the policy's delay, unless the ATS told them), a
reopen, a hire or a withdrawal.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.events.types import AtsNotification, EventType
from plugin.models import (
    Application,
    ApplicationStatus,
    EventOutcome,
    InboundEvent,
    Interview,
    Notification,
    NotificationKind,
    Obligation,
    Organization,
)
from plugin.sla import deadlines, ledger_batch, obligations
from plugin.sla.ledger_context import APPLIED, EventContext, Outcome, ignored, newer
from plugin.sla.ledger_jobs import drop_from_closing_notices
from plugin.sla.obligations import UNSENT, calendars, cancel_unsent, open_obligation
from plugin.sla.policy import policy_for

TERMINAL_STATUSES = (ApplicationStatus.HIRED, ApplicationStatus.WITHDRAWN)


def decision_promised(ctx: EventContext) -> Outcome:
    app = ctx.application()
    ctx.person_acted(app)
    promise_decision(ctx, app)
    return APPLIED


def promise_decision(ctx: EventContext, app: Application) -> None:
    """The hiring team promised the candidate a decision date: the open cycle's deadline follows it,
    but never later than a date we already gave them in writing (obligations.recompute)."""
    app.decision_expected_by = ctx.event.decision_expected_by
    current = open_obligation(app)
    if current is not None and current.opened_by == "interview":
        obligations.recompute(current, ctx.org, ctx.now, ctx.actor)


def candidate_contacted(ctx: EventContext) -> Outcome:
    app = ctx.application()
    ctx.person_acted(app)
    current = open_obligation(app)
    if current is None:
        return ignored("no open obligation for this application")
    if ctx.at < current.opened_at and ctx.at < current.anchor_at:
        return ignored("contact happened before the current cycle began")
    obligations.discharge(current, at=ctx.at, by="contact", now=ctx.now, actor=ctx.actor,
                          next_cycle=app.status is ApplicationStatus.ACTIVE)
    return APPLIED


def application_rejected(ctx: EventContext) -> Outcome:
    event = ctx.event
    app = ctx.application()
    if app.status is ApplicationStatus.REJECTED:
        return ignored("application already rejected")
    if app.status in TERMINAL_STATUSES:  # never a rejection to someone hired or withdrawn
        return ignored(f"application is {app.status.value}")
    if not ctx.set_status(app, ApplicationStatus.REJECTED):
        return ignored("a newer event already decided this application")
    app.rejection_reason = event.reason
    current = open_obligation(app)
    told_by_ats = event.ats_notification in (AtsNotification.SENT, AtsNotification.SCHEDULED)
    if told_by_ats:
        if current is not None:
            obligations.discharge(current, at=ctx.at, by="ats_rejection", now=ctx.now, actor=ctx.actor,
                                  next_cycle=False)
        return APPLIED
    if not app.interviewed:
        return Outcome(EventOutcome.APPLIED, "not interviewed: the ATS handles this rejection")
    _schedule_rejection(ctx.session, ctx.org, app, current, event.notify_not_before, now=ctx.now, actor=ctx.actor)
    return APPLIED


def _schedule_rejection(session: Session, org: Organization, app: Application, current: Obligation | None,
                        notify_not_before: datetime | None, *, now: datetime, actor: str) -> None:
    policy = policy_for(org, app.job)
    cals = calendars(org, app.candidate)
    earliest = max(
        now,
        deadlines.not_before_working_days(_last_interview_end(session, app), policy.rejection_min_delay_working_days,
                                          cals.candidate),
        notify_not_before or now,
    )
    send_at = cals.candidate.next_window_opening(earliest, policy.send_window)
    obligations.schedule(
        session, org, NotificationKind.REJECTION, app=app, obligation=current, at=send_at, now=now,
        dedupe_key=f"rejection:app{app.id}:ob{current.id if current else 0}", actor=actor,
    )


def rejection_unsent(session: Session, app: Application) -> bool:
    return session.scalar(select(Notification.id).where(
        Notification.application_id == app.id, Notification.kind == NotificationKind.REJECTION,
        Notification.state.in_(UNSENT)).limit(1)) is not None


def rejected_before_we_knew_of_the_interview(session: Session, org: Organization, app: Application,
                                              interview: Interview, *, now: datetime, actor: str) -> None:
    """A rejection arrived first and was taken as "not interviewed"; the interview preceded it.

    Webhooks and polls race (Workable and Greenhouse interviews come only from the poll), so the
    candidate is owed the rejection notice after all, unless the ATS said it told them.
    """
    if interview.ends_at > app.status_changed_at or app.candidate.erased_at is not None:
        return
    already = session.scalar(select(Notification.id).where(Notification.application_id == app.id,
                                                           Notification.kind == NotificationKind.REJECTION).limit(1))
    if already is not None:
        return
    batch = ledger_batch.active(session)
    if batch is not None:
        batch.write_held()  # the rejection may be in this batch
    rejection = session.scalar(
        select(InboundEvent.canonical).where(InboundEvent.org_id == org.id,
                                             InboundEvent.application_external_id == app.external_id,
                                             InboundEvent.event_type == EventType.APPLICATION_REJECTED.value,
                                             InboundEvent.outcome == EventOutcome.APPLIED)
        .order_by(InboundEvent.occurred_at.desc()).limit(1))
    if rejection is None or rejection.get("ats_notification") in (AtsNotification.SENT, AtsNotification.SCHEDULED):
        return
    not_before = rejection.get("notify_not_before")
    _schedule_rejection(session, org, app, None, datetime.fromisoformat(not_before) if not_before else None,
                        now=now, actor=actor)


def _last_interview_end(session: Session, app: Application) -> datetime:
    batch = ledger_batch.active(session)
    if batch is not None and batch.org.id == app.org_id:  # the batch has the application's interviews
        ended = [i.ends_at for i in batch.interviews_of_app(app) if i.obligation_opened_at is not None]
        last = max(ended) if ended else None
    else:
        last = session.scalar(
            select(Interview.ends_at).where(Interview.application_id == app.id,
                                            Interview.obligation_opened_at.is_not(None))
            .order_by(Interview.ends_at.desc()).limit(1)
        )
    return last or app.first_interview_ended_at or app.created_at


def application_reopened(ctx: EventContext) -> Outcome:
    app = ctx.application()
    if app.status is ApplicationStatus.ACTIVE:
        # Still remember when: an older rejection arriving later must not undo this reopen.
        if newer(ctx.at, app.status_changed_at):
            app.status_changed_at = ctx.at
        return ignored("application is already active")
    if not ctx.set_status(app, ApplicationStatus.ACTIVE):
        return ignored("a newer event already decided this application")
    cancel_unsent(ctx.session, ctx.org.id, reason="application reopened", now=ctx.now, actor=ctx.actor,
                  where=[Notification.application_id == app.id,
                         Notification.kind.in_((NotificationKind.REJECTION, NotificationKind.JOB_CLOSED))])
    drop_from_closing_notices(ctx, [app.id])
    if app.interviewed and open_obligation(app) is None and app.candidate.erased_at is None:
        obligations.open_cycle(ctx.session, ctx.org, app, anchor=ctx.at, opened_by="reopened", now=ctx.now,
                               actor=ctx.actor)
    return APPLIED


def application_finished(ctx: EventContext, status: ApplicationStatus) -> Outcome:
    app = ctx.application()
    if not ctx.set_status(app, status):
        return ignored("a newer event already decided this application")
    cancel_unsent(ctx.session, ctx.org.id, reason=f"application {status.value}", now=ctx.now, actor=ctx.actor,
                  where=[Notification.application_id == app.id,
                         Notification.kind.in_((NotificationKind.REJECTION, NotificationKind.JOB_CLOSED))])
    drop_from_closing_notices(ctx, [app.id])
    current = open_obligation(app)
    if current is not None:
        if status is ApplicationStatus.HIRED:  # the offer was news: the candidate heard from us
            obligations.discharge(current, at=ctx.at, by="hired", now=ctx.now, actor=ctx.actor, next_cycle=False)
        else:
            obligations.close(current, reason=status.value, now=ctx.now, actor=ctx.actor)
    return APPLIED
