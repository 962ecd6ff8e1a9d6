"""Marshmallow field types of the canonical-event vocabulary: event type, aware UTC datetime, locale tag
and IANA time zone name.

Used by the event schemas (`plugin.events.schemas`) and by the API's settings schemas that accept a
locale; each field's error message names what was wrong.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from marshmallow import fields

from plugin.events.types import EventType

__all__ = ["NAIVE_MESSAGE", "EventTypeField", "Locale", "TimeZoneName", "UtcDateTime"]

NAIVE_MESSAGE = "Not a valid aware datetime: include a UTC offset, e.g. 2026-11-20T15:00:00Z."

_LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
_ZONE_RE = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")
_HOST_DEPENDENT_ZONES = frozenset({"localtime", "posixrules"})


def _shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


class EventTypeField(fields.Field[EventType]):
    """A string naming an `EventType`; an unknown type is named in the error message."""

    default_error_messages = {
        "invalid": "Not a valid string.",
        "unknown": "Unknown event type {input}. Expected one of: {choices}.",
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> EventType:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return EventType(value)
        except ValueError:
            raise self.make_error(
                "unknown",
                input=repr(_shorten(value)),
                choices=", ".join(t.value for t in EventType),
            ) from None


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 datetime that must carry an offset; loaded as an aware UTC datetime."""

    default_error_messages = {"invalid_awareness": NAIVE_MESSAGE}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> datetime:
        loaded = super()._deserialize(value, attr, data, **kwargs)
        try:
            return loaded.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


class Locale(fields.String):
    """A BCP-47-ish language tag ("en", "de-DE", "pt_BR"), normalised to "-" and canonical case."""

    default_error_messages = {"invalid_locale": "Not a valid locale (expected e.g. 'en' or 'de-DE')."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 35 or not _LOCALE_RE.match(text):
            raise self.make_error("invalid_locale")
        language, *subtags = text.replace("_", "-").split("-")
        canonical = [language.lower()]
        for tag in subtags:
            if len(tag) == 2 and tag.isalpha():
                canonical.append(tag.upper())
            elif len(tag) == 4 and tag.isalpha():
                canonical.append(tag.title())
            else:
                canonical.append(tag.lower())
        return "-".join(canonical)


class TimeZoneName(fields.String):
    """An IANA time zone name that `zoneinfo.ZoneInfo` can load."""

    default_error_messages = {"unknown_zone": "Unknown time zone {input}."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _is_time_zone(text):
            raise self.make_error("unknown_zone", input=repr(_shorten(text)))
        return text


def _is_time_zone(name: str) -> bool:
    if len(name) > 64 or name in _HOST_DEPENDENT_ZONES or not _ZONE_RE.match(name):
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
