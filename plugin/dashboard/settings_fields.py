"""The settings' vocabulary: what each policy field is called, what it means, and how a value reads
("5 working days", "no reminder", "on"). The forms, the settings pages and the list of recent
changes all speak it; the rules for the values are `PolicySchema`'s.

Labels, hints and day names are made at import time, so they are `lazy_gettext` (translated each time
they are shown); group names are keys as well as headings, so they stay English msgids (`N_`) and the
templates translate them where they show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plugin.dashboard.i18n import N_, gettext, lazy_gettext, ngettext

WEEKDAYS = (lazy_gettext("Monday"), lazy_gettext("Tuesday"), lazy_gettext("Wednesday"), lazy_gettext("Thursday"),
            lazy_gettext("Friday"), lazy_gettext("Saturday"), lazy_gettext("Sunday"))


# -- what each policy field means ------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyField:
    name: str
    label: Any  # lazy_gettext: a str when shown
    hint: Any
    kind: str  # days | optional_days | day_steps | minutes | time | switch
    group: str


POLICY_GROUPS = (N_("Deadlines"), N_("Reminder ladder"), N_("Decisions and closed jobs"), N_("Send window"))

POLICY_FIELDS: tuple[PolicyField, ...] = (
    PolicyField("first_update_working_days", lazy_gettext("First update due"),
                lazy_gettext("Working days after an interview ends until the candidate must hear from us."),
                "days", "Deadlines"),
    PolicyField("promised_decision_grace_working_days", lazy_gettext("Grace after a promised decision date"),
                lazy_gettext("When the candidate was promised a decision date, working days after it until the deadline."),
                "days", "Deadlines"),
    PolicyField("cadence_working_days", lazy_gettext("Time between status updates"),
                lazy_gettext("After a person's status update or a contact the ATS reports, working days until the next news "
                             "is due."),
                "days", "Deadlines"),
    PolicyField("recruiter_reminder_working_days_before", lazy_gettext("Remind the recruiter"),
                lazy_gettext("Working days before the deadline the recruiter is reminded. Blank: no reminder."),
                "optional_days", "Reminder ladder"),
    PolicyField("hiring_manager_reminder_working_days_before", lazy_gettext("Remind the hiring manager"),
                lazy_gettext("Working days before the deadline the hiring manager is reminded. Blank: no reminder."),
                "optional_days", "Reminder ladder"),
    PolicyField("reminder_time", lazy_gettext("Reminder time"),
                lazy_gettext("Time of day reminders go out, in the organisation's time zone (24-hour HH:MM)."),
                "time", "Reminder ladder"),
    PolicyField("autopilot_cadence_working_days", lazy_gettext("Time between autopilot's updates"),
                lazy_gettext("When nobody acts and autopilot keeps writing, working days until its next update after the 1st, "
                             "2nd, 3rd... update in a row, separated by commas; the last one repeats, and none may be shorter "
                             "than the one before."),
                "day_steps", "Reminder ladder"),
    PolicyField("autopilot", lazy_gettext("Autopilot"),
                lazy_gettext("When nobody acted, Ghostless sends the candidate a status update itself before the deadline. "
                             "Off: the talent-ops lead is alerted instead and the breach is reported."),
                "switch", "Reminder ladder"),
    PolicyField("next_steps", lazy_gettext("Next-steps message"),
                lazy_gettext("Right after an interview, thank the candidate and tell them the date they will hear by."),
                "switch", "Reminder ladder"),
    PolicyField("rejection_min_delay_working_days", lazy_gettext("Minimum delay before a rejection is sent"),
                lazy_gettext("Working days a rejection waits after the ATS reports it (0: send in the next send window)."),
                "days", "Decisions and closed jobs"),
    PolicyField("job_closed_hold_minutes", lazy_gettext("Hold before job-closed notices"),
                lazy_gettext("Minutes to wait after a job closes before telling its candidates, so a reopen can cancel them."),
                "minutes", "Decisions and closed jobs"),
    PolicyField("send_window_start", lazy_gettext("Send window opens"),
                lazy_gettext("Candidate emails go out on working days from this time, in the candidate's time zone (HH:MM)."),
                "time", "Send window"),
    PolicyField("send_window_end", lazy_gettext("Send window closes"),
                lazy_gettext("Candidate emails are not sent after this time (HH:MM); it must be later than the opening time."),
                "time", "Send window"),
)
FIELD_BY_NAME = {f.name: f for f in POLICY_FIELDS}


def show_value(kind: str, value: Any) -> str:
    """A policy value in words: '5 working days', 'no reminder', 'on'."""
    if kind == "switch":
        return gettext("on") if value else gettext("off")
    if kind == "optional_days" and value is None:
        return gettext("no reminder")
    if kind in ("days", "optional_days"):
        return ngettext("%(num)s working day", "%(num)s working days", value)
    if kind == "minutes":
        return ngettext("%(num)s minute", "%(num)s minutes", value)
    if kind == "day_steps":
        return gettext("%(steps)s working days", steps=gettext(", then ").join(str(v) for v in value)) if value else ""
    return str(value)


def steps_text(value: Any) -> str:
    """[5, 10, 15] as a person types it: "5, 10, 15"."""
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def day_choices() -> list[tuple[str, str]]:
    """The job form's reminder choices (PolicySchema allows 0 to 30 working days before the deadline)."""
    return [(str(n), gettext("%(days)s before", days=show_value("days", n))) for n in range(31)]
