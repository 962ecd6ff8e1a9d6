"""The one HTTP client every vendor REST client uses: base URL, auth, timeouts, error meaning.

Vendor API calls happen outside database transactions (a slow ATS must not hold row locks). Errors
say whether trying again can help, like the mail providers do:
- `TransientAtsError`: timeouts, connection errors, 429 (with the vendor's wait when it gives one)
  and 5xx. The delivery or poll is retried later.
- `PermanentAtsError`: any other 4xx (bad credentials, unknown record). Retrying will not help; the
  delivery is marked failed with the message, for a person to read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20.0  # seconds; a poll page or a single record fetch


class AtsError(Exception):
    """A vendor API call failed. `permanent` says whether retrying can help."""

    permanent = False

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class TransientAtsError(AtsError):
    permanent = False


class PermanentAtsError(AtsError):
    permanent = True


@dataclass
class Response:
    status: int
    data: Any
    headers: Mapping[str, str]
    links: Mapping[str, Any] = field(default_factory=dict)  # parsed `Link` header (rel -> {"url": ...})


@dataclass
class ApiClient:
    """`base_url` comes from the connection (`options.api_base_url`) so tests point it at a stand-in."""

    base_url: str
    vendor: str
    auth: tuple[str, str] | None = None  # HTTP Basic
    bearer: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path  # a `next` link returned by the vendor
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, data: Any = None, headers: Mapping[str, str] | None = None) -> Response:
        all_headers = {"Accept": "application/json", "User-Agent": "Ghostless"}
        if self.bearer:
            all_headers["Authorization"] = f"Bearer {self.bearer}"
        all_headers.update(headers or {})
        target = self.url(path)
        try:
            reply = self.session.request(method, target, params=params, json=json, data=data, auth=self.auth,
                                         headers=all_headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise TransientAtsError(f"{self.vendor} did not answer {method} {path} within {self.timeout:g} s") from exc
        except requests.RequestException as exc:
            raise TransientAtsError(f"{self.vendor} could not be reached ({method} {path}): {exc}") from exc
        if reply.status_code == 429 or reply.status_code >= 500:
            raise TransientAtsError(
                f"{self.vendor} answered {reply.status_code} to {method} {path}: {_excerpt(reply)}",
                status=reply.status_code, retry_after=_retry_after(reply.headers),
            )
        if reply.status_code >= 400:
            raise PermanentAtsError(f"{self.vendor} answered {reply.status_code} to {method} {path}: {_excerpt(reply)}",
                                    status=reply.status_code)
        try:
            payload = reply.json() if reply.content else None
        except ValueError as exc:
            raise TransientAtsError(f"{self.vendor} sent a body that is not JSON for {method} {path}") from exc
        return Response(status=reply.status_code, data=payload, headers=reply.headers, links=reply.links)

    def get(self, path: str, **params: Any) -> Response:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", path, json=json, **kwargs)


def _excerpt(reply: requests.Response, limit: int = 300) -> str:
    text = reply.text.strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "") or reply.reason


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
