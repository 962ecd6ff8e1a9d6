"""Proof of notice: `GET /api/v1/applications/<id>/proof`, as JSON or as a printable page.

The document itself is built in `plugin.reports.proof` (the dashboard links the same one). For audits: in Germany (AGG §15(4)) a rejected applicant's two-month claim window starts when the
rejection is *received*, and the employer must prove when. The proof lists every message of the
application with its content exactly as stored, when it was sent, when the recipient's server
accepted it, and every delivery event SendGrid reported, plus each obligation cycle and whether it
was met. After erasure or retention the same document keeps every timestamp and no personal data.

`?format=html` (or an `Accept` header that prefers text/html) returns the printable page.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields
from sqlalchemy import select

from plugin.api.common import current_org, db_session, now
from plugin.api.records import ObligationSchema
from plugin.models import Application
from plugin.reports.proof import build_proof, render_page

blp = Blueprint("proof", __name__, url_prefix="/api/v1",
                description="Proof of notice: every message of an application, its content and delivery")

FORMATS = ("json", "html")



# -- output schemas ---------------------------------------------------------------------------------

class OrganizationOut(Schema):
    id = fields.String()
    name = fields.String()
    timezone = fields.String()


class CandidateOut(Schema):
    id = fields.String(attribute="external_id", metadata={"description": "The ATS's candidate id"})
    name = fields.Function(lambda c: None if c.erased_at else c.name)
    email = fields.Function(lambda c: None if c.erased_at else c.email)
    erased_at = fields.DateTime(allow_none=True)
    erasure_reason = fields.String(allow_none=True)


class JobOut(Schema):
    id = fields.String(attribute="external_id", metadata={"description": "The ATS's job id"})
    title = fields.String(allow_none=True)


class ApplicationOut(Schema):
    id = fields.String(attribute="external_id", metadata={"description": "The ATS's application id"})
    status = fields.Function(lambda a: a.status.value)
    status_changed_at = fields.DateTime(allow_none=True)
    stage = fields.String(allow_none=True)
    created_at = fields.DateTime()
    first_interview_ended_at = fields.DateTime(allow_none=True)
    decision_expected_by = fields.Date(allow_none=True)
    job = fields.Nested(JobOut)
    candidate = fields.Nested(CandidateOut)


# A cycle as the proof shows it: the obligation fields that say what was owed and whether it was met,
# defined once in the records API's ObligationSchema.
CYCLE_FIELDS = ("cycle", "state", "opened_at", "opened_by", "due_at", "discharged_at", "discharged_by", "met",
                "closed_reason", "breached_at", "breach_reason", "at_risk", "autopilot_stepped_in")
CycleOut = Schema.from_dict({name: ObligationSchema._declared_fields[name] for name in CYCLE_FIELDS}, name="Cycle")


class DeliveryEventOut(Schema):
    event = fields.String()
    occurred_at = fields.DateTime()
    received_at = fields.DateTime()
    detail = fields.String(allow_none=True)
    key_fingerprint = fields.String(allow_none=True, metadata={"description": "The key that verified the post"})
    key_set_at = fields.DateTime(allow_none=True)
    key_set_by = fields.String(allow_none=True)
    key_set_after_sent = fields.Boolean(metadata={"description": "The key was set after the message was sent"})


class RefusedEventOut(Schema):
    event = fields.String()
    occurred_at = fields.String(metadata={"description": "The time the event claimed (ISO 8601)"})
    received_at = fields.DateTime()
    reason = fields.String()
    key_fingerprint = fields.String(allow_none=True)


class MessageOut(Schema):
    id = fields.Integer()
    kind = fields.Function(lambda n: n.kind.value)
    audience = fields.Function(lambda n: "candidate" if n.kind.is_candidate_facing else "internal")
    state = fields.Function(lambda n: n.state.value)
    autopilot = fields.Boolean()
    recipient_name = fields.String(allow_none=True)
    recipient_email = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    locale_fallback_from = fields.String(allow_none=True)
    scheduled_for = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    provider = fields.String(allow_none=True)
    provider_message_id = fields.String(allow_none=True)
    delivery_status = fields.Function(lambda n: n.delivery_status.value if n.delivery_status else None)
    delivery_status_at = fields.DateTime(allow_none=True)
    delivery_detail = fields.String(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    sent_at_basis = fields.String(allow_none=True, metadata={"description": "What sent_at rests on"})
    delivered_at_basis = fields.String(allow_none=True, metadata={"description": "What delivered_at rests on"})
    delivered_at_warnings = fields.List(fields.String())
    refused_events = fields.List(fields.Nested(RefusedEventOut),
                                 metadata={"description": "Events not applied: their time was impossible"})
    cancelled_reason = fields.String(allow_none=True)
    subject = fields.String(allow_none=True)
    body_text = fields.String(allow_none=True)
    body_html = fields.String(allow_none=True)
    events = fields.List(fields.Nested(DeliveryEventOut), attribute="delivery_events")


class ProofOut(Schema):
    generated_at = fields.DateTime()
    organization = fields.Nested(OrganizationOut)
    application = fields.Nested(ApplicationOut)
    obligations = fields.List(fields.Nested(CycleOut))
    messages = fields.List(fields.Nested(MessageOut))
    timestamps = fields.Dict(keys=fields.String(), values=fields.String(),
                             metadata={"description": "What each timestamp means"})


# -- the endpoint -----------------------------------------------------------------------------------

@blp.route("/applications/<string:application_id>/proof")
class ApplicationProof(MethodView):
    @blp.doc(parameters=[{
        "name": "format", "in": "query", "required": False, "schema": {"type": "string", "enum": list(FORMATS)},
        "description": "json (default) or html, a printable page; without it, an Accept header that "
                       "prefers text/html also gets the page",
    }], responses={"200": {  # the page is an answer too: documented, so the document and the answer agree
        "description": "The proof as JSON, or with `format=html` the printable page.",
        "content": {"application/json": {"schema": ProofOut}, "text/html": {"schema": {"type": "string"}}}}})
    @blp.response(200, ProofOut)
    def get(self, application_id: str) -> tuple[dict[str, Any], int, dict[str, str]] | Response:
        """Proof of notice for one application

        Every message with its stored content, send time and delivery events, and every obligation
        cycle. `?format=html` (or `Accept: text/html`) returns a printable text/html page instead.
        """
        wanted = _wanted_format()
        session = db_session()
        org = current_org(session)
        app = session.scalar(select(Application).where(Application.org_id == org.id,
                                                       Application.external_id == application_id))
        if app is None:
            abort(404, message=f"No application with id {application_id!r} in this organisation.")
        proof = build_proof(session, org, app, generated_at=now())
        if wanted == "html":
            response = Response(render_page(proof), mimetype="text/html")
            # The page shows text from ATSs and candidates: even escaped, it may run nothing and load nothing.
            response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; "
                                                           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Cache-Control"] = "no-store"  # personal data: no copies in shared caches
            response.headers["Referrer-Policy"] = "no-referrer"
            response.vary.add("Accept")
            return response
        return proof, 200, {"Vary": "Accept"}


def _wanted_format() -> str:
    given = request.args.get("format")
    if given is None:
        accept = request.accept_mimetypes
        return "html" if accept["text/html"] > accept["application/json"] else "json"
    if given not in FORMATS:
        abort(422, message=f"format must be one of: {', '.join(FORMATS)} (got {given!r}).")
    return given
