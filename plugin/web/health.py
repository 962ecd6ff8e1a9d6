"""Liveness and readiness probes for load balancers and compose health checks."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


PROBE_TIMEOUT = 2.0  # seconds: a load balancer's probe gives up after a few; answer before it does


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    rt = current_app.extensions["ghostless"]
    problems = {}
    if (problem := _probe(_select_one(rt))) is not None:
        problems["database"] = problem
    if (problem := _probe(rt.redis.ping)) is not None:
        problems["redis"] = problem
    if problems:
        return jsonify(status="unavailable", problems=problems), 503
    return jsonify(status="ready")


def _select_one(rt) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    def check() -> None:
        with rt.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    return check


def _probe(check: Callable[[], object]) -> str | None:
    """None when `check` succeeds within PROBE_TIMEOUT, else what went wrong.

    A server that accepts connections and never answers would hold the probe for the whole connect
    timeout; the check runs in a thread that is left to finish on its own instead.
    """
    outcome: dict[str, str | None] = {}

    def run() -> None:
        try:
            check()
            outcome["error"] = None
        except Exception as exc:  # noqa: BLE001 - report, do not crash the probe
            outcome["error"] = (str(exc).splitlines() or [type(exc).__name__])[0][:200]

    thread = threading.Thread(target=run, daemon=True, name="readyz-probe")
    thread.start()
    thread.join(PROBE_TIMEOUT)
    if "error" not in outcome:
        return f"no answer within {PROBE_TIMEOUT:g} s"
    return outcome["error"]
