"""Events applied to the ledger per second in one process, on PostgreSQL (issue 14's apply goal).

The mix is the demo's round (examples/demo/round.json, 268 events of one organisation) replayed at
scale: copy k renames every event, candidate, application, job and interview id with a "-k" suffix,
so the copies are independent hiring rounds of one organisation. All events are sorted by
`occurred_at` and cut into batches; each batch is applied as the API's job applies a stored batch
(one transaction: `lock_in_stable_order`, then `ledger.record_events` for the batch, then commit), with the
clock at the batch's last `occurred_at` (the demo posts what has happened by then).

Measured, each three times interleaved (the median is printed):
- validation: `load_events` on the batch's JSON (done synchronously by the API before storing);
- apply in batches of 100 and of 1,000 events;
- the bare baseline: the same events' JSON inserted into one table, one multi-row INSERT a batch.
The last line is the figure against the goal (>= 2,000 events/s).

    python bench/apply.py                 # 10,000 events, scratch database bench_h4 on 127.0.0.1
    python bench/apply.py --events 2000 --profile 1000   # and cProfile one run with batches of 1,000
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_x python bench/apply.py

    python bench/apply.py --per-event     # record_event per event (a batch of one each), for comparison
    BENCH_TREE=/tmp/old python bench/apply.py --events 2000   # an older tree (git archive), for before/after

The scratch database is created by this script, marked with a table of its own, and dropped at the
end; the script refuses to drop (or fill) a database that lacks the mark or whose name does not
start with "bench".
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
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

# BENCH_TREE: another checkout's root (e.g. `git archive HEAD~5 plugin examples`) to measure it instead.
sys.path.insert(0, os.environ.get("BENCH_TREE") or str(Path(__file__).resolve().parent.parent))

from plugin.accounts.orgs import create_organization  # noqa: E402
from plugin.db import Base, Database  # noqa: E402
from plugin.events.schemas import load_events  # noqa: E402
from plugin.events.types import CanonicalEvent  # noqa: E402
from plugin.migrate import upgrade  # noqa: E402
from plugin.sla import ledger  # noqa: E402
from plugin.sla.batch_locks import lock_in_stable_order  # noqa: E402

ROUND = Path(__file__).resolve().parent.parent / "examples" / "demo" / "round.json"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/bench_h4"
MARK = "bench_apply_scratch"  # the table that says this script created the database
GOAL = 2_000  # events/s per worker process
PER_EVENT = False  # --per-event: record_event once per event (each event a batch of one), not record_events
ACTOR = "api-key:bench"


# -- the scratch database ------------------------------------------------------------------------

def _admin_url(url: str) -> str:
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def create_scratch(url: str) -> None:
    name = make_url(url).database or ""
    if not name.startswith("bench"):
        sys.exit(f"refusing to use {name!r}: a scratch database's name starts with 'bench'")
    admin = create_engine(_admin_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    admin.dispose()
    if exists:
        drop_scratch(url)  # a previous run's, if it carries our mark (else this exits)
    admin = create_engine(_admin_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {MARK} (created_at timestamptz DEFAULT now())"))
        conn.execute(text(f"INSERT INTO {MARK} DEFAULT VALUES"))
    engine.dispose()


def _ours(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": MARK}))
    finally:
        engine.dispose()


def drop_scratch(url: str) -> None:
    name = make_url(url).database or ""
    if not name.startswith("bench") or not _ours(url):
        sys.exit(f"refusing to drop {name!r}: this script did not create it (no {MARK} table)")
    admin = create_engine(_admin_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def wipe(db: Database) -> None:
    """Empty every table between runs, so each run starts from the same state."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables}, bare_events RESTART IDENTITY CASCADE"))


# -- the mix ---------------------------------------------------------------------------------------

_ID_KEYS = {"id", "merged_into"}
_REF_KEYS = ("candidate", "job", "application", "interview")


def _renamed(event: dict[str, Any], suffix: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(event))
    for key in _ID_KEYS:
        if copy.get(key):
            copy[key] = f"{copy[key]}{suffix}"
    for ref in _REF_KEYS:
        if isinstance(copy.get(ref), dict):
            copy[ref]["id"] = f"{copy[ref]['id']}{suffix}"
            if copy[ref].get("email"):
                local, _, domain = copy[ref]["email"].partition("@")
                copy[ref]["email"] = f"{local}{suffix}@{domain}"
    return copy


def the_mix(count: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The demo's organisation and `count` events: the round copied as often as needed, by time."""
    script = json.loads(ROUND.read_text())
    events = script["events"]
    copies = -(-count // len(events))
    mixed = [_renamed(e, f"-{k}") for k in range(copies) for e in events]
    mixed.sort(key=lambda e: datetime.fromisoformat(e["occurred_at"]))  # stable: copies interleave
    return script["organization"], mixed[:count]


def batches(items: Sequence[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


# -- the measurements ----------------------------------------------------------------------------

def new_org(db: Database, spec: dict[str, Any], at: datetime) -> str:
    with db.session() as session:
        org, _ = create_organization(session, spec["name"], timezone=spec["timezone"], country=spec.get("country"),
                                     subdivision=spec.get("subdivision"), now=at,
                                     sender_name=spec.get("sender_name"), sender_email=spec.get("sender_email"),
                                     escalation_email=spec.get("escalation_email"))
        return org.id


def apply_batch(db: Database, org_id: str, events: list[CanonicalEvent], raws: list[dict[str, Any]],
                now: datetime) -> None:
    """One stored batch, as the RQ job applies it: one transaction, locks first, commit once."""
    from plugin.models import Organization

    session = db.sessionmaker()
    try:
        org = session.get(Organization, org_id)
        assert org is not None
        lock_in_stable_order(session, org.id, events)
        if PER_EVENT or not hasattr(ledger, "record_events"):  # a tree from before record_events
            for event, raw in zip(events, raws, strict=True):
                ledger.record_event(session, org, event, raw, now=now, actor=ACTOR, source="api")
        else:
            ledger.record_events(session, org, events, raws, now=now, actor=ACTOR, source="api")
        session.commit()
    finally:
        session.close()


CPU: dict[int, list[float]] = {}  # batch size -> this process's CPU seconds applying (a loaded machine's wall time lies)


def run_apply(db: Database, spec: dict[str, Any], mix: list[dict[str, Any]], size: int) -> tuple[float, float]:
    """Seconds spent validating and applying the whole mix in batches of `size` (fresh tables)."""
    wipe(db)
    start = datetime.fromisoformat(mix[0]["occurred_at"]) - timedelta(days=1)
    org_id = new_org(db, spec, start)
    validating = applying = cpu = 0.0
    for raws in batches(mix, size):
        began = time.perf_counter()
        events = load_events({"events": raws})
        validated, cpu_began = time.perf_counter(), time.process_time()
        apply_batch(db, org_id, events, raws, max(e.occurred_at for e in events))
        applying += time.perf_counter() - validated
        cpu += time.process_time() - cpu_began
        validating += validated - began
    CPU.setdefault(size, []).append(cpu)
    return validating, applying


def run_bare(db: Database, mix: list[dict[str, Any]], size: int) -> float:
    """The same JSON stored raw, one multi-row INSERT and one commit a batch: what storing costs."""
    wipe(db)
    began = time.perf_counter()
    for raws in batches(mix, size):
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO bare_events (event_id, body) VALUES (:id, CAST(:body AS jsonb))"),
                         [{"id": raw["id"], "body": json.dumps(raw)} for raw in raws])
    return time.perf_counter() - began


def median_of(runs: list[float]) -> float:
    return statistics.median(runs)


def profile(db: Database, spec: dict[str, Any], mix: list[dict[str, Any]], size: int, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    run_apply(db, spec, mix, size)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(f"\n-- cProfile, batches of {size}, sorted by {order} --")
        print("\n".join(out.getvalue().splitlines()[:top + 12]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="100,1000", help="batch sizes, comma-separated")
    parser.add_argument("--profile", type=int, metavar="SIZE", help="also cProfile one run with this batch size")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="leave the scratch database (for inspection)")
    parser.add_argument("--per-event", action="store_true",
                        help="call ledger.record_event for each event instead of ledger.record_events for the batch")
    args = parser.parse_args()
    global PER_EVENT
    PER_EVENT = args.per_event
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    sizes = [int(s) for s in args.sizes.split(",")]

    create_scratch(url)
    db = Database(url)
    try:
        upgrade(db)
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE bare_events (id bigserial PRIMARY KEY, event_id text NOT NULL, "
                              "body jsonb NOT NULL, UNIQUE (event_id))"))
        spec, mix = the_mix(args.events)
        print(f"PostgreSQL {url.rsplit('/', 1)[-1]}; {len(mix)} events (the demo round x "
              f"{-(-len(mix) // 268)}), batch sizes {sizes}, {args.repeat} interleaved runs each")
        validate: dict[int, list[float]] = {s: [] for s in sizes}
        apply: dict[int, list[float]] = {s: [] for s in sizes}
        bare: list[float] = []
        measures: list[Callable[[], None]] = []
        for size in sizes:
            def one(size: int = size) -> None:
                v, a = run_apply(db, spec, mix, size)
                validate[size].append(v)
                apply[size].append(a)
            measures.append(one)
        measures.append(lambda: bare.append(run_bare(db, mix, max(sizes))))
        for _ in range(args.repeat):
            for measure in measures:
                measure()
        n = len(mix)
        bare_rate = n / median_of(bare)
        print(f"\n{'work':<34} {'median s':>9} {'events/s':>10}")
        print(f"{'bare store (multi-row INSERT)':<34} {median_of(bare):>9.2f} {bare_rate:>10,.0f}")
        for size in sizes:
            v, a = median_of(validate[size]), median_of(apply[size])
            print(f"{f'validate (load_events), {size}/batch':<34} {v:>9.2f} {n / v:>10,.0f}")
            print(f"{f'apply (ledger), {size}/batch':<34} {a:>9.2f} {n / a:>10,.0f}"
                  f"   validation is {v / (v + a):.0%} of validate+apply; "
                  f"this process's CPU {median_of(CPU[size]):.2f} s, the rest is waiting for PostgreSQL")
        if args.profile:
            profile(db, spec, mix, args.profile, args.top)
        print()
        for size in sizes:
            rate = n / median_of(apply[size])
            print(f"apply, {size} events a batch: {rate:,.0f} events/s per process = {rate / GOAL:.2f}x the goal "
                  f"of {GOAL:,}/s ({rate / bare_rate:.1%} of the bare store)")
    finally:
        db.dispose()
        if not args.keep:
            drop_scratch(url)


if __name__ == "__main__":
    main()
