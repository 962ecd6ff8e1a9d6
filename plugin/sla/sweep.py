"""One sweep tick: act on everything that became due, through indexes, safely in parallel.

1. Interviews whose end time passed without a "completed" event open their obligation.
2. Obligations whose `next_action_at` passed take their next ladder rung, a batch at a time with a
   few statements per batch, not per obligation (`plugin.sla.sweep_rungs`).
3. Scheduled messages whose time came are claimed (scheduled -> queued) and handed to `dispatch`
   after the commit, so a job never runs before the row it reads exists.
4. Messages stuck in flight are recovered: a queued row whose job was lost is dispatched again; a
   row a worker left "sending" becomes "unknown" (it may or may not have gone out, and we never
   send twice): the provider confirms it as sent or refutes it, and only a refuted one is sent.

Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL, conditional updates (`WHERE state = ...`) and the
obligation's version column everywhere, so any number of sweepers can run at once.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Protocol, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from plugin.db import Database
from plugin.models import (
    Interview,
    InterviewStatus,
    MailEvent,
    Notification,
    NotificationState,
    Organization,
)
from plugin.sla import messages, sweep_rungs
from plugin.sla.ledger_interviews import open_for_interview
from plugin.sla.ledger_jobs import continue_closings

log = logging.getLogger(__name__)

BATCH = 100
MAX_ROUNDS = 1000  # a safety stop: each round makes progress, so this is never reached in practice
REQUEUE_AFTER = timedelta(minutes=10)  # a queued message whose job did not start by then was lost
SENDING_TIMEOUT = timedelta(minutes=15)  # a worker that claimed a message this long ago has died
# A message of unknown fate whose provider events have not come this long after it was handed over,
# while later messages' events have, was never accepted.
UNKNOWN_REFUTE_AFTER = timedelta(hours=1)
ACTOR = "sweeper"

Dispatch = Callable[[Sequence[int]], None]


class SendAnswer(Protocol):
    """The mail provider's answer about an interrupted send (plugin.mail.base.SendCheck); the core
    only needs its shape, not the mail package."""

    sent: bool
    at: datetime | None
    provider_message_id: str | None


SendCheckFn = Callable[[int], SendAnswer | None]  # None: the provider cannot say


def cannot_tell(notification_id: int) -> SendAnswer | None:
    return None


@dataclass
class SweepReport:
    interviews_ended: int = 0
    rungs: Counter[str] = field(default_factory=Counter)
    queued: int = 0
    requeued: int = 0
    abandoned: int = 0
    conflicts: int = 0
    closing_applications: int = 0  # of closed jobs too large for their request (ledger_jobs)
    # Filled by plugin.processes.sweep_once, which also runs the ATS steps of a tick.
    ats_deliveries_requeued: int = 0
    ats_polls: int = 0

    def summary(self) -> str:
        rungs = ", ".join(f"{k} {v}" for k, v in sorted(self.rungs.items())) or "none"
        return (f"interviews ended {self.interviews_ended}; rungs: {rungs}; messages queued {self.queued}, "
                f"re-queued {self.requeued}, abandoned {self.abandoned}; "
                f"ATS deliveries re-queued {self.ats_deliveries_requeued}, polls started {self.ats_polls}"
                + (f"; closed jobs: {self.closing_applications} applications added to closing notices"
                   if self.closing_applications else ""))


def sweep(db: Database, now: datetime, dispatch: Dispatch, check: SendCheckFn = cannot_tell) -> SweepReport:
    report = SweepReport()
    _in_batches(db, report, lambda s: _open_ended_interviews(s, now, report))
    _in_batches(db, report, lambda s: _take_due_rungs(s, now, report))
    _in_batches(db, report, lambda s: _continue_job_closings(s, now, report))
    _recover_in_flight(db, now, dispatch, check, report)
    while True:
        with db.session() as session:
            ids = _claim_due_messages(session, now)
        if not ids:
            break
        report.queued += len(ids)
        dispatch(ids)
    return report


def _in_batches(db: Database, report: SweepReport, step: Callable) -> None:  # type: ignore[type-arg]
    for _ in range(MAX_ROUNDS):
        try:
            with db.session() as session:
                if not step(session):
                    return
        except StaleDataError:
            report.conflicts += 1  # another sweeper acted on one of these rows first: re-read
    log.error("sweep stopped after %d rounds; the rest waits for the next tick", MAX_ROUNDS)


def _open_ended_interviews(session, now: datetime, report: SweepReport) -> bool:  # type: ignore[no-untyped-def]
    interviews = session.scalars(
        select(Interview)
        .where(Interview.status == InterviewStatus.SCHEDULED, Interview.obligation_opened_at.is_(None),
               Interview.ends_at <= now)
        .order_by(Interview.ends_at).limit(BATCH).with_for_update(skip_locked=True)
    ).all()
    for interview in interviews:
        org = session.get(Organization, interview.org_id)
        open_for_interview(session, org, interview, now=now, actor=ACTOR)
        report.interviews_ended += 1
    return bool(interviews)


def _continue_job_closings(session, now: datetime, report: SweepReport) -> bool:  # type: ignore[no-untyped-def]
    done = continue_closings(session, now, ACTOR)
    report.closing_applications += done
    return done > 0


def _take_due_rungs(session, now: datetime, report: SweepReport) -> bool:  # type: ignore[no-untyped-def]
    return sweep_rungs.take_due_rungs(session, now, ACTOR, report.rungs)


def _claim_due_messages(session, now: datetime) -> list[int]:  # type: ignore[no-untyped-def]
    ids = list(session.scalars(
        select(Notification.id)
        .where(Notification.state == NotificationState.SCHEDULED, Notification.scheduled_for <= now)
        .order_by(Notification.scheduled_for).limit(BATCH).with_for_update(skip_locked=True)
    ))
    if not ids:
        return []
    return list(session.scalars(
        update(Notification)
        .where(Notification.id.in_(ids), Notification.state == NotificationState.SCHEDULED)
        .values(state=NotificationState.QUEUED, queued_at=now)
        .returning(Notification.id)
    ))


def _recover_in_flight(db: Database, now: datetime, dispatch: Dispatch, check: SendCheckFn,
                       report: SweepReport) -> None:
    with db.session() as session:
        lost = list(session.scalars(
            update(Notification)
            .where(Notification.state == NotificationState.QUEUED, Notification.queued_at < now - REQUEUE_AFTER)
            .values(queued_at=now)
            .returning(Notification.id)
        ))
        stuck = session.scalars(
            select(Notification)
            .where(Notification.state == NotificationState.SENDING, Notification.queued_at < now - SENDING_TIMEOUT)
            .with_for_update(skip_locked=True)
        ).all()
        for notification in stuck:
            messages.mark_unknown(session, notification, "The worker stopped while sending; the message may or may "
                                  "not have reached the provider, so it is not sent again until that is known.",
                                  now, ACTOR)
        report.abandoned += len(stuck)
        unknown = session.scalars(
            select(Notification).where(Notification.state == NotificationState.UNKNOWN)
            .order_by(Notification.queued_at).limit(BATCH).with_for_update(skip_locked=True)
        ).all()
        for notification in unknown:
            _settle_unknown(session, notification, now, check)
    if lost:
        report.requeued += len(lost)
        dispatch(lost)


def _settle_unknown(session, notification: Notification, now: datetime,  # type: ignore[no-untyped-def]
                    check: SendCheckFn) -> None:
    """Ask the provider about a message of unknown fate; without an answer, the events of messages
    handed over after it are evidence: if theirs arrived and its own did not within
    UNKNOWN_REFUTE_AFTER, the provider never had it (SendGrid posts `processed` for every message it
    accepts)."""
    answer = check(notification.id)
    if answer is not None:
        if answer.sent:
            messages.confirm_sent(session, notification, at=answer.at or notification.queued_at or now,
                                  provider=None, provider_message_id=answer.provider_message_id, now=now,
                                  actor=ACTOR, evidence="the provider has it")
        else:
            messages.refute(session, notification, "the provider never received it", now, ACTOR)
        return
    handed_over = notification.queued_at or now
    if now - handed_over < UNKNOWN_REFUTE_AFTER:
        return
    own = select(MailEvent.id).where(MailEvent.notification_id == notification.id).limit(1)
    later = (select(MailEvent.id).join(Notification, MailEvent.notification_id == Notification.id)
             .where(MailEvent.org_id == notification.org_id, Notification.queued_at > handed_over).limit(1))
    if session.scalar(own) is None and session.scalar(later) is not None:
        messages.refute(session, notification, "the provider's events arrived for later messages, none for this "
                        "one", now, ACTOR)
