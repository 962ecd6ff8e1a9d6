"""Mutants for the secret key (issue 13 item 3): weak keys, a key per purpose, rotation, `secrets rotate`.

Each `search` occurs exactly once in `file` and becomes `replace`; the listed tests must go red.
"""

from __future__ import annotations

UNIT = "tests/test_secrets.py"
CLI = "tests/cli/test_secrets_rotate.py"

MUTANTS = [
    {
        "name": "weak-key-length-floor-lowered",
        "why": "a one-character GHOSTLESS_SECRET_KEY is accepted again",
        "file": "plugin/settings.py",
        "search": "MIN_SECRET_KEY_LENGTH = 32\n",
        "replace": "MIN_SECRET_KEY_LENGTH = 1\n",
        "tests": [UNIT],
    },
    {
        "name": "weak-key-variety-not-checked",
        "why": "64 times the same character passes as a key",
        "file": "plugin/settings.py",
        "search": "    if len(set(key)) < MIN_SECRET_KEY_DISTINCT_CHARACTERS:\n",
        "replace": "    if False:\n",
        "tests": [UNIT],
    },
    {
        "name": "weak-key-placeholder-accepted",
        "why": "the example's change-me placeholder is deployed as the key",
        "file": "plugin/settings.py",
        "search": '    if "changeme" in ',
        "replace": '    if "never" in ',
        "tests": [UNIT],
    },
    {
        "name": "weak-key-explicit-not-checked",
        "why": "GHOSTLESS_SECRET_KEY is read without the strength check",
        "file": "plugin/settings.py",
        "search": '            secret_key=reader.secret_key("SECRET_KEY"),\n',
        "replace": '            secret_key=reader.text("SECRET_KEY", ""),\n',
        "tests": [UNIT],
    },
    {
        "name": "weak-key-file-not-checked",
        "why": "a hand-edited instance/secret_key holding 'a' is used",
        "file": "plugin/settings.py",
        "search": "        if reason := secret_key_weakness(key):\n",
        "replace": "        if reason := None:\n",
        "tests": [UNIT],
    },
    {
        "name": "one-key-for-every-purpose",
        "why": "HKDF ignores the purpose: a token for one purpose verifies for every other",
        "file": "plugin/keys.py",
        "search": "salt=purpose.salt, info=purpose.info)",
        "replace": 'salt=b"one", info=b"one")',
        "tests": [UNIT],
    },
    {
        "name": "status-links-signed-with-the-raw-secret",
        "why": "status links go back to the raw secret instead of their own derived key",
        "file": "plugin/keys.py",
        "search": "    return derive(settings.secret_key, purpose)\n",
        "replace": '    return settings.secret_key.encode("utf-8") if purpose is STATUS_LINKS else derive(settings.secret_key, purpose)\n',
        "tests": [UNIT],
    },
    {
        "name": "previous-secret-keys-ignored-for-signing",
        "why": "after a rotation every status link, session and open form stops working at once",
        "file": "plugin/keys.py",
        "search": "    keys = [derive(secret, purpose) for secret in reversed(settings.previous_secret_keys)]\n",
        "replace": "    keys: list[bytes] = []\n",
        "tests": [UNIT],
    },
    {
        "name": "legacy-raw-secret-not-accepted",
        "why": "status links emailed before per-purpose keys stop opening",
        "file": "plugin/keys.py",
        "search": "LEGACY_RAW_SECRETS_ACCEPTED = True\n",
        "replace": "LEGACY_RAW_SECRETS_ACCEPTED = False\n",
        "tests": [UNIT],
    },
    {
        "name": "session-fallbacks-not-configured",
        "why": "a key rotation signs every dashboard user out",
        "file": "plugin/__init__.py",
        "search": "        SECRET_KEY_FALLBACKS=keys.fallback_keys(settings, keys.DASHBOARD_SESSIONS),\n",
        "replace": "",
        "tests": [UNIT],
    },
    {
        "name": "dashboard-forms-only-current-key",
        "why": "a dashboard form opened before a rotation is refused",
        "file": "plugin/__init__.py",
        "search": "        WTF_CSRF_SECRET_KEY=keys.verification_keys(settings, keys.DASHBOARD_FORMS),\n",
        "replace": "        WTF_CSRF_SECRET_KEY=keys.signing_key(settings, keys.DASHBOARD_FORMS),\n",
        "tests": [UNIT],
    },
    {
        "name": "ats-secrets-derivation-changed",
        "why": "credentials stored before per-purpose keys no longer decrypt",
        "file": "plugin/keys.py",
        "search": 'b"ghostless-ats-secrets", b"fernet-v1"',
        "replace": 'b"ghostless-keys-v1", b"ats-secrets"',
        "tests": [UNIT],
    },
    {
        "name": "ats-previous-secret-keys-not-decrypting",
        "why": "after a rotation stored ATS credentials are unreadable until re-entered",
        "file": "plugin/keys.py",
        "search": "(settings.secret_key, *settings.previous_secret_keys) if secret]",
        "replace": "(settings.secret_key,) if secret]",
        "tests": [UNIT, CLI],
    },
    {
        "name": "rotate-skips-the-unreadable-check",
        "why": "`secrets rotate` half-rotates and then fails on the first value no key opens",
        "file": "plugin/ats/secrets.py",
        "search": "    if rotation.unreadable:\n        return rotation\n",
        "replace": "",
        "tests": [CLI],
    },
    {
        "name": "rotate-rewrites-current-values",
        "why": "every run rewrites every secret: not idempotent",
        "file": "plugin/ats/secrets.py",
        "search": "            if box.uses_current_key(value):\n",
        "replace": "            if False:\n",
        "tests": [CLI],
    },
]
