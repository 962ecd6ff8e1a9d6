"""Compliance pages: the Ontario ESA report, the proof-of-notice export, one application's proof.

One round played through the real API, sweep and worker (conftest's clock starts Mon 2026-11-02
14:00Z, 09:00 New York):
- Rita (j-1, publicly advertised): interviewed, rejected; the rejection notice is sent.
- Ben (j-1): interviewed; autopilot sends him a status update before his deadline.
- Carl (j-2, Sales, advertised not said, autopilot off): interviewed 2 Nov, never told; on 22 Dec
  (50 days later) he is overdue since 18 Dec (due by 17 Dec = 2 Nov + 45).
- Fay (j-2): interviewed 2 Nov, the ATS reports a phone contact on 5 Nov.
- Dan (j-2): interviewed Tue 1 Dec 15:00 New York: due by 15 Jan 2027, 21 days on 22 Dec.
- Eve (j-3, marked not publicly advertised): interviewed, never told, excluded and counted.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Org
from dashboard_support import add_user, sign_in
from helpers import event, interview_done
from sqlalchemy import select

from plugin.models import (
    Application,
    DeliveryStatus,
    Job,
    MailEvent,
    Notification,
    NotificationKind,
    NotificationState,
)

ADMIN = "admin@acme.example"
SALES_MANAGER = "sam@acme.example"
INTERVIEW = datetime(2026, 11, 2, 15, tzinfo=UTC)  # Mon 10:00 New York
DAN_INTERVIEW = datetime(2026, 12, 1, 20, tzinfo=UTC)  # Tue 15:00 New York
REPORT_AT = datetime(2026, 12, 22, 15, tzinfo=UTC)  # Tue 10:00 New York: 50 days after 2 Nov

PEOPLE = {  # app id -> (candidate id, name, job)
    "a-rita": ("c-rita", "Rita Reject", "j-1"),
    "a-ben": ("c-ben", "Ben Update", "j-1"),
    "a-carl": ("c-carl", "Carl Ghosted", "j-2"),
    "a-fay": ("c-fay", "Fay Phoned", "j-2"),
    "a-dan": ("c-dan", "Dan Waiting", "j-2"),
    "a-eve": ("c-eve", "Eve Private", "j-3"),
}


def about(app: str, **kw: Any) -> dict[str, Any]:
    candidate, name, job = PEOPLE[app]
    return {"app": app, "candidate": candidate, "name": name, "job": job, **kw}


def on_job(body: dict[str, Any]) -> dict[str, Any]:
    """Jobs j-2 and j-3 belong to Sales, with their own hiring team."""
    if body["job"]["id"] in ("j-2", "j-3"):
        body["job"].update(title="Account Executive" if body["job"]["id"] == "j-2" else "Internal Auditor",
                           department="Sales",
                           hiring_manager={"name": "Sal Es", "email": "sal@acme.example"},
                           recruiter={"name": "Rae Cruiter", "email": "rae@acme.example"})
    return body


def interviewed(app: str, at: datetime) -> dict[str, Any]:
    return on_job(interview_done(at, interview=f"i-{app}", **about(app)))


def db_rows(rt: Any, query: Any) -> list[Any]:
    with rt.db.session() as session:
        found = list(session.scalars(query))
        for row in found:
            session.expunge(row)
        return found


def app_id(rt: Any, external_id: str) -> int:
    [app] = db_rows(rt, select(Application).where(Application.external_id == external_id))
    return app.id


def job_id(rt: Any, external_id: str) -> int:
    [job] = db_rows(rt, select(Job).where(Job.external_id == external_id))
    return job.id


def sent_to(rt: Any, app: str, kind: NotificationKind) -> list[Notification]:
    return db_rows(rt, select(Notification).where(
        Notification.application_id == app_id(rt, app), Notification.kind == kind,
        Notification.state == NotificationState.SENT).order_by(Notification.sent_at))


@pytest.fixture
def played(rt: Any, org: Org, tick: Any, clock: Any) -> dict[str, Any]:
    tick(at=INTERVIEW)
    org.post(*(interviewed(app, INTERVIEW) for app in ("a-rita", "a-ben", "a-carl", "a-fay", "a-eve")))
    org.put("/api/v1/policies/jobs/j-2", {"autopilot": False})
    org.put("/api/v1/policies/jobs/j-3", {"autopilot": False})
    with rt.db.session() as session:  # no API sets it yet: the ATS or an admin will
        for job in session.scalars(select(Job)):
            job.publicly_advertised = {"j-1": True, "j-2": None, "j-3": False}[job.external_id]
        session.commit()
    tick(by=timedelta(hours=1))
    org.post(on_job(event("application.rejected", INTERVIEW + timedelta(hours=1), reason="Another fit",
                          ats_notification="none", **about("a-rita"))))
    org.post(on_job(event("candidate.contacted", datetime(2026, 11, 5, 16, tzinfo=UTC), channel="phone",
                          **about("a-fay"))))
    # The ladder acts at 09:00 New York (14:00Z) and the rejection waits a working day: ticking at
    # 14:00Z and 18:00Z each day until Ben's first deadline has passed runs every step in time.
    for day in range(3, 11):
        for hour in (14, 18):
            tick(at=datetime(2026, 11, day, hour, tzinfo=UTC))
    tick(at=DAN_INTERVIEW)
    org.post(interviewed("a-dan", DAN_INTERVIEW))
    tick(by=timedelta(hours=1))
    tick(at=REPORT_AT)
    [rejection] = sent_to(rt, "a-rita", NotificationKind.REJECTION)
    updates = sent_to(rt, "a-ben", NotificationKind.STATUS_UPDATE)
    assert updates and updates[0].autopilot
    assert sent_to(rt, "a-carl", NotificationKind.NEXT_STEPS)  # thanked, which does not count as told
    assert not sent_to(rt, "a-carl", NotificationKind.STATUS_UPDATE)
    return {"rejection": rejection, "update": updates[0]}


@pytest.fixture
def admin(rt: Any, org: Org, client: Any, played: dict[str, Any]) -> Any:
    add_user(rt, org.id, ADMIN, "admin")
    sign_in(client, ADMIN)
    return client


def manager_client(rt: Any, app: Any, org: Org) -> Any:
    add_user(rt, org.id, SALES_MANAGER, "manager", departments=["Sales"])
    other = app.test_client()
    sign_in(other, SALES_MANAGER)
    return other


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, text(response)[:2000]
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(text(response))))


def ny_day(at: datetime) -> str:
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo("America/New_York")).date().isoformat()


# -- the Ontario ESA report -------------------------------------------------------------------------

def test_ontario_report_says_who_was_told_when(admin: Any, rt: Any, played: dict[str, Any]) -> None:
    response = admin.get("/dashboard/compliance/ontario-esa")
    html = text(response)
    assert response.status_code == 200, html[:2000]
    rows = {r["candidate"]: r for r in csv_rows(admin.get("/dashboard/compliance/ontario-esa.csv"))}
    assert set(rows) == {"Rita Reject", "Ben Update", "Carl Ghosted", "Fay Phoned", "Dan Waiting"}  # not Eve

    rita, ben = rows["Rita Reject"], rows["Ben Update"]
    assert rita["told_whether_decision_made"] == "yes" and rita["told_by"] == "rejection notice"
    assert rita["told_at"].startswith(ny_day(played["rejection"].sent_at))
    assert ben["told_whether_decision_made"] == "yes" and ben["told_by"] == "status update"
    assert ben["told_at"].startswith(ny_day(played["update"].sent_at))
    assert rows["Fay Phoned"]["told_at"] == "2026-11-05 11:00 EST"
    assert rows["Fay Phoned"]["told_by"] == "contact recorded by the ATS"

    carl = rows["Carl Ghosted"]
    assert carl["told_whether_decision_made"] == "no (overdue)"
    assert (carl["due_by"], carl["overdue_since"], carl["days_since_last_interview"]) == ("2026-12-17", "2026-12-18", "50")
    assert carl["publicly_advertised"] == "assumed (not said)" and rita["publicly_advertised"] == "yes"

    dan = rows["Dan Waiting"]
    assert dan["told_whether_decision_made"] == "not yet" and dan["due_by"] == "2027-01-15"
    assert dan["days_since_last_interview"] == "21" and dan["last_interview"] == "2026-12-01 15:00 EST"
    assert dan["timeline_url"].endswith(f"/dashboard/applications/{app_id(rt, 'a-dan')}")

    # The page: summary counts, the exact wording, the excluded job counted in a note, the links.
    assert "Not yet — due by 2027-01-15" in html
    assert "No — overdue since 2026-12-18" in html
    assert f"Yes, {ny_day(played['rejection'].sent_at)}" in html
    summary = html[html.index("<h2>Summary</h2>"):html.index('id="rows-heading"')]
    assert [int(v) for v in _values(summary)] == [5, 3, 1, 1]
    assert "1 interviewed applicant on jobs marked as not publicly" in " ".join(summary.split())
    assert "assumed public" in html and "Eve Private" not in html
    assert f'href="/dashboard/applications/{app_id(rt, "a-carl")}"' in html
    assert f'href="/dashboard/applications/{app_id(rt, "a-carl")}/proof"' in html
    # Most urgent first: the overdue row, then the one still waiting, then those told.
    assert html.index("Carl Ghosted") < html.index("Dan Waiting") < html.index("Rita Reject")


def _values(html: str) -> list[str]:
    import re

    return re.findall(r'<span class="value">(\d+)</span>', html)


def test_ontario_filters_by_job_period_and_status(admin: Any, rt: Any, played: dict[str, Any]) -> None:
    def names(**params: str) -> set[str]:
        return {r["candidate"] for r in csv_rows(admin.get("/dashboard/compliance/ontario-esa.csv", query_string=params))}

    assert names(job=str(job_id(rt, "j-1"))) == {"Rita Reject", "Ben Update"}
    assert names(status="overdue") == {"Carl Ghosted"}
    assert names(status="not_yet") == {"Dan Waiting"}
    assert names(status="told") == {"Rita Reject", "Ben Update", "Fay Phoned"}
    assert names(**{"from": "2026-12-01", "to": "2026-12-01"}) == {"Dan Waiting"}
    assert names(**{"to": "2026-11-30"}) == {"Rita Reject", "Ben Update", "Carl Ghosted", "Fay Phoned"}
    # Filtering to the excluded job shows nobody and says why.
    response = admin.get("/dashboard/compliance/ontario-esa", query_string={"job": job_id(rt, "j-3")})
    assert response.status_code == 200 and "Eve Private" not in text(response)
    assert "marked as not publicly" in " ".join(text(response).split())
    # The landing page shows the same summary and both filter forms.
    landing = text(admin.get("/dashboard/compliance"))
    assert [int(v) for v in _values(landing)] == [5, 3, 1, 1]
    assert 'action="/dashboard/compliance/ontario-esa"' in landing and 'action="/dashboard/compliance/proof"' in landing
    assert "240476" in landing  # the regulation it cites
    assert '<label for="esa-from">' in landing and 'id="esa-from"' in landing


def test_ontario_report_paginates_the_page_but_not_the_csv(admin: Any, rt: Any, played: dict[str, Any],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from plugin.dashboard import compliance

    monkeypatch.setattr(compliance, "PAGE_SIZE", 2)
    first = text(admin.get("/dashboard/compliance/ontario-esa"))
    assert "Rows 1–2 of 5" in first and "page 1 of 3" in first and 'rel="next"' in first
    last = text(admin.get("/dashboard/compliance/ontario-esa?page=3"))
    assert "Rows 5–5 of 5" in last and 'rel="prev"' in last
    assert len(csv_rows(admin.get("/dashboard/compliance/ontario-esa.csv"))) == 5


def test_told_only_after_the_last_interview_and_never_by_a_bounce(admin: Any, rt: Any, org: Org, tick: Any,
                                                                   played: dict[str, Any]) -> None:
    # Ben's status update bounced: nobody was told by it.
    with rt.db.session() as session:
        for update in session.scalars(select(Notification).where(Notification.kind == NotificationKind.STATUS_UPDATE,
                                                                 Notification.application_id == app_id(rt, "a-ben"))):
            update.delivery_status = DeliveryStatus.BOUNCE
        session.commit()
    # Fay had a second interview after the contact: the contact says nothing about it.
    second = datetime(2026, 12, 21, 15, tzinfo=UTC)
    org.post(on_job(interview_done(second, interview="i-a-fay-2", **about("a-fay"))))
    rows = {r["candidate"]: r for r in csv_rows(admin.get("/dashboard/compliance/ontario-esa.csv"))}
    assert rows["Ben Update"]["told_whether_decision_made"] == "no (overdue)"
    assert rows["Fay Phoned"]["told_whether_decision_made"] == "not yet"
    assert rows["Fay Phoned"]["due_by"] == "2027-02-04" and rows["Fay Phoned"]["days_since_last_interview"] == "1"


# -- the proof-of-notice export ---------------------------------------------------------------------

def test_proof_export_lists_sent_candidate_messages_with_delivery(admin: Any, rt: Any, played: dict[str, Any]) -> None:
    delivered = datetime(2026, 11, 3, 18, 0, 7, tzinfo=UTC)
    event_delivered = datetime(2026, 11, 9, 14, 0, 9, tzinfo=UTC)
    with rt.db.session() as session:
        rejection = session.get(Notification, played["rejection"].id)
        rejection.delivered_at, rejection.delivery_status = delivered, DeliveryStatus.DELIVERED
        # Ben's update: only the webhook's event row says it was delivered.
        session.add(MailEvent(org_id=rejection.org_id, notification_id=played["update"].id, dedupe_key="d-1",
                              sg_message_id="sg-1", event="delivered", occurred_at=event_delivered,
                              received_at=event_delivered + timedelta(seconds=5)))
        session.commit()
    rows = csv_rows(admin.get("/dashboard/compliance/proof.csv", query_string={"job": job_id(rt, "j-1")}))
    kinds = sorted((r["candidate"], r["kind"]) for r in rows)
    assert ("Rita Reject", "Rejection") in kinds and ("Ben Update", "Status update") in kinds
    assert ("Rita Reject", "Next steps") in kinds and ("Ben Update", "Next steps") in kinds
    assert {r["candidate"] for r in rows} == {"Rita Reject", "Ben Update"}  # job filter
    # Only candidate-facing messages that were sent: no reminders, escalations, or cancelled rows.
    assert all(r["kind"] in ("Next steps", "Status update", "Rejection") for r in rows)
    by_id = {int(r["notification_id"]): r for r in rows}
    rita = by_id[played["rejection"].id]
    assert rita["delivered_at_utc"] == delivered.isoformat() and rita["delivery_status"] == "delivered"
    assert rita["delivered_at"] == "2026-11-03 13:00 EST"
    assert rita["sent_at_utc"] == played["rejection"].sent_at.isoformat()
    assert rita["provider"] == played["rejection"].provider and rita["provider"]
    assert rita["provider_message_id"] == played["rejection"].provider_message_id
    assert rita["subject"] == played["rejection"].subject and rita["recipient_email"] == "c-rita@example.com"
    assert by_id[played["update"].id]["delivered_at_utc"] == event_delivered.isoformat()
    # Newest first, and the page shows the same rows with a proof link.
    assert [r["sent_at_utc"] for r in rows] == sorted((r["sent_at_utc"] for r in rows), reverse=True)
    html = text(admin.get("/dashboard/compliance/proof", query_string={"job": job_id(rt, "j-1")}))
    assert "2026-11-03 13:00 EST" in html and played["rejection"].subject in html
    assert f'/dashboard/applications/{app_id(rt, "a-rita")}/proof' in html


def test_proof_export_by_period(admin: Any, rt: Any, played: dict[str, Any]) -> None:
    rows = csv_rows(admin.get("/dashboard/compliance/proof.csv", query_string={"from": "2026-12-01", "to": "2026-12-01"}))
    assert ("Dan Waiting", "Next steps") in [(r["candidate"], r["kind"]) for r in rows]
    assert rows and all(r["sent_at"].startswith("2026-12-01 ") for r in rows)
    assert len(rows) < len(csv_rows(admin.get("/dashboard/compliance/proof.csv", query_string={"from": "2026-11-01"})))
    everything = csv_rows(admin.get("/dashboard/compliance/proof.csv"))
    assert {r["candidate"] for r in everything} == {"Rita Reject", "Ben Update", "Carl Ghosted", "Fay Phoned",
                                                     "Dan Waiting", "Eve Private"}
    assert text(admin.get("/dashboard/compliance/proof")).count("/proof\"") >= 6


def test_application_proof_page_reuses_the_api_document(admin: Any, rt: Any, played: dict[str, Any]) -> None:
    response = admin.get(f"/dashboard/applications/{app_id(rt, 'a-rita')}/proof")
    html = text(response)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "Proof of notice" in html and "Rita Reject" in html and played["rejection"].subject in html
    assert "script" not in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert admin.get("/dashboard/applications/999999/proof").status_code == 404


# -- scope and isolation ----------------------------------------------------------------------------

def test_a_manager_sees_only_their_departments(app: Any, rt: Any, org: Org, played: dict[str, Any]) -> None:
    manager = manager_client(rt, app, org)
    rows = {r["candidate"] for r in csv_rows(manager.get("/dashboard/compliance/ontario-esa.csv"))}
    assert rows == {"Carl Ghosted", "Fay Phoned", "Dan Waiting"}
    html = text(manager.get("/dashboard/compliance/ontario-esa"))
    assert "Rita Reject" not in html and "Backend Engineer" not in html
    proof = {r["candidate"] for r in csv_rows(manager.get("/dashboard/compliance/proof.csv"))}
    assert proof == {"Carl Ghosted", "Fay Phoned", "Dan Waiting", "Eve Private"}
    assert manager.get(f"/dashboard/applications/{app_id(rt, 'a-rita')}/proof").status_code == 404
    assert manager.get(f"/dashboard/applications/{app_id(rt, 'a-carl')}/proof").status_code == 200
    # Another department's job as a filter is refused like an unknown one.
    response = manager.get("/dashboard/compliance/ontario-esa", query_string={"job": job_id(rt, "j-1")})
    assert response.status_code == 400 and "Rita Reject" not in text(response)


def test_another_organisation_never_shows(app: Any, rt: Any, client: Any, org: Org, played: dict[str, Any]) -> None:
    other = Org(rt, client, name="Other")
    other.post(interview_done(REPORT_AT - timedelta(days=2), app="x-1", candidate="x-c", job="x-j", interview="x-i",
                              name="Olga Elsewhere"))
    add_user(rt, other.id, "boss@other.example", "admin")
    theirs = app.test_client()
    sign_in(theirs, "boss@other.example")
    assert {r["candidate"] for r in csv_rows(theirs.get("/dashboard/compliance/ontario-esa.csv"))} == {"Olga Elsewhere"}
    assert {r["candidate"] for r in csv_rows(theirs.get("/dashboard/compliance/proof.csv"))} <= {"Olga Elsewhere"}
    assert "Rita Reject" not in text(theirs.get("/dashboard/compliance/proof"))
    assert theirs.get(f"/dashboard/applications/{app_id(rt, 'a-rita')}/proof").status_code == 404
    response = theirs.get("/dashboard/compliance/ontario-esa", query_string={"job": job_id(rt, "j-1")})
    assert response.status_code == 400
    # And Acme's admin never sees Olga.
    ours = app.test_client()
    add_user(rt, org.id, ADMIN, "admin")
    sign_in(ours, ADMIN)
    assert "Olga Elsewhere" not in text(ours.get("/dashboard/compliance/ontario-esa"))
    assert "Olga Elsewhere" not in text(ours.get("/dashboard/compliance/proof.csv"))
    assert ours.get(f"/dashboard/applications/{app_id(rt, 'x-1')}/proof").status_code == 404


# -- bad filters ------------------------------------------------------------------------------------

BAD_FILTERS = [
    ({"from": "2026-13-01"}, "Enter a date as YYYY-MM-DD"),
    ({"to": "yesterday"}, "Enter a date as YYYY-MM-DD"),
    ({"from": "2026-12-02", "to": "2026-12-01"}, "The end date must be on or after the start date."),
    ({"job": "999999"}, "this one is unknown or not yours to see"),
    ({"job": "abc"}, "this one is unknown or not yours to see"),
    ({"page": "0"}, "The page number must be a whole number from 1."),
]
REPORT_PATHS = ["/dashboard/compliance/ontario-esa", "/dashboard/compliance/ontario-esa.csv",
                "/dashboard/compliance/proof", "/dashboard/compliance/proof.csv"]


def test_bad_filters_are_refused_with_a_message(small_round: Any) -> None:
    for path in REPORT_PATHS:
        for params, message in BAD_FILTERS:
            response = small_round.get(path, query_string=params)
            html = text(response)
            assert response.status_code == 400, (path, params, html[:1000])
            assert response.mimetype == "text/html"
            assert message in html and 'role="alert"' in html, (path, params)
            if "page" not in params:  # the page number has no field of its own; the others are marked
                assert 'class="field-error"' in html and 'aria-invalid="true"' in html, (path, params)
            assert "Rita Reject" not in html and "Download CSV" not in html  # nothing shown wrongly


@pytest.fixture
def small_round(rt: Any, org: Org, client: Any, tick: Any) -> Any:
    """One interviewed candidate and a signed-in admin: enough for the filter checks."""
    tick(at=INTERVIEW)
    org.post(interviewed("a-rita", INTERVIEW))
    tick(by=timedelta(hours=1))
    add_user(rt, org.id, ADMIN, "admin")
    sign_in(client, ADMIN)
    assert "Rita Reject" in text(client.get("/dashboard/compliance/ontario-esa"))
    return client


def test_unknown_status_is_refused(small_round: Any) -> None:
    response = small_round.get("/dashboard/compliance/ontario-esa?status=late")
    assert response.status_code == 400 and "Choose one of the listed statuses." in text(response)


def test_signed_out_visitors_are_sent_to_sign_in(client: Any, rt: Any, org: Org) -> None:
    for path in ("/dashboard/compliance", "/dashboard/compliance/ontario-esa.csv", "/dashboard/compliance/proof",
                 "/dashboard/applications/1/proof"):
        response = client.get(path)
        assert response.status_code == 302 and "/dashboard/sign-in" in response.headers["Location"]
