"""Proof of notice for one application: what was owed, what was sent, and what reached whom.

For audits: in Germany (AGG §15(4)) a rejected applicant's two-month claim window starts when the
rejection is *received*, and the employer must prove when. The proof lists every message of the
application with its content exactly as stored, when it was sent, when the recipient's server
accepted it, and every delivery event SendGrid reported, plus each obligation cycle and whether it
was met (by `reports.outcomes`, the rule every on-time rate counts by). After erasure or retention
the same document keeps every timestamp and no personal data.

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

from plugin.models import Application, MailEvent, Notification, NotificationKind, Obligation, Organization
from plugin.notify.render import default_template_dir
from plugin.reports import outcomes

# The plain meaning of every timestamp in the document; part of the JSON and of the page.
TIMESTAMP_MEANINGS = {
    "scheduled_for": "When the message was due to go out (inside the recipient's send window, after any hold).",
    "sent_at": "When the mail provider accepted the message for delivery (SendGrid answered '202 Accepted'; "
               "with the .eml outbox, when the file was written). It is not proof that the recipient received it.",
    "delivered_at": "When the recipient's mail server accepted the message (SendGrid's 'delivered' event): the "
                    "proof-of-notice time. Empty until that event arrives; always empty with the .eml outbox.",
    "delivery_status_at": "When the latest delivery event for the message happened.",
    "events.occurred_at": "When SendGrid says the delivery event (processed, deferred, delivered, bounce, dropped, "
                          "spamreport) happened.",
    "events.received_at": "When Ghostless received that event from SendGrid's Event Webhook.",
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
    for message in messages:
        message.delivery_events = events[message.id]  # type: ignore[attr-defined]  # for the schema only
    return {"generated_at": generated_at, "organization": org, "application": app, "obligations": obligations,
            "messages": messages, "timestamps": TIMESTAMP_MEANINGS}


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
