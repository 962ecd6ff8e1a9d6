"""Ingest over HTTP: `POST /api/v1/events` under `ghostless web`'s gunicorn vs a bare Flask handler.

Issue 14's goal: >= 50% of the bare handler's events/s, for 1 and for 100 events a request, and a p99
under 10x the bare handler's. The bare handler runs under the same gunicorn configuration
(`plugin.cli.processes.WebApplication`, same worker count and class) and only parses the JSON body
and inserts it raw into one PostgreSQL table: the limit for "store, then acknowledge".

    .venv/bin/python bench/ingest.py                  # 3 interleaved runs of 10 s per case
    .venv/bin/python bench/ingest.py --profile /tmp/prof   # also py-spy on the real app's workers (run 1)
    .venv/bin/python bench/ingest.py --app-root /tmp/old   # serve another checkout (a "before" figure)

It creates its own scratch database (default bench_h5; the name must start with "bench", and an existing
one is dropped only if it holds this script's marker table), migrates it, creates an organisation and
API key, and drops the database at the end. It flushes the Redis database it is given (default db 5),
where the app queues its jobs. No RQ worker runs: the figure is the acknowledgement (200 or 202), not
the events applied to the ledger behind it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
MARKER = "bench_ingest_scratch"  # a table this script creates in its database, and checks before dropping
PLACEHOLDER = "@T@"  # stands for a replica tag in the serialized event templates
GOAL_RATE, GOAL_P99 = 0.5, 10.0
SUCCESS = (200, 202)


# --- the scratch database -----------------------------------------------------------------------------

def admin_url(base: str) -> str:
    return base.rstrip("/") + "/postgres"


def database_url(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def has_marker(url: str) -> bool:
    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (MARKER,)).fetchone()[0]
    except psycopg.OperationalError:
        return False


def drop_scratch(base: str, name: str) -> None:
    """Drop `name`, only if it is a bench database holding this script's marker table."""
    if not name.startswith("bench") or not has_marker(database_url(base, name)):
        raise SystemExit(f"refusing to drop database {name!r}: this script did not create it")
    with psycopg.connect(admin_url(base), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def create_scratch(base: str, name: str) -> str:
    if not name.startswith("bench"):
        raise SystemExit(f"the scratch database's name must start with 'bench', not {name!r}")
    with psycopg.connect(admin_url(base), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if exists:
        drop_scratch(base, name)  # refuses a database without the marker
    with psycopg.connect(admin_url(base), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(base, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (created_at timestamptz NOT NULL DEFAULT now())")
                     .format(sql.Identifier(MARKER)))
        conn.execute("CREATE TABLE bare_events (id bigserial PRIMARY KEY, body jsonb NOT NULL, "
                     "received_at timestamptz NOT NULL DEFAULT now())")
    return url


def prepare_app_database(url: str) -> str:
    """Migrate, create the organisation; return its API key in clear."""
    from plugin.accounts.orgs import create_organization
    from plugin.clock import now
    from plugin.db import Database
    from plugin.migrate import upgrade
    from plugin.settings import normalize_database_url

    db = Database(normalize_database_url(url))
    try:
        upgrade(db)
        with db.session() as session:
            _org, key = create_organization(session, "Northwind Robotics (bench)", timezone="America/New_York",
                                            country="US", subdivision="NY", now=now())
        return key
    finally:
        db.dispose()


# --- the bare handler ---------------------------------------------------------------------------------

def bare_app(dsn: str) -> Any:
    """Parse the JSON body (for the count a real handler answers with), insert the raw body, acknowledge."""
    from flask import Flask, request

    app = Flask("bare")
    local: dict[str, psycopg.Connection[Any]] = {}  # one connection per worker, opened after the fork

    @app.post("/api/v1/events")
    def events() -> Any:
        body = request.get_data(as_text=True)
        payload = json.loads(body)
        count = len(payload["events"]) if "events" in payload else 1
        if "conn" not in local:
            local["conn"] = psycopg.connect(dsn, autocommit=True)
        local["conn"].execute("INSERT INTO bare_events (body) VALUES (%s::jsonb)", (body,))
        return {"received": count}, 202

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok"}

    return app


def serve_bare(bind: str, dsn: str) -> None:
    """`ghostless web`'s own gunicorn configuration and defaults, serving the bare app."""
    from plugin.cli.processes import WebApplication
    from plugin.settings import Settings

    class BareApplication(WebApplication):  # type: ignore[misc]
        def load(self):  # type: ignore[no-untyped-def]
            return bare_app(dsn)

    options = web_defaults()
    threads = [options["threads"]] if "threads" in options else []  # a checkout from before threads
    BareApplication(Settings(), bind, options["workers"], *threads).run()


def web_defaults() -> dict[str, Any]:
    """The defaults of `ghostless web`'s options (worker processes, and threads where it has them)."""
    from plugin.cli.processes import web

    return {p.name: p.default for p in web.params if p.name in ("workers", "threads")}


# --- the servers --------------------------------------------------------------------------------------

@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(name: str, argv: list[str], env: dict[str, str], log: Path, port: int) -> Server:
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=env["PYTHONPATH"])
    server = Server(name, port, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited at start; see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200 and len(server.worker_pids()) > 0:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"{name} did not answer /healthz within 60 s; see {log}")


# --- the events ---------------------------------------------------------------------------------------

def event_templates() -> list[str]:
    """The demo round's events (examples/demo/round.json) with every ATS id and event id carrying a
    placeholder, so each replica of the round is a new set of candidates, jobs and applications.
    `job.closed` is left out: closing a job is its own goal (bench/bulk_close.py)."""
    events = json.loads((REPO / "examples" / "demo" / "round.json").read_text())["events"]
    templates = []
    for event in events:
        if event["type"] == "job.closed":
            continue
        event["id"] = f"{PLACEHOLDER}-{event['id']}"
        for key in ("candidate", "job", "application", "interview"):
            if isinstance(event.get(key), dict) and "id" in event[key]:
                event[key]["id"] = f"{event[key]['id']}-{PLACEHOLDER}"
        if "email" in event.get("candidate", {}):
            local, _, domain = event["candidate"]["email"].partition("@")
            event["candidate"]["email"] = f"{local}+{PLACEHOLDER}@{domain}"
        templates.append(json.dumps(event, separators=(",", ":")))
    return templates


def bodies(templates: list[str], prefix: str, size: int) -> Iterator[bytes]:
    """Request bodies of `size` events, walking the round in order, a new replica after each pass:
    a client's candidates see their events in the order the ATS sent them."""
    replica, index = 0, 0
    while True:
        chunk = []
        for _ in range(size):
            chunk.append(templates[index].replace(PLACEHOLDER, f"{prefix}x{replica}"))
            index += 1
            if index == len(templates):
                replica, index = replica + 1, 0
        yield (chunk[0] if size == 1 else '{"events":[' + ",".join(chunk) + "]}").encode()


# --- the load generator -------------------------------------------------------------------------------

@dataclass
class Measurement:
    events: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def drive(port: int, headers: dict[str, str], streams: list[Iterator[bytes]], size: int,
          duration: float) -> Measurement:
    """One client thread per stream, each on its own HTTP connection (http.client reopens it when
    gunicorn's sync worker closes it), posting back to back until `duration` has passed."""
    result = Measurement()
    lock = threading.Lock()
    barrier = threading.Barrier(len(streams) + 1)
    bounds: dict[str, float] = {}

    def client(stream: Iterator[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        barrier.wait()
        while time.perf_counter() < bounds["deadline"]:
            body = next(stream)
            started = time.perf_counter()
            conn.request("POST", "/api/v1/events", body, headers)
            response = conn.getresponse()
            text = response.read()
            took = time.perf_counter() - started
            with lock:
                result.statuses[response.status] += 1
                if response.status in SUCCESS:
                    result.events += size
                    result.latencies.append(took)
                elif not result.first_error:
                    result.first_error = f"{response.status}: {text[:300]!r}"
        conn.close()

    threads = [threading.Thread(target=client, args=(s,)) for s in streams]
    for thread in threads:
        thread.start()
    bounds["deadline"] = time.perf_counter() + duration
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - started
    return result


# --- profiling ----------------------------------------------------------------------------------------

def py_spy(server: Server, seconds: float, output: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy")
    if exe is None:
        print("  (py-spy not found on PATH: no profile)")
        return None
    return subprocess.Popen([exe, "record", "--pid", str(server.process.pid), "--subprocesses", "--nonblocking",
                             "--rate", "200", "--function", "--duration", str(max(1, int(seconds))), "--format", "raw",
                             "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def hotspots(raw: Path, top: int = 20) -> str:
    """Self time per function and inclusive time per project function, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            if "plugin/" in frame or "bench/" in frame:
                inclusive[frame] += samples
    if not total:
        return "  (no samples)"
    lines = [f"  {total} samples; self time:"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("  inclusive time, project functions:")
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


# --- the run ------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve-bare", nargs=2, metavar=("BIND", "DSN"), help=argparse.SUPPRESS)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432"),
                        help="server URL (no database)")
    parser.add_argument("--database", default="bench_h5", help="scratch database (created, then dropped)")
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/5"),
                        help="a Redis database of the bench's own: it is flushed")
    parser.add_argument("--app-root", type=Path, default=REPO, help="checkout whose `plugin` is served")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1,100", help="events a request, comma separated")
    parser.add_argument("--profile", type=Path, help="folder for py-spy profiles of the real app (run 1)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    app_root = args.app_root.resolve()
    sys.path.insert(0, str(app_root))
    if args.serve_bare:
        serve_bare(*args.serve_bare)
        return

    import redis

    options = web_defaults()
    sizes = [int(s) for s in args.sizes.split(",")]
    url = create_scratch(args.postgres, args.database)
    redis.Redis.from_url(args.redis).flushdb()
    scratch = Path(tempfile.mkdtemp(prefix="bench-ingest-"))  # logs and the instance folder
    servers: list[Server] = []
    try:
        key = prepare_app_database(url)
        env = {**os.environ, "PYTHONPATH": str(app_root), "GHOSTLESS_DATABASE_URL": url,
               "GHOSTLESS_REDIS_URL": args.redis, "GHOSTLESS_INSTANCE_DIR": str(scratch / "instance"),
               "GHOSTLESS_SECRET_KEY": secrets.token_urlsafe(48)}
        real_port, bare_port = free_port(), free_port()
        real = start("ghostless", [sys.executable, "-c", "from plugin.cli import main; main()", "web",
                                   "--bind", f"127.0.0.1:{real_port}"],
                     env, scratch / "ghostless.log", real_port)
        servers.append(real)
        bare = start("bare", [sys.executable, str(Path(__file__).resolve()), "--app-root", str(app_root),
                              "--serve-bare", f"127.0.0.1:{bare_port}", url],
                     env, scratch / "bare.log", bare_port)
        servers.append(bare)
        threads = f"{options['threads']} threads each" if "threads" in options else "sync"
        print(f"app: {app_root} ({git_describe(app_root)}); gunicorn as `ghostless web` for both: "
              f"{options['workers']} workers, {threads}, access log on; {args.clients} clients, "
              f"{args.duration:g} s a measurement, {args.runs} runs, "
              "interleaved; median reported")
        print("No RQ worker runs: the figure is the acknowledgement (200/202), not the events applied behind it.")
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        templates = event_templates()
        results: dict[tuple[int, str], list[Measurement]] = {}
        warm = 0
        for server in (real, bare):  # one untimed second each: imports, connections, caches
            drive(server.port, headers, [bodies(templates, f"w{warm}c{c}", 1) for c in range(args.clients)], 1, 1.0)
            warm += 1
        for run in range(1, args.runs + 1):
            for size in sizes:
                order = (real, bare) if run % 2 else (bare, real)
                for server in order:
                    streams = [bodies(templates, f"r{run}s{size}{server.name[0]}c{c}", size)
                               for c in range(args.clients)]
                    spy = None
                    if args.profile and server is real and run == 1:
                        args.profile.mkdir(parents=True, exist_ok=True)
                        spy = py_spy(real, args.duration, args.profile / f"ingest-{size}.txt")
                    m = drive(server.port, headers, streams, size, args.duration)
                    if spy is not None:
                        spy.wait(60)
                    results.setdefault((size, server.name), []).append(m)
                    print(f"  run {run} {size:>3}/request {server.name:<9} {m.rate:9.1f} events/s  "
                          f"p50 {1000 * m.percentile(0.5):8.1f} ms  p99 {1000 * m.percentile(0.99):8.1f} ms  "
                          f"{dict(m.statuses)}" + (f"  first error {m.first_error}" if m.first_error else ""),
                          flush=True)
        report(results, sizes, args.runs)
        if args.profile:
            for size in sizes:
                raw = args.profile / f"ingest-{size}.txt"
                if raw.exists():
                    print(f"\nHotspots, {size} event(s) a request ({raw}):\n{hotspots(raw)}")
    finally:
        for server in servers:
            server.stop()
        redis.Redis.from_url(args.redis).flushdb()
        if args.keep:
            print(f"kept database {args.database}; logs in {scratch}")
        else:
            drop_scratch(args.postgres, args.database)
            shutil.rmtree(scratch, ignore_errors=True)


def git_describe(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%h"], capture_output=True, text=True)
    return done.stdout.strip() or "not a git checkout"


def report(results: dict[tuple[int, str], list[Measurement]], sizes: list[int], runs: int) -> None:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    print(f"\n{'events a request':>16} {'server':<9} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8}  (median of {runs})")
    for size in sizes:
        for name in ("ghostless", "bare"):
            ms = results[(size, name)]
            print(f"{size:>16} {name:<9} {med([m.rate for m in ms]):9.1f} "
                  f"{med([1000 * m.percentile(0.5) for m in ms]):8.1f} {med([1000 * m.percentile(0.99) for m in ms]):8.1f}")
    print("\nGoals (issue 14), each the median of the per-run ratios (ghostless vs bare, measured side by side):")
    for size in sizes:
        pairs = list(zip(results[(size, "ghostless")], results[(size, "bare")]))
        rate = med([g.rate / b.rate for g, b in pairs if b.rate])
        p99 = med([g.percentile(0.99) / b.percentile(0.99) for g, b in pairs])
        print(f"  {size:>3} a request: events/s {100 * rate:6.1f}% of bare (goal >= {100 * GOAL_RATE:.0f}%: "
              f"{'met' if rate >= GOAL_RATE else 'NOT met'}); p99 {p99:6.1f}x bare "
              f"(goal < {GOAL_P99:.0f}x: {'met' if p99 < GOAL_P99 else 'NOT met'})")


if __name__ == "__main__":
    main()
