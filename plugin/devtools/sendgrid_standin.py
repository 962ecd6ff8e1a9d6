"""A local stand-in for SendGrid's v3 Mail Send API (tests, benchmarks, `ghostless demo`).

Every request is checked against SendGrid's contract (``plugin.devtools.sendgrid_contract``). A request
the real API would reject gets SendGrid's 400 error shape *and* lands in ``.contract_violations``, so a
test (or the demo's summary) can show that the project never sent anything SendGrid would refuse.

Usage::

    with local_proxy_bypass(), SendGridStandIn() as standin:
        provider = SendGridProvider(api_key="SG.test", host=standin.url)
        ...
        assert standin.contract_violations == []

Remember the proxy trap: urllib honours ``http_proxy``, so a request to the stand-in on 127.0.0.1
would go to the machine's proxy; ``no_proxy`` must name 127.0.0.1 (``local_proxy_bypass`` does it).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from plugin.devtools.sendgrid_contract import (
    MAIL_SEND_PATH,
    Error,
    api_error,
    validate_mail_send_body,
    validator,
)

__all__ = ["LOCAL_HOSTS", "SendGridStandIn", "local_proxy_bypass"]


@dataclass
class _Injection:
    status: int
    headers: dict[str, str]
    message: str | None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep pytest output clean

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if body:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired); nothing to answer
        self.close_connection = True

    def _send_errors(self, status: int, errors: list[Error],
                     headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps({"errors": errors}).encode(), headers)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self) -> None:
        self._not_allowed()

    def do_PUT(self) -> None:
        self._not_allowed()

    def do_DELETE(self) -> None:
        self._not_allowed()

    def _not_allowed(self) -> None:
        self._read_body()
        error = api_error(f"{self.command} {self.path} is not supported by the stand-in")
        self.server.standin._record_violation(f"{self.command} {self.path}: unexpected request")
        status = HTTPStatus.METHOD_NOT_ALLOWED if self.path == MAIL_SEND_PATH else HTTPStatus.NOT_FOUND
        self._send_errors(status, [error])

    def do_POST(self) -> None:
        standin = self.server.standin
        raw = self._read_body()
        if self.path.split("?")[0] != MAIL_SEND_PATH:
            standin._record_violation(f"POST {self.path}: unknown path")
            self._send_errors(HTTPStatus.NOT_FOUND, [api_error("not found")])
            return
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        standin._record_request(dict(self.headers.items()), body)

        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[len("Bearer "):].strip():
            standin._record_violation("Authorization: missing or not a Bearer token")
            self._send_errors(HTTPStatus.UNAUTHORIZED, [api_error(
                "The provided authorization grant is invalid, expired, or revoked")])
            return
        if standin.api_key is not None and auth[len("Bearer "):].strip() != standin.api_key:
            # A wrong key is an operational failure, not a malformed request: no violation.
            self._send_errors(HTTPStatus.UNAUTHORIZED, [api_error(
                "The provided authorization grant is invalid, expired, or revoked")])
            return

        delay = standin._take_delay()
        if delay:
            # Event.wait rather than sleep: closing the stand-in wakes delayed handlers at once.
            standin._closing.wait(delay)

        injection = standin._take_injection()
        if injection is not None:
            message = injection.message or _default_message(injection.status)
            self._send_errors(injection.status, [api_error(message)], injection.headers)
            return

        if raw and body is None:
            standin._record_violation("body: not valid JSON")
            self._send_errors(HTTPStatus.BAD_REQUEST, [api_error("Bad Request", None)])
            return
        if "json" not in (self.headers.get("Content-Type") or ""):
            standin._record_violation("Content-Type: not application/json")
        errors = validate_mail_send_body(body)
        if errors:
            for error in errors:
                standin._record_violation(f"{error['field']}: {error['message']}")
            self._send_errors(HTTPStatus.BAD_REQUEST, errors)
            return
        # Real API: 202, empty body, X-Message-Id (22 base64url-ish characters).
        self._send(HTTPStatus.ACCEPTED, headers={"X-Message-Id": secrets.token_urlsafe(16)})


def _default_message(status: int) -> str:
    if status == 429:
        return "too many requests"  # the body SendGrid documents for rate limiting
    if status >= 500:
        return "internal error (injected by the stand-in)"
    return f"{status} error (injected by the stand-in)"


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a delayed handler must not keep the test process alive
    standin: SendGridStandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out and disconnect are expected; don't spam stderr


class SendGridStandIn:
    """Context manager running the stand-in on 127.0.0.1 with a free port."""

    def __init__(self, api_key: str | None = None) -> None:
        # With api_key set, any other bearer token gets 401 like a revoked key would.
        self.api_key = api_key
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._injections: list[_Injection] = []
        self._delays: list[float] = []
        self.requests: list[tuple[dict[str, str], Any]] = []  # (headers, parsed JSON body)
        self.contract_violations: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SendGridStandIn:
        validator()  # load the contract now, not inside the first request a client may time out on
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name="sendgrid-standin", daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> SendGridStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("stand-in not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- failure injection -------------------------------------------------------------------
    def fail_next(self, status: int, count: int = 1, headers: dict[str, str] | None = None,
                  *, message: str | None = None) -> None:
        """Answer the next `count` authorised mail sends with `status` and a SendGrid error body."""
        with self._lock:
            self._injections.extend(
                _Injection(status, dict(headers or {}), message) for _ in range(count))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Hold the next `count` authorised mail sends for `seconds` before answering."""
        with self._lock:
            self._delays.extend([seconds] * count)

    def reset(self) -> None:
        with self._lock:
            self._injections.clear()
            self._delays.clear()
            self.requests.clear()
            self.contract_violations.clear()

    # -- used by the handler -----------------------------------------------------------------
    def _take_injection(self) -> _Injection | None:
        with self._lock:
            return self._injections.pop(0) if self._injections else None

    def _take_delay(self) -> float:
        with self._lock:
            return self._delays.pop(0) if self._delays else 0.0

    def _record_request(self, headers: dict[str, str], body: Any) -> None:
        with self._lock:
            self.requests.append((headers, body))

    def _record_violation(self, violation: str) -> None:
        with self._lock:
            self.contract_violations.append(violation)


LOCAL_HOSTS = ("127.0.0.1", "localhost")


@contextmanager
def local_proxy_bypass() -> Iterator[None]:
    """Add 127.0.0.1 and localhost to ``no_proxy``/``NO_PROXY`` for the block, then restore them.

    urllib (and so the sendgrid client) reads these on every request; without them a machine with
    ``http_proxy`` set would send the stand-in's traffic to the proxy, which cannot reach it.
    """
    saved = {var: os.environ.get(var) for var in ("no_proxy", "NO_PROXY")}
    for var, existing in saved.items():
        os.environ[var] = ",".join(filter(None, [existing, *LOCAL_HOSTS]))
    try:
        yield
    finally:
        for var, existing in saved.items():
            if existing is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = existing
