"""Generate the demo hiring round replayed by `ghostless demo` (writes round.json next to this file).

Deterministic: seeded `random.Random(7)`, standard library only. Run it again after editing and
commit both files:

    python examples/demo/make_round.py

Every candidate follows a *storyline* (see STORYLINES below and README.md): the hiring team rejects
them quickly or slowly, promises a date, calls them, hires them, or simply forgets them. Dates are
planned on the organisation's business calendar (America/New_York, US-NY public holidays), interviews
sit inside working hours, and each event is a canonical event exactly as DESIGN.md defines it.
"""

from __future__ import annotations

import json
import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "round.json"

EST = timezone(timedelta(hours=-5))  # New York is on EST for the whole round (DST ended 1 Nov 2026).
STARTS_AT = datetime(2026, 11, 2, 8, 0, tzinfo=EST)
RUNS_UNTIL = datetime(2026, 12, 18, 18, 0, tzinfo=EST)

ORGANIZATION = {
    "name": "Northwind Robotics",
    "timezone": "America/New_York",
    "country": "US",
    "subdivision": "NY",
    "sender_name": "Northwind Robotics Talent Team",
    "sender_email": "talent@northwind.example",
    "escalation_email": "talent-ops@northwind.example",
}

# US-NY public holidays (python-holidays, US/NY) between November and Christmas 2026.
HOLIDAYS = {
    date(2026, 11, 3): "Election Day",
    date(2026, 11, 11): "Veterans Day",
    date(2026, 11, 26): "Thanksgiving Day",
    date(2026, 12, 25): "Christmas Day",
}
# A working day, but nobody books interviews on the Friday after Thanksgiving.
NO_INTERVIEWS = {date(2026, 11, 27)}
LAST_INTERVIEW_DAY = date(2026, 12, 11)

LONDON = "Europe/London"
LOS_ANGELES = "America/Los_Angeles"


def _is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


WORKING_DAYS = [d for d in _days(date(2026, 11, 2), date(2026, 12, 31)) if _is_working_day(d)]
INTERVIEW_DAYS = [
    d for d in WORKING_DAYS if d not in NO_INTERVIEWS and date(2026, 11, 4) <= d <= LAST_INTERVIEW_DAY
]


def add_working_days(day: date, n: int) -> date:
    """The nth working day after `day` (n >= 1) or before it (n <= -1); n == 0 returns `day`."""
    step = 1 if n > 0 else -1
    for _ in range(abs(n)):
        day += timedelta(days=step)
        while not _is_working_day(day):
            day += timedelta(days=step)
    return day


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=EST)


# --- the hiring team --------------------------------------------------------------------------


@dataclass
class Job:
    key: str
    id: str
    title: str
    department: str
    hiring_manager: tuple[str, str]
    recruiter: tuple[str, str]
    stages: tuple[tuple[str, int], ...]  # (interview stage, minutes) for rounds 1..3
    reasons: tuple[str, ...]

    def ref(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "department": self.department,
            "hiring_manager": {"name": self.hiring_manager[0], "email": self.hiring_manager[1]},
            "recruiter": {"name": self.recruiter[0], "email": self.recruiter[1]},
        }


COMMON_REASONS = (
    "Other finalists more closely matched the role's requirements",
    "Salary expectations above the approved range for this role",
    "Went with candidates with more directly relevant experience",
)

JOBS = {
    "be": Job(
        "be", "job-101", "Backend Engineer", "Engineering",
        ("Priya Raman", "priya.raman@northwind.example"),
        ("Marcus Bell", "marcus.bell@northwind.example"),
        (("Phone Screen", 30), ("Technical Interview", 60), ("Onsite", 180)),
        ("Not enough depth in distributed systems for this level",
         "Coding exercise did not meet the bar",
         "Looking for more production experience with Python services"),
    ),
    "pd": Job(
        "pd", "job-102", "Product Designer", "Design",
        ("Elena Sokolova", "elena.sokolova@northwind.example"),
        ("Jamal Carter", "jamal.carter@northwind.example"),
        (("Phone Screen", 30), ("Portfolio Review", 60), ("Onsite", 180)),
        ("Portfolio leans visual; the role needs research-led product work",
         "Interaction design depth below what the team needs",
         "Limited experience designing for industrial or hardware products"),
    ),
    "csm": Job(
        "csm", "job-103", "Customer Success Manager", "Customer Success",
        ("Daniel Okafor", "daniel.okafor@northwind.example"),
        ("Hannah Lindqvist", "hannah.lindqvist@northwind.example"),
        (("Phone Screen", 30), ("Case Study", 60), ("Final Interview", 90)),
        ("Limited experience managing enterprise accounts",
         "Case study did not show a clear renewal strategy",
         "Role needs more hands-on onboarding experience"),
    ),
    "da": Job(
        "da", "job-104", "Data Analyst", "Analytics",
        ("Wei Chen", "wei.chen@northwind.example"),
        ("Sofia Alvarez", "sofia.alvarez@northwind.example"),
        (("Phone Screen", 30), ("Technical Interview", 60), ("Onsite", 180)),
        ("SQL exercise did not meet the bar",
         "Role needs more experience with experimentation and A/B testing",
         "Looking for stronger stakeholder communication"),
    ),
}

FIRST_NAMES = (
    "Aisha", "Ben", "Camila", "Dmitri", "Emma", "Farah", "Gabriel", "Hana", "Isaac", "Jade",
    "Kofi", "Laura", "Mateo", "Nadia", "Owen", "Paula", "Quinn", "Rahul", "Sara", "Theo",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoë", "Amara", "Bruno", "Chloé", "Diego",
    "Elif", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Keiko", "Liam", "Maya", "Noah",
    "Olga", "Pedro", "Rosa", "Samir", "Tessa", "Ulrich", "Vera", "Will", "Yara", "Zane",
    "Siobhán", "José", "Björn", "Leila", "Nina",
)
LAST_NAMES = (
    "Adeyemi", "Bauer", "Castillo", "Dubois", "Eriksen", "Fitzgerald", "García", "Hoffman",
    "Iyer", "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "O'Brien", "Patel", "Quispe",
    "Rossi", "Schmidt", "Tanaka", "Urban", "Varga", "Walsh", "Xu", "Yilmaz", "Zimmermann",
    "Abbott", "Brennan", "Cohen", "Delgado", "Evans", "Fischer", "Gallagher", "Haddad", "Ibarra",
    "Johansson", "Kim", "Lopez", "Murphy", "Novak", "Okonkwo", "Petrov", "Reyes", "Santos",
    "Thompson", "Vasquez", "Weber", "Young", "Zhang", "Mensah", "Nguyen", "Silva",
)


def email_for(name: str, taken: set[str]) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    local = ".".join("".join(ch for ch in part if ch.isalnum()) for part in ascii_name.split())
    address, n = f"{local}@example.com", 2
    while address in taken:
        address, n = f"{local}{n}@example.com", n + 1
    taken.add(address)
    return address


# --- storylines -------------------------------------------------------------------------------


@dataclass
class Spec:
    job: str
    story: str  # key of STORYLINES
    rounds: int
    window: tuple[date, date] | None = None  # the day of the last interview is drawn from here
    days: tuple[date, ...] | None = None  # or given exactly
    tz: str | None = None
    silent: bool | None = None  # True: the ATS never sends interview.completed
    reschedule: bool = False  # the last round is cancelled and booked again a day later
    promised: date | None = None  # decision.promised date, when fixed
    ats: str | None = None  # the rejection's ats_notification, when fixed


STORYLINES = {
    "rejected_by_plugin": "rejected; the ATS did not email them (ats_notification none/unknown), so the plugin sends the decision",
    "rejected_late": "rejected only after the deadline passed (autopilot already sent a status update)",
    "rejected_ats_sent": "rejected and the ATS emailed them itself (ats_notification sent): nothing to send",
    "rejected_held": "rejected with a notify_not_before date the plugin must respect",
    "promised_then_rejected": "told a decision date (decision.promised), rejected around that date",
    "promised_forgotten": "told a decision date, then forgotten (deadline = promised date + 2 working days)",
    "contacted_then_rejected": "recruiter phoned them (candidate.contacted), rejected later",
    "contacted_forgotten": "recruiter phoned them once, then nothing more",
    "forgotten": "interviewed, then nothing more: autopilot must step in",
    "job_closed_open": "still open on the Data Analyst job when it closes: gets a closing notice",
    "reopened_hired": "rejected by mistake, reopened within the hour (pending rejection cancelled), later hired",
    "hired_closes_job": "hired; the Data Analyst job is closed the same afternoon",
    "withdrawn": "withdrew (accepted another offer)",
    "erased": "asked to be deleted (candidate.erased, reason deleted): never mailed again",
}

def nov(day: int) -> date:
    return date(2026, 11, day)


def dec(day: int) -> date:
    return date(2026, 12, day)


SPECS = [
    # Backend Engineer
    Spec("be", "rejected_by_plugin", 1, (nov(4), nov(13))),
    Spec("be", "rejected_by_plugin", 1, (nov(9), nov(20))),
    Spec("be", "rejected_by_plugin", 2, (nov(12), nov(24)), tz=LOS_ANGELES),
    Spec("be", "rejected_by_plugin", 2, (nov(16), dec(4))),
    Spec("be", "rejected_by_plugin", 3, (nov(30), dec(4))),
    Spec("be", "rejected_ats_sent", 1, (nov(5), nov(19))),
    Spec("be", "rejected_late", 2, (nov(5), nov(10))),
    Spec("be", "promised_then_rejected", 3, (nov(17), nov(24))),
    Spec("be", "contacted_then_rejected", 2, (nov(16), nov(20))),
    Spec("be", "reopened_hired", 3, days=(nov(5), nov(12), nov(18)), silent=False),
    Spec("be", "forgotten", 1, (nov(4), nov(6)), silent=True),
    Spec("be", "forgotten", 2, (nov(9), nov(10)), silent=False),
    Spec("be", "forgotten", 2, (nov(18), nov(23)), tz=LONDON, silent=False),
    Spec("be", "forgotten", 3, (dec(1), dec(4)), silent=False, reschedule=True),
    Spec("be", "erased", 1, (nov(9), nov(13)), tz=LONDON, silent=False),
    # Product Designer
    Spec("pd", "rejected_by_plugin", 1, (nov(4), nov(12))),
    Spec("pd", "rejected_by_plugin", 2, (nov(13), nov(24))),
    Spec("pd", "rejected_by_plugin", 1, (nov(9), nov(18))),
    Spec("pd", "rejected_ats_sent", 2, (nov(16), nov(30))),
    Spec("pd", "rejected_held", 2, (nov(19), dec(2)), ats="scheduled"),
    Spec("pd", "rejected_late", 1, (nov(17), nov(20))),
    Spec("pd", "promised_forgotten", 3, (nov(19), nov(20)), promised=nov(25)),
    Spec("pd", "contacted_forgotten", 2, (nov(12), nov(18))),
    Spec("pd", "withdrawn", 2, (nov(10), nov(17))),
    Spec("pd", "forgotten", 2, (nov(5), nov(10)), silent=False),
    Spec("pd", "forgotten", 1, (nov(19), nov(24)), tz=LOS_ANGELES, silent=True),
    Spec("pd", "forgotten", 2, (dec(2), dec(8)), silent=False),
    # Customer Success Manager
    Spec("csm", "rejected_by_plugin", 1, (nov(5), nov(13))),
    Spec("csm", "rejected_by_plugin", 2, (nov(16), nov(25))),
    Spec("csm", "rejected_by_plugin", 2, (nov(9), nov(19)), reschedule=True),
    Spec("csm", "rejected_by_plugin", 1, (nov(18), dec(3))),
    Spec("csm", "rejected_ats_sent", 1, (nov(4), nov(12))),
    Spec("csm", "rejected_held", 3, (nov(20), dec(2)), ats="none"),
    Spec("csm", "rejected_late", 3, (nov(30), dec(2))),
    Spec("csm", "promised_then_rejected", 2, (nov(10), nov(17))),
    Spec("csm", "contacted_then_rejected", 1, (nov(6), nov(13))),
    Spec("csm", "forgotten", 1, (nov(4), nov(9)), tz=LONDON, silent=True),
    Spec("csm", "forgotten", 3, (nov(19), nov(24)), silent=False),
    Spec("csm", "forgotten", 2, (nov(20), nov(20)), silent=True),
    # Data Analyst (filled and closed on Tue 1 Dec)
    Spec("da", "hired_closes_job", 3, days=(nov(9), nov(16), nov(23)), silent=False, promised=dec(1)),
    Spec("da", "rejected_by_plugin", 1, (nov(4), nov(12))),
    Spec("da", "rejected_by_plugin", 2, (nov(9), nov(17))),
    Spec("da", "rejected_by_plugin", 3, (nov(16), nov(20)), tz=LONDON),
    Spec("da", "rejected_ats_sent", 2, (nov(13), nov(20))),
    Spec("da", "promised_then_rejected", 2, (nov(12), nov(18))),
    Spec("da", "job_closed_open", 3, (nov(24), nov(30)), silent=True),
    Spec("da", "job_closed_open", 2, (nov(16), nov(20)), silent=False),
    Spec("da", "job_closed_open", 1, (nov(12), nov(18)), tz=LOS_ANGELES),
    Spec("da", "job_closed_open", 2, (nov(19), nov(25)), silent=False),
    Spec("da", "job_closed_open", 3, (nov(24), nov(30)), silent=False, promised=dec(4)),
]


# --- generation -------------------------------------------------------------------------------


@dataclass(eq=False)
class Ref:
    """An ATS object whose id is assigned once everything is sorted (ids grow with time)."""

    prefix: str
    id: str | None = None


@dataclass(eq=False)
class Candidate(Ref):
    name: str = ""
    email: str = ""
    tz: str | None = None

    def ref(self) -> dict:
        out = {"id": self.id, "name": self.name, "email": self.email, "locale": "en"}
        if self.tz:
            out["timezone"] = self.tz
        return out


@dataclass(eq=False)
class Interview(Ref):
    stage: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass
class Draft:
    at: datetime
    type: str
    job: Job
    candidate: Candidate | None = None
    application: Ref | None = None
    stage: str | None = None
    interview: Interview | None = None
    extra: dict = field(default_factory=dict)


class Round:
    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.drafts: list[Draft] = []
        self.emails: set[str] = set()
        self.stories: list[tuple[Spec, Candidate, list[datetime]]] = []
        self.calls: dict[int, datetime] = {}  # id(candidate) -> candidate.contacted instant

    # time helpers ----------------------------------------------------------------------------

    def pick(self, after: datetime, before: datetime, open_=(9, 0), close=(17, 30)) -> datetime | None:
        """A random whole minute inside working hours of a working day, after `after`, before `before`."""
        options = []
        for day in _days(after.date(), before.date()):
            if not _is_working_day(day):
                continue
            lo = max(at(day, *open_), after + timedelta(minutes=1))
            lo = lo.replace(second=0, microsecond=0) + (timedelta(minutes=1) if lo.second else timedelta())
            hi = min(at(day, *close), before)
            if lo < hi:
                options.append((lo, hi))
        if not options:
            return None
        lo, hi = self.rng.choice(options)
        return lo + timedelta(minutes=self.rng.randrange(int((hi - lo).total_seconds() // 60)))

    def on_day(self, day: date, after: datetime, open_=(9, 0), close=(17, 30)) -> datetime:
        """A working-hours instant on `day` (or the next working day with room) after `after`."""
        for _ in range(10):
            found = self.pick(max(after, at(day, 0)), at(day, *close), open_, close) if day >= after.date() else None
            if found:
                return found
            day = add_working_days(day, 1)
        raise AssertionError(f"no room after {after}")

    def minutes(self, lo: int, hi: int) -> timedelta:
        return timedelta(minutes=self.rng.randint(lo, hi))

    def interview_days(self, spec: Spec) -> list[date]:
        if spec.days:
            return list(spec.days)
        window = [i for i, d in enumerate(INTERVIEW_DAYS) if spec.window[0] <= d <= spec.window[1]]
        last = self.rng.choice(window)
        rounds = min(spec.rounds, last // 2 + 1)  # round j (0-based) needs 2*j interview days before it
        picked = [last]
        for j in range(rounds - 2, -1, -1):
            picked.append(max(picked[-1] - self.rng.randint(2, 4), 2 * j))
        return [INTERVIEW_DAYS[i] for i in reversed(picked)]

    def slot(self, day: date, minutes: int, tz: str | None) -> tuple[datetime, datetime]:
        first, last = {LONDON: (9, 12), LOS_ANGELES: (12, 17)}.get(tz, (9, 17))
        starts = [at(day, first) + timedelta(minutes=30 * k) for k in range(20)]
        starts = [s for s in starts if s + timedelta(minutes=minutes) <= at(day, last)]
        start = self.rng.choice(starts)
        return start, start + timedelta(minutes=minutes)

    # events ----------------------------------------------------------------------------------

    def emit(self, when: datetime, type_: str, job: Job, cand=None, app=None, stage=None, iv=None, **extra):
        assert STARTS_AT <= when < RUNS_UNTIL, (type_, when)
        self.drafts.append(Draft(when, type_, job, cand, app, stage, iv, extra))
        return when

    def interview(self, job: Job, cand: Candidate, app: Ref, day: date, index: int,
                  after: datetime, silent: bool, reschedule: bool) -> tuple[datetime, datetime]:
        """Book (and maybe rebook) one interview; returns (its end, the last event's instant)."""
        stage, minutes = job.stages[index]
        start, end = self.slot(day, minutes, cand.tz)
        if reschedule:  # first booked a day earlier, cancelled that morning, booked again
            first_day = add_working_days(day, -1)
            o_start, o_end = self.slot(first_day, minutes, cand.tz)
            original = Interview("int", stage=stage, starts_at=o_start, ends_at=o_end)
            booked = self.pick(after + self.minutes(20, 90), at(first_day, 0), close=(19, 0))
            assert booked, (cand.name, "reschedule")
            self.emit(booked, "interview.scheduled", job, cand, app, stage, original)
            cancelled = at(first_day, 7, 40) + self.minutes(0, 45)
            self.emit(cancelled, "interview.cancelled", job, cand, app, stage, original)
            after = cancelled
            booked = cancelled + self.minutes(15, 60)
        else:
            booked = self.pick(after + self.minutes(20, 90), start - timedelta(hours=2))
            if booked is None:  # applied late the evening before: booked first thing that morning
                booked = self.pick(after, start - timedelta(minutes=30), open_=(7, 30))
            assert booked, (cand.name, stage)
        iv = Interview("int", stage=stage, starts_at=start, ends_at=end)
        self.emit(booked, "interview.scheduled", job, cand, app, stage, iv)
        if silent:
            return end, end
        return end, self.emit(end + self.minutes(1, 45), "interview.completed", job, cand, app, stage, iv)

    def reject(self, job, cand, app, stage, when, ats, **extra):
        reason = self.rng.choice(job.reasons + COMMON_REASONS)
        return self.emit(when, "application.rejected", job, cand, app, stage,
                         reason=reason, ats_notification=ats, **extra)

    def candidate(self, names: list[str], tz: str | None) -> Candidate:
        name = names.pop()
        return Candidate("cand", name=name, email=email_for(name, self.emails), tz=tz)

    def story(self, spec: Spec, cand: Candidate) -> None:
        rng, job = self.rng, JOBS[spec.job]
        app = Ref("app")
        silent = spec.silent if spec.silent is not None else rng.random() < 0.25
        days = self.interview_days(spec)

        created_day = max(days[0] - timedelta(days=rng.randint(2, 6)), STARTS_AT.date())
        created = at(created_day, 7) + self.minutes(0, 14 * 60)
        if created_day == STARTS_AT.date():
            created = STARTS_AT + self.minutes(5, 240)
        after = self.emit(created, "application.created", job, cand, app, "Application Review")

        ends: list[datetime] = []
        for index, day in enumerate(days):
            last = index == len(days) - 1
            end, after = self.interview(job, cand, app, day, index, after, silent, spec.reschedule and last)
            ends.append(end)
            stage = job.stages[index][0]
            if spec.story == "reopened_hired" and index == 1:
                # Rejected that afternoon by mistake, reversed 25-55 minutes later.
                wrong = self.reject(job, cand, app, stage, self.on_day(day, after, (13, 30), (15, 30)), "none")
                after = self.emit(wrong + self.minutes(25, 55), "application.reopened", job, cand, app, stage)
        self.outcome(spec, job, cand, app, days[-1], after, job.stages[len(days) - 1][0])
        self.stories.append((spec, cand, ends))

    def outcome(self, spec, job, cand, app, last_day: date, after: datetime, stage: str) -> None:
        rng, story = self.rng, spec.story
        later = lambda lo, hi: add_working_days(last_day, rng.randint(lo, hi))  # noqa: E731
        if story == "rejected_by_plugin":
            self.reject(job, cand, app, stage, self.on_day(later(0, 3), after), rng.choice(["none", "unknown"]))
        elif story == "rejected_late":
            self.reject(job, cand, app, stage, self.on_day(later(7, 9), after), "none")
        elif story == "rejected_ats_sent":
            self.reject(job, cand, app, stage, self.on_day(later(1, 4), after), "sent")
        elif story == "rejected_held":
            when = self.on_day(later(1, 3), after)
            hold = at(add_working_days(when.date(), 3), 10)
            self.reject(job, cand, app, stage, when, spec.ats, notify_not_before=hold)
        elif story in ("promised_then_rejected", "promised_forgotten", "job_closed_open",
                       "reopened_hired", "hired_closes_job"):
            if story == "job_closed_open" and not spec.promised:
                return
            promised = spec.promised or later(4, 6)
            self.emit(after + self.minutes(3, 40), "decision.promised", job, cand, app, stage,
                      decision_expected_by=promised)
            if story == "promised_then_rejected":
                day = add_working_days(promised, -rng.randint(0, 1))
                self.reject(job, cand, app, stage, self.on_day(day, after), "none")
            elif story in ("reopened_hired", "hired_closes_job"):
                hired = self.on_day(promised, after, (10, 0), (12, 0))
                self.emit(hired, "application.hired", job, cand, app, "Offer")
                if story == "hired_closes_job":
                    self.emit(at(promised, 15) + self.minutes(0, 50), "job.closed", job)
        elif story in ("contacted_then_rejected", "contacted_forgotten"):
            call = self.on_day(add_working_days(last_day, 3), after)
            self.emit(call, "candidate.contacted", job, cand, app, stage, channel="phone")
            self.calls[id(cand)] = call
            if story == "contacted_then_rejected":
                self.reject(job, cand, app, stage, self.on_day(later(6, 8), call), "none")
        elif story == "withdrawn":
            self.emit(self.on_day(later(1, 2), after), "application.withdrawn", job, cand, app, stage)
        elif story == "erased":
            when = self.on_day(add_working_days(last_day, 2), after)
            self.emit(when, "candidate.erased", job, cand, reason="deleted")
        elif story != "forgotten":
            raise AssertionError(story)

    # output ----------------------------------------------------------------------------------

    def build(self) -> list[dict]:
        names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
        self.rng.shuffle(names)
        team = {p[0] for j in JOBS.values() for p in (j.hiring_manager, j.recruiter)}
        names = [n for n in names if n not in team]
        used: set[str] = set()
        unique = []
        for n in names:  # distinct first and last names keep the dashboard easy to read
            first, last = n.split(" ", 1)
            if first not in used and last not in used:
                used.update((first, last))
                unique.append(n)
        for spec in SPECS:
            self.story(spec, self.candidate(unique, spec.tz))

        order = sorted(range(len(self.drafts)), key=lambda i: (self.drafts[i].at, i))
        counters: Counter[str] = Counter()
        start = {"cand": 1001, "app": 5001, "int": 7001}

        def assign(ref: Ref | None) -> None:
            if ref is not None and ref.id is None:
                ref.id = f"{ref.prefix}-{start[ref.prefix] + counters[ref.prefix]}"
                counters[ref.prefix] += 1

        events = []
        for n, i in enumerate(order, start=1):
            d = self.drafts[i]
            for ref in (d.candidate, d.application, d.interview):
                assign(ref)
            event: dict = {"id": f"demo-{n:04d}", "type": d.type, "occurred_at": d.at.isoformat()}
            if d.type == "candidate.erased":
                event["candidate"] = {"id": d.candidate.id}
                event["reason"] = d.extra["reason"]
            elif d.type in ("job.closed", "job.reopened"):
                event["job"] = d.job.ref()
            else:
                event["candidate"] = d.candidate.ref()
                event["job"] = d.job.ref()
                event["application"] = {"id": d.application.id, "stage": d.stage}
                if d.interview is not None:
                    iv = d.interview
                    event["interview"] = {"id": iv.id, "starts_at": iv.starts_at.isoformat(),
                                          "ends_at": iv.ends_at.isoformat(), "stage": iv.stage}
                for key, value in d.extra.items():
                    event[key] = value.isoformat() if isinstance(value, (date, datetime)) else value
            events.append(event)
        return events


def check(events: list[dict]) -> None:
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))
    last_at: dict[str, str] = {}
    for e in events:
        key = (e.get("application") or e.get("candidate") or e["job"])["id"]
        when = datetime.fromisoformat(e["occurred_at"])
        assert when.utcoffset() == timedelta(hours=-5)
        assert key not in last_at or datetime.fromisoformat(last_at[key]) < when, (key, e["type"])
        last_at[key] = e["occurred_at"]
        for who in (e.get("candidate", {}), *e.get("job", {}).values()):
            if isinstance(who, dict) and "email" in who:
                assert who["email"].endswith(("@example.com", "@northwind.example"))
        if "interview" in e:
            start = datetime.fromisoformat(e["interview"]["starts_at"])
            assert _is_working_day(start.date()) and time(9) <= start.time() and \
                datetime.fromisoformat(e["interview"]["ends_at"]).time() <= time(17)


def write(events: list[dict]) -> None:
    """Readable and small: the header indented, one event per line."""
    head = {"organization": ORGANIZATION, "starts_at": STARTS_AT.isoformat(), "runs_until": RUNS_UNTIL.isoformat()}
    text = json.dumps(head, indent=2, ensure_ascii=False)[:-2]
    lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in events]
    text += ',\n  "events": [\n    ' + ",\n    ".join(lines) + "\n  ]\n}\n"
    assert json.loads(text)["events"] == events
    OUTPUT.write_text(text, encoding="utf-8")


def summary(gen: Round, events: list[dict]) -> None:
    types = Counter(e["type"] for e in events)
    silent = {e["application"]["id"] for e in events if e["type"] == "interview.scheduled"} - {
        e["application"]["id"] for e in events if e["type"] == "interview.completed"}
    print(f"wrote {OUTPUT.name}: {len(events)} events, {OUTPUT.stat().st_size // 1024} KB")
    print(f"  {len(gen.stories)} candidates on {len(JOBS)} jobs; "
          f"{len(silent)} whose ATS never reports interview.completed; "
          f"{sum(1 for s, c, _ in gen.stories if c.tz)} outside New York")
    print("  events: " + ", ".join(f"{t} {n}" for t, n in sorted(types.items())))
    print("  storylines: " + ", ".join(f"{s} {n}" for s, n in sorted(Counter(s.story for s, _, _ in gen.stories).items())))
    print("  forgotten after their last interview (deadline = 5 working days later, holidays skipped):")
    for spec, cand, ends in gen.stories:
        if spec.story in ("forgotten", "contacted_forgotten", "promised_forgotten"):
            end, note = ends[-1], ""
            due = add_working_days(end.date(), 5)
            if spec.promised:
                due, note = add_working_days(spec.promised, 2), f" [promised {spec.promised:%a %d %b}: +2]"
            if id(cand) in gen.calls:
                call = gen.calls[id(cand)]
                due, note = add_working_days(call.date(), 5), f" [phoned {call:%a %d %b}: next cycle +5]"
            skipped = [HOLIDAYS[d] for d in HOLIDAYS if end.date() < d <= due]
            print(f"    {cand.id} {cand.name:<22} {JOBS[spec.job].title:<24} last interview "
                  f"{end:%a %d %b %H:%M} -> due {due:%a %d %b} 17:00"
                  + (f" (skips {', '.join(skipped)})" if skipped else "") + note)


def main() -> None:
    gen = Round()
    events = gen.build()
    check(events)
    write(events)
    summary(gen, events)


if __name__ == "__main__":
    main()
