"""What a batch of events looks up again and again, read once for the whole batch (issue 14).

Applying one event used to cost about fourteen statements: a SELECT for the duplicate, the candidate,
the job, the application, the interview, the open cycle and its number, and a flush after each row
so the next SELECT would see it (and to learn the new row's id). A thousand events were 14,000
round trips. A `LedgerBatch` lives while `ledger.record_events` applies one batch in one transaction
(kept in `session.info`, removed when the batch ends, so nothing outlives the transaction) and holds:
- the batch's event ids already stored, and its candidates, jobs, applications and interviews by
  external id, each read with ONE query for the batch up front (a key the batch did not name is
  read when first asked for: a survivor of a merge, an application found through another);
- for each application it tracks: its open cycle, its last cycle number and its interviews, and the
  unsent messages of each open cycle, also read once for all tracked applications;
- ids for new rows, drawn from the tables' sequences in a few statements on PostgreSQL, so new rows
  need no flush until the commit, when each table gets one multi-row INSERT. SQLite has no sequence
  to draw from: a new row is flushed to learn its id, as before (SQLite is the small installation).

Every cached row is also in the session's identity map, so a change made to it through the ORM by
any code is seen. Rows of those kinds created during the batch must be registered here (`add`), and
they are: only the ledger and `obligations` create candidates, jobs, applications, interviews,
cycles and, during a batch, messages. Anything the cache does not hold is read from the database as
before (with the session's autoflush), so a rare path (an erasure, a merge, a job closing) stays as
it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import event, func, insert, inspect, select, text
from sqlalchemy.orm import Session

from plugin.db import Base
from plugin.events.types import CanonicalEvent
from plugin.models import (
    Application,
    AuditEntry,
    Candidate,
    InboundEvent,
    Interview,
    Job,
    Notification,
    NotificationState,
    Obligation,
    ObligationState,
    Organization,
)

_KEY = "ledger_batch"
_UNSENT = (NotificationState.SCHEDULED, NotificationState.QUEUED)
Row = TypeVar("Row", bound=Base)


class LedgerBatch:
    """The cache of one batch of one organisation's events (see the module's docstring)."""

    def __init__(self, session: Session, org: Organization, size: int) -> None:
        self.session, self.org, self.size = session, org, max(1, size)
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.stored_events: set[str] = set()
        self._checked_events: set[str] = set()
        self.candidates: dict[str, Candidate | None] = {}
        self.jobs: dict[str, Job | None] = {}
        self.applications: dict[str, Application | None] = {}
        self.interviews: dict[str, Interview | None] = {}
        # Per tracked application id: its open cycle, last cycle number, interviews.
        self.open_cycles: dict[int, Obligation | None] = {}
        self.last_cycles: dict[int, int] = {}
        self.interviews_of: dict[int, list[Interview]] = {}
        # Per open cycle of a tracked application (and every cycle opened in the batch): unsent messages.
        self.unsent_of_cycle: dict[int, list[Notification]] = {}
        self.new_cycles: set[int] = set()
        self.new_messages: list[Notification] = []
        # The event log's rows, written in one executemany (not as ORM objects: a thousand of those
        # cost more to build and flush than the INSERT itself) before anything reads the table.
        self.held_events: list[dict[str, object]] = []
        self._ids: dict[str, list[int]] = {}
        self._chunk: dict[str, int] = {}

    # -- reading the batch's rows up front ---------------------------------------------------
    def preload(self, events: Sequence[CanonicalEvent]) -> None:
        self._load_stored([e.id for e in events])
        self._load(Candidate, self.candidates, {ref for e in events for ref in _candidate_ids(e)})
        self._load(Job, self.jobs, {e.job.id for e in events if e.job is not None})
        self._load(Application, self.applications, {e.application.id for e in events if e.application is not None})
        self._load(Interview, self.interviews, {e.interview.id for e in events if e.interview is not None})
        self._follow_merges([c for c in self.candidates.values() if c is not None])
        self.track([a for a in self.applications.values() if a is not None])
        self._reserve_ids(Candidate, sum(1 for c in self.candidates.values() if c is None))
        self._reserve_ids(Job, sum(1 for j in self.jobs.values() if j is None))
        self._reserve_ids(Application, sum(1 for a in self.applications.values() if a is None))
        self._reserve_ids(Interview, sum(1 for i in self.interviews.values() if i is None))

    def is_stored(self, event_id: str) -> bool:
        """An event with this id was stored before (or earlier in this batch)."""
        if event_id not in self._checked_events:
            self._load_stored([event_id])
        return event_id in self.stored_events

    def stored(self, event_id: str) -> None:
        self._checked_events.add(event_id)
        self.stored_events.add(event_id)

    def _load_stored(self, event_ids: list[str]) -> None:
        self._checked_events.update(event_ids)
        self.stored_events.update(self.session.scalars(
            select(InboundEvent.event_id).where(InboundEvent.org_id == self.org.id,
                                                InboundEvent.event_id.in_(event_ids))))

    def _load(self, model: type[Row], into: dict[str, Row | None], keys: Iterable[str]) -> None:
        wanted = [k for k in keys if k not in into]
        if not wanted:
            return
        into.update(dict.fromkeys(wanted))
        rows = self.session.scalars(select(model).where(model.org_id == self.org.id,  # type: ignore[attr-defined]
                                                        model.external_id.in_(wanted)))  # type: ignore[attr-defined]
        for row in rows:
            into[row.external_id] = row  # type: ignore[attr-defined]

    def _follow_merges(self, candidates: list[Candidate]) -> None:
        """Load the survivors of merged-away candidates in one query per generation (rarely any)."""
        wanted = {c.merged_into_id for c in candidates if c.merged_into_id is not None}
        while wanted:
            found = list(self.session.scalars(select(Candidate).where(Candidate.id.in_(wanted))))
            wanted = {c.merged_into_id for c in found if c.merged_into_id is not None} - wanted

    def track(self, apps: Iterable[Application]) -> None:
        """Read the open cycles, last cycle numbers, interviews and pending ladder messages of `apps`."""
        ids = [a.id for a in apps if a.id is not None and a.id not in self.open_cycles]
        if not ids:
            return
        for app_id in ids:
            self.open_cycles[app_id], self.last_cycles[app_id], self.interviews_of[app_id] = None, 0, []
        session = self.session
        for obligation in session.scalars(select(Obligation).where(Obligation.application_id.in_(ids),
                                                                  Obligation.state == ObligationState.OPEN)):
            self.open_cycles[obligation.application_id] = obligation
            self.unsent_of_cycle[obligation.id] = []
        for app_id, cycle in session.execute(select(Obligation.application_id, func.max(Obligation.cycle))
                                             .where(Obligation.application_id.in_(ids))
                                             .group_by(Obligation.application_id)):
            self.last_cycles[app_id] = cycle or 0
        for interview in session.scalars(select(Interview).where(Interview.application_id.in_(ids))
                                         .order_by(Interview.id)):
            self.interviews_of[interview.application_id].append(interview)
            self.interviews.setdefault(interview.external_id, interview)
        cycles = [o.id for o in self.open_cycles.values() if o is not None and o.application_id in ids]
        if cycles:
            for message in session.scalars(select(Notification).where(Notification.obligation_id.in_(cycles),
                                                                      Notification.state.in_(_UNSENT))):
                self.unsent_of_cycle[message.obligation_id].append(message)  # type: ignore[index]

    def tracks(self, app: Application) -> bool:
        return app.id is not None and app.id in self.open_cycles

    # -- lookups -------------------------------------------------------------------------------
    def candidate(self, external_id: str) -> Candidate | None:
        self._load(Candidate, self.candidates, [external_id])
        return self.candidates[external_id]

    def job(self, external_id: str) -> Job | None:
        self._load(Job, self.jobs, [external_id])
        return self.jobs[external_id]

    def application(self, external_id: str) -> Application | None:
        self._load(Application, self.applications, [external_id])
        app = self.applications[external_id]
        if app is not None:
            self.track([app])
        return app

    def interview(self, external_id: str) -> Interview | None:
        self._load(Interview, self.interviews, [external_id])
        return self.interviews[external_id]

    def open_cycle(self, app: Application) -> Obligation | None:
        self.track([app])
        current = self.open_cycles.get(app.id)
        return current if current is not None and current.state is ObligationState.OPEN else None

    def interviews_of_app(self, app: Application) -> list[Interview]:
        self.track([app])
        return self.interviews_of[app.id]

    # -- new rows ------------------------------------------------------------------------------
    def hold_event(self, row: dict[str, object]) -> None:
        self.held_events.append(row)

    def write_held(self) -> None:
        """Write the event log's held rows: at the end of the batch, at every flush (so a query sees
        them as it sees the ORM's rows), and before an erasure scrubs a person's events."""
        if self.held_events:
            rows, self.held_events = self.held_events, []
            self.session.connection().execute(insert(InboundEvent), rows)

    def add(self, row: Row) -> Row:
        """Add a new row with its id: drawn from the table's sequence (PostgreSQL) or by a flush."""
        self.session.add(row)
        if self.postgres:
            row.id = self._next_id(row.__table__.name)  # type: ignore[attr-defined]
        else:
            self.session.flush()
        if isinstance(row, Candidate):
            self.candidates[row.external_id] = row
        elif isinstance(row, Job):
            self.jobs[row.external_id] = row
        elif isinstance(row, Application):
            self.applications[row.external_id] = row
            self.open_cycles[row.id], self.last_cycles[row.id], self.interviews_of[row.id] = None, 0, []
        elif isinstance(row, Interview):
            self.interviews[row.external_id] = row
            if row.application_id in self.interviews_of:
                self.interviews_of[row.application_id].append(row)
        elif isinstance(row, Obligation):
            self.new_cycles.add(row.id)
            self.unsent_of_cycle[row.id] = []
            self.open_cycles[row.application_id] = row
            self.last_cycles[row.application_id] = max(row.cycle, self.last_cycles.get(row.application_id, 0))
        elif isinstance(row, Notification):
            self.new_messages.append(row)
            if row.obligation_id in self.unsent_of_cycle:
                self.unsent_of_cycle[row.obligation_id].append(row)  # type: ignore[index]
        return row

    def _reserve_ids(self, model: type[Base], count: int) -> None:
        if self.postgres and count > 0:
            self._draw(model.__table__.name, count)

    def _next_id(self, table: str) -> int:
        pool = self._ids.setdefault(table, [])
        if not pool:
            # Doubling chunks, never more than the batch's size: a one-event batch wastes no id, a
            # batch of 1,000 draws its few hundred cycles in about ten statements.
            chunk = self._chunk.get(table, max(1, self.size // 16))
            self._chunk[table] = min(chunk * 2, self.size)
            self._draw(table, chunk)
        return pool.pop()

    def _draw(self, table: str, count: int) -> None:
        # On the session's connection, not through the session: no autoflush for an id.
        drawn = list(self.session.connection().scalars(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table, "n": count}))
        pool = self._ids.setdefault(table, [])
        pool[:0] = reversed(drawn)  # popped from the end: ids go out in the order drawn


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: object, _instances: object) -> None:
    """While a batch is applied, the event log's held rows and the new audit entries go in first,
    each table in one executemany, instead of through the unit of work: nothing reads them back as
    objects, and the unit of work's bookkeeping for a thousand rows cost more than their INSERT."""
    batch = active(session)
    if batch is None:
        return
    batch.write_held()
    entries = sorted((row for row in session.new if isinstance(row, AuditEntry)),
                     key=lambda row: inspect(row).insert_order)  # the trail keeps the order it was written in
    if entries:
        for entry in entries:
            session.expunge(entry)
        session.connection().execute(insert(AuditEntry), [
            {column: getattr(entry, column) for column in _AUDIT_COLUMNS} for entry in entries])


_AUDIT_COLUMNS = ("org_id", "at", "actor", "entity", "entity_id", "action", "before", "after")


def _candidate_ids(event: CanonicalEvent) -> Iterator[str]:
    if event.candidate is not None:
        yield event.candidate.id
    if event.merged_into:
        yield event.merged_into


def active(session: Session) -> LedgerBatch | None:
    """The batch being applied in this session, if any."""
    return session.info.get(_KEY)


@contextmanager
def batch(session: Session, org: Organization, events: Sequence[CanonicalEvent]) -> Iterator[LedgerBatch]:
    """Install a batch for `events` while the block runs (a batch of another organisation is set aside)."""
    previous = session.info.get(_KEY)
    current = LedgerBatch(session, org, len(events))
    session.info[_KEY] = current
    try:
        current.preload(events)
        yield current
    finally:
        if previous is None:
            session.info.pop(_KEY, None)
        else:
            session.info[_KEY] = previous
