"""`POST /webhooks/sendgrid/inbound/<org_id>`: candidates' replies, through SendGrid Inbound Parse.

SendGrid cannot sign these posts, so the URL carries basic auth
(`https://ghostless:<secret>@host/webhooks/sendgrid/inbound/<org>`) and we keep a SHA-256 of the secret.

Order of checks, each with a clear JSON answer and nothing stored:
413 declared body over the limit -> 404 unknown organisation -> 403 no inbound secret configured ->
401 missing or wrong basic auth -> 400 not multipart / no `from` field -> 413 body or a field over
the limit while reading. Then the reply is stored and acted on (`plugin.notify.replies`: a re-post
changes nothing, a known candidate's reply is forwarded and acknowledged, anyone else's is kept for
review). SendGrid retries anything but a 2xx for three days, so a stored mail is answered 200 at once.

Thin: `plugin.mail.sendgrid_inbound` checks the secret and reads the post, `plugin.notify.replies`
acts on it.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from plugin import clock
from plugin.mail.sendgrid_inbound import NotInboundParse, basic_auth_matches, parse_inbound
from plugin.models import Organization
from plugin.notify.replies import store_reply
from plugin.web.body_limit import declared_too_large
from plugin.web.errors import error_response as _error

log = logging.getLogger(__name__)

bp = Blueprint("sendgrid_inbound", __name__, url_prefix="/webhooks/sendgrid/inbound")

# Above the attachment limits of the large mail services (20-25 MB): a real reply is never
# refused, and refusing one would only make SendGrid retry it for three days and then drop it.
# Attachments are streamed into a sink, never held, so the limit costs reading time, not memory.
INBOUND_MAX_BYTES = 40 * 1024 * 1024
REALM = "ghostless-inbound"
SECRET_HELP = ("This organisation has no inbound secret yet. Create one with "
               "POST /api/v1/organization/mail/inbound-secret and give SendGrid the URL it returns.")


@bp.before_request
def allow_mail_sized_bodies() -> None:
    """Mail with attachments is larger than the app-wide 1 MB limit (Flask 3.1: per request)."""
    request.max_content_length = INBOUND_MAX_BYTES
    request.max_form_memory_size = INBOUND_MAX_BYTES  # one `html` part may be large (inline images)


@bp.post("/<org_id>")
def receive(org_id: str) -> Any:
    rt = current_app.extensions["ghostless"]
    too_large = f"The body is larger than {INBOUND_MAX_BYTES} bytes."
    if declared_too_large(request):
        return _error(413, too_large)
    with rt.db.session() as session:
        refused = _refusal(session.get(Organization, org_id))
    if refused is not None:
        return refused
    if request.mimetype != "multipart/form-data":
        return _error(400, "Send the mail as multipart/form-data, as SendGrid Inbound Parse does "
                           "(the 'parsed' mode, not 'POST the raw, full MIME message').")
    try:  # read outside any transaction: a large body from a slow connection holds no database connection
        mail = parse_inbound(request.stream, request.mimetype_params.get("boundary", ""), request.content_length,
                             max_form_memory_size=request.max_form_memory_size,
                             max_form_parts=request.max_form_parts)
    except RequestEntityTooLarge:
        return _error(413, too_large)
    except NotInboundParse as exc:
        return _error(400, str(exc))
    with rt.db.session() as session:
        org = session.get(Organization, org_id)
        if org is None:  # deleted while the body was read
            return _refusal(org)
        reply, duplicate = store_reply(session, org, mail, clock.now())
        answer = {"status": "duplicate" if duplicate else "stored", "reply_id": reply.id,
                  "state": reply.state.value}
    return jsonify(answer), 200


def _refusal(org: Organization | None) -> tuple[Response, int] | None:
    if org is None:
        return _error(404, "No such organisation. Copy the Inbound Parse URL from the API again.")
    if not org.sendgrid_inbound_secret_hash:
        return _error(403, SECRET_HELP)
    if not basic_auth_matches(request.headers.get("Authorization"), org.sendgrid_inbound_secret_hash):
        log.warning("SendGrid inbound post refused for org %s: missing or wrong basic auth", org.id)
        return _error(401, "Basic auth is missing or the secret does not match. Put the URL from "
                           "POST /api/v1/organization/mail/inbound-secret, credentials included, "
                           "in SendGrid's Inbound Parse settings.",
                      {"WWW-Authenticate": f'Basic realm="{REALM}"'})
    return None
