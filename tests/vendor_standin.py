"""A small local HTTP server that plays an ATS vendor's REST API in tests.

Each vendor stand-in (tests/standins/<vendor>.py) subclasses `VendorStandIn`, keeps the vendor's
records in plain dicts, and registers routes that answer with the response shapes the vendor
documents. The base records every request and can inject failures, so tests cover 429/5xx/timeouts.

    with GreenhouseStandIn() as gh:
        gh.add_application({...})
        connection options: {"api_base_url": gh.url}
        gh.fail_next(503)            # the next request answers 503
        assert gh.requests[-1].path == "/v3/interviews"

Remember the proxy trap: `requests` honours http_proxy; the `vendor_env` fixture sets no_proxy.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Recorded, "re.Match[str]"], Reply]


class VendorStandIn:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Recorded] = []
        self._faults: list[tuple[int, float]] = []  # (status, delay seconds); status 0 = just delay
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # -- set-up ----------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def fail_next(self, status: int, times: int = 1, delay: float = 0.0) -> None:
        """The next `times` requests answer `status` (after `delay` seconds: a timeout test)."""
        with self._lock:
            self._faults.extend([(status, delay)] * times)

    # -- server ----------------------------------------------------------------------------------
    def __enter__(self) -> "VendorStandIn":
        standin = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                                    {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                reply = standin._answer(recorded)
                body = b"" if reply.body is None else (
                    reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode())
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            status, delay = fault
            if delay:
                time.sleep(delay)
            if status:
                return Reply(status, {"error": f"injected {status}"},
                             {"Retry-After": "30"} if status == 429 else {})
        for method, pattern, handler in self.routes:
            match = pattern.match(recorded.path)
            if match and method == recorded.method:
                return handler(recorded, match)
        return Reply(404, {"error": f"no route for {recorded.method} {recorded.path}"})
