"""Read-only records: applications (with their timeline), obligations and notifications.

An application's timeline is its audit trail (application, obligations, messages) plus the
candidate's replies received through SendGrid Inbound Parse ("reply_received" entries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from plugin import clock
from plugin.api.common import QueryInteger, current_org, db_session
from plugin.models import (
    Application,
    AuditEntry,
    CandidateReply,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    ObligationState,
)
from plugin.notify.replies import reply_excerpt
from plugin.reports import outcomes

blp = Blueprint("records", __name__, url_prefix="/api/v1", description="Applications, obligations, notifications")


class ObligationSchema(Schema):
    id = fields.Integer()
    application_id = fields.Function(lambda o: o.application.external_id)
    cycle = fields.Integer()
    state = fields.Function(lambda o: o.state.value)
    opened_at = fields.DateTime()
    opened_by = fields.String()
    promised_on = fields.Date(allow_none=True, metadata={
        "description": "the day a person's status update promised the next news (then due_at is that day)"})
    due_at = fields.DateTime()
    due_basis = fields.String(allow_none=True, metadata={
        "description": "how due_at was set: sla (the policy's working days), promised_decision, person (a person's "
                       "status update named the day), written (held at the latest date a message gave the "
                       "candidate), honest (the policy's deadline had passed when the data arrived: the end of "
                       "the candidate's next send window instead)"})
    written_due_at = fields.DateTime(allow_none=True, metadata={
        "description": "end of the send window on the latest date a message put in writing for this cycle; "
                       "due_at never moves later than it"})
    autopilot_run = fields.Integer(metadata={
        "description": "autopilot updates in a row before this cycle (2 or more: the application is neglected)"})
    next_rung = fields.Function(lambda o: o.next_rung.value)
    next_action_at = fields.DateTime(allow_none=True)
    discharged_at = fields.DateTime(allow_none=True)
    discharged_by = fields.String(allow_none=True)
    closed_reason = fields.String(allow_none=True)
    met = fields.Function(lambda obligation: outcomes.met(obligation, clock.now()), allow_none=True, metadata={
        "description": "true: answered by due_at with no breach recorded; false: missed (a breach, a late answer, "
                       "or still open past due_at); null: due_at still ahead, or nothing owed (withdrawn, erased). "
                       "The dashboard's on-time rate counts the same way."})
    breached_at = fields.DateTime(allow_none=True)
    breach_reason = fields.String(allow_none=True, metadata={
        "description": "forgotten, autopilot_off, undeliverable (mail bounced or could not be sent), late (a "
                       "message meant to meet the deadline could not leave in time: a late sweep or worker), "
                       "unknown (a message whose fate was unknown at the deadline)"})
    at_risk = fields.Boolean()
    autopilot_stepped_in = fields.Boolean()
    owner_email = fields.String(allow_none=True)


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.Function(lambda n: n.kind.value)
    state = fields.Function(lambda n: n.state.value)
    autopilot = fields.Boolean()
    recipient_email = fields.String(allow_none=True)
    subject = fields.String(allow_none=True)
    scheduled_for = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    provider_message_id = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    cancelled_reason = fields.String(allow_none=True)
    locale = fields.String(allow_none=True, metadata={"description": "the language it was written in"})
    locale_fallback_from = fields.String(
        allow_none=True, metadata={"description": "the language asked for, when no templates existed for it"})
    delivery_status = fields.Function(lambda n: n.delivery_status.value if n.delivery_status else None)
    delivery_status_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True, metadata={"description": "proof of notice (SendGrid delivered)"})


class TimelineEntrySchema(Schema):
    at = fields.DateTime()
    entity = fields.String()
    entity_id = fields.String()
    action = fields.String()
    actor = fields.String()
    after = fields.Dict(allow_none=True)


class ReplySummarySchema(Schema):
    id = fields.Integer()
    received_at = fields.DateTime()
    state = fields.Function(lambda r: r.state.value)
    subject = fields.String(allow_none=True)
    excerpt = fields.Function(lambda r: reply_excerpt(r.text))
    attachments = fields.Integer()


class ApplicationSchema(Schema):
    id = fields.String(attribute="external_id")
    status = fields.Function(lambda a: a.status.value)
    stage = fields.String(allow_none=True)
    job_id = fields.Function(lambda a: a.job.external_id)
    job_title = fields.Function(lambda a: a.job.title)
    candidate_id = fields.Function(lambda a: a.candidate.external_id)
    candidate_name = fields.Function(lambda a: a.candidate.name)
    decision_expected_by = fields.Date(allow_none=True)
    obligations = fields.List(fields.Nested(ObligationSchema))
    notifications = fields.List(fields.Nested(NotificationSchema))
    replies = fields.List(fields.Nested(ReplySummarySchema), metadata={"description": "newest first"})
    timeline = fields.List(fields.Nested(TimelineEntrySchema))


@dataclass(frozen=True)
class ReplyEntry:
    """A timeline entry for a reply, built from the reply row (its audit row holds only ids)."""

    at: datetime
    entity: str
    entity_id: str
    action: str
    actor: str
    after: dict[str, Any]

    @classmethod
    def of(cls, reply: CandidateReply) -> ReplyEntry:
        return cls(at=reply.received_at, entity="candidate_reply", entity_id=str(reply.id), action="reply_received",
                   actor="candidate", after={"subject": reply.subject, "excerpt": reply_excerpt(reply.text),
                                             "state": reply.state.value, "attachments": reply.attachments})


class ListArgs(Schema):
    limit = QueryInteger(load_default=100, minimum=1, maximum=1000)


class ObligationListArgs(ListArgs):
    state = fields.String(validate=validate.OneOf([s.value for s in ObligationState]))


class NotificationListArgs(ListArgs):
    kind = fields.String(validate=validate.OneOf([k.value for k in NotificationKind]))
    state = fields.String(validate=validate.OneOf([s.value for s in NotificationState]))


@blp.route("/applications/<string:application_id>")
class ApplicationDetail(MethodView):
    @blp.response(200, ApplicationSchema)
    def get(self, application_id: str) -> Application:
        session = db_session()
        org = current_org(session)
        app = session.scalar(select(Application).where(Application.org_id == org.id,
                                                       Application.external_id == application_id))
        if app is None:
            abort(404, message=f"No application with id {application_id!r} in this organisation.")
        obligations = session.scalars(select(Obligation).where(Obligation.application_id == app.id)
                                      .order_by(Obligation.cycle.desc())).all()
        notifications = session.scalars(select(Notification).where(Notification.application_id == app.id)
                                        .order_by(Notification.scheduled_for.desc())).all()
        entity_ids = ([("application", str(app.id))] + [("obligation", str(o.id)) for o in obligations]
                      + [("notification", str(n.id)) for n in notifications])
        timeline = [
            e for e in session.scalars(
                select(AuditEntry).where(AuditEntry.org_id == org.id,
                                         AuditEntry.entity.in_({k for k, _ in entity_ids}))
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            ) if (e.entity, e.entity_id) in set(entity_ids)
        ]
        replies = session.scalars(select(CandidateReply).where(CandidateReply.org_id == org.id,
                                                               CandidateReply.application_id == app.id)
                                  .order_by(CandidateReply.received_at.desc(), CandidateReply.id.desc())).all()
        # Newest first; a stable sort keeps the audit trail's own order among equal instants.
        timeline = sorted([*timeline, *map(ReplyEntry.of, replies)], key=lambda e: e.at, reverse=True)
        # Attached for the response schema only; none of these are stored on the application.
        app.obligations, app.notifications, app.timeline = obligations, notifications, timeline  # type: ignore[attr-defined]
        app.replies = replies  # type: ignore[attr-defined]
        return app


@blp.route("/obligations")
class ObligationList(MethodView):
    @blp.arguments(ObligationListArgs, location="query")
    @blp.response(200, ObligationSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[Obligation]:
        session = db_session()
        org = current_org(session)
        query = select(Obligation).where(Obligation.org_id == org.id)
        if "state" in args:
            query = query.where(Obligation.state == ObligationState(args["state"]))
        return list(session.scalars(query.order_by(Obligation.due_at).limit(args["limit"])))


@blp.route("/notifications")
class NotificationList(MethodView):
    @blp.arguments(NotificationListArgs, location="query")
    @blp.response(200, NotificationSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[Notification]:
        session = db_session()
        org = current_org(session)
        query = select(Notification).where(Notification.org_id == org.id)
        if "kind" in args:
            query = query.where(Notification.kind == NotificationKind(args["kind"]))
        if "state" in args:
            query = query.where(Notification.state == NotificationState(args["state"]))
        return list(session.scalars(query.order_by(Notification.scheduled_for.desc()).limit(args["limit"])))
