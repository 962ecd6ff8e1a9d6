"""The admin's user management page: list, invite, change role, disable, renew invitations, audit."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from conftest import Org
from dashboard_support import PASSWORD, add_user, csrf_token, sign_in, submit
from sqlalchemy import select

from plugin.models import AuditEntry, Role, User

LINK = re.compile(r'value="(https?://[^"]+/dashboard/invitations/([A-Za-z0-9_-]+))"')


@pytest.fixture
def admin(rt: Any, org: Org, client: Any) -> int:
    user_id = add_user(rt, org.id, "boss@acme.example", "admin", name="Bea Boss")
    sign_in(client, "boss@acme.example")
    return user_id


def users_of(rt: Any, org_id: str) -> dict[str, User]:
    with rt.db.session() as session:
        rows = session.scalars(select(User).where(User.org_id == org_id)).all()
        session.expunge_all()
        return {user.email: user for user in rows}


def audit_entries(rt: Any, action: str | None = None) -> list[AuditEntry]:
    with rt.db.session() as session:
        query = select(AuditEntry).where(AuditEntry.entity == "user").order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        rows = session.scalars(query).all()
        session.expunge_all()
        return list(rows)


def invite(client: Any, email: str, role: str = "manager", departments: str = "", expect: int = 200) -> Any:
    return submit(client, "/dashboard/users", "/dashboard/users/invite",
                  {"email": email, "role": role, "departments": departments}, expect=expect)


def link_in(response: Any) -> tuple[str, str]:
    found = LINK.search(response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)[:3000]
    return found.group(1), found.group(2)


def post_from_detail(client: Any, user_id: int, action: str, data: dict[str, str] | None = None,
                     expect: int | None = None) -> Any:
    return submit(client, f"/dashboard/users/{user_id}", f"/dashboard/users/{user_id}/{action}", data or {},
                  expect=expect)


# -- the list ----------------------------------------------------------------------------------------


def test_list_shows_every_state_in_the_org_zone(rt, org, client, clock, admin):
    add_user(rt, org.id, "mia@acme.example", "manager", departments=["Engineering", "Sales"], name="Mia Manager")
    sign_in(client.application.test_client(), "mia@acme.example")  # 14:00Z = 09:00 EST
    invite(client, "new@acme.example", "viewer")
    clock.advance(timedelta(days=1))
    invite(client, "late@acme.example", "viewer")
    gone = add_user(rt, org.id, "gone@acme.example", "viewer")
    post_from_detail(client, gone, "disable", expect=302)
    clock.advance(timedelta(days=6, hours=12))  # the first invitation has expired, the second has not

    html = client.get("/dashboard/users").get_data(as_text=True)
    rows = {m.group(1): m.group(2) for m in re.finditer(r'<th scope="row">([^<]+)</th>(.*?)</tr>', html, re.S)}
    assert set(rows) == {"boss@acme.example", "mia@acme.example", "new@acme.example", "late@acme.example",
                         "gone@acme.example"}
    assert "Engineering, Sales" in rows["mia@acme.example"] and "Mia Manager" in rows["mia@acme.example"]
    assert "Mon 2 Nov 2026, 09:00 EST" in rows["mia@acme.example"]  # last sign-in, in New York time
    assert "Last sign-in (America/New_York)" in html
    assert 'data-state="active"' in rows["mia@acme.example"]
    assert 'data-state="invitation_expired"' in rows["new@acme.example"]
    assert "Invitation expired" in rows["new@acme.example"]
    assert 'data-state="invited"' in rows["late@acme.example"]
    # invited Tue 3 Nov 09:00 EST + 7 days
    assert "Invited (pending, expires Tue 10 Nov 2026, 09:00 EST)" in rows["late@acme.example"]
    assert 'data-state="disabled"' in rows["gone@acme.example"] and "Disabled since" in rows["gone@acme.example"]
    assert "never" in rows["late@acme.example"]


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_only_admins_manage_users(rt, org, client, role):
    target = add_user(rt, org.id, "someone@acme.example", "viewer")
    add_user(rt, org.id, f"{role}@acme.example", role)
    sign_in(client, f"{role}@acme.example")
    assert client.get("/dashboard/users").status_code == 403
    assert client.get(f"/dashboard/users/{target}").status_code == 403
    token = csrf_token(client.get("/dashboard/users").get_data(as_text=True))  # the 403 page's sign-out form
    for action, data in [("/dashboard/users/invite", {"email": "x@acme.example", "role": "admin"}),
                         (f"/dashboard/users/{target}/role", {"role": "admin"}),
                         (f"/dashboard/users/{target}/disable", {})]:
        assert client.post(action, data={**data, "csrf_token": token}).status_code == 403
    users = users_of(rt, org.id)
    assert "x@acme.example" not in users
    assert users["someone@acme.example"].role == Role.VIEWER and users["someone@acme.example"].disabled_at is None


def test_the_navigation_offers_users_to_admins_only(rt, org, client, admin):
    assert 'href="/dashboard/users" aria-current="page"' in client.get("/dashboard/users").get_data(as_text=True)
    add_user(rt, org.id, "mia@acme.example", "manager")
    other = client.application.test_client()
    sign_in(other, "mia@acme.example")
    forbidden = other.get("/dashboard/users")
    assert forbidden.status_code == 403
    assert 'href="/dashboard/users"' not in forbidden.get_data(as_text=True)


# -- inviting ----------------------------------------------------------------------------------------


def test_invite_shows_the_link_once_and_it_works(rt, org, client, admin):
    response = invite(client, "Newbie@Acme.EXAMPLE", "manager", departments=" Engineering , Sales,,Engineering ")
    html = response.get_data(as_text=True)
    link, token = link_in(response)
    assert link == f"http://127.0.0.1:5000/dashboard/invitations/{token}"  # settings.base_url
    assert "expires in 7 days, on Mon 9 Nov 2026, 09:00 EST" in html
    assert "only once" in html

    user = users_of(rt, org.id)["Newbie@acme.example"]
    assert user.role == Role.MANAGER and user.departments == ["Engineering", "Sales"]
    assert user.password_hash is None and user.invited_by == "user:boss@acme.example"
    assert token not in client.get("/dashboard/users").get_data(as_text=True)  # never shown again

    [entry] = audit_entries(rt, "invited")
    assert entry.actor == "user:boss@acme.example" and entry.entity_id == str(user.id) and entry.before is None
    assert entry.after["email"] == "Newbie@acme.example" and entry.after["role"] == "manager"
    assert token not in str(entry.after) and user.invite_token_hash not in str(entry.after)

    stranger = client.application.test_client()
    assert stranger.get(f"/dashboard/invitations/{token}").status_code == 200


def test_departments_are_kept_for_managers_only(rt, org, client, admin):
    invite(client, "vic@acme.example", "viewer", departments="Engineering")
    assert users_of(rt, org.id)["vic@acme.example"].departments == []


@pytest.mark.parametrize("email, message", [
    ("not-an-address", "is not an email address"),
    ("", "is not an email address"),
    ("boss@ACME.example", "already exists"),  # the admin's own address, in another letter case
])
def test_invite_refuses_bad_or_used_addresses_next_to_the_field(rt, org, client, admin, email, message):
    other = Org(rt, client, name="Other")
    add_user(rt, other.id, "taken@other.example", "admin")
    response = invite(client, email, "viewer", expect=400)
    html = response.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="invite-email-error">([^<]+)</p>', html)
    assert error and message in error.group(1)
    assert 'aria-invalid="true" aria-describedby="invite-email-error"' in html
    assert "/dashboard/invitations/" not in html
    assert set(users_of(rt, org.id)) == {"boss@acme.example"}
    assert audit_entries(rt) == []


def test_invite_refuses_an_unknown_role(rt, org, client, admin):
    response = invite(client, "new@acme.example", "owner", expect=400)
    assert 'id="invite-role-error">Unknown role' in response.get_data(as_text=True)
    assert "new@acme.example" not in users_of(rt, org.id)


def test_invite_without_csrf_token_changes_nothing(rt, org, client, admin):
    for token in (None, "forged"):
        data = {"email": "new@acme.example", "role": "admin"}
        if token:
            data["csrf_token"] = token
        response = client.post("/dashboard/users/invite", data=data)
        assert response.status_code == 400
        assert "/dashboard/invitations/" not in response.get_data(as_text=True)
    assert "new@acme.example" not in users_of(rt, org.id)


# -- changing a user ---------------------------------------------------------------------------------


def test_change_role_and_departments_is_audited(rt, org, client, admin):
    mia = add_user(rt, org.id, "mia@acme.example", "viewer")
    response = post_from_detail(client, mia, "role", {"role": "manager", "departments": "Sales, Support"},
                                expect=302)
    assert response.headers["Location"].endswith(f"/dashboard/users/{mia}")
    user = users_of(rt, org.id)["mia@acme.example"]
    assert user.role == Role.MANAGER and user.departments == ["Sales", "Support"]
    [entry] = audit_entries(rt, "role_changed")
    assert entry.actor == "user:boss@acme.example" and entry.entity_id == str(mia)
    assert (entry.before["role"], entry.before["departments"]) == ("viewer", [])
    assert (entry.after["role"], entry.after["departments"]) == ("manager", ["Sales", "Support"])
    assert "password" not in str(entry.before) + str(entry.after)

    # The manager's next request already has the new scope: roles are read from the database every time.
    post_from_detail(client, mia, "role", {"role": "admin", "departments": "Sales"}, expect=302)
    assert users_of(rt, org.id)["mia@acme.example"].departments == []
    page = client.get(f"/dashboard/users/{mia}").get_data(as_text=True)
    assert "mia@acme.example is now admin." in page


def test_an_unknown_role_is_refused_on_the_detail_page(rt, org, client, admin):
    mia = add_user(rt, org.id, "mia@acme.example", "viewer")
    response = post_from_detail(client, mia, "role", {"role": "superuser"}, expect=400)
    assert 'id="role-error">Unknown role' in response.get_data(as_text=True)
    assert users_of(rt, org.id)["mia@acme.example"].role == Role.VIEWER
    assert audit_entries(rt) == []


def test_an_admin_cannot_demote_or_disable_themselves(rt, org, client, admin):
    page = client.get(f"/dashboard/users/{admin}").get_data(as_text=True)
    assert "This is you" in page and "Disable boss@acme.example" not in page
    token = csrf_token(page)
    demote = client.post(f"/dashboard/users/{admin}/role", data={"role": "viewer", "csrf_token": token})
    assert demote.status_code == 400
    assert "cannot remove your own administrator role" in demote.get_data(as_text=True)
    disable = client.post(f"/dashboard/users/{admin}/disable", data={"csrf_token": token})
    assert disable.status_code == 400
    assert "cannot disable your own account" in disable.get_data(as_text=True)
    me = users_of(rt, org.id)["boss@acme.example"]
    assert me.role == Role.ADMIN and me.disabled_at is None
    assert audit_entries(rt) == []
    assert client.get("/dashboard/users").status_code == 200  # still signed in, still admin


def test_disable_signs_the_user_out_and_enable_lets_them_back(rt, org, client, admin):
    mia = add_user(rt, org.id, "mia@acme.example", "manager")
    mia_client = client.application.test_client()
    sign_in(mia_client, "mia@acme.example")
    assert mia_client.get("/dashboard/users").status_code == 403  # signed in (a manager may not manage users)

    post_from_detail(client, mia, "disable", expect=302)
    assert mia_client.get("/dashboard/users").status_code == 302  # the open session is gone
    sign_in(mia_client, "mia@acme.example", expect=401)  # and signing in again fails generically
    [entry] = audit_entries(rt, "disabled")
    assert entry.before["disabled"] is False and entry.after["disabled"] is True

    post_from_detail(client, mia, "enable", expect=302)
    fresh = client.application.test_client()
    sign_in(fresh, "mia@acme.example")
    assert fresh.get("/dashboard/users").status_code == 403
    assert [e.action for e in audit_entries(rt)] == ["disabled", "enabled"]


def test_re_enabling_does_not_revive_the_sessions_disabling_ended(rt, org, client, admin):
    mia = add_user(rt, org.id, "mia@acme.example", "manager")
    mia_client = client.application.test_client()
    sign_in(mia_client, "mia@acme.example")
    post_from_detail(client, mia, "disable", expect=302)
    assert mia_client.get("/dashboard/users").status_code == 302
    post_from_detail(client, mia, "enable", expect=302)
    assert mia_client.get("/dashboard/users").status_code == 302  # must sign in again


def test_new_invitation_link_replaces_the_old_one(rt, org, client, clock, admin):
    _, old_token = link_in(invite(client, "new@acme.example", "viewer"))
    new_id = users_of(rt, org.id)["new@acme.example"].id
    clock.advance(timedelta(days=8))  # expired
    stranger = client.application.test_client()
    assert stranger.get(f"/dashboard/invitations/{old_token}").status_code == 404
    assert "Invitation expired" in client.get(f"/dashboard/users/{new_id}").get_data(as_text=True)

    response = post_from_detail(client, new_id, "invitation", expect=200)
    link, token = link_in(response)
    assert token != old_token and "no longer works" in response.get_data(as_text=True)
    assert stranger.get(f"/dashboard/invitations/{old_token}").status_code == 404
    assert stranger.get(f"/dashboard/invitations/{token}").status_code == 200
    [entry] = audit_entries(rt, "invitation_renewed")
    assert entry.after["invite_expires_at"] > entry.before["invite_expires_at"]
    assert token not in str(entry.after)

    # Renewing a pending (not yet expired) invitation also kills the previous link.
    _, third = link_in(post_from_detail(client, new_id, "invitation", expect=200))
    assert stranger.get(f"/dashboard/invitations/{token}").status_code == 404
    assert stranger.get(f"/dashboard/invitations/{third}").status_code == 200


def test_no_invitation_link_for_an_active_user(rt, org, client, admin):
    mia = add_user(rt, org.id, "mia@acme.example", "viewer")
    assert "Create a new invitation link" not in client.get(f"/dashboard/users/{mia}").get_data(as_text=True)
    response = post_from_detail(client, mia, "invitation", expect=400)
    assert "already accepted" in response.get_data(as_text=True)
    assert "/dashboard/invitations/" not in response.get_data(as_text=True)
    assert audit_entries(rt) == []


# -- organisations ---------------------------------------------------------------------------------


def test_users_of_another_organisation_are_invisible_and_untouchable(rt, org, client, admin):
    other = Org(rt, client, name="Other")
    theirs = add_user(rt, other.id, "them@other.example", "viewer")
    _, token = link_in(invite(client, "pending@acme.example", "viewer"))
    listing = client.get("/dashboard/users").get_data(as_text=True)
    assert "them@other.example" not in listing

    assert client.get(f"/dashboard/users/{theirs}").status_code == 404
    for action, data in [("role", {"role": "admin"}), ("disable", {}), ("enable", {}), ("invitation", {})]:
        response = client.post(f"/dashboard/users/{theirs}/{action}",
                               data={**data, "csrf_token": csrf_token(listing)})
        assert response.status_code == 404, action
    them = users_of(rt, other.id)["them@other.example"]
    assert them.role == Role.VIEWER and them.disabled_at is None
    assert client.get("/dashboard/users/999999").status_code == 404
    assert [e.action for e in audit_entries(rt)] == ["invited"]


def test_an_invited_user_can_finish_and_sign_in(rt, org, client, admin):
    _, token = link_in(invite(client, "new@acme.example", "manager", departments="Engineering"))
    newcomer = client.application.test_client()
    page = newcomer.get(f"/dashboard/invitations/{token}").get_data(as_text=True)
    response = newcomer.post(f"/dashboard/invitations/{token}",
                             data={"password": PASSWORD, "password_confirm": PASSWORD, "name": "New Person",
                                   "csrf_token": csrf_token(page)})
    assert response.status_code == 302
    sign_in(newcomer, "new@acme.example")
    html = client.get("/dashboard/users").get_data(as_text=True)
    row = re.search(r'<th scope="row">new@acme.example</th>(.*?)</tr>', html, re.S)
    assert row and 'data-state="active"' in row.group(1) and "New Person" in row.group(1)
