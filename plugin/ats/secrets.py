"""Encryption at rest for ATS signing secrets and API credentials.

They must be usable (we compute HMACs with them and call vendor APIs), so they are encrypted, not
hashed: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`). Keys come from
GHOSTLESS_ENCRYPTION_KEYS (comma-separated, newest first; older keys still decrypt, so keys can be
rotated with `ghostless ats rekey`). Without it the key is derived from GHOSTLESS_SECRET_KEY with HKDF,
so the embedded default needs no setting; changing the secret key then makes stored ATS secrets
unreadable (connections must be re-entered), which the README says.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from plugin.settings import Settings


class SecretsUnreadable(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


def _derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"ghostless-ats-secrets", info=b"fernet-v1")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode("utf-8")))


class SecretBox:
    def __init__(self, settings: Settings) -> None:
        keys = list(settings.encryption_keys) or [_derived_key(settings.secret_key).decode()]
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise SecretsUnreadable(
                "a stored ATS secret cannot be decrypted: GHOSTLESS_SECRET_KEY or GHOSTLESS_ENCRYPTION_KEYS changed"
            ) from exc

    def seal_json(self, value: Mapping[str, Any]) -> str:
        return self.seal(json.dumps(dict(value), sort_keys=True))

    def open_json(self, token: str | None) -> dict[str, Any]:
        return json.loads(self.open(token)) if token else {}

    def rotate(self, token: str) -> str:
        """Re-encrypt with the newest key (after adding a key in front of GHOSTLESS_ENCRYPTION_KEYS)."""
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")
