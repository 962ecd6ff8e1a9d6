"""Greenhouse reconciliation: the sweep over the v3 interview and application lists, and the events of
the records a sweep stored (v3 records name only ids, so refs come from the ledger or from Harvest)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from plugin.ats.base import Context, PollPage, clip, parse_time
from plugin.ats.greenhouse.client import PAGE_SIZE_MAX, HarvestClient, as_dict, optional, v3_time
from plugin.ats.greenhouse.mapping import (
    Refs,
    candidate_ref,
    hired_event,
    id_text,
    interview_events,
    make_event,
    read_time,
    refs_from_keys,
    rejected_event,
    required_id,
    stamp,
)
from plugin.events.types import ApplicationRef, CanonicalEvent, EventType, JobRef

__all__ = ["LISTS", "POLL_OVERLAP", "poll_page", "record_events"]

log = logging.getLogger(__name__)

ACTIVE_APPLICATION_STATUSES = frozenset({"active", "in_process"})  # webhook word, v3 word
# Our clock and Greenhouse's may differ, and a record can change while a sweep pages through a list:
# the next sweep starts a little before this one did. Re-seen records give the same event ids.
POLL_OVERLAP = timedelta(minutes=5)
LISTS = ("interviews", "applications")


def poll_page(ctx: Context, cursor: Mapping[str, Any] | None) -> PollPage:
    """One page of the sweep: the current list from its cursor, then the next list, then a new sweep."""
    client = HarvestClient(ctx.connection, ctx.cache)
    sweep = _Sweep.load(cursor, ctx.now, int(ctx.connection.options.get("poll_lookback_days", 14)))
    if sweep.started_at is None:
        sweep.started_at = v3_time(ctx.now)
    name = sweep.phase
    per_page = max(1, min(PAGE_SIZE_MAX, int(ctx.connection.options.get("poll_page_size", PAGE_SIZE_MAX))))
    records, next_cursor = client.page(
        f"/v3/{name}", {"updated_at": f"gte|{sweep.since[name]}", "per_page": per_page}, cursor=sweep.next[name])
    sweep.saw(name, records)
    sweep.next[name] = next_cursor
    more = True
    if next_cursor is None:
        if name == LISTS[-1]:
            sweep.finish()
            more = False
        else:
            sweep.phase = LISTS[LISTS.index(name) + 1]
    return PollPage(records=records, cursor=sweep.dump(), more=more)


def record_events(records: Sequence[Mapping[str, Any]], ctx: Context) -> list[CanonicalEvent]:
    """Events of one stored page: interviews (with refs resolved) and application decisions."""
    # Records are raw v3 objects from the two lists: an interview names its application
    # (`application_id`), an application names its candidate (`candidate_id`).
    interviews = [r for r in records if isinstance(r, Mapping) and "application_id" in r]
    applications = [r for r in records if isinstance(r, Mapping) and "candidate_id" in r
                    and "application_id" not in r]
    resolver = _Resolver(ctx)
    resolver.prefetch([id_text(r.get("application_id")) for r in interviews], applications)
    events: list[CanonicalEvent] = []
    for record in interviews:
        refs = resolver.refs(id_text(record.get("application_id")))
        if refs is None:
            log.info("Greenhouse interview %s: application %s unknown here and not fetchable; skipped",
                     record.get("id"), record.get("application_id"))
            continue
        events += interview_events(record, refs, ctx.now)
    for record in applications:
        events += _application_record_events(record, resolver, ctx)
    return events


@dataclass
class _Sweep:
    """Where a reconciliation sweep stands.

    A sweep pages through `/v3/interviews?updated_at=gte|<since>` then `/v3/applications?...`, one page
    per `fetch_changes` call. When both are done, the next sweep's `since` becomes the earlier of the
    newest `updated_at` seen and the time this sweep started, less POLL_OVERLAP.
    """

    since: dict[str, str]
    next: dict[str, str | None]
    high: dict[str, str | None]
    phase: str
    started_at: str | None

    @classmethod
    def load(cls, cursor: Mapping[str, Any] | None, now: datetime, lookback_days: int) -> _Sweep:
        start = v3_time(now - timedelta(days=lookback_days))
        cursor = cursor or {}
        lists = {name: as_dict(cursor.get(name)) for name in LISTS}
        phase = cursor.get("phase") if cursor.get("phase") in LISTS else LISTS[0]
        return cls(since={n: str(lists[n].get("since") or start) for n in LISTS},
                   next={n: lists[n].get("next") or None for n in LISTS},
                   high={n: lists[n].get("high") or None for n in LISTS},
                   phase=str(phase), started_at=cursor.get("started_at") or None)

    def dump(self) -> dict[str, Any]:
        return {"phase": self.phase, "started_at": self.started_at,
                **{n: {"since": self.since[n], "next": self.next[n], "high": self.high[n]} for n in LISTS}}

    def saw(self, name: str, records: Sequence[Mapping[str, Any]]) -> None:
        for record in records:
            updated = parse_time(record.get("updated_at")) if record.get("updated_at") else None
            current = parse_time(self.high[name]) if self.high[name] else None
            if updated is not None and (current is None or updated > current):
                self.high[name] = v3_time(updated)

    def finish(self) -> None:
        started = parse_time(self.started_at) if self.started_at else None
        for name in LISTS:
            high = parse_time(self.high[name]) if self.high[name] else None
            marks = [t for t in (high, started) if t is not None]
            if marks:
                self.since[name] = v3_time(min(marks) - POLL_OVERLAP)
            self.next[name], self.high[name] = None, None
        self.phase, self.started_at = LISTS[0], None


class _Resolver:
    """Refs for v3 records, which name only ids. Known applications keep what the ledger holds (ids
    suffice); unknown ones are filled from Harvest (candidate name and email, job title, department) so
    a missed `new_candidate_application` still leaves us someone to write to."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = HarvestClient(ctx.connection, ctx.cache)
        self.applications: dict[str, dict[str, Any]] = {}

    def prefetch(self, interview_app_ids: Sequence[str | None], applications: Sequence[Mapping[str, Any]]) -> None:
        for record in applications:
            if id_text(record.get("id")):
                self.applications[str(record["id"])] = dict(record)
        if not self.client.configured:
            return  # replaying stored records without credentials: known applications still resolve
        # A permanent refusal (a scope not granted) costs the details, not the page's other events.
        unknown = [i for i in interview_app_ids if i and i not in self.applications
                   and self.ctx.lookup.application(i) is None]
        if unknown:
            self.applications.update(optional(lambda: self.client.by_ids("applications", unknown),
                                              "applications") or {})
        # People and jobs only for the unknown applications that will produce events.
        eventful = set(filter(None, interview_app_ids)) | {
            str(r.get("id")) for r in applications if r.get("status") in ("rejected", "hired")}
        unseen = [r for i, r in self.applications.items()
                  if i in eventful and self.ctx.lookup.application(i) is None]
        if unseen:
            optional(lambda: self.client.by_ids("candidates", [id_text(r.get("candidate_id")) or "" for r in unseen]),
                     "candidates")
            jobs = optional(lambda: self.client.by_ids("jobs", [id_text(r.get("job_id")) or "" for r in unseen]),
                            "jobs") or {}
            optional(lambda: self.client.by_ids("departments", [id_text(j.get("department_id")) or ""
                                                                for j in jobs.values()]), "departments")

    def refs(self, application_id: str | None) -> Refs | None:
        if not application_id:
            return None
        known = self.ctx.lookup.application(application_id)
        if known is not None:
            return refs_from_keys(known)
        record = self.applications.get(application_id)
        if record is None:
            return None
        candidate_id, job_id = id_text(record.get("candidate_id")), id_text(record.get("job_id"))
        if candidate_id is None or job_id is None:
            return None  # a jobless prospect: not an application we track
        cache = self.ctx.cache
        candidate = as_dict(cache.get("greenhouse:candidates", {}).get(candidate_id))
        job = as_dict(cache.get("greenhouse:jobs", {}).get(job_id))
        department = as_dict(cache.get("greenhouse:departments", {}).get(id_text(job.get("department_id")) or ""))
        return Refs(candidate_ref(candidate, candidate_id),
                    JobRef(id=job_id, title=clip(job.get("name"), 300), department=clip(department.get("name"))),
                    ApplicationRef(id=application_id, stage=clip(record.get("stage_name"))))

    def rejection_reason(self, reason_id: str | None) -> str | None:
        if not reason_id or not self.client.configured:
            return None
        reasons = optional(lambda: self.client.by_ids("rejection_reasons", [reason_id]), "rejection reasons")
        return clip(as_dict((reasons or {}).get(reason_id)).get("name"), 1000)


def _application_record_events(record: Mapping[str, Any], resolver: _Resolver, ctx: Context) -> list[CanonicalEvent]:
    """Decisions the webhooks may have missed: rejected, hired, and active again (unreject/unhire)."""
    application_id = required_id(record.get("id"), "application.id")
    refs = resolver.refs(application_id)
    if refs is None:
        return []
    status = record.get("status")
    if status == "rejected":
        at = read_time(record.get("rejected_at"), "application.rejected_at")
        if at is None:
            return []
        return [rejected_event(refs, at, resolver.rejection_reason(id_text(record.get("rejection_reason_id"))))]
    if status == "hired":
        at = read_time(record.get("updated_at"), "application.updated_at") or ctx.now
        return [hired_event(refs, at)]
    if status in ACTIVE_APPLICATION_STATUSES and ctx.lookup.application(application_id) is not None:
        # Active as of `updated_at`: undoes a rejection or hire we hold from before then (a lost
        # unreject/unhire webhook). For an application already active the ledger only notes the time.
        at = read_time(record.get("updated_at"), "application.updated_at")
        if at is not None:
            return [make_event(f"greenhouse:application:{application_id}:active:{stamp(at)}",
                               EventType.APPLICATION_REOPENED, at, refs)]
    return []
