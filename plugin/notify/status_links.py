"""Private links to a candidate's status page: `/status/<token>`.

The token is the application id signed with the status-link key (plugin/keys.py derives it from
GHOSTLESS_SECRET_KEY; itsdangerous, which Flask ships with, signs), so it is unguessable and cannot be
altered, and it carries its signing time: a link older than the retention period no longer opens (by
then the candidate's data is anonymised anyway). Keys of previous secret keys, and links signed with
the raw secret before per-purpose keys, still verify (plugin/keys.py says until when).
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from plugin import clock, keys
from plugin.settings import Settings

SALT = "ghostless.status-page.v1"


class _ClockSigner(TimestampSigner):
    """Dates and ages tokens by the injected clock, so a test can age a link by weeks."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    # A list of keys, the signing key last: itsdangerous signs with the last and verifies with any.
    return URLSafeTimedSerializer(keys.verification_keys(settings, keys.STATUS_LINKS), salt=SALT, signer=_ClockSigner)


def make_token(settings: Settings, application_id: int) -> str:
    return _serializer(settings).dumps(application_id)


def status_url(settings: Settings, application_id: int) -> str:
    return f"{settings.base_url.rstrip('/')}/status/{make_token(settings, application_id)}"


class InvalidToken(Exception):
    """Forged, altered or malformed."""


class ExpiredToken(InvalidToken):
    """Genuine but older than the retention period."""


def read_token(settings: Settings, token: str) -> int:
    """The application id in a genuine, unexpired token; InvalidToken / ExpiredToken otherwise."""
    try:
        value = _serializer(settings).loads(token, max_age=settings.retention_days * 86400)
    except SignatureExpired as exc:
        raise ExpiredToken("This link has expired.") from exc
    except BadSignature as exc:
        raise InvalidToken("This link is not valid.") from exc
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidToken("This link is not valid.")
    return value
