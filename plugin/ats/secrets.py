"""Encryption at rest for ATS signing secrets and API credentials.

They must be usable (we compute HMACs with them and call vendor APIs), so they are encrypted, not
hashed: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`). New values are encrypted with the
first key of GHOSTLESS_ENCRYPTION_KEYS or, without it, with the key plugin/keys.py derives from
GHOSTLESS_SECRET_KEY. Every other configured key still decrypts: the rest of GHOSTLESS_ENCRYPTION_KEYS
and the keys derived from the current and previous secret keys (GHOSTLESS_PREVIOUS_SECRET_KEYS).
`ghostless secrets rotate` (`reencrypt_all`) re-encrypts what is stored with the current key, after
which the old keys can be removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin import keys
from plugin.models import AtsConnection
from plugin.settings import Settings

ENCRYPTED_COLUMNS = ("signing_secret", "previous_signing_secret", "credentials")


class SecretsUnreadable(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


def configured_keys(settings: Settings) -> list[str]:
    """Fernet keys, the one that encrypts first, then every key that only decrypts."""
    configured = list(dict.fromkeys([*settings.encryption_keys, *keys.ats_fernet_keys(settings)]))
    if not configured:
        raise ValueError("no key for ATS secrets: set GHOSTLESS_SECRET_KEY or GHOSTLESS_ENCRYPTION_KEYS")
    return configured


class SecretBox:
    def __init__(self, settings: Settings) -> None:
        configured = configured_keys(settings)
        self._current = Fernet(configured[0])
        self._fernet = MultiFernet([Fernet(k) for k in configured])

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise SecretsUnreadable(
                "a stored ATS secret cannot be decrypted: GHOSTLESS_SECRET_KEY or GHOSTLESS_ENCRYPTION_KEYS changed"
                " (list the old secret key in GHOSTLESS_PREVIOUS_SECRET_KEYS, or the old Fernet key after the"
                " first in GHOSTLESS_ENCRYPTION_KEYS)"
            ) from exc

    def readable(self, token: str) -> bool:
        try:
            self._fernet.decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def seal_json(self, value: Mapping[str, Any]) -> str:
        return self.seal(json.dumps(dict(value), sort_keys=True))

    def open_json(self, token: str | None) -> dict[str, Any]:
        return json.loads(self.open(token)) if token else {}

    def uses_current_key(self, token: str) -> bool:
        try:
            self._current.decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """Re-encrypt with the current key; SecretsUnreadable if no configured key decrypts it."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise SecretsUnreadable("a stored ATS secret cannot be decrypted with any configured key") from exc


@dataclass
class Rotation:
    """What `reencrypt_all` did (or, when `unreadable` is not empty, would not do)."""

    connections: int = 0
    reencrypted: int = 0
    already_current: int = 0
    unreadable: list[str] = field(default_factory=list)  # "<connection id> <column>"


def reencrypt_all(session: Session, box: SecretBox,
                  progress: Callable[[AtsConnection, int, int], None] = lambda *_: None) -> Rotation:
    """Re-encrypt every stored ATS secret with the current key, all or nothing.

    Every value is decrypted first: if any cannot be, nothing is changed and `unreadable` names them
    (rotating the rest would hide the problem until the old key is gone for good). Values already
    under the current key are left as they are, so a second run changes nothing.
    """
    rows = list(session.scalars(select(AtsConnection).order_by(AtsConnection.id)))
    rotation = Rotation(connections=len(rows))
    for row in rows:
        for column in ENCRYPTED_COLUMNS:
            value = getattr(row, column)
            if value and not box.readable(value):
                rotation.unreadable.append(f"{row.id} {column}")
    if rotation.unreadable:
        return rotation
    for row in rows:
        reencrypted = current = 0
        for column in ENCRYPTED_COLUMNS:
            value = getattr(row, column)
            if not value:
                continue
            if box.uses_current_key(value):
                current += 1
            else:
                setattr(row, column, box.rotate(value))
                reencrypted += 1
        rotation.reencrypted += reencrypted
        rotation.already_current += current
        progress(row, reencrypted, current)
    return rotation
