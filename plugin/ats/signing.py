"""HMAC helpers shared by every ATS adapter: one digest function, one constant-time comparison.

Vendors differ only in what they sign and how they print the digest; the arithmetic is the same:
HMAC-SHA256(secret, message) as lowercase hex. SmartRecruiters' published test vector checks this
helper in `tests/ats/test_ats_signing.py`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

__all__ = ["hmac_sha256_hex", "matches_any", "body_hash"]


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def hmac_sha256_hex(secret: str | bytes, *parts: str | bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the parts concatenated, keyed by `secret`."""
    mac = hmac.new(_bytes(secret), digestmod=hashlib.sha256)
    for part in parts:
        mac.update(_bytes(part))
    return mac.hexdigest()


def matches_any(received: str | None, expected: Iterable[str]) -> bool:
    """True when `received` equals one of `expected`, compared in constant time.

    Every candidate is compared (no early exit), so timing does not reveal which secret matched.
    Hex digests are compared case-insensitively: vendors do not all promise lowercase.
    """
    if not received:
        return False
    given = received.strip().lower().encode("ascii", "replace")
    found = False
    for candidate in expected:
        found |= hmac.compare_digest(given, candidate.strip().lower().encode("ascii", "replace"))
    return found


def body_hash(body: bytes) -> str:
    """Delivery id for vendors that send none (Workable): identical bodies are one delivery."""
    return "sha256:" + hashlib.sha256(body).hexdigest()
