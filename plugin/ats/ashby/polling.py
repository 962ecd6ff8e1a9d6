"""Ashby reconciliation: one page of `application.list`, then `interviewSchedule.list`, each an
incremental (`syncToken`) sync, and the events of the records a page stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from plugin.ats.ashby.client import SyncRestartRequired, client_for
from plugin.ats.ashby.mapping import application_events, schedule_events
from plugin.ats.base import AdapterError, Context, PollPage, parse_time
from plugin.events.types import CanonicalEvent

__all__ = ["RESYNC_MARGIN", "STREAMS", "poll_page", "record_events"]

# Both list endpoints take `syncToken` in their request schema, so both support incremental sync.
STREAMS = ("application.list", "interviewSchedule.list")
# After a full sync that had to replace a lost token, keep a margin before the last completed pass so
# clock skew between Ashby and us cannot hide a change (re-reading is harmless: ids are per fact).
RESYNC_MARGIN = timedelta(hours=1)


def poll_page(ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
    """One page of application.list, then interviewSchedule.list, each an incremental sync.

    Cursor: `{"stream": <endpoint>, <endpoint>: {"syncToken", "nextCursor", "floor", "syncedAt"}}`.
    A pass without a token (the first poll, or after Ashby refused the token) is a full sync, as the
    docs require to obtain a token; records updated before `floor` are dropped from it, so the first
    poll looks back `poll_lookback_days` only. `more` stays true until both streams finished a pass.
    """
    state = _cursor_state(cursor)
    stream = state["stream"]
    sync = dict(state[stream])
    if not sync.get("syncToken") and not sync.get("nextCursor") and not sync.get("floor"):
        sync["floor"] = _full_sync_floor(sync, ctx).isoformat()
    try:
        page = client_for(ctx).list_page(stream, sync_token=sync.get("syncToken"),
                                         cursor=sync.get("nextCursor"))
    except SyncRestartRequired:
        if not sync.get("syncToken"):
            raise  # a full sync was refused: dropping a token we did not send cannot help
        state[stream] = {"syncToken": None, "nextCursor": None, "syncedAt": sync.get("syncedAt"),
                         "floor": _full_sync_floor(sync, ctx).isoformat()}
        return PollPage(records=[], cursor=state, more=True)
    floor = parse_time(sync.get("floor"))
    records = [r for r in page.results if floor is None or _updated_since(r, floor)]
    if page.more:
        state[stream] = {**sync, "nextCursor": page.next_cursor}
        return PollPage(records=records, cursor=state, more=True)
    state[stream] = {"syncToken": page.sync_token or sync.get("syncToken"), "nextCursor": None,
                     "floor": None, "syncedAt": ctx.now.isoformat()}
    last = STREAMS.index(stream) == len(STREAMS) - 1
    state["stream"] = STREAMS[0] if last else STREAMS[STREAMS.index(stream) + 1]
    return PollPage(records=records, cursor=state, more=not last)


def _full_sync_floor(sync: Mapping[str, Any], ctx: Context) -> datetime:
    synced_at = parse_time(sync.get("syncedAt"))
    if synced_at is not None:  # replacing a lost token: everything since the last completed pass
        return synced_at - RESYNC_MARGIN
    return ctx.now - timedelta(days=int(ctx.connection.options.get("poll_lookback_days", 14)))


def record_events(records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
    """Events of one stored page: interview schedules and applications, as their webhooks give them."""
    events: list[CanonicalEvent] = []
    for record in records:
        if _is_schedule(record):
            events += schedule_events(record, ctx, "interviewSchedule")
        else:
            events += application_events(record, ctx, "application", created=True, changes=True)
    return events


def _is_schedule(record: Mapping[str, Any]) -> bool:
    """Poll records are raw: an interview schedule names its application, an application embeds its candidate."""
    return "applicationId" in record and "candidate" not in record


def _updated_since(record: Mapping[str, Any], floor: datetime) -> bool:
    try:
        updated = parse_time(record.get("updatedAt"))
    except AdapterError:
        return True  # keep what we cannot date; translating it will name the bad field
    return updated is None or updated >= floor


def _cursor_state(cursor: Mapping[str, Any] | None) -> dict[str, Any]:
    state: dict[str, Any] = {"stream": STREAMS[0]}
    given = cursor if isinstance(cursor, Mapping) else {}
    for stream in STREAMS:
        saved = given.get(stream)
        state[stream] = dict(saved) if isinstance(saved, Mapping) else {}
    if given.get("stream") in STREAMS:
        state["stream"] = given["stream"]
    return state
