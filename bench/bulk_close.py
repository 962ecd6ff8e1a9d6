"""Bulk close (issue 14): `job.closed` for a job with 10,000 interviewed candidates, and a hiring freeze
(50 jobs of 200 closed in one batch), through the real app, sweep, RQ worker and SendGrid client.

    python bench/bulk_close.py [--database bench_bulk_close] [--redis-db 2] [--runs 3] [--profile DIR]

(GHOSTLESS_BENCH_SERVER_URL names the PostgreSQL server, default postgresql://postgres@127.0.0.1:5432/.)

What it measures, per scenario, each the median of `--runs` interleaved runs:
- request: POST /api/v1/events with the job.closed batch (flask test client, the real app);
- fan-out: from the request's answer until every candidate has a scheduled closing notice (the
  worker applying the batch if the API queued it, then sweep ticks until no job has a cursor left);
- send: from the moment the hold ends until every notice has been handed to the provider (a sweep
  tick in this process, then a real RQ worker, a subprocess with forking work horses, sending through
  the real sendgrid client to the local SendGrid stand-in, which checks SendGrid's contract);
- provider requests, and the worker's peak RSS (its own VmHWM and its work horses' maxrss);
- bare: the same hand-off written by hand in bulk SQL (one claiming UPDATE ... RETURNING, one request
  per 1,000 built as plain JSON, one UPDATE and one multi-row audit INSERT per request), the floor
  the send is compared with.

Time is virtual and shared with the worker through a file (an offset to the real clock), so the hold
ends inside the candidates' send window whatever the hour the bench runs at.

The scratch database is created by this script, marked, and dropped at the end (`--keep` keeps it);
a database of that name without the mark is refused, never dropped (bench/scratch_database.py). Redis db
`--redis-db` is flushed before each run: give the bench a db nobody else uses.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import scratch_database  # noqa: E402
from rq.exceptions import StopRequested  # noqa: E402

from plugin import clock, create_app, runtime  # noqa: E402
from plugin.accounts.orgs import create_organization  # noqa: E402
from plugin.db import Base  # noqa: E402
from plugin.migrate import upgrade  # noqa: E402
from plugin.models import (  # noqa: E402
    Application,
    AuditEntry,
    Candidate,
    Interview,
    Job,
    JobStatus,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
)
from plugin.processes import run_worker  # noqa: E402
from plugin.settings import Settings  # noqa: E402

INTERVIEWS_ENDED = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)  # Mon 10:00 New York
CLOSED_AT = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)  # Tue 10:00 New York: every window below is open
TIMEZONES = ("America/New_York", "America/Chicago", "Europe/London")  # windows open 15:00-17:00 UTC
SECRET = "bench-bulk-close-secret-key-0123456789-abcdefghijklmnop"
GOAL_REQUEST_S, GOAL_SEND_S, GOAL_RSS_MB = 1.0, 60.0, 200.0


# -- the clock the bench and its worker share ------------------------------------------------------

class FileOffsetClock:
    """Real time plus an offset read from a file, re-read when the file changes: the bench moves
    the worker's clock (to the end of the hold) without restarting it."""

    def __init__(self, path: Path) -> None:
        self.path, self._mtime, self._offset = path, -1, timedelta(0)

    def now(self) -> datetime:
        mtime = self.path.stat().st_mtime_ns
        if mtime != self._mtime:
            self._mtime, self._offset = mtime, timedelta(seconds=float(self.path.read_text()))
        return datetime.now(UTC) + self._offset

    def set(self, at: datetime) -> None:
        self.path.write_text(repr((at - datetime.now(UTC)).total_seconds()))
        os.utime(self.path, ns=(time.time_ns(), max(time.time_ns(), self._mtime + 1)))


def worker_main(offset_file: str, profile: str | None) -> None:
    """`--worker`: an RQ worker on the bench's clock (forking work horses, as `ghostless worker`)."""
    clock.install(FileOffsetClock(Path(offset_file)))
    rt = runtime.build(Settings.from_env())
    runtime.install(rt)
    profiler = cProfile.Profile() if profile else None
    try:
        if profiler:  # in-process jobs, so one profile holds them all
            profiler.enable()
            run_worker(rt, burst=False, simple=True)
        else:
            run_worker(rt, burst=False)
    except StopRequested:
        pass
    finally:
        if profiler and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        # The peak RSS of this worker and of its work horses. Not wait4's figure for this process:
        # Linux carries a process's high-water mark across exec, so it would report the bench that
        # forked it. VmHWM is this process's own since exec; a horse's maxrss is its own since its fork.
        hwm = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                   if line.startswith("VmHWM:"))
        horses = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        Path(offset_file).with_suffix(".rss").write_text(json.dumps({"worker_kb": hwm, "horses_kb": horses}))


# -- one run -----------------------------------------------------------------------------------------

@dataclass
class Scenario:
    name: str
    jobs: int
    per_job: int

    @property
    def count(self) -> int:
        return self.jobs * self.per_job


@dataclass
class Result:
    seed_s: float = 0.0
    request_s: float = 0.0
    fanout_s: float = 0.0
    send_s: float = 0.0
    bare_s: float = 0.0
    requests: int = 0
    personalizations: int = 0
    rss_mb: float = 0.0
    violations: int = 0
    status: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def reset(rt: runtime.Runtime) -> None:
    with rt.db.engine.begin() as conn:
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    rt.redis.flushdb()


def seed(rt: runtime.Runtime, scenario: Scenario, bench_clock: FileOffsetClock) -> tuple[str, str]:
    """One application per job through the real API and ledger, then cloned in bulk SQL (the same
    columns the ledger writes, new ids and external ids), so the rows look like the ledger's."""
    bench_clock.set(INTERVIEWS_ENDED + timedelta(minutes=5))
    with rt.db.session() as session:
        org, key = create_organization(session, "Bench", timezone="America/New_York", country="US",
                                       subdivision=None, now=clock.now(), sender_name="Bench Talent",
                                       sender_email="talent@bench.example", escalation_email="ops@bench.example")
        org.policy = {"next_steps": False}  # the thank-you mail is not what this bench looks at
        org_id = org.id
    client = create_app(runtime=rt).test_client()
    headers = {"Authorization": f"Bearer {key}"}
    events = [{
        "id": f"seed-{j}", "type": "interview.completed", "occurred_at": INTERVIEWS_ENDED.isoformat(),
        "candidate": {"id": f"c-{j}-0", "name": f"Candidate {j}-0", "email": f"c-{j}-0@example.com",
                      "locale": "en", "timezone": TIMEZONES[0]},
        "job": {"id": f"j-{j}", "title": f"Engineer {j}", "department": "Engineering",
                "hiring_manager": {"name": "Grace Hopper", "email": "grace@bench.example"},
                "recruiter": {"name": "Alan Turing", "email": "alan@bench.example"}},
        "application": {"id": f"a-{j}-0"},
        "interview": {"id": f"i-{j}-0", "ends_at": INTERVIEWS_ENDED.isoformat(), "stage": "Onsite"},
    } for j in range(scenario.jobs)]
    answer = client.post("/api/v1/events", json={"events": events}, headers=headers)
    assert answer.status_code in (200, 202), answer.get_json()
    with rt.db.session() as session:
        applied = session.scalar(select(func.count()).select_from(Application))
    if applied < scenario.jobs:  # the API stored the batch for a job to apply
        run_worker(rt, burst=True, simple=True)
    with rt.db.engine.begin() as conn:
        for j in range(scenario.jobs):
            _clone(conn, org_id, j, scenario.per_job - 1)
    return org_id, key


def _clone(conn: Any, org_id: str, job: int, copies: int) -> None:
    def row(model: Any, **where: Any) -> dict[str, Any]:
        found = conn.execute(select(model.__table__).filter_by(org_id=org_id, **where)).mappings().one()
        return {k: v for k, v in found.items() if k != "id"}

    candidate = row(Candidate, external_id=f"c-{job}-0")
    app = row(Application, external_id=f"a-{job}-0")
    interview = row(Interview, external_id=f"i-{job}-0")
    obligation = conn.execute(select(Obligation.__table__).where(
        Obligation.application_id == select(Application.id).filter_by(org_id=org_id, external_id=f"a-{job}-0")
        .scalar_subquery())).mappings().one()
    obligation = {k: v for k, v in obligation.items() if k != "id"}
    rng = range(1, copies + 1)
    cand_ids = conn.execute(insert(Candidate).returning(Candidate.id, sort_by_parameter_order=True), [
        {**candidate, "external_id": f"c-{job}-{i}", "name": f"Candidate {job}-{i}",
         "email": f"c-{job}-{i}@example.com", "timezone": TIMEZONES[i % len(TIMEZONES)]} for i in rng]).scalars().all()
    app_ids = conn.execute(insert(Application).returning(Application.id, sort_by_parameter_order=True), [
        {**app, "external_id": f"a-{job}-{i}", "candidate_id": c} for i, c in zip(rng, cand_ids)]).scalars().all()
    conn.execute(insert(Interview), [{**interview, "external_id": f"i-{job}-{i}", "application_id": a}
                                     for i, a in zip(rng, app_ids)])
    conn.execute(insert(Obligation), [{**obligation, "application_id": a} for a in app_ids])


def start_worker(env: dict[str, str], offset_file: Path, profile: str | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, str(Path(__file__).resolve()), "--worker", str(offset_file)]
    if profile:
        args += ["--worker-profile", profile]
    log = open(offset_file.with_suffix(".worker.log"), "ab")  # noqa: SIM115 - the worker's for its life
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_worker(proc: subprocess.Popen[bytes], offset_file: Path) -> float:
    """Warm stop (SIGTERM), then the peak RSS of the worker and its work horses, in MB (the worker
    writes them as it ends)."""
    report = offset_file.with_suffix(".rss")
    report.unlink(missing_ok=True)
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    figures = json.loads(report.read_text())
    return max(figures["worker_kb"], figures["horses_kb"]) / 1024


def closed_jobs_done(rt: runtime.Runtime, jobs: int) -> bool:
    with rt.db.session() as session:
        closed = session.scalar(select(func.count()).select_from(Job).where(Job.status == JobStatus.CLOSED))
        fanning = session.scalar(select(func.count()).select_from(Job).where(Job.closing_fanout_after.is_not(None)))
    return closed == jobs and fanning == 0


def notices(rt: runtime.Runtime) -> dict[str, int]:
    with rt.db.session() as session:
        rows = session.execute(select(Notification.state, func.count()).where(
            Notification.kind == NotificationKind.JOB_CLOSED).group_by(Notification.state)).all()
    return {state.value: n for state, n in rows}


def run_once(rt: runtime.Runtime, scenario: Scenario, env: dict[str, str], bench_clock: FileOffsetClock,
             offset_file: Path, standin: Any, profile_dir: Path | None, run: int) -> Result:
    from plugin.processes import sweep_once

    result = Result()
    reset(rt)
    standin.reset()
    started = time.perf_counter()
    _, key = seed(rt, scenario, bench_clock)
    result.seed_s = time.perf_counter() - started
    tag = f"{scenario.name}-{run}"
    worker = start_worker(env, offset_file, str(profile_dir / f"worker-{tag}.prof") if profile_dir else None)
    try:
        client = create_app(runtime=rt).test_client()
        bench_clock.set(CLOSED_AT)
        body = {"events": [{"id": f"close-{j}", "type": "job.closed", "occurred_at": CLOSED_AT.isoformat(),
                            "job": {"id": f"j-{j}", "title": f"Engineer {j}"}} for j in range(scenario.jobs)]}
        headers = {"Authorization": f"Bearer {key}"}
        profiler = cProfile.Profile() if profile_dir else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        answer = client.post("/api/v1/events", json=body, headers=headers)
        result.request_s = time.perf_counter() - started
        result.status = answer.status_code
        assert answer.status_code in (200, 202), answer.get_data(as_text=True)[:500]
        while not closed_jobs_done(rt, scenario.jobs):  # the worker applies a queued batch; sweeps fan out
            sweep_once(rt)
            time.sleep(0.02)
        result.fanout_s = time.perf_counter() - started
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile_dir / f"close-{tag}.prof"))
        counts = notices(rt)
        assert counts == {"scheduled": scenario.count}, counts
        with rt.db.session() as session:
            hold_end = session.scalar(select(func.max(Notification.scheduled_for)))
        bench_clock.set(hold_end)
        started = time.perf_counter()
        sweep_once(rt)
        while notices(rt).get("sent", 0) + notices(rt).get("failed", 0) < scenario.count:
            if worker.poll() is not None:
                raise SystemExit(f"the worker stopped (see {offset_file.with_suffix('.worker.log')})")
            if time.perf_counter() - started > 900:
                raise SystemExit(f"not all sent after 900 s: {notices(rt)}")
            time.sleep(0.05)
        result.send_s = time.perf_counter() - started
        result.extra["states"] = notices(rt)
    finally:
        result.rss_mb = stop_worker(worker, offset_file)
    bodies = [b for _, b in standin.requests if (b or {}).get("categories") == ["job_closed"]]
    result.requests = len(bodies)
    result.personalizations = sum(len(b["personalizations"]) for b in bodies)
    result.violations = len(standin.contract_violations)
    result.bare_s = bare_hand_off(rt, standin.url)
    return result


def bare_hand_off(rt: runtime.Runtime, url: str) -> float:
    """The floor: the same hand-off as bulk SQL and hand-built JSON, 1,000 recipients a request."""
    started = time.perf_counter()
    with rt.db.engine.begin() as conn:
        rows = conn.execute(update(Notification).where(Notification.kind == NotificationKind.JOB_CLOSED)
                            .values(state=NotificationState.SENDING)
                            .returning(Notification.id, Notification.org_id, Notification.recipient_email,
                                       Notification.recipient_name, Notification.subject,
                                       Notification.body_text, Notification.body_html)).all()
    rows.sort()
    for start in range(0, len(rows), 1000):
        chunk = rows[start:start + 1000]
        first = chunk[0]
        body = {
            "from": {"email": "talent@bench.example", "name": "Bench Talent"},
            "subject": first.subject or "x",
            "content": [{"type": "text/plain", "value": first.body_text or "x"},
                        {"type": "text/html", "value": first.body_html or "x"}],
            "categories": ["bare"],
            "personalizations": [{"to": [{"email": r.recipient_email, "name": r.recipient_name or "x"}],
                                  "custom_args": {"notification_id": str(r.id)}} for r in chunk],
        }
        request = urllib.request.Request(f"{url}/v3/mail/send", data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": "Bearer SG.bench",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            message_id = answer.headers.get("X-Message-Id")
        now = clock.now()
        with rt.db.engine.begin() as conn:
            conn.execute(update(Notification).where(Notification.id.in_([r.id for r in chunk]))
                         .values(state=NotificationState.SENT, sent_at=now, provider_message_id=message_id))
            conn.execute(insert(AuditEntry), [dict(org_id=r.org_id, at=now, actor="bench", entity="notification",
                                                   entity_id=str(r.id), action="sent",
                                                   after={"message_id": message_id}) for r in chunk])
    return time.perf_counter() - started


# -- the report --------------------------------------------------------------------------------------

def median(results: list[Result], name: str) -> float:
    return statistics.median(getattr(r, name) for r in results)


def report(scenarios: list[Scenario], results: dict[str, list[Result]]) -> None:
    print()
    print(f"{'scenario':<22} {'n':>6} {'request s':>10} {'fan-out s':>10} {'send s':>8} {'bare s':>7} "
          f"{'send/bare':>9} {'requests':>8} {'RSS MB':>7}")
    for s in scenarios:
        rs = results[s.name]
        send, bare = median(rs, "send_s"), median(rs, "bare_s")
        print(f"{s.name:<22} {s.count:>6} {median(rs, 'request_s'):>10.3f} {median(rs, 'fanout_s'):>10.2f} "
              f"{send:>8.2f} {bare:>7.2f} {send / bare:>9.1f} {max(r.requests for r in rs):>8} "
              f"{max(r.rss_mb for r in rs):>7.0f}")
    print()
    print("Against the goals (median of runs; requests and RSS: the worst run):")
    for s in scenarios:
        rs = results[s.name]
        want = math.ceil(s.count / 1000)
        checks = [
            ("request < 1 s", median(rs, "request_s") < GOAL_REQUEST_S, f"{median(rs, 'request_s'):.3f} s"),
            ("sent within 60 s of the hold ending", median(rs, "send_s") < GOAL_SEND_S,
             f"{median(rs, 'send_s'):.1f} s ({median(rs, 'send_s') / median(rs, 'bare_s'):.1f}x bare SQL)"),
            (f"{want} provider requests", all(r.requests == want for r in rs),
             ", ".join(str(r.requests) for r in rs)),
            ("every notice once", all(r.personalizations == s.count for r in rs),
             ", ".join(str(r.personalizations) for r in rs)),
            ("worker peak RSS < 200 MB", all(r.rss_mb < GOAL_RSS_MB for r in rs),
             ", ".join(f"{r.rss_mb:.0f} MB" for r in rs)),
            ("no SendGrid contract violation", all(r.violations == 0 for r in rs),
             ", ".join(str(r.violations) for r in rs)),
        ]
        for label, ok, value in checks:
            print(f"  {s.name:<22} {'ok  ' if ok else 'MISS'} {label}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_bulk_close")
    parser.add_argument("--redis-db", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=10_000, help="interviewed candidates of the one job")
    parser.add_argument("--freeze", default="50x200", help="jobs x candidates closed in one batch")
    parser.add_argument("--only", choices=("one-job", "freeze"))
    parser.add_argument("--profile", type=Path, help="write cProfile files of the close and the worker here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-profile", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, args.worker_profile)
        return

    from plugin.devtools.sendgrid_standin import SendGridStandIn, local_proxy_bypass

    server = os.environ.get("GHOSTLESS_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    jobs, per_job = (int(x) for x in args.freeze.split("x"))
    scenarios = [Scenario("one job", 1, args.candidates), Scenario(f"freeze {jobs}x{per_job}", jobs, per_job)]
    if args.only:
        scenarios = [scenarios[0] if args.only == "one-job" else scenarios[1]]
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    scratch = scratch_database.create(server, args.database, script="bench/bulk_close.py")
    url = scratch.url
    tmp = Path(tempfile.mkdtemp(prefix="bench-bulk-close-"))
    offset_file = tmp / "clock.offset"
    bench_clock = FileOffsetClock(offset_file)
    bench_clock.set(INTERVIEWS_ENDED)
    clock.install(bench_clock)
    results: dict[str, list[Result]] = {s.name: [] for s in scenarios}
    try:
        with local_proxy_bypass(), SendGridStandIn(api_key="SG.bench") as standin:
            env = {**os.environ, "GHOSTLESS_DATABASE_URL": url,
                   "GHOSTLESS_REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
                   "GHOSTLESS_SENDGRID_API_KEY": "SG.bench", "GHOSTLESS_SENDGRID_HOST": standin.url,
                   "GHOSTLESS_SECRET_KEY": SECRET, "GHOSTLESS_INSTANCE_DIR": str(tmp / "instance"),
                   "GHOSTLESS_LOG_LEVEL": "WARNING"}
            rt = runtime.build(Settings.from_env(env))
            runtime.install(rt)
            upgrade(rt.db)
            print(f"database {args.database} (PostgreSQL), Redis db {args.redis_db}, worker log {tmp}")
            for run in range(args.runs):
                for s in scenarios:  # interleaved: one run of each, then the next
                    r = run_once(rt, s, env, bench_clock, offset_file, standin, args.profile, run)
                    results[s.name].append(r)
                    print(f"run {run + 1} {s.name:<16} n={s.count} seed {r.seed_s:.1f}s  status {r.status}  "
                          f"request {r.request_s:.3f}s  fan-out {r.fanout_s:.2f}s  send {r.send_s:.2f}s  "
                          f"bare {r.bare_s:.2f}s  requests {r.requests} ({r.personalizations} notices)  "
                          f"RSS {r.rss_mb:.0f} MB  {r.extra.get('states')}", flush=True)
            rt.close()
        report(scenarios, results)
    finally:
        if not args.keep:
            scratch_database.drop(scratch)


if __name__ == "__main__":
    main()
