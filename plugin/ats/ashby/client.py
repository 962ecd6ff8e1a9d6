"""Ashby's RPC-style REST API: the client, its error codes, and the memoised lookups the mapping needs.

Sources are named in the package docstring (`plugin/ats/ashby/__init__.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plugin.ats.base import Context, clip
from plugin.ats.http import ApiClient, PermanentAtsError

__all__ = [
    "DEFAULT_API_BASE_URL", "PAGE_LIMIT", "AshbyClient", "ListPage", "SyncRestartRequired",
    "application_info", "client_for", "interview_events_of", "stage_title", "text_or_none",
]

DEFAULT_API_BASE_URL = "https://api.ashbyhq.com"
PAGE_LIMIT = 100  # the documented maximum (and default) `limit` of the list endpoints
# `incremental_sync_too_large` is documented (changelog 2026-05-14). `sync_token_expired` is not on the
# pages we could read, but third-party clients report it; a token Ashby refuses can only be replaced by
# a full sync, so it gets the same treatment rather than failing every poll forever.
RESTART_SYNC_CODES = frozenset({"incremental_sync_too_large", "sync_token_expired"})


class SyncRestartRequired(PermanentAtsError):
    """Ashby refused the sync token: drop it and run a full sync (retrying the same token cannot help)."""


@dataclass(frozen=True)
class ListPage:
    results: list[dict[str, Any]]
    more: bool
    next_cursor: str | None
    sync_token: str | None


class AshbyClient:
    """Ashby's API is RPC over POST: `POST /<object>.<verb>` with a JSON body, answers `{success, results}`."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.api = ApiClient(base_url=base_url, vendor="Ashby", auth=(api_key, ""))

    def call(self, endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The decoded answer of a successful call; `success: false` raises (Ashby sends it with HTTP 200)."""
        data = self.api.post(f"/{endpoint}", json=dict(body)).data
        if not isinstance(data, dict):
            raise PermanentAtsError(f"Ashby answered {endpoint} with something that is not a JSON object")
        if data.get("success") is not True:
            codes = _error_codes(data)
            message = f"Ashby refused {endpoint}: {', '.join(codes) or 'no error code given'}"
            if RESTART_SYNC_CODES.intersection(codes):
                raise SyncRestartRequired(message)
            raise PermanentAtsError(message)
        return data

    def list_page(self, endpoint: str, *, sync_token: str | None, cursor: str | None,
                  limit: int = PAGE_LIMIT) -> ListPage:
        body: dict[str, Any] = {"limit": limit}
        if sync_token:
            body["syncToken"] = sync_token  # kept on every page of an incremental pass
        if cursor:
            body["cursor"] = cursor
        data = self.call(endpoint, body)
        results = data.get("results")
        if not isinstance(results, list):
            raise PermanentAtsError(f"Ashby answered {endpoint} without a results list")
        more = data.get("moreDataAvailable") is True
        next_cursor = text_or_none(data.get("nextCursor"))
        if more and not next_cursor:
            raise PermanentAtsError(f"Ashby answered {endpoint} with moreDataAvailable but no nextCursor")
        return ListPage([r for r in results if isinstance(r, dict)], more, next_cursor,
                        text_or_none(data.get("syncToken")))

    def application_info(self, application_id: str) -> dict[str, Any]:
        return _result_object(self.call("application.info", {"applicationId": application_id}), "application.info")

    def interview_stage_info(self, stage_id: str) -> dict[str, Any]:
        return _result_object(self.call("interviewStage.info", {"interviewStageId": stage_id}), "interviewStage.info")

    def interview_events(self, schedule_id: str) -> list[dict[str, Any]]:
        """Every event of one schedule (a schedule holds a handful; follow the cursor anyway)."""
        events: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            body: dict[str, Any] = {"interviewScheduleId": schedule_id, "limit": PAGE_LIMIT}
            if cursor:
                body["cursor"] = cursor
            data = self.call("interviewEvent.list", body)
            events += [e for e in data.get("results") or [] if isinstance(e, dict)]
            cursor = text_or_none(data.get("nextCursor"))
            if data.get("moreDataAvailable") is not True or not cursor:
                return events


def _error_codes(data: Mapping[str, Any]) -> list[str]:
    """Codes from `errorInfo.code` (docs/responses) and `errors[]` (strings in the endpoint schemas)."""
    codes: list[str] = []
    info = data.get("errorInfo")
    if isinstance(info, Mapping) and info.get("code"):
        codes.append(str(info["code"]))
    for item in data.get("errors") or []:
        code = (item.get("code") or item.get("message")) if isinstance(item, Mapping) else item
        if code and str(code) not in codes:
            codes.append(str(code))
    return codes


def _result_object(data: Mapping[str, Any], endpoint: str) -> dict[str, Any]:
    results = data.get("results")
    if not isinstance(results, dict):
        raise PermanentAtsError(f"Ashby answered {endpoint} without a results object")
    return results


def text_or_none(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


# -- lookups, memoised for the run in ctx.cache ----------------------------------------------------

def interview_events_of(schedule: Mapping[str, Any], schedule_id: str, ctx: Context) -> list[Any]:
    """The schedule's events; when the payload lists none, ask interviewEvent.list (if we may).

    Not documented: whether a cancelled schedule still lists its events. Without events there is no
    interview id to act on, so such a schedule yields nothing (the sweeper's end-time rule remains).
    """
    events = schedule.get("interviewEvents")
    if isinstance(events, list) and events:
        return events
    if not ctx.connection.credentials.get("api_key"):
        return []
    key = f"ashby:interviewEvent.list:{schedule_id}"
    if key not in ctx.cache:
        ctx.cache[key] = client_for(ctx).interview_events(schedule_id)
    return list(ctx.cache[key])


def application_info(application_id: str, ctx: Context) -> dict[str, Any]:
    """The application object (application.info), for a schedule whose application we do not hold."""
    key = f"ashby:application.info:{application_id}"
    if key not in ctx.cache:
        ctx.cache[key] = client_for(ctx).application_info(application_id)
    return dict(ctx.cache[key])


def stage_title(stage_id: str | None, ctx: Context) -> str | None:
    """The interview stage's title, or None without an API key or when Ashby no longer has the stage."""
    if not stage_id or not ctx.connection.credentials.get("api_key"):
        return None  # the title is a nicety for emails; ids alone are enough to act
    key = f"ashby:interviewStage.info:{stage_id}"
    if key not in ctx.cache:
        try:
            ctx.cache[key] = clip(client_for(ctx).interview_stage_info(stage_id).get("title"))
        except PermanentAtsError:
            ctx.cache[key] = None  # a deleted stage must not fail the interview; outages still retry
    return ctx.cache[key]  # type: ignore[no-any-return]


def client_for(ctx: Context) -> AshbyClient:
    """The run's client (one per delivery or poll page); raises when the connection has no API key."""
    client = ctx.cache.get("ashby:client")
    if isinstance(client, AshbyClient):
        return client
    api_key = ctx.connection.credentials.get("api_key")
    if not api_key:
        raise PermanentAtsError("Ashby needs an API key (credential api_key) for this; none is configured")
    client = AshbyClient(ctx.connection.api_base_url(DEFAULT_API_BASE_URL), api_key)
    ctx.cache["ashby:client"] = client
    return client
