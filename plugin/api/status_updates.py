"""POST /api/v1/applications/<id>/status-updates: a person sends the candidate an update now.

The dashboard's "Send an update" button does the same through plugin.sla.status_updates.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select

from plugin.api.common import current_org, db_session, now
from plugin.api.records import NotificationSchema
from plugin.models import Application
from plugin.sla.status_updates import MAX_NOTE_CHARS, StatusUpdateRefused, send_status_update

blp = Blueprint("status_updates", __name__, url_prefix="/api/v1", description="Status updates sent by a person")


class StatusUpdateIn(Schema):
    class Meta:
        unknown = RAISE

    next_date = fields.Date(allow_none=True, metadata={
        "description": "The day by which the candidate will hear from you again: a working day of the "
                       "candidate's calendar (their time zone and their country's public holidays when known); "
                       "the next deadline is the end of that day's send window. Omitted: the policy's cadence."})
    note = fields.String(allow_none=True, validate=validate.Length(max=MAX_NOTE_CHARS),
                         metadata={"description": "A personal note shown in the message"})


class StatusUpdateOut(Schema):
    notification = fields.Nested(NotificationSchema)
    send_at = fields.DateTime(metadata={"description": "when it goes out (the candidate's send window)"})
    next_date = fields.Date(allow_none=True)


@blp.route("/applications/<string:application_id>/status-updates")
class StatusUpdates(MethodView):
    @blp.arguments(StatusUpdateIn)
    @blp.response(202, StatusUpdateOut)
    def post(self, body: dict[str, Any], application_id: str) -> dict[str, Any]:
        session = db_session()
        org = current_org(session)
        app = session.scalar(select(Application).where(Application.org_id == org.id,
                                                       Application.external_id == application_id))
        if app is None:
            abort(404, message=f"No application with id {application_id!r} in this organisation.")
        try:
            scheduled = send_status_update(session, org, app, next_date=body.get("next_date"), note=body.get("note"),
                                           now=now(), actor=g.actor)
        except StatusUpdateRefused as exc:
            session.rollback()
            if exc.field is not None:
                abort(422, message="Nothing was sent.", errors={"json": {exc.field: [exc.message]}})
            abort(409, message=exc.message)
        session.commit()
        return {"notification": scheduled.notification, "send_at": scheduled.send_at,
                "next_date": scheduled.next_date}
