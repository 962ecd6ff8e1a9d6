"""`ghostless demo`: a whole hiring round, weeks long, through the real API, sweep, queue and worker.

1. A fresh embedded instance in <instance>/demo (SQLite, embedded Redis, .eml outbox), wiped first.
   With --sendgrid-standin, mail goes through the real SendGrid client to the local SendGrid stand-in
   (plugin/devtools) on a free port instead of the outbox; it checks every request against SendGrid's
   contract and lives as long as the demo.
2. The organisation from the round file and an API key.
3. A simulated clock jumps from one interesting instant to the next (an event's occurred_at, or the
   next deadline action the ledger has stored); at each stop the due events are POSTed to
   /api/v1/events, one sweep tick runs, and an RQ worker drains the queue.
4. A summary (with the stand-in: what SendGrid would have received), then (unless --no-serve) the app
   is served with the clock left at the round's end.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import event, func, select

from plugin import clock, create_app, runtime
from plugin.accounts.orgs import create_organization
from plugin.accounts.users import create_user
from plugin.cli import common
from plugin.db import Database
from plugin.migrate import upgrade
from plugin.models import (
    Application,
    Interview,
    InterviewStatus,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    ObligationState,
    Role,
)
from plugin.processes import InProcessBurstWorker, serve, sweep_once
from plugin.reports import outcomes
from plugin.settings import Settings

if TYPE_CHECKING:
    from plugin.devtools.sendgrid_standin import SendGridStandIn

# A dummy key; the stand-in accepts no other, as SendGrid refuses a revoked one.
DEMO_SENDGRID_KEY = "SG.demo"


def default_round_file() -> Path:
    package = Path(__file__).resolve().parent.parent  # .../plugin (the wheel holds plugin/examples)
    for candidate in (package / "examples" / "demo" / "round.json",
                      package.parent / "examples" / "demo" / "round.json"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("examples/demo/round.json is missing from this installation")


def run_demo(settings: Settings, *, serve: bool = True, round_file: str | None = None, port: int = 5000,
             out: Any = None, sendgrid_standin: bool = False) -> int:
    out = out or sys.stdout
    path = Path(round_file) if round_file else default_round_file()
    script = json.loads(path.read_text())
    demo_dir = settings.instance_dir / "demo"
    if demo_dir.exists():
        shutil.rmtree(demo_dir)
    with _sendgrid_standin(sendgrid_standin) as standin:
        demo_settings = Settings(instance_dir=demo_dir, secret_key=settings.secret_key, base_url=settings.base_url,
                                 log_level="WARNING")
        if standin is not None:  # a SendGrid key is what makes the runtime pick the SendGrid provider
            demo_settings = demo_settings.with_overrides(sendgrid_api_key=DEMO_SENDGRID_KEY,
                                                         sendgrid_host=standin.url)
        rt = runtime.build(demo_settings)
        runtime.install(rt)
        try:
            _commits_without_fsync(rt.db)
            upgrade(rt.db)
            summary = play(rt, script, out)
            _print_summary(summary, rt, out, standin)
            if serve:
                print(f"\nAPI key for the demo organisation: {summary['api_key']}", file=out)
                print(f"Dashboard: http://127.0.0.1:{port}/dashboard/ (the clock stays at the round's end)",
                      file=out)
                for email, password, role in summary["sign_ins"]:
                    print(f"  sign in as {email} with password {password}  [{role}]", file=out)
                _serve(rt, port)
        finally:
            rt.close()
    return 0


def _commits_without_fsync(db: Database) -> None:
    """The demo's SQLite file is thrown away at the next run, so its commits need not wait for the disk:
    in WAL mode, synchronous=NORMAL syncs at checkpoints only and the file stays consistent after any
    crash (a power cut may lose the last commits). About 7,000 commits a round, 0.3 ms of fsync each on
    an idle disk and far more on a busy one. Installs keep the default (FULL): a sent message whose
    record a crash undid could be sent again."""
    if db.is_sqlite:
        event.listen(db.engine, "connect", lambda dbapi_connection, _record:
                     dbapi_connection.execute("PRAGMA synchronous=NORMAL"))


class _Worker:
    """One in-process RQ worker for the whole round, drained after each POST and each sweep tick.

    A new worker a drain would register, clean RQ's registries and unregister 400 times a round. RQ
    installs its SIGINT/SIGTERM handlers in each drain: the previous ones come back after it, so a
    Ctrl-C during a sweep is a KeyboardInterrupt, not RQ's stop request raised inside the sweep; one
    that came during a job (RQ's warm stop: the job finishes) ends the demo too, instead of leaving a
    worker that would skip every later drain."""

    def __init__(self, rt: runtime.Runtime) -> None:
        self._rt = rt
        self._worker = InProcessBurstWorker([rt.queue], connection=rt.redis)

    def drain(self) -> None:
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._worker.work(burst=True, logging_level=self._rt.settings.log_level, with_scheduler=False)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self._worker._stop_requested:
            raise KeyboardInterrupt


@contextmanager
def _sendgrid_standin(wanted: bool) -> Iterator[SendGridStandIn | None]:
    """The local SendGrid stand-in on a free port for the whole demo (serving included), or None."""
    if not wanted:
        yield None
        return
    # Imported here: jsonschema and the contract are only needed when the flag is given.
    from plugin.devtools.sendgrid_standin import SendGridStandIn, local_proxy_bypass

    with local_proxy_bypass(), SendGridStandIn(api_key=DEMO_SENDGRID_KEY) as standin:
        yield standin


def play(rt: runtime.Runtime, script: dict[str, Any], out: Any) -> dict[str, Any]:
    start = datetime.fromisoformat(script["starts_at"])
    end = datetime.fromisoformat(script["runs_until"])
    events = sorted(script["events"], key=lambda e: datetime.fromisoformat(e["occurred_at"]))
    sim = clock.FrozenClock(start)
    clock.install(sim)
    spec = script["organization"]
    with rt.db.session() as session:
        org, api_key = create_organization(
            session, spec["name"], timezone=spec["timezone"], country=spec.get("country"),
            subdivision=spec.get("subdivision"), now=sim.now(), sender_name=spec.get("sender_name"),
            sender_email=spec.get("sender_email"), escalation_email=spec.get("escalation_email"),
        )
        org_name = org.name
        sign_ins = _demo_users(session, org, sim.now())
        session.commit()
    client = create_app(runtime=rt).test_client()
    worker = _Worker(rt)
    headers = {"Authorization": f"Bearer {api_key}"}
    print(f"Playing {len(events)} events for {org_name} from {start:%a %d %b %Y} to {end:%a %d %b %Y}...", file=out)

    # A job-level policy set as an admin would (through the API) once its time has come and the job exists.
    policy_changes = sorted(script.get("policy_changes", []), key=lambda c: datetime.fromisoformat(c["at"]))
    index, steps, last_week = 0, 0, None
    while True:
        now = sim.now()
        batch = []
        while index < len(events) and datetime.fromisoformat(events[index]["occurred_at"]) <= now:
            batch.append(events[index])
            index += 1
        if batch:
            response = client.post("/api/v1/events", json={"events": batch}, headers=headers)
            if response.status_code != 202:
                raise RuntimeError(f"the demo round was refused: {response.status_code} {response.get_json()}")
            worker.drain()  # the batch's job applies it before the sweep looks
        policy_changes = _apply_policy_changes(client, headers, policy_changes, now)
        sweep_once(rt, now)
        if rt.queue.count:
            worker.drain()
        steps += 1
        week = now.isocalendar()[1]
        if week != last_week:
            print(f"  {now.astimezone(start.tzinfo):%a %d %b}: {index}/{len(events)} events played", file=out)
            last_week = week
        upcoming = _next_instant(rt, events[index]["occurred_at"] if index < len(events) else None, now)
        if upcoming is None or upcoming > end:
            break
        sim.set(upcoming)
    return {"api_key": api_key, "steps": steps, "end": sim.now(), "events": len(events), "sign_ins": sign_ins}


def _apply_policy_changes(client: Any, headers: dict[str, str], pending: list[dict[str, Any]],
                          now: datetime) -> list[dict[str, Any]]:
    waiting = []
    for change in pending:
        if datetime.fromisoformat(change["at"]) > now:
            waiting.append(change)
            continue
        response = client.put(f"/api/v1/policies/jobs/{change['job']}", json=change["policy"], headers=headers)
        if response.status_code == 404:
            waiting.append(change)  # the job has not appeared yet (or never will, in a trimmed round)
        elif response.status_code != 200:
            raise RuntimeError(f"the demo policy change was refused: {response.status_code} {response.get_json()}")
    return waiting


def _demo_users(session: Any, org: Any, now: datetime) -> list[tuple[str, str, str]]:
    """An admin and an Engineering manager for the dashboard, with fresh passwords (printed once)."""
    domain = (org.sender_email or "demo@ghostless.example").rpartition("@")[2]
    created = []
    for email, role, departments in ((f"admin@{domain}", Role.ADMIN, ()),
                                     (f"manager@{domain}", Role.MANAGER, ("Engineering",))):
        password = secrets.token_urlsafe(12)
        create_user(session, org, email, role, password=password, now=now, departments=departments,
                    random_password=True)
        created.append((email, password, role.value + (f" ({', '.join(departments)})" if departments else "")))
    return created


def _next_instant(rt: runtime.Runtime, next_event: str | None, now: datetime) -> datetime | None:
    """The earliest future instant at which something happens: an event, a rung, a message, an interview end.
    One statement of three subqueries: it runs at every stop of the clock."""
    earliest = (
        select(func.min(Obligation.next_action_at)).where(Obligation.next_action_at > now),
        select(func.min(Notification.scheduled_for))
        .where(Notification.state == NotificationState.SCHEDULED, Notification.scheduled_for > now),
        select(func.min(Interview.ends_at))
        .where(Interview.status == InterviewStatus.SCHEDULED, Interview.obligation_opened_at.is_(None),
               Interview.ends_at > now),
    )
    with rt.db.session() as session:
        candidates = list(session.execute(select(*(q.scalar_subquery() for q in earliest))).one())
    if next_event is not None:
        candidates.append(datetime.fromisoformat(next_event))
    future = [c for c in candidates if c is not None and c > now]
    return min(future) if future else None


def summarize(rt: runtime.Runtime) -> dict[str, Any]:
    """The round's numbers as of the demo clock; on time and missed as the dashboard counts them."""
    with rt.db.session() as session:
        interviewed = session.scalar(select(func.count()).select_from(Application)
                                     .where(Application.first_interview_ended_at.is_not(None))) or 0
        by_kind = Counter(
            {kind.value: count for kind, count in session.execute(
                select(Notification.kind, func.count()).where(Notification.state == NotificationState.SENT)
                .group_by(Notification.kind))}
        )
        counted = outcomes.tally(session, clock.now())
        autopilot = session.scalar(select(func.count()).select_from(Obligation)
                                   .where(Obligation.autopilot_stepped_in.is_(True))) or 0
        still_open = session.scalar(select(func.count()).select_from(Obligation)
                                    .where(Obligation.state == ObligationState.OPEN)) or 0
    return {"interviewed": interviewed, "messages": by_kind, "on_time": counted.on_time, "missed": counted.missed,
            "rate": counted.rate, "autopilot": autopilot, "open": still_open}


def summarize_standin(standin: SendGridStandIn) -> dict[str, int]:
    """What the stand-in received: requests, messages in them (one per personalization), refusals."""
    bodies = [body if isinstance(body, dict) else {} for _headers, body in standin.requests]
    closing = [b for b in bodies if (b.get("custom_args") or {}).get("kind") == NotificationKind.JOB_CLOSED.value]
    return {
        "requests": len(bodies),
        "messages": sum(len(b.get("personalizations") or []) for b in bodies),
        "violations": len(standin.contract_violations),
        "closing_requests": len(closing),
        "closing_messages": sum(len(b.get("personalizations") or []) for b in closing),
    }


def _print_summary(played: dict[str, Any], rt: runtime.Runtime, out: Any,
                   standin: SendGridStandIn | None = None) -> None:
    s = summarize(rt)
    rate = f"{100 * s['rate']:.1f}%" if s["rate"] is not None else "n/a"
    print("\nSummary", file=out)
    print(f"  events played:           {played['events']} (clock stopped {played['steps']} times)", file=out)
    print(f"  candidates interviewed:  {s['interviewed']}", file=out)
    print(f"  messages sent:           {sum(s['messages'].values())}", file=out)
    for kind, count in sorted(s["messages"].items()):
        print(f"    {kind:<26}{count}", file=out)
    counted = s["on_time"] + s["missed"]
    print(f"  on-time rate:            {rate} ({s['on_time']} of {counted} cycles answered or past their deadline)",
          file=out)
    print(f"  autopilot stepped in:    {s['autopilot']} times", file=out)
    print(f"  deadlines missed:        {s['missed']}", file=out)
    print(f"  still waiting:           {s['open']} open obligations at the end of the round", file=out)
    if standin is None:
        print(f"  outbox:                  {rt.settings.resolved_outbox_dir.resolve()}", file=out)
        return
    g = summarize_standin(standin)
    print(f"  SendGrid stand-in:       {standin.url} (real SendGrid client, key {DEMO_SENDGRID_KEY})", file=out)
    print(f"    requests received       {g['requests']}", file=out)
    print(f"    messages in them        {g['messages']} (personalizations)", file=out)
    print(f"    contract violations     {g['violations']}", file=out)
    for violation in standin.contract_violations[:5]:
        print(f"      {violation}", file=out)
    print(f"    closing-notice requests {g['closing_requests']} ({g['closing_messages']} notices)", file=out)


def _serve(rt: runtime.Runtime, port: int) -> None:
    serve(rt, "127.0.0.1", port)


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="Stop after the summary")
@click.option("--round", "round_file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Replay this file instead of examples/demo/round.json")
@click.option("--port", default=5000, show_default=True)
@click.option("--sendgrid-standin", is_flag=True,
              help="Send through the real SendGrid client to a local SendGrid stand-in (checks every "
                   "request against SendGrid's contract) instead of writing .eml files")
def demo_command(no_serve: bool, round_file: str | None, port: int, sendgrid_standin: bool) -> None:
    """Play a realistic hiring round through the real API, queue and worker, then serve it."""
    sys.exit(run_demo(common.settings(), serve=not no_serve, round_file=round_file, port=port,
                      sendgrid_standin=sendgrid_standin))
