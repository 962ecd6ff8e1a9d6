"""Proof of notice for one application: what was owed, what was sent, and what reached whom.

For audits: in Germany (AGG §15(4)) a rejected applicant's two-month claim window starts when the
rejection is *received*, and the employer must prove when. The proof lists every message of the
application with its content exactly as stored, when it was sent, when the recipient's server
accepted it, and every delivery event SendGrid reported, plus each obligation cycle and whether it
was met (by `reports.outcomes`, the rule every on-time rate counts by). After erasure or retention
the same document keeps every timestamp and no personal data.

Each message says what its times rest on (`sent_at_basis`, `delivered_at_basis`): our own clock
when SendGrid accepted it (or when the .eml file was written), and for the delivered time the signed
SendGrid event it comes from, the fingerprint of the key that verified that event and who set the
key when. A key set after the message was sent is flagged (`delivered_at_warnings`): whoever set it
could have signed the event themselves. Events refused for an impossible time are listed with why.

`build_proof` gathers it (the API answers it as JSON, the dashboard's compliance page links it);
`render_page` prints it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from plugin.mail.sendgrid_events import CLOCK_SKEW, RETRY_WINDOW
from plugin.models import (
    Application,
    AuditEntry,
    DeliveryStatus,
    MailEvent,
    Notification,
    NotificationKind,
    Obligation,
    Organization,
)
from plugin.notify.render import default_template_dir
from plugin.reports import outcomes

# The plain meaning of every timestamp in the document; part of the JSON and of the page.
TIMESTAMP_MEANINGS = {
    "scheduled_for": "When the message was due to go out (inside the recipient's send window, after any hold).",
    "sent_at": "When the mail provider accepted the message for delivery, by Ghostless's clock (SendGrid answered "
               "'202 Accepted'; with the .eml outbox, when the file was written). It is not proof that the "
               "recipient received it. sent_at_basis says which.",
    "delivered_at": "When the recipient's mail server accepted the message, by SendGrid's clock (its signed "
                    "'delivered' event): the proof-of-notice time. Empty until that event arrives; always empty "
                    "with the .eml outbox. delivered_at_basis names the event, the key that verified it and who "
                    "set that key when; an event timed before the message was handed to SendGrid (beyond "
                    f"{int(CLOCK_SKEW.total_seconds() // 60)} minutes of clock skew), more than "
                    f"{int(RETRY_WINDOW.total_seconds() // 3600)} hours before it arrived, or after it arrived, "
                    "is refused and never becomes this time.",
    "delivery_status_at": "When the latest delivery event for the message happened.",
    "events.occurred_at": "When SendGrid says the delivery event (processed, deferred, delivered, bounce, dropped, "
                          "spamreport) happened.",
    "events.received_at": "When Ghostless received that event from SendGrid's Event Webhook.",
    "events.key_set_at": "When the verification key that checked the event's signature was set, and by whom "
                         "(events.key_set_by). A key set after the message was sent is flagged.",
    "obligations.due_at": "The deadline by which the candidate had to hear from the employer in that cycle.",
    "obligations.discharged_at": "When the candidate heard from the employer in that cycle (a message's sent_at, "
                                 "or a contact the ATS reported). 'met': true when that was by due_at and no breach "
                                 "was recorded; false when the deadline was missed (a breach, a late answer, or "
                                 "no answer yet past due_at); empty while the deadline is ahead or when nothing "
                                 "was owed any more (withdrawn, erased). The dashboard's on-time rate counts the same.",
    "generated_at": "When this document was produced.",
    "time_zone": "Every instant is UTC (ISO 8601). The printable page also shows the organisation's time zone.",
}

def build_proof(session: Session, org: Organization, app: Application, *, generated_at: datetime) -> dict[str, Any]:
    obligations = list(session.scalars(select(Obligation).where(Obligation.application_id == app.id)
                                       .order_by(Obligation.cycle)))
    messages = _messages(session, org, app)
    events: dict[int, list[MailEvent]] = defaultdict(list)
    if messages:
        for mail_event in session.scalars(select(MailEvent).where(MailEvent.notification_id.in_([m.id for m in messages]))
                                          .order_by(MailEvent.occurred_at, MailEvent.id)):
            events[mail_event.notification_id].append(mail_event)  # type: ignore[index]
    history = _history(session, org, messages)
    for message in messages:
        # Attached for the schema and the page only.
        message.delivery_events = events[message.id]  # type: ignore[attr-defined]
        for mail_event in events[message.id]:
            mail_event.key_set_after_sent = _key_set_after_sent(mail_event, message)  # type: ignore[attr-defined]
        message.sent_at_basis = sent_basis(message, history[message.id])  # type: ignore[attr-defined]
        basis, warnings = delivered_basis(message, events[message.id])
        message.delivered_at_basis, message.delivered_at_warnings = basis, warnings  # type: ignore[attr-defined]
        message.refused_events = [  # type: ignore[attr-defined]
            {"event": e.after.get("event"), "occurred_at": e.after.get("occurred_at"), "received_at": e.at,
             "reason": e.after.get("reason"), "key_fingerprint": e.after.get("key_fingerprint")}
            for e in history[message.id] if e.action == REFUSED and e.after]
    return {"generated_at": generated_at, "organization": org, "application": app, "obligations": obligations,
            "messages": messages, "timestamps": TIMESTAMP_MEANINGS}


REFUSED, CONFIRMED = "delivery_event_refused", "confirmed_sent"


def _history(session: Session, org: Organization, messages: list[Notification]) -> dict[int, list[AuditEntry]]:
    """The audit entries that bear on a message's times: refused events, a lost send confirmed by an event."""
    found: dict[int, list[AuditEntry]] = defaultdict(list)
    if messages:
        for entry in session.scalars(select(AuditEntry).where(
                AuditEntry.org_id == org.id, AuditEntry.entity == "notification",
                AuditEntry.entity_id.in_([str(m.id) for m in messages]), AuditEntry.action.in_((REFUSED, CONFIRMED)))
                .order_by(AuditEntry.at, AuditEntry.id)):
            found[int(entry.entity_id)].append(entry)
    return found


def sent_basis(message: Notification, history: list[AuditEntry]) -> str | None:
    """What the send time rests on, in words."""
    if message.sent_at is None:
        return None
    at = _utc(message.sent_at)
    if message.provider == "outbox":
        return f"Written to the .eml outbox at {at} (Ghostless's clock); no mail provider was involved."
    confirmed = next((e for e in history if e.action == CONFIRMED), None)
    provider = "SendGrid" if message.provider in (None, "sendgrid") else message.provider
    if confirmed is not None:
        evidence = (confirmed.after or {}).get("evidence") or "a SendGrid event"
        return (f"Handed to {provider} by {at}: the answer to the send was lost, and {evidence} (signed by "
                f"SendGrid, its time by SendGrid's clock) confirmed it on {_utc(confirmed.at)}.")
    return f"Handed to {provider} at {at} (Ghostless's clock, when {provider} accepted the message)."


def delivered_basis(message: Notification, events: list[MailEvent]) -> tuple[str | None, list[str]]:
    """What the delivered time rests on, in words, and what a reader should doubt about it."""
    if message.delivered_at is None:
        return None, []
    source = next((e for e in events if e.event == DeliveryStatus.DELIVERED.value
                   and e.occurred_at == message.delivered_at), None)
    at = _utc(message.delivered_at)
    if source is None:
        return f"Delivered at {at} per a SendGrid 'delivered' event that is no longer stored.", []
    basis = (f"Delivered at {at} per SendGrid's signed 'delivered' event (SendGrid's clock), received by Ghostless "
             f"at {_utc(source.received_at)}, " + _key_words(source))
    warnings = []
    if source.key_fingerprint is None or source.key_set_at is None:
        warnings.append("Ghostless did not record when the verification key was set, so it cannot show that the "
                        "key was SendGrid's before the message was sent.")
    elif _key_set_after_sent(source, message):
        warnings.append(f"The verification key was set on {_utc(source.key_set_at)}, after the message was sent "
                        f"({_utc(message.sent_at)}): whoever set it could have signed this event. SendGrid's Email "
                        "Activity for the message can confirm the delivery.")
    return basis, warnings


def _key_words(event: MailEvent) -> str:
    if event.key_fingerprint is None:
        return "verified with a key whose fingerprint was not recorded (received before Ghostless recorded keys)."
    who = f" set by {event.key_set_by}" if event.key_set_by else ""
    when = f" on {_utc(event.key_set_at)}" if event.key_set_at else " (when it was set was not recorded)"
    return f"verified with the key {event.key_fingerprint}{who}{when}."


def _key_set_after_sent(event: MailEvent, message: Notification) -> bool:
    return event.key_set_at is not None and message.sent_at is not None and event.key_set_at > message.sent_at


def _messages(session: Session, org: Organization, app: Application) -> list[Notification]:
    """The application's messages, and closing notices that covered it among the person's other jobs."""
    rows = session.scalars(
        select(Notification).where(
            Notification.org_id == org.id,
            or_(Notification.application_id == app.id,
                and_(Notification.kind == NotificationKind.JOB_CLOSED, Notification.candidate_id == app.candidate_id)),
        ).order_by(Notification.scheduled_for, Notification.id)
    ).all()
    return [n for n in rows if n.application_id == app.id or app.id in (n.context or {}).get("application_ids", [])]


# -- the printable page -----------------------------------------------------------------------------

KIND_LABELS = {
    NotificationKind.NEXT_STEPS: "Next steps",
    NotificationKind.STATUS_UPDATE: "Status update",
    NotificationKind.REJECTION: "Rejection",
    NotificationKind.JOB_CLOSED: "Job closed",
    NotificationKind.REMINDER_RECRUITER: "Reminder to the recruiter",
    NotificationKind.REMINDER_HIRING_MANAGER: "Reminder to the hiring manager",
    NotificationKind.ESCALATION: "Escalation",
    NotificationKind.DELIVERY_FAILED: "Delivery failed (to the recruiter)",
    NotificationKind.REPLY_ACK: "Answer to the candidate's reply",
    NotificationKind.REPLY_FORWARD: "Candidate's reply, forwarded",
    NotificationKind.CANDIDATE_WITHDREW: "Candidate withdrew (to the recruiter)",
}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Our own template, not an organisation's: a plain environment, but every value is escaped.
    env = Environment(loader=FileSystemLoader(str(default_template_dir())), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["utc"] = _utc
    env.filters["css_string"] = css_string
    env.globals["kind_label"] = lambda kind: KIND_LABELS.get(kind, kind.value)
    return env


def render_page(proof: dict[str, Any]) -> str:
    org: Organization = proof["organization"]
    zone = _zone(org.timezone)
    return _environment().get_template("proof/proof.html").render(
        **proof, meanings=TIMESTAMP_MEANINGS, local=lambda at: _local(at, zone), zone_name=zone.key,
        met=lambda obligation: outcomes.met(obligation, proof["generated_at"]),
    )


def css_string(value: object) -> Markup:
    """A quoted CSS string in which every character but letters, digits and spaces is a CSS escape,
    so no value can end the string, the rule or the <style> element (HTML escaping does not apply there)."""
    escaped = "".join(c if (c.isascii() and c.isalnum()) or c == " " else f"\\{ord(c):06x}" for c in str(value))
    return Markup(f'"{escaped}"')


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _utc(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else ""


def _local(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") if at is not None else ""
