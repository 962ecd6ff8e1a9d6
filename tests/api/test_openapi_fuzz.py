"""The fuzzer: schemathesis drives every operation of the app's own OpenAPI document.

Issue 13 found four server errors and one undocumented answer this way (5,523 cases). Here every
operation gets schema-valid requests (positive) and schema-breaking ones (negative), with a valid API
key for a seeded organisation, and then valid requests aimed at the organisation's real objects (an
application with messages, a connection with a delivery, a reply, a template override), so the
answers that carry data are checked too. A 5xx, an exception, a status code, content type, header or
body the document does not describe fails the test, naming the operation and the request (as curl).

Bounded: a fixed seed (derandomize), MAX_EXAMPLES per operation and mode, no shrinking: about 25 s
per back end on an idle 2-core machine, a minute or two when it is busy. It runs on both back ends: PostgreSQL answers differently to out-of-range
numbers and long strings than SQLite (the issue's 64-bit ids), and a minute is a small part of CI.

schemathesis's pytest plugin does not run under pytest 9.2 (it reads `Function._nodeid`, gone), so
the operations are driven through its Python API with Hypothesis directly.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import schemathesis
from ats_support import connect, fixture_bytes
from conftest import START, Org
from helpers import interview_done
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_sendgrid_inbound import inbound_fields, post_mail, set_secret

from plugin.ats.signing import hmac_sha256_hex

MAX_EXAMPLES = 25  # per operation and mode: about 3,000 cases (the issue ran 5,523)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
FUZZ = settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
SECRET = "fuzz-webhook-secret"


def _seed(org: Org, tick: Any) -> dict[str, Any]:
    """Real objects for the path parameters: what a client would actually address."""
    batch = org.post(interview_done(START, app="a-1", candidate="c-1", email="c-1@example.com"))["batch_id"]
    tick(by=timedelta(hours=1))
    gh = connect(org, "greenhouse", signing_secret=SECRET, credentials={"access_token": "tok-123"})
    body = fixture_bytes("greenhouse", "reject_candidate.json")
    delivery = org.client.post(gh["webhook_path"], data=body, headers={
        "Content-Type": "application/json", "Signature": f"sha256 {hmac_sha256_hex(SECRET, body)}",
        "Greenhouse-Event-ID": "fuzz-1"}).get_json()["delivery_id"]
    set_secret(org.rt, org.id)
    reply = post_mail(org.client, org.id, inbound_fields("Ada Lovelace <c-1@example.com>")).get_json()["reply_id"]
    org.put("/api/v1/templates/status_update/overrides/en", {"subject": "News about {{ job.title }}"})
    return {"application_id": "a-1", "connection_id": gh["id"], "delivery_id": delivery, "reply_id": reply,
            "job_id": "j-1", "kind": "status_update", "locale": "en", "batch_id": batch}


def test_every_operation_answers_as_its_openapi_document_says(rt, app, client, tick):
    org = Org(rt, client)
    known = _seed(org, tick)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    started = time.monotonic()
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        runs: list[tuple[str, Any]] = [
            ("positive", operation.as_strategy(generation_mode=GenerationMode.POSITIVE)),
            ("negative", operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)),
        ]
        if names:
            runs.append(("positive, real ids", operation.as_strategy(
                generation_mode=GenerationMode.POSITIVE, path_parameters={n: known[n] for n in names})))
        for label, strategy in runs:
            @FUZZ
            @given(case=strategy)
            def run(case: Any) -> None:
                nonlocal cases
                cases += 1
                try:
                    response = case.call(headers=org.headers)
                except Exception as exc:  # noqa: BLE001 - an exception in the app is a server error
                    raise AssertionError(f"the app raised {exc!r} for {case.as_curl_command(org.headers)}") from exc
                case.validate_response(response, checks=CHECKS, headers=org.headers)

            try:
                run()
            except BaseException as exc:  # noqa: BLE001 - collect every operation's failure, then report
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failures.append(f"{operation.label} [{label}]:\n{str(exc).replace(org.key, '<key>')[:3000]}")
    elapsed = time.monotonic() - started
    assert not failures, f"{len(failures)} operations answered other than documented:\n\n" + "\n\n".join(failures)
    assert cases > 1000, f"only {cases} cases ran in {elapsed:.0f} s"
