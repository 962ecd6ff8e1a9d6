"""Production provider: SendGrid v3 Mail Send through the official client (sendgrid-python 6.x).

Error mapping (see notes/stack/sendgrid.md):
- 200/202 -> sent; 200 is what sandbox mode answers.
- 429 -> TransientMailError, retry_at from X-RateLimit-Reset (unix seconds).
- 5xx, a connection that could not be made -> TransientMailError (SendGrid did not take it).
- no answer after the request went out (read timeout, connection cut) -> UncertainMailError: it
  may have been accepted, and SendGrid has no idempotency key, so it is not retried until the Event
  Webhook says whether SendGrid processed it (invariant 9).
- other 4xx -> PermanentMailError carrying SendGrid's own error messages.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Category,
    CustomArg,
    From,
    Header,
    HtmlContent,
    Mail,
    Personalization,
    PlainTextContent,
    ReplyTo,
    Subject,
    Substitution,
    To,
)

from plugin.mail.base import (
    BULK_MAX_RECIPIENTS,
    KIND_HEADER,
    NOTIFICATION_ID_HEADER,
    BulkMessage,
    OutgoingMessage,
    PermanentMailError,
    SendCheck,
    SendResult,
    TransientMailError,
    UncertainMailError,
    clean_header_text,
    ghostless_headers,
    prepare,
)

# urllib wraps whatever goes wrong while *sending* the request (refused connection, DNS, a connect
# timeout) in URLError: SendGrid never had the whole request, so another try later is safe.
_NOT_SENT_ERRORS: tuple[type[BaseException], ...] = (urllib.error.URLError,)
# Errors while *waiting for the answer* (a read timeout, the connection cut, a garbled status line)
# come unwrapped: the request went out and may have been accepted, so it must not be retried
# before SendGrid's events say whether it was.
# TimeoutError covers socket.timeout (an alias since 3.10).
_NO_ANSWER_ERRORS: tuple[type[BaseException], ...] = (
    TimeoutError,
    socket.timeout,
    ConnectionError,
    http.client.HTTPException,
)


def _header(headers: Any, name: str) -> str | None:
    """Case-insensitive header lookup on an HTTPMessage or a plain dict."""
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is not None:
        value = getter(name)
        if value is not None:
            return str(value)
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if str(key).lower() == name.lower():
                return str(value)
    return None


def _retry_at(headers: Any) -> datetime | None:
    raw = _header(headers, "X-RateLimit-Reset")
    if raw is None:
        return None
    try:
        return datetime.fromtimestamp(float(raw.strip()), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None  # unparsable: let the caller fall back to its own backoff


def _recipient_name(name: str | None) -> str | None:
    """SendGrid refuses ';' and ',' in to/cc/bcc names (documented limitation), which would turn
    a candidate called "Müller, José" into a permanent failure. Replace them instead."""
    if not name:
        return None
    cleaned = " ".join(name.replace(",", " ").replace(";", " ").split())
    return cleaned or None


def _error_messages(body: bytes | str | None) -> str:
    """Join SendGrid's {"errors":[{"message","field"}]} into one readable line."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        errors = json.loads(text).get("errors") or []
        parts = []
        for error in errors:
            message = str(error.get("message") or "").strip()
            field = error.get("field")
            parts.append(f"{message} (field: {field})" if field else message)
        if parts:
            return "; ".join(parts)
    except (ValueError, AttributeError, TypeError):
        pass
    return text[:500]


class SendGridProvider:
    name = "sendgrid"

    def __init__(
        self, api_key: str, host: str = "https://api.sendgrid.com", timeout: float = 10.0
    ) -> None:
        if not api_key or not api_key.strip():
            # SendGridAPIClient would silently fall back to $SENDGRID_API_KEY, or send
            # "Bearer None"; a missing key is a configuration error to surface at start-up.
            raise ValueError("SendGrid api_key is empty")
        self._client = SendGridAPIClient(api_key=api_key, host=host)
        # The client's default timeout is None, i.e. a stuck connection blocks a worker forever.
        # Child clients copy it when the URL path is built.
        self._client.client.timeout = timeout

    def build_request_body(self, message: OutgoingMessage) -> dict[str, Any]:
        """The JSON body for POST /v3/mail/send (exposed for contract tests)."""
        message = prepare(message)
        mail = Mail(
            from_email=From(message.sender.email, message.sender.name),
            to_emails=To(message.to.email, _recipient_name(message.to.name)),
            subject=Subject(message.subject),
            plain_text_content=PlainTextContent(message.text),
            html_content=HtmlContent(message.html),
        )
        if message.reply_to is not None:
            mail.reply_to = ReplyTo(message.reply_to.email, message.reply_to.name)
        mail.category = Category(message.kind)
        # Message-level custom args come back on every Event Webhook event; that is how events
        # are matched to notifications. Values must be strings or the API answers 400.
        mail.custom_arg = [
            CustomArg("notification_id", str(message.notification_id)),
            CustomArg("kind", message.kind),
        ]
        mail.header = [Header(name, value) for name, value in ghostless_headers(message).items()]
        body: dict[str, Any] = mail.get()
        return body

    def build_bulk_request_body(self, message: BulkMessage) -> dict[str, Any]:
        """One request, one personalization per recipient (exposed for contract tests).

        Each personalization carries the recipient's substitutions, their notification id as a
        custom arg (so every Event Webhook event names its notification) and as a header.
        """
        if not 1 <= len(message.recipients) <= BULK_MAX_RECIPIENTS:
            raise PermanentMailError(f"a bulk send takes 1..{BULK_MAX_RECIPIENTS} recipients, "
                                     f"got {len(message.recipients)}")
        # Validate sender, subject and headers once, and every recipient address on its own.
        first = prepare(message.personalised()[0])
        mail = Mail(
            from_email=From(first.sender.email, first.sender.name),
            subject=Subject(clean_header_text(message.subject)),
            plain_text_content=PlainTextContent(message.text),
            html_content=HtmlContent(message.html),
        )
        for index, recipient in enumerate(message.recipients):
            to = prepare(OutgoingMessage(recipient.notification_id, message.kind, message.sender,
                                         recipient.to, "x", "", "")).to
            personalization = Personalization()
            personalization.add_to(To(to.email, _recipient_name(to.name)))
            for token, value in recipient.substitutions.items():
                personalization.add_substitution(Substitution(token, value))
            personalization.add_custom_arg(CustomArg("notification_id", str(recipient.notification_id)))
            personalization.add_header(Header(NOTIFICATION_ID_HEADER, str(recipient.notification_id)))
            mail.add_personalization(personalization, index=index)  # the helper inserts at 0 by default
        if first.reply_to is not None:
            mail.reply_to = ReplyTo(first.reply_to.email, first.reply_to.name)
        mail.category = Category(message.kind)
        mail.custom_arg = [CustomArg("kind", message.kind)]
        mail.header = [Header(KIND_HEADER, message.kind)] + [
            Header(name, value) for name, value in first.headers.items()]
        body: dict[str, Any] = mail.get()
        return body

    def send_bulk(self, message: BulkMessage) -> dict[int, str | None]:
        message_id = self._post(self.build_bulk_request_body(message))
        return {recipient.notification_id: message_id for recipient in message.recipients}

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(provider_message_id=self._post(self.build_request_body(message)))

    def was_sent(self, notification_id: int) -> SendCheck | None:
        """SendGrid cannot be asked about one message without the paid Email Activity API: its Event
        Webhook (plugin.notify.delivery_events) confirms an uncertain send instead."""
        return None

    def _post(self, body: dict[str, Any]) -> str | None:
        """POST /v3/mail/send; the X-Message-Id on success, a Transient/PermanentMailError otherwise."""
        try:
            # Same call SendGridAPIClient.send() makes, but with the JSON we already built.
            response = self._client.client.mail.send.post(request_body=body)
        except HTTPError as exc:
            raise self._map_http_error(exc) from exc
        except _NOT_SENT_ERRORS as exc:
            raise TransientMailError(f"SendGrid unreachable: {exc!r}") from exc
        except _NO_ANSWER_ERRORS as exc:
            raise UncertainMailError(f"SendGrid did not answer after the request was sent: {exc!r}") from exc

        if response.status_code in (200, 202):
            return _header(response.headers, "X-Message-Id")
        # Any other non-error status is unexplained. The mail may have been accepted, so
        # escalate rather than retry into a possible duplicate.
        raise PermanentMailError(f"SendGrid answered unexpected status {response.status_code}")

    @staticmethod
    def _map_http_error(exc: HTTPError) -> Exception:
        status = int(getattr(exc, "status_code", 0) or 0)
        details = _error_messages(getattr(exc, "body", None))
        text = f"SendGrid {status}: {details}" if details else f"SendGrid {status}"
        if status == 429:
            return TransientMailError(text, retry_at=_retry_at(getattr(exc, "headers", None)))
        if status >= 500:
            return TransientMailError(text)
        return PermanentMailError(text)
