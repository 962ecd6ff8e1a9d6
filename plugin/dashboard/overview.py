"""GET /dashboard/: the overview (on-time rate, trend, at risk, breached, speed, autopilot, per-group tables).

Query string (all optional):
- department, job (a Job id), period = 30 | 90 | custom, from / to (YYYY-MM-DD, organisation-local);
- table = manager | recruiter | department | job, with sort = <column> and dir = asc | desc: sorts
  that one table (server-side; the header links carry the other filters along);
- export = manager | recruiter | department | job | at_risk | breached | neglected: the same numbers as CSV.
Invalid values answer 400 with the page, the message next to the field, and no numbers.
The numbers themselves live in `plugin.reports.overview_figures` and the modules it reads (no Flask
there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from flask import Response, request, url_for

from plugin.dashboard import bp, csv_response, db, local_time, now, organization, page, viewer
from plugin.dashboard.i18n import gettext
from plugin.dashboard.scope import visible_jobs
from plugin.reports import breakdown, cycle_lists, metrics, overview_figures
from plugin.sla.policy import calendar_for
from plugin.web.numbers import ascii_int

LISTS = {"at_risk": "At risk now", "breached": "Breached", "neglected": "Neglected"}
DEFAULT_SORT: tuple[str, Literal["asc", "desc"]] = ("cycles", "desc")


@dataclass
class Filters:
    department: str | None = None
    job_id: int | None = None
    period: str = metrics.DEFAULT_PERIOD
    first: str = ""
    last: str = ""
    table: str | None = None  # the table `sort` applies to
    sort: str | None = None
    direction: Literal["asc", "desc"] = "desc"
    export: str | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def query(self, **changes: Any) -> dict[str, Any]:
        """The filters as URL parameters (empty ones left out), with `changes` applied."""
        values: dict[str, Any] = {"department": self.department, "job": self.job_id, "period": self.period}
        if self.period == "custom":
            values.update({"from": self.first, "to": self.last})
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "")}

    def sorting(self, table: str) -> tuple[str, Literal["asc", "desc"]]:
        if self.table == table and self.sort:
            return self.sort, self.direction
        return DEFAULT_SORT


def _job_id(raw: str) -> int | None:
    try:
        return ascii_int(raw)
    except ValueError:
        return None


def _read_filters(args: Mapping[str, str], options: tuple[list[str], list[metrics.JobOption]]) -> Filters:
    departments, jobs = options
    f = Filters()
    department = (args.get("department") or "").strip()
    if department:
        if department in departments:
            f.department = department
        else:
            f.errors["department"] = gettext("There is no department %(department)s among the jobs you can see.",
                                               department=repr(department[:80]))
    job = (args.get("job") or "").strip()
    if job:
        job_id = _job_id(job)
        if job_id is not None and any(option.id == job_id for option in jobs):
            f.job_id = job_id
        else:
            f.errors["job"] = gettext("Choose a job from the list; that job does not exist or is outside what you can "
                                      "see.")
    f.period = (args.get("period") or "").strip()
    f.first, f.last = (args.get("from") or "").strip(), (args.get("to") or "").strip()
    if not f.period:
        f.period = "custom" if f.first or f.last else metrics.DEFAULT_PERIOD
    export = (args.get("export") or "").strip()
    if export:
        if export in breakdown.TABLES or export in LISTS:
            f.export = export
        else:
            f.errors["export"] = gettext("Unknown export %(export)s: choose one of %(choices)s.", export=repr(export[:40]),
                                         choices=", ".join([*breakdown.TABLES, *LISTS]))
    table = (args.get("table") or "").strip() or (f.export if f.export in breakdown.TABLES else "")
    sort = (args.get("sort") or "").strip()
    direction = (args.get("dir") or "").strip()
    if table and table not in breakdown.TABLES:
        f.errors["sort"] = gettext("Unknown table %(table)s: choose one of %(choices)s.", table=repr(table[:40]),
                                   choices=", ".join(breakdown.TABLES))
    elif sort and not table:
        f.errors["sort"] = gettext("Say which table to sort (table=manager, recruiter, department or job).")
    elif sort and sort not in breakdown.COLUMNS:
        f.errors["sort"] = gettext("Unknown column %(column)s: choose one of %(choices)s.", column=repr(sort[:40]),
                                   choices=", ".join(breakdown.COLUMNS))
    elif direction and direction not in ("asc", "desc"):
        f.errors["sort"] = gettext("The sort direction must be asc or desc.")
    else:
        f.table = table or None
        f.sort = sort or None
        f.direction = "asc" if direction == "asc" else "desc"
    return f


def timeline_url(application_id: int) -> str:
    return url_for("dashboard.application", application_id=application_id)


def in_zone(zone: ZoneInfo) -> Callable[[datetime | None], str]:
    """The page's time formatter: 'Mon 9 Nov 2026, 17:00 EST' in the organisation's zone."""
    return lambda instant: local_time(instant, zone)


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}"


def _days(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@bp.get("/")
def overview() -> Any:
    session = db()
    me = viewer()
    org = organization()
    calendar = calendar_for(org)
    zone = ZoneInfo(org.timezone)
    current = now()
    visible = visible_jobs(me)
    options = metrics.filter_options(session, visible)
    filters = _read_filters(request.args, options)
    period = None
    if "period" not in filters.errors:
        try:
            period = metrics.parse_period(filters.period, filters.first, filters.last, current, calendar)
        except metrics.FilterError as exc:
            filters.errors[exc.field] = exc.message
    context: dict[str, Any] = dict(
        title=gettext("Overview"), filters=filters, departments=options[0], jobs=options[1], tables=breakdown.TABLES,
        columns=breakdown.COLUMNS, lists=LISTS, when=in_zone(zone), timeline_url=timeline_url,
        zone_name=org.timezone, list_limit=overview_figures.LIST_LIMIT, percent=_percent, days=_days,
        status=_status,
    )
    if filters.errors or period is None:
        return page("dashboard/overview.html", data=None, **context), 400
    where = metrics.job_filter(visible, filters.department, filters.job_id)
    if filters.export:
        return _export(filters, session, org.id, where, period, current, calendar, org.policy or {}, zone)
    data = overview_figures.overview(session, org.id, where, period, current, calendar, org.policy or {})
    tables = {name: breakdown.sort_rows(rows, *filters.sorting(name)) for name, rows in data.tables.items()}
    chart = {
        "zone": org.timezone,
        "weeks": [{"x": int(w.start.timestamp()), "from": w.first_day.isoformat(), "to": w.last_day.isoformat(),
                   "rate": None if w.rate.value is None else round(w.rate.value * 100, 1),
                   "on_time": w.rate.on_time, "total": w.rate.total} for w in data.weeks],
    }
    return page("dashboard/overview.html", data=data, sorted_tables=tables, chart=chart,
                **context)


def _export(filters: Filters, session: Any, org_id: str, where: Any, period: metrics.Period, current: datetime,
            calendar: Any, org_policy: dict[str, Any], zone: ZoneInfo) -> Response:
    stamp = f"{calendar.local_date(current).isoformat()}"
    name = filters.export or ""
    if name in breakdown.TABLES:
        tables = breakdown.group_tables(session, org_id, where, period, current, calendar)
        rows = breakdown.sort_rows(tables[name], *filters.sorting(name))
        header = [breakdown.TABLES[name], "Cycles", "On time", "On-time rate (%)", "Breached",
                  "Autopilot step-ins", "Median business days to first update"]
        return csv_response(f"ghostless-{name.replace('_', '-')}-{stamp}.csv", header, (
            [r.label, r.cycles, r.on_time, _percent(r.rate), r.breached, r.step_ins, _days(r.median_days)]
            for r in rows))
    local = lambda instant: instant.astimezone(zone).isoformat() if instant else ""  # noqa: E731
    if name == "at_risk":
        risky = cycle_lists.at_risk_now(session, org_id, where, current, calendar, org_policy, limit=None)
        header = ["Candidate", "Job", "Department", "Cycle", f"Due ({zone.key})", "Owner", "Next step",
                  f"Next step at ({zone.key})", "Mail undeliverable", "Timeline"]
        return csv_response(f"ghostless-at-risk-{stamp}.csv", header, (
            [r.candidate, r.job, r.department, r.cycle, local(r.due_at), r.owner, r.next_step,
             local(r.next_step_at), "yes" if r.at_risk else "no", request.host_url.rstrip("/") +
             timeline_url(r.application_id)] for r in risky))
    if name == "neglected":
        header = ["Candidate", "Job", "Department", "Cycle", "Autopilot updates in a row", f"Next news due ({zone.key})",
                  "Owner", "Timeline"]
        return csv_response(f"ghostless-neglected-{stamp}.csv", header, (
            [r.candidate, r.job, r.department, r.cycle, r.autopilot_run, local(r.due_at), r.owner,
             request.host_url.rstrip("/") + timeline_url(r.application_id)]
            for r in cycle_lists.neglected(session, org_id, where, limit=None)))
    late = cycle_lists.breached(session, org_id, where, period, current, limit=None)
    header = ["Candidate", "Job", "Department", "Cycle", f"Due ({zone.key})", "Owner", "Reason", "Status",
              f"Answered at ({zone.key})", "Timeline"]
    return csv_response(f"ghostless-breached-{stamp}.csv", header, (
        [r.candidate, r.job, r.department, r.cycle, local(r.due_at), r.owner, r.reason, _status(r),
         local(r.discharged_at), request.host_url.rstrip("/") + timeline_url(r.application_id)] for r in late))


def _status(row: cycle_lists.ListRow) -> str:
    if row.state.value == "open":
        return "still waiting"
    if row.state.value == "discharged":
        return "answered late"
    return "closed"
