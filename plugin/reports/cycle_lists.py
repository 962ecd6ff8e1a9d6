"""The overview's lists of cycles: at risk now, breached (in the period, or still open past their
deadline) and neglected (autopilot answering again and again), with what happens next or why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from plugin.models import Application, Candidate, Job, Obligation, ObligationState, Rung
from plugin.reports import N_
from plugin.reports.metrics import Period, candidate_label, job_label, person_label
from plugin.reports.outcomes import outcome_columns
from plugin.sla.calendar import BusinessCalendar
from plugin.sla.policy import merge_policy

AT_RISK_WORKING_DAYS = 2

BREACH_REASONS = {
    "forgotten": N_("nobody sent an update"),
    "undeliverable": N_("mail could not be delivered"),
    "autopilot_off": N_("autopilot is off for this job"),
    "late": N_("the update could not go out in time (the sweeper or a worker was late)"),
    "unknown": N_("a message may have gone out; the mail provider has not confirmed it yet"),
}
LATE_ANSWER = N_("the update came after the deadline")

RUNG_WORDS = {
    Rung.REMINDER_RECRUITER: "reminder to the recruiter",
    Rung.REMINDER_HIRING_MANAGER: "reminder to the hiring manager",
    Rung.AUTOPILOT: "autopilot sends an update",
    Rung.DEADLINE: "deadline passes (breach)",
    Rung.DONE: "nothing more scheduled",
}
ESCALATION_WORDS = "escalation to talent ops (autopilot is off)"
UNDELIVERABLE_ESCALATION_WORDS = "escalation: someone must reach the candidate another way"


@dataclass(frozen=True)
class ListRow:
    obligation_id: int
    application_id: int
    candidate: str
    job: str
    department: str | None
    cycle: int
    due_at: datetime
    owner: str
    state: ObligationState
    next_step: str | None = None
    next_step_at: datetime | None = None
    at_risk: bool = False
    reason: str | None = None
    discharged_at: datetime | None = None
    autopilot_run: int = 0


def _list_columns() -> tuple[Any, ...]:
    return (Obligation.id, Obligation.application_id, Candidate.name, Candidate.erased_at, Job.title,
            Job.external_id, Job.department, Job.recruiter_name, Job.recruiter_email, Obligation.cycle,
            Obligation.due_at, Obligation.owner_email, Obligation.state, Obligation.next_rung,
            Obligation.next_action_at, Obligation.at_risk, Obligation.breach_reason, Obligation.discharged_at,
            Job.policy_override, Obligation.autopilot_run)


def _list_query(org_id: str, where: ColumnElement[bool]) -> Select[Any]:
    return (select(*_list_columns()).select_from(Obligation)
            .join(Application, Application.id == Obligation.application_id)
            .join(Job, Job.id == Application.job_id)
            .join(Candidate, Candidate.id == Application.candidate_id)
            .where(Obligation.org_id == org_id, where))


def _owner(owner_email: str | None, recruiter_name: str | None, recruiter_email: str | None) -> str:
    if owner_email and recruiter_email and owner_email.lower() == recruiter_email.lower():
        return person_label(recruiter_name, recruiter_email)
    return owner_email or person_label(recruiter_name, recruiter_email)



def _row(r: Any, *, next_step: str | None = None, reason: str | None = None) -> ListRow:
    return ListRow(
        obligation_id=r.id, application_id=r.application_id, candidate=candidate_label(r.name, r.erased_at),
        job=job_label(r.title, r.external_id), department=r.department, cycle=r.cycle, due_at=r.due_at,
        owner=_owner(r.owner_email, r.recruiter_name, r.recruiter_email), state=r.state, next_step=next_step,
        next_step_at=r.next_action_at if next_step else None, at_risk=bool(r.at_risk), reason=reason,
        discharged_at=r.discharged_at, autopilot_run=r.autopilot_run or 0,
    )


def at_risk_horizon(now: datetime, calendar: BusinessCalendar) -> datetime:
    """The end (local midnight) of the 2nd working day after today."""
    last_day = calendar.add_working_days(calendar.local_date(now), AT_RISK_WORKING_DAYS)
    return calendar.local_instant(last_day + timedelta(days=1), time(0))


def at_risk_now(session: Session, org_id: str, where: ColumnElement[bool], now: datetime,
                calendar: BusinessCalendar, org_policy: dict[str, Any], limit: int | None = None) -> list[ListRow]:
    """Open obligations due within 2 working days, or flagged at risk (undeliverable mail), soonest first."""
    horizon = at_risk_horizon(now, calendar)
    query = (_list_query(org_id, where)
             .where(Obligation.state == ObligationState.OPEN, Obligation.due_at >= now,
                    or_(Obligation.due_at < horizon, Obligation.at_risk.is_(True)))
             .order_by(Obligation.due_at, Obligation.id))
    if limit is not None:
        query = query.limit(limit)
    rows = []
    for r in session.execute(query):
        step = RUNG_WORDS.get(r.next_rung)
        if r.next_rung is Rung.AUTOPILOT and r.at_risk:  # autopilot never writes to an address that bounced
            step = UNDELIVERABLE_ESCALATION_WORDS
        elif r.next_rung is Rung.AUTOPILOT and not merge_policy(org_policy, r.policy_override).autopilot:
            step = ESCALATION_WORDS
        rows.append(_row(r, next_step=step))
    return rows


def breach_reason_words(breach_reason: str | None, state: ObligationState) -> str:
    if breach_reason in BREACH_REASONS:
        return BREACH_REASONS[breach_reason]
    if state is ObligationState.DISCHARGED:
        return LATE_ANSWER
    return BREACH_REASONS["forgotten"]  # past due, open, the sweep has not recorded it yet


def breached(session: Session, org_id: str, where: ColumnElement[bool], period: Period, now: datetime,
             limit: int | None = None) -> list[ListRow]:
    """Cycles missed in the period, and every cycle still open past its deadline now; latest deadline first."""
    _, missed, _ = outcome_columns(now)
    open_past_due = and_(Obligation.state == ObligationState.OPEN, Obligation.due_at < now)
    # A miss happens at its deadline (plugin.reports.outcomes), so "missed in the period" is a range
    # of due_at: the (org_id, due_at) index is walked from the latest deadline down until the page is full.
    missed_in_period = and_(missed, Obligation.due_at >= period.start, Obligation.due_at < period.end)
    query = (_list_query(org_id, where)
             .where(Obligation.due_at < max(now, period.end), or_(open_past_due, missed_in_period))
             .order_by(Obligation.due_at.desc(), Obligation.id.desc()))
    if limit is not None:
        query = query.limit(limit)
    return [_row(r, reason=breach_reason_words(r.breach_reason, r.state)) for r in session.execute(query)]


NEGLECTED_RUN = 2  # autopilot updates in a row that make an application neglected (DESIGN "After autopilot")


def neglected(session: Session, org_id: str, where: ColumnElement[bool], limit: int | None = None) -> list[ListRow]:
    """Candidates still waiting whom autopilot has had to answer twice or more in a row: nobody on the
    hiring team has given them news of their own. Longest run first."""
    query = (_list_query(org_id, where)
             .where(Obligation.state == ObligationState.OPEN, Obligation.autopilot_run >= NEGLECTED_RUN)
             .order_by(Obligation.autopilot_run.desc(), Obligation.due_at, Obligation.id))
    if limit is not None:
        query = query.limit(limit)
    return [_row(r, reason=f"autopilot wrote {r.autopilot_run} times in a row") for r in session.execute(query)]
