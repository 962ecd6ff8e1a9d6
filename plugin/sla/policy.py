"""The SLA policy: how long a candidate may wait, and the escalation ladder before the deadline.

Effective policy = DEFAULTS, overridden by the organisation's `policy`, overridden by the job's
`policy_override`. Both override dicts are validated at the API edge (`plugin.api.schemas`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, fields
from datetime import date, time
from typing import Any, Mapping

from plugin.models import Job, Organization
from plugin.sla.calendar import BusinessCalendar, SendWindow


@dataclass(frozen=True)
class Policy:
    first_update_working_days: int = 5  # interview end -> due
    promised_decision_grace_working_days: int = 2  # promised decision date -> due
    cadence_working_days: int = 5  # a person's status update or a contact -> next due
    # After autopilot had to write: the next cycle is due after the k-th entry for the k-th update in
    # a row (the last entry repeats), so an unanswered candidate is not sent a weekly copy.
    autopilot_cadence_working_days: tuple[int, ...] = (5, 10, 15)
    recruiter_reminder_working_days_before: int | None = 2  # None: no recruiter reminder
    hiring_manager_reminder_working_days_before: int | None = 1  # None: no hiring-manager reminder
    reminder_time: str = "09:00"  # organisation-local
    autopilot: bool = True
    next_steps: bool = True  # rung 0: thank-you with the date they will hear by
    rejection_min_delay_working_days: int = 1
    job_closed_hold_minutes: int = 60
    send_window_start: str = "09:00"
    send_window_end: str = "17:00"

    def __post_init__(self) -> None:
        # JSON overrides hold lists; keep the policy hashable and comparable.
        object.__setattr__(self, "autopilot_cadence_working_days", tuple(self.autopilot_cadence_working_days))

    def cadence_after_autopilot(self, run: int) -> int:
        """Working days until the next news after the `run`-th autopilot update in a row (run >= 1)."""
        steps = self.autopilot_cadence_working_days or (self.cadence_working_days,)
        return steps[min(run, len(steps)) - 1]

    @functools.cached_property
    def send_window(self) -> SendWindow:
        return SendWindow(parse_hhmm(self.send_window_start), parse_hhmm(self.send_window_end))

    @functools.cached_property
    def reminder_at(self) -> time:
        return parse_hhmm(self.reminder_time)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["autopilot_cadence_working_days"] = list(self.autopilot_cadence_working_days)
        return values


DEFAULT_POLICY = Policy()
POLICY_FIELDS = tuple(f.name for f in fields(Policy))


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def merge_policy(*overrides: Mapping[str, Any] | None) -> Policy:
    # The overrides are JSON columns: their JSON text is the key of the policy built from them.
    return _merged(tuple(json.dumps(override, sort_keys=True) if override else "" for override in overrides))


@functools.lru_cache(maxsize=1024)
def _merged(overrides: tuple[str, ...]) -> Policy:
    """The policy of these overrides, built once: every deadline and message asks for it."""
    values = DEFAULT_POLICY.to_dict()
    for override in overrides:
        for key, value in (json.loads(override) if override else {}).items():
            if key in values:  # unknown keys were refused at the edge; old ones are ignored
                values[key] = value
    return Policy(**values)


def policy_for(org: Organization, job: Job | None = None) -> Policy:
    return merge_policy(org.policy, job.policy_override if job is not None else None)


def calendar_for(org: Organization) -> BusinessCalendar:
    """The organisation's business calendar (internal mail, reminders)."""
    return _calendar(org.timezone, org.holiday_country, org.holiday_subdivision, org.working_weekdays,
                     frozenset(c.day for c in org.closures))


@functools.lru_cache(maxsize=256)
def _calendar(timezone: str, country: str | None, subdivision: str | None, weekdays: str,
              closures: frozenset[date]) -> BusinessCalendar:
    """Built once per configuration: building one validates the zone and the holiday codes."""
    return BusinessCalendar(timezone=timezone, country=country, subdivision=subdivision,
                            working_weekdays=frozenset(int(d) for d in weekdays.split(",") if d != ""),
                            closures=closures)
