"""Deadline and ladder arithmetic (DESIGN.md, "Timing, precisely"). Pure: no database writes.

The candidate's calendar is the organisation's working days and holidays in the candidate's own time
zone when known, plus the candidate's own public holidays (`obligations.calendars`); reminders follow
the organisation's calendar. The due day is a working day of the candidate's calendar, so autopilot
(the opening of the candidate's send window on that day) always lands before `due_at` (its end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from plugin.models import Rung
from plugin.sla.calendar import BusinessCalendar
from plugin.sla.policy import Policy

LADDER: tuple[Rung, ...] = (
    Rung.REMINDER_RECRUITER,
    Rung.REMINDER_HIRING_MANAGER,
    Rung.AUTOPILOT,
    Rung.DEADLINE,
)


@dataclass(frozen=True)
class Calendars:
    org: BusinessCalendar
    candidate: BusinessCalendar


def due_after(anchor: datetime, working_days: int, policy: Policy, cals: Calendars) -> datetime:
    """End of the candidate's send window on the Nth working day after the anchor's local date."""
    day = cals.candidate.working_days_after(anchor, working_days)
    return cals.candidate.window_end(day, policy.send_window)


def due_on(day: date, policy: Policy, cals: Calendars) -> datetime:
    """The end of the candidate's send window on `day` (a date a person promised them)."""
    return cals.candidate.window_end(day, policy.send_window)


def due_for_promise(promised: date, policy: Policy, cals: Calendars) -> datetime:
    day = cals.candidate.add_working_days(promised, policy.promised_decision_grace_working_days)
    return due_on(day, policy, cals)


def first_due(
    interview_end: datetime, promised: date | None, policy: Policy, cals: Calendars
) -> datetime:
    """A promised decision date wins over the default, unless it was promised for a day already past."""
    if promised is not None and promised >= cals.candidate.local_date(interview_end):
        return due_for_promise(promised, policy, cals)
    return due_after(interview_end, policy.first_update_working_days, policy, cals)


def rung_time(rung: Rung, due_at: datetime, policy: Policy, cals: Calendars) -> datetime | None:
    """When a rung fires; None when the policy switches it off."""
    due_day = cals.candidate.local_date(due_at)
    if rung is Rung.REMINDER_RECRUITER:
        return _reminder(due_day, policy.recruiter_reminder_working_days_before, policy, cals)
    if rung is Rung.REMINDER_HIRING_MANAGER:
        return _reminder(due_day, policy.hiring_manager_reminder_working_days_before, policy, cals)
    if rung is Rung.AUTOPILOT:
        return cals.candidate.window_start(due_day, policy.send_window)
    if rung is Rung.DEADLINE:
        return due_at
    return None


def _reminder(due_day: date, days_before: int | None, policy: Policy, cals: Calendars) -> datetime | None:
    if days_before is None:
        return None
    day = cals.org.add_working_days(due_day, -days_before) if days_before > 0 else due_day
    return cals.org.local_instant(day, policy.reminder_at)


def next_rung(after: Rung | None, due_at: datetime, policy: Policy, cals: Calendars) -> tuple[Rung, datetime | None]:
    """The first enabled rung after `after` (None: from the start) and when it fires."""
    start = 0 if after is None else LADDER.index(after) + 1
    for rung in LADDER[start:]:
        at = rung_time(rung, due_at, policy, cals)
        if at is not None:
            return rung, at
    return Rung.DONE, None


def not_before_working_days(instant: datetime, working_days: int, cal: BusinessCalendar) -> datetime:
    """The same local time of day, N working days after `instant` (minimum decision delay)."""
    if working_days <= 0:
        return instant
    local = instant.astimezone(cal.tz)
    day = cal.add_working_days(local.date(), working_days)
    return cal.local_instant(day, local.time().replace(tzinfo=None))
