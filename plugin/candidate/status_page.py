"""The candidate's private status page, `/status/<token>`, and "withdraw my application".

Candidates never log in: the signed token in their emails (plugin.notify.status_links) is the only key, so
every response is `no-store`, `no-referrer` and `noindex`, and the page has a strict CSP (its CSS is
inline with a per-response nonce; no scripts at all).

The page never says more than the candidate has been told: a rejection the ATS recorded but whose
email is still held for its minimum delay or send window reads "in review" (with the date they will
hear by) until the rejection email was sent. The withdraw button follows what is shown, so its
presence never gives a held decision away either.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Callable

from babel.dates import format_date, format_skeleton
from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from plugin import clock, keys
from plugin.candidate.i18n import pick_language, translator
from plugin.events.types import ApplicationRef, CandidateRef, CanonicalEvent, EventType, JobRef
from plugin.models import (
    Application,
    ApplicationStatus,
    InboundEvent,
    Interview,
    InterviewStatus,
    Notification,
    NotificationKind,
    NotificationState,
    Organization,
)
from plugin.notify import status_links
from plugin.notify.dates import human_date, human_instant
from plugin.notify.render import default_template_dir
from plugin.settings import Settings
from plugin.sla.calendar import BusinessCalendar
from plugin.sla.ledger import record_event
from plugin.sla.messages import internal_recipient
from plugin.sla.obligations import calendars, open_obligation, schedule

log = logging.getLogger(__name__)

bp = Blueprint("status_page", __name__, template_folder=str(default_template_dir()))

ACTOR = "candidate:status-page"
CSRF_SALT = "ghostless.status-page.withdraw.v1"
CSRF_MAX_AGE_SECONDS = 2 * 3600  # long enough to read the page, short enough that a leaked form dies


class Shown(StrEnum):
    """What the candidate sees; not always the application's status (see `shown_state`)."""

    IN_REVIEW = "in_review"
    OFFER = "offer"
    REJECTED = "rejected"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Stage:
    name: str | None
    day: date
    text: str


@dataclass(frozen=True)
class StatusView:
    state: Shown
    org_name: str
    job_title: str | None
    candidate_name: str | None
    stages: list[Stage]
    next_date: date | None  # None: no date to promise (or it already passed: "very soon")
    next_date_text: str | None
    next_date_passed: bool
    withdrawn_on_text: str | None

    @property
    def can_withdraw(self) -> bool:
        """Only while the candidate sees their application as open (a held rejection included)."""
        return self.state is Shown.IN_REVIEW


class PageError(Exception):
    """An answer that is a calm page rather than the status: invalid, expired, gone."""

    def __init__(self, status: int, kind: str, org_name: str | None = None) -> None:
        super().__init__(kind)
        self.status, self.kind, self.org_name = status, kind, org_name


# -- routes ------------------------------------------------------------------------------------------

@bp.get("/status/<token>")
def status(token: str) -> Any:
    rt = current_app.extensions["ghostless"]
    with rt.db.session() as session:
        app = _application(session, rt.settings, token)
        language = _language(app)
        view = status_view(session, app, language, clock.now())
    return _render("status/page.html", language, view.org_name, view=view,
                   withdraw_url=url_for("status_page.confirm_withdraw", token=token))


@bp.get("/status/<token>/withdraw")
def confirm_withdraw(token: str) -> Any:
    rt = current_app.extensions["ghostless"]
    with rt.db.session() as session:
        app = _application(session, rt.settings, token)
        language = _language(app)
        view = status_view(session, app, language, clock.now())
    if not view.can_withdraw:
        return redirect(url_for("status_page.status", token=token), 303)
    return _render("status/withdraw.html", language, view.org_name, view=view,
                   csrf_token=make_csrf_token(rt.settings, token),
                   status_url=url_for("status_page.status", token=token),
                   action_url=url_for("status_page.withdraw", token=token))


@bp.post("/status/<token>/withdraw")
def withdraw(token: str) -> Any:
    """Record `application.withdrawn` and tell the recruiter, in one transaction; then show the page.

    A repeat (double click, back button, two tabs) finds the application already withdrawn, or
    collides on the event id / the notification's dedupe key, and changes nothing.
    """
    rt = current_app.extensions["ghostless"]
    back = url_for("status_page.status", token=token)
    try:
        with rt.db.session() as session:
            app = _application(session, rt.settings, token)
            language = _language(app)
            if not csrf_token_valid(rt.settings, token, request.form.get("csrf_token")):
                org_name = _org(session, app).name
                return _message(language, 400, "csrf", org_name, back_url=back)
            if shown_state(session, app) is Shown.IN_REVIEW:  # what the page offers the button for
                record_withdrawal(session, app, clock.now())
    except (IntegrityError, StaleDataError):
        # Two submits at once: the other one recorded the withdrawal (same event id, same cycle row).
        log.info("a withdrawal raced with another one; the first one won")
    return redirect(back, 303)


@bp.errorhandler(PageError)
def page_error(error: PageError) -> Any:
    return _message(pick_language(None, request.accept_languages.values()), error.status, error.kind, error.org_name)


@bp.errorhandler(Exception)
def unexpected_error(error: Exception) -> Any:
    """A candidate never sees a stack trace; the operator finds it in the log."""
    if isinstance(error, HTTPException):
        return error
    log.exception("status page failed")
    response = _message(pick_language(None, request.accept_languages.values()), 503, "error", None)
    response.headers["Retry-After"] = "300"
    return response


@bp.after_app_request
def private_page_headers(response: Response) -> Response:
    """On every answer under /status/, including the ones Flask gives itself (404, 405)."""
    if request.path == "/status" or request.path.startswith("/status/"):
        nonce = g.get("csp_nonce")
        style = f"'nonce-{nonce}'" if nonce else "'none'"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src {style}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    return response


# -- the application behind a token --------------------------------------------------------------

def _application(session: Session, settings: Settings, token: str) -> Application:
    try:
        application_id = status_links.read_token(settings, token)
    except status_links.ExpiredToken as exc:
        raise PageError(410, "expired") from exc
    except status_links.InvalidToken as exc:
        raise PageError(404, "invalid") from exc
    app = session.get(Application, application_id)
    if app is None:
        raise PageError(404, "invalid")
    if app.candidate.erased_at is not None:
        raise PageError(410, "gone", _org(session, app).name)
    return app


def _org(session: Session, app: Application) -> Organization:
    org = session.get(Organization, app.org_id)
    assert org is not None
    return org


def _language(app: Application) -> str:
    return pick_language(app.candidate.locale, request.accept_languages.values())


# -- what the candidate has been told -------------------------------------------------------------

def shown_state(session: Session, app: Application) -> Shown:
    """The application's state as far as the candidate knows it.

    A rejection is shown once its email was sent (or the ATS said it told the candidate itself);
    until then, and while a job-closed notice is still held, the candidate sees "in review".
    """
    if app.status is ApplicationStatus.WITHDRAWN:
        return Shown.WITHDRAWN
    if app.status is ApplicationStatus.HIRED:
        return Shown.OFFER
    if app.status is ApplicationStatus.CLOSED:
        return Shown.CLOSED
    if app.status is ApplicationStatus.REJECTED and rejection_told(session, app):
        return Shown.REJECTED
    return Shown.IN_REVIEW


def rejection_told(session: Session, app: Application) -> bool:
    latest = session.scalar(
        select(Notification).where(Notification.application_id == app.id,
                                   Notification.kind == NotificationKind.REJECTION,
                                   Notification.state != NotificationState.CANCELLED)
        .order_by(Notification.id.desc()).limit(1)
    )
    if latest is not None:
        return latest.state is NotificationState.SENT
    rejected = session.scalar(
        select(InboundEvent.canonical).where(InboundEvent.org_id == app.org_id,
                                             InboundEvent.application_external_id == app.external_id,
                                             InboundEvent.event_type == EventType.APPLICATION_REJECTED.value)
        .order_by(InboundEvent.occurred_at.desc(), InboundEvent.id.desc()).limit(1)
    )
    # "scheduled" means the ATS will tell them at a time we do not know: not yet.
    return isinstance(rejected, dict) and rejected.get("ats_notification") == "sent"


def status_view(session: Session, app: Application, language: str, now: datetime) -> StatusView:
    org = _org(session, app)
    cal = calendars(org, app.candidate).candidate
    today = cal.local_date(now)
    state = shown_state(session, app)
    next_day: date | None = None
    if state is Shown.IN_REVIEW:
        current = open_obligation(app)
        next_day = cal.local_date(current.due_at) if current is not None else None
    withdrawn_on = None
    if state is Shown.WITHDRAWN and app.status_changed_at is not None:
        withdrawn_on = format_date(cal.local_date(app.status_changed_at), format="long", locale=_babel(language))
    return StatusView(
        state=state, org_name=org.name, job_title=app.job.title, candidate_name=app.candidate.name,
        stages=completed_stages(session, app, cal, language, today),
        next_date=next_day,
        # Worded exactly as in the candidate's emails ("Monday 9 November"), so the two agree.
        next_date_text=human_date(next_day, today, language) if next_day else None,
        next_date_passed=next_day is not None and next_day < today,
        withdrawn_on_text=withdrawn_on,
    )


def completed_stages(session: Session, app: Application, cal: BusinessCalendar, language: str,
                     today: date) -> list[Stage]:
    """Interviews that took place (completed, or ended without the ATS saying so), oldest first."""
    interviews = session.scalars(
        select(Interview).where(
            Interview.application_id == app.id, Interview.status != InterviewStatus.CANCELLED,
            or_(Interview.status == InterviewStatus.COMPLETED, Interview.obligation_opened_at.is_not(None)),
        ).order_by(Interview.ends_at, Interview.id)
    ).all()
    stages = []
    for interview in interviews:
        day = cal.local_date(interview.ends_at)
        skeleton = "MMMMd" if day.year == today.year else "yMMMMd"
        stages.append(Stage(interview.stage, day, format_skeleton(skeleton, day, locale=_babel(language))))
    return stages


def _babel(language: str) -> str:
    """Day-month order for English, like the emails (plugin.notify.dates): "2 November"."""
    return "en_GB" if language == "en" else language


# -- withdrawing ---------------------------------------------------------------------------------

def record_withdrawal(session: Session, app: Application, now: datetime) -> bool:
    """`application.withdrawn` through the ledger, and a message to the recruiter. False: nothing done."""
    org = _org(session, app)
    event_id, dedupe_key = _withdrawal_ids(session, org, app)
    event = CanonicalEvent(
        id=event_id, type=EventType.APPLICATION_WITHDRAWN, occurred_at=now,
        candidate=CandidateRef(id=app.candidate.external_id), job=JobRef(id=app.job.external_id),
        application=ApplicationRef(id=app.external_id), note="withdrawn by the candidate on the status page",
    )
    raw = {"source": "status_page", "application_id": app.id, "event": event.to_json()}
    result, _ = record_event(session, org, event, raw, now=now, actor=ACTOR, source="status_page")
    if result != "applied":
        log.info("withdrawal of application %s from the status page was %s", app.id, result)
        return False
    org_zone = calendars(org, app.candidate).org.tz
    schedule(
        session, org, NotificationKind.CANDIDATE_WITHDREW, at=now, now=now, app=app,
        recipient=internal_recipient(org, app.job, NotificationKind.CANDIDATE_WITHDREW),
        context={"withdrawn_at_text": human_instant(now, org_zone, org.locale)}, dedupe_key=dedupe_key, actor=ACTOR,
    )
    return True


def _withdrawal_ids(session: Session, org: Organization, app: Application) -> tuple[str, str]:
    """Stable ids, so a double submit is a duplicate; a new pair only after a reopen and a new withdrawal."""
    base = f"status-page-withdraw-{app.id}"
    earlier = session.scalar(
        select(func.count()).select_from(InboundEvent).where(
            InboundEvent.org_id == org.id,
            or_(InboundEvent.event_id == base, InboundEvent.event_id.like(f"{base}-%")),
        )
    ) or 0
    if earlier == 0:
        return base, f"candidate_withdrew:a{app.id}"
    return f"{base}-{earlier + 1}", f"candidate_withdrew:a{app.id}-{earlier + 1}"


# -- CSRF: a signed value bound to this status link, short-lived -------------------------------------

class _ClockSigner(TimestampSigner):
    """Ages form tokens by the injected clock, like the status links themselves."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


def _csrf_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(keys.verification_keys(settings, keys.STATUS_PAGE_FORMS), salt=CSRF_SALT,
                                  signer=_ClockSigner)


def _bound_to(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def make_csrf_token(settings: Settings, token: str) -> str:
    return _csrf_serializer(settings).dumps(_bound_to(token))


def csrf_token_valid(settings: Settings, token: str, value: str | None) -> bool:
    if not value:
        return False
    try:
        bound = _csrf_serializer(settings).loads(value, max_age=CSRF_MAX_AGE_SECONDS)
    except BadSignature:  # also SignatureExpired
        return False
    return secrets.compare_digest(str(bound), _bound_to(token))


# -- rendering -----------------------------------------------------------------------------------

def _render(template: str, language: str, org_name: str | None, status_code: int = 200, **context: Any) -> Response:
    g.csp_nonce = secrets.token_urlsafe(16)
    # `_` is passed in rather than installed on the app's Jinja environment: the language is this
    # request's, and the dashboard's templates, which share that environment, stay untouched.
    gettext: Callable[..., str] = translator(language)
    html = render_template(template, lang=language, _=gettext, org_name=org_name, csp_nonce=g.csp_nonce,
                           **context)
    return Response(html, status=status_code, mimetype="text/html")


def _message(language: str, status_code: int, kind: str, org_name: str | None, back_url: str | None = None) -> Response:
    return _render("status/message.html", language, org_name, status_code, kind=kind, back_url=back_url)
