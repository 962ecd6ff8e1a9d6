"""Speed: business days from an interview's end to the candidate's first update, per job.

Medians need the individual values, so `first_update_days` fetches two instants per first-update
cycle and counts working days with a precomputed, sorted list of the range's working dates
(`WorkingDays`, bisect), not the holidays library per row.
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

from sqlalchemy import BigInteger, ColumnElement, cast, extract, select
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
