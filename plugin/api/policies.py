"""GET/PUT /api/v1/policies/organization and /api/v1/policies/jobs/<job id>.

PUT replaces the override set at that level (fields left out fall back to the level above) and
recomputes the deadlines of every open obligation it governs whose deadline has not passed yet, in the
same transaction.
"""

from __future__ import annotations

import re
from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from plugin.api import current_org, db_session, now
from plugin.models import Job, Organization
from plugin.sla.config_changes import ChangeOutcome, ConfigError, set_job_policy, set_organization_policy
from plugin.sla.policy import DEFAULT_POLICY, merge_policy, parse_hhmm

blp = Blueprint("policies", __name__, url_prefix="/api/v1/policies", description="SLA policies")

_HHMM = validate.Regexp(re.compile(r"^([01]\d|2[0-3]):[0-5]\d$"), error="Use 24-hour HH:MM, e.g. 09:00.")


class StrictBoolean(fields.Boolean):
    """JSON true/false only: 1, 0, "yes" and "true" are refused rather than guessed."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


def _days(maximum: int, allow_none: bool = False) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=0 if allow_none else 1, max=maximum), allow_none=allow_none,
                          strict=True)


class PolicySchema(Schema):
    """Every field optional; unknown fields are refused (a typo must not be silently ignored)."""

    class Meta:
        unknown = RAISE

    first_update_working_days = _days(60)
    promised_decision_grace_working_days = fields.Integer(validate=validate.Range(min=0, max=30), strict=True)
    cadence_working_days = _days(60)
    autopilot_cadence_working_days = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=60), strict=True),
        validate=validate.Length(min=1, max=6),
        metadata={"description": "Working days until the next news after autopilot's 1st, 2nd, ... update in a row "
                                 "(the last entry repeats); default [5, 10, 15]. Must not shrink."})
    recruiter_reminder_working_days_before = _days(30, allow_none=True)
    hiring_manager_reminder_working_days_before = _days(30, allow_none=True)
    reminder_time = fields.String(validate=_HHMM)
    autopilot = StrictBoolean()
    next_steps = StrictBoolean()
    rejection_min_delay_working_days = fields.Integer(validate=validate.Range(min=0, max=30), strict=True)
    job_closed_hold_minutes = fields.Integer(validate=validate.Range(min=0, max=7 * 24 * 60), strict=True)
    send_window_start = fields.String(validate=_HHMM)
    send_window_end = fields.String(validate=_HHMM)

    @validates_schema
    def cadence_never_shrinks(self, data: dict[str, Any], **_kwargs: Any) -> None:
        steps = data.get("autopilot_cadence_working_days")
        if steps and any(later < earlier for earlier, later in zip(steps, steps[1:])):
            # A candidate nobody answers must not be written to more and more often.
            raise ValidationError("Each step must be at least as long as the one before, e.g. [5, 10, 15].",
                                  "autopilot_cadence_working_days")

    @validates_schema
    def window_order(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start = data.get("send_window_start", DEFAULT_POLICY.send_window_start)
        end = data.get("send_window_end", DEFAULT_POLICY.send_window_end)
        try:
            if parse_hhmm(start) >= parse_hhmm(end):
                raise ValidationError("The send window must end after it starts.", "send_window_end")
        except ValueError:
            pass  # the field validators already reported the format


class PolicyResponseSchema(Schema):
    level = fields.String()
    job_id = fields.String(allow_none=True)
    overrides = fields.Dict()
    effective = fields.Dict()
    recomputed = fields.Integer(metadata={"description": "open deadlines that moved (PUT only)"})
    honest_deadlines = fields.Integer(metadata={
        "description": "of those, deadlines the new rule would have put in the past: each got the end of the "
                       "candidate's next send window instead, so no breach is filed after the fact (PUT only)"})
    held_in_writing = fields.Integer(metadata={
        "description": "of those, deadlines held at a date the candidate was already given in writing (PUT only)"})
    autopilot_within_a_day = fields.Integer(metadata={
        "description": "candidates autopilot will write to within a day unless someone acts first (PUT only)"})
    reminders_within_a_day = fields.Integer(metadata={
        "description": "reminders that will go to recruiters or hiring managers within a day (PUT only)"})


@blp.route("/organization")
class OrganizationPolicy(MethodView):
    @blp.response(200, PolicyResponseSchema)
    def get(self) -> dict[str, Any]:
        org = current_org(db_session())
        return {"level": "organization", "job_id": None, "overrides": org.policy or {},
                "effective": merge_policy(org.policy).to_dict()}

    @blp.arguments(PolicySchema)
    @blp.response(200, PolicyResponseSchema)
    def put(self, overrides: dict[str, Any]) -> dict[str, Any]:
        session = db_session()
        org = current_org(session)
        try:
            outcome = set_organization_policy(session, org, overrides, actor=g.actor, at=now())
        except ConfigError as exc:
            abort(422, message=exc.message, errors={"json": exc.errors})
        session.commit()
        return {"level": "organization", "job_id": None, "overrides": overrides,
                "effective": merge_policy(overrides).to_dict(), **_consequences(outcome)}


@blp.route("/jobs/<string:job_id>")
class JobPolicy(MethodView):
    @blp.response(200, PolicyResponseSchema)
    def get(self, job_id: str) -> dict[str, Any]:
        session = db_session()
        org = current_org(session)
        job = _job(session, org, job_id)
        return {"level": "job", "job_id": job_id, "overrides": job.policy_override or {},
                "effective": merge_policy(org.policy, job.policy_override).to_dict()}

    @blp.arguments(PolicySchema)
    @blp.response(200, PolicyResponseSchema)
    def put(self, overrides: dict[str, Any], job_id: str) -> dict[str, Any]:
        session = db_session()
        org = current_org(session)
        job = _job(session, org, job_id)
        try:
            outcome = set_job_policy(session, org, job, overrides, actor=g.actor, at=now())
        except ConfigError as exc:
            abort(422, message=exc.message, errors={"json": exc.errors})
        session.commit()
        return {"level": "job", "job_id": job_id, "overrides": overrides,
                "effective": merge_policy(org.policy, overrides).to_dict(), **_consequences(outcome)}


def _consequences(outcome: ChangeOutcome) -> dict[str, int]:
    return {"recomputed": outcome.moved, "honest_deadlines": outcome.honest, "held_in_writing": outcome.held_in_writing,
            "autopilot_within_a_day": outcome.autopilot_soon, "reminders_within_a_day": outcome.reminders_soon}


def _job(session, org: Organization, external_id: str) -> Job:  # type: ignore[no-untyped-def]
    job = session.scalar(select(Job).where(Job.org_id == org.id, Job.external_id == external_id))
    if job is None:
        abort(404, message=f"No job with id {external_id!r} in this organisation. Jobs appear with their first event.")
    return job

