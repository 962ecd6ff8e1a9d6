"""The dashboard overview: numbers from a small round with known outcomes, scope, filters, sorting, CSV.

The round (Acme, New York, US holidays; conftest's clock starts Mon 2 Nov 2026 14:00Z). Interviews
ending Mon 2 Nov are due Mon 9 Nov 17:00 EST (22:00Z); ending Tue 3 Nov, due Tue 10 Nov; Wed 11 Nov
is Veterans Day. The page is read at Mon 16 Nov 15:00Z (10:00 New York).

  app     job     what happens                                             outcome (cycle)
  ada     Eng     ATS rejection it sent itself, Wed 4 Nov                  on time, 2 business days
  ben     Eng     autopilot update Mon 9 Nov; ATS rejection Tue 10 Nov     c1 on time (autopilot, 5 days);
                                                                           c2 on time
  sal     Sales   ATS rejection Thu 5 Nov                                  on time, 3 business days
  cy      Eng     autopilot off at its deadline; rejection Thu 12 Nov      missed: autopilot off, answered late
                                                                           (6 business days)
  dee     Eng     no email address                                         missed: undeliverable, still waiting
  hal     Eng     autopilot off at its autopilot rung, on at its deadline  missed: forgotten, still waiting
  gus     Eng     withdrew Wed 4 Nov                                       closed, nothing owed: not counted
  eve     Eng     interview Mon 9 Nov, due Tue 17 Nov                      at risk now
  ivy     Eng     no email, interview Thu 12 Nov, due Thu 19 Nov           at risk now (undeliverable)
  fay     Eng     interview Thu 12 Nov, due Thu 19 Nov                     not yet at risk
  zed     other organisation, never answered                               never shown anywhere
"""

from __future__ import annotations

import csv
import html as html_lib
import io
import re
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from conftest import Org
from dashboard_support import add_user, csrf_token, sign_in
from helpers import event, interview_done
from sqlalchemy import select

from plugin.models import Application, Job
from plugin.reports.speed import WorkingDays, percentile
from plugin.sla.calendar import BusinessCalendar

SALES_JOB = {
    "id": "j-sales", "title": "Account Executive", "department": "Sales",
    "hiring_manager": {"name": "Sam Seller", "email": "sam@acme.example"},
    "recruiter": {"name": "Rita Recruit", "email": "rita@acme.example"},
}
NAMES = {"ada": "Ada Lovelace", "ben": "Ben Bitdiddle", "sal": "Sally Sales", "cy": "Cy Young", "dee": "Dee Dropped",
         "hal": "Hal Forgot", "gus": "Gus Gone", "eve": "Eve Early", "ivy": "Ivy Nomail", "fay": "Fay Later",
         "zed": "Zed Other"}
NO_EMAIL = {"dee", "ivy"}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ev(kind: str, who: str, at: datetime, **extra: Any) -> dict[str, Any]:
    """An event about `who`'s application (Engineering unless it is Sally's Sales one)."""
    body = event(kind, at, app=f"a-{who}", candidate=f"c-{who}", name=NAMES[who], **extra)
    if who == "sal":
        body["job"] = SALES_JOB
    if who in NO_EMAIL:
        body["candidate"]["email"] = None
    return body


def interview(who: str, at: datetime) -> dict[str, Any]:
    body = interview_done(at, interview=f"i-{who}", app=f"a-{who}", candidate=f"c-{who}", name=NAMES[who])
    if who == "sal":
        body["job"] = SALES_JOB
    if who in NO_EMAIL:
        body["candidate"]["email"] = None
    return body


def told_by_ats(who: str, at: datetime) -> dict[str, Any]:
    return ev("application.rejected", who, at, reason="Another candidate was a closer fit", ats_notification="sent")


def play_round(org: Org, tick: Any, other: Org) -> None:
    tick(at=utc(2026, 11, 2, 15))
    org.post(*(interview(who, utc(2026, 11, 2, 15)) for who in ("ada", "ben", "sal", "gus")))
    other.post(interview("zed", utc(2026, 11, 2, 15)))
    tick(at=utc(2026, 11, 3, 15))
    org.post(interview("cy", utc(2026, 11, 3, 15)), interview("dee", utc(2026, 11, 3, 15)))
    tick(at=utc(2026, 11, 4, 15))
    org.post(told_by_ats("ada", utc(2026, 11, 4, 15)), ev("application.withdrawn", "gus", utc(2026, 11, 4, 15)),
             interview("hal", utc(2026, 11, 4, 15)))
    tick(at=utc(2026, 11, 5, 15))
    org.post(told_by_ats("sal", utc(2026, 11, 5, 15)))
    tick(at=utc(2026, 11, 6, 14))
    tick(at=utc(2026, 11, 9, 14))  # autopilot writes to Ben (and to Zed, in the other organisation)
    org.put("/api/v1/policies/organization", {"autopilot": False})
    tick(at=utc(2026, 11, 9, 16))
    org.post(interview("eve", utc(2026, 11, 9, 16)))
    tick(at=utc(2026, 11, 10, 14))  # Cy: escalation (autopilot off); Dee: escalation (no address)
    tick(at=utc(2026, 11, 10, 15))
    org.post(told_by_ats("ben", utc(2026, 11, 10, 15)))
    tick(at=utc(2026, 11, 10, 22))  # Cy and Dee breach
    tick(at=utc(2026, 11, 12, 14))  # Hal: escalation, autopilot still off
    org.put("/api/v1/policies/organization", {"autopilot": True})
    tick(at=utc(2026, 11, 12, 15))
    org.post(told_by_ats("cy", utc(2026, 11, 12, 15)))
    tick(at=utc(2026, 11, 12, 16))
    org.post(interview("fay", utc(2026, 11, 12, 16)), interview("ivy", utc(2026, 11, 12, 16)))
    tick(at=utc(2026, 11, 12, 22))  # Hal breaches with autopilot on: forgotten
    tick(at=utc(2026, 11, 13, 14))
    tick(at=utc(2026, 11, 16, 15))



# -- reading the page ------------------------------------------------------------------------------------

def text(markup: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


def section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    return page[start:page.index("</section>", start)]


def rows(markup: str) -> list[list[str]]:
    """The body rows of the first table in `markup`, as cell texts."""
    body = markup[markup.index("<tbody>"):markup.index("</tbody>")]
    return [[text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def get(client: Any, query: str = "", expect: int = 200) -> str:
    response = client.get("/dashboard/" + query)
    assert response.status_code == expect, response.get_data(as_text=True)[:3000]
    return response.get_data(as_text=True)


def csv_rows(client: Any, query: str) -> tuple[Any, list[list[str]]]:
    response = client.get("/dashboard/" + query)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response, list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def app_id(rt: Any, who: str) -> int:
    with rt.db.session() as session:
        return session.scalar(select(Application.id).where(Application.external_id == f"a-{who}"))


def job_id(rt: Any, org: Org, external_id: str) -> int:
    with rt.db.session() as session:
        return session.scalar(select(Job.id).where(Job.org_id == org.id, Job.external_id == external_id))


@pytest.fixture
def round_(rt, client, org, tick):  # type: ignore[no-untyped-def]
    other = Org(rt, client, name="Other")
    play_round(org, tick, other)
    add_user(rt, org.id, "boss@acme.example", "admin")
    add_user(rt, org.id, "eng@acme.example", "manager", departments=["Engineering"])
    add_user(rt, other.id, "boss@other.example", "admin")
    return other


# -- the numbers ---------------------------------------------------------------------------------------------

# One round serves several checks (playing it takes a few seconds per back end).

def test_admin_overview_numbers_filters_sorting_and_csv(rt, client, org, round_):
    sign_in(client, "boss@acme.example")
    check_numbers(rt, client)
    check_filters(rt, client, org)
    check_sorting(client)
    check_exports(rt, client)


def test_manager_scope_and_another_organisation(rt, client, org, round_):
    sign_in(client, "eng@acme.example")
    check_manager_scope(rt, client, org)
    client.post("/dashboard/sign-out", data={"csrf_token": csrf_token(get(client))})
    sign_in(client, "boss@other.example")
    # The other organisation's admin sees only Zed (autopilot stepped in: 1 of 1 on time).
    theirs = get(client)
    assert "1 of 1 cycles on time" in text(theirs) and "Zed Other" in theirs
    assert not [name for name in NAMES.values() if name != "Zed Other" and name in theirs]
    assert "Backend Engineer (j-1)" in theirs and "Account Executive" not in theirs


def check_numbers(rt: Any, client: Any) -> None:
    page = get(client)
    rate = text(section(page, "rate-heading"))
    # 7 cycles had an outcome (Gus withdrew: nothing owed), 4 on time; all within both 30 and 90 days.
    assert "On time, last 30 days 57% 4 of 7 cycles on time" in rate
    assert "On time, last 90 days 57% 4 of 7 cycles on time" in rate
    # Interview -> first update: Ada 2, Sally 3, Ben 5, Cy 6 business days (Veterans Day skipped).
    assert "Business days from interview to first update 4 median; 90th percentile 6 (4 candidates" in rate
    assert "Autopilot step-ins, the last 30 days 1 " in rate
    assert "the number a good team drives to zero" in rate
    # The weekly trend, in the chart's data and in the table beside it (Monday weeks, New York).
    assert '<figure class="card chart-card">' in page and "<figcaption" in page
    weeks = rows(section(page, "rate-heading")[page.index("Chart data") - page.index('id="rate-heading"'):])
    assert weeks[-3:] == [["Mon 2 Nov – Sun 8 Nov 2026", "2", "2", "100%"],
                          ["Mon 9 Nov – Sun 15 Nov 2026", "5", "2", "40%"],
                          ["Mon 16 Nov – Mon 16 Nov 2026", "0", "0", "no deadlines"]]
    assert '"on_time": 2, "rate": 40.0' in page.replace("\n", "")

    # At risk: Eve is due tomorrow 17:00; Ivy's mail cannot be delivered (due in 3 days). Fay is not yet.
    at_risk = rows(section(page, "at-risk-heading"))
    assert [r[0] for r in at_risk] == ["Eve Early", "Ivy Nomail mail undeliverable"]
    assert at_risk[0][1:4] == ["Backend Engineer (j-1)", "Tue 17 Nov 2026, 17:00 EST", "Alan Turing (alan@acme.example)"]
    assert at_risk[0][4] == "autopilot sends an update Tue 17 Nov 2026, 09:00 EST"
    assert f'href="/dashboard/applications/{app_id(rt, "eve")}"' in section(page, "at-risk-heading")

    # Breached: the reason in words, latest deadline first (Cy's and Dee's were the same).
    breached = rows(section(page, "breached-heading"))
    assert [(r[0], r[4], r[5].split(" ")[0:2]) for r in breached] == [
        ("Hal Forgot", "nobody sent an update", ["still", "waiting"]),
        ("Dee Dropped", "mail could not be delivered", ["still", "waiting"]),
        ("Cy Young", "autopilot is off for this job", ["answered", "late"]),
    ]
    assert breached[2][2] == "Tue 10 Nov 2026, 17:00 EST"

    # Per-group tables (default: most cycles first).
    assert rows(section(page, "table-department")) == [
        ["Engineering", "6", "3", "50.0%", "3", "1", "5"],
        ["Sales", "1", "1", "100.0%", "0", "0", "3"],
    ]
    assert rows(section(page, "table-manager")) == [
        ["Grace Hopper (grace@acme.example)", "6", "3", "50.0%", "3", "1", "5"],
        ["Sam Seller (sam@acme.example)", "1", "1", "100.0%", "0", "0", "3"],
    ]
    assert [r[0] for r in rows(section(page, "table-recruiter"))] == [
        "Alan Turing (alan@acme.example)", "Rita Recruit (rita@acme.example)"]
    assert [r[0] for r in rows(section(page, "table-job"))] == ["Backend Engineer (j-1)", "Account Executive (j-sales)"]

    assert "Zed Other" not in page and "Gus Gone" not in page  # another organisation; nothing owed


def check_manager_scope(rt: Any, client: Any, org: Org) -> None:
    page = get(client)
    assert "Sally Sales" not in page and "Account Executive" not in page and "Sam Seller" not in page
    rate = text(section(page, "rate-heading"))
    assert "On time, last 30 days 50% 3 of 6 cycles on time" in rate
    assert "3 median; 90th percentile 6" not in rate and "5 median; 90th percentile 6 (3 candidates" in rate
    assert rows(section(page, "table-department")) == [["Engineering", "6", "3", "50.0%", "3", "1", "5"]]
    assert '<option value="Sales"' not in page
    # Asking for what is outside the scope is refused, not silently widened.
    assert "no department" in text(get(client, "?department=Sales", expect=400))
    assert "outside what you can see" in text(get(client, f"?job={job_id(rt, org, 'j-sales')}", expect=400))
    _, exported = csv_rows(client, "?export=job")
    assert [r[0] for r in exported[1:]] == ["Backend Engineer (j-1)"]
    _, late = csv_rows(client, "?export=breached&period=90")
    assert "Sally Sales" not in str(late) and len(late) == 4


def check_filters(rt: Any, client: Any, org: Org) -> None:
    sales = text(section(get(client, "?department=Sales"), "rate-heading"))
    assert "On time, last 30 days 100% 1 of 1 cycles on time" in sales
    eng_page = get(client, f"?job={job_id(rt, org, 'j-1')}&period=90")
    assert "On time, last 90 days 50% 3 of 6 cycles on time" in text(eng_page)
    assert rows(section(eng_page, "table-job")) == [["Backend Engineer (j-1)", "6", "3", "50.0%", "3", "1", "5"]]
    # One local day, Tue 10 Nov: Ben's second cycle (on time), Cy's and Dee's deadlines (missed).
    day = get(client, "?period=custom&from=2026-11-10&to=2026-11-10")
    rate = text(section(day, "rate-heading"))
    assert "On time, 2026-11-10 – 2026-11-10 33% 1 of 3 cycles on time" in rate
    assert "Nobody got a first update in 2026-11-10 – 2026-11-10." in rate
    assert "Autopilot step-ins, 2026-11-10 – 2026-11-10 0 " in rate
    assert [r[0] for r in rows(section(day, "breached-heading"))] == ["Hal Forgot", "Dee Dropped", "Cy Young"]
    monday = text(section(get(client, "?from=2026-11-09&to=2026-11-09"), "rate-heading"))
    assert "1 of 1 cycles on time" in monday and "Autopilot step-ins, 2026-11-09 – 2026-11-09 1 " in monday
    empty = text(get(client, "?period=custom&from=2026-10-19&to=2026-10-25"))
    assert "No deadlines fell in this period." in empty
    assert "No deadline was missed in 2026-10-19 – 2026-10-25" not in empty  # Hal and Dee still wait
    assert "Hal Forgot" in empty
    long_ago = text(get(client, "?from=2026-01-01&to=2026-01-31"))  # before the 90 days: read separately
    assert "On time, last 30 days 57% 4 of 7 cycles on time" in long_ago
    assert "No deadlines fell in this period." in long_ago


def check_sorting(client: Any) -> None:
    page = get(client)
    header = section(page, "table-department")
    assert 'aria-sort="descending"' in header and header.count("aria-sort") == 1
    assert "table=department&amp;sort=rate&amp;dir=desc" in header
    ascending = get(client, "?table=department&sort=rate&dir=asc")
    assert [r[0] for r in rows(section(ascending, "table-department"))] == ["Engineering", "Sales"]
    assert 'aria-sort="ascending"' in section(ascending, "table-department")
    # Only the named table changes; the others keep their default order.
    assert [r[0] for r in rows(section(ascending, "table-job"))] == ["Backend Engineer (j-1)", "Account Executive (j-sales)"]
    descending = get(client, "?table=department&sort=rate&dir=desc")
    assert [r[0] for r in rows(section(descending, "table-department"))] == ["Sales", "Engineering"]
    by_name = get(client, "?table=manager&sort=label&dir=desc")
    assert [r[0] for r in rows(section(by_name, "table-manager"))] == [
        "Sam Seller (sam@acme.example)", "Grace Hopper (grace@acme.example)"]
    by_median = get(client, "?table=job&sort=median_days&dir=asc")
    assert [r[6] for r in rows(section(by_median, "table-job"))] == ["3", "5"]
    # The header links keep the filters.
    filtered = section(get(client, "?department=Engineering&period=90"), "table-job")
    assert "department=Engineering&amp;period=90&amp;table=job&amp;sort=cycles&amp;dir=asc" in filtered


def check_exports(rt: Any, client: Any) -> None:
    response, table = csv_rows(client, "?export=department&sort=rate&dir=asc")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="ghostless-department-2026-11-16.csv"'
    assert table == [
        ["Department", "Cycles", "On time", "On-time rate (%)", "Breached", "Autopilot step-ins",
         "Median business days to first update"],
        ["Engineering", "6", "3", "50.0", "3", "1", "5"],
        ["Sales", "1", "1", "100.0", "0", "0", "3"],
    ]
    for name, first_header in (("manager", "Hiring manager"), ("recruiter", "Recruiter"), ("job", "Job")):
        _, exported = csv_rows(client, f"?export={name}&department=Sales")
        assert exported[0][0] == first_header and len(exported) == 2 and exported[1][1:] == ["1", "1", "100.0", "0", "0", "3"]
    _, risky = csv_rows(client, "?export=at_risk")
    assert risky[0][:5] == ["Candidate", "Job", "Department", "Cycle", "Due (America/New_York)"]
    assert [(r[0], r[4], r[5], r[8]) for r in risky[1:]] == [
        ("Eve Early", "2026-11-17T17:00:00-05:00", "Alan Turing (alan@acme.example)", "no"),
        ("Ivy Nomail", "2026-11-19T17:00:00-05:00", "Alan Turing (alan@acme.example)", "yes"),
    ]
    assert risky[1][9].endswith(f"/dashboard/applications/{app_id(rt, 'eve')}")
    response, late = csv_rows(client, "?export=breached")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="ghostless-breached-')
    assert late[0][6:9] == ["Reason", "Status", "Answered at (America/New_York)"]
    assert [(r[0], r[6], r[7], r[8]) for r in late[1:]] == [
        ("Hal Forgot", "nobody sent an update", "still waiting", ""),
        ("Dee Dropped", "mail could not be delivered", "still waiting", ""),
        ("Cy Young", "autopilot is off for this job", "answered late", "2026-11-12T10:00:00-05:00"),
    ]


# -- refusals and empty pages ----------------------------------------------------------------------------------

BAD_FILTERS = [
    ("?period=7", "period", "Unknown period"),
    ("?period=custom&from=2026-13-01&to=2026-11-02", "from", "is not a date"),
    ("?period=custom&from=2026-11-01", "to", "Enter a date"),
    ("?from=2026-11-02&to=2026-11-01", "to", "on or after the start date"),
    ("?from=2026-11-01&to=2026-11-30", "to", "cannot be in the future"),
    ("?job=abc", "job", "Choose a job from the list"),
    ("?department=Nowhere", "department", "no department"),
    ("?sort=rate", "sort", "Say which table"),
    ("?table=job&sort=salary", "sort", "Unknown column"),
    ("?table=job&sort=rate&dir=up", "sort", "asc or desc"),
    ("?export=everything", "export", "Unknown export"),
    ("?export=breached&period=365", "period", "Unknown period"),
]


def test_bad_filters_answer_400_with_a_message_next_to_the_field(rt, client, org):
    add_user(rt, org.id, "boss@acme.example", "admin")
    sign_in(client, "boss@acme.example")
    for query, field, message in BAD_FILTERS:
        page = get(client, query, expect=400)
        assert message in text(page), query
        assert 'class="error-summary"' in page and "On-time rate" not in page, query
        if field in ("period", "from", "to", "job", "department"):
            assert f'id="{field}-error"' in page and f'aria-describedby="{field}-error"' in page, query


def test_an_organisation_without_data_says_so_and_never_divides_by_zero(rt, client, org):
    add_user(rt, org.id, "boss@acme.example", "admin")
    sign_in(client, "boss@acme.example")
    page = text(get(client, "?period=90"))
    assert "No deadlines fell in the last 30 days." in page and "No deadlines fell in the last 90 days." in page
    assert "No deadlines fell in this period." in page and "Nobody is at risk right now." in page
    assert "Nobody is neglected" in page
    assert get(client, "?export=job").startswith("Job,Cycles")


def test_candidates_autopilot_answered_twice_in_a_row_are_listed_as_neglected(rt, client, org, clock, tick):
    """Ada is forgotten for three weeks (autopilot on Mon 9 and Tue 17 Nov); Ben's recruiter calls
    after the first autopilot update; Sally is answered by the ATS. Only Ada is neglected."""
    clock.set(utc(2026, 11, 2, 20))
    for who in ("ada", "ben", "sal"):
        org.post(interview_done(clock.now(), app=f"a-{who}", candidate=f"c-{who}", name=NAMES[who],
                                interview=f"i-{who}"))
    org.post(ev("application.rejected", "sal", utc(2026, 11, 4, 15), reason="Filled", ats_notification="sent"))
    while clock.now() < utc(2026, 11, 18, 15):
        tick(by=timedelta(hours=3))
        if clock.now() == utc(2026, 11, 11, 20):
            org.post(ev("candidate.contacted", "ben", clock.now(), channel="phone"))
    add_user(rt, org.id, "boss@acme.example", "admin")
    sign_in(client, "boss@acme.example")
    page = get(client, "")
    section = page[page.index('id="neglected-heading"'):page.index('id="breached-heading"')]
    assert "Ada Lovelace" in section and "Ben Bitdiddle" not in section and "Sally Sales" not in section
    assert re.search(r'<td class="num">2</td>', section)
    _, rows = csv_rows(client, "?export=neglected")
    assert rows[0][:5] == ["Candidate", "Job", "Department", "Cycle", "Autopilot updates in a row"]
    assert [(r[0], r[4]) for r in rows[1:]] == [("Ada Lovelace", "2")]


def test_sign_in_is_required(client, org):
    response = client.get("/dashboard/")
    assert response.status_code == 302 and "/dashboard/sign-in" in response.headers["Location"]


# -- the arithmetic -----------------------------------------------------------------------------------------------

def test_working_days_by_bisect_match_the_calendar_and_are_fast():
    calendar = BusinessCalendar(timezone="America/New_York", country="US", closures=frozenset({date(2026, 12, 24)}))
    days = WorkingDays(calendar, date(2025, 12, 1), date(2027, 3, 31))
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    pairs = [(start + timedelta(hours=13 * i), start + timedelta(hours=13 * i + 7 * j)) for i in range(0, 700, 7)
             for j in range(0, 60, 7)]
    assert all(days.between(a, b) == calendar.working_days_between(a, b) for a, b in pairs)
    many = pairs * 55  # ~50,000 pairs, as on a large organisation's 90 days
    began = time.perf_counter()
    for a, b in many:
        days.between(a, b)
    assert time.perf_counter() - began < 1.0
    assert percentile([2, 3, 5, 6], 0.9) == 6 and percentile([], 0.9) is None and percentile([4], 0.5) == 4
