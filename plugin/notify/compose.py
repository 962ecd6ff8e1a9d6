"""Turn a Notification row into the context its template needs and the message a provider sends."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin import runtime
from plugin.audit import audit
from plugin.mail.base import Address, OutgoingMessage
from plugin.models import (
    ApplicationStatus,
    JobStatus,
    Notification,
    NotificationKind,
    Obligation,
    Organization,
    TemplateOverride,
)
from plugin.notify import status_links
from plugin.notify.dates import human_date, human_instant
from plugin.notify.render import Override, RenderedMessage, TemplateError
from plugin.sla import deadlines, messages
from plugin.sla.obligations import autopilot_run_after, calendars
from plugin.sla.policy import policy_for

log = logging.getLogger(__name__)

DEFAULT_SENDER_EMAIL = "no-reply@ghostless.local"
KIND_LABELS = {kind: kind.value.replace("_", " ") for kind in NotificationKind}


def next_update_due(session: Session, notification: Notification, now: datetime) -> datetime | None:
    """For a status update sent now: when the candidate will hear from us next (the next cycle's due).

    After autopilot the cadence grows with each update in a row (policy.autopilot_cadence_working_days)."""
    app = notification.application
    org = session.get(Organization, notification.org_id)
    if app is None or org is None:
        return None
    policy = policy_for(org, app.job)
    days = policy.cadence_working_days
    if notification.autopilot:
        obligation = session.get(Obligation, notification.obligation_id) if notification.obligation_id else None
        days = policy.cadence_after_autopilot(autopilot_run_after(obligation, app) if obligation else 1)
    next_due = deadlines.due_after(now, days, policy, calendars(org, app.candidate))
    decision_at = messages.pending_decision_at(session, app.id)
    return min(next_due, decision_at) if decision_at is not None else next_due


def named_date(session: Session, notification: Notification, now: datetime) -> date | None:
    """The date this message tells the candidate they will hear from us by (None: it names none).

    Stored with the message when it is rendered; once sent, it is a promise (invariant 7)."""
    org = session.get(Organization, notification.org_id)
    if org is None:
        return None
    cals = calendars(org, notification.candidate)
    if notification.kind is NotificationKind.STATUS_UPDATE:
        promised = messages.promised_next_date(notification)
        if promised is not None:  # a person chose the date; the next cycle is due that day
            return promised
        next_due = next_update_due(session, notification, now)
        return cals.candidate.local_date(next_due) if next_due else None
    if notification.kind in (NotificationKind.NEXT_STEPS, NotificationKind.REPLY_ACK) and notification.obligation_id:
        obligation = session.get(Obligation, notification.obligation_id)
        return cals.candidate.local_date(obligation.due_at) if obligation is not None else None
    return None


# The wording of autopilot's k-th update in a row: never the previous one's (DESIGN "After autopilot").
AUTOPILOT_VARIANTS = ("first", "second", "later_a", "later_b")


def autopilot_variant(run: int) -> str:
    """`run`: how many autopilot updates in a row this one makes (1 = the first)."""
    if run <= 2:
        return AUTOPILOT_VARIANTS[max(run, 1) - 1]
    return AUTOPILOT_VARIANTS[2 + (run - 3) % 2]


def _status_update_context(session: Session, notification: Notification, obligation: Obligation | None,
                           cals: deadlines.Calendars, today: date, locale: str | None) -> dict[str, Any]:
    """How the update should read: who wrote it, how long they have waited, whether anyone acted."""
    app = notification.application
    run = autopilot_run_after(obligation, app) if obligation is not None and app is not None \
        and notification.autopilot else 0
    context: dict[str, Any] = {
        "autopilot": notification.autopilot,
        "autopilot_round": run,
        "autopilot_variant": autopilot_variant(run) if notification.autopilot else "",
        # Only a person's action in this cycle lets the message say the team is working on it.
        "someone_acted": bool(app is not None and obligation is not None and app.last_human_action_at is not None
                              and app.last_human_action_at > obligation.anchor_at),
        # Still in the running: an open job and an active application (a rejection held by the ATS
        # or a closing job must not be told "you are still very much in the process").
        "in_process": bool(app is not None and app.status is ApplicationStatus.ACTIVE
                           and app.job.status is JobStatus.OPEN),
    }
    if obligation is not None and run > 1:
        # The last time a person or an interview was in touch: the start of the cycle before autopilot's run.
        since = session.scalar(select(Obligation.anchor_at).where(
            Obligation.application_id == obligation.application_id,
            Obligation.cycle == obligation.cycle - run + 1))
        if since is not None:
            context["waiting_since"] = human_date(cals.candidate.local_date(since), today, locale)
            context["waiting_weeks"] = max(1, (cals.candidate.local_date(notification.scheduled_for)
                                               - cals.candidate.local_date(since)).days // 7)
    return context


def build_context(session: Session, notification: Notification, now: datetime,
                  locale: str | None = None) -> dict[str, Any]:
    """Everything the templates may use; dates in `locale` (the language the message is written in)."""
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
        "job": {"title": app.job.title if app else None, "department": app.job.department if app else None,
                # Who should have acted (escalations name them).
                "recruiter": (app.job.recruiter_name or app.job.recruiter_email) if app else None,
                "hiring_manager": (app.job.hiring_manager_name or app.job.hiring_manager_email) if app else None},
        "application": {"stage": app.stage if app else None, "external_id": app.external_id if app else "",
                        "status": app.status.value if app else None},
        "recipient_name": notification.recipient_name,
        **notification.context,
    }
    if obligation is not None:
        due_day = cals.candidate.local_date(obligation.due_at)
        policy = policy_for(org, app.job) if app else None
        context.update(
            due_date=human_date(due_day, today, locale),
            due_at_text=human_instant(obligation.due_at, cals.candidate.tz, locale),
            interview_stage=app.stage if app else None,
            autopilot=notification.autopilot or bool(policy and policy.autopilot),
        )
        if policy is not None and notification.kind in (NotificationKind.REMINDER_RECRUITER,
                                                        NotificationKind.REMINDER_HIRING_MANAGER):
            autopilot_at = deadlines.rung_time(deadlines.Rung.AUTOPILOT, obligation.due_at, policy, cals)
            context["autopilot_at_text"] = human_instant(autopilot_at, cals.org.tz, locale) if autopilot_at else None
    if notification.kind is NotificationKind.STATUS_UPDATE:
        named = named_date(session, notification, now)
        context["next_date"] = human_date(named, today, locale) if named else None
        context.update(_status_update_context(session, notification, obligation, cals, today, locale))
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


_OVERRIDES = "ghostless.template_overrides"  # session.info keys: see cache_lookups
_LOCALES = "ghostless.template_locales"


def cache_lookups(session: Session) -> None:
    """Look each override up, and resolve each kind and language to its templates, once in this
    session (a bulk send asks for the same ones a thousand times, and resolving reads the template
    folder). Only for sessions that change no override: the cache is not told of changes."""
    session.info[_OVERRIDES] = {}
    session.info[_LOCALES] = {}


def template_override(session: Session, notification: Notification) -> TemplateOverride | None:
    """The organisation's own wording for this message's kind and (resolved) locale, if any."""
    key = (notification.org_id, notification.kind, notification.locale or "en")
    cache: dict[tuple[str, NotificationKind, str], TemplateOverride | None] | None = session.info.get(_OVERRIDES)
    if cache is not None and key in cache:
        return cache[key]
    found = session.scalar(select(TemplateOverride).where(
        TemplateOverride.org_id == key[0], TemplateOverride.kind == key[1], TemplateOverride.locale == key[2]))
    if cache is not None:
        cache[key] = found
    return found


def as_override(row: TemplateOverride | None) -> Override | None:
    if row is None:
        return None
    return Override(subject=row.subject, body=row.body, signature=row.signature)


def outgoing(session: Session, notification: Notification) -> OutgoingMessage:
    org = session.get(Organization, notification.org_id)
    assert org is not None
    name, email = recipient(notification)
    assert email is not None
    headers = {"X-Ghostless-Autopilot": "yes"} if notification.autopilot else {}
    custom = template_override(session, notification)
    sender_name = (custom.sender_name if custom and custom.sender_name else None) or org.sender_name or org.name
    return OutgoingMessage(
        notification_id=notification.id,
        kind=notification.kind.value,
        sender=Address(org.sender_email or DEFAULT_SENDER_EMAIL, sender_name),
        to=Address(email, name),
        subject=notification.subject or "",
        text=notification.body_text or "",
        html=notification.body_html or "",
        reply_to=Address(custom.reply_to) if custom and custom.reply_to else None,
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


def render_inputs(session: Session, notification: Notification, now: datetime) -> "RenderInputs":
    """(locale, context, override) for rendering `notification`; records the locale used.

    A locale without templates falls back (de-AT -> de -> the default); the fallback is logged by the
    renderer and recorded on the row (`locale_fallback_from`) so reports can count it.
    """
    rt = runtime.current()
    requested = message_locale(session, notification)
    locales: dict[tuple[str, str | None], str] | None = session.info.get(_LOCALES)
    key = (notification.kind.value, requested)
    resolved = locales.get(key) if locales is not None else None
    if resolved is None:
        resolved = rt.renderer.resolve_locale(notification.kind.value, requested)
        if locales is not None:
            locales[key] = resolved
    notification.locale = resolved
    if requested and resolved != requested:
        notification.locale_fallback_from = requested
    context = build_context(session, notification, now, resolved)
    if notification.kind.is_candidate_facing and notification.application_id is not None:
        context["status_url"] = status_links.status_url(rt.settings, notification.application_id)
    return resolved, context, as_override(template_override(session, notification))


RenderInputs = tuple[str, dict[str, Any], Override | None]


def render_notification(session: Session, notification: Notification, now: datetime,
                        actor: str = "worker") -> tuple[RenderedMessage, RenderInputs]:
    """Render `notification` exactly as it will be sent; also what it was rendered from.

    An organisation's override that does not render (one saved before the rendering limits, or one
    that fails only on this message's data) never costs the candidate their message: it is sent in
    the packaged wording for its kind and language, and the fallback is logged and audited. The
    inputs returned then carry no override, so a bulk send renders the same packaged wording.
    TemplateError only when the packaged template fails too (the caller marks the message failed).
    """
    inputs = render_inputs(session, notification, now)
    locale, context, override = inputs
    renderer = runtime.current().renderer
    try:
        return renderer.render(notification.kind.value, locale, context, override), inputs
    except TemplateError as exc:
        if override is None:
            raise
        error = str(exc)
    log.warning("notification %s: the organisation's %s/%s override does not render (%s); sending the "
                "packaged template instead", notification.id, notification.kind.value, locale, error)
    audit(session, notification.org_id, "template_override", f"{notification.kind.value}/{locale}",
          "fell_back", now, actor, after={"notification_id": notification.id, "error": error[:500]})
    packaged: RenderInputs = (locale, context, None)
    return renderer.render(notification.kind.value, locale, context, None), packaged
