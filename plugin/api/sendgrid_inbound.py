"""`POST /webhooks/sendgrid/inbound/<org_id>`: candidates' replies, through SendGrid Inbound Parse.

SendGrid posts every mail sent to the organisation's inbound address as multipart/form-data
("parsed" mode: `from`, `subject`, `text`, `html`, `headers`, `envelope`, `charsets`, `attachments`
and the files `attachment1..N`). It cannot sign these posts, so the URL carries basic auth
(`https://ghostless:<secret>@host/webhooks/sendgrid/inbound/<org>`) and we keep a SHA-256 of the secret.

Order of checks, each with a clear JSON answer and nothing stored:
413 declared body over the limit -> 404 unknown organisation -> 403 no inbound secret configured ->
401 missing or wrong basic auth -> 400 not multipart / no `from` field -> 413 body or a field over
the limit while reading. Then:
1. a re-post of a mail we already have (same Message-ID) is acknowledged and changes nothing;
2. a known candidate's reply is stored on their application's timeline, forwarded to the recruiter
   (`reply_forward`, now) and, once per cycle while an obligation is open, acknowledged to the
   candidate (`reply_ack`, in their send window; it does not discharge the cycle);
3. mail from anyone else is stored as `unknown_sender` for review: not answered, not forwarded.
Messages scheduled for "now" go out with the next sweep tick, like every other message. SendGrid
retries anything but a 2xx for three days, so a stored mail is answered 200 at once.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import parseaddr
from html.parser import HTMLParser
from typing import IO, Any

from flask import Blueprint, Request, Response, current_app, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import Headers, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import MultiPartParser

from plugin import clock
from plugin.audit import audit
from plugin.models import (
    Application,
    ApplicationStatus,
    Candidate,
    CandidateReply,
    Notification,
    NotificationKind,
    Obligation,
    ObligationState,
    Organization,
    ReplyState,
)
from plugin.notify.dates import human_instant
from plugin.sla import obligations
from plugin.sla.messages import internal_recipient
from plugin.sla.obligations import calendars
from plugin.sla.policy import calendar_for, policy_for
from plugin.web.body_limit import declared_too_large
from plugin.web.errors import error_response as _error

log = logging.getLogger(__name__)

bp = Blueprint("sendgrid_inbound", __name__, url_prefix="/webhooks/sendgrid/inbound")

# Above the attachment limits of the large mail services (20-25 MB): a real reply is never
# refused, and refusing one would only make SendGrid retry it for three days and then drop it.
# Attachments are streamed into a sink, never held, so the limit costs reading time, not memory.
INBOUND_MAX_BYTES = 40 * 1024 * 1024
TEXT_LIMIT = 20_000  # characters of the reply kept (and forwarded)
SUBJECT_LIMIT = 1_000
NAME_LIMIT = 200  # CandidateReply.from_name
EMAIL_LIMIT = 320  # CandidateReply.from_email
MESSAGE_ID_LIMIT = 300  # CandidateReply.message_id
HEADERS_LIMIT = 100_000  # of the raw header block, enough for any real Message-ID
FIELD_SCAN_LIMIT = 4_000  # of a one-line field read at all (huge fields must not cost seconds)
REALM = "ghostless-inbound"
ACTOR = "sendgrid-inbound"
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
        mail = parse_inbound(request)
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
    if not _password_matches(request, org.sendgrid_inbound_secret_hash):
        log.warning("SendGrid inbound post refused for org %s: missing or wrong basic auth", org.id)
        return _error(401, "Basic auth is missing or the secret does not match. Put the URL from "
                           "POST /api/v1/organization/mail/inbound-secret, credentials included, "
                           "in SendGrid's Inbound Parse settings.",
                      {"WWW-Authenticate": f'Basic realm="{REALM}"'})
    return None


def _password_matches(req: Request, expected_hash: str) -> bool:
    """The basic-auth password's SHA-256 against the stored one (username ignored), in constant time."""
    auth = req.authorization
    if auth is None or auth.type != "basic" or not auth.password:
        return False
    given = hashlib.sha256(auth.password.encode("utf-8", "surrogateescape")).hexdigest()
    return hmac.compare_digest(given, expected_hash)


# -- parsing -----------------------------------------------------------------------------------------


class NotInboundParse(ValueError):
    """The body is not a SendGrid Inbound Parse post (the message says what is missing)."""


@dataclass(frozen=True)
class InboundMail:
    from_email: str | None
    from_name: str | None
    addresses: tuple[str, ...]  # to match a candidate: the From header's address, then the envelope's
    subject: str | None
    text: str
    attachments: int
    message_id: str
    auto_submitted: bool  # an out-of-office or other automatic mail: never answered (RFC 3834)


class _ByteKeepingParser(MultiPartParser):
    """Werkzeug decodes every field as UTF-8; latin-1 keeps each byte as one character instead, so the
    charset SendGrid names in `charsets` (e.g. iso-8859-1, shift_jis) can decode the field afterwards."""

    def get_part_charset(self, headers: Headers) -> str:
        return "latin-1"


class _Sink(io.RawIOBase):
    """Where attachment parts go: only their number is kept, never their content."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0


def _discard_file(*_args: Any, **_kwargs: Any) -> IO[bytes]:
    return _Sink()  # type: ignore[return-value]


def _read_form(req: Request) -> tuple[MultiDict[str, str], int]:
    """The form fields (as latin-1 byte strings) and the number of file parts."""
    boundary = req.mimetype_params.get("boundary", "")
    if not boundary:
        raise NotInboundParse("The multipart body has no boundary in its Content-Type.")
    parser = _ByteKeepingParser(stream_factory=_discard_file, max_form_memory_size=req.max_form_memory_size,
                                max_form_parts=req.max_form_parts)
    try:
        form, files = parser.parse(req.stream, boundary.encode("latin-1"), req.content_length)
    except (ValueError, UnicodeError) as exc:
        raise NotInboundParse(f"The multipart body cannot be read: {exc}") from exc
    return form, len(list(files.items(multi=True)))


def parse_inbound(req: Request) -> InboundMail:
    form, file_parts = _read_form(req)
    charsets = _json_object(form.get("charsets"))

    def field(name: str) -> str | None:
        raw = form.get(name)
        return None if raw is None else _decode(raw, charsets.get(name))

    raw_from = field("from")
    if raw_from is None or not raw_from.strip():
        raise NotInboundParse("The 'from' field is missing: this is not a SendGrid Inbound Parse post.")
    raw_from = raw_from[:FIELD_SCAN_LIMIT]
    name, header_address = parseaddr(_one_line(raw_from))
    envelope_from = _json_object(form.get("envelope")).get("from")
    envelope_address = parseaddr(_one_line(envelope_from[:FIELD_SCAN_LIMIT]))[1] \
        if isinstance(envelope_from, str) else ""
    addresses = tuple(dict.fromkeys(a for a in (_address(header_address), _address(envelope_address)) if a))
    headers = HeaderParser(policy=compat32).parsestr((field("headers") or "")[:HEADERS_LIMIT])
    text = (field("text") or "")[:TEXT_LIMIT * 2]
    if not text.strip():
        text = html_to_text(field("html") or "")
    return InboundMail(
        from_email=addresses[0] if addresses else None,
        # An unreadable address is kept, cleaned, as the name: the reviewer still sees who it was.
        from_name=_clip(_one_line(_encoded_words(name or ("" if addresses else raw_from))), NAME_LIMIT),
        addresses=addresses,
        subject=_clip(_one_line(_encoded_words((field("subject") or "")[:FIELD_SCAN_LIMIT])), SUBJECT_LIMIT),
        text=_multiline(text)[:TEXT_LIMIT],
        attachments=max(file_parts, _count(form.get("attachments"))),
        message_id=_message_id(_header(headers, "Message-ID"), form),
        auto_submitted=_auto_submitted(_header(headers, "Auto-Submitted"), _header(headers, "Precedence")),
    )


def _header(headers: Message, name: str) -> str:
    value = headers.get(name)
    return str(value)[:FIELD_SCAN_LIMIT] if value is not None else ""


def _decode(latin1: str, charset: Any) -> str:
    try:
        raw = latin1.encode("latin-1")
    except UnicodeEncodeError:
        return latin1
    try:
        return raw.decode(charset if isinstance(charset, str) and charset else "utf-8", "replace")
    except (LookupError, ValueError):  # an unknown charset, or a bytes-to-bytes codec like "base64"
        return raw.decode("utf-8", "replace")


def _json_object(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85]+")
_SPACES = re.compile(r"\s+")
_ADDRESS = re.compile(r"[^@\s<>(),;:\"\[\]\\]+@[^@\s<>(),;:\"\[\]\\]+")


def _one_line(value: str) -> str:
    """No line breaks or control characters: a name or subject can never smuggle in a header."""
    value = _LINE_BREAKS.sub(" ", value)
    value = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\u200d" else ch
                    for ch in value)
    return _SPACES.sub(" ", value).strip()


def _multiline(value: str) -> str:
    """Line breaks normalised; NUL and other control characters removed (PostgreSQL refuses NUL)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()


def _clip(value: str, limit: int) -> str | None:
    return value[:limit] or None


def _encoded_words(value: str) -> str:
    """"=?utf-8?q?J=C3=BCrgen?=" -> "Jürgen" (SendGrid usually decodes these, not always in names)."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def _address(value: str) -> str | None:
    value = value.strip()
    return value if len(value) <= EMAIL_LIMIT and _ADDRESS.fullmatch(value) else None


def _count(raw: str | None) -> int:
    try:
        return max(0, min(int((raw or "0").strip()), 100_000))
    except ValueError:
        return 0


def _message_id(header: str | None, form: MultiDict[str, str]) -> str:
    """The Message-ID; without one, a hash of the fields (a SendGrid re-post has the same body)."""
    cleaned = _one_line(header or "")
    if cleaned:
        return cleaned[:MESSAGE_ID_LIMIT]
    digest = hashlib.sha256()
    for name in ("from", "to", "subject", "text", "html", "headers"):
        digest.update(name.encode() + b"\0" + form.get(name, "").encode("latin-1", "replace") + b"\0")
    return f"sha256:{digest.hexdigest()}"


def _auto_submitted(auto_submitted: str | None, precedence: str | None) -> bool:
    if auto_submitted and auto_submitted.strip().lower() != "no":
        return True
    return (precedence or "").strip().lower() in ("bulk", "junk", "list", "auto_reply")


class _TextExtractor(HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"})
    HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The readable text of an HTML-only mail: tags dropped, entities decoded, paragraphs kept."""
    extractor = _TextExtractor()
    extractor.feed(html[: TEXT_LIMIT * 20])  # markup-heavy mail still yields TEXT_LIMIT characters
    extractor.close()
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(extractor.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# -- storing -----------------------------------------------------------------------------------------


def store_reply(session: Session, org: Organization, mail: InboundMail, now: datetime) -> tuple[CandidateReply, bool]:
    """Store the mail and act on it. Returns the reply and whether it was a re-post."""
    existing = session.scalars(select(CandidateReply).where(
        CandidateReply.org_id == org.id, CandidateReply.message_id == mail.message_id).limit(1)).first()
    if existing is not None:
        return existing, True
    app = find_application(session, org.id, mail.addresses)
    reply = CandidateReply(
        org_id=org.id, state=ReplyState.MATCHED if app else ReplyState.UNKNOWN_SENDER, received_at=now,
        candidate_id=app.candidate_id if app else None, application_id=app.id if app else None,
        from_email=mail.from_email, from_name=mail.from_name, subject=mail.subject, text=mail.text,
        attachments=mail.attachments, message_id=mail.message_id,
    )
    session.add(reply)
    session.flush()
    if app is None:
        audit(session, org.id, "candidate_reply", reply.id, "received", now, ACTOR,
              after={"state": reply.state.value})
        log.info("org %s: mail from an unknown sender stored for review as reply %s (not answered)",
                 org.id, reply.id)
        return reply, False
    forward = _forward(session, org, app, reply, now)
    ack, no_ack_reason = _acknowledge(session, org, app, mail, now)
    reply.forward_notification_id = forward.id if forward else None
    reply.ack_notification_id = ack.id if ack else None
    audit(session, org.id, "candidate_reply", reply.id, "received", now, ACTOR,
          after={"state": reply.state.value, "application_id": app.id,
                 "forward_notification_id": reply.forward_notification_id,
                 "ack_notification_id": reply.ack_notification_id, "not_acknowledged": no_ack_reason})
    return reply, False


def find_application(session: Session, org_id: str, addresses: tuple[str, ...]) -> Application | None:
    """The application a mail from `addresses` is about, or None for an unknown sender.

    The first address that belongs to a (not erased) candidate of this organisation wins; among
    their applications, one with an open obligation (someone is waiting for news) comes first,
    then an active one, then the most recent.
    """
    for address in addresses:
        matches = session.scalars(select(Candidate).where(
            Candidate.org_id == org_id, func.lower(Candidate.email) == address.lower())).all()
        people = {c.id for c in (_survivor(session, m) for m in matches) if c.erased_at is None}
        if not people:
            continue
        apps = session.scalars(select(Application).where(Application.candidate_id.in_(people))).all()
        if not apps:
            continue
        waiting = set(session.scalars(select(Obligation.application_id).where(
            Obligation.application_id.in_([a.id for a in apps]), Obligation.state == ObligationState.OPEN)))
        return max(apps, key=lambda a: (a.id in waiting, a.status is ApplicationStatus.ACTIVE, _last_activity(a), a.id))
    return None


def _survivor(session: Session, candidate: Candidate) -> Candidate:
    """A candidate merged into another speaks for the one that survived the merge."""
    seen = {candidate.id}
    while candidate.merged_into_id is not None and candidate.merged_into_id not in seen:
        survivor = session.get(Candidate, candidate.merged_into_id)
        if survivor is None:
            break
        seen.add(survivor.id)
        candidate = survivor
    return candidate


def _last_activity(app: Application) -> datetime:
    return max(t for t in (app.created_at, app.status_changed_at, app.stage_changed_at,
                           app.first_interview_ended_at) if t is not None)


def _forward(session: Session, org: Organization, app: Application, reply: CandidateReply,
             now: datetime) -> Notification | None:
    """Every reply reaches the recruiter, in or out of a cycle (one message per reply)."""
    sender = f"{reply.from_name} <{reply.from_email}>" if reply.from_name else (reply.from_email or "")
    received = human_instant(now, calendar_for(org).tz, org.locale)
    return obligations.schedule(
        session, org, NotificationKind.REPLY_FORWARD, at=now, now=now, app=app,
        obligation=obligations.open_obligation(app), actor=ACTOR,
        recipient=internal_recipient(org, app.job, NotificationKind.REPLY_FORWARD),
        dedupe_key=f"reply_forward:r{reply.id}",
        context={"reply_from": sender, "reply_subject": reply.subject or "", "reply_text": reply.text or "",
                 "reply_received_at_text": received, "reply_attachments": reply.attachments},
    )


def _acknowledge(session: Session, org: Organization, app: Application, mail: InboundMail,
                 now: datetime) -> tuple[Notification | None, str | None]:
    """Tell the candidate once per cycle that their message arrived and when they will hear from us.

    Not a discharge: an automatic receipt is not the employer telling them where things stand.
    After a decision there is no open cycle and nothing to promise, so the reply is only forwarded.
    """
    obligation = obligations.open_obligation(app)
    if obligation is None:
        return None, "no open cycle (a decision was made)"
    if mail.auto_submitted:
        return None, "automatic mail (out of office...)"
    if not app.candidate.email:
        return None, "no candidate email"
    at = calendars(org, app.candidate).candidate.next_window_opening(now, policy_for(org, app.job).send_window)
    try:
        with session.begin_nested():  # the dedupe index refuses a second one made at the same instant
            ack = obligations.schedule(
                session, org, NotificationKind.REPLY_ACK, at=at, now=now, app=app, obligation=obligation,
                actor=ACTOR, dedupe_key=f"reply_ack:o{obligation.id}",
            )
    except IntegrityError:
        ack = None
    return ack, None if ack else "already acknowledged in this cycle"
