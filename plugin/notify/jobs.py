"""The RQ job that sends one notification, and the dispatcher that enqueues it.

`send_notification(id)` is safe to run twice and safe to die in:
1. claim: queued -> sending, a conditional update that must change exactly one row (a second run
   of the same job, or a duplicate enqueue, changes nothing and stops);
2. re-check the send window (a message whose window closed while it waited for a late sweeper or a
   busy worker goes back to wait for the next one), re-check current state (a reopened application
   cancels its rejection) and render, committed, so the stored content is exactly what was sent;
3. send through the provider, outside any transaction;
4. record the outcome: sent (and discharge the cycle), back to scheduled with a backoff on a
   transient error (429 waits for X-RateLimit-Reset), failed and escalated on a permanent one, or
   "unknown" when the provider took the request but never answered.
A worker that dies between 2 and 4 leaves the row "sending"; the sweeper marks it "unknown" rather
than risk sending twice (SendGrid has no idempotency key): the provider's events confirm or refute
it (plugin.sla.messages, "a message whose fate is unknown").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from plugin import clock, runtime
from plugin.audit import audit
from plugin.mail.base import PermanentMailError, TransientMailError, UncertainMailError
from plugin.models import Notification, NotificationState
from plugin.notify import compose
from plugin.notify.render import RenderedMessage, TemplateError
from plugin.sla import messages

log = logging.getLogger(__name__)
ACTOR = "worker"
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3))


def send_notification(notification_id: int) -> str:
    rt = runtime.current()
    now = clock.now()
    with rt.db.session() as session:
        claimed = session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.state == NotificationState.QUEUED)
            .values(state=NotificationState.SENDING, attempts=Notification.attempts + 1, queued_at=now)
        ).rowcount
    if claimed != 1:
        return "skipped: not queued (already handled)"

    with rt.db.session() as session:
        notification = session.get(Notification, notification_id)
        assert notification is not None
        outcome, _ = ready_to_send(session, notification, now)
        if outcome is not None:
            return outcome
        message = compose.outgoing(session, notification)
        attempts = notification.attempts

    try:
        result = rt.mail.send(message)
    except TransientMailError as exc:
        return retry_later(notification_id, exc, attempts)
    except PermanentMailError as exc:
        return fail(notification_id, str(exc))
    except UncertainMailError as exc:
        return fate_unknown(notification_id, str(exc))

    with rt.db.session() as session:
        notification = session.get(Notification, notification_id)
        assert notification is not None
        record_sent(session, notification, rt.mail.name, result.provider_message_id, clock.now())
    log.info("sent notification %s (%s) via %s", notification_id, message.kind, rt.mail.name)
    return "sent"


def ready_to_send(session: Session, notification: Notification,
                  now: datetime) -> tuple[str | None, compose.RenderInputs | None]:
    """Re-check current state, then render and store the content (committed by the caller before
    sending, so the stored content is exactly what was sent).

    (None, what it was rendered from): send it; (why not, None): it was cancelled or failed.
    """
    outcome = still_wanted(session, notification, now)
    if outcome is not None:
        return outcome, None
    try:
        rendered, inputs = compose.render_notification(session, notification, now)
    except TemplateError as exc:
        messages.mark_failed(session, notification, f"Template error: {exc}", now, ACTOR)
        return "failed: template", None
    store_content(session, notification, rendered, now)
    return None, inputs


def still_wanted(session: Session, notification: Notification, now: datetime) -> str | None:
    """The checks made right before rendering: None if it is to be sent now, else what was done
    instead (deferred to its window, cancelled, failed for want of an address)."""
    opening = messages.send_window_opening(session, notification, now)
    if opening > now:
        # The rules hold when a message is handed to the provider, not only when it was scheduled.
        notification.state, notification.scheduled_for = NotificationState.SCHEDULED, opening
        audit(session, notification.org_id, "notification", notification.id, "deferred", now, ACTOR,
              after={"reason": "outside the send window", "scheduled_for": opening.isoformat()})
        return f"deferred: outside the send window, until {opening.isoformat()}"
    messages.drop_stale_promise(session, notification, now, ACTOR)
    reason = messages.reason_not_to_send(session, notification, now)
    if reason is not None:
        notification.state, notification.cancelled_reason = NotificationState.CANCELLED, reason[:64]
        audit(session, notification.org_id, "notification", notification.id, "cancelled", now, ACTOR,
              after={"reason": reason})
        return f"cancelled: {reason}"
    _, email = compose.recipient(notification)
    if not email:
        messages.mark_failed(session, notification, "No email address for the recipient.", now, ACTOR)
        return "failed: no email address"
    return None


def store_content(session: Session, notification: Notification, rendered: RenderedMessage, now: datetime) -> None:
    """Store what is about to be sent, exactly (committed by the caller before sending)."""
    notification.subject, notification.body_text, notification.body_html = (
        rendered.subject, rendered.text, rendered.html)
    named = compose.named_date(session, notification, now)
    if named is not None:  # what it tells the candidate becomes a promise once sent (messages.on_sent)
        notification.context = {**notification.context, "named_date": named.isoformat()}
    notification.recipient_name, notification.recipient_email = compose.recipient(notification)


def record_sent(session: Session, notification: Notification, provider: str, message_id: str | None,
                sent_at: datetime) -> None:
    """The provider accepted the message: store its id (events are matched by it) and discharge."""
    notification.state, notification.sent_at = NotificationState.SENT, sent_at
    notification.provider, notification.provider_message_id = provider, message_id
    notification.last_error = None
    audit(session, notification.org_id, "notification", notification.id, "sent", sent_at, ACTOR,
          after={"provider": provider, "message_id": message_id})
    messages.on_sent(session, notification, sent_at, ACTOR)


def retry_later(notification_id: int, exc: TransientMailError, attempts: int) -> str:
    rt = runtime.current()
    now = clock.now()
    if attempts >= rt.settings.max_send_attempts:
        return fail(notification_id, f"Gave up after {attempts} attempts: {exc}")
    retry_at = exc.retry_at if exc.retry_at and exc.retry_at > now else now + backoff(attempts)
    with rt.db.session() as session:
        notification = session.get(Notification, notification_id)
        if notification is not None:
            retry_at = messages.send_window_opening(session, notification, retry_at)
        session.execute(
            update(Notification).where(Notification.id == notification_id,
                                       Notification.state == NotificationState.SENDING)
            .values(state=NotificationState.SCHEDULED, scheduled_for=retry_at, last_error=str(exc)[:2000])
        )
    log.warning("notification %s: transient failure (%s); retrying at %s", notification_id, exc, retry_at)
    return f"retry at {retry_at.isoformat()}"


def fate_unknown(notification_id: int, error: str) -> str:
    """The provider may have taken it: not retried until its events say (plugin.sla.messages)."""
    with runtime.current().db.session() as session:
        notification = session.get(Notification, notification_id)
        assert notification is not None
        messages.mark_unknown(session, notification, error, clock.now(), ACTOR)
    return f"unknown: {error}"


def fail(notification_id: int, error: str) -> str:
    rt = runtime.current()
    with rt.db.session() as session:
        notification = session.get(Notification, notification_id)
        assert notification is not None
        messages.mark_failed(session, notification, error, clock.now(), ACTOR)
    log.error("notification %s failed permanently: %s", notification_id, error)
    return f"failed: {error}"


def backoff(attempts: int) -> timedelta:
    return BACKOFF[min(attempts, len(BACKOFF)) - 1] if attempts > 0 else BACKOFF[0]
