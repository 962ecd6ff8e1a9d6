"""`Lookup` answered from the database: what the organisation already knows, by ATS id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from plugin.ats.base import ApplicationKeys
from plugin.models import Application, Candidate, Interview, Job


class DbLookup:
    def __init__(self, session: Session, org_id: str) -> None:
        self.session, self.org_id = session, org_id

    def _keys(self, *conditions: object, join_interview: bool = False) -> list[ApplicationKeys]:
        cand, job = aliased(Candidate), aliased(Job)
        query = (select(Application.external_id, cand.external_id, job.external_id)
                 .join(cand, Application.candidate_id == cand.id).join(job, Application.job_id == job.id)
                 .where(Application.org_id == self.org_id, *conditions))  # type: ignore[arg-type]
        if join_interview:
            query = query.join(Interview, Interview.application_id == Application.id)
        return [ApplicationKeys(a, c, j) for a, c, j in self.session.execute(query)]

    def interview(self, interview_id: str) -> ApplicationKeys | None:
        found = self._keys(Interview.external_id == interview_id, Interview.org_id == self.org_id,
                           join_interview=True)
        return found[0] if found else None

    def application(self, application_id: str) -> ApplicationKeys | None:
        found = self._keys(Application.external_id == application_id)
        return found[0] if found else None

    def applications_of_candidate(self, candidate_id: str) -> list[ApplicationKeys]:
        cand = aliased(Candidate)
        ids = select(cand.id).where(cand.org_id == self.org_id, cand.external_id == candidate_id)
        return self._keys(Application.candidate_id.in_(ids))
