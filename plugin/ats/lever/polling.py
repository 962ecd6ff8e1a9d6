"""Lever reconciliation: one page of opportunities updated (then deleted) since the cursor, and the
events of the snapshots a page stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from plugin.ats.base import Context, PollPage
from plugin.ats.lever.client import EXPAND_OPPORTUNITY, LeverClient
from plugin.ats.lever.mapping import Translation
from plugin.events.types import CanonicalEvent

__all__ = ["POLL_OVERLAP", "POLL_PAGE_SIZE", "poll_page", "record_events"]

POLL_PAGE_SIZE = 25  # each opportunity costs 1-3 more calls (interviews, feedback, posting)
POLL_OVERLAP = timedelta(minutes=5)  # covers clock skew and updates that land while a pass runs


def poll_page(ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
    """One page of a pass (see `_PollCursor`), each opportunity stored as a snapshot."""
    state = _PollCursor.load(cursor, ctx)
    client = LeverClient(ctx)
    if state.phase == "opportunities":
        page = client.page("/opportunities", state.offset, updated_at_start=state.updated_at_start,
                           expand=EXPAND_OPPORTUNITY, limit=POLL_PAGE_SIZE)
        fresh = state.take(page.data, "updatedAt", prefix="")
        records = [client.snapshot(opportunity) for opportunity in fresh]
    else:
        page = client.page("/opportunities/deleted", state.offset, deleted_at_start=state.deleted_at_start,
                           limit=POLL_PAGE_SIZE)
        records = [{"opportunity": opportunity} for opportunity in state.take(page.data, "deletedAt", "deleted:")]
    return PollPage(records=records, cursor=state.advance(page.next), more=state.more)


def record_events(records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
    """Events of one stored page: each snapshot mapped as the webhook path maps it (same ids)."""
    events: list[CanonicalEvent] = []
    for record in records:
        events.extend(Translation(record, ctx, None).events())
    return events


class _PollCursor:
    """Two phases per pass: opportunities updated since `updated_at_start`, then deleted ones.

    A pass's next start is the time it began minus POLL_OVERLAP (not the newest `updatedAt` seen):
    Lever's list order is not by update time, so an opportunity updated while we page could sit on a
    page already read. The overlap is re-read next pass; `skip` holds (id -> timestamp) of what this
    pass already took inside that window, so a second poll returns only newer records.
    """

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = dict(raw)
        self.phase: str = raw["phase"]
        self.offset: str | None = raw.get("offset")
        self.updated_at_start: int = int(raw["updated_at_start"])
        self.deleted_at_start: int = int(raw["deleted_at_start"])
        self.next_start: int = int(raw["next_start"])
        self.skip: dict[str, int] = dict(raw.get("skip") or {})
        self.carry: dict[str, int] = dict(raw.get("carry") or {})
        self.last_updated_at: int | None = raw.get("last_updated_at")
        self.more = False

    @classmethod
    def load(cls, cursor: Mapping[str, Any] | None, ctx: Context) -> "_PollCursor":
        now_ms = _epoch_ms(ctx.now)
        if not cursor:
            days = int(ctx.connection.options.get("poll_lookback_days", 14))
            start = _epoch_ms(ctx.now - timedelta(days=days))
            cursor = {"phase": "opportunities", "updated_at_start": start, "deleted_at_start": start}
        raw = dict(cursor)
        if raw.get("phase") == "opportunities" and not raw.get("offset"):
            raw["next_start"] = now_ms - int(POLL_OVERLAP.total_seconds() * 1000)  # a pass begins
            raw["carry"] = {}
        raw.setdefault("next_start", now_ms - int(POLL_OVERLAP.total_seconds() * 1000))
        return cls(raw)

    def take(self, items: list[dict[str, Any]], field: str, prefix: str) -> list[dict[str, Any]]:
        fresh = []
        for item in items:
            key, stamp = prefix + str(item.get("id")), item.get(field)
            if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
                if stamp >= self.next_start:
                    self.carry[key] = int(stamp)  # inside the next pass's overlap: it must skip this
                if field == "updatedAt":
                    self.last_updated_at = max(self.last_updated_at or 0, int(stamp))
                if self.skip.get(key) == int(stamp):
                    continue  # taken by the previous pass inside the overlap window
            fresh.append(item)
        return fresh

    def advance(self, following: str | None) -> dict[str, Any]:
        common = {"updated_at_start": self.updated_at_start, "deleted_at_start": self.deleted_at_start,
                  "next_start": self.next_start, "skip": self.skip, "carry": self.carry,
                  "last_updated_at": self.last_updated_at}
        if following is not None:
            self.more = True
            return {**common, "phase": self.phase, "offset": following}
        if self.phase == "opportunities":
            self.more = True
            return {**common, "phase": "deleted", "offset": None}
        # The pass is complete: the next one starts at this pass's start minus the overlap.
        return {"phase": "opportunities", "offset": None, "updated_at_start": self.next_start,
                "deleted_at_start": self.next_start, "next_start": self.next_start, "skip": self.carry,
                "carry": {}, "last_updated_at": self.last_updated_at}


def _epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
