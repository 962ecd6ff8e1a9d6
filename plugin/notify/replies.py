"""Candidates' replies: what a reply does once it arrived, and how people read it.

A mail that reached our Inbound Parse address (read by `plugin.mail.sendgrid_inbound`, posted to
`plugin.api.sendgrid_inbound`):
1. a re-post of a mail we already have (same Message-ID) changes nothing;
2. a known candidate's reply is stored on their application's timeline, forwarded to the recruiter
   (`reply_forward`, now) and, once per cycle while an obligation is open, acknowledged to the
   candidate (`reply_ack`, in their send window; it does not discharge the cycle);
3. mail from anyone else is stored as `unknown_sender` for review: not answered, not forwarded;
4. mail from a candidate's address that SendGrid's SPF and DKIM verdicts do not vouch for
   (`sendgrid_inbound.sender_authentication`) is `held` for review with its reason: never forwarded,
   never acknowledged, not on the application's timeline, so it is never the candidate's reply. It
   keeps the candidate it claims to be from (`candidate_id`), so erasing them removes it too.
Messages scheduled for "now" go out with the next sweep tick, like every other message.

`reply_excerpt` shortens a stored reply for lists, timelines and forwards.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.audit import audit
from plugin.mail.sendgrid_inbound import InboundMail, sender_authentication
from plugin.models import (
    Application,
    ApplicationStatus,
    Candidate,
    CandidateReply,
    Notification,
    NotificationKind,
    Obligation,
    ObligationState,
    Organization,
    ReplyState,
)
from plugin.notify.dates import human_instant
from plugin.sla import obligations
from plugin.sla.messages import internal_recipient
from plugin.sla.obligations import calendars
from plugin.sla.policy import calendar_for, policy_for

log = logging.getLogger(__name__)

ACTOR = "sendgrid-inbound"
EXCERPT_LENGTH = 200


def reply_excerpt(text: str | None) -> str | None:
    """The start of a reply on one line, for lists and timelines."""
    if not text:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_LENGTH else flat[:EXCERPT_LENGTH].rstrip() + "..."


# -- storing -----------------------------------------------------------------------------------------


def store_reply(session: Session, org: Organization, mail: InboundMail, now: datetime) -> tuple[CandidateReply, bool]:
    """Store the mail and act on it. Returns the reply and whether it was a re-post."""
    existing = session.scalars(select(CandidateReply).where(
        CandidateReply.org_id == org.id, CandidateReply.message_id == mail.message_id).limit(1)).first()
    if existing is not None:
        return existing, True
    found = find_application(session, org.id, mail.addresses)
    app, address = found if found else (None, None)
    verdict = sender_authentication(mail, address or mail.from_email)
    reply = CandidateReply(
        org_id=org.id, state=ReplyState.MATCHED if app else ReplyState.UNKNOWN_SENDER, received_at=now,
        candidate_id=app.candidate_id if app else None, application_id=app.id if app else None,
        from_email=mail.from_email, from_name=mail.from_name, subject=mail.subject, text=mail.text,
        attachments=mail.attachments, message_id=mail.message_id, authentication=verdict.summary[:500],
    )
    if app is not None and not verdict.passed:
        reply.state, reply.application_id = ReplyState.HELD, None
        reply.held_reason = f"held: {verdict.problem}"[:500]
    session.add(reply)
    session.flush()
    if reply.state is ReplyState.HELD:
        audit(session, org.id, "candidate_reply", reply.id, "held", now, ACTOR,
              after={"state": reply.state.value, "reason": reply.held_reason})
        log.warning("org %s: reply %s from a candidate's address held for review, not forwarded or answered: %s",
                    org.id, reply.id, reply.held_reason)
        return reply, False
    if app is None:
        audit(session, org.id, "candidate_reply", reply.id, "received", now, ACTOR,
              after={"state": reply.state.value})
        log.info("org %s: mail from an unknown sender stored for review as reply %s (not answered)",
                 org.id, reply.id)
        return reply, False
    forward = _forward(session, org, app, reply, now)
    ack, no_ack_reason = _acknowledge(session, org, app, mail, now)
    reply.forward_notification_id = forward.id if forward else None
    reply.ack_notification_id = ack.id if ack else None
    audit(session, org.id, "candidate_reply", reply.id, "received", now, ACTOR,
          after={"state": reply.state.value, "application_id": app.id,
                 "forward_notification_id": reply.forward_notification_id,
                 "ack_notification_id": reply.ack_notification_id, "not_acknowledged": no_ack_reason})
    return reply, False


def find_application(session: Session, org_id: str, addresses: tuple[str, ...]) -> tuple[Application, str] | None:
    """The application a mail from `addresses` is about and the address that matched, or None for
    an unknown sender.

    The first address that belongs to a (not erased) candidate of this organisation wins; among
    their applications, one with an open obligation (someone is waiting for news) comes first,
    then an active one, then the most recent.
    """
    for address in addresses:
        matches = session.scalars(select(Candidate).where(
            Candidate.org_id == org_id, func.lower(Candidate.email) == address.lower())).all()
        people = {c.id for c in (_survivor(session, m) for m in matches) if c.erased_at is None}
        if not people:
            continue
        apps = session.scalars(select(Application).where(Application.candidate_id.in_(people))).all()
        if not apps:
            continue
        waiting = set(session.scalars(select(Obligation.application_id).where(
            Obligation.application_id.in_([a.id for a in apps]), Obligation.state == ObligationState.OPEN)))
        return max(apps, key=lambda a: (a.id in waiting, a.status is ApplicationStatus.ACTIVE, _last_activity(a),
                                        a.id)), address
    return None


def _survivor(session: Session, candidate: Candidate) -> Candidate:
    """A candidate merged into another speaks for the one that survived the merge."""
    seen = {candidate.id}
    while candidate.merged_into_id is not None and candidate.merged_into_id not in seen:
        survivor = session.get(Candidate, candidate.merged_into_id)
        if survivor is None:
            break
        seen.add(survivor.id)
        candidate = survivor
    return candidate


def _last_activity(app: Application) -> datetime:
    return max(t for t in (app.created_at, app.status_changed_at, app.stage_changed_at,
                           app.first_interview_ended_at) if t is not None)


# -- acting on a matched reply -----------------------------------------------------------------------


def _forward(session: Session, org: Organization, app: Application, reply: CandidateReply,
             now: datetime) -> Notification | None:
    """Every reply reaches the recruiter, in or out of a cycle (one message per reply)."""
    sender = f"{reply.from_name} <{reply.from_email}>" if reply.from_name else (reply.from_email or "")
    received = human_instant(now, calendar_for(org).tz, org.locale)
    return obligations.schedule(
        session, org, NotificationKind.REPLY_FORWARD, at=now, now=now, app=app,
        obligation=obligations.open_obligation(app), actor=ACTOR,
        recipient=internal_recipient(org, app.job, NotificationKind.REPLY_FORWARD),
        dedupe_key=f"reply_forward:r{reply.id}",
        context={"reply_from": sender, "reply_subject": reply.subject or "", "reply_text": reply.text or "",
                 "reply_received_at_text": received, "reply_attachments": reply.attachments},
    )


def _acknowledge(session: Session, org: Organization, app: Application, mail: InboundMail,
                 now: datetime) -> tuple[Notification | None, str | None]:
    """Tell the candidate once per cycle that their message arrived and when they will hear from us.

    Not a discharge: an automatic receipt is not the employer telling them where things stand.
    After a decision there is no open cycle and nothing to promise, so the reply is only forwarded.
    """
    obligation = obligations.open_obligation(app)
    if obligation is None:
        return None, "no open cycle (a decision was made)"
    if mail.auto_submitted:
        return None, "automatic mail (out of office...)"
    if not app.candidate.email:
        return None, "no candidate email"
    at = calendars(org, app.candidate).candidate.next_window_opening(now, policy_for(org, app.job).send_window)
    try:
        with session.begin_nested():  # the dedupe index refuses a second one made at the same instant
            ack = obligations.schedule(
                session, org, NotificationKind.REPLY_ACK, at=at, now=now, app=app, obligation=obligation,
                actor=ACTOR, dedupe_key=f"reply_ack:o{obligation.id}",
            )
    except IntegrityError:
        ack = None
    return ack, None if ack else "already acknowledged in this cycle"
