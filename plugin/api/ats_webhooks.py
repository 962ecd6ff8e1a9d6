"""`POST /webhooks/<provider>/<connection_id>`: where an ATS delivers its webhooks.

Order of checks, each with the answer the vendor (and the admin reading its delivery log) needs:
413 body over 1 MB -> 404 unknown provider or connection -> 410 connection disabled (so the vendor
stops retrying) -> 400 not sent as JSON -> 401 bad or missing signature over the raw body (nothing
stored, nothing parsed; the connection's counter goes up and a log line names it) -> 400 not valid
JSON, or nested deeper than `plugin.json_input.MAX_DEPTH` -> (Lever, which signs fields inside the
body: 401 bad signature or a stale `triggeredAt`) -> the vendor's ping/test request is acknowledged ->
the raw delivery is stored and committed BEFORE we answer (invariant 3), deduplicated on the vendor's
delivery id and on the verified body itself (a signed body replayed under a new delivery id is the
same delivery), and handed to an RQ job. The answer is the status the vendor counts as delivered.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import update

from plugin import clock
from plugin.ats import connections as connections_module
from plugin.ats import deliveries, registry
from plugin.ats.base import WebhookRequest
from plugin.ats.secrets import SecretBox, SecretsUnreadable
from plugin.ats.signing import body_hash
from plugin.json_input import BadJson, parse_json
from plugin.models import AtsConnection, ConnectionState, DeliveryKind, DeliveryState
from plugin.web.body_limit import declared_too_large, read_within_limit
from plugin.web.errors import error_response as _error

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

BAD_SIGNATURE = "The signature is missing or does not match."


@bp.post("/<provider>/<connection_id>")
def receive(provider: str, connection_id: str) -> Any:
    rt = current_app.extensions["ghostless"]
    too_large = f"The body is larger than {request.max_content_length} bytes."
    if declared_too_large(request):
        return _error(413, too_large)
    adapter = registry.get(provider)
    if adapter is None:
        return _error(404, f"Unknown provider {provider!r}; one of: {', '.join(registry.providers())}.")
    now = clock.now()
    with rt.db.session() as session:
        row = session.get(AtsConnection, connection_id)
        if row is None or row.provider != provider:
            return _error(404, "No such connection. Copy the webhook URL from the connection again.")
        if row.state is ConnectionState.DISABLED:
            return _error(410, "This connection is disabled; remove the webhook in your ATS or re-enable it.")
        body = read_within_limit(request)
        if body is None:
            return _error(413, too_large)
        if not request.is_json:
            return _error(400, "Send the webhook as JSON with 'Content-Type: application/json'.")
        try:
            # Only the signing secrets: the API credentials are not needed to answer a webhook.
            secrets = connections_module.accepted_secrets(row, SecretBox(rt.settings), now)
        except SecretsUnreadable as exc:
            log.error("ATS connection %s: %s", connection_id, exc)
            return _error(500, "This connection's signing secret cannot be read; an admin must enter it again.")
        incoming = WebhookRequest(body=body, headers=deliveries.storable_headers(request.headers), payload=None)
        signed = adapter.verify(incoming, secrets) if adapter.signs_raw_body else None
        problem = None if signed is not False else BAD_SIGNATURE
        if not problem:
            try:
                incoming = replace(incoming, payload=parse_json(body))
            except BadJson as exc:
                return _error(400, str(exc))
            if signed is None and not adapter.verify(incoming, secrets):
                problem = BAD_SIGNATURE
            problem = problem or adapter.stale_reason(incoming, now, dict(row.options or {}))
        if problem:
            session.rollback()
            session.execute(update(AtsConnection).where(AtsConnection.id == connection_id).values(
                rejected_signatures=AtsConnection.rejected_signatures + 1, last_rejected_at=now))
            log.warning("ATS webhook refused for connection %s (%s): %s", connection_id, provider, problem)
            return _error(401, problem)
        ping = adapter.is_ping(incoming)
        stored = deliveries.store(
            session, row, kind=DeliveryKind.WEBHOOK, key=adapter.delivery_id(incoming) or body_hash(body),
            content_hash=body_hash(body), body=body, headers=incoming.headers,
            vendor_event=adapter.event_name(incoming), now=now, state=DeliveryState.IGNORED if ping else DeliveryState.RECEIVED,
        )
    # Committed: now it may be acknowledged and processed. A failed enqueue is not the vendor's
    # problem: the sweep re-enqueues deliveries whose job never ran.
    if not stored.duplicate and not ping:
        try:
            deliveries.dispatch(rt.queue, [stored.delivery_id])
        except Exception:  # noqa: BLE001
            log.exception("could not enqueue ATS delivery %s; the sweep will pick it up", stored.delivery_id)
    status = "ping" if ping else ("duplicate" if stored.duplicate else "accepted")
    return jsonify(status=status, delivery_id=stored.delivery_id), adapter.success_status
