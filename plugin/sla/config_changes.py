"""Configuration changes, in one place for the JSON API and the dashboard.

Each change (the organisation's policy, a job's policy override and `publicly_advertised` flag, the
business calendar, the sender identity) is applied to the session, audited (who, when, before,
after) and recomputes every open obligation it governs, in the same transaction. The caller commits.

`preview` runs the very same change inside a SAVEPOINT and rolls it back, so the number of deadlines
a change would move comes from the code that moves them, not from an estimate.

Input is validated at the edges (marshmallow schemas in `plugin.sla.config_schemas`: `PolicySchema`,
`OrganizationPatchSchema`); what needs the stored state to check (the send
window once merged with the level above, the calendar as a whole) is checked here and raised as
`ConfigError` before anything is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.audit import audit
from plugin.models import Application, ClosureDate, Job, Obligation, ObligationState, Organization, Rung
from plugin.sla import deadlines
from plugin.sla.calendar import CalendarError, validate_calendar
from plugin.sla.deadlines import DueBasis
from plugin.sla.obligations import calendars, recompute
from plugin.sla.policy import merge_policy, parse_hhmm, policy_for

CALENDAR_FIELDS = ("timezone", "holiday_country", "holiday_subdivision", "working_weekdays", "closures")
IDENTITY_FIELDS = ("name", "sender_name", "sender_email", "escalation_email")

# The audit entities the dashboard's "Recent changes" lists.
CONFIG_ENTITIES = ("policy", "organization", "job")

INVALID_POLICY = "Invalid policy; nothing was changed."
INVALID_CALENDAR = "Invalid calendar; nothing was changed."
WINDOW_ORDER = "The send window must end after it starts."


class ConfigError(ValueError):
    """A change refused as a whole: `errors` maps each offending field to its messages."""

    def __init__(self, message: str, errors: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


@dataclass(frozen=True)
class MovedDeadline:
    """One open deadline a change moved (or would move)."""

    obligation_id: int
    application: str  # the ATS's application id
    candidate: str | None  # None once the candidate's personal data was erased
    job: str
    due_before: datetime
    due_after: datetime
    due_basis: str | None = None  # plugin.sla.deadlines.DueBasis: "honest", "written", ...


# How far ahead the preview looks for what a change sets off at once.
SOON = timedelta(days=1)


@dataclass
class ChangeOutcome:
    moved: int = 0  # open obligations whose deadline or next reminder time changed
    examples: list[MovedDeadline] = field(default_factory=list)
    # Of the moved: the new rule put the deadline in the past (or within the hour), so it got the
    # earliest honest one, the end of the candidate's next send window (no breach after the fact).
    honest: int = 0
    # Of the moved: held at a date a message already gave the candidate (a promise in writing).
    held_in_writing: int = 0
    # What the change sets off within SOON: autopilot updates to candidates, reminders to people.
    autopilot_soon: int = 0
    reminders_soon: int = 0


# -- policies --------------------------------------------------------------------------------------


def set_organization_policy(session: Session, org: Organization, overrides: dict[str, Any], *, actor: str,
                            at: datetime, examples: int = 0) -> ChangeOutcome:
    """Replace the organisation's override set (fields left out fall back to the defaults)."""
    _check_window({}, overrides)
    before = dict(org.policy or {})
    org.policy = overrides
    audit(session, org.id, "policy", "organization", "replaced", at, actor, before=before, after=overrides)
    return recompute_open(session, org, at=at, actor=actor, job=None, examples=examples)


def set_job_policy(session: Session, org: Organization, job: Job, overrides: dict[str, Any], *, actor: str,
                   at: datetime, examples: int = 0) -> ChangeOutcome:
    """Replace a job's override set (fields left out fall back to the organisation's policy)."""
    _require_same_org(org, job)
    _check_window(org.policy or {}, overrides)
    before = dict(job.policy_override or {})
    job.policy_override = overrides
    audit(session, org.id, "policy", f"job:{job.external_id}", "replaced", at, actor, before=before, after=overrides)
    return recompute_open(session, org, at=at, actor=actor, job=job, examples=examples)


def set_publicly_advertised(session: Session, org: Organization, job: Job, value: bool | None, *, actor: str,
                            at: datetime) -> bool:
    """Whether the job is publicly advertised (Ontario ESA scope); None: not said. No deadline depends on it.

    Returns whether it changed (an unchanged value is not audited)."""
    _require_same_org(org, job)
    if job.publicly_advertised is value:
        return False
    before = {"publicly_advertised": job.publicly_advertised}
    job.publicly_advertised = value
    audit(session, org.id, "job", job.external_id, "publicly_advertised", at, actor,
          before=before, after={"publicly_advertised": value})
    return True


def _check_window(parent: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
    """The effective window must still be valid once merged with the level above."""
    merged = merge_policy(parent, overrides)
    if parse_hhmm(merged.send_window_start) >= parse_hhmm(merged.send_window_end):
        raise ConfigError(INVALID_POLICY, {"send_window_end": [WINDOW_ORDER]})


def _require_same_org(org: Organization, job: Job) -> None:
    if job.org_id != org.id:  # callers look jobs up by organisation; this is the last line of defence
        raise LookupError("This job belongs to another organisation.")


# -- organisation: calendar and sender identity ----------------------------------------------------


def organization_snapshot(org: Organization) -> dict[str, Any]:
    """What the audit log keeps of an organisation before and after a change (the API's view of it)."""
    return {
        "id": org.id,
        "name": org.name,
        "timezone": org.timezone,
        "holiday_country": org.holiday_country,
        "holiday_subdivision": org.holiday_subdivision,
        "working_weekdays": [int(d) for d in org.working_weekdays.split(",") if d],
        "closures": [{"day": c.day.isoformat(), "label": c.label} for c in org.closures],
        "sender_name": org.sender_name,
        "sender_email": org.sender_email,
        "escalation_email": org.escalation_email,
    }


def update_organization(session: Session, org: Organization, changes: Mapping[str, Any], *, actor: str,
                        at: datetime, examples: int = 0) -> ChangeOutcome:
    """Apply a partial update (keys of `OrganizationPatchSchema`; closures as {"day": date, "label"}).

    A calendar change recomputes every open deadline of the organisation."""
    before = organization_snapshot(org)
    timezone = changes.get("timezone", org.timezone)
    country = changes.get("holiday_country", org.holiday_country)
    country = country.upper() if country else None
    if "holiday_country" in changes and "holiday_subdivision" not in changes:
        subdivision = None  # a subdivision belongs to its country
    else:
        subdivision = changes.get("holiday_subdivision", org.holiday_subdivision)
    try:
        validate_calendar(timezone, country, subdivision)
    except CalendarError as exc:
        raise ConfigError(INVALID_CALENDAR, {calendar_error_field(exc): [str(exc)]}) from None
    org.timezone, org.holiday_country, org.holiday_subdivision = timezone, country, subdivision
    for key in IDENTITY_FIELDS:
        if key in changes:
            setattr(org, key, changes[key])
    if "working_weekdays" in changes:
        org.working_weekdays = ",".join(str(d) for d in sorted(set(changes["working_weekdays"])))
    if "closures" in changes:
        _replace_closures(session, org, changes["closures"])
    session.flush()
    outcome = ChangeOutcome()
    if any(key in changes for key in CALENDAR_FIELDS):
        outcome = recompute_open(session, org, at=at, actor=actor, job=None, examples=examples)
    audit(session, org.id, "organization", org.id, "updated", at, actor, before=before,
          after=organization_snapshot(org))
    return outcome


def calendar_error_field(exc: CalendarError) -> str:
    """Which form or JSON field a calendar error is about (validate_calendar says it in words)."""
    text = str(exc)
    if "time zone" in text:
        return "timezone"
    return "holiday_subdivision" if "subdivision" in text.lower() else "holiday_country"


def _replace_closures(session: Session, org: Organization, closures: list[Mapping[str, Any]]) -> None:
    org.closures.clear()
    session.flush()  # the old rows go before the new ones (unique org_id, day)
    seen: set[date] = set()
    for closure in closures:
        if closure["day"] not in seen:
            seen.add(closure["day"])
            org.closures.append(ClosureDate(day=closure["day"], label=closure.get("label")))


# -- recomputing and previewing --------------------------------------------------------------------


def recompute_open(session: Session, org: Organization, *, at: datetime, actor: str, job: Job | None = None,
                   examples: int = 0) -> ChangeOutcome:
    """Recompute every open obligation of the organisation (or of one job); count those that moved.

    Deadlines that have already passed stay as they were: whether the candidate heard by then is
    history, and a configuration change must not rewrite it (nor erase a recorded breach). A deadline
    the new rule would put in the past gets the earliest honest one instead (plugin.sla.deadlines.settle),
    so lowering the SLA never files breaches after the fact.
    `examples`: how many moved deadlines to describe (soonest first), for a preview."""
    query = (select(Obligation).join(Application, Obligation.application_id == Application.id)
             .where(Obligation.org_id == org.id, Obligation.state == ObligationState.OPEN, Obligation.due_at > at)
             .order_by(Obligation.due_at, Obligation.id))
    if job is not None:
        query = query.where(Application.job_id == job.id)
    outcome = ChangeOutcome()
    for obligation in session.scalars(query):
        due_before = obligation.due_at
        if not recompute(obligation, org, at, actor):
            continue
        outcome.moved += 1
        _count_consequences(outcome, obligation, due_before, org, at)
        if len(outcome.examples) < examples and obligation.due_at != due_before:
            outcome.examples.append(_describe(obligation, due_before))
    return outcome


def _count_consequences(outcome: ChangeOutcome, obligation: Obligation, due_before: datetime, org: Organization,
                        at: datetime) -> None:
    """What the sweep will do about this recomputed cycle within SOON (the same rules it applies)."""
    if obligation.due_at != due_before and obligation.due_basis == DueBasis.HONEST:
        outcome.honest += 1
    if obligation.due_basis == DueBasis.WRITTEN:
        outcome.held_in_writing += 1
    app = obligation.application
    policy, cals = policy_for(org, app.job), calendars(org, app.candidate)
    rung, rung_at = obligation.next_rung, obligation.next_action_at
    while rung in (Rung.REMINDER_RECRUITER, Rung.REMINDER_HIRING_MANAGER) and rung_at is not None \
            and rung_at <= at + SOON:
        send_at = cals.org.next_window_opening(max(rung_at, at), policy.send_window)
        if deadlines.reminder_worth_sending(send_at, obligation.due_at, policy, cals):
            outcome.reminders_soon += 1
        rung, rung_at = deadlines.next_rung(rung, obligation.due_at, policy, cals)
    if rung is Rung.AUTOPILOT and policy.autopilot and rung_at is not None and rung_at <= at + SOON:
        outcome.autopilot_soon += 1


def _describe(obligation: Obligation, due_before: datetime) -> MovedDeadline:
    app = obligation.application
    candidate = app.candidate
    return MovedDeadline(
        obligation_id=obligation.id,
        application=app.external_id,
        candidate=None if candidate.erased_at is not None else (candidate.name or candidate.email),
        job=app.job.title or app.job.external_id,
        due_before=due_before,
        due_after=obligation.due_at,
        due_basis=obligation.due_basis,
    )


def preview(session: Session, change: Callable[[], ChangeOutcome]) -> ChangeOutcome:
    """Run `change` inside a SAVEPOINT, then roll it back: nothing it wrote survives, audit rows included.

    The outcome holds plain values (ids, names, instants), so it stays valid after the rollback. A
    ConfigError raised by `change` propagates, after the rollback."""
    savepoint = session.begin_nested()
    try:
        outcome = change()
        session.flush()
    finally:
        savepoint.rollback()  # also expires what the change touched, so the objects reload as stored
    return outcome
