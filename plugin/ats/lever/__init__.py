"""Lever: webhooks are hints, the opportunity fetched from Lever's REST API is the truth.

Sources (facts and caveats in ../shared/notes/ats/ats-lever.md):
- https://hire.lever.co/developer/documentation, sections "Webhooks", "Pagination", "Customizing the
  Response" (expand), "Opportunities" (retrieve, list, list deleted), "Interviews", "Feedback",
  "Archive Reasons", "Postings", "Rate Limits"; https://hire.lever.co/developer/support (FAQ: every
  account has the archive reason "Hired"; any other archive reason means rejected).
- https://help.lever.co/hc/en-us/articles/20087284427677-Configuring-webhooks (test request, retries).
- Field names of the REST objects were cross-checked against corbaltcode/lever-data-api-go (a typed
  client generated from the same docs; secondary evidence only).

What Lever documents and what we do with it:
- The signature is a field of the JSON body: hex HMAC-SHA256(signature token, token + triggeredAt).
  It does NOT cover the body, so `data` could be altered without breaking it. Every webhook is
  therefore only a hint: we fetch `GET /opportunities/{id}` (plus its interviews, feedback, archive
  reason and posting) and translate that authoritative state, never the webhook's `data`.
- Replay: Lever says to cache `token` values (the core dedupes on `delivery_id` = token) and to check
  that `triggeredAt` is recent (`stale_reason`).
- `data` fields are documented only for candidateStageChange (opportunityId, candidateId, contactId,
  toStageId, fromStageId); the docs' field lists for the other events are collapsed in the copy we
  could read. We assume `data.opportunityId` (and `data.interviewId` for interview events) and fall
  back to `data.candidateId`, which Lever says equals the opportunity id since the migration.
- Canonical ids: the Lever opportunity id is the application id (an opportunity holds at most one
  application), the contact id is the candidate id, the posting id is the job id.

A poll record (and the state a webhook fetches) is one "snapshot": raw Lever objects side by side,
`{"opportunity", "posting", "archive_reason", "interviews", "feedback"}`, so a stored poll page can be
replayed without asking Lever again, and both paths run the same translation (same event ids).

The package: `client` (Lever's REST calls, and the snapshot they assemble), `mapping` (a snapshot to
canonical events), `webhooks` (the signed message, the replay check, a webhook to the snapshot it
hints at) and `polling` (the reconciliation cursor and pages); `LeverAdapter` below ties them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from plugin.ats.base import Adapter, Context, PollPage, WebhookRequest
from plugin.ats.lever.client import DEFAULT_API_BASE_URL
from plugin.ats.lever.polling import poll_page, record_events
from plugin.ats.lever.webhooks import (
    DEFAULT_MAX_AGE_HOURS,
    MAX_FUTURE_SKEW,
    signed_message,
    triggered_at,
    webhook_events,
)
from plugin.ats.signing import hmac_sha256_hex, matches_any
from plugin.events.types import CanonicalEvent

__all__ = ["LeverAdapter"]


class LeverAdapter(Adapter):
    provider = "lever"
    title = "Lever"
    success_status = 200  # Lever accepts any 2xx
    default_api_base_url = DEFAULT_API_BASE_URL
    credential_fields = ("api_key",)
    required_credentials = ("api_key",)  # every webhook is re-fetched, so the key is not optional
    signs_raw_body = False  # the signature is a field of the body, over `token` + `triggeredAt`

    # -- webhooks --------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> bool:
        message = signed_message(request.payload)
        if message is None or not secrets:
            return False
        signature = request.payload.get("signature")
        if not isinstance(signature, str):
            return False
        return matches_any(signature, [hmac_sha256_hex(secret, message) for secret in secrets])

    def delivery_id(self, request: WebhookRequest) -> str | None:
        token = request.payload.get("token") if isinstance(request.payload, dict) else None
        return token if isinstance(token, str) and token else None  # Lever: "cache tokens" to refuse repeats

    def is_ping(self, request: WebhookRequest) -> bool:
        # The settings page's "test" request is a candidateHired with empty `data` (docs example).
        return isinstance(request.payload, dict) and not request.payload.get("data")

    def stale_reason(self, request: WebhookRequest, now: datetime,
                     options: Mapping[str, Any] | None = None) -> str | None:
        """Lever's replay advice: refuse a `triggeredAt` far from now.

        `options` (the connection's, for `max_age_hours`) is an extension of the base signature; the
        base interface does not pass the connection, so without it the default applies.
        """
        triggered = triggered_at(request.payload)
        if triggered is None:
            return "triggeredAt is missing or not epoch milliseconds"
        max_age = timedelta(hours=float((options or {}).get("max_age_hours", DEFAULT_MAX_AGE_HOURS)))
        if now - triggered > max_age:
            return f"triggeredAt {triggered.isoformat()} is more than {max_age.total_seconds() / 3600:g} hours old"
        if triggered - now > MAX_FUTURE_SKEW:
            return f"triggeredAt {triggered.isoformat()} is in the future"
        return None


    def events_from_webhook(self, request: WebhookRequest, ctx: Context) -> list[CanonicalEvent]:
        if self.is_ping(request):
            return []  # the settings page's test request: nothing for us
        return webhook_events(request.payload, ctx)

    # -- reconciliation --------------------------------------------------------------------------
    def fetch_changes(self, ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
        return poll_page(ctx, cursor)

    def events_from_records(self, records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
        return record_events(records, ctx)
