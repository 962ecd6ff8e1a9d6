"""What a message means for the ledger: who gets it, whether it is still wanted, what sending it does.

`plugin.notify` renders and sends; it asks this module, right before sending, whether the message
is still wanted (a reopened application cancels its rejection) and tells it the outcome.
Finding and reopening the cycle that an undelivered message had discharged is
`plugin.sla.undelivered`; why a deadline passed without news is `plugin.sla.breaches`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime
from typing import Any, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from plugin.audit import audit
from plugin.models import (
    Application,
    ApplicationStatus,
    AuditEntry,
    Job,
    JobStatus,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    ObligationState,
    Organization,
)
from plugin.sla import deadlines, obligations
from plugin.sla.obligations import UNSENT
from plugin.sla.policy import policy_for
from plugin.sla.undelivered import (
    UNDELIVERABLE,
    applications_told,
    failure_key,
    locked_obligations,
    reopen_cycle_it_discharged,
    tell_lead_internal_undelivered,
)

log = logging.getLogger(__name__)

DECISION_KINDS = (NotificationKind.REJECTION, NotificationKind.JOB_CLOSED)


def decision_pending_before(session: Session, obligation: Obligation,
                            now: datetime | None = None) -> datetime | None:
    """When a decision message will reach the candidate, if it does so by the deadline or, given
    `now` and the deadline gone (an outage released both at once), by now.

    Reminders and autopilot stand down for it. The earliest pending decision is before the limit
    exactly when any is, so `pending_decision_at` answers both questions.
    """
    return decision_in_time(obligation, pending_decision_at(session, obligation.application_id), now)


def decision_in_time(obligation: Obligation, decision_at: datetime | None,
                     now: datetime | None = None) -> datetime | None:
    """`decision_pending_before` given the pending decision's time (the sweep reads a batch's at once)."""
    limit = obligation.due_at if now is None else max(obligation.due_at, now)
    return decision_at if decision_at is not None and decision_at <= limit else None


def internal_recipient(org: Organization, job: Job, kind: NotificationKind) -> tuple[str | None, str | None]:
    if kind is NotificationKind.REMINDER_HIRING_MANAGER:
        return job.hiring_manager_name, job.hiring_manager_email
    if kind is NotificationKind.ESCALATION and org.escalation_email:
        return None, org.escalation_email
    if job.recruiter_email:
        return job.recruiter_name, job.recruiter_email
    return None, org.escalation_email


def schedule_internal(
    session: Session, org: Organization, kind: NotificationKind, obligation: Obligation, *, at: datetime,
    now: datetime, actor: str, context: dict[str, Any] | None = None, dedupe_key: str | None = None,
) -> Notification | None:
    app = obligation.application
    return obligations.schedule(
        session, org, kind, app=app, obligation=obligation, at=at, now=now, actor=actor, context=context,
        recipient=internal_recipient(org, app.job, kind), dedupe_key=dedupe_key,
    )


def schedule_candidate(
    session: Session, org: Organization, kind: NotificationKind, obligation: Obligation, *, at: datetime,
    now: datetime, actor: str, autopilot: bool = False, context: dict[str, Any] | None = None,
) -> Notification | None:
    return obligations.schedule(
        session, org, kind, app=obligation.application, obligation=obligation, at=at, now=now, actor=actor,
        autopilot=autopilot, context=context,
    )


def reason_not_to_send(session: Session, notification: Notification, now: datetime) -> str | None:
    """Re-check current state right before sending. A reason means: cancel, do not send.

    `now` matters because a message can wait (a sweeper outage, a worker backlog): one that would
    name a day already gone, or remind someone of a deadline nobody can keep by hand any more, is
    no longer wanted."""
    app = notification.application
    candidate = notification.candidate
    if notification.kind.is_candidate_facing and candidate is not None and candidate.erased_at is not None:
        return "candidate erased"
    obligation = session.get(Obligation, notification.obligation_id) if notification.obligation_id else None
    kind = notification.kind
    if kind is NotificationKind.REJECTION:
        if app is None or app.status is not ApplicationStatus.REJECTED:
            return "application is no longer rejected"
        return None
    if kind is NotificationKind.JOB_CLOSED:
        apps = closing_applications(session, notification)
        if not apps:
            return "no application is still waiting on a closed job"
        return None
    if kind in (NotificationKind.DELIVERY_FAILED, NotificationKind.REPLY_FORWARD, NotificationKind.CANDIDATE_WITHDREW):
        return None  # telling a person what happened: wanted whatever state the cycle is in now
    # A status update stays wanted while its cycle is open, even for a rejected application: when
    # the ATS holds the rejection until after the deadline (notify_not_before), the candidate still
    # hears by the deadline when they will hear next.
    if obligation is None or obligation.state is not ObligationState.OPEN:
        return "the candidate has already heard from us in this cycle"
    if kind is NotificationKind.NEXT_STEPS and app is not None and app.status is not ApplicationStatus.ACTIVE:
        return f"application is {app.status.value}: the decision says what happens next"
    if kind in (NotificationKind.NEXT_STEPS, NotificationKind.STATUS_UPDATE, NotificationKind.REMINDER_RECRUITER,
                NotificationKind.REMINDER_HIRING_MANAGER) and decision_pending_before(session, obligation, now) is not None:
        # "You are still in the process" followed minutes later by "the position is closed" (late
        # or backfilled ATS data): the decision reaches them by the deadline, and says it all. Nor
        # does anyone need reminding. After an outage both may be overdue and leave together: the
        # decision alone then (found by the oracle).
        return "a decision message reaches the candidate by the deadline"
    if kind in (NotificationKind.NEXT_STEPS, NotificationKind.REPLY_ACK) and obligation.due_at <= now:
        return "the date it would name has already passed"  # held up by an outage
    if kind in (NotificationKind.REMINDER_RECRUITER, NotificationKind.REMINDER_HIRING_MANAGER):
        org = session.get(Organization, notification.org_id)
        assert org is not None and app is not None
        if not deadlines.reminder_worth_sending(now, obligation.due_at, policy_for(org, app.job),
                                                obligations.calendars(org, app.candidate)):
            return "it would arrive only when autopilot writes or after the deadline"
        if _person_wrote(session, obligation):
            return "someone on the team has already written to the candidate in this cycle"
    return None


def _person_wrote(session: Session, obligation: Obligation) -> bool:
    """A status update a person sent (not autopilot's) is on its way in this cycle (found by the
    oracle: a reminder left beside the update the recruiter had just sent, naming the old deadline)."""
    return session.scalar(
        select(Notification.id).where(
            Notification.obligation_id == obligation.id, Notification.kind == NotificationKind.STATUS_UPDATE,
            Notification.autopilot.is_(False), Notification.state.in_(UNSENT)).limit(1)
    ) is not None


def closing_applications(session: Session, notification: Notification) -> list[Application]:
    """The applications a closing notice still speaks for: active, on a job that is closed."""
    ids = notification.context.get("application_ids") or ([notification.application_id] if notification.application_id else [])
    # By primary key: rows already in the session (a bulk send loads a thousand notices' applications
    # at once) cost no query; the order is the notice's, so job titles read the same every time.
    apps = [app for app in (session.get(Application, i) for i in ids) if app is not None]
    return [a for a in apps if a.status is ApplicationStatus.ACTIVE and a.job.status is JobStatus.CLOSED]


def closing_job_titles(session: Session, notification: Notification) -> list[str]:
    return [a.job.title or "the position" for a in closing_applications(session, notification)]


def on_sent(session: Session, notification: Notification, now: datetime, actor: str,
            at: datetime | None = None) -> None:
    """The provider accepted the message (at `at`, default now): a candidate-facing update or
    decision discharges the cycle; a date it named is now a promise."""
    if notification.delivery_status is not None and notification.delivery_status.undeliverable:
        # SendGrid reported a bounce before the worker recorded the send (the webhook won the race):
        # the cycle stays open and at risk, and the recruiter has been told already.
        return
    named = named_date(notification)
    if named is not None and notification.kind in (NotificationKind.NEXT_STEPS, NotificationKind.REPLY_ACK):
        obligation = session.get(Obligation, notification.obligation_id) if notification.obligation_id else None
        if obligation is not None and obligation.state is ObligationState.OPEN:
            obligations.put_in_writing(obligation, named, now, actor)
    _discharge(session, notification, at=at or now, now=now, actor=actor)


def _discharge(session: Session, notification: Notification, *, at: datetime, now: datetime, actor: str) -> None:
    kind = notification.kind
    if not kind.discharges:
        return
    if kind is NotificationKind.JOB_CLOSED:
        for app in closing_applications(session, notification):
            app.status, app.status_changed_at = ApplicationStatus.CLOSED, at
            current = obligations.open_obligation(app)
            if current is not None:
                obligations.discharge(current, at=at, by="job_closed", now=now, actor=actor, next_cycle=False)
        return
    if kind is NotificationKind.REJECTION:
        # The decision ends whichever cycle is open now (a status update may have opened a newer one
        # while the rejection waited for the ATS's notify_not_before).
        current = obligations.open_obligation(notification.application) if notification.application else None
        if current is not None:
            obligations.discharge(current, at=at, by=kind.value, now=now, actor=actor, next_cycle=False)
        return
    obligation = session.get(Obligation, notification.obligation_id) if notification.obligation_id else None
    if obligation is None or obligation.state is not ObligationState.OPEN:
        return
    if notification.autopilot:
        obligation.autopilot_stepped_in = True
    org = session.get(Organization, notification.org_id)
    assert org is not None
    named = named_date(notification)
    written = None
    if named is not None:
        app = obligation.application
        written = deadlines.due_on(named, policy_for(org, app.job), obligations.calendars(org, app.candidate))
    following = obligations.discharge(obligation, at=at, by=kind.value, now=now, actor=actor, next_cycle=True,
                                      promised_on=promised_next_date(notification), written_due_at=written,
                                      autopilot=notification.autopilot)
    if following is not None and notification.autopilot:
        _escalate_if_neglected(session, org, obligation, following, now, actor)


def promised_next_date(notification: Notification) -> date | None:
    """The day a person's status update promised the candidate the next news (None: the policy's cadence)."""
    value = (notification.context or {}).get("promised_next_date")
    return date.fromisoformat(value) if value else None


def drop_stale_promise(session: Session, notification: Notification, now: datetime, actor: str) -> None:
    """A person's update that waited past the day it promised (a sweeper outage) must not tell the
    candidate "you will hear from us by" a day already gone: it goes out with the policy's cadence
    instead, and the audit log says so."""
    promised = promised_next_date(notification)
    org = session.get(Organization, notification.org_id)
    if promised is None or org is None:
        return
    today = obligations.calendars(org, notification.candidate).candidate.local_date(now)
    if promised >= today:  # today is still a day they can hear by (the deadline is its window's end)
        return
    notification.context = {k: v for k, v in notification.context.items() if k != "promised_next_date"}
    audit(session, notification.org_id, "notification", notification.id, "promise_dropped", now, actor,
          after={"promised_next_date": promised.isoformat(), "reason": "the day had passed before it could be sent"})


def named_date(notification: Notification) -> date | None:
    """The date the message, as rendered and sent, told the candidate they will hear by."""
    value = (notification.context or {}).get("named_date")
    return date.fromisoformat(value) if value else None


NEGLECT_RUN = 2  # autopilot cycles in a row with nobody acting before the talent-ops lead is told


def _escalate_if_neglected(session: Session, org: Organization, answered: Obligation, following: Obligation,
                           now: datetime, actor: str) -> None:
    """After the second autopilot update in a row with nobody acting between them, the talent-ops
    lead hears of it, once per run, naming who should have acted."""
    if following.autopilot_run != NEGLECT_RUN:
        return
    app = answered.application
    policy = policy_for(org, app.job)
    cals = obligations.calendars(org, app.candidate)
    schedule_internal(
        session, org, NotificationKind.ESCALATION, following, now=now, actor=actor,
        at=cals.org.next_window_opening(now, policy.send_window),
        dedupe_key=f"neglected:app{app.id}:cycle{answered.cycle}",
        context={"reason_code": "neglected", "autopilot_updates": NEGLECT_RUN,
                 "reason": f"Autopilot has had to update this candidate {NEGLECT_RUN} times in a row and nobody "
                           "has acted on the application since. Please make sure the recruiter and the hiring "
                           "manager give them a decision or a personal update."},
    )


def send_window_opening(session: Session, notification: Notification, at: datetime) -> datetime:
    """`at` if the message may be handed to the provider then, else the next opening of its window:
    the candidate's for candidate mail, the organisation's for internal mail (invariant 8)."""
    org = session.get(Organization, notification.org_id)
    if org is None:
        return at
    app = notification.application
    policy = policy_for(org, app.job if app is not None else None)
    cals = obligations.calendars(org, notification.candidate)
    calendar = cals.candidate if notification.kind.is_candidate_facing else cals.org
    return calendar.next_window_opening(at, policy.send_window)


def pending_decision_at(session: Session, application_id: int) -> datetime | None:
    """When an already scheduled decision message will go out, if one is waiting: a rejection of this
    application, or a closing notice that speaks of it (one notice per person covers every job of
    theirs that closed, so it may belong to another of their applications)."""
    app = session.get(Application, application_id)
    if app is None:
        return None
    return pending_decisions_at(session, [app]).get(app.id)


def pending_decisions_at(session: Session, apps: Sequence[Application]) -> dict[int, datetime]:
    """`pending_decision_at` of many applications in one query (the sweep's batch): application id ->
    when its earliest pending decision goes out; applications without one are left out."""
    waiting: dict[int, list[tuple[datetime, int | None, dict[str, Any] | None]]] = defaultdict(list)
    candidate_ids = sorted({app.candidate_id for app in apps})
    if candidate_ids:
        for candidate_id, at, owner, context in session.execute(
            select(Notification.candidate_id, Notification.scheduled_for, Notification.application_id,
                   Notification.context).where(
                Notification.candidate_id.in_(candidate_ids), Notification.kind.in_(DECISION_KINDS),
                Notification.state.in_(UNSENT))
        ):
            waiting[candidate_id].append((at, owner, context))
    pending = {}
    for app in apps:
        times = [at for at, owner, context in waiting.get(app.candidate_id, ())
                 if owner == app.id or app.id in ((context or {}).get("application_ids") or [])]
        if times:
            pending[app.id] = min(times)
    return pending


# -- a message whose fate is unknown -----------------------------------------------------------------
#
# A worker that died between handing a message to the provider and recording the answer, or a
# provider that took the request and never answered, leaves a message that may or may not have gone
# out. It is not a failure and not a bounce (nothing says the address is bad), and it is never sent
# again on a guess (invariant 9): it waits in state `unknown` until the provider's events confirm it
# (`confirm_sent`) or the provider says it never had it (`refute`). A deadline that passes meanwhile
# is a breach for reason `unknown`, undone if the message turns out to have gone out in time.

FATE_UNKNOWN = "unknown"  # notification state, audit action and breach reason


def mark_unknown(session: Session, notification: Notification, why: str, now: datetime, actor: str) -> None:
    notification.state = NotificationState.UNKNOWN
    notification.last_error = why[:2000]
    audit(session, notification.org_id, "notification", notification.id, "fate_unknown", now, actor,
          after={"why": why})
    log.warning("notification %s: fate unknown (%s); waiting for the provider's events", notification.id, why)


def confirm_sent(session: Session, notification: Notification, *, at: datetime, provider: str | None,
                 provider_message_id: str | None, now: datetime, actor: str, evidence: str) -> None:
    """A message of unknown fate reached the provider at `at` after all: it is sent as of then."""
    if notification.state is not NotificationState.UNKNOWN:
        return
    notification.state, notification.sent_at = NotificationState.SENT, at
    notification.provider = notification.provider or provider
    notification.provider_message_id = notification.provider_message_id or provider_message_id
    audit(session, notification.org_id, "notification", notification.id, "confirmed_sent", now, actor,
          after={"at": at.isoformat(), "evidence": evidence})
    on_sent(session, notification, now, actor, at=at)
    if notification.application_id is None:
        return
    for obligation in locked_obligations(
            session, Obligation.application_id == notification.application_id,
            Obligation.breach_reason == FATE_UNKNOWN, Obligation.discharged_at == at):
        if at <= obligation.due_at:  # it went out in time: the breach was never one
            obligation.breached_at = obligation.breach_reason = None


def refute(session: Session, notification: Notification, why: str, now: datetime, actor: str) -> None:
    """The provider never had the message: it has not been sent, so sending it now is not a second
    send. It goes back to wait for its send window."""
    if notification.state not in (NotificationState.UNKNOWN, NotificationState.SENDING):
        return
    notification.state = NotificationState.SCHEDULED
    notification.scheduled_for = send_window_opening(session, notification, now)
    audit(session, notification.org_id, "notification", notification.id, "not_sent", now, actor,
          after={"why": why, "scheduled_for": notification.scheduled_for.isoformat()})


# -- mail that did not reach the candidate -----------------------------------------------------------
#
# A permanent send failure (`mark_failed`) and a bounce or drop that SendGrid reports after accepting
# the message (`mark_undeliverable`) are the same situation: the candidate was not told. Then
# 1. internal mail: the talent-ops lead is told, once (`undelivered.tell_lead_internal_undelivered`);
# 2. the cycle the message had discharged (a status update, a decision) is reopened: it is not met;
#    the next cycle that discharge opened is closed; the ladder resumes from the rungs still ahead;
# 3. the cycle is at risk: the sweep escalates to a person instead of emailing the same dead address,
#    and a deadline that passes is a breach for `undeliverable` (`sweep._record_breach`);
# 4. the recruiter gets one delivery_failed message per failed message (per application it told),
#    with the reason, so that someone calls the candidate (`candidate.contacted` then discharges it).


def mark_failed(session: Session, notification: Notification, error: str, now: datetime, actor: str) -> None:
    """Permanent failure: record it, put the obligation at risk, and tell a person to use another channel."""
    notification.state = NotificationState.FAILED
    notification.last_error = error[:2000]
    audit(session, notification.org_id, "notification", notification.id, "failed", now, actor, after={"error": error})
    _not_told(session, notification, error, now, actor)


def mark_undeliverable(session: Session, notification: Notification, reason: str, now: datetime, actor: str) -> None:
    """SendGrid bounced or dropped a message it had accepted (`reason`: what it said)."""
    reopened, at_risk = _not_told(session, notification, reason, now, actor)
    # What was reopened and put at risk, so that a later `delivered` can undo exactly that.
    audit(session, notification.org_id, "notification", notification.id, UNDELIVERABLE, now, actor,
          after={"reason": reason, "reopened": reopened, "at_risk": at_risk})


def mark_delivered_after_all(session: Session, notification: Notification, now: datetime, actor: str) -> None:
    """A message reported bounced was delivered after all (a soft bounce, then a successful retry).

    The cycles the bounce put at risk are no longer at risk; the message discharges its cycle as it
    would have when it was sent, unless something else (a call) discharged it meanwhile. A
    delivery_failed message that has not gone out yet is cancelled; one already sent stays sent.
    """
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.org_id == notification.org_id, AuditEntry.entity == "notification",
                                 AuditEntry.entity_id == str(notification.id), AuditEntry.action == UNDELIVERABLE)
        .order_by(AuditEntry.id.desc()).limit(1)
    )
    recorded = entry.after if entry is not None and entry.after else {}
    at_risk_ids = [int(i) for i in recorded.get("at_risk", [])]
    reopened_ids = {int(i) for i in recorded.get("reopened", [])}
    sent_at = notification.sent_at if notification.state is NotificationState.SENT else None
    for obligation in locked_obligations(session, Obligation.id.in_(at_risk_ids),
                                         Obligation.state == ObligationState.OPEN):
        obligation.at_risk = False
        if obligation.breach_reason == UNDELIVERABLE and sent_at is not None and sent_at <= obligation.due_at:
            obligation.breached_at = obligation.breach_reason = None
        if sent_at is not None and notification.kind is NotificationKind.JOB_CLOSED and obligation.id in reopened_ids:
            obligations.discharge(obligation, at=sent_at, by="job_closed", now=now, actor=actor, next_cycle=False)
    obligations.cancel_unsent(
        session, notification.org_id, reason="delivered after all", now=now, actor=actor,
        where=[Notification.kind == NotificationKind.DELIVERY_FAILED,
               or_(Notification.dedupe_key == failure_key(notification),
                   Notification.dedupe_key.startswith(f"{failure_key(notification)}:"))],
    )
    if sent_at is not None:
        _discharge(session, notification, at=sent_at, now=now, actor=actor)
    audit(session, notification.org_id, "notification", notification.id, "delivered_after_all", now, actor)


def _not_told(session: Session, notification: Notification, reason: str, now: datetime,
              actor: str) -> tuple[list[int], list[int]]:
    """Steps 1-4 above. Returns the ids of the cycles reopened and of those now at risk."""
    if not notification.kind.is_candidate_facing:
        tell_lead_internal_undelivered(session, notification, reason, now, actor)
        return [], []
    org = session.get(Organization, notification.org_id)
    if org is None or notification.application is None:
        return [], []
    reopened: list[int] = []
    at_risk: list[int] = []
    for app in applications_told(session, notification):
        obligation = reopen_cycle_it_discharged(session, org, notification, app, now, actor)
        if obligation is not None:
            reopened.append(obligation.id)
        else:
            obligation = next(iter(locked_obligations(session, Obligation.application_id == app.id,
                                                      Obligation.state == ObligationState.OPEN)), None)
        if obligation is not None:
            obligation.at_risk = True
            at_risk.append(obligation.id)
        elif notification.obligation_id is not None:
            # Nothing is open (the decision stands, the cycle ended otherwise): the message still
            # belongs to its own cycle, which the recruiter's message then names.
            own = session.get(Obligation, notification.obligation_id)
            obligation = own if own is not None and own.application_id == app.id else None
        key = failure_key(notification)
        obligations.schedule(
            session, org, NotificationKind.DELIVERY_FAILED, app=app, obligation=obligation, at=now, now=now,
            actor=actor, recipient=internal_recipient(org, app.job, NotificationKind.DELIVERY_FAILED),
            dedupe_key=key if app.id == notification.application_id else f"{key}:app{app.id}",
            context={"failed_notification_id": notification.id, "failed_kind": notification.kind.value,
                     "error": reason},
        )
    return reopened, at_risk
