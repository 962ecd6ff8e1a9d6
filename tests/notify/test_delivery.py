"""The mail job: idempotency, lost and dead jobs, provider failures (SendGrid stand-in), forking worker.

Everything runs through the real sweep, the real RQ queue and a real worker (conftest's `tick`).
`claim()` runs a sweep whose dispatch only records ids: the rows become `queued` but no RQ job is
enqueued, which is exactly the state a crash between commit and enqueue leaves behind.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from conftest import START
from helpers import event, interview_done, notifications, obligations, sent
from sendgrid_standin import SendGridStandIn
from sqlalchemy import select

from plugin import clock
from plugin import runtime as runtime_module
from plugin.mail.sendgrid import SendGridProvider
from plugin.models import AuditEntry, Notification, NotificationKind, NotificationState
from plugin.notify import jobs
from plugin.notify.dispatch import dispatch
from plugin.notify.jobs import send_notification
from plugin.processes import run_worker
from plugin.sla.sweep import REQUEUE_AFTER, sweep

RECRUITER = "alan@acme.example"




@pytest.fixture
def sendgrid(rt, sendgrid_standin):  # type: ignore[no-untyped-def]
    """The runtime sends through the real SendGrid client to the stand-in."""
    rt.mail = SendGridProvider(api_key="SG.test", host=sendgrid_standin.url, timeout=1.0)
    return sendgrid_standin


def claim(rt) -> list[int]:  # type: ignore[no-untyped-def]
    """One sweep tick whose dispatch is lost: rows go `queued`, nothing reaches Redis."""
    ids: list[int] = []
    sweep(rt.db, clock.now(), ids.extend)
    return ids


def next_steps_queued(org, rt) -> int:  # type: ignore[no-untyped-def]
    """An interview just ended (Mon 09:00 New York, inside the send window): its thank-you is queued."""
    org.post(interview_done(START))
    ids = claim(rt)
    [n] = notifications(rt.db, "next_steps")
    assert ids == [n.id] and n.state is NotificationState.QUEUED
    return n.id


def row(rt, notification_id: int) -> Notification:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        n = session.get(Notification, notification_id)
        assert n is not None
        return n


def eml_files(rt) -> list[str]:  # type: ignore[no-untyped-def]
    directory = rt.settings.resolved_outbox_dir
    return sorted(p.name for p in directory.glob("*.eml")) if directory.is_dir() else []


def sendgrid_sends(standin: SendGridStandIn, notification_id: int | None = None,
                   kind: str | None = None) -> list[dict]:
    bodies = [body for _, body in standin.requests]
    if notification_id is not None:
        bodies = [b for b in bodies if b["custom_args"]["notification_id"] == str(notification_id)]
    if kind is not None:
        bodies = [b for b in bodies if b["categories"] == [kind]]
    return bodies


# --- idempotency ---------------------------------------------------------------------------------


def test_same_job_run_twice_sends_once(org, rt, outbox):
    nid = next_steps_queued(org, rt)
    assert send_notification(nid) == "sent"
    assert send_notification(nid).startswith("skipped")
    assert eml_files(rt) == [f"{nid:08d}-next_steps.eml"]
    [n] = sent(rt.db)
    assert n.id == nid and n.attempts == 1
    with rt.db.session() as session:
        actions = session.scalars(select(AuditEntry.action).where(
            AuditEntry.entity == "notification", AuditEntry.entity_id == str(nid))).all()
    assert actions.count("sent") == 1


def test_same_job_enqueued_twice_sends_once(org, rt, outbox):
    nid = next_steps_queued(org, rt)
    dispatch(rt.queue, [nid])
    dispatch(rt.queue, [nid])  # a second job for the same row (e.g. a recovery re-dispatch)
    assert rt.queue.count == 2
    # More jobs (e.g. one requeued by hand from the failed registry) still send once.
    rt.queue.enqueue(send_notification, nid)
    rt.queue.enqueue(send_notification, nid)
    run_worker(rt, burst=True, simple=True)
    assert eml_files(rt) == [f"{nid:08d}-next_steps.eml"]
    [n] = sent(rt.db)
    assert n.id == nid and n.attempts == 1
    assert len(outbox()) == 1


# --- crashes and lost jobs -----------------------------------------------------------------------


def test_lost_job_is_requeued_after_ten_minutes_and_sent_once(org, rt, tick, clock, outbox):
    nid = next_steps_queued(org, rt)
    assert rt.queue.count == 0  # the enqueue was lost
    tick(by=REQUEUE_AFTER - timedelta(minutes=1))
    assert row(rt, nid).state is NotificationState.QUEUED and eml_files(rt) == []
    report = tick(by=timedelta(minutes=2))
    assert report.requeued == 1
    n = row(rt, nid)
    assert n.state is NotificationState.SENT and n.attempts == 1
    tick(by=timedelta(minutes=30))
    tick(by=timedelta(hours=2))
    assert eml_files(rt) == [f"{nid:08d}-next_steps.eml"]
    assert len(sent(rt.db)) == 1


def test_lost_job_requeue_when_job_waits_in_queue_does_not_double_send(org, rt, tick, clock, outbox):
    """The worker is just slow: the job is still in Redis when the sweeper re-dispatches."""
    nid = next_steps_queued(org, rt)
    dispatch(rt.queue, [nid])
    clock.advance(REQUEUE_AFTER + timedelta(minutes=1))
    tick()  # re-dispatch is refused as a duplicate; the one job runs
    assert eml_files(rt) == [f"{nid:08d}-next_steps.eml"]
    assert row(rt, nid).attempts == 1


def test_lost_job_is_requeued_even_if_an_earlier_job_failed(org, rt, tick, clock, outbox, monkeypatch):
    nid = next_steps_queued(org, rt)

    def crash() -> None:
        raise ConnectionError("database went away before the claim")

    dispatch(rt.queue, [nid])
    with monkeypatch.context() as patch:
        patch.setattr(runtime_module, "current", crash)  # the job fails before it claims the row
        run_worker(rt, burst=True, simple=True)
    assert rt.queue.failed_job_registry.count == 1
    assert row(rt, nid).state is NotificationState.QUEUED
    tick(by=REQUEUE_AFTER + timedelta(minutes=1))
    tick(by=timedelta(hours=1))
    assert row(rt, nid).state is NotificationState.SENT


# --- SendGrid (real client, local stand-in) ------------------------------------------------------


def test_sendgrid_candidate_message_accepted_with_contract_and_tracking(org, rt, tick, sendgrid):
    org.post(interview_done(START))
    tick()
    [n] = sent(rt.db)
    assert n.kind is NotificationKind.NEXT_STEPS and n.provider == "sendgrid"
    assert n.provider_message_id and len(n.provider_message_id) == 22
    assert sendgrid.contract_violations == []
    [body] = sendgrid.requests and [b for _, b in sendgrid.requests]
    assert body["custom_args"] == {"notification_id": str(n.id), "kind": "next_steps"}
    assert body["categories"] == ["next_steps"]
    assert body["personalizations"][0]["to"][0]["email"] == "c-1@example.com"
    assert body["headers"]["X-Ghostless-Notification-Id"] == str(n.id)


def _first_send_fails(org, rt, tick, standin, status, headers=None):  # type: ignore[no-untyped-def]
    standin.fail_next(status, headers=headers)
    org.post(interview_done(START))
    tick()
    [n] = notifications(rt.db, "next_steps")
    return n


def test_sendgrid_429_goes_back_to_scheduled_at_reset_time(org, rt, tick, clock, sendgrid):
    reset = START + timedelta(minutes=3)
    n = _first_send_fails(org, rt, tick, sendgrid, 429, {"X-RateLimit-Reset": str(int(reset.timestamp()))})
    assert n.state is NotificationState.SCHEDULED and n.scheduled_for == reset
    assert n.attempts == 1 and "429" in (n.last_error or "")
    tick(by=timedelta(minutes=2))  # before the reset: nothing
    assert len(sendgrid.requests) == 1
    tick(at=reset)
    n = row(rt, n.id)
    assert n.state is NotificationState.SENT and n.attempts == 2
    tick(by=timedelta(hours=1))
    assert len(sendgrid_sends(sendgrid, n.id)) == 2  # the refused one, then the accepted one
    assert len(sent(rt.db)) == 1 and sendgrid.contract_violations == []


def test_sendgrid_429_retry_is_sent_at_reset_time(org, rt, tick, clock, sendgrid):
    reset = START + timedelta(minutes=3)
    n = _first_send_fails(org, rt, tick, sendgrid, 429, {"X-RateLimit-Reset": str(int(reset.timestamp()))})
    tick(at=reset)  # the finished first job is still in Redis (result_ttl): the retry must not collide
    n = row(rt, n.id)
    assert n.state is NotificationState.SENT and n.sent_at == reset


def test_sendgrid_500_is_retried_with_backoff_and_sent_later(org, rt, tick, clock, sendgrid):
    n = _first_send_fails(org, rt, tick, sendgrid, 500)
    assert n.state is NotificationState.SCHEDULED
    assert n.scheduled_for == START + jobs.backoff(1) and "500" in (n.last_error or "")
    sendgrid.fail_next(503)
    tick(at=n.scheduled_for)
    n = row(rt, n.id)
    assert n.state is NotificationState.SCHEDULED and n.attempts == 2
    assert n.scheduled_for == START + jobs.backoff(1) + jobs.backoff(2)
    tick(at=n.scheduled_for)
    n = row(rt, n.id)
    assert n.state is NotificationState.SENT and n.attempts == 3
    assert len(sendgrid_sends(sendgrid, n.id)) == 3 and sendgrid.contract_violations == []


def test_sendgrid_gives_up_after_max_attempts(org, rt, tick, clock, sendgrid):
    rt.settings = dataclasses.replace(rt.settings, max_send_attempts=2)
    n = _first_send_fails(org, rt, tick, sendgrid, 500)
    sendgrid.fail_next(500)
    tick(at=n.scheduled_for)
    n = row(rt, n.id)
    assert n.state is NotificationState.FAILED and "Gave up after 2 attempts" in (n.last_error or "")
    tick()
    assert len(sendgrid_sends(sendgrid, kind="delivery_failed")) == 1


def test_sendgrid_400_fails_permanently_and_escalates_through_sendgrid(org, rt, tick, sendgrid):
    n = _first_send_fails(org, rt, tick, sendgrid, 400)
    assert n.state is NotificationState.FAILED and "SendGrid 400" in (n.last_error or "")
    [ob] = obligations(rt.db)
    assert ob.at_risk
    tick()  # the escalation was scheduled by the worker; the next tick sends it
    [escalation] = sent(rt.db, "delivery_failed")
    assert escalation.recipient_email == RECRUITER and escalation.provider == "sendgrid"
    [body] = sendgrid_sends(sendgrid, kind="delivery_failed")
    assert body["personalizations"][0]["to"][0]["email"] == RECRUITER
    assert body["custom_args"]["notification_id"] == str(escalation.id)
    tick(by=timedelta(hours=1))
    assert len(sendgrid_sends(sendgrid, n.id)) == 1  # the refused message is never retried
    assert sendgrid.contract_violations == []


# --- the forking worker --------------------------------------------------------------------------


def test_forking_worker_sends(org, rt, clock, outbox):
    org.post(event("application.created", START))
    org.post(interview_done(START))
    ids = claim(rt)
    dispatch(rt.queue, ids)
    run_worker(rt, burst=True, simple=False)  # the work horse is a forked child
    [n] = sent(rt.db)
    assert n.sent_at == START  # the child used the frozen clock it inherited
    assert [m["X-Ghostless-Kind"] for m in outbox()] == ["next_steps"]
    assert rt.queue.failed_job_registry.count == 0
    # The parent can still use the database afterwards (connections shared across fork).
    assert len(obligations(rt.db)) == 1
