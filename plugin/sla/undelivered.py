"""Mail that did not reach the candidate: which cycle it leaves open, and who must be told.

`plugin.sla.messages` (`mark_failed`, `mark_undeliverable`, `mark_delivered_after_all`) decides
what happens; this module finds the applications the message spoke about, reopens the cycle that
sending it had discharged (closing the next cycle that discharge opened, resuming the reminder
ladder from the rungs still ahead), and keys the recruiter's delivery_failed message so that a
later `delivered` can cancel it. `address_undeliverable` tells the sweep and status updates not to
write to an address that bounced. `tell_lead_internal_undelivered` makes sure a person learns of a
reminder or escalation that could not reach a recruiter or hiring manager.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from plugin.audit import audit
from plugin.models import (
    Application,
    Candidate,
    DeliveryStatus,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    ObligationState,
    Organization,
    Rung,
)
from plugin.sla import deadlines, obligations
from plugin.sla.policy import policy_for

log = logging.getLogger(__name__)

UNDELIVERABLE = "undeliverable"  # audit action and breach reason
_FINAL_STATUSES = (DeliveryStatus.DELIVERED, DeliveryStatus.SPAMREPORT, DeliveryStatus.BOUNCE, DeliveryStatus.DROPPED)


def address_undeliverable(session: Session, candidate: Candidate) -> bool:
    """The last word on mail to the candidate's current address is a bounce or a drop.

    Autopilot then escalates to a person instead: writing to the same address would bounce again.
    """
    return candidate.id in undeliverable_addresses(session, [candidate])


def undeliverable_addresses(session: Session, candidates: Sequence[Candidate]) -> set[int]:
    """The ids of those `candidates` whose current address bounced last (`address_undeliverable`),
    in one query for the sweep's batch: each candidate's latest final delivery status to that address."""
    ids = [c.id for c in candidates if c.email]
    if not ids:
        return set()
    latest = select(
        Notification.candidate_id, Notification.delivery_status,
        func.row_number().over(partition_by=Notification.candidate_id,
                               order_by=(Notification.delivery_status_at.desc(), Notification.id.desc())).label("n"),
    ).join(Candidate, and_(Candidate.id == Notification.candidate_id, Candidate.org_id == Notification.org_id,
                           Candidate.email == Notification.recipient_email)).where(
        Notification.candidate_id.in_(ids), Notification.delivery_status.in_(_FINAL_STATUSES)).subquery()
    return {candidate_id for candidate_id, status in session.execute(
        select(latest.c.candidate_id, latest.c.delivery_status).where(latest.c.n == 1)) if status.undeliverable}


def failure_key(notification: Notification) -> str:
    """The dedupe key of the delivery_failed message about `notification` (suffixed per other
    application a closing notice told)."""
    return f"delivery_failed:n{notification.id}"


def applications_told(session: Session, notification: Notification) -> list[Application]:
    """The applications a message spoke about: a closing notice may cover several jobs."""
    primary = notification.application
    assert primary is not None
    if notification.kind is not NotificationKind.JOB_CLOSED:
        return [primary]
    ids = [int(i) for i in notification.context.get("application_ids", []) if int(i) != primary.id]
    others = session.scalars(
        select(Application).where(Application.org_id == notification.org_id, Application.id.in_(ids))
        .order_by(Application.id)
    ).all()
    return [primary, *others]


def reopen_cycle_it_discharged(
    session: Session, org: Organization, notification: Notification, app: Application, now: datetime, actor: str,
) -> Obligation | None:
    """Reopen the cycle of `app` that sending `notification` discharged, if it can still be reopened.

    It cannot when the application has moved on since (a newer interview or a reopen opened a cycle
    of its own): that newer cycle is then the one at risk. The cycle the discharge itself opened (a
    status update's next cycle) is closed, with its pending reminders, instead.
    """
    if notification.state is not NotificationState.SENT or notification.sent_at is None:
        return None
    if not notification.kind.discharges:
        return None
    by = notification.kind.value
    told = next((ob for ob in locked_obligations(session, Obligation.application_id == app.id,
                                                 Obligation.state == ObligationState.DISCHARGED,
                                                 Obligation.discharged_by == by)
                 if ob.discharged_at == notification.sent_at), None)
    if told is None:
        return None
    current = next(iter(locked_obligations(session, Obligation.application_id == app.id,
                                           Obligation.state == ObligationState.OPEN)), None)
    if current is not None:
        opened_by_it = (current.cycle == told.cycle + 1 and current.opened_by == by
                        and current.anchor_at == told.discharged_at)
        if not opened_by_it:
            return None
        obligations.close(current, reason=UNDELIVERABLE, now=now, actor=actor)
        session.flush()  # one open cycle per application: close the next one before reopening
    before = {"state": told.state.value, "discharged_by": told.discharged_by,
              "discharged_at": told.discharged_at.isoformat() if told.discharged_at else None}
    told.state, told.discharged_at, told.discharged_by = ObligationState.OPEN, None, None
    told.next_rung, told.next_action_at = _resume_ladder(org, told, now)
    audit(session, org.id, "obligation", told.id, "reopened", now, actor, before=before,
          after={"state": told.state.value, "reason": UNDELIVERABLE, "notification_id": notification.id})
    return told


def _resume_ladder(org: Organization, obligation: Obligation, now: datetime) -> tuple[Rung, datetime]:
    """The first rung still ahead. Rungs already past are not replayed (the recruiter is being told
    now); past the deadline, the breach is recorded at the next sweep."""
    app = obligation.application
    policy = policy_for(org, app.job)
    cals = obligations.calendars(org, app.candidate)
    for rung in deadlines.LADDER:
        at = deadlines.rung_time(rung, obligation.due_at, policy, cals)
        if at is not None and at > now:
            return rung, at
    return Rung.DEADLINE, now


def locked_obligations(session: Session, *where: Any) -> list[Obligation]:
    """Obligations read fresh and locked (PostgreSQL), so a sweeper acting on the same row either
    finishes first or skips it (it uses SKIP LOCKED): the version check then never fails here."""
    return list(session.scalars(
        select(Obligation).where(*where).order_by(Obligation.cycle.desc())
        .with_for_update().execution_options(populate_existing=True)
    ))


def tell_lead_internal_undelivered(session: Session, notification: Notification, reason: str, now: datetime,
                                   actor: str) -> Notification | None:
    """An internal message (a reminder, an escalation, a notice) reached nobody: tell the talent-ops lead.

    The person it was for does not know the candidate is waiting, and their address is probably wrong
    in the ATS, so every later reminder to them would be lost too. The organisation's escalation
    address is told once per failed message, with the address that failed, so someone fixes it. Not
    when the failed message was for that address itself, or was already such a notice: a notice about
    a failed notice to the same broken address would loop. Then the audit log and the error log hold it.
    """
    org = session.get(Organization, notification.org_id)
    lead = org.escalation_email if org is not None else None
    failed_to = (notification.recipient_email or "").strip()
    loops = (not lead or lead.strip().casefold() == failed_to.casefold()
             or bool(notification.context.get("failed_internal")))
    if org is None or notification.application is None or loops:
        log.error("%s message %s to %s was not delivered and nobody else can be told: %s",
                  notification.kind.value, notification.id, failed_to or "(no address)", reason)
        audit(session, notification.org_id, "notification", notification.id, "internal_undelivered", now, actor,
              after={"reason": reason, "told": None})
        return None
    obligation = session.get(Obligation, notification.obligation_id) if notification.obligation_id else None
    told = obligations.schedule(
        session, org, NotificationKind.DELIVERY_FAILED, app=notification.application, obligation=obligation,
        at=now, now=now, actor=actor, recipient=(None, lead), dedupe_key=failure_key(notification),
        context={"failed_notification_id": notification.id, "failed_kind": notification.kind.value,
                 "error": reason, "failed_internal": True,
                 "failed_recipient": _named_address(notification.recipient_name, failed_to)},
    )
    audit(session, org.id, "notification", notification.id, "internal_undelivered", now, actor,
          after={"reason": reason, "told": "escalation_email"})
    return told


def _named_address(name: str | None, email: str) -> str:
    return f"{name} <{email}>" if name else email
