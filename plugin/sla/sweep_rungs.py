"""The sweep's ladder step, set-based: obligations whose next rung is due, a batch at a time (issue 14).

Taking a rung one obligation at a time cost about nine statements each (the application, candidate
and job, the pending decision, the bounced address, the dedupe check, the message, its audit row,
the obligation's versioned UPDATE): a tick with a thousand due took 20 s. Now one batch:
1. claims up to BATCH due obligations (`FOR UPDATE SKIP LOCKED`, so sweepers share the work);
2. reads what their rungs need in one query each for the whole batch: applications, candidates,
   jobs, organisations; pending decisions; addresses whose mail bounced; the messages that give a
   breach its reason;
3. takes each rung in memory (the same decisions as before), with each job's policy and each
   calendar computed once;
4. writes: the obligations in one executemany UPDATE, each row checked against the version it was
   read at (psycopg pipelines it); the messages and their audit rows in one multi-row INSERT each
   (`obligations.schedule_many`), the breaches' audit rows in another.

Nothing a rung decides depends on another rung of the same batch (each obligation appears once, a
rung never writes what another rung reads: decisions, delivery statuses, the cycle's own messages),
so reading everything first decides exactly what the one-at-a-time loop decided.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from plugin.audit import audit_many, audit_row
from plugin.models import (
    Application,
    Candidate,
    Job,
    NotificationKind,
    Obligation,
    ObligationState,
    Organization,
    Rung,
)
from plugin.sla import breaches, deadlines, messages, undelivered
from plugin.sla.deadlines import Calendars
from plugin.sla.obligations import calendars, message_row, schedule_many
from plugin.sla.policy import Policy, policy_for

log = logging.getLogger(__name__)

BATCH = 100  # obligations a transaction: rows stay locked while it runs
AUTOPILOT_RECHECK = timedelta(minutes=5)  # after a pending decision's send time
# What taking a rung may change on the obligation: written back in one UPDATE shape for the batch.
_CHANGED = ("next_rung", "next_action_at", "at_risk", "breached_at", "breach_reason")


class RungBatch:
    """What one batch of due obligations needs, read up front, and what it will write."""

    def __init__(self, session: Session, due: list[Obligation], now: datetime, actor: str) -> None:
        self.session, self.due, self.now, self.actor = session, due, now, actor
        self.messages: list[dict[str, Any]] = []
        self.audits: list[dict[str, Any]] = []
        self._windows: dict[tuple[Any, ...], tuple[Policy, Calendars]] = {}
        self._policies: dict[tuple[str, int], Policy] = {}
        # Held here: the session's identity map only keeps rows somebody references.
        apps = self.apps = _load(session, Application, {o.application_id for o in due})
        self.candidates = _load(session, Candidate, {a.candidate_id for a in apps})
        self.jobs = _load(session, Job, {a.job_id for a in apps})
        orgs = session.scalars(select(Organization).where(Organization.id.in_({o.org_id for o in due}))
                               .options(selectinload(Organization.closures))).all()
        self.orgs = {org.id: org for org in orgs}
        self.decisions = messages.pending_decisions_at(session, apps)
        self.undeliverable = undelivered.undeliverable_addresses(session, [
            o.application.candidate for o in due if o.next_rung is Rung.AUTOPILOT and not o.at_risk])
        self.breach_reasons = breaches.breach_reasons(session, [
            (o, self.window(o)[0].autopilot) for o in due if o.next_rung is Rung.DEADLINE])

    def window(self, obligation: Obligation) -> tuple[Policy, Calendars]:
        """The application's policy and calendars, computed once per job and candidate calendar."""
        org, app = self.orgs[obligation.org_id], obligation.application
        candidate = app.candidate
        key = (org.id, app.job_id, candidate.timezone, candidate.holiday_country, candidate.holiday_subdivision)
        if key not in self._windows:
            policy = self._policies.get((org.id, app.job_id))
            if policy is None:
                policy = self._policies[(org.id, app.job_id)] = policy_for(org, app.job)
            self._windows[key] = (policy, calendars(org, candidate))
        return self._windows[key]

    def schedule(self, kind: NotificationKind, obligation: Obligation, at: datetime, *, autopilot: bool = False,
                 context: dict[str, Any] | None = None) -> None:
        """A message as `messages.schedule_internal` / `schedule_candidate` would make it, written later."""
        org, app = self.orgs[obligation.org_id], obligation.application
        recipient = None if kind.is_candidate_facing else messages.internal_recipient(org, app.job, kind)
        self.messages.append(message_row(org, kind, at=at, now=self.now, app=app, obligation=obligation,
                                         recipient=recipient, context=context, autopilot=autopilot,
                                         window=self.window(obligation)))

    def write(self) -> None:
        """The batch's writes: obligations (version-checked), messages, audit rows."""
        _write_obligations(self.session, self.due)
        schedule_many(self.session, self.messages, self.now, self.actor)
        audit_many(self.session, self.audits)


def take_due_rungs(session: Session, now: datetime, actor: str, rungs: Counter[str]) -> bool:
    """One batch of due obligations: each takes its next rung. False when none was due."""
    due = list(session.scalars(
        select(Obligation)
        .where(Obligation.next_action_at <= now, Obligation.state == ObligationState.OPEN)
        .order_by(Obligation.next_action_at).limit(BATCH).with_for_update(skip_locked=True)
    ))
    if not due:
        return False
    batch = RungBatch(session, due, now, actor)
    with session.no_autoflush:  # nothing is read while the rungs are taken: no write goes out early
        for obligation in due:
            rungs[take_rung(batch, obligation)] += 1
    batch.write()
    return True


def take_rung(batch: RungBatch, obligation: Obligation) -> str:
    """Act on the obligation's next rung and move it to the one after. Returns what was done."""
    now = batch.now
    policy, cals = batch.window(obligation)
    rung = obligation.next_rung
    done = rung.value
    if rung is Rung.DEADLINE:
        done = _record_breach(batch, obligation)
    elif (decision_at := messages.decision_in_time(obligation, batch.decisions.get(obligation.application_id))) \
            is not None:
        if rung is Rung.AUTOPILOT:
            # Wait, do not skip: the decision may still be cancelled (reopened application or job),
            # and then autopilot must step in after all. Re-check once it should have gone out.
            obligation.next_action_at = max(now, decision_at) + AUTOPILOT_RECHECK
            return "autopilot: waiting for the decision message"
        done = f"{rung.value}: skipped, decision already on its way"
    elif rung in (Rung.REMINDER_RECRUITER, Rung.REMINDER_HIRING_MANAGER):
        done = _remind(batch, obligation, NotificationKind(rung.value), policy, cals)
    elif rung is Rung.AUTOPILOT:
        done = _autopilot(batch, obligation, policy, cals)
    next_rung, at = deadlines.next_rung(rung, obligation.due_at, policy, cals)
    obligation.next_rung, obligation.next_action_at = next_rung, at
    return done


def _remind(batch: RungBatch, obligation: Obligation, kind: NotificationKind, policy: Policy,
            cals: Calendars) -> str:
    """A reminder in the organisation's working hours, if it still gives the person time to act."""
    send_at = cals.org.next_window_opening(batch.now, policy.send_window)
    if not deadlines.reminder_worth_sending(send_at, obligation.due_at, policy, cals):
        return f"{kind.value}: skipped, it would arrive only when autopilot writes or the deadline passes"
    batch.schedule(kind, obligation, send_at)
    return kind.value


def _autopilot(batch: RungBatch, obligation: Obligation, policy: Policy, cals: Calendars) -> str:
    candidate = obligation.application.candidate
    internal_at = cals.org.next_window_opening(batch.now, policy.send_window)  # internal mail keeps office hours
    if obligation.at_risk or candidate.id in batch.undeliverable:
        # Mail to this candidate bounced or could not be sent: another email to the same address
        # would fail the same way, so a person must reach them.
        obligation.at_risk = True
        batch.schedule(NotificationKind.ESCALATION, obligation, internal_at, context={
            "reason_code": "undeliverable",
            "reason": "Email to this candidate could not be delivered, so autopilot will not write to the same "
                      "address again. Please contact them another way and record the contact in the ATS."})
        return "escalation: undeliverable"
    if not policy.autopilot:
        batch.schedule(NotificationKind.ESCALATION, obligation, internal_at, context={
            "reason_code": "autopilot_off",
            "reason": "Autopilot is off for this job and nobody has updated the candidate yet."})
        return "escalation: autopilot off"
    if not candidate.email:
        obligation.at_risk = True
        batch.schedule(NotificationKind.ESCALATION, obligation, internal_at, context={
            "reason_code": "no_candidate_email",
            "reason": "We have no email address for this candidate, so autopilot cannot update them. "
                      "Please contact them another way."})
        return "escalation: no candidate email"
    send_at = cals.candidate.next_window_opening(batch.now, policy.send_window)
    batch.schedule(NotificationKind.STATUS_UPDATE, obligation, send_at, autopilot=True)
    return "autopilot"


def _record_breach(batch: RungBatch, obligation: Obligation) -> str:
    reason = batch.breach_reasons[obligation.id]
    obligation.breached_at, obligation.breach_reason = obligation.due_at, reason
    batch.audits.append(audit_row(obligation.org_id, "obligation", obligation.id, "breached", batch.now, batch.actor,
                                  after={"reason": reason}))
    log.warning("obligation %s breached its deadline %s (%s)", obligation.id, obligation.due_at, reason)
    return f"breach: {reason}"


def _load(session: Session, model: Any, ids: set[int]) -> list[Any]:
    """Rows by primary key in one query; they join the session's identity map, so relationships to
    them (obligation.application, application.candidate...) need no query of their own."""
    return list(session.scalars(select(model).where(model.id.in_(ids)))) if ids else []


_UPDATE = (
    update(Obligation.__table__)  # type: ignore[arg-type]
    .where(Obligation.__table__.c.id == bindparam("b_id"),
           Obligation.__table__.c.version == bindparam("b_read_version"))
    .values({name: bindparam(f"b_{name}") for name in (*_CHANGED, "version")})
)


def _write_obligations(session: Session, due: list[Obligation]) -> None:
    """One executemany UPDATE for the batch, each row only if it still has the version it was read at
    (the same optimistic lock the ORM's version column gives one row): a row another sweeper changed
    meanwhile fails the batch with StaleDataError, and `sweep` reads it again. The ORM objects then
    hold the written values as clean, so no later flush writes them a second time."""
    params = [{"b_id": o.id, "b_read_version": o.version, "b_version": o.version + 1,
               **{f"b_{name}": getattr(o, name) for name in _CHANGED}} for o in due]
    result = session.connection().execute(_UPDATE, params)
    if session.get_bind().dialect.supports_sane_multi_rowcount and result.rowcount != len(due):
        raise StaleDataError(f"{len(due) - result.rowcount} of {len(due)} due obligations changed under the sweep")
    for obligation in due:
        for name in _CHANGED:
            set_committed_value(obligation, name, getattr(obligation, name))
        set_committed_value(obligation, "version", obligation.version + 1)
