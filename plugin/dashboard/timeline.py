"""Candidates: the list of applications a viewer may see, and one application's whole story.

- GET /dashboard/applications: search (name, email, ATS id), status and "waiting" filters, newest first,
  50 a page. Paged by key (`before`/`after` an application id), never by COUNT(*) or OFFSET, so the
  last page of 50,000 applications costs what the first one does.
- GET /dashboard/applications/<id>: the timeline, newest first: inbound events, obligation cycles,
  messages (candidate-facing ones as sent), delivery events, replies, and the audit trail.
- GET /dashboard/messages/<id>/html: a message's HTML exactly as sent, for a sandboxed iframe, under
  its own CSP (no scripts, no requests except images, sandboxed even when opened directly).

Every query joins Job and applies `visible_jobs`; an id outside the viewer's scope is a 404. The
timeline's lines are worded in `timeline_entries`; the link to the ATS is built in `ats_links`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, request, url_for
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import aliased

from plugin.dashboard import bp, db, local_time, now, organization, page, viewer
from plugin.dashboard.ats_links import application_ats_link
from plugin.dashboard.i18n import gettext, lazy_gettext
from plugin.dashboard.scope import Viewer, visible_jobs
from plugin.dashboard.timeline_entries import timeline_entries
from plugin.models import (
    Application,
    ApplicationStatus,
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
from plugin.web.numbers import ascii_int

PAGE_SIZE = 50
MAX_QUERY_LENGTH = 200
MAX_EVENTS = 1000  # an application with more inbound events than this shows the newest ones and says so
ERASED = "(erased)"

# The HTML of a message is the organisation's template filled with ATS data: treat it as hostile.
# `sandbox` (no allow-* tokens) also applies when someone opens the URL directly, outside the iframe.
MESSAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; sandbox; "
               "frame-ancestors 'self'")

RUNG_LABELS = {
    Rung.REMINDER_RECRUITER: lazy_gettext("reminder to the recruiter"),
    Rung.REMINDER_HIRING_MANAGER: lazy_gettext("reminder to the hiring manager"),
    Rung.AUTOPILOT: lazy_gettext("autopilot status update (or escalation to talent ops)"),
    Rung.DEADLINE: lazy_gettext("deadline (a breach is recorded)"),
    Rung.DONE: lazy_gettext("nothing more"),
}


# -- times --------------------------------------------------------------------------------------


def _org_zone() -> ZoneInfo:
    return ZoneInfo(organization().timezone)


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
    return ascii_int(raw)  # ValueError for anything but ASCII digits within 64 bits


def parse_list_query(args: Mapping[str, str]) -> ListQuery:
    query = ListQuery(q=(args.get("q") or "").strip(), status=(args.get("status") or "").strip(),
                      waiting=args.get("waiting") in ("1", "on", "true", "yes"))
    if len(query.q) > MAX_QUERY_LENGTH:
        query.errors["q"] = gettext("Search for at most %(limit)s characters.", limit=MAX_QUERY_LENGTH)
    if query.status and query.status not in {s.value for s in ApplicationStatus}:
        query.errors["status"] = gettext("Choose one of the listed statuses.")
    try:
        query.before, query.after = _positive_int(args.get("before")), _positive_int(args.get("after"))
    except ValueError:
        query.errors["page"] = gettext("That page link is not valid; start again from the first page.")
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

    entries = timeline_entries(events, obligations, notifications, mail_events, replies, zone)
    provider, ats_url = application_ats_link(who.org_id, events, candidate, app)
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
