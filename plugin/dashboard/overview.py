"""The overview (placeholder until the overview page lands)."""

from __future__ import annotations

from plugin.dashboard import bp, page


@bp.get("/")
def overview() -> str:
    return page("dashboard/placeholder.html", title="Overview")
