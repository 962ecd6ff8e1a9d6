"""Erasure: a person's data leaves every place Ghostless wrote it; what proves what happened stays.

`erase_personal_data` runs inside the erasure's own transaction (`ledger.erase_candidate`: a
`candidate.erased` event from an ATS or the API, or retention). What goes, table by table:
- candidates: name, address, locale, time zone, holiday country (the ledger clears those);
- applications: the rejection reason (free text from the ATS);
- notifications to or about them (`candidate_id`: internal mail about them too): recipient,
  subject, bodies, context, the provider's delivery detail and the last send error;
- mail_events of those notifications: the raw event and its detail (a bounce quotes the address);
- candidate_replies: theirs, and any mail from one of their addresses we could not match: sender,
  subject, text and every other free-text column; the Message-ID becomes its hash (re-posts of the
  mail still dedupe, nothing readable stays);
- inbound_events naming them: raw and canonical bodies; the outcome detail loses what quotes them;
- audit_log entries about their candidate row, applications, obligations, notifications and replies:
  any string that quotes them (an address, a name, a reason, a subject) becomes "[erased]";
- ats_deliveries that carried them: see `plugin.sla.erasure_deliveries`.
What stays: ids, times, kinds, states, delivery statuses, counts: the proof of notice and every
figure keep working without anyone's data.

Copies outside the database are not in the transaction: once the erasure commits, the function the
process's runtime registered with `forget_outside_copies_with` removes the outbox's `.eml` copies of
their notifications and the RQ send jobs whose results could quote them (this package imports no mail
or queue code); a rolled-back erasure removes nothing. A file that could not be removed then (or one
a worker wrote while the erasure committed) is removed by the sweep (`erased_among` tells it which of
the outbox's files belong to erased people). On SQLite the write-ahead log is emptied after the
commit, so the replaced pages do not stay readable in it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, String, Text, event, func, or_, select, update
from sqlalchemy.orm import Session

from plugin.models import (
    CANDIDATE_KINDS,
    Application,
    AuditEntry,
    Candidate,
    CandidateReply,
    InboundEvent,
    MailEvent,
    Notification,
    Obligation,
    ReplyState,
)
from plugin.sla.erasure_deliveries import scrub_deliveries_of

log = logging.getLogger(__name__)

ERASED = "[erased]"
# Shorter pieces of a name or an address ("Li", "jo@") would match too much of what is not theirs.
MIN_PIECE = 3
_FILES_KEY = "ghostless.erasure.notification_files"
_LISTENING = "ghostless.erasure.listening"

FileRemover = Callable[[Collection[int]], None]
_file_remover: FileRemover | None = None


@dataclass
class Traces:
    """Everything that spells the person: addresses, names, and free text we stored about them."""

    emails: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)  # rejection reasons, reply subjects

    def add_email(self, value: str | None) -> None:
        if value and value.strip():
            self.emails.add(value.strip().lower())

    def add_name(self, value: str | None) -> None:
        if value and value.strip():
            self.names.add(" ".join(value.split()).lower())

    def add_text(self, value: str | None) -> None:
        if value and len(value.strip()) >= MIN_PIECE:
            self.texts.add(value.strip().lower())

    @property
    def name_parts(self) -> list[tuple[str, ...]]:
        """Each name as its words: vendors send first and last names in separate fields."""
        return [tuple(name.split()) for name in self.names]

    def pattern(self) -> re.Pattern[str] | None:
        """What a string quoting them contains: an address, a name or a text as stored, anywhere;
        a word of a name or an address's local part (a bounce may say "user zyx.erase unknown") as
        a whole word, so "Ann" does not take "channel" with it. None: nothing to look for."""
        anywhere = {t for t in self.emails | self.names | self.texts if len(t) >= MIN_PIECE}
        words = {email.partition("@")[0] for email in self.emails}
        words |= {word for parts in self.name_parts for word in parts}
        words = {w for w in words if len(w) >= MIN_PIECE} - anywhere
        alternatives = [re.escape(t) for t in sorted(anywhere, key=len, reverse=True)]
        alternatives += [rf"(?<!\w){re.escape(w)}(?!\w)" for w in sorted(words, key=len, reverse=True)]
        return re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None


def quotes(text: str, pattern: re.Pattern[str] | None) -> bool:
    return pattern is not None and pattern.search(" ".join(text.split())) is not None


def redacted(value: Any, pattern: re.Pattern[str] | None) -> Any:
    """`value` (a JSON document or a string) with every string that quotes the person replaced."""
    if isinstance(value, str):
        return ERASED if quotes(value, pattern) else value
    if isinstance(value, dict):
        return {key: redacted(item, pattern) for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item, pattern) for item in value]
    return value


def traces_of(session: Session, candidate: Candidate) -> Traces:
    """Read before anything is cleared: every address and name we wrote to or heard from."""
    traces = Traces()
    traces.add_email(candidate.email)
    traces.add_name(candidate.name)
    for email, name in session.execute(
        select(Notification.recipient_email, Notification.recipient_name)
        .where(Notification.candidate_id == candidate.id, Notification.kind.in_(CANDIDATE_KINDS))
    ):
        traces.add_email(email)
        traces.add_name(name)
    for email, name, subject in session.execute(
        select(CandidateReply.from_email, CandidateReply.from_name, CandidateReply.subject)
        .where(CandidateReply.candidate_id == candidate.id)
    ):
        traces.add_email(email)
        traces.add_name(name)
        traces.add_text(subject)
    for reason in session.scalars(select(Application.rejection_reason).where(Application.candidate_id == candidate.id)):
        traces.add_text(reason)
    return traces


def erase_personal_data(session: Session, candidate: Candidate, traces: Traces, *, now: Any) -> None:
    """Remove the person's data from every table (see the module docstring), in the caller's transaction."""
    org_id = candidate.org_id
    pattern = traces.pattern()
    apps = select(Application.id).where(Application.candidate_id == candidate.id)
    notifications = select(Notification.id).where(Notification.candidate_id == candidate.id)
    notification_ids = set(session.scalars(notifications))
    session.execute(update(Application).where(Application.candidate_id == candidate.id).values(rejection_reason=None))
    session.execute(
        update(Notification).where(Notification.candidate_id == candidate.id)
        .values(recipient_email=None, recipient_name=None, subject=None, body_text=None, body_html=None, context={},
                delivery_detail=None, last_error=None)
    )
    # Delivery events stay as proof (what happened, when); the raw event names the address.
    session.execute(update(MailEvent).where(MailEvent.notification_id.in_(notifications)).values(raw=None, detail=None))
    reply_ids = _erase_replies(session, org_id, candidate, traces)
    mine = (InboundEvent.org_id == org_id, InboundEvent.candidate_external_id == candidate.external_id)
    event_rows = session.execute(select(InboundEvent.id, InboundEvent.event_id, InboundEvent.raw, InboundEvent.detail)
                                 .where(*mine)).all()
    linked = {raw["ats_delivery_id"] for _, _, raw, _ in event_rows
              if isinstance(raw, dict) and "ats_delivery_id" in raw}
    scrub_deliveries_of(session, org_id, linked_ids=linked, event_ids={row.event_id for row in event_rows},
                        emails=traces.emails, names=traces.names, now=now)
    session.execute(update(InboundEvent).where(*mine).values(raw=None, canonical=None))
    for row_id, _, _, detail in event_rows:
        if detail and quotes(detail, pattern):
            session.execute(update(InboundEvent).where(InboundEvent.id == row_id).values(detail=ERASED))
    entities = {
        "candidate": {candidate.id},
        "application": set(session.scalars(apps)),
        "obligation": set(session.scalars(select(Obligation.id).where(Obligation.application_id.in_(apps)))),
        "notification": notification_ids,
        "candidate_reply": reply_ids,
    }
    _redact_audit(session, org_id, entities, pattern)
    _clean_up_after_commit(session, notification_ids)


def _erase_replies(session: Session, org_id: str, candidate: Candidate, traces: Traces) -> set[int]:
    """Their replies, and mail from one of their addresses we could not match to them."""
    theirs = [CandidateReply.candidate_id == candidate.id]
    if traces.emails:
        theirs.append(func.lower(CandidateReply.from_email).in_(traces.emails))
    rows = session.execute(select(CandidateReply.id, CandidateReply.message_id)
                           .where(CandidateReply.org_id == org_id, or_(*theirs))).all()
    # Every free-text column a reply has (a new one is covered without a change here), except the
    # Message-ID, which keeps deduplicating re-posts as a hash.
    cleared = {column.name: None for column in CandidateReply.__table__.columns
               if column.nullable and isinstance(column.type, (String, Text, JSON)) and column.name != "message_id"}
    for reply_id, message_id in rows:
        session.execute(update(CandidateReply).where(CandidateReply.id == reply_id)
                        .values(state=ReplyState.ERASED, message_id=_hashed(message_id), **cleared))
    return {reply_id for reply_id, _ in rows}


def _hashed(message_id: str | None) -> str | None:
    if message_id is None or message_id.startswith("sha256:"):
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def _redact_audit(session: Session, org_id: str, entities: dict[str, set[int]],
                  pattern: re.Pattern[str] | None) -> None:
    for entity, ids in entities.items():
        if not ids:
            continue
        keys = [str(i) for i in ids]
        for start in range(0, len(keys), 500):
            entries = session.scalars(select(AuditEntry).where(
                AuditEntry.org_id == org_id, AuditEntry.entity == entity,
                AuditEntry.entity_id.in_(keys[start:start + 500])))
            for entry in entries:
                before, after = redacted(entry.before, pattern), redacted(entry.after, pattern)
                if before != entry.before or after != entry.after:
                    entry.before, entry.after = before, after


# -- files, after commit -------------------------------------------------------------------------------


def forget_outside_copies_with(remover: FileRemover | None) -> None:
    """The process's runtime says how to remove what its mail provider and queue kept (plugin.runtime)."""
    global _file_remover
    _file_remover = remover


def _clean_up_after_commit(session: Session, notification_ids: set[int]) -> None:
    if not session.info.get(_LISTENING):
        # Listeners live as long as this session; they act only while an erasure waits for its commit.
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", _after_rollback)
        session.info[_LISTENING] = True
    session.info.setdefault(_FILES_KEY, set()).update(notification_ids)


def _after_commit(session: Session) -> None:
    ids = session.info.pop(_FILES_KEY, None)
    if ids is None:
        return  # this commit erased nobody
    if ids and _file_remover is not None:
        try:
            _file_remover(ids)
        except Exception:  # noqa: BLE001 - the erasure is committed; the sweep removes what is left
            log.exception("erasure: could not remove the files of %d notifications; the sweep will", len(ids))
    _checkpoint_sqlite(session)


def _checkpoint_sqlite(session: Session) -> None:
    """SQLite keeps the pages a transaction replaced in its write-ahead log until a checkpoint; the
    erased values would stay readable in the -wal file. Freed space in the database file itself is
    zeroed as it is freed (`PRAGMA secure_delete`, plugin.db)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    raw = bind.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
    try:
        busy, _, _ = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.info("erasure: a reader held the SQLite log; the next checkpoint empties it")
    finally:
        raw.close()


def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.nested:
        return  # a savepoint: the erasure is still in the outer transaction
    session.info.pop(_FILES_KEY, None)  # nothing was erased: the files stay


def erased_among(session: Session, notification_ids: Collection[int]) -> set[int]:
    """Which of these notifications were about a person since erased (their files must go)."""
    found: set[int] = set()
    ids = sorted(notification_ids)
    for start in range(0, len(ids), 500):
        found.update(session.scalars(
            select(Notification.id).join(Candidate, Candidate.id == Notification.candidate_id)
            .where(Notification.id.in_(ids[start:start + 500]), Candidate.erased_at.is_not(None))
        ))
    return found
