"""SSRF through connection options (issue 13, item 1): the policy in plugin/ats/egress.py.

A connection's `api_base_url` / `auth_url` may only name the vendor's documented hosts (https) or a
host the operator allows in GHOSTLESS_ATS_ALLOWED_HOSTS; checked when saved and before every request.
Redirects and `next` links to another host are never followed, and nothing a refused host could say
reaches `last_poll_error`. The servers here are real local HTTP servers (tests/vendor_standin.py).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from ats_support import connect
from sqlalchemy import func, select
from vendor_standin import Recorded, Reply, VendorStandIn

from plugin import clock
from plugin.ats import egress, polling
from plugin.ats.http import ApiClient, PermanentAtsError, TransientAtsError
from plugin.ats.secrets import SecretBox
from plugin.models import AtsConnection
from plugin.settings import HostPattern, Settings, SettingsError

INTERNAL_SECRET = "internal-admin-token-7f3a9c"  # what an internal service would say; must never show


def make(org: Any, provider: str, **kwargs: Any) -> Any:
    return connect(org, provider, signing_secret="webhook-secret-1", **kwargs)


def connections_stored(rt: Any) -> int:
    with rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(AtsConnection)) or 0)


def allow(rt: Any, *patterns: str) -> None:
    """What an operator does: set GHOSTLESS_ATS_ALLOWED_HOSTS (here straight on the running settings)."""
    rt.settings = rt.settings.with_overrides(ats_allowed_hosts=tuple(HostPattern.parse(p) for p in patterns))


def poll_error(rt: Any, org: Any, connection_id: str) -> str:
    polling.poll(rt.db, SecretBox(rt.settings), connection_id, now=clock.now())
    return str(org.get(f"/api/v1/connections/{connection_id}")["last_poll_error"] or "")


@pytest.fixture
def internal(vendor_env: None) -> Iterator[VendorStandIn]:
    """An internal service the policy must keep out of reach: answers everything with a secret."""
    with VendorStandIn() as server:
        answer = Reply(500, {"token": INTERNAL_SECRET})
        for method in ("GET", "POST"):
            server.route(method, ".*", lambda r, m: answer)
        # Reached as "localhost": another host than the 127.0.0.1 the operator allowed for the stand-ins.
        server.url = server.url.replace("127.0.0.1", "localhost")
        yield server


@pytest.fixture
def vendor(vendor_env: None) -> Iterator[VendorStandIn]:
    with VendorStandIn() as server:
        yield server


# -- refused when the connection is saved -----------------------------------------------------------

REFUSED_URLS = [
    "http://127.0.0.1:6379/",  # loopback (a Redis port scan)
    "http://169.254.169.254/latest/meta-data/iam/",  # the cloud metadata service
    "https://10.0.0.5/",  # a private network
    "https://[::1]:8080/",  # IPv6 loopback
    "http://localhost:5432/",
    "http://harvest.greenhouse.io/v3",  # a vendor host, but not https
    "http://harvest.greenhouse.io:443/v3",  # not https, even on https's port
    "https://harvest.greenhouse.io:8443/",  # a vendor host on another port
    "https://harvest.greenhouse.io.attacker.example/",  # a look-alike
    "https://harvest.greenhouse.io@169.254.169.254/",  # user info hiding the real host
    "https://api.lever.co/v1",  # another vendor's host
]


@pytest.mark.parametrize("option", ["api_base_url", "auth_url"])
@pytest.mark.parametrize("url", REFUSED_URLS)
def test_internal_and_foreign_urls_are_refused_at_creation_and_nothing_is_stored(rt, org, option, url):
    answer = make(org, "greenhouse", options={option: url}, expect=422)
    message = " ".join(answer["errors"]["json"]["options"][option])
    assert message.startswith(option) and "harvest.greenhouse.io" in message and "GHOSTLESS_ATS_ALLOWED_HOSTS" in message
    assert connections_stored(rt) == 0


@pytest.mark.parametrize("provider, url", [
    ("greenhouse", "https://harvest.greenhouse.io"), ("greenhouse", "https://harvest.eu.greenhouse.io/"),
    ("lever", "https://api.lever.co/v1"), ("lever", "https://api.eu.lever.co/v1"),
    ("ashby", "https://api.ashbyhq.com"), ("workable", "https://acme.workable.com/spi/v3"),
])
def test_the_vendors_documented_hosts_are_accepted(org, provider, url):
    make(org, provider, options={"api_base_url": url})


def test_changing_a_connection_to_an_internal_url_is_refused_and_changes_nothing(rt, org):
    made = make(org, "ashby", options={"api_base_url": "https://api.ashbyhq.com"})
    response = org.client.patch(f"/api/v1/connections/{made['id']}", headers=org.headers,
                                json={"options": {"api_base_url": "http://169.254.169.254/"}})
    assert response.status_code == 422
    assert "api_base_url" in response.get_json()["errors"]["json"]["options"]
    assert org.get(f"/api/v1/connections/{made['id']}")["options"] == {"api_base_url": "https://api.ashbyhq.com"}


# -- the operator setting ---------------------------------------------------------------------------

def test_the_operator_setting_allows_a_host_and_only_on_the_port_it_names(rt, org):
    url = "http://127.0.0.1:8089/v1"
    make(org, "lever", options={"api_base_url": url}, expect=422)
    allow(rt, "127.0.0.1:8089")
    make(org, "lever", options={"api_base_url": url})
    make(org, "lever", options={"api_base_url": "http://127.0.0.1:8090/v1"}, expect=422)
    allow(rt, "proxy.corp.example")  # a host alone: its scheme's default port
    make(org, "lever", options={"api_base_url": "https://proxy.corp.example/lever"})
    make(org, "lever", options={"api_base_url": "https://proxy.corp.example:444/lever"}, expect=422)


def test_the_operator_setting_is_parsed_strictly_with_a_message_naming_it():
    settings = Settings.from_env({"GHOSTLESS_ATS_ALLOWED_HOSTS": " 127.0.0.1:* , *.corp.example,[::1]:8080"})
    assert [str(p) for p in settings.ats_allowed_hosts] == ["127.0.0.1:*", "*.corp.example", "[::1]:8080"]
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"GHOSTLESS_ATS_ALLOWED_HOSTS": "https://proxy.internal/,h:70000,*.com"})
    message = str(refused.value)
    assert message.count("GHOSTLESS_ATS_ALLOWED_HOSTS") == 3
    assert "'https://proxy.internal/'" in message and "'h:70000'" in message and "'*.com'" in message


# -- checked again at request time ------------------------------------------------------------------

def test_a_host_no_longer_allowed_is_not_called_and_its_answer_never_shows(rt, org, internal):
    """Made while the operator allowed the host; the setting changed since: the poll never calls it."""
    allow(rt, "localhost:*")
    made = make(org, "ashby", credentials={"api_key": "k"}, options={"api_base_url": internal.url})
    allow(rt)  # the operator removed it
    error = poll_error(rt, org, made["id"])
    assert "refused to call" in error and "GHOSTLESS_ATS_ALLOWED_HOSTS" in error
    assert internal.requests == [] and INTERNAL_SECRET not in error


def test_names_resolving_to_internal_addresses_are_refused_unless_the_operator_named_them():
    resolved = {info[4][0] for info in socket.getaddrinfo("localhost", 443)}
    assert resolved and all(a.startswith(("127.", "::1")) for a in resolved)
    with pytest.raises(egress.DestinationRefused, match="not a public address"):
        egress.check_addresses(egress.Destination("https", "localhost", 443, vouched=False))
    named = egress.check("lever", "https://localhost/", [HostPattern.parse("*.corp.example"), HostPattern.parse("localhost")])
    assert named.vouched
    egress.check_addresses(named)  # named exactly: the operator vouches for where it points
    only_wildcard = egress.check("lever", "https://api.corp.example/", [HostPattern.parse("*.corp.example")])
    assert not only_wildcard.vouched  # a wildcard vouches for names, not for where DNS points them


def test_a_name_that_does_not_resolve_is_a_transient_error_not_a_verdict():
    """`.invalid` never resolves (RFC 2606): DNS trouble is retried later, not taken for a refusal."""
    client = ApiClient(base_url="https://ats.corp.invalid/v1", vendor="Lever",
                       allowed_hosts=[HostPattern.parse("*.corp.invalid")])
    with pytest.raises(TransientAtsError, match="could not resolve the host of https://ats.corp.invalid/v1/ok"):
        client.get("ok")


# -- redirects and next links -----------------------------------------------------------------------

def test_a_redirect_to_another_host_is_not_followed_and_the_error_says_why(rt, org, vendor, internal):
    target = internal.url + "/latest/meta-data/"
    vendor.route("POST", ".*", lambda r, m: Reply(302, {"moved": True}, {"Location": target}))
    made = make(org, "ashby", credentials={"api_key": "k"}, options={"api_base_url": vendor.url})
    error = poll_error(rt, org, made["id"])
    assert "302" in error and "never follows redirects" in error and internal.url in error
    assert "/latest/meta-data" not in error  # where it pointed: the origin only
    assert internal.requests == [] and INTERNAL_SECRET not in error
    assert len(vendor.requests) == 1


def test_a_redirect_on_the_same_host_is_not_followed_either(rt, org, vendor):
    vendor.route("POST", "/application.list", lambda r, m: Reply(301, None, {"Location": "/moved/application.list"}))
    made = make(org, "ashby", credentials={"api_key": "k"}, options={"api_base_url": vendor.url})
    assert "never follows redirects" in poll_error(rt, org, made["id"])
    assert [r.path for r in vendor.requests] == ["/application.list"]


def test_a_next_link_to_another_host_is_not_followed(rt, org, vendor, internal):
    def candidates(request: Recorded, match: Any) -> Reply:
        return Reply(200, {"candidates": [], "paging": {"next": internal.url + "/spi/v3/candidates?since_id=1"}})

    vendor.route("GET", "/spi/v3/candidates", candidates)
    made = make(org, "workable", credentials={"api_token": "t"},
                   options={"api_base_url": vendor.url + "/spi/v3", "subdomain": "acme"})
    error = poll_error(rt, org, made["id"])
    assert "outside" in error and internal.url in error
    assert internal.requests == [] and INTERNAL_SECRET not in error


def test_the_client_sends_its_credentials_to_its_own_origin_only(vendor, internal):
    """Defence in depth below the vendor clients: any absolute URL must share the base URL's origin."""
    vendor.route("GET", "/v1/ok", lambda r, m: Reply(200, {"ok": True}))
    client = ApiClient(base_url=vendor.url + "/v1", vendor="Lever", auth=("key", ""),
                       allowed_hosts=[HostPattern.parse("127.0.0.1:*"), HostPattern.parse("localhost:*")])
    assert client.get(vendor.url + "/v1/ok").data == {"ok": True}
    with pytest.raises(PermanentAtsError, match="Ghostless does not follow it"):
        client.get(internal.url + "/v1/ok")
    assert internal.requests == []


# -- what error messages keep -----------------------------------------------------------------------

def test_an_allowed_vendors_error_keeps_a_short_excerpt(rt, org, vendor):
    vendor.route("POST", ".*", lambda r, m: Reply(400, {"error": "invalid_input " + "x" * 1000}))
    made = make(org, "ashby", credentials={"api_key": "k"}, options={"api_base_url": vendor.url})
    error = poll_error(rt, org, made["id"])
    assert "invalid_input" in error and error.endswith("...") and len(error) < 400
