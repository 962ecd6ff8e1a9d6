"""Greenhouse Harvest v3: the REST client (OAuth client credentials, cursor pagination, records by id).

Sources are named in the package docstring (`plugin/ats/greenhouse/__init__.py`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from plugin.ats.base import AdapterError, Connection, parse_time
from plugin.ats.http import ApiClient, PermanentAtsError

__all__ = [
    "DEFAULT_API_BASE_URL", "HarvestClient", "PAGE_SIZE_MAX", "as_dict", "optional", "v3_time",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

VENDOR = "Greenhouse"
# The READ migration guide and every v3 route it lists use harvest.greenhouse.io/v3; the list-endpoints
# page's example uses api.greenhouse.io/v3. We default to the former; `options.api_base_url` overrides.
DEFAULT_API_BASE_URL = "https://harvest.greenhouse.io"
DEFAULT_AUTH_URL = "https://auth.greenhouse.io/token"  # options.auth_url overrides (tests, proxies)
PAGE_SIZE_MAX = 500  # v3 per_page is 1-500
IDS_PER_REQUEST = 50  # v3 `ids` / `*_ids` filters take at most 50 values
TOKEN_MARGIN = 60.0  # seconds: fetch a new access token this long before the old one expires
DEFAULT_TOKEN_TTL = 3600.0  # the documented access-token lifetime when the answer gives none


def as_dict(value: Any) -> dict[str, Any]:
    """The value if it is a JSON object, else an empty one (vendor fields may be null or absent)."""
    return value if isinstance(value, dict) else {}


def v3_time(value: datetime) -> str:
    """A time as Harvest v3 filters and cursors write it (UTC, whole seconds, `Z`)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- Harvest v3 client ---------------------------------------------------------------------------

_TOKENS: dict[tuple[str, ...], tuple[str, float]] = {}  # key -> (access token, monotonic expiry)
_TOKENS_LOCK = threading.Lock()


class HarvestClient:
    """Harvest v3 with OAuth 2.0 client credentials (or a ready `access_token`), through ApiClient.

    Tokens live an hour and are kept per process, so a poll of many pages fetches one.
    """

    def __init__(self, connection: Connection, cache: dict[str, Any] | None = None) -> None:
        credentials = connection.credentials
        self.base_url = connection.api_base_url(DEFAULT_API_BASE_URL).rstrip("/")
        self.auth_url = str(connection.options.get("auth_url") or DEFAULT_AUTH_URL)
        self.client_id = credentials.get("client_id") or ""
        self.client_secret = credentials.get("client_secret") or ""
        self.user_id = credentials.get("user_id") or ""
        self.static_token = credentials.get("access_token") or ""
        self.cache = cache if cache is not None else {}
        self._api: ApiClient | None = None

    @property
    def configured(self) -> bool:
        return bool(self.static_token or (self.client_id and self.client_secret))

    # -- auth --
    def _token_key(self) -> tuple[str, ...]:
        secret = hashlib.sha256(self.client_secret.encode()).hexdigest()
        return (self.auth_url, self.client_id, secret, self.user_id)

    def _token(self, *, fresh: bool = False) -> str:
        if self.static_token:
            return self.static_token
        if not (self.client_id and self.client_secret):
            raise PermanentAtsError("Greenhouse API calls need the client_id and client_secret of Harvest v3 "
                                    "credentials (or an access_token)")
        key = self._token_key()
        with _TOKENS_LOCK:
            held = _TOKENS.get(key)
            if held and not fresh and held[1] - TOKEN_MARGIN > time.monotonic():
                return held[0]
        form = {"grant_type": "client_credentials"}
        if self.user_id:
            form["sub"] = self.user_id  # the Greenhouse user the calls are made as (documented `sub`)
        reply = ApiClient(self.auth_url, VENDOR, auth=(self.client_id, self.client_secret)).request(
            "POST", self.auth_url, data=form)
        data = as_dict(reply.data)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermanentAtsError("Greenhouse's token endpoint answered without an access_token")
        with _TOKENS_LOCK:
            _TOKENS[key] = (token, time.monotonic() + _token_ttl(data))
        return token

    def _client(self, *, fresh: bool = False) -> ApiClient:
        if self._api is None or fresh:
            self._api = ApiClient(self.base_url, VENDOR, bearer=self._token(fresh=fresh))
        return self._api

    def _get(self, path: str, params: Mapping[str, Any]) -> Any:
        try:
            return self._client().get(path, **params)
        except PermanentAtsError as exc:
            # An access token revoked or expired early: one new token, one more try.
            if exc.status != 401 or self.static_token:
                raise
            return self._client(fresh=True).get(path, **params)

    # -- lists --
    def page(self, path: str, params: Mapping[str, Any] | None = None,
             cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a v3 list, and the cursor of the next page (None at the end).

        Follow-ups send the cursor alone, as the docs require. We keep the cursor, not the `next` URL,
        and always call our own base URL: a stored link never sends our token to another host.
        """
        reply = self._get(path, {"cursor": cursor} if cursor else dict(params or {}))
        records = reply.data if isinstance(reply.data, list) else []
        return [r for r in records if isinstance(r, dict)], _next_cursor(reply.links)

    def every(self, path: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        records, cursor = self.page(path, params)
        while cursor:
            more, cursor = self.page(path, cursor=cursor)
            records.extend(more)
        return records

    def by_ids(self, resource: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Records of `/v3/<resource>` by id, memoised in the run's cache (missing ids are remembered too)."""
        memo: dict[str, dict[str, Any] | None] = self.cache.setdefault(f"greenhouse:{resource}", {})
        asked = {i for i in ids if i}
        wanted = sorted(i for i in asked if i not in memo)
        for start in range(0, len(wanted), IDS_PER_REQUEST):
            chunk = wanted[start:start + IDS_PER_REQUEST]
            for record in self.every(f"/v3/{resource}", {"ids": ",".join(chunk), "per_page": PAGE_SIZE_MAX}):
                memo[str(record.get("id"))] = record
            for missing in chunk:
                memo.setdefault(missing, None)
        return {i: r for i in asked if (r := memo.get(i)) is not None}

    def interviews_of(self, application_id: str) -> list[dict[str, Any]]:
        return self.every("/v3/interviews", {"application_ids": application_id, "per_page": PAGE_SIZE_MAX})


def _next_cursor(links: Mapping[str, Any]) -> str | None:
    url = as_dict(links.get("next")).get("url")
    if not url:
        return None
    values = parse_qs(urlsplit(str(url)).query).get("cursor")
    return values[0] if values else None


def _token_ttl(data: Mapping[str, Any]) -> float:
    expires_in = data.get("expires_in")
    if isinstance(expires_in, (int, float)) and expires_in > 0:
        return float(expires_in)
    try:
        expires_at = parse_time(data.get("expires_at"))
    except AdapterError:
        expires_at = None
    if expires_at is not None:
        return max((expires_at - datetime.now(UTC)).total_seconds(), 0.0)
    return DEFAULT_TOKEN_TTL


def optional(fetch: Callable[[], T], what: str) -> T | None:
    """`fetch()`, or None (logged) when Greenhouse refuses for good; transient errors still raise."""
    try:
        return fetch()
    except PermanentAtsError as exc:
        log.warning("Greenhouse: could not fetch %s: %s", what, exc)
        return None
