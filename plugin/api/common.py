"""What every API route shares: the bearer key check, the caller's organisation, the time, and the
checks on what a request carries (JSON nesting, whole numbers in the query string)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, request
from flask_smorest import abort
from marshmallow import fields, validate
from sqlalchemy.orm import Session

from plugin import clock
from plugin.accounts.orgs import key_owner
from plugin.json_input import BadJson, parse_json
from plugin.models import Organization
from plugin.web.body_limit import declared_too_large, read_within_limit
from plugin.web.numbers import ASCII_INTEGER, MAX_ID
from plugin.web.sessions import db_session

__all__ = ["QueryInteger", "authenticate", "check_json_body", "current_org", "db_session", "now"]


def authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, message="Send your organisation's API key as 'Authorization: Bearer <key>'.",
              headers={"WWW-Authenticate": "Bearer"})
    owner = key_owner(db_session(), token.strip())
    if owner is None:
        abort(401, message="This API key is not valid (unknown or revoked).", headers={"WWW-Authenticate": "Bearer"})
    g.org_id = owner.org_id
    g.actor = f"api-key:{owner.prefix}"


def current_org(session: Session) -> Organization:
    org = session.get(Organization, g.org_id)
    assert org is not None
    return org


def now() -> datetime:
    return clock.now()


def check_json_body() -> None:
    """400 for a JSON body that does not parse or nests deeper than `plugin.json_input.MAX_DEPTH`.

    flask-smorest (webargs) parses bodies with the standard library, whose RecursionError on deep
    nesting would be a 500: this runs first, so what reaches it is known to be shallow. A body over
    the size limit is left to the route (413).
    """
    if not request.is_json or declared_too_large(request):
        return
    data = read_within_limit(request)
    if not data:
        return  # empty, or over the limit without Content-Length: the route answers (413)
    try:
        parse_json(data)
    except BadJson as exc:
        abort(400, message=str(exc))


class QueryInteger(fields.Integer):
    """A whole number in a query string: ASCII digits only, 0 to MAX_ID unless told otherwise.

    `int()` would read "١٢" as 12, and a number past the id columns' 32 bits (PostgreSQL) reached the
    database as a 500; this answers 422 naming the parameter, like any other invalid argument.
    `minimum`/`maximum` are documented in the OpenAPI document.
    """

    default_error_messages = {"invalid": "Not a whole number written in ASCII digits (0-9).",
                              "too_long": "Too many digits: at most 19."}

    def __init__(self, *, minimum: int = 0, maximum: int = MAX_ID, **kwargs: Any) -> None:
        super().__init__(validate=validate.Range(min=minimum, max=maximum), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str):
            if not ASCII_INTEGER.fullmatch(value):
                raise self.make_error("invalid")
            if len(value.lstrip("-")) > 19:  # int() of thousands of digits is slow; none is an id
                raise self.make_error("too_long")
        return super()._deserialize(value, attr, data, **kwargs)
