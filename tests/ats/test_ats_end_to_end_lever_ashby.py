"""End to end for Lever and Ashby: a signed webhook (or a missed one the poll finds) to the email in the outbox.

Everything runs through the real app: `POST /api/v1/connections`, `POST /webhooks/<provider>/<id>`, the
delivery job and the poll on a real RQ worker, the ledger, the sweep and the outbox. The vendors' REST APIs
are the local stand-ins of tests/standins/. The clock starts at conftest START, Monday 2 November 2026,
09:00 in New York (the org's time zone, US holidays). Per vendor:

1. the interview is learned from a webhook -> `next_steps`; a signed rejection -> exactly one `rejection`,
   one working day after the interview, inside the candidate's 09:00-17:00 window;
2. rejected, then un-rejected before that -> no rejection, ever;
3. the same webhook twice (same bytes, same delivery id) -> "duplicate", one email each;
4. a bad signature -> 401 and nothing stored;
5. no webhook at all: the reconciliation poll finds the interviewed-then-archived application -> the email.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
from ats_support import connect, fixture_json
from conftest import START
from helpers import notifications, sent
from sqlalchemy import func, select
from standins.ashby import API_KEY as ASHBY_KEY
from standins.ashby import AshbyStandIn
from standins.lever import LeverStandIn

from plugin.ats.signing import hmac_sha256_hex
from plugin.models import (
    Application,
    AtsDelivery,
    DeliveryKind,
    DeliveryState,
    InboundEvent,
    NotificationState,
)

NEW_YORK = ZoneInfo("America/New_York")
INTERVIEW_START = START - timedelta(hours=2)  # Monday 07:00 New York
INTERVIEW_END = START - timedelta(hours=1)  # Monday 08:00 New York: ended before the first webhook
# rejection_min_delay_working_days = 1 after the interview end (Tuesday 08:00 New York), then the
# candidate's send window opens at 09:00: Tuesday 3 November, 14:00 UTC.
REJECTION_DUE = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
WELL_PAST_DUE = datetime(2026, 11, 4, 23, 0, tzinfo=UTC)  # Wednesday 18:00 New York
JSON_HEADERS = {"Content-Type": "application/json"}


# -- shared helpers ------------------------------------------------------------------------------------

def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def mails(outbox: Callable[[], list[EmailMessage]], kind: str) -> list[EmailMessage]:
    return [m for m in outbox() if m["X-Ghostless-Kind"] == kind]


def run_until(tick: Any, clock: Any, until: datetime, step: timedelta = timedelta(minutes=30)) -> None:
    """Tick every `step` up to `until` exactly (never past it)."""
    while clock.now() < until:
        tick(by=min(step, until - clock.now()))


def post_webhook(org: Any, conn: dict[str, Any], body: bytes, headers: dict[str, str], expect: int = 200) -> Any:
    response = org.client.post(conn["webhook_path"], data=body, headers=headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def webhook_deliveries(rt: Any) -> list[AtsDelivery]:
    with rt.db.session() as session:
        return list(session.scalars(select(AtsDelivery).where(AtsDelivery.kind == DeliveryKind.WEBHOOK)
                                    .order_by(AtsDelivery.id)))


def count(rt: Any, model: Any) -> int:
    with rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def application_status(rt: Any, external_id: str) -> str:
    with rt.db.session() as session:
        app = session.scalar(select(Application).where(Application.external_id == external_id))
        assert app is not None
        return app.status.value


def event_outcome(rt: Any, event_id: str) -> str | None:
    with rt.db.session() as session:
        outcome = session.scalar(select(InboundEvent.outcome).where(InboundEvent.event_id == event_id))
        return outcome.value if outcome is not None else None


def assert_one_email(outbox: Any, rt: Any, kind: str, to: str) -> EmailMessage:
    found = mails(outbox, kind)
    assert len(found) == 1, [(m["X-Ghostless-Kind"], m["To"]) for m in outbox()]
    [mail] = found
    assert to in str(mail["To"])
    [row] = sent(rt.db, kind)
    assert row.recipient_email == to
    assert mail["X-Ghostless-Notification-Id"] == str(row.id)
    return mail


def assert_rejection_timing(rt: Any) -> None:
    """One working day after the interview, inside the candidate's 09:00-17:00 window (New York)."""
    [row] = sent(rt.db, "rejection")
    assert row.scheduled_for == REJECTION_DUE
    assert REJECTION_DUE <= row.sent_at < REJECTION_DUE + timedelta(minutes=30)
    local = row.sent_at.astimezone(NEW_YORK)
    assert local.weekday() < 5 and 9 <= local.hour < 17
    assert row.sent_at - INTERVIEW_END >= timedelta(days=1)


# -- Lever -------------------------------------------------------------------------------------------

LEVER_SECRET = "lever-signature-token"
LEVER_KEY = "lever-api-key"
LEVER_OPP = "o-1"
LEVER_EMAIL = "ada@example.com"


@pytest.fixture
def lever(vendor_env: None) -> Iterator[LeverStandIn]:
    """Lever holding one opportunity (contact c-1, posting p-1) with an on-site that ended at 08:00."""
    with LeverStandIn(api_key=LEVER_KEY) as standin:
        standin.add_user("u-grace", "Grace Hopper", "grace@acme.example")
        standin.add_user("u-alan", "Alan Turing", "alan@acme.example")
        standin.add_stage("st-onsite", "On-site")
        standin.add_archive_reason("r-hired", "Hired", "hired")
        standin.add_archive_reason("r-under", "Underqualified", "non-hired")
        standin.add_posting("p-1", "Backend Engineer", department="Engineering", hiring_manager="u-grace",
                            owner="u-alan")
        standin.add_opportunity(LEVER_OPP, contact="c-1", name="Ada Lovelace", emails=[LEVER_EMAIL], posting="p-1",
                                stage="st-onsite", created_at=ms(START - timedelta(days=10)),
                                last_advanced_at=ms(START - timedelta(days=4)),
                                updated_at=ms(START - timedelta(days=4)))
        standin.add_interview(LEVER_OPP, "iv-1", date=ms(INTERVIEW_START), duration=60,
                              created_at=ms(START - timedelta(days=4)), stage="st-onsite")
        yield standin


def lever_connect(org: Any, lever: LeverStandIn, *, poll: bool = False) -> Any:
    options: dict[str, Any] = {"api_base_url": lever.base_url}
    if not poll:
        options["poll_interval_minutes"] = 0  # webhooks only: what reaches the ledger came from them
    conn = connect(org, "lever", signing_secret=LEVER_SECRET, credentials={"api_key": LEVER_KEY}, options=options)
    assert conn["polling"] is poll
    return conn


def lever_body(event: str, *, token: str, at: datetime, data: dict[str, Any] | None = None,
               secret: str = LEVER_SECRET) -> bytes:
    """Lever's webhook: the signature is a body field, hex HMAC-SHA256(token + triggeredAt)."""
    payload: dict[str, Any] = {"triggeredAt": ms(at), "event": event, "data": data or {"opportunityId": LEVER_OPP},
                               "token": token}
    payload["signature"] = hmac_sha256_hex(secret, token + str(payload["triggeredAt"]))
    return json.dumps(payload).encode()


LEVER_HEADERS = {**JSON_HEADERS, "User-Agent": "Lever-Webhooks"}


def lever_interview_webhook(clock: Any, token: str = "tok-interview-created") -> bytes:
    return lever_body("interviewCreated", token=token, at=clock.now(),
                      data={"opportunityId": LEVER_OPP, "interviewId": "iv-1"})


def lever_archive(lever: LeverStandIn, clock: Any, token: str = "tok-archive") -> bytes:
    clock.advance(timedelta(minutes=30))
    lever.archive(LEVER_OPP, "r-under", ms(clock.now()))
    return lever_body("candidateArchiveChange", token=token, at=clock.now())


def test_lever_signed_webhooks_bring_next_steps_then_exactly_one_rejection_after_the_minimum_delay(
        org, rt, lever, tick, clock, outbox):
    conn = lever_connect(org, lever)
    answer = post_webhook(org, conn, lever_interview_webhook(clock), LEVER_HEADERS)
    assert answer["status"] == "accepted"
    tick()  # the delivery job: Lever's interview ended at 08:00, the cycle opens, next_steps is due now
    assert [d.state for d in webhook_deliveries(rt)] == [DeliveryState.PROCESSED]
    assert mails(outbox, "next_steps") == []  # due, but only a later sweep claims it
    tick()
    mail = assert_one_email(outbox, rt, "next_steps", LEVER_EMAIL)
    assert mail["X-Ghostless-Kind"] == "next_steps"

    archived_body = lever_archive(lever, clock)
    archived_at = clock.now()
    assert post_webhook(org, conn, archived_body, LEVER_HEADERS)["status"] == "accepted"
    tick()
    assert event_outcome(rt, f"lever:opportunity:{LEVER_OPP}:rejected:{ms(archived_at)}") == "applied"
    [pending] = notifications(rt.db, "rejection")
    assert (pending.state, pending.scheduled_for) == (NotificationState.SCHEDULED, REJECTION_DUE)

    run_until(tick, clock, REJECTION_DUE - timedelta(minutes=1))
    assert mails(outbox, "rejection") == []  # not before one working day after the interview
    run_until(tick, clock, WELL_PAST_DUE)
    assert_one_email(outbox, rt, "rejection", LEVER_EMAIL)
    assert_rejection_timing(rt)
    assert [m["X-Ghostless-Kind"] for m in outbox()] == ["next_steps", "rejection"]


def test_lever_archive_then_unarchive_before_the_rejection_is_due_sends_no_rejection(
        org, rt, lever, tick, clock, outbox):
    conn = lever_connect(org, lever)
    post_webhook(org, conn, lever_interview_webhook(clock), LEVER_HEADERS)
    tick()
    tick()
    assert_one_email(outbox, rt, "next_steps", LEVER_EMAIL)

    post_webhook(org, conn, lever_archive(lever, clock), LEVER_HEADERS)
    tick()
    assert [n.state for n in notifications(rt.db, "rejection")] == [NotificationState.SCHEDULED]

    clock.advance(timedelta(hours=2))  # Monday 11:30 New York: the recruiter takes it back
    lever.unarchive(LEVER_OPP, ms(clock.now()))
    unarchived_at = clock.now()
    body = lever_body("candidateArchiveChange", token="tok-unarchive", at=clock.now())
    assert post_webhook(org, conn, body, LEVER_HEADERS)["status"] == "accepted"
    tick()
    assert event_outcome(rt, f"lever:opportunity:{LEVER_OPP}:reopened:{ms(unarchived_at)}") == "applied"
    assert [n.state for n in notifications(rt.db, "rejection")] == [NotificationState.CANCELLED]
    assert application_status(rt, LEVER_OPP) == "active"

    run_until(tick, clock, WELL_PAST_DUE)
    assert mails(outbox, "rejection") == []
    assert sent(rt.db, "rejection") == []
    assert [d.state for d in webhook_deliveries(rt)] == [DeliveryState.PROCESSED] * 3


def test_lever_duplicate_webhook_is_acknowledged_as_duplicate_and_mails_once(org, rt, lever, tick, clock, outbox):
    conn = lever_connect(org, lever)
    interview = lever_interview_webhook(clock)
    first = post_webhook(org, conn, interview, LEVER_HEADERS)
    again = post_webhook(org, conn, interview, LEVER_HEADERS)  # Lever retries with the same token
    assert (first["status"], again["status"]) == ("accepted", "duplicate")
    assert again["delivery_id"] == first["delivery_id"]
    tick()
    tick()
    later = post_webhook(org, conn, interview, LEVER_HEADERS)  # a retry after we processed it
    assert (later["status"], later["delivery_id"]) == ("duplicate", first["delivery_id"])

    archived = lever_archive(lever, clock)
    assert post_webhook(org, conn, archived, LEVER_HEADERS)["status"] == "accepted"
    assert post_webhook(org, conn, archived, LEVER_HEADERS)["status"] == "duplicate"
    tick()
    assert post_webhook(org, conn, archived, LEVER_HEADERS)["status"] == "duplicate"
    run_until(tick, clock, WELL_PAST_DUE)

    assert_one_email(outbox, rt, "next_steps", LEVER_EMAIL)
    assert_one_email(outbox, rt, "rejection", LEVER_EMAIL)
    assert [(d.vendor_event, d.state) for d in webhook_deliveries(rt)] == [
        ("interviewCreated", DeliveryState.PROCESSED), ("candidateArchiveChange", DeliveryState.PROCESSED)]


def test_lever_bad_signature_is_refused_with_401_and_nothing_is_stored(org, rt, lever, tick, clock, outbox):
    conn = lever_connect(org, lever)
    wrong_secret = lever_body("interviewCreated", token="tok-1", at=clock.now(), secret="not-our-signature-token")
    payload = json.loads(lever_interview_webhook(clock, token="tok-2"))
    payload["token"] = "tok-3"  # the signature covers token + triggeredAt: a changed token breaks it
    tampered = json.dumps(payload).encode()
    unsigned = json.dumps({k: v for k, v in payload.items() if k != "signature"}).encode()
    # Correctly signed, but 25 hours old: Lever's replay advice, refused like a bad signature.
    stale = lever_body("interviewCreated", token="tok-4", at=clock.now() - timedelta(hours=25))
    for body in (wrong_secret, tampered, unsigned, stale):
        answer = post_webhook(org, conn, body, LEVER_HEADERS, expect=401)
        assert answer["code"] == 401

    tick()
    run_until(tick, clock, START + timedelta(days=1))
    assert count(rt, AtsDelivery) == 0
    assert count(rt, InboundEvent) == 0
    assert outbox() == []
    assert lever.requests == []  # nothing was fetched for a refused webhook
    shown = org.get(f"/api/v1/connections/{conn['id']}")
    assert shown["rejected_signatures"] == 4 and shown["last_rejected_at"] is not None


def test_lever_missed_webhooks_are_caught_by_the_poll_and_the_rejection_goes_out(org, rt, lever, tick, clock, outbox):
    archived_at = START - timedelta(minutes=30)  # Monday 08:30 New York, after the 08:00 interview end
    lever.archive(LEVER_OPP, "r-under", ms(archived_at))  # its candidateArchiveChange webhook was lost
    conn = lever_connect(org, lever, poll=True)
    report = tick()  # the first sweep after connecting starts the poll; the worker runs it
    assert report.ats_polls == 1
    with rt.db.session() as session:
        polled = session.scalars(select(AtsDelivery).where(AtsDelivery.kind == DeliveryKind.POLL)).all()
        assert polled and all(d.state is DeliveryState.PROCESSED for d in polled)
    assert webhook_deliveries(rt) == []
    assert event_outcome(rt, f"lever:opportunity:{LEVER_OPP}:rejected:{ms(archived_at)}") == "applied"
    assert application_status(rt, LEVER_OPP) == "rejected"
    assert org.get(f"/api/v1/connections/{conn['id']}")["last_poll_error"] is None

    run_until(tick, clock, WELL_PAST_DUE)
    assert_one_email(outbox, rt, "rejection", LEVER_EMAIL)
    assert_rejection_timing(rt)
    # The thank-you stood down: the decision already says what happens next.
    assert [m["X-Ghostless-Kind"] for m in outbox()] == ["rejection"]


# -- Ashby -------------------------------------------------------------------------------------------

ASHBY_SECRET = "ashby-webhook-secret"
ASHBY_APP = "3ae2b801-19f6-41ef-ad28-214bd731948f"
ASHBY_EMAIL = "ada.lovelace@example.com"
ASHBY_INTERVIEW = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b01"


def stamp(at: datetime) -> str:
    """Ashby's timestamps: ISO 8601 with milliseconds and Z."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ashby_application(status: str, at: datetime) -> dict[str, Any]:
    """Ashby's application object (from the fixtures), Active in the Onsite stage or Archived, as of `at`."""
    if status == "Archived":
        app = copy.deepcopy(fixture_json("ashby", "applicationUpdate-archived.json")["data"]["application"])
        app["archivedAt"] = stamp(at)
    else:
        app = copy.deepcopy(fixture_json("ashby", "applicationUpdate-unarchived.json")["data"]["application"])
    app["updatedAt"] = stamp(at)
    return app


def ashby_schedule(status: str = "Scheduled", updated: datetime = START - timedelta(days=4)) -> dict[str, Any]:
    """One interview schedule with one event, 07:00-08:00 New York on Monday (ended before the webhook)."""
    schedule = copy.deepcopy(fixture_json("ashby", "interviewScheduleCreate.json")["data"]["interviewSchedule"])
    event = schedule["interviewEvents"][0]
    event.update(startTime=stamp(INTERVIEW_START), endTime=stamp(INTERVIEW_END), updatedAt=stamp(updated),
                 createdAt=stamp(updated))
    schedule.update(status=status, interviewEvents=[event], createdAt=stamp(updated), updatedAt=stamp(updated))
    return schedule


def ashby_body(action: str, data: dict[str, Any], action_id: str) -> bytes:
    return json.dumps({"webhookActionId": action_id, "action": action, "data": data}).encode()


def ashby_signed(body: bytes, secret: str = ASHBY_SECRET) -> dict[str, str]:
    return {**JSON_HEADERS, "Ashby-Signature": "sha256=" + hmac_sha256_hex(secret, body)}


@pytest.fixture
def ashby(vendor_env: None) -> Iterator[AshbyStandIn]:
    """Ashby holding the application (Active, Onsite) that application.info answers for, and its stages."""
    with AshbyStandIn() as standin:
        standin.put_application(ashby_application("Active", START - timedelta(days=4)))
        for name in ("applicationUpdate-unarchived.json", "applicationUpdate-archived.json"):
            standin.put_stage(fixture_json("ashby", name)["data"]["application"]["currentInterviewStage"])
        yield standin  # type: ignore[misc]


def ashby_connect(org: Any, ashby: AshbyStandIn, *, poll: bool = False) -> Any:
    options: dict[str, Any] = {"api_base_url": ashby.url}
    if not poll:
        options["poll_interval_minutes"] = 0
    conn = connect(org, "ashby", signing_secret=ASHBY_SECRET, credentials={"api_key": ASHBY_KEY}, options=options)
    assert conn["polling"] is poll
    return conn


def ashby_interview_webhook() -> bytes:
    return ashby_body("interviewScheduleCreate", {"interviewSchedule": ashby_schedule()},
                      "5a0c1e2f-0000-4000-8000-000000000001")


def ashby_status_webhook(ashby: AshbyStandIn, clock: Any, status: str, action_id: str) -> bytes:
    """Ashby moves the application to `status` now and sends applicationUpdate with its new state."""
    app = ashby.put_application(ashby_application(status, clock.now()))
    return ashby_body("applicationUpdate", {"application": app}, action_id)


def test_ashby_signed_webhooks_bring_next_steps_then_exactly_one_rejection_after_the_minimum_delay(
        org, rt, ashby, tick, clock, outbox):
    conn = ashby_connect(org, ashby)
    body = ashby_interview_webhook()
    assert post_webhook(org, conn, body, ashby_signed(body))["status"] == "accepted"
    tick()  # the delivery job: the schedule names only the application, application.info fills it in
    assert [r.json() for r in ashby.calls("application.info")] == [{"applicationId": ASHBY_APP}]
    assert event_outcome(rt, f"ashby:interview:{ASHBY_INTERVIEW}:scheduled:"
                             f"{(START - timedelta(days=4)).isoformat(timespec='milliseconds')}") == "applied"
    tick()
    mail = assert_one_email(outbox, rt, "next_steps", ASHBY_EMAIL)
    assert mail["X-Ghostless-Kind"] == "next_steps"

    clock.advance(timedelta(minutes=30))
    archived_at = clock.now()
    body = ashby_status_webhook(ashby, clock, "Archived", "5a0c1e2f-0000-4000-8000-000000000002")
    assert post_webhook(org, conn, body, ashby_signed(body))["status"] == "accepted"
    tick()
    assert event_outcome(rt, f"ashby:application:{ASHBY_APP}:archived:"
                             f"{archived_at.isoformat(timespec='milliseconds')}") == "applied"
    [pending] = notifications(rt.db, "rejection")
    assert (pending.state, pending.scheduled_for) == (NotificationState.SCHEDULED, REJECTION_DUE)

    run_until(tick, clock, REJECTION_DUE - timedelta(minutes=1))
    assert mails(outbox, "rejection") == []
    run_until(tick, clock, WELL_PAST_DUE)
    assert_one_email(outbox, rt, "rejection", ASHBY_EMAIL)
    assert_rejection_timing(rt)
    assert [m["X-Ghostless-Kind"] for m in outbox()] == ["next_steps", "rejection"]


def test_ashby_archive_then_active_again_before_the_rejection_is_due_sends_no_rejection(
        org, rt, ashby, tick, clock, outbox):
    conn = ashby_connect(org, ashby)
    body = ashby_interview_webhook()
    post_webhook(org, conn, body, ashby_signed(body))
    tick()
    tick()
    assert_one_email(outbox, rt, "next_steps", ASHBY_EMAIL)

    clock.advance(timedelta(minutes=30))
    body = ashby_status_webhook(ashby, clock, "Archived", "5a0c1e2f-0000-4000-8000-000000000002")
    post_webhook(org, conn, body, ashby_signed(body))
    tick()
    assert [n.state for n in notifications(rt.db, "rejection")] == [NotificationState.SCHEDULED]

    clock.advance(timedelta(hours=2))
    active_at = clock.now()
    body = ashby_status_webhook(ashby, clock, "Active", "5a0c1e2f-0000-4000-8000-000000000003")
    assert post_webhook(org, conn, body, ashby_signed(body))["status"] == "accepted"
    tick()
    assert event_outcome(rt, f"ashby:application:{ASHBY_APP}:active:"
                             f"{active_at.isoformat(timespec='milliseconds')}") == "applied"
    assert [n.state for n in notifications(rt.db, "rejection")] == [NotificationState.CANCELLED]
    assert application_status(rt, ASHBY_APP) == "active"

    run_until(tick, clock, WELL_PAST_DUE)
    assert mails(outbox, "rejection") == []
    assert sent(rt.db, "rejection") == []
    assert [d.state for d in webhook_deliveries(rt)] == [DeliveryState.PROCESSED] * 3


def test_ashby_duplicate_webhook_is_acknowledged_as_duplicate_and_mails_once(org, rt, ashby, tick, clock, outbox):
    conn = ashby_connect(org, ashby)
    interview = ashby_interview_webhook()
    first = post_webhook(org, conn, interview, ashby_signed(interview))
    again = post_webhook(org, conn, interview, ashby_signed(interview))  # Ashby's retry: same webhookActionId
    assert (first["status"], again["status"]) == ("accepted", "duplicate")
    assert again["delivery_id"] == first["delivery_id"]
    tick()
    tick()
    later = post_webhook(org, conn, interview, ashby_signed(interview))
    assert (later["status"], later["delivery_id"]) == ("duplicate", first["delivery_id"])

    clock.advance(timedelta(minutes=30))
    archived = ashby_status_webhook(ashby, clock, "Archived", "5a0c1e2f-0000-4000-8000-000000000002")
    assert post_webhook(org, conn, archived, ashby_signed(archived))["status"] == "accepted"
    assert post_webhook(org, conn, archived, ashby_signed(archived))["status"] == "duplicate"
    tick()
    assert post_webhook(org, conn, archived, ashby_signed(archived))["status"] == "duplicate"
    run_until(tick, clock, WELL_PAST_DUE)

    assert_one_email(outbox, rt, "next_steps", ASHBY_EMAIL)
    assert_one_email(outbox, rt, "rejection", ASHBY_EMAIL)
    assert [(d.vendor_event, d.state) for d in webhook_deliveries(rt)] == [
        ("interviewScheduleCreate", DeliveryState.PROCESSED), ("applicationUpdate", DeliveryState.PROCESSED)]


def test_ashby_bad_signature_is_refused_with_401_and_nothing_is_stored(org, rt, ashby, tick, clock, outbox):
    conn = ashby_connect(org, ashby)
    body = ashby_interview_webhook()
    tampered = body.replace(stamp(INTERVIEW_END).encode(), stamp(START + timedelta(hours=1)).encode())
    assert tampered != body
    refused = [
        (body, ashby_signed(body, "not-our-webhook-secret")),  # another secret
        (tampered, ashby_signed(body)),  # the body changed after signing
        (body, JSON_HEADERS),  # no Ashby-Signature at all
        (body, {**JSON_HEADERS, "Ashby-Signature": hmac_sha256_hex(ASHBY_SECRET, body)}),  # no "sha256=" prefix
    ]
    for raw, headers in refused:
        assert post_webhook(org, conn, raw, headers, expect=401)["code"] == 401

    tick()
    run_until(tick, clock, START + timedelta(days=1))
    assert count(rt, AtsDelivery) == 0
    assert count(rt, InboundEvent) == 0
    assert outbox() == []
    assert ashby.requests == []
    shown = org.get(f"/api/v1/connections/{conn['id']}")
    assert shown["rejected_signatures"] == 4 and shown["last_rejected_at"] is not None


def test_ashby_missed_webhooks_are_caught_by_the_poll_and_the_rejection_goes_out(org, rt, ashby, tick, clock, outbox):
    # The interview (07:00-08:00 New York, feedback in) and the archive at 08:30: no webhook reached us.
    archived_at = START - timedelta(minutes=30)
    ashby.put_schedule(ashby_schedule("Complete", updated=INTERVIEW_END + timedelta(minutes=10)))
    ashby.put_application(ashby_application("Archived", archived_at))
    conn = ashby_connect(org, ashby, poll=True)
    report = tick()  # the first sweep after connecting starts the poll; the worker runs it
    assert report.ats_polls == 1
    with rt.db.session() as session:
        polled = session.scalars(select(AtsDelivery).where(AtsDelivery.kind == DeliveryKind.POLL)).all()
        assert polled and all(d.state is DeliveryState.PROCESSED for d in polled)
    assert webhook_deliveries(rt) == []
    assert event_outcome(rt, f"ashby:application:{ASHBY_APP}:archived:"
                             f"{archived_at.isoformat(timespec='milliseconds')}") == "applied"
    assert event_outcome(rt, f"ashby:interview:{ASHBY_INTERVIEW}:completed") == "applied"
    assert application_status(rt, ASHBY_APP) == "rejected"
    assert org.get(f"/api/v1/connections/{conn['id']}")["last_poll_error"] is None
    assert [n.state for n in notifications(rt.db, "rejection")] == [NotificationState.SCHEDULED]

    run_until(tick, clock, WELL_PAST_DUE)
    assert_one_email(outbox, rt, "rejection", ASHBY_EMAIL)
    assert_rejection_timing(rt)


def test_ashby_missed_rejection_webhook_is_caught_by_the_next_poll(org, rt, ashby, tick, clock, outbox):
    """The interview came by webhook; the archive's applicationUpdate was lost: the incremental poll finds it."""
    ashby.put_schedule(ashby_schedule())
    conn = ashby_connect(org, ashby, poll=True)
    body = ashby_interview_webhook()
    assert post_webhook(org, conn, body, ashby_signed(body))["status"] == "accepted"
    assert tick().ats_polls == 1  # the webhook's job, then the first (full) poll: nothing new
    tick()
    assert_one_email(outbox, rt, "next_steps", ASHBY_EMAIL)

    clock.advance(timedelta(minutes=5))
    archived_at = clock.now()  # Monday 09:05 New York; no webhook
    ashby.put_application(ashby_application("Archived", archived_at))
    run_until(tick, clock, START + timedelta(minutes=20))  # the next poll is due 15 minutes after the first
    assert event_outcome(rt, f"ashby:application:{ASHBY_APP}:archived:"
                             f"{archived_at.isoformat(timespec='milliseconds')}") == "applied"
    sync_tokens = [r.json().get("syncToken") for r in ashby.calls("application.list")]
    assert sync_tokens[0] is None and sync_tokens[-1] is not None  # found by the incremental sync
    assert [n.state for n in notifications(rt.db, "rejection")] == [NotificationState.SCHEDULED]

    run_until(tick, clock, WELL_PAST_DUE)
    assert_one_email(outbox, rt, "rejection", ASHBY_EMAIL)
    assert_rejection_timing(rt)
    assert [m["X-Ghostless-Kind"] for m in outbox()] == ["next_steps", "rejection"]
    assert webhook_deliveries(rt)[0].state is DeliveryState.PROCESSED
