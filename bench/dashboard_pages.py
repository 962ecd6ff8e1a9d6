"""How fast the dashboard pages answer on an organisation with 50,000 applications (issue 14's goal: every
page under 500 ms on PostgreSQL).

Builds a runtime the way tests/conftest.py does, runs the Alembic migrations on a database of its own,
seeds a large organisation and a small second one (bench/dashboard_seed.py), creates an admin and a
department-scoped manager, signs both in through the real form (CSRF token from the page), then times
every dashboard URL for both users. The pages are timed in interleaved rounds (one request of every page
per round, after one warm-up request each), so a burst of load on the shared machine slows one request
of many pages instead of every request of one page; each page's figure is the median over the rounds.
Each round also times a bare request through the same app (a handler that runs `SELECT 1` and returns
a few bytes): the floor every page pays, printed beside the pages as their ratio to it.

Then it records every SQL statement one request of each page issues and explains the slowest ones: on
PostgreSQL with EXPLAIN (ANALYZE, BUFFERS), on SQLite with EXPLAIN QUERY PLAN. Those plans say which
index a page still lacks. The last lines are the slowest page and the verdict against the goal.

Run on demand (not part of the test suite):

    python bench/dashboard_pages.py                              # SQLite in a temporary folder
    GHOSTLESS_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python bench/dashboard_pages.py --database bench_dashboard    # PostgreSQL: the goal's back end
    ... --keep          # keep the seeded database afterwards; a later run with --reuse skips seeding

On PostgreSQL, GHOSTLESS_DATABASE_URL names only the server (host, port, credentials); the script
creates its own scratch database `--database` (the name must start with `bench`) and drops it at the
end. It refuses a database of that name that it did not create (bench/scratch_database.py: a marker
table says which ones it did). Redis is always the embedded one (only sign-in throttling uses it).
Pages still being built may answer 404 or 500: the table shows the status (and the error), the run
carries on.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
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

from sqlalchemy import event, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import scratch_database  # noqa: E402
from dashboard_seed import DEFAULT_NOW, seed  # noqa: E402

from plugin import clock as clock_module  # noqa: E402
from plugin import create_app, runtime  # noqa: E402
from plugin.accounts.orgs import create_organization  # noqa: E402
from plugin.accounts.users import create_user  # noqa: E402
from plugin.db import Database  # noqa: E402
from plugin.mail.outbox import OutboxProvider  # noqa: E402
from plugin.migrate import upgrade  # noqa: E402
from plugin.models import Application, Candidate, Job, Notification, Obligation, Organization, Role, User  # noqa: E402
from plugin.notify.render import TemplateRenderer  # noqa: E402
from plugin.settings import Settings  # noqa: E402

PASSWORD = "correct horse battery staple"
MANAGER_DEPARTMENT = "Engineering"
GOAL_MS = 500.0  # issue 14: every dashboard page under 500 ms on PostgreSQL with 50,000 applications
RUNS = 5
URL_WIDTH = 58
PAGE_BUDGET_SECONDS = 30  # per page and user over all rounds; a page this slow needs no fifth request
EXPLAIN_PER_PAGE = 3
# Tables whose full scans grow with the number of applications: a Seq Scan on one of them is a finding.
FINDING_ROWS = 1_000  # a full scan that read fewer rows is not worth an index
BIG_TABLES = ("obligations", "applications", "notifications", "inbound_events", "candidates", "interviews",
              "mail_events", "audit_log")
BARE_URL = "/bench-bare"  # the floor: the same app, one SELECT 1, no template

# The pages to time. `{name}`, `{app_id}`, `{job_id}`, `{note_id}` and `{department}` are filled in from
# the seeded data (something the manager may see). Extend freely: a route that does not exist answers 404.
URLS = (
    "/dashboard/",
    "/dashboard/?period=90",
    "/dashboard/?period=custom&from=2026-05-22&to=2026-11-18",
    "/dashboard/?period=30&department={department}",
    "/dashboard/?job={job_id}",
    "/dashboard/?table=recruiter&sort=rate&dir=asc",
    "/dashboard/?export=job",
    "/dashboard/?export=manager",
    "/dashboard/?export=at_risk",
    "/dashboard/?export=breached",
    "/dashboard/?export=neglected",
    "/dashboard/applications",
    "/dashboard/applications?q={name}",
    "/dashboard/applications?q=zz-nobody",
    "/dashboard/applications/{app_id}",
    "/dashboard/applications/{app_id}/proof",
    "/dashboard/messages/{note_id}/html",
    "/dashboard/compliance",
    "/dashboard/compliance/ontario-esa",
    "/dashboard/compliance/ontario-esa.csv",
    "/dashboard/compliance/proof",
    "/dashboard/compliance/proof.csv",
    "/dashboard/outbox",
    "/dashboard/outbox/{note_id}",
    "/dashboard/settings",
    "/dashboard/settings/policy",
    "/dashboard/settings/jobs",
    "/dashboard/settings/jobs/{job_id}",
    "/dashboard/settings/calendar",
    "/dashboard/settings/sender",
    "/dashboard/users",
)
USERS = ("admin", "manager")


@dataclass
class Timing:
    url: str
    user: str
    status: int = 0
    durations: list[float] = field(default_factory=list)  # ms to the last byte, one per round
    first_bytes: list[float] = field(default_factory=list)  # ms to the first byte of the body
    kilobytes: float = 0.0
    error: str | None = None
    download: bool = False  # a streamed attachment (CSV): judged by its first byte, its total shown

    @property
    def first_byte_ms(self) -> float:
        return statistics.median(self.first_bytes)

    @property
    def judged_ms(self) -> float:
        """What the goal is held against: the whole page, or when a download starts."""
        return self.first_byte_ms if self.download else self.median_ms

    @property
    def median_ms(self) -> float:
        return statistics.median(self.durations)

    @property
    def max_ms(self) -> float:
        return max(self.durations)

    @property
    def page(self) -> str:
        return f"{self.url} ({self.user})"


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
    parser.add_argument("--database", default="bench_dashboard",
                        help="PostgreSQL: the scratch database to create on GHOSTLESS_DATABASE_URL's server")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (or SQLite folder) afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="PostgreSQL: reuse a scratch database an earlier --keep run seeded (migrations still run)")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed rounds (one request of every page each)")
    parser.add_argument("--only", default="", help="time only the URLs containing this text")
    parser.add_argument("--sql", action="store_true", help="print the whole SQL of each explained statement")
    parser.add_argument("--plans", action="store_true", help="print the whole plan of each explained statement")
    args = parser.parse_args()
    logging.disable(logging.ERROR)  # a page still being built would print a traceback per request; the table says it

    tmp = Path(tempfile.mkdtemp(prefix="ghostless-bench-"))
    server_url = os.environ.get("GHOSTLESS_DATABASE_URL")
    scratch = (scratch_database.create(server_url, args.database, script="bench/dashboard_pages.py", reuse=args.reuse)
               if server_url else None)
    db = Database(scratch.url if scratch else f"sqlite:///{tmp / 'bench.db'}")
    redis_connection = runtime.start_embedded_redis(tmp)
    frozen = clock_module.FrozenClock(DEFAULT_NOW)
    previous_clock = clock_module.current()
    clock_module.install(frozen)
    try:
        upgrade(db)
        where = f"database {scratch.name}{' (reused)' if scratch.reused else ''}" if scratch else str(tmp)
        print(f"back end: {db.engine.dialect.name}, {where}; Redis: embedded; clock frozen at "
              f"{DEFAULT_NOW.isoformat()}")
        if args.keep:  # said now, so that the verdict stays the last line
            print(f"--keep: {f'database {scratch.name} (--reuse it later) and ' if scratch else ''}{tmp} stay afterwards")
        org_id = _seed_once(db, scratch, args.applications)
        targets = _targets(db, org_id)
        rt = runtime.Runtime(
            settings=Settings(instance_dir=tmp, outbox_dir=tmp / "outbox", secret_key="bench-secret",
                              testing=False, redis_url="", database_url=db.url, log_level="WARNING"),
            db=db, mail=OutboxProvider(tmp / "outbox", clock_module.now), renderer=TemplateRenderer(),
            _redis=redis_connection,
        )
        runtime.install(rt)
        app = create_app(runtime=rt)
        logging.disable(logging.ERROR)  # create_app configured logging again
        _add_bare_route(app, db)
        urls = [pattern.format(**targets) for pattern in URLS if args.only in pattern]
        timings, captured = _measure(app, db, urls, args.runs)
        _print_errors(timings)
        _print_statement_counts(captured)
        _explain(db, captured, full_sql=args.sql, full_plans=args.plans)
        _verdict(timings, db.engine.dialect.name)
        runtime.install(None)
    finally:
        clock_module.install(previous_clock)
        runtime.stop_embedded_redis(redis_connection)
        db.dispose()
        if scratch and not args.keep:
            scratch_database.drop(scratch)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


# -- set-up -------------------------------------------------------------------------------------------


def _seed_once(db: Database, scratch: scratch_database.ScratchDatabase | None, applications: int) -> str:
    """The big organisation's id: seeded now, or by the earlier run whose database is reused."""
    wanted = f"{applications} applications"
    if scratch and scratch.reused:
        seeded, org_id = scratch.get("seeded"), scratch.get("org_id")
        if seeded != wanted or not org_id:
            raise SystemExit(f"database {scratch.name} holds {seeded or 'nothing seeded'}, not {wanted}: "
                             "run without --reuse")
        _analyze(db)
        return org_id
    org_id = _seed(db, applications)
    if scratch:
        scratch.put("seeded", wanted)
        scratch.put("org_id", org_id)
    return org_id


def _analyze(db: Database) -> None:
    if db.is_sqlite:
        return
    started = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # What autovacuum does to a live database's old rows: statistics for the planner, and the
        # visibility map that lets an index-only scan skip the table (it is empty after a bulk load).
        conn.execute(text("VACUUM ANALYZE"))
    print(f"VACUUM ANALYZE took {time.perf_counter() - started:.1f} s", flush=True)


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
    _analyze(db)
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
        note_id = session.scalar(select(func.min(Notification.id)).where(Notification.application_id == row[0]))
        assert session.scalar(select(func.count(User.id)).where(User.org_id == org_id)) == len(USERS)
    return {"app_id": str(row[0]), "name": quote_plus(row[1] or ""), "job_id": str(row[2]),
            "note_id": str(note_id), "department": quote_plus(MANAGER_DEPARTMENT)}


def _add_bare_route(app: Any, db: Database) -> None:
    """The floor of a request through this app: its hooks and headers, one SELECT 1, no template."""

    def bare() -> str:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"

    app.add_url_rule(BARE_URL, "bench_bare", bare)


def _sign_in(client: Any, email: str) -> None:
    page = client.get("/dashboard/sign-in")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    if not found:
        raise SystemExit("the sign-in page has no CSRF token")
    response = client.post("/dashboard/sign-in", data={"email": email, "password": PASSWORD,
                                                       "csrf_token": found.group(1)})
    if response.status_code != 302:
        raise SystemExit(f"sign-in as {email} answered {response.status_code}")


# -- timing -------------------------------------------------------------------------------------------


def _measure(app: Any, db: Database, urls: list[str], runs: int
             ) -> tuple[list[Timing], dict[tuple[str, str], list[Statement]]]:
    errors: list[str] = []  # the exceptions behind 500s, from Flask's signal

    def remember(_sender: Any, exception: BaseException, **_extra: Any) -> None:
        first_line = (str(exception).splitlines() or [""])[0][:120]
        errors.append(f"{type(exception).__name__}: {first_line}")

    from flask import got_request_exception

    got_request_exception.connect(remember, app)
    clients = {}
    for user in USERS:
        clients[user] = app.test_client()
        _sign_in(clients[user], f"{user}@bench.example")
    bare = Timing(BARE_URL, "nobody")
    timings = [bare] + [Timing(url, user) for user in USERS for url in urls]
    spent: dict[int, float] = defaultdict(float)
    print(f"\n{len(timings)} pages (with the bare request), 1 warm-up request each, then {runs} interleaved rounds",
          flush=True)
    for round_number in range(runs + 1):  # round 0 warms up: template compilation, first-use caches
        for index, t in enumerate(timings):
            if round_number > 1 and spent[index] > PAGE_BUDGET_SECONDS:
                continue  # a page that takes many seconds: fewer rounds say enough (the table shows the count)
            errors.clear()
            started = time.perf_counter()
            response = clients.get(t.user, clients[USERS[0]]).get(t.url)  # the view has run; a stream has not
            chunks = iter(response.response)
            body = next(chunks, b"")
            first_byte = time.perf_counter() - started
            body += b"".join(chunks)
            elapsed = time.perf_counter() - started
            response.close()
            spent[index] += elapsed
            if round_number:
                t.durations.append(elapsed * 1000)
                t.first_bytes.append(first_byte * 1000)
            t.status, t.kilobytes = response.status_code, len(body) / 1024
            t.download = "attachment" in response.headers.get("Content-Disposition", "")
            t.error = errors[-1] if errors else t.error
        print(f"  round {round_number or 'warm-up'} done", flush=True)
    print(f"\n{'url':<{URL_WIDTH}}  {'user':<8} {'status':>6} {'median ms':>10} {'max ms':>9} {'x bare':>7} "
          f"{'1st byte':>8} {'KB':>8} {'runs':>4}")
    for t in timings:
        ratio = t.median_ms / bare.median_ms if bare.median_ms else 0.0
        print(f"{t.url:<{URL_WIDTH}}  {t.user:<8} {t.status:>6} {t.median_ms:>10.1f} {t.max_ms:>9.1f} {ratio:>7.0f} "
              f"{t.first_byte_ms:>8.1f} {t.kilobytes:>8.1f} {len(t.durations):>4}", flush=True)
    recorder = Recorder()
    recorder.attach(db)
    captured: dict[tuple[str, str], list[Statement]] = {}
    for t in timings[1:]:
        recorder.statements, recorder.active = [], True
        clients[t.user].get(t.url)
        recorder.active = False
        captured[(t.url, t.user)] = recorder.statements
    return timings, captured


def _verdict(timings: list[Timing], dialect: str) -> None:
    """The last lines: the slowest pages, the downloads, and every URL at or over the goal.

    A page is judged by its whole answer. A download (a streamed CSV attachment of every row) is
    judged by its first byte, when the browser starts saving it; its total time is printed beside."""
    bare, urls = timings[0], timings[1:]
    ranked = sorted(urls, key=lambda t: t.judged_ms, reverse=True)
    over = [t for t in ranked if t.judged_ms >= GOAL_MS or t.status >= 500]
    print("\nSlowest pages (median ms of the whole answer, x bare request):")
    for t in [t for t in ranked if not t.download][:10]:
        print(f"  {t.median_ms:8.1f}  {t.median_ms / bare.median_ms:6.0f}x  {t.page}")
    downloads = [t for t in ranked if t.download]
    if downloads:
        print("Downloads (median ms to the first byte / to the last byte, size):")
        for t in downloads:
            print(f"  {t.first_byte_ms:8.1f} / {t.median_ms:8.1f}  {t.kilobytes / 1024:6.1f} MB  {t.page}")
    for t in over:
        print(f"  over the goal: {t.page} {t.judged_ms:.0f} ms{' (answered %d)' % t.status if t.status >= 500 else ''}")
    slowest = max((t for t in urls if not t.download), key=lambda t: t.median_ms)
    print(f"\nbare request {bare.median_ms:.1f} ms (median of {len(bare.durations)}; the machine's load shows here)")
    print(f"slowest page: {slowest.page} {slowest.median_ms:.0f} ms, median of {len(slowest.durations)} "
          f"({slowest.median_ms / bare.median_ms:.0f}x the bare request)")
    verdict = "MET" if not over else f"NOT MET: {len(over)} of {len(urls)} at or over {GOAL_MS:.0f} ms or failing"
    print(f"goal every page < {GOAL_MS:.0f} ms (downloads: first byte) on {dialect}, {len(urls)} URLs: {verdict}")


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
