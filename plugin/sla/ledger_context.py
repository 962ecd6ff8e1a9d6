"""What every ledger handler works with: the event's context and the outcome it reports.

`EventContext` upserts the candidate, job and application an event names (a merged-away candidate's
events follow the survivor), records that someone on the hiring team acted, and moves an
application's status only when no newer event already decided it (rule 1 in `plugin.sla.ledger`).
Rows are found through the batch being applied (`ledger_batch`), which read them once for the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from plugin.audit import audit
from plugin.events.types import CandidateRef, CanonicalEvent, JobRef
from plugin.models import (
    Application,
    ApplicationStatus,
    Candidate,
    EventOutcome,
    Job,
    JobStatus,
    Organization,
)
from plugin.sla import ledger_batch


@dataclass(frozen=True)
class Outcome:
    outcome: EventOutcome
    detail: str | None = None


APPLIED = Outcome(EventOutcome.APPLIED)


def ignored(detail: str) -> Outcome:
    return Outcome(EventOutcome.IGNORED, detail)


class EventContext:
    """One event being applied: the session, organisation, event, wall-clock time and actor."""

    def __init__(self, session: Session, org: Organization, event: CanonicalEvent, now: datetime, actor: str):
        self.session, self.org, self.event, self.now, self.actor = session, org, event, now, actor
        batch = ledger_batch.active(session)
        assert batch is not None and batch.org.id == org.id, "events are applied through ledger.record_events"
        self.batch = batch

    @property
    def at(self) -> datetime:
        return self.event.occurred_at

    def audit(self, entity: str, entity_id: object, action: str, before: dict | None = None,
              after: dict | None = None) -> None:
        audit(self.session, self.org.id, entity, entity_id, action, self.now, self.actor, before, after)

    # -- upserts -------------------------------------------------------------------------------
    def candidate(self, ref: CandidateRef) -> Candidate:
        candidate = self.batch.candidate(ref.id)
        if candidate is None:
            candidate = self.batch.add(Candidate(org_id=self.org.id, external_id=ref.id, created_at=self.now))
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
        job = self.batch.job(ref.id)
        if job is None:
            job = self.batch.add(Job(org_id=self.org.id, external_id=ref.id, status=JobStatus.OPEN,
                                     created_at=self.now, policy_override={}))
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
        app = self.batch.application(event.application.id)
        if app is None:
            app = self.batch.add(Application(
                org_id=self.org.id, external_id=event.application.id, candidate=candidate, job=job,
                status=ApplicationStatus.ACTIVE, status_changed_at=event.occurred_at, created_at=self.now))
        else:
            if app.candidate is not candidate:
                app.candidate = candidate
            if app.job is not job:
                app.job = job
        if event.application.stage is not None and newer(event.occurred_at, app.stage_changed_at):
            app.stage, app.stage_changed_at = event.application.stage, event.occurred_at
        return app

    def person_acted(self, app: Application) -> None:
        """Someone on the hiring team did something about this application (as of the event's time)."""
        if app.last_human_action_at is None or self.at > app.last_human_action_at:
            app.last_human_action_at = self.at

    def set_status(self, app: Application, status: ApplicationStatus) -> bool:
        """Move the application to `status` unless a newer event already decided its status."""
        if not newer(self.at, app.status_changed_at, strict=False):
            return False
        before = app.status
        app.status, app.status_changed_at = status, self.at
        self.audit("application", app.id, "status", {"status": before.value}, {"status": status.value})
        return True


def newer(at: datetime, than: datetime | None, strict: bool = False) -> bool:
    """`at` is not older than `than` (strictly newer with `strict`); nothing recorded yet is older."""
    if than is None:
        return True
    return at > than if strict else at >= than


def is_erased(session: Session, org: Organization, candidate_external_id: str) -> bool:
    """Erased for good (deleted or anonymised). A merged-away id is not: its events follow the survivor."""
    batch = ledger_batch.active(session)
    assert batch is not None and batch.org.id == org.id, "events are applied through ledger.record_events"
    candidate = batch.candidate(candidate_external_id)
    return candidate is not None and candidate.erased_at is not None and candidate.merged_into_id is None

