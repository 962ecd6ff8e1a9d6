"""Workable: SPI v3 candidate webhooks, treated as hints, and a candidate + interview poll.

Sources (Workable's developer docs, https://workable.readme.io; notes in ../shared/notes/ats/ats-workable.md):
- reference/webhook-subscriptions-candidates-employees, reference/webhooks: events `candidate_created`,
  `candidate_moved`, `candidate_deleted`; header `X-Workable-Signature` = HMAC-SHA256 over the request
  payload keyed by the account API token (OAuth apps: the app secret); answer 200 or Workable replays.
- reference/candidate-events: the pushed data is "similar to candidate details", wrapped in `data`;
  it reflects the state when Workable SENDS it, not when the event happened.
- reference/job-candidates-show: `GET /candidates/:id` -> `{"candidate": {...}}` with `stage` (the stage
  *name*), `disqualified`, `disqualified_at`, `disqualification_reason`, `job{shortcode,title}`, `updated_at`.
- reference/job-candidates-index: `GET /candidates?updated_after=&since_id=&limit=` (limit <= 100) ->
  `{"candidates": [...], "paging": {"next": <url>}}`; here `stage` is the stage *slug*, plus `stage_kind`,
  `withdrew` and `hired_at`, but no `disqualified_at`. docs/whats-new-in-v3: ISO 8601 UTC timestamps,
  candidates sorted by insertion (not by update).
- reference/stages: `GET /stages` -> `{"stages": [{slug, name, kind, position}]}`, kinds sourced, applied,
  shortlisted, assessment, phone-screen, interview, offer, hired.
- reference/events: `GET /events?type=interview&start_date=&include_cancelled=true` -> `{"events": [...]}`
  with `starts_at`, `ends_at`, `cancelled`, `job`, `candidate{id,name}` (scope r_jobs).

What Workable leaves open, and what this package does about it:
- No event name, delivery id or timestamp is documented in the body: every delivery is routed the same
  way (fetch the candidate, map its state); the core dedupes on a body hash.
- The digest encoding is not stated: lowercase or uppercase hex are accepted (`matches_any`).
- No ping or test request is documented, so nothing is treated as one.
- No interview, rejection or hire webhook: rejections and hires are read from the candidate's state,
  interviews only from the `/events` poll (there is no "interview completed": the sweeper opens the
  obligation when `ends_at` passes).
- Workable candidates are per job, so the candidate id is also our application id; the job is its shortcode.

The package: `client` (the SPI v3 calls), `mapping` (a candidate's state and an `/events` interview to
canonical events), `webhooks` (a delivery to the candidate it names) and `polling` (the candidate and
interview passes); `WorkableAdapter` below ties them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from plugin.ats.base import Adapter, Context, PollPage, WebhookRequest, clip
from plugin.ats.signing import hmac_sha256_hex, matches_any
from plugin.ats.workable.client import DEFAULT_API_BASE_URL
from plugin.ats.workable.mapping import PROVIDER
from plugin.ats.workable.polling import poll_page, record_events
from plugin.ats.workable.webhooks import SIGNATURE_HEADER, webhook_events
from plugin.events.types import CanonicalEvent

__all__ = ["WorkableAdapter"]


class WorkableAdapter(Adapter):
    provider = PROVIDER
    title = "Workable"
    success_status = 200  # anything else is "replayed" (reference/webhooks)
    default_api_base_url = DEFAULT_API_BASE_URL
    credential_fields = ("api_token",)
    required_credentials = ("api_token",)
    # The signing secret is the same account API token (or the OAuth app secret for OAuth apps).
    signing_secret_required = True

    # -- webhooks --------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> bool:
        # Encoding of the digest is not documented; matches_any compares hex case-insensitively.
        expected = [hmac_sha256_hex(secret, request.body) for secret in secrets if secret]
        return matches_any(request.header(SIGNATURE_HEADER), expected)

    def delivery_id(self, request: WebhookRequest) -> str | None:
        return None  # none documented: the core dedupes on a hash of the body

    def event_name(self, request: WebhookRequest) -> str:
        # Not documented; third-party handlers disagree (`type` vs `event_type`). Shown in lists only.
        payload = request.payload
        if isinstance(payload, dict):
            for key in ("event_type", "type", "event", "action"):
                if isinstance(payload.get(key), str) and payload[key]:
                    return clip(payload[key], 100) or "candidate_event"
        return "candidate_event"

    def is_ping(self, request: WebhookRequest) -> bool:
        return False  # Workable documents no ping or test request

    def events_from_webhook(self, request: WebhookRequest, ctx: Context) -> list[CanonicalEvent]:
        return webhook_events(request.payload, ctx)

    # -- reconciliation --------------------------------------------------------------------------
    def fetch_changes(self, ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
        return poll_page(ctx, cursor)

    def events_from_records(self, records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
        return record_events(records, ctx)
