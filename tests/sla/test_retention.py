"""Retention: candidates are anonymised `retention_days` after their last decision reached them.

Rounds run through the real API, sweep and RQ worker (conftest's `tick`); the clock then jumps
months ahead with `tick(by=...)`, which runs the same sweep the sweeper process runs. Delivery
events (SendGrid's Event Webhook, built elsewhere) are inserted as rows where a test needs them.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from conftest import START
from helpers import event, interview_done, notifications, sent
from sqlalchemy import select, text, update

from plugin import runtime as runtime_module
from plugin.cli import main
from plugin.models import (
    AuditEntry,
    Candidate,
    CandidateReply,
    DeliveryStatus,
    MailEvent,
    Notification,
    NotificationState,
    ReplyState,
)
from plugin.settings import Settings
from plugin.sla import retention

REJECTED_AT = datetime(2026, 11, 4, 15, tzinfo=UTC)  # Wed 10:00 New York: the rejection goes out at once
DAY = timedelta(days=1)
NAME, EMAIL = "Ada Lovelace", "c-1@example.com"


def rejected_and_told(org, tick, app: str = "a-1", who: str = "c-1", job: str = "j-1") -> datetime:  # type: ignore[no-untyped-def]
    """An interview, then a rejection sent through the outbox (no delivery events). Returns its sent_at."""
    person = {"app": app, "candidate": who, "job": job}
    org.post(interview_done(START, interview=f"i-{app}", **person))
    tick()
    tick(at=REJECTED_AT)
    org.post(event("application.rejected", REJECTED_AT, ats_notification="none", **person))
    tick()
    [rejection] = [n for n in sent(org.rt.db, "rejection") if n.recipient_email == f"{who}@example.com"]
    assert rejection.sent_at == REJECTED_AT
    return rejection.sent_at


def candidate(rt, external_id: str = "c-1") -> Candidate:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        found = session.scalar(select(Candidate).where(Candidate.external_id == external_id))
        assert found is not None
        return found


def deliver(rt, kind: str, *events: tuple[str, datetime]) -> None:  # type: ignore[no-untyped-def]
    """Store SendGrid events for the sent message of `kind`, as the event webhook does."""
    [message] = sent(rt.db, kind)
    with rt.db.session() as session:
        for i, (name, at) in enumerate(events):
            session.add(MailEvent(org_id=message.org_id, notification_id=message.id, dedupe_key=f"{message.id}:{i}",
                                  event=name, occurred_at=at, received_at=at, raw={"email": message.recipient_email}))
            values = {"delivery_status": DeliveryStatus(name), "delivery_status_at": at}
            if name == "delivered":
                values["delivered_at"] = at
            session.execute(update(Notification).where(Notification.id == message.id).values(**values))


# --- when -----------------------------------------------------------------------------------------


def test_nothing_happens_at_179_days_and_the_candidate_is_anonymised_at_180(org, rt, tick):
    told = rejected_and_told(org, tick)
    report = tick(at=told + 179 * DAY)
    assert report.anonymized == 0
    assert candidate(rt).email == EMAIL and candidate(rt).erased_at is None
    report = tick(by=DAY)
    assert report.anonymized == 1
    assert "candidates anonymised 1" in report.summary()
    erased = candidate(rt)
    assert erased.erased_at == told + 180 * DAY and erased.erasure_reason == "retention"
    assert (erased.name, erased.email, erased.locale, erased.timezone) == (None, None, None, None)
    assert tick(by=DAY).anonymized == 0  # once


def test_delivery_counts_from_the_delivered_event_not_from_sending(org, rt, tick):
    told = rejected_and_told(org, tick)
    delivered = told + 3 * DAY  # deferred for three days, then delivered
    deliver(rt, "rejection", ("processed", told), ("deferred", told + DAY), ("delivered", delivered))
    assert tick(at=told + 180 * DAY).anonymized == 0
    assert tick(at=delivered + 180 * DAY - timedelta(minutes=1)).anonymized == 0
    assert tick(by=timedelta(minutes=1)).anonymized == 1


def test_an_undelivered_decision_counts_from_the_last_delivery_event(org, rt, tick):
    told = rejected_and_told(org, tick)
    bounced = told + 2 * DAY
    deliver(rt, "rejection", ("processed", told), ("deferred", told + DAY), ("bounce", bounced))
    assert tick(at=told + 181 * DAY).anonymized == 0  # the recruiter was asked to call: keep it a full period
    assert tick(at=bounced + 180 * DAY).anonymized == 1


def test_hired_and_withdrawn_count_from_the_status_change(org, rt, tick):
    org.post(interview_done(START), interview_done(START, app="a-2", candidate="c-2", email="c-2@example.com",
                                                    name="Grace", interview="i-2"))
    tick()
    decided = START + 2 * DAY
    tick(at=decided)
    org.post(event("application.hired", decided), event("application.withdrawn", decided, app="a-2",
                                                          candidate="c-2", email="c-2@example.com", name="Grace"))
    assert tick(at=decided + 180 * DAY - timedelta(seconds=1)).anonymized == 0
    assert tick(by=timedelta(seconds=1)).anonymized == 2
    assert candidate(rt, "c-1").erased_at and candidate(rt, "c-2").erased_at


def test_rejected_before_any_interview_counts_from_the_rejection(org, rt, tick):
    org.post(event("application.created", START))
    org.post(event("application.rejected", START + DAY, ats_notification="none"))
    tick()
    assert notifications(rt.db) == []  # not interviewed: the ATS handles that rejection
    assert tick(at=START + DAY + 180 * DAY).anonymized == 1


def test_history_imported_from_the_ats_is_kept_for_the_period_after_we_heard_of_it(org, rt, tick):
    decided_long_ago = START - 3000 * DAY  # an ATS poll or replay bringing in an old decision
    org.post(event("application.created", decided_long_ago - DAY),
             event("application.rejected", decided_long_ago, ats_notification="sent"))
    assert tick().anonymized == 0
    assert tick(at=START + 179 * DAY).anonymized == 0
    assert tick(at=START + 180 * DAY).anonymized == 1


# --- who is never touched -------------------------------------------------------------------------


def test_someone_with_an_active_application_is_never_anonymised(org, rt, tick, clock):
    rejected_and_told(org, tick)
    org.post(event("application.created", REJECTED_AT, app="a-2", job="j-2"))  # still in the running elsewhere
    assert tick(by=400 * DAY).anonymized == 0
    assert candidate(rt).email == EMAIL
    withdrawn = clock.now()
    org.post(event("application.withdrawn", withdrawn, app="a-2", job="j-2"))
    assert tick(at=withdrawn + 179 * DAY).anonymized == 0  # their last decision is the withdrawal
    assert tick(at=withdrawn + 180 * DAY).anonymized == 1


def test_a_decision_still_waiting_to_go_out_keeps_the_candidate(org, rt, tick):
    org.post(interview_done(START))
    tick()
    tick(at=REJECTED_AT)
    held = REJECTED_AT + 200 * DAY  # the ATS holds its rejection notice (notify_not_before)
    org.post(event("application.rejected", REJECTED_AT, ats_notification="none", notify_not_before=held.isoformat()))
    # Rejected long enough ago, but its cycle is open and its notice has not gone out.
    assert retention.anonymize_due(rt.db, REJECTED_AT + 190 * DAY, 180).candidates == 0
    assert candidate(rt).email == EMAIL


def test_an_open_obligation_or_an_unsent_message_alone_keeps_the_candidate(org, rt, tick):
    told = rejected_and_told(org, tick)
    later = told + 365 * DAY
    # States the ledger does not leave behind for a rejected application; retention must not rely on that.
    with rt.db.session() as session:
        session.execute(text("UPDATE obligations SET state = 'open' WHERE cycle = 1"))
    assert retention.anonymize_due(rt.db, later, 180).candidates == 0
    with rt.db.session() as session:
        session.execute(text("UPDATE obligations SET state = 'discharged' WHERE cycle = 1"))
        session.execute(update(Notification).where(Notification.kind == "next_steps")
                        .values(state=NotificationState.QUEUED))
    assert retention.anonymize_due(rt.db, later, 180).candidates == 0
    with rt.db.session() as session:
        session.execute(update(Notification).where(Notification.kind == "next_steps")
                        .values(state=NotificationState.SENT))
    assert retention.anonymize_due(rt.db, later, 180).candidates == 1


def test_only_the_candidate_whose_period_ended_is_touched(org, rt, tick):
    told = rejected_and_told(org, tick)
    later = told + 100 * DAY
    tick(at=later)
    org.post(interview_done(later, app="a-2", candidate="c-2", name="Grace", interview="i-2"))
    tick()
    assert tick(at=told + 180 * DAY).anonymized == 1
    assert candidate(rt, "c-1").erased_at is not None
    other = candidate(rt, "c-2")
    assert other.erased_at is None and other.email == "c-2@example.com"


# --- what it does ---------------------------------------------------------------------------------


def test_anonymisation_keeps_every_timestamp_and_removes_the_content(org, rt, tick):
    told = rejected_and_told(org, tick)
    deliver(rt, "rejection", ("delivered", told + timedelta(minutes=2)))
    before = {n.id: (n.kind, n.state, n.scheduled_for, n.sent_at, n.delivered_at) for n in notifications(rt.db)}
    tick(at=told + 181 * DAY)
    after = notifications(rt.db)
    assert {n.id: (n.kind, n.state, n.scheduled_for, n.sent_at, n.delivered_at) for n in after} == before
    assert all(n.subject is None and n.body_text is None and n.body_html is None and n.recipient_email is None
               for n in after)
    with rt.db.session() as session:
        [mail_event] = session.scalars(select(MailEvent)).all()
        assert mail_event.raw is None and mail_event.occurred_at == told + timedelta(minutes=2)
        erased = session.scalars(select(AuditEntry).where(AuditEntry.action == "erased")).all()
    assert [(e.actor, e.after) for e in erased] == [("retention", {"reason": "retention"})]


def test_proof_after_anonymisation_has_the_times_and_no_personal_data(org, rt, tick):
    told = rejected_and_told(org, tick)
    deliver(rt, "rejection", ("processed", told), ("delivered", told + timedelta(minutes=2)))
    before = org.get("/api/v1/applications/a-1/proof")
    subjects = [m["subject"] for m in before["messages"] if m["subject"]]
    assert subjects and NAME in json.dumps(before)
    tick(at=told + timedelta(minutes=2) + 180 * DAY)

    after = org.get("/api/v1/applications/a-1/proof")
    assert [(m["kind"], m["scheduled_for"], m["sent_at"], m["delivered_at"], [e["occurred_at"] for e in m["events"]])
            for m in after["messages"]] == [
        (m["kind"], m["scheduled_for"], m["sent_at"], m["delivered_at"], [e["occurred_at"] for e in m["events"]])
        for m in before["messages"]]
    assert [(o["due_at"], o["discharged_at"], o["met"]) for o in after["obligations"]] == [
        (o["due_at"], o["discharged_at"], o["met"]) for o in before["obligations"]]
    assert after["application"]["candidate"]["erasure_reason"] == "retention"
    html = org.client.get("/api/v1/applications/a-1/proof?format=html", headers=org.headers).get_data(as_text=True)
    assert "2026-11-04 15:02:00 UTC" in html  # delivered
    for document in (json.dumps(after), html):
        assert "Ada" not in document and "Lovelace" not in document and EMAIL not in document
        assert "alan@acme.example" not in document  # internal messages named the candidate too
        for subject in subjects:
            assert subject not in document
    assert all(m[part] is None for m in after["messages"] for part in ("subject", "body_text", "body_html"))


def test_unknown_sender_replies_are_scrubbed_after_the_period(org, rt, tick):
    old_at, new_at = START, START + 100 * DAY
    with rt.db.session() as session:
        for at, state in ((old_at, ReplyState.UNKNOWN_SENDER), (new_at, ReplyState.UNKNOWN_SENDER),
                          (old_at, ReplyState.MATCHED)):
            session.add(CandidateReply(org_id=org.id, state=state, received_at=at, from_email="who@else.example",
                                       from_name="Someone", subject="Re: hello", text="Is this about my job?",
                                       message_id=f"<{at.timestamp()}-{state}@else.example>"))
    report = tick(at=old_at + 180 * DAY)
    assert report.replies_anonymized == 1 and report.anonymized == 0
    with rt.db.session() as session:
        replies = session.scalars(select(CandidateReply).order_by(CandidateReply.id)).all()
    old, new, matched = replies
    assert (old.state, old.from_email, old.from_name, old.subject, old.text) == (ReplyState.ERASED, None, None, None,
                                                                                 None)
    assert old.received_at == old_at
    assert new.state is ReplyState.UNKNOWN_SENDER and new.from_email == "who@else.example"
    assert matched.state is ReplyState.MATCHED and matched.text  # a candidate's reply goes with the candidate
    assert tick(at=new_at + 180 * DAY).replies_anonymized == 1


def test_retention_days_comes_from_the_environment(org, rt, tick):
    assert Settings.from_env({}).retention_days == 180
    assert Settings.from_env({"GHOSTLESS_RETENTION_DAYS": "30"}).retention_days == 30
    told = rejected_and_told(org, tick)
    rt.settings = rt.settings.with_overrides(retention_days=Settings.from_env(
        {"GHOSTLESS_RETENTION_DAYS": "30"}).retention_days)
    assert tick(at=told + 29 * DAY).anonymized == 0
    assert tick(at=told + 30 * DAY).anonymized == 1


# --- the command ----------------------------------------------------------------------------------


@pytest.fixture
def cli(rt, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """`ghostless ...` against the test database (the test's frozen clock is the process clock)."""
    for name in list(os.environ):
        if name.startswith("GHOSTLESS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GHOSTLESS_INSTANCE_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("GHOSTLESS_DATABASE_URL", rt.db.url)
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        result = runner.invoke(main, list(args), catch_exceptions=False)
        runtime_module.install(rt)  # the command installed (and closed) its own runtime
        return result

    return invoke


def test_retention_run_dry_run_counts_and_changes_nothing(org, rt, tick, clock, cli):
    told = rejected_and_told(org, tick)
    clock.set(told + 200 * DAY)
    result = cli("retention", "run", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Would anonymise 1 candidate and 0 unknown-sender replies (retention period: 180 days).",
        "Dry run: nothing was changed."]
    assert candidate(rt).email == EMAIL and candidate(rt).erased_at is None
    assert all(n.body_text for n in sent(rt.db))
    result = cli("retention", "run")
    assert result.exit_code == 0, result.output
    assert result.output == "Anonymised 1 candidate and 0 unknown-sender replies (retention period: 180 days).\n"
    assert candidate(rt).erased_at == told + 200 * DAY
    assert cli("retention", "run").output.startswith("Anonymised 0 candidates")


def test_retention_run_reads_ghostless_retention_days(org, rt, tick, clock, cli, monkeypatch):
    told = rejected_and_told(org, tick)
    clock.set(told + 31 * DAY)
    assert cli("retention", "run").output.startswith("Anonymised 0 candidates")
    monkeypatch.setenv("GHOSTLESS_RETENTION_DAYS", "30")
    result = cli("retention", "run", "--dry-run")
    assert result.output.startswith("Would anonymise 1 candidate and") and "30 days" in result.output
    assert cli("retention", "run").output.startswith("Anonymised 1 candidate and")
    monkeypatch.setenv("GHOSTLESS_RETENTION_DAYS", "thirty")
    bad = cli("retention", "run")
    assert bad.exit_code == 1 and "GHOSTLESS_RETENTION_DAYS must be a whole number" in bad.output


# --- several sweepers -----------------------------------------------------------------------------


@pytest.mark.postgres_only
def test_a_candidate_another_sweeper_holds_is_skipped_not_waited_for(org, rt, tick):
    if rt.db.is_sqlite:
        pytest.skip("needs PostgreSQL (FOR UPDATE SKIP LOCKED)")
    told = rejected_and_told(org, tick)
    rejected_and_told(org, tick, app="a-2", who="c-2", job="j-2")
    now = told + 181 * DAY
    holder = rt.db.sessionmaker()
    try:
        holder.execute(text("SELECT id FROM candidates WHERE external_id = 'c-1' FOR UPDATE"))
        done: list[int] = []
        worker = threading.Thread(target=lambda: done.append(retention.anonymize_due(rt.db, now, 180).candidates))
        worker.start()
        worker.join(timeout=20)
        assert not worker.is_alive(), "retention waited for a locked candidate"
        assert done == [1]
        assert candidate(rt, "c-1").erased_at is None and candidate(rt, "c-2").erased_at is not None
    finally:
        holder.rollback()
        holder.close()
    assert retention.anonymize_due(rt.db, now, 180).candidates == 1
    assert candidate(rt, "c-1").erased_at is not None


def test_many_candidates_are_anonymised_in_batches(org, rt, tick):
    org.post(*[event("application.created", START, app=f"a-{i}", candidate=f"c-{i}", email=f"c-{i}@example.com")
               for i in range(25)])
    org.post(*[event("application.withdrawn", START + DAY, app=f"a-{i}", candidate=f"c-{i}",
                     email=f"c-{i}@example.com") for i in range(25)])
    org.post(event("application.created", START + DAY, app="a-keep", candidate="c-3", email="c-3@example.com",
                   job="j-2"))
    report = retention.anonymize_due(rt.db, START + 200 * DAY, 180, batch=4)
    assert report.candidates == 24
    with rt.db.session() as session:
        left = session.scalars(select(Candidate.external_id).where(Candidate.erased_at.is_(None))).all()
    assert left == ["c-3"]
