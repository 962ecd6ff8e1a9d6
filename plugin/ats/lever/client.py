"""Lever's REST API as the adapter uses it: a rate-limited client and the opportunity snapshot.

Auth, pagination and the rate limit are described on `LeverClient`; sources are named in the
package docstring (`plugin/ats/lever/__init__.py`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plugin.ats.base import AdapterError, Context
from plugin.ats.http import ApiClient, PermanentAtsError

__all__ = [
    "DEFAULT_API_BASE_URL", "EXPAND_OPPORTUNITY", "LeverClient", "ListPage", "archive_reason_id_of",
    "posting_id_of",
]

DEFAULT_API_BASE_URL = "https://api.lever.co/v1"
EXPAND_OPPORTUNITY = ["applications", "stage"]  # documented expandable fields of an opportunity


@dataclass(frozen=True)
class ListPage:
    data: list[dict[str, Any]]
    next: str | None


class LeverClient:
    """The Lever calls the adapter needs, with the documented list pagination (`offset` <- `next`).

    Auth: HTTP Basic with the API key as user name and an empty password. Lever allows 10 requests
    per second steady (bursts to 20) and answers 429 beyond; a small token bucket keeps one client
    under that so a poll page does not trip it (429 still maps to TransientAtsError).
    """

    RATE_PER_SECOND = 10.0
    BURST = 10.0

    def __init__(self, ctx: Context) -> None:
        api_key = ctx.connection.credentials.get("api_key")
        if not api_key:
            raise PermanentAtsError("Lever: the connection has no api_key credential; add one to fetch opportunities")
        self.api = ApiClient(base_url=ctx.connection.api_base_url(DEFAULT_API_BASE_URL), vendor="Lever",
                             auth=(api_key, ""))
        self.cache = ctx.cache
        self._tokens, self._last = self.BURST, time.monotonic()

    def _get(self, path: str, **params: Any) -> Any:
        self._throttle()
        return self.api.get(path, **params).data

    def _throttle(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.BURST, self._tokens + (now - self._last) * self.RATE_PER_SECOND)
        self._last = now
        if self._tokens < 1:
            time.sleep((1 - self._tokens) / self.RATE_PER_SECOND)
            self._tokens, self._last = 1.0, time.monotonic()
        self._tokens -= 1

    def page(self, path: str, offset: str | None = None, **params: Any) -> ListPage:
        body = self._get(path, offset=offset, **params)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise AdapterError(f"Lever GET {path} answered without a `data` list")
        following = body.get("next") if body.get("hasNext") else None
        return ListPage([item for item in body["data"] if isinstance(item, dict)],
                        str(following) if following else None)

    def all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset: str | None = None
        while True:
            page = self.page(path, offset, limit=100, **params)
            items.extend(page.data)
            if page.next is None:
                return items
            offset = page.next

    def opportunity(self, opportunity_id: str) -> dict[str, Any]:
        body = self._get(f"/opportunities/{opportunity_id}", expand=EXPAND_OPPORTUNITY)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise AdapterError(f"Lever GET /opportunities/{opportunity_id} answered without a `data` object")
        return data

    def interviews(self, opportunity_id: str) -> list[dict[str, Any]]:
        return self.all(f"/opportunities/{opportunity_id}/interviews", expand="stage")

    def feedback(self, opportunity_id: str) -> list[dict[str, Any]]:
        return self.all(f"/opportunities/{opportunity_id}/feedback")

    def archive_reason(self, reason_id: str) -> dict[str, Any] | None:
        """One archive reason (memoised list: reasons are account settings, read once per run)."""
        reasons = self.cache.get("lever:archive_reasons")
        if reasons is None:
            reasons = {str(r.get("id")): r for r in self.all("/archive_reasons")}
            self.cache["lever:archive_reasons"] = reasons
        return reasons.get(reason_id)

    def posting(self, posting_id: str) -> dict[str, Any] | None:
        """The posting with its hiring manager and owner expanded; None when Lever will not show it.

        Only decoration (title, department, people), so a deleted posting or an API key without the
        postings scope must not fail the delivery: the job ref then carries the id alone.
        """
        key = f"lever:posting:{posting_id}"
        if key not in self.cache:
            try:
                body = self._get(f"/postings/{posting_id}", expand=["hiringManager", "owner"])
                data = body.get("data") if isinstance(body, dict) else None
                self.cache[key] = data if isinstance(data, dict) else None
            except PermanentAtsError:
                self.cache[key] = None
        return self.cache[key]

    def snapshot(self, opportunity: dict[str, Any]) -> dict[str, Any]:
        """Everything the translation needs about one opportunity, as raw Lever objects."""
        record: dict[str, Any] = {"opportunity": opportunity}
        if not opportunity.get("id"):
            raise AdapterError("opportunity.id is missing")
        if opportunity.get("isAnonymized") or opportunity.get("deletedAt"):
            return record  # only the erasure is emitted; nothing else to fetch
        posting_id = posting_id_of(opportunity)
        if posting_id:
            record["posting"] = self.posting(posting_id)
        reason_id = archive_reason_id_of(opportunity)
        if reason_id:
            record["archive_reason"] = self.archive_reason(reason_id)
        interviews = self.interviews(str(opportunity.get("id")))
        record["interviews"] = interviews
        # Feedback only when an interview lists submitted forms: one call fewer for most opportunities.
        if any(iv.get("feedbackForms") and not iv.get("canceledAt") for iv in interviews):
            record["feedback"] = self.feedback(str(opportunity.get("id")))
        return record


def posting_id_of(opportunity: Mapping[str, Any]) -> str | None:
    """The posting (our job) an opportunity applied to, from its expanded `applications`; None if none."""
    applications = opportunity.get("applications") or []
    for application in applications:
        if isinstance(application, dict):
            posting = application.get("posting")
            if isinstance(posting, dict):
                posting = posting.get("id")
            if posting:
                return str(posting)
    return None


def archive_reason_id_of(opportunity: Mapping[str, Any]) -> str | None:
    """The archive reason of an archived opportunity; None while it is not archived."""
    archived = opportunity.get("archived")
    reason = archived.get("reason") if isinstance(archived, dict) else None
    return str(reason) if reason else None  # Lever unarchives by setting the reason to null
