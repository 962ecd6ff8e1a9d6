"""User management for administrators: invite users, change roles and departments, disable, renew invitations.

An invitation link is shown exactly once, in the response to the form that created it: the token is
never stored (only its SHA-256), never put in the session cookie and never written to the audit log.
An administrator cannot demote or disable themselves, so an organisation always keeps the admin who
is managing it. Every change is audited with before/after snapshots that hold no secrets.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from plugin.accounts.users import (
    INVITATION_LIFETIME,
    UserError,
    clean_departments,
    end_sessions,
    hash_token,
    invite_user,
    parse_role,
)
from plugin.audit import audit
from plugin.dashboard import actor, bp, db, local_time, now, organization, page, require_admin, viewer
from plugin.dashboard.i18n import gettext, lazy_gettext
from plugin.models import Organization, Role, User

ROLE_CHOICES: tuple[tuple[str, str], ...] = (
    (Role.ADMIN.value, lazy_gettext("Administrator: sees and configures everything")),
    (Role.MANAGER.value, lazy_gettext("Manager: their departments and own requisitions")),
    (Role.VIEWER.value, lazy_gettext("Viewer: read-only, the whole organisation")),
)


@dataclass(frozen=True)
class UserState:
    """How a user stands now; `label` says it in words, so the badge colour is never the only signal."""

    key: str  # active | invited | invitation_expired | disabled
    label: str
    tone: str  # a dashboard.css badge class


def user_state(user: User, at: datetime, zone: ZoneInfo) -> UserState:
    if user.disabled_at is not None:
        return UserState("disabled", gettext("Disabled since %(date)s", date=local_date(user.disabled_at, zone)), "muted")
    if user.password_hash:
        return UserState("active", gettext("Active"), "good")
    if user.invite_expires_at is not None and user.invite_expires_at >= at:
        return UserState("invited", gettext("Invited (pending, expires %(when)s)",
                                               when=local_time(user.invite_expires_at, zone)), "warn")
    return UserState("invitation_expired", gettext("Invitation expired"), "bad")


def local_date(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{local.day} {local:%b %Y}"


def snapshot(user: User) -> dict[str, Any]:
    """What the audit log keeps about a user: no password hash, no invitation token hash."""
    return {
        "email": user.email,
        "role": user.role.value,
        "departments": list(user.departments or []),
        "disabled": user.disabled_at is not None,
        "invite_expires_at": user.invite_expires_at.isoformat() if user.invite_expires_at else None,
    }


def split_departments(raw: str) -> list[str]:
    return clean_departments(raw.split(","))


def invitation_link(token: str) -> str:
    base_url = current_app.extensions["ghostless"].settings.base_url.rstrip("/")
    return f"{base_url}{url_for('dashboard.accept_invitation', token=token)}"


def _zone(org: Organization) -> ZoneInfo:
    return ZoneInfo(org.timezone)


def _org_user(user_id: int) -> User:
    """The user with this id in the signed-in admin's organisation; 404 for any other (no existence leak)."""
    user = db().get(User, user_id)
    if user is None or user.org_id != viewer().org_id:
        abort(404)
    return user


# -- the list and the invitation form --------------------------------------------------------------


@bp.get("/users")
def users() -> Any:
    require_admin()
    return _users_page()


def _users_page(form: dict[str, str] | None = None, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    org = organization()
    zone = _zone(org)
    at = now()
    rows = db().scalars(select(User).where(User.org_id == org.id).order_by(User.email)).all()
    listed = [(user, user_state(user, at, zone), local_time(user.last_sign_in_at, zone)) for user in rows]
    return page("dashboard/users.html", title=gettext("Users"), listed=listed, roles=ROLE_CHOICES,
                form=form or {"email": "", "role": Role.MANAGER.value, "departments": ""},
                errors=errors or {}, lifetime_days=INVITATION_LIFETIME.days), status


@bp.post("/users/invite")
def invite() -> Any:
    require_admin()
    form = {name: request.form.get(name, "").strip() for name in ("email", "role", "departments")}
    errors: dict[str, str] = {}
    session = db()
    org = organization()
    try:
        role = parse_role(form["role"])
        departments = split_departments(form["departments"]) if role == Role.MANAGER else []
        user, token = invite_user(session, org, form["email"], role, now=now(), invited_by=actor(),
                                  departments=departments)
    except UserError as exc:
        errors[exc.field or "email"] = str(exc)
    except IntegrityError:  # another admin invited the same address a moment ago
        session.rollback()
        errors["email"] = gettext("A user with the address %(email)s already exists in this organisation.",
                                  email=form["email"])
    if errors:
        session.rollback()
        return _users_page(form=form, errors=errors, status=400)
    audit(session, org.id, "user", user.id, "invited", now(), actor(), before=None, after=snapshot(user))
    session.commit()
    return _invitation_page(user, token, renewed=False)


def _invitation_page(user: User, token: str, *, renewed: bool) -> Any:
    """The only place the link is ever shown. Rendered in the POST's response: never stored, never redirected."""
    zone = _zone(organization())
    assert user.invite_expires_at is not None
    days = INVITATION_LIFETIME.days
    return page("dashboard/users_invitation.html", title=gettext("Invitation link"), invited=user, link=invitation_link(token),
                renewed=renewed, lifetime_days=days, expires=local_time(user.invite_expires_at, zone))


# -- one user ----------------------------------------------------------------------------------------


@bp.get("/users/<int:user_id>")
def user_detail(user_id: int) -> Any:
    require_admin()
    return _detail_page(_org_user(user_id))


def _detail_page(user: User, errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
                 status: int = 200) -> Any:
    zone = _zone(organization())
    state = user_state(user, now(), zone)
    form = form or {"role": user.role.value, "departments": ", ".join(user.departments or [])}
    return page("dashboard/users_detail.html", title=user.email, user=user, state=state,
                last_sign_in=local_time(user.last_sign_in_at, zone), created=local_time(user.created_at, zone),
                is_me=user.id == viewer().user_id, roles=ROLE_CHOICES, form=form, errors=errors or {}), status


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int) -> Any:
    require_admin()
    user = _org_user(user_id)
    form = {"role": request.form.get("role", "").strip(), "departments": request.form.get("departments", "").strip()}
    try:
        role = parse_role(form["role"])
        departments = split_departments(form["departments"]) if role == Role.MANAGER else []
    except UserError as exc:
        return _detail_page(user, errors={exc.field or "role": str(exc)}, form=form, status=400)
    if user.id == viewer().user_id and role != Role.ADMIN:
        return _detail_page(user, form=form, status=400, errors={
            "role": gettext("You cannot remove your own administrator role: another administrator must do it, so "
                            "the organisation always keeps someone who can manage users.")})
    before = snapshot(user)
    user.role, user.departments = role, departments
    after = snapshot(user)
    if after != before:
        audit(db(), user.org_id, "user", user.id, "role_changed", now(), actor(), before=before, after=after)
        db().commit()
        flash(gettext("%(email)s is now %(role)s for %(departments)s.", email=user.email, role=role.value,
                      departments=", ".join(departments)) if departments
              else gettext("%(email)s is now %(role)s.", email=user.email, role=role.value), "info")
    else:
        flash(gettext("Nothing changed."), "info")
    return redirect(url_for("dashboard.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/disable")
def disable_user(user_id: int) -> Any:
    require_admin()
    user = _org_user(user_id)
    if user.id == viewer().user_id:
        return _detail_page(user, status=400, errors={
            "disable": gettext("You cannot disable your own account: another administrator must do it.")})
    if user.disabled_at is None:
        before = snapshot(user)
        user.disabled_at = now()  # the session loader refuses disabled users: their sessions end now
        end_sessions(user)  # and stay ended if the user is enabled again
        audit(db(), user.org_id, "user", user.id, "disabled", now(), actor(), before=before, after=snapshot(user))
        db().commit()
    flash(gettext("%(email)s is disabled and signed out everywhere.", email=user.email), "info")
    return redirect(url_for("dashboard.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/enable")
def enable_user(user_id: int) -> Any:
    require_admin()
    user = _org_user(user_id)
    if user.disabled_at is not None:
        before = snapshot(user)
        user.disabled_at = None
        audit(db(), user.org_id, "user", user.id, "enabled", now(), actor(), before=before, after=snapshot(user))
        db().commit()
    flash(gettext("%(email)s can sign in again.", email=user.email), "info")
    return redirect(url_for("dashboard.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/invitation")
def renew_invitation(user_id: int) -> Any:
    require_admin()
    user = _org_user(user_id)
    if user.password_hash:
        return _detail_page(user, status=400, errors={
            "invitation": gettext("This user has already accepted their invitation and signs in with a password.")})
    if user.disabled_at is not None:
        return _detail_page(user, status=400, errors={
            "invitation": gettext("This user is disabled. Enable the account first, then create a new invitation "
                                  "link.")})
    before = snapshot(user)
    token = secrets.token_urlsafe(32)
    at = now()
    # Replacing the stored hash is what makes the previous link stop working.
    user.invite_token_hash = hash_token(token)
    user.invited_at, user.invite_expires_at, user.invited_by = at, at + INVITATION_LIFETIME, actor()
    audit(db(), user.org_id, "user", user.id, "invitation_renewed", at, actor(), before=before, after=snapshot(user))
    db().commit()
    return _invitation_page(user, token, renewed=True)
