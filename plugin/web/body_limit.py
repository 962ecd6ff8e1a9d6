"""The 1 MB body limit (MAX_CONTENT_LENGTH), checked the same way by the events API and the webhooks."""

from __future__ import annotations

from flask import Request


def declared_too_large(request: Request) -> bool:
    """The client said how big the body is, and it is over the limit: refuse before reading it."""
    return request.content_length is not None and request.content_length > (request.max_content_length or 0)


def read_within_limit(request: Request) -> bytes | None:
    """The body, or None when it is over the limit.

    Without Content-Length (chunked), werkzeug stops reading at the limit instead of failing: a body
    that fills the whole allowance was cut short, so it was too large.
    """
    data = request.get_data(cache=True)
    if request.content_length is None and len(data) >= (request.max_content_length or 0):
        return None
    return data
