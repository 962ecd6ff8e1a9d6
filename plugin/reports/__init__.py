"""Reports: the numbers and lists the dashboard and the API show (no Flask)."""

from __future__ import annotations


def N_(msgid: str) -> str:
    """Marks English wording the dashboard shows for `pybabel` (babel-dashboard.cfg) and returns it
    unchanged: a report speaks English (the API and the CSV downloads say it as it is), and the
    dashboard translates the msgid where it shows it (`_(row.reason)`)."""
    return msgid
