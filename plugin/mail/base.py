"""Provider-neutral mail types, errors and the header-safety rules every provider applies.

Providers (outbox, SendGrid) call :func:`prepare` first, so that a hostile candidate name or
subject can never add a header (``"Eve\\r\\nBcc: x@y"``), whatever transport is used afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol, runtime_checkable

KIND_HEADER = "X-Ghostless-Kind"
NOTIFICATION_ID_HEADER = "X-Ghostless-Notification-Id"


@dataclass(frozen=True)
class Address:
    email: str
    name: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: int
    kind: str  # e.g. "status_update", "reminder_recruiter"
    sender: Address
    to: Address
    subject: str
    text: str
    html: str
    reply_to: Address | None = None
    # Extra headers, e.g. {"X-Ghostless-Autopilot": "yes"}.
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None


# SendGrid: at most 1000 recipients (personalizations here, one `to` each) per request.
BULK_MAX_RECIPIENTS = 1000


@dataclass(frozen=True)
class BulkRecipient:
    notification_id: int
    to: Address
    # Token -> this recipient's value, applied to subject, text and HTML (SendGrid `substitutions`).
    substitutions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BulkMessage:
    """One content, many recipients (job closing notices): one SendGrid request.

    The subject and parts contain substitution tokens; each recipient's message is the content with
    their values put in (`personalised`). Every recipient address appears once.
    """

    kind: str
    sender: Address
    subject: str
    text: str
    html: str
    recipients: Sequence[BulkRecipient]
    reply_to: Address | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def personalised(self) -> list[OutgoingMessage]:
        return [
            OutgoingMessage(
                notification_id=r.notification_id, kind=self.kind, sender=self.sender, to=r.to,
                subject=substitute(self.subject, r.substitutions), text=substitute(self.text, r.substitutions),
                html=substitute(self.html, r.substitutions), reply_to=self.reply_to, headers=self.headers,
            )
            for r in self.recipients
        ]


def substitute(content: str, substitutions: Mapping[str, str]) -> str:
    """What SendGrid does with `substitutions`: replace every token with its value."""
    for token, value in substitutions.items():
        content = content.replace(token, value)
    return content


class MailError(Exception):
    """Base class: the message was not (known to be) handed to the provider."""


class TransientMailError(MailError):
    """429, 5xx, timeouts, connection errors: try again later.

    ``retry_at`` is an aware UTC datetime when the provider said when to come back
    (429 with ``X-RateLimit-Reset``); otherwise the caller picks its own backoff.
    """

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        if retry_at is not None and retry_at.tzinfo is None:
            # A naive time would be silently read as local time by the scheduler.
            raise ValueError("retry_at must be timezone-aware")
        self.retry_at = retry_at


class PermanentMailError(MailError):
    """4xx other than 429, or a message we refuse to build: escalate, do not retry."""


class UncertainMailError(Exception):
    """The request reached the provider but no answer came back (a read timeout, a connection cut
    after the body went out): the message may have been accepted. It is never retried blindly; the
    provider's events (or `MailProvider.was_sent`) confirm or refute it (invariant 9)."""


@dataclass(frozen=True)
class SendCheck:
    """What a provider can tell about one message after the fact."""

    sent: bool
    at: datetime | None = None  # when the provider took it, if known
    provider_message_id: str | None = None


@runtime_checkable
class MailProvider(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...

    def send_bulk(self, message: BulkMessage) -> dict[int, str | None]:
        """Send to every recipient in one request: all accepted (notification id -> provider
        message id), or one error for all."""
        ...

    def was_sent(self, notification_id: int) -> SendCheck | None:
        """Whether a message whose send was interrupted reached the provider; None: this provider
        cannot say (SendGrid: its events will)."""
        ...


# --- header safety ---------------------------------------------------------------------------

# Everything a mail parser could treat as a line break (CR, LF and the other characters
# str.splitlines() splits on), plus the remaining C0 controls and DEL. Tab stays: it is legal
# folding whitespace.
_UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]+")
# RFC 5322 field name: printable ASCII except colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
# The kind ends up in a file name and a SendGrid category, so keep it boring.
_KIND = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Headers a provider sets itself (SendGrid also refuses overrides of most of these).
_RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "Message-ID", "Sender",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Received",
        "DKIM-Signature", "x-sg-id", "x-sg-eid", KIND_HEADER, NOTIFICATION_ID_HEADER,
    )
)


def clean_header_text(value: str) -> str:
    """Replace line breaks and control characters with a space.

    Stripping (rather than rejecting) keeps a mail to a candidate whose stored name is odd
    flowing, while making header injection impossible.
    """
    return _UNSAFE_TEXT.sub(" ", value).strip()


def _clean_address(address: Address, role: str) -> Address:
    email = address.email.strip()
    # An address is not free text: a control character or space means a bad record, and no
    # retry will fix it.
    if _UNSAFE_TEXT.search(email) or any(c.isspace() for c in email) or email.count("@") != 1:
        raise PermanentMailError(f"invalid {role} address: {email!r}")
    local, _, domain = email.partition("@")
    if not local or not domain:
        raise PermanentMailError(f"invalid {role} address: {email!r}")
    name = clean_header_text(address.name) if address.name else None
    return Address(email=email, name=name or None)


def prepare(message: OutgoingMessage) -> OutgoingMessage:
    """Return a copy that is safe to put on the wire, or raise PermanentMailError."""
    if isinstance(message.notification_id, bool) or not isinstance(message.notification_id, int):
        raise PermanentMailError("notification_id must be an int")
    if message.notification_id < 0:
        raise PermanentMailError("notification_id must not be negative")
    if not _KIND.fullmatch(message.kind):
        raise PermanentMailError(f"invalid kind: {message.kind!r}")
    headers: dict[str, str] = {}
    for name, value in message.headers.items():
        if not _FIELD_NAME.fullmatch(name):
            raise PermanentMailError(f"invalid header name: {name!r}")
        if name.lower() in _RESERVED_HEADERS:
            raise PermanentMailError(f"header {name!r} is set by the mail layer")
        headers[name] = clean_header_text(str(value))
    subject = clean_header_text(message.subject)
    if not subject:
        # SendGrid rejects an empty subject (minLength 1); fail the same way everywhere.
        raise PermanentMailError("subject is empty")
    return replace(
        message,
        sender=_clean_address(message.sender, "sender"),
        to=_clean_address(message.to, "recipient"),
        reply_to=_clean_address(message.reply_to, "reply-to") if message.reply_to else None,
        subject=subject,
        headers=headers,
    )


def ghostless_headers(message: OutgoingMessage) -> dict[str, str]:
    """The X-Ghostless-* headers followed by the message's extra headers (already prepared)."""
    return {
        KIND_HEADER: message.kind,
        NOTIFICATION_ID_HEADER: str(message.notification_id),
        **message.headers,
    }
