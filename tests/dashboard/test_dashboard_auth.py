"""Sign-in and security of the dashboard, through the real pages and the Flask test client.

Covers: sign-in (letter case, generic failures), throttling per address and per client on the frozen
clock, CSRF on every kind of form, session cookie flags, sign-out and forced sign-out (password changed,
user disabled), open redirects, sign-in required everywhere, invitations, roles, organisations, and
`ghostless user create`.
"""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from conftest import Org
from dashboard_support import PASSWORD, add_user, csrf_token, sign_in, submit
from sqlalchemy import select
from werkzeug.serving import make_server

from plugin import clock as clock_module
from plugin import create_app, runtime
from plugin.accounts.users import hash_password, invite_user, verify_password
from plugin.dashboard.throttle import Throttle
from plugin.db import Database
from plugin.models import Organization, Role, User

SIGN_IN = "/dashboard/sign-in"
GENERIC = "That email address and password do not match an account."


@pytest.fixture
def admin(rt: Any, org: Org) -> int:
    return add_user(rt, org.id, "boss@acme.example", "admin")


def signed_in(client: Any) -> bool:
    """True when the client's session is a signed-in one (an unauthenticated page request redirects)."""
    response = client.get("/dashboard/users")
    assert response.status_code in (200, 302, 403), response.status_code
    return response.status_code != 302


def attempt(client: Any, email: str, password: str, **kwargs: Any) -> Any:
    """One sign-in through the form, with a fresh CSRF token from the sign-in page."""
    page = client.get(SIGN_IN, **kwargs)
    return client.post(SIGN_IN, data={"email": email, "password": password,
                                      "csrf_token": csrf_token(page.get_data(as_text=True))}, **kwargs)


def error_of(response: Any) -> str:
    found = re.search(r'<p class="error-summary" role="alert" id="sign-in-error">([^<]+)</p>',
                      response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)[:2000]
    return found.group(1)


# -- signing in ------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["boss@acme.example", "BOSS@ACME.EXAMPLE", "Boss@Acme.Example",
                                   "  boss@acme.example  "])
def test_sign_in_with_any_letter_case(rt, client, admin, typed):
    response = sign_in(client, typed)
    assert response.headers["Location"] == "/dashboard/"
    assert signed_in(client)
    with rt.db.session() as session:
        assert session.get(User, admin).last_sign_in_at == clock_module.now()


def test_an_address_stored_with_capitals_signs_in_in_lower_case(rt, org, client):
    add_user(rt, org.id, "Grace.Hopper@Acme.example", "viewer")
    sign_in(client, "grace.hopper@acme.example")
    assert signed_in(client)


def test_wrong_password_and_unknown_address_look_the_same(rt, client, admin):
    wrong_password = attempt(client, "boss@acme.example", "not the password at all")
    unknown = attempt(client, "nobody@acme.example", PASSWORD)
    assert wrong_password.status_code == unknown.status_code == 401
    assert error_of(wrong_password) == error_of(unknown) == GENERIC
    assert not signed_in(client)


def test_an_invited_user_without_a_password_cannot_sign_in(rt, org, client):
    with rt.db.session() as session:
        invite_user(session, session.get(Organization, org.id), "new@acme.example", Role.VIEWER,
                    now=clock_module.now(), invited_by="test")
        session.commit()
    response = attempt(client, "new@acme.example", "")
    assert response.status_code == 400  # empty password: asked to fill in the form, nothing verified
    response = attempt(client, "new@acme.example", PASSWORD)
    assert response.status_code == 401 and error_of(response) == GENERIC


def test_the_signed_in_page_redirect_and_sign_in_page_when_signed_in(rt, client, admin):
    sign_in(client, "boss@acme.example")
    response = client.get(SIGN_IN)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"


# -- throttling ------------------------------------------------------------------------------------


def test_five_failures_lock_the_address_for_fifteen_minutes(rt, client, clock, admin):
    for _ in range(5):
        assert attempt(client, "boss@acme.example", "wrong password!!").status_code == 401
    locked = attempt(client, "Boss@Acme.example", PASSWORD)  # the right password, another letter case
    assert locked.status_code == 429
    assert "Wait 15 minutes" in error_of(locked)
    assert not signed_in(client)

    clock.advance(timedelta(minutes=10))
    still = attempt(client, "boss@acme.example", PASSWORD)
    assert still.status_code == 429 and "Wait 5 minutes" in error_of(still)

    clock.advance(timedelta(minutes=5))  # 15 minutes after the failures
    assert attempt(client, "boss@acme.example", PASSWORD).status_code == 302
    assert signed_in(client)


def test_a_locked_address_is_locked_for_every_client(rt, app, client, admin):
    for _ in range(5):
        attempt(client, "boss@acme.example", "wrong password!!")
    elsewhere = app.test_client()
    response = attempt(elsewhere, "boss@acme.example", PASSWORD, environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert response.status_code == 429


def test_a_client_guessing_many_addresses_is_throttled(rt, app, client, admin):
    guesser = app.test_client()
    there = {"environ_base": {"REMOTE_ADDR": "203.0.113.7"}}
    for number in range(20):
        assert attempt(guesser, f"guess{number}@acme.example", "whatever password", **there).status_code == 401
    response = attempt(guesser, "boss@acme.example", PASSWORD, **there)
    assert response.status_code == 429 and "Wait 15 minutes" in error_of(response)
    # The address itself is not locked: the real user, from their own machine, still gets in.
    assert attempt(client, "boss@acme.example", PASSWORD).status_code == 302


def test_a_success_resets_the_address_counter(rt, client, app, admin):
    for _ in range(4):
        attempt(client, "boss@acme.example", "wrong password!!")
    assert attempt(client, "boss@acme.example", PASSWORD).status_code == 302
    other = app.test_client()
    for _ in range(4):
        assert attempt(other, "boss@acme.example", "wrong password!!").status_code == 401
    assert attempt(other, "boss@acme.example", PASSWORD).status_code == 302  # 8 failures in all, 4 since success


def test_successful_sign_ins_do_not_count_against_the_client(rt, app, admin):
    """Colleagues behind one office address sign in all day: only failures use up the client's 20."""
    office = {"environ_base": {"REMOTE_ADDR": "192.0.2.44"}}
    for _ in range(20):
        assert attempt(app.test_client(), "boss@acme.example", PASSWORD, **office).status_code == 302
    assert attempt(app.test_client(), "someone@acme.example", "a wrong password", **office).status_code == 401


def test_parallel_wrong_passwords_are_checked_no_more_than_the_limit(rt, app, clock, admin):
    """Twelve wrong passwords at once, over real HTTP from twelve threads: only five are checked (401,
    counted by the throttle), the rest are refused unchecked (429); then the right one is refused too."""
    storm = 12
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        browsers = []
        for _ in range(storm):
            browser = requests.Session()
            browser.trust_env = False  # straight to 127.0.0.1, whatever proxy the machine has
            browsers.append((browser, csrf_token(browser.get(base + SIGN_IN).text)))
        start = threading.Barrier(storm)

        def guess(browser_and_token: tuple[requests.Session, str]) -> int:
            browser, token = browser_and_token
            start.wait()
            return browser.post(base + SIGN_IN, allow_redirects=False, data={
                "email": "boss@acme.example", "password": "a wrong password", "csrf_token": token}).status_code

        with ThreadPoolExecutor(storm) as pool:
            answers = sorted(pool.map(guess, browsers))
        assert answers == [401] * 5 + [429] * (storm - 5)
        assert Throttle(rt.redis, clock.now()).attempts("boss@acme.example") == 5

        browser, token = browsers[0]
        token = csrf_token(browser.get(base + SIGN_IN).text)
        locked = browser.post(base + SIGN_IN, allow_redirects=False, data={
            "email": "boss@acme.example", "password": PASSWORD, "csrf_token": token})
        assert locked.status_code == 429
        assert ("Too many failed sign-ins. Wait 15 minutes and try again, or ask an administrator to check your "
                "account.") in locked.text
    finally:
        server.shutdown()
    with rt.db.session() as session:
        assert session.get(User, admin).last_sign_in_at is None


# -- CSRF ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_sign_in_without_a_valid_csrf_token_is_refused(rt, client, admin, token):
    client.get(SIGN_IN)  # the session holds a real token; the form does not send it
    data = {"email": "boss@acme.example", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = client.post(SIGN_IN, data=data)
    assert response.status_code == 400
    assert "This form expired or did not come from this site" in response.get_data(as_text=True)
    assert not signed_in(client)
    with rt.db.session() as session:
        assert session.get(User, admin).last_sign_in_at is None


def test_a_token_from_another_session_is_refused(rt, app, client, admin):
    other = app.test_client()
    foreign = csrf_token(other.get(SIGN_IN).get_data(as_text=True))
    client.get(SIGN_IN)
    response = client.post(SIGN_IN, data={"email": "boss@acme.example", "password": PASSWORD,
                                          "csrf_token": foreign})
    assert response.status_code == 400 and not signed_in(client)


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_sign_out_and_invite_without_a_valid_token_change_nothing(rt, org, client, admin, token):
    sign_in(client, "boss@acme.example")
    data: dict[str, str] = {} if token is None else {"csrf_token": token}
    assert client.post("/dashboard/sign-out", data=data).status_code == 400
    assert signed_in(client)
    response = client.post("/dashboard/users/invite", data={**data, "email": "new@acme.example", "role": "admin"})
    assert response.status_code == 400
    with rt.db.session() as session:
        assert session.scalar(select(User).where(User.email == "new@acme.example")) is None


# -- the session cookie ----------------------------------------------------------------------------


def session_cookie_header(response: Any) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("ghostless_session=")]
    return header


def test_over_https_the_session_cookie_is_secure_httponly_and_lax(rt, admin):
    rt.settings = rt.settings.with_overrides(base_url="https://ghostless.example")
    app = create_app(runtime=rt)
    client = app.test_client()
    https = {"base_url": "https://ghostless.example"}
    response = attempt(client, "boss@acme.example", PASSWORD, **https)
    assert response.status_code == 302
    flags = [part.strip().lower() for part in session_cookie_header(response).split(";")]
    assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags
    assert client.get("/dashboard/users", **https).status_code == 200


def test_over_plain_http_the_cookie_is_still_httponly_and_lax(rt, client, admin):
    response = attempt(client, "boss@acme.example", PASSWORD)
    flags = [part.strip().lower() for part in session_cookie_header(response).split(";")]
    assert "httponly" in flags and "samesite=lax" in flags
    assert "secure" not in flags  # a local http:// install could not keep a Secure cookie


def test_pages_are_not_cached_and_carry_a_strict_csp(rt, client, admin):
    sign_in(client, "boss@acme.example")
    response = client.get("/dashboard/users")
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self' 'nonce-" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


# -- ending sessions -------------------------------------------------------------------------------


def test_sign_out_ends_the_session(rt, client, admin):
    sign_in(client, "boss@acme.example")
    response = submit(client, "/dashboard/users", "/dashboard/sign-out", {}, expect=302)
    assert response.headers["Location"] == SIGN_IN
    assert not signed_in(client)
    assert "You are signed out." in client.get(SIGN_IN).get_data(as_text=True)


def test_a_copied_cookie_does_not_outlive_sign_out(rt, app, client, admin):
    sign_in(client, "boss@acme.example")
    stolen = client.get_cookie("ghostless_session").value
    submit(client, "/dashboard/users", "/dashboard/sign-out", {}, expect=302)
    thief = app.test_client()
    thief.set_cookie("ghostless_session", stolen)
    assert not signed_in(thief)


def test_a_changed_password_ends_existing_sessions(rt, app, client, admin):
    sign_in(client, "boss@acme.example")
    assert signed_in(client)
    with rt.db.session() as session:
        session.get(User, admin).password_hash = hash_password("a brand new long password")
        session.commit()
    assert not signed_in(client)
    sign_in(client, "boss@acme.example", expect=401)
    sign_in(client, "boss@acme.example", password="a brand new long password")
    assert signed_in(client)


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(rt, client, admin, clock):
    sign_in(client, "boss@acme.example")
    with rt.db.session() as session:
        session.get(User, admin).disabled_at = clock.now()
        session.commit()
    assert not signed_in(client)
    response = attempt(client, "boss@acme.example", PASSWORD)
    assert response.status_code == 401 and error_of(response) == GENERIC  # does not reveal the account exists


# -- redirects after sign-in -----------------------------------------------------------------------


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/\\evil.example",
                                    "https:evil.example", "javascript:alert(1)", "/api/v1/events", "evil.example"])
def test_next_never_leaves_the_dashboard(rt, client, admin, target):
    page = client.get(SIGN_IN, query_string={"next": target})
    response = client.post(SIGN_IN, query_string={"next": target},
                           data={"email": "boss@acme.example", "password": PASSWORD,
                                 "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    again = client.get(SIGN_IN, query_string={"next": target})  # already signed in
    assert again.headers["Location"] == "/dashboard/"


def test_next_within_the_dashboard_is_followed(rt, client, admin):
    first = client.get("/dashboard/users")
    assert first.status_code == 302
    login_url = first.headers["Location"]
    assert login_url.startswith("/dashboard/sign-in?next=")
    page = client.get(login_url)
    response = client.post(login_url, data={"email": "boss@acme.example", "password": PASSWORD,
                                            "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.headers["Location"] == "/dashboard/users"


def dashboard_rules(app: Any) -> list[Any]:
    public = {"dashboard.sign_in", "dashboard.accept_invitation", "dashboard.static"}
    return [rule for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("dashboard.") and rule.endpoint not in public]


def concrete(rule: Any) -> str:
    """The rule's URL with a plausible value for each variable (1 for <int:...>, "x" otherwise)."""
    return re.sub(r"<(?:([^:<>]+):)?([^<>]+)>", lambda m: "1" if m.group(1) == "int" else "x", rule.rule)


def test_every_dashboard_page_needs_sign_in(rt, app, client, admin):
    rules = dashboard_rules(app)
    assert {"dashboard.overview", "dashboard.users", "dashboard.settings", "dashboard.compliance",
            "dashboard.applications", "dashboard.outbox", "dashboard.user_detail"} <= {r.endpoint for r in rules}
    token = csrf_token(client.get(SIGN_IN).get_data(as_text=True))  # an anonymous session's valid token
    for rule in rules:
        url = concrete(rule)
        if "GET" in rule.methods:
            response = client.get(url)
            assert response.status_code == 302, (url, response.status_code)
            assert response.headers["Location"].startswith("/dashboard/sign-in?next="), url
        if "POST" in rule.methods and rule.endpoint != "dashboard.sign_out":
            response = client.post(url, data={"csrf_token": token})
            assert response.status_code == 302, (url, response.status_code)
            assert response.headers["Location"].startswith("/dashboard/sign-in"), url


# -- invitations -----------------------------------------------------------------------------------


def invite_through_page(client: Any, email: str, role: str = "manager") -> str:
    response = submit(client, "/dashboard/users", "/dashboard/users/invite",
                      {"email": email, "role": role, "departments": "Engineering"}, expect=200)
    found = re.search(r"/dashboard/invitations/([A-Za-z0-9_-]+)", response.get_data(as_text=True))
    assert found
    return found.group(1)


def accept(client: Any, token: str, password: str, confirm: str | None = None, name: str = "Nia New") -> Any:
    page = client.get(f"/dashboard/invitations/{token}")
    assert page.status_code == 200, page.status_code
    return client.post(f"/dashboard/invitations/{token}",
                       data={"password": password, "password_confirm": password if confirm is None else confirm,
                             "name": name, "csrf_token": csrf_token(page.get_data(as_text=True))})


def test_invitation_accept_flow(rt, app, client, org, admin):
    sign_in(client, "boss@acme.example")
    token = invite_through_page(client, "nia@acme.example")
    newcomer = app.test_client()

    differ = accept(newcomer, token, PASSWORD, confirm=PASSWORD + "!")
    assert differ.status_code == 400
    assert 'id="password_confirm-error">The two passwords are not the same.' in differ.get_data(as_text=True)
    short = accept(newcomer, token, "short pw")
    assert short.status_code == 400
    assert 'id="password-error">Use at least 12 characters.' in short.get_data(as_text=True)
    with rt.db.session() as session:
        assert session.scalar(select(User).where(User.email == "nia@acme.example")).password_hash is None

    done = accept(newcomer, token, PASSWORD)
    assert done.status_code == 302 and done.headers["Location"] == SIGN_IN
    assert newcomer.get(f"/dashboard/invitations/{token}").status_code == 404  # used up
    sign_in(newcomer, "NIA@acme.example")
    assert newcomer.get("/dashboard/users").status_code == 403  # signed in, as a manager
    with rt.db.session() as session:
        nia = session.scalar(select(User).where(User.email == "nia@acme.example"))
        assert nia.name == "Nia New" and nia.role == Role.MANAGER and nia.departments == ["Engineering"]
        assert nia.invite_token_hash is None


def test_an_invitation_expires_after_seven_days(rt, app, client, clock, admin):
    sign_in(client, "boss@acme.example")
    token = invite_through_page(client, "nia@acme.example")
    newcomer = app.test_client()
    clock.advance(timedelta(days=7))
    assert newcomer.get(f"/dashboard/invitations/{token}").status_code == 200  # the last moment
    clock.advance(timedelta(seconds=1))
    expired = newcomer.get(f"/dashboard/invitations/{token}")
    assert expired.status_code == 404 and "not valid or has expired" in expired.get_data(as_text=True)
    assert newcomer.get("/dashboard/invitations/not-a-real-token").status_code == 404


# -- roles and organisations -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "viewer"])
@pytest.mark.parametrize("path", ["/dashboard/settings", "/dashboard/users"])
def test_managers_and_viewers_may_not_configure(rt, org, client, role, path):
    add_user(rt, org.id, f"{role}@acme.example", role, departments=["Engineering"] if role == "manager" else ())
    sign_in(client, f"{role}@acme.example")
    response = client.get(path)
    assert response.status_code == 403
    assert "Not allowed" in response.get_data(as_text=True)


def test_an_admin_of_another_organisation_gets_404_for_our_users(rt, app, client, org, admin):
    other = Org(rt, client, name="Other")
    add_user(rt, other.id, "admin@other.example", "admin")
    outsider = app.test_client()
    sign_in(outsider, "admin@other.example")
    token = csrf_token(outsider.get("/dashboard/users").get_data(as_text=True))
    assert "boss@acme.example" not in outsider.get("/dashboard/users").get_data(as_text=True)
    assert outsider.get(f"/dashboard/users/{admin}").status_code == 404
    for action in ("role", "disable", "enable", "invitation"):
        assert outsider.post(f"/dashboard/users/{admin}/{action}",
                             data={"role": "viewer", "csrf_token": token}).status_code == 404
    with rt.db.session() as session:
        boss = session.get(User, admin)
        assert boss.role == Role.ADMIN and boss.disabled_at is None


# -- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`ghostless` on its own embedded instance (a SQLite file), like tests/cli/test_cli.py."""
    from plugin.cli import main

    for name in list(os.environ):
        if name.startswith("GHOSTLESS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    instance = tmp_path / "inst"
    monkeypatch.setenv("GHOSTLESS_INSTANCE_DIR", str(instance))
    previous_clock = clock_module.current()
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    invoke.instance = instance  # type: ignore[attr-defined]
    yield invoke
    clock_module.install(previous_clock)
    runtime.install(None)


def cli_users(instance: Path) -> dict[str, User]:
    database = Database(f"sqlite:///{instance / 'ghostless.db'}")
    try:
        with database.session() as session:
            rows = session.scalars(select(User)).all()
            session.expunge_all()
            return {user.email: user for user in rows}
    finally:
        database.dispose()


def test_cli_user_create_with_password_stdin_and_invite(cli):
    created = cli("org", "create", "Acme", "--timezone", "America/New_York", "--country", "US")
    assert created.exit_code == 0, created.output

    result = cli("user", "create", "Boss@ACME.example", "--org", "acme", "--role", "admin", "--name", "Bea",
                 "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "User Boss@acme.example (admin) in Acme." in result.output
    assert PASSWORD not in result.output

    invited = cli("user", "create", "mia@acme.example", "--org", "Acme", "--role", "manager",
                  "--department", "Engineering", "--department", "Sales", "--invite")
    assert invited.exit_code == 0, invited.output
    link = re.search(r"Invitation link \(valid 7 days, shown once\): (http://127\.0\.0\.1:5000/dashboard/"
                     r"invitations/[A-Za-z0-9_-]{40,})$", invited.output, re.M)
    assert link, invited.output

    users = cli_users(cli.instance)
    assert verify_password(users["Boss@acme.example"], PASSWORD)
    assert users["Boss@acme.example"].name == "Bea" and users["Boss@acme.example"].role == Role.ADMIN
    mia = users["mia@acme.example"]
    assert mia.password_hash is None and mia.departments == ["Engineering", "Sales"] and mia.invited_by == "cli"


def test_cli_user_create_refusals(cli):
    cli("org", "create", "Acme", "--timezone", "America/New_York", "--country", "US")
    assert cli("user", "create", "boss@acme.example", "--org", "Acme", "--role", "admin", "--password-stdin",
               input=PASSWORD + "\n").exit_code == 0

    duplicate = cli("user", "create", "BOSS@acme.example", "--org", "Acme", "--role", "viewer", "--invite")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output

    unknown_org = cli("user", "create", "x@acme.example", "--org", "Nowhere Inc", "--role", "viewer", "--invite")
    assert unknown_org.exit_code == 1 and "No organisation with the id or name 'Nowhere Inc'" in unknown_org.output

    unknown_role = cli("user", "create", "y@acme.example", "--org", "Acme", "--role", "owner", "--invite")
    assert unknown_role.exit_code == 2 and "Invalid value for '--role'" in unknown_role.output

    short = cli("user", "create", "z@acme.example", "--org", "Acme", "--role", "viewer", "--password-stdin",
                input="too short\n")
    assert short.exit_code == 1 and "Use at least 12 characters" in short.output

    bad = cli("user", "create", "not-an-address", "--org", "Acme", "--role", "viewer", "--invite")
    assert bad.exit_code == 1 and "is not an email address" in bad.output

    both = cli("user", "create", "b@acme.example", "--org", "Acme", "--role", "viewer", "--invite",
               "--password-stdin", input=PASSWORD + "\n")
    assert both.exit_code == 2 and "not both" in both.output

    departments = cli("user", "create", "d@acme.example", "--org", "Acme", "--role", "admin", "--department", "Sales",
                      "--invite")
    assert departments.exit_code == 2 and "only applies to managers" in departments.output

    assert set(cli_users(cli.instance)) == {"boss@acme.example"}
