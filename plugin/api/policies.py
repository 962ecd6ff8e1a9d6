"""GET/PUT /api/v1/policies/organization and /api/v1/policies/jobs/<job id>.

PUT replaces the override set at that level (fields left out fall back to the level above) and
recomputes the deadlines of every open obligation it governs whose deadline has not passed yet, in the
same transaction.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields
from sqlalchemy import select

from plugin.api.common import current_org, db_session, now
from plugin.models import Job, Organization
from plugin.sla.config_changes import ChangeOutcome, ConfigError, set_job_policy, set_organization_policy
from plugin.sla.config_schemas import PolicySchema
from plugin.sla.policy import merge_policy

blp = Blueprint("policies", __name__, url_prefix="/api/v1/policies", description="SLA policies")

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

