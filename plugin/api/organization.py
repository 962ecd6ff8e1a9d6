"""GET/PATCH /api/v1/organization: the business calendar, sender identity and escalation address.

A calendar change (time zone, holidays, working days, closures) recomputes every open deadline that has not passed yet.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from plugin.api.common import current_org, db_session, now
from plugin.models import Organization
from plugin.sla.config_changes import ConfigError, update_organization
from plugin.sla.config_schemas import OrganizationPatchSchema

blp = Blueprint("organization", __name__, url_prefix="/api/v1", description="Organisation and business calendar")


class OrganizationSchema(Schema):
    id = fields.String()
    name = fields.String()
    timezone = fields.String()
    holiday_country = fields.String(allow_none=True)
    holiday_subdivision = fields.String(allow_none=True)
    working_weekdays = fields.Function(lambda o: [int(d) for d in o.working_weekdays.split(",") if d])
    closures = fields.Function(lambda o: [{"day": c.day.isoformat(), "label": c.label} for c in o.closures])
    sender_name = fields.String(allow_none=True)
    sender_email = fields.String(allow_none=True)
    escalation_email = fields.String(allow_none=True)
    recomputed = fields.Integer(metadata={"description": "open deadlines that moved (PATCH only)"})


@blp.route("/organization")
class OrganizationResource(MethodView):
    @blp.response(200, OrganizationSchema)
    def get(self) -> Organization:
        return current_org(db_session())

    @blp.arguments(OrganizationPatchSchema)
    @blp.response(200, OrganizationSchema)
    def patch(self, changes: dict[str, Any]) -> Organization:
        session = db_session()
        org = current_org(session)
        try:
            moved = update_organization(session, org, changes, actor=g.actor, at=now()).moved
        except ConfigError as exc:
            abort(422, message=exc.message, errors={"json": exc.errors})
        session.commit()
        org.recomputed = moved  # type: ignore[attr-defined]  # reported once, not stored
        return org
