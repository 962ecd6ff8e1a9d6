"""The period's figures per hiring manager, recruiter, department and job (the overview's tables).

Aggregates are computed in SQL, grouped by job (`Outcomes.per_job`); the hiring-manager, recruiter
and department tables are roll-ups of the per-job rows in Python (a few hundred rows at most), so one
query serves all four.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any, Literal

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from plugin.models import Job
from plugin.reports.metrics import Outcomes, Period, Rate, job_label, person_label
from plugin.reports.speed import first_update_days
from plugin.sla.calendar import BusinessCalendar

TABLES = {
    "manager": "Hiring manager",
    "recruiter": "Recruiter",
    "department": "Department",
    "job": "Job",
}
COLUMNS = {
    "label": "Name",
    "cycles": "Cycles",
    "on_time": "On time",
    "rate": "On-time rate",
    "breached": "Breached",
    "step_ins": "Autopilot step-ins",
    "median_days": "Median business days to first update",
}
NUMERIC_COLUMNS = frozenset(COLUMNS) - {"label"}


@dataclass
class GroupRow:
    key: str
    label: str
    on_time: int = 0
    cycles: int = 0
    step_ins: int = 0
    days: list[int] = field(default_factory=list)
    job_id: int | None = None  # the job table links to the job filter
    department: str | None = None  # the department table links to the department filter

    @property
    def breached(self) -> int:
        return self.cycles - self.on_time

    @property
    def rate(self) -> float | None:
        return self.on_time / self.cycles if self.cycles else None

    @property
    def median_days(self) -> float | None:
        return float(median(self.days)) if self.days else None

    def value(self, column: str) -> Any:
        return getattr(self, column)


@dataclass(frozen=True)
class JobInfo:
    id: int
    title: str | None
    external_id: str
    department: str | None
    hiring_manager_name: str | None
    hiring_manager_email: str | None
    recruiter_name: str | None
    recruiter_email: str | None


def _group_keys(job: JobInfo) -> dict[str, tuple[str, str]]:
    return {
        "manager": ((job.hiring_manager_email or job.hiring_manager_name or "").lower(),
                    person_label(job.hiring_manager_name, job.hiring_manager_email)),
        "recruiter": ((job.recruiter_email or job.recruiter_name or "").lower(),
                      person_label(job.recruiter_name, job.recruiter_email)),
        "department": (job.department or "", job.department or "(no department)"),
        "job": (str(job.id), job_label(job.title, job.external_id)),
    }


def group_tables(session: Session, org_id: str, where: ColumnElement[bool], period: Period, now: datetime,
                 calendar: BusinessCalendar, outcomes: Outcomes | None = None) -> dict[str, list[GroupRow]]:
    """The period's numbers per hiring manager, recruiter, department and job (unsorted)."""
    if outcomes is None:
        outcomes = Outcomes.read(session, org_id, where, [period.start, period.end], now)
    per_job = outcomes.per_job(period.start, period.end)
    days = first_update_days(session, org_id, where, period, calendar)
    job_ids = set(per_job) | set(days)
    jobs = [JobInfo(*r) for r in session.execute(
        select(Job.id, Job.title, Job.external_id, Job.department, Job.hiring_manager_name,
               Job.hiring_manager_email, Job.recruiter_name, Job.recruiter_email)
        .where(Job.id.in_(job_ids), where))] if job_ids else []
    tables: dict[str, dict[str, GroupRow]] = {name: {} for name in TABLES}
    for job in jobs:
        rate = per_job.get(job.id, Rate(0, 0, 0))
        for table, (key, label) in _group_keys(job).items():
            row = tables[table].get(key)
            if row is None:
                row = tables[table][key] = GroupRow(key=key, label=label)
                if table == "job":
                    row.job_id = job.id
                if table == "department":
                    row.department = job.department
            row.on_time += rate.on_time
            row.cycles += rate.total
            row.step_ins += rate.step_ins
            row.days.extend(days.get(job.id, ()))
    return {name: list(rows.values()) for name, rows in tables.items()}


def sort_rows(rows: Iterable[GroupRow], column: str, direction: Literal["asc", "desc"]) -> list[GroupRow]:
    """Sorted by `column`; rows without a value (no cycles, no speed) always last; ties by name."""
    by_name = sorted(rows, key=lambda r: r.label.lower())
    if column == "label":
        return sorted(by_name, key=lambda r: r.label.lower(), reverse=direction == "desc")
    present = [r for r in by_name if r.value(column) is not None]
    absent = [r for r in by_name if r.value(column) is None]
    return sorted(present, key=lambda r: r.value(column), reverse=direction == "desc") + absent
