"""What a message means for the ledger: who gets it, whether it is still wanted, what sending it does.

`plugin.notify` renders and sends; it asks this module, right before sending, whether the message
is still wanted (a reopened application cancels its rejection) and tells it the outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
from plugin.sla.obligations import UNSENT, audit

DECISION_KINDS = (NotificationKind.REJECTION, NotificationKind.JOB_CLOSED)


def decision_pending_before(session: Session, obligation: Obligation) -> datetime | None:
    """When a decision message will reach the candidate, if it does so by the deadline.

    Reminders and autopilot stand down for it. The earliest pending decision is before the deadline
    exactly when any is, so `pending_decision_at` answers both questions.
    """
    decision_at = pending_decision_at(session, obligation.application_id)
    return decision_at if decision_at is not None and decision_at <= obligation.due_at else None


def internal_recipient(org: Organization, job: Job, kind: NotificationKind) -> tuple[str | None, str | None]:
    if kind is NotificationKind.REMINDER_HIRING_MANAGER:
        return job.hiring_manager_name, job.hiring_manager_email
    if kind is NotificationKind.ESCALATION and org.escalation_email:
        return None, org.escalation_email
    if job.recruiter_email:
        return job.recruiter_name, job.recruiter_email
    return None, org.escalation_email


def schedule_internal(
    session: Session, org: Organization, kind: NotificationKind, obligation: Obligation, *, at: datetime,
    now: datetime, actor: str, context: dict[str, Any] | None = None, dedupe_key: str | None = None,
) -> Notification | None:
    app = obligation.application
    return obligations.schedule(
        session, org, kind, app=app, obligation=obligation, at=at, now=now, actor=actor, context=context,
        recipient=internal_recipient(org, app.job, kind), dedupe_key=dedupe_key,
    )


def schedule_candidate(
    session: Session, org: Organization, kind: NotificationKind, obligation: Obligation, *, at: datetime,
    now: datetime, actor: str, autopilot: bool = False, context: dict[str, Any] | None = None,
) -> Notification | None:
    return obligations.schedule(
        session, org, kind, app=obligation.application, obligation=obligation, at=at, now=now, actor=actor,
        autopilot=autopilot, context=context,
    )


def reason_not_to_send(session: Session, notification: Notification) -> str | None:
    """Re-check current state right before sending. A reason means: cancel, do not send."""
    app = notification.application
    candidate = notification.candidate
    if notification.kind.is_candidate_facing and candidate is not None and candidate.erased_at is not None:
        return "candidate erased"
    obligation = session.get(Obligation, notification.obligation_id) if notification.obligation_id else None
    kind = notification.kind
    if kind is NotificationKind.REJECTION:
        if app is None or app.status is not ApplicationStatus.REJECTED:
            return "application is no longer rejected"
        return None
    if kind is NotificationKind.JOB_CLOSED:
        apps = _closing_applications(session, notification)
        if not apps:
            return "no application is still waiting on a closed job"
        return None
    if kind is NotificationKind.DELIVERY_FAILED:
        return None
    # A status update stays wanted while its cycle is open, even for a rejected application: when
    # the ATS holds the rejection until after the deadline (notify_not_before), the candidate still
    # hears by the deadline when they will hear next.
    if obligation is None or obligation.state is not ObligationState.OPEN:
        return "the candidate has already heard from us in this cycle"
    if kind is NotificationKind.NEXT_STEPS and app is not None and app.status is not ApplicationStatus.ACTIVE:
        return f"application is {app.status.value}: the decision says what happens next"
    return None


def _closing_applications(session: Session, notification: Notification) -> list[Application]:
    ids = notification.context.get("application_ids") or ([notification.application_id] if notification.application_id else [])
    apps = session.scalars(select(Application).where(Application.id.in_(ids))).all()
    return [a for a in apps if a.status is ApplicationStatus.ACTIVE and a.job.status is JobStatus.CLOSED]


def closing_job_titles(session: Session, notification: Notification) -> list[str]:
    return [a.job.title or "the position" for a in _closing_applications(session, notification)]


def on_sent(session: Session, notification: Notification, now: datetime, actor: str) -> None:
    """The provider accepted the message: a candidate-facing update or decision discharges the cycle."""
    kind = notification.kind
    if not kind.discharges:
        return
    if kind is NotificationKind.JOB_CLOSED:
        for app in _closing_applications(session, notification):
            app.status, app.status_changed_at = ApplicationStatus.CLOSED, now
            current = obligations.open_obligation(app)
            if current is not None:
                obligations.discharge(current, at=now, by="job_closed", now=now, actor=actor, next_cycle=False)
        return
    if kind is NotificationKind.REJECTION:
        # The decision ends whichever cycle is open now (a status update may have opened a newer one
        # while the rejection waited for the ATS's notify_not_before).
        current = obligations.open_obligation(notification.application) if notification.application else None
        if current is not None:
            obligations.discharge(current, at=now, by=kind.value, now=now, actor=actor, next_cycle=False)
        return
    obligation = session.get(Obligation, notification.obligation_id) if notification.obligation_id else None
    if obligation is None or obligation.state is not ObligationState.OPEN:
        return
    obligations.discharge(obligation, at=now, by=kind.value, now=now, actor=actor, next_cycle=True)


def pending_decision_at(session: Session, application_id: int) -> datetime | None:
    """When an already scheduled decision message will go out, if one is waiting."""
    return session.scalar(
        select(Notification.scheduled_for).where(
            Notification.application_id == application_id, Notification.kind.in_(DECISION_KINDS),
            Notification.state.in_(UNSENT),
        ).order_by(Notification.scheduled_for).limit(1)
    )


def mark_failed(session: Session, notification: Notification, error: str, now: datetime, actor: str) -> None:
    """Permanent failure: record it, put the obligation at risk, and tell a person to use another channel."""
    notification.state = NotificationState.FAILED
    notification.last_error = error[:2000]
    audit(session, notification.org_id, "notification", notification.id, "failed", now, actor, after={"error": error})
    if not notification.kind.is_candidate_facing:
        return  # an internal message that cannot be delivered is logged, never escalated in a loop
    obligation = session.get(Obligation, notification.obligation_id) if notification.obligation_id else None
    app = notification.application
    org = session.get(Organization, notification.org_id)
    if app is None or org is None:
        return
    if obligation is not None and obligation.state is ObligationState.OPEN:
        obligation.at_risk = True
    recipient = internal_recipient(org, app.job, NotificationKind.DELIVERY_FAILED)
    obligations.schedule(
        session, org, NotificationKind.DELIVERY_FAILED, app=app, obligation=obligation, at=now, now=now,
        actor=actor, recipient=recipient, dedupe_key=f"delivery_failed:n{notification.id}",
        context={"failed_notification_id": notification.id, "failed_kind": notification.kind.value, "error": error},
    )
