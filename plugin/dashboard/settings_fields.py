"""The settings' vocabulary: what each policy field is called, what it means, and how a value reads
("5 working days", "no reminder", "on"). The forms, the settings pages and the list of recent
changes all speak it; the rules for the values are `PolicySchema`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# -- what each policy field means ------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyField:
    name: str
    label: str
    hint: str
    kind: str  # days | optional_days | day_steps | minutes | time | switch
    group: str


POLICY_GROUPS = ("Deadlines", "Reminder ladder", "Decisions and closed jobs", "Send window")

POLICY_FIELDS: tuple[PolicyField, ...] = (
    PolicyField("first_update_working_days", "First update due",
                "Working days after an interview ends until the candidate must hear from us.", "days", "Deadlines"),
    PolicyField("promised_decision_grace_working_days", "Grace after a promised decision date",
                "When the candidate was promised a decision date, working days after it until the deadline.",
                "days", "Deadlines"),
    PolicyField("cadence_working_days", "Time between status updates",
                "After a person's status update or a contact the ATS reports, working days until the next news "
                "is due.", "days", "Deadlines"),
    PolicyField("recruiter_reminder_working_days_before", "Remind the recruiter",
                "Working days before the deadline the recruiter is reminded. Blank: no reminder.",
                "optional_days", "Reminder ladder"),
    PolicyField("hiring_manager_reminder_working_days_before", "Remind the hiring manager",
                "Working days before the deadline the hiring manager is reminded. Blank: no reminder.",
                "optional_days", "Reminder ladder"),
    PolicyField("reminder_time", "Reminder time",
                "Time of day reminders go out, in the organisation's time zone (24-hour HH:MM).", "time",
                "Reminder ladder"),
    PolicyField("autopilot_cadence_working_days", "Time between autopilot's updates",
                "When nobody acts and autopilot keeps writing, working days until its next update after the 1st, "
                "2nd, 3rd... update in a row, separated by commas; the last one repeats, and none may be shorter "
                "than the one before.", "day_steps", "Reminder ladder"),
    PolicyField("autopilot", "Autopilot",
                "When nobody acted, Ghostless sends the candidate a status update itself before the deadline. "
                "Off: the talent-ops lead is alerted instead and the breach is reported.", "switch",
                "Reminder ladder"),
    PolicyField("next_steps", "Next-steps message",
                "Right after an interview, thank the candidate and tell them the date they will hear by.", "switch",
                "Reminder ladder"),
    PolicyField("rejection_min_delay_working_days", "Minimum delay before a rejection is sent",
                "Working days a rejection waits after the ATS reports it (0: send in the next send window).",
                "days", "Decisions and closed jobs"),
    PolicyField("job_closed_hold_minutes", "Hold before job-closed notices",
                "Minutes to wait after a job closes before telling its candidates, so a reopen can cancel them.",
                "minutes", "Decisions and closed jobs"),
    PolicyField("send_window_start", "Send window opens",
                "Candidate emails go out on working days from this time, in the candidate's time zone (HH:MM).",
                "time", "Send window"),
    PolicyField("send_window_end", "Send window closes",
                "Candidate emails are not sent after this time (HH:MM); it must be later than the opening time.",
                "time", "Send window"),
)
FIELD_BY_NAME = {f.name: f for f in POLICY_FIELDS}


def show_value(kind: str, value: Any) -> str:
    """A policy value in words: '5 working days', 'no reminder', 'on'."""
    if kind == "switch":
        return "on" if value else "off"
    if kind == "optional_days" and value is None:
        return "no reminder"
    if kind in ("days", "optional_days"):
        return f"{value} working day{'' if value == 1 else 's'}"
    if kind == "minutes":
        return f"{value} minute{'' if value == 1 else 's'}"
    if kind == "day_steps":
        return ", then ".join(str(v) for v in value) + " working days" if value else ""
    return str(value)


def steps_text(value: Any) -> str:
    """[5, 10, 15] as a person types it: "5, 10, 15"."""
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


# The job form's reminder choices (PolicySchema allows 0 to 30 working days before the deadline).
DAY_CHOICES = [(str(n), f"{show_value('days', n)} before") for n in range(31)]
