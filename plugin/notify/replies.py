"""Candidates' replies as people read them: shortened for lists, timelines and forwards."""

from __future__ import annotations

EXCERPT_LENGTH = 200


def reply_excerpt(text: str | None) -> str | None:
    """The start of a reply on one line, for lists and timelines."""
    if not text:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_LENGTH else flat[:EXCERPT_LENGTH].rstrip() + "..."
