"""Hand committed notifications to the queue: one job per message, one bulk job per closing round,
all enqueued in one Redis pipeline."""

from __future__ import annotations

from typing import Sequence

from rq import Queue
from sqlalchemy import select

from plugin import runtime
from plugin.models import Notification, NotificationKind
from plugin.notify.bulk import send_closing_notices
from plugin.notify.jobs import send_notification


def dispatch(queue: Queue, ids: Sequence[int]) -> None:
    """Enqueue the jobs that send these notifications. Called only after the rows were committed
    as `queued`.

    Job closing notices go out in bulk (one SendGrid request per 1000 recipients): one
    `send_closing_notices` job per organisation, which claims whatever closing notices are queued.
    Everything else gets one job per notification.

    No fixed, unique RQ job id: a retry or a recovery must be able to enqueue again while an earlier
    job for the same row is still remembered by Redis (results and failures are kept for a while).
    A duplicate job is harmless, because every job claims its rows before sending.
    """
    if not ids:
        return
    with runtime.current().db.session() as session:
        rows = session.execute(
            select(Notification.id, Notification.kind, Notification.org_id).where(Notification.id.in_(ids))
        ).all()
    closing_orgs = sorted({org_id for _, kind, org_id in rows if kind is NotificationKind.JOB_CLOSED})
    jobs = [Queue.prepare_data(send_notification, (notification_id,),
                               description=f"send notification {notification_id}", timeout=120,
                               result_ttl=600, failure_ttl=7 * 24 * 3600)
            for notification_id, kind, _ in rows if kind is not NotificationKind.JOB_CLOSED]
    jobs += [Queue.prepare_data(send_closing_notices, (org_id,),
                                description=f"send closing notices of organisation {org_id}", timeout=1800,
                                result_ttl=600, failure_ttl=7 * 24 * 3600)
             for org_id in closing_orgs]
    # One Redis pipeline for the lot: a tick that hands over a thousand messages makes one round trip,
    # not a thousand.
    if jobs:
        queue.enqueue_many(jobs)
