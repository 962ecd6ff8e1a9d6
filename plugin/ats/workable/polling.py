"""Workable reconciliation: a pass over the candidates changed since the cursor, then over the
interviews from `/events`, and the events of the records a page stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from plugin.ats.base import Context, PollPage, parse_time
from plugin.ats.http import PermanentAtsError
from plugin.ats.workable.client import WorkableClient
from plugin.ats.workable.mapping import (
    candidate_events,
    interview_events,
    is_interview_record,
    iso,
    stage_map,
)
from plugin.events.types import CanonicalEvent

__all__ = ["INTERVIEW_OVERLAP", "poll_page", "record_events"]

# `/events` filters on when an interview is scheduled, not when it changed: each pass re-reads from a
# day before the previous pass, so interviews that started meanwhile, and all future ones, are seen again.
INTERVIEW_OVERLAP = timedelta(hours=24)


def poll_page(ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
    """One page of a pass: candidates changed since the cursor, then interviews (see `_Cursor`)."""
    state = _Cursor.load(cursor, ctx)
    client = WorkableClient(ctx)
    if state.phase == "candidates":
        return _candidates_step(client, state)
    return _interviews_step(client, state, ctx)


def record_events(records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
    """Events of one stored page: `/events` interviews, and candidates mapped with the account's stages."""
    events: list[CanonicalEvent] = []
    stages: dict[str, dict[str, str]] | None = None
    for record in records:
        if is_interview_record(record):
            events.extend(interview_events(record, ctx))
            continue
        if stages is None:
            stages = stage_map(ctx, WorkableClient(ctx))
        events.extend(candidate_events(record, ctx, stages))
    return events


class _Cursor:
    """A pass = all candidate pages (`updated_after`), then all interview pages (`start_date`).

    `updated_after` only advances to the largest `updated_at` seen once a pass over the candidates is
    complete (pages come in insertion order, not update order); `next` keeps the page in progress.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.phase: str = str(data.get("phase") or "candidates")
        self.updated_after: str = str(data["updated_after"])
        self.max_seen: str | None = data.get("max_seen")
        self.next: str | None = data.get("next")
        self.start_date: str = str(data["start_date"])
        self.interviews_next: str | None = data.get("interviews_next")

    @classmethod
    def load(cls, cursor: Mapping[str, Any] | None, ctx: Context) -> "_Cursor":
        if cursor and cursor.get("updated_after") and cursor.get("start_date"):
            return cls(cursor)
        since = iso(ctx.now - timedelta(days=int(ctx.connection.options.get("poll_lookback_days", 14))))
        return cls({"phase": "candidates", "updated_after": since, "start_date": since})

    def dump(self) -> dict[str, Any]:
        return {"phase": self.phase, "updated_after": self.updated_after, "max_seen": self.max_seen,
                "next": self.next, "start_date": self.start_date, "interviews_next": self.interviews_next}


def _candidates_step(client: WorkableClient, state: _Cursor) -> PollPage:
    records, following = client.candidates_page(updated_after=state.updated_after, next_url=state.next)
    for record in records:
        seen = parse_time(record.get("updated_at"))
        if seen is not None and (state.max_seen is None or seen > _parsed(state.max_seen)):
            state.max_seen = iso(seen)
    if following:
        state.next = following
    else:  # the pass over candidates is complete: only now may the window move
        state.updated_after, state.max_seen, state.next = state.max_seen or state.updated_after, None, None
        state.phase = "interviews"
    return PollPage(records=records, cursor=state.dump(), more=True)


def _interviews_step(client: WorkableClient, state: _Cursor, ctx: Context) -> PollPage:
    try:
        records, following = client.interviews_page(start_date=state.start_date, next_url=state.interviews_next)
    except PermanentAtsError as exc:
        if exc.status != 403:
            raise
        # A token without the r_jobs scope cannot read /events: candidates still reconcile.
        records, following = [], None
    if following:
        state.interviews_next = following
        return PollPage(records=records, cursor=state.dump(), more=True)
    state.interviews_next, state.phase = None, "candidates"
    state.start_date = iso(ctx.now - INTERVIEW_OVERLAP)
    return PollPage(records=records, cursor=state.dump(), more=False)


def _parsed(text: str) -> datetime:
    moment = parse_time(text)
    assert moment is not None
    return moment
