"""A Lever webhook: the signed message, the replay window, and the events of the opportunity it names.

Every Lever webhook is only a hint (the signature does not cover `data`): `webhook_events` fetches the
opportunity it names and maps that snapshot; a deleted opportunity Lever no longer has is the one case
with nothing to fetch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from plugin.ats.base import AdapterError, Context, parse_time
from plugin.ats.http import PermanentAtsError
from plugin.ats.lever.client import LeverClient
from plugin.ats.lever.mapping import Hint, Translation, erasure_event, holds
from plugin.events.types import CanonicalEvent, ErasureReason

__all__ = [
    "DEFAULT_MAX_AGE_HOURS", "INTERVIEW_EVENTS", "MAX_FUTURE_SKEW", "OPPORTUNITY_EVENTS", "signed_message",
    "triggered_at", "webhook_events",
]

# Lever retries a failed delivery "five times, waiting longer and longer" without publishing the
# schedule, and a retry (or a manual "Rerun" from the delivery history) may carry the original
# triggeredAt. 24 hours leaves room for that backoff while still refusing old captured requests; the
# token cache in the core is the exact replay check, this is the coarse one Lever recommends.
DEFAULT_MAX_AGE_HOURS = 24.0
MAX_FUTURE_SKEW = timedelta(minutes=5)

OPPORTUNITY_EVENTS = frozenset({
    "applicationCreated", "candidateHired", "candidateStageChange", "candidateArchiveChange", "candidateDeleted",
})
INTERVIEW_EVENTS = frozenset({"interviewCreated", "interviewUpdated", "interviewDeleted"})  # Beta at Lever
# contactCreated / contactUpdated: person-level changes with no documented data fields; name and email
# reach us with the next opportunity event or poll, and anonymisation shows as `isAnonymized` there.


def webhook_events(payload: Any, ctx: Context) -> list[CanonicalEvent]:
    """The events of the opportunity a (non-test) webhook names, as Lever shows it now."""
    if not isinstance(payload, dict):
        raise AdapterError("the Lever body is not a JSON object")
    event = str(payload.get("event") or "")
    if event not in OPPORTUNITY_EVENTS | INTERVIEW_EVENTS:
        return []  # contact events, or an event Lever added later: nothing for us
    data = payload["data"] if isinstance(payload.get("data"), dict) else {}
    triggered = triggered_at(payload)
    if triggered is None:
        raise AdapterError("triggeredAt is missing")
    interview_id = str(data["interviewId"]) if data.get("interviewId") else None
    opportunity_id = _opportunity_id(data, interview_id, ctx)
    hint = Hint(event=event, triggered_at=triggered, interview_id=interview_id)
    client = LeverClient(ctx)
    try:
        opportunity = client.opportunity(opportunity_id)
    except PermanentAtsError as exc:
        if exc.status == 404 and event == "candidateDeleted":
            return _deleted_without_record(opportunity_id, data, hint, ctx)
        raise
    return Translation(client.snapshot(opportunity), ctx, hint).events()


def signed_message(payload: Any) -> str | None:
    """token + triggeredAt exactly as Lever concatenates them (the ms number printed as digits)."""
    if not isinstance(payload, dict):
        return None
    token, triggered = payload.get("token"), payload.get("triggeredAt")
    if not isinstance(token, str) or not token:
        return None
    if isinstance(triggered, bool) or not isinstance(triggered, (int, str)) or not str(triggered).isdigit():
        return None
    return token + str(triggered)


def triggered_at(payload: Any) -> datetime | None:
    triggered = payload.get("triggeredAt") if isinstance(payload, dict) else None
    if isinstance(triggered, str) and triggered.isdigit():
        triggered = int(triggered)
    if isinstance(triggered, bool) or not isinstance(triggered, int):
        return None
    return parse_time(triggered)


def _opportunity_id(data: Mapping[str, Any], interview_id: str | None, ctx: Context) -> str:
    found = data.get("opportunityId") or data.get("candidateId")  # candidateId == opportunity id (Lever)
    if found:
        return str(found)
    if interview_id:
        keys = ctx.lookup.interview(interview_id)
        if keys is not None:
            return keys.application_id
    raise AdapterError("data.opportunityId is missing")


def _deleted_without_record(opportunity_id: str, data: Mapping[str, Any], hint: Hint,
                            ctx: Context) -> list[CanonicalEvent]:
    """candidateDeleted and Lever no longer has the opportunity (404), as expected after a delete."""
    keys = ctx.lookup.application(opportunity_id)
    contact = data.get("contactId") or (keys.candidate_id if keys else None)
    if not contact or not holds(ctx, opportunity_id, str(contact)):
        return []  # we never held this person: nothing to erase (the deleted-opportunities poll agrees)
    return [erasure_event(opportunity_id, str(contact), ErasureReason.DELETED, hint.triggered_at)]
