"""Turn a Notification row into the context its template needs and the message a provider sends."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from plugin import runtime, status_links
from plugin.mail.base import Address, OutgoingMessage
from plugin.models import Notification, NotificationKind, Obligation, Organization
from plugin.notify.render import RenderedMessage
from plugin.sla import deadlines, messages
from plugin.sla.obligations import calendars
from plugin.sla.policy import policy_for

DEFAULT_SENDER_EMAIL = "no-reply@ghostless.local"
KIND_LABELS = {kind: kind.value.replace("_", " ") for kind in NotificationKind}


def human_date(day: date, today: date) -> str:
    text = f"{day:%A} {day.day} {day:%B}"
    return text if day.year == today.year else f"{text} {day.year}"


def human_instant(instant: datetime, tz: Any) -> str:
    local = instant.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M} {local.tzname()}"


def next_update_due(session: Session, notification: Notification, now: datetime) -> datetime | None:
    """For a status update sent now: when the candidate will hear from us next (the next cycle's due)."""
    app = notification.application
    org = session.get(Organization, notification.org_id)
    if app is None or org is None:
        return None
    policy = policy_for(org, app.job)
    next_due = deadlines.due_after(now, policy.cadence_working_days, policy, calendars(org, app.candidate))
    decision_at = messages.pending_decision_at(session, app.id)
    return min(next_due, decision_at) if decision_at is not None else next_due


def build_context(session: Session, notification: Notification, now: datetime) -> dict[str, Any]:
    org = session.get(Organization, notification.org_id)
    assert org is not None
    app = notification.application
    candidate = notification.candidate
    obligation = session.get(Obligation, notification.obligation_id) if notification.obligation_id else None
    cals = calendars(org, candidate)
    today = cals.candidate.local_date(now)
    name = candidate.name if candidate else None
    context: dict[str, Any] = {
        "org": {"name": org.name, "sender_name": org.sender_name or org.name},
        "candidate": {"name": name, "first_name": name.split()[0] if name else None},
        "job": {"title": app.job.title if app else None, "department": app.job.department if app else None},
        "application": {"stage": app.stage if app else None, "external_id": app.external_id if app else ""},
        "recipient_name": notification.recipient_name,
        **notification.context,
    }
    if obligation is not None:
        due_day = cals.candidate.local_date(obligation.due_at)
        policy = policy_for(org, app.job) if app else None
        context.update(
            due_date=human_date(due_day, today),
            due_at_text=human_instant(obligation.due_at, cals.candidate.tz),
            interview_stage=app.stage if app else None,
            autopilot=notification.autopilot or bool(policy and policy.autopilot),
        )
        if policy is not None and notification.kind in (NotificationKind.REMINDER_RECRUITER,
                                                        NotificationKind.REMINDER_HIRING_MANAGER):
            autopilot_at = deadlines.rung_time(deadlines.Rung.AUTOPILOT, obligation.due_at, policy, cals)
            context["autopilot_at_text"] = human_instant(autopilot_at, cals.org.tz) if autopilot_at else None
    if notification.kind is NotificationKind.STATUS_UPDATE:
        next_due = next_update_due(session, notification, now)
        context["next_date"] = human_date(cals.candidate.local_date(next_due), today) if next_due else None
        context["autopilot"] = notification.autopilot
    if notification.kind is NotificationKind.JOB_CLOSED:
        context["jobs"] = messages.closing_job_titles(session, notification)
    if notification.kind is NotificationKind.DELIVERY_FAILED:
        failed = notification.context.get("failed_kind", "")
        context["failed_kind_label"] = failed.replace("_", " ")
    return context


def recipient(notification: Notification) -> tuple[str | None, str | None]:
    """Candidate mail goes to the candidate's current address (it may have changed since scheduling)."""
    if notification.kind.is_candidate_facing and notification.candidate is not None:
        return notification.candidate.name, notification.candidate.email
    return notification.recipient_name, notification.recipient_email


def outgoing(session: Session, notification: Notification) -> OutgoingMessage:
    org = session.get(Organization, notification.org_id)
    assert org is not None
    name, email = recipient(notification)
    assert email is not None
    headers = {"X-Ghostless-Autopilot": "yes"} if notification.autopilot else {}
    return OutgoingMessage(
        notification_id=notification.id,
        kind=notification.kind.value,
        sender=Address(org.sender_email or DEFAULT_SENDER_EMAIL, org.sender_name or org.name),
        to=Address(email, name),
        subject=notification.subject or "",
        text=notification.body_text or "",
        html=notification.body_html or "",
        reply_to=None,
        headers=headers,
    )


def message_locale(session: Session, notification: Notification) -> str | None:
    """Candidate mail in the candidate's language; internal mail in the organisation's."""
    if notification.kind.is_candidate_facing:
        # The candidate's current language (it may have changed since the message was scheduled).
        candidate = notification.candidate
        return candidate.locale if candidate is not None and candidate.locale else notification.locale
    org = session.get(Organization, notification.org_id)
    return org.locale if org is not None else None


def render_notification(session: Session, notification: Notification, now: datetime) -> RenderedMessage:
    """Render `notification` as it will be sent, and remember which locale was used.

    A locale without templates falls back (de-AT -> de -> the default); the fallback is logged by the
    renderer and recorded on the row (`locale_fallback_from`) so reports can count it.
    """
    rt = runtime.current()
    requested = message_locale(session, notification)
    context = build_context(session, notification, now)
    if notification.kind.is_candidate_facing and notification.application_id is not None:
        context["status_url"] = status_links.status_url(rt.settings, notification.application_id)
    resolved = rt.renderer.resolve_locale(notification.kind.value, requested)
    rendered = rt.renderer.render(notification.kind.value, resolved, context)
    notification.locale = resolved
    if requested and resolved != requested:
        notification.locale_fallback_from = requested
    return rendered
