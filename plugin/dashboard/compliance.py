"""Compliance (placeholder until its page lands)."""

from __future__ import annotations

from plugin.dashboard import bp, page


@bp.get("/compliance")
def compliance() -> str:
    return page("dashboard/placeholder.html", title="Compliance")
