"""Candidates list, one application's timeline, the message-as-sent route, and the ATS links.

A round runs through the real path: canonical events via the API, the real sweep and RQ worker
(conftest's `tick`), so reminders, the autopilot status update and their outbox files are real.
Delivery events and a reply are inserted as rows (their own tests cover how they arrive).
The clock starts Mon 2026-11-02 14:00Z (09:00 New York); deadlines fall on Mon 9 Nov 17:00 EST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Org
from dashboard_support import add_user, sign_in
from helpers import event, interview_done
from sqlalchemy import select

from plugin import clock as clock_module
from plugin.dashboard.ats_links import ats_record_url
from plugin.dashboard.timeline import MESSAGE_CSP
from plugin.models import (
    Application,
    Candidate,
    CandidateReply,
    EventOutcome,
    InboundEvent,
    Job,
    MailEvent,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    ReplyState,
)

HOSTILE = '<script>alert("owned")</script>'
ADMIN = "admin@acme.example"
SALES_MANAGER = "sales-lead@acme.example"
ENGINEERING_MANAGER = "eng-lead@acme.example"
BOUNCE = "550 5.1.1 mailbox does not exist"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def in_department(body: dict[str, Any], department: str, job: str) -> dict[str, Any]:
    body["job"] = {**body["job"], "id": job, "department": department, "title": f"{department} role",
                   "hiring_manager": {"name": "Sam Sales", "email": "sam@acme.example"},
                   "recruiter": {"name": "Rita Recruiter", "email": "rita@acme.example"}}
    return body


@dataclass
class Round:
    ada: int  # application ids (database ids, as the dashboard URLs use)
    hostile: int
    sales: int
    ada_messages: list[Notification]


def application_id(rt: Any, external_id: str, org_id: str) -> int:
    with rt.db.session() as session:
        found = session.scalar(select(Application.id).where(Application.external_id == external_id,
                                                            Application.org_id == org_id))
        assert found is not None
        return found


def play_round(rt: Any, org: Org, tick: Any, clock: Any) -> Round:
    """Three interviewed candidates (two in Engineering, one in Sales); a week passes with no news, so
    each gets next-steps, both reminders, and the autopilot status update before Monday's deadline."""
    ended = clock.now() - timedelta(hours=1)
    org.post(interview_done(ended))  # Ada Lovelace, a-1, Engineering
    org.post(interview_done(ended, app="a-2", candidate="c-2", interview="i-2", name=HOSTILE))
    org.post(in_department(interview_done(ended, app="a-3", candidate="c-3", interview="i-3", name="Sally Sales"),
                           "Sales", "j-sales"))
    while clock.now() < utc(2026, 11, 10, 2):
        tick(by=timedelta(hours=4))
    ada = application_id(rt, "a-1", org.id)
    with rt.db.session() as session:
        messages = list(session.scalars(select(Notification).where(Notification.application_id == ada)
                                        .order_by(Notification.id)))
        status_update = next(n for n in messages if n.kind == NotificationKind.STATUS_UPDATE)
        session.add_all([
            MailEvent(org_id=org.id, notification_id=status_update.id, dedupe_key="d-1", event="delivered",
                      occurred_at=status_update.sent_at + timedelta(minutes=1),
                      received_at=status_update.sent_at + timedelta(minutes=2), detail="250 2.0.0 OK queued"),
            MailEvent(org_id=org.id, notification_id=messages[0].id, dedupe_key="d-2", event="bounce",
                      occurred_at=messages[0].sent_at + timedelta(minutes=1),
                      received_at=messages[0].sent_at + timedelta(minutes=2), detail=BOUNCE),
            CandidateReply(org_id=org.id, candidate_id=status_update.candidate_id, application_id=ada,
                           state=ReplyState.MATCHED, received_at=utc(2026, 11, 10, 1),
                           from_email="c-1@example.com", subject="Re: your application",
                           text="Thank you for the update, <b>I will wait</b>."),
        ])
        session.commit()
        for message in messages:
            session.expunge(message)
    return Round(ada=ada, hostile=application_id(rt, "a-2", org.id), sales=application_id(rt, "a-3", org.id),
                 ada_messages=messages)


@pytest.fixture
def played(rt: Any, org: Org, tick: Any, clock: Any) -> Round:
    played = play_round(rt, org, tick, clock)
    add_user(rt, org.id, ADMIN, "admin")
    add_user(rt, org.id, SALES_MANAGER, "manager", departments=["Sales"])
    add_user(rt, org.id, ENGINEERING_MANAGER, "manager", departments=["Engineering"])
    return played


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def listed_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/dashboard/applications/(\d+)"', page)]


# -- the list -------------------------------------------------------------------------------------


def test_list_shows_visible_candidates_newest_first_and_searches(client, played):
    sign_in(client, ADMIN)
    page = html(client.get("/dashboard/applications"))
    assert listed_ids(page) == [played.sales, played.hostile, played.ada]
    assert "Ada Lovelace" in page and "c-1@example.com" in page and "Sally Sales" in page
    assert "Not waiting" not in page  # the autopilot's status update opened the next cycle for all three

    assert listed_ids(html(client.get("/dashboard/applications?q=LOVELACE"))) == [played.ada]
    assert listed_ids(html(client.get("/dashboard/applications?q=c-3%40example"))) == [played.sales]
    assert listed_ids(html(client.get("/dashboard/applications?q=a-2"))) == [played.hostile]
    assert listed_ids(html(client.get("/dashboard/applications?q=%25"))) == []  # LIKE wildcards are literal
    assert listed_ids(html(client.get("/dashboard/applications?status=active&waiting=1"))) == \
        [played.sales, played.hostile, played.ada]
    empty = html(client.get("/dashboard/applications?status=rejected"))
    assert listed_ids(empty) == [] and "No candidates match these filters" in empty


def test_waiting_filter_and_erased_candidates(client, org, played, tick):
    org.post(event("application.withdrawn", clock_module.now(), app="a-1"))
    org.post(event("candidate.erased", clock_module.now(), candidate="c-2", reason="deleted"))
    tick()
    sign_in(client, ADMIN)
    page = html(client.get("/dashboard/applications"))
    assert "(erased)" in page and "c-2@example.com" not in page
    assert listed_ids(html(client.get("/dashboard/applications?waiting=1"))) == [played.sales]
    assert listed_ids(html(client.get("/dashboard/applications?status=withdrawn"))) == [played.ada]
    assert "(erased)" in html(client.get(f"/dashboard/applications/{played.hostile}"))


def test_bad_filters_are_a_400_next_to_the_field(client, played):
    sign_in(client, ADMIN)
    response = client.get("/dashboard/applications?status=lost")
    assert response.status_code == 400
    assert 'id="status-error"' in html(response) and "Choose one of the listed statuses." in html(response)
    assert client.get("/dashboard/applications?before=abc").status_code == 400
    assert client.get("/dashboard/applications?q=" + "x" * 201).status_code == 400


def test_pagination_fifty_a_page_by_key(rt, client, org, played):
    with rt.db.session() as session:
        job = session.scalar(select(Job).where(Job.org_id == org.id, Job.external_id == "j-1"))
        assert job is not None
        for i in range(120):
            candidate = Candidate(org_id=org.id, external_id=f"bulk-c-{i}", name=f"Bulk {i:03d}",
                                  email=f"bulk{i}@example.com", created_at=clock_module.now())
            session.add(candidate)
            session.flush()
            session.add(Application(org_id=org.id, external_id=f"bulk-a-{i}", candidate_id=candidate.id,
                                    job_id=job.id, created_at=clock_module.now()))
        session.commit()
    sign_in(client, ADMIN)
    first = html(client.get("/dashboard/applications?q=bulk"))
    assert len(listed_ids(first)) == 50 and "Bulk 119" in first and "Bulk 070" in first
    assert "Newer" not in first
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older
    second = html(client.get(older.group(1).replace("&amp;", "&")))
    assert "Bulk 069" in second and "Bulk 020" in second and "Bulk 070" not in second
    third = html(client.get(re.search(r'href="([^"]+)" rel="next"', second).group(1).replace("&amp;", "&")))
    assert len(listed_ids(third)) == 20 and 'rel="next"' not in third
    back = html(client.get(re.search(r'href="([^"]+)" rel="prev"', third).group(1).replace("&amp;", "&")))
    assert listed_ids(back) == listed_ids(second)
    assert len(listed_ids(html(client.get("/dashboard/applications")))) == 50


# -- the timeline ---------------------------------------------------------------------------------


def test_timeline_shows_everything_newest_first(client, played):
    sign_in(client, ADMIN)
    response = client.get(f"/dashboard/applications/{played.ada}")
    assert response.status_code == 200
    page = html(response)
    assert "Times on this page are in America/New_York" in page
    # Deadlines: cycle 1 (Mon 9 Nov 17:00 EST), discharged on time by the autopilot's status update.
    assert "Mon 9 Nov 2026, 17:00 EST" in page and "Told on time" in page and "Autopilot stepped in" in page
    order = [
        "Reply from the candidate",
        "Delivery event: delivered (status update to c-1@example.com)",
        "Cycle 2 opened (by status update)",
        "Cycle 1 discharged by status update — on time",
        "Status update (sent by autopilot)",
        "Reminder hiring manager",
        "Reminder recruiter",
        "Delivery event: bounce (next steps to c-1@example.com)",
        "Next steps",
        "Cycle 1 opened (by interview)",
        "ATS event interview.completed (applied)",
    ]
    positions = [page.index(label) for label in order]
    assert positions == sorted(positions), list(zip(order, positions))
    assert BOUNCE in page and "250 2.0.0 OK queued" in page
    assert "Thank you for the update, &lt;b&gt;I will wait&lt;/b&gt;." in page
    # Candidate-facing messages as sent (sandboxed iframe), every text part in a <details>.
    status_update = next(n for n in played.ada_messages if n.kind == NotificationKind.STATUS_UPDATE)
    reminder = next(n for n in played.ada_messages if n.kind == NotificationKind.REMINDER_RECRUITER)
    assert f'<iframe class="message" sandbox src="/dashboard/messages/{status_update.id}/html"' in page
    assert f"/dashboard/messages/{reminder.id}/html" not in page  # internal mail: text only
    assert page.count("<summary>Text part</summary>") == len(played.ada_messages)
    # The audit trail of its obligations.
    assert "obligation opened" in page and "api-key:" in page


def test_message_html_route_serves_the_html_as_sent_under_a_strict_csp(client, played):
    sign_in(client, ADMIN)
    status_update = next(n for n in played.ada_messages if n.kind == NotificationKind.STATUS_UPDATE)
    response = client.get(f"/dashboard/messages/{status_update.id}/html")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == status_update.body_html
    assert response.headers["Content-Security-Policy"] == MESSAGE_CSP
    assert "sandbox" in MESSAGE_CSP and "frame-ancestors 'self'" in MESSAGE_CSP and "default-src 'none'" in MESSAGE_CSP
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "text/html"
    assert client.get("/dashboard/messages/999999/html").status_code == 404


def test_hostile_candidate_names_are_escaped(client, played):
    sign_in(client, ADMIN)
    for path in ("/dashboard/applications", f"/dashboard/applications/{played.hostile}"):
        page = html(client.get(path))
        assert HOSTILE not in page
        assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in page


def test_ats_link_on_the_page(rt, client, org, played):
    sign_in(client, ADMIN)
    assert "Open in" not in html(client.get(f"/dashboard/applications/{played.ada}"))  # API events: no ATS page
    with rt.db.session() as session:
        session.add(InboundEvent(org_id=org.id, source="greenhouse", event_id="gh-1", event_type="application.stage_changed",
                                 occurred_at=clock_module.now(), received_at=clock_module.now(),
                                 candidate_external_id="c-1", application_external_id="a-1",
                                 outcome=EventOutcome.APPLIED))
        session.commit()
    page = html(client.get(f"/dashboard/applications/{played.ada}"))
    assert ('<a href="https://app.greenhouse.io/people/c-1?application_id=a-1" target="_blank" '
            'rel="noopener noreferrer">Open in Greenhouse') in page


def test_the_update_form_shows_no_error_before_anything_was_sent(client, played):
    # Jinja reads a missing key `update` as the dict's update method: a bogus alert on every timeline.
    sign_in(client, ADMIN)
    page = html(client.get(f"/dashboard/applications/{played.ada}"))
    assert "Send the candidate an update now" in page
    assert 'class="error-summary"' not in page and "built-in method" not in page


# -- scope ----------------------------------------------------------------------------------------


def test_a_manager_sees_only_their_departments(client, played):
    sign_in(client, SALES_MANAGER)
    assert listed_ids(html(client.get("/dashboard/applications"))) == [played.sales]
    assert client.get(f"/dashboard/applications/{played.sales}").status_code == 200
    assert client.get(f"/dashboard/applications/{played.ada}").status_code == 404
    ada_message = played.ada_messages[0]
    assert client.get(f"/dashboard/messages/{ada_message.id}/html").status_code == 404
    assert listed_ids(html(client.get("/dashboard/applications?q=ada"))) == []


def test_the_engineering_manager_sees_engineering(app, played):
    client = app.test_client()
    sign_in(client, ENGINEERING_MANAGER)
    assert listed_ids(html(client.get("/dashboard/applications"))) == [played.hostile, played.ada]
    assert client.get(f"/dashboard/applications/{played.sales}").status_code == 404
    assert client.get(f"/dashboard/messages/{played.ada_messages[0].id}/html").status_code == 200


def test_another_organisations_data_never_shows(rt, client, played, tick):
    other = Org(rt, client, name="Other")
    other.post(interview_done(clock_module.now() - timedelta(hours=1), app="o-1", candidate="o-c-1",
                              name="Otto Other", interview="o-i-1"))
    tick(by=timedelta(hours=13))  # into Tuesday's send window: its next-steps mail is sent
    other_app = application_id(rt, "o-1", other.id)
    with rt.db.session() as session:
        other_message = session.scalar(select(Notification.id).where(Notification.org_id == other.id,
                                                                     Notification.body_html.is_not(None)))
    assert other_message is not None
    sign_in(client, ADMIN)
    page = html(client.get("/dashboard/applications"))
    assert "Otto Other" not in page and other_app not in listed_ids(page)
    assert client.get(f"/dashboard/applications/{other_app}").status_code == 404
    assert client.get(f"/dashboard/messages/{other_message}/html").status_code == 404


def test_pages_need_sign_in(client, played):
    response = client.get(f"/dashboard/applications/{played.ada}")
    assert response.status_code == 302 and "/dashboard/sign-in" in response.headers["Location"]
    assert client.get(f"/dashboard/messages/{played.ada_messages[0].id}/html").status_code == 302


# -- ATS links (pure) -----------------------------------------------------------------------------


def test_ats_record_url_per_provider():
    assert ats_record_url("greenhouse", candidate_id="265788", application_id="265293") == \
        "https://app.greenhouse.io/people/265788?application_id=265293"
    assert ats_record_url("greenhouse", candidate_id="265788", application_id=None) == \
        "https://app.greenhouse.io/people/265788"
    assert ats_record_url("lever", candidate_id="contact-1", application_id="250d8f03-738a") == \
        "https://hire.lever.co/candidates/250d8f03-738a"
    assert ats_record_url("ashby", candidate_id="5b2c", application_id="app-9") == \
        "https://app.ashbyhq.com/candidates/5b2c"
    # Ids are path segments: nothing in them can change the host or the path.
    assert ats_record_url("ashby", candidate_id="../x?y#z", application_id=None) == \
        "https://app.ashbyhq.com/candidates/..%2Fx%3Fy%23z"
    assert ats_record_url("greenhouse", candidate_id="1", application_id="2&x=3") == \
        "https://app.greenhouse.io/people/1?application_id=2%26x%3D3"


def test_ats_record_url_workable_needs_its_own_profile_url_on_the_account_subdomain():
    profile = "https://groove-tech.workable.com/backend/jobs/376844767/candidates/3f2b1c07"
    assert ats_record_url("workable", candidate_id="3f2b1c07", application_id="3f2b1c07",
                          workable_subdomain="groove-tech", profile_url=profile) == profile
    assert ats_record_url("workable", candidate_id="3f2b1c07", application_id="3f2b1c07",
                          profile_url=profile) == profile
    assert ats_record_url("workable", candidate_id="3f2b1c07", application_id="3f2b1c07",
                          workable_subdomain="groove-tech") is None
    for bad in ("https://other.workable.com/backend/jobs/1/candidates/2",  # another account
                "http://groove-tech.workable.com/backend/jobs/1/candidates/2",  # not https
                "https://groove-tech.workable.com.evil.example/backend/x",
                "https://evil.example/backend/jobs/1",
                "javascript:alert(1)"):
        assert ats_record_url("workable", candidate_id="2", application_id="2", workable_subdomain="groove-tech",
                              profile_url=bad) is None, bad


def test_ats_record_url_unknown_providers_have_no_link():
    for provider in ("api", None, "", "teamtailor", "merge:greenhouse"):
        assert ats_record_url(provider, candidate_id="c", application_id="a") is None
    assert ats_record_url("greenhouse", candidate_id=None, application_id="a") is None


def test_a_message_of_unknown_fate_says_why_it_is_not_sent_again(rt, client, played):
    """Issue 13, item 12: the trade-off of never sending twice is said where the state shows."""
    status_update = next(n for n in played.ada_messages if n.kind == NotificationKind.STATUS_UPDATE)
    with rt.db.session() as session:  # as a send whose request got no answer leaves it
        session.get(Notification, status_update.id).state = NotificationState.UNKNOWN
    sign_in(client, ADMIN)
    page = html(client.get(f"/dashboard/applications/{played.ada}"))
    assert "state unknown" in page and "It is never sent again on a guess" in page
    assert "Without SendGrid&#39;s event webhook it stays unknown." in page
    assert page.count("never sent again on a guess") == 1  # only on the message whose fate is unknown


def test_a_missed_deadline_says_why_in_the_words_every_report_uses(rt, client, played):
    """Issue 12: one set of words for breach reasons (plugin/reports/cycle_lists.py), not the raw code."""
    with rt.db.session() as session:
        cycle = session.scalars(select(Obligation).join(Application).where(Application.id == played.ada)
                                .order_by(Obligation.cycle)).first()
        cycle.breached_at, cycle.breach_reason = cycle.due_at, "autopilot_off"
    sign_in(client, ADMIN)
    page = html(client.get(f"/dashboard/applications/{played.ada}"))
    assert "deadline missed (autopilot is off for this job)" in page
    assert "deadline missed (autopilot off)" not in page
