"""Candidates' replies through SendGrid Inbound Parse: `POST /webhooks/sendgrid/inbound/<org>`.

Bodies are real multipart/form-data shaped like SendGrid's "parsed" posts (built by hand below, so
a test can put any bytes in a field); messages go out through the real sweep and worker (`tick`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import timedelta
from email.utils import parseaddr
from html import escape
from typing import Any

import pytest
from conftest import START, Org
from helpers import event, interview_done, notifications, obligations
from sqlalchemy import func, select, update

from plugin.api.sendgrid_inbound import INBOUND_MAX_BYTES
from plugin.mail.sendgrid_inbound import TEXT_LIMIT
from plugin.models import (
    Application,
    AuditEntry,
    CandidateReply,
    Notification,
    NotificationState,
    ObligationState,
    Organization,
    ReplyState,
)

SECRET = "inbound-test-secret-0123456789"
CANDIDATE = "c-1@example.com"
RECRUITER = "alan@acme.example"
SENDGRID_BOUNDARY = "xYzZY"


# --- building SendGrid-shaped posts ------------------------------------------------------------------


def multipart(fields: dict[str, str | bytes], files: list[tuple[str, str, str, bytes]] | None = None
              ) -> tuple[bytes, str]:
    """A multipart/form-data body like SendGrid's: plain field parts, then the attachment file parts."""
    parts = []
    for name, value in fields.items():
        data = value.encode() if isinstance(value, str) else value
        parts.append(f'--{SENDGRID_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                     + data + b"\r\n")
    for name, filename, content_type, data in files or []:
        parts.append(f'--{SENDGRID_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode() + data + b"\r\n")
    parts.append(f"--{SENDGRID_BOUNDARY}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={SENDGRID_BOUNDARY}"


def inbound_fields(from_: str = f"Ada Lovelace <{CANDIDATE}>", *, subject: str = "Re: Thank you for your interview",
                   text: str | bytes = "Thank you! When can I expect to hear back?", html: str | None = None,
                   message_id: str | None = "auto", extra_headers: str = "", envelope_from: str | None = None,
                   charsets: dict[str, str] | None = None, attachments: int = 0) -> dict[str, str | bytes]:
    """The fields of SendGrid's parsed-mode post for one mail."""
    message_id = f"<{uuid.uuid4().hex}@mail.example.com>" if message_id == "auto" else message_id
    headers = (f"Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Mon, 02 Nov 2026 15:00:00 +0000\n"
               f"Date: Mon, 2 Nov 2026 10:00:00 -0500\nFrom: {from_}\nTo: talent@acme.example\n"
               + (f"Message-ID: {message_id}\n" if message_id else "")
               + f"Subject: {subject}\nMIME-Version: 1.0\n{extra_headers}")
    shown = text.decode("latin-1") if isinstance(text, bytes) else text
    return {
        "headers": headers,
        "dkim": "{@example.com : pass}",
        "content-ids": "{}",
        "to": "talent@acme.example",
        "html": html if html is not None else f"<div dir=\"ltr\">{escape(shown)}</div>",
        "from": from_,
        "text": text,
        "sender_ip": "209.85.128.41",
        "spam_report": "Spam detection software, running on the system ...",
        "envelope": json.dumps({"to": ["talent@acme.example"], "from": envelope_from or parseaddr(from_)[1]}),
        "attachments": str(attachments),
        "subject": subject,
        "spam_score": "0.011",
        "charsets": json.dumps(charsets or {"to": "UTF-8", "html": "UTF-8", "subject": "UTF-8", "from": "UTF-8",
                                            "text": "UTF-8"}),
        "SPF": "pass",
    }


def basic(password: str, user: str = "ghostless") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def post_mail(client, org_id: str, fields: dict[str, str | bytes], *,  # type: ignore[no-untyped-def]
              files: list[tuple[str, str, str, bytes]] | None = None, headers: dict[str, str] | None = None):
    body, content_type = multipart(fields, files)
    return client.post(f"/webhooks/sendgrid/inbound/{org_id}", data=body, content_type=content_type,
                       headers=basic(SECRET) if headers is None else headers)


def reply_from(client, org: Org, expect_state: str = "matched", **kw: Any) -> int:  # type: ignore[no-untyped-def]
    response = post_mail(client, org.id, inbound_fields(**kw))
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["status"] == "stored" and answer["state"] == expect_state, answer
    return answer["reply_id"]


def set_secret(rt, org_id: str, secret: str = SECRET) -> None:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        session.execute(update(Organization).where(Organization.id == org_id).values(
            sendgrid_inbound_secret_hash=hashlib.sha256(secret.encode()).hexdigest()))


def replies(rt) -> list[CandidateReply]:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        return list(session.scalars(select(CandidateReply).order_by(CandidateReply.id)))


def reply_row(rt, reply_id: int) -> CandidateReply:  # type: ignore[no-untyped-def]
    with rt.db.session() as session:
        reply = session.get(CandidateReply, reply_id)
        assert reply is not None
        return reply


def mails(outbox, kind: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return [m for m in outbox() if m["X-Ghostless-Kind"] == kind]


def parts(mail) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()


@pytest.fixture
def inbound(org, rt):  # type: ignore[no-untyped-def]
    """The organisation with its Inbound Parse secret set."""
    set_secret(rt, org.id)
    return org


@pytest.fixture
def interviewed(inbound, tick, outbox):  # type: ignore[no-untyped-def]
    """Ada interviewed at START (Mon 09:00 New York) and got her thank-you: cycle 1 is open."""
    inbound.post(interview_done(START))
    tick()
    assert [m["X-Ghostless-Kind"] for m in outbox()] == ["next_steps"]
    return inbound


# --- a known candidate's reply ---------------------------------------------------------------------


def test_reply_from_known_candidate_is_on_timeline_forwarded_and_acknowledged(interviewed, client, rt, tick,
                                                                               clock, outbox):
    clock.advance(timedelta(hours=1))  # Mon 10:00 New York, inside the candidate's send window
    text = "Thank you!\n<b>When</b> will I hear back? Tom & Jerry say hi."
    reply_id = reply_from(client, interviewed, text=text, subject="Re: Next steps")
    reply = reply_row(rt, reply_id)
    assert reply.state is ReplyState.MATCHED and reply.from_email == CANDIDATE and reply.from_name == "Ada Lovelace"
    assert reply.subject == "Re: Next steps" and reply.text == text and reply.attachments == 0
    [forward] = notifications(rt.db, "reply_forward")
    [ack] = notifications(rt.db, "reply_ack")
    assert (reply.forward_notification_id, reply.ack_notification_id) == (forward.id, ack.id)
    assert forward.recipient_email == RECRUITER and forward.application_id == reply.application_id
    assert forward.context["reply_from"] == f"Ada Lovelace <{CANDIDATE}>"
    assert forward.context["reply_subject"] == "Re: Next steps" and forward.context["reply_text"] == text
    assert forward.context["reply_received_at_text"].endswith("10:00 EST")  # the organisation's time zone
    [ob] = obligations(rt.db)
    assert ack.obligation_id == ob.id and ack.dedupe_key == f"reply_ack:o{ob.id}"
    assert ack.scheduled_for == clock.now()  # inside the window: at once

    tick()
    [mail] = mails(outbox, "reply_forward")
    assert RECRUITER in str(mail["To"])
    plain, html = parts(mail)
    assert "When will I hear back?" in plain.replace("<b>", "").replace("</b>", "")
    assert "&lt;b&gt;When&lt;/b&gt;" in html and "<b>When</b>" not in html and "Tom &amp; Jerry" in html
    [acked] = mails(outbox, "reply_ack")
    assert CANDIDATE in str(acked["To"])
    # An automatic receipt is not news: the cycle stays open, its deadline unchanged.
    [still] = obligations(rt.db)
    assert still.state is ObligationState.OPEN and still.due_at == ob.due_at

    detail = interviewed.get("/api/v1/applications/a-1")
    assert detail["replies"] == [{"id": reply_id, "received_at": clock.now().isoformat(), "state": "matched",
                                  "subject": "Re: Next steps", "attachments": 0,
                                  "excerpt": "Thank you! <b>When</b> will I hear back? Tom & Jerry say hi."}]
    [entry] = [e for e in detail["timeline"] if e["action"] == "reply_received"]
    assert entry["entity"] == "candidate_reply" and entry["entity_id"] == str(reply_id)
    assert entry["after"]["subject"] == "Re: Next steps" and entry["after"]["state"] == "matched"
    assert entry["at"] == clock.now().isoformat()
    # Newest first, merged with the audit trail.
    ats = [e["at"] for e in detail["timeline"]]
    assert ats == sorted(ats, reverse=True)


def test_second_reply_in_a_cycle_is_forwarded_not_acknowledged_again_next_cycle_is(interviewed, client, rt, tick,
                                                                                    clock, outbox):
    clock.advance(timedelta(hours=1))
    first = reply_from(client, interviewed)
    tick(by=timedelta(minutes=5))
    second = reply_from(client, interviewed, subject="Re: Re: Thank you", text="One more thing.")
    assert reply_row(rt, first).ack_notification_id is not None
    assert reply_row(rt, second).ack_notification_id is None
    assert reply_row(rt, second).forward_notification_id is not None
    tick(by=timedelta(minutes=5))
    assert len(mails(outbox, "reply_forward")) == 2
    assert len(mails(outbox, "reply_ack")) == 1
    assert "One more thing." in parts(mails(outbox, "reply_forward")[1])[0]

    # The recruiter phoned her: cycle 1 is discharged, cycle 2 opens; her next reply is acknowledged.
    contacted = clock.now() + timedelta(hours=2)
    tick(at=contacted)
    interviewed.post(event("candidate.contacted", contacted, channel="phone"))
    first_cycle, second_cycle = obligations(rt.db)
    assert second_cycle.state is ObligationState.OPEN
    clock.advance(timedelta(minutes=30))
    third = reply_from(client, interviewed, subject="Re: our call", text="Thanks for the call.")
    tick()
    [_, ack2] = notifications(rt.db, "reply_ack")
    assert reply_row(rt, third).ack_notification_id == ack2.id and ack2.obligation_id == second_cycle.id
    assert len(mails(outbox, "reply_ack")) == 2
    assert len(mails(outbox, "reply_forward")) == 3


def test_acknowledgement_waits_for_the_candidates_send_window(interviewed, client, rt, tick, clock, outbox):
    evening = START + timedelta(hours=11)  # Mon 20:00 New York
    tick(at=evening)
    reply_id = reply_from(client, interviewed)
    [forward] = notifications(rt.db, "reply_forward")
    [ack] = notifications(rt.db, "reply_ack")
    # Both wait for Tue 09:00 New York: the candidate's window, and the recruiter's working hours.
    assert forward.scheduled_for == ack.scheduled_for == START + timedelta(days=1)
    tick()
    assert mails(outbox, "reply_forward") == [] and mails(outbox, "reply_ack") == []
    tick(at=START + timedelta(days=1))
    assert len(mails(outbox, "reply_forward")) == 1 and len(mails(outbox, "reply_ack")) == 1
    assert reply_row(rt, reply_id).ack_notification_id == ack.id


def test_out_of_office_reply_is_forwarded_never_answered(interviewed, client, rt, tick, clock, outbox):
    clock.advance(timedelta(hours=1))
    reply_id = reply_from(client, interviewed, subject="Automatic reply: Thank you for your interview",
                          extra_headers="Auto-Submitted: auto-replied\n")
    assert reply_row(rt, reply_id).ack_notification_id is None
    tick()
    assert len(mails(outbox, "reply_forward")) == 1 and mails(outbox, "reply_ack") == []


def test_reply_after_rejection_is_forwarded_not_acknowledged(interviewed, client, rt, tick, clock, outbox):
    rejected_at = clock.now() + timedelta(hours=1)
    tick(at=rejected_at)
    interviewed.post(event("application.rejected", rejected_at, reason="Another candidate", ats_notification="sent"))
    [ob] = obligations(rt.db)
    assert ob.state is ObligationState.DISCHARGED
    clock.advance(timedelta(hours=1))
    reply_id = reply_from(client, interviewed, subject="Re: Your application", text="Could I get feedback?")
    reply = reply_row(rt, reply_id)
    assert reply.state is ReplyState.MATCHED and reply.ack_notification_id is None
    assert reply.forward_notification_id is not None
    tick()
    assert mails(outbox, "reply_ack") == []
    [mail] = mails(outbox, "reply_forward")
    assert "Could I get feedback?" in parts(mail)[0]


def test_reply_after_rejection_schedules_a_forward_and_no_acknowledgement(interviewed, client, rt, tick, clock):
    rejected_at = clock.now() + timedelta(hours=1)
    tick(at=rejected_at)
    interviewed.post(event("application.rejected", rejected_at, reason="Another candidate", ats_notification="sent"))
    clock.advance(timedelta(hours=1))
    reply_id = reply_from(client, interviewed, text="Could I get feedback?")
    reply = reply_row(rt, reply_id)
    assert reply.ack_notification_id is None and notifications(rt.db, "reply_ack") == []
    [forward] = notifications(rt.db, "reply_forward")
    assert reply.forward_notification_id == forward.id and forward.recipient_email == RECRUITER
    with rt.db.session() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.entity == "candidate_reply")).one()
    assert audit.after["not_acknowledged"] == "no open cycle (a decision was made)"


def test_reply_picks_the_application_that_is_waiting(inbound, client, rt, tick, clock):
    """Two applications of one candidate: the one with an open cycle gets the reply, not the newer one."""
    inbound.post(interview_done(START, app="a-1", job="j-1"))
    tick()
    clock.advance(timedelta(hours=1))
    inbound.post(event("application.created", clock.now(), app="a-2", job="j-2"))
    reply_id = reply_from(client, inbound)
    with rt.db.session() as session:
        a1 = session.scalar(select(Application).where(Application.external_id == "a-1"))
    assert reply_row(rt, reply_id).application_id == a1.id


# --- unknown senders, matching -----------------------------------------------------------------------


def test_unknown_sender_is_stored_for_review_and_nothing_is_sent(interviewed, client, rt, tick, clock, outbox, caplog):
    clock.advance(timedelta(hours=1))
    caplog.set_level("INFO", logger="plugin.notify.replies")
    reply_id = reply_from(client, interviewed, expect_state="unknown_sender",
                          from_="Mallory <mallory@spam.example>", subject="Cheap pills")
    reply = reply_row(rt, reply_id)
    assert reply.candidate_id is None and reply.application_id is None
    assert reply.from_email == "mallory@spam.example" and reply.subject == "Cheap pills"
    assert reply.forward_notification_id is None and reply.ack_notification_id is None
    assert "unknown sender" in caplog.text
    tick()
    assert [m["X-Ghostless-Kind"] for m in outbox()] == ["next_steps"]
    assert notifications(rt.db, "reply_forward") == [] and notifications(rt.db, "reply_ack") == []


def test_sender_matching_is_case_insensitive_and_never_crosses_organisations(interviewed, client, rt, tick, clock):
    other = Org(rt, interviewed.client, name="Globex")
    set_secret(rt, other.id)
    clock.advance(timedelta(hours=1))
    # Ada is a candidate of Acme only: to Globex she is an unknown sender.
    response = post_mail(client, other.id, inbound_fields(from_="ADA <C-1@Example.COM>"))
    assert response.get_json()["state"] == "unknown_sender"
    acme_reply = reply_from(client, interviewed, from_="ADA <C-1@Example.COM>")
    # Globex interviews someone with the same address: each organisation sees only its own.
    other.post(interview_done(clock.now(), app="g-1", candidate="gc-1", email=CANDIDATE))
    globex_reply = reply_from(client, other, from_=f"<{CANDIDATE}>")
    with rt.db.session() as session:
        acme = session.get(CandidateReply, acme_reply)
        globex = session.get(CandidateReply, globex_reply)
        assert acme.org_id == interviewed.id and globex.org_id == other.id
        assert acme.application_id != globex.application_id
        forward = session.get(Notification, globex.forward_notification_id)
        assert forward.org_id == other.id and forward.application_id == globex.application_id


def test_envelope_sender_matches_when_the_from_header_does_not(interviewed, client, rt, clock):
    clock.advance(timedelta(hours=1))
    reply_id = reply_from(client, interviewed, from_="Ada via Mailing Tool <noreply@tool.example>",
                          envelope_from=CANDIDATE)
    reply = reply_row(rt, reply_id)
    assert reply.state is ReplyState.MATCHED and reply.from_email == "noreply@tool.example"


# --- authentication and bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {},
    basic("wrong-secret"),
    basic(""),
    {"Authorization": "Basic !!!not-base64"},
    {"Authorization": f"Bearer {SECRET}"},
], ids=["missing", "wrong", "empty", "malformed", "bearer"])
def test_missing_or_wrong_basic_auth_is_refused_and_nothing_stored(interviewed, client, rt, headers):
    before = len(notifications(rt.db))
    response = post_mail(client, interviewed.id, inbound_fields(), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="ghostless-inbound"'
    assert "inbound-secret" in response.get_json()["message"]
    assert replies(rt) == [] and len(notifications(rt.db)) == before


def test_username_is_ignored(interviewed, client, rt):
    response = post_mail(client, interviewed.id, inbound_fields(), headers=basic(SECRET, user="anything"))
    assert response.status_code == 200


def test_organisation_without_inbound_secret_is_refused(org, client, rt):
    response = post_mail(client, org.id, inbound_fields())
    assert response.status_code == 403
    assert "POST /api/v1/organization/mail/inbound-secret" in response.get_json()["message"]
    assert replies(rt) == []


def test_unknown_organisation_is_404(inbound, client, rt):
    response = post_mail(client, str(uuid.uuid4()), inbound_fields())
    assert response.status_code == 404 and "organisation" in response.get_json()["message"]
    assert replies(rt) == []


def test_not_multipart_or_without_from_is_400(inbound, client, rt):
    response = client.post(f"/webhooks/sendgrid/inbound/{inbound.id}", json={"from": CANDIDATE},
                           headers=basic(SECRET))
    assert response.status_code == 400 and "multipart/form-data" in response.get_json()["message"]
    fields = inbound_fields()
    del fields["from"]
    response = post_mail(client, inbound.id, fields)
    assert response.status_code == 400 and "'from'" in response.get_json()["message"]
    response = client.post(f"/webhooks/sendgrid/inbound/{inbound.id}", data=b"--x\r\n",
                           content_type="multipart/form-data", headers=basic(SECRET))  # no boundary
    assert response.status_code == 400
    assert replies(rt) == []


def test_body_over_the_limit_is_413_and_attachments_are_counted_never_kept(interviewed, client, rt, clock):
    response = client.post(f"/webhooks/sendgrid/inbound/{interviewed.id}", data=b"x" * (INBOUND_MAX_BYTES + 1),
                           content_type=f"multipart/form-data; boundary={SENDGRID_BOUNDARY}", headers=basic(SECRET))
    assert response.status_code == 413 and str(INBOUND_MAX_BYTES) in response.get_json()["message"]
    assert replies(rt) == []
    # 3 MB is over the app-wide 1 MB limit, and fine for a mail with a CV attached.
    cv = b"%PDF-1.7 " + b"\x00\xff" * (3 * 512 * 1024)
    clock.advance(timedelta(hours=1))
    response = post_mail(client, interviewed.id, inbound_fields(attachments=2),
                         files=[("attachment1", "cv.pdf", "application/pdf", cv),
                                ("attachment2", "photo.jpg", "image/jpeg", b"\xff\xd8\xff" + b"\x01" * 1000)])
    assert response.status_code == 200, response.get_json()
    [reply] = replies(rt)
    assert reply.attachments == 2 and "PDF" not in (reply.text or "")
    [forward] = notifications(rt.db, "reply_forward")
    assert forward.context["reply_attachments"] == 2


def test_repost_of_the_same_message_changes_nothing(interviewed, client, rt, clock):
    clock.advance(timedelta(hours=1))
    fields = inbound_fields(message_id="<CAF=abc123@mail.gmail.com>")
    first = post_mail(client, interviewed.id, fields).get_json()
    count = len(notifications(rt.db))
    again = post_mail(client, interviewed.id, fields)
    assert again.status_code == 200
    assert again.get_json() == {"status": "duplicate", "reply_id": first["reply_id"], "state": "matched"}
    assert len(replies(rt)) == 1 and len(notifications(rt.db)) == count
    # Without a Message-ID header, an identical re-post is still recognised.
    bare = inbound_fields(message_id=None, text="No message id here.")
    assert post_mail(client, interviewed.id, bare).get_json()["status"] == "stored"
    assert post_mail(client, interviewed.id, bare).get_json()["status"] == "duplicate"
    assert len(replies(rt)) == 2


# --- hostile input ----------------------------------------------------------------------------------


def test_hostile_sender_name_is_harmless(interviewed, client, rt, tick, clock, outbox):
    clock.advance(timedelta(hours=1))
    unknown = reply_from(client, interviewed, expect_state="unknown_sender",
                         from_='"<script>alert(1)</script>" <x@y>')
    assert reply_row(rt, unknown).from_name == "<script>alert(1)</script>"
    assert reply_row(rt, unknown).from_email == "x@y"
    hostile = f'"Ada\r\nBcc: evil@example.com <script>" <{CANDIDATE}>'
    reply_id = reply_from(client, interviewed, from_=hostile, subject="Hi\r\nBcc: evil@example.com",
                          text="<script>alert('x')</script>")
    reply = reply_row(rt, reply_id)
    assert reply.state is ReplyState.MATCHED
    assert "\r" not in reply.from_name and "\n" not in reply.from_name and "\n" not in reply.subject
    assert reply.subject == "Hi Bcc: evil@example.com"
    tick()
    for mail in outbox():
        assert mail["Bcc"] is None and mail["Cc"] is None
        assert "evil@example.com" not in str(mail["To"])
        assert "\n" not in str(mail["Subject"]).replace("\r\n ", " ").strip()
    [forward] = mails(outbox, "reply_forward")
    html = parts(forward)[1]
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_odd_charsets_huge_fields_and_nul_bytes_do_not_break_anything(interviewed, client, rt, clock):
    clock.advance(timedelta(hours=1))
    latin1 = post_mail(client, interviewed.id, inbound_fields(
        text="Grüße aus Köln".encode("iso-8859-1"), subject="Danke schön",
        charsets={"text": "iso-8859-1", "subject": "UTF-8", "from": "UTF-8"}))
    assert latin1.status_code == 200
    assert reply_row(rt, latin1.get_json()["reply_id"]).text == "Grüße aus Köln"
    klingon = post_mail(client, interviewed.id, inbound_fields(
        text="caf\xe9".encode("latin-1"), charsets={"text": "x-klingon", "subject": "base64"}))
    assert klingon.status_code == 200
    assert reply_row(rt, klingon.get_json()["reply_id"]).text == "caf\ufffd"
    huge = post_mail(client, interviewed.id, inbound_fields(
        subject="S" * 100_000, text="nul\x00byte " + "x" * 100_000, from_=f"{'N' * 1000} <{CANDIDATE}>"))
    assert huge.status_code == 200
    reply = reply_row(rt, huge.get_json()["reply_id"])
    assert len(reply.text) == TEXT_LIMIT and "\x00" not in reply.text and reply.text.startswith("nulbyte")
    assert len(reply.subject) == 1000 and reply.from_name == "N" * 200 and reply.state is ReplyState.MATCHED
    endless = post_mail(client, interviewed.id, inbound_fields(from_="N" * 1_000_000 + f" <{CANDIDATE}>"))
    assert endless.status_code == 200  # only the start of a field is read; the envelope still names her
    assert reply_row(rt, endless.get_json()["reply_id"]).from_email == CANDIDATE
    encoded = post_mail(client, interviewed.id, inbound_fields(
        from_=f"=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <{CANDIDATE}>", subject="=?iso-8859-1?q?Gr=FC=DFe?="))
    reply = reply_row(rt, encoded.get_json()["reply_id"])
    assert reply.from_name == "Jürgen Müller" and reply.subject == "Grüße"
    bad_json = post_mail(client, interviewed.id, {**inbound_fields(), "envelope": "{not json", "charsets": "[1,2]"})
    assert bad_json.status_code == 200


def test_html_only_reply_is_read_as_text(interviewed, client, rt, clock):
    clock.advance(timedelta(hours=1))
    reply_id = reply_from(client, interviewed, text="", html=(
        "<html><head><style>p{color:red}</style><script>evil()</script></head><body>"
        "<p>Hello&nbsp;Alan,</p><p>I am <b>still</b> interested &amp; available.</p></body></html>"))
    assert reply_row(rt, reply_id).text == "Hello Alan,\n\nI am still interested & available."


# --- the replies API ---------------------------------------------------------------------------------


def test_replies_api_lists_newest_first_filters_and_pages(interviewed, client, rt, clock):
    ids = []
    for n, sender in enumerate(["Ada <c-1@example.com>", "x <x@spam.example>", "y <y@spam.example>"]):
        clock.advance(timedelta(minutes=10))
        ids.append(post_mail(client, interviewed.id, inbound_fields(from_=sender, subject=f"s{n}"))
                   .get_json()["reply_id"])
    listed = interviewed.get("/api/v1/replies")
    assert [r["id"] for r in listed] == ids[::-1]
    assert listed[-1]["application_id"] == "a-1" and listed[-1]["candidate_id"] == "c-1"
    assert listed[0]["application_id"] is None and listed[0]["state"] == "unknown_sender"
    unknown = interviewed.get("/api/v1/replies?state=unknown_sender")
    assert [r["id"] for r in unknown] == [ids[2], ids[1]]
    assert [r["id"] for r in interviewed.get("/api/v1/replies?state=matched")] == [ids[0]]
    page = interviewed.get(f"/api/v1/replies?limit=1&before_id={ids[2]}")
    assert [r["id"] for r in page] == [ids[1]]
    refused = interviewed.get("/api/v1/replies?state=spam", expect=422)
    assert "unknown_sender" in refused["errors"]["query"]["state"][0]
    detail = interviewed.get(f"/api/v1/replies/{ids[0]}")
    assert detail["text"] == "Thank you! When can I expect to hear back?" and detail["message_id"].startswith("<")
    assert detail["forward_notification_id"] is not None


def test_replies_api_never_shows_another_organisations_reply(interviewed, client, rt, clock):
    clock.advance(timedelta(minutes=10))
    reply_id = reply_from(client, interviewed)
    other = Org(rt, interviewed.client, name="Globex")
    body = other.get(f"/api/v1/replies/{reply_id}", expect=404)
    assert "No reply" in body["message"]
    assert other.get("/api/v1/replies") == []
    assert client.get("/api/v1/replies").status_code == 401


def test_erased_candidates_replies_stay_on_the_timeline_without_content(interviewed, client, rt, clock):
    clock.advance(timedelta(minutes=10))
    reply_from(client, interviewed, subject="Private matter")
    interviewed.post(event("candidate.erased", clock.now(), reason="deleted"))
    detail = interviewed.get("/api/v1/applications/a-1")
    [entry] = [e for e in detail["timeline"] if e["action"] == "reply_received"]
    assert entry["after"] == {"subject": None, "excerpt": None, "state": "erased", "attachments": 0}
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(CandidateReply)
                              .where(CandidateReply.text.is_not(None))) == 0
    # A later mail from the same address is a stranger's now: stored for review, never answered.
    assert post_mail(client, interviewed.id, inbound_fields()).get_json()["state"] == "unknown_sender"
    assert [n.state for n in notifications(rt.db, "reply_ack")] == [NotificationState.CANCELLED]
