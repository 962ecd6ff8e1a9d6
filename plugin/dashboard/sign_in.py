"""Sign-in, sign-out and accepting an invitation."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from plugin.accounts.users import UserError, end_sessions, user_by_email, user_for_invitation, verify_password
from plugin.accounts.users import accept_invitation as set_invited_password
from plugin.dashboard import SignedIn, bp, db, now, page
from plugin.dashboard.throttle import Throttle
from plugin.models import User

GENERIC_FAILURE = "That email address and password do not match an account."


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


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    email = request.form.get("email", "").strip()
    error: str | None = None
    status = 200
    if request.method == "POST":
        password = request.form.get("password", "")
        throttle = _throttle()
        wait = throttle.wait_seconds(email, _client())
        if wait:
            minutes = max(1, round(wait / 60))
            error = (f"Too many failed sign-ins. Wait {minutes} minute{'s' if minutes != 1 else ''} and try again, "
                     "or ask an administrator to check your account.")
            status = 429
        elif not email or not password:
            error, status = "Enter your email address and your password.", 400
        else:
            session_db = db()
            user = user_by_email(session_db, email)
            if user is not None and user.disabled_at is not None:
                user = None
            if verify_password(user, password):
                assert user is not None
                throttle.succeeded(email)
                user.last_sign_in_at = now()
                session_db.commit()
                session.clear()  # a fresh session: nothing from before sign-in carries over (fixation)
                session.permanent = True
                login_user(SignedIn(user))
                return redirect(_safe_next(request.args.get("next")))
            throttle.failed(email, _client())
            error, status = GENERIC_FAILURE, 401
    return page("dashboard/sign_in.html", email=email, error=error), status


@bp.post("/sign-out")
def sign_out() -> Any:
    if current_user.is_authenticated:
        user = db().get(User, current_user.user_id)
        if user is not None:
            end_sessions(user)  # a copy of this cookie stops working too (sessions live in the cookie)
            db().commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("dashboard.sign_in"))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> Any:
    session_db = db()
    user = user_for_invitation(session_db, token, now())
    if user is None:
        return page("dashboard/error.html", status_title="Invitation not valid",
                    message="This invitation link is not valid or has expired. Ask your administrator for a new one.",
                    code=404), 404
    errors: dict[str, str] = {}
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("password_confirm", ""):
            errors["password_confirm"] = "The two passwords are not the same."
        else:
            try:
                set_invited_password(user, password=password, name=request.form.get("name"))
            except UserError as exc:
                errors[exc.field or "password"] = str(exc)
        if not errors:
            session_db.commit()
            logout_user()
            session.clear()
            flash("Your account is ready. Sign in with your new password.", "info")
            return redirect(url_for("dashboard.sign_in"))
    return page("dashboard/invitation.html", invited=user, errors=errors,
                name=request.form.get("name", user.name or "")), 400 if errors else 200
