"""Erasure and retention leave no copy of a person's data anywhere Ghostless wrote one.

A realistic round for one candidate with distinctive values (name, address, phone, a free-text
rejection reason, a reply, a bounce whose reason quotes the address, Greenhouse deliveries, outbox
mail), then the candidate is erased: by a `candidate.erased` event through the API, or by retention.
Afterwards every text, JSON and binary column of every table (walked from `Base.metadata`, not a
hand-kept list), every file under the instance folder (the outbox is inside it) and every key of the
app's Redis database (RQ's job data and results decompressed) is searched for each value, in its
plain, lower-case, URL-encoded, JSON-escaped and quoted-printable forms. A find names the table and
column, the file, or the key.

One Greenhouse delivery naming the person is still waiting for its job when the erasure happens
(the API used to return its body); it is searched before and after the worker runs.
"""

from __future__ import annotations

import base64
import json
import quopri
import zlib
from collections.abc import Iterator
from datetime import timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from ats_support import connect, fixture_json
from conftest import START
from dashboard_support import add_user, sign_in
from helpers import event, interview_done, sent
from sqlalchemy import JSON, LargeBinary, String, Text, select, update
from test_sendgrid_events import Signer
from test_sendgrid_inbound import post_mail, set_secret

from plugin.ats.signing import hmac_sha256_hex
from plugin.db import Base
from plugin.models import AtsDelivery, Candidate, DeliveryState
from plugin.processes import run_worker, sweep_once
from plugin.sla import erasure

FIRST, LAST = "Zyxwvut", "Qqqerasetest"
NAME = f"{FIRST} {LAST}"
EMAIL = "zyx.erase@example.test"
PHONE = "+1-555-0199-7733"
REASON = "Qqqreasontest: the panel preferred deeper Kubernetes experience"
REPLY = "Xylophonequux: thanks for the interview, could you tell me more about the team?"
VALUES = (NAME, FIRST, LAST, EMAIL, PHONE, REASON.split(":")[0], REPLY.split(":")[0])

GH_SECRET = "gh-webhook-secret-erasure"
GH_CANDIDATE, GH_APPLICATION = "265788", "265293"
INBOUND_SECRET = "inbound-test-secret-0123456789"  # the one test_sendgrid_inbound's post_mail sends


# --- where to look ---------------------------------------------------------------------------------


def forms(value: str) -> set[str]:
    """The spellings a value can take once written down: as is, URL-encoded, JSON-escaped, QP."""
    spelled = {value, quote(value), quote_plus(value), json.dumps(value)[1:-1],
               quopri.encodestring(value.encode()).decode().rstrip("\n"),
               quopri.encodestring(value.encode(), header=True).decode()}
    return {s.lower() for s in spelled if s}


def finds(where: str, text: str) -> list[str]:
    lowered = text.lower()
    return [f"{where}: {value!r}" for value in VALUES if any(form in lowered for form in forms(value))]


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def searchable_columns() -> Iterator[tuple[Any, Any]]:
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, (String, Text, JSON, LargeBinary)):
                yield table, column


def database_finds(rt: Any) -> list[str]:
    found = []
    with rt.db.engine.connect() as conn:
        for table, column in searchable_columns():
            key = next(iter(table.primary_key.columns))
            for row_id, value in conn.execute(select(key, column).where(column.is_not(None))):
                found += finds(f"{table.name}.{column.name} (row {row_id})", as_text(value))
    return found


def eml_text(raw: bytes) -> str:
    """An .eml file's headers and parts, decoded (RFC 2047 words, quoted-printable, base64)."""
    message = BytesParser(policy=default_policy).parsebytes(raw)
    pieces = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if not part.is_multipart():
            pieces.append(str(part.get_content()))
    return "\n".join(pieces)


def file_finds(rt: Any) -> list[str]:
    found = []
    roots = (Path(rt.settings.instance_dir), Path(rt.settings.resolved_outbox_dir))
    paths = {p.resolve() for root in roots for p in root.rglob("*") if p.is_file()}
    if rt.db.engine.dialect.name == "sqlite":  # its file and log (in production, in the instance folder)
        database = Path(rt.db.engine.url.database)
        paths |= {p.resolve() for p in database.parent.glob(f"{database.name}*") if p.is_file()}
    for path in sorted(paths):
        raw = path.read_bytes()
        found += finds(str(path), raw.decode("utf-8", "replace"))
        if path.suffix == ".eml":
            found += finds(f"{path} (decoded)", eml_text(raw))
    return found


def redis_values(connection: Any, key: bytes) -> list[bytes]:
    kind = connection.type(key).decode()
    if kind == "string":
        return [connection.get(key) or b""]
    if kind == "hash":
        return [b for pair in connection.hgetall(key).items() for b in pair]
    if kind == "list":
        return list(connection.lrange(key, 0, -1))
    if kind == "set":
        return list(connection.smembers(key))
    if kind == "zset":
        return list(connection.zrange(key, 0, -1))
    if kind == "stream":
        return [b for _, fields in connection.xrange(key) for pair in fields.items() for b in pair]
    return []


def unpacked(value: bytes) -> str:
    """RQ stores job data zlib-compressed and results base64-encoded (both pickled): search what they
    hold, inflated and decoded, as well as the bytes themselves."""
    layers = [value]
    try:
        layers.append(base64.b64decode(value, validate=True))
    except ValueError:
        pass
    for layer in list(layers):
        try:
            layers.append(zlib.decompress(layer))
        except zlib.error:
            pass
    return "\n".join(layer.decode("utf-8", "replace") for layer in layers)


def redis_contents(rt: Any) -> Iterator[tuple[str, str]]:
    """(key, text) for every key of the app's Redis database and every value it holds."""
    for key in rt.redis.scan_iter(count=1000):
        name = key.decode("utf-8", "replace")
        yield name, name
        for value in redis_values(rt.redis, key):
            yield name, unpacked(value)


def redis_finds(rt: Any) -> list[str]:
    return [f for key, text in redis_contents(rt) for f in finds(f"redis key {key}", text)]


def everywhere(rt: Any) -> list[str]:
    return database_finds(rt) + file_finds(rt) + redis_finds(rt)


def assert_nothing_left(rt: Any) -> None:
    found = everywhere(rt)
    assert not found, f"{len(found)} copies of the erased person's data:\n" + "\n".join(found)


# --- the round -------------------------------------------------------------------------------------


def person(**extra: Any) -> dict[str, Any]:
    return {"candidate": GH_CANDIDATE, "name": NAME, "email": EMAIL, **extra}


def greenhouse_body(action: str, fixture: str) -> bytes:
    """A Greenhouse payload about the person (their Greenhouse ids, name, address and phone)."""
    body = fixture_json("greenhouse", fixture)
    application = body["payload"]["application"]
    application["id"] = int(GH_APPLICATION)
    candidate = application["candidate"]
    candidate.update(id=int(GH_CANDIDATE), first_name=FIRST, last_name=LAST,
                     phone_numbers=[{"value": PHONE, "type": "mobile"}],
                     email_addresses=[{"value": EMAIL, "type": "personal"}])
    body["action"] = action
    return json.dumps(body).encode()


def post_greenhouse(org: Any, connection: dict[str, Any], body: bytes, event_id: str) -> int:
    headers = {"Content-Type": "application/json", "Signature": f"sha256 {hmac_sha256_hex(GH_SECRET, body)}",
               "Greenhouse-Event-ID": event_id}
    response = org.client.post(connection["webhook_path"], data=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["delivery_id"]


def sendgrid_events(org: Any, signer: Signer, events: list[dict[str, Any]]) -> None:
    raw = json.dumps(events).encode()
    timestamp = str(int(START.timestamp()))
    response = org.client.post(f"/webhooks/sendgrid/events/{org.id}", data=raw, headers={
        "Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Signature": signer.sign(timestamp, raw),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp})
    assert response.status_code == 200, response.get_json()


def play_round(org: Any, rt: Any, tick: Any, clock: Any) -> dict[str, Any]:
    """Greenhouse says they applied; an interview, the thank-you, their reply, a bounce, a rejection."""
    connection = connect(org, "greenhouse", signing_secret=GH_SECRET)
    applied = post_greenhouse(org, connection, greenhouse_body("new_candidate_application",
                                                               "new_candidate_application.json"), "gh-1")
    tick()
    org.post(interview_done(START, app=GH_APPLICATION, **person()))
    tick()
    [next_steps] = sent(rt.db, "next_steps")
    assert next_steps.recipient_email == EMAIL

    clock.advance(timedelta(hours=1))
    set_secret(rt, org.id, INBOUND_SECRET)
    fields = {"from": f"{NAME} <{EMAIL}>", "to": "talent@acme.example", "subject": f"Re: {FIRST} here",
              "text": REPLY, "html": f"<p>{REPLY}</p>", "SPF": "pass", "dkim": "{@example.test : pass}",
              "envelope": json.dumps({"to": ["talent@acme.example"], "from": EMAIL}),
              "headers": f"From: {NAME} <{EMAIL}>\nTo: talent@acme.example\nSubject: Re: {FIRST} here\n"
                         f"Message-ID: <reply-1@example.test>\n", "charsets": json.dumps({"text": "UTF-8"})}
    answer = post_mail(org.client, org.id, fields)
    assert answer.status_code == 200, answer.get_json()
    tick()

    signer = Signer()
    response = org.client.patch("/api/v1/organization/mail", headers=org.headers,
                                json={"sendgrid_event_public_key": signer.public_b64})
    assert response.status_code == 200, response.get_json()
    bounced_at = clock.now()
    sendgrid_events(org, signer, [{
        "email": EMAIL, "timestamp": int(bounced_at.timestamp()), "event": "bounce", "type": "bounce",
        "status": "5.1.1", "sg_event_id": "sg-bounce-1", "sg_message_id": "msg-1.filter0001",
        "reason": f"550 5.1.1 <{EMAIL}>: Recipient address rejected: User unknown ({NAME})",
        "notification_id": str(next_steps.id), "kind": "next_steps"}])
    tick()

    rejected_at = clock.now() + timedelta(days=1)
    tick(at=rejected_at)
    org.post(event("application.rejected", rejected_at, app=GH_APPLICATION, reason=REASON,
                   ats_notification="none", **person()))
    tick()
    return {"connection": connection, "applied": applied}


def with_values_in_every_store(rt: Any) -> None:
    """The round must have written the values everywhere this test searches, or it proves nothing."""
    places = everywhere(rt)
    assert any(p.startswith("candidates.") for p in places), places
    # RQ's jobs are read, inflated: the send jobs' function and arguments (ids only) are there.
    assert any("send_notification" in text for key, text in redis_contents(rt) if key.startswith("rq:job:"))
    for where in ("notifications.delivery_detail", "mail_events.detail", "candidate_replies.text",
                  "ats_deliveries.body", "applications.rejection_reason", "audit_log.after", ".eml"):
        assert any(where in p for p in places), (where, places)


def delivery(rt: Any, delivery_id: int) -> AtsDelivery:
    with rt.db.session() as session:
        row = session.get(AtsDelivery, delivery_id)
        assert row is not None
        session.expunge(row)
        return row


# --- the tests -------------------------------------------------------------------------------------


def test_an_erasure_event_leaves_no_copy_anywhere(org, rt, tick, clock):
    played = play_round(org, rt, tick, clock)
    with_values_in_every_store(rt)
    # Greenhouse tells us about a rejection; its job has not run yet when the erasure arrives.
    pending = post_greenhouse(org, played["connection"], greenhouse_body("reject_candidate", "reject_candidate.json"),
                              "gh-2")
    assert delivery(rt, pending).state is DeliveryState.RECEIVED
    org.post(event("candidate.erased", clock.now(), candidate=GH_CANDIDATE, reason="deleted"))

    assert_nothing_left(rt)
    shown = org.get(f"/api/v1/deliveries/{pending}")
    assert shown["body"] == "" and shown["state"] != DeliveryState.RECEIVED.value  # never applied to anyone
    run_worker(rt, burst=True, simple=True)  # the delivery's job now runs, and finds nothing to do
    tick(by=timedelta(days=1))
    assert_nothing_left(rt)
    with rt.db.session() as session:
        erased = session.scalar(select(Candidate).where(Candidate.external_id == GH_CANDIDATE))
        assert erased is not None and erased.erased_at is not None


def test_retention_leaves_no_copy_anywhere(org, rt, tick, clock):
    play_round(org, rt, tick, clock)
    with_values_in_every_store(rt)
    later = clock.now() + timedelta(days=rt.settings.retention_days + 2)
    clock.set(later)
    report = sweep_once(rt, later)
    assert report.anonymized == 1
    assert_nothing_left(rt)
    run_worker(rt, burst=True, simple=True)
    assert_nothing_left(rt)


@pytest.mark.parametrize("value", VALUES)
def test_the_search_notices_each_value_in_each_form(value):
    for form in forms(value):
        assert finds("here", f"xx{form.upper()}yy"), form


def test_a_file_left_behind_is_never_shown_and_the_sweep_removes_it(org, rt, tick, clock):
    """A worker that was sending when the erasure committed writes its .eml afterwards."""
    org.post(interview_done(START, **person()))
    tick()
    [next_steps] = sent(rt.db, "next_steps")
    outbox = Path(rt.settings.resolved_outbox_dir)
    [written] = outbox.glob(f"{next_steps.id:08d}-*.eml")
    copy = written.read_bytes()
    org.post(event("candidate.erased", clock.now(), candidate=GH_CANDIDATE, reason="deleted"))
    assert not written.exists()
    written.write_bytes(copy)  # the late worker's file
    add_user(rt, org.id, "admin@acme.example")
    sign_in(org.client, "admin@acme.example")
    for path in (f"/dashboard/outbox/{next_steps.id}/message.eml", f"/dashboard/outbox/{next_steps.id}/html"):
        assert org.client.get(path).status_code == 404, path
    page = org.client.get(f"/dashboard/outbox/{next_steps.id}").get_data(as_text=True)
    assert FIRST not in page and EMAIL not in page
    assert tick().mail_files_removed == 1
    assert not written.exists()
    assert_nothing_left(rt)


def test_a_pending_poll_page_loses_only_the_erased_persons_records(org, rt, tick, clock):
    connection = connect(org, "greenhouse", signing_secret=GH_SECRET)
    other = {"id": 1, "candidate": {"first_name": "Grace", "last_name": "Hopper",
                                    "email_addresses": [{"value": "grace@example.com"}]}}
    theirs = {"id": 2, "candidate": {"first_name": FIRST, "last_name": LAST, "phone_numbers": [{"value": PHONE}]}}
    org.post(interview_done(START, **person()))
    with rt.db.session() as session:
        page = AtsDelivery(org_id=org.id, connection_id=connection["id"], provider="greenhouse", kind="poll",
                           delivery_key="poll:test", received_at=clock.now(), headers={}, state=DeliveryState.RECEIVED,
                           body=json.dumps({"records": [other, theirs]}).encode(), attempts=0)
        session.add(page)
        session.flush()
        page_id = page.id
    org.post(event("candidate.erased", clock.now(), candidate=GH_CANDIDATE, reason="deleted"))
    kept = delivery(rt, page_id)
    assert kept.state is DeliveryState.RECEIVED  # still applied, for everyone else
    assert json.loads(kept.body) == {"records": [other]}


def test_a_send_result_quoting_the_address_leaves_redis_with_the_erasure(org, rt, tick, clock):
    """RQ keeps a send job's result: a refused address is quoted in it ("failed: invalid ... address")."""
    org.post(interview_done(START, **person()))
    with rt.db.session() as session:  # an address the provider refuses (a control character in it)
        session.execute(update(Candidate).where(Candidate.external_id == GH_CANDIDATE).values(email=EMAIL + "\x01"))
    tick()
    assert any(EMAIL in text for _, text in redis_contents(rt))
    org.post(event("candidate.erased", clock.now(), candidate=GH_CANDIDATE, reason="deleted"))
    assert redis_finds(rt) == []
    assert_nothing_left(rt)


def test_what_quotes_a_person_is_redacted_and_nothing_else():
    traces = erasure.Traces()
    traces.add_name("Ann Lee")
    traces.add_email("ann.lee@example.test")
    traces.add_text("Too junior")
    pattern = traces.pattern()
    entry = {"reason": "SendGrid reported 550 <ANN.LEE@example.test>: unknown", "why": "mailbox ann.lee full",
             "note": "Dear  Ann", "cancelled": "the channel was closed", "kind": "rejection",
             "said": ["too junior for the role", 3, None]}
    assert erasure.redacted(entry, pattern) == {
        "reason": "[erased]", "why": "[erased]", "note": "[erased]", "cancelled": "the channel was closed",
        "kind": "rejection", "said": ["[erased]", 3, None]}
    assert erasure.redacted(entry, erasure.Traces().pattern()) == entry  # nothing known: nothing touched
