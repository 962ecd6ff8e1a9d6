"""Users (placeholder until its page lands)."""

from __future__ import annotations

from plugin.dashboard import bp, page


@bp.get("/users")
def users() -> str:
    return page("dashboard/placeholder.html", title="Users")
