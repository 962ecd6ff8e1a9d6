"""The dashboard under /dashboard/: server-rendered pages for managers, compliance owners and admins.

Sign-in with email and password (Flask-Login keeps the session in Flask's signed cookie), CSRF
tokens on every form (Flask-WTF), roles:
- admin: sees and configures everything in the organisation;
- manager: sees the jobs of their departments and the jobs where they are hiring manager or recruiter;
- viewer: read-only, the whole organisation (compliance owners, auditors).
Every query is filtered by the signed-in user's organisation (`Viewer.org_id`), and by
`scope.visible_jobs` for managers.

Each page module registers its routes on `bp`; `register_dashboard` imports them all before the
blueprint is registered on an app.
"""

from __future__ import annotations

import csv
import importlib
import io
import secrets
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy.orm import Session
from wtforms import ValidationError

from plugin import clock
from plugin.accounts.users import session_fingerprint
from plugin.dashboard.i18n import N_, gettext, template_helpers
from plugin.dashboard.scope import Viewer
from plugin.models import Organization, Role, User
from plugin.notify.render import default_template_dir
from plugin.web.sessions import db_session

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder=str(default_template_dir()),
               static_folder="static", static_url_path="/static")

# Modules that add routes to `bp`. Imported once, before the first registration.
PAGE_MODULES = ("sign_in", "overview", "timeline", "status_update", "outbox", "compliance", "settings_pages",
                "users_pages")

# Pages anyone may open (the sign-in form, accepting an invitation, the static files).
PUBLIC_ENDPOINTS = {"dashboard.sign_in", "dashboard.accept_invitation", "dashboard.static"}

SESSION_HOURS = 12

login_manager = LoginManager()
login_manager.login_view = "dashboard.sign_in"
login_manager.login_message = N_("Sign in to see this page.")
login_manager.localize_callback = gettext  # Flask-Login translates the message when it flashes it
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


def register_dashboard(app: Flask) -> None:
    for name in PAGE_MODULES:
        importlib.import_module(f"plugin.dashboard.{name}")
    settings = app.extensions["ghostless"].settings
    secure = settings.base_url.startswith("https://")
    app.config.update(
        SESSION_COOKIE_NAME="ghostless_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure whenever the service is reached over HTTPS (always, in production); a plain-HTTP
        # local install (the demo) could not keep a Secure cookie at all.
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=SESSION_HOURS * 3600,
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
    )
    login_manager.init_app(app)
    app.register_blueprint(bp)


class SignedIn:
    """What Flask-Login keeps for the signed-in user: the row id and the password fingerprint."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: User) -> None:
        self.user_id = user.id
        self.viewer = Viewer(user_id=user.id, org_id=user.org_id, email=user.email, name=user.name,
                             role=user.role, departments=tuple(user.departments or ()))
        self._fingerprint = session_fingerprint(user)

    def get_id(self) -> str:
        return f"{self.user_id}.{self._fingerprint}"


@login_manager.user_loader
def _load_user(session_id: str) -> SignedIn | None:
    user_id, _, fingerprint = session_id.partition(".")
    if not user_id.isdigit():
        return None
    user = db().get(User, int(user_id))
    if user is None or user.disabled_at is not None or not user.password_hash:
        return None
    if not secrets.compare_digest(session_fingerprint(user), fingerprint):
        return None  # the password changed since this session signed in
    return SignedIn(user)


def db() -> Session:
    return db_session()  # one session per request, closed at teardown


def viewer() -> Viewer:
    return current_user.viewer  # type: ignore[no-any-return]


def organization() -> Organization:
    org = db().get(Organization, viewer().org_id)
    if org is None:
        abort(404)
    return org


def require_admin() -> None:
    if viewer().role != Role.ADMIN:
        abort(403, description=gettext("Only an administrator of this organisation can change its configuration."))


bp.context_processor(template_helpers)


@bp.before_request
def _guard() -> Any:
    g.csp_nonce = secrets.token_urlsafe(16)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            raise CSRFError(gettext("The form was posted from another site."))
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'self'; script-src 'self' 'nonce-{g.get('csp_nonce', '')}'; style-src 'self'; "
        "img-src 'self' data:; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "dashboard.static":
        response.headers.setdefault("Cache-Control", "no-store")  # pages hold candidates' personal data
    return response


@bp.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError) -> tuple[str, int]:
    return page("dashboard/error.html", status_title=gettext("The form expired"),
                message=gettext("This form expired or did not come from this site. Nothing was changed; go back, "
                                "reload the page and try again."), code=400), 400


@bp.errorhandler(403)
def _forbidden(exc: Any) -> tuple[str, int]:
    return page("dashboard/error.html", status_title=gettext("Not allowed"),
                message=getattr(exc, "description", None) or gettext("You cannot open this page."), code=403), 403


@bp.errorhandler(404)
def _not_found(exc: Any) -> tuple[str, int]:
    return page("dashboard/error.html", status_title=gettext("Not found"),
                message=gettext("There is nothing here, or it belongs to a part of the organisation you "
                                "cannot see."), code=404), 404


def page(template: str, **context: Any) -> str:
    """Render a dashboard page with what every page needs (the user, the navigation, the nonce)."""
    signed_in = current_user.is_authenticated
    org = organization() if signed_in else None
    return render_template(
        template,
        me=viewer() if signed_in else None,
        org=org,
        csrf_token=generate_csrf,
        csp_nonce=g.get("csp_nonce", ""),
        outbox_enabled=not current_app.extensions["ghostless"].settings.uses_sendgrid,
        zone=ZoneInfo(org.timezone) if org is not None else None,
        **context,
    )


CSV_CHUNK_ROWS = 2_000  # rows per chunk of a streamed CSV download


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A CSV download, streamed in chunks while `rows` is read: the download starts once the query
    answers, and memory stays flat (the proof of notice of 50,000 applications is 30 MB). Cells that
    a spreadsheet would run as a formula are prefixed with a quote."""

    session = db()  # the request's: inside the stream, Flask may push an app context of its own

    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        try:
            for number, row in enumerate(rows, 1):
                writer.writerow([_safe_cell(value) for value in row])
                if number % CSV_CHUNK_ROWS == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        finally:
            # End the read transaction with the last row, not when the server closes the response: an
            # open SQLite transaction holds off every writer until then.
            session.close()
        yield buffer.getvalue()

    # stream_with_context: the rows come from the request's database session, open until the last chunk.
    return Response(stream_with_context(chunks()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # OWASP: CSV injection
    return value


def local_time(at: datetime | None, zone: ZoneInfo) -> str:
    """An instant in the organisation's zone with the zone's abbreviation: 'Mon 9 Nov 2026, 17:00 EST'."""
    if at is None:
        return ""
    local = at.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def actor() -> str:
    """How the audit log names the signed-in user."""
    return f"user:{viewer().email}"


def now() -> datetime:
    return clock.now()


def back_to(default_endpoint: str, **values: Any) -> Any:
    return redirect(url_for(default_endpoint, **values))
