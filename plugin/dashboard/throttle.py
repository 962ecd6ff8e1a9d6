"""Sign-in throttling: after repeated failures, an address (or a client) must wait.

Failures are kept in Redis sorted sets scored by the injected clock, so every web process shares
them and a test can step over the lock-out window without sleeping. A success clears the
address's failures (not the client's: one client guessing many addresses stays throttled).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ADDRESS = 5
MAX_FAILURES_PER_CLIENT = 20

_PREFIX = "ghostless:sign-in-failures"


@dataclass(frozen=True)
class Throttle:
    connection: redis.Redis
    now: datetime

    def _keys(self, email: str, client: str) -> list[tuple[str, int]]:
        return [(f"{_PREFIX}:address:{email.strip().lower()}", MAX_FAILURES_PER_ADDRESS),
                (f"{_PREFIX}:client:{client}", MAX_FAILURES_PER_CLIENT)]

    def wait_seconds(self, email: str, client: str) -> int:
        """0 when a sign-in may be tried; otherwise how long until the oldest counted failure expires."""
        since = (self.now - WINDOW).timestamp()
        longest = 0.0
        for key, limit in self._keys(email, client):
            self.connection.zremrangebyscore(key, "-inf", since)
            recent = self.connection.zrange(key, 0, -1, withscores=True)
            if len(recent) >= limit:
                oldest_counted = recent[-limit][1]
                longest = max(longest, oldest_counted + WINDOW.total_seconds() - self.now.timestamp())
        return max(0, math.ceil(longest))

    def failed(self, email: str, client: str) -> None:
        stamp = self.now.timestamp()
        for key, _limit in self._keys(email, client):
            pipe = self.connection.pipeline()
            pipe.zadd(key, {f"{stamp}:{secrets.token_hex(8)}": stamp})
            pipe.expire(key, int(WINDOW.total_seconds()) * 2)  # real-time cleanup of idle keys
            pipe.execute()

    def succeeded(self, email: str) -> None:
        self.connection.delete(self._keys(email, "")[0][0])
