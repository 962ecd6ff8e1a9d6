"""Ledger handlers for jobs: a closed job tells its interviewed candidates (one closing notice per
person, held so that a reopen can cancel it); a reopened job takes its applications out of the
notices not yet sent, cancelling a notice left with none.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from plugin.models import (
    Application,
    ApplicationStatus,
    JobStatus,
    Notification,
    NotificationKind,
    NotificationState,
)
from plugin.sla import obligations
from plugin.sla.ledger_context import APPLIED, EventContext, Outcome, ignored, newer
from plugin.sla.obligations import UNSENT, calendars, open_obligation
from plugin.sla.policy import policy_for


def job_closed(ctx: EventContext) -> Outcome:
    assert ctx.event.job is not None
    job = ctx.job(ctx.event.job)
    ctx.session.flush()
    if not newer(ctx.at, job.status_changed_at, strict=True) and job.status_changed_at is not None:
        return ignored("a newer event already set this job's status")
    job.status, job.status_changed_at = JobStatus.CLOSED, ctx.at
    ctx.audit("job", job.id, "closed")
    policy = policy_for(ctx.org, job)
    hold_until = max(ctx.now, ctx.at + timedelta(minutes=policy.job_closed_hold_minutes))
    apps = ctx.session.scalars(
        select(Application).where(Application.job_id == job.id, Application.status == ApplicationStatus.ACTIVE,
                                  Application.first_interview_ended_at.is_not(None))
    ).all()
    for app in apps:
        if app.candidate.erased_at is not None:
            continue
        _add_to_closing_notice(ctx, app, hold_until)
    return APPLIED


def _add_to_closing_notice(ctx: EventContext, app: Application, hold_until: datetime) -> None:
    """One closing notice per person, even when several of their jobs close together: a closing that
    arrives while the person's notice still waits joins it, and the notice waits for the later of the
    two holds, so a reopen of either job can still cancel it (found by the oracle: it used to leave at
    whichever time was scheduled first, before the later job's hold had ended)."""
    cals = calendars(ctx.org, app.candidate)
    send_at = cals.candidate.next_window_opening(hold_until, policy_for(ctx.org, app.job).send_window)
    pending = ctx.session.scalar(
        select(Notification).where(
            Notification.org_id == ctx.org.id, Notification.candidate_id == app.candidate_id,
            Notification.kind == NotificationKind.JOB_CLOSED, Notification.state == NotificationState.SCHEDULED,
        )
    )
    if pending is None:
        obligations.schedule(
            ctx.session, ctx.org, NotificationKind.JOB_CLOSED, app=app, obligation=open_obligation(app), at=send_at,
            now=ctx.now, context={"application_ids": [app.id]}, dedupe_key=f"job_closed:app{app.id}",
            actor=ctx.actor,
        )
        return
    ids = list(pending.context.get("application_ids", []))
    if app.id not in ids:
        pending.context = {**pending.context, "application_ids": ids + [app.id]}
    if send_at > pending.scheduled_for:
        before = pending.scheduled_for
        pending.scheduled_for = send_at
        ctx.audit("notification", pending.id, "deferred", before={"scheduled_for": before.isoformat()},
                  after={"scheduled_for": send_at.isoformat(), "reason": "another job's closing joined it"})


def drop_from_closing_notices(ctx: EventContext, app_ids: list[int]) -> None:
    pending = ctx.session.scalars(
        select(Notification).where(Notification.org_id == ctx.org.id, Notification.kind == NotificationKind.JOB_CLOSED,
                                   Notification.state.in_(UNSENT))
    ).all()
    for notification in pending:
        ids = [i for i in notification.context.get("application_ids", []) if i not in app_ids]
        if ids == notification.context.get("application_ids", []):
            continue
        if ids:
            notification.context = {**notification.context, "application_ids": ids}
            if notification.application_id in app_ids:
                notification.application_id = ids[0]
        else:
            notification.state = NotificationState.CANCELLED
            notification.cancelled_reason = "application reopened"
            ctx.audit("notification", notification.id, "cancelled", after={"reason": "application reopened"})


def job_reopened(ctx: EventContext) -> Outcome:
    assert ctx.event.job is not None
    job = ctx.job(ctx.event.job)
    ctx.session.flush()
    if job.status_changed_at is not None and not newer(ctx.at, job.status_changed_at, strict=True):
        return ignored("a newer event already set this job's status")
    job.status, job.status_changed_at = JobStatus.OPEN, ctx.at
    ctx.audit("job", job.id, "reopened")
    app_ids = list(ctx.session.scalars(select(Application.id).where(Application.job_id == job.id)))
    drop_from_closing_notices(ctx, app_ids)
    return APPLIED
