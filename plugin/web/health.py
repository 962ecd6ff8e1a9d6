"""Liveness and readiness probes for load balancers and compose health checks."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    rt = current_app.extensions["ghostless"]
    problems = {}
    try:
        with rt.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - report, do not crash the probe
        problems["database"] = str(exc)[:200]
    try:
        rt.redis.ping()
    except Exception as exc:  # noqa: BLE001
        problems["redis"] = str(exc)[:200]
    if problems:
        return jsonify(status="unavailable", problems=problems), 503
    return jsonify(status="ready")
