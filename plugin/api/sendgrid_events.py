"""`POST /webhooks/sendgrid/events/<org_id>`: SendGrid's signed Event Webhook (delivery proof).

Order of checks, each with an answer that says what is wrong: 413 body over 1 MB -> 404 unknown
organisation -> 403 no verification key configured -> 400 not UTF-8 -> 401 missing or bad signature
(over the raw body exactly as received; nothing stored, a warning names the organisation) -> 400 not
a JSON array of event objects (nothing stored) -> every event is stored once (`MailEvent`, deduplicated, with
the fingerprint of the key that verified it and who set that key when) and moves its notification's
delivery status, unless its time is impossible (before the message was handed to SendGrid, older than
SendGrid's retry window, or in the future): then it is stored as refused, applied to nothing, logged
and audited -> commit -> 200 with counts (`refused` among them). SendGrid retries any other answer
for 24 hours, and a retry is harmless: duplicates change nothing.

Thin: `plugin.mail.sendgrid_events` verifies and parses, `plugin.notify.delivery_events` applies.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from plugin.mail.sendgrid_events import (
    CONFIGURE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BadEvents,
    VerifyingKey,
    decode_body,
    key_fingerprint,
    parse_events,
    signature_problem,
)
from plugin.models import Organization
from plugin.notify.delivery_events import record_with_retries
from plugin.web.body_limit import declared_too_large, read_within_limit
from plugin.web.errors import error_response as _error

log = logging.getLogger(__name__)

bp = Blueprint("sendgrid_events", __name__, url_prefix="/webhooks/sendgrid")


@bp.post("/events/<org_id>")
def receive(org_id: str) -> Any:
    rt = current_app.extensions["ghostless"]
    too_large = f"The body is larger than {request.max_content_length} bytes."
    if declared_too_large(request):
        return _error(413, too_large)
    with rt.db.session() as session:
        org = session.get(Organization, org_id)
        if org is None:
            return _error(404, "No such organisation. Copy the Event Webhook URL from GET /api/v1/organization/mail.")
        public_key = org.sendgrid_event_public_key
        key_set = (org.sendgrid_event_key_set_at, org.sendgrid_event_key_set_by)
    if not public_key:
        return _error(403, f"This organisation does not accept SendGrid events yet: {CONFIGURE} "
                           "(the key SendGrid shows under Mail Settings > Event Webhook > Signature Verification).")
    body = read_within_limit(request)
    if body is None:
        return _error(413, too_large)
    try:
        text = decode_body(body)
    except BadEvents as exc:
        return _error(400, str(exc))
    problem = signature_problem(public_key, text, request.headers.get(SIGNATURE_HEADER),
                                request.headers.get(TIMESTAMP_HEADER))
    if problem is not None:
        log.warning("SendGrid event webhook refused for organisation %s: %s", org_id, problem)
        return _error(401, problem)
    try:
        events = parse_events(text)
    except BadEvents as exc:
        return _error(400, str(exc))
    verified_by = VerifyingKey(key_fingerprint(public_key) or "", *key_set)
    counts = record_with_retries(rt.db, org_id, events, verified_by)
    if counts is None:
        return _error(503, "Another process was changing the same records; SendGrid will retry this post.")
    return jsonify(counts), 200
