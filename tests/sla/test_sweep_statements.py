"""A sweep tick's statements do not grow with the number of obligations due (issue 14).

The ladder step reads a batch's applications, candidates, jobs, pending decisions, bounced addresses
and breach evidence with one query each, and writes the obligations, the messages and their audit
rows with one statement each (plugin/sla/sweep_rungs.py). One obligation at a time, a tick with a
thousand due took about nine thousand statements.
"""

from __future__ import annotations

from datetime import timedelta

from conftest import START
from helpers import interviews_ended, notifications, obligations
from sqlalchemy import event, select, update

from plugin.models import AuditEntry, NotificationKind, Obligation, Rung
from plugin.sla.sweep import sweep


def _counted_tick(rt, now) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(statements the tick sent, recruiter reminders it took)."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(rt.db.engine, "before_cursor_execute", count)
    try:
        report = sweep(rt.db, now, lambda ids: None)
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", count)
    return len(statements), report.rungs[Rung.REMINDER_RECRUITER.value]


def test_a_tick_sends_as_many_statements_for_5_due_as_for_55(rt, org):
    interviews_ended(org, rt.db, START, 60)
    now = obligations(rt.db)[0].next_action_at
    versions = {o.id: o.version for o in obligations(rt.db)}
    later = sorted(o.id for o in obligations(rt.db))[5:]
    with rt.db.session() as session:  # all but five wait a day: the first tick has five due
        session.execute(update(Obligation).where(Obligation.id.in_(later))
                        .values(next_action_at=now + timedelta(days=1)).execution_options(synchronize_session=False))
    few, taken_few = _counted_tick(rt, now)
    with rt.db.session() as session:  # now the other 55 are due at the same instant
        session.execute(update(Obligation).where(Obligation.id.in_(later))
                        .values(next_action_at=now).execution_options(synchronize_session=False))
    many, taken_many = _counted_tick(rt, now)
    assert (taken_few, taken_many) == (5, 55)
    assert many == few, f"{few} statements for 5 due, {many} for 55"
    # And the rows are what one-at-a-time wrote: one reminder per cycle, each with its audit entry.
    reminders = notifications(rt.db, NotificationKind.REMINDER_RECRUITER.value)
    assert sorted(n.obligation_id for n in reminders) == sorted(o.id for o in obligations(rt.db))
    with rt.db.session() as session:
        audited = session.scalars(select(AuditEntry.entity_id).where(AuditEntry.entity == "notification",
                                                                     AuditEntry.action == "scheduled")).all()
    assert sorted(audited) == sorted(str(n.id) for n in reminders)
    assert {o.next_rung for o in obligations(rt.db)} == {Rung.REMINDER_HIRING_MANAGER}
    assert {o.id: o.version for o in obligations(rt.db)} == {i: v + 1 for i, v in versions.items()}
