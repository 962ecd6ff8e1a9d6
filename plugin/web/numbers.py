"""Whole numbers from URLs and query strings: ASCII digits only, within what the database holds.

`int()` reads any Unicode digit ("١٢" is 12) and raises on others that `str.isdigit()` accepts
("²"), and an id past the column's range overflows the database driver: each was a 500. Every
integer that comes from outside goes through one of these:
- `<int:...>` in any route is `DatabaseIdConverter` (installed by `install_id_converter`): an id
  that is not ASCII digits or past MAX_ID is simply not a route, so the answer is a 404;
- query parameters on pages use `ascii_int`, which raises ValueError for the page to answer 400;
- the API's query parameters use `plugin.api.common.QueryInteger`, built on `ascii_int`.
"""

from __future__ import annotations

import re

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

__all__ = ["ASCII_INTEGER", "INT64_MAX", "MAX_ID", "DatabaseIdConverter", "ascii_int", "install_id_converter"]

INT64_MAX = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's BIGINT hold no more
# Every id column is `Integer`: 32 bits on PostgreSQL (SQLite's are 64), so no id is larger than this,
# and a larger one in a query is refused instead of reaching PostgreSQL ("integer out of range").
MAX_ID = 2**31 - 1
ASCII_INTEGER = re.compile(r"-?[0-9]+")


def ascii_int(raw: str, *, minimum: int = 0, maximum: int = MAX_ID) -> int:
    """`raw` as an int when it is ASCII digits (an optional leading '-') between minimum and maximum.

    Raises ValueError otherwise; the caller says in its own words what it wanted.
    """
    if not isinstance(raw, str) or not ASCII_INTEGER.fullmatch(raw) or len(raw.lstrip("-")) > 19:
        raise ValueError(f"{raw[:40]!r} is not a whole number of at most 19 ASCII digits")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise ValueError(f"{value} is not between {minimum} and {maximum}")
    return value


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` for ids: ASCII digits, 0 to MAX_ID (documented so in the OpenAPI document)."""

    regex = r"[0-9]+"

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max,
                         signed=signed)


def install_id_converter(app: Flask) -> None:
    """Make `<int:...>` the bounded converter. Must run before any blueprint adds its routes."""
    app.url_map.converters["int"] = DatabaseIdConverter
