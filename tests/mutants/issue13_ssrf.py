"""Issue 13, item 1 mutants: SSRF through ATS connection options (plugin/ats/egress.py and its callers).

Each entry is a plain text replacement (see run.py): `search` occurs exactly once in `file` and
becomes `replace`; the files in `tests` must then fail.
"""

from __future__ import annotations

SSRF = "tests/ats/test_ats_ssrf.py"

MUTANTS = [
    {
        "name": "ssrf-creation-check-removed",
        "why": "a connection may be saved with http://169.254.169.254/ as its API URL",
        "file": "plugin/ats/connections.py",
        "search": "        egress.check(provider, value, allowed_hosts)\n",
        "replace": "        pass\n",
        "tests": [f"{SSRF}::test_internal_and_foreign_urls_are_refused_at_creation_and_nothing_is_stored"],
    },
    {
        "name": "ssrf-api-ignores-operator-setting",
        "why": "POST /api/v1/connections does not pass the operator's allowed hosts: an allowed proxy is refused",
        "file": "plugin/api/connections.py",
        "search": 'options=body.get("options", {}), now=now(), actor=_actor(), allowed_hosts=_allowed_hosts())',
        "replace": 'options=body.get("options", {}), now=now(), actor=_actor())',
        "tests": [f"{SSRF}::test_the_operator_setting_allows_a_host_and_only_on_the_port_it_names"],
    },
    {
        "name": "ssrf-redirects-followed",
        "why": "a vendor's 302 to an internal host is followed and its answer shown",
        "file": "plugin/ats/http.py",
        "search": "allow_redirects=False)",
        "replace": "allow_redirects=True)",
        "tests": [f"{SSRF}::test_a_redirect_to_another_host_is_not_followed_and_the_error_says_why"],
    },
    {
        "name": "ssrf-redirect-location-repeated",
        "why": "the redirect error repeats the whole Location (path and query), not just its origin",
        "file": "plugin/ats/http.py",
        "search": "        return egress.parse(requests.compat.urljoin(reply.url, location)).origin\n",
        "replace": "        return requests.compat.urljoin(reply.url, location)\n",
        "tests": [f"{SSRF}::test_a_redirect_to_another_host_is_not_followed_and_the_error_says_why"],
    },
    {
        "name": "ssrf-link-origin-unchecked",
        "why": "an absolute link to another host is called with the connection's credentials",
        "file": "plugin/ats/http.py",
        "search": "            if egress.parse(path).origin != egress.parse(self.base_url).origin:",
        "replace": "            if False:",
        "tests": [f"{SSRF}::test_the_client_sends_its_credentials_to_its_own_origin_only"],
    },
    {
        "name": "ssrf-request-time-check-removed",
        "why": "a connection saved while its host was allowed is still called after the operator removed it",
        "file": "plugin/ats/http.py",
        "search": "        self._destination(target)\n",
        "replace": "",
        "tests": [f"{SSRF}::test_a_host_no_longer_allowed_is_not_called_and_its_answer_never_shows"],
    },
    {
        "name": "ssrf-excerpt-limit-raised",
        "why": "a vendor's whole error answer is copied into last_poll_error",
        "file": "plugin/ats/http.py",
        "search": "EXCERPT_LIMIT = 200 ",
        "replace": "EXCERPT_LIMIT = 5000 ",
        "tests": [f"{SSRF}::test_an_allowed_vendors_error_keeps_a_short_excerpt"],
    },
    {
        "name": "ssrf-dns-failure-permanent",
        "why": "a name that does not resolve (DNS down) fails deliveries for good instead of being retried",
        "file": "plugin/ats/http.py",
        "search": 'raise TransientAtsError(f"{self.vendor}: could not resolve',
        "replace": 'raise PermanentAtsError(f"{self.vendor}: could not resolve',
        "tests": [f"{SSRF}::test_a_name_that_does_not_resolve_is_a_transient_error_not_a_verdict"],
    },
    {
        "name": "ssrf-dns-check-skipped",
        "why": "a name resolving to loopback is called though the operator never named it",
        "file": "plugin/ats/egress.py",
        "search": "    if destination.vouched:\n        return\n",
        "replace": "    return\n",
        "tests": [f"{SSRF}::test_names_resolving_to_internal_addresses_are_refused_unless_the_operator_named_them"],
    },
    {
        "name": "ssrf-wildcard-vouches",
        "why": "a wildcard in the operator's list lets any name under it resolve to a private address",
        "file": "plugin/ats/egress.py",
        "search": "any(not p.wildcard for p in matching)",
        "replace": "bool(matching)",
        "tests": [f"{SSRF}::test_names_resolving_to_internal_addresses_are_refused_unless_the_operator_named_them"],
    },
    {
        "name": "ssrf-vendor-hosts-over-http",
        "why": "a vendor's own host is accepted over plain http (credentials in clear)",
        "file": "plugin/ats/egress.py",
        "search": '    if target.scheme == "https" and any(',
        "replace": "    if any(",
        "tests": [f"{SSRF}::test_internal_and_foreign_urls_are_refused_at_creation_and_nothing_is_stored"],
    },
    {
        "name": "ssrf-lookalike-host",
        "why": "harvest.greenhouse.io.attacker.example passes for harvest.greenhouse.io",
        "file": "plugin/settings.py",
        "search": "            name_ok = host == self.host\n",
        "replace": "            name_ok = host.startswith(self.host)\n",
        "tests": [f"{SSRF}::test_internal_and_foreign_urls_are_refused_at_creation_and_nothing_is_stored"],
    },
    {
        "name": "ssrf-operator-port-ignored",
        "why": "allowing host:8089 allows every port of that host (a port scan)",
        "file": "plugin/settings.py",
        "search": "        if self.port == ANY_PORT:\n            return name_ok\n",
        "replace": "        if True:\n            return name_ok\n",
        "tests": [f"{SSRF}::test_the_operator_setting_allows_a_host_and_only_on_the_port_it_names"],
    },
    {
        "name": "ssrf-bad-allowed-host-ignored",
        "why": "a malformed GHOSTLESS_ATS_ALLOWED_HOSTS entry is dropped silently instead of stopping start-up",
        "file": "plugin/settings.py",
        "search": '                self.errors.append(f"{PREFIX}{name} entry {entry!r}',
        "replace": '                (lambda *_: None)(f"{PREFIX}{name} entry {entry!r}',
        "tests": [f"{SSRF}::test_the_operator_setting_is_parsed_strictly_with_a_message_naming_it"],
    },
    {
        "name": "ssrf-standins-not-allowed",
        "why": "the tests' vendor stand-ins are not allowed: every test that polls one must fail (they run "
               "through the policy, not around it)",
        "file": "tests/conftest.py",
        "search": '    rt.settings = rt.settings.with_overrides(ats_allowed_hosts=(HostPattern.parse("127.0.0.1:*"),))\n',
        "replace": "",
        "tests": ["tests/ats/test_ats_ashby.py"],
    },
]
