"""GET/PATCH /api/v1/organization/mail and POST .../inbound-secret: validation, secrets, audit."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from conftest import Org
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from plugin.models import AuditEntry, Organization

URL = "/api/v1/organization/mail"


def public_key_b64(private) -> str:  # type: ignore[no-untyped-def]
    der = private.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def p256_key() -> str:
    return public_key_b64(ec.generate_private_key(ec.SECP256R1()))


def patch(org, body, expect: int = 200):  # type: ignore[no-untyped-def]
    response = org.client.patch(URL, headers=org.headers, json=body)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def stored(rt, org) -> Organization:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        row = session.get(Organization, org.id)
        session.expunge(row)
        return row


def audits(rt, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_get_shows_the_urls_to_paste_and_nothing_configured(org):
    body = org.get(URL)
    assert body == {
        "locale": "en",
        "event_webhook_url": f"http://127.0.0.1:5000/webhooks/sendgrid/events/{org.id}",
        "event_public_key_set": False,
        "event_public_key_fingerprint": None,
        "event_public_key_set_at": None,
        "event_public_key_set_by": None,
        "inbound_parse_url": f"http://127.0.0.1:5000/webhooks/sendgrid/inbound/{org.id}",
        "inbound_secret_set": False,
    }


def test_event_key_is_stored_never_echoed_and_audited_by_fingerprint(org, rt):
    key = p256_key()
    body = patch(org, {"sendgrid_event_public_key": key})
    assert body["event_public_key_set"] is True
    assert body["event_public_key_fingerprint"].startswith("SHA256:")
    # Whoever sets the key can sign events: who and when are kept for the proof of notice.
    assert body["event_public_key_set_by"].startswith("api-key:") and body["event_public_key_set_at"] is not None
    assert key not in str(body) and key not in str(org.get(URL))
    assert stored(rt, org).sendgrid_event_public_key == key
    [entry] = audits(rt, "mail_settings_updated")
    assert entry.actor.startswith("api-key:") and entry.entity_id == org.id
    assert entry.before == {"locale": "en", "event_public_key": None}
    assert entry.after == {"locale": "en", "event_public_key": body["event_public_key_fingerprint"]}
    assert key not in str(entry.after)
    # null clears it (events are then refused with 403).
    assert patch(org, {"sendgrid_event_public_key": None})["event_public_key_set"] is False
    assert stored(rt, org).sendgrid_event_public_key is None and stored(rt, org).sendgrid_event_key_set_by is None
    assert len(audits(rt, "mail_settings_updated")) == 2


def test_a_pasted_pem_block_is_stored_as_sendgrid_shows_it(org, rt):
    key = p256_key()
    pem = "-----BEGIN PUBLIC KEY-----\n" + "\n".join(re.findall(".{1,64}", key)) + "\n-----END PUBLIC KEY-----\n"
    patch(org, {"sendgrid_event_public_key": pem})
    assert stored(rt, org).sendgrid_event_public_key == key


@pytest.mark.parametrize("value, says", [
    ("not a key", "Not a public key"),
    (base64.b64encode(b"\x30\x03\x02\x01\x01").decode(), "Not a public key"),
    (public_key_b64(ec.generate_private_key(ec.SECP384R1())), "secp384r1"),
    (public_key_b64(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "P-256"),
    ("", "Not a public key"),
    (12, "Not a valid string"),
])
def test_a_bad_event_key_is_refused_with_422_and_nothing_changes(org, rt, value, says):
    good = p256_key()
    patch(org, {"sendgrid_event_public_key": good, "locale": "de"})
    body = patch(org, {"sendgrid_event_public_key": value, "locale": "fr"}, expect=422)
    assert says in str(body["errors"]["json"]["sendgrid_event_public_key"])
    row = stored(rt, org)
    assert row.sendgrid_event_public_key == good and row.locale == "de"
    assert len(audits(rt, "mail_settings_updated")) == 1


@pytest.mark.parametrize("value", ["qq", "english", "en-XX", "", None, "de-DE-x-y-z-w-v-u-t-s-r-q-p-o-n-m-l"])
def test_locale_must_be_a_known_language_tag(org, rt, value):
    body = patch(org, {"locale": value}, expect=422)
    assert "locale" in body["errors"]["json"]
    assert stored(rt, org).locale == "en" and audits(rt, "mail_settings_updated") == []


def test_locale_is_normalised_and_unknown_fields_are_refused(org, rt):
    assert patch(org, {"locale": "de_at"})["locale"] == "de-AT"
    assert "colour" in patch(org, {"colour": "red"}, expect=422)["errors"]["json"]
    assert stored(rt, org).locale == "de-AT"


def test_inbound_secret_is_shown_once_inside_the_url_and_only_its_hash_is_kept(org, rt):
    body = org.client.post(f"{URL}/inbound-secret", headers=org.headers)
    assert body.status_code == 200, body.get_json()
    answer = body.get_json()
    secret = answer["secret"]
    assert len(secret) >= 40
    assert answer["inbound_parse_url"] == (
        f"http://ghostless:{secret}@127.0.0.1:5000/webhooks/sendgrid/inbound/{org.id}")
    assert stored(rt, org).sendgrid_inbound_secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    shown = org.get(URL)
    assert shown["inbound_secret_set"] is True and secret not in str(shown)
    assert shown["inbound_parse_url"] == f"http://127.0.0.1:5000/webhooks/sendgrid/inbound/{org.id}"
    again = org.client.post(f"{URL}/inbound-secret", headers=org.headers).get_json()
    assert again["secret"] != secret
    assert stored(rt, org).sendgrid_inbound_secret_hash == hashlib.sha256(again["secret"].encode()).hexdigest()
    entries = audits(rt, "inbound_secret_rotated")
    assert len(entries) == 2 and secret not in str([e.after for e in entries])


def test_each_key_changes_only_its_own_organisation_and_needs_a_key(org, rt, client):
    other = Org(rt, client, name="Other")
    key = p256_key()
    patch(other, {"sendgrid_event_public_key": key, "locale": "es"})
    assert stored(rt, other).sendgrid_event_public_key == key
    assert stored(rt, org).sendgrid_event_public_key is None and stored(rt, org).locale == "en"
    assert client.get(URL).status_code == 401
    assert client.patch(URL, json={"locale": "de"}).status_code == 401
    assert client.post(f"{URL}/inbound-secret").status_code == 401
    assert stored(rt, org).sendgrid_inbound_secret_hash is None
