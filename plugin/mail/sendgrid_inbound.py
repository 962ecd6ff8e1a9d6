"""SendGrid Inbound Parse posts, read: the basic-auth secret check and the multipart post as a typed mail.

SendGrid posts every mail sent to the organisation's inbound address as multipart/form-data
("parsed" mode: `from`, `subject`, `text`, `html`, `headers`, `envelope`, `charsets`, `attachments`
and the files `attachment1..N`). It cannot sign these posts, so the URL carries basic auth and we
keep a SHA-256 of the secret.

Sender authentication (`sender_authentication`): SendGrid checks SPF for the envelope sender and
every DKIM signature, and posts its verdicts as `SPF` ("pass", "fail", "softfail", "neutral", "none",
...) and `dkim` ("{@example.com : pass, @mailer.example : fail}", or "none"). A sender's address is
authenticated when SPF passed for an envelope sender in the same domain, or a DKIM signature of that
domain passed ("the same domain": equal, or one a subdomain of the other, as DMARC's relaxed
alignment; without the public suffix list, so a two-label parent such as co.uk counts as a domain,
which no one can sign for or send from). Anything else, including a post with neither field, is not:
the From header is a line anyone can write.

Verification and parsing only: no database, no HTTP framework's request. The route
(`plugin.api.sendgrid_inbound`) hands in the Authorization header and the body stream; what a
reply does (matched, stored, forwarded, acknowledged) is `plugin.notify.replies`.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import parseaddr
from html.parser import HTMLParser
from typing import IO, Any

from werkzeug.datastructures import Authorization, Headers, MultiDict
from werkzeug.formparser import MultiPartParser

from plugin.json_input import parse_json

TEXT_LIMIT = 20_000  # characters of the reply kept (and forwarded)
SUBJECT_LIMIT = 1_000
NAME_LIMIT = 200  # CandidateReply.from_name
EMAIL_LIMIT = 320  # CandidateReply.from_email
MESSAGE_ID_LIMIT = 300  # CandidateReply.message_id
HEADERS_LIMIT = 100_000  # of the raw header block, enough for any real Message-ID
FIELD_SCAN_LIMIT = 4_000  # of a one-line field read at all (huge fields must not cost seconds)


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
    spf: str | None = None  # SendGrid's SPF verdict, lower case ("pass", "softfail"...); None: not given
    envelope_from: str | None = None  # the SMTP envelope sender: whose domain SPF checked
    dkim: tuple[tuple[str, str], ...] = ()  # (signing domain, verdict) per signature SendGrid checked


# -- verification ------------------------------------------------------------------------------------


def basic_auth_matches(authorization: str | None, expected_hash: str) -> bool:
    """The basic-auth password's SHA-256 against the stored one (username ignored), in constant time.

    `authorization` is the raw Authorization header, parsed as werkzeug parses it for a request."""
    auth = Authorization.from_header(authorization)
    if auth is None or auth.type != "basic" or not auth.password:
        return False
    given = hashlib.sha256(auth.password.encode("utf-8", "surrogateescape")).hexdigest()
    return hmac.compare_digest(given, expected_hash)


# -- reading the multipart body ----------------------------------------------------------------------


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


def read_form(stream: IO[bytes], boundary: str, content_length: int | None, *,
              max_form_memory_size: int | None, max_form_parts: int | None) -> tuple[MultiDict[str, str], int]:
    """The form fields (as latin-1 byte strings) and the number of file parts.

    A stream, not bytes: attachments (tens of MB) are read through and counted, never held. Werkzeug's
    RequestEntityTooLarge passes through when the stream or one field is over its limit."""
    if not boundary:
        raise NotInboundParse("The multipart body has no boundary in its Content-Type.")
    parser = _ByteKeepingParser(stream_factory=_discard_file, max_form_memory_size=max_form_memory_size,
                                max_form_parts=max_form_parts)
    try:
        form, files = parser.parse(stream, boundary.encode("latin-1"), content_length)
    except (ValueError, UnicodeError) as exc:
        raise NotInboundParse(f"The multipart body cannot be read: {exc}") from exc
    return form, len(list(files.items(multi=True)))


def parse_inbound(stream: IO[bytes], boundary: str, content_length: int | None, *,
                  max_form_memory_size: int | None, max_form_parts: int | None) -> InboundMail:
    """The mail of one Inbound Parse post (`read_form`, then `parse_form`)."""
    form, file_parts = read_form(stream, boundary, content_length, max_form_memory_size=max_form_memory_size,
                                 max_form_parts=max_form_parts)
    return parse_form(form, file_parts)


# -- the fields as a mail ----------------------------------------------------------------------------


def parse_form(form: Mapping[str, str], file_parts: int) -> InboundMail:
    """The mail in SendGrid's fields (latin-1 strings, one character per byte, as `read_form` gives them)."""
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
        spf=_spf(form.get("SPF")), envelope_from=_address(envelope_address) or None, dkim=_dkim(form.get("dkim")),
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


# -- sender authentication (SendGrid's SPF and DKIM verdicts) ----------------------------------------

_DKIM_SIGNATURE = re.compile(r"@?([A-Za-z0-9.-]+)\s*:\s*([A-Za-z]+)")


def _spf(raw: str | None) -> str | None:
    """The verdict word ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")."""
    words = (raw or "")[:200].split()
    verdict = words[0].strip("()[]{},;:").lower() if words else ""
    return verdict or None


def _dkim(raw: str | None) -> tuple[tuple[str, str], ...]:
    """'{@a.example : pass, @b.example : fail}' -> (("a.example", "pass"), ("b.example", "fail"))."""
    return tuple((domain.lower().strip("."), verdict.lower())
                 for domain, verdict in _DKIM_SIGNATURE.findall((raw or "")[:FIELD_SCAN_LIMIT]))[:20]


def _domain(address: str | None) -> str | None:
    domain = address.rpartition("@")[2].lower().strip(".") if address and "@" in address else ""
    return domain or None


def aligned(domain: str, sender_domain: str) -> bool:
    """The same domain, or one a subdomain of the other (DMARC's relaxed alignment, approximately),
    never through a shared top-level domain alone."""
    if domain == sender_domain:
        return True
    shorter, longer = sorted((domain, sender_domain), key=len)
    return "." in shorter and longer.endswith("." + shorter)


@dataclass(frozen=True)
class SenderAuthentication:
    passed: bool
    summary: str  # SendGrid's verdicts in words, e.g. "SPF pass for example.com; DKIM pass for example.com"
    problem: str | None  # why `address` is not authenticated, for a person reviewing the mail


def sender_authentication(mail: InboundMail, address: str | None) -> SenderAuthentication:
    """Whether SendGrid's verdicts vouch for `address` (the address the mail was matched by)."""
    spf_domain = _domain(mail.envelope_from)
    spf = f"SPF {mail.spf}" + (f" for {spf_domain}" if spf_domain else "") if mail.spf else "no SPF verdict"
    dkim = ", ".join(f"{verdict} for {domain}" for domain, verdict in mail.dkim)
    summary = f"{spf}; " + (f"DKIM {dkim}" if dkim else "no DKIM signature")
    sender = _domain(address)
    if sender is None:
        return SenderAuthentication(False, summary, "no sender address to authenticate")
    if mail.spf == "pass" and spf_domain is not None and aligned(spf_domain, sender):
        return SenderAuthentication(True, summary, None)
    if any(verdict == "pass" and aligned(domain, sender) for domain, verdict in mail.dkim):
        return SenderAuthentication(True, summary, None)
    return SenderAuthentication(False, summary, f"failed SPF and DKIM for {sender} ({summary})")


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
        value = parse_json(raw) if raw else {}  # bounded nesting (plugin.json_input)
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


def _message_id(header: str | None, form: Mapping[str, str]) -> str:
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
