"""One sweep tick with DUE obligations due among 10,000 and among 1,000,000 open, against a bare SQL
baseline doing the same row writes in bulk (issue 14).

The tick is `plugin.sla.sweep.sweep`, the production code. The baseline is what the database itself
needs for the same rows: one claiming `UPDATE ... RETURNING` of the due obligations (moving them to
their next rung), one multi-row `INSERT` of the notifications, one multi-row `INSERT` of the audit
rows, one commit, sent through the driver without the ORM. Each due obligation is a ladder rung that
writes exactly one message and one audit row (a third each: recruiter reminder, hiring-manager
reminder, autopilot update), so both sides write the same rows. The clock stands at 08:00 in New York
on a Monday, before every send window opens, so the tick only schedules the messages (handing them
to the queue is another step, measured by nothing here).

Every size lives in its own schema (`open_<n>`) of one scratch PostgreSQL database that the script
creates, marks (a table `ghostless_bench_marker`) and drops at the end; it refuses to touch a
database whose name does not start with "bench" or that holds no marker. Seeding is bulk SQL
(`generate_series`): 1,000,000 open obligations take about a minute. Candidates come in four
calendars (the organisation's, Chicago, Toronto with Canadian holidays, Los Angeles) over 100 jobs,
and the due rows are spread evenly through the table, not packed at its start.

Each measurement is the median of RUNS runs, interleaved (tick and baseline at every size, then
again), each after a reset of the rows the previous one wrote and one unmeasured warm-up tick.

    python bench/sweep_cost.py                                  # PostgreSQL, database bench_h1
    python bench/sweep_cost.py --database bench_me --sizes 10000,1000000 --due 1000 --runs 3
    python bench/sweep_cost.py --profile                        # plus cProfile's top functions of one tick
    python bench/sweep_cost.py --sqlite --sizes 1000,10000      # SQLite files in a temporary folder

The ratios come last: tick / baseline at each size, and the tick at the largest size / the smallest.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import Connection, bindparam, create_engine, event, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugin.db import Database, UTCDateTime  # noqa: E402
from plugin.migrate import upgrade  # noqa: E402
from plugin.settings import normalize_database_url  # noqa: E402
from plugin.sla.sweep import sweep  # noqa: E402

NOW = datetime(2026, 11, 16, 13, 0, tzinfo=UTC)  # Monday 08:00 in New York: before every send window
DUE_AT = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)  # Friday 17:00 New York
LATER = NOW + timedelta(days=2)  # when the obligations that are not due take their next step
DUE_NOW = NOW - timedelta(minutes=1)  # the due rows' next_action_at
JOBS = 100
ORG = "bench-org"
RUNGS = ("reminder_recruiter", "reminder_hiring_manager", "autopilot")  # rung of due row k: RUNGS[k % 3]
MARKER = "ghostless_bench_marker"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Size:
    open_count: int
    db: Database
    due_step: int  # obligation i is due when i % due_step == 0


# -- the scratch database ------------------------------------------------------------------------------


def create_scratch(admin_url: str, name: str) -> str:
    """Create database `name` and mark it as ours; one left by an earlier run of this script (marked)
    is dropped first. Returns its URL."""
    if not name.startswith("bench"):
        raise SystemExit(f"refusing to use database {name!r}: a scratch database's name starts with 'bench'")
    admin = create_engine(normalize_database_url(admin_url), isolation_level="AUTOCOMMIT")
    url = normalize_database_url(admin_url.rsplit("/", 1)[0] + "/" + name)
    with admin.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            drop_scratch(admin_url, name)
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE public.{MARKER} (created_by text NOT NULL)")
        conn.exec_driver_sql(f"INSERT INTO public.{MARKER} VALUES ('bench/sweep_cost.py')")
    engine.dispose()
    return url


def drop_scratch(admin_url: str, name: str) -> None:
    """Drop `name` only if this script created it (its marker table is there)."""
    engine = create_engine(normalize_database_url(admin_url.rsplit("/", 1)[0] + "/" + name))
    try:
        with engine.connect() as conn:
            marked = conn.scalar(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f"public.{MARKER}"})
    finally:
        engine.dispose()
    if not marked:
        raise SystemExit(f"refusing to drop database {name!r}: this script did not create it (no {MARKER} table)")
    admin = create_engine(normalize_database_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def schema_database(url: str, schema: str) -> Database:
    """A Database whose connections work in `schema` (one per size, in one scratch database)."""
    db = Database(url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')

    @event.listens_for(db.engine, "connect")
    def _search_path(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f'SET search_path TO "{schema}"')
        dbapi_connection.commit()

    db.engine.dispose()  # the connection above did not have the listener
    return db


# -- seeding ---------------------------------------------------------------------------------------------


def seed(db: Database, open_count: int, due: int) -> int:
    """Bulk-insert the organisation, JOBS jobs and `open_count` candidates, applications and open
    obligations, `due` of them due now. Returns the step between due rows."""
    step = max(1, open_count // due)
    pg = db.engine.dialect.name == "postgresql"
    series = "generate_series(1, :n) AS s(i)" if pg else "s"
    prefix = "" if pg else "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) "
    times = [bindparam(n, type_=UTCDateTime()) for n in ("now", "due_at", "later", "ended", "due_now")]
    values = dict(now=NOW, due_at=DUE_AT, later=LATER, ended=NOW - timedelta(days=3), due_now=DUE_NOW)

    def run(conn: Connection, sql: str, n: int, **extra: Any) -> None:
        statement = text(sql)
        used = [b for b in times if f":{b.key}" in sql]
        if used:
            statement = statement.bindparams(*used)
        conn.execute(statement, {**{k: v for k, v in values.items() if f":{k}" in sql}, "n": n, **extra})

    with db.engine.begin() as conn:
        if pg:
            # Bulk seeding is not what is measured: no statement timeout, and no per-row foreign-key
            # triggers (the rows are consistent by construction).
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        run(conn, "INSERT INTO organizations (id, name, timezone, holiday_country, working_weekdays, locale, policy, "
            f"created_at) VALUES ('{ORG}', 'Bench', 'America/New_York', 'US', '0,1,2,3,4', 'en', '{{}}', :now)", 1)
        run(conn, prefix + "INSERT INTO jobs (id, org_id, external_id, title, status, recruiter_name, recruiter_email, "
            "hiring_manager_name, hiring_manager_email, policy_override, created_at) "
            f"SELECT i, '{ORG}', 'j' || i, 'Engineer ' || i, 'open', 'Recruiter ' || i, 'r' || i || '@corp.example', "
            f"'Manager ' || i, 'm' || i || '@corp.example', '{{}}', :now FROM {series}", JOBS)
        run(conn, prefix + "INSERT INTO candidates (id, org_id, external_id, name, email, locale, timezone, "
            f"holiday_country, created_at) SELECT i, '{ORG}', 'c' || i, 'Candidate ' || i, 'c' || i || '@example.com', "
            "'en', CASE i % 4 WHEN 1 THEN 'America/Chicago' WHEN 2 THEN 'America/Toronto' "
            "WHEN 3 THEN 'America/Los_Angeles' END, CASE WHEN i % 4 = 2 THEN 'CA' END, :now "
            f"FROM {series}", open_count)
        run(conn, prefix + "INSERT INTO applications (id, org_id, external_id, candidate_id, job_id, status, "
            f"first_interview_ended_at, created_at) SELECT i, '{ORG}', 'a' || i, i, i % {JOBS} + 1, 'active', "
            f":ended, :now FROM {series}", open_count)
        run(conn, prefix + "INSERT INTO obligations (id, org_id, application_id, cycle, state, opened_at, opened_by, "
            "anchor_at, due_at, due_basis, autopilot_run, next_rung, next_action_at, owner_email, at_risk, "
            f"autopilot_stepped_in, version) SELECT i, '{ORG}', i, 1, 'open', :ended, 'interview', :ended, :due_at, "
            f"'sla', 0, CASE WHEN i % :step = 0 THEN (CASE (i / :step) % 3 WHEN 0 THEN '{RUNGS[0]}' "
            f"WHEN 1 THEN '{RUNGS[1]}' ELSE '{RUNGS[2]}' END) ELSE '{RUNGS[0]}' END, "
            f"CASE WHEN i % :step = 0 THEN :due_now ELSE :later END, 'r' || (i % {JOBS} + 1) || '@corp.example', false, false, 1 FROM {series}",
            open_count, step=step)
        if pg:
            for table in ("jobs", "candidates", "applications", "obligations"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    maintain(db)
    return step


def reset(size: Size) -> None:
    """Undo what a tick or a baseline wrote: the due rows are due again, no messages, no audit."""
    with size.db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log")
        conn.exec_driver_sql("DELETE FROM notifications")
        conn.execute(text(
            "UPDATE obligations SET next_rung = CASE (id / :step) % 3 WHEN 0 THEN :r0 WHEN 1 THEN :r1 ELSE :r2 END, "
            "next_action_at = :due_now, version = 1, at_risk = false, breached_at = NULL, breach_reason = NULL "
            "WHERE id % :step = 0").bindparams(bindparam("due_now", type_=UTCDateTime())),
            dict(step=size.due_step, r0=RUNGS[0], r1=RUNGS[1], r2=RUNGS[2], due_now=DUE_NOW))
    maintain(size.db)


def maintain(db: Database) -> None:
    """What autovacuum would do between ticks: the dead rows a reset left do not weigh on the next run."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE obligations, notifications, audit_log")
    else:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")


# -- what is measured --------------------------------------------------------------------------------


def tick(size: Size, due: int) -> float:
    started = time.perf_counter()
    report = sweep(size.db, NOW, lambda ids: None)
    elapsed = time.perf_counter() - started
    taken = sum(report.rungs.values())
    assert taken == due, report.summary()
    check_written(size, due)
    return elapsed


def baseline(size: Size, due: int) -> float:
    """The same row writes as the tick, in bulk, straight through the driver."""
    pg = size.db.engine.dialect.name == "postgresql"
    mark = "%s" if pg else "?"
    now = NOW if pg else NOW.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite format
    later = LATER if pg else LATER.strftime("%Y-%m-%d %H:%M:%S.%f")
    lock = " FOR UPDATE SKIP LOCKED" if pg else ""
    raw = size.db.engine.raw_connection()
    try:
        started = time.perf_counter()
        cursor = raw.cursor()
        if not pg:
            cursor.execute("BEGIN IMMEDIATE")  # as plugin.db does for every SQLite transaction
        moved = ("next_rung = CASE next_rung WHEN 'reminder_recruiter' THEN 'reminder_hiring_manager' "
                 "WHEN 'reminder_hiring_manager' THEN 'autopilot' ELSE 'deadline' END, "
                 f"next_action_at = {mark}, version = version + 1")
        due_ids = (f"SELECT id FROM obligations WHERE next_action_at <= {mark} AND state = 'open' "
                   f"ORDER BY next_action_at LIMIT {mark}{lock}")
        # The rung taken, from the one the row moved to (RETURNING reads the new values).
        taken = ("CASE next_rung WHEN 'reminder_hiring_manager' THEN 'reminder_recruiter' "
                 "WHEN 'autopilot' THEN 'reminder_hiring_manager' ELSE 'status_update' END")
        who = "c.id, c.name, c.email, j.recruiter_name, j.recruiter_email, j.hiring_manager_name, j.hiring_manager_email"
        if pg:  # one statement claims the rows and reads who the messages go to
            cursor.execute(
                f"UPDATE obligations SET {moved} FROM applications a JOIN jobs j ON j.id = a.job_id "
                "JOIN candidates c ON c.id = a.candidate_id WHERE a.id = obligations.application_id "
                f"AND obligations.id IN ({due_ids}) RETURNING obligations.id, obligations.org_id, a.id, {who}, {taken}",
                (later, now, due))
            claimed = cursor.fetchall()
        else:  # SQLite's RETURNING cannot read the FROM tables: a second query reads the recipients
            cursor.execute(f"UPDATE obligations SET {moved} WHERE id IN ({due_ids}) RETURNING id, {taken}",
                           (later, now, due))
            kinds = dict(cursor.fetchall())
            cursor.execute(
                f"SELECT o.id, o.org_id, a.id, {who} FROM obligations o JOIN applications a ON a.id = o.application_id "
                "JOIN jobs j ON j.id = a.job_id JOIN candidates c ON c.id = a.candidate_id WHERE o.id IN ("
                + ", ".join(str(int(i)) for i in kinds) + ")")
            claimed = [(*row, kinds[row[0]]) for row in cursor.fetchall()]
        rows: list[tuple[Any, ...]] = []
        for ob_id, org_id, app_id, cand_id, cand_name, cand_email, r_name, r_email, m_name, m_email, kind in claimed:
            name, email = {"reminder_recruiter": (r_name, r_email), "reminder_hiring_manager": (m_name, m_email)} \
                .get(kind, (cand_name, cand_email))
            rows.append((org_id, app_id, ob_id, cand_id, kind, kind == "status_update", name, email,
                         "en" if kind == "status_update" else None, "{}", "scheduled", later,
                         f"{kind}:ob{ob_id}", now, 0))
        cast = "::json" if pg else ""
        one = "(" + ", ".join([mark] * 9 + [mark + cast] + [mark] * 5) + ")"
        cursor.execute(
            "INSERT INTO notifications (org_id, application_id, obligation_id, candidate_id, kind, autopilot, "
            "recipient_name, recipient_email, locale, context, state, scheduled_for, dedupe_key, created_at, attempts) "
            "VALUES "
            + ", ".join([one] * len(rows)) + " RETURNING id, kind", [v for row in rows for v in row])
        made = cursor.fetchall()
        audits = [(ORG, now, "sweeper", "notification", str(n_id), "scheduled",
                   json.dumps({"kind": kind, "scheduled_for": LATER.isoformat()})) for n_id, kind in made]
        one = "(" + ", ".join([mark] * 6 + [mark + cast]) + ")"
        cursor.execute("INSERT INTO audit_log (org_id, at, actor, entity, entity_id, action, after) VALUES "
                       + ", ".join([one] * len(audits)), [v for row in audits for v in row])
        raw.commit()
        elapsed = time.perf_counter() - started
    finally:
        raw.close()
    assert len(claimed) == due, len(claimed)
    check_written(size, due)
    return elapsed


def check_written(size: Size, due: int) -> None:
    with size.db.engine.connect() as conn:
        counts = conn.execute(text("SELECT (SELECT count(*) FROM notifications), (SELECT count(*) FROM audit_log)")).one()
    assert tuple(counts) == (due, due), f"expected {due} messages and {due} audit rows, found {tuple(counts)}"


# -- the run -------------------------------------------------------------------------------------------


def profile_tick(size: Size, due: int, top: int = 25) -> str:
    reset(size)
    profiler = cProfile.Profile()
    profiler.enable()
    sweep(size.db, NOW, lambda ids: None)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_h1", help="scratch PostgreSQL database (created and dropped)")
    parser.add_argument("--admin-url", default=os.environ.get("GHOSTLESS_BENCH_ADMIN_URL", ADMIN_URL),
                        help="a PostgreSQL URL allowed to create databases (default %(default)s)")
    parser.add_argument("--sizes", default="10000,1000000", help="open obligations, comma-separated")
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="SQLite files in a temporary folder instead")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions of one tick per size")
    args = parser.parse_args()
    open_counts = [int(s) for s in args.sizes.split(",")]

    url = None if args.sqlite else create_scratch(args.admin_url, args.database)
    tmp = tempfile.mkdtemp(prefix="sweep-cost-")
    try:
        sizes: list[Size] = []
        for n in open_counts:
            db = Database(f"sqlite:///{tmp}/open_{n}.db") if url is None else schema_database(url, f"open_{n}")
            upgrade(db)
            started = time.perf_counter()
            step = seed(db, n, args.due)
            print(f"seeded {n:,} open obligations ({args.due:,} due) in {time.perf_counter() - started:.1f} s",
                  flush=True)
            sizes.append(Size(n, db, step))
        for size in sizes:  # warm-up: imports, statement caches, holiday tables
            reset(size)
            tick(size, args.due)
        ticks: dict[int, list[float]] = {s.open_count: [] for s in sizes}
        bases: dict[int, list[float]] = {s.open_count: [] for s in sizes}
        for run in range(args.runs):
            for size in sizes:
                order: list[tuple[dict[int, list[float]], Callable[[Size, int], float]]] = \
                    [(ticks, tick), (bases, baseline)]
                for results, measure in (order if run % 2 == 0 else order[::-1]):
                    reset(size)
                    results[size.open_count].append(measure(size, args.due))
            print(f"run {run + 1}: " + "; ".join(
                f"{s.open_count:,} open: tick {ticks[s.open_count][-1]:.3f} s, baseline {bases[s.open_count][-1]:.3f} s"
                for s in sizes), flush=True)
        if args.profile:
            for size in sizes:
                print(f"\ncProfile of one tick, {size.open_count:,} open, {args.due:,} due:")
                print(profile_tick(size, args.due))
        report(sizes, ticks, bases, args.due, "postgresql" if url else "sqlite", args.runs)
    finally:
        for size in sizes if "sizes" in locals() else []:
            size.db.dispose()
        if url is not None and not args.keep:
            drop_scratch(args.admin_url, args.database)


def report(sizes: list[Size], ticks: dict[int, list[float]], bases: dict[int, list[float]], due: int,
           backend: str, runs: int) -> None:
    print(f"\nback end: {backend}; {due:,} due per tick; median of {runs} interleaved runs")
    print(f"{'open':>10} {'due':>6} {'tick (s)':>9} {'ms/due':>7} {'baseline (s)':>13} {'tick/baseline':>14}")
    medians = {}
    for size in sizes:
        t, b = statistics.median(ticks[size.open_count]), statistics.median(bases[size.open_count])
        medians[size.open_count] = (t, b)
        print(f"{size.open_count:>10,} {due:>6,} {t:>9.3f} {1000 * t / due:>7.2f} {b:>13.3f} {t / b:>14.1f}")
    print()
    for n, (t, b) in medians.items():
        print(f"ratio tick/baseline at {n:,} open: {t / b:.1f}x (goal <= 10x)")
    if len(medians) > 1:
        small, large = min(medians), max(medians)
        print(f"ratio tick at {large:,} / tick at {small:,} open: {medians[large][0] / medians[small][0]:.2f}x "
              "(goal <= 2x)")


if __name__ == "__main__":
    main()
