"""Workable's SPI v3 as the adapter uses it: the API base URL of an account and the calls it makes.

Sources are named in the package docstring (`plugin/ats/workable/__init__.py`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from plugin.ats.base import AdapterError, Context
from plugin.ats.http import ApiClient, PermanentAtsError

__all__ = ["DEFAULT_API_BASE_URL", "PAGE_LIMIT", "WorkableClient", "api_base_url"]

DEFAULT_API_BASE_URL = "https://{subdomain}.workable.com/spi/v3"
PAGE_LIMIT = 100  # the documented maximum per page
_SUBDOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def api_base_url(ctx: Context) -> str:
    """`options.api_base_url`, else `https://<options.subdomain>.workable.com/spi/v3`."""
    options = ctx.connection.options
    if options.get("api_base_url"):
        return str(options["api_base_url"])
    subdomain = options.get("subdomain")
    if not isinstance(subdomain, str) or not _SUBDOMAIN.match(subdomain):
        raise AdapterError("the Workable connection needs options.subdomain (e.g. 'acme' for acme.workable.com) "
                           "to call the Workable API")
    return DEFAULT_API_BASE_URL.format(subdomain=subdomain.lower())


class WorkableClient:
    """The SPI v3 calls this adapter makes (Bearer token, JSON)."""

    def __init__(self, ctx: Context) -> None:
        token = ctx.connection.credentials.get("api_token")
        if not token:
            raise AdapterError("the Workable connection has no credentials.api_token to call the Workable API")
        self.api = ApiClient(base_url=api_base_url(ctx), vendor="Workable", bearer=token)

    def candidate(self, candidate_id: str) -> dict[str, Any] | None:
        """The candidate's current state, or None when Workable says it does not exist (404)."""
        try:
            data = self.api.get(f"candidates/{quote(candidate_id, safe='')}").data
        except PermanentAtsError as exc:
            if exc.status == 404:
                return None
            raise
        found = data.get("candidate", data) if isinstance(data, dict) else None
        if not isinstance(found, dict):
            raise AdapterError(f"Workable's GET /candidates/{candidate_id} answer has no candidate object")
        return found

    def confirm_account(self) -> None:
        """Raises unless the account's candidate list answers: proves a 404 was about one candidate."""
        self.api.get("candidates", limit=1)

    def candidates_page(self, *, updated_after: str, next_url: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return self._page("candidates", next_url, updated_after=updated_after, limit=PAGE_LIMIT)

    def interviews_page(self, *, start_date: str, next_url: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return self._page("events", next_url, type="interview", start_date=start_date, include_cancelled="true",
                          limit=PAGE_LIMIT)

    def stages(self) -> list[dict[str, Any]]:
        data = self.api.get("stages").data
        stages = data.get("stages") if isinstance(data, dict) else None
        return [s for s in stages or [] if isinstance(s, dict)]

    def _page(self, key: str, next_url: str | None, **params: Any) -> tuple[list[dict[str, Any]], str | None]:
        if next_url is not None:
            self._check_same_origin(next_url)
            data = self.api.get(next_url).data  # the `next` URL carries every filter already
        else:
            data = self.api.get(key, **params).data
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise AdapterError(f"Workable's GET /{key} answer has no '{key}' list")
        paging = data.get("paging")
        following = paging.get("next") if isinstance(paging, dict) else None
        return [r for r in data[key] if isinstance(r, dict)], (str(following) if following else None)

    def _check_same_origin(self, url: str) -> None:
        # The Bearer token goes wherever `next` points: only ever to the API we were configured with.
        if urlsplit(url)[:2] != urlsplit(self.api.base_url)[:2]:
            raise AdapterError(f"Workable's paging.next points outside {self.api.base_url}: {url[:200]}")
