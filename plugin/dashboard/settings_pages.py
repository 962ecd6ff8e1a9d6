"""Settings (placeholder until its page lands)."""

from __future__ import annotations

from plugin.dashboard import bp, page


@bp.get("/settings")
def settings() -> str:
    return page("dashboard/placeholder.html", title="Settings")
