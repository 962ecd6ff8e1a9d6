"""A realistic hiring history for one organisation, written FAST, for the dashboard benchmark.

`seed(db, org_id, applications=50_000)` fills an organisation with ~60 jobs in 8 departments, one
candidate and one application per person spread over the last 180 days, interviews, obligations (cycle 1
for every interviewed application, more cycles after status updates), the messages around them, a few
SendGrid events and the inbound events of each application. Rows go in with bulk
`session.execute(insert(Model), [dicts])` in chunks, not through the event API: the point is the size
and shape of the tables the dashboard reads, not the behaviour that produced them (tests cover that).

The shape follows what the ledger writes (see plugin/sla/sweep.py, ledger.py):
- a breach keeps `breached_at = due_at` and a reason (forgotten / autopilot_off / undeliverable); the
  obligation stays open until someone writes, then it is discharged late;
- a status update discharges the cycle and opens the next one at the same instant (`opened_by`
  status_update); autopilot's status update sets `autopilot_stepped_in`;
- a decision (rejection, hire, job closed) discharges the last cycle; a withdrawal closes it.
Deadlines count working days Monday to Friday in the organisation's zone (no public holidays: close
enough for a benchmark) and fall at 17:00 local, like the real policy's end of day.

Run on demand (bench/dashboard_pages.py calls it); it is not part of the test suite.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugin.db import Database  # noqa: E402
from plugin.models import (  # noqa: E402
    Application,
    Candidate,
    InboundEvent,
    Interview,
    Job,
    MailEvent,
    Notification,
    Obligation,
    Organization,
)

# Mid-week, mid-morning in New York: "now" for the seeded history (the benchmark freezes the clock here).
DEFAULT_NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
HISTORY_DAYS = 180
CHUNK = 5_000

DEPARTMENTS = ("Engineering", "Product", "Design", "Sales", "Marketing", "Customer Success", "Finance", "People")
TITLES = {
    "Engineering": ("Backend Engineer", "Frontend Engineer", "Site Reliability Engineer", "Data Engineer",
                    "Engineering Manager", "Mobile Engineer", "Security Engineer", "QA Engineer"),
    "Product": ("Product Manager", "Senior Product Manager", "Product Analyst"),
    "Design": ("Product Designer", "UX Researcher", "Brand Designer"),
    "Sales": ("Account Executive", "Sales Development Representative", "Sales Engineer", "Regional Sales Lead"),
    "Marketing": ("Content Marketer", "Growth Marketer", "Product Marketing Manager"),
    "Customer Success": ("Customer Success Manager", "Support Specialist", "Implementation Consultant"),
    "Finance": ("Financial Analyst", "Accountant", "Payroll Specialist"),
    "People": ("Talent Partner", "People Operations Generalist"),
}
FIRST_NAMES = ("Ada", "Ben", "Chen", "Dana", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Kenji", "Lena",
               "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tessa", "Uma", "Victor", "Wen",
               "Ximena", "Yusuf", "Zoe", "Amara", "Bruno", "Camille", "Dmitri", "Esther", "Felix")
LAST_NAMES = ("Abbott", "Bauer", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova",
              "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Quint", "Rossi",
              "Schmidt", "Tanaka", "Urban", "Varga", "Weber", "Xu", "Yilmaz", "Zimmermann", "Andersen",
              "Becker", "Costa", "Dimitrov", "Evans", "Ferreira")
STAGES = ("Phone Screen", "Technical Interview", "Case Study", "Portfolio Review", "Onsite", "Final Interview")
REJECTION_REASONS = ("Another candidate's experience was a closer match", "Salary expectations above the range",
                     "The role was re-scoped", None, None)


@dataclass
class SeedReport:
    org_id: str
    seconds: float = 0.0
    build_seconds: float = 0.0  # of `seconds`, building the rows in Python (the rest is writing them)
    rows: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        counts = ", ".join(f"{name} {count:,}" for name, count in self.rows.items())
        return (f"seeded org {self.org_id} in {self.seconds:.1f} s ({self.build_seconds:.1f} s building rows, "
                f"{self.seconds - self.build_seconds:.1f} s inserting): {counts}")


@dataclass
class _Ids:
    """Next free primary key per table: explicit ids let children refer to parents in bulk inserts."""

    next: dict[str, int]

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


@dataclass
class _Rows:
    jobs: list[dict[str, Any]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    applications: list[dict[str, Any]] = field(default_factory=list)
    interviews: list[dict[str, Any]] = field(default_factory=list)
    obligations: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    mail_events: list[dict[str, Any]] = field(default_factory=list)
    inbound_events: list[dict[str, Any]] = field(default_factory=list)


TABLES: tuple[tuple[str, type[Any]], ...] = (
    ("jobs", Job), ("candidates", Candidate), ("applications", Application), ("interviews", Interview),
    ("obligations", Obligation), ("notifications", Notification), ("mail_events", MailEvent),
    ("inbound_events", InboundEvent),
)


def seed(db: Database, org_id: str, applications: int = 50_000, now: datetime = DEFAULT_NOW, *,
         name: str = "Benchmark Industries", random_seed: int = 5, jobs: int | None = None,
         quiet: bool = False) -> SeedReport:
    """Fill organisation `org_id` (created if missing) with `applications` applications of history."""
    started = time.perf_counter()
    rng = random.Random(f"{random_seed}:{org_id}")
    with db.session() as session:
        org = session.get(Organization, org_id)
        if org is None:
            org = Organization(id=org_id, name=name, timezone="America/New_York", holiday_country="US",
                               working_weekdays="0,1,2,3,4", policy={}, created_at=now - timedelta(days=400),
                               sender_name=f"{name} Talent", sender_email="talent@bench.example",
                               escalation_email="talent-ops@bench.example")
            session.add(org)
            session.flush()
        zone = ZoneInfo(org.timezone)
        ids = _Ids({table: (session.scalar(select(func.max(model.id))) or 0) + 1 for table, model in TABLES})
    builder = _Builder(org_id, now, zone, rng, ids)
    job_count = jobs if jobs is not None else (60 if applications >= 10_000 else max(3, applications // 170))
    builder.make_jobs(job_count)
    for _ in range(applications):
        builder.make_application()
    rows = builder.rows
    report = SeedReport(org_id, build_seconds=time.perf_counter() - started)
    with db.session() as session:
        for table, model in TABLES:
            batch: list[dict[str, Any]] = getattr(rows, table)
            for chunk in _chunks(batch, CHUNK):
                session.execute(insert(model), chunk)
            report.rows[table] = len(batch)
    if not db.is_sqlite:
        _advance_sequences(db)
    report.seconds = time.perf_counter() - started
    if not quiet:
        print(report.summary(), flush=True)
    return report


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _advance_sequences(db: Database) -> None:
    """Explicit ids do not move PostgreSQL's sequences; later ORM inserts must not collide with them."""
    with db.engine.begin() as conn:
        for table, _model in TABLES:
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"))


class _Builder:
    """Builds the rows in memory, in an order that keeps every reference consistent."""

    def __init__(self, org_id: str, now: datetime, zone: ZoneInfo, rng: random.Random, ids: _Ids) -> None:
        self.org_id, self.now, self.zone, self.rng, self.ids = org_id, now, zone, rng, ids
        self.rows = _Rows()
        self.jobs: list[dict[str, Any]] = []
        self.job_weights: list[float] = []
        self.message_number = 0

    # -- jobs -------------------------------------------------------------------------------------

    def make_jobs(self, count: int) -> None:
        rng = self.rng
        # Fewer people than jobs: several jobs share a hiring manager, recruiters cover many jobs.
        managers = [self._person(rng, "hm", n) for n in range(max(2, count * 2 // 3))]
        recruiters = [self._person(rng, "rec", n) for n in range(max(2, count // 6))]
        for n in range(count):
            department = DEPARTMENTS[n % len(DEPARTMENTS)]
            manager = managers[(n * 7) % len(managers)]
            recruiter = recruiters[n % len(recruiters)]
            closed = rng.random() < 0.15
            created = self.now - timedelta(days=rng.uniform(HISTORY_DAYS + 5, HISTORY_DAYS + 90))
            job = dict(
                id=self.ids.take("jobs"), org_id=self.org_id, external_id=f"job-{n + 100}",
                title=rng.choice(TITLES[department]), department=department,
                hiring_manager_name=manager[0], hiring_manager_email=manager[1],
                recruiter_name=recruiter[0], recruiter_email=recruiter[1],
                status="closed" if closed else "open",
                status_changed_at=self.now - timedelta(days=rng.uniform(1, 30)) if closed else None,
                # A few jobs run with autopilot off: their misses are breaches "autopilot_off".
                policy_override={"autopilot": False} if n % 9 == 4 else {},
                publicly_advertised=rng.choices((True, False, None), (70, 15, 15))[0],
                created_at=created,
            )
            self.rows.jobs.append(job)
            self.jobs.append(job)
            self.job_weights.append(rng.uniform(0.3, 3.0))  # some requisitions draw far more applicants

    @staticmethod
    def _person(rng: random.Random, role: str, n: int) -> tuple[str, str]:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        return f"{first} {last}", f"{first.lower()}.{last.lower()}.{role}{n}@bench.example"

    # -- one application and everything that follows from it -----------------------------------

    def make_application(self) -> None:
        rng, now = self.rng, self.now
        job = rng.choices(self.jobs, self.job_weights)[0]
        app_id, candidate_id = self.ids.take("applications"), self.ids.take("candidates")
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created = now - timedelta(seconds=rng.uniform(3600, HISTORY_DAYS * 86400))
        locale = rng.choices(("en", "de", "fr", "es"), (85, 6, 5, 4))[0]
        candidate = dict(
            id=candidate_id, org_id=self.org_id, external_id=f"cand-{app_id}", name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}.{app_id}@example.com", locale=locale, timezone=None,
            created_at=created,
        )
        app: dict[str, Any] = dict(
            id=app_id, org_id=self.org_id, external_id=f"app-{app_id}", candidate_id=candidate_id, job_id=job["id"],
            status="active", status_changed_at=created, stage="Application Review", stage_changed_at=created,
            decision_expected_by=None, rejection_reason=None, first_interview_ended_at=None, created_at=created,
        )
        self.rows.candidates.append(candidate)
        self.rows.applications.append(app)
        events = [self._inbound(app, candidate, job, "application.created", created)]

        first_end = self._working_hour(created + timedelta(days=rng.uniform(2, 14)))
        interviewed = rng.random() < 0.74
        if not interviewed or first_end > now:
            if interviewed:  # interview booked, not held yet: the sweep will open the obligation later
                self._interview(app, first_end, status="scheduled")
                events.append(self._inbound(app, candidate, job, "interview.scheduled", created + timedelta(hours=3)))
            elif created < now - timedelta(days=10) and rng.random() < 0.6:  # screened out, never interviewed
                app.update(status="rejected", status_changed_at=created + timedelta(days=rng.uniform(1, 9)))
                events.append(self._inbound(app, candidate, job, "application.rejected", app["status_changed_at"]))
            self.rows.inbound_events.extend(events)
            return

        app["first_interview_ended_at"] = first_end
        stage = rng.choice(STAGES)
        app.update(stage=stage, stage_changed_at=first_end - timedelta(hours=1))
        if rng.random() < 0.1:
            app["decision_expected_by"] = (first_end + timedelta(days=rng.randint(5, 12))).astimezone(self.zone).date()
        self._interview(app, first_end, status="completed", stage=stage)
        events.append(self._inbound(app, candidate, job, "interview.completed", first_end + timedelta(minutes=20)))
        fate = rng.choices(("rejected", "hired", "withdrawn", "job_closed"), (78, 8, 6, 8))[0]
        decision_at = first_end + timedelta(days=rng.uniform(1, 24))
        self._cycles(app, candidate, job, first_end, fate, decision_at)
        if app["status"] != "active":
            kind = {"rejected": "application.rejected", "hired": "application.hired",
                    "withdrawn": "application.withdrawn", "closed": "job.closed"}[app["status"]]
            events.append(self._inbound(app, candidate, job, kind, app["status_changed_at"]))
        self.rows.inbound_events.extend(events)

    def _cycles(self, app: dict[str, Any], candidate: dict[str, Any], job: dict[str, Any], first_end: datetime,
                fate: str, decision_at: datetime) -> None:
        rng, now = self.rng, self.now
        autopilot = job["policy_override"].get("autopilot", True)
        opened_at, opened_by = first_end, "interview"
        for cycle in range(1, 7):
            ob_id = self.ids.take("obligations")
            due = self._due(opened_at)
            undeliverable = rng.random() < 0.015
            behavior = rng.choices(("on_time", "autopilot", "late"), (84, 8 if autopilot else 0, 8))[0]
            if undeliverable:
                behavior = "late"  # autopilot never writes to an address that bounced: a person must act
            if behavior == "on_time":
                # Updates tend to go out in the second half of the window; next interviews anywhere.
                moment = opened_at + (due - opened_at) * rng.uniform(0.45, 0.98)
            elif behavior == "autopilot":
                moment = due - timedelta(hours=rng.uniform(2, 7))
            else:
                moment = due + timedelta(hours=rng.uniform(1, 140))
            decides = decision_at <= moment or cycle == 6
            if decides:
                moment = max(decision_at, opened_at + timedelta(minutes=30)) if decision_at <= moment else moment
            late = moment > due
            ob: dict[str, Any] = dict(
                id=ob_id, org_id=self.org_id, application_id=app["id"], cycle=cycle, state="discharged",
                opened_at=opened_at, opened_by=opened_by, anchor_at=opened_at, due_at=due, next_rung="done",
                next_action_at=None, owner_email=job["recruiter_email"], discharged_at=None, discharged_by=None,
                closed_reason=None, breached_at=None, breach_reason=None, at_risk=undeliverable,
                autopilot_stepped_in=False, version=1,
            )
            self.rows.obligations.append(ob)
            if cycle == 1:
                self._message(app, candidate, ob, "next_steps", opened_at + timedelta(minutes=2),
                              undeliverable=undeliverable)
            self._ladder(app, candidate, job, ob, until=min(moment, now))
            if moment > now:  # nothing happened yet: still open
                self._still_open(ob, job)
                return
            if late:
                ob["breached_at"] = due
                ob["breach_reason"] = "undeliverable" if undeliverable else (
                    "forgotten" if autopilot else "autopilot_off")
            if decides:
                self._decide(app, candidate, job, ob, fate, moment)
                return
            next_interview = behavior == "on_time" and rng.random() < 0.25
            ob.update(discharged_at=moment)
            if next_interview:
                ob["discharged_by"] = "next_interview"
                stage = rng.choice(STAGES)
                app.update(stage=stage, stage_changed_at=moment)
                self._interview(app, moment, status="completed", stage=stage)
                opened_at, opened_by = moment, "interview"
            elif undeliverable:
                ob["discharged_by"] = "contact"  # the recruiter phoned; the ATS reported the contact
                opened_at, opened_by = moment, "contact"
            else:
                ob["discharged_by"] = "status_update"
                ob["autopilot_stepped_in"] = behavior == "autopilot"
                self._message(app, candidate, ob, "status_update", moment, autopilot=behavior == "autopilot")
                opened_at, opened_by = moment, "status_update"

    def _still_open(self, ob: dict[str, Any], job: dict[str, Any]) -> None:
        now, due = self.now, ob["due_at"]
        ob.update(state="open")
        if now > due:  # the deadline passed: breach recorded, the ladder is done, still owed
            ob["breached_at"] = due
            if ob["breach_reason"] is None:
                autopilot = job["policy_override"].get("autopilot", True)
                ob["breach_reason"] = "undeliverable" if ob["at_risk"] else (
                    "forgotten" if autopilot else "autopilot_off")
            return
        left = due - now
        if left > timedelta(days=2):
            ob.update(next_rung="reminder_recruiter", next_action_at=due - timedelta(days=2))
        elif left > timedelta(days=1):
            ob.update(next_rung="reminder_hiring_manager", next_action_at=due - timedelta(days=1))
        elif left > timedelta(hours=8):
            ob.update(next_rung="autopilot", next_action_at=due - timedelta(hours=8))
        else:
            ob.update(next_rung="deadline", next_action_at=due)
        if self.rng.random() < 0.04:
            ob["at_risk"] = True  # a bounce this cycle: a person must reach the candidate

    def _decide(self, app: dict[str, Any], candidate: dict[str, Any], job: dict[str, Any], ob: dict[str, Any],
                fate: str, moment: datetime) -> None:
        if fate == "withdrawn":
            ob.update(state="closed", closed_reason="withdrawn", next_rung="done")
            app.update(status="withdrawn", status_changed_at=moment)
            return
        if fate == "hired":
            ob.update(discharged_at=moment, discharged_by="hired")
            app.update(status="hired", status_changed_at=moment, stage="Offer", stage_changed_at=moment)
            return
        if fate == "job_closed":
            ob.update(discharged_at=moment, discharged_by="job_closed")
            app.update(status="closed", status_changed_at=moment)
            self._message(app, candidate, ob, "job_closed", moment, undeliverable=bool(ob["at_risk"]))
            return
        ob.update(discharged_at=moment, discharged_by="rejection")
        app.update(status="rejected", status_changed_at=moment, rejection_reason=self.rng.choice(REJECTION_REASONS))
        self._message(app, candidate, ob, "rejection", moment, undeliverable=bool(ob["at_risk"]))

    def _ladder(self, app: dict[str, Any], candidate: dict[str, Any], job: dict[str, Any], ob: dict[str, Any],
                until: datetime) -> None:
        """The internal reminders that went out before whatever ended the cycle (or before now)."""
        due = ob["due_at"]
        for kind, at, person in (
            ("reminder_recruiter", due - timedelta(days=2), (job["recruiter_name"], job["recruiter_email"])),
            ("reminder_hiring_manager", due - timedelta(days=1),
             (job["hiring_manager_name"], job["hiring_manager_email"])),
        ):
            if ob["opened_at"] < at < until:
                self._message(app, candidate, ob, kind, at, recipient=person)
        autopilot = job["policy_override"].get("autopilot", True)
        escalate_at = due - timedelta(hours=8)
        if (ob["at_risk"] or not autopilot) and ob["opened_at"] < escalate_at < until:
            self._message(app, candidate, ob, "escalation", escalate_at, recipient=("Talent Ops", "talent-ops@bench.example"))

    # -- rows ---------------------------------------------------------------------------------------

    def _message(self, app: dict[str, Any], candidate: dict[str, Any], ob: dict[str, Any], kind: str,
                 at: datetime, *, autopilot: bool = False, undeliverable: bool = False,
                 recipient: tuple[str, str] | None = None) -> None:
        rng = self.rng
        note_id = self.ids.take("notifications")
        self.message_number += 1
        name, email = recipient or (candidate["name"], candidate["email"])
        candidate_facing = recipient is None
        message_id = f"<ghostless-{note_id}@bench.example>"
        delivered = candidate_facing and not undeliverable and rng.random() < 0.92
        bounced = candidate_facing and undeliverable
        subject = f"{SUBJECTS[kind]} ({app['external_id']})"
        body = BODY.format(name=name, kind=kind.replace("_", " "), app=app["external_id"], due=ob["due_at"].date())
        self.rows.notifications.append(dict(
            id=note_id, org_id=self.org_id, application_id=app["id"], obligation_id=ob["id"],
            candidate_id=candidate["id"], kind=kind, autopilot=autopilot, recipient_email=email, recipient_name=name,
            locale=candidate["locale"] if candidate_facing else None, subject=subject, body_text=body,
            body_html=f"<!DOCTYPE html><html><body><p>{body.replace(chr(10), '<br>')}</p></body></html>",
            context={}, state="sent", scheduled_for=at, queued_at=at, sent_at=at,
            delivered_at=at + timedelta(seconds=rng.uniform(2, 90)) if delivered else None,
            delivery_status="delivered" if delivered else ("bounce" if bounced else None),
            delivery_status_at=at + timedelta(seconds=95) if (delivered or bounced) else None,
            delivery_detail="550 5.1.1 The email account that you tried to reach does not exist" if bounced else None,
            locale_fallback_from=None, provider="outbox", provider_message_id=message_id, attempts=1,
            last_error=None, cancelled_reason=None,
            dedupe_key=f"{kind}:ob{ob['id']}" if kind != "rejection" else f"rejection:app{app['id']}:ob{ob['id']}",
            created_at=at,
        ))
        # A few SendGrid events (proof of delivery, bounces); most deliveries carry only delivered_at.
        if bounced or (delivered and rng.random() < 0.03):
            event = "bounce" if bounced else "delivered"
            occurred = at + timedelta(seconds=95)
            self.rows.mail_events.append(dict(
                id=self.ids.take("mail_events"), org_id=self.org_id, notification_id=note_id,
                dedupe_key=f"{message_id}:{event}:{int(occurred.timestamp())}", sg_event_id=f"sg-{note_id}-{event}",
                sg_message_id=f"sgmsg-{note_id}", event=event, occurred_at=occurred,
                received_at=occurred + timedelta(seconds=4), detail="550 5.1.1 user unknown" if bounced else None,
                raw={"event": event, "sg_message_id": f"sgmsg-{note_id}", "timestamp": int(occurred.timestamp())},
            ))

    def _interview(self, app: dict[str, Any], ends_at: datetime, *, status: str, stage: str | None = None) -> None:
        interview_id = self.ids.take("interviews")
        self.rows.interviews.append(dict(
            id=interview_id, org_id=self.org_id, application_id=app["id"], external_id=f"int-{interview_id}",
            stage=stage or app["stage"], starts_at=ends_at - timedelta(hours=1), ends_at=ends_at, status=status,
            status_changed_at=ends_at if status == "completed" else None,
            obligation_opened_at=ends_at if status == "completed" else None,
            created_at=ends_at - timedelta(days=2),
        ))

    def _inbound(self, app: dict[str, Any], candidate: dict[str, Any], job: dict[str, Any], event_type: str,
                 at: datetime) -> dict[str, Any]:
        event_id = f"evt-{app['id']}-{event_type}"
        canonical = {
            "id": event_id, "type": event_type, "occurred_at": at.isoformat(),
            "candidate": {"id": candidate["external_id"], "name": candidate["name"], "email": candidate["email"]},
            "job": {"id": job["external_id"], "title": job["title"], "department": job["department"]},
            "application": {"id": app["external_id"], "stage": app["stage"]},
        }
        return dict(
            id=self.ids.take("inbound_events"), org_id=self.org_id, source="api", event_id=event_id,
            event_type=event_type, occurred_at=at, received_at=at + timedelta(seconds=30),
            candidate_external_id=candidate["external_id"], application_external_id=app["external_id"],
            raw=canonical, canonical=canonical, outcome="applied", detail=None,
        )

    # -- time ---------------------------------------------------------------------------------------

    def _working_hour(self, at: datetime) -> datetime:
        """Move an instant to a working day between 09:00 and 17:00 local (interviews happen then)."""
        local = at.astimezone(self.zone)
        day = _next_working_day(local.date(), 0)
        hour = 9 + self.rng.randint(0, 7)
        return datetime.combine(day, clock_time(hour, 0), self.zone).astimezone(UTC)

    def _due(self, anchor: datetime) -> datetime:
        """5 working days after the anchor, at 17:00 local (the policy's default first update / cadence)."""
        day = _next_working_day(anchor.astimezone(self.zone).date(), 5)
        return datetime.combine(day, clock_time(17, 0), self.zone).astimezone(UTC)


def _next_working_day(day: date, working_days: int) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    added = 0
    while added < working_days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            added += 1
    return day


SUBJECTS = {
    "next_steps": "Thank you for interviewing with us: what happens next",
    "status_update": "An update on your application",
    "rejection": "Your application",
    "job_closed": "The role you applied for has been closed",
    "reminder_recruiter": "Reminder: a candidate is waiting to hear from you",
    "reminder_hiring_manager": "Reminder: a candidate is still waiting for an update",
    "escalation": "Escalation: a candidate has not heard from us",
}
BODY = ("Hi {name},\n\nThis is the {kind} message for application {app}. The hiring team is gathering "
        "feedback from everyone you met and will review it together. You will hear from us by {due} at the "
        "latest, either with a decision or with an update on where things stand.\n\nIf you have a question "
        "in the meantime, just reply to this email.\n\nBest wishes,\nThe Talent Team")


if __name__ == "__main__":
    import tempfile

    from plugin.migrate import upgrade

    database = Database(f"sqlite:///{tempfile.mkdtemp()}/seed.db")
    upgrade(database)
    seed(database, "bench-org", applications=int(sys.argv[1]) if len(sys.argv) > 1 else 5_000)
