"""The overview's numbers: on-time rate, trend, at risk, breached, speed, autopilot, per-group tables.

No Flask here: every function takes a SQLAlchemy session, a WHERE clause on `Job` (the viewer's
scope plus the page's filters, see `job_filter`) and instants, so the numbers can be tested and timed
on their own.

Every number counts cycles (obligations) by their outcome, defined once in `plugin.reports.outcomes`
(the demo summary and the API's `met` use the same rule): on time at discharged_at, missed at due_at,
or neither (not yet due, or nothing owed). A cycle belongs to a period when its outcome instant falls
in the period. Because an on-time outcome
happens at discharged_at and a missed one at due_at, the cohort is always inside
`due_at in period OR discharged_at in period`, which the (org_id, due_at) and (org_id, discharged_at)
indexes answer; the exact classification is then a CASE in the same query.

Aggregates are computed in SQL, grouped by job; the hiring-manager, recruiter and department tables
are roll-ups of the per-job rows in Python (a few hundred rows at most), so one query serves all four.
Medians need the individual values, so the speed metric fetches two instants per first-update cycle
and counts working days with a precomputed, sorted list of the range's working dates (bisect), not
the holidays library per row.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    extract,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from plugin.models import Application, Candidate, Job, Obligation, ObligationState, Rung
from plugin.reports.outcomes import outcome_columns
from plugin.sla.calendar import BusinessCalendar
from plugin.sla.policy import merge_policy

ROLLING_PERIODS = {"30": 30, "90": 90}
DEFAULT_PERIOD = "30"
MAX_CUSTOM_DAYS = 731  # two years: the weekly chart stays readable and the query bounded
AT_RISK_WORKING_DAYS = 2
LIST_LIMIT = 100  # rows shown on the page per list (one more is read to know); the CSV has them all

BREACH_REASONS = {
    "forgotten": "nobody sent an update",
    "undeliverable": "mail could not be delivered",
    "autopilot_off": "autopilot is off for this job",
    "late": "the update could not go out in time (the sweeper or a worker was late)",
    "unknown": "a message may have gone out; the mail provider has not confirmed it yet",
}
LATE_ANSWER = "the update came after the deadline"

RUNG_WORDS = {
    Rung.REMINDER_RECRUITER: "reminder to the recruiter",
    Rung.REMINDER_HIRING_MANAGER: "reminder to the hiring manager",
    Rung.AUTOPILOT: "autopilot sends an update",
    Rung.DEADLINE: "deadline passes (breach)",
    Rung.DONE: "nothing more scheduled",
}
ESCALATION_WORDS = "escalation to talent ops (autopilot is off)"
UNDELIVERABLE_ESCALATION_WORDS = "escalation: someone must reach the candidate another way"


class FilterError(ValueError):
    """A filter value the page cannot use; `field` names the form field it came from."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


# --- periods ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    key: str  # "30", "90" or "custom"
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC
    label: str
    first_day: date | None = None  # the custom period's dates, organisation-local
    last_day: date | None = None


def rolling_period(days: int, now: datetime) -> Period:
    # "Up to now" includes an outcome at this very instant.
    return Period(key=str(days), start=now - timedelta(days=days), end=now + timedelta(seconds=1),
                  label=f"last {days} days")


def parse_period(period: str | None, first: str | None, last: str | None, now: datetime,
                 calendar: BusinessCalendar) -> Period:
    """The period the filter form asks for; FilterError with a message for the field otherwise."""
    first, last = (first or "").strip(), (last or "").strip()
    key = (period or "").strip() or ("custom" if first or last else DEFAULT_PERIOD)
    if key in ROLLING_PERIODS:
        return rolling_period(ROLLING_PERIODS[key], now)
    if key != "custom":
        raise FilterError("period", f"Unknown period {key!r}: choose the last 30 days, the last 90 days or dates.")
    start_day = _parse_day("from", first)
    end_day = _parse_day("to", last)
    today = calendar.local_date(now)
    if start_day > end_day:
        raise FilterError("to", "The end date must be on or after the start date.")
    if end_day > today:
        raise FilterError("to", f"The end date cannot be in the future (today is {today.isoformat()}).")
    if (end_day - start_day).days + 1 > MAX_CUSTOM_DAYS:
        raise FilterError("from", f"Choose at most {MAX_CUSTOM_DAYS} days.")
    return Period(key="custom", start=calendar.local_instant(start_day, time(0)),
                  end=calendar.local_instant(end_day + timedelta(days=1), time(0)),
                  label=f"{start_day.isoformat()} to {end_day.isoformat()}", first_day=start_day, last_day=end_day)


def _parse_day(field_name: str, value: str) -> date:
    if not value:
        raise FilterError(field_name, "Enter a date (YYYY-MM-DD), or choose the last 30 or 90 days.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(field_name, f"{value[:40]!r} is not a date; use the form YYYY-MM-DD.") from None


# --- scope and filters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class JobOption:
    id: int
    label: str
    department: str | None


def filter_options(session: Session, visible: ColumnElement[bool]) -> tuple[list[str], list[JobOption]]:
    """The departments and jobs the viewer may filter by (only what they can see)."""
    rows = session.execute(
        select(Job.id, Job.title, Job.external_id, Job.department).where(visible)
        .order_by(Job.title, Job.external_id)
    ).all()
    departments = sorted({r.department for r in rows if r.department})
    jobs = [JobOption(r.id, job_label(r.title, r.external_id), r.department) for r in rows]
    return departments, jobs


def job_filter(visible: ColumnElement[bool], department: str | None, job_id: int | None) -> ColumnElement[bool]:
    clause = visible
    if department:
        clause = and_(clause, Job.department == department)
    if job_id is not None:
        clause = and_(clause, Job.id == job_id)
    return clause


def job_label(title: str | None, external_id: str) -> str:
    return f"{title} ({external_id})" if title else external_id


# --- the cohort of a period (outcomes as in plugin.reports.outcomes) ----------------------------------------


def _cohort(query: Select[Any], org_id: str, where: ColumnElement[bool], start: datetime, end: datetime,
            now: datetime) -> Select[Any]:
    """Obligations whose outcome fell in [start, end), for the jobs `where` selects."""
    on_time, missed, instant = outcome_columns(now)
    return (
        query.select_from(Obligation)
        .join(Application, Application.id == Obligation.application_id)
        .join(Job, Job.id == Application.job_id)
        .where(
            Obligation.org_id == org_id,  # lets the (org_id, due_at/discharged_at) indexes serve the range
            or_(and_(Obligation.due_at >= start, Obligation.due_at < end),
                and_(Obligation.discharged_at >= start, Obligation.discharged_at < end)),
            or_(on_time, missed),
            instant >= start,
            instant < end,
            where,
        )
    )


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# --- rates -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    on_time: int
    total: int
    step_ins: int = 0

    @property
    def missed(self) -> int:
        return self.total - self.on_time

    @property
    def value(self) -> float | None:
        """On-time share (0..1); None when no deadline fell in the period (never divide by zero)."""
        return self.on_time / self.total if self.total else None

    @property
    def percent(self) -> str:
        return "—" if self.value is None else f"{self.value * 100:.0f}%"


class Outcomes:
    """Outcome counts per (job, time bucket) from one GROUP BY pass over a range of the ledger.

    The buckets are cut at `boundaries` (sorted UTC instants; the range is [first, last)), so any
    span whose ends are boundaries (the 30/90-day tiles, the period, each week) is an exact sum of
    buckets. One pass over the indexes serves the tiles, the trend and the per-group tables.
    """

    def __init__(self, boundaries: Iterable[datetime], counts: dict[tuple[int, int], tuple[int, int, int]]) -> None:
        self.boundaries = sorted(set(boundaries))
        self.counts = counts

    @classmethod
    def read(cls, session: Session, org_id: str, where: ColumnElement[bool], boundaries: Iterable[datetime],
             now: datetime) -> Outcomes:
        cuts = sorted(set(boundaries))
        on_time, _, instant = outcome_columns(now)
        bucket = _bucket_of(instant, cuts, 0, len(cuts) - 2)
        query = _cohort(select(Application.job_id, bucket.label("bucket"), _count(on_time), func.count(),
                               _count(Obligation.autopilot_stepped_in.is_(True))),
                        org_id, where, cuts[0], cuts[-1], now)
        rows = session.execute(query.group_by(Application.job_id, literal_column("bucket"))).all()
        return cls(cuts, {(int(job), int(b)): (int(on), int(total), int(steps)) for job, b, on, total, steps in rows})

    def _indexes(self, start: datetime, end: datetime) -> range:
        return range(self.boundaries.index(start), self.boundaries.index(end))

    def per_job(self, start: datetime, end: datetime) -> dict[int, Rate]:
        wanted = set(self._indexes(start, end))
        sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
        for (job, index), values in self.counts.items():
            if index in wanted:
                for i, value in enumerate(values):
                    sums[job][i] += value
        return {job: Rate(*values) for job, values in sums.items()}

    def rate(self, start: datetime, end: datetime) -> Rate:
        jobs = self.per_job(start, end).values()
        return Rate(sum(r.on_time for r in jobs), sum(r.total for r in jobs), sum(r.step_ins for r in jobs))


def _bucket_of(instant: ColumnElement[Any], cuts: Sequence[datetime], low: int, high: int) -> ColumnElement[Any]:
    """Bucket i (low <= i <= high) holds [cuts[i], cuts[i + 1]): a balanced CASE tree, so a year of
    weeks costs ~6 comparisons per row rather than ~27. Literal indexes keep SELECT and GROUP BY equal."""
    if low == high:
        return literal_column(str(low))
    middle = (low + high + 1) // 2
    return case((instant < cuts[middle], _bucket_of(instant, cuts, low, middle - 1)),
                else_=_bucket_of(instant, cuts, middle, high))


def rate_between(session: Session, org_id: str, where: ColumnElement[bool], start: datetime, end: datetime,
                 now: datetime) -> Rate:
    return Outcomes.read(session, org_id, where, [start, end], now).rate(start, end)


@dataclass(frozen=True)
class Week:
    start: datetime  # UTC instant of the bucket's start (local midnight, or the period's start)
    first_day: date  # organisation-local
    last_day: date
    rate: Rate


def week_starts(period: Period, calendar: BusinessCalendar) -> list[datetime]:
    """Bucket boundaries: the period's start, then every local Monday 00:00 inside the period."""
    starts = [period.start]
    day = calendar.local_date(period.start)
    day += timedelta(days=(7 - day.weekday()) % 7 or 7)  # the next Monday
    while (boundary := calendar.local_instant(day, time(0))) < period.end:
        starts.append(boundary)
        day += timedelta(days=7)
    return starts


def weekly(outcomes: Outcomes, period: Period, now: datetime, calendar: BusinessCalendar) -> list[Week]:
    """On-time rate per (organisation-local, Monday-based) week of the period."""
    starts = week_starts(period, calendar)
    weeks = []
    for start, end in zip(starts, starts[1:] + [period.end]):
        last_instant = max(min(end, now) - timedelta(microseconds=1), start)
        weeks.append(Week(start, calendar.local_date(start), calendar.local_date(last_instant),
                          outcomes.rate(start, end)))
    return weeks


# --- speed -------------------------------------------------------------------------------------------


class WorkingDays:
    """Working days between two instants for many pairs: the range's working days, computed once.

    Same answer as BusinessCalendar.working_days_between (working days d with
    local_date(start) < d <= local_date(end)). The holidays library is asked once per day of the
    range; each pair then costs two bisects over the local midnights (as POSIX seconds) and two
    lookups in a running count of working days.
    """

    def __init__(self, calendar: BusinessCalendar, first: date, last: date) -> None:
        self.calendar = calendar
        self.zone = calendar.tz
        self.first, self.last = first, last
        dates = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        # midnights[i]: local 00:00 of dates[i]; running[i]: working days among dates[0..i].
        self.midnights = [calendar.local_instant(day, time(0)).timestamp() for day in dates]
        self.end = calendar.local_instant(last + timedelta(days=1), time(0)).timestamp()
        self.running, count = [], 0
        for day in dates:
            count += calendar.is_working_day(day)
            self.running.append(count)

    def between_timestamps(self, start: float, end: float) -> int:
        if end <= start:
            return 0
        if start < self.midnights[0] or end >= self.end:  # outside the precomputed range: ask the calendar
            return self.calendar.working_days_between(datetime.fromtimestamp(start, UTC),
                                                      datetime.fromtimestamp(end, UTC))
        return (self.running[bisect_right(self.midnights, end) - 1]
                - self.running[bisect_right(self.midnights, start) - 1])

    def between(self, start: datetime, end: datetime) -> int:
        return self.between_timestamps(start.timestamp(), end.timestamp())


def percentile(values: Sequence[int], share: float) -> int | None:
    """Nearest-rank percentile (a value that occurred); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True)
class Speed:
    count: int
    median: float | None
    p90: int | None

    @classmethod
    def of(cls, values: Sequence[int]) -> Speed:
        return cls(len(values), float(median(values)) if values else None, percentile(values, 0.9))


def first_update_days(session: Session, org_id: str, where: ColumnElement[bool], period: Period,
                      calendar: BusinessCalendar) -> dict[int, list[int]]:
    """Per job id: business days from interview end to the first update, for cycles discharged in the period."""
    # POSIX seconds, not datetimes: tens of thousands of rows come through here on a large
    # organisation, and integers cost a fraction of aware datetimes to fetch and compare.
    rows = session.execute(
        select(Application.job_id, _epoch(Obligation.anchor_at), _epoch(Obligation.discharged_at))
        .select_from(Obligation)
        .join(Application, Application.id == Obligation.application_id)
        .join(Job, Job.id == Application.job_id)
        .where(Obligation.org_id == org_id, Obligation.discharged_at >= period.start,
               Obligation.discharged_at < period.end, Obligation.state == ObligationState.DISCHARGED,
               Obligation.opened_by == "interview", where)
    ).all()
    by_job: dict[int, list[int]] = defaultdict(list)
    if not rows:
        return by_job
    first = min(r[1] for r in rows)
    last = max(r[2] for r in rows)
    days = WorkingDays(calendar, calendar.local_date(datetime.fromtimestamp(first, UTC)),
                       calendar.local_date(datetime.fromtimestamp(last, UTC)))
    between = days.between_timestamps
    for job_id, anchor_at, discharged_at in rows:
        by_job[job_id].append(between(anchor_at, discharged_at))
    return by_job


def _epoch(column: Any) -> ColumnElement[int]:
    # PostgreSQL: EXTRACT(epoch FROM ...); SQLite: STRFTIME('%s', ...) of the stored UTC text.
    return cast(extract("epoch", column), BigInteger)


# --- per-group tables --------------------------------------------------------------------------------

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


def person_label(name: str | None, email: str | None) -> str:
    if name and email:
        return f"{name} ({email})"
    return name or email or "(nobody named)"


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


# --- lists: at risk now, breached --------------------------------------------------------------------


@dataclass(frozen=True)
class ListRow:
    obligation_id: int
    application_id: int
    candidate: str
    job: str
    department: str | None
    cycle: int
    due_at: datetime
    owner: str
    state: ObligationState
    next_step: str | None = None
    next_step_at: datetime | None = None
    at_risk: bool = False
    reason: str | None = None
    discharged_at: datetime | None = None
    autopilot_run: int = 0


def _list_columns() -> tuple[Any, ...]:
    return (Obligation.id, Obligation.application_id, Candidate.name, Candidate.erased_at, Job.title,
            Job.external_id, Job.department, Job.recruiter_name, Job.recruiter_email, Obligation.cycle,
            Obligation.due_at, Obligation.owner_email, Obligation.state, Obligation.next_rung,
            Obligation.next_action_at, Obligation.at_risk, Obligation.breach_reason, Obligation.discharged_at,
            Job.policy_override, Obligation.autopilot_run)


def _list_query(org_id: str, where: ColumnElement[bool]) -> Select[Any]:
    return (select(*_list_columns()).select_from(Obligation)
            .join(Application, Application.id == Obligation.application_id)
            .join(Job, Job.id == Application.job_id)
            .join(Candidate, Candidate.id == Application.candidate_id)
            .where(Obligation.org_id == org_id, where))


def _owner(owner_email: str | None, recruiter_name: str | None, recruiter_email: str | None) -> str:
    if owner_email and recruiter_email and owner_email.lower() == recruiter_email.lower():
        return person_label(recruiter_name, recruiter_email)
    return owner_email or person_label(recruiter_name, recruiter_email)


def candidate_label(name: str | None, erased_at: datetime | None) -> str:
    if erased_at is not None:
        return "(personal data erased)"
    return name or "(no name)"


def _row(r: Any, *, next_step: str | None = None, reason: str | None = None) -> ListRow:
    return ListRow(
        obligation_id=r.id, application_id=r.application_id, candidate=candidate_label(r.name, r.erased_at),
        job=job_label(r.title, r.external_id), department=r.department, cycle=r.cycle, due_at=r.due_at,
        owner=_owner(r.owner_email, r.recruiter_name, r.recruiter_email), state=r.state, next_step=next_step,
        next_step_at=r.next_action_at if next_step else None, at_risk=bool(r.at_risk), reason=reason,
        discharged_at=r.discharged_at, autopilot_run=r.autopilot_run or 0,
    )


def at_risk_horizon(now: datetime, calendar: BusinessCalendar) -> datetime:
    """The end (local midnight) of the 2nd working day after today."""
    last_day = calendar.add_working_days(calendar.local_date(now), AT_RISK_WORKING_DAYS)
    return calendar.local_instant(last_day + timedelta(days=1), time(0))


def at_risk_now(session: Session, org_id: str, where: ColumnElement[bool], now: datetime,
                calendar: BusinessCalendar, org_policy: dict[str, Any], limit: int | None = None) -> list[ListRow]:
    """Open obligations due within 2 working days, or flagged at risk (undeliverable mail), soonest first."""
    horizon = at_risk_horizon(now, calendar)
    query = (_list_query(org_id, where)
             .where(Obligation.state == ObligationState.OPEN, Obligation.due_at >= now,
                    or_(Obligation.due_at < horizon, Obligation.at_risk.is_(True)))
             .order_by(Obligation.due_at, Obligation.id))
    if limit is not None:
        query = query.limit(limit)
    rows = []
    for r in session.execute(query):
        step = RUNG_WORDS.get(r.next_rung)
        if r.next_rung is Rung.AUTOPILOT and r.at_risk:  # autopilot never writes to an address that bounced
            step = UNDELIVERABLE_ESCALATION_WORDS
        elif r.next_rung is Rung.AUTOPILOT and not merge_policy(org_policy, r.policy_override).autopilot:
            step = ESCALATION_WORDS
        rows.append(_row(r, next_step=step))
    return rows


def breach_reason_words(breach_reason: str | None, state: ObligationState) -> str:
    if breach_reason in BREACH_REASONS:
        return BREACH_REASONS[breach_reason]
    if state is ObligationState.DISCHARGED:
        return LATE_ANSWER
    return BREACH_REASONS["forgotten"]  # past due, open, the sweep has not recorded it yet


def breached(session: Session, org_id: str, where: ColumnElement[bool], period: Period, now: datetime,
             limit: int | None = None) -> list[ListRow]:
    """Cycles missed in the period, and every cycle still open past its deadline now; latest deadline first."""
    _, missed, _ = outcome_columns(now)
    in_period = _cohort(select(Obligation.id), org_id, where, period.start, period.end, now).where(missed)
    open_past_due = and_(Obligation.state == ObligationState.OPEN, Obligation.due_at < now)
    query = (_list_query(org_id, where)
             .where(or_(open_past_due, Obligation.id.in_(in_period)))
             .order_by(Obligation.due_at.desc(), Obligation.id.desc()))
    if limit is not None:
        query = query.limit(limit)
    return [_row(r, reason=breach_reason_words(r.breach_reason, r.state)) for r in session.execute(query)]


NEGLECTED_RUN = 2  # autopilot updates in a row that make an application neglected (DESIGN "After autopilot")


def neglected(session: Session, org_id: str, where: ColumnElement[bool], limit: int | None = None) -> list[ListRow]:
    """Candidates still waiting whom autopilot has had to answer twice or more in a row: nobody on the
    hiring team has given them news of their own. Longest run first."""
    query = (_list_query(org_id, where)
             .where(Obligation.state == ObligationState.OPEN, Obligation.autopilot_run >= NEGLECTED_RUN)
             .order_by(Obligation.autopilot_run.desc(), Obligation.due_at, Obligation.id))
    if limit is not None:
        query = query.limit(limit)
    return [_row(r, reason=f"autopilot wrote {r.autopilot_run} times in a row") for r in session.execute(query)]


# --- everything the page shows ------------------------------------------------------------------------


@dataclass
class Overview:
    period: Period
    last_30: Rate
    last_90: Rate
    selected: Rate  # the chosen period (the same as one of the tiles unless custom)
    weeks: list[Week]
    speed: Speed
    tables: dict[str, list[GroupRow]]
    at_risk: list[ListRow]
    breached: list[ListRow]
    neglected: list[ListRow]
    horizon: datetime


def overview(session: Session, org_id: str, where: ColumnElement[bool], period: Period, now: datetime,
             calendar: BusinessCalendar, org_policy: dict[str, Any]) -> Overview:
    up_to_now = now + timedelta(seconds=1)
    days_30, days_90 = now - timedelta(days=30), now - timedelta(days=90)
    cuts = {days_30, days_90, up_to_now, period.start, period.end, *week_starts(period, calendar)}
    if period.end < days_90:  # a period long ago: two passes rather than one over everything since
        outcomes = Outcomes.read(session, org_id, where, {days_30, days_90, up_to_now}, now)
        in_period = Outcomes.read(session, org_id, where, cuts - {days_30, days_90, up_to_now}, now)
    else:
        outcomes = in_period = Outcomes.read(session, org_id, where, cuts, now)
    tables = group_tables(session, org_id, where, period, now, calendar, in_period)
    all_days = [d for r in tables["job"] for d in r.days]
    return Overview(
        period=period, last_30=outcomes.rate(days_30, up_to_now), last_90=outcomes.rate(days_90, up_to_now),
        selected=in_period.rate(period.start, period.end), weeks=weekly(in_period, period, now, calendar),
        speed=Speed.of(all_days), tables=tables,
        at_risk=at_risk_now(session, org_id, where, now, calendar, org_policy, limit=LIST_LIMIT + 1),
        breached=breached(session, org_id, where, period, now, limit=LIST_LIMIT + 1),
        neglected=neglected(session, org_id, where, limit=LIST_LIMIT + 1),
        horizon=at_risk_horizon(now, calendar),
    )
