"""Internal mail that reaches nobody is not lost in a log (issue 13, item 14).

A reminder SendGrid refuses (a 400 for a broken recruiter address) used to be logged and nothing
else: the recruiter never learnt the candidate was waiting, and nobody learnt the address was wrong.
Now the organisation's escalation address (the talent-ops lead) is told, once, naming the address
that failed. When the failed message was for the lead itself there is nobody left to tell by email:
the audit log and the error log hold it, and no notice loops.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import START
from helpers import interview_done, notifications, obligations, sent
from sqlalchemy import select

from plugin.mail.sendgrid import SendGridProvider
from plugin.models import AuditEntry, NotificationState, Rung

RECRUITER = "alan@acme.example"
LEAD = "talent-ops@acme.example"


@pytest.fixture
def sendgrid(rt, sendgrid_standin):  # type: ignore[no-untyped-def]
    rt.mail = SendGridProvider(api_key="SG.test", host=sendgrid_standin.url, timeout=1.0)
    return sendgrid_standin


def bodies_to(standin, address: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [body for _, body in standin.requests
            if body["personalizations"][0]["to"][0]["email"] == address]


def audit_actions(rt, notification_id: int) -> list[tuple[str, dict | None]]:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        return [(e.action, e.after) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "notification",
                                     AuditEntry.entity_id == str(notification_id)).order_by(AuditEntry.id))]


def run_until_next_rung_fails(org, rt, tick, sendgrid, status: int = 400):  # type: ignore[no-untyped-def]
    """The thank-you goes out; the next rung of the ladder is refused by SendGrid."""
    org.post(interview_done(START))
    tick()
    [ob] = obligations(rt.db)
    sendgrid.fail_next(status)
    tick(at=ob.next_action_at)
    return ob


def test_a_refused_reminder_tells_the_talent_ops_lead_which_address_failed(org, rt, tick, sendgrid):
    run_until_next_rung_fails(org, rt, tick, sendgrid)
    [reminder] = notifications(rt.db, "reminder_recruiter")
    assert reminder.state is NotificationState.FAILED and reminder.recipient_email == RECRUITER
    tick()  # the notice the worker scheduled goes out at the next tick
    [notice] = sent(rt.db, "delivery_failed")
    assert notice.recipient_email == LEAD
    assert notice.context["failed_internal"] and notice.context["failed_notification_id"] == reminder.id
    [body] = bodies_to(sendgrid, LEAD)
    text = next(c["value"] for c in body["content"] if c["type"] == "text/plain")
    assert RECRUITER in body["subject"] and RECRUITER in text and "SendGrid 400" in text
    assert "reminder" in body["subject"]
    assert ("internal_undelivered", {"reason": reminder.last_error, "told": "escalation_email"}) in \
        audit_actions(rt, reminder.id)
    # The candidate's own promise is untouched: a reminder failing puts nothing at risk.
    [ob] = obligations(rt.db)
    assert not ob.at_risk
    tick(by=timedelta(hours=2))
    assert len(sent(rt.db, "delivery_failed")) == 1 and sendgrid.contract_violations == []


def test_a_refused_message_to_the_lead_itself_is_audited_and_does_not_loop(org, rt, tick, sendgrid):
    """Autopilot off: the escalation goes to the lead; SendGrid refuses it; nobody is left to email."""
    org.post(interview_done(START))
    org.put("/api/v1/policies/jobs/j-1", {"autopilot": False})
    tick()
    [ob] = obligations(rt.db)
    while ob.next_rung is not Rung.AUTOPILOT:  # the reminders go out as usual
        tick(at=ob.next_action_at)
        [ob] = obligations(rt.db)
    sendgrid.fail_next(400)
    tick(at=ob.next_action_at)
    [escalation] = notifications(rt.db, "escalation")
    assert escalation.recipient_email == LEAD and escalation.state is NotificationState.FAILED
    tick(by=timedelta(hours=2))
    assert notifications(rt.db, "delivery_failed") == []
    assert len(bodies_to(sendgrid, LEAD)) == 1  # the refused escalation, and nothing after it
    assert ("internal_undelivered", {"reason": escalation.last_error, "told": None}) in \
        audit_actions(rt, escalation.id)
