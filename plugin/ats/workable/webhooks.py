"""Workable webhooks: the signature header, and the events of the candidate a delivery names.

The body is only a hint (it reflects the state when Workable sent it): the candidate is fetched and its
current state mapped; a 404 is a deletion once the account itself is shown to answer.
"""

from __future__ import annotations

from typing import Any

from plugin.ats.base import AdapterError, Context
from plugin.ats.workable.client import WorkableClient
from plugin.ats.workable.mapping import candidate_events, erasure_event, stage_map
from plugin.events.types import CanonicalEvent

__all__ = ["SIGNATURE_HEADER", "webhook_events"]

SIGNATURE_HEADER = "X-Workable-Signature"


def webhook_events(payload: Any, ctx: Context) -> list[CanonicalEvent]:
    """Fetch the candidate named by `data.id` and map what Workable says NOW (the body is a hint).

    A 404 means the candidate was deleted (`candidate_deleted`), once a second call proves the
    account itself answers: a wrong subdomain must not erase anyone.
    """
    candidate_id = _webhook_candidate_id(payload)
    client = WorkableClient(ctx)
    candidate = client.candidate(candidate_id)
    if candidate is None:
        client.confirm_account()
        return [erasure_event(candidate_id, ctx)]
    return candidate_events(candidate, ctx, stage_map(ctx, client))


def _webhook_candidate_id(payload: Any) -> str:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise AdapterError("the Workable payload has no 'data' object")
    candidate_id = data.get("id")
    if not isinstance(candidate_id, (str, int)) or isinstance(candidate_id, bool) or not str(candidate_id).strip():
        raise AdapterError("data.id is missing from the Workable payload")
    return str(candidate_id).strip()
