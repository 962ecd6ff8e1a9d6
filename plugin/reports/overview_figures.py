"""Everything the overview page shows, read in one call: the 30- and 90-day tiles, the chosen
period's rate and weekly trend, speed, the per-group tables and the lists of cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from plugin.reports.breakdown import GroupRow, group_tables
from plugin.reports.cycle_lists import ListRow, at_risk_horizon, at_risk_now, breached, neglected
from plugin.reports.metrics import Outcomes, Period, Rate, Week, week_starts, weekly
from plugin.reports.speed import Speed
from plugin.sla.calendar import BusinessCalendar

LIST_LIMIT = 100  # rows shown on the page per list (one more is read to know); the CSV has them all


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
