"""GHOSTLESS_SECRET_KEY: weak keys refused, one derived key per purpose, rotation with previous keys,
and links and secrets made before per-purpose keys still accepted (plugin/keys.py)."""

from __future__ import annotations

import base64
import secrets
from dataclasses import replace
from itertools import permutations

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from dashboard_support import PASSWORD, add_user, csrf_token, sign_in
from itsdangerous import BadSignature, URLSafeTimedSerializer

from plugin import create_app, keys
from plugin.ats.secrets import SecretBox, SecretsUnreadable
from plugin.candidate import status_page
from plugin.notify import status_links
from plugin.settings import Settings, SettingsError

OLD = "old-secret-key-0123456789-abcdefghijklmnop"
NEW = "new-secret-key-9876543210-qrstuvwxyzABCDEF"


# -- weak keys -----------------------------------------------------------------------------------

@pytest.mark.parametrize("weak, reason", [
    ("a", "it is 1 character long, at least 32 are needed"),
    ("s3cret-but-only-31-characters-x", "it is 31 characters long"),
    ("a" * 64, "it uses only 1 different characters"),
    ("abababababababababababababababababab", "it uses only 2 different characters"),
    ("change-me-to-a-long-random-string", "the example's placeholder"),
    ("H2zstQHdlheSFTv9nOpJYajEyHUbAZtPDzFspbEz,x", "it contains a comma"),  # fixed: xdist workers must collect the same ids
])
@pytest.mark.parametrize("production", [{}, {"GHOSTLESS_DATABASE_URL": "postgresql://db/ghostless",
                                             "GHOSTLESS_SENDGRID_API_KEY": "SG.x"}])
def test_an_explicit_weak_key_is_refused_with_how_to_make_one(weak, reason, production):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({**production, "GHOSTLESS_SECRET_KEY": weak})
    message = str(refused.value)
    assert "GHOSTLESS_SECRET_KEY is too weak" in message and reason in message
    assert 'python -c "import secrets; print(secrets.token_urlsafe(48))"' in message
    assert len(weak) < 2 or weak not in message  # the key itself is never echoed


def test_a_made_key_and_the_embedded_default_are_accepted(tmp_path):
    made = secrets.token_urlsafe(48)
    assert Settings.from_env({"GHOSTLESS_SECRET_KEY": made}).secret_key == made
    assert Settings.from_env({"GHOSTLESS_SECRET_KEY": secrets.token_hex(16)}).secret_key  # exactly 32
    embedded = Settings(instance_dir=tmp_path).ensure_secret_key()
    assert len(embedded.secret_key) == 64


def test_a_weak_key_in_the_instance_file_is_refused(tmp_path):
    (tmp_path / "secret_key").write_text("a\n")
    with pytest.raises(SettingsError, match="holds a weak secret key: it is 1 character long"):
        Settings(instance_dir=tmp_path).ensure_secret_key()


def test_previous_keys_are_a_list_and_may_be_weak():
    """Listing the weak key being replaced is how one rotates away from it."""
    settings = Settings.from_env({"GHOSTLESS_SECRET_KEY": NEW, "GHOSTLESS_PREVIOUS_SECRET_KEYS": f" {OLD} , a,,a"})
    assert settings.previous_secret_keys == (OLD, "a")


# -- a key per purpose ---------------------------------------------------------------------------

def test_every_purpose_has_its_own_key_and_none_is_the_raw_secret():
    settings = Settings(secret_key=NEW)
    derived = [keys.signing_key(settings, purpose) for purpose in keys.PURPOSES]
    assert len(set(derived)) == len(keys.PURPOSES)
    assert NEW.encode() not in derived and all(len(key) == 32 for key in derived)


@pytest.mark.parametrize("made_for, shown_to", list(permutations(
    [keys.STATUS_LINKS, keys.STATUS_PAGE_FORMS, keys.DASHBOARD_SESSIONS, keys.DASHBOARD_FORMS], 2)),
    ids=lambda purpose: purpose.name)
def test_a_token_made_for_one_purpose_does_not_verify_for_another(made_for, shown_to):
    """Same salt on purpose: only the key can tell them apart."""
    settings = Settings(secret_key=NEW, previous_secret_keys=(OLD,))
    token = URLSafeTimedSerializer(keys.signing_key(settings, made_for), salt="same").dumps(42)
    URLSafeTimedSerializer(keys.verification_keys(settings, made_for), salt="same").loads(token)
    with pytest.raises(BadSignature):
        URLSafeTimedSerializer(keys.verification_keys(settings, shown_to), salt="same").loads(token)


# -- status links --------------------------------------------------------------------------------

def test_a_status_link_made_under_the_old_key_verifies_while_that_key_is_listed_as_previous(clock):
    token = status_links.make_token(Settings(secret_key=OLD), 7)
    assert status_links.read_token(Settings(secret_key=NEW, previous_secret_keys=(OLD,)), token) == 7
    with pytest.raises(status_links.InvalidToken):
        status_links.read_token(Settings(secret_key=NEW), token)
    with pytest.raises(status_links.InvalidToken):
        status_links.read_token(Settings(secret_key=NEW, previous_secret_keys=("some-other-old-key",)), token)


def test_new_status_links_are_signed_with_the_derived_key_not_the_raw_secret(clock):
    token = status_links.make_token(Settings(secret_key=NEW, previous_secret_keys=(OLD,)), 7)
    for raw in (NEW, OLD):
        with pytest.raises(BadSignature):
            URLSafeTimedSerializer(raw, salt=status_links.SALT, signer=status_links._ClockSigner).loads(token)
    with pytest.raises(BadSignature):  # nor with the old secret's derived key
        URLSafeTimedSerializer(keys.derive(OLD, keys.STATUS_LINKS), salt=status_links.SALT,
                               signer=status_links._ClockSigner).loads(token)


def _legacy_status_token(secret: str, application_id: int) -> str:
    """Exactly what status_links made before per-purpose keys: the raw secret signed the link."""
    return URLSafeTimedSerializer(secret, salt=status_links.SALT, signer=status_links._ClockSigner).dumps(application_id)


def test_a_status_link_emailed_before_per_purpose_keys_still_opens(clock):
    assert status_links.read_token(Settings(secret_key=OLD), _legacy_status_token(OLD, 7)) == 7
    # ... and after the key is rotated, while the old key is listed
    rotated = Settings(secret_key=NEW, previous_secret_keys=(OLD,))
    assert status_links.read_token(rotated, _legacy_status_token(OLD, 7)) == 7
    with pytest.raises(status_links.InvalidToken):
        status_links.read_token(Settings(secret_key=NEW), _legacy_status_token(OLD, 7))


def test_the_status_page_form_opened_before_the_rotation_still_posts_while_the_old_key_is_listed(clock):
    link = status_links.make_token(Settings(secret_key=OLD), 7)
    form_token = status_page.make_csrf_token(Settings(secret_key=OLD), link)
    assert status_page.csrf_token_valid(Settings(secret_key=NEW, previous_secret_keys=(OLD,)), link, form_token)
    assert not status_page.csrf_token_valid(Settings(secret_key=NEW), link, form_token)


# -- ATS secrets ---------------------------------------------------------------------------------

def _fernet_key_before_per_purpose_keys(secret: str) -> bytes:
    """plugin/ats/secrets.py's own derivation before plugin/keys.py existed."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"ghostless-ats-secrets", info=b"fernet-v1")
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode("utf-8")))


def test_ats_secrets_stored_before_per_purpose_keys_still_decrypt():
    stored = Fernet(_fernet_key_before_per_purpose_keys(OLD)).encrypt(b"vendor-secret").decode()
    assert SecretBox(Settings(secret_key=OLD)).open(stored) == "vendor-secret"


def test_ats_secrets_decrypt_with_a_previous_key_and_rotate_to_the_current_one():
    stored = SecretBox(Settings(secret_key=OLD)).seal("vendor-secret")
    box = SecretBox(Settings(secret_key=NEW, previous_secret_keys=(OLD,)))
    assert box.open(stored) == "vendor-secret" and not box.uses_current_key(stored)
    rotated = box.rotate(stored)
    assert box.uses_current_key(rotated)
    assert SecretBox(Settings(secret_key=NEW)).open(rotated) == "vendor-secret"
    with pytest.raises(SecretsUnreadable, match="GHOSTLESS_PREVIOUS_SECRET_KEYS"):
        SecretBox(Settings(secret_key=NEW)).open(stored)


def test_explicit_encryption_keys_encrypt_and_the_derived_key_still_decrypts():
    """Moving from the derived key to GHOSTLESS_ENCRYPTION_KEYS needs only `ghostless secrets rotate`."""
    explicit = Fernet.generate_key().decode()
    stored = SecretBox(Settings(secret_key=NEW)).seal("vendor-secret")
    box = SecretBox(Settings(secret_key=NEW, encryption_keys=(explicit,)))
    assert box.open(stored) == "vendor-secret"
    assert Fernet(explicit).decrypt(box.seal("fresh").encode()) == b"fresh"


def test_without_any_key_ats_secrets_are_not_encrypted_with_a_key_derived_from_nothing():
    with pytest.raises(ValueError, match="set GHOSTLESS_SECRET_KEY or GHOSTLESS_ENCRYPTION_KEYS"):
        SecretBox(Settings())


# -- dashboard sessions and forms ------------------------------------------------------------------

def _app(rt, secret_key: str, previous: tuple[str, ...] = ()):
    return create_app(runtime=replace(rt, settings=replace(rt.settings, secret_key=secret_key,
                                                           previous_secret_keys=previous)))


def test_the_session_cookie_is_signed_with_the_session_key(rt, org):
    app = _app(rt, NEW)
    assert app.secret_key == keys.signing_key(app.extensions["ghostless"].settings, keys.DASHBOARD_SESSIONS)
    assert app.secret_key != NEW.encode()


def test_a_session_from_before_the_rotation_stays_signed_in_while_the_old_key_is_listed(rt, org):
    add_user(rt, org.id, "boss@acme.example", "admin")
    before = _app(rt, OLD).test_client()
    sign_in(before, "boss@acme.example")
    cookie = before.get_cookie("ghostless_session").value

    def users_page(app):
        client = app.test_client()
        client.set_cookie("ghostless_session", cookie)
        return client.get("/dashboard/users").status_code

    assert users_page(_app(rt, NEW, (OLD,))) == 200
    assert users_page(_app(rt, NEW)) == 302  # to the sign-in page


def test_a_dashboard_form_opened_before_the_rotation_still_posts_while_the_old_key_is_listed(rt, org):
    add_user(rt, org.id, "boss@acme.example", "admin")
    before = _app(rt, OLD).test_client()
    token = csrf_token(before.get("/dashboard/sign-in").get_data(as_text=True))
    cookie = before.get_cookie("ghostless_session").value

    def post_sign_in(app):
        client = app.test_client()
        client.set_cookie("ghostless_session", cookie)
        return client.post("/dashboard/sign-in", data={"email": "boss@acme.example", "password": PASSWORD,
                                                      "csrf_token": token})

    assert post_sign_in(_app(rt, NEW, (OLD,))).status_code == 302  # signed in
    refused = post_sign_in(_app(rt, NEW))
    assert refused.status_code == 400 and "The form expired" in refused.get_data(as_text=True)

