"""Access logs without secrets: the token in a status link or an invitation link is a password.

A candidate's `/status/<token>` lets whoever holds it read their status and withdraw them; an
`/dashboard/invitations/<token>` link lets whoever holds it set a dashboard password. Access logs
are read by more people and kept longer than the database, so every access-log line Ghostless
writes shows `/status/<redacted>` instead, in the request line, the path, the query string (a
`next=` link) and the Referer. Both servers use it:
- gunicorn (`ghostless web`): `RedactingGunicornLogger`, its `logger_class`;
- werkzeug's server (`ghostless serve`, the demo): `RedactingRequestHandler`, its request handler.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger
from werkzeug.serving import WSGIRequestHandler

__all__ = ["REDACTED", "RedactingGunicornLogger", "RedactingRequestHandler", "redact"]

REDACTED = "<redacted>"
# The secret segment after /status/ or /invitations/, also when URL-encoded inside a query string
# (`?next=%2Fstatus%2F...`): everything up to the next separator.
_SECRET_SEGMENT = re.compile(r"((?:/|%2[fF])(?:status|invitations)(?:/|%2[fF]))[^/?#&\s\"'%]+")


def redact(text: str) -> str:
    """`text` with every status or invitation token replaced by `<redacted>`."""
    return _SECRET_SEGMENT.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's logger, with every string atom of the access-log format redacted."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}


class RedactingRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, with every line it logs (requests and errors) redacted."""

    def log(self, type: str, message: str, *args: Any) -> None:
        line = message % args if args else message
        super().log(type, "%s", redact(line))
