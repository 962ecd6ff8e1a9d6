"""Whether a cycle was answered on time: the one definition behind every on-time rate.

The outcome of a cycle (an obligation), as of an instant `now`:
1. **on time**: the candidate heard from us (the cycle was discharged) at or before `due_at`, and no
   breach was recorded for it. The outcome happened at `discharged_at`.
2. **missed**: a breach was recorded (whatever happened afterwards), or the candidate heard after
   `due_at`, or the cycle is still open with `due_at` before `now` (the sweep may not have recorded
   the breach yet; the candidate is waiting all the same). The outcome happened at `due_at`.
3. **neither**: the cycle is open and not yet due (pending), or it was closed without a breach
   because nothing was owed any more (withdrawn, erased, hired elsewhere). These count neither way.

The on-time rate of a set of cycles is on time / (on time + missed): "N of M cycles answered or past
their deadline". An early answer counts before its deadline has passed; a withdrawal does not count.

`outcome_columns` is the rule as SQL (for GROUP BY over the ledger: the dashboard, the demo
summary); `outcome_of` is the same rule for one loaded row (the API's and the proof's `met`, the
timeline). Tests hold the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from plugin.models import Obligation, ObligationState

__all__ = ["Outcome", "OutcomeColumns", "Tally", "met", "outcome_columns", "outcome_instant", "outcome_of", "tally"]


class Outcome(StrEnum):
    ON_TIME = "on_time"
    MISSED = "missed"
    PENDING = "pending"  # open, deadline still ahead
    NOT_OWED = "not_owed"  # closed without a breach: withdrawn, erased...


# --- one cycle (Python) ------------------------------------------------------------------------------


def outcome_of(obligation: Obligation, now: datetime) -> Outcome:
    """The outcome of one cycle as of `now` (see the module docstring)."""
    due_at, answered = obligation.due_at, obligation.discharged_at
    if obligation.state is not ObligationState.DISCHARGED:
        answered = None  # a reopened cycle may keep no answer; only a discharged one was answered
    if obligation.breached_at is None and answered is not None and answered <= due_at:
        return Outcome.ON_TIME
    if (obligation.breached_at is not None or (answered is not None and answered > due_at)
            or (obligation.state is ObligationState.OPEN and due_at < now)):
        return Outcome.MISSED
    return Outcome.PENDING if obligation.state is ObligationState.OPEN else Outcome.NOT_OWED


def met(obligation: Obligation, now: datetime) -> bool | None:
    """True on time, False missed, None when the cycle counts neither way (yet)."""
    return {Outcome.ON_TIME: True, Outcome.MISSED: False}.get(outcome_of(obligation, now))


def outcome_instant(obligation: Obligation, now: datetime) -> datetime | None:
    """When the outcome happened: the answer if on time, the deadline if missed; None otherwise."""
    outcome = outcome_of(obligation, now)
    if outcome is Outcome.ON_TIME:
        return obligation.discharged_at
    return obligation.due_at if outcome is Outcome.MISSED else None


# --- many cycles (SQL) ------------------------------------------------------------------------------


class OutcomeColumns(NamedTuple):
    on_time: ColumnElement[bool]
    missed: ColumnElement[bool]
    instant: ColumnElement[Any]  # meaningful only where on_time or missed holds


def outcome_columns(now: datetime) -> OutcomeColumns:
    """The rule as SQL expressions over `Obligation`, to select, count or group cycles by."""
    discharged = Obligation.state == ObligationState.DISCHARGED
    on_time = and_(Obligation.breached_at.is_(None), discharged, Obligation.discharged_at <= Obligation.due_at)
    missed = and_(
        ~on_time,
        or_(
            Obligation.breached_at.is_not(None),
            and_(discharged, Obligation.discharged_at > Obligation.due_at),
            and_(Obligation.state == ObligationState.OPEN, Obligation.due_at < now),
        ),
    )
    instant = case((on_time, Obligation.discharged_at), else_=Obligation.due_at)
    return OutcomeColumns(on_time, missed, instant)


@dataclass(frozen=True)
class Tally:
    on_time: int
    missed: int

    @property
    def counted(self) -> int:
        return self.on_time + self.missed

    @property
    def rate(self) -> float | None:
        """On-time share (0..1); None when no cycle has an outcome (never divide by zero)."""
        return self.on_time / self.counted if self.counted else None


def tally(session: Session, now: datetime, *where: ColumnElement[bool]) -> Tally:
    """On-time and missed cycles among those `where` selects (all of them by default), as of `now`."""
    on_time, missed, _ = outcome_columns(now)
    row = session.execute(
        select(func.coalesce(func.sum(case((on_time, 1), else_=0)), 0),
               func.coalesce(func.sum(case((missed, 1), else_=0)), 0)).select_from(Obligation).where(*where)
    ).one()
    return Tally(on_time=int(row[0]), missed=int(row[1]))
