"""The obligation lifecycle: open a cycle, discharge it, close it, recompute its deadline.

Also the one place that creates Notification rows, so every message has a dedupe key and an audit
entry. Rendering and sending live in `plugin.notify`; here a message is only "who, what kind, when".

While the ledger applies a batch (`ledger_batch`), the open cycle, the last cycle number and a
cycle's unsent messages come from the batch, and new rows take their ids from it instead of a flush.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from plugin.audit import audit, audit_many, audit_row
from plugin.models import (
    Application,
    Candidate,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    ObligationState,
    Organization,
    Rung,
)
from plugin.sla import deadlines, ledger_batch
from plugin.sla.calendar import BusinessCalendar
from plugin.sla.deadlines import Calendars
from plugin.sla.policy import Policy, calendar_for, policy_for

# A thank-you for an interview that ended longer ago than this would read oddly: skip it.
NEXT_STEPS_MAX_DELAY = timedelta(hours=48)
UNSENT = (NotificationState.SCHEDULED, NotificationState.QUEUED)


def calendars(org: Organization, candidate: Candidate | None) -> Calendars:
    """Internal mail follows the organisation's calendar; candidate mail and deadlines follow the
    organisation's working days and holidays in the candidate's time zone, plus the candidate's own
    public holidays when their country is known (a day off for either side is not counted)."""
    org_cal = calendar_for(org)
    if candidate is None:
        return _calendars(org_cal, None, None, None)
    return _calendars(org_cal, candidate.timezone, candidate.holiday_country, candidate.holiday_subdivision)


@functools.lru_cache(maxsize=1024)
def _calendars(org_cal: BusinessCalendar, timezone: str | None, country: str | None,
               subdivision: str | None) -> Calendars:
    """Built once per calendar and candidate locale: building one validates zones and holiday codes."""
    if (timezone, country, subdivision) == (None, None, None):
        return Calendars(org=org_cal, candidate=org_cal)
    return Calendars(org=org_cal, candidate=org_cal.with_timezone(timezone).also_observing(country, subdivision))


def _batch_of(session: Session, org_id: str) -> ledger_batch.LedgerBatch | None:
    batch = ledger_batch.active(session)
    return batch if batch is not None and batch.org.id == org_id else None


def _add(session: Session, row: Obligation | Notification) -> None:
    """A new row with its id: from the batch being applied, else by a flush."""
    batch = _batch_of(session, row.org_id)
    if batch is not None:
        batch.add(row)
    else:
        session.add(row)
        session.flush()


def open_obligation(app: Application) -> Obligation | None:
    session = Session.object_session(app)
    assert session is not None
    batch = _batch_of(session, app.org_id)
    if batch is not None:
        return batch.open_cycle(app)
    return session.scalars(
        select(Obligation).where(Obligation.application_id == app.id, Obligation.state == ObligationState.OPEN)
    ).first()


def open_cycle(
    session: Session,
    org: Organization,
    app: Application,
    *,
    anchor: datetime,
    opened_by: str,
    now: datetime,
    actor: str,
    promised_on: date | None = None,
    written_due_at: datetime | None = None,
    autopilot_run: int = 0,
) -> Obligation:
    """Open the next cycle of `app`. The caller has made sure no other cycle is open.

    `promised_on`: the day a person's status update promised the candidate the next news.
    `written_due_at`: the deadline the message that opened this cycle put in writing.
    `autopilot_run`: how many autopilot updates in a row, with nobody acting between them, came
    before this cycle (`autopilot_run_after`)."""
    policy = policy_for(org, app.job)
    cals = calendars(org, app.candidate)
    batch = _batch_of(session, org.id)
    if batch is not None:
        batch.track([app])
        last_cycle = batch.last_cycles[app.id]
    else:
        last_cycle = session.scalar(select(Obligation.cycle).where(Obligation.application_id == app.id)
                                    .order_by(Obligation.cycle.desc()).limit(1))
    obligation = Obligation(
        org_id=org.id, application_id=app.id, application=app, cycle=(last_cycle or 0) + 1,
        state=ObligationState.OPEN, opened_at=now, opened_by=opened_by, anchor_at=anchor, promised_on=promised_on,
        written_due_at=written_due_at, autopilot_run=autopilot_run, owner_email=app.job.recruiter_email,
    )
    obligation.due_at, basis = _due(obligation, app, policy, cals, now)
    obligation.due_basis = basis.value
    obligation.next_rung, obligation.next_action_at = deadlines.next_rung(None, obligation.due_at, policy, cals)
    _add(session, obligation)
    audit(session, org.id, "obligation", obligation.id, "opened", now, actor,
          after={"cycle": obligation.cycle, "due_at": obligation.due_at.isoformat(), "opened_by": opened_by,
                 "due_basis": basis.value})
    if opened_by == "interview" and policy.next_steps and now - anchor <= NEXT_STEPS_MAX_DELAY:
        schedule(
            session, org, NotificationKind.NEXT_STEPS, app=app, obligation=obligation,
            at=cals.candidate.next_window_opening(max(anchor, now), policy.send_window), now=now,
        )
    return obligation


def discharge(
    obligation: Obligation, *, at: datetime, by: str, now: datetime, actor: str, next_cycle: bool,
    promised_on: date | None = None, written_due_at: datetime | None = None, autopilot: bool = False,
) -> Obligation | None:
    """The candidate heard from us at `at`. Opens the next cycle unless the outcome is final.

    `autopilot`: the plugin itself wrote (the next cycle's cadence grows with each such update in a row;
    a person's action in between, or anything else that discharges, starts the count again)."""
    session = Session.object_session(obligation)
    assert session is not None
    _finish(obligation, ObligationState.DISCHARGED, by, now, actor, discharged_at=at)
    if not next_cycle:
        return None
    app = obligation.application
    org = session.get(Organization, obligation.org_id)
    assert org is not None
    # The partial unique index allows one open cycle: this one is closed first. A flush writes each
    # table's UPDATEs before its INSERTs, so in a batch (no flush until the commit) it holds as well.
    if _batch_of(session, obligation.org_id) is None:
        session.flush()
    return open_cycle(session, org, app, anchor=at, opened_by=by, now=now, actor=actor, promised_on=promised_on,
                      written_due_at=written_due_at, autopilot_run=autopilot_run_after(obligation, app) if autopilot else 0)


def autopilot_run_after(answered: Obligation, app: Application) -> int:
    """How many autopilot updates in a row the one that answered `answered` makes.

    "In a row" means nobody on the hiring team acted between two of them: a person's action since the
    previous autopilot update (which opened `answered`) starts the count again."""
    if answered.autopilot_run == 0:
        return 1
    acted = app.last_human_action_at is not None and app.last_human_action_at > answered.anchor_at
    return 1 if acted else answered.autopilot_run + 1


def close(obligation: Obligation, *, reason: str, now: datetime, actor: str) -> None:
    """Nothing is owed any more (withdrawn, erased...). Not counted as met or breached."""
    _finish(obligation, ObligationState.CLOSED, reason, now, actor)


def _finish(
    obligation: Obligation, state: ObligationState, reason: str, now: datetime, actor: str,
    discharged_at: datetime | None = None,
) -> None:
    session = Session.object_session(obligation)
    assert session is not None
    before = {"state": obligation.state.value}
    obligation.state = state
    obligation.next_rung = Rung.DONE
    obligation.next_action_at = None
    if state is ObligationState.DISCHARGED:
        obligation.discharged_at = discharged_at
        obligation.discharged_by = reason
        if obligation.breached_at is not None and discharged_at is not None and discharged_at <= obligation.due_at:
            # Learned late (a contact the ATS reported days after it happened): the candidate did hear
            # in time, so the breach recorded meanwhile was never one.
            audit(session, obligation.org_id, "obligation", obligation.id, "breach_withdrawn", now, actor,
                  before={"breach_reason": obligation.breach_reason})
            obligation.breached_at = obligation.breach_reason = None
    else:
        obligation.closed_reason = reason
    _cancel_ladder(session, obligation, reason=f"obligation {state.value}: {reason}", now=now, actor=actor)
    audit(session, obligation.org_id, "obligation", obligation.id, state.value, now, actor,
          before=before, after={"state": state.value, "reason": reason,
                                "discharged_at": discharged_at.isoformat() if discharged_at else None})


_LADDER_KINDS = (
    NotificationKind.NEXT_STEPS,
    NotificationKind.STATUS_UPDATE,
    NotificationKind.REMINDER_RECRUITER,
    NotificationKind.REMINDER_HIRING_MANAGER,
    NotificationKind.ESCALATION,
)


def _cancel_ladder(session: Session, obligation: Obligation, *, reason: str, now: datetime, actor: str) -> None:
    """Cancel the cycle's unsent ladder messages; a batch knows them without a query."""
    batch = _batch_of(session, obligation.org_id)
    known = batch.unsent_of_cycle.get(obligation.id) if batch is not None else None
    if known is None:
        cancel_unsent(session, obligation.org_id, reason=reason, now=now, actor=actor,
                      where=[Notification.obligation_id == obligation.id, Notification.kind.in_(_LADDER_KINDS)])
        return
    for notification in known:
        if notification.state in UNSENT and notification.kind in _LADDER_KINDS:
            _cancel(session, notification, obligation.org_id, reason, now, actor)


def recompute(obligation: Obligation, org: Organization, now: datetime, actor: str) -> bool:
    """Recompute due_at and the pending rung time after a policy, calendar or promise change.

    The result is never in the past and never later than a date in writing (`deadlines.settle`);
    rungs already taken are not taken again. A deadline that has already passed is history (whether
    the candidate heard by then): a late promise or a policy change never moves it, even when the
    sweeper has not yet recorded the breach."""
    if obligation.due_at <= now:
        return False
    app = obligation.application
    policy = policy_for(org, app.job)
    cals = calendars(org, app.candidate)
    due_at, basis = _due(obligation, app, policy, cals, now)
    previous_rung = _previous_rung(obligation.next_rung)
    rung, at = deadlines.next_rung(previous_rung, due_at, policy, cals) if obligation.next_rung != Rung.DONE \
        else (Rung.DONE, None)
    changed = (due_at, rung, at) != (obligation.due_at, obligation.next_rung, obligation.next_action_at)
    obligation.due_basis = basis.value
    if changed:
        before = {"due_at": obligation.due_at.isoformat()}
        obligation.due_at, obligation.next_rung, obligation.next_action_at = due_at, rung, at
        if obligation.breached_at is not None and now <= due_at:
            obligation.breached_at = obligation.breach_reason = None
        audit(session_of(obligation), org.id, "obligation", obligation.id, "recomputed", now, actor,
              before=before, after={"due_at": due_at.isoformat(), "due_basis": basis.value})
    return changed


def put_in_writing(obligation: Obligation, day: date, now: datetime, actor: str) -> None:
    """A message the candidate received named `day` as the date they will hear by: it is a promise.

    The latest such date counts (a later message may name a new one); the deadline is pulled in to
    it when it was later (invariant 7). Called when the message was handed to the provider."""
    session = session_of(obligation)
    org = session.get(Organization, obligation.org_id)
    assert org is not None
    app = obligation.application
    policy = policy_for(org, app.job)
    cals = calendars(org, app.candidate)
    obligation.written_due_at = deadlines.due_on(day, policy, cals)
    if obligation.state is ObligationState.OPEN and obligation.written_due_at < obligation.due_at:
        recompute(obligation, org, now, actor)


def _due(obligation: Obligation, app: Application, policy: Policy, cals: Calendars,
         now: datetime) -> tuple[datetime, deadlines.DueBasis]:
    """The cycle's deadline by its rules, then settled (written dates, never in the past)."""
    anchor = obligation.anchor_at
    if obligation.promised_on is not None:
        computed, basis = deadlines.due_on(obligation.promised_on, policy, cals), deadlines.DueBasis.PERSON
    elif obligation.opened_by == "interview":
        computed, basis = deadlines.first_due(anchor, app.decision_expected_by, policy, cals)
    else:
        days = (policy.cadence_after_autopilot(obligation.autopilot_run) if obligation.autopilot_run
                else policy.cadence_working_days)
        computed, basis = deadlines.due_after(anchor, days, policy, cals), deadlines.DueBasis.SLA
    return deadlines.settle(computed, basis, now=now, written_due_at=obligation.written_due_at, policy=policy,
                            cals=cals, current=obligation.due_at)


def _previous_rung(rung: Rung) -> Rung | None:
    index = deadlines.LADDER.index(rung) if rung in deadlines.LADDER else len(deadlines.LADDER)
    return deadlines.LADDER[index - 1] if index > 0 else None


def session_of(obj: object) -> Session:
    session = Session.object_session(obj)
    assert session is not None, "object is not attached to a session"
    return session


def schedule(
    session: Session,
    org: Organization,
    kind: NotificationKind,
    *,
    at: datetime,
    now: datetime,
    app: Application | None = None,
    obligation: Obligation | None = None,
    recipient: tuple[str | None, str | None] | None = None,
    context: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    autopilot: bool = False,
    actor: str = "system",
) -> Notification | None:
    """Create one message row, unless a live one with the same dedupe key exists.

    The default dedupe key, "<kind>:<obligation>", is what makes "never two messages of the same
    kind to one candidate in one cycle" hold; the partial unique index backs it in the database.
    `at` moves to the opening of the message's send window if it falls outside it (the candidate's
    for candidate mail, the organisation's for internal mail); the send job checks it again.
    """
    values = message_row(org, kind, at=at, now=now, app=app, obligation=obligation, recipient=recipient,
                         context=context, dedupe_key=dedupe_key, autopilot=autopilot)
    if _live_with_key(session, org, values["dedupe_key"], obligation):
        return None
    notification = Notification(**values)
    # Its relationships too: in a batch the row is not flushed before the commit, and is read through them.
    notification.application, notification.obligation = app, obligation
    notification.candidate = app.candidate if app is not None else None
    _add(session, notification)
    audit(session, org.id, "notification", notification.id, "scheduled", now, actor,
          after=_scheduled(kind, values["scheduled_for"]))
    return notification


def message_row(
    org: Organization, kind: NotificationKind, *, at: datetime, now: datetime, app: Application | None = None,
    obligation: Obligation | None = None, recipient: tuple[str | None, str | None] | None = None,
    context: dict[str, Any] | None = None, dedupe_key: str | None = None, autopilot: bool = False,
    window: tuple[Policy, Calendars] | None = None,
) -> dict[str, Any]:
    """The column values of the message `schedule` writes (`schedule_many` writes many at once).

    `window`: the application's policy and calendars when the caller has them already (the sweep
    computes them once per job and calendar in a tick)."""
    at = _inside_window(org, app, kind, at, window)
    if dedupe_key is None and obligation is not None:
        dedupe_key = f"{kind.value}:ob{obligation.id}"
    candidate = app.candidate if app is not None else None
    if recipient is None:
        recipient = (candidate.name, candidate.email) if candidate is not None else (None, None)
    return dict(
        org_id=org.id, application_id=app.id if app else None, obligation_id=obligation.id if obligation else None,
        candidate_id=candidate.id if candidate else None, kind=kind, autopilot=autopilot,
        recipient_name=recipient[0], recipient_email=recipient[1],
        locale=candidate.locale if (candidate and kind.is_candidate_facing) else None,
        context=context or {}, state=NotificationState.SCHEDULED, scheduled_for=at, dedupe_key=dedupe_key,
        created_at=now, attempts=0,
    )


def schedule_many(session: Session, rows: list[dict[str, Any]], now: datetime, actor: str) -> int:
    """Write message rows made by `message_row` as `schedule` writes one, in bulk: one query per
    organisation for the live dedupe keys, one multi-row insert for the messages, one for their audit
    entries. A row whose key a live message (or an earlier row) holds is skipped. Returns how many
    were written. The ORM session does not hold the new rows."""
    live: set[tuple[str, str]] = set()
    for org_id in {row["org_id"] for row in rows}:
        keys = [row["dedupe_key"] for row in rows if row["org_id"] == org_id]
        live.update((org_id, key) for key in _live_dedupe_keys(session, org_id, keys))
    fresh = []
    for row in rows:
        if row["dedupe_key"] is not None:
            if (row["org_id"], row["dedupe_key"]) in live:
                continue
            live.add((row["org_id"], row["dedupe_key"]))
        fresh.append(row)
    if not fresh:
        return 0
    # Core, not the ORM's bulk insert (which works per row), and RETURNING what the audit rows need,
    # so the rows' order does not matter (SQLite cannot promise it for a multi-row INSERT).
    table = Notification.__table__
    made = session.execute(insert(table).returning(table.c.id, table.c.org_id, table.c.kind, table.c.scheduled_for),
                           fresh).all()
    audit_many(session, [audit_row(org_id, "notification", notification_id, "scheduled", now, actor,
                                   after=_scheduled(kind, at)) for notification_id, org_id, kind, at in made])
    return len(made)


_KEYS_PER_QUERY = 500  # bound parameters in one IN list


def _live_dedupe_keys(session: Session, org_id: str, keys: Iterable[str | None]) -> set[str]:
    wanted = sorted({key for key in keys if key is not None})
    live: set[str] = set()
    for start in range(0, len(wanted), _KEYS_PER_QUERY):
        live.update(session.scalars(select(Notification.dedupe_key).where(
            Notification.org_id == org_id, Notification.dedupe_key.in_(wanted[start:start + _KEYS_PER_QUERY]),
            Notification.state != NotificationState.CANCELLED)))
    return live


def _live_with_key(session: Session, org: Organization, dedupe_key: str | None, obligation: Obligation | None) -> bool:
    """A message with this dedupe key that is not cancelled exists. A key naming a cycle the batch
    being applied opened can only be on a message the batch made: those are checked without a query."""
    if dedupe_key is None:
        return False
    batch = _batch_of(session, org.id)
    if batch is not None and obligation is not None and obligation.id in batch.new_cycles \
            and dedupe_key.endswith(f":ob{obligation.id}"):
        return any(n.dedupe_key == dedupe_key and n.state is not NotificationState.CANCELLED
                   for n in batch.new_messages)
    return bool(_live_dedupe_keys(session, org.id, [dedupe_key]))


def _scheduled(kind: NotificationKind, at: datetime) -> dict[str, Any]:
    return {"kind": kind.value, "scheduled_for": at.isoformat()}


def _inside_window(org: Organization, app: Application | None, kind: NotificationKind, at: datetime,
                   window: tuple[Policy, Calendars] | None = None) -> datetime:
    policy, cals = window or (policy_for(org, app.job if app is not None else None),
                              calendars(org, app.candidate if app is not None else None))
    calendar = cals.candidate if kind.is_candidate_facing else cals.org
    return calendar.next_window_opening(at, policy.send_window)


def cancel_unsent(
    session: Session, org_id: str, *, reason: str, now: datetime, actor: str, where: Iterable[Any]
) -> int:
    """Cancel scheduled or queued messages matching `where`. A queued job re-checks and stops."""
    rows = session.scalars(
        select(Notification).where(Notification.org_id == org_id, Notification.state.in_(UNSENT), *where)
    ).all()
    for notification in rows:
        _cancel(session, notification, org_id, reason, now, actor)
    return len(rows)


def _cancel(session: Session, notification: Notification, org_id: str, reason: str, now: datetime,
            actor: str) -> None:
    notification.state = NotificationState.CANCELLED
    notification.cancelled_reason = reason[:64]
    audit(session, org_id, "notification", notification.id, "cancelled", now, actor, after={"reason": reason})
