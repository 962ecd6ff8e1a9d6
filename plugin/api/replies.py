"""GET /api/v1/replies: mail received through SendGrid Inbound Parse, for review.

`unknown_sender` replies are the ones nobody was told about (no candidate matched the sender);
`held` ones came from a candidate's address but SendGrid's SPF and DKIM verdicts did not vouch for it
(`held_reason` says so): nobody was told either, and they are on no timeline; `matched` ones are
also on their application's timeline (GET /api/v1/applications/<id>).
"""

from __future__ import annotations

from typing import Any, Iterable

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from plugin.api.common import QueryInteger, current_org, db_session
from plugin.models import Application, Candidate, CandidateReply, ReplyState
from plugin.notify.replies import reply_excerpt

blp = Blueprint("replies", __name__, url_prefix="/api/v1",
                description="Replies received through SendGrid Inbound Parse")


class ReplySchema(Schema):
    id = fields.Integer()
    state = fields.Function(lambda r: r.state.value)
    received_at = fields.DateTime()
    from_email = fields.String(allow_none=True)
    from_name = fields.String(allow_none=True)
    subject = fields.String(allow_none=True)
    excerpt = fields.Function(lambda r: reply_excerpt(r.text))
    attachments = fields.Integer(metadata={"description": "how many files were attached (never stored)"})
    application_id = fields.String(attribute="application_external_id", allow_none=True)
    candidate_id = fields.String(attribute="candidate_external_id", allow_none=True)
    forward_notification_id = fields.Integer(allow_none=True)
    ack_notification_id = fields.Integer(allow_none=True)
    authentication = fields.String(allow_none=True, metadata={"description": "SendGrid's SPF and DKIM verdicts"})
    held_reason = fields.String(allow_none=True, metadata={
        "description": "Why a held reply was neither forwarded nor answered, e.g. 'held: failed SPF and DKIM ...'"})


class ReplyDetailSchema(ReplySchema):
    text = fields.String(allow_none=True)
    message_id = fields.String(allow_none=True)


class ReplyListArgs(Schema):
    state = fields.String(validate=validate.OneOf([s.value for s in ReplyState]))
    limit = QueryInteger(load_default=50, minimum=1, maximum=500)
    before_id = QueryInteger(metadata={"description": "page: replies older than this id"})


def _with_external_ids(replies: Iterable[CandidateReply]) -> list[CandidateReply]:
    """Attach the ATS ids the API speaks in (the rows hold our own ids)."""
    replies = list(replies)
    session = db_session()
    app_ids = {r.application_id for r in replies if r.application_id is not None}
    candidate_ids = {r.candidate_id for r in replies if r.candidate_id is not None}
    apps = dict(session.execute(select(Application.id, Application.external_id)
                                .where(Application.id.in_(app_ids))).all()) if app_ids else {}
    people = dict(session.execute(select(Candidate.id, Candidate.external_id)
                                  .where(Candidate.id.in_(candidate_ids))).all()) if candidate_ids else {}
    for reply in replies:
        # Attached for the response schema only.
        reply.application_external_id = apps.get(reply.application_id)  # type: ignore[attr-defined]
        reply.candidate_external_id = people.get(reply.candidate_id)  # type: ignore[attr-defined]
    return replies


@blp.route("/replies")
class ReplyList(MethodView):
    @blp.arguments(ReplyListArgs, location="query")
    @blp.response(200, ReplySchema(many=True))
    @blp.doc(summary="Replies, newest first", description="Page with `before_id` = the last id of the previous page.")
    def get(self, args: dict[str, Any]) -> list[CandidateReply]:
        session = db_session()
        query = select(CandidateReply).where(CandidateReply.org_id == current_org(session).id)
        if "state" in args:
            query = query.where(CandidateReply.state == ReplyState(args["state"]))
        if "before_id" in args:
            query = query.where(CandidateReply.id < args["before_id"])
        query = query.order_by(CandidateReply.received_at.desc(), CandidateReply.id.desc()).limit(args["limit"])
        return _with_external_ids(session.scalars(query))


@blp.route("/replies/<int:reply_id>")
class ReplyItem(MethodView):
    @blp.response(200, ReplyDetailSchema)
    def get(self, reply_id: int) -> CandidateReply:
        session = db_session()
        reply = session.get(CandidateReply, reply_id)
        if reply is None or reply.org_id != current_org(session).id:
            abort(404, message=f"No reply {reply_id} in this organisation.")
        return _with_external_ids([reply])[0]
