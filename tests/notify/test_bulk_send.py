"""Job closing notices go out in bulk through the real SendGrid client: personalizations, at most 1000
per request, each carrying its notification id; what SendGrid would deliver is what we stored."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import START
from helpers import event, interview_done, notifications, sent
from sendgrid_standin import SendGridStandIn, validate_mail_send_body
from sqlalchemy import func, select

from plugin.mail.base import Address, BulkMessage, BulkRecipient, substitute
from plugin.mail.sendgrid import SendGridProvider
from plugin.models import Application, Notification, NotificationState

HOUR = timedelta(hours=1)


@pytest.fixture
def sendgrid(rt, sendgrid_standin):  # type: ignore[no-untyped-def]
    rt.mail = SendGridProvider(api_key="SG.test", host=sendgrid_standin.url, timeout=5.0)
    return sendgrid_standin


def interview_many(org: Any, count: int, at: datetime, **candidate: Any) -> None:
    """`count` candidates interviewed for job j-1 (one canonical event each, 1000 per request).

    Next-steps thank-yous are switched off: 2,500 of them would be 2,500 single sends to wait for.
    """
    org.put("/api/v1/policies/organization", {"next_steps": False})
    events = [interview_done(at, app=f"a-{i}", candidate=f"c-{i}", interview=f"i-{i}",
                             name=candidate.get("name", f"Candidate {i}")) for i in range(count)]
    for start in range(0, count, 1000):
        org.post(*events[start:start + 1000])


def close_job(org: Any, tick: Any, at: datetime) -> None:
    tick(at=at)
    org.post(event("job.closed", at))
    tick(at=at + HOUR)  # the hold ends inside the send window: one sweep, one worker run


def closing_requests(standin: SendGridStandIn) -> list[dict[str, Any]]:
    return [body for _, body in standin.requests if body.get("categories") == ["job_closed"]]


def test_2500_closing_notices_are_three_requests(org, tick, rt, sendgrid):  # type: ignore[no-untyped-def]
    interview_many(org, 2500, START)
    close_job(org, tick, START + timedelta(days=1))  # Tue 09:00 New York

    requests = closing_requests(sendgrid)
    assert [len(body["personalizations"]) for body in requests] == [1000, 1000, 500]
    assert sendgrid.contract_violations == []
    notices = sent(rt.db, "job_closed")
    assert len(notices) == 2500
    # Every personalization names its notification; every notification appears exactly once.
    ids = [p["custom_args"]["notification_id"] for body in requests for p in body["personalizations"]]
    assert sorted(ids) == sorted(str(n.id) for n in notices)
    # The X-Message-Id of each request is stored on the notifications it carried.
    assert len({n.provider_message_id for n in notices}) == 3 and all(n.provider_message_id for n in notices)


def test_each_candidate_gets_their_own_name_and_link_exactly_as_stored(org, tick, rt, sendgrid):  # type: ignore[no-untyped-def]
    names = ["Ada Lovelace", "O'Brien & Søn", "<script>alert(1)</script>", "José Müller"]
    for i, name in enumerate(names):
        org.post(interview_done(START, app=f"a-{i}", candidate=f"c-{i}", interview=f"i-{i}", name=name))
    close_job(org, tick, START + timedelta(days=1))

    [body] = closing_requests(sendgrid)
    assert sendgrid.contract_violations == []
    by_id = {n.id: n for n in sent(rt.db, "job_closed")}
    content = {c["type"]: c["value"] for c in body["content"]}
    for personalization in body["personalizations"]:
        n = by_id[int(personalization["custom_args"]["notification_id"])]
        subs = personalization.get("substitutions", {})
        # What SendGrid makes of the shared content for this person is what we stored as sent.
        assert substitute(content["text/plain"], subs) == n.body_text
        assert substitute(content["text/html"], subs) == n.body_html
        assert substitute(body["subject"], subs) == n.subject
        assert "/status/" in n.body_text
        assert "<script>" not in n.body_html
        assert personalization["to"] == [{"email": n.recipient_email, "name": n.recipient_name}]
    [hostile] = [n for n in by_id.values() if n.recipient_name == names[2]]
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt;," in hostile.body_html


def test_a_hiring_freeze_is_one_request_each_person_reading_their_own_job(org, tick, rt, sendgrid):  # type: ignore[no-untyped-def]
    """Notices about different jobs share one rendering: the job's title is a substitution too (issue 14:
    50 jobs of 200 closed together were 50 requests, now ceil(10,000 / 1000))."""
    for j in range(3):
        for i in range(2):
            org.post(interview_done(START, app=f"a-{j}-{i}", candidate=f"c-{j}-{i}", interview=f"i-{j}-{i}",
                                    job=f"j-{j}", name=f"Person {j}-{i}"))
    tick(at=START + timedelta(days=1))
    org.post(*[event("job.closed", START + timedelta(days=1), job=f"j-{j}")
               | {"job": {"id": f"j-{j}", "title": f"Role {j}"}} for j in range(3)])
    tick(at=START + timedelta(days=1) + HOUR)
    [body] = closing_requests(sendgrid)
    assert len(body["personalizations"]) == 6 and sendgrid.contract_violations == []
    content = {c["type"]: c["value"] for c in body["content"]}
    with rt.db.session() as session:
        job_of = dict(session.execute(select(Notification.id, Application.external_id)
                                      .join(Application, Application.id == Notification.application_id)).all())
    for personalization in body["personalizations"]:
        n = next(n for n in sent(rt.db, "job_closed")
                 if str(n.id) == personalization["custom_args"]["notification_id"])
        subs = personalization["substitutions"]
        assert substitute(content["text/plain"], subs) == n.body_text
        assert substitute(content["text/html"], subs) == n.body_html
        assert substitute(body["subject"], subs) == n.subject
        assert f"the Role {job_of[n.id].split('-')[1]} position" in n.body_text


def test_a_template_that_changes_a_name_sends_each_notice_as_rendered(org, tick, rt, sendgrid):  # type: ignore[no-untyped-def]
    """A shared rendering stands in for a person's own only when it reads the same: an override that
    upper-cases the name fails that check, and each notice goes out as rendered alone."""
    override = {"body": "Dear {{ candidate.name|upper }},\n\nThe {{ jobs[0] }} position is closed."}
    answer = org.client.put("/api/v1/templates/job_closed/overrides/en", json=override, headers=org.headers)
    assert answer.status_code == 200, answer.get_json()
    for i, name in enumerate(["Ada Lovelace", "Grace Hopper"]):
        org.post(interview_done(START, app=f"a-{i}", candidate=f"c-{i}", interview=f"i-{i}", name=name))
    close_job(org, tick, START + timedelta(days=1))
    requests = closing_requests(sendgrid)
    assert [len(body["personalizations"]) for body in requests] == [1, 1]
    texts = sorted(n.body_text for n in sent(rt.db, "job_closed"))
    assert texts[0].startswith("Dear ADA LOVELACE,") and texts[1].startswith("Dear GRACE HOPPER,")
    for body in requests:
        [personalization] = body["personalizations"]
        n = next(n for n in sent(rt.db, "job_closed")
                 if str(n.id) == personalization["custom_args"]["notification_id"])
        assert {c["type"]: c["value"] for c in body["content"]}["text/plain"] == n.body_text


def test_a_failing_request_is_retried_for_its_recipients_only(org, tick, rt, sendgrid):  # type: ignore[no-untyped-def]
    interview_many(org, 1001, START)
    sendgrid.fail_next(500)  # the first request (1000 recipients) fails; the second goes through
    close_job(org, tick, START + timedelta(days=1))
    assert len(sent(rt.db, "job_closed")) == 1
    waiting = [n for n in notifications(rt.db, "job_closed") if n.state is NotificationState.SCHEDULED]
    assert len(waiting) == 1000 and all("500" in (n.last_error or "") for n in waiting)

    tick(by=timedelta(minutes=5))  # backoff over: sent once, no duplicates
    assert len(sent(rt.db, "job_closed")) == 1001
    ids = [p["custom_args"]["notification_id"] for body in closing_requests(sendgrid)
           if body for p in body["personalizations"]]
    assert len(ids) == 1000 + 1 + 1000 and len(set(ids)) == 1001  # the failed request was resent once


def test_a_permanent_error_fails_and_escalates_every_recipient_of_that_request(org, tick, rt, sendgrid):  # type: ignore[no-untyped-def]
    interview_many(org, 3, START)
    sendgrid.fail_next(400, message="The from address does not match a verified Sender Identity.")
    close_job(org, tick, START + timedelta(days=1))
    failed = [n for n in notifications(rt.db, "job_closed") if n.state is NotificationState.FAILED]
    assert len(failed) == 3 and "verified Sender Identity" in (failed[0].last_error or "")
    with rt.db.session() as session:
        escalations = session.scalar(select(func.count()).select_from(Notification)
                                     .where(Notification.kind == "delivery_failed"))
    assert escalations == 3


def test_two_candidates_sharing_an_address_go_in_separate_requests(org, tick, rt, sendgrid):  # type: ignore[no-untyped-def]
    for i in range(2):
        org.post(interview_done(START, app=f"a-{i}", candidate=f"c-{i}", interview=f"i-{i}",
                                email="shared@example.com", name=f"Twin {i}"))
    close_job(org, tick, START + timedelta(days=1))
    requests = closing_requests(sendgrid)
    assert [len(body["personalizations"]) for body in requests] == [1, 1]
    assert sendgrid.contract_violations == []
    assert len(sent(rt.db, "job_closed")) == 2


def test_bulk_request_body_is_valid_against_sendgrid_contract() -> None:
    provider = SendGridProvider(api_key="SG.test", host="http://127.0.0.1:9")
    bulk = BulkMessage(
        kind="job_closed", sender=Address("talent@acme.example", "Acme Talent"),
        subject="About %%GL_NAME_T%%", text="Hi %%GL_NAME_T%%", html="<p>Hi %%GL_NAME_H%%</p>",
        recipients=[BulkRecipient(i, Address(f"c{i}@example.com", "Müller, José"),
                                  {"%%GL_NAME_T%%": f"N{i}", "%%GL_NAME_H%%": f"N{i}"}) for i in range(1, 1001)],
    )
    body = provider.build_bulk_request_body(bulk)
    assert validate_mail_send_body(body) == []
    assert len(body["personalizations"]) == 1000
    assert body["personalizations"][0]["headers"] == {"X-Ghostless-Notification-Id": "1"}
    with pytest.raises(Exception, match="1..1000"):
        provider.build_bulk_request_body(BulkMessage(**{**bulk.__dict__, "recipients": list(bulk.recipients) * 2}))
