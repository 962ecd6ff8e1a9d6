"""JSON from outside (request bodies, webhook posts, form fields), parsed with a bound on nesting.

Python's parser recurses once per level: a body of 100,000 `[` raises RecursionError, which no
caller expects, so it became a 500. Ghostless never needs more than a dozen levels (the deepest
vendor payload, Greenhouse's new_candidate_application with its jobs and hiring team, has 9), so anything deeper
than MAX_DEPTH is refused as bad input, with a message that says why.

Every place that parses outside JSON uses `parse_json`: the API (before flask-smorest's own parse),
`POST /api/v1/events`, the ATS webhooks (after the signature check when the vendor signs the raw
body), SendGrid's event webhook (after its signature check) and the Inbound Parse form's JSON fields.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "BadJson", "parse_json"]

MAX_DEPTH = 32


class BadJson(ValueError):
    """Not JSON, or JSON nested deeper than MAX_DEPTH. The message says which, for the sender."""


def parse_json(data: bytes | str) -> Any:
    """The parsed value, or BadJson naming what is wrong."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        value = json.loads(text)
    except RecursionError:
        raise BadJson(f"The JSON is nested too deeply (more than {MAX_DEPTH} levels of arrays and objects).") \
            from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadJson(f"The body is not valid JSON: {exc}") from None
    if nesting_depth(value) > MAX_DEPTH:
        raise BadJson(f"The JSON is nested too deeply (more than {MAX_DEPTH} levels of arrays and objects).")
    return value


def nesting_depth(value: Any) -> int:
    """Levels of arrays and objects (a scalar is 0), counted without recursion.

    One level at a time, keeping only the containers of the next: every API request walks its whole
    body here, and a batch of 100 events has thousands of scalars that need no more than a type check
    (three times faster than a stack of (item, depth) pairs).
    """
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return depth  # deep enough to refuse: no need to walk the rest
        below: list[Any] = []
        for item in level:
            below.extend([child for child in (item.values() if isinstance(item, dict) else item)
                          if isinstance(child, (dict, list))])
        level = below
    return depth
