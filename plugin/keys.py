"""One secret, a key per purpose: every signer and cipher gets its key from here, never the raw secret.

GHOSTLESS_SECRET_KEY is stretched with HKDF (from `cryptography`) into a separate key for each
purpose, so a token made for one purpose can never pass as another, and a key that leaks from one
place (a log of a Fernet key, say) opens nothing else. GHOSTLESS_PREVIOUS_SECRET_KEYS lists older
secrets: keys derived from them still verify and decrypt, and nothing new is made with them.

Before per-purpose keys, the signers used the raw secret itself. Links already emailed must keep
opening, so for the purposes marked `legacy_raw` the raw secrets (current and previous) are also
accepted, for verifying only. Drop LEGACY_RAW_SECRETS_ACCEPTED once GHOSTLESS_RETENTION_DAYS have
passed since this release was deployed: by then every status link signed with a raw key has expired.
The ATS secrets' key was already derived with HKDF before, with the same salt and info as below, so
stored secrets need no fallback.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from plugin.settings import Settings

# True until GHOSTLESS_RETENTION_DAYS after the release that introduced derived keys (see above).
LEGACY_RAW_SECRETS_ACCEPTED = True


@dataclass(frozen=True)
class Purpose:
    name: str
    salt: bytes
    info: bytes
    legacy_raw: bool  # signed with the raw secret before per-purpose keys: the raw secret still verifies


STATUS_LINKS = Purpose("status links", b"ghostless-keys-v1", b"status-links", legacy_raw=True)
STATUS_PAGE_FORMS = Purpose("status page forms", b"ghostless-keys-v1", b"status-page-forms", legacy_raw=True)
DASHBOARD_SESSIONS = Purpose("dashboard sessions", b"ghostless-keys-v1", b"dashboard-sessions", legacy_raw=True)
DASHBOARD_FORMS = Purpose("dashboard forms (CSRF)", b"ghostless-keys-v1", b"dashboard-forms", legacy_raw=True)
# Unchanged from before per-purpose keys (plugin/ats/secrets.py derived exactly this), so every
# credential already stored still decrypts without a fallback.
ATS_SECRETS = Purpose("ATS secrets", b"ghostless-ats-secrets", b"fernet-v1", legacy_raw=False)

PURPOSES = (STATUS_LINKS, STATUS_PAGE_FORMS, DASHBOARD_SESSIONS, DASHBOARD_FORMS, ATS_SECRETS)


def derive(secret: str, purpose: Purpose) -> bytes:
    """32 bytes for `purpose` from one secret; the same secret and purpose always give the same key."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=purpose.salt, info=purpose.info)
    return hkdf.derive(secret.encode("utf-8"))


def signing_key(settings: Settings, purpose: Purpose) -> bytes:
    """The key new tokens for `purpose` are made with."""
    return derive(settings.secret_key, purpose)


def fallback_keys(settings: Settings, purpose: Purpose) -> list[bytes]:
    """Keys that still verify `purpose` but sign nothing new, oldest first (itsdangerous' and
    Flask's SECRET_KEY_FALLBACKS order): previous secrets' derived keys, then the legacy raw secrets."""
    keys = [derive(secret, purpose) for secret in reversed(settings.previous_secret_keys)]
    if purpose.legacy_raw and LEGACY_RAW_SECRETS_ACCEPTED:
        keys += [secret.encode("utf-8") for secret in (*reversed(settings.previous_secret_keys), settings.secret_key)]
    current = signing_key(settings, purpose)
    return [key for index, key in enumerate(keys) if key != current and key not in keys[:index]]


def verification_keys(settings: Settings, purpose: Purpose) -> list[bytes]:
    """Every key that verifies `purpose`, the signing key last: itsdangerous signs with the last one."""
    return [*fallback_keys(settings, purpose), signing_key(settings, purpose)]


def fernet_key(secret: str) -> str:
    """The Fernet key (url-safe base64 of 32 bytes) for ATS secrets derived from one secret."""
    return base64.urlsafe_b64encode(derive(secret, ATS_SECRETS)).decode("ascii")


def ats_fernet_keys(settings: Settings) -> list[str]:
    """The Fernet keys derived for ATS secrets: the current secret's first, then the previous ones'."""
    return [fernet_key(secret) for secret in (settings.secret_key, *settings.previous_secret_keys) if secret]
