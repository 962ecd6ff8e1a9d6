"""Compliance pages: the Ontario ESA report and the proof-of-notice export (issue 5, item 4).

The reports themselves (what counts as told, the 45 days, delivered times) are in
plugin.reports.compliance and plugin.reports.proof_export; this module parses the filters, pages the
HTML tables and writes the CSV exports, which hold every row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.dashboard import bp, csv_response, db, now, organization, page, viewer
from plugin.dashboard.i18n import gettext
from plugin.dashboard.scope import visible_jobs
from plugin.models import Application, Job
from plugin.reports.compliance import (
    ESA_STATUSES,
    ONTARIO_DAYS,
    Filters,
    JobOption,
    OntarioReport,
    local_time_iso,
)
from plugin.reports.proof import build_proof, render_page
from plugin.reports.proof_export import ProofExport
from plugin.web.numbers import ascii_int

PAGE_SIZE = 100  # HTML tables; the CSV has every row

# Where the rules come from: shown on the pages and kept here so the text and the code agree.
SOURCES = {
    "regulation": ("O. Reg. 476/24, Rules and Exemptions re Job Postings (Employment Standards Act, 2000)",
                   "https://www.ontario.ca/laws/regulation/240476"),
    "summary": ("Bennett Jones, New Regulations Regarding the Hiring Process: Key Dates and Information for "
                "Ontario Employers (12 December 2024)",
                "https://bennettjones.com/Blogs-Section/New-Regulations-Regarding-the-Hiring-Process-Key-Dates-"
                "and-Information-for-Ontario-Employers"),
}

# -- filters ----------------------------------------------------------------------------------------

def _job_options(session: Session) -> list[JobOption]:
    rows = session.execute(select(Job.id, Job.title, Job.external_id, Job.publicly_advertised)
                           .where(visible_jobs(viewer())).order_by(Job.title, Job.external_id)).all()
    return [JobOption(id=r.id, label=f"{r.title or gettext('Untitled job')} ({r.external_id})",
                      publicly_advertised=r.publicly_advertised) for r in rows]


def _parse_filters(args: Mapping[str, str], jobs: Sequence[JobOption], *, with_status: bool) -> Filters:
    raw = {name: (args.get(name) or "").strip() for name in ("job", "from", "to", "status", "page")}
    found = Filters(raw=raw)
    if raw["job"]:
        by_id = {str(j.id): j for j in jobs}
        found.job = by_id.get(raw["job"])
        if found.job is None:  # unknown, or another department's/organisation's: the same answer
            found.errors["job"] = gettext("Choose a job from the list; this one is unknown or not yours to see.")
    for name in ("from", "to"):
        if raw[name]:
            try:
                value = date.fromisoformat(raw[name])
            except ValueError:
                found.errors[name] = gettext("Enter a date as YYYY-MM-DD, e.g. 2026-11-02.")
                continue
            if name == "from":
                found.start = value
            else:
                found.end = value
    if found.start and found.end and found.start > found.end:
        found.errors["to"] = gettext("The end date must be on or after the start date.")
    if with_status:
        found.status = raw["status"] or "all"
        if found.status not in ESA_STATUSES:
            found.errors["status"] = gettext("Choose one of the listed statuses.")
    if raw["page"]:
        try:
            found.page = ascii_int(raw["page"], minimum=1)
        except ValueError:
            found.errors["page"] = gettext("The page number must be a whole number from 1.")
    return found


@dataclass
class Pager:
    page: int
    pages: int
    total: int
    link: Callable[[int], str]

    @property
    def first_row(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * PAGE_SIZE + 1

    @property
    def last_row(self) -> int:
        return min(self.page * PAGE_SIZE, self.total)


def _pager(endpoint: str, filters: Filters, total: int) -> Pager:
    pages = max(1, -(-total // PAGE_SIZE))
    args = filters.query_args
    return Pager(page=min(filters.page, pages), pages=pages, total=total,
                 link=lambda n: url_for(endpoint, **args, page=n))


def _timeline_link() -> Callable[[int], str]:
    return lambda application_id: url_for("dashboard.application", application_id=application_id)


# -- the landing page -------------------------------------------------------------------------------

@bp.get("/compliance")
def compliance() -> str:
    session = db()
    org = organization()
    zone = ZoneInfo(org.timezone)
    jobs = _job_options(session)
    report = OntarioReport(session, org.id, visible_jobs(viewer()), zone, Filters(), now())
    return page("dashboard/compliance.html", title=gettext("Compliance"), jobs=jobs, filters=Filters(),
                summary=report.summary(), statuses=ESA_STATUSES, sources=SOURCES, days=ONTARIO_DAYS)


# -- the Ontario ESA report -------------------------------------------------------------------------

def _ontario_context(filters: Filters, jobs: list[JobOption]) -> dict[str, Any]:
    return {"title": gettext("Ontario ESA report"), "jobs": jobs, "filters": filters, "statuses": ESA_STATUSES,
            "sources": SOURCES, "days": ONTARIO_DAYS}


@bp.get("/compliance/ontario-esa")
def ontario_esa() -> tuple[str, int] | str:
    session = db()
    org = organization()
    zone = ZoneInfo(org.timezone)
    jobs = _job_options(session)
    filters = _parse_filters(request.args, jobs, with_status=True)
    if filters.errors:
        return page("dashboard/compliance_ontario.html", **_ontario_context(filters, jobs)), 400
    report = OntarioReport(session, org.id, visible_jobs(viewer()), zone, filters, now())
    summary, rows = report.summary_and_rows(offset=(filters.page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    pager = _pager("dashboard.ontario_esa", filters, report.count(summary, filters.status))
    if pager.page != filters.page:  # asked for a page past the last one: show the last one
        summary, rows = report.summary_and_rows(offset=(pager.page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return page("dashboard/compliance_ontario.html", **_ontario_context(filters, jobs), summary=summary,
                rows=rows, pager=pager, today=report.today, timeline=_timeline_link(),
                csv_url=url_for("dashboard.ontario_esa_csv", **filters.query_args))


ESA_CSV_HEADER = (
    "application_id", "candidate", "job", "publicly_advertised", "application_status", "last_interview",
    "last_interview_day", "days_since_last_interview", "due_by", "told_whether_decision_made", "told_at",
    "told_by", "overdue_since", "timeline_url",
)


@bp.get("/compliance/ontario-esa.csv")
def ontario_esa_csv() -> Response | tuple[str, int]:
    session = db()
    org = organization()
    zone = ZoneInfo(org.timezone)
    jobs = _job_options(session)
    filters = _parse_filters(request.args, jobs, with_status=True)
    if filters.errors:
        return page("dashboard/compliance_ontario.html", **_ontario_context(filters, jobs)), 400
    report = OntarioReport(session, org.id, visible_jobs(viewer()), zone, filters, now())
    timeline = _timeline_link()
    base = request.host_url.rstrip("/")

    def lines() -> Iterator[list[Any]]:
        for row in report.rows():
            yield [row.application_id, row.candidate, row.job, "assumed (not said)" if row.assumed_public else "yes",
                   row.status, local_time_iso(row.last_interview, zone), row.last_interview_day.isoformat(),
                   row.days_since, row.due_by.isoformat(),
                   {"told": "yes", "overdue": "no (overdue)", "not_yet": "not yet"}[row.state],
                   local_time_iso(row.told_at, zone), row.told_how or "",
                   row.overdue_since.isoformat() if row.state == "overdue" else "",
                   base + timeline(row.application_id)]

    return csv_response(f"ontario-esa-{report.today.isoformat()}.csv", ESA_CSV_HEADER, lines())


# -- the proof-of-notice export ---------------------------------------------------------------------

def _proof_context(filters: Filters, jobs: list[JobOption]) -> dict[str, Any]:
    return {"title": gettext("Proof of notice"), "jobs": jobs, "filters": filters}


@bp.get("/compliance/proof")
def proof_export() -> tuple[str, int] | str:
    session = db()
    org = organization()
    zone = ZoneInfo(org.timezone)
    jobs = _job_options(session)
    filters = _parse_filters(request.args, jobs, with_status=False)
    if filters.errors:
        return page("dashboard/compliance_proof.html", **_proof_context(filters, jobs)), 400
    export = ProofExport(session, org.id, visible_jobs(viewer()), zone, filters)
    pager = _pager("dashboard.proof_export", filters, export.count())
    rows = list(export.rows(offset=(pager.page - 1) * PAGE_SIZE, limit=PAGE_SIZE))
    return page("dashboard/compliance_proof.html", **_proof_context(filters, jobs), rows=rows, pager=pager,
                timeline=_timeline_link(), csv_url=url_for("dashboard.proof_export_csv", **filters.query_args))


PROOF_CSV_HEADER = (
    "notification_id", "application_id", "candidate", "recipient_email", "job", "kind", "subject", "sent_at",
    "delivered_at", "delivery_status", "provider", "provider_message_id", "sent_at_utc", "delivered_at_utc",
)


@bp.get("/compliance/proof.csv")
def proof_export_csv() -> Response | tuple[str, int]:
    session = db()
    org = organization()
    zone = ZoneInfo(org.timezone)
    jobs = _job_options(session)
    filters = _parse_filters(request.args, jobs, with_status=False)
    if filters.errors:
        return page("dashboard/compliance_proof.html", **_proof_context(filters, jobs)), 400
    export = ProofExport(session, org.id, visible_jobs(viewer()), zone, filters)

    def lines() -> Iterator[list[Any]]:
        for row in export.rows():
            yield [row.notification_id, row.application_id, row.candidate, row.recipient, row.job, row.kind,
                   row.subject, local_time_iso(row.sent_at, zone), local_time_iso(row.delivered_at, zone),
                   row.delivery_status, row.provider, row.provider_message_id, row.sent_at,
                   row.delivered_at]

    return csv_response(f"proof-of-notice-{now().astimezone(zone).date().isoformat()}.csv", PROOF_CSV_HEADER, lines())


# -- one application's printable proof ---------------------------------------------------------------

@bp.get("/applications/<int:application_id>/proof")
def application_proof(application_id: int) -> Response:
    """The API's printable proof document (plugin/api/proof.py), for a dashboard user in scope."""
    session = db()
    org = organization()
    app = session.scalar(select(Application).join(Job, Job.id == Application.job_id)
                         .where(Application.id == application_id, Application.org_id == org.id, visible_jobs(viewer())))
    if app is None:
        abort(404)
    response = Response(render_page(build_proof(session, org, app, generated_at=now())), mimetype="text/html")
    # The same policy as the API's printable page: it shows text from ATSs and candidates, runs
    # nothing and loads nothing (its styles are inline, for printing without the dashboard's CSS).
    response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                                                   "form-action 'none'; frame-ancestors 'self'")
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
