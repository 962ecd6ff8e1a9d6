"""How long one sweep tick takes as the number of OPEN obligations grows while the number DUE stays fixed.

The sweep reads due rows through the partial index on obligations.next_action_at, so its cost should
follow the number due, not the number open. Run on demand (not part of the test suite):

    python bench/sweep_cost.py                      # SQLite in a temporary folder
    GHOSTLESS_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench python bench/sweep_cost.py

Prints one line per size: open obligations, due obligations, seconds for the tick.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugin.db import Base, Database  # noqa: E402
from plugin.migrate import upgrade  # noqa: E402
from plugin.models import Application, Candidate, Job, Obligation, Organization, Rung  # noqa: E402
from plugin.settings import normalize_database_url  # noqa: E402
from plugin.sla.sweep import sweep  # noqa: E402

NOW = datetime(2026, 11, 16, 14, 0, tzinfo=UTC)
DUE = 100


def fill(db: Database, open_count: int) -> None:
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        conn.execute(insert(Organization), [dict(id="org", name="Bench", timezone="America/New_York",
                                                  holiday_country="US", working_weekdays="0,1,2,3,4", policy={},
                                                  created_at=NOW)])
        conn.execute(insert(Job), [dict(id=1, org_id="org", external_id="j", title="Engineer", status="open",
                                         recruiter_email="r@x.example", hiring_manager_email="h@x.example",
                                         policy_override={}, created_at=NOW)])
        rows = range(1, open_count + 1)
        conn.execute(insert(Candidate), [dict(id=i, org_id="org", external_id=f"c{i}", name=f"C {i}",
                                              email=f"c{i}@example.com", created_at=NOW) for i in rows])
        conn.execute(insert(Application), [dict(id=i, org_id="org", external_id=f"a{i}", candidate_id=i, job_id=1,
                                                status="active", first_interview_ended_at=NOW - timedelta(days=3),
                                                created_at=NOW) for i in rows])
        conn.execute(insert(Obligation), [dict(
            id=i, org_id="org", application_id=i, cycle=1, state="open", opened_at=NOW, opened_by="interview",
            anchor_at=NOW - timedelta(days=3), due_at=NOW + timedelta(days=4), next_rung=Rung.REMINDER_RECRUITER,
            # The first DUE rows are due now; the rest wait days ahead.
            next_action_at=NOW - timedelta(minutes=1) if i <= DUE else NOW + timedelta(days=2), version=1,
        ) for i in rows])


def main() -> None:
    url = os.environ.get("GHOSTLESS_DATABASE_URL")
    tmp = tempfile.mkdtemp()
    db = Database(normalize_database_url(url) if url else f"sqlite:///{tmp}/bench.db")
    if url:
        with db.engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(db)
    print(f"back end: {db.engine.dialect.name}; {DUE} obligations due per tick")
    print(f"{'open':>8} {'due':>5} {'tick (s)':>9}")
    for open_count in (1_000, 10_000, 50_000):
        fill(db, open_count)
        started = time.perf_counter()
        report = sweep(db, NOW, lambda ids: None)
        elapsed = time.perf_counter() - started
        assert report.rungs.get("reminder_recruiter") == DUE, report.summary()
        print(f"{open_count:>8} {DUE:>5} {elapsed:>9.3f}")


if __name__ == "__main__":
    main()
