"""A message whose fate is unknown is reported as unknown, confirmed or refuted by the provider,
and never sent twice (DESIGN "After autopilot", invariant 9; issue 11, observation 8).

A worker that is killed while SendGrid holds its request, or a request SendGrid never answers, may
have delivered the message. Before, the sweeper marked it failed, put the cycle at risk and filed the
breach as `undeliverable` (a bounce that never happened). Now:
- the message becomes `unknown`; nobody is told the address is bad; the cycle is not at risk;
- a SendGrid event for it (any: `processed` is posted for every message SendGrid accepts) confirms
  it as sent at the event's time, which discharges the cycle as of then;
- the outbox provider can tell at once (its file is written atomically);
- only a message the provider never had is sent again.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from conftest import START
from helpers import interview_done, notifications, obligations, sent
from rq import Worker
from sqlalchemy import update
from test_sendgrid_events import post, sg, signer  # noqa: F401  (signer: the fixture)

from plugin.mail.sendgrid import SendGridProvider
from plugin.models import Notification, NotificationState, ObligationState
from plugin.notify.dispatch import dispatch
from plugin.sla.sweep import SENDING_TIMEOUT, UNKNOWN_REFUTE_AFTER, sweep

ENDED = START - timedelta(days=7)  # Mon 26 Oct 09:00 New York: due Mon 2 Nov 17:00 (START is Mon 2 Nov 09:00)
AUTOPILOT_AT = START  # autopilot writes at 09:00 on the due day


@pytest.fixture
def sendgrid(rt, sendgrid_standin):  # type: ignore[no-untyped-def]
    rt.mail = SendGridProvider(api_key="SG.test", host=sendgrid_standin.url, timeout=1.0)
    return sendgrid_standin


def row(rt, notification_id: int) -> Notification:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        n = session.get(Notification, notification_id)
        assert n is not None
        return n


def forgotten_until_autopilot(org, tick, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(ENDED)
    org.post(interview_done(ENDED))
    for day in range(1, 7):  # the sweeper runs every morning: next steps, then the reminders; nobody acts
        tick(at=ENDED + timedelta(days=day, hours=-1))
        tick(at=ENDED + timedelta(days=day))
    tick(at=AUTOPILOT_AT - timedelta(hours=1))
    clock.set(AUTOPILOT_AT)


def requests_for(standin, notification_id: int) -> list[dict]:  # type: ignore[no-untyped-def]
    return [b for _, b in standin.requests if b["custom_args"]["notification_id"] == str(notification_id)]


def test_a_worker_killed_mid_send_is_unknown_then_confirmed_by_sendgrids_events(org, rt, clock, tick, sendgrid,
                                                                                 signer):
    """kill -9 of the process talking to SendGrid, while SendGrid holds the request."""
    forgotten_until_autopilot(org, tick, clock)
    claimed: list[int] = []
    sweep(rt.db, clock.now(), claimed.extend)
    [update_] = [n for n in notifications(rt.db, "status_update")]
    assert update_.id in claimed and update_.autopilot
    sendgrid.delay_next(30.0)
    dispatch(rt.queue, [update_.id])
    worker = Worker([rt.queue], connection=rt.redis)  # forks a work horse per job, like production

    def kill_the_horse_once_sendgrid_has_the_request() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (requests_for(sendgrid, update_.id) and worker.horse_pid):
            time.sleep(0.02)
        os.kill(worker.horse_pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_horse_once_sendgrid_has_the_request)
    killer.start()
    worker.work(burst=True)
    killer.join()
    assert len(requests_for(sendgrid, update_.id)) == 1
    assert row(rt, update_.id).state is NotificationState.SENDING  # the horse died before recording anything

    tick(by=SENDING_TIMEOUT + timedelta(minutes=1))
    n = row(rt, update_.id)
    assert n.state is NotificationState.UNKNOWN and "may or may not have reached" in (n.last_error or "")
    [ob] = obligations(rt.db)
    assert ob.state is ObligationState.OPEN and not ob.at_risk  # a crash is not a bounce
    assert notifications(rt.db, "delivery_failed") == []

    # The deadline passes while nobody knows: reported as unknown, never as undeliverable.
    tick(at=START + timedelta(hours=8, minutes=1))  # Mon 2 Nov 17:01 New York
    [ob] = obligations(rt.db)
    assert ob.breach_reason == "unknown"
    assert len(requests_for(sendgrid, update_.id)) == 1  # still not sent again

    # SendGrid's Event Webhook: it had processed the message at 09:00:01.
    processed_at = AUTOPILOT_AT + timedelta(seconds=1)
    post(org.client, org.id, signer, [sg("processed", update_, processed_at), sg("delivered", update_,
                                                                                  processed_at + timedelta(seconds=3))])
    n = row(rt, update_.id)
    assert n.state is NotificationState.SENT and n.sent_at == processed_at and n.delivered_at is not None
    first = obligations(rt.db)[0]
    assert (first.state, first.discharged_at, first.breach_reason) == (
        ObligationState.DISCHARGED, processed_at, None)  # told in time after all
    tick(by=timedelta(days=1))
    assert len(requests_for(sendgrid, update_.id)) == 1  # handed to SendGrid once, ever
    assert notifications(rt.db, "delivery_failed") == [] and sendgrid.contract_violations == []


def test_a_request_sendgrid_never_answers_is_unknown_not_retried(org, rt, clock, tick, sendgrid, signer):
    forgotten_until_autopilot(org, tick, clock)
    sendgrid.delay_next(2.0)  # longer than the client's 1 s timeout
    tick()
    [update_] = notifications(rt.db, "status_update")
    assert update_.state is NotificationState.UNKNOWN and "did not answer" in (update_.last_error or "")
    tick(by=timedelta(hours=3))
    assert len(requests_for(sendgrid, update_.id)) == 1  # a timeout is not a reason to send it again
    post(org.client, org.id, signer, [sg("processed", update_, AUTOPILOT_AT)])
    assert row(rt, update_.id).state is NotificationState.SENT
    assert obligations(rt.db)[0].discharged_at == AUTOPILOT_AT


def test_an_unknown_message_whose_events_never_come_while_later_ones_do_is_sent_once(org, rt, clock, tick, sendgrid,
                                                                                     signer):
    """The worker died before its request left: SendGrid never had it. Once the events of messages
    handed over after it have arrived and none for it in an hour, it is refuted and sent."""
    forgotten_until_autopilot(org, tick, clock)
    claimed: list[int] = []
    sweep(rt.db, clock.now(), claimed.extend)
    [update_] = notifications(rt.db, "status_update")
    with rt.db.session() as session:  # claimed by a worker that then died before sending anything
        session.execute(update(Notification).where(Notification.id == update_.id).values(
            state=NotificationState.SENDING, attempts=1, queued_at=clock.now()))
    tick(by=SENDING_TIMEOUT + timedelta(minutes=1))
    assert row(rt, update_.id).state is NotificationState.UNKNOWN
    # Another candidate's message goes out later, and its events arrive.
    org.post(interview_done(clock.now(), app="a-2", candidate="c-2", interview="i-2"))
    tick()
    [later] = [n for n in sent(rt.db, "next_steps") if n.obligation_id != update_.obligation_id]
    post(org.client, org.id, signer, [sg("processed", later, clock.now(), message="msg-2")])
    tick(by=UNKNOWN_REFUTE_AFTER - timedelta(minutes=30))
    assert row(rt, update_.id).state is NotificationState.UNKNOWN  # not yet: its events could be late
    tick(by=timedelta(minutes=31))
    tick()
    n = row(rt, update_.id)
    assert n.state is NotificationState.SENT and len(requests_for(sendgrid, update_.id)) == 1


@pytest.mark.parametrize("file_written", [True, False])
def test_the_outbox_tells_at_once_whether_an_interrupted_message_went_out(org, rt, clock, tick, outbox,
                                                                          file_written):
    forgotten_until_autopilot(org, tick, clock)
    claimed: list[int] = []
    sweep(rt.db, clock.now(), claimed.extend)
    [update_] = notifications(rt.db, "status_update")
    if file_written:  # the worker wrote the file, then died before recording it
        from plugin.notify import compose
        from plugin.notify.jobs import ready_to_send
        with rt.db.session() as session:
            n = session.get(Notification, update_.id)
            ready_to_send(session, n, clock.now())
            message = compose.outgoing(session, n)
        rt.mail.send(message)
    with rt.db.session() as session:
        session.execute(update(Notification).where(Notification.id == update_.id).values(
            state=NotificationState.SENDING, attempts=1, queued_at=clock.now()))
    tick(by=SENDING_TIMEOUT + timedelta(minutes=1))
    tick()
    n = row(rt, update_.id)
    assert n.state is NotificationState.SENT
    assert len([m for m in outbox() if m["X-Ghostless-Kind"] == "status_update"]) == 1
    [first, _second] = obligations(rt.db)
    if file_written:  # discharged when the file was written, before the deadline
        assert first.discharged_at == AUTOPILOT_AT and first.breach_reason is None
    assert notifications(rt.db, "delivery_failed") == []
