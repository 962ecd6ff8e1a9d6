"""Greenhouse Recruiting: webhooks in, Harvest v3 for interviews and reconciliation.

Vendor sources (facts and quotes collected in ../shared/notes/ats/ats-greenhouse.md):
- Webhooks: https://developers.greenhouse.io/webhooks.html, source GitHub `grnhse/greenhouse-api-docs`
  `source/includes/webhooks/_introduction.md` (signature, Greenhouse-Event-ID, ping on save, retries),
  `_application_events.md`, `_candidate_events.md`, `_job_events.md`, `_interview_events.md` (payloads;
  copies in tests/fixtures/ats/greenhouse/, see SOURCES.md there).
- Harvest v3: https://harvestdocs.greenhouse.io/docs/authentication (client credentials: POST
  https://auth.greenhouse.io/token, HTTP Basic client_id:client_secret, form grant_type=client_credentials
  and sub=<user_id>; calls with `Authorization: Bearer`), /docs/pagination and /docs/list-endpoints
  (cursor in `Link: <...>; rel="next"`, the cursor must be the only parameter; filters `ids`, parent
  `*_ids`, `updated_at=gte|<iso>`), /reference/get_v3-interviews (`application_ids`, per_page 1-500).
  Harvest v1/v2 are retired on 2026-08-31, so nothing here uses them.
- The v3 object fields (interview `starts_at`/`ends_at`/`status`/`application_id`; application
  `candidate_id`/`job_id`/`status`/`rejected_at`/`rejection_reason_id`; token answer `access_token`,
  `expires_at`) are as quoted by Airbyte's source-greenhouse manifest from the v3 spec
  (airbytehq/airbyte, airbyte-integrations/connectors/source-greenhouse/manifest.yaml): the reference
  pages themselves were only reachable in excerpts. Readers here are tolerant of missing fields.

Greenhouse sends no "interview scheduled" or "interview completed" webhook. The stage payloads list
`current_stage.interviews[]`, but those are interview-plan slots (no ids we can cancel, no times), so
they are ignored. Instead, application webhooks fetch the application's scheduled interviews from
Harvest v3 when the connection has API credentials, and the reconciliation poll lists interviews and
applications changed since its cursor. Both paths build interview events with the same ids.

The package: `client` (Harvest v3: tokens, pagination, records by id), `mapping` (what both paths share:
readers, refs, interview events), `webhooks` (a webhook payload to events) and `polling` (the sweep over
the v3 lists and the events of the records it stored); `GreenhouseAdapter` below ties them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from plugin.ats.base import Adapter, Context, PollPage, WebhookRequest
from plugin.ats.greenhouse.client import DEFAULT_API_BASE_URL
from plugin.ats.greenhouse.polling import poll_page, record_events
from plugin.ats.greenhouse.webhooks import webhook_events
from plugin.ats.signing import hmac_sha256_hex, matches_any
from plugin.events.types import CanonicalEvent

__all__ = ["GreenhouseAdapter"]


class GreenhouseAdapter(Adapter):
    provider: ClassVar[str] = "greenhouse"
    title: ClassVar[str] = "Greenhouse"
    success_status: ClassVar[int] = 200  # anything but HTTP 200 counts as a failed delivery
    default_api_base_url: ClassVar[str] = DEFAULT_API_BASE_URL
    # Harvest v3 custom integrations: client credentials, optionally the user the calls act as.
    # `access_token` takes a ready bearer token instead (it expires within the hour, so polling is
    # switched on by client_id + client_secret).
    credential_fields: ClassVar[tuple[str, ...]] = ("client_id", "client_secret", "user_id", "access_token")
    required_credentials: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")
    signing_secret_required: ClassVar[bool] = True

    # -- webhooks ----------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> bool:
        """`Signature: sha256 <hex>`: HMAC-SHA256 of the raw body keyed by the webhook's secret key."""
        header = request.header("Signature")
        if not header:
            return False
        parts = header.strip().split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "sha256":
            return False
        return matches_any(parts[1], [hmac_sha256_hex(secret, request.body) for secret in secrets if secret])

    def delivery_id(self, request: WebhookRequest) -> str | None:
        value = request.header("Greenhouse-Event-ID")
        return value.strip() if value and value.strip() else None

    def is_ping(self, request: WebhookRequest) -> bool:
        # Greenhouse pings the URL when a webhook is saved, "with a payload containing some configuration
        # settings"; the body is not documented. We accept `"action": "ping"` and, being tolerant, any
        # object without an action and without a payload, which no documented event looks like.
        payload = request.payload
        if not isinstance(payload, dict):
            return False
        action = payload.get("action")
        return action == "ping" or (action is None and "payload" not in payload)

    def events_from_webhook(self, request: WebhookRequest, ctx: Context) -> list[CanonicalEvent]:
        return webhook_events(request.payload, ctx, self.delivery_id(request))

    # -- reconciliation --------------------------------------------------------------------------
    def fetch_changes(self, ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
        return poll_page(ctx, cursor)

    def events_from_records(self, records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
        return record_events(records, ctx)
