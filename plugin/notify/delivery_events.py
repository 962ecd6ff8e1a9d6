"""SendGrid's delivery events applied to our notifications: stored once, delivery status moved.

Every event is stored once (`MailEvent`, deduplicated on `SendGridEvent.dedupe_key`) and moves its
notification's delivery status; a bounce or drop escalates, a later delivery undoes that. Events
are matched to notifications by the `notification_id` custom arg our provider puts on every
message, and only to notifications of the organisation the post was for. Unmatched events (other
mail of the same SendGrid account) are stored and otherwise ignored. A re-post changes nothing.

Every stored event keeps the fingerprint of the key that verified its post and who set that key
when, so the proof of notice can say what a delivery time rests on. An event whose time is
impossible (`sendgrid_events.timing_problem`: before its message was handed to SendGrid, older than
SendGrid's retry window, in the future) is stored as refused: linked to no message (so nothing that
reads a message's events counts it), without its raw body, its reason logged and audited on the
message it named.

The events arrive verified and parsed (`plugin.mail.sendgrid_events`); the route is
`plugin.api.sendgrid_events`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from plugin import clock
from plugin.audit import audit
from plugin.db import Database
from plugin.mail.sendgrid_events import SendGridEvent, VerifyingKey, timing_problem
from plugin.models import DeliveryStatus, MailEvent, Notification, NotificationState
from plugin.sla import messages

log = logging.getLogger(__name__)

ACTOR = "sendgrid"
ATTEMPTS = 3  # a concurrent sweeper or worker changed a row we read: read again and re-apply

DUPLICATE, UNMATCHED, APPLIED, REFUSED = "duplicate", "unmatched", "applied", "refused"


def record_with_retries(db: Database, org_id: str, events: list[SendGridEvent],
                        verified_by: VerifyingKey) -> dict[str, int] | None:
    """`record_events` in its own transaction, again from the start when a concurrent writer got in
    the way; None when every attempt conflicted (the caller asks SendGrid to retry the post)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with db.session() as session:
                return record_events(session, org_id, events, clock.now(), verified_by)
        except (StaleDataError, IntegrityError, OperationalError) as exc:
            log.warning("SendGrid events for organisation %s: conflict on attempt %d (%s)", org_id, attempt, exc)
    return None


def record_events(session: Session, org_id: str, events: list[SendGridEvent], now: datetime,
                  verified_by: VerifyingKey) -> dict[str, int]:
    """Store and apply every event; the counts SendGrid's delivery log will show."""
    outcomes = [record_event(session, org_id, event, now, verified_by) for event in events]
    return {"received": len(events), "stored": len(events) - outcomes.count(DUPLICATE),
            "duplicates": outcomes.count(DUPLICATE), "unmatched": outcomes.count(UNMATCHED),
            "refused": outcomes.count(REFUSED)}


def handed_over_at(notification: Notification) -> datetime:
    """When the message reached SendGrid at the earliest, by our clock: its send time; for a send
    whose answer was lost (no send time yet), when it was queued; else when it was created."""
    return notification.sent_at or notification.queued_at or notification.created_at


def record_event(session: Session, org_id: str, event: SendGridEvent, now: datetime,
                 verified_by: VerifyingKey) -> str:
    """Store one event unless seen before, and apply it to its notification (unless its time is
    impossible: then it is stored as refused and applied to nothing)."""
    seen = select(MailEvent.id).where(MailEvent.org_id == org_id, MailEvent.dedupe_key == event.dedupe_key)
    if session.scalar(seen) is not None:
        return DUPLICATE
    notification = None
    if event.notification_id is not None:
        notification = session.scalar(select(Notification).where(
            Notification.id == event.notification_id, Notification.org_id == org_id).with_for_update())
    refused = timing_problem(event.occurred_at, now=now,
                             handed_over=handed_over_at(notification) if notification else None)
    row = MailEvent(
        org_id=org_id, notification_id=notification.id if notification and not refused else None,
        dedupe_key=event.dedupe_key, sg_event_id=event.sg_event_id, sg_message_id=event.sg_message_id,
        event=event.event, occurred_at=event.occurred_at, received_at=now,
        detail=None if refused else event.detail, raw=None if refused else event.raw,
        key_fingerprint=verified_by.fingerprint, key_set_at=verified_by.set_at, key_set_by=verified_by.set_by,
        refused_reason=refused,
    )
    try:
        with session.begin_nested():  # a concurrent post of the same event may have inserted it first
            session.add(row)
            session.flush()
    except IntegrityError:
        return DUPLICATE
    if refused is not None:
        _refuse(session, org_id, notification, event, refused, now, verified_by)
        return REFUSED
    if notification is None:
        return UNMATCHED
    if notification.state is NotificationState.UNKNOWN:
        # Any event about a message means SendGrid accepted it: an uncertain send is confirmed.
        messages.confirm_sent(session, notification, at=event.occurred_at, provider="sendgrid",
                              provider_message_id=(event.sg_message_id or "").split(".")[0] or None, now=now,
                              actor=ACTOR, evidence=f"SendGrid event {event.event}")
    apply_status(session, notification, event, now)
    return APPLIED


def _refuse(session: Session, org_id: str, notification: Notification | None, event: SendGridEvent, why: str,
            now: datetime, verified_by: VerifyingKey) -> None:
    """Say why an event was not applied: in the log, and in the audit trail of the message it named
    (which the proof of notice lists). Neither quotes the event's body (it may name the recipient)."""
    log.warning("SendGrid %s event for organisation %s, notification %s refused: it %s (verified with key %s)",
                event.event, org_id, notification.id if notification else None, why, verified_by.fingerprint)
    if notification is not None:
        audit(session, org_id, "notification", notification.id, "delivery_event_refused", now, ACTOR,
              after={"event": event.event, "occurred_at": event.occurred_at.isoformat(), "reason": why,
                     "key_fingerprint": verified_by.fingerprint})


STATUS_OF = {
    "processed": DeliveryStatus.PROCESSED,
    "deferred": DeliveryStatus.DEFERRED,
    "delivered": DeliveryStatus.DELIVERED,
    "bounce": DeliveryStatus.BOUNCE,  # `type` says bounce or blocked; both mean it did not arrive
    "dropped": DeliveryStatus.DROPPED,
    "spamreport": DeliveryStatus.SPAMREPORT,
}
IN_FLIGHT = (DeliveryStatus.PROCESSED, DeliveryStatus.DEFERRED)
# On equal timestamps, the more telling status wins.
_TIE_ORDER = {DeliveryStatus.PROCESSED: 0, DeliveryStatus.DEFERRED: 1, DeliveryStatus.BOUNCE: 2,
              DeliveryStatus.DROPPED: 2, DeliveryStatus.DELIVERED: 3, DeliveryStatus.SPAMREPORT: 4}


def supersedes(new: DeliveryStatus, at: datetime, current: DeliveryStatus | None, current_at: datetime | None) -> bool:
    """Events arrive out of order. A message in flight (processed, deferred) never overrides an
    outcome (delivered, bounce, dropped, spamreport); otherwise the later event wins."""
    if current is None or current_at is None:
        return True
    if new in IN_FLIGHT and current not in IN_FLIGHT:
        return False
    if current in IN_FLIGHT and new not in IN_FLIGHT:
        return True
    if at != current_at:
        return at > current_at
    return _TIE_ORDER[new] > _TIE_ORDER[current]


def apply_status(session: Session, notification: Notification, event: SendGridEvent, now: datetime) -> None:
    """Move the notification's delivery status; a bounce or drop escalates, a later delivery undoes it."""
    status = STATUS_OF.get(event.event)
    if status is None:
        return  # open, click, unsubscribe...: stored as evidence, nothing to act on
    if status is DeliveryStatus.DELIVERED and (notification.delivered_at is None
                                               or event.occurred_at < notification.delivered_at):
        notification.delivered_at = event.occurred_at  # proof of notice: the earliest delivery
    before = notification.delivery_status
    if not supersedes(status, event.occurred_at, before, notification.delivery_status_at):
        return
    notification.delivery_status, notification.delivery_status_at = status, event.occurred_at
    notification.delivery_detail = event.detail
    was_undeliverable = before is not None and before.undeliverable
    if status.undeliverable and not was_undeliverable:
        messages.mark_undeliverable(session, notification, f"SendGrid reported {event.detail or status.value}",
                                    now, ACTOR)
    elif was_undeliverable and status in (DeliveryStatus.DELIVERED, DeliveryStatus.SPAMREPORT):
        messages.mark_delivered_after_all(session, notification, now, ACTOR)
