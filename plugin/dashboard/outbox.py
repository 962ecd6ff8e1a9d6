"""Outbox (placeholder until its page lands)."""

from __future__ import annotations

from plugin.dashboard import bp, page


@bp.get("/outbox")
def outbox() -> str:
    return page("dashboard/placeholder.html", title="Outbox")
