"""`ghostless secrets rotate` (and its older name `ghostless ats rekey`) on the test database."""

from __future__ import annotations

import pytest
from ats_support import connect
from click.testing import CliRunner
from sqlalchemy import select

from plugin import runtime
from plugin.ats.secrets import SecretBox
from plugin.cli import main
from plugin.models import AtsConnection
from plugin.settings import Settings

NEW = "new-secret-key-9876543210-qrstuvwxyzABCDEF"
STRANGER = "a-key-this-install-never-had-0123456789-xyz"


@pytest.fixture
def cli(rt, monkeypatch):
    """`ghostless` on the test database; the secret keys come from the environment, as in production."""
    monkeypatch.setenv("GHOSTLESS_DATABASE_URL", rt.db.url)
    monkeypatch.setenv("GHOSTLESS_INSTANCE_DIR", str(rt.settings.instance_dir))
    monkeypatch.delenv("GHOSTLESS_ENCRYPTION_KEYS", raising=False)

    def invoke(*args: str, secret_key: str, previous: str = ""):
        monkeypatch.setenv("GHOSTLESS_SECRET_KEY", secret_key)
        monkeypatch.setenv("GHOSTLESS_PREVIOUS_SECRET_KEYS", previous)
        result = CliRunner().invoke(main, list(args))
        runtime.install(rt)  # the command installed (and closed) its own runtime
        return result

    return invoke


def stored(rt) -> dict[str, tuple[str | None, str | None, str | None]]:
    with rt.db.session() as session:
        return {row.id: (row.signing_secret, row.previous_signing_secret, row.credentials)
                for row in session.scalars(select(AtsConnection))}


@pytest.fixture
def two_connections(rt, org):
    """Two connections whose secrets were sealed under the suite's key (the one being rotated away)."""
    connect(org, "greenhouse", signing_secret="gh-signing-secret", credentials={"access_token": "harvest-token"})
    connect(org, "ashby", signing_secret="ashby-signing-secret")
    return stored(rt)


def test_rotate_reencrypts_so_the_old_key_can_be_removed(rt, cli, two_connections):
    old = rt.settings.secret_key
    result = cli("secrets", "rotate", secret_key=NEW, previous=old)
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 3 secret(s) in 2 connection(s); 0 already used the current key." in result.output
    assert result.output.count("re-encrypted, 0 already current") == 2  # a line of progress per connection

    after = stored(rt)
    assert after.keys() == two_connections.keys()
    without_old = SecretBox(Settings(secret_key=NEW))
    opened = sorted(without_old.open(value) for row in after.values() for value in row if value)
    assert opened == sorted(['{"access_token": "harvest-token"}', "ashby-signing-secret", "gh-signing-secret"])

    again = cli("secrets", "rotate", secret_key=NEW, previous=old)
    assert again.exit_code == 0, again.output
    assert "Re-encrypted 0 secret(s) in 2 connection(s); 3 already used the current key." in again.output
    assert stored(rt) == after  # idempotent: nothing rewritten


def test_ats_rekey_is_the_same_command(rt, cli, two_connections):
    result = cli("ats", "rekey", secret_key=NEW, previous=rt.settings.secret_key)
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 3 secret(s) in 2 connection(s)" in result.output
    assert all(SecretBox(Settings(secret_key=NEW)).uses_current_key(value)
               for row in stored(rt).values() for value in row if value)


def test_rotate_refuses_and_changes_nothing_when_a_stored_secret_cannot_be_decrypted(rt, cli, two_connections):
    with rt.db.session() as session:
        row = session.scalars(select(AtsConnection).where(AtsConnection.provider == "ashby")).one()
        row.previous_signing_secret = SecretBox(Settings(secret_key=STRANGER)).seal("from-another-install")
        unreadable_id = row.id
    before = stored(rt)

    result = cli("secrets", "rotate", secret_key=NEW, previous=rt.settings.secret_key)
    assert result.exit_code == 1
    assert "1 stored ATS secret(s) cannot be decrypted with any configured key" in result.output
    assert f"{unreadable_id} previous_signing_secret" in result.output and "Nothing was changed" in result.output
    assert "GHOSTLESS_PREVIOUS_SECRET_KEYS" in result.output
    assert stored(rt) == before  # the readable connection was not rotated either

    forgot_the_old_key = cli("secrets", "rotate", secret_key=NEW)
    assert forgot_the_old_key.exit_code == 1 and "4 stored ATS secret(s) cannot be decrypted" in forgot_the_old_key.output
    assert stored(rt) == before
