"""How fast the dashboard pages answer on an organisation with 50,000 applications (issue 5, item 7).

Builds a runtime the way tests/conftest.py does, runs the Alembic migrations, seeds a large
organisation and a small second one (bench/dashboard_seed.py), creates an admin and a
department-scoped manager, signs both in through the real form (CSRF token from the page), then times
every dashboard URL: one warm-up request, then the median and maximum of RUNS requests. Then it
records every SQL statement one request of each page issues and explains the slowest ones: on
PostgreSQL with EXPLAIN (ANALYZE, BUFFERS), on SQLite with EXPLAIN QUERY PLAN. Those plans say which
index a page still lacks.

Run on demand (not part of the test suite):

    python bench/dashboard_pages.py                          # SQLite in a temporary folder, embedded Redis
    python bench/dashboard_pages.py --applications 5000 --keep
    GHOSTLESS_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench \\
    GHOSTLESS_REDIS_URL=redis://127.0.0.1:6379/15 python bench/dashboard_pages.py

With GHOSTLESS_DATABASE_URL the database is DROPPED and migrated first (as the test suite does) and
the Redis database is flushed: point them at a scratch database. Pages still being built may answer
404 or 500: the table shows the status (and the error), the run carries on.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import redis as redis_lib
from sqlalchemy import event, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_seed import DEFAULT_NOW, seed  # noqa: E402

from plugin import clock as clock_module  # noqa: E402
from plugin import create_app, runtime  # noqa: E402
from plugin.db import Base, Database  # noqa: E402
from plugin.mail.outbox import OutboxProvider  # noqa: E402
from plugin.migrate import upgrade  # noqa: E402
from plugin.models import Application, Candidate, Job, Obligation, Organization, Role  # noqa: E402
from plugin.notify.render import TemplateRenderer  # noqa: E402
from plugin.accounts.orgs import create_organization  # noqa: E402
from plugin.settings import Settings, normalize_database_url  # noqa: E402
from plugin.accounts.users import create_user  # noqa: E402

PASSWORD = "correct horse battery staple"
MANAGER_DEPARTMENT = "Engineering"
RUNS = 5
URL_WIDTH = 48
PAGE_BUDGET_SECONDS = 60  # per page and user; a CSV export of every row can take a minute on SQLite
EXPLAIN_PER_PAGE = 3
# Tables whose full scans grow with the number of applications: a Seq Scan on one of them is a finding.
FINDING_ROWS = 1_000  # a full scan that read fewer rows is not worth an index
BIG_TABLES = ("obligations", "applications", "notifications", "inbound_events", "candidates", "interviews",
              "mail_events", "audit_log")

# The pages to time. `{name}`, `{app_id}`, `{job_id}` and `{department}` are filled in from the seeded
# data (something the manager may see). Extend freely: a route that does not exist yet answers 404.
URLS = (
    "/dashboard/",
    "/dashboard/?period=90",
    "/dashboard/?period=30&department={department}",
    "/dashboard/?export=job",
    "/dashboard/applications",
    "/dashboard/applications?q={name}",
    "/dashboard/applications/{app_id}",
    "/dashboard/compliance",
    "/dashboard/compliance/ontario-esa",
    "/dashboard/compliance/ontario-esa.csv",
    "/dashboard/compliance/proof",
    "/dashboard/compliance/proof.csv",
    "/dashboard/outbox",
    "/dashboard/settings",
)


@dataclass
class Timing:
    url: str
    user: str
    status: int
    median_ms: float
    max_ms: float
    kilobytes: float
    error: str | None = None
    runs: int = 0


@dataclass
class Statement:
    sql: str
    params: Any
    seconds: float


@dataclass
class Recorder:
    """Every statement the engine runs while `active` (SQLAlchemy's cursor events), with its duration."""

    active: bool = False
    statements: list[Statement] = field(default_factory=list)

    def attach(self, db: Database) -> None:
        event.listen(db.engine, "before_cursor_execute", self._before)
        event.listen(db.engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, _cursor: Any, _statement: str, _params: Any, _context: Any, _many: bool) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, many: bool) -> None:
        started = conn.info["bench_started"].pop()
        if self.active and not many:
            self.statements.append(Statement(statement, params, time.perf_counter() - started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=50_000, help="applications in the big organisation")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (SQLite file) afterwards")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed requests per page and user")
    parser.add_argument("--sql", action="store_true", help="print the whole SQL of each explained statement")
    parser.add_argument("--plans", action="store_true", help="print the whole plan of each explained statement")
    args = parser.parse_args()
    logging.disable(logging.ERROR)  # a page still being built would print a traceback per request; the table says it

    tmp = Path(tempfile.mkdtemp(prefix="ghostless-bench-"))
    database_url = os.environ.get("GHOSTLESS_DATABASE_URL")
    redis_url = os.environ.get("GHOSTLESS_REDIS_URL", "")
    db = _fresh_database(database_url, tmp)
    redis_connection, embedded = _redis(redis_url, tmp)
    frozen = clock_module.FrozenClock(DEFAULT_NOW)
    previous_clock = clock_module.current()
    clock_module.install(frozen)
    try:
        print(f"back end: {db.engine.dialect.name}{'' if database_url else ' (' + str(tmp) + ')'}; "
              f"Redis: {'embedded' if embedded else redis_url}; clock frozen at {DEFAULT_NOW.isoformat()}")
        org_id = _seed(db, args.applications)
        targets = _targets(db, org_id)
        rt = runtime.Runtime(
            settings=Settings(instance_dir=tmp, outbox_dir=tmp / "outbox", secret_key="bench-secret",
                              testing=False, redis_url=redis_url, database_url=db.url, log_level="WARNING"),
            db=db, mail=OutboxProvider(tmp / "outbox", clock_module.now), renderer=TemplateRenderer(),
            _redis=redis_connection,
        )
        runtime.install(rt)
        app = create_app(runtime=rt)
        logging.disable(logging.ERROR)  # create_app configured logging again
        errors: list[str] = []  # the exceptions behind 500s, from Flask's signal

        def remember(_sender: Any, exception: BaseException, **_extra: Any) -> None:
            first_line = (str(exception).splitlines() or [""])[0][:120]
            errors.append(f"{type(exception).__name__}: {first_line}")

        from flask import got_request_exception

        got_request_exception.connect(remember, app)
        recorder = Recorder()
        recorder.attach(db)
        timings: list[Timing] = []
        captured: dict[tuple[str, str], list[Statement]] = {}
        print(f"\n{'url':<{URL_WIDTH}}  {'user':<8} {'status':>6} {'median ms':>10} {'max ms':>9} {'KB':>8} {'runs':>4}")
        for user in ("admin", "manager"):
            client = app.test_client()
            _sign_in(client, f"{user}@bench.example")
            for pattern in URLS:
                url = pattern.format(**targets)
                timings.append(_time_page(client, url, user, args.runs, errors))
                _print_row(timings[-1])
                recorder.statements, recorder.active = [], True
                client.get(url)
                recorder.active = False
                captured[(url, user)] = recorder.statements
        _print_errors(timings)
        _print_statement_counts(captured)
        _explain(db, captured, full_sql=args.sql, full_plans=args.plans)
        runtime.install(None)
    finally:
        clock_module.install(previous_clock)
        if embedded:
            runtime.stop_embedded_redis(redis_connection)
        db.dispose()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# -- set-up -------------------------------------------------------------------------------------------


def _fresh_database(url: str | None, tmp: Path) -> Database:
    if url:
        db = Database(normalize_database_url(url))
        with db.engine.begin() as conn:  # start from nothing, so the migrations build everything
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    else:
        db = Database(f"sqlite:///{tmp / 'bench.db'}")
    upgrade(db)
    return db


def _redis(url: str, tmp: Path) -> tuple[redis_lib.Redis, bool]:
    if url:
        connection = redis_lib.Redis.from_url(url)
        connection.flushdb()  # sign-in throttling counters from an earlier run
        return connection, False
    return runtime.start_embedded_redis(tmp), True


def _seed(db: Database, applications: int) -> str:
    now = clock_module.now()
    with db.session() as session:
        big, _key = create_organization(session, "Benchmark Industries", timezone="America/New_York", country="US",
                                        now=now, sender_name="Benchmark Talent", sender_email="talent@bench.example",
                                        escalation_email="talent-ops@bench.example")
        other, _key = create_organization(session, "Other Org", timezone="America/Toronto", country="CA",
                                          subdivision="ON", now=now)
        big_id, other_id = big.id, other.id
    started = time.perf_counter()
    seed(db, big_id, applications=applications, now=now)
    # A second organisation, so the planner must filter by organisation and isolation costs something.
    seed(db, other_id, applications=1_000, now=now, name="Other Org")
    print(f"seeding took {time.perf_counter() - started:.1f} s in all", flush=True)
    if not db.is_sqlite:
        started = time.perf_counter()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))  # what autovacuum would have done on a live database
        print(f"ANALYZE took {time.perf_counter() - started:.1f} s", flush=True)
    with db.session() as session:
        org = session.get(Organization, big_id)
        assert org is not None
        create_user(session, org, "admin@bench.example", Role.ADMIN, password=PASSWORD, now=now, name="Ada Admin")
        create_user(session, org, "manager@bench.example", Role.MANAGER, password=PASSWORD, now=now,
                    name="Max Manager", departments=[MANAGER_DEPARTMENT])
    return big_id


def _targets(db: Database, org_id: str) -> dict[str, str]:
    """Ids and names for the URL patterns: an application the manager may see, with several cycles."""
    with db.session() as session:
        cycles = func.count(Obligation.id)
        row = session.execute(
            select(Application.id, Candidate.name, Job.id)
            .join(Job, Job.id == Application.job_id).join(Candidate, Candidate.id == Application.candidate_id)
            .join(Obligation, Obligation.application_id == Application.id)
            .where(Application.org_id == org_id, Job.department == MANAGER_DEPARTMENT)
            .group_by(Application.id, Candidate.name, Job.id).order_by(cycles.desc(), Application.id).limit(1)
        ).one()
    return {"app_id": str(row[0]), "name": quote_plus(row[1] or ""), "job_id": str(row[2]),
            "department": quote_plus(MANAGER_DEPARTMENT)}


def _sign_in(client: Any, email: str) -> None:
    import re

    page = client.get("/dashboard/sign-in")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    if not found:
        raise SystemExit("the sign-in page has no CSRF token")
    response = client.post("/dashboard/sign-in", data={"email": email, "password": PASSWORD,
                                                       "csrf_token": found.group(1)})
    if response.status_code != 302:
        raise SystemExit(f"sign-in as {email} answered {response.status_code}")


# -- timing -------------------------------------------------------------------------------------------


def _time_page(client: Any, url: str, user: str, runs: int, errors: list[str]) -> Timing:
    errors.clear()
    started_page = time.perf_counter()
    client.get(url)  # warm-up: template compilation, first-use caches
    durations: list[float] = []
    status, size = 0, 0
    for _ in range(runs):
        if durations and time.perf_counter() - started_page > PAGE_BUDGET_SECONDS:
            break  # a page that takes many seconds: fewer runs say enough (the table shows the count)
        started = time.perf_counter()
        response = client.get(url)
        body = response.get_data()
        durations.append((time.perf_counter() - started) * 1000)
        status, size = response.status_code, len(body)
    return Timing(url, user, status, statistics.median(durations), max(durations), size / 1024,
                  errors[-1] if errors else None, len(durations))


def _print_row(t: Timing) -> None:
    print(f"{t.url:<{URL_WIDTH}}  {t.user:<8} {t.status:>6} {t.median_ms:>10.1f} {t.max_ms:>9.1f} {t.kilobytes:>8.1f} {t.runs:>4}",
          flush=True)


def _print_errors(timings: list[Timing]) -> None:
    for t in timings:
        if t.error:
            print(f"  {t.status} {t.url} ({t.user}): {t.error}")


def _print_statement_counts(captured: dict[tuple[str, str], list[Statement]]) -> None:
    print()
    # Time from cursor.execute() to its return: psycopg has fetched every row by then; SQLite has computed
    # the first row only, so on SQLite long row lists are undercounted (aggregates are not).
    print("SQL per request (one request, after the timed ones): statements, total ms in cursor.execute")
    for (url, user), statements in captured.items():
        total = sum(s.seconds for s in statements) * 1000
        print(f"  {url} ({user}): {len(statements)} statements, {total:.1f} ms")


# -- plans --------------------------------------------------------------------------------------------


def _explain(db: Database, captured: dict[tuple[str, str], list[Statement]], *, full_sql: bool = False,
             full_plans: bool = False) -> None:
    """Explain the slowest SELECTs of each page (each distinct statement once)."""
    print()
    print(f"Slowest {EXPLAIN_PER_PAGE} SELECT statements per page, explained "
          f"({'EXPLAIN (ANALYZE, BUFFERS)' if not db.is_sqlite else 'EXPLAIN QUERY PLAN'}):")
    seen: dict[str, str] = {}
    findings: dict[str, list[tuple[str, int]]] = defaultdict(list)  # table -> (statement label, rows read)
    for (url, user), statements in captured.items():
        selects = [s for s in statements if s.sql.lstrip().upper().startswith(("SELECT", "WITH"))]
        slowest = sorted(selects, key=lambda s: s.seconds, reverse=True)[:EXPLAIN_PER_PAGE]
        if not slowest:
            continue
        print(f"\n== {url} ({user})")
        for statement in slowest:
            key = statement.sql + repr(statement.params)
            if key in seen:
                print(f"  {statement.seconds * 1000:7.1f} ms  (same statement as above: {seen[key]})")
                continue
            label = f"Q{len(seen) + 1}"
            seen[key] = label
            plan = (_explain_sqlite if db.is_sqlite else _explain_postgres)(db, statement)
            print(f"  {label} {statement.seconds * 1000:7.1f} ms in the request; {plan.summary}")
            print(f"     {' '.join(statement.sql.split()) if full_sql else _shorten(statement.sql)}")
            for scan in plan.scans:
                print(f"     ! {scan.text}")
                findings[scan.table].append((f"{label} {url} ({user})", scan.rows))
            if full_plans and plan.text:
                print("     " + plan.text.replace("\n", "\n     "))
    big = {table: where for table, where in findings.items() if max(rows for _, rows in where) >= FINDING_ROWS}
    if big:
        print(f"\nFull scans of big tables (at least {FINDING_ROWS:,} rows read; what indexes or a rewrite would fix):")
        for table, where in sorted(big.items(), key=lambda item: -max(rows for _, rows in item[1])):
            labels = sorted({label for label, _ in where}, key=lambda label: int(label.split()[0][1:]))
            print(f"  {table}: up to {max(rows for _, rows in where):,} rows read, in {len(labels)} statements: "
                  f"{'; '.join(labels[:8])}{' ...' if len(labels) > 8 else ''}")
    else:
        print("\nNo full scan of a big table in the explained statements.")


@dataclass
class Scan:
    table: str
    rows: int  # rows the scan read (kept + removed by its filter, over all loops and workers)
    text: str


@dataclass
class Plan:
    summary: str
    scans: list[Scan]
    text: str = ""


def _explain_postgres(db: Database, statement: Statement) -> Plan:
    with db.engine.connect() as conn:
        try:
            document = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement.sql,
                                            statement.params).scalar()
            text_plan = "\n".join(row[0] for row in conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.params))
        except Exception as exc:  # a statement that cannot be replayed alone; say so and carry on
            return Plan(f"could not explain: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}", [])
        finally:
            conn.rollback()
    plan = (document if isinstance(document, list) else json.loads(document))[0]
    top = plan["Plan"]
    scans: list[Scan] = []
    indexes: set[str] = set()
    _walk(top, scans, indexes)
    hit, read = top.get("Shared Hit Blocks", 0), top.get("Shared Read Blocks", 0)
    summary = (f"execution {plan.get('Execution Time', 0):.1f} ms, planning {plan.get('Planning Time', 0):.1f} ms, "
               f"rows {top.get('Actual Rows')}, buffers hit {hit} read {read}; "
               f"indexes: {', '.join(sorted(indexes)) or 'none'}")
    return Plan(summary, scans, text_plan)


def _walk(node: dict[str, Any], scans: list[Scan], indexes: set[str]) -> None:
    relation = node.get("Relation Name")
    if node.get("Node Type") == "Seq Scan" and relation in BIG_TABLES:
        # Actual Rows is per loop; a parallel scan has one loop per worker.
        loops = node.get("Actual Loops", 1) or 1
        kept = round(node.get("Actual Rows", 0) * loops)
        removed = round(node.get("Rows Removed by Filter", 0) * loops)
        scans.append(Scan(relation, kept + removed, f"Seq Scan on {relation}: {kept + removed:,} rows read, "
                                                    f"{kept:,} kept{' (parallel)' if loops > 1 else ''}"))
    if node.get("Index Name"):
        indexes.add(node["Index Name"])
    for child in node.get("Plans", ()):
        _walk(child, scans, indexes)


def _explain_sqlite(db: Database, statement: Statement) -> Plan:
    with db.engine.connect() as conn:
        try:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement.sql, statement.params).all()
        except Exception as exc:
            return Plan(f"could not explain: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}", [])
    details = [str(row[-1]) for row in rows]
    # "SCAN t" reads the whole table; "SCAN t USING (COVERING) INDEX" reads a whole index (cheaper,
    # still proportional to the table). "SEARCH t USING INDEX" is the good case, although with one
    # big organisation "SEARCH t USING INDEX ...(org_id=?)" reads nearly every row too.
    scans = [Scan(d.split()[1], FINDING_ROWS, d) for d in details
             if d.startswith("SCAN ") and d.split()[1] in BIG_TABLES]
    return Plan("plan: " + "; ".join(details)[:400], scans, "\n".join(details))


def _shorten(sql: str, limit: int = 300) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[:limit] + " ..."


if __name__ == "__main__":
    main()
