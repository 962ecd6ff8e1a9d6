"""The database down: every face answers 503 with Retry-After, quickly, and says so (issue 13, item 11).

Before, a request answered 500 with a traceback, or hung for 31 s behind a server that accepted the
connection and never spoke. The app here is the real one, with its own PostgreSQL URL pointing at
a port where nothing listens (refused at once) or at a socket that accepts and stays silent (a hung
server: the connect timeout must end the wait). Redis is the tests' own and stays up.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from dashboard_support import csrf_token

from plugin import create_app
from plugin import runtime as runtime_module
from plugin.db import CONNECT_TIMEOUT, Database
from plugin.notify.status_links import make_token
from plugin.web.health import PROBE_TIMEOUT
from plugin.web.unavailable import RETRY_AFTER_SECONDS


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # released: nothing listens there any more


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers, like a PostgreSQL that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


def _app_without_database(rt, port: int):  # type: ignore[no-untyped-def]
    broken = runtime_module.Runtime(settings=rt.settings, db=Database(f"postgresql+psycopg://ghostless@127.0.0.1:{port}/x"),
                                    mail=rt.mail, renderer=rt.renderer, _redis=rt.redis)
    return create_app(runtime=broken), broken


def _assert_unavailable(response, *, json: bool) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    if json:
        body = response.get_json()
        assert body["code"] == 503 and "cannot reach its database" in body["message"]
        assert "nothing was stored" in body["message"]
    else:
        assert "Briefly unavailable" in response.get_data(as_text=True)
        assert "Traceback" not in response.get_data(as_text=True)


def test_every_face_answers_503_with_retry_after_when_the_database_refuses(rt):
    app, broken = _app_without_database(rt, _closed_port())
    client = app.test_client()
    key = {"Authorization": "Bearer gl_live_" + "x" * 40}
    _assert_unavailable(client.post("/api/v1/events", json={"events": []}, headers=key), json=True)
    _assert_unavailable(client.get("/api/v1/obligations", headers=key), json=True)
    _assert_unavailable(client.post("/webhooks/greenhouse/1", data=b"{}", headers={"Signature": "sha256 x"}),
                        json=True)
    _assert_unavailable(client.post("/webhooks/sendgrid/events/1", data=b"[]",
                                    headers={"Content-Type": "application/json"}), json=True)
    status_page = client.get(f"/status/{make_token(rt.settings, 1)}")  # its own page, in the candidate's language
    assert status_page.status_code == 503 and int(status_page.headers["Retry-After"]) > 0
    assert "Traceback" not in status_page.get_data(as_text=True)
    page = client.get("/dashboard/sign-in")
    _assert_unavailable(client.post("/dashboard/sign-in", data={
        "email": "ada@acme.example", "password": "not-this-one", "csrf_token": csrf_token(page.get_data(as_text=True)),
    }), json=False)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "database" in ready.get_json()["problems"]
    broken.db.dispose()


def test_a_database_that_accepts_and_never_answers_does_not_hold_a_request(rt, silent_server):
    app, broken = _app_without_database(rt, silent_server)
    client = app.test_client()
    started = time.monotonic()
    ready = client.get("/readyz")
    assert time.monotonic() - started < PROBE_TIMEOUT + 1  # a load balancer's probe is not held
    assert ready.status_code == 503 and "no answer within" in ready.get_json()["problems"]["database"]
    started = time.monotonic()
    _assert_unavailable(client.post("/api/v1/events", json={"events": []},
                                    headers={"Authorization": "Bearer gl_live_" + "x" * 40}), json=True)
    assert time.monotonic() - started < CONNECT_TIMEOUT + 5  # ended by the connect timeout, not by gunicorn's 30 s
    broken.db.dispose()
