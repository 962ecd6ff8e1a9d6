"""Mail providers: the .eml outbox and SendGrid (real client against the local stand-in)."""

from __future__ import annotations

import email.policy
import json
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.parser import BytesParser
from pathlib import Path

import pytest
from sendgrid_standin import SendGridStandIn, validate_mail_send_body

from plugin.mail.base import (
    Address,
    BulkMessage,
    BulkRecipient,
    MailProvider,
    OutgoingMessage,
    PermanentMailError,
    TransientMailError,
    UncertainMailError,
)
from plugin.mail.outbox import OutboxProvider, read_outbox
from plugin.mail.sendgrid import SendGridProvider

FIXED_NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
HOSTILE = "Eve\r\nBcc: attacker@evil.example"


def make_message(**overrides: object) -> OutgoingMessage:
    fields: dict[str, object] = dict(
        notification_id=42,
        kind="status_update",
        sender=Address("jobs@acme.example", "Acme Hiring"),
        to=Address("jose@example.org", "José Müller"),
        subject="Your application at Acme",
        text="Hello José,\nthere is news about your application.\n",
        html="<p>Hello José,</p><p>there is news about your application.</p>",
        reply_to=Address("recruiter@acme.example", "Rita Recruiter"),
        headers={"X-Ghostless-Autopilot": "yes"},
    )
    fields.update(overrides)
    return OutgoingMessage(**fields)  # type: ignore[arg-type]


# --- fixtures (the lead may move these into conftest.py) -------------------------------------


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxProvider:
    return OutboxProvider(tmp_path / "outbox", now=lambda: FIXED_NOW)


def post_raw(standin: SendGridStandIn, body: bytes, auth: str | None = "Bearer SG.test") -> tuple[int, dict]:
    """POST straight to the stand-in, bypassing our provider."""
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    request = urllib.request.Request(
        standin.url + "/v3/mail/send", data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, {}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


# --- outbox ----------------------------------------------------------------------------------


def test_providers_satisfy_protocol(outbox: OutboxProvider) -> None:
    assert isinstance(outbox, MailProvider)
    assert isinstance(SendGridProvider(api_key="SG.x", host="http://127.0.0.1:9"), MailProvider)


def test_outbox_writes_parseable_eml_with_both_parts(outbox: OutboxProvider) -> None:
    result = outbox.send(make_message())

    files = sorted(outbox.directory.glob("*"))
    assert [f.name for f in files] == ["00000042-status_update.eml"]
    (mail,) = read_outbox(outbox.directory)
    assert result.provider_message_id == "<ghostless-42@acme.example>"
    assert mail["Message-ID"] == result.provider_message_id
    assert mail.get_content_type() == "multipart/alternative"
    assert mail["Subject"] == "Your application at Acme"
    assert mail["X-Ghostless-Kind"] == "status_update"
    assert mail["X-Ghostless-Notification-Id"] == "42"
    assert mail["X-Ghostless-Autopilot"] == "yes"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and "news about your application" in text.get_content()
    assert html is not None and "<p>Hello José,</p>" in html.get_content()


def test_outbox_encodes_non_ascii_display_names(outbox: OutboxProvider) -> None:
    outbox.send(make_message(sender=Address("jobs@acme.example", "Acme, Hiring Team")))
    raw = next(outbox.directory.glob("*.eml")).read_bytes()
    raw.decode("ascii")  # 7-bit clean: names RFC 2047 encoded, bodies quoted-printable
    assert b"Jos\xc3\xa9" not in raw
    (mail,) = read_outbox(outbox.directory)
    (to,) = mail["To"].addresses
    assert (to.display_name, to.addr_spec) == ("José Müller", "jose@example.org")
    (sender,) = mail["From"].addresses  # the comma did not split it into two addresses
    assert (sender.display_name, sender.addr_spec) == ("Acme, Hiring Team", "jobs@acme.example")
    (reply_to,) = mail["Reply-To"].addresses
    assert reply_to.addr_spec == "recruiter@acme.example"


def test_outbox_date_comes_from_injected_clock(tmp_path: Path) -> None:
    berlin = timezone(timedelta(hours=1))
    provider = OutboxProvider(tmp_path, now=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=berlin))
    provider.send(make_message())
    (mail,) = read_outbox(tmp_path)
    assert mail["Date"].datetime == datetime(2026, 1, 2, 3, 4, 5, tzinfo=berlin)


def test_outbox_rejects_naive_clock(tmp_path: Path) -> None:
    provider = OutboxProvider(tmp_path, now=lambda: datetime(2026, 1, 2, 3, 4, 5))
    with pytest.raises(ValueError):
        provider.send(make_message())


def test_outbox_is_idempotent(outbox: OutboxProvider) -> None:
    first = outbox.send(make_message())
    path = next(outbox.directory.glob("*.eml"))
    before = path.read_bytes()
    second = outbox.send(make_message(subject="A different subject"))
    assert second == first
    assert [p.name for p in outbox.directory.iterdir()] == [path.name]  # no temp files left
    assert path.read_bytes() == before


def test_outbox_creates_directory_and_sorts(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "outbox"
    provider = OutboxProvider(directory, now=lambda: FIXED_NOW)
    for nid in (10, 2, 7):
        provider.send(make_message(notification_id=nid))
    assert [m["X-Ghostless-Notification-Id"] for m in read_outbox(directory)] == ["2", "7", "10"]
    assert read_outbox(tmp_path / "missing") == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "Hello\r\nBcc: attacker@evil.example"},
        {"to": Address("jose@example.org", HOSTILE)},
        {"sender": Address("jobs@acme.example", HOSTILE)},
        {"reply_to": Address("recruiter@acme.example", HOSTILE)},
        {"headers": {"X-Ghostless-Autopilot": "yes\nBcc: attacker@evil.example"}},
        {"subject": "Hello\nBcc: attacker@evil.example\n\nfake body"},
    ],
)
def test_outbox_header_injection_is_impossible(outbox: OutboxProvider, overrides: dict) -> None:
    outbox.send(make_message(**overrides))
    raw = next(outbox.directory.glob("*.eml")).read_bytes()
    (mail,) = read_outbox(outbox.directory)
    assert mail["Bcc"] is None
    assert b"\nBcc:" not in raw and b"\rBcc:" not in raw
    assert "evil" not in " ".join(mail.keys()).lower()
    assert mail.get_content_type() == "multipart/alternative"  # body not displaced


def test_invalid_messages_are_permanent_errors(outbox: OutboxProvider) -> None:
    bad = [
        make_message(to=Address("jose@example.org\r\nBcc: x@y.example")),
        make_message(to=Address("not-an-address")),
        make_message(kind="../../etc/passwd"),
        make_message(headers={"Bcc": "x@y.example"}),
        make_message(headers={"X-Bad Name": "v"}),
        make_message(subject="\r\n"),
    ]
    for message in bad:
        with pytest.raises(PermanentMailError):
            outbox.send(message)
    assert read_outbox(outbox.directory) == []


# Subjects every parser must read back exactly. Python's folder (policy.SMTP, 78 columns) broke each:
# the first two went whole to a continuation line or were folded (a leading space for policy.default,
# CRLF kept by compat32), the German one mixed encoded and plain words around a fold (a doubled space,
# or a lost one), the last would be decoded as an RFC 2047 word by any parser.
SUBJECTS = [
    "Thank you for interviewing with us for Backend Engineer: what happens next",
    "Reminder: update Ada Lovelace (Backend Engineer) by Mon 16 Nov 2026, 17:00 EST, then the hiring manager",
    "Erinnerung: Jürgen Müller-Lüdenscheidt (Backend Engineer) braucht bis Mo., 16. Nov. 2026, 17:00 GMT eine "
    "Rückmeldung",
    "Escalation: José Álvarez-Núñez (Backend Engineer), deadline Mon 16 Nov 2026, 17:00 GMT",
    "Après votre entretien pour le poste «\u00a0Backend Engineer\u00a0» : merci, et la suite",
    "面接のお礼と今後の流れ：バックエンドエンジニア（東京）についてのご連絡です。ご確認ください。",
    "A" * 120 + " " + "b" * 79,  # words longer than a line: the longest subject render.py lets through
    "Ü" * 200,
    "Update for =?utf-8?q?Ada?= (Backend Engineer)",
]


@pytest.mark.parametrize("subject", SUBJECTS, ids=lambda s: s[:24])
def test_outbox_subject_reads_back_exactly_under_every_parser(outbox: OutboxProvider, subject: str) -> None:
    outbox.send(make_message(subject=subject))
    raw = next(outbox.directory.glob("*.eml")).read_bytes()
    assert BytesParser(policy=email.policy.default).parsebytes(raw)["Subject"] == subject
    legacy = BytesParser(policy=email.policy.compat32).parsebytes(raw)["Subject"]
    assert str(make_header(decode_header(legacy))) == subject
    assert read_outbox(outbox.directory)[0]["Subject"] == subject

    head = raw.split(b"\r\n\r\n")[0]
    assert head.isascii()
    lines = head.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998  # RFC 5322 2.1.1
    for line in lines:  # RFC 2047 2: encoded-words at most 75 characters, their lines at most 76
        if b"=?" in line:
            assert len(line) <= 76, line
            assert all(len(word) <= 75 for word in re.findall(rb"=\?[^?]+\?[QqBb]\?[^?]*\?=", line)), line


@pytest.mark.parametrize("subject", SUBJECTS, ids=lambda s: s[:24])
def test_sendgrid_passes_the_subject_through_unchanged(subject: str) -> None:
    provider = SendGridProvider(api_key="SG.x", host="http://127.0.0.1:9")
    assert provider.build_request_body(make_message(subject=subject))["subject"] == subject
    bulk = BulkMessage(kind="job_closed", sender=Address("jobs@acme.example", "Acme Hiring"), subject=subject,
                       text="Hello", html="<p>Hello</p>",
                       recipients=[BulkRecipient(notification_id=7, to=Address("jose@example.org", "José"))])
    assert provider.build_bulk_request_body(bulk)["subject"] == subject


# --- SendGrid: request body ------------------------------------------------------------------


def test_sendgrid_body_matches_contract_and_carries_tracking_fields() -> None:
    provider = SendGridProvider(api_key="SG.x", host="http://127.0.0.1:9")
    body = provider.build_request_body(make_message(to=Address("jose@example.org", HOSTILE)))
    assert validate_mail_send_body(body) == []
    assert body["categories"] == ["status_update"]
    assert body["custom_args"] == {"notification_id": "42", "kind": "status_update"}
    assert body["headers"] == {
        "X-Ghostless-Kind": "status_update",
        "X-Ghostless-Notification-Id": "42",
        "X-Ghostless-Autopilot": "yes",
    }
    assert body["personalizations"][0]["to"] == [
        {"email": "jose@example.org", "name": "Eve Bcc: attacker@evil.example"}
    ]
    assert body["reply_to"] == {"email": "recruiter@acme.example", "name": "Rita Recruiter"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]


def test_sendgrid_recipient_name_without_comma_or_semicolon() -> None:
    provider = SendGridProvider(api_key="SG.x", host="http://127.0.0.1:9")
    body = provider.build_request_body(make_message(to=Address("jose@example.org", "Müller, José; Jr")))
    assert body["personalizations"][0]["to"][0]["name"] == "Müller José Jr"
    assert validate_mail_send_body(body) == []


# --- SendGrid: real client against the stand-in ----------------------------------------------


def test_sendgrid_send_returns_message_id(sendgrid_standin: SendGridStandIn) -> None:
    provider = SendGridProvider(api_key="SG.test-key", host=sendgrid_standin.url, timeout=5)
    result = provider.send(make_message())

    assert result.provider_message_id is not None and len(result.provider_message_id) == 22
    assert sendgrid_standin.contract_violations == []
    ((headers, body),) = sendgrid_standin.requests
    assert headers["Authorization"] == "Bearer SG.test-key"
    assert body["categories"] == ["status_update"]
    assert body["custom_args"]["notification_id"] == "42"
    assert body["custom_args"]["kind"] == "status_update"
    assert body["headers"]["X-Ghostless-Kind"] == "status_update"
    assert body["personalizations"][0]["to"][0] == {"email": "jose@example.org", "name": "José Müller"}


def test_sendgrid_429_is_transient_with_retry_at(sendgrid_standin: SendGridStandIn) -> None:
    sendgrid_standin.fail_next(429, headers={"X-RateLimit-Reset": "1795000000"})
    provider = SendGridProvider(api_key="SG.t", host=sendgrid_standin.url, timeout=5)
    with pytest.raises(TransientMailError) as info:
        provider.send(make_message())
    assert info.value.retry_at == datetime.fromtimestamp(1795000000, tz=UTC)
    assert "too many requests" in str(info.value)
    # The injected failure is consumed; the next send goes through.
    assert provider.send(make_message()).provider_message_id
    assert sendgrid_standin.contract_violations == []


def test_sendgrid_429_without_reset_has_no_retry_at(sendgrid_standin: SendGridStandIn) -> None:
    sendgrid_standin.fail_next(429)
    provider = SendGridProvider(api_key="SG.t", host=sendgrid_standin.url, timeout=5)
    with pytest.raises(TransientMailError) as info:
        provider.send(make_message())
    assert info.value.retry_at is None


@pytest.mark.parametrize("status", [500, 503])
def test_sendgrid_5xx_is_transient(sendgrid_standin: SendGridStandIn, status: int) -> None:
    sendgrid_standin.fail_next(status)
    provider = SendGridProvider(api_key="SG.t", host=sendgrid_standin.url, timeout=5)
    with pytest.raises(TransientMailError):
        provider.send(make_message())


def test_sendgrid_timeout_after_the_request_went_out_is_uncertain(sendgrid_standin: SendGridStandIn) -> None:
    """SendGrid has the request and may accept it: not a transient error to retry blindly."""
    sendgrid_standin.delay_next(2.0)
    provider = SendGridProvider(api_key="SG.t", host=sendgrid_standin.url, timeout=0.5)
    started = datetime.now(UTC)
    with pytest.raises(UncertainMailError):
        provider.send(make_message())
    assert datetime.now(UTC) - started < timedelta(seconds=1.8)  # the timeout, not the delay


def test_sendgrid_connection_refused_is_transient(sendgrid_standin: SendGridStandIn) -> None:
    url = sendgrid_standin.url
    sendgrid_standin.close()  # nothing listens on that port any more
    provider = SendGridProvider(api_key="SG.t", host=url, timeout=2)
    with pytest.raises(TransientMailError):
        provider.send(make_message())


def test_sendgrid_400_is_permanent_with_sendgrid_message(sendgrid_standin: SendGridStandIn) -> None:
    sendgrid_standin.fail_next(400, message="The from address does not match a verified Sender Identity.")
    provider = SendGridProvider(api_key="SG.t", host=sendgrid_standin.url, timeout=5)
    with pytest.raises(PermanentMailError) as info:
        provider.send(make_message())
    assert "does not match a verified Sender Identity" in str(info.value)
    assert not isinstance(info.value, TransientMailError)


def test_sendgrid_wrong_api_key_is_permanent(sendgrid_standin: SendGridStandIn) -> None:
    sendgrid_standin.api_key = "SG.the-right-key"
    provider = SendGridProvider(api_key="SG.revoked", host=sendgrid_standin.url, timeout=5)
    with pytest.raises(PermanentMailError) as info:
        provider.send(make_message())
    assert "authorization grant is invalid" in str(info.value)
    assert sendgrid_standin.contract_violations == []


def test_sendgrid_empty_api_key_is_refused_up_front() -> None:
    # Otherwise the client falls back to $SENDGRID_API_KEY or sends "Bearer None".
    with pytest.raises(ValueError):
        SendGridProvider(api_key=" ", host="http://127.0.0.1:9")


# --- the stand-in really validates -----------------------------------------------------------


def _valid_body() -> dict:
    provider = SendGridProvider(api_key="SG.x", host="http://127.0.0.1:9")
    return provider.build_request_body(make_message())


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["custom_args"].update(notification_id=42), "custom_args.notification_id"),
        (lambda b: b.pop("from"), None),
        (lambda b: b.update(subject=""), "subject"),
        (lambda b: b["personalizations"][0]["to"].append(dict(b["personalizations"][0]["to"][0])),
         "personalizations.0.to.1.email"),
        (lambda b: b["personalizations"][0].update(
            to=[{"email": f"c{i}@example.org"} for i in range(1001)]), "personalizations"),
        (lambda b: b["headers"].update(From="x@y.example"), "headers.From"),
        (lambda b: b.update(categories=["a"] * 2), "categories"),
        (lambda b: b["personalizations"][0]["to"][0].update(name="Müller, José"),
         "personalizations.0.to.0.name"),
    ],
)
def test_standin_rejects_invalid_bodies(sendgrid_standin: SendGridStandIn, mutate, field) -> None:
    body = _valid_body()
    mutate(body)
    status, answer = post_raw(sendgrid_standin, json.dumps(body).encode())
    assert status == 400
    assert answer["errors"] and all(set(e) == {"message", "field", "help"} for e in answer["errors"])
    if field is not None:
        assert field in [e["field"] for e in answer["errors"]]
    assert sendgrid_standin.contract_violations  # recorded for the test that caused it


def test_standin_accepts_valid_body_and_requires_bearer(sendgrid_standin: SendGridStandIn) -> None:
    assert post_raw(sendgrid_standin, json.dumps(_valid_body()).encode())[0] == 202
    assert sendgrid_standin.contract_violations == []
    status, answer = post_raw(sendgrid_standin, json.dumps(_valid_body()).encode(), auth=None)
    assert status == 401 and answer["errors"][0]["field"] is None
    assert len(sendgrid_standin.contract_violations) == 1
    assert len(sendgrid_standin.requests) == 2
