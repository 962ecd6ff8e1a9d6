"""SendGrid's signed Event Webhook, read: the ECDSA signature check and the event batch as typed events.

Verification and parsing only: no database, no HTTP framework. The route
(`plugin.api.sendgrid_events`) hands in the raw body and two header values; what the events do to
notifications is `plugin.notify.delivery_events`.

No tolerance on the signature's timestamp header: SendGrid re-posts events for up to 24 hours, and
a replayed post of a genuinely signed body is a duplicate, which changes nothing. Each event's own
time is checked instead (`timing_problem`): a `delivered` time becomes the proof-of-notice time, so
an event that claims to have happened before the message was handed to SendGrid, longer ago than
SendGrid ever retries, or in the future, is refused (stored as refused, applied to nothing).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader

from plugin.json_input import BadJson, parse_json

SIGNATURE_HEADER = EventWebhookHeader.SIGNATURE
TIMESTAMP_HEADER = EventWebhookHeader.TIMESTAMP
# Every refusal about the key tells the admin where to fix it (the route's 403 says the same).
CONFIGURE = "configure the verification key with PATCH /api/v1/organization/mail"


# Our clock and SendGrid's may disagree by this much (NTP keeps both within seconds), and our send
# time is taken after SendGrid's 202, so its `processed` may precede it by the request's duration.
CLOCK_SKEW = timedelta(minutes=5)
# SendGrid retries a post "for up to 24 hours after the event occurs" (Event Webhook troubleshooting
# docs), so an older event cannot come from SendGrid.
RETRY_WINDOW = timedelta(hours=24)


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


# -- verification ----------------------------------------------------------------------------------


def decode_body(body: bytes) -> str:
    """The raw body as text. Checked before the signature: the helper verifies text, and encodes it
    back, so a body that is not UTF-8 could never be verified byte for byte."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadEvents(f"The body is not UTF-8 JSON: {exc}") from None


def signature_problem(public_key: str, body: str, signature: str | None, timestamp: str | None) -> str | None:
    """Why the post is not SendGrid's (ECDSA P-256 / SHA-256 over timestamp + raw body), or None.

    `body` is the raw body decoded as UTF-8: the helper encodes it back, so the bytes verified are
    exactly the bytes received."""
    if not signature or not timestamp:
        return (f"Missing the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers: "
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


def key_fingerprint(key: str | None) -> str | None:
    """Enough to recognise a verification key, never the key itself ("SHA256:" + 16 hex digits of
    the SHA-256 of its DER bytes)."""
    if not key:
        return None
    try:
        der = base64.b64decode(key)
    except ValueError:
        der = key.encode()
    return "SHA256:" + hashlib.sha256(der).hexdigest()[:16]


@dataclass(frozen=True)
class VerifyingKey:
    """The key a post was verified with, and who set it when (None: set before that was recorded)."""

    fingerprint: str
    set_at: datetime | None
    set_by: str | None


# -- times -----------------------------------------------------------------------------------------


def timing_problem(occurred_at: datetime, *, handed_over: datetime | None, now: datetime) -> str | None:
    """Why an event's time cannot be true, or None.

    `handed_over` is when we gave the message to SendGrid (our clock; None when the event matched no
    message of ours). Events are about messages SendGrid already had, and reach us within its retry
    window; anything else is forged, or another account's replay, and must not become proof."""
    if handed_over is not None and occurred_at < handed_over - CLOCK_SKEW:
        return (f"happened at {_iso(occurred_at)}, before the message was handed to SendGrid at "
                f"{_iso(handed_over)} (more than {_minutes(CLOCK_SKEW)} of clock skew)")
    if occurred_at < now - RETRY_WINDOW - CLOCK_SKEW:
        return (f"happened at {_iso(occurred_at)}, more than {int(RETRY_WINDOW.total_seconds() // 3600)} hours "
                f"before it arrived at {_iso(now)}; SendGrid retries for no longer than that")
    if occurred_at > now + CLOCK_SKEW:
        return (f"happened at {_iso(occurred_at)}, after it arrived at {_iso(now)} "
                f"(more than {_minutes(CLOCK_SKEW)} of clock skew)")
    return None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _minutes(span: timedelta) -> str:
    return f"{int(span.total_seconds() // 60)} minutes"


# -- parsing ---------------------------------------------------------------------------------------


def parse_events(body: str) -> list[SendGridEvent]:
    """Every event of the batch, or BadEvents naming the first thing that is wrong (all or nothing:
    a batch with one bad event is refused whole, so nothing of it is stored)."""
    try:
        payload = parse_json(body)  # bounded nesting: 100,000 `[` is a 400, not a RecursionError
    except BadJson as exc:
        raise BadEvents(str(exc)) from None
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
    """Our `notification_id` custom arg (SendGrid repeats message-level custom args as top-level
    keys of each event); anything that is not a plain id matches nothing."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return int(text) if text.isdigit() and len(text) < 18 else None


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "" else None


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")
