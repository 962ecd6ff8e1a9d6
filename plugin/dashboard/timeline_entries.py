"""The lines of one application's timeline, newest first: inbound events, obligation cycles,
messages, delivery events and replies, each worded for the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from plugin.dashboard import local_time, now
from plugin.dashboard.i18n import gettext, lazy_gettext, ngettext
from plugin.models import CandidateReply, InboundEvent, MailEvent, Notification, NotificationState, Obligation
from plugin.reports import outcomes
from plugin.reports.cycle_lists import breach_reason_words


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
    "promised_decision": lazy_gettext("Deadline: the decision date promised to the candidate, plus the policy's grace."),
    "person": lazy_gettext("Deadline: the day a person's status update promised them."),
    "written": lazy_gettext("Deadline: held at the date a message already gave the candidate in writing."),
    "honest": lazy_gettext("Deadline: the policy's had already passed when Ghostless learned of this (late data or a "
                           "changed policy), so it is the end of the candidate's next send window; not counted as "
                           "forgotten."),
}


def _cycle_entries(obligation: Obligation, zone: ZoneInfo) -> list[Entry]:
    # A cycle opened by an interview follows its event; one opened by a status update follows the
    # discharge of the previous cycle (same instant, so the rank decides).
    opened_rank = 1 if obligation.opened_by == "interview" else 3
    due = local_time(obligation.due_at, zone)
    lines = [gettext("The candidate must hear from us by %(due)s.", due=due)]
    if obligation.due_basis in DUE_BASIS_WORDS:
        lines.append(str(DUE_BASIS_WORDS[obligation.due_basis]))
    if obligation.autopilot_run == 1:
        lines.append(gettext("Autopilot has written 1 time in a row before this cycle."))
    elif obligation.autopilot_run:
        # Two or more in a row is what makes a candidate neglected, so the sentence says more.
        lines.append(ngettext("Autopilot has written %(num)d time in a row before this cycle: nobody on the team has "
                              "given news of their own.",
                              "Autopilot has written %(num)d times in a row before this cycle: nobody on the team has "
                              "given news of their own.", obligation.autopilot_run))
    entries = [Entry(obligation.opened_at, opened_rank, obligation.id, "cycle",
                     gettext("Cycle %(cycle)s opened (by %(who)s)", cycle=obligation.cycle,
                             who=obligation.opened_by.replace("_", " ")), lines, "muted")]
    if obligation.discharged_at is not None:
        met = outcomes.met(obligation, now())
        title = gettext("Cycle %(cycle)s discharged", cycle=obligation.cycle)
        if obligation.discharged_by:
            title = gettext("Cycle %(cycle)s discharged by %(who)s", cycle=obligation.cycle,
                            who=obligation.discharged_by.replace("_", " "))
        if met is not None:
            title = gettext("%(title)s — on time", title=title) if met else gettext("%(title)s — late", title=title)
        entries.append(Entry(obligation.discharged_at, 3, obligation.id, "cycle", title,
                             [gettext("Deadline was %(due)s.", due=due)],
                             "good" if met else "bad" if met is False else "muted"))
    if obligation.breached_at is not None:
        title = gettext("Cycle %(cycle)s deadline missed", cycle=obligation.cycle)
        if obligation.breach_reason:
            title = gettext("Cycle %(cycle)s deadline missed (%(reason)s)", cycle=obligation.cycle,
                            reason=gettext(breach_reason_words(obligation.breach_reason, obligation.state)))
        entries.append(Entry(obligation.breached_at, 3, obligation.id, "cycle", title,
                             [gettext("Deadline was %(due)s.", due=due)], "bad"))
    return entries


def _message_entry(notification: Notification, zone: ZoneInfo) -> Entry:
    at = notification.sent_at or notification.scheduled_for
    to = notification.recipient_email or gettext("(no address)")
    # Each part of the line is a whole phrase of its own, so a translation can order the parts' words.
    state = [gettext("To %(to)s", to=to), gettext("state %(state)s", state=notification.state.value)]
    if notification.delivery_status:
        state.append(gettext("delivery: %(status)s", status=notification.delivery_status.value))
    timing = [gettext("Scheduled for %(when)s", when=local_time(notification.scheduled_for, zone))]
    if notification.sent_at:
        timing.append(gettext("sent %(when)s", when=local_time(notification.sent_at, zone)))
    if notification.locale:
        timing.append(gettext("locale %(locale)s", locale=notification.locale))
    timing_text = " · ".join(timing)
    if notification.locale_fallback_from:
        timing_text = gettext("%(text)s (asked for %(locale)s)", text=timing_text,
                              locale=notification.locale_fallback_from)
    lines = [" · ".join(state), timing_text]
    if notification.state is NotificationState.UNKNOWN:
        # The trade-off of never sending twice (README, "Failure modes"): say it where the state shows.
        lines.append(gettext("Nobody can tell yet whether this message reached the provider (its request got "
                             "no answer). It is never sent again on a guess: SendGrid's signed event confirms it. "
                             "Without SendGrid's event webhook it stays unknown."))
    if notification.cancelled_reason:
        lines.append(gettext("Cancelled: %(reason)s", reason=notification.cancelled_reason))
    if notification.last_error:
        lines.append(gettext("Last error: %(error)s", error=notification.last_error))
    if notification.delivery_detail:
        lines.append(gettext("Delivery detail: %(detail)s", detail=notification.delivery_detail))
    title = notification.kind.value.replace("_", " ").capitalize()
    if notification.autopilot:
        title = gettext("%(kind)s (sent by autopilot)", kind=title)
    tone = "good" if notification.delivery_status and notification.delivery_status.value == "delivered" else \
        "bad" if notification.delivery_status and notification.delivery_status.undeliverable else "muted"
    return Entry(at, 2, notification.id, "message", title, lines, tone, notification=notification)


def timeline_entries(events: list[InboundEvent], obligations: list[Obligation],
                     notifications: list[Notification], mail_events: list[MailEvent],
                     replies: list[CandidateReply], zone: ZoneInfo) -> list[Entry]:
    """Every line of the timeline, newest first."""
    entries: list[Entry] = []
    for inbound in events:
        lines = [gettext("Occurred %(occurred)s · received %(received)s · from %(source)s",
                         occurred=local_time(inbound.occurred_at, zone), received=local_time(inbound.received_at, zone),
                         source=inbound.source)]
        if inbound.detail:
            lines.append(inbound.detail)
        entries.append(Entry(inbound.occurred_at, 0, inbound.id, "event",
                             gettext("ATS event %(type)s (%(outcome)s)", type=inbound.event_type,
                                     outcome=inbound.outcome.value), lines,
                             "muted" if inbound.outcome.value == "ignored" else "good"))
    for obligation in obligations:
        entries.extend(_cycle_entries(obligation, zone))
    by_id = {n.id: n for n in notifications}
    entries.extend(_message_entry(n, zone) for n in notifications)
    for mail_event in mail_events:
        message = by_id.get(mail_event.notification_id or 0)
        about = gettext("%(kind)s to %(to)s", kind=message.kind.value.replace("_", " "),
                        to=message.recipient_email or gettext("(no address)")) if message else gettext("a message")
        entries.append(Entry(mail_event.occurred_at, 4, mail_event.id, "delivery",
                             gettext("Delivery event: %(event)s (%(about)s)", event=mail_event.event, about=about),
                             [mail_event.detail] if mail_event.detail else [],
                             "good" if mail_event.event == "delivered" else
                             "bad" if mail_event.event in ("bounce", "dropped", "spamreport") else "muted"))
    for reply in replies:
        entries.append(Entry(reply.received_at, 5, reply.id, "reply", gettext("Reply from the candidate"),
                             [gettext("Subject: %(subject)s", subject=reply.subject)] if reply.subject else [], "muted",
                             reply=reply))
    entries.sort(key=lambda e: (e.at, e.rank, e.key), reverse=True)
    return entries
