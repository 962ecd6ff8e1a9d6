"""Sign-in, sign-out and accepting an invitation.

An address may have an account in several organisations (one password each). Sign-in checks the
password against every account of the address: when exactly one matches, that account signs in;
when several do (the person chose the same password in each), a small page asks which organisation,
listing only those whose password was just given. The choice is kept in the signed session cookie
for a few minutes and is bound to each account's password and session epoch. The throttle counts
per address, whichever organisation the attempt was meant for.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from plugin.accounts.users import (
    UserError,
    accounts_matching,
    end_sessions,
    session_fingerprint,
    user_for_invitation,
)
from plugin.accounts.users import accept_invitation as set_invited_password
from plugin.dashboard import SignedIn, bp, db, now, page
from plugin.dashboard.i18n import N_, gettext, ngettext
from plugin.dashboard.throttle import Throttle
from plugin.models import Organization, User

GENERIC_FAILURE = N_("That email address and password do not match an account.")  # translated where shown
# How long the organisation picker waits after a password matched several accounts.
CHOICE_LIFETIME = timedelta(minutes=5)
_CHOICE = "sign_in_choice"


def _throttle() -> Throttle:
    return Throttle(current_app.extensions["ghostless"].redis, now())


def _client() -> str:
    return request.remote_addr or "unknown"


def _safe_next(target: str | None) -> str:
    """Only a path on this site: `next=https://evil.example` must not turn sign-in into a redirector."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/dashboard") and "\\" not in target:
            return target
    return url_for("dashboard.overview")


def _signed_in_as(user: User) -> Any:
    user.last_sign_in_at = now()
    db().commit()
    session.clear()  # a fresh session: nothing from before sign-in carries over (fixation)
    session.permanent = True
    login_user(SignedIn(user))
    return redirect(_safe_next(request.args.get("next")))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    if request.method == "POST" and "account" in request.form:
        return _choose_account(request.form["account"])
    email = request.form.get("email", "").strip()
    error: str | None = None
    status = 200
    if request.method == "POST":
        password = request.form.get("password", "")
        if not email or not password:
            error, status = gettext("Enter your email address and your password."), 400
        elif wait := (reservation := _throttle().reserve(email, _client())).wait_seconds:
            # Counted before the password is checked: parallel guesses cannot all slip under the limit.
            minutes = max(1, round(wait / 60))
            error = ngettext("Too many failed sign-ins. Wait %(num)d minute and try again, or ask an administrator "
                             "to check your account.",
                             "Too many failed sign-ins. Wait %(num)d minutes and try again, or ask an administrator "
                             "to check your account.", minutes)
            status = 429
        else:
            matches = accounts_matching(db(), email, password)
            if matches:
                _throttle().succeeded(reservation)
                if len(matches) == 1:
                    return _signed_in_as(matches[0])
                db().commit()  # a password rehash changes the fingerprint the choice is bound to
                return _choice_page(matches)
            error, status = gettext(GENERIC_FAILURE), 401
    return page("dashboard/sign_in.html", email=email, error=error), status


def _choice_page(accounts: list[User]) -> Any:
    session.clear()
    session[_CHOICE] = {"until": (now() + CHOICE_LIFETIME).timestamp(),
                        "accounts": {str(user.id): session_fingerprint(user) for user in accounts}}
    names = dict(db().execute(select(Organization.id, Organization.name)
                              .where(Organization.id.in_([user.org_id for user in accounts]))).all())
    choices = sorted(((user.id, names.get(user.org_id, user.org_id)) for user in accounts), key=lambda c: c[1].lower())
    return page("dashboard/sign_in_choose.html", email=accounts[0].email, choices=choices)


def _choose_account(account: str) -> Any:
    """The second step after a password matched several accounts: only one of those, only for a while."""
    choice = session.get(_CHOICE)
    if not choice or choice.get("until", 0) < now().timestamp():
        session.pop(_CHOICE, None)
        flash(gettext("That sign-in took too long. Sign in again."), "info")
        return redirect(url_for("dashboard.sign_in", next=request.args.get("next")))
    fingerprint = choice.get("accounts", {}).get(account)
    user = db().get(User, int(account)) if account.isdigit() and fingerprint else None
    if (user is None or user.disabled_at is not None or not user.password_hash
            or not secrets.compare_digest(session_fingerprint(user), fingerprint)):
        session.pop(_CHOICE, None)
        flash(gettext("Choose one of the organisations offered, or sign in again."), "info")
        return redirect(url_for("dashboard.sign_in", next=request.args.get("next")))
    return _signed_in_as(user)


@bp.post("/sign-out")
def sign_out() -> Any:
    if current_user.is_authenticated:
        user = db().get(User, current_user.user_id)
        if user is not None:
            end_sessions(user)  # a copy of this cookie stops working too (sessions live in the cookie)
            db().commit()
    logout_user()
    session.clear()
    flash(gettext("You are signed out."), "info")
    return redirect(url_for("dashboard.sign_in"))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> Any:
    session_db = db()
    user = user_for_invitation(session_db, token, now())
    if user is None:
        return page("dashboard/error.html", status_title=gettext("Invitation not valid"),
                    message=gettext("This invitation link is not valid or has expired. Ask your administrator for a "
                                    "new one."),
                    code=404), 404
    errors: dict[str, str] = {}
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("password_confirm", ""):
            errors["password_confirm"] = gettext("The two passwords are not the same.")
        else:
            try:
                set_invited_password(user, password=password, name=request.form.get("name"))
            except UserError as exc:
                errors[exc.field or "password"] = str(exc)
        if not errors:
            session_db.commit()
            logout_user()
            session.clear()
            flash(gettext("Your account is ready. Sign in with your new password."), "info")
            return redirect(url_for("dashboard.sign_in"))
    invited_to = session_db.get(Organization, user.org_id)  # one address may be invited by several organisations
    return page("dashboard/invitation.html", invited=user, errors=errors,
                organization_name=invited_to.name if invited_to is not None else "",
                name=request.form.get("name", user.name or "")), 400 if errors else 200
