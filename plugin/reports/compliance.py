"""The compliance pages' filters, and the Ontario ESA report behind them (no Flask).

Ontario (Employment Standards Act, 2000, Part III.1, in force 1 January 2026; O. Reg. 476/24): an
employer with 25 or more employees that interviews an applicant for a publicly advertised job posting
must tell the applicant, within 45 days after the interview (the last one if there were several),
whether a hiring decision has been made, and keep the records for three years. The Act counts
calendar days, so this report does too (not the business days of our own SLA policy).

The report is built from a few set-based queries (GROUP BY subqueries, IN lists for one page of
rows), never one query per application, so it stays fast with 50,000 applications. `visible` is the
viewer's scope (plugin.dashboard.scope.visible_jobs), applied to every query. The proof-of-notice
export, which shares the filters, is `plugin.reports.proof_export`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from plugin.models import (
    Application,
    ApplicationStatus,
    Candidate,
    DeliveryStatus,
    Interview,
    InterviewStatus,
    Job,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    ObligationState,
)
from plugin.reports import N_
from plugin.reports.metrics import candidate_label

ONTARIO_DAYS = 45  # O. Reg. 476/24: within 45 days after the (last) interview

# Messages that tell a candidate whether a decision was made: a status update ("no decision yet"),
# a rejection, or a closing notice. Next steps and reply acknowledgements do not.
DISCHARGING_KINDS = tuple(kind for kind in NotificationKind if kind.discharges)
# Obligation outcomes recorded without a message of ours: a contact the ATS reported, a rejection the
# ATS says it sent, a closing notice that covered several jobs (only one of them is the message's
# application), a hire.
RECORDED_CONTACTS = ("contact", "ats_rejection", "job_closed", "hired")
UNDELIVERABLE = tuple(status for status in DeliveryStatus if status.undeliverable)

TOLD_HOW_LABELS = {
    NotificationKind.STATUS_UPDATE.value: N_("status update"),
    NotificationKind.REJECTION.value: N_("rejection notice"),
    NotificationKind.JOB_CLOSED.value: N_("closing notice"),
    "contact": N_("contact recorded by the ATS"),
    "ats_rejection": N_("rejection sent by the ATS"),
    "hired": N_("hired"),
}

ESA_STATUSES = {"all": N_("All"), "overdue": N_("Overdue"), "not_yet": N_("Not yet told, inside 45 days"),
                "told": N_("Told")}


@dataclass
class JobOption:
    id: int
    label: str
    publicly_advertised: bool | None


@dataclass
class Filters:
    job: JobOption | None = None
    start: date | None = None
    end: date | None = None
    status: str = "all"
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)  # what was typed, shown back in the form

    @property
    def query_args(self) -> dict[str, str]:
        """The filters as URL parameters (for pagination and the CSV link)."""
        return {k: v for k, v in self.raw.items() if v and k != "page"}


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins in the organisation's time zone."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def period_clauses(column: Any, filters: Filters, zone: ZoneInfo) -> list[ColumnElement[bool]]:
    """`column` inside the chosen local dates (both inclusive)."""
    where: list[ColumnElement[bool]] = []
    if filters.start:
        where.append(column >= _local_midnight(filters.start, zone))
    if filters.end:
        where.append(column < _local_midnight(filters.end + timedelta(days=1), zone))
    return where


def local_time_iso(at: datetime | None, zone: ZoneInfo) -> str:
    """'2026-11-05 11:00 EST': sortable, for the reports and their CSV files."""
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if at is not None else ""


# -- the Ontario ESA report -------------------------------------------------------------------------

@dataclass
class EsaRow:
    application_id: int
    candidate: str
    job: str
    assumed_public: bool
    status: str  # the application's status in the ATS
    last_interview: datetime
    last_interview_day: date  # organisation-local
    days_since: int  # calendar days, as the Act counts
    due_by: date  # last interview day + 45
    told_at: datetime | None
    told_day: date | None  # organisation-local
    told_how: str | None
    state: str  # told | not_yet | overdue

    @property
    def overdue_since(self) -> date:
        return self.due_by + timedelta(days=1)

    @property
    def told_late(self) -> bool:
        return self.told_day is not None and self.told_day > self.due_by

    @property
    def told_text(self) -> str:
        if self.state == "told" and self.told_day is not None:
            late = f" — late, was due by {self.due_by.isoformat()}" if self.told_late else ""
            return f"Yes, {self.told_day.isoformat()}{late}"
        if self.state == "overdue":
            return f"No — overdue since {self.overdue_since.isoformat()}"
        return f"Not yet — due by {self.due_by.isoformat()}"


class OntarioReport:
    """Interviewed applications of publicly advertised jobs and whether they were told in 45 days."""

    def __init__(self, session: Session, org_id: str, visible: ColumnElement[bool], zone: ZoneInfo,
                 filters: Filters, at: datetime) -> None:
        self.session, self.org_id, self.visible, self.zone, self.filters, self.at = (
            session, org_id, visible, zone, filters, at)
        self.today = at.astimezone(zone).date()
        # Overdue when today (local) is after last-interview day + 45, i.e. the last interview
        # happened before the start of the local day 45 days ago (+1).
        self.cutoff = _local_midnight(self.today - timedelta(days=ONTARIO_DAYS), zone)
        self.interviewed = self._interviewed()
        self.told = self._told_at()
        self.in_scope = or_(self.interviewed.c.publicly_advertised.is_(None),
                            self.interviewed.c.publicly_advertised.is_(True))
        told_at = self.told.c.told_at
        self.state_conditions: dict[str, ColumnElement[bool]] = {
            "told": told_at.is_not(None),
            "overdue": and_(told_at.is_(None), self.interviewed.c.last_at < self.cutoff),
            "not_yet": and_(told_at.is_(None), self.interviewed.c.last_at >= self.cutoff),
        }

    def _interviewed(self) -> Any:
        """Every interviewed application the viewer may see, with its last interview (a CTE)."""
        ended = or_(Interview.status == InterviewStatus.COMPLETED,
                    and_(Interview.status == InterviewStatus.SCHEDULED, Interview.ends_at <= self.at))
        last = (select(Interview.application_id.label("application_id"), func.max(Interview.ends_at).label("last_at"))
                .where(Interview.org_id == self.org_id, ended)
                .group_by(Interview.application_id).subquery("last_interview"))
        # No interview row that counts (e.g. only a first interview the ATS later cancelled): the
        # first interview's end is the best fact we have.
        last_at = func.coalesce(last.c.last_at, Application.first_interview_ended_at)
        query = (select(Application.id.label("application_id"), last_at.label("last_at"),
                        Job.publicly_advertised.label("publicly_advertised"))
                 .select_from(Application).join(Job, Job.id == Application.job_id)
                 .outerjoin(last, last.c.application_id == Application.id)
                 .where(Application.org_id == self.org_id, self.visible,
                        Application.first_interview_ended_at.is_not(None),
                        *period_clauses(last_at, self.filters, self.zone)))
        if self.filters.job is not None:
            query = query.where(Application.job_id == self.filters.job.id)
        return query.cte("interviewed")

    def _sources(self) -> Any:
        """Every fact that told a candidate whether a decision was made: (application, when, how)."""
        notices = (select(Notification.application_id.label("application_id"), Notification.sent_at.label("at"),
                          type_coerce(Notification.kind, String).label("how"))
                   .where(Notification.org_id == self.org_id, Notification.kind.in_(DISCHARGING_KINDS),
                          Notification.state == NotificationState.SENT, Notification.sent_at.is_not(None),
                          Notification.application_id.is_not(None),
                          # A bounced message told nobody (DESIGN: never silently counted as told).
                          or_(Notification.delivery_status.is_(None), Notification.delivery_status.not_in(UNDELIVERABLE))))
        recorded = (select(Obligation.application_id, Obligation.discharged_at, Obligation.discharged_by)
                    .where(Obligation.org_id == self.org_id, Obligation.state == ObligationState.DISCHARGED,
                           Obligation.discharged_by.in_(RECORDED_CONTACTS), Obligation.discharged_at.is_not(None)))
        hired = (select(Application.id, Application.status_changed_at, literal_column("'hired'"))
                 .where(Application.org_id == self.org_id, Application.status == ApplicationStatus.HIRED,
                        Application.status_changed_at.is_not(None)))
        return union_all(notices, recorded, hired).subquery("told_source")

    def _counts_as_told(self, source: Any) -> ColumnElement[bool]:
        # After the last interview (a message about an earlier round says nothing about this one);
        # a hire is the decision whenever it was recorded.
        return or_(source.c.at > self.interviewed.c.last_at, source.c.how == "hired")

    def _told_at(self) -> Any:
        source = self._sources()
        return (select(self.interviewed.c.application_id, func.min(source.c.at).label("told_at"))
                .join(source, source.c.application_id == self.interviewed.c.application_id)
                .where(self._counts_as_told(source))
                .group_by(self.interviewed.c.application_id).subquery("told"))

    def _joined(self, query: Select[Any]) -> Select[Any]:
        return query.select_from(self.interviewed).outerjoin(
            self.told, self.told.c.application_id == self.interviewed.c.application_id)

    def summary(self) -> dict[str, int]:
        counts = self._counts(self.in_scope, self.state_conditions, self.interviewed.c.publicly_advertised)
        row = self.session.execute(self._joined(select(*counts.values()))).one()
        return dict(zip(counts, (int(v) for v in row)))

    def summary_and_rows(self, offset: int, limit: int) -> tuple[dict[str, int], list[EsaRow]]:
        """The summary and one page of rows in one statement: the facts behind both (each application's
        last interview and the first fact that told the candidate) are computed once, in a CTE, where
        `summary()` and `rows()` would compute them twice (0.5 s each at 50,000 applications)."""
        facts = self._joined(select(self.interviewed.c.application_id, self.interviewed.c.last_at,
                                    self.interviewed.c.publicly_advertised, self.told.c.told_at)).cte("facts")
        public = facts.c.publicly_advertised
        in_scope = or_(public.is_(None), public.is_(True))
        states: dict[str, ColumnElement[bool]] = {
            "told": facts.c.told_at.is_not(None),
            "overdue": and_(facts.c.told_at.is_(None), facts.c.last_at < self.cutoff),
            "not_yet": and_(facts.c.told_at.is_(None), facts.c.last_at >= self.cutoff),
        }
        counts = self._counts(in_scope, states, public)
        summary = select(*(count.label(name) for name, count in counts.items())).select_from(facts).subquery("summary")
        rank = case((states["overdue"], 0), (facts.c.told_at.is_(None), 1), else_=2)
        chosen = (select(facts, rank.label("rank"))
                  .where(in_scope, *([states[self.filters.status]] if self.filters.status != "all" else []))
                  .order_by(rank, facts.c.last_at, facts.c.application_id).offset(offset).limit(limit)
                  .subquery("chosen"))
        # Names for the page's rows only; the LEFT JOIN keeps the summary when the page is empty.
        records = self.session.execute(
            select(summary, chosen.c.application_id, chosen.c.last_at, chosen.c.publicly_advertised,
                   chosen.c.told_at, Candidate.name, Candidate.erased_at, Job.title, Job.external_id,
                   Application.status)
            .select_from(summary.outerjoin(chosen, true())
                         .outerjoin(Application, Application.id == chosen.c.application_id)
                         .outerjoin(Job, Job.id == Application.job_id)
                         .outerjoin(Candidate, Candidate.id == Application.candidate_id))
            .order_by(chosen.c.rank, chosen.c.last_at, chosen.c.application_id)).all()
        totals = {name: int(getattr(records[0], name) or 0) for name in counts}
        page = [r for r in records if r.application_id is not None]
        return totals, list(self._build(page, self._told_how(page)))

    def _counts(self, in_scope: ColumnElement[bool], states: Mapping[str, ColumnElement[bool]],
                public: Any) -> dict[str, Any]:
        def count(*conditions: ColumnElement[bool]) -> Any:
            return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

        return {"in_scope": count(in_scope), "told": count(in_scope, states["told"]),
                "not_yet": count(in_scope, states["not_yet"]), "overdue": count(in_scope, states["overdue"]),
                "assumed_public": count(public.is_(None)), "excluded": count(public.is_(False))}

    def _rows_query(self) -> Select[Any]:
        told_at = self.told.c.told_at
        rank = case((self.state_conditions["overdue"], 0), (told_at.is_(None), 1), else_=2)
        query = self._joined(select(
            self.interviewed.c.application_id, self.interviewed.c.last_at, self.interviewed.c.publicly_advertised,
            told_at, Candidate.name, Candidate.erased_at, Job.title, Job.external_id, Application.status,
        )).join(Application, Application.id == self.interviewed.c.application_id) \
          .join(Job, Job.id == Application.job_id).join(Candidate, Candidate.id == Application.candidate_id) \
          .where(self.in_scope)
        if self.filters.status != "all":
            query = query.where(self.state_conditions[self.filters.status])
        # Most urgent first: overdue, then not yet told (oldest interview first), then told.
        return query.order_by(rank, self.interviewed.c.last_at, self.interviewed.c.application_id)

    @staticmethod
    def count(summary: Mapping[str, int], status: str) -> int:
        """How many rows the table has: the summary already counted them (no second pass)."""
        return summary["in_scope"] if status == "all" else summary[status]

    def rows(self, offset: int | None = None, limit: int | None = None) -> Iterator[EsaRow]:
        query = self._rows_query()
        if limit is not None:  # one page: what told each candidate, for these ids only
            records = self.session.execute(query.offset(offset or 0).limit(limit)).all()
            yield from self._build(records, self._told_how(records))
            return
        # Every row (the CSV): what told each candidate, for all of them in one pass.
        how = self._told_how_everyone()
        yield from self._build(self.session.execute(query), how)

    def _build(self, records: Any, how: Mapping[int, str]) -> Iterator[EsaRow]:
        for r in records:
            day = r.last_at.astimezone(self.zone).date()
            due_by = day + timedelta(days=ONTARIO_DAYS)
            state = "told" if r.told_at is not None else ("overdue" if self.today > due_by else "not_yet")
            yield EsaRow(
                application_id=r.application_id, candidate=candidate_label(r.name, r.erased_at),
                job=f"{r.title or 'Untitled job'} ({r.external_id})", assumed_public=r.publicly_advertised is None,
                status=r.status.value, last_interview=r.last_at, last_interview_day=day,
                days_since=(self.today - day).days, due_by=due_by, told_at=r.told_at,
                told_day=r.told_at.astimezone(self.zone).date() if r.told_at is not None else None,
                told_how=how.get(r.application_id), state=state,
            )

    def _told_how(self, records: Sequence[Any]) -> dict[int, str]:
        """What told each candidate (the earliest qualifying fact), for one page of rows (an IN list)."""
        told = {r.application_id: (r.last_at, r.told_at) for r in records if r.told_at is not None}
        if not told:
            return {}
        source = self._sources()
        found: dict[int, str] = {}
        facts = self.session.execute(select(source.c.application_id, source.c.at, source.c.how)
                                     .where(source.c.application_id.in_(list(told)))
                                     .order_by(source.c.application_id, source.c.at)).all()
        for application_id, at, how in facts:
            last_at, told_at = told[application_id]
            if application_id not in found and at == told_at and (at > last_at or how == "hired"):
                found[application_id] = TOLD_HOW_LABELS.get(how, how)
        return found

    def _told_how_everyone(self) -> dict[int, str]:
        source = self._sources()
        found: dict[int, str] = {}
        facts = self.session.execute(
            select(source.c.application_id, source.c.how)
            .join(self.interviewed, self.interviewed.c.application_id == source.c.application_id)
            .where(self._counts_as_told(source))
            .order_by(source.c.application_id, source.c.at))
        for application_id, how in facts:
            found.setdefault(application_id, TOLD_HOW_LABELS.get(how, how))  # the earliest one
        return found
