"""Candidates (placeholder until its page lands)."""

from __future__ import annotations

from plugin.dashboard import bp, page


@bp.get("/applications")
def applications() -> str:
    return page("dashboard/placeholder.html", title="Candidates")
