"""The organisation's mail settings: internal-mail language and the two SendGrid webhooks.

GET   /api/v1/organization/mail                 locale, the URLs to paste into SendGrid, what is configured
PATCH /api/v1/organization/mail                 `locale`, `sendgrid_event_public_key` (null clears it)
POST  /api/v1/organization/mail/inbound-secret  a new Inbound Parse password, shown once inside its URL

Secrets never come back: the event verification key is shown as a fingerprint (with who set it and
when, which the proof of notice repeats beside every event the key verified), the inbound password
only once (its SHA-256 is stored, which `plugin.mail.sendgrid_inbound` checks against the basic-auth
password SendGrid sends).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from babel import Locale as BabelLocale
from babel import UnknownLocaleError
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields
from sendgrid.helpers.eventwebhook import EventWebhook

from plugin.api.common import current_org, db_session, now
from plugin.audit import audit
from plugin.events.fields import Locale
from plugin.mail.sendgrid_events import key_fingerprint
from plugin.models import Organization

blp = Blueprint("mail_settings", __name__, url_prefix="/api/v1",
                description="Mail settings: internal-mail language, SendGrid Event Webhook and Inbound Parse")

INBOUND_USER = "ghostless"
_PEM_ARMOUR = re.compile(r"-----(BEGIN|END) PUBLIC KEY-----")


def normalize_event_key(text: str) -> str:
    """The key as SendGrid shows it (base64 DER on one line); a pasted PEM block is accepted too."""
    return "".join(_PEM_ARMOUR.sub("", text).split())


def event_key_problem(key: str) -> str | None:
    """Why `key` cannot verify SendGrid's signatures (loaded exactly as `EventWebhook` loads it), or None."""
    try:
        loaded = EventWebhook(key).public_key if key else None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        loaded = None
    if loaded is None:
        return ("Not a public key: paste the verification key SendGrid shows under Settings > Mail Settings > "
                "Event Webhook > Signed Event Webhook Requests (base64 text starting with 'MFkwEwYHKoZIzj0CAQYI').")
    if not isinstance(loaded, ec.EllipticCurvePublicKey) or not isinstance(loaded.curve, ec.SECP256R1):
        curve = getattr(getattr(loaded, "curve", None), "name", None)
        kind = f"an elliptic-curve key on {curve}" if curve else f"a {type(loaded).__name__.lstrip('_')}"
        return f"This is {kind}; SendGrid signs events with ECDSA on curve P-256 (secp256r1)."
    return None


class EventPublicKey(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        key = normalize_event_key(super()._deserialize(value, attr, data, **kwargs))
        problem = event_key_problem(key) if len(key) <= 4000 else "Too long for a P-256 public key."
        if problem:
            raise ValidationError(problem)
        return key


class KnownLocale(Locale):
    """A language tag Babel knows (dates in internal mail are formatted with it)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        tag = super()._deserialize(value, attr, data, **kwargs)
        try:
            BabelLocale.parse(tag, sep="-")
        except (UnknownLocaleError, ValueError):
            raise ValidationError(f"Unknown locale {tag!r} (expected e.g. 'en', 'de' or 'fr-CA').") from None
        return tag


class MailSettingsPatchSchema(Schema):
    class Meta:
        unknown = RAISE

    locale = KnownLocale(metadata={"description": "Language of internal mail; candidates' fallback"})
    sendgrid_event_public_key = EventPublicKey(
        allow_none=True, metadata={"description": "SendGrid's Event Webhook verification key (base64); null clears it"})


class MailSettingsSchema(Schema):
    locale = fields.String()
    event_webhook_url = fields.String(metadata={"description": "Paste into SendGrid's Event Webhook settings"})
    event_public_key_set = fields.Boolean()
    event_public_key_fingerprint = fields.String(allow_none=True)
    event_public_key_set_at = fields.DateTime(allow_none=True, metadata={"description": "When the key was set"})
    event_public_key_set_by = fields.String(allow_none=True, metadata={"description": "Who set it (an API key)"})
    inbound_parse_url = fields.String(
        metadata={"description": "Inbound Parse destination, without its password (POST .../inbound-secret)"})
    inbound_secret_set = fields.Boolean()


class InboundSecretSchema(Schema):
    inbound_parse_url = fields.String(metadata={"description": "Paste into SendGrid Inbound Parse; shown once"})
    secret = fields.String()


def _url(path: str, password: str | None = None) -> str:
    base = urlsplit(current_app.extensions["ghostless"].settings.base_url)
    netloc = f"{INBOUND_USER}:{password}@{base.netloc}" if password else base.netloc
    return urlunsplit((base.scheme, netloc, base.path.rstrip("/") + path, "", ""))


def settings_of(org: Organization) -> dict[str, Any]:
    return {
        "locale": org.locale,
        "event_webhook_url": _url(f"/webhooks/sendgrid/events/{org.id}"),
        "event_public_key_set": bool(org.sendgrid_event_public_key),
        "event_public_key_fingerprint": key_fingerprint(org.sendgrid_event_public_key),
        "event_public_key_set_at": org.sendgrid_event_key_set_at,
        "event_public_key_set_by": org.sendgrid_event_key_set_by,
        "inbound_parse_url": _url(f"/webhooks/sendgrid/inbound/{org.id}"),
        "inbound_secret_set": bool(org.sendgrid_inbound_secret_hash),
    }


def _audited(org: Organization) -> dict[str, Any]:
    return {"locale": org.locale, "event_public_key": key_fingerprint(org.sendgrid_event_public_key)}


@blp.route("/organization/mail")
class MailSettingsResource(MethodView):
    @blp.response(200, MailSettingsSchema)
    def get(self) -> dict[str, Any]:
        return settings_of(current_org(db_session()))

    @blp.arguments(MailSettingsPatchSchema)
    @blp.response(200, MailSettingsSchema)
    def patch(self, changes: dict[str, Any]) -> dict[str, Any]:
        session = db_session()
        org = current_org(session)
        before = _audited(org)
        if "locale" in changes:
            org.locale = changes["locale"]
        if "sendgrid_event_public_key" in changes and changes["sendgrid_event_public_key"] != \
                org.sendgrid_event_public_key:
            # Whoever sets the key can sign events: the proof names them beside each event it verified.
            key = changes["sendgrid_event_public_key"]
            org.sendgrid_event_public_key = key
            org.sendgrid_event_key_set_at, org.sendgrid_event_key_set_by = (now(), g.actor) if key else (None, None)
        after = _audited(org)
        if after != before:
            audit(session, org.id, "organization", org.id, "mail_settings_updated", now(), g.actor,
                  before=before, after=after)
        session.commit()
        return settings_of(org)


@blp.route("/organization/mail/inbound-secret")
class InboundSecretResource(MethodView):
    @blp.response(200, InboundSecretSchema)
    def post(self) -> dict[str, Any]:
        """A new Inbound Parse password (the previous one stops working). Shown once, inside the URL."""
        session = db_session()
        org = current_org(session)
        secret = secrets.token_urlsafe(32)
        had_one = org.sendgrid_inbound_secret_hash is not None
        org.sendgrid_inbound_secret_hash = hashlib.sha256(secret.encode()).hexdigest()
        audit(session, org.id, "organization", org.id, "inbound_secret_rotated", now(), g.actor,
              before={"inbound_secret_set": had_one}, after={"inbound_secret_set": True})
        session.commit()
        return {"inbound_parse_url": _url(f"/webhooks/sendgrid/inbound/{org.id}", secret), "secret": secret}
