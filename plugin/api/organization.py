"""GET/PATCH /api/v1/organization: the business calendar, sender identity and escalation address.

A calendar change (time zone, holidays, working days, closures) recomputes every open deadline.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select

from plugin.api import current_org, db_session, now
from plugin.models import ClosureDate, Obligation, ObligationState, Organization
from plugin.sla.calendar import CalendarError, validate_calendar
from plugin.sla.obligations import audit, recompute

blp = Blueprint("organization", __name__, url_prefix="/api/v1", description="Organisation and business calendar")

CALENDAR_FIELDS = ("timezone", "holiday_country", "holiday_subdivision", "working_weekdays", "closures")


class ClosureSchema(Schema):
    class Meta:
        unknown = RAISE

    day = fields.Date(required=True)
    label = fields.String(validate=validate.Length(max=200), allow_none=True)


class OrganizationPatchSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(validate=validate.Length(min=1, max=200))
    timezone = fields.String(validate=validate.Length(min=1, max=64))
    holiday_country = fields.String(validate=validate.Length(min=2, max=8), allow_none=True)
    holiday_subdivision = fields.String(validate=validate.Length(min=1, max=16), allow_none=True)
    working_weekdays = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=0, max=6)),
        validate=validate.Length(min=1, max=7), metadata={"description": "Monday=0 ... Sunday=6"},
    )
    closures = fields.List(fields.Nested(ClosureSchema), validate=validate.Length(max=1000),
                           metadata={"description": "Replaces the whole list of closure dates"})
    sender_name = fields.String(validate=validate.Length(max=200), allow_none=True)
    sender_email = fields.Email(allow_none=True)
    escalation_email = fields.Email(allow_none=True)


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
        before = OrganizationSchema().dump(org)
        timezone = changes.get("timezone", org.timezone)
        country = changes.get("holiday_country", org.holiday_country)
        country = country.upper() if country else None
        if "holiday_country" in changes and "holiday_subdivision" not in changes:
            subdivision = None  # a subdivision belongs to its country
        else:
            subdivision = changes.get("holiday_subdivision", org.holiday_subdivision)
        try:
            validate_calendar(timezone, country, subdivision)
        except CalendarError as exc:
            field = "timezone" if "time zone" in str(exc) else (
                "holiday_subdivision" if "subdivision" in str(exc).lower() else "holiday_country")
            abort(422, message="Invalid calendar; nothing was changed.", errors={"json": {field: [str(exc)]}})
        org.timezone, org.holiday_country, org.holiday_subdivision = timezone, country, subdivision
        for key in ("name", "sender_name", "sender_email", "escalation_email"):
            if key in changes:
                setattr(org, key, changes[key])
        if "working_weekdays" in changes:
            org.working_weekdays = ",".join(str(d) for d in sorted(set(changes["working_weekdays"])))
        if "closures" in changes:
            org.closures.clear()
            session.flush()
            seen = set()
            for closure in changes["closures"]:
                if closure["day"] not in seen:
                    seen.add(closure["day"])
                    org.closures.append(ClosureDate(day=closure["day"], label=closure.get("label")))
        session.flush()
        at = now()
        moved = 0
        if any(key in changes for key in CALENDAR_FIELDS):
            open_obligations = session.scalars(
                select(Obligation).where(Obligation.org_id == org.id, Obligation.state == ObligationState.OPEN))
            moved = sum(1 for obligation in open_obligations if recompute(obligation, org, at, g.actor))
        after = OrganizationSchema().dump(org)
        audit(session, org.id, "organization", org.id, "updated", at, g.actor, before=before, after=after)
        session.commit()
        org.recomputed = moved  # type: ignore[attr-defined]  # reported once, not stored
        return org
