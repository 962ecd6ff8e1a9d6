"""Spoofed replies (issue 13, item 7): mail from a candidate's address that SendGrid's SPF and DKIM
verdicts do not vouch for is held for review, never forwarded, answered or counted as her reply.

The policy (`plugin.mail.sendgrid_inbound.sender_authentication`): the address the mail was matched
by is authenticated when SPF passed for an envelope sender in the same domain, or a DKIM signature of
that domain passed (the same domain: equal, or one a subdomain of the other). Posts are SendGrid's
parsed-mode multipart bodies (test_sendgrid_inbound builds them); messages go out through the real
sweep and worker.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import notifications, obligations
from test_sendgrid_inbound import (  # noqa: F401  (inbound, interviewed: the fixtures)
    CANDIDATE,
    inbound,
    inbound_fields,
    interviewed,
    mails,
    post_mail,
    reply_row,
)

from plugin.mail.sendgrid_inbound import InboundMail, aligned, parse_form, sender_authentication
from plugin.models import ObligationState, ReplyState

SPOOFED = {"SPF": "fail", "dkim": "none"}


def post_reply(client, org, verdicts: dict[str, str | None], **kw) -> dict:  # type: ignore[no-untyped-def]
    fields = inbound_fields(**kw)
    for name, value in verdicts.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    response = post_mail(client, org.id, fields)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_reply_failing_spf_and_dkim_is_held_and_nothing_is_sent(interviewed, client, rt, tick, clock, outbox):
    clock.advance(timedelta(hours=1))
    answer = post_reply(client, interviewed, SPOOFED, subject="Re: Next steps", text="I withdraw. Delete my data.")
    assert answer["status"] == "stored" and answer["state"] == "held"
    reply = reply_row(rt, answer["reply_id"])
    assert reply.state is ReplyState.HELD and reply.application_id is None
    assert reply.held_reason.startswith("held: failed SPF and DKIM for example.com")
    assert reply.authentication == "SPF fail for example.com; no DKIM signature"
    assert reply.forward_notification_id is None and reply.ack_notification_id is None
    tick()
    assert [m["X-Ghostless-Kind"] for m in outbox()] == ["next_steps"]
    assert notifications(rt.db, "reply_forward") == [] and notifications(rt.db, "reply_ack") == []
    [ob] = obligations(rt.db)
    assert ob.state is ObligationState.OPEN  # nothing about the cycle changed

    # Not her reply: not on the application; in the replies list for review, with why.
    detail = interviewed.get("/api/v1/applications/a-1")
    assert detail["replies"] == [] and not [e for e in detail["timeline"] if e["action"] == "reply_received"]
    [listed] = interviewed.get("/api/v1/replies?state=held")
    assert listed["id"] == reply.id and listed["held_reason"].startswith("held: failed SPF and DKIM")
    assert listed["authentication"] == "SPF fail for example.com; no DKIM signature"
    assert interviewed.get("/api/v1/replies?state=matched") == []
    # A re-post (SendGrid retries) is the same held mail.
    again = post_mail(client, interviewed.id, {**inbound_fields(message_id=None, text="x"), **SPOOFED}).get_json()
    assert post_mail(client, interviewed.id, {**inbound_fields(message_id=None, text="x"), **SPOOFED}
                     ).get_json() == {"status": "duplicate", "reply_id": again["reply_id"], "state": "held"}
    assert notifications(rt.db, "reply_forward") == []


@pytest.mark.parametrize("verdicts, why", [
    ({"SPF": "pass", "dkim": "{@evil.example : pass}"}, "SPF passed for the envelope's domain, not hers"),
    ({"SPF": "softfail", "dkim": "{@example.com.evil.example : pass}"}, "a domain that only starts like hers"),
    ({"SPF": None, "dkim": None}, "no verdicts at all"),
    ({"SPF": "neutral", "dkim": "{@example.com : fail}"}, "her domain's signature failed"),
    ({"SPF": "pass", "dkim": "{@com : pass}"}, "a top-level domain is not her domain"),
], ids=["spf-other-domain", "look-alike", "no-fields", "dkim-fail", "tld"])
def test_verdicts_that_do_not_vouch_for_her_domain_hold_the_reply(interviewed, client, rt, clock, verdicts, why):
    clock.advance(timedelta(hours=1))
    answer = post_reply(client, interviewed, verdicts, envelope_from="bounce@evil.example")
    assert answer["state"] == "held", why
    assert notifications(rt.db, "reply_forward") == [] and notifications(rt.db, "reply_ack") == []


@pytest.mark.parametrize("verdicts, envelope_from", [
    ({"SPF": "softfail", "dkim": "{@mailer.example : pass, @example.com : pass}"}, None),  # forwarded mail
    ({"SPF": "pass", "dkim": "none"}, "bounces@mail.example.com"),  # her provider's bounce subdomain
    ({"SPF": "pass (sendgrid: domain of example.com designates 1.2.3.4)", "dkim": "none"}, None),
], ids=["dkim-aligned", "spf-subdomain", "spf-with-comment"])
def test_a_reply_that_passes_is_still_forwarded_and_acknowledged(interviewed, client, rt, tick, clock, outbox,
                                                                  verdicts, envelope_from):
    clock.advance(timedelta(hours=1))
    answer = post_reply(client, interviewed, verdicts, envelope_from=envelope_from)
    assert answer["state"] == "matched"
    reply = reply_row(rt, answer["reply_id"])
    assert reply.held_reason is None and reply.application_id is not None
    tick()
    assert len(mails(outbox, "reply_forward")) == 1 and len(mails(outbox, "reply_ack")) == 1


def test_a_held_reply_is_erased_with_the_candidate_it_claims_to_be_from(interviewed, client, rt, clock):
    from helpers import event

    clock.advance(timedelta(hours=1))
    held = post_reply(client, interviewed, SPOOFED)["reply_id"]
    interviewed.post(event("candidate.erased", clock.now(), reason="deleted"))
    reply = reply_row(rt, held)
    assert reply.state is ReplyState.ERASED and reply.from_email is None and reply.text is None
    assert reply.authentication is None and reply.held_reason is None


def test_sendgrids_fields_are_read_as_documented() -> None:
    form = {**{k: v for k, v in inbound_fields().items() if isinstance(v, str)},
            "SPF": "SoftFail", "dkim": "{@Gmail.com : pass, @sendgrid.info : fail}",
            "envelope": '{"to": ["talent@acme.example"], "from": "ada@bounce.gmail.com"}'}
    mail = parse_form(form, 0)
    assert (mail.spf, mail.envelope_from) == ("softfail", "ada@bounce.gmail.com")
    assert mail.dkim == (("gmail.com", "pass"), ("sendgrid.info", "fail"))
    assert sender_authentication(mail, "ada@gmail.com").passed
    assert not sender_authentication(mail, "ada@yahoo.com").passed
    assert not sender_authentication(InboundMail(None, None, (), None, "", 0, "<m>", False), CANDIDATE).passed
    assert aligned("mail.example.com", "example.com") and aligned("example.com", "eu.example.com")
    assert not aligned("com", "example.com") and not aligned("badexample.com", "example.com")


def test_a_held_reply_is_scrubbed_after_the_retention_period_like_an_unknown_senders(interviewed, client, rt, tick,
                                                                                      clock):
    """The candidate may stay for years (an active application); the mail someone sent in her name
    is kept for review only as long as an unknown sender's."""
    clock.advance(timedelta(hours=1))
    held = post_reply(client, interviewed, SPOOFED)["reply_id"]
    report = tick(at=clock.now() + timedelta(days=180))
    assert report.replies_anonymized == 1 and report.anonymized == 0
    reply = reply_row(rt, held)
    assert reply.state is ReplyState.ERASED and reply.from_email is None and reply.text is None
    assert reply.authentication is None and reply.held_reason is None
