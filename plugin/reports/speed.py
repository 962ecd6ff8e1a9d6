"""Speed: business days from an interview's end to the candidate's first update, per job.

Medians need the individual values, but not one row each: `first_update_days` has the database count
the cycles per (job, business days), a few hundred rows for tens of thousands of cycles. The
database computes business days with integer arithmetic only, the same on PostgreSQL and SQLite:
- an instant's organisation-local date is (POSIX seconds + the UTC offset in force) // 86,400, the
  offset a CASE over the range's DST changes (found in Python from the time zone database);
- working days up to a date are the working weekdays up to it (whole weeks times their number,
  plus a CASE for the days of its week) minus the days off (holidays, closures) on working
  weekdays up to it, a CASE over the range's few days off, asked of the calendar once each.
The difference at the answer and at the interview is BusinessCalendar.working_days_between.
Fetching two instants per cycle and counting in Python took 0.8 s for 45,000 cycles (a 180-day
period at 50,000 applications). `WorkingDays` is the same count in Python (bisect), for callers
with instants in hand.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    case,
    cast,
    extract,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import Session

from plugin.models import Application, Job, Obligation, ObligationState
from plugin.reports.metrics import Period
from plugin.sla.calendar import BusinessCalendar


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


DAY_SECONDS = 86_400
UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
THURSDAY = 3  # 1 January 1970: (day number + 3) % 7 is the weekday, Monday 0
EARLIER_ANCHORS_DAYS = 120  # interviews this long before the period are counted in SQL; older ones in Python


def first_update_days(session: Session, org_id: str, where: ColumnElement[bool], period: Period,
                      calendar: BusinessCalendar) -> dict[int, list[int]]:
    """Per job id: business days from interview end to the first update, for cycles discharged in the period."""
    first = calendar.local_date(period.start) - timedelta(days=EARLIER_ANCHORS_DAYS)
    last = calendar.local_date(period.end)
    # Two days early: an offset change at a local midnight cannot move an instant onto `first`.
    offsets = _utc_offsets(calendar, first - timedelta(days=2), last + timedelta(days=1))
    anchor_day, answer_day = _local_day(Obligation.anchor_at, offsets), _local_day(Obligation.discharged_at, offsets)
    days_off = [_number(day) for day in _dates(first, last)
                if day.weekday() in calendar.working_weekdays and not calendar.is_working_day(day)]
    # First the cycles per (job, local day of the interview, local day of the answer): each day is
    # computed once per row there, and the GROUP BY keeps the outer query from repeating it.
    pairs = (
        select(Application.job_id.label("job_id"), anchor_day.label("anchor_day"), answer_day.label("answer_day"),
               func.count().label("cycles"))
        .select_from(Obligation)
        .join(Application, Application.id == Obligation.application_id)
        .join(Job, Job.id == Application.job_id)
        .where(Obligation.org_id == org_id, Obligation.discharged_at >= period.start,
               Obligation.discharged_at < period.end, Obligation.state == ObligationState.DISCHARGED,
               Obligation.opened_by == "interview", where)
        .group_by(Application.job_id, literal_column("anchor_day"), literal_column("answer_day"))
        .subquery("pairs"))
    counted = _working_days_up_to(pairs.c.answer_day, calendar.working_weekdays, days_off) - _working_days_up_to(
        pairs.c.anchor_day, calendar.working_weekdays, days_off)
    outside = pairs.c.anchor_day < _integer(_number(first))  # the days off before `first` are not in the CASE
    groups = (case((outside, None), else_=counted).label("business_days"),
              case((outside, pairs.c.anchor_day)).label("outside_anchor"),
              case((outside, pairs.c.answer_day)).label("outside_answer"))
    rows = session.execute(
        select(pairs.c.job_id, *groups, func.sum(pairs.c.cycles))
        # By name: the same expressions written twice would be two sets of parameters to PostgreSQL.
        .group_by(pairs.c.job_id, *(literal_column(g.name) for g in groups))
    ).all()
    by_job: dict[int, list[int]] = defaultdict(list)
    for job_id, business_days, anchor_number, answer_number, cycles in rows:
        if business_days is None:  # an interview before `first` (rare): ask the calendar
            business_days = _working_days_between(calendar, _date(anchor_number), _date(answer_number))
        by_job[job_id].extend([max(0, int(business_days))] * int(cycles))  # an answer before its anchor: 0 days
    return by_job


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _number(day: date) -> int:
    return day.toordinal() - UNIX_EPOCH_ORDINAL


def _date(day_number: int) -> date:
    return date.fromordinal(UNIX_EPOCH_ORDINAL + int(day_number))


def _integer(value: int) -> ColumnElement[int]:
    # Inline: integers from the calendar and the time zone database, never from a request. As literals
    # the expressions carry no parameters, so one expression may appear several times in a statement.
    return literal_column(str(int(value)), Integer)


def _working_days_between(calendar: BusinessCalendar, start: date, end: date) -> int:
    """Working days d with start < d <= end (BusinessCalendar.working_days_between, on local dates)."""
    return sum(calendar.is_working_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))


def _utc_offsets(calendar: BusinessCalendar, first: date, last: date) -> list[tuple[int, int]]:
    """(POSIX second from which it holds, UTC offset in seconds) over [first, last], oldest first."""
    zone = calendar.tz

    def offset(second: int) -> int:
        return int(datetime.fromtimestamp(second, zone).utcoffset().total_seconds())  # type: ignore[union-attr]

    moment = int(calendar.local_instant(first, time(0)).timestamp())
    changes = [(moment, offset(moment))]
    for _ in range((last - first).days + 1):
        following = moment + DAY_SECONDS
        if offset(following) != changes[-1][1]:  # a change within this day: find its second
            low, high = moment, following  # offset(low) is the old one, offset(high) the new one
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == changes[-1][1] else (low, middle)
            changes.append((high, offset(high)))
        moment = following
    return changes


def _local_day(instant: Any, offsets: list[tuple[int, int]]) -> ColumnElement[int]:
    """The organisation-local date of `instant` as days since 1970-01-01."""
    seconds = _epoch(instant)
    offset = _step(seconds, [since for since, _ in offsets[1:]], [value for _, value in offsets])
    return (seconds + offset) // _integer(DAY_SECONDS)


def _working_days_up_to(day: ColumnElement[int], weekdays: frozenset[int], days_off: list[int]) -> ColumnElement[int]:
    """Working days from a fixed origin up to `day` (inclusive); only differences are meaningful."""
    shifted = day + _integer(THURSDAY)
    weekday = shifted % _integer(7)
    this_week = case(*[(weekday == _integer(w), _integer(sum(1 for d in weekdays if d <= w))) for w in range(6)],
                     else_=_integer(len(weekdays)))
    counted = shifted // _integer(7) * _integer(len(weekdays)) + this_week
    if days_off:
        counted = counted - _step(day, days_off, list(range(len(days_off) + 1)))
    return counted


def _step(value: ColumnElement[int], cuts: list[int], results: list[int]) -> ColumnElement[int]:
    """results[i] where cuts[i - 1] <= value < cuts[i] (len(results) == len(cuts) + 1): a balanced
    CASE tree, so twenty days off cost five comparisons a row, not twenty."""
    if not cuts:
        return _integer(results[0])
    middle = len(cuts) // 2
    return case((value < _integer(cuts[middle]), _step(value, cuts[:middle], results[:middle + 1])),
                else_=_step(value, cuts[middle + 1:], results[middle + 1:]))


def _epoch(column: Any) -> ColumnElement[int]:
    # PostgreSQL: EXTRACT(epoch FROM ...); SQLite: STRFTIME('%s', ...) of the stored UTC text.
    return cast(extract("epoch", column), BigInteger)
