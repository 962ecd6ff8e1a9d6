"""Business time for an organisation: time zone, working weekdays, public holidays, closures.

Every instant going in must be aware and every instant coming out is aware UTC. Dates are
always *local* dates of the organisation's zone (via zoneinfo), so a deadline is a wall-clock
time on a local day and DST can never move it by an hour or a day.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

logger = logging.getLogger(__name__)

# How many consecutive non-working days we scan before concluding the calendar has no
# working days at all (e.g. every working weekday listed as a closure). ~10 years.
_MAX_SCAN_DAYS = 3660
_MAX_LISTED_SUBDIVISIONS = 12


class CalendarError(ValueError):
    """A calendar is misconfigured or cannot answer (message says exactly what is wrong)."""


@functools.lru_cache(maxsize=256)
def _holidays_for(country: str, subdivision: str | None) -> holidays.HolidayBase:
    # Building a holidays object is expensive; with expand=True (the default) and no years it
    # computes each year lazily on first lookup, so one shared object serves all years.
    return holidays.country_holidays(country, subdiv=subdivision)


# The lazy per-year population mutates the shared (cached) object; serialise lookups so two
# request threads never populate the same year concurrently.
_holidays_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _supported_countries() -> dict[str, list[str]]:
    return holidays.list_supported_countries()


def validate_calendar(timezone: str, country: str | None, subdivision: str | None) -> None:
    """Raise CalendarError unless the zone, country and subdivision are all usable."""
    if not isinstance(timezone, str) or not timezone:
        raise CalendarError(f"Time zone must be a non-empty IANA name, got {timezone!r}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError/OSError: malformed keys such as absolute paths or '..' components.
        raise CalendarError(f"Unknown time zone {timezone!r}") from None
    if country is None:
        if subdivision is not None:
            raise CalendarError(f"Subdivision {subdivision!r} given without a holiday country")
        return
    supported = _supported_countries()
    if country not in supported:
        raise CalendarError(f"Unknown holiday country {country!r}")
    if subdivision is None:
        return
    try:
        # Accepts codes and the package's aliases; also warms the cache for the calendar.
        _holidays_for(country, subdivision)
    except NotImplementedError:
        known = supported[country]
        if not known:
            raise CalendarError(f"Country {country!r} has no subdivisions (got {subdivision!r})") from None
        listed = ", ".join(known[:_MAX_LISTED_SUBDIVISIONS])
        if len(known) > _MAX_LISTED_SUBDIVISIONS:
            listed += f", ... ({len(known)} in all)"
        raise CalendarError(
            f"Unknown subdivision {subdivision!r} for country {country!r} (known: {listed})"
        ) from None


def _require_aware(instant: datetime) -> None:
    if not isinstance(instant, datetime):
        raise TypeError(f"Expected a datetime, got {type(instant).__name__}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"Naive datetime {instant.isoformat()} rejected; pass an aware datetime")


def _require_date(day: date) -> None:
    # datetime is a date subclass but never equals a date, so it would silently miss closures.
    if not isinstance(day, date) or isinstance(day, datetime):
        raise TypeError(f"Expected a date, got {type(day).__name__}")


@dataclass(frozen=True)
class SendWindow:
    start: time = time(9, 0)
    end: time = time(17, 0)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise CalendarError("Send window times must be naive local wall-clock times")
        if self.start >= self.end:
            raise CalendarError(
                f"Send window start {self.start.isoformat()} must be before end {self.end.isoformat()}"
            )


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str
    country: str | None = None
    subdivision: str | None = None
    working_weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday=0
    closures: frozenset[date] = frozenset()
    # Further public-holiday calendars observed on top of `country` (the candidate's own country
    # for candidate mail): a day off in either is not a working day.
    also_observes: tuple[tuple[str, str | None], ...] = ()

    def __post_init__(self) -> None:
        validate_calendar(self.timezone, self.country, self.subdivision)
        for country, subdivision in self.also_observes:
            validate_calendar(self.timezone, country, subdivision)
        # Callers (DB rows, JSON) hand us lists/sets; normalise so the object stays hashable.
        weekdays = frozenset(self.working_weekdays)
        if not weekdays:
            raise CalendarError("working_weekdays must not be empty")
        bad = sorted((repr(d) for d in weekdays
                      if not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6))
        if bad:
            raise CalendarError(
                f"working_weekdays must be integers 0 (Monday)..6 (Sunday), got {', '.join(bad)}"
            )
        closures = frozenset(self.closures)
        for c in closures:
            if not isinstance(c, date) or isinstance(c, datetime):
                raise CalendarError(f"Closure {c!r} is not a date")
        object.__setattr__(self, "working_weekdays", weekdays)
        object.__setattr__(self, "closures", closures)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances per key

    def with_timezone(self, timezone: str | None) -> BusinessCalendar:
        """Same holidays and working days in another zone; junk candidates fall back to self."""
        if timezone is None or timezone == self.timezone:
            return self
        try:
            return dataclasses.replace(self, timezone=timezone)
        except CalendarError as exc:
            logger.debug("Ignoring candidate time zone %r: %s", timezone, exc)
            return self

    # --- days -------------------------------------------------------------------------

    def also_observing(self, country: str | None, subdivision: str | None) -> BusinessCalendar:
        """This calendar plus another country's public holidays; unknown codes fall back to self."""
        if country is None or (country, subdivision) == (self.country, self.subdivision):
            return self
        try:
            return dataclasses.replace(self, also_observes=self.also_observes + ((country, subdivision),))
        except CalendarError as exc:
            logger.debug("Ignoring candidate holiday calendar %r/%r: %s", country, subdivision, exc)
            return self

    def holiday_name(self, day: date) -> str | None:
        _require_date(day)
        for country, subdivision in ((self.country, self.subdivision), *self.also_observes):
            if country is None:
                continue
            with _holidays_lock:
                name = _holidays_for(country, subdivision).get(day)
            if name:
                return name
        return "Closure" if day in self.closures else None

    def is_working_day(self, day: date) -> bool:
        # Weekends come from our working_weekdays, never from the holidays package.
        return day.weekday() in self.working_weekdays and self.holiday_name(day) is None

    def add_working_days(self, day: date, n: int) -> date:
        _require_date(day)
        if n == 0:
            return day if self.is_working_day(day) else self.add_working_days(day, 1)
        step = timedelta(days=1 if n > 0 else -1)
        remaining, idle, current = abs(n), 0, day
        try:
            while remaining:
                current += step
                if self.is_working_day(current):
                    remaining -= 1
                    idle = 0
                else:
                    idle += 1
                    if idle > _MAX_SCAN_DAYS:
                        raise CalendarError(
                            f"No working day within {_MAX_SCAN_DAYS} days of {current - step * idle}; "
                            "check working days, holidays and closures"
                        )
        except OverflowError:
            raise CalendarError(
                f"Moving {n} working days from {day} leaves the supported date range"
            ) from None
        return current

    # --- instants ---------------------------------------------------------------------

    def local_date(self, instant: datetime) -> date:
        _require_aware(instant)
        return instant.astimezone(self.tz).date()

    def local_instant(self, day: date, at: time) -> datetime:
        """UTC instant of local wall time `at` on `day` (gap -> end of gap; fold -> first)."""
        _require_date(day)
        tz = self.tz
        wall = datetime.combine(day, at.replace(tzinfo=None, fold=0))
        first = wall.replace(tzinfo=tz).astimezone(UTC)  # fold=0: first occurrence if ambiguous
        if first.astimezone(tz).replace(tzinfo=None) == wall:
            return first
        # `wall` does not exist (DST gap). fold=1 resolves it with the post-transition offset,
        # giving an instant before the transition; `first` is after it. Binary-search the
        # transition itself, which is the first existing instant after the gap.
        # Transitions fall on whole seconds, so search over integer POSIX timestamps.
        after_offset = first.astimezone(tz).utcoffset()
        lo = math.floor(wall.replace(tzinfo=tz, fold=1).timestamp())
        hi = math.ceil(first.timestamp())
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if datetime.fromtimestamp(mid, tz).utcoffset() == after_offset:
                hi = mid
            else:
                lo = mid
        return datetime.fromtimestamp(hi, UTC)

    def working_days_after(self, instant: datetime, n: int) -> date:
        return self.add_working_days(self.local_date(instant), n)

    def window_start(self, day: date, window: SendWindow) -> datetime:
        return self.local_instant(day, window.start)

    def window_end(self, day: date, window: SendWindow) -> datetime:
        return self.local_instant(day, window.end)

    def is_inside_window(self, instant: datetime, window: SendWindow) -> bool:
        day = self.local_date(instant)
        return (self.is_working_day(day)
                and self.window_start(day, window) <= instant < self.window_end(day, window))

    def next_window_opening(self, instant: datetime, window: SendWindow) -> datetime:
        day = self.local_date(instant)
        if self.is_working_day(day):
            if instant < self.window_start(day, window):
                return self.window_start(day, window)
            if instant < self.window_end(day, window):
                return instant.astimezone(UTC)
        return self.window_start(self.add_working_days(day, 1), window)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days d with local_date(start) < d <= local_date(end); 0 if end <= start."""
        _require_aware(start)
        _require_aware(end)
        if end <= start:
            return 0
        first, last = self.local_date(start), self.local_date(end)
        return sum(1 for i in range(1, (last - first).days + 1)
                   if self.is_working_day(first + timedelta(days=i)))
