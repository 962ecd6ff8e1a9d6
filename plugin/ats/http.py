"""The one HTTP client every vendor REST client uses: base URL, auth, timeouts, error meaning.

Vendor API calls happen outside database transactions (a slow ATS must not hold row locks). Errors
say whether trying again can help, like the mail providers do:
- `TransientAtsError`: timeouts, connection errors, 429 (with the vendor's wait when it gives one)
  and 5xx. The delivery or poll is retried later.
- `PermanentAtsError`: any other 4xx (bad credentials, unknown record), a redirect, or a destination the
  SSRF policy refuses. Retrying will not help; the delivery is marked failed with the message, for a
  person to read.

Every request goes through the SSRF policy (`plugin.ats.egress`) first, only ever to the origin of the
client's base URL (a vendor's `next` link to another host is refused, never followed), and redirects
are never followed: a 3xx is an error naming where it pointed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from plugin import runtime
from plugin.ats import egress
from plugin.settings import HostPattern

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20.0  # seconds; a poll page or a single record fetch
EXCERPT_LIMIT = 200  # characters of a vendor's error answer kept in messages (last_poll_error, deliveries)


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
    """`base_url` comes from the connection (`options.api_base_url`) so tests point it at a stand-in.

    `vendor` is the provider's title; its lower case is the provider key the SSRF policy knows.
    `allowed_hosts` None: the operator's GHOSTLESS_ATS_ALLOWED_HOSTS, read at each request.
    """

    base_url: str
    vendor: str
    auth: tuple[str, str] | None = None  # HTTP Basic
    bearer: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    session: requests.Session = field(default_factory=requests.Session)
    allowed_hosts: Sequence[HostPattern] | None = None

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            # A `next` link returned by the vendor: our credentials go with it, so only to our own API.
            if egress.parse(path).origin != egress.parse(self.base_url).origin:
                raise PermanentAtsError(f"{self.vendor} sent a link to {egress.parse(path).origin}, outside "
                                        f"{egress.parse(self.base_url).origin}; Ghostless does not follow it")
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def _destination(self, target: str) -> egress.Destination:
        """The request's destination, checked against the policy now (settings may have changed)."""
        allowed = runtime.current().settings.ats_allowed_hosts if self.allowed_hosts is None else self.allowed_hosts
        shown = target.split("?")[0][:200]
        try:
            destination = egress.check(self.vendor.lower(), target, allowed)
            egress.check_addresses(destination)
        except egress.DestinationRefused as exc:
            raise PermanentAtsError(f"{self.vendor}: refused to call {shown}: the API URL {exc}") from exc
        except OSError as exc:  # the name did not resolve: DNS may be back at the next try
            raise TransientAtsError(f"{self.vendor}: could not resolve the host of {shown}: {exc.strerror or exc}") from exc
        return destination

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, data: Any = None, headers: Mapping[str, str] | None = None) -> Response:
        all_headers = {"Accept": "application/json", "User-Agent": "Ghostless"}
        if self.bearer:
            all_headers["Authorization"] = f"Bearer {self.bearer}"
        all_headers.update(headers or {})
        try:
            target = self.url(path)
        except egress.DestinationRefused as exc:
            raise PermanentAtsError(f"{self.vendor} sent a link that {exc}") from exc
        self._destination(target)
        try:
            reply = self.session.request(method, target, params=params, json=json, data=data, auth=self.auth,
                                         headers=all_headers, timeout=self.timeout, allow_redirects=False)
        except requests.Timeout as exc:
            raise TransientAtsError(f"{self.vendor} did not answer {method} {path} within {self.timeout:g} s") from exc
        except requests.RequestException as exc:
            # The exception's class only: its text repeats the URL and the socket error, nothing a reader needs.
            raise TransientAtsError(f"{self.vendor} could not be reached ({method} {path}): "
                                    f"{type(exc).__name__}") from exc
        if reply.is_redirect or 300 <= reply.status_code < 400:
            raise PermanentAtsError(
                f"{self.vendor} answered {reply.status_code} to {method} {path}, redirecting to "
                f"{_redirect_origin(reply)}; Ghostless never follows redirects: set the connection's API URL "
                "to the address that answers", status=reply.status_code)
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


def _excerpt(reply: requests.Response, limit: int = EXCERPT_LIMIT) -> str:
    """A short excerpt of an error answer. Only ever from a host the policy allowed (the request was
    checked before it was sent, and redirects are not followed), so it is the vendor's own words."""
    text = " ".join(reply.text.split())
    return text[:limit] + ("..." if len(text) > limit else "") or reply.reason


def _redirect_origin(reply: requests.Response) -> str:
    """Where a redirect pointed: scheme, host and port only (the path and query are not ours to repeat)."""
    location = reply.headers.get("Location") or ""
    try:
        return egress.parse(requests.compat.urljoin(reply.url, location)).origin
    except egress.DestinationRefused:
        return "an address that is not an http(s) URL"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
