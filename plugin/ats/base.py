"""The small interface every ATS adapter implements, and what the core hands to it.

Flow (STYLE.md): webhook -> stored raw delivery -> adapter -> canonical events -> ledger.
An adapter is pure translation plus vendor REST calls: it never touches the database or Flask.
What it needs to know about records we already hold (an `interview_deleted` webhook names only the
interview) it asks through `Context.lookup`.

Canonical event ids are derived from the *fact*, not the delivery (for example
`greenhouse:application:265293:rejected:2015-02-11T15:50:41Z`), so the same change seen by a webhook
and by the reconciliation poll has one id and the ledger applies it once.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from plugin.events.types import CanonicalEvent

__all__ = [
    "Adapter", "AdapterError", "ApplicationKeys", "Connection", "Context", "Lookup", "PollPage",
    "WebhookRequest", "clean_email", "clip", "parse_time",
]


class AdapterError(Exception):
    """The delivery cannot be translated (a payload the vendor's docs do not describe).

    Permanent: replaying the same bytes gives the same error. The message is shown to admins on the
    delivery, so it says what was wrong ("payload.application.id is missing").
    """


@dataclass(frozen=True)
class WebhookRequest:
    """One delivery as received: the exact bytes (signatures are over them) and the headers.

    `headers` keys are lower-case. `payload` is the parsed JSON body; it is None while a raw-body
    signature is checked (`Adapter.signs_raw_body`), before the body is parsed.
    """

    body: bytes
    headers: Mapping[str, str]
    payload: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Connection:
    """A decrypted view of one ATS connection, as adapters see it."""

    id: str
    org_id: str
    provider: str
    signing_secrets: tuple[str, ...]  # accepted now: the current one first, then a rotated-out one in grace
    credentials: Mapping[str, str]
    options: Mapping[str, Any]

    def api_base_url(self, default: str) -> str:
        return str(self.options.get("api_base_url") or default)


@dataclass(frozen=True)
class ApplicationKeys:
    """The ATS ids of an application we already know, for events that name only part of it."""

    application_id: str
    candidate_id: str
    job_id: str


class Lookup(Protocol):
    """Read-only questions an adapter may ask about records the organisation already holds."""

    def interview(self, interview_id: str) -> ApplicationKeys | None: ...

    def application(self, application_id: str) -> ApplicationKeys | None: ...

    def applications_of_candidate(self, candidate_id: str) -> list[ApplicationKeys]: ...


@dataclass
class Context:
    connection: Connection
    now: datetime
    lookup: Lookup
    # Per-run memo for vendor lookups (archive reasons, stages) so one delivery fetches them once.
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PollPage:
    """One step of a reconciliation poll: raw vendor records, and where to continue from.

    `records` are stored raw (like a webhook) before `events_from_records` translates them, so a poll
    can be replayed. `more` means call `fetch_changes` again with `cursor` right away.
    """

    records: list[dict[str, Any]]
    cursor: dict[str, Any]
    more: bool = False


class Adapter(ABC):
    provider: ClassVar[str]  # "greenhouse": the URL segment and registry key
    title: ClassVar[str]  # "Greenhouse": for people
    success_status: ClassVar[int] = 200  # what the vendor counts as delivered
    default_api_base_url: ClassVar[str]
    # Credential names the connection may carry for REST calls, and which of them are required.
    credential_fields: ClassVar[tuple[str, ...]] = ()
    required_credentials: ClassVar[tuple[str, ...]] = ()
    signing_secret_required: ClassVar[bool] = True
    # True when the signature covers the raw body (a header over the bytes): it is then checked before
    # the body is parsed, so an unsigned post never reaches the JSON parser. Lever signs fields inside
    # the body, so its body must be parsed (with the nesting bound) to be verified.
    signs_raw_body: ClassVar[bool] = True

    # -- webhooks --------------------------------------------------------------------------------
    @abstractmethod
    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> bool:
        """True when the request is signed by one of `secrets` (constant-time comparison)."""

    def delivery_id(self, request: WebhookRequest) -> str | None:
        """The vendor's id for this delivery (dedupe key); None means "use a hash of the body"."""
        return None

    def event_name(self, request: WebhookRequest) -> str:
        """The vendor's name for what happened ("reject_candidate"), for lists and logs."""
        payload = request.payload
        return str(payload.get("action") or payload.get("event") or "unknown") if isinstance(payload, dict) else "unknown"

    def is_ping(self, request: WebhookRequest) -> bool:
        """The vendor's test or ping request: acknowledged with `success_status`, nothing applied."""
        return False

    def stale_reason(self, request: WebhookRequest, now: datetime,
                     options: Mapping[str, Any] | None = None) -> str | None:
        """Why a correctly signed request must still be refused as a replay, or None.

        `options` are the connection's (Lever's `max_age_hours`)."""
        return None

    @abstractmethod
    def events_from_webhook(self, request: WebhookRequest, ctx: Context) -> list[CanonicalEvent]:
        """Canonical events for one delivery; may fetch authoritative state when the webhook is a hint.

        Vendor events that mean nothing to us return []. Raises AdapterError for a payload that
        cannot be read, and plugin.ats.http.AtsError when a REST call fails.
        """

    # -- reconciliation --------------------------------------------------------------------------
    @abstractmethod
    def fetch_changes(self, ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
        """One page of records changed since `cursor` (None: first poll, start from a sane look-back)."""

    @abstractmethod
    def events_from_records(self, records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
        """Canonical events for records returned by `fetch_changes` (same ids as the webhook path)."""


# -- helpers adapters share ----------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


def clean_email(value: Any) -> str | None:
    """An address we can send to, or None (vendors hold typos; a bad address must not fail a delivery)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if len(value) <= 320 and _EMAIL.match(value) else None


def clip(value: Any, limit: int = 200) -> str | None:
    """A display string cut to what the canonical schema accepts, or None for empty/absent."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text[:limit] or None


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text or epoch milliseconds (Lever); None if absent.

    Naive ISO text is taken as UTC (some vendor examples omit the offset). Raises AdapterError for
    text that is not a time at all.
    """
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise AdapterError(f"{value!r} is not an ISO 8601 time") from exc
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    raise AdapterError(f"{value!r} is not a time")
