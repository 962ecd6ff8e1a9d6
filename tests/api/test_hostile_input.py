"""Hostile input (issue 13, item 9): each case answered 500, leaked or was applied twice on main.

- JSON nested 100,000 deep: 400 naming the nesting on the API, the ATS and SendGrid webhooks; an
  unsigned webhook is refused (401) before its body is parsed.
- Unicode digits (`?page=²`, `١٢`) and ids past 64 bits: 400 on pages, 422 naming the parameter on the
  API, 404 in a path, on every route with an integer id (found from `app.url_map`).
- The template preview answers the content types its OpenAPI document names.
- Status and invitation tokens never reach an access log (gunicorn's and werkzeug's real formatting).
- The SQLite file is 0600, the instance folder and the outbox 0700, each `.eml` 0600.
- A Greenhouse body replayed under a new `Greenhouse-Event-ID` is a duplicate, applied once.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from ats_support import connect, fixture_bytes
from dashboard_support import add_user, sign_in
from gunicorn.config import Config as GunicornConfig
from helpers import interview_done
from sqlalchemy import func, select, text
from test_sendgrid_events import Signer
from test_sendgrid_events import post as post_sendgrid_events
from test_sendgrid_inbound import inbound_fields, post_mail, set_secret
from werkzeug.routing import IntegerConverter

from plugin import runtime as runtime_module
from plugin.ats.signing import hmac_sha256_hex
from plugin.cli.processes import WebApplication
from plugin.db import Database
from plugin.models import AtsDelivery
from plugin.processes import web_server
from plugin.settings import Settings

DEEP = b"[" * 100_000 + b"]" * 100_000
NESTED_TOO_DEEP = "nested too deeply"
BEYOND_64_BITS = str(2**64)  # 18446744073709551616
BEYOND_IDS = str(2**31)  # id columns are 32-bit INTEGER on PostgreSQL
SECRET = "gh-webhook-secret-1"


def greenhouse_headers(body: bytes, event_id: str = "evt-1", secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "Signature": f"sha256 {hmac_sha256_hex(secret, body)}",
            "Greenhouse-Event-ID": event_id}


def count(rt: Any, model: Any) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def gh(org):  # type: ignore[no-untyped-def]
    return connect(org, "greenhouse", signing_secret=SECRET, credentials={"access_token": "tok-123"})


# -- (a) deeply nested JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [
    ("POST", "/api/v1/events"),  # parsed by the route itself
    ("PUT", "/api/v1/policies/organization"),  # parsed by flask-smorest (webargs)
    ("PATCH", "/api/v1/organization"),
    ("POST", "/api/v1/connections"),
    ("PUT", "/api/v1/templates/status_update/overrides/en"),
])
def test_json_nested_100000_deep_is_a_400_saying_so_on_the_api(org, method, path):
    response = org.client.open(path, method=method, data=DEEP, headers={**org.headers,
                                                                       "Content-Type": "application/json"})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert NESTED_TOO_DEEP in response.get_json()["message"]


def test_json_just_past_the_nesting_limit_is_refused_and_within_it_is_read(org):
    from plugin.json_input import MAX_DEPTH

    too_deep = {"events": [{"a": json.loads("[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2))}]}  # depth MAX+1
    response = org.client.post("/api/v1/events", json=too_deep, headers=org.headers)
    assert response.status_code == 400 and NESTED_TOO_DEEP in response.get_json()["message"]
    within = {"events": [{"a": json.loads("[" * (MAX_DEPTH - 3) + "]" * (MAX_DEPTH - 3))}]}  # depth MAX
    assert org.client.post("/api/v1/events", json=within, headers=org.headers).status_code == 422  # read, then judged


def test_a_signed_deep_ats_webhook_is_a_400_and_stores_nothing(rt, org, gh):
    response = org.client.post(gh["webhook_path"], data=DEEP, headers=greenhouse_headers(DEEP))
    assert response.status_code == 400 and NESTED_TOO_DEEP in response.get_json()["message"]
    assert count(rt, AtsDelivery) == 0


def test_an_unsigned_ats_webhook_is_refused_before_its_body_is_parsed(rt, org, gh):
    # Not JSON at all and not signed: the signature over the raw bytes is checked first, so the
    # sender learns nothing about how we parse, and the connection counts the refusal.
    for body in (DEEP, b"{not json"):
        response = org.client.post(gh["webhook_path"], data=body, headers=greenhouse_headers(body, secret="wrong"))
        assert response.status_code == 401, response.get_json()
    assert org.get(f"/api/v1/connections/{gh['id']}")["rejected_signatures"] == 2
    assert count(rt, AtsDelivery) == 0


def test_lever_which_signs_inside_the_body_gets_a_400_for_a_deep_body(rt, org):
    lever = connect(org, "lever", signing_secret=SECRET, credentials={"api_key": "key-123"})
    response = org.client.post(lever["webhook_path"], data=DEEP, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and NESTED_TOO_DEEP in response.get_json()["message"]
    assert count(rt, AtsDelivery) == 0


def test_sendgrid_events_deep_and_signed_is_a_400_unsigned_a_401(rt, org, client):
    signer = Signer()
    response = client.patch("/api/v1/organization/mail", headers=org.headers,
                            json={"sendgrid_event_public_key": signer.public_b64})
    assert response.status_code == 200, response.get_json()
    answer = post_sendgrid_events(client, org.id, signer, body=DEEP, expect=400)
    assert NESTED_TOO_DEEP in answer["message"]
    post_sendgrid_events(client, org.id, Signer(), body=DEEP, expect=401)  # another key: refused unparsed


def test_inbound_parse_with_a_deep_charsets_field_is_stored_not_a_500(rt, org, client):
    set_secret(rt, org.id)
    fields = inbound_fields()
    fields["charsets"] = DEEP.decode()
    response = post_mail(client, org.id, fields)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


# -- (b) and (c): whole numbers from outside ---------------------------------------------------------


@pytest.mark.parametrize("query", ["page=²", "page=١٢", "page=" + BEYOND_64_BITS, "page=" + "9" * 5000])
@pytest.mark.parametrize("page", ["/dashboard/outbox", "/dashboard/compliance/ontario-esa",
                                  "/dashboard/compliance/proof"])
def test_dashboard_page_numbers_in_other_digits_or_past_64_bits_are_a_400(rt, org, client, page, query):
    add_user(rt, org.id, "admin@acme.example")
    sign_in(client, "admin@acme.example")
    assert client.get(f"{page}?{query}").status_code == 400


@pytest.mark.parametrize("query", ["before=²", "after=١٢", "before=" + BEYOND_64_BITS, "after=" + BEYOND_IDS, "job=²"])
def test_dashboard_cursors_and_filters_in_other_digits_are_a_400(rt, org, client, query):
    add_user(rt, org.id, "admin@acme.example")
    sign_in(client, "admin@acme.example")
    page = "/dashboard/" if query.startswith("job") else "/dashboard/applications"
    assert client.get(f"{page}?{query}").status_code == 400


@pytest.mark.parametrize("path", [
    "/api/v1/replies?before_id=" + BEYOND_64_BITS, "/api/v1/replies?before_id=" + str(2**63),
    "/api/v1/replies?before_id=" + BEYOND_IDS,
    "/api/v1/replies?before_id=١٢", "/api/v1/replies?limit=²",
    "/api/v1/obligations?limit=١٠", "/api/v1/notifications?limit=" + "9" * 5000,
])
def test_api_query_integers_in_other_digits_or_past_64_bits_are_refused_naming_the_parameter(org, path):
    response = org.client.get(path, headers=org.headers)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    name = path.split("?")[1].split("=")[0]
    assert name in response.get_json()["errors"]["query"]


def test_connection_deliveries_before_id_past_64_bits_is_refused(org, gh):
    response = org.client.get(f"/api/v1/connections/{gh['id']}/deliveries?before_id={BEYOND_64_BITS}",
                              headers=org.headers)
    assert response.status_code == 422 and "before_id" in response.get_json()["errors"]["query"]


def _integer_id_routes(app: Any) -> list[tuple[str, str, list[str]]]:
    found = []
    for rule in app.url_map.iter_rules():
        names = [name for name, converter in rule._converters.items() if isinstance(converter, IntegerConverter)]
        if names:
            method = sorted(m for m in rule.methods if m not in ("HEAD", "OPTIONS"))[0]
            found.append((method, rule.rule, names))
    return found


def test_every_route_with_an_integer_id_answers_404_for_ids_past_its_column_or_in_other_digits(rt, app, org, client):
    """Generated from app.url_map: API, dashboard, whatever is added later."""
    add_user(rt, org.id, "admin@acme.example")
    sign_in(client, "admin@acme.example")
    routes = _integer_id_routes(app)
    assert {"/api/v1/deliveries/<int:delivery_id>", "/api/v1/replies/<int:reply_id>",
            "/api/v1/deliveries/<int:delivery_id>/retry"} <= {rule for _, rule, _ in routes}
    for method, rule, names in routes:
        for value in (BEYOND_64_BITS, str(2**63), BEYOND_IDS, "١٢", "²"):
            path = rule
            for name in names:
                path = path.replace(f"<int:{name}>", value)
            response = client.open(path, method=method, headers=org.headers)
            assert response.status_code == 404, (method, path, response.status_code)


def test_the_openapi_document_bounds_integer_ids_to_what_the_columns_hold(org):
    document = org.get("/api/v1/openapi.json")
    reply_id = document["paths"]["/api/v1/replies/{reply_id}"]["parameters"][0]["schema"]
    assert reply_id == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    [before_id] = [p for p in document["paths"]["/api/v1/replies"]["get"]["parameters"] if p["name"] == "before_id"]
    assert before_id["schema"]["maximum"] == 2**31 - 1


# -- (d) the template preview answers what its document says -------------------------------------------


@pytest.mark.parametrize("format_,media_type", [("json", "application/json"), ("html", "text/html"),
                                                ("text", "text/plain")])
def test_template_preview_answers_a_content_type_its_document_names(org, format_, media_type):
    documented = org.get("/api/v1/openapi.json")["paths"]["/api/v1/templates/{kind}/preview"]["get"]
    response = org.client.get(f"/api/v1/templates/status_update/preview?format={format_}", headers=org.headers)
    assert response.status_code == 200 and response.mimetype == media_type
    assert media_type in documented["responses"]["200"]["content"]


# -- (e) access logs -------------------------------------------------------------------------------------


SECRET_PATHS = ["/status/tok_AbC-123.xyz", "/status/tok_AbC-123.xyz/withdraw",
                "/dashboard/invitations/inv_QwE-987.abc"]
TOKENS = ("tok_AbC-123.xyz", "inv_QwE-987.abc")


class _Response:
    status, sent, headers = "200 OK", 10, [("Content-Type", "text/html")]


def test_gunicorn_access_log_of_ghostless_web_redacts_status_and_invitation_tokens(tmp_path):
    """The logger `ghostless web` configures gunicorn with, through gunicorn's own formatting."""
    application = WebApplication(Settings(instance_dir=tmp_path), bind="127.0.0.1:0", workers=1)
    cfg: GunicornConfig = application.cfg
    cfg.set("accesslog", str(tmp_path / "access.log"))
    logger = cfg.logger_class(cfg)
    for path in SECRET_PATHS:
        environ = {"REQUEST_METHOD": "GET", "RAW_URI": path, "PATH_INFO": path, "QUERY_STRING": "",
                   "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.9", "HTTP_REFERER": f"https://x{path}"}
        logger.access(_Response(), [("Referer", f"https://x{path}")], environ, timedelta(milliseconds=3))
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/dashboard/sign-in?next=%2Fdashboard%2Finvitations%2Finv_QwE-987.abc",
               "PATH_INFO": "/dashboard/sign-in", "QUERY_STRING": "next=%2Fdashboard%2Finvitations%2Finv_QwE-987.abc",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.9"}
    logger.access(_Response(), [], environ, timedelta(milliseconds=3))
    for handler in logging.getLogger("gunicorn.access").handlers:
        handler.flush()
    written = (tmp_path / "access.log").read_text()
    assert written.count("\n") == 4 and "/status/<redacted>" in written and "/status/<redacted>/withdraw" in written
    assert "/invitations/<redacted>" in written and "%2Finvitations%2F<redacted>" in written
    assert not any(token in written for token in TOKENS), written
    logger.close_on_exec()
    for handler in list(logging.getLogger("gunicorn.access").handlers):
        handler.close()
        logging.getLogger("gunicorn.access").removeHandler(handler)


def test_werkzeug_access_log_of_ghostless_serve_redacts_status_and_invitation_tokens(app, caplog):
    """The server `ghostless serve` runs, on a real socket, with werkzeug's own log lines."""
    server = web_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for path in SECRET_PATHS:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{path}", timeout=10).read()
                except urllib.error.HTTPError:
                    pass  # an unknown token is a 404 page: what matters is the log line
    finally:
        server.shutdown()
        thread.join(timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert len([line for line in lines if "GET /" in line]) == 3, lines
    assert any("/status/<redacted>" in line for line in lines)
    assert any("/invitations/<redacted>" in line for line in lines)
    assert not any(token in line for line in lines for token in TOKENS), lines


# -- (f) file modes ---------------------------------------------------------------------------------------


@pytest.fixture
def usual_umask():  # type: ignore[no-untyped-def]
    previous = os.umask(0o022)  # the usual default: files 0644, folders 0755 unless we say otherwise
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_file_and_its_journal_are_readable_by_their_owner_only(tmp_path, usual_umask):
    path = tmp_path / "new" / "ghostless.db"
    db = Database(f"sqlite:///{path}")
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        conn.execute(text("INSERT INTO t VALUES ('ada@example.com')"))
        assert mode(Path(f"{path}-wal")) == 0o600
    db.dispose()
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_a_world_readable_sqlite_file_from_an_older_version_is_tightened(tmp_path, usual_umask):
    path = tmp_path / "ghostless.db"
    path.touch(mode=0o644)
    Database(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o600


def test_the_instance_folder_the_database_and_the_outbox_are_private(tmp_path, usual_umask, redis_connection, clock):
    instance = tmp_path / "instance"
    settings = Settings(instance_dir=instance, secret_key="test-secret-" + "x" * 40, testing=True, redis_url="")
    rt = runtime_module.build(settings)
    try:
        assert mode(instance) == 0o700
        assert mode(Path(rt.db.engine.url.database)) == 0o600
    finally:
        rt.db.dispose()


def test_outbox_folder_and_each_mail_are_readable_by_their_owner_only(rt, org, tick, usual_umask):
    from conftest import START

    org.post(interview_done(START))
    tick(by=timedelta(hours=1))
    folder = rt.settings.resolved_outbox_dir
    mails = list(folder.glob("*.eml"))
    assert mails and mode(folder) == 0o700
    assert {mode(mail) for mail in mails} == {0o600}


# -- (g) a replayed Greenhouse body --------------------------------------------------------------------------


def test_a_greenhouse_body_replayed_under_a_new_event_id_is_a_duplicate_applied_once(rt, org, gh):
    body = fixture_bytes("greenhouse", "reject_candidate.json")
    first = org.client.post(gh["webhook_path"], data=body, headers=greenhouse_headers(body, "evt-1"))
    assert first.get_json()["status"] == "accepted"
    replay = org.client.post(gh["webhook_path"], data=body, headers=greenhouse_headers(body, "evt-replayed"))
    assert replay.status_code == 200
    assert replay.get_json() == {"status": "duplicate", "delivery_id": first.get_json()["delivery_id"]}
    assert count(rt, AtsDelivery) == 1  # one delivery: one job, its events applied once

