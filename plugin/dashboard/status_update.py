"""The timeline's "Send an update now" form (admins and managers; viewers only read)."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, request, url_for

from plugin.dashboard import actor, bp, db, local_time, now, organization, viewer
from plugin.dashboard.i18n import gettext
from plugin.dashboard.timeline import application_page, visible_application
from plugin.models import Role
from plugin.sla.status_updates import StatusUpdateRefused, send_status_update


@bp.post("/applications/<int:application_id>/status-updates")
def send_update(application_id: int) -> Any:
    who = viewer()
    if who.role is Role.VIEWER:
        abort(403, description=gettext("Viewers can read the dashboard but not write to candidates."))
    app, _candidate, _job = visible_application(who, application_id)
    form = {"next_date": request.form.get("next_date", "").strip(), "note": request.form.get("note", "")}
    errors: dict[str, str] = {}
    next_date = None
    if form["next_date"]:
        try:
            next_date = date.fromisoformat(form["next_date"])
        except ValueError:
            errors["next_date"] = gettext("Use a date such as 2026-12-18.")
    if not errors:
        org = organization()
        try:
            scheduled = send_status_update(db(), org, app, next_date=next_date, note=form["note"], now=now(),
                                           actor=actor())
        except StatusUpdateRefused as exc:
            db().rollback()
            errors[exc.field or "update"] = exc.message
        else:
            db().commit()
            flash(gettext("The update is scheduled for %(when)s (the candidate's send window); it appears below "
                          "once sent.", when=local_time(scheduled.send_at, ZoneInfo(org.timezone))), "info")
            return redirect(url_for("dashboard.application", application_id=application_id))
    return application_page(application_id, update_form=form, update_errors=errors), 400
