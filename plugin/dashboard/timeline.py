"""Candidates: the list of applications a viewer may see, and one application's whole story.

- GET /dashboard/applications: search (name, email, ATS id), status and "waiting" filters, newest first,
  50 a page. Paged by key (`before`/`after` an application id), never by COUNT(*) or OFFSET, so the
  last page of 50,000 applications costs what the first one does.
- GET /dashboard/applications/<id>: the timeline, newest first: inbound events, obligation cycles,
  messages (candidate-facing ones as sent), delivery events, replies, and the audit trail.
- GET /dashboard/messages/<id>/html: a message's HTML exactly as sent, for a sandboxed iframe, under
  its own CSP (no scripts, no requests except images, sandboxed even when opened directly).

Every query joins Job and applies `visible_jobs`; an id outside the viewer's scope is a 404.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from flask import Response, abort, request, url_for
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import aliased

from plugin.dashboard import bp, db, local_time, now, organization, page, viewer
from plugin.dashboard.scope import Viewer, visible_jobs
from plugin.models import (
    Application,
    ApplicationStatus,
    AtsConnection,
    AtsDelivery,
    AuditEntry,
    Candidate,
    CandidateReply,
    InboundEvent,
    Job,
    MailEvent,
    Notification,
    Obligation,
    ObligationState,
    Role,
    Rung,
)
from plugin.notify.replies import reply_excerpt
from plugin.reports import outcomes

PAGE_SIZE = 50
MAX_QUERY_LENGTH = 200
MAX_EVENTS = 1000  # an application with more inbound events than this shows the newest ones and says so
ERASED = "(erased)"

# The HTML of a message is the organisation's template filled with ATS data: treat it as hostile.
# `sandbox` (no allow-* tokens) also applies when someone opens the URL directly, outside the iframe.
MESSAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; sandbox; "
               "frame-ancestors 'self'")

RUNG_LABELS = {
    Rung.REMINDER_RECRUITER: "reminder to the recruiter",
    Rung.REMINDER_HIRING_MANAGER: "reminder to the hiring manager",
    Rung.AUTOPILOT: "autopilot status update (or escalation to talent ops)",
    Rung.DEADLINE: "deadline (a breach is recorded)",
    Rung.DONE: "nothing more",
}


# -- times --------------------------------------------------------------------------------------


def _org_zone() -> ZoneInfo:
    return ZoneInfo(organization().timezone)


# -- links to the ATS ---------------------------------------------------------------------------

_WORKABLE_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def ats_record_url(provider: str | None, *, candidate_id: str | None, application_id: str | None,
                   workable_subdomain: str | None = None, profile_url: str | None = None) -> str | None:
    """The web page of this candidate/application in its ATS, or None when we cannot know it.

    - Greenhouse: https://app.greenhouse.io/people/<candidate id>?application_id=<application id>
      (the `url` Greenhouse itself puts in its webhook payloads);
    - Lever: https://hire.lever.co/candidates/<opportunity id> (our application id is the opportunity);
    - Ashby: https://app.ashbyhq.com/candidates/<candidate id>;
    - Workable: the candidate's `profile_url` from Workable's own payload, accepted only on
      https://<account subdomain>.workable.com/backend/... (its path holds Workable's numeric job id,
      which we never receive, so we cannot build it ourselves);
    - anything else (the API, unknown providers): None.
    """
    provider = (provider or "").lower()
    if provider == "greenhouse" and candidate_id:
        url = f"https://app.greenhouse.io/people/{quote(candidate_id, safe='')}"
        return f"{url}?application_id={quote(application_id, safe='')}" if application_id else url
    if provider == "lever" and application_id:
        return f"https://hire.lever.co/candidates/{quote(application_id, safe='')}"
    if provider == "ashby" and candidate_id:
        return f"https://app.ashbyhq.com/candidates/{quote(candidate_id, safe='')}"
    if provider == "workable" and profile_url:
        parts = urlsplit(profile_url)
        host = (parts.hostname or "").lower()
        label, _, domain = host.partition(".")
        if (parts.scheme == "https" and domain == "workable.com" and _WORKABLE_LABEL.match(label)
                and parts.path.startswith("/backend/") and parts.port is None and not parts.username
                and (workable_subdomain is None or label == workable_subdomain.lower())):
            return profile_url
    return None


def _find_profile_url(payload: Any, candidate_id: str, depth: int = 0) -> str | None:
    """Workable's `profile_url` of `candidate_id` in a webhook body or a poll page."""
    if depth > 6:
        return None
    if isinstance(payload, Mapping):
        if str(payload.get("id")) == candidate_id and isinstance(payload.get("profile_url"), str):
            return str(payload["profile_url"])
        values: Any = payload.values()
    elif isinstance(payload, list):
        values = payload
    else:
        return None
    for value in values:
        found = _find_profile_url(value, candidate_id, depth + 1)
        if found:
            return found
    return None


def _workable_hint(org_id: str, events: list[InboundEvent], candidate_id: str) -> tuple[str | None, str | None]:
    """(account subdomain, profile_url) from the newest stored Workable deliveries about this application."""
    delivery_ids = [e.raw["ats_delivery_id"] for e in events
                    if e.source == "workable" and isinstance(e.raw, dict)
                    and isinstance(e.raw.get("ats_delivery_id"), int)][:3]
    for delivery_id in delivery_ids:
        delivery = db().get(AtsDelivery, delivery_id)
        if delivery is None or delivery.org_id != org_id or not delivery.body:
            continue
        connection = db().get(AtsConnection, delivery.connection_id)
        subdomain = (connection.options or {}).get("subdomain") if connection is not None else None
        try:
            body = json.loads(delivery.body)
        except ValueError:
            continue
        url = _find_profile_url(body, candidate_id)
        if url:
            return (subdomain if isinstance(subdomain, str) else None), url
    return None, None


# -- the list -----------------------------------------------------------------------------------


@dataclass
class ListQuery:
    q: str = ""
    status: str = ""
    waiting: bool = False
    before: int | None = None
    after: int | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def link_args(self, **cursor: int) -> dict[str, Any]:
        args: dict[str, Any] = {k: v for k, v in (("q", self.q), ("status", self.status)) if v}
        if self.waiting:
            args["waiting"] = "1"
        return {**args, **cursor}


def _positive_int(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ValueError(raw)
    return int(raw)


def parse_list_query(args: Mapping[str, str]) -> ListQuery:
    query = ListQuery(q=(args.get("q") or "").strip(), status=(args.get("status") or "").strip(),
                      waiting=args.get("waiting") in ("1", "on", "true", "yes"))
    if len(query.q) > MAX_QUERY_LENGTH:
        query.errors["q"] = f"Search for at most {MAX_QUERY_LENGTH} characters."
    if query.status and query.status not in {s.value for s in ApplicationStatus}:
        query.errors["status"] = "Choose one of the listed statuses."
    try:
        query.before, query.after = _positive_int(args.get("before")), _positive_int(args.get("after"))
    except ValueError:
        query.errors["page"] = "That page link is not valid; start again from the first page."
    return query


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def applications_query(who: Viewer, query: ListQuery) -> Select[Any]:
    """The visible applications matching the filters, with the open obligation (if any) alongside."""
    open_obligation = aliased(Obligation)
    statement = (
        select(Application, Candidate, Job, open_obligation)
        .join(Job, Job.id == Application.job_id)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .outerjoin(open_obligation, and_(open_obligation.application_id == Application.id,
                                         open_obligation.state == ObligationState.OPEN))
        .where(Application.org_id == who.org_id, visible_jobs(who))
    )
    if query.q:
        pattern = _like(query.q)
        statement = statement.where(or_(
            func.lower(Candidate.name).like(pattern, escape="\\"),
            func.lower(Candidate.email).like(pattern, escape="\\"),
            func.lower(Application.external_id).like(pattern, escape="\\"),
            func.lower(Candidate.external_id).like(pattern, escape="\\"),
        ))
    if query.status:
        statement = statement.where(Application.status == ApplicationStatus(query.status))
    if query.waiting:
        statement = statement.where(open_obligation.id.is_not(None))
    return statement


@dataclass(frozen=True)
class Row:
    application: Application
    candidate_label: str
    email: str | None
    job: Job
    due_at: str | None
    overdue: bool
    at_risk: bool


@bp.get("/applications")
def applications() -> Any:
    who = viewer()
    query = parse_list_query(request.args)
    if query.errors:
        return page("dashboard/applications.html", query=query, rows=[], newer=None, older=None,
                    statuses=[s.value for s in ApplicationStatus]), 400
    zone, at = _org_zone(), now()
    statement = applications_query(who, query)
    if query.after is not None:  # the page of newer applications, read upwards then shown newest first
        found = list(db().execute(statement.where(Application.id > query.after)
                                  .order_by(Application.id.asc()).limit(PAGE_SIZE + 1)))
        more_newer, more_older = len(found) > PAGE_SIZE, True
        found = list(reversed(found[:PAGE_SIZE]))
    else:
        if query.before is not None:
            statement = statement.where(Application.id < query.before)
        found = list(db().execute(statement.order_by(Application.id.desc()).limit(PAGE_SIZE + 1)))
        more_newer, more_older = query.before is not None, len(found) > PAGE_SIZE
        found = found[:PAGE_SIZE]
    rows = [
        Row(application=app, candidate_label=ERASED if cand.erased_at is not None else (cand.name or "(no name)"),
            email=None if cand.erased_at is not None else cand.email, job=job,
            due_at=local_time(obligation.due_at, zone) if obligation is not None else None,
            overdue=obligation is not None and obligation.due_at < at,
            at_risk=obligation is not None and obligation.at_risk)
        for app, cand, job, obligation in found
    ]
    newer = url_for("dashboard.applications", **query.link_args(after=rows[0].application.id)) \
        if rows and more_newer else None
    older = url_for("dashboard.applications", **query.link_args(before=rows[-1].application.id)) \
        if rows and more_older else None
    return page("dashboard/applications.html", query=query, rows=rows, newer=newer, older=older,
                statuses=[s.value for s in ApplicationStatus])


# -- one application ----------------------------------------------------------------------------


def visible_application(who: Viewer, application_id: int) -> tuple[Application, Candidate, Job]:
    found = db().execute(
        select(Application, Candidate, Job)
        .join(Job, Job.id == Application.job_id)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(Application.id == application_id, Application.org_id == who.org_id, visible_jobs(who))
    ).first()
    if found is None:
        abort(404)
    return found[0], found[1], found[2]


@dataclass
class Entry:
    """One line of the timeline. `rank` orders things that happened at the same instant: what was
    caused (a message) shows above its cause (the event), as newest-first reading expects."""

    at: datetime
    rank: int
    key: int
    kind: str  # event | cycle | message | delivery | reply
    title: str
    lines: list[str] = field(default_factory=list)
    tone: str = "muted"
    notification: Notification | None = None
    reply: CandidateReply | None = None


# How a cycle's deadline was set (plugin.sla.deadlines.DueBasis), when it is not simply the policy's.
DUE_BASIS_WORDS = {
    "promised_decision": "Deadline: the decision date promised to the candidate, plus the policy's grace.",
    "person": "Deadline: the day a person's status update promised them.",
    "written": "Deadline: held at the date a message already gave the candidate in writing.",
    "honest": "Deadline: the policy's had already passed when Ghostless learned of this (late data or a changed "
              "policy), so it is the end of the candidate's next send window; not counted as forgotten.",
}


def _cycle_entries(obligation: Obligation, zone: ZoneInfo) -> list[Entry]:
    # A cycle opened by an interview follows its event; one opened by a status update follows the
    # discharge of the previous cycle (same instant, so the rank decides).
    opened_rank = 1 if obligation.opened_by == "interview" else 3
    lines = [f"The candidate must hear from us by {local_time(obligation.due_at, zone)}."]
    if obligation.due_basis in DUE_BASIS_WORDS:
        lines.append(DUE_BASIS_WORDS[obligation.due_basis])
    if obligation.autopilot_run:
        lines.append(f"Autopilot has written {obligation.autopilot_run} time{'s' if obligation.autopilot_run > 1 else ''} "
                     "in a row before this cycle" + (": nobody on the team has given news of their own."
                                                    if obligation.autopilot_run >= 2 else "."))
    entries = [Entry(obligation.opened_at, opened_rank, obligation.id, "cycle",
                     f"Cycle {obligation.cycle} opened (by {obligation.opened_by.replace('_', ' ')})", lines, "muted")]
    if obligation.discharged_at is not None:
        met = outcomes.met(obligation, now())
        verdict = "on time" if met else ("late" if met is False else "")
        entries.append(Entry(obligation.discharged_at, 3, obligation.id, "cycle",
                             f"Cycle {obligation.cycle} discharged"
                             f"{' by ' + obligation.discharged_by.replace('_', ' ') if obligation.discharged_by else ''}"
                             f"{' — ' + verdict if verdict else ''}",
                             [f"Deadline was {local_time(obligation.due_at, zone)}."],
                             "good" if met else "bad" if met is False else "muted"))
    if obligation.breached_at is not None:
        entries.append(Entry(obligation.breached_at, 3, obligation.id, "cycle",
                             f"Cycle {obligation.cycle} deadline missed"
                             f"{' (' + obligation.breach_reason.replace('_', ' ') + ')' if obligation.breach_reason else ''}",
                             [f"Deadline was {local_time(obligation.due_at, zone)}."], "bad"))
    return entries


def _message_entry(notification: Notification, zone: ZoneInfo) -> Entry:
    at = notification.sent_at or notification.scheduled_for
    to = notification.recipient_email or "(no address)"
    lines = [f"To {to} · state {notification.state.value}"
             f"{' · delivery: ' + notification.delivery_status.value if notification.delivery_status else ''}",
             f"Scheduled for {local_time(notification.scheduled_for, zone)}"
             f"{' · sent ' + local_time(notification.sent_at, zone) if notification.sent_at else ''}"
             f"{' · locale ' + notification.locale if notification.locale else ''}"
             f"{' (asked for ' + notification.locale_fallback_from + ')' if notification.locale_fallback_from else ''}"]
    if notification.cancelled_reason:
        lines.append(f"Cancelled: {notification.cancelled_reason}")
    if notification.last_error:
        lines.append(f"Last error: {notification.last_error}")
    if notification.delivery_detail:
        lines.append(f"Delivery detail: {notification.delivery_detail}")
    title = notification.kind.value.replace("_", " ").capitalize()
    if notification.autopilot:
        title += " (sent by autopilot)"
    tone = "good" if notification.delivery_status and notification.delivery_status.value == "delivered" else \
        "bad" if notification.delivery_status and notification.delivery_status.undeliverable else "muted"
    return Entry(at, 2, notification.id, "message", title, lines, tone, notification=notification)


def _audit_entries(org_id: str, app: Application, obligations: list[Obligation]) -> list[AuditEntry]:
    conditions = [and_(AuditEntry.entity == "application", AuditEntry.entity_id == str(app.id))]
    if obligations:
        conditions.append(and_(AuditEntry.entity == "obligation",
                               AuditEntry.entity_id.in_([str(o.id) for o in obligations])))
    return list(db().scalars(select(AuditEntry).where(AuditEntry.org_id == org_id, or_(*conditions))
                             .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())))


@bp.get("/applications/<int:application_id>")
def application(application_id: int) -> Any:
    return application_page(application_id)


def application_page(application_id: int, **extra: Any) -> str:
    """The timeline page; `extra` carries the status-update form's values and errors after a refusal."""
    who = viewer()
    app, candidate, job = visible_application(who, application_id)
    zone = _org_zone()
    session = db()
    events = list(session.scalars(
        select(InboundEvent).where(InboundEvent.org_id == who.org_id,
                                   InboundEvent.application_external_id == app.external_id)
        .order_by(InboundEvent.occurred_at.desc(), InboundEvent.id.desc()).limit(MAX_EVENTS + 1)))
    events_truncated = len(events) > MAX_EVENTS
    events = events[:MAX_EVENTS]
    obligations = list(session.scalars(select(Obligation).where(Obligation.application_id == app.id)
                                       .order_by(Obligation.cycle.desc())))
    notifications = list(session.scalars(
        select(Notification).where(Notification.org_id == who.org_id, Notification.application_id == app.id)
        .order_by(Notification.id.desc())))
    mail_events = list(session.scalars(
        select(MailEvent).where(MailEvent.org_id == who.org_id,
                                MailEvent.notification_id.in_([n.id for n in notifications]))
        .order_by(MailEvent.occurred_at.desc(), MailEvent.id.desc()))) if notifications else []
    replies = list(session.scalars(
        select(CandidateReply).where(CandidateReply.org_id == who.org_id, CandidateReply.application_id == app.id)
        .order_by(CandidateReply.received_at.desc(), CandidateReply.id.desc())))

    entries: list[Entry] = []
    for inbound in events:
        lines = [f"Occurred {local_time(inbound.occurred_at, zone)} · received {local_time(inbound.received_at, zone)}"
                 f" · from {inbound.source}"]
        if inbound.detail:
            lines.append(inbound.detail)
        entries.append(Entry(inbound.occurred_at, 0, inbound.id, "event",
                             f"ATS event {inbound.event_type} ({inbound.outcome.value})", lines,
                             "muted" if inbound.outcome.value == "ignored" else "good"))
    for obligation in obligations:
        entries.extend(_cycle_entries(obligation, zone))
    by_id = {n.id: n for n in notifications}
    entries.extend(_message_entry(n, zone) for n in notifications)
    for mail_event in mail_events:
        message = by_id.get(mail_event.notification_id or 0)
        about = f"{message.kind.value.replace('_', ' ')} to {message.recipient_email or '(no address)'}" \
            if message else "a message"
        entries.append(Entry(mail_event.occurred_at, 4, mail_event.id, "delivery",
                             f"Delivery event: {mail_event.event} ({about})",
                             [mail_event.detail] if mail_event.detail else [],
                             "good" if mail_event.event == "delivered" else
                             "bad" if mail_event.event in ("bounce", "dropped", "spamreport") else "muted"))
    for reply in replies:
        entries.append(Entry(reply.received_at, 5, reply.id, "reply", "Reply from the candidate",
                             [f"Subject: {reply.subject}"] if reply.subject else [], "muted", reply=reply))
    entries.sort(key=lambda e: (e.at, e.rank, e.key), reverse=True)

    provider = next((e.source for e in events if e.source and e.source != "api"), None)
    subdomain = profile_url = None
    if provider == "workable" and candidate.erased_at is None:
        subdomain, profile_url = _workable_hint(who.org_id, events, candidate.external_id)
    ats_url = ats_record_url(provider, candidate_id=candidate.external_id, application_id=app.external_id,
                             workable_subdomain=subdomain, profile_url=profile_url)
    erased = candidate.erased_at is not None
    return page(
        "dashboard/application.html", app=app, candidate=candidate, job=job, erased=erased,
        candidate_label=ERASED if erased else (candidate.name or "(no name)"),
        entries=entries, obligations=obligations, audit=_audit_entries(who.org_id, app, obligations),
        events_truncated=events_truncated, max_events=MAX_EVENTS, provider=provider, ats_url=ats_url,
        when=lambda at: local_time(at, zone), rung_labels=RUNG_LABELS, excerpt=reply_excerpt, now=now(),
        met=lambda obligation: outcomes.met(obligation, now()),
        can_send_update=(who.role is not Role.VIEWER and not erased and app.status is ApplicationStatus.ACTIVE
                         and any(o.state is ObligationState.OPEN for o in obligations)),
        **extra,
    )


# -- a message as sent ----------------------------------------------------------------------------


def visible_notification(who: Viewer, notification_id: int) -> Notification:
    """A notification of this organisation that the viewer may see (managers: only their jobs' ones)."""
    statement = (select(Notification)
                 .outerjoin(Application, Application.id == Notification.application_id)
                 .outerjoin(Job, Job.id == Application.job_id)
                 .where(Notification.id == notification_id, Notification.org_id == who.org_id))
    if who.sees_whole_organization:
        statement = statement.where(or_(Notification.application_id.is_(None), visible_jobs(who)))
    else:
        statement = statement.where(visible_jobs(who))
    notification = db().scalar(statement)
    if notification is None:
        abort(404)
    return notification


def sandboxed_html(html: str) -> Response:
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = MESSAGE_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/messages/<int:notification_id>/html")
def message_html(notification_id: int) -> Response:
    notification = visible_notification(viewer(), notification_id)
    if not notification.body_html:
        abort(404)
    return sandboxed_html(notification.body_html)
