"""Apply canonical events to the ledger: applications, interviews, obligations, pending messages.

Rules that hold for every event:
1. `occurred_at` decides, not arrival order: a status change older than the current status is
   recorded but changes nothing (a late "reopened" never undoes a newer rejection).
2. An erased candidate is never touched again; events naming them are recorded without personal data.
3. Each handler leaves the database consistent on its own; the caller commits once per request, so a
   rejected request stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.audit import audit
from plugin.events.types import (
    AtsNotification,
    CandidateRef,
    CanonicalEvent,
    ErasureReason,
    EventType,
    JobRef,
)
from plugin.models import (
    Application,
    ApplicationStatus,
    AtsDelivery,
    Candidate,
    CandidateReply,
    EventOutcome,
    InboundEvent,
    Interview,
    InterviewStatus,
    Job,
    JobStatus,
    MailEvent,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    ObligationState,
    Organization,
    ReplyState,
)
from plugin.sla import deadlines, obligations
from plugin.sla.obligations import UNSENT, calendars, cancel_unsent, open_obligation
from plugin.sla.policy import policy_for

TERMINAL_STATUSES = (ApplicationStatus.HIRED, ApplicationStatus.WITHDRAWN)


@dataclass(frozen=True)
class Outcome:
    outcome: EventOutcome
    detail: str | None = None


APPLIED = Outcome(EventOutcome.APPLIED)


def ignored(detail: str) -> Outcome:
    return Outcome(EventOutcome.IGNORED, detail)


def record_event(
    session: Session, org: Organization, event: CanonicalEvent, raw: dict | None, *, now: datetime,
    actor: str, source: str = "api",
) -> tuple[str, Outcome | None]:
    """Store and apply one event. Returns ("duplicate", None) for an id seen before."""
    existing = session.scalar(
        select(InboundEvent.id).where(InboundEvent.org_id == org.id, InboundEvent.event_id == event.id)
    )
    if existing is not None:
        return "duplicate", None
    outcome = apply_event(session, org, event, now=now, actor=actor)
    candidate_id = event.candidate.id if event.candidate else None
    scrub = candidate_id is not None and _is_erased(session, org, candidate_id)
    session.add(
        InboundEvent(
            org_id=org.id, source=source, event_id=event.id, event_type=event.type.value,
            occurred_at=event.occurred_at, received_at=now, candidate_external_id=candidate_id,
            application_external_id=event.application.id if event.application else None,
            raw=None if scrub else raw, canonical=None if scrub else event.to_json(),
            outcome=outcome.outcome, detail=outcome.detail,
        )
    )
    session.flush()
    return outcome.outcome.value, outcome


def apply_event(session: Session, org: Organization, event: CanonicalEvent, *, now: datetime, actor: str) -> Outcome:
    ctx = _Context(session, org, event, now, actor)
    handler = _HANDLERS[event.type]
    return handler(ctx)


class _Context:
    def __init__(self, session: Session, org: Organization, event: CanonicalEvent, now: datetime, actor: str):
        self.session, self.org, self.event, self.now, self.actor = session, org, event, now, actor

    @property
    def at(self) -> datetime:
        return self.event.occurred_at

    def audit(self, entity: str, entity_id: object, action: str, before: dict | None = None,
              after: dict | None = None) -> None:
        audit(self.session, self.org.id, entity, entity_id, action, self.now, self.actor, before, after)

    # -- upserts -------------------------------------------------------------------------------
    def candidate(self, ref: CandidateRef) -> Candidate:
        candidate = self.session.scalar(
            select(Candidate).where(Candidate.org_id == self.org.id, Candidate.external_id == ref.id)
        )
        if candidate is None:
            candidate = Candidate(org_id=self.org.id, external_id=ref.id, created_at=self.now)
            self.session.add(candidate)
        while candidate.merged_into_id is not None:  # events for a merged-away id follow the survivor
            survivor = self.session.get(Candidate, candidate.merged_into_id)
            assert survivor is not None
            candidate = survivor
        if candidate.erased_at is None:
            for field in ("name", "email", "locale", "timezone"):
                value = getattr(ref, field)
                if value is not None:
                    setattr(candidate, field, value)
            if ref.country is not None:
                candidate.holiday_country, candidate.holiday_subdivision = ref.country, ref.subdivision
        return candidate

    def job(self, ref: JobRef) -> Job:
        job = self.session.scalar(select(Job).where(Job.org_id == self.org.id, Job.external_id == ref.id))
        if job is None:
            job = Job(org_id=self.org.id, external_id=ref.id, status=JobStatus.OPEN, created_at=self.now,
                      policy_override={})
            self.session.add(job)
        for field in ("title", "department"):
            if getattr(ref, field) is not None:
                setattr(job, field, getattr(ref, field))
        for role in ("hiring_manager", "recruiter"):
            person = getattr(ref, role)
            if person is not None:
                if person.name is not None:
                    setattr(job, f"{role}_name", person.name)
                if person.email is not None:
                    setattr(job, f"{role}_email", person.email)
        return job

    def application(self) -> Application:
        event = self.event
        assert event.application and event.candidate and event.job
        candidate = self.candidate(event.candidate)
        job = self.job(event.job)
        app = self.session.scalar(
            select(Application).where(Application.org_id == self.org.id,
                                      Application.external_id == event.application.id)
        )
        if app is None:
            app = Application(org_id=self.org.id, external_id=event.application.id, candidate=candidate, job=job,
                              status=ApplicationStatus.ACTIVE, status_changed_at=event.occurred_at,
                              created_at=self.now)
            self.session.add(app)
        else:
            app.candidate, app.job = candidate, job
        if event.application.stage is not None and _newer(event.occurred_at, app.stage_changed_at):
            app.stage, app.stage_changed_at = event.application.stage, event.occurred_at
        self.session.flush()
        return app

    def person_acted(self, app: Application) -> None:
        """Someone on the hiring team did something about this application (as of the event's time)."""
        if app.last_human_action_at is None or self.at > app.last_human_action_at:
            app.last_human_action_at = self.at

    def set_status(self, app: Application, status: ApplicationStatus) -> bool:
        """Move the application to `status` unless a newer event already decided its status."""
        if not _newer(self.at, app.status_changed_at, strict=False):
            return False
        before = app.status
        app.status, app.status_changed_at = status, self.at
        self.audit("application", app.id, "status", {"status": before.value}, {"status": status.value})
        return True


def _newer(at: datetime, than: datetime | None, strict: bool = False) -> bool:
    if than is None:
        return True
    return at > than if strict else at >= than


def _is_erased(session: Session, org: Organization, candidate_external_id: str) -> bool:
    """Erased for good (deleted or anonymised). A merged-away id is not: its events follow the survivor."""
    return session.scalar(
        select(Candidate.id).where(Candidate.org_id == org.id, Candidate.external_id == candidate_external_id,
                                   Candidate.erased_at.is_not(None), Candidate.merged_into_id.is_(None))
    ) is not None


def _guard_erased(ctx: _Context) -> Outcome | None:
    if ctx.event.candidate and _is_erased(ctx.session, ctx.org, ctx.event.candidate.id):
        return ignored("candidate was erased; event recorded without personal data")
    return None


# -- handlers --------------------------------------------------------------------------------------

def _application_created(ctx: _Context) -> Outcome:
    ctx.application()
    return APPLIED


def _stage_changed(ctx: _Context) -> Outcome:
    ctx.person_acted(ctx.application())
    return APPLIED


def _interview(ctx: _Context, app: Application) -> tuple[Interview, bool]:
    ref = ctx.event.interview
    assert ref is not None
    interview = ctx.session.scalar(
        select(Interview).where(Interview.org_id == ctx.org.id, Interview.external_id == ref.id)
    )
    created = interview is None
    if interview is None:
        interview = Interview(org_id=ctx.org.id, external_id=ref.id, application_id=app.id,
                              ends_at=ref.ends_at or ctx.at, status=InterviewStatus.SCHEDULED,
                              created_at=ctx.now)
        ctx.session.add(interview)
    # A reschedule older than what we already know (webhooks out of order) must not move the time.
    reschedule_is_current = created or _newer(ctx.at, interview.status_changed_at)
    if ref.ends_at is not None and interview.obligation_opened_at is None and reschedule_is_current:
        interview.ends_at = ref.ends_at
        if ref.starts_at is not None:
            interview.starts_at = ref.starts_at
        if ctx.event.type is EventType.INTERVIEW_SCHEDULED and interview.status is InterviewStatus.SCHEDULED:
            interview.status_changed_at = ctx.at
    if ref.stage is not None:
        interview.stage = ref.stage
    return interview, created


def _interview_scheduled(ctx: _Context) -> Outcome:
    app = ctx.application()
    ctx.person_acted(app)
    interview, created = _interview(ctx, app)
    if created:
        interview.status_changed_at = ctx.at
    ctx.session.flush()
    current = open_obligation(app)
    # An invitation to a further round is news for the candidate: it discharges the open cycle.
    if created and current is not None and interview.ends_at > ctx.now and ctx.at >= current.opened_at:
        obligations.discharge(current, at=ctx.at, by="next_interview", now=ctx.now, actor=ctx.actor, next_cycle=False)
    if interview.ends_at <= ctx.now:
        open_for_interview(ctx.session, ctx.org, interview, now=ctx.now, actor=ctx.actor)
    return APPLIED


def _interview_completed(ctx: _Context) -> Outcome:
    app = ctx.application()
    ctx.person_acted(app)
    if ctx.event.decision_expected_by is not None:  # DESIGN's own example sends the promise with it
        _promise_decision(ctx, app)
    interview, _ = _interview(ctx, app)
    if _newer(ctx.at, interview.status_changed_at):
        interview.status, interview.status_changed_at = InterviewStatus.COMPLETED, ctx.at
    if ctx.event.interview and ctx.event.interview.ends_at is None and interview.ends_at > ctx.at:
        interview.ends_at = ctx.at  # completed earlier than planned
    ctx.session.flush()
    if interview.status is InterviewStatus.COMPLETED:
        open_for_interview(ctx.session, ctx.org, interview, now=ctx.now, actor=ctx.actor)
    return APPLIED


def _interview_cancelled(ctx: _Context) -> Outcome:
    app = ctx.application()
    interview, _ = _interview(ctx, app)
    if interview.obligation_opened_at is not None:
        return ignored("interview already took place; its obligation stays open")
    if _newer(ctx.at, interview.status_changed_at):
        interview.status, interview.status_changed_at = InterviewStatus.CANCELLED, ctx.at
    ctx.session.flush()
    # The invitation to this round discharged the last cycle; with the round cancelled the candidate
    # is owed news again.
    last = ctx.session.scalar(select(Obligation).where(Obligation.application_id == app.id)
                              .order_by(Obligation.cycle.desc()).limit(1))
    if (interview.status is InterviewStatus.CANCELLED and app.status is ApplicationStatus.ACTIVE
            and last is not None and last.state is ObligationState.DISCHARGED
            and last.discharged_by == "next_interview" and app.candidate.erased_at is None
            and not _another_round_pending(ctx.session, app)):
        obligations.open_cycle(ctx.session, ctx.org, app, anchor=ctx.at, opened_by="interview_cancelled",
                               now=ctx.now, actor=ctx.actor)
    return APPLIED


def _another_round_pending(session: Session, app: Application) -> bool:
    return session.scalar(
        select(Interview.id).where(Interview.application_id == app.id, Interview.status == InterviewStatus.SCHEDULED,
                                   Interview.obligation_opened_at.is_(None)).limit(1)
    ) is not None


def open_for_interview(session: Session, org: Organization, interview: Interview, *, now: datetime,
                       actor: str) -> None:
    """The interview has ended: open a cycle for its application (once per interview)."""
    if interview.obligation_opened_at is not None or interview.status is InterviewStatus.CANCELLED:
        return
    interview.obligation_opened_at = now
    app = interview.application
    if app.first_interview_ended_at is None or interview.ends_at < app.first_interview_ended_at:
        app.first_interview_ended_at = interview.ends_at
    if app.status is ApplicationStatus.REJECTED:
        _rejected_before_we_knew_of_the_interview(session, org, app, interview, now=now, actor=actor)
    # A rejection we still have to send (held for the ATS's notify_not_before) leaves the candidate
    # owed news until it goes out, as when the interview is known first: the cycle keeps its deadline
    # and autopilot stands down only if the rejection comes by then.
    awaiting_our_rejection = app.status is ApplicationStatus.REJECTED and _rejection_unsent(session, app)
    if (app.status is not ApplicationStatus.ACTIVE and not awaiting_our_rejection) or app.candidate.erased_at is not None:
        return
    current = open_obligation(app)
    if current is not None:
        if current.anchor_at >= interview.ends_at:
            return  # a later interview already anchors the open cycle
        # Another interview is itself contact with the candidate: close the old cycle, start anew.
        obligations.discharge(current, at=interview.starts_at or interview.ends_at, by="next_interview",
                              now=now, actor=actor, next_cycle=False)
    obligations.open_cycle(session, org, app, anchor=interview.ends_at, opened_by="interview", now=now, actor=actor)


def _decision_promised(ctx: _Context) -> Outcome:
    app = ctx.application()
    ctx.person_acted(app)
    _promise_decision(ctx, app)
    return APPLIED


def _promise_decision(ctx: _Context, app: Application) -> None:
    """The hiring team promised the candidate a decision date: the open cycle's deadline follows it,
    but never later than a date we already gave them in writing (obligations.recompute)."""
    app.decision_expected_by = ctx.event.decision_expected_by
    current = open_obligation(app)
    if current is not None and current.opened_by == "interview":
        obligations.recompute(current, ctx.org, ctx.now, ctx.actor)


def _candidate_contacted(ctx: _Context) -> Outcome:
    app = ctx.application()
    ctx.person_acted(app)
    current = open_obligation(app)
    if current is None:
        return ignored("no open obligation for this application")
    if ctx.at < current.opened_at and ctx.at < current.anchor_at:
        return ignored("contact happened before the current cycle began")
    obligations.discharge(current, at=ctx.at, by="contact", now=ctx.now, actor=ctx.actor,
                          next_cycle=app.status is ApplicationStatus.ACTIVE)
    return APPLIED


def _application_rejected(ctx: _Context) -> Outcome:
    event = ctx.event
    app = ctx.application()
    if app.status is ApplicationStatus.REJECTED:
        return ignored("application already rejected")
    if app.status in TERMINAL_STATUSES:  # never a rejection to someone hired or withdrawn
        return ignored(f"application is {app.status.value}")
    if not ctx.set_status(app, ApplicationStatus.REJECTED):
        return ignored("a newer event already decided this application")
    app.rejection_reason = event.reason
    current = open_obligation(app)
    told_by_ats = event.ats_notification in (AtsNotification.SENT, AtsNotification.SCHEDULED)
    if told_by_ats:
        if current is not None:
            obligations.discharge(current, at=ctx.at, by="ats_rejection", now=ctx.now, actor=ctx.actor,
                                  next_cycle=False)
        return APPLIED
    if not app.interviewed:
        return Outcome(EventOutcome.APPLIED, "not interviewed: the ATS handles this rejection")
    _schedule_rejection(ctx.session, ctx.org, app, current, event.notify_not_before, now=ctx.now, actor=ctx.actor)
    return APPLIED


def _schedule_rejection(session: Session, org: Organization, app: Application, current: Obligation | None,
                        notify_not_before: datetime | None, *, now: datetime, actor: str) -> None:
    policy = policy_for(org, app.job)
    cals = calendars(org, app.candidate)
    earliest = max(
        now,
        deadlines.not_before_working_days(_last_interview_end(session, app), policy.rejection_min_delay_working_days,
                                          cals.candidate),
        notify_not_before or now,
    )
    send_at = cals.candidate.next_window_opening(earliest, policy.send_window)
    obligations.schedule(
        session, org, NotificationKind.REJECTION, app=app, obligation=current, at=send_at, now=now,
        dedupe_key=f"rejection:app{app.id}:ob{current.id if current else 0}", actor=actor,
    )


def _rejection_unsent(session: Session, app: Application) -> bool:
    return session.scalar(select(Notification.id).where(
        Notification.application_id == app.id, Notification.kind == NotificationKind.REJECTION,
        Notification.state.in_(UNSENT)).limit(1)) is not None


def _rejected_before_we_knew_of_the_interview(session: Session, org: Organization, app: Application,
                                              interview: Interview, *, now: datetime, actor: str) -> None:
    """A rejection arrived first and was taken as "not interviewed"; the interview preceded it.

    Webhooks and polls race (Workable and Greenhouse interviews come only from the poll), so the
    candidate is owed the rejection notice after all, unless the ATS said it told them.
    """
    if interview.ends_at > app.status_changed_at or app.candidate.erased_at is not None:
        return
    already = session.scalar(select(Notification.id).where(Notification.application_id == app.id,
                                                           Notification.kind == NotificationKind.REJECTION).limit(1))
    if already is not None:
        return
    rejection = session.scalar(
        select(InboundEvent.canonical).where(InboundEvent.org_id == org.id,
                                             InboundEvent.application_external_id == app.external_id,
                                             InboundEvent.event_type == EventType.APPLICATION_REJECTED.value,
                                             InboundEvent.outcome == EventOutcome.APPLIED)
        .order_by(InboundEvent.occurred_at.desc()).limit(1))
    if rejection is None or rejection.get("ats_notification") in (AtsNotification.SENT, AtsNotification.SCHEDULED):
        return
    not_before = rejection.get("notify_not_before")
    _schedule_rejection(session, org, app, None, datetime.fromisoformat(not_before) if not_before else None,
                        now=now, actor=actor)


def _last_interview_end(session: Session, app: Application) -> datetime:
    last = session.scalar(
        select(Interview.ends_at).where(Interview.application_id == app.id,
                                        Interview.obligation_opened_at.is_not(None))
        .order_by(Interview.ends_at.desc()).limit(1)
    )
    return last or app.first_interview_ended_at or app.created_at


def _application_reopened(ctx: _Context) -> Outcome:
    app = ctx.application()
    if app.status is ApplicationStatus.ACTIVE:
        # Still remember when: an older rejection arriving later must not undo this reopen.
        if _newer(ctx.at, app.status_changed_at):
            app.status_changed_at = ctx.at
        return ignored("application is already active")
    if not ctx.set_status(app, ApplicationStatus.ACTIVE):
        return ignored("a newer event already decided this application")
    cancel_unsent(ctx.session, ctx.org.id, reason="application reopened", now=ctx.now, actor=ctx.actor,
                  where=[Notification.application_id == app.id,
                         Notification.kind.in_((NotificationKind.REJECTION, NotificationKind.JOB_CLOSED))])
    _drop_from_closing_notices(ctx, [app.id])
    if app.interviewed and open_obligation(app) is None and app.candidate.erased_at is None:
        obligations.open_cycle(ctx.session, ctx.org, app, anchor=ctx.at, opened_by="reopened", now=ctx.now,
                               actor=ctx.actor)
    return APPLIED


def _application_finished(ctx: _Context, status: ApplicationStatus) -> Outcome:
    app = ctx.application()
    if not ctx.set_status(app, status):
        return ignored("a newer event already decided this application")
    cancel_unsent(ctx.session, ctx.org.id, reason=f"application {status.value}", now=ctx.now, actor=ctx.actor,
                  where=[Notification.application_id == app.id,
                         Notification.kind.in_((NotificationKind.REJECTION, NotificationKind.JOB_CLOSED))])
    _drop_from_closing_notices(ctx, [app.id])
    current = open_obligation(app)
    if current is not None:
        if status is ApplicationStatus.HIRED:  # the offer was news: the candidate heard from us
            obligations.discharge(current, at=ctx.at, by="hired", now=ctx.now, actor=ctx.actor, next_cycle=False)
        else:
            obligations.close(current, reason=status.value, now=ctx.now, actor=ctx.actor)
    return APPLIED


def _job_closed(ctx: _Context) -> Outcome:
    assert ctx.event.job is not None
    job = ctx.job(ctx.event.job)
    ctx.session.flush()
    if not _newer(ctx.at, job.status_changed_at, strict=True) and job.status_changed_at is not None:
        return ignored("a newer event already set this job's status")
    job.status, job.status_changed_at = JobStatus.CLOSED, ctx.at
    ctx.audit("job", job.id, "closed")
    policy = policy_for(ctx.org, job)
    hold_until = max(ctx.now, ctx.at + timedelta(minutes=policy.job_closed_hold_minutes))
    apps = ctx.session.scalars(
        select(Application).where(Application.job_id == job.id, Application.status == ApplicationStatus.ACTIVE,
                                  Application.first_interview_ended_at.is_not(None))
    ).all()
    for app in apps:
        if app.candidate.erased_at is not None:
            continue
        _add_to_closing_notice(ctx, app, hold_until)
    return APPLIED


def _add_to_closing_notice(ctx: _Context, app: Application, hold_until: datetime) -> None:
    """One closing notice per person, even when several of their jobs close together."""
    pending = ctx.session.scalar(
        select(Notification).where(
            Notification.org_id == ctx.org.id, Notification.candidate_id == app.candidate_id,
            Notification.kind == NotificationKind.JOB_CLOSED, Notification.state == NotificationState.SCHEDULED,
        )
    )
    if pending is not None:
        ids = list(pending.context.get("application_ids", []))
        if app.id not in ids:
            pending.context = {**pending.context, "application_ids": ids + [app.id]}
        return
    cals = calendars(ctx.org, app.candidate)
    send_at = cals.candidate.next_window_opening(hold_until, policy_for(ctx.org, app.job).send_window)
    obligations.schedule(
        ctx.session, ctx.org, NotificationKind.JOB_CLOSED, app=app, obligation=open_obligation(app), at=send_at,
        now=ctx.now, context={"application_ids": [app.id]}, dedupe_key=f"job_closed:app{app.id}", actor=ctx.actor,
    )


def _drop_from_closing_notices(ctx: _Context, app_ids: list[int]) -> None:
    pending = ctx.session.scalars(
        select(Notification).where(Notification.org_id == ctx.org.id, Notification.kind == NotificationKind.JOB_CLOSED,
                                   Notification.state.in_(UNSENT))
    ).all()
    for notification in pending:
        ids = [i for i in notification.context.get("application_ids", []) if i not in app_ids]
        if ids == notification.context.get("application_ids", []):
            continue
        if ids:
            notification.context = {**notification.context, "application_ids": ids}
            if notification.application_id in app_ids:
                notification.application_id = ids[0]
        else:
            notification.state = NotificationState.CANCELLED
            notification.cancelled_reason = "application reopened"
            ctx.audit("notification", notification.id, "cancelled", after={"reason": "application reopened"})


def _job_reopened(ctx: _Context) -> Outcome:
    assert ctx.event.job is not None
    job = ctx.job(ctx.event.job)
    ctx.session.flush()
    if job.status_changed_at is not None and not _newer(ctx.at, job.status_changed_at, strict=True):
        return ignored("a newer event already set this job's status")
    job.status, job.status_changed_at = JobStatus.OPEN, ctx.at
    ctx.audit("job", job.id, "reopened")
    app_ids = list(ctx.session.scalars(select(Application.id).where(Application.job_id == job.id)))
    _drop_from_closing_notices(ctx, app_ids)
    return APPLIED


def _candidate_erased(ctx: _Context) -> Outcome:
    event = ctx.event
    assert event.candidate is not None
    candidate = ctx.session.scalar(
        select(Candidate).where(Candidate.org_id == ctx.org.id, Candidate.external_id == event.candidate.id)
    )
    if candidate is None:
        candidate = Candidate(org_id=ctx.org.id, external_id=event.candidate.id, created_at=ctx.now)
        ctx.session.add(candidate)
        ctx.session.flush()
    if candidate.erased_at is not None:
        return ignored("candidate already erased")
    reason = ErasureReason(event.reason) if event.reason else ErasureReason.DELETED
    if reason is ErasureReason.MERGED:
        assert event.merged_into is not None
        _merge(ctx, candidate, CandidateRef(id=event.merged_into))
    else:
        erase_candidate(ctx.session, candidate, now=ctx.now, actor=ctx.actor, reason=reason.value)
    return APPLIED


def _merge(ctx: _Context, loser: Candidate, survivor_ref: CandidateRef) -> None:
    survivor = ctx.candidate(survivor_ref)
    ctx.session.flush()
    if survivor.id == loser.id:
        return
    for field in PERSONAL_FIELDS:
        if getattr(survivor, field) is None:
            setattr(survivor, field, getattr(loser, field))
    ctx.session.execute(update(Application).where(Application.candidate_id == loser.id)
                        .values(candidate_id=survivor.id))
    ctx.session.execute(update(Notification).where(Notification.candidate_id == loser.id)
                        .values(candidate_id=survivor.id))
    loser.merged_into_id = survivor.id
    loser.erased_at, loser.erasure_reason = ctx.now, ErasureReason.MERGED.value
    _clear_personal_data(loser)
    ctx.audit("candidate", loser.id, "merged", after={"into": survivor.id})


def erase_candidate(session: Session, candidate: Candidate, *, now: datetime, actor: str, reason: str) -> None:
    """Cancel everything pending and remove the person's data; timestamps stay for the proof."""
    org = session.get(Organization, candidate.org_id)
    assert org is not None
    cancel_unsent(session, org.id, reason="candidate erased", now=now, actor=actor,
                  where=[Notification.candidate_id == candidate.id])
    for app in session.scalars(select(Application).where(Application.candidate_id == candidate.id)):
        current = open_obligation(app)
        if current is not None:
            obligations.close(current, reason="erased", now=now, actor=actor)
    session.execute(
        update(Notification).where(Notification.candidate_id == candidate.id)
        .values(recipient_email=None, recipient_name=None, subject=None, body_text=None, body_html=None, context={})
    )
    mine = (InboundEvent.org_id == org.id, InboundEvent.candidate_external_id == candidate.external_id)
    # ATS deliveries are kept raw for replay; the ones that spoke of this person lose their bodies.
    delivery_ids = {raw["ats_delivery_id"] for raw in session.scalars(select(InboundEvent.raw).where(*mine))
                    if isinstance(raw, dict) and "ats_delivery_id" in raw}
    scrub_deliveries(session, delivery_ids)
    session.execute(update(InboundEvent).where(*mine).values(raw=None, canonical=None))
    session.execute(
        update(CandidateReply).where(CandidateReply.candidate_id == candidate.id)
        .values(state=ReplyState.ERASED, from_email=None, from_name=None, subject=None, text=None)
    )
    # Delivery events stay as proof (what happened, when); the raw event names the address.
    sent = select(Notification.id).where(Notification.candidate_id == candidate.id)
    session.execute(update(MailEvent).where(MailEvent.notification_id.in_(sent)).values(raw=None))
    _clear_personal_data(candidate)
    candidate.erased_at, candidate.erasure_reason = now, reason
    audit(session, org.id, "candidate", candidate.id, "erased", now, actor, after={"reason": reason})


PERSONAL_FIELDS = ("name", "email", "locale", "timezone", "holiday_country", "holiday_subdivision")


def _clear_personal_data(candidate: Candidate) -> None:
    for field in PERSONAL_FIELDS:
        setattr(candidate, field, None)


def scrub_deliveries(session: Session, delivery_ids: set[int]) -> None:
    """Remove the raw bodies (and headers) of ATS deliveries that carried an erased person's data."""
    if delivery_ids:
        session.execute(update(AtsDelivery).where(AtsDelivery.id.in_(delivery_ids))
                        .values(body=None, headers={}, error=None))


def _guarded(handler):  # type: ignore[no-untyped-def]
    def run(ctx: _Context) -> Outcome:
        return _guard_erased(ctx) or handler(ctx)
    return run


_HANDLERS = {
    EventType.APPLICATION_CREATED: _guarded(_application_created),
    EventType.APPLICATION_STAGE_CHANGED: _guarded(_stage_changed),
    EventType.INTERVIEW_SCHEDULED: _guarded(_interview_scheduled),
    EventType.INTERVIEW_COMPLETED: _guarded(_interview_completed),
    EventType.INTERVIEW_CANCELLED: _guarded(_interview_cancelled),
    EventType.DECISION_PROMISED: _guarded(_decision_promised),
    EventType.CANDIDATE_CONTACTED: _guarded(_candidate_contacted),
    EventType.APPLICATION_REJECTED: _guarded(_application_rejected),
    EventType.APPLICATION_REOPENED: _guarded(_application_reopened),
    EventType.APPLICATION_HIRED: _guarded(lambda ctx: _application_finished(ctx, ApplicationStatus.HIRED)),
    EventType.APPLICATION_WITHDRAWN: _guarded(lambda ctx: _application_finished(ctx, ApplicationStatus.WITHDRAWN)),
    EventType.JOB_CLOSED: _job_closed,
    EventType.JOB_REOPENED: _job_reopened,
    EventType.CANDIDATE_ERASED: _candidate_erased,
}
