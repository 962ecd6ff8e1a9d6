"""POST /api/v1/events: the generic ATS integration (one event or {"events": [...]})."""

from __future__ import annotations

import random
import time
from typing import Any

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields
from sqlalchemy.exc import DBAPIError, IntegrityError

from plugin.api.common import current_org, db_session, now
from plugin.events.schemas import MAX_BATCH, EventValidationError, load_events
from plugin.json_input import BadJson, parse_json
from plugin.sla.batch_locks import is_transient_conflict, lock_in_stable_order
from plugin.sla.ledger import record_event
from plugin.web.body_limit import declared_too_large, read_within_limit

blp = Blueprint("events", __name__, url_prefix="/api/v1", description="Canonical ATS events")

ATTEMPTS = 5  # two requests racing to create the same candidate, or a deadlock: the loser retries


class EventResultSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "applied | ignored | duplicate"})
    detail = fields.String(allow_none=True)


class EventsResponseSchema(Schema):
    received = fields.Integer()
    applied = fields.Integer()
    ignored = fields.Integer()
    duplicates = fields.Integer()
    results = fields.List(fields.Nested(EventResultSchema))


@blp.route("/events")
class Events(MethodView):
    @blp.response(200, EventsResponseSchema)
    @blp.doc(
        summary="Report ATS events",
        description=(
            "One canonical event, or `{\"events\": [...]}` with up to "
            f"{MAX_BATCH}. Idempotent on the event id: a repeat is acknowledged as `duplicate` and changes "
            "nothing. A request with any invalid event is rejected whole (422) and stores nothing."
        ),
        requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
    )
    def post(self) -> dict[str, Any]:
        payload = _json_body()
        try:
            events = load_events(payload)
        except EventValidationError as exc:
            abort(422, message="The request contains invalid events; nothing was stored.",
                  errors={"json": exc.errors})
        raw_items = payload["events"] if isinstance(payload, dict) and "events" in payload else [payload]
        for attempt in range(ATTEMPTS):
            session = db_session()
            try:
                org = current_org(session)
                lock_in_stable_order(session, org.id, events)
                at = now()
                results = []
                for event, raw in zip(events, raw_items):
                    status, outcome = record_event(session, org, event, raw, now=at, actor=_actor())
                    results.append({"id": event.id, "status": status, "detail": outcome.detail if outcome else None})
                session.commit()
                break
            except (IntegrityError, DBAPIError) as exc:
                session.rollback()
                if not (isinstance(exc, IntegrityError) or is_transient_conflict(exc)) or attempt == ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # let the other batch finish first
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("applied", "ignored", "duplicate")}
        return {"received": len(events), "applied": counts["applied"], "ignored": counts["ignored"],
                "duplicates": counts["duplicate"], "results": results}


def _actor() -> str:
    return g.actor


def _too_large() -> None:
    abort(413, message=f"The body is larger than {request.max_content_length} bytes; send smaller batches.")


def _json_body() -> Any:
    if declared_too_large(request):
        _too_large()
    if not request.is_json:
        abort(400, message="Send the events as JSON with 'Content-Type: application/json'.")
    data = read_within_limit(request)
    if data is None:
        _too_large()
    try:
        return parse_json(data)
    except BadJson as exc:
        abort(400, message=str(exc))
