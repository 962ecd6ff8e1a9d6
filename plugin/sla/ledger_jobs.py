"""Ledger handlers for jobs: a closed job tells its interviewed candidates (one closing notice per
person, held so that a reopen can cancel it); a reopened job takes its applications out of the
notices not yet sent, cancelling a notice left with none.

A closing is work that grows with the job: 10,000 interviewed candidates took minutes, more than a
request may take (the ATS got a 500 and the closing was never stored). The transaction applying the
events adds the first IN_REQUEST candidates of their closings and leaves a cursor on each job; the
sweep continues from it, SWEEP_CHUNK at a time (`continue_closings`). The notices wait for the hold
anyway, so nobody hears later for it.

A chunk is written in bulk (issue 14: it took 20-45 ms a candidate, one row at a time): its
applications with their people and open cycles in two queries, the notices of everyone who has none
waiting in one multi-row insert and their audit entries in another (`obligations.schedule_many`).
A person with a notice already waiting (another of their jobs closed in the last hour) or with two
applications in the chunk joins or makes their one notice the careful way, row by row: rare.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from plugin.audit import audit
from plugin.models import (
    Application,
    ApplicationStatus,
    Job,
    JobStatus,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    ObligationState,
    Organization,
)
from plugin.sla import obligations
from plugin.sla.ledger_context import APPLIED, EventContext, Outcome, ignored, newer
from plugin.sla.obligations import UNSENT, calendars, open_obligation
from plugin.sla.policy import policy_for

IN_REQUEST = 200  # applications the transaction applying job.closed adds itself; the sweep does the rest
_BUDGET = "ghostless.closing_budget"  # session.info: applications this transaction may still add
SWEEP_CHUNK = 2000  # applications per sweep transaction (about 1 s on PostgreSQL here)


def job_closed(ctx: EventContext) -> Outcome:
    assert ctx.event.job is not None
    job = ctx.job(ctx.event.job)
    ctx.session.flush()
    if not newer(ctx.at, job.status_changed_at, strict=True) and job.status_changed_at is not None:
        return ignored("a newer event already set this job's status")
    job.status, job.status_changed_at = JobStatus.CLOSED, ctx.at
    ctx.audit("job", job.id, "closed")
    policy = policy_for(ctx.org, job)
    job.closing_hold_until = max(ctx.now, ctx.at + timedelta(minutes=policy.job_closed_hold_minutes))
    job.closing_fanout_after = 0
    # IN_REQUEST is the transaction's, not each closing's: a hiring freeze of 50 jobs in one batch adds
    # 200 candidates here, not 10,000 (the worker applying it stays small), and leaves the rest to the sweep.
    budget = ctx.session.info.get(_BUDGET, IN_REQUEST)
    if budget > 0:
        ctx.session.info[_BUDGET] = budget - continue_closing(ctx.session, ctx.org, job, now=ctx.now,
                                                              actor=ctx.actor, limit=budget)
    return APPLIED


def continue_closing(session: Session, org: Organization, job: Job, *, now: datetime, actor: str, limit: int) -> int:
    """Add up to `limit` more of a closed job's interviewed candidates to closing notices, in id order.

    Returns how many applications it looked at; the job's cursor is cleared once none are left.
    """
    if job.closing_fanout_after is None or job.closing_hold_until is None:
        return 0
    apps = session.scalars(
        select(Application).options(joinedload(Application.candidate))
        .where(Application.job_id == job.id, Application.id > job.closing_fanout_after,
               Application.status == ApplicationStatus.ACTIVE, Application.first_interview_ended_at.is_not(None))
        .order_by(Application.id).limit(limit)
    ).all()
    hold_until = max(now, job.closing_hold_until)  # a sweep that comes late must not schedule in the past
    _add_to_closing_notices(session, org, job, [a for a in apps if a.candidate.erased_at is None], hold_until,
                            now=now, actor=actor)
    if len(apps) < limit:
        job.closing_fanout_after = job.closing_hold_until = None
    else:
        job.closing_fanout_after = apps[-1].id
    return len(apps)


def _add_to_closing_notices(session: Session, org: Organization, job: Job, apps: list[Application],
                            hold_until: datetime, *, now: datetime, actor: str) -> None:
    """`_add_to_closing_notice` for each of `apps` (one job's), in bulk for everyone it is simple for."""
    if not apps:
        return
    people = Counter(app.candidate_id for app in apps)
    waiting = set(session.scalars(select(Notification.candidate_id).where(
        Notification.org_id == org.id, Notification.candidate_id.in_(list(people)),
        Notification.kind == NotificationKind.JOB_CLOSED, Notification.state == NotificationState.SCHEDULED)))
    simple = [app for app in apps if people[app.candidate_id] == 1 and app.candidate_id not in waiting]
    cycles = {o.application_id: o for o in session.scalars(select(Obligation).where(
        Obligation.application_id.in_([app.id for app in simple]), Obligation.state == ObligationState.OPEN))}
    policy = policy_for(org, job)
    rows = []
    for app in simple:
        cals = calendars(org, app.candidate)
        rows.append(obligations.message_row(
            org, NotificationKind.JOB_CLOSED, at=hold_until, now=now, app=app, obligation=cycles.get(app.id),
            context={"application_ids": [app.id]}, dedupe_key=f"job_closed:app{app.id}", window=(policy, cals)))
    obligations.schedule_many(session, rows, now, actor)
    done = {app.id for app in simple}
    for app in apps:
        if app.id not in done:
            _add_to_closing_notice(session, org, app, hold_until, now=now, actor=actor)


def continue_closings(session: Session, now: datetime, actor: str) -> int:
    """The sweep's part: one closed job whose closing is not finished, SWEEP_CHUNK applications of it.

    Locked and skipped by other sweepers (PostgreSQL), so two never add the same candidates at once.
    """
    job = session.scalar(
        select(Job).where(Job.closing_fanout_after.is_not(None)).order_by(Job.id).limit(1)
        .with_for_update(skip_locked=True)
    )
    if job is None:
        return 0
    org = session.get(Organization, job.org_id)
    assert org is not None
    return max(1, continue_closing(session, org, job, now=now, actor=actor, limit=SWEEP_CHUNK))


def _add_to_closing_notice(session: Session, org: Organization, app: Application, hold_until: datetime, *,
                           now: datetime, actor: str) -> None:
    """One closing notice per person, even when several of their jobs close together: a closing that
    arrives while the person's notice still waits joins it, and the notice waits for the later of the
    two holds, so a reopen of either job can still cancel it (found by the oracle: it used to leave at
    whichever time was scheduled first, before the later job's hold had ended)."""
    cals = calendars(org, app.candidate)
    send_at = cals.candidate.next_window_opening(hold_until, policy_for(org, app.job).send_window)
    pending = session.scalar(
        select(Notification).where(
            Notification.org_id == org.id, Notification.candidate_id == app.candidate_id,
            Notification.kind == NotificationKind.JOB_CLOSED, Notification.state == NotificationState.SCHEDULED,
        )
    )
    if pending is None:
        obligations.schedule(
            session, org, NotificationKind.JOB_CLOSED, app=app, obligation=open_obligation(app), at=send_at,
            now=now, context={"application_ids": [app.id]}, dedupe_key=f"job_closed:app{app.id}", actor=actor,
        )
        return
    ids = list(pending.context.get("application_ids", []))
    if app.id not in ids:
        pending.context = {**pending.context, "application_ids": ids + [app.id]}
    if send_at > pending.scheduled_for:
        before = pending.scheduled_for
        pending.scheduled_for = send_at
        audit(session, org.id, "notification", pending.id, "deferred", now, actor,
              before={"scheduled_for": before.isoformat()},
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
    job.closing_fanout_after = job.closing_hold_until = None  # a closing still fanning out stops here
    ctx.audit("job", job.id, "reopened")
    app_ids = list(ctx.session.scalars(select(Application.id).where(Application.job_id == job.id)))
    drop_from_closing_notices(ctx, app_ids)
    return APPLIED
