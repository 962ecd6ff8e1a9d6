"""One address, accounts in several organisations (issue 13, item 5).

An address is unique within an organisation only: inviting an address that has an account elsewhere
works and answers exactly as for a new address; each account has its own password and signs in to
its own organisation; when one password matches several accounts, the person picks the organisation.
Also: migration 0006 relaxes the index on a database that already holds users, and the CLI.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from conftest import Org
from dashboard_support import PASSWORD, add_user, csrf_token, sign_in, submit
from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.exc import IntegrityError
from test_dashboard_auth import accept, attempt, cli, cli_users, error_of, invite_through_page  # noqa: F401

from plugin.accounts.users import hash_password
from plugin.db import Database
from plugin.migrate import alembic_config, upgrade
from plugin.models import User
from plugin.settings import normalize_database_url

SIGN_IN = "/dashboard/sign-in"
SHARED = "pat@shared.example"
OTHER_PASSWORD = "another long password for B"


@pytest.fixture
def two_orgs(rt: Any, app: Any, client: Any) -> dict[str, Any]:
    """Acme and Beta, each with an admin signed in on its own client."""
    acme, beta = Org(rt, client, name="Acme"), Org(rt, client, name="Beta")
    add_user(rt, acme.id, "boss@acme.example", "admin")
    add_user(rt, beta.id, "boss@beta.example", "admin")
    acme_admin, beta_admin = app.test_client(), app.test_client()
    sign_in(acme_admin, "boss@acme.example")
    sign_in(beta_admin, "boss@beta.example")
    return {"acme": acme, "beta": beta, "acme_admin": acme_admin, "beta_admin": beta_admin}


def account(rt: Any, org_id: str, email: str) -> User:
    with rt.db.session() as session:
        user = session.scalar(select(User).where(User.org_id == org_id, User.email == email))
        assert user is not None
        session.expunge(user)
        return user


def organisation_shown(client: Any) -> str:
    found = re.search(r'<span class="brand-org">([^<]+)</span>', client.get("/dashboard/").get_data(as_text=True))
    assert found, "not signed in"
    return found.group(1)


def both_accept(rt: Any, app: Any, orgs: dict[str, Any], password_b: str) -> None:
    acme_token = invite_through_page(orgs["acme_admin"], SHARED)
    beta_token = invite_through_page(orgs["beta_admin"], SHARED)
    welcome = app.test_client().get(f"/dashboard/invitations/{beta_token}").get_data(as_text=True)
    assert f"You were invited to Beta as manager with the address {SHARED}." in welcome  # which one it is
    assert accept(app.test_client(), acme_token, PASSWORD).status_code == 302
    assert accept(app.test_client(), beta_token, password_b).status_code == 302


def test_same_address_in_two_organisations_each_signs_in_to_its_own(rt, app, two_orgs, clock):
    both_accept(rt, app, two_orgs, OTHER_PASSWORD)

    in_acme, in_beta = app.test_client(), app.test_client()
    sign_in(in_acme, "Pat@Shared.example")
    sign_in(in_beta, SHARED, password=OTHER_PASSWORD)
    assert organisation_shown(in_acme) == "Acme" and organisation_shown(in_beta) == "Beta"
    assert account(rt, two_orgs["acme"].id, SHARED).last_sign_in_at == clock.now()
    assert account(rt, two_orgs["beta"].id, SHARED).last_sign_in_at == clock.now()
    # Neither password opens the other organisation's account: a wrong one is the generic failure.
    wrong = attempt(app.test_client(), SHARED, "neither of the two passwords")
    assert wrong.status_code == 401 and error_of(wrong) == "That email address and password do not match an account."


def choose(client: Any, page: Any, account_id: int | str) -> Any:
    return client.post(SIGN_IN, data={"account": str(account_id), "csrf_token": csrf_token(page.get_data(as_text=True))})


def offered(page: Any) -> dict[str, str]:
    """Organisation name -> account id, from the buttons of the picker."""
    return {name: value for value, name in re.findall(
        r'<button type="submit" class="button" name="account" value="(\d+)">Sign in to ([^<]+)</button>',
        page.get_data(as_text=True))}


def test_one_password_for_both_accounts_asks_which_organisation(rt, app, two_orgs, clock):
    both_accept(rt, app, two_orgs, PASSWORD)
    person = app.test_client()
    picker = attempt(person, SHARED, PASSWORD)
    assert picker.status_code == 200 and "Choose an organisation" in picker.get_data(as_text=True)
    beta_account = account(rt, two_orgs["beta"].id, SHARED).id
    assert offered(picker) == {"Acme": str(account(rt, two_orgs["acme"].id, SHARED).id), "Beta": str(beta_account)}
    assert person.get("/dashboard/").status_code == 302  # not signed in before choosing

    chosen = choose(person, picker, beta_account)
    assert chosen.status_code == 302 and chosen.headers["Location"] == "/dashboard/"
    assert organisation_shown(person) == "Beta"
    assert account(rt, two_orgs["acme"].id, SHARED).last_sign_in_at is None


def test_the_picker_offers_only_the_accounts_just_verified_and_only_for_five_minutes(rt, app, two_orgs, clock):
    both_accept(rt, app, two_orgs, PASSWORD)
    person = app.test_client()
    picker = attempt(person, SHARED, PASSWORD)
    acme_admin_id = account(rt, two_orgs["acme"].id, "boss@acme.example").id
    refused = choose(person, picker, acme_admin_id)  # an account whose password was not given
    assert refused.status_code == 302 and refused.headers["Location"].startswith(SIGN_IN)
    assert person.get("/dashboard/").status_code == 302

    picker = attempt(person, SHARED, PASSWORD)
    clock.advance(timedelta(minutes=5, seconds=1))
    late = choose(person, picker, offered(picker)["Acme"])
    assert late.status_code == 302 and person.get("/dashboard/").status_code == 302
    assert "That sign-in took too long. Sign in again." in person.get(SIGN_IN).get_data(as_text=True)

    picker = attempt(person, SHARED, PASSWORD)
    with rt.db.session() as session:  # the password changed after it was checked: that choice is gone
        session.get(User, int(offered(picker)["Beta"])).password_hash = hash_password(OTHER_PASSWORD)
        session.commit()
    changed = choose(person, picker, offered(picker)["Beta"])
    assert changed.status_code == 302 and person.get("/dashboard/").status_code == 302

    fresh = app.test_client()  # a choice without a verified password behind it is no choice at all
    page = fresh.get(SIGN_IN)
    assert choose(fresh, page, offered(picker)["Acme"]).status_code == 302
    assert fresh.get("/dashboard/").status_code == 302


def test_the_throttle_counts_per_address_across_organisations(rt, app, two_orgs):
    both_accept(rt, app, two_orgs, OTHER_PASSWORD)
    guesser = app.test_client()
    for _ in range(5):
        assert attempt(guesser, SHARED, "a wrong password guess").status_code == 401
    for password in (PASSWORD, OTHER_PASSWORD):  # neither organisation's account lets the address in now
        assert attempt(app.test_client(), SHARED, password).status_code == 429


def normalized(html: str, email: str) -> str:
    html = html.replace(email, "ADDRESS")
    html = re.sub(r"/dashboard/invitations/[A-Za-z0-9_-]+", "/dashboard/invitations/TOKEN", html)
    html = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value="CSRF"', html)
    return re.sub(r'nonce="[^"]+"', 'nonce="NONCE"', html)


def test_inviting_another_organisations_address_answers_as_for_a_new_address(rt, app, two_orgs):
    beta_admin = two_orgs["beta_admin"]
    add_user(rt, two_orgs["acme"].id, SHARED, "viewer")
    answers = {}
    for email in (SHARED, "nobody.yet@new.example"):
        response = submit(beta_admin, "/dashboard/users", "/dashboard/users/invite",
                          {"email": email, "role": "viewer", "departments": ""})
        answers[email] = (response.status_code, normalized(response.get_data(as_text=True), email))
    assert answers[SHARED][0] == 200
    assert answers[SHARED] == answers["nobody.yet@new.example"]
    assert account(rt, two_orgs["beta"].id, SHARED).invite_token_hash is not None
    assert account(rt, two_orgs["acme"].id, SHARED).invite_token_hash is None  # A's account is untouched

    # Within one organisation the address is still taken, in any letter case.
    again = submit(beta_admin, "/dashboard/users", "/dashboard/users/invite",
                   {"email": "PAT@shared.example", "role": "viewer", "departments": ""}, expect=400)
    assert "already exists in this organisation" in again.get_data(as_text=True)


# -- the CLI -------------------------------------------------------------------------------------------


def test_cli_creates_the_same_address_in_two_organisations(cli):  # noqa: F811
    for name in ("Acme", "Beta"):
        assert cli("org", "create", name, "--timezone", "America/New_York", "--country", "US").exit_code == 0
    for name in ("Acme", "Beta"):
        made = cli("user", "create", SHARED, "--org", name, "--role", "viewer", "--password-stdin",
                   input=PASSWORD + "\n")
        assert made.exit_code == 0 and f"User {SHARED} (viewer) in {name}." in made.output, made.output
    twice = cli("user", "create", "Pat@SHARED.example", "--org", "Beta", "--role", "viewer", "--invite")
    assert twice.exit_code == 1 and "already exists in this organisation" in twice.output
    assert list(cli_users(cli.instance)) == [SHARED]  # keyed by address: both rows share it


# -- migration 0006 --------------------------------------------------------------------------------------


@pytest.fixture
def scratch_database(tmp_path: Path) -> Any:
    """An empty database beside the test one: a SQLite file, or `<test database>_migration` on PostgreSQL."""
    url = os.environ.get("GHOSTLESS_DATABASE_URL")
    if not url:
        database = Database(f"sqlite:///{tmp_path / 'migration.db'}")
        yield database
        database.dispose()
        return
    base = make_url(normalize_database_url(url))
    own = base.set(database=f"{base.database}_migration")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{own.database}"'))
        conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    database = Database(own.render_as_string(hide_password=False))
    yield database
    database.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{own.database}"'))
    admin.dispose()


def insert_user(database: Database, user_id: int, org_id: str, email: str) -> None:
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, org_id, email, role, password_hash, created_at) "
                          "VALUES (:id, :org, :email, 'admin', 'hash', '2026-11-02 14:00:00')"),
                     {"id": user_id, "org": org_id, "email": email})


def downgrade(database: Database, revision: str) -> None:
    config = alembic_config(database)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_migration_0006_keeps_users_and_lets_an_address_into_a_second_organisation(scratch_database):
    database = scratch_database
    upgrade(database, "0005")
    with database.engine.begin() as conn:
        for org_id, name in (("org-a", "Acme"), ("org-b", "Beta")):
            conn.execute(text("INSERT INTO organizations (id, name, timezone, working_weekdays, policy, created_at) "
                              "VALUES (:id, :name, 'America/New_York', '0,1,2,3,4', '{}', '2026-11-02 14:00:00')"),
                         {"id": org_id, "name": name})
    insert_user(database, 1, "org-a", "Pat@Shared.example")
    insert_user(database, 2, "org-b", "boss@beta.example")
    with pytest.raises(IntegrityError):  # before: one account per address in the whole installation
        insert_user(database, 3, "org-b", "pat@shared.example")

    upgrade(database, "0006")
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT id, org_id, email FROM users ORDER BY id")).all() == [
            (1, "org-a", "Pat@Shared.example"), (2, "org-b", "boss@beta.example")]
    insert_user(database, 3, "org-b", "pat@shared.example")
    with pytest.raises(IntegrityError):  # still one per address within an organisation, any letter case
        insert_user(database, 4, "org-a", "PAT@shared.example")

    with pytest.raises(RuntimeError, match=r"1 address\(es\) have accounts in several organisations "
                                           r"\(pat@shared\.example\)"):
        downgrade(database, "0005")
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE id = 3"))
    downgrade(database, "0005")
    with pytest.raises(IntegrityError):
        insert_user(database, 3, "org-b", "pat@shared.example")
