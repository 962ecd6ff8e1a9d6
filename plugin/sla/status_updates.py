"""A person sends a candidate a status update through Ghostless (the API and the dashboard button).

It is the autopilot's message, written by a person: "no decision yet; you will hear from us by
<next date>", with their note. It goes out in the candidate's send window like every candidate
message, discharges the open cycle when sent, and the next cycle is due on the promised date (or
after the policy's cadence when no date is given), so the promise is enforced like any deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import (
    Application,
    ApplicationStatus,
    Notification,
    NotificationKind,
    NotificationState,
    Organization,
)
from plugin.sla import messages, undelivered
from plugin.sla.calendar import BusinessCalendar
from plugin.sla.obligations import calendars, open_obligation
from plugin.sla.policy import policy_for

MAX_NOTE_CHARS = 2000
MAX_WORKING_DAYS_AHEAD = 60


class StatusUpdateRefused(Exception):
    """Why no update can be sent now; `field` names the input at fault (None: the application's state)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class ScheduledUpdate:
    notification: Notification
    send_at: datetime
    next_date: date | None


def check_promised_day(day: date, calendar: BusinessCalendar, now: datetime) -> None:
    """A day a person promises a candidate must be one the candidate can be written to: a working day
    of the candidate's calendar (their time zone and their country's holidays when known), after
    today in their zone, and not too far off."""
    today = calendar.local_date(now)
    if day <= today:
        raise StatusUpdateRefused("Choose a day after today (in the candidate's time zone).", "next_date")
    if day > calendar.add_working_days(today, MAX_WORKING_DAYS_AHEAD):
        raise StatusUpdateRefused(f"Choose a day within {MAX_WORKING_DAYS_AHEAD} working days.", "next_date")
    if not calendar.is_working_day(day):
        why = calendar.holiday_name(day) or "not a working day"
        raise StatusUpdateRefused(f"{day:%A %d %B %Y} is {why} for the candidate: choose one of their working "
                                  "days.", "next_date")


def send_status_update(session: Session, org: Organization, app: Application, *, next_date: date | None,
                       note: str | None, now: datetime, actor: str) -> ScheduledUpdate:
    """Schedule the update (the caller commits, then the sweep or dispatch sends it)."""
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise StatusUpdateRefused(f"Keep the note under {MAX_NOTE_CHARS} characters.", "note")
    candidate = app.candidate
    if candidate.erased_at is not None:
        raise StatusUpdateRefused("This candidate's personal data was erased: nothing can be sent to them.")
    if app.status is not ApplicationStatus.ACTIVE:
        raise StatusUpdateRefused(f"This application is {app.status.value}: the candidate has their decision.")
    if not candidate.email:
        raise StatusUpdateRefused("We have no email address for this candidate; contact them another way and "
                                  "record the contact in the ATS.")
    obligation = open_obligation(app)
    if obligation is None:
        raise StatusUpdateRefused("Nothing is owed to this candidate right now (no open deadline): an update "
                                  "becomes possible after their next interview.")
    if undelivered.address_undeliverable(session, candidate):
        raise StatusUpdateRefused("Mail to this candidate could not be delivered; contact them another way.")
    if messages.decision_pending_before(session, obligation) is not None:
        raise StatusUpdateRefused("A decision message is already on its way to this candidate and will reach them "
                                  "before their deadline; an update now would contradict it.")
    waiting = session.scalar(select(Notification).where(
        Notification.obligation_id == obligation.id, Notification.kind == NotificationKind.STATUS_UPDATE,
        Notification.state.in_((NotificationState.SCHEDULED, NotificationState.QUEUED, NotificationState.SENDING))))
    if waiting is not None:
        raise StatusUpdateRefused("An update to this candidate is already on its way (scheduled "
                                  f"{waiting.scheduled_for:%Y-%m-%d %H:%M} UTC).")
    policy = policy_for(org, app.job)
    cals = calendars(org, candidate)
    if next_date is not None:
        check_promised_day(next_date, cals.candidate, now)
    send_at = cals.candidate.next_window_opening(now, policy.send_window)
    context = {"note": note, "sent_by": actor}
    if next_date is not None:
        context["promised_next_date"] = next_date.isoformat()
    notification = messages.schedule_candidate(session, org, NotificationKind.STATUS_UPDATE, obligation, at=send_at,
                                               now=now, actor=actor, context=context)
    if notification is None:  # the cycle's one status update was already sent (never two per cycle)
        raise StatusUpdateRefused("This cycle's status update was already sent; the next one is possible once "
                                  "the candidate's next cycle opens.")
    if app.last_human_action_at is None or now > app.last_human_action_at:
        app.last_human_action_at = now  # a person wrote: autopilot's run, if any, ends with this cycle
    return ScheduledUpdate(notification=notification, send_at=send_at, next_date=next_date)
