"""The local outbox: the mail the embedded default wrote as .eml files instead of sending it.

Only without SendGrid (`settings.uses_sendgrid` is False). The list comes from the database
(Notification rows with provider "outbox" of this organisation, in the viewer's scope), never from
the folder: the folder is shared by every organisation of the installation. Each message is read from
its file (named by notification id, see OutboxProvider.path_for) and shown as the candidate sees it.
A file that is gone (someone emptied the folder) gives a calm notice, not an error.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, request, url_for
from sqlalchemy import or_, select

from plugin.dashboard import bp, db, organization, page, viewer
from plugin.dashboard.i18n import gettext
from plugin.dashboard.scope import Viewer, visible_jobs
from plugin.dashboard.timeline import local_time, sandboxed_html, visible_notification
from plugin.mail.outbox import OutboxProvider
from plugin.models import Application, Job, Notification
from plugin.web.numbers import ascii_int

PAGE_SIZE = 50
OUTBOX = "outbox"


def _uses_sendgrid() -> bool:
    return bool(current_app.extensions["ghostless"].settings.uses_sendgrid)


def outbox_directory() -> Path:
    """Where this process writes .eml files: the running provider's folder, else the configured one."""
    runtime = current_app.extensions["ghostless"]
    if isinstance(runtime.mail, OutboxProvider):
        return runtime.mail.directory
    return Path(runtime.settings.resolved_outbox_dir)


def eml_path(notification: Notification) -> Path | None:
    """The file OutboxProvider wrote for this notification (`<id:08d>-<kind>.eml`), if it is there."""
    if notification.candidate is not None and notification.candidate.erased_at is not None:
        # Never shown, even while the sweep has yet to remove a file its erasure could not.
        return None
    directory = outbox_directory()
    expected = directory / f"{notification.id:08d}-{notification.kind.value}.eml"
    if expected.is_file():
        return expected
    # The kind is part of the name; match on the id alone in case the naming ever changes.
    found = sorted(directory.glob(f"{notification.id:08d}-*.eml")) if directory.is_dir() else []
    return found[0] if found else None


def parse_eml(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        parsed = BytesParser(policy=email.policy.default).parse(handle)
    assert isinstance(parsed, EmailMessage)  # guaranteed by policy.default
    return parsed


def _part(message: EmailMessage, subtype: str) -> str | None:
    body = message.get_body(preferencelist=(subtype,))
    if body is None or body.get_content_subtype() != subtype:
        return None
    content = body.get_content()
    return content if isinstance(content, str) else None


def outbox_query(who: Viewer) -> Any:
    """This organisation's outbox messages in the viewer's scope (messages with no application, e.g.
    escalations to talent ops, only for viewers of the whole organisation)."""
    statement = (select(Notification)
                 .outerjoin(Application, Application.id == Notification.application_id)
                 .outerjoin(Job, Job.id == Application.job_id)
                 .where(Notification.org_id == who.org_id, Notification.provider == OUTBOX,
                        Notification.sent_at.is_not(None)))
    if who.sees_whole_organization:
        return statement.where(or_(Notification.application_id.is_(None), visible_jobs(who)))
    return statement.where(visible_jobs(who))


@bp.get("/outbox")
def outbox() -> Any:
    if _uses_sendgrid():
        return page("dashboard/outbox.html", sendgrid=True, rows=[], error=None)
    try:
        number = ascii_int(request.args.get("page", "1"), minimum=1, maximum=100_000)
    except ValueError:
        return page("dashboard/outbox.html", sendgrid=False, rows=[], error=gettext("That page number is not valid."),
                    page_number=1, newer=None, older=None), 400
    zone = _zone()
    found = list(db().scalars(outbox_query(viewer())
                              .order_by(Notification.sent_at.desc(), Notification.id.desc())
                              .offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    rows = [(n, local_time(n.sent_at, zone)) for n in found[:PAGE_SIZE]]
    newer = url_for("dashboard.outbox", page=number - 1) if number > 1 else None
    older = url_for("dashboard.outbox", page=number + 1) if len(found) > PAGE_SIZE else None
    return page("dashboard/outbox.html", sendgrid=False, rows=rows, error=None, page_number=number,
                newer=newer, older=older, directory=str(outbox_directory()))


def _zone() -> ZoneInfo:
    return ZoneInfo(organization().timezone)


@dataclass(frozen=True)
class Shown:
    sender: str
    to: str
    reply_to: str | None
    subject: str
    date: str
    has_html: bool
    text: str | None


def _outbox_notification(notification_id: int) -> Notification:
    if _uses_sendgrid():
        abort(404)
    notification = visible_notification(viewer(), notification_id)
    if notification.provider != OUTBOX:
        abort(404)
    return notification


@bp.get("/outbox/<int:notification_id>")
def outbox_message(notification_id: int) -> Any:
    notification = _outbox_notification(notification_id)
    path = eml_path(notification)
    shown: Shown | None = None
    if path is not None:
        message = parse_eml(path)
        try:
            date = local_time(parsedate_to_datetime(str(message["Date"])), _zone()) if message["Date"] else ""
        except (TypeError, ValueError):
            date = str(message["Date"])
        shown = Shown(sender=str(message["From"] or ""), to=str(message["To"] or ""),
                      reply_to=str(message["Reply-To"]) if message["Reply-To"] else None,
                      subject=str(message["Subject"] or ""), date=date,
                      has_html=_part(message, "html") is not None, text=_part(message, "plain"))
    return page("dashboard/outbox_message.html", notification=notification, shown=shown,
                sent_at=local_time(notification.sent_at, _zone()))


@bp.get("/outbox/<int:notification_id>/html")
def outbox_message_html(notification_id: int) -> Response:
    path = eml_path(_outbox_notification(notification_id))
    html = _part(parse_eml(path), "html") if path is not None else None
    if html is None:
        abort(404)
    return sandboxed_html(html)


@bp.get("/outbox/<int:notification_id>/message.eml")
def outbox_message_eml(notification_id: int) -> Response:
    notification = _outbox_notification(notification_id)
    path = eml_path(notification)
    if path is None:
        abort(404)
    response = Response(path.read_bytes(), mimetype="message/rfc822")
    response.headers["Content-Disposition"] = f'attachment; filename="{notification.id:08d}-{notification.kind.value}.eml"'
    return response
