"""Ashby: signed webhooks, the RPC-style REST API and its incremental (`syncToken`) sync.

What Ashby documents, and where (research note: ../shared/notes/ats/ats-ashby.md):
- Webhooks: https://developers.ashbyhq.com/docs/setting-up-webhooks, /docs/authenticating-webhooks
  (`Ashby-Signature: sha256=<hex>`, HMAC-SHA256 of the raw body, optional secret), /docs/common-payload-data
  (`{"webhookActionId", "action", "data"}`), /docs/related-webhooks (one action can fan out into several
  webhooks sharing one `webhookActionId`), /docs/retries (success = 2xx).
- Event payloads: Ashby's reference pages (`/reference/<event>webhook`) render schemas, not examples. We
  read them through the OpenAPI extract in GitHub `api-evangelist/ashby`,
  `openapi/ashby-webhook-payloads-api-openapi.yml` (descriptions match Ashby's pages word for word).
- REST: https://developers.ashbyhq.com/docs/responses (HTTP 200 with `success: false` and `errorInfo`
  for what would be a 4xx), /docs/pagination-and-incremental-sync and /docs/sync (`cursor`/`nextCursor`,
  `moreDataAvailable`, `syncToken` on the last page), changelog 2026-05-14 (`incremental_sync_too_large`:
  drop the token, full sync). Endpoint schemas `application.list/info`, `interviewSchedule.list`,
  `interviewEvent.list`, `interviewStage.info` from the same extract (`openapi/ashby-*-api-openapi.yml`).
  Auth: HTTP Basic, API key as the user name, empty password.

Ashby has no dedicated rejection, unarchive or "feedback due" event: a rejection is an application whose
`status` became `Archived` (with `archiveReason`, `archivedAt`), seen in `candidateStageChange` /
`applicationUpdate`; interviews are `interviewSchedule` objects whose `status` moves through
`Scheduled` -> `WaitingOnFeedback` -> `Complete` (or `Cancelled`). Because related webhooks carry the
same application state, every canonical id is derived from that state, so the copies apply once.

The package: `client` (the RPC client, and the per-run memo of the lookups the mapping needs),
`mapping` (Ashby's application, interview schedule and job objects to canonical events), `webhooks`
(each action's `data` to events) and `polling` (the incremental sync of both lists, and the events of
the records it stored); `AshbyAdapter` below ties them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from plugin.ats.ashby.client import DEFAULT_API_BASE_URL, text_or_none
from plugin.ats.ashby.polling import poll_page, record_events
from plugin.ats.ashby.webhooks import webhook_events
from plugin.ats.base import Adapter, Context, PollPage, WebhookRequest
from plugin.ats.signing import hmac_sha256_hex, matches_any
from plugin.events.types import CanonicalEvent

__all__ = ["AshbyAdapter"]


class AshbyAdapter(Adapter):
    provider: ClassVar[str] = "ashby"
    title: ClassVar[str] = "Ashby"
    success_status: ClassVar[int] = 200  # the reference pages: "Return a 200 status"
    default_api_base_url: ClassVar[str] = DEFAULT_API_BASE_URL
    credential_fields: ClassVar[tuple[str, ...]] = ("api_key",)
    # Reconciliation and schedules of unknown applications need the API (candidatesRead, interviewsRead).
    required_credentials: ClassVar[tuple[str, ...]] = ("api_key",)
    # Ashby makes the secret token optional, but an unsigned webhook could be forged by anyone who learns
    # the URL, and it would reject candidates and erase them: we require one.
    signing_secret_required: ClassVar[bool] = True

    # -- webhooks ----------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> bool:
        """`Ashby-Signature: sha256=<hex>`; the prefix names the algorithm, the digest covers the raw body."""
        received = request.header("Ashby-Signature")
        expected = [f"sha256={hmac_sha256_hex(secret, request.body)}" for secret in secrets if secret]
        return bool(received and expected) and matches_any(received, expected)

    def delivery_id(self, request: WebhookRequest) -> str | None:
        # Related webhooks (candidateHire -> applicationUpdate + candidateStageChange) share one
        # webhookActionId, and retries reuse it: the action makes each related webhook its own delivery.
        payload = request.payload if isinstance(request.payload, Mapping) else {}
        action_id = text_or_none(payload.get("webhookActionId"))
        if action_id is None:
            return None
        return f"{action_id}:{payload.get('action') or 'unknown'}"

    def is_ping(self, request: WebhookRequest) -> bool:
        payload = request.payload if isinstance(request.payload, Mapping) else {}
        data = payload.get("data")
        return payload.get("action") == "ping" or (
            isinstance(data, Mapping) and data.get("webhookActionType") == "ping")

    def events_from_webhook(self, request: WebhookRequest, ctx: Context) -> list[CanonicalEvent]:
        if self.is_ping(request):
            return []
        return webhook_events(request.payload, ctx)

    # -- reconciliation ----------------------------------------------------------------------------
    def fetch_changes(self, ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
        return poll_page(ctx, cursor)

    def events_from_records(self, records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
        return record_events(records, ctx)
