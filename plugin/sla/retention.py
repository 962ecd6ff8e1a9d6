"""Retention: anonymise candidates a configurable time after their last decision reached them.

A candidate is due when all of this holds:
1. nothing is still going on: no active application, no open obligation, no message waiting to be
   sent (to them or about them);
2. their last decision reached them more than `retention_days` ago. "Reached" is, per decision
   message (`rejection`, `job_closed`) that went out: SendGrid's `delivered` time; without any
   delivery event (the .eml outbox, or no event webhook configured) the time the provider accepted
   it; with events but no `delivered` (bounced, deferred, dropped) the last event, so the recruiter
   who was asked to call has the whole period. Applications that ended without a message of ours
   (hired, withdrawn, a rejection the ATS sent) count from their status change. The latest of all
   these is the candidate's decision time.
Step 1 and a necessary part of step 2 (every status change is older than the cut-off: a decision
message always goes out after the status change it announces) are one SQL query; the exact time of
step 2 is then checked per candidate in Python.

Erasure itself is `ledger.erase_candidate(reason="retention")`: timestamps stay, so the proof of
notice still shows every message and when it was sent and delivered, without personal data.
Unknown-sender replies (mail from addresses we could not match) are scrubbed the same time after
they arrived.

Claims use `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE), so
several sweepers can run this at once: a candidate another sweeper holds is skipped and, being
erased by then, not found again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from plugin.db import Database
from plugin.models import (
    Application,
    ApplicationStatus,
    Candidate,
    CandidateReply,
    MailEvent,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    ObligationState,
    ReplyState,
)
from plugin.sla.ledger import erase_candidate

log = logging.getLogger(__name__)

ACTOR = "retention"
REASON = "retention"
BATCH = 100
DECISION_KINDS = (NotificationKind.REJECTION, NotificationKind.JOB_CLOSED)
# A message in one of these states may still go out: its candidate is not finished with us.
PENDING = (NotificationState.SCHEDULED, NotificationState.QUEUED, NotificationState.SENDING)


@dataclass
class RetentionReport:
    candidates: int = 0
    replies: int = 0
    dry_run: bool = False

    def summary(self, retention_days: int) -> str:
        verb = "would anonymise" if self.dry_run else "anonymised"
        return (f"{verb} {_count(self.candidates, 'candidate', 'candidates')} and "
                f"{_count(self.replies, 'unknown-sender reply', 'unknown-sender replies')} "
                f"(retention period: {retention_days} days)")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def anonymize_due(db: Database, now: datetime, retention_days: int, *, dry_run: bool = False,
                  batch: int = BATCH) -> RetentionReport:
    """Anonymise every candidate (and unknown-sender reply) whose retention period has passed."""
    cutoff = now - timedelta(days=retention_days)
    report = RetentionReport(dry_run=dry_run)
    after_id = 0
    while True:
        with db.session() as session:
            candidates = _finished_candidates(session, cutoff, after_id, batch, lock=not dry_run)
            for candidate in candidates:
                reached = decision_reached_at(session, candidate)
                if reached is None or reached > cutoff:
                    continue  # decided long enough ago, but the decision message reached them later
                if not dry_run:
                    erase_candidate(session, candidate, now=now, actor=ACTOR, reason=REASON)
                report.candidates += 1
        if len(candidates) < batch:
            break
        after_id = candidates[-1].id
    report.replies = _scrub_unknown_senders(db, cutoff, batch, dry_run)
    if report.candidates or report.replies or dry_run:
        log.info("retention: %s; last decision before %s", report.summary(retention_days), cutoff.isoformat())
    return report


def _finished_candidates(session: Session, cutoff: datetime, after_id: int, batch: int,
                         lock: bool) -> list[Candidate]:
    """Candidates with nothing going on whose every status change is older than `cutoff`, by id.

    Reads living candidates in primary-key order; each condition is an index probe per candidate
    (ix_applications_candidate_id, uq_obligations_open_application, ix_notifications_candidate_id).
    """
    mine = Application.candidate_id == Candidate.id
    last_change = select(func.max(Application.status_changed_at)).where(mine).scalar_subquery()
    query = (
        select(Candidate)
        .where(
            Candidate.erased_at.is_(None),
            Candidate.id > after_id,
            ~exists().where(mine, Application.status == ApplicationStatus.ACTIVE),
            ~exists().where(mine, Obligation.application_id == Application.id,
                            Obligation.state == ObligationState.OPEN),
            # Every message about an application carries its candidate (internal ones too).
            ~exists().where(Notification.candidate_id == Candidate.id, Notification.state.in_(PENDING)),
            # No application at all (only ever the survivor of a merge): counted from its creation.
            func.coalesce(last_change, Candidate.created_at) <= cutoff,
            # Never sooner than the period after we first heard of them: history imported from an
            # ATS (decided years ago) stays long enough to be reported on and proven.
            Candidate.created_at <= cutoff,
        )
        .order_by(Candidate.id)
        .limit(batch)
    )
    if lock:
        query = query.with_for_update(skip_locked=True, of=Candidate)
    return list(session.scalars(query))


def decision_reached_at(session: Session, candidate: Candidate) -> datetime | None:
    """When the candidate's last decision reached them (see the module docstring), or None."""
    instants = [at for at in session.scalars(
        select(Application.status_changed_at).where(Application.candidate_id == candidate.id)) if at is not None]
    last_event = (select(func.max(MailEvent.occurred_at)).where(MailEvent.notification_id == Notification.id)
                  .correlate(Notification).scalar_subquery())
    messages = session.execute(
        select(Notification.sent_at, Notification.delivered_at, last_event)
        .where(Notification.candidate_id == candidate.id, Notification.kind.in_(DECISION_KINDS),
               Notification.state == NotificationState.SENT)
    ).all()
    for sent_at, delivered_at, event_at in messages:
        if delivered_at is not None:
            instants.append(delivered_at)
        elif sent_at is not None:
            instants.append(max(sent_at, event_at) if event_at is not None else sent_at)
    if candidate.created_at is not None:
        instants.append(candidate.created_at)  # not before we first heard of them (see the query)
    return max(instants) if instants else None


def _scrub_unknown_senders(db: Database, cutoff: datetime, batch: int, dry_run: bool) -> int:
    """Mail from addresses we could not match, or held for failing SPF and DKIM: kept for review, then
    scrubbed like a candidate's."""
    for_review = (ReplyState.UNKNOWN_SENDER, ReplyState.HELD)
    unknown = and_(CandidateReply.state.in_(for_review), CandidateReply.received_at <= cutoff)
    if dry_run:
        with db.session() as session:
            return session.scalar(select(func.count()).select_from(CandidateReply).where(unknown)) or 0
    total = 0
    while True:
        with db.session() as session:
            replies = session.execute(
                select(CandidateReply.id, CandidateReply.forward_notification_id, CandidateReply.ack_notification_id)
                .where(unknown).order_by(CandidateReply.id).limit(batch).with_for_update(skip_locked=True)
            ).all()
            if not replies:
                return total
            session.execute(
                update(CandidateReply)
                .where(CandidateReply.id.in_([r.id for r in replies]),
                       CandidateReply.state.in_(for_review))
                .values(state=ReplyState.ERASED, from_email=None, from_name=None, subject=None, text=None,
                        authentication=None, held_reason=None)
            )
            # A forward to a recruiter (or an answer) quotes the reply: its stored copy goes too.
            linked = {i for r in replies for i in (r.forward_notification_id, r.ack_notification_id) if i}
            if linked:
                session.execute(
                    update(Notification)
                    .where(Notification.id.in_(linked), Notification.state.not_in(PENDING))
                    .values(recipient_email=None, recipient_name=None, subject=None, body_text=None,
                            body_html=None, context={})
                )
            total += len(replies)
