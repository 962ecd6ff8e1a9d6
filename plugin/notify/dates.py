"""Dates and times as a candidate reads them, in their language ("Montag, 16. November").

Babel's CLDR data gives each language its own order and words; English keeps the British
day-month style Ghostless has always used ("Monday 16 November"). The year is left out when it is
the current one, as people write it in a letter.
"""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_skeleton, get_date_format

ENGLISH_DAY = "EEEE d MMMM"
# The trailing year of a CLDR "full" pattern, with its separator: ", y", " 'de' y".
_TRAILING_YEAR = re.compile(r"[\s,]*(?:'de'\s*)?y+$")


@lru_cache(maxsize=64)
def babel_locale(locale: str | None) -> Locale:
    if locale:
        try:
            return Locale.parse(locale.replace("-", "_"))
        except (ValueError, UnknownLocaleError):
            pass
    return Locale.parse("en_GB")


@lru_cache(maxsize=64)
def _day_pattern(locale: Locale) -> tuple[str, str]:
    """(pattern without year, pattern with year) for `locale`."""
    if locale.language == "en":
        return ENGLISH_DAY, f"{ENGLISH_DAY} y"
    full = get_date_format("full", locale=locale).pattern
    without_year = _TRAILING_YEAR.sub("", full)
    return (without_year if without_year != full else full), full


def human_date(day: date, today: date, locale: str | None = None) -> str:
    """"Monday 16 November" / "Montag, 16. November" (with the year when it is not this year's)."""
    loc = babel_locale(locale)
    same_year, other_year = _day_pattern(loc)
    return format_date(day, same_year if day.year == today.year else other_year, locale=loc)


def human_instant(instant: datetime, tz: tzinfo, locale: str | None = None) -> str:
    """"Mon 16 Nov 2026, 15:00 EST" in the reader's language; the zone's own abbreviation."""
    local = instant.astimezone(tz)
    loc = babel_locale(locale)
    if loc.language == "en":
        text = format_datetime(local, "EEE d MMM y, HH:mm", tzinfo=tz, locale=loc)
    else:  # the language's own short day ("Mo., 16. Nov. 2026"), then a 24-hour time
        text = f"{format_skeleton('yMMMEd', local.date(), locale=loc)}, {local:%H:%M}"
    return f"{text} {local.tzname()}"
