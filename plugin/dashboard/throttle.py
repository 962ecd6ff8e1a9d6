"""Sign-in throttling: after repeated failures, an address (or a client) must wait.

Attempts are kept in Redis sorted sets scored by the injected clock, so every web process shares
them and a test can step over the lock-out window without sleeping.

An attempt is *reserved* before its password is checked: one Lua script (atomic in Redis, the
embedded one included) drops attempts older than the window, refuses when the address or the client
has used up its limit, and otherwise counts this attempt on both. Checking first and counting after
the password was verified let twelve parallel guesses all through a limit of five, because each
looked before any had counted. A reservation that ends in failure simply stays counted; a success
clears the address's attempts (not the client's, so one client guessing many addresses stays
throttled) and gives the client back its own reservation.
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

# KEYS: the address's and the client's sets. ARGV: now (epoch seconds), window (seconds), this
# attempt's member, key expiry (seconds), then one limit per key. Returns "0" when the attempt is
# counted, else the seconds until the oldest attempt that holds a limit leaves the window (as a
# string: Redis would truncate a Lua number to an integer).
_RESERVE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local limit = tonumber(ARGV[4 + i])
  if redis.call('ZCARD', key) >= limit then
    local holding = redis.call('ZRANGE', key, -limit, -limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(holding[2]) + window - now)
  end
end
if wait > 0 then
  return tostring(wait)
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('EXPIRE', key, tonumber(ARGV[4]))
end
return '0'
"""


@dataclass(frozen=True)
class Reservation:
    """One sign-in attempt, counted (wait_seconds == 0) or refused (how long to wait)."""

    address_key: str
    client_key: str
    member: str
    wait_seconds: int


@dataclass(frozen=True)
class Throttle:
    connection: redis.Redis
    now: datetime

    def reserve(self, email: str, client: str) -> Reservation:
        """Count an attempt for this address and client before its password is checked, or refuse it."""
        address_key = f"{_PREFIX}:address:{email.strip().lower()}"
        client_key = f"{_PREFIX}:client:{client}"
        stamp = self.now.timestamp()
        member = f"{stamp}:{secrets.token_hex(8)}"
        window = WINDOW.total_seconds()
        script = self.connection.register_script(_RESERVE)
        answer = script(keys=[address_key, client_key],
                        args=[stamp, window, member, int(window) * 2,  # real-time cleanup of idle keys
                              MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_CLIENT])
        wait = float(answer.decode() if isinstance(answer, bytes) else answer)
        return Reservation(address_key, client_key, member, max(0, math.ceil(wait)))

    def succeeded(self, reservation: Reservation) -> None:
        pipe = self.connection.pipeline()
        pipe.delete(reservation.address_key)
        pipe.zrem(reservation.client_key, reservation.member)
        pipe.execute()

    def attempts(self, email: str) -> int:
        """Attempts counted against this address in the window (what the lock-out is decided on)."""
        key = f"{_PREFIX}:address:{email.strip().lower()}"
        return int(self.connection.zcount(key, f"({(self.now - WINDOW).timestamp()}", "+inf"))
