"""The embedded default provider: one RFC 5322 ``.eml`` file per notification.

Used in development, the demo and tests, where no mail service is reachable. Files are named by
notification id so a retried job finds its earlier send and does not mail twice.
"""

from __future__ import annotations

import email.policy
import os
import tempfile
from collections.abc import Callable, Collection
from datetime import datetime
from email import headerregistry
from email.errors import HeaderParseError
from email.header import Header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from plugin.mail.base import (
    Address,
    BulkMessage,
    OutgoingMessage,
    PermanentMailError,
    SendCheck,
    SendResult,
    ghostless_headers,
    prepare,
)
from plugin.private_files import private_folder


def _header_address(address: Address) -> headerregistry.Address:
    # headerregistry.Address quotes and RFC 2047-encodes display names ("José Müller", names
    # with commas) correctly; building "Name <addr>" strings by hand gets that wrong.
    try:
        return headerregistry.Address(display_name=address.name or "", addr_spec=address.email)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise PermanentMailError(f"invalid address {address.email!r}: {exc}") from exc


def _message_id(message: OutgoingMessage) -> str:
    domain = message.sender.email.rpartition("@")[2]
    try:
        # Message-ID must be ASCII; an internationalised sender domain goes in its IDNA form.
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = "ghostless.invalid"
    return f"<ghostless-{message.notification_id}@{domain}>"


# RFC 5322 2.1.1: a line is at most 998 octets. RFC 2047 2: a line holding encoded-words at most 76.
MAX_LINE_OCTETS = 998
ENCODED_LINE_CHARS = 76


def fold_subject(subject: str, linesep: str = "\r\n") -> str:
    """The Subject field (with its line ending), written so that any parser reads back `subject`.

    Python's folder (policy.SMTP, 78 columns) does not promise that: a value that fits a line of
    its own but not after "Subject: " moves whole to a continuation line (policy.default then reads
    a leading space); a longer one is folded, and compat32 keeps the fold in the value; a fold next
    to an encoded-word doubles or drops the space beside it; and "=?...?=" in the text is decoded.
    So:
    1. plain ASCII without "=?" that fits one line goes on one line, unfolded;
    2. anything else becomes RFC 2047 encoded-words only, each line at most 76 characters. The
       whitespace between encoded-words is not part of the value; every space of the subject is
       inside a word, so nothing is added or lost.
    """
    line = f"Subject: {subject}"
    if subject.isascii() and "=?" not in subject and len(line) <= MAX_LINE_OCTETS:
        return line + linesep
    words = Header(subject, "utf-8", header_name="Subject").encode(linesep=linesep, maxlinelen=ENCODED_LINE_CHARS)
    return f"Subject: {words}{linesep}"


class _OutboxPolicy(email.policy.EmailPolicy):
    """policy.SMTP, except that the Subject is stored as given and written by `fold_subject`."""

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        stored = super().header_store_parse(name, value)  # refuses line breaks, as before
        # Kept verbatim: the header object would already have decoded an "=?...?=" in the text.
        return (name, value) if name.lower() == "subject" and isinstance(value, str) else stored

    def fold(self, name: str, value: Any) -> str:
        return fold_subject(str(value), self.linesep) if name.lower() == "subject" else super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        if name.lower() == "subject":
            return fold_subject(str(value), self.linesep).encode("ascii")
        return super().fold_binary(name, value)


# SMTP's line endings (CRLF), 7-bit headers, 78-column folding for every other field.
OUTBOX_POLICY = _OutboxPolicy(linesep="\r\n")


def build_email(message: OutgoingMessage, date: datetime) -> EmailMessage:
    """Build the MIME message (text + html alternative) for an already prepared message."""
    mail = EmailMessage(policy=OUTBOX_POLICY)
    mail["From"] = _header_address(message.sender)
    mail["To"] = _header_address(message.to)
    if message.reply_to is not None:
        mail["Reply-To"] = _header_address(message.reply_to)
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(date)
    mail["Message-ID"] = _message_id(message)
    for name, value in ghostless_headers(message).items():
        mail[name] = value
    # Quoted-printable keeps the file 7-bit clean (plain RFC 5322) while staying readable;
    # the SMTP policy would otherwise pick raw 8bit for non-ASCII text.
    mail.set_content(message.text, cte="quoted-printable")
    mail.add_alternative(message.html, subtype="html", cte="quoted-printable")
    return mail


def _parse(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        parsed = BytesParser(policy=email.policy.default).parse(handle)
    assert isinstance(parsed, EmailMessage)  # guaranteed by policy.default
    return parsed


class OutboxProvider:
    name = "outbox"

    def __init__(self, directory: Path, now: Callable[[], datetime]) -> None:
        self.directory = Path(directory)
        self._now = now  # injected so tests and the demo get a deterministic Date header

    def path_for(self, message: OutgoingMessage) -> Path:
        return self.directory / f"{message.notification_id:08d}-{message.kind}.eml"

    def send(self, message: OutgoingMessage) -> SendResult:
        message = prepare(message)  # validates kind too, so the file name below is safe
        target = self.path_for(message)
        if target.exists():
            # Idempotent: a retried job must not produce a second mail. Report the id that was
            # actually written, even if the sender changed in between.
            existing = _parse(target)["Message-ID"]
            return SendResult(provider_message_id=str(existing) if existing else _message_id(message))

        date = self._now()
        if date.tzinfo is None:
            # A naive clock would produce "-0000" (unknown zone) and hide a wiring bug.
            raise ValueError("the outbox clock must return timezone-aware datetimes")
        payload = build_email(message, date).as_bytes()  # SMTP policy: CRLF line endings

        private_folder(self.directory)  # 0700, and each file 0600 (mkstemp): every mail names a person
        # Atomic: readers (the demo summary, tests) never see a half-written file, and a crash
        # leaves at most a stray temp file that read_outbox ignores.
        fd, tmp_name = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())  # "sent" must survive a crash
            os.replace(tmp_name, target)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise
        return SendResult(provider_message_id=_message_id(message))

    def was_sent(self, notification_id: int) -> SendCheck:
        """The file is written atomically, so it exists exactly when the message was sent."""
        for path in self.directory.glob(f"{notification_id:08d}-*.eml"):
            parsed = _parse(path)
            date = parsed["Date"]
            return SendCheck(sent=True, at=date.datetime if date is not None else None,
                             provider_message_id=str(parsed["Message-ID"]) if parsed["Message-ID"] else None)
        return SendCheck(sent=False)

    def send_bulk(self, message: BulkMessage) -> dict[int, str | None]:
        """One file per recipient, as each of them receives it."""
        personal = [prepare(m) for m in message.personalised()]  # all valid before any is written
        return {m.notification_id: self.send(m).provider_message_id for m in personal}


def read_outbox(directory: Path) -> list[EmailMessage]:
    """All messages in the outbox, sorted by file name (i.e. by notification id)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return [_parse(path) for path in sorted(directory.glob("*.eml"))]


def _id_of(path: Path) -> int | None:
    number, _, _ = path.name.partition("-")
    return int(number) if number.isascii() and number.isdigit() else None


def message_ids(directory: Path) -> set[int]:
    """The notification ids whose .eml files are in the outbox."""
    directory = Path(directory)
    if not directory.is_dir():
        return set()
    return {i for i in map(_id_of, directory.glob("*.eml")) if i is not None}


def remove_messages(directory: Path, notification_ids: Collection[int]) -> set[int]:
    """Delete the .eml files of these notifications (their person was erased). Returns the ids whose
    file is still there (it could not be removed): the sweep tries again."""
    directory = Path(directory)
    if not directory.is_dir():
        return set()
    wanted = set(notification_ids)
    left: set[int] = set()
    for path in directory.glob("*.eml"):
        notification_id = _id_of(path)
        if notification_id not in wanted:
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError:
            left.add(notification_id)  # type: ignore[arg-type]  # in `wanted`, so not None
    return left
