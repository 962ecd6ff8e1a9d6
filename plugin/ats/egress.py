"""Where ATS clients may send requests: the SSRF policy.

An organisation's admin sets `options.api_base_url` (and Greenhouse's `options.auth_url`). Unchecked,
those reach anything the server can: loopback, the cloud metadata service at 169.254.169.254, internal
services and their ports, with the answer echoed back in `last_poll_error`. So a URL is allowed when
1. it is https on one of the vendor's documented API hosts (`VENDOR_HOSTS`), on the default port, or
2. its host matches a pattern the operator lists in GHOSTLESS_ATS_ALLOWED_HOSTS (http or https: an
   internal proxy or a test stand-in may speak plain HTTP).
It is checked when a connection is saved (`plugin.ats.connections`) and again before every request
(`plugin.ats.http.ApiClient`), since settings change after connections are made. At request time a name
must also resolve to public addresses only, unless the operator named that host exactly.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from plugin.settings import DEFAULT_PORTS, HostPattern

SETTING = "GHOSTLESS_ATS_ALLOWED_HOSTS"

# The documented API hosts of each vendor, with the regional ones we found named (sources: each
# package's docstring and /work/shared/notes/ats). Greenhouse: Harvest v3 on harvest. and api., OAuth
# tokens on auth.; EU-hosted accounts on the .eu. names. Lever: api., its EU instance and the sandbox.
# Workable: every account has its own <subdomain>.workable.com.
VENDOR_HOSTS: dict[str, tuple[str, ...]] = {
    "greenhouse": ("harvest.greenhouse.io", "api.greenhouse.io", "auth.greenhouse.io",
                   "harvest.eu.greenhouse.io", "auth.eu.greenhouse.io"),
    "lever": ("api.lever.co", "api.eu.lever.co", "api.sandbox.lever.co"),
    "ashby": ("api.ashbyhq.com",),
    "workable": ("*.workable.com",),
}


class DestinationRefused(ValueError):
    """The URL is outside the policy; the message says why and what is allowed."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    vouched: bool  # the operator named this host exactly: it may resolve to a private address

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if DEFAULT_PORTS.get(self.scheme) == self.port else f":{self.port}")


def allowed_text(provider: str, operator: Sequence[HostPattern]) -> str:
    """The allowed hosts, for messages an org admin reads (the operator's own list is not disclosed)."""
    vendor = ", ".join(VENDOR_HOSTS.get(provider, ())) or "none"
    extra = f"; or one of the {len(operator)} host pattern(s) your operator allows in {SETTING}" if operator else (
        f"; other hosts only if your operator allows them in {SETTING}")
    return f"https on {vendor}{extra}"


def parse(url: str) -> Destination:
    """The URL's scheme, host and port; DestinationRefused when it is not a plain http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused(f"is not a valid URL ({exc})") from exc
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise DestinationRefused("must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused("must not carry a user name or password (credentials go in `credentials`)")
    return Destination(parts.scheme, parts.hostname.rstrip("."), port or DEFAULT_PORTS[parts.scheme], False)


def check(provider: str, url: str, operator: Sequence[HostPattern]) -> Destination:
    """The destination if the policy allows `url` for this vendor; DestinationRefused (naming the hosts) if not.

    No DNS here: that is `check_addresses`, at request time.
    """
    try:
        target = parse(url)
    except DestinationRefused as exc:
        raise DestinationRefused(f"{exc}; allowed are {allowed_text(provider, operator)}") from exc
    matching = [p for p in operator if p.matches(target.host, target.port, target.scheme)]
    if matching:
        return Destination(target.scheme, target.host, target.port, any(not p.wildcard for p in matching))
    vendor = [HostPattern.parse(h) for h in VENDOR_HOSTS.get(provider, ())]
    if target.scheme == "https" and any(p.matches(target.host, target.port, "https") for p in vendor):
        return target
    raise DestinationRefused(f"may not point at {target.origin}: allowed are {allowed_text(provider, operator)}")


def check_addresses(destination: Destination) -> None:
    """Refuse a name that resolves to a loopback, private, link-local or otherwise non-public address.

    Skipped for hosts the operator named exactly. OSError (name unknown, DNS down) passes through: it is
    a transient failure, not a verdict.
    """
    if destination.vouched:
        return
    infos = socket.getaddrinfo(destination.host, destination.port, type=socket.SOCK_STREAM)
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global:
            raise DestinationRefused(
                f"{destination.host} resolves to {address}, which is not a public address; "
                f"only a host named exactly in {SETTING} may")
