"""`POST /webhooks/sendgrid/events/<org_id>`: SendGrid's signed Event Webhook (delivery proof).

Order of checks, each with an answer that says what is wrong: 413 body over 1 MB -> 404 unknown
organisation -> 403 no verification key configured -> 400 not UTF-8 -> 401 missing or bad signature
(over the raw body exactly as received; nothing stored, a warning names the organisation) -> 400 not
a JSON array of event objects (nothing stored) -> every event is stored once (`MailEvent`, deduplicated) and moves
its notification's delivery status -> commit -> 200 with counts. SendGrid retries any other answer
for 24 hours, and a retry is harmless: duplicates change nothing.

Events are matched to notifications by the `notification_id` custom arg our provider puts on every
message (SendGrid repeats message-level custom args as top-level keys of each event), and only to
notifications of the organisation in the URL. Unmatched events (other mail of the same SendGrid
account) are stored and otherwise ignored.

No timestamp tolerance: SendGrid re-posts events for up to 24 hours, and a replayed post of a
genuinely signed body is a duplicate, which changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from flask import Blueprint, current_app, jsonify, request
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from plugin import clock
from plugin.models import DeliveryStatus, MailEvent, Notification, NotificationState, Organization
from plugin.sla import messages
from plugin.web.body_limit import declared_too_large, read_within_limit
from plugin.web.errors import error_response as _error

log = logging.getLogger(__name__)

bp = Blueprint("sendgrid_events", __name__, url_prefix="/webhooks/sendgrid")

ACTOR = "sendgrid"
ATTEMPTS = 3  # a concurrent sweeper or worker changed a row we read: read again and re-apply
CONFIGURE = "configure the verification key with PATCH /api/v1/organization/mail"


@bp.post("/events/<org_id>")
def receive(org_id: str) -> Any:
    rt = current_app.extensions["ghostless"]
    too_large = f"The body is larger than {request.max_content_length} bytes."
    if declared_too_large(request):
        return _error(413, too_large)
    with rt.db.session() as session:
        org = session.get(Organization, org_id)
        if org is None:
            return _error(404, "No such organisation. Copy the Event Webhook URL from GET /api/v1/organization/mail.")
        public_key = org.sendgrid_event_public_key
    if not public_key:
        return _error(403, f"This organisation does not accept SendGrid events yet: {CONFIGURE} "
                           "(the key SendGrid shows under Mail Settings > Event Webhook > Signature Verification).")
    body = read_within_limit(request)
    if body is None:
        return _error(413, too_large)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _error(400, f"The body is not UTF-8 JSON: {exc}")
    problem = signature_problem(public_key, text, request.headers.get(EventWebhookHeader.SIGNATURE),
                                request.headers.get(EventWebhookHeader.TIMESTAMP))
    if problem is not None:
        log.warning("SendGrid event webhook refused for organisation %s: %s", org_id, problem)
        return _error(401, problem)
    try:
        events = parse_events(text)
    except BadEvents as exc:
        return _error(400, str(exc))
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with rt.db.session() as session:
                counts = record_events(session, org_id, events, clock.now())
            break
        except (StaleDataError, IntegrityError, OperationalError) as exc:
            log.warning("SendGrid events for organisation %s: conflict on attempt %d (%s)", org_id, attempt, exc)
    else:
        return _error(503, "Another process was changing the same records; SendGrid will retry this post.")
    return jsonify(counts), 200


def signature_problem(public_key: str, body: str, signature: str | None, timestamp: str | None) -> str | None:
    """Why the post is not SendGrid's (ECDSA P-256 / SHA-256 over timestamp + raw body), or None.

    `body` is the raw body decoded as UTF-8: the helper encodes it back, so the bytes verified are
    exactly the bytes received."""
    if not signature or not timestamp:
        return (f"Missing the {EventWebhookHeader.SIGNATURE} and {EventWebhookHeader.TIMESTAMP} headers: "
                "enable Signed Event Webhook Requests in SendGrid.")
    try:
        verifier = EventWebhook(public_key)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return f"The verification key stored for this organisation cannot be loaded ({exc}); {CONFIGURE}."
    try:
        base64.b64decode(signature, validate=True)
        if verifier.verify_signature(body, signature, timestamp):
            return None
    except (binascii.Error, InvalidSignature, ValueError):
        pass
    except TypeError:  # a key that loads but is not an elliptic-curve key
        return f"The verification key stored for this organisation is not an ECDSA key; {CONFIGURE}."
    return "The signature does not match the body (or the verification key is not this SendGrid account's)."


# -- parsing ---------------------------------------------------------------------------------------


class BadEvents(ValueError):
    """The body is not what SendGrid posts; the message says what is wrong."""


@dataclass(frozen=True)
class SendGridEvent:
    raw: dict[str, Any]
    event: str
    occurred_at: datetime
    sg_event_id: str | None
    sg_message_id: str | None
    notification_id: int | None
    dedupe_key: str
    detail: str | None


def parse_events(body: str) -> list[SendGridEvent]:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise BadEvents(f"The body is not valid JSON: {exc}") from None
    if not isinstance(payload, list):
        raise BadEvents(f"The body must be a JSON array of event objects, not a JSON {_json_type(payload)}.")
    return [_parse_one(i, item) for i, item in enumerate(payload)]


def _parse_one(index: int, item: Any) -> SendGridEvent:
    where = f"Event {index}"
    if not isinstance(item, dict):
        raise BadEvents(f"{where} must be a JSON object, not a JSON {_json_type(item)}.")
    name = item.get("event")
    if not isinstance(name, str) or not 0 < len(name) <= 32:
        raise BadEvents(f"{where} needs 'event', the event type as a string (e.g. \"delivered\").")
    timestamp = item.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        raise BadEvents(f"{where} needs 'timestamp', a unix time in seconds.")
    try:
        occurred_at = datetime.fromtimestamp(timestamp, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise BadEvents(f"{where}: 'timestamp' {timestamp!r} is not a usable unix time.") from None
    sg_event_id = _text(item.get("sg_event_id"), 100)
    sg_message_id = _text(item.get("sg_message_id"), 200)
    return SendGridEvent(
        raw=item, event=name, occurred_at=occurred_at, sg_event_id=sg_event_id, sg_message_id=sg_message_id,
        notification_id=_notification_id(item.get("notification_id")),
        dedupe_key=dedupe_key(item, name, sg_message_id, sg_event_id), detail=describe(item),
    )


def dedupe_key(item: dict[str, Any], name: str, sg_message_id: str | None, sg_event_id: str | None) -> str:
    """SendGrid may re-post an event with a new sg_event_id, so the message id, event type and
    timestamp identify it when there is a message id; otherwise sg_event_id; otherwise the content."""
    if sg_message_id:
        key = f"{sg_message_id}|{name}|{item['timestamp']}"
    elif sg_event_id:
        key = f"sg_event_id|{sg_event_id}"
    else:
        key = ""
    if not key or len(key) > 300:
        canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        key = "sha256|" + hashlib.sha256((key or canonical).encode()).hexdigest()
    return key


def describe(item: dict[str, Any]) -> str | None:
    """What a person needs to read: the bounce type and status, SendGrid's reason, the SMTP response."""
    qualifiers = [str(item[k]) for k in ("type", "status") if item.get(k)]
    if item.get("attempt"):
        qualifiers.append(f"attempt {item['attempt']}")
    text = str(item.get("reason") or item.get("response") or "").strip()
    head = f"{item.get('event')} ({', '.join(qualifiers)})" if qualifiers else str(item.get("event"))
    if not text and not qualifiers:
        return None
    return f"{head}: {text}"[:2000] if text else head[:2000]


def _notification_id(value: Any) -> int | None:
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return int(text) if text.isdigit() and len(text) < 18 else None


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "" else None


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


# -- applying --------------------------------------------------------------------------------------


def record_events(session: Session, org_id: str, events: list[SendGridEvent], now: datetime) -> dict[str, int]:
    """Store and apply every event; the counts SendGrid's delivery log will show."""
    outcomes = [record_event(session, org_id, event, now) for event in events]
    return {"received": len(events), "stored": len(events) - outcomes.count(DUPLICATE),
            "duplicates": outcomes.count(DUPLICATE), "unmatched": outcomes.count(UNMATCHED)}


DUPLICATE, UNMATCHED, APPLIED = "duplicate", "unmatched", "applied"


def record_event(session: Session, org_id: str, event: SendGridEvent, now: datetime) -> str:
    """Store one event unless seen before, and apply it to its notification."""
    seen = select(MailEvent.id).where(MailEvent.org_id == org_id, MailEvent.dedupe_key == event.dedupe_key)
    if session.scalar(seen) is not None:
        return DUPLICATE
    notification = None
    if event.notification_id is not None:
        notification = session.scalar(select(Notification).where(
            Notification.id == event.notification_id, Notification.org_id == org_id).with_for_update())
    row = MailEvent(
        org_id=org_id, notification_id=notification.id if notification else None, dedupe_key=event.dedupe_key,
        sg_event_id=event.sg_event_id, sg_message_id=event.sg_message_id, event=event.event,
        occurred_at=event.occurred_at, received_at=now, detail=event.detail, raw=event.raw,
    )
    try:
        with session.begin_nested():  # a concurrent post of the same event may have inserted it first
            session.add(row)
            session.flush()
    except IntegrityError:
        return DUPLICATE
    if notification is None:
        return UNMATCHED
    if notification.state is NotificationState.UNKNOWN:
        # Any event about a message means SendGrid accepted it: an uncertain send is confirmed.
        messages.confirm_sent(session, notification, at=event.occurred_at, provider="sendgrid",
                              provider_message_id=(event.sg_message_id or "").split(".")[0] or None, now=now,
                              actor=ACTOR, evidence=f"SendGrid event {event.event}")
    apply_status(session, notification, event, now)
    return APPLIED


STATUS_OF = {
    "processed": DeliveryStatus.PROCESSED,
    "deferred": DeliveryStatus.DEFERRED,
    "delivered": DeliveryStatus.DELIVERED,
    "bounce": DeliveryStatus.BOUNCE,  # `type` says bounce or blocked; both mean it did not arrive
    "dropped": DeliveryStatus.DROPPED,
    "spamreport": DeliveryStatus.SPAMREPORT,
}
IN_FLIGHT = (DeliveryStatus.PROCESSED, DeliveryStatus.DEFERRED)
# On equal timestamps, the more telling status wins.
_TIE_ORDER = {DeliveryStatus.PROCESSED: 0, DeliveryStatus.DEFERRED: 1, DeliveryStatus.BOUNCE: 2,
              DeliveryStatus.DROPPED: 2, DeliveryStatus.DELIVERED: 3, DeliveryStatus.SPAMREPORT: 4}


def supersedes(new: DeliveryStatus, at: datetime, current: DeliveryStatus | None, current_at: datetime | None) -> bool:
    """Events arrive out of order. A message in flight (processed, deferred) never overrides an
    outcome (delivered, bounce, dropped, spamreport); otherwise the later event wins."""
    if current is None or current_at is None:
        return True
    if new in IN_FLIGHT and current not in IN_FLIGHT:
        return False
    if current in IN_FLIGHT and new not in IN_FLIGHT:
        return True
    if at != current_at:
        return at > current_at
    return _TIE_ORDER[new] > _TIE_ORDER[current]


def apply_status(session: Session, notification: Notification, event: SendGridEvent, now: datetime) -> None:
    """Move the notification's delivery status; a bounce or drop escalates, a later delivery undoes it."""
    status = STATUS_OF.get(event.event)
    if status is None:
        return  # open, click, unsubscribe...: stored as evidence, nothing to act on
    if status is DeliveryStatus.DELIVERED and (notification.delivered_at is None
                                               or event.occurred_at < notification.delivered_at):
        notification.delivered_at = event.occurred_at  # proof of notice: the earliest delivery
    before = notification.delivery_status
    if not supersedes(status, event.occurred_at, before, notification.delivery_status_at):
        return
    notification.delivery_status, notification.delivery_status_at = status, event.occurred_at
    notification.delivery_detail = event.detail
    was_undeliverable = before is not None and before.undeliverable
    if status.undeliverable and not was_undeliverable:
        messages.mark_undeliverable(session, notification, f"SendGrid reported {event.detail or status.value}",
                                    now, ACTOR)
    elif was_undeliverable and status in (DeliveryStatus.DELIVERED, DeliveryStatus.SPAMREPORT):
        messages.mark_delivered_after_all(session, notification, now, ACTOR)
