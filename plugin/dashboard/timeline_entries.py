"""The lines of one application's timeline, newest first: inbound events, obligation cycles,
messages, delivery events and replies, each worded for the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from plugin.dashboard import local_time, now
from plugin.models import CandidateReply, InboundEvent, MailEvent, Notification, Obligation
from plugin.reports import outcomes


@dataclass
class Entry:
    """One line of the timeline. `rank` orders things that happened at the same instant: what was
    caused (a message) shows above its cause (the event), as newest-first reading expects."""

    at: datetime
    rank: int
    key: int
    kind: str  # event | cycle | message | delivery | reply
    title: str
    lines: list[str] = field(default_factory=list)
    tone: str = "muted"
    notification: Notification | None = None
    reply: CandidateReply | None = None


# How a cycle's deadline was set (plugin.sla.deadlines.DueBasis), when it is not simply the policy's.
DUE_BASIS_WORDS = {
    "promised_decision": "Deadline: the decision date promised to the candidate, plus the policy's grace.",
    "person": "Deadline: the day a person's status update promised them.",
    "written": "Deadline: held at the date a message already gave the candidate in writing.",
    "honest": "Deadline: the policy's had already passed when Ghostless learned of this (late data or a changed "
              "policy), so it is the end of the candidate's next send window; not counted as forgotten.",
}


def _cycle_entries(obligation: Obligation, zone: ZoneInfo) -> list[Entry]:
    # A cycle opened by an interview follows its event; one opened by a status update follows the
    # discharge of the previous cycle (same instant, so the rank decides).
    opened_rank = 1 if obligation.opened_by == "interview" else 3
    lines = [f"The candidate must hear from us by {local_time(obligation.due_at, zone)}."]
    if obligation.due_basis in DUE_BASIS_WORDS:
        lines.append(DUE_BASIS_WORDS[obligation.due_basis])
    if obligation.autopilot_run:
        lines.append(f"Autopilot has written {obligation.autopilot_run} time{'s' if obligation.autopilot_run > 1 else ''} "
                     "in a row before this cycle" + (": nobody on the team has given news of their own."
                                                    if obligation.autopilot_run >= 2 else "."))
    entries = [Entry(obligation.opened_at, opened_rank, obligation.id, "cycle",
                     f"Cycle {obligation.cycle} opened (by {obligation.opened_by.replace('_', ' ')})", lines, "muted")]
    if obligation.discharged_at is not None:
        met = outcomes.met(obligation, now())
        verdict = "on time" if met else ("late" if met is False else "")
        entries.append(Entry(obligation.discharged_at, 3, obligation.id, "cycle",
                             f"Cycle {obligation.cycle} discharged"
                             f"{' by ' + obligation.discharged_by.replace('_', ' ') if obligation.discharged_by else ''}"
                             f"{' — ' + verdict if verdict else ''}",
                             [f"Deadline was {local_time(obligation.due_at, zone)}."],
                             "good" if met else "bad" if met is False else "muted"))
    if obligation.breached_at is not None:
        entries.append(Entry(obligation.breached_at, 3, obligation.id, "cycle",
                             f"Cycle {obligation.cycle} deadline missed"
                             f"{' (' + obligation.breach_reason.replace('_', ' ') + ')' if obligation.breach_reason else ''}",
                             [f"Deadline was {local_time(obligation.due_at, zone)}."], "bad"))
    return entries


def _message_entry(notification: Notification, zone: ZoneInfo) -> Entry:
    at = notification.sent_at or notification.scheduled_for
    to = notification.recipient_email or "(no address)"
    lines = [f"To {to} · state {notification.state.value}"
             f"{' · delivery: ' + notification.delivery_status.value if notification.delivery_status else ''}",
             f"Scheduled for {local_time(notification.scheduled_for, zone)}"
             f"{' · sent ' + local_time(notification.sent_at, zone) if notification.sent_at else ''}"
             f"{' · locale ' + notification.locale if notification.locale else ''}"
             f"{' (asked for ' + notification.locale_fallback_from + ')' if notification.locale_fallback_from else ''}"]
    if notification.cancelled_reason:
        lines.append(f"Cancelled: {notification.cancelled_reason}")
    if notification.last_error:
        lines.append(f"Last error: {notification.last_error}")
    if notification.delivery_detail:
        lines.append(f"Delivery detail: {notification.delivery_detail}")
    title = notification.kind.value.replace("_", " ").capitalize()
    if notification.autopilot:
        title += " (sent by autopilot)"
    tone = "good" if notification.delivery_status and notification.delivery_status.value == "delivered" else \
        "bad" if notification.delivery_status and notification.delivery_status.undeliverable else "muted"
    return Entry(at, 2, notification.id, "message", title, lines, tone, notification=notification)


def timeline_entries(events: list[InboundEvent], obligations: list[Obligation],
                     notifications: list[Notification], mail_events: list[MailEvent],
                     replies: list[CandidateReply], zone: ZoneInfo) -> list[Entry]:
    """Every line of the timeline, newest first."""
    entries: list[Entry] = []
    for inbound in events:
        lines = [f"Occurred {local_time(inbound.occurred_at, zone)} · received {local_time(inbound.received_at, zone)}"
                 f" · from {inbound.source}"]
        if inbound.detail:
            lines.append(inbound.detail)
        entries.append(Entry(inbound.occurred_at, 0, inbound.id, "event",
                             f"ATS event {inbound.event_type} ({inbound.outcome.value})", lines,
                             "muted" if inbound.outcome.value == "ignored" else "good"))
    for obligation in obligations:
        entries.extend(_cycle_entries(obligation, zone))
    by_id = {n.id: n for n in notifications}
    entries.extend(_message_entry(n, zone) for n in notifications)
    for mail_event in mail_events:
        message = by_id.get(mail_event.notification_id or 0)
        about = f"{message.kind.value.replace('_', ' ')} to {message.recipient_email or '(no address)'}" \
            if message else "a message"
        entries.append(Entry(mail_event.occurred_at, 4, mail_event.id, "delivery",
                             f"Delivery event: {mail_event.event} ({about})",
                             [mail_event.detail] if mail_event.detail else [],
                             "good" if mail_event.event == "delivered" else
                             "bad" if mail_event.event in ("bounce", "dropped", "spamreport") else "muted"))
    for reply in replies:
        entries.append(Entry(reply.received_at, 5, reply.id, "reply", "Reply from the candidate",
                             [f"Subject: {reply.subject}"] if reply.subject else [], "muted", reply=reply))
    entries.sort(key=lambda e: (e.at, e.rank, e.key), reverse=True)
    return entries
