"""Deadline and ladder arithmetic (DESIGN.md, "Timing, precisely"). Pure: no database writes.

The candidate's calendar is the organisation's working days and holidays in the candidate's own time
zone when known, plus the candidate's own public holidays (`obligations.calendars`); reminders follow
the organisation's calendar. The due day is a working day of the candidate's calendar, so autopilot
(the opening of the candidate's send window on that day) always lands before `due_at` (its end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from plugin.models import Rung
from plugin.sla.calendar import BusinessCalendar
from plugin.sla.policy import Policy

LADDER: tuple[Rung, ...] = (
    Rung.REMINDER_RECRUITER,
    Rung.REMINDER_HIRING_MANAGER,
    Rung.AUTOPILOT,
    Rung.DEADLINE,
)


# A deadline set or recomputed now is at least this far away: the end of a send window that closes
# in ten minutes is not a deadline anybody could keep.
HONEST_MARGIN = timedelta(hours=2)


class DueBasis(StrEnum):
    """How a cycle's `due_at` was set (reported with the cycle)."""

    SLA = "sla"  # the policy's working days after the interview, contact or update
    PROMISED_DECISION = "promised_decision"  # a decision date promised to the candidate + grace
    PERSON = "person"  # a person's status update named the day
    WRITTEN = "written"  # capped by the latest date a message put in writing (invariant 7)
    HONEST = "honest"  # the policy's deadline had passed when we learned of it: the earliest honest one


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
) -> tuple[datetime, DueBasis]:
    """A promised decision date wins over the default, unless it was promised for a day already past."""
    if promised is not None and promised >= cals.candidate.local_date(interview_end):
        return due_for_promise(promised, policy, cals), DueBasis.PROMISED_DECISION
    return due_after(interview_end, policy.first_update_working_days, policy, cals), DueBasis.SLA


def honest_due(now: datetime, policy: Policy, cals: Calendars) -> datetime:
    """The earliest deadline that can still be kept: the end of the candidate's first send window
    that closes at least HONEST_MARGIN from now."""
    day = cals.candidate.local_date(now)
    if not cals.candidate.is_working_day(day):
        day = cals.candidate.add_working_days(day, 1)
    while cals.candidate.window_end(day, policy.send_window) < now + HONEST_MARGIN:
        day = cals.candidate.add_working_days(day, 1)
    return cals.candidate.window_end(day, policy.send_window)


def settle(computed: datetime, basis: DueBasis, *, now: datetime, written_due_at: datetime | None,
           policy: Policy, cals: Calendars, current: datetime | None = None) -> tuple[datetime, DueBasis]:
    """The deadline a cycle gets from the one its rules give.

    1. A date in writing is a promise: never later than the latest date the candidate was given.
    2. Never in the past: data that arrives too late for the policy's deadline (a backfilled
       interview, a lowered SLA, a late promise) gets the earliest honest deadline instead, so the
       cycle is reported as recomputed rather than forgotten, and nobody is reminded of a deadline
       that has already passed.

    `current`: the deadline being recomputed; when it is still ahead and sooner than the honest one,
    it stays (a recomputation never pushes an honest deadline further out).
    """
    due = computed
    if due < now + HONEST_MARGIN:
        honest = honest_due(now, policy, cals)
        due, basis = (current, DueBasis.HONEST) if current is not None and now <= current < honest \
            else (honest, DueBasis.HONEST)
    if written_due_at is not None and written_due_at < due:
        due, basis = written_due_at, DueBasis.WRITTEN
    return due, basis


def rung_time(rung: Rung, due_at: datetime, policy: Policy, cals: Calendars) -> datetime | None:
    """When a rung fires; None when the policy switches it off."""
    due_day = cals.candidate.local_date(due_at)
    if rung is Rung.REMINDER_RECRUITER:
        return _reminder(due_day, policy.recruiter_reminder_working_days_before, policy, cals)
    if rung is Rung.REMINDER_HIRING_MANAGER:
        return _reminder(due_day, policy.hiring_manager_reminder_working_days_before, policy, cals)
    if rung is Rung.AUTOPILOT:
        opening = cals.candidate.window_start(due_day, policy.send_window)
        return opening if policy.autopilot else escalation_time(opening, due_at, policy, cals)
    if rung is Rung.DEADLINE:
        return due_at
    return None


def _reminder(due_day: date, days_before: int | None, policy: Policy, cals: Calendars) -> datetime | None:
    if days_before is None:
        return None
    day = cals.org.add_working_days(due_day, -days_before) if days_before > 0 else due_day
    return cals.org.local_instant(day, policy.reminder_at)


def escalation_time(candidate_opening: datetime, due_at: datetime, policy: Policy, cals: Calendars) -> datetime:
    """When the talent-ops lead hears that nobody wrote (autopilot off): in the organisation's own
    working hours, at the time autopilot would have written, or the organisation's next window
    when that still comes before the deadline, else its previous window (a Tokyo candidate's
    deadline falls before New York opens)."""
    org, window = cals.org, policy.send_window
    if org.is_inside_window(candidate_opening, window):
        return candidate_opening
    following = org.next_window_opening(candidate_opening, window)
    if following < due_at:
        return following
    return previous_window_opening(org, candidate_opening, policy)


def previous_window_opening(cal: BusinessCalendar, instant: datetime, policy: Policy) -> datetime:
    """The opening of the last send window of `cal` that opened at or before `instant`."""
    day = cal.local_date(instant)
    if not (cal.is_working_day(day) and cal.window_start(day, policy.send_window) <= instant):
        day = cal.add_working_days(day, -1)
    return cal.window_start(day, policy.send_window)


def reminder_worth_sending(send_at: datetime, due_at: datetime, policy: Policy, cals: Calendars) -> bool:
    """A reminder helps only if it arrives while the person can still act before autopilot writes
    (or, autopilot off, before the deadline). One arriving with autopilot or after it is noise about
    a deadline nobody can still keep by hand (a late sweep, a deadline recomputed to the next window)."""
    if policy.autopilot:
        autopilot_at = rung_time(Rung.AUTOPILOT, due_at, policy, cals)
        return autopilot_at is not None and send_at < autopilot_at
    return send_at < due_at


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
