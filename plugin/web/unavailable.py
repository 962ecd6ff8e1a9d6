"""The database (or Redis) is down: every route answers 503 with Retry-After, quickly, not 500 or a hang.

An ATS retries a webhook that got a 503 (all four do, with backoff), an API client reads
Retry-After, and a person sees a page that says to try again shortly instead of a stack trace.
Nothing was stored: the request's transaction never reached the database, or was rolled back.
How quickly the answer comes is the engine's business (`plugin.db`: connect and statement timeouts).

Ingest does not need Redis (a delivery whose job cannot be enqueued is picked up by the sweep), but
a few routes do: signing in counts attempts there, and cannot let anyone in uncounted.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from plugin.web.errors import error_response

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
MESSAGE = ("Ghostless cannot reach its database right now, so nothing was stored. "
           f"Please try again in {RETRY_AFTER_SECONDS} seconds.")
REDIS_MESSAGE = ("Ghostless cannot reach Redis right now, so this request was not carried out. "
                 f"Please try again in {RETRY_AFTER_SECONDS} seconds.")
_MACHINE_PREFIXES = ("/api/", "/webhooks/", "/readyz")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Briefly unavailable</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2328}</style>
</head><body><h1>Briefly unavailable</h1>
<p>This page cannot be shown right now because a service it needs is not answering. Nothing you sent was
lost or half-saved. Please try again in a minute.</p></body></html>
"""


def database_unreachable(exc: BaseException) -> bool:
    """A connection that could not be made, was lost, timed out, or waited too long for the pool.

    A deadlock or a constraint violation is not "down": those are the code's to handle, and they
    must stay loud (500 and a traceback in the log) if they are not.
    """
    if isinstance(exc, PoolTimeoutError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    code = getattr(exc.orig, "sqlstate", None)
    # 08xxx: connection exceptions; 57P01-57P03: the server is shutting down or starting;
    # 57014: statement cancelled by statement_timeout. No code at all: psycopg could not connect.
    return code is None or code.startswith("08") or code in {"57P01", "57P02", "57P03", "57014"}


def install_unavailable_handler(app: Flask) -> None:
    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeoutError)
    def _database_unavailable(exc: Exception):  # type: ignore[no-untyped-def]
        if not database_unreachable(exc):
            raise exc
        return _unavailable("database", exc, MESSAGE)

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def _redis_unavailable(exc: Exception):  # type: ignore[no-untyped-def]
        return _unavailable("Redis", exc, REDIS_MESSAGE)


def _unavailable(what: str, exc: Exception, message: str) -> Response | tuple[Response, int]:
    log.error("%s unreachable on %s %s: %s", what, request.method, request.path,
              (str(exc).splitlines() or [type(exc).__name__])[0])
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path.startswith(_MACHINE_PREFIXES):
        return error_response(503, message, headers)
    return Response(_PAGE, status=503, headers=headers, mimetype="text/html")
