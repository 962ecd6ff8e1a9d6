"""An independent oracle for DESIGN's promise: from the inputs alone, who is owed what by when.

Issue 11: the invariant checks in test_invariants.py read expectations from rows the code under test
wrote (obligations, audit entries), so they pass when an obligation is never opened. This module
derives the expectations from the INPUTS only and checks them against the OUTPUTS:

- inputs: the canonical events the test posted (with the instant each was posted), the status updates
  people asked for and the policy changes made through the API (with the answers), the instants the
  sweeper ran or was down, the organisation's calendar (America/New_York, US holidays, Mon-Fri) and
  its policy;
- outputs: the outbox `.eml` files (what people actually received, when: the Date header), and, where
  DESIGN asks for reporting, the application records the API returns (breaches).

It never imports plugin.sla or plugin.notify: the business calendar below is its own (zoneinfo and
the holidays package), so a mistake there cannot make the oracle agree with the code.

How it computes "who is owed what by when"
-------------------------------------------
The test records a trace: every POST, every status-update request, every policy PUT, every sweep
(with the mails it wrote) and every stretch the sweeper was down. The oracle replays that trace in
order, keeping its own model of each application: its status (by `occurred_at`: an older event never
overrides a newer one), its interviews, its current cycle (anchor, deadline, how the deadline was set,
the dates put in writing), a pending rejection or closing notice. Mails are outputs, but they are
also facts the rules refer to ("a discharging message sent at T opens the next cycle at T + cadence"),
so each mail is first checked against the model as it stood when it was sent, then fed back into it.

The rules encoded (DESIGN, plus the lead's decisions for issue 11):
- Calendars: a working day is Mon-Fri and not a US holiday; for a candidate also not a holiday of
  their own country (event `candidate.country`), in their `timezone` (New York when unknown).
- Deadlines are 17:00 candidate-local: interview end E -> 5th working day after E's local date; a
  promised decision date D >= E's local date -> 2nd working day after D. A contact at T or a
  discharging message sent at T (status_update, rejection, job_closed) ends the cycle; while the
  application is still owed, the next one is due on the Nth working day after T (N = 5 after a person's
  update or a contact; 5, 10, 15 after autopilot's 1st, 2nd, 3rd+ update in a row), or on the date a
  person chose. A date a message names ("by Wednesday 2 December") caps the cycle's deadline: it may
  move earlier, never later. A deadline that would be set in the past (a backfilled interview, a
  policy change, a late promise) becomes the end of the first candidate send window ending at least
  two hours after the data arrived.
- Invariant 1: every cycle is answered by its deadline (a discharging mail, an ATS-reported contact,
  an invitation to a further round, another interview, a hire, a withdrawal, an ATS-sent rejection or
  an erasure), unless the sweeper was down at the instant the answer should have left and stayed down
  through the candidate's last window before the deadline; then the API must report that cycle as
  breached, reason "late". Autopilot writes at 09:00 candidate-local on the due day (or at the next
  sweep when the cycle became known later), never earlier in the cycle.
- Invariant 7: a date in writing is honoured (or the obligation ended before it) by 17:00 that day.
- Invariant 8: candidate mail inside 09:00-17:00 of a candidate working day, internal mail inside the
  organisation's (New York) window, whatever the sweeper's delays.
- Invariant 2 and the decisions: one next-steps per interview, one rejection per rejection, one
  closing notice per closing (and one per person when several of their jobs close), nothing to an
  erased candidate after the erasure was posted, no rejection to someone hired or back in the process,
  a rejection only for an interviewed application, after the minimum delay, `notify_not_before` and
  inside the window; a closing notice after the hold; no status update when a decision mail is already
  due to reach the candidate by the deadline; no candidate mail about an application that had ended.
- After autopilot: consecutive autopilot updates (no human action in between) never repeat the
  previous wording (dates, numbers and links removed), apologise from the 2nd, never say the team is
  "working on"/"working through" it unless a person acted in that cycle, name the date 5, 10, 15
  working days after they were sent; after the 2nd in a row exactly one escalation goes to talent ops
  naming the job, the recruiter and the hiring manager.
- Reminders: never about a deadline that has passed, never about a cycle that ended, never while a
  decision mail is already due to reach the candidate by the deadline, never before their rung time
  (recruiter 09:00 New York on the 2nd organisation working day before the due day, hiring manager the
  working day before), and the deadline they name is the oracle's.
- A person's promised day must be a working day of the candidate's calendar: the status-update API
  must refuse (422, `next_date`) exactly the days that are not, and accept the ones that are.

Where DESIGN and these rules do not decide a case (two status changes with the same `occurred_at`, a
status change after a hire or a delivered decision, a rejection older than the interview it follows,
a person's action the system learned of only after the autopilot update it would have changed...), the
oracle stops checking that application from that point and says why (`Verdict.skipped`); the window
and erasure checks still apply to it. The property test asserts that most examples are fully checked.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from email.message import EmailMessage
from functools import lru_cache
from typing import Any, Iterable
from zoneinfo import ZoneInfo

import holidays

UTC = timezone.utc
ORG_ZONE = ZoneInfo("America/New_York")
ORG_COUNTRY = "US"
ESCALATION_ADDRESS = "talent-ops@acme.example"
RECRUITER = ("Alan Turing", "alan@acme.example")
HIRING_MANAGER = ("Grace Hopper", "grace@acme.example")

CANDIDATE_KINDS = frozenset({"next_steps", "status_update", "rejection", "job_closed", "reply_ack"})
INTERNAL_KINDS = frozenset({"reminder_recruiter", "reminder_hiring_manager", "escalation", "delivery_failed",
                            "reply_forward", "candidate_withdrew"})
DISCHARGING_KINDS = frozenset({"status_update", "rejection", "job_closed"})
DECISION_KINDS = frozenset({"rejection", "job_closed"})
# "Human action" for autopilot's run (DESIGN "After autopilot"): a person did something about it.
HUMAN_EVENTS = frozenset({"application.stage_changed", "decision.promised", "interview.scheduled",
                          "interview.completed", "candidate.contacted"})
STATUS_EVENTS = {"application.rejected": "rejected", "application.reopened": "active",
                 "application.hired": "hired", "application.withdrawn": "withdrawn"}
HONEST_MARGIN = timedelta(hours=2)
MAX_PROMISE_WORKING_DAYS = 60  # the status-update API's limit on a person's promised day


# -- the business calendar (our own: never plugin.sla.calendar) -----------------------------------------


@lru_cache(maxsize=None)
def _holiday_dates(country: str) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=range(2024, 2032)).keys())


@dataclass(frozen=True)
class Calendar:
    """Working days (Mon-Fri minus every listed country's public holidays) and the 09:00-17:00 send
    window, in one time zone."""

    zone: ZoneInfo
    countries: tuple[str, ...]
    opens: time = time(9)
    closes: time = time(17)

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def day(self, at: datetime) -> date:
        return self.local(at).date()

    def is_working(self, day: date) -> bool:
        return day.weekday() < 5 and not any(day in _holiday_dates(c) for c in self.countries)

    def after(self, day: date, n: int) -> date:
        """The nth working day after `day` (n = 0: `day` itself)."""
        while n > 0:
            day += timedelta(days=1)
            if self.is_working(day):
                n -= 1
        return day

    def before(self, day: date, n: int) -> date:
        """The nth working day before `day`."""
        while n > 0:
            day -= timedelta(days=1)
            if self.is_working(day):
                n -= 1
        return day

    def at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.zone).astimezone(UTC)

    def opening(self, day: date) -> datetime:
        return self.at(day, self.opens)

    def closing(self, day: date) -> datetime:
        return self.at(day, self.closes)

    def in_window(self, at: datetime) -> bool:
        # Both ends included: a message at exactly 17:00 is at the deadline, not outside office hours.
        local = self.local(at)
        return self.is_working(local.date()) and self.opens <= local.time() <= self.closes

    def next_opening(self, at: datetime) -> datetime:
        """`at` if a send window is open then, else the next window's opening."""
        local = self.local(at)
        day = local.date()
        if self.is_working(day) and self.opens <= local.time() < self.closes:
            return at
        if self.is_working(day) and local.time() < self.opens:
            return self.opening(day)
        return self.opening(self.after(day, 1))

    def honest_deadline(self, arrived: datetime) -> datetime:
        """The end of the first send window that ends at least two hours after `arrived`."""
        day = self.day(arrived)
        while not (self.is_working(day) and self.closing(day) >= arrived + HONEST_MARGIN):
            day += timedelta(days=1)
        return self.closing(day)

    def same_time_after(self, at: datetime, n: int) -> datetime:
        """N working days after `at`, at the same local time of day (the rejection's minimum delay)."""
        local = self.local(at)
        return datetime.combine(self.after(local.date(), n), local.time().replace(tzinfo=None),
                                tzinfo=self.zone).astimezone(UTC)

    def last_window_opening_before(self, at: datetime) -> datetime:
        """The opening of the last send window that opens before `at`."""
        day = self.day(at)
        while not (self.is_working(day) and self.opening(day) < at):
            day -= timedelta(days=1)
        return self.opening(day)


ORG_CALENDAR = Calendar(ORG_ZONE, (ORG_COUNTRY,))


def candidate_calendar(zone: str | None, country: str | None) -> Calendar:
    """The organisation's working week and holidays, in the candidate's zone, plus their country's."""
    countries = (ORG_COUNTRY,) + ((country.upper(),) if country and country.upper() != ORG_COUNTRY else ())
    return Calendar(ZoneInfo(zone) if zone else ORG_ZONE, countries)


# -- the policy -----------------------------------------------------------------------------------------

DEFAULT_POLICY: dict[str, Any] = {
    "first_update_working_days": 5,
    "promised_decision_grace_working_days": 2,
    "cadence_working_days": 5,
    "autopilot_cadence_working_days": [5, 10, 15],
    "recruiter_reminder_working_days_before": 2,
    "hiring_manager_reminder_working_days_before": 1,
    "reminder_time": "09:00",
    "autopilot": True,
    "next_steps": True,
    "rejection_min_delay_working_days": 1,
    "job_closed_hold_minutes": 60,
    "send_window_start": "09:00",
    "send_window_end": "17:00",
}


@dataclass(frozen=True)
class Policy:
    values: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, *levels: dict[str, Any] | None) -> Policy:
        merged = dict(DEFAULT_POLICY)
        for level in levels:
            merged.update(level or {})
        return cls(tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(merged.items())))

    def __getitem__(self, name: str) -> Any:
        return dict(self.values)[name]

    def after_autopilot(self, k: int) -> int:
        steps = self["autopilot_cadence_working_days"] or (self["cadence_working_days"],)
        return steps[min(k, len(steps)) - 1]

    def window(self) -> tuple[time, time]:
        return time.fromisoformat(self["send_window_start"]), time.fromisoformat(self["send_window_end"])


# -- the trace: what the test did, in order -------------------------------------------------------------


@dataclass
class Posted:
    """POST /api/v1/events with one canonical event, accepted."""
    at: datetime
    body: dict[str, Any]


@dataclass
class StatusUpdateAsked:
    """POST /api/v1/applications/<app>/status-updates and the answer."""
    at: datetime
    app: str
    body: dict[str, Any]
    status: int
    answer: dict[str, Any]


@dataclass
class PolicySet:
    """PUT /api/v1/policies/organization (job None) or /jobs/<job>, and the answer's status."""
    at: datetime
    job: str | None
    overrides: dict[str, Any]
    status: int


@dataclass
class Swept:
    """One sweep at `at` (and the worker after it); `files`: the outbox files it wrote."""
    at: datetime
    files: list[str]


@dataclass
class SweeperDown:
    """The sweeper ran at `start`, then not again until `end` (it ran at `end`)."""
    start: datetime
    end: datetime


Step = Posted | StatusUpdateAsked | PolicySet | Swept | SweeperDown


# -- mail as received --------------------------------------------------------------------------------------

_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
NAMED_DATE = re.compile(rf"\bby ({_WEEKDAYS}) (\d{{1,2}}) ({'|'.join(_MONTHS)})(?: (\d{{4}}))? at the latest")
DEADLINE_LINE = re.compile(r"^Deadline: \w{3} (\d{1,2}) (\w{3}) (\d{4}), (\d{2}):(\d{2})", re.MULTILINE)
APPLICATION_LINE = re.compile(r"^Application: (\S+)", re.MULTILINE)


@dataclass
class Mail:
    file: str
    kind: str
    to: str
    date: datetime
    autopilot: bool
    subject: str
    text: str
    notification_id: int | None

    @classmethod
    def of(cls, file: str, message: EmailMessage) -> Mail:
        to = message["To"]
        addresses = getattr(to, "addresses", ())
        address = addresses[0].addr_spec.lower() if addresses else str(to).lower()
        body = message.get_body(("plain",))
        nid = message["X-Ghostless-Notification-Id"]
        return cls(file=file, kind=str(message["X-Ghostless-Kind"]), to=address,
                   date=message["Date"].datetime.astimezone(UTC),
                   autopilot=str(message.get("X-Ghostless-Autopilot", "")).lower() == "yes",
                   subject=str(message["Subject"]), text=body.get_content() if body is not None else "",
                   notification_id=int(nid) if nid else None)

    def named_date(self, local_today: date) -> date | None:
        """The date the message promises ("by Wednesday 2 December [2027] at the latest"), or None.

        The year is the one of the message's (candidate-local) date unless written; the weekday must
        agree, which also settles a December -> January wrap."""
        found = NAMED_DATE.search(self.text)
        if found is None:
            return None
        weekday, day, month, year = found.groups()
        years = [int(year)] if year else [local_today.year, local_today.year + 1, local_today.year - 1]
        for y in years:
            try:
                candidate = date(y, _MONTHS.index(month) + 1, int(day))
            except ValueError:
                continue
            if candidate.strftime("%A") == weekday:
                return candidate
        raise AssertionError(f"{self.file}: '{found.group(0)}' names no real date")

    def deadline(self, zone: ZoneInfo) -> datetime | None:
        """Internal mail's "Deadline: Mon 16 Nov 2026, 17:00 EST" (written in the candidate's zone)."""
        found = DEADLINE_LINE.search(self.text)
        if found is None:
            return None
        day, month, year, hh, mm = found.groups()
        month_number = [m[:3] for m in _MONTHS].index(month) + 1
        return datetime(int(year), month_number, int(day), int(hh), int(mm), tzinfo=zone).astimezone(UTC)

    def application(self) -> str | None:
        found = APPLICATION_LINE.search(self.text)
        return found.group(1) if found else None

    def wording(self) -> str:
        """The body without dates, numbers and links: what must change between autopilot updates."""
        text = re.sub(r"https?://\S+", "", self.text)
        text = re.sub(rf"({_WEEKDAYS}) \d{{1,2}} ({'|'.join(_MONTHS)})( \d{{4}})?", "<date>", text)
        text = re.sub(r"\d+", "<n>", text)
        return " ".join(text.split())


# -- the model ---------------------------------------------------------------------------------------------


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _fmt(at: datetime | None, zone: ZoneInfo = ORG_ZONE) -> str:
    return "-" if at is None else at.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z")


@dataclass
class Interview:
    id: str
    ends_at: datetime
    starts_at: datetime | None
    set_at: datetime  # occurred_at of the event that last set its time (a reschedule must be newer)
    ended: datetime | None = None  # when the oracle saw it end (posted as completed, or its end passed)


@dataclass
class Cycle:
    """"This candidate must hear from us by `due`" (DESIGN's obligation), as the oracle sees it."""
    number: int
    kind: str  # what opened it: interview | contact | update (a status update named `named`)
    anchor: datetime  # the interview's end, the contact, the message that opened it
    opened: datetime  # when the data that opened it arrived
    due: datetime
    set_at: datetime  # when `due` was last set (data arrival, recomputation)
    basis: str
    named: date | None = None  # the date the opening message put in writing
    written: datetime | None = None  # end of the window on the earliest date in writing in this cycle
    closed: datetime | None = None
    closed_by: str | None = None
    overdue_plan: datetime | None = None  # set when `due` passed unanswered: when the answer should have left
    autopilot_off: bool = False
    # A decision mail that was on its way was cancelled (reopen): when autopilot steps in again after
    # that is not ruled (it must still be by the deadline).
    decision_cancelled: bool = False


@dataclass
class Pending:
    """A decision mail the candidate is owed: a rejection, or a closing notice."""
    posted: datetime
    occurred: datetime
    not_before: datetime | None = None
    job: str | None = None


@dataclass
class Update:
    mail: Mail
    named: date | None
    anchor: datetime | None  # the anchor of the cycle it answered
    decision_pending: bool
    k: int = 0


@dataclass
class Promise:
    """A date in writing (invariant 7)."""
    app: str
    sent: datetime
    day: date
    by: datetime  # 17:00 candidate-local that day
    kind: str
    seq: int  # the order in which the oracle saw the mail (several leave in one sweep)


@dataclass
class Candidate:
    id: str
    email: str | None = None
    zone: str | None = None
    country: str | None = None
    erased: datetime | None = None

    @property
    def calendar(self) -> Calendar:
        return candidate_calendar(self.zone, self.country)


@dataclass
class Job:
    id: str
    title: str | None = None
    closed: bool = False
    status_at: datetime | None = None


@dataclass
class App:
    id: str
    candidate: str
    job: str
    first_at: datetime  # occurred_at of the first event naming it: active as of then
    status: str = "active"
    status_at: datetime | None = None
    status_initial: bool = True  # still the status the application was created with
    history: list[tuple[datetime, str]] = field(default_factory=list)
    interviews: dict[str, Interview] = field(default_factory=dict)
    cycles: list[Cycle] = field(default_factory=list)
    promise: date | None = None
    rejected: Pending | None = None  # the latest effective rejection (ats none/unknown/absent)
    rejection: Pending | None = None  # a rejection mail owed
    closing: Pending | None = None  # a closing notice owed
    ended_at: datetime | None = None
    ended_how: str | None = None
    ended_known: datetime | None = None
    skipped: str | None = None
    skipped_at: datetime | None = None
    interviewed: bool = False
    opened_interviews: int = 0
    next_steps: int = 0
    human: list[tuple[datetime, datetime]] = field(default_factory=list)  # (occurred_at, posted)
    contacts: list[datetime] = field(default_factory=list)
    invitations: list[datetime] = field(default_factory=list)
    asked: list[date | None] = field(default_factory=list)  # accepted person updates, not yet sent
    updates: list[Update] = field(default_factory=list)
    discharges: list[tuple[datetime, int]] = field(default_factory=list)  # discharging mails: (sent, seq)
    neglect_escalations: list[datetime] = field(default_factory=list)
    escalations_off: list[datetime] = field(default_factory=list)

    @property
    def current(self) -> Cycle | None:
        return self.cycles[-1] if self.cycles and self.cycles[-1].closed is None else None

    def status_at_instant(self, at: datetime) -> str:
        """The status as of `at` by occurred_at (before any change: active)."""
        status = "active"
        for when, value in self.history:
            if when <= at:
                status = value
        return status


@dataclass
class Verdict:
    failures: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # application -> why the oracle stopped
    checked: Counter = field(default_factory=Counter)  # what was checked, for coverage statistics

    @property
    def fully_checked(self) -> bool:
        return not self.skipped

    def report(self) -> str:
        lines = [f"oracle: {len(self.failures)} failure(s)"] + [f"  - {f}" for f in self.failures]
        if self.skipped:
            lines += ["  (not checked further: " + "; ".join(f"{a}: {w}" for a, w in self.skipped.items()) + ")"]
        return "\n".join(lines)


class Oracle:
    """Replays a trace (inputs and the mails each sweep wrote) against the rules; see the module doc."""

    def __init__(self, trace: list[Step], mails: dict[str, Mail], api: dict[str, Any], final_at: datetime,
                 api_notifications: dict[int, str] | None = None) -> None:
        self.trace, self.mails, self.api, self.final_at = trace, mails, api, final_at
        self.api_notifications = api_notifications or {}
        self.verdict = Verdict()
        self.apps: dict[str, App] = {}
        self.candidates: dict[str, Candidate] = {}
        self.jobs: dict[str, Job] = {}
        self.org_policy: dict[str, Any] = {}
        self.job_policy: dict[str, dict[str, Any]] = {}
        self.seen_ids: set[str] = set()
        self.promises: list[Promise] = []
        self.expected_breaches: list[tuple[str, datetime, str]] = []
        self.missed: dict[str, set[datetime]] = {}
        self.downs = [s for s in trace if isinstance(s, SweeperDown)]
        # Instants at which something changed for the sweeper: a message may rightly leave at the
        # first sweep after one of them (a rung skipped earlier becomes due again, the sweeper is back).
        self.chances = sorted([s.at for s in trace if isinstance(s, (Posted, StatusUpdateAsked, PolicySet))]
                              + [s.end for s in self.downs])
        self.swept_files = {f for s in trace if isinstance(s, Swept) for f in s.files}
        self.now: datetime | None = None
        self.seq = 0  # mails seen so far

    # -- running ------------------------------------------------------------------------------------------
    def run(self) -> Verdict:
        for step in self.trace:
            at = step.end if isinstance(step, SweeperDown) else step.at
            self.advance(at)
            if isinstance(step, Posted):
                self.on_posted(step)
            elif isinstance(step, StatusUpdateAsked):
                self.on_asked(step)
            elif isinstance(step, PolicySet):
                self.on_policy(step)
            elif isinstance(step, Swept):
                for name in step.files:
                    if name in self.mails:
                        if self.mails[name].date != step.at:  # the proof of notice is the Date header
                            self.fail(f"{name}: Date {_fmt(self.mails[name].date)}, but it was handed over at "
                                      f"{_fmt(step.at)}")
                        self.on_mail(self.mails[name])
        # Mail written outside the sweeps the test recorded (none expected): by date, at the end.
        for mail in sorted((m for f, m in self.mails.items() if f not in self.swept_files), key=lambda m: m.date):
            self.advance(mail.date)
            self.on_mail(mail)
        self.advance(self.final_at)
        self.finish()
        return self.verdict

    def fail(self, text: str) -> None:
        self.verdict.failures.append(text)

    def skip(self, app: App, at: datetime, why: str) -> None:
        """A case the rules do not decide: stop checking this application from `at`."""
        if app.skipped is None:
            app.skipped, app.skipped_at = why, at
            self.verdict.skipped[app.id] = f"{why} (at {_fmt(at)})"

    def policy(self, app: App) -> Policy:
        return Policy.of(self.org_policy, self.job_policy.get(app.job))

    def cal(self, app: App) -> Calendar:
        opens, closes = self.policy(app).window()
        cal = self.candidates[app.candidate].calendar
        return Calendar(cal.zone, cal.countries, opens, closes)

    def first_chance(self, cal: Calendar, planned: datetime, sent: datetime) -> datetime:
        """The latest instant a message planned for `planned` may rightly leave, if it left at `sent`:
        the first window opening at or after the plan or the last change the sweeper saw before it."""
        latest = max([planned] + [c for c in self.chances if c <= sent])
        return cal.next_opening(latest)

    def excused(self, planned: datetime, due: datetime, cal: Calendar) -> bool:
        """The sweeper was down when the message should have left and came back only when the
        candidate's last window before the deadline had closed."""
        return any(d.start < planned < d.end and cal.next_opening(d.end) >= due for d in self.downs)

    # -- time passing -------------------------------------------------------------------------------------
    def advance(self, at: datetime) -> None:
        """Everything that happens by itself before `at`, in time order: interviews end (the sweeper
        opens their cycle), deadlines pass."""
        while True:
            upcoming: list[tuple[datetime, int, Any, Any]] = []
            for app in self.apps.values():
                if app.skipped:
                    continue
                for interview in app.interviews.values():
                    if interview.ended is None and interview.ends_at <= at:
                        upcoming.append((interview.ends_at, 0, app, interview))
                cycle = app.current
                if cycle is not None and cycle.overdue_plan is None and cycle.due < at:
                    upcoming.append((cycle.due, 1, app, cycle))
            if not upcoming:
                break
            when, what, app, thing = min(upcoming, key=lambda u: (u[0], u[1]))
            if what == 0:
                self.interview_ended(app, thing, when)
            else:
                thing.overdue_plan = self.planned_answer(app, thing)
                thing.autopilot_off = not self.policy(app)["autopilot"]
        self.now = at

    def planned_answer(self, app: App, cycle: Cycle) -> datetime:
        """When the answer to `cycle` should have left: a decision mail already on its way, else autopilot
        at the opening of the candidate's window on the due day (or when the deadline was set, if later)."""
        decision = self.expected_decision(app)
        if decision is not None and decision <= cycle.due:
            return decision
        cal = self.cal(app)
        return max(cal.opening(cal.day(cycle.due)), cycle.set_at)

    def expected_decision(self, app: App) -> datetime | None:
        """When the decision mail the candidate is owed (rejection, closing notice) should leave."""
        cal, policy = self.cal(app), self.policy(app)
        times = []
        if app.rejection is not None:
            r = app.rejection
            earliest = max(r.posted, r.not_before or r.posted)
            last_end = self.last_interview_end(app)
            if last_end is not None:
                earliest = max(earliest, cal.same_time_after(last_end, policy["rejection_min_delay_working_days"]))
            times.append(cal.next_opening(earliest))
        if app.closing is not None:
            c = app.closing
            times.append(cal.next_opening(max(c.posted, c.occurred + timedelta(minutes=policy["job_closed_hold_minutes"]))))
        return min(times, default=None)

    @staticmethod
    def last_interview_end(app: App) -> datetime | None:
        return max((i.ends_at for i in app.interviews.values() if i.ended is not None), default=None)

    # -- deadlines ------------------------------------------------------------------------------------------
    def rule_due(self, app: App, cycle: Cycle) -> tuple[datetime, str]:
        cal, policy = self.cal(app), self.policy(app)
        day = cal.day(cycle.anchor)
        if cycle.kind == "interview":
            if app.promise is not None and app.promise >= day:
                grace = policy["promised_decision_grace_working_days"]
                return cal.closing(cal.after(app.promise, grace)), "promised_decision"
            return cal.closing(cal.after(day, policy["first_update_working_days"])), "sla"
        if cycle.named is not None:  # the message that opened it named the day
            return cal.closing(cycle.named), "named"
        return cal.closing(cal.after(day, policy["cadence_working_days"])), "cadence"

    def deadline(self, app: App, cycle: Cycle, arrived: datetime) -> tuple[datetime, str]:
        """The rule's deadline, never later than a date in writing, never in the past."""
        due, basis = self.rule_due(app, cycle)
        if cycle.written is not None and cycle.written < due:
            due, basis = cycle.written, "written"
        if due < arrived:
            honest = self.cal(app).honest_deadline(arrived)
            if cycle.written is not None and arrived <= cycle.written < honest:
                return cycle.written, "written"
            return honest, "honest"
        if due < arrived + HONEST_MARGIN and basis != "written":
            # Not in the past, but no time to act: the rule ("before now") keeps it, the honest
            # deadline's own two-hour margin suggests replacing it. Undecided.
            return due, "too_close"
        return due, basis

    def open_cycle(self, app: App, kind: str, anchor: datetime, known: datetime, named: date | None = None) -> None:
        cycle = Cycle(number=len(app.cycles) + 1, kind=kind, anchor=anchor, opened=known, due=known, set_at=known,
                      basis="", named=named)
        if named is not None:
            cycle.written = self.cal(app).closing(named)
        cycle.due, cycle.basis = self.deadline(app, cycle, known)
        app.cycles.append(cycle)
        if cycle.basis == "too_close":
            self.skip(app, known, "a deadline less than two hours away when it was set")
        self.verdict.checked[f"cycle opened by {kind} ({cycle.basis})"] += 1

    def recompute(self, app: App, cycle: Cycle, at: datetime) -> None:
        if cycle.closed is not None or cycle.due <= at:
            return  # a deadline that has passed stays: its outcome is history
        due, basis = self.deadline(app, cycle, at)
        if basis == "too_close":
            self.skip(app, at, "a deadline recomputed to less than two hours away")
        elif due != cycle.due:
            cycle.due, cycle.basis, cycle.set_at = due, basis, at

    def put_in_writing(self, app: App, mail: Mail, day: date) -> None:
        """Invariant 7: the date is a promise, and it caps the open cycle's deadline."""
        cal = self.cal(app)
        by = cal.closing(day)
        if by < mail.date:
            self.fail(f"{app.id}: {mail.kind} at {_fmt(mail.date, cal.zone)} promises news by {day:%a %d %b}, a day "
                      f"already over when it was sent")
            return
        self.promises.append(Promise(app.id, mail.date, day, by, mail.kind, self.seq))
        cycle = app.current
        if cycle is not None:
            cycle.written = by if cycle.written is None else min(cycle.written, by)
            if by < cycle.due:
                cycle.due, cycle.basis, cycle.set_at = by, "written", mail.date

    @staticmethod
    def close_cycle(cycle: Cycle, at: datetime, by: str) -> None:
        cycle.closed, cycle.closed_by = at, by

    def end(self, app: App, at: datetime, how: str, known: datetime) -> None:
        """The application is over for the candidate: nothing more is owed."""
        if app.ended_at is not None:
            return
        app.ended_at, app.ended_how, app.ended_known = at, how, known
        app.rejection = app.closing = None
        cycle = app.current
        if cycle is not None:
            self.close_cycle(cycle, at, how)

    # -- inputs ------------------------------------------------------------------------------------------------
    def on_posted(self, step: Posted) -> None:
        body, posted = step.body, step.at
        if body["id"] in self.seen_ids:
            return  # a repeated id is acknowledged and ignored (DESIGN, canonical events)
        self.seen_ids.add(body["id"])
        kind, occurred = body["type"], _instant(body["occurred_at"])
        if kind == "candidate.erased":
            self.erase(body["candidate"]["id"], posted)
            return
        if kind.startswith("job."):
            self.on_job(body, occurred, posted)
            return
        candidate = self.candidate(body["candidate"])
        if candidate.erased is not None:
            return  # an erased person is never touched again
        app = self.application(body, occurred)
        if kind in HUMAN_EVENTS:
            app.human.append((occurred, posted))
        if app.skipped:
            return
        if kind == "interview.completed":
            if body.get("decision_expected_by"):
                self.promise_decision(app, date.fromisoformat(body["decision_expected_by"]), posted)
            self.on_interview(app, body, occurred, posted, completed=True)
        elif kind == "interview.scheduled":
            self.on_interview(app, body, occurred, posted, completed=False)
        elif kind == "decision.promised":
            self.promise_decision(app, date.fromisoformat(body["decision_expected_by"]), posted)
        elif kind == "candidate.contacted":
            self.on_contact(app, occurred, posted)
        elif kind in STATUS_EVENTS:
            self.on_status(app, STATUS_EVENTS[kind], occurred, posted, body)

    def candidate(self, ref: dict[str, Any]) -> Candidate:
        candidate = self.candidates.setdefault(ref["id"], Candidate(ref["id"]))
        if candidate.erased is None:
            candidate.email = (ref.get("email") or candidate.email or "").lower() or None
            candidate.zone = ref.get("timezone") or candidate.zone
            candidate.country = ref.get("country") or candidate.country
        return candidate

    def job(self, ref: dict[str, Any]) -> Job:
        job = self.jobs.setdefault(ref["id"], Job(ref["id"]))
        job.title = ref.get("title") or job.title
        return job

    def application(self, body: dict[str, Any], occurred: datetime) -> App:
        self.job(body["job"])
        app_id = body["application"]["id"]
        if app_id not in self.apps:
            self.apps[app_id] = App(app_id, body["candidate"]["id"], body["job"]["id"], first_at=occurred,
                                    status_at=occurred)
        return self.apps[app_id]

    def on_interview(self, app: App, body: dict[str, Any], occurred: datetime, posted: datetime,
                     completed: bool) -> None:
        ref = body["interview"]
        ends = _instant(ref["ends_at"]) if ref.get("ends_at") else occurred
        starts = _instant(ref["starts_at"]) if ref.get("starts_at") else None
        interview = app.interviews.get(ref["id"])
        new = interview is None
        if interview is None:
            interview = app.interviews[ref["id"]] = Interview(ref["id"], ends, starts, occurred)
        elif interview.ended is None:
            if occurred >= interview.set_at:  # a reschedule older than what we know moves nothing
                interview.ends_at, interview.starts_at, interview.set_at = ends, starts or interview.starts_at, occurred
            elif completed:
                self.skip(app, posted, f"interview {ref['id']} completed by an event older than its schedule")
                return
        if not completed and new and interview.ends_at > posted:
            # An invitation to a further round is news: it answers the open cycle, and the next one
            # opens when that interview ends.
            app.invitations.append(posted)
            cycle = app.current
            if cycle is not None and occurred >= cycle.opened:
                self.close_cycle(cycle, occurred, "invitation")
        if completed or interview.ends_at <= posted:
            self.interview_ended(app, interview, posted)

    def interview_ended(self, app: App, interview: Interview, known: datetime) -> None:
        if interview.ended is not None:
            return
        interview.ended = known
        ends = interview.ends_at
        if app.skipped or app.ended_at is not None or self.candidates[app.candidate].erased is not None:
            return
        if app.status == "rejected" and app.rejected is not None:
            if ends > app.rejected.occurred:
                # Interviewed after the rejection: which interview the rejection's minimum delay counts
                # from, and whether it is owed at all, the rules do not say.
                self.skip(app, known, "an interview ended after the application was rejected")
                return
            if app.rejection is None:
                # The rejection arrived first and looked like "not interviewed"; the interview preceded
                # it, so the candidate is owed the rejection notice after all.
                app.rejection = Pending(known, app.rejected.occurred, app.rejected.not_before)
        if app.status_at_instant(ends) != "active":
            return  # it ended while the application was not in the process: nothing opens
        app.interviewed = True
        cycle = app.current
        if cycle is not None and cycle.anchor >= ends:
            return  # a later interview or message already anchors the open cycle
        if cycle is not None:
            self.close_cycle(cycle, interview.starts_at or ends, "interview")  # the interview was contact
        app.opened_interviews += 1
        self.open_cycle(app, "interview", anchor=ends, known=known)

    def promise_decision(self, app: App, day: date, posted: datetime) -> None:
        app.promise = day
        cycle = app.current
        if cycle is not None and cycle.kind == "interview":
            self.recompute(app, cycle, posted)

    def on_contact(self, app: App, occurred: datetime, posted: datetime) -> None:
        app.contacts.append(occurred)
        if any(p.app == app.id and occurred < p.sent and posted < p.by for p in self.promises):
            # The candidate was given a date after this contact, but the system learns of the contact
            # only now: does the older contact end the newer promise? The rules do not say.
            self.skip(app, posted, "a contact reported after a later date in writing")
            return
        cycle = next((c for c in reversed(app.cycles) if c.anchor <= occurred), None)
        if cycle is None or cycle.closed is not None:
            return  # before any cycle, or a contact learnt late: finish() credits the cycle it fell in
        self.close_cycle(cycle, occurred, "contact")
        if app.status == "active" and app.ended_at is None:
            self.open_cycle(app, "contact", anchor=occurred, known=posted)

    def on_status(self, app: App, status: str, occurred: datetime, posted: datetime, body: dict[str, Any]) -> None:
        if app.status_at is not None and occurred < app.status_at:
            return  # an older event never overrides a newer one
        if occurred == app.status_at and not app.status_initial and status != app.status:
            self.skip(app, posted, f"{app.status} and {status} with the same occurred_at")
            return
        decided = app.status in ("hired", "withdrawn") or app.ended_how in ("rejection", "ats_rejection", "job_closed")
        if decided:
            if status != app.status:
                self.skip(app, posted, f"{status} after the application ended ({app.ended_how or app.status})")
            return
        if status == app.status:
            if status == "active":  # remembered, so an older rejection arriving later cannot undo it
                app.status_at, app.status_initial = max(app.status_at or occurred, occurred), False
            return  # e.g. rejected twice: the first one stands
        app.status, app.status_at, app.status_initial = status, occurred, False
        app.history.append((occurred, status))
        if status == "rejected":
            app.closing = None
            ats = body.get("ats_notification")
            if ats in ("sent", "scheduled"):
                self.end(app, occurred, "ats_rejection", posted)
                return
            not_before = _instant(body["notify_not_before"]) if body.get("notify_not_before") else None
            app.rejected = Pending(posted, occurred, not_before)
            ended = [i for i in app.interviews.values() if i.ended is not None]
            if any(i.ends_at <= occurred for i in ended):
                app.rejection = Pending(posted, occurred, not_before)
            elif ended:
                self.skip(app, posted, "rejected before the interview it follows ended")
        elif status == "active":
            self.cancel_decision(app, "rejection")  # a reopen cancels the rejection notice
            waiting = any(i.ended is None for i in app.interviews.values())
            if app.interviewed and app.current is None and not waiting and app.ended_at is None:
                self.skip(app, posted, "reopened with no open cycle (no rule for its deadline)")
        else:
            self.end(app, occurred, status, posted)

    def on_job(self, body: dict[str, Any], occurred: datetime, posted: datetime) -> None:
        job = self.job(body["job"])
        closing = body["type"] == "job.closed"
        mine = [a for a in self.apps.values() if a.job == job.id and not a.skipped]
        if job.status_at is not None and occurred <= job.status_at:
            if occurred == job.status_at and closing != job.closed:
                for app in mine:
                    self.skip(app, posted, "job closed and reopened with the same occurred_at")
            return
        job.closed, job.status_at = closing, occurred
        for app in mine:
            if not closing:
                self.cancel_decision(app, "closing")  # a reopen before the notice leaves cancels it
            elif (app.status == "active" and app.interviewed and app.ended_at is None and app.closing is None
                  and self.candidates[app.candidate].erased is None):
                app.closing = Pending(posted, occurred, job=job.id)

    @staticmethod
    def cancel_decision(app: App, which: str) -> None:
        if getattr(app, which) is not None and app.current is not None:
            app.current.decision_cancelled = True
        setattr(app, which, None)

    def erase(self, candidate_id: str, posted: datetime) -> None:
        candidate = self.candidates.setdefault(candidate_id, Candidate(candidate_id))
        if candidate.erased is not None:
            return
        candidate.erased = posted
        for app in self.apps.values():
            if app.candidate == candidate_id:
                self.end(app, posted, "erased", posted)

    def on_asked(self, step: StatusUpdateAsked) -> None:
        """A person asked for a status update: the API must judge their day by the candidate's calendar."""
        app = self.apps.get(step.app)
        if app is None:
            return
        wanted = step.body.get("next_date")
        if wanted:
            day = date.fromisoformat(wanted)
            cal = self.cal(app)
            today = cal.day(step.at)
            valid = today < day <= cal.after(today, MAX_PROMISE_WORKING_DAYS) and cal.is_working(day)
            refused_for_day = step.status == 422 and "next_date" in str(step.answer.get("errors", {}))
            self.verdict.checked["person's day judged"] += 1
            if refused_for_day and valid:
                self.fail(f"{app.id}: the API refused next_date {day:%a %d %b %Y}, a working day of the candidate "
                          f"({cal.zone.key}, {'+'.join(cal.countries)}), asked at {_fmt(step.at)}: {step.answer}")
            if step.status == 202 and not valid:
                self.fail(f"{app.id}: the API accepted next_date {day:%a %d %b %Y}, which is not a day the "
                          f"candidate ({cal.zone.key}, {'+'.join(cal.countries)}) can be promised")
        if step.status == 202:
            app.asked.append(date.fromisoformat(wanted) if wanted else None)
            app.human.append((step.at, step.at))

    def on_policy(self, step: PolicySet) -> None:
        if step.status != 200:
            return
        if step.job is None:
            self.org_policy = dict(step.overrides)
        else:
            self.job_policy[step.job] = dict(step.overrides)
        for app in self.apps.values():
            cycle = app.current
            if cycle is not None and not app.skipped:
                self.recompute(app, cycle, step.at)

    # -- outputs: each mail, against the model as it stood when it left ---------------------------------
    def on_mail(self, mail: Mail) -> None:
        self.seq += 1
        self.verdict.checked[f"mail {mail.kind}{' (autopilot)' if mail.autopilot else ''}"] += 1
        if mail.kind in CANDIDATE_KINDS:
            self.candidate_mail(mail)
        elif mail.kind in INTERNAL_KINDS:
            self.internal_mail(mail)
        else:
            self.fail(f"{mail.file}: unknown kind {mail.kind!r}")

    def candidate_mail(self, mail: Mail) -> None:
        candidate = next((c for c in self.candidates.values() if c.email == mail.to), None)
        if candidate is None:
            self.fail(f"{mail.file}: {mail.kind} to {mail.to}, who is no candidate of this trace")
            return
        cal = candidate.calendar
        if not cal.in_window(mail.date):
            self.fail(f"invariant 8: {mail.kind} to {candidate.id} at {_fmt(mail.date, cal.zone)}, outside the "
                      f"candidate's send window ({cal.zone.key}, holidays {'+'.join(cal.countries)})")
        if candidate.erased is not None:
            self.fail(f"invariant 2: {mail.kind} to {candidate.id} at {_fmt(mail.date)}, after the erasure was "
                      f"posted ({_fmt(candidate.erased)})")
            return
        apps = self.attribute(mail, candidate)
        if mail.kind == "job_closed":
            self.on_job_closed(candidate, apps, mail)
            return
        if len(apps) != 1:
            return
        app = apps[0]
        if app.skipped:
            return
        if app.ended_known is not None:
            self.fail(f"{app.id}: {mail.kind} at {_fmt(mail.date)} although the application had ended "
                      f"({app.ended_how} at {_fmt(app.ended_at)}, known {_fmt(app.ended_known)})")
            return
        if mail.kind == "next_steps":
            self.on_next_steps(app, mail)
        elif mail.kind == "status_update":
            self.on_status_update(app, mail)
        elif mail.kind == "rejection":
            self.on_rejection(app, mail)
        elif mail.kind == "reply_ack":
            day = mail.named_date(self.cal(app).day(mail.date))
            if day is not None:
                self.put_in_writing(app, mail, day)

    def attribute(self, mail: Mail, candidate: Candidate) -> list[App]:
        """Which of the candidate's applications the mail is about: the job title it names (what the
        candidate reads), else the API's record of the notification."""
        mine = [a for a in self.apps.values() if a.candidate == candidate.id]
        titled = [a for a in mine if self.jobs[a.job].title
                  and re.search(rf"\b{re.escape(self.jobs[a.job].title)}\b", mail.text)]
        if mail.kind == "job_closed" and titled:
            return titled
        if len(titled) == 1:
            return titled
        by_api = self.api_notifications.get(mail.notification_id or -1)
        if by_api in self.apps:
            return [self.apps[by_api]]
        self.fail(f"{mail.file}: cannot tell which application of {candidate.id} the {mail.kind} is about")
        return []

    def on_next_steps(self, app: App, mail: Mail) -> None:
        cal = self.cal(app)
        app.next_steps += 1
        if app.next_steps > app.opened_interviews:
            self.fail(f"invariant 2: {app.id} got next_steps #{app.next_steps} at {_fmt(mail.date)}, but only "
                      f"{app.opened_interviews} interview(s) opened a cycle")
        day = mail.named_date(cal.day(mail.date))
        cycle = app.current
        if day is None:
            return
        if cycle is not None and cycle.kind == "interview" and day != cal.day(cycle.due):
            self.fail(f"{app.id}: next_steps at {_fmt(mail.date)} names {day:%a %d %b}, but the deadline is "
                      f"{_fmt(cycle.due, cal.zone)} ({cycle.basis})")
        self.verdict.checked["next_steps date"] += 1
        self.put_in_writing(app, mail, day)

    def on_status_update(self, app: App, mail: Mail) -> None:
        cal, policy = self.cal(app), self.policy(app)
        cycle = app.current
        decision = self.expected_decision(app)
        pending = app.rejection is not None or app.closing is not None
        if cycle is not None and decision is not None and decision <= cycle.due \
                and not any(d.start < decision < d.end for d in self.downs):
            self.fail(f"{app.id}: status_update at {_fmt(mail.date)} although a decision mail was due to reach "
                      f"the candidate at {_fmt(decision)}, by the deadline {_fmt(cycle.due, cal.zone)}")
        named = mail.named_date(cal.day(mail.date))
        who = "autopilot" if mail.autopilot else "a person"
        if mail.autopilot:
            self.check_autopilot_timing(app, mail, cycle)
        elif not app.asked:
            self.fail(f"{app.id}: a status update at {_fmt(mail.date)} without autopilot's header that nobody asked for")
        else:
            asked = app.asked.pop(0)
            if asked is not None and asked < cal.day(mail.date):
                # The chosen day passed before the update could go out (the sweeper was down): naming
                # it would promise a day already gone, so the update falls back to the cadence.
                asked = None
            cadence = cal.after(cal.day(mail.date), policy["cadence_working_days"])
            if asked is not None and named != asked:
                self.fail(f"{app.id}: the person chose {asked:%a %d %b}, the update at {_fmt(mail.date)} names {named}")
            elif asked is None and (named is None or named > cadence or (named < cadence and not pending)):
                self.fail(f"{app.id}: a person's update at {_fmt(mail.date)} names {named}, the cadence says "
                          f"{cadence:%a %d %b}")
        if named is None:
            self.fail(f"{app.id}: status update from {who} at {_fmt(mail.date)} names no date")
        app.updates.append(Update(mail, named, cycle.anchor if cycle else None, pending))
        app.discharges.append((mail.date, self.seq))
        if cycle is not None:
            self.close_cycle(cycle, mail.date, "status_update")
        if named is not None and cal.closing(named) < mail.date:
            self.fail(f"{app.id}: status update at {_fmt(mail.date, cal.zone)} promises news by {named:%a %d %b}, a day "
                      f"already over when it was sent")
        elif named is not None:
            self.promises.append(Promise(app.id, mail.date, named, cal.closing(named), mail.kind, self.seq))
        if app.ended_at is None and app.interviewed:
            self.open_cycle(app, "update", anchor=mail.date, known=mail.date, named=named)

    def check_autopilot_timing(self, app: App, mail: Mail, cycle: Cycle | None) -> None:
        """Autopilot writes on the due day, at the opening of the candidate's window (or the first sweep
        after the deadline was set, if later), never earlier in the cycle."""
        if cycle is None:
            self.fail(f"{app.id}: autopilot update at {_fmt(mail.date)} with no open cycle")
            return
        cal = self.cal(app)
        opening = cal.opening(cal.day(cycle.due))
        self.verdict.checked["autopilot timing"] += 1
        if mail.date < opening:
            self.fail(f"{app.id}: autopilot wrote at {_fmt(mail.date, cal.zone)}, before the due day of cycle "
                      f"{cycle.number} (due {_fmt(cycle.due, cal.zone)}, {cycle.basis}): a second update in the cycle")
        elif cycle.overdue_plan is None and not cycle.decision_cancelled:  # on time: at its first chance
            chance = self.first_chance(cal, max(opening, cycle.set_at), mail.date)
            if mail.date > chance:
                self.fail(f"{app.id}: autopilot wrote at {_fmt(mail.date, cal.zone)}, not at its first chance "
                          f"{_fmt(chance, cal.zone)} (cycle {cycle.number} due {_fmt(cycle.due, cal.zone)})")

    def on_rejection(self, app: App, mail: Mail) -> None:
        cal, policy = self.cal(app), self.policy(app)
        if app.status != "rejected":
            self.fail(f"invariant 2: rejection to {app.id} at {_fmt(mail.date)} while the application is "
                      f"{app.status} (as of {_fmt(app.status_at)})")
        elif app.rejection is None:
            self.fail(f"{app.id}: rejection at {_fmt(mail.date)} that nobody owed (not interviewed before it, "
                      f"or already sent)")
        else:
            r = app.rejection
            self.verdict.checked["rejection timing"] += 1
            last_end = self.last_interview_end(app)
            floor = cal.same_time_after(last_end, policy["rejection_min_delay_working_days"]) if last_end else None
            if r.not_before is not None and mail.date < r.not_before:
                self.fail(f"{app.id}: rejection at {_fmt(mail.date)} before notify_not_before {_fmt(r.not_before)}")
            if floor is not None and mail.date < floor:
                self.fail(f"{app.id}: rejection at {_fmt(mail.date)} within the minimum delay after the interview "
                          f"({_fmt(floor, cal.zone)})")
            expected = self.expected_decision(app)
            if expected is not None and mail.date > self.first_chance(cal, expected, mail.date):
                self.fail(f"{app.id}: rejection at {_fmt(mail.date)}, expected at {_fmt(expected, cal.zone)}")
        app.discharges.append((mail.date, self.seq))
        self.end(app, mail.date, "rejection", mail.date)

    def on_job_closed(self, candidate: Candidate, apps: list[App], mail: Mail) -> None:
        cal = candidate.calendar
        # One notice per person: it may wait for the latest hold among the closings it speaks for.
        together = max((t for t in (self.expected_decision(a) for a in apps if not a.skipped and a.closing)
                        if t is not None), default=None)
        for app in apps:
            if app.skipped:
                continue
            if app.ended_known is not None:
                self.fail(f"invariant 2: job_closed about {app.id} at {_fmt(mail.date)} although it had ended "
                          f"({app.ended_how} at {_fmt(app.ended_at)})")
                continue
            closing = app.closing
            if closing is None:
                self.fail(f"{app.id}: job_closed at {_fmt(mail.date)} not owed (job open, or the application "
                          f"not interviewed and active when it closed): status {app.status}")
            else:
                hold = timedelta(minutes=self.policy(app)["job_closed_hold_minutes"])
                self.verdict.checked["closing notice timing"] += 1
                if mail.date < closing.occurred + hold:
                    self.fail(f"{app.id}: job_closed at {_fmt(mail.date)} before the hold after the closing "
                              f"({_fmt(closing.occurred)} + {hold})")
                expected = together
                if expected is not None and mail.date > self.first_chance(cal, expected, mail.date):
                    self.fail(f"{app.id}: job_closed at {_fmt(mail.date)}, expected at {_fmt(expected, cal.zone)}")
            app.discharges.append((mail.date, self.seq))
            self.end(app, mail.date, "job_closed", mail.date)
        for other in self.apps.values():  # one notice per person: a closing already due goes in this one
            if other.candidate == candidate.id and other not in apps and not other.skipped and other.closing:
                expected = self.expected_decision(other)
                if expected is not None and expected <= mail.date:
                    self.fail(f"invariant 2: {other.id}'s closing notice (due {_fmt(expected)}) is not in the "
                              f"notice {candidate.id} got at {_fmt(mail.date)}")

    def internal_mail(self, mail: Mail) -> None:
        if not ORG_CALENDAR.in_window(mail.date):
            self.fail(f"invariant 8: {mail.kind} to {mail.to} at {_fmt(mail.date)}, outside the organisation's window")
        app = self.apps.get(mail.application() or "")
        if mail.kind in ("reminder_recruiter", "reminder_hiring_manager"):
            self.on_reminder(app, mail)
        elif mail.kind == "escalation":
            self.on_escalation(app, mail)

    def on_reminder(self, app: App | None, mail: Mail) -> None:
        recruiter = mail.kind == "reminder_recruiter"
        expected_to = (RECRUITER if recruiter else HIRING_MANAGER)[1]
        if mail.to != expected_to:
            self.fail(f"{mail.file}: {mail.kind} to {mail.to}, not {expected_to}")
        if app is None:
            self.fail(f"{mail.file}: {mail.kind} names no application of this trace")
            return
        if app.skipped:
            return
        cycle, cal, policy = app.current, self.cal(app), self.policy(app)
        if cycle is None or app.ended_known is not None:
            self.fail(f"{app.id}: {mail.kind} at {_fmt(mail.date)} about a cycle that had ended")
            return
        self.verdict.checked["reminder"] += 1
        named = mail.deadline(cal.zone)
        if named != cycle.due:
            self.fail(f"{app.id}: {mail.kind} at {_fmt(mail.date)} names the deadline {_fmt(named, cal.zone)}; the "
                      f"oracle's is {_fmt(cycle.due, cal.zone)} ({cycle.basis})")
        if mail.date >= cycle.due:
            self.fail(f"{app.id}: {mail.kind} at {_fmt(mail.date)} about a deadline that had passed "
                      f"({_fmt(cycle.due, cal.zone)})")
        before = policy["recruiter_reminder_working_days_before" if recruiter
                        else "hiring_manager_reminder_working_days_before"]
        if before is None:
            self.fail(f"{app.id}: {mail.kind} although the policy has no such reminder")
            return
        rung = ORG_CALENDAR.at(ORG_CALENDAR.before(cal.day(cycle.due), before), time.fromisoformat(policy["reminder_time"]))
        if mail.date < rung:
            self.fail(f"{app.id}: {mail.kind} at {_fmt(mail.date)}, before its rung time {_fmt(rung)} "
                      f"(due {_fmt(cycle.due, cal.zone)})")
        decision = self.expected_decision(app)
        if decision is not None and decision <= cycle.due:
            self.fail(f"{app.id}: {mail.kind} at {_fmt(mail.date)} although a decision mail was on its way "
                      f"({_fmt(decision)})")

    def on_escalation(self, app: App | None, mail: Mail) -> None:
        if mail.to != ESCALATION_ADDRESS:
            self.fail(f"{mail.file}: escalation to {mail.to}, not {ESCALATION_ADDRESS}")
        if app is None:
            self.fail(f"{mail.file}: escalation names no application of this trace")
            return
        if "Autopilot has had to update" in mail.text:  # neglect (DESIGN "After autopilot")
            app.neglect_escalations.append(mail.date)
            title = self.jobs[app.job].title or ""
            missing = [n for n in (title, RECRUITER[0], HIRING_MANAGER[0]) if n not in mail.text]
            if missing:
                self.fail(f"{app.id}: the neglect escalation at {_fmt(mail.date)} does not name {missing}")
        elif "Autopilot is off" in mail.text:
            app.escalations_off.append(mail.date)
            cycle = app.current
            if cycle is not None and not app.skipped:
                self.verdict.checked["autopilot-off escalation"] += 1
                earliest = ORG_CALENDAR.last_window_opening_before(cycle.due)
                if not earliest <= mail.date < cycle.due:
                    self.fail(f"{app.id}: autopilot-off escalation at {_fmt(mail.date)}; the candidate's deadline "
                              f"is {_fmt(cycle.due)}, so it belongs in the organisation's last window before it "
                              f"(from {_fmt(earliest)})")
        else:
            self.fail(f"{app.id}: escalation at {_fmt(mail.date)} for a reason the trace gives none for: "
                      f"{mail.text[:300]!r}")

    # -- the verdict ------------------------------------------------------------------------------------------
    def finish(self) -> None:
        for app in self.apps.values():
            for cycle in app.cycles:
                self.judge_cycle(app, cycle)
            self.judge_autopilot_runs(app)
            self.judge_owed_decisions(app)
        for promise in self.promises:
            self.judge_promise(promise)
        self.judge_api()

    def limit(self, app: App) -> datetime:
        """Checks cover what was due before the oracle stopped checking the application (or the end)."""
        return app.skipped_at if app.skipped_at is not None else self.final_at

    def judge_cycle(self, app: App, cycle: Cycle) -> None:
        """Invariant 1 for one cycle."""
        if cycle.due >= self.limit(app):
            return
        cal = self.cal(app)
        self.verdict.checked["deadline passed"] += 1
        if cycle.closed is not None and cycle.closed <= cycle.due:
            return
        if any(cycle.anchor <= c <= cycle.due for c in app.contacts):
            return  # a contact the ATS reported (maybe late) answered it
        if app.ended_at is not None and app.ended_at <= cycle.due:
            return
        self.missed.setdefault(app.id, set()).add(cycle.due)
        where = (f"{app.id} cycle {cycle.number} (opened by {cycle.kind} at {_fmt(cycle.anchor)}, due "
                 f"{_fmt(cycle.due, cal.zone)} [{cycle.basis}, set {_fmt(cycle.set_at)}])")
        if cycle.autopilot_off:
            self.verdict.checked["deadline missed: autopilot off"] += 1
            self.expected_breaches.append((app.id, cycle.due, "autopilot_off"))
            if not app.escalations_off:
                self.fail(f"{where}: autopilot off and nobody answered, but no escalation went to talent ops")
            return
        plan = cycle.overdue_plan
        if plan is not None and self.excused(plan, cycle.due, cal):
            self.verdict.checked["deadline missed: sweeper down"] += 1
            self.expected_breaches.append((app.id, cycle.due, "late"))
            return
        closed = f"answered at {_fmt(cycle.closed)} by {cycle.closed_by}" if cycle.closed else "never answered"
        self.fail(f"invariant 1: {where}: {closed}; the answer should have left at {_fmt(plan, cal.zone)}")

    def judge_promise(self, promise: Promise) -> None:
        """Invariant 7: news by the date in writing, or the obligation ended before it."""
        app = self.apps[promise.app]
        if promise.by >= self.limit(app):
            return
        self.verdict.checked["promise in writing"] += 1
        start, by = promise.sent, promise.by
        if any(seq > promise.seq and at <= by for at, seq in app.discharges):
            return
        if any(start <= c <= by for c in app.contacts) or any(start <= i <= by for i in app.invitations):
            return
        if any(i.ended is not None and start < i.ends_at <= by for i in app.interviews.values()):
            return  # another interview: they spoke to us
        if app.ended_at is not None and app.ended_at <= by:
            return
        if any(p.app == app.id and p.seq > promise.seq and p.sent <= by for p in self.promises):
            return  # "unless a message naming the new date reaches them first" (invariant 7)
        if any(c.due <= by and c.due in self.missed.get(app.id, ()) and (c.autopilot_off or (
                c.overdue_plan is not None and self.excused(c.overdue_plan, c.due, self.cal(app))))
               for c in app.cycles):
            return  # the miss is excused and reported (judge_cycle)
        self.fail(f"invariant 7: {app.id}: the {promise.kind} of {_fmt(promise.sent)} promised news by "
                  f"{promise.day:%a %d %b %Y}; nothing came by {_fmt(by, self.cal(app).zone)}")

    def judge_owed_decisions(self, app: App) -> None:
        if app.skipped or app.ended_at is not None:
            return
        expected = self.expected_decision(app)
        if expected is not None and expected + timedelta(days=4) < self.final_at:
            what = "rejection" if app.rejection else "closing notice"
            self.fail(f"{app.id}: the {what} owed since {_fmt((app.rejection or app.closing).posted)} "  # type: ignore[union-attr]
                      f"(expected at {_fmt(expected)}) never left")

    def judge_autopilot_runs(self, app: App) -> None:
        """DESIGN "After autopilot", over the updates the candidate received, in order."""
        cal, policy = self.cal(app), self.policy(app)
        limit = self.limit(app)
        previous: Update | None = None
        neglect_expected: list[datetime] = []
        for update in app.updates:
            mail = update.mail
            if mail.date >= limit:
                break
            if not mail.autopilot:
                previous = update
                continue
            update.k = 1
            if previous is not None and previous.mail.autopilot:
                before = previous.mail.date
                between = [h for h in app.human if before < h[0] and h[1] <= mail.date]
                learnt_late = [h for h in app.human if (before < h[1] <= mail.date and h[0] <= before)
                               or (h[1] > mail.date and before < h[0] <= mail.date)]
                if learnt_late:
                    self.skip(app, mail.date, "a person's action the system learnt of only after autopilot's update")
                    return
                update.k = 1 if between else previous.k + 1
            self.judge_autopilot_update(app, update, previous, cal, policy)
            if update.k == 2:
                neglect_expected.append(mail.date)
            previous = update
        self.verdict.checked["neglect escalations"] += len(neglect_expected)
        actual = [at for at in app.neglect_escalations if at < limit]
        missing_last = (neglect_expected and app.ended_at is not None
                        and app.ended_at < ORG_CALENDAR.next_opening(neglect_expected[-1]))
        if not (len(actual) == len(neglect_expected) or (missing_last and len(actual) == len(neglect_expected) - 1)):
            self.fail(f"{app.id}: {len(actual)} neglect escalation(s) {[_fmt(a) for a in actual]} for "
                      f"{len(neglect_expected)} run(s) of two autopilot updates "
                      f"{[_fmt(a) for a in neglect_expected]}")
        for at, escalated in zip(neglect_expected, actual):
            if escalated < at or escalated > self.first_chance(ORG_CALENDAR, at, escalated):
                self.fail(f"{app.id}: neglect escalation at {_fmt(escalated)}, not at the first office hour after "
                          f"the 2nd autopilot update ({_fmt(at)})")

    def judge_autopilot_update(self, app: App, update: Update, previous: Update | None, cal: Calendar,
                               policy: Policy) -> None:
        mail, k = update.mail, update.k
        self.verdict.checked[f"autopilot update #{min(k, 3)}{'+' if k >= 3 else ''} in a row"] += 1
        expected = cal.after(cal.day(mail.date), policy.after_autopilot(k))
        if update.named is not None and not (update.named == expected
                                             or (update.decision_pending and update.named < expected)):
            self.fail(f"{app.id}: autopilot update #{k} in a row at {_fmt(mail.date, cal.zone)} names "
                      f"{update.named:%a %d %b}; {policy.after_autopilot(k)} working days after it is "
                      f"{expected:%a %d %b}")
        text = mail.text.lower()
        if k >= 2:
            assert previous is not None
            if mail.wording() == previous.mail.wording():
                self.fail(f"{app.id}: autopilot update #{k} in a row at {_fmt(mail.date)} repeats the previous "
                          f"one's wording")
            if "sorry" not in text and "apolog" not in text:
                self.fail(f"{app.id}: autopilot update #{k} in a row at {_fmt(mail.date)} does not apologise")
        if "working on" in text or "working through" in text:
            acted = update.anchor is not None and any(update.anchor < o and p <= mail.date for o, p in app.human)
            if not acted:
                self.fail(f"{app.id}: autopilot update at {_fmt(mail.date)} says the team is working on it, but "
                          f"nobody acted in that cycle")

    def judge_api(self) -> None:
        """What the API reports: breaches exactly where the oracle sees a deadline missed."""
        for app in self.apps.values():
            record = self.api.get(app.id)
            if record is None:
                continue
            limit = self.limit(app)
            reported = [(_instant(o["due_at"]), o.get("breach_reason")) for o in record.get("obligations", [])
                        if o.get("breached_at")]
            for due, reason in reported:
                if due < limit and due not in self.missed.get(app.id, set()):
                    self.fail(f"{app.id}: the API reports a breach ({reason}) of the deadline {_fmt(due)}, which "
                              f"the oracle sees answered in time (or never owed)")
            for app_id, due, reason in self.expected_breaches:
                if app_id == app.id and (due, reason) not in reported:
                    self.fail(f"{app.id}: the deadline {_fmt(due)} was missed ({reason}); the API does not report "
                              f"it so (it reports {reported or 'no breach'})")


def check(trace: list[Step], messages: Iterable[tuple[str, EmailMessage]], api: dict[str, Any],
          final_at: datetime) -> Verdict:
    """Run the oracle. `messages`: (file name, parsed .eml) from the outbox; `api`: application id ->
    GET /api/v1/applications/<id> (missing: not reported)."""
    mails = {name: Mail.of(name, message) for name, message in messages}
    notification_apps = {n["id"]: app_id for app_id, record in api.items() for n in record.get("notifications", [])}
    return Oracle(trace, mails, api, final_at, notification_apps).run()
