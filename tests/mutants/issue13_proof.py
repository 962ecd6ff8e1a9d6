"""Issue 13, items 6 and 7 mutants: forged proof of delivery and spoofed replies.

Each entry is a plain text replacement (see run.py): `search` occurs exactly once in `file` and
becomes `replace`; the files in `tests` must then fail.
"""

from __future__ import annotations

PROOF = ["tests/api/test_proof_of_delivery.py"]
REPLIES = ["tests/api/test_spoofed_replies.py"]

MUTANTS = [
    {
        "name": "event-before-send-accepted",
        "why": "a delivered event timed before the message was sent becomes the proof-of-notice time",
        "file": "plugin/mail/sendgrid_events.py",
        "search": "if handed_over is not None and occurred_at < handed_over - CLOCK_SKEW:",
        "replace": "if False:",
        "tests": PROOF,
    },
    {
        "name": "clock-skew-raised",
        "why": "an event an hour before the send is taken for clock skew",
        "file": "plugin/mail/sendgrid_events.py",
        "search": "CLOCK_SKEW = timedelta(minutes=5)",
        "replace": "CLOCK_SKEW = timedelta(minutes=60)",
        "tests": PROOF,
    },
    {
        "name": "retry-window-raised",
        "why": "an event older than SendGrid ever retries is applied",
        "file": "plugin/mail/sendgrid_events.py",
        "search": "RETRY_WINDOW = timedelta(hours=24)",
        "replace": "RETRY_WINDOW = timedelta(hours=72)",
        "tests": PROOF,
    },
    {
        "name": "future-event-accepted",
        "why": "a bounce from the future undoes a delivery",
        "file": "plugin/mail/sendgrid_events.py",
        "search": "if occurred_at > now + CLOCK_SKEW:",
        "replace": "if False:",
        "tests": PROOF,
    },
    {
        "name": "refused-event-linked-to-its-message",
        "why": "a refused event is listed among the message's delivery events (and read by exports)",
        "file": "plugin/notify/delivery_events.py",
        "search": "notification_id=notification.id if notification and not refused else None,",
        "replace": "notification_id=notification.id if notification else None,",
        "tests": PROOF,
    },
    {
        "name": "key-set-after-send-not-flagged",
        "why": "the proof does not flag a delivery verified by a key set after the message was sent",
        "file": "plugin/reports/proof.py",
        "search": "    elif _key_set_after_sent(source, message):",
        "replace": "    elif False:",
        "tests": PROOF,
    },
    {
        "name": "key-provenance-not-recorded",
        "why": "who set the verification key, and when, is not kept for the proof",
        "file": "plugin/api/mail_settings.py",
        "search": "(now(), g.actor) if key else (None, None)",
        "replace": "(None, None)",
        "tests": PROOF,
    },
    {
        "name": "spoofed-reply-not-held",
        "why": "a reply failing SPF and DKIM is forwarded and answered",
        "file": "plugin/notify/replies.py",
        "search": "if app is not None and not verdict.passed:",
        "replace": "if False:",
        "tests": REPLIES,
    },
    {
        "name": "spf-alignment-dropped",
        "why": "SPF passing for the attacker's envelope domain vouches for the candidate's address",
        "file": "plugin/mail/sendgrid_inbound.py",
        "search": 'if mail.spf == "pass" and spf_domain is not None and aligned(spf_domain, sender):',
        "replace": 'if mail.spf == "pass":',
        "tests": REPLIES,
    },
    {
        "name": "dkim-alignment-dropped",
        "why": "any passing DKIM signature, of any domain, vouches for the candidate's address",
        "file": "plugin/mail/sendgrid_inbound.py",
        "search": 'any(verdict == "pass" and aligned(domain, sender) for domain, verdict in mail.dkim)',
        "replace": 'any(verdict == "pass" for domain, verdict in mail.dkim)',
        "tests": REPLIES,
    },
    {
        "name": "alignment-through-a-top-level-domain",
        "why": "a signature of 'com' vouches for every .com address",
        "file": "plugin/mail/sendgrid_inbound.py",
        "search": 'return "." in shorter and longer.endswith("." + shorter)',
        "replace": 'return longer.endswith("." + shorter)',
        "tests": REPLIES,
    },
    {
        "name": "held-reply-kept-past-retention",
        "why": "mail sent in a candidate's name stays as long as she does, past the review period",
        "file": "plugin/sla/retention.py",
        "search": "for_review = (ReplyState.UNKNOWN_SENDER, ReplyState.HELD)",
        "replace": "for_review = (ReplyState.UNKNOWN_SENDER,)",
        "tests": REPLIES,
    },
    {
        "name": "held-reply-on-the-timeline",
        "why": "a held reply stays on the application's timeline as the candidate's reply",
        "file": "plugin/notify/replies.py",
        "search": "reply.state, reply.application_id = ReplyState.HELD, None",
        "replace": "reply.state = ReplyState.HELD",
        "tests": REPLIES,
    },
]
