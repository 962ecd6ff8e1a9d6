"""The one source of "now". Everything that needs the time asks `clock.now()`.

Tests and the demo install a `FrozenClock` and move it forward, so a whole hiring round over weeks
runs in a second. The clock is per process; RQ work horses forked from a worker inherit it.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Iterator, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        self._lock = threading.Lock()
        self._now = _aware(at)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, at: datetime) -> None:
        with self._lock:
            self._now = _aware(at)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


_current: Clock = SystemClock()


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return _current.now().astimezone(UTC)


def install(clock: Clock) -> None:
    global _current
    _current = clock


def current() -> Clock:
    return _current


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    previous = _current
    install(clock)
    try:
        yield clock
    finally:
        install(previous)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("The clock needs an aware datetime (with a time zone)")
    return at.astimezone(UTC)
