"""POST /api/v1/events (one event or {"events": [...]}) and the stored batches' outcomes.

A request is validated whole, stored in one row and acknowledged with 202; an RQ job applies it
(`plugin.sla.event_batches`). Acknowledging therefore costs one insert whatever the size of the
batch or of the organisation's data, and a caller reads each event's outcome at the batch's URL.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, current_app, g, jsonify, make_response, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from plugin.api.common import QueryInteger, current_org, db_session, now
from plugin.ats.api_batches import dispatch_event_batches
from plugin.events.schemas import MAX_BATCH, EventValidationError, load_events
from plugin.json_input import BadJson, parse_json
from plugin.models import BatchState, EventBatch
from plugin.sla import event_batches
from plugin.web.body_limit import declared_too_large, read_within_limit

log = logging.getLogger(__name__)

blp = Blueprint("events", __name__, url_prefix="/api/v1", description="Canonical ATS events")

OUTCOMES = ("applied", "ignored", "duplicate")


class EventResultSchema(Schema):
    id = fields.String()
    type = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "queued (not applied yet) | applied | ignored | duplicate"})
    detail = fields.String(allow_none=True)


class BatchSchema(Schema):
    batch_id = fields.Integer()
    state = fields.String(metadata={"description": "queued | processing | processed | failed"})
    url = fields.String(metadata={"description": "where this batch's outcome is read"})
    received = fields.Integer(metadata={"description": "events in the batch"})
    received_at = fields.DateTime()
    processed_at = fields.DateTime(allow_none=True)
    applied = fields.Integer(allow_none=True, metadata={"description": "null until processed"})
    ignored = fields.Integer(allow_none=True)
    duplicates = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "why a failed batch was not applied"})
    results = fields.List(fields.Nested(EventResultSchema), metadata={"description": "one per event, in order"})


class BatchQuerySchema(Schema):
    class Meta:
        unknown = "raise"

    state = fields.String(validate=validate.OneOf([s.value for s in BatchState]))
    limit = QueryInteger(load_default=50, minimum=1, maximum=500)
    before_id = QueryInteger(metadata={"description": "page: batches older than this id"})


@blp.route("/events")
class Events(MethodView):
    @blp.response(202, BatchSchema)
    @blp.doc(
        summary="Report ATS events",
        description=(
            f"One canonical event, or `{{\"events\": [...]}}` with up to {MAX_BATCH}. The request is validated "
            "whole: with any invalid event it is refused (422) and nothing is stored. A valid request is "
            "stored and acknowledged with 202 before it is applied; a worker applies it, usually within a "
            "second. Read each event's outcome (applied | ignored | duplicate) at the `url` returned (also in "
            "the `Location` header) until `state` is `processed` (or `failed`, with the `error`). Idempotent "
            "on the event id: a repeat is reported as `duplicate` and changes nothing."
        ),
        requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
    )
    def post(self) -> Response:
        body = _body()
        payload = _parse(body)
        try:
            events = load_events(payload)
        except EventValidationError as exc:
            abort(422, message="The request contains invalid events; nothing was stored.",
                  errors={"json": exc.errors})
        session, at, ids = db_session(), now(), [event.id for event in events]
        batch_id = event_batches.store(session, g.org_id, body, ids, actor=g.actor, now=at)
        session.commit()
        # Committed: the batch is safe. A failed enqueue is not the caller's problem: the sweep
        # re-enqueues batches whose job never started (event_batches.recover).
        try:
            dispatch_event_batches(current_app.extensions["ghostless"].queue, [batch_id])
        except Exception:  # noqa: BLE001
            log.exception("could not enqueue event batch %s; the sweep will pick it up", batch_id)
        # Serialised here, not through BatchSchema (which documents it): marshmallow would cost a
        # 100-event request more than storing it.
        url = _url(batch_id)
        answer = {"batch_id": batch_id, "state": BatchState.QUEUED.value, "url": url, "received": len(ids),
                  "received_at": at.isoformat(), "processed_at": None, "applied": None, "ignored": None,
                  "duplicates": None, "error": None,
                  "results": [{"id": event_id, "type": None, "status": "queued", "detail": None} for event_id in ids]}
        return make_response(jsonify(answer), 202, {"Location": url})


@blp.route("/event-batches")
class Batches(MethodView):
    @blp.arguments(BatchQuerySchema, location="query")
    @blp.response(200, BatchSchema(many=True))
    @blp.doc(summary="Recent event batches, newest first",
             description="Each with its state and counts; `state=failed` lists the batches a person must look at. "
                         f"Outcomes are kept for {event_batches.KEEP_OUTCOMES.days} days.")
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        session = db_session()
        statement = select(EventBatch).where(EventBatch.org_id == current_org(session).id)
        if "state" in query:
            statement = statement.where(EventBatch.state == BatchState(query["state"]))
        if "before_id" in query:
            statement = statement.where(EventBatch.id < query["before_id"])
        statement = statement.order_by(EventBatch.id.desc()).limit(query["limit"])
        return [_view(batch) for batch in session.scalars(statement)]


@blp.route("/event-batches/<int:batch_id>")
class BatchItem(MethodView):
    @blp.response(200, BatchSchema)
    @blp.doc(summary="One batch's outcome", description="Poll until `state` is `processed` or `failed`.")
    def get(self, batch_id: int) -> dict[str, Any]:
        session = db_session()
        batch = session.get(EventBatch, batch_id)
        if batch is None or batch.org_id != current_org(session).id:
            abort(404, message=f"No event batch {batch_id} in this organisation (outcomes are kept for "
                               f"{event_batches.KEEP_OUTCOMES.days} days).")
        return _view(batch)


def _view(batch: EventBatch) -> dict[str, Any]:
    results = batch.results
    counts: dict[str, int | None] = dict.fromkeys(OUTCOMES)
    if results is None:
        results = [{"id": event_id, "type": None, "status": "queued", "detail": None} for event_id in batch.event_ids]
    else:
        counts = {outcome: sum(1 for r in results if r["status"] == outcome) for outcome in OUTCOMES}
    return {"batch_id": batch.id, "state": batch.state.value, "url": _url(batch.id), "received": batch.event_count,
            "received_at": batch.received_at, "processed_at": batch.processed_at, "applied": counts["applied"],
            "ignored": counts["ignored"], "duplicates": counts["duplicate"], "error": batch.error,
            "results": results}


def _url(batch_id: int) -> str:
    return url_for("events.BatchItem", batch_id=batch_id)


def _too_large() -> None:
    abort(413, message=f"The body is larger than {request.max_content_length} bytes; send smaller batches.")


def _body() -> bytes:
    if declared_too_large(request):
        _too_large()
    if not request.is_json:
        abort(400, message="Send the events as JSON with 'Content-Type: application/json'.")
    data = read_within_limit(request)
    if data is None:
        _too_large()
    return data


def _parse(data: bytes) -> Any:
    try:
        return parse_json(data)
    except BadJson as exc:
        abort(400, message=str(exc))
