"""The proof-of-notice export (no Flask): every candidate-facing message that was sent, per job or
per period, with when it was delivered.

Germany (AGG §15(4)): a rejected applicant's two-month claim window starts when the rejection is
received, so the export shows SendGrid's `delivered` time next to the send time. Rows are read in
batches; the delivered times missing from a batch's rows come from one IN query over its mail
events, never one query per message. `visible` is the viewer's scope, as for the Ontario report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from plugin.models import (
    CANDIDATE_KINDS,
    Application,
    Candidate,
    DeliveryStatus,
    Job,
    MailEvent,
    Notification,
    NotificationState,
)
from plugin.reports.compliance import Filters, period_clauses
from plugin.reports.metrics import candidate_label
from plugin.reports.proof import KIND_LABELS

IN_CHUNK = 1000  # message ids per IN (...) list when the proof CSV looks up delivery events


@dataclass
class ProofRow:
    notification_id: int
    application_id: int
    candidate: str
    recipient: str | None
    job: str
    kind: str
    subject: str | None
    sent_at: datetime
    delivered_at: datetime | None
    delivery_status: str | None
    provider: str | None
    provider_message_id: str | None


class ProofExport:
    """Every candidate-facing message that was sent, per job or per period (sent_at)."""

    def __init__(self, session: Session, org_id: str, visible: ColumnElement[bool], zone: ZoneInfo,
                 filters: Filters) -> None:
        self.session, self.org_id, self.visible, self.zone, self.filters = session, org_id, visible, zone, filters

    def _query(self, *columns: Any) -> Select[Any]:
        query = (select(*columns).select_from(Notification)
                 .join(Application, Application.id == Notification.application_id)
                 .join(Job, Job.id == Application.job_id)
                 .where(Notification.org_id == self.org_id, self.visible,
                        Notification.kind.in_(CANDIDATE_KINDS), Notification.state == NotificationState.SENT,
                        Notification.sent_at.is_not(None),
                        *period_clauses(Notification.sent_at, self.filters, self.zone)))
        if self.filters.job is not None:
            query = query.where(Application.job_id == self.filters.job.id)
        return query

    def count(self) -> int:
        return int(self.session.scalar(self._query(func.count())) or 0)

    def rows(self, offset: int | None = None, limit: int | None = None) -> Iterator[ProofRow]:
        query = (self._query(Notification.id, Notification.application_id, Notification.recipient_email,
                             Notification.kind, Notification.subject, Notification.sent_at, Notification.delivered_at,
                             Notification.delivery_status, Notification.provider, Notification.provider_message_id,
                             Candidate.name, Candidate.erased_at, Job.title, Job.external_id)
                 .join(Candidate, Candidate.id == Application.candidate_id)
                 .order_by(Notification.sent_at.desc(), Notification.id.desc()))
        if limit is not None:
            query = query.offset(offset or 0).limit(limit)
        batch: list[Any] = []
        for record in self.session.execute(query):
            batch.append(record)
            if len(batch) == IN_CHUNK:
                yield from self._build(batch)
                batch = []
        if batch:
            yield from self._build(batch)

    def _build(self, records: list[Any]) -> Iterator[ProofRow]:
        missing = [r.id for r in records if r.delivered_at is None]
        from_events = self._delivered_events(missing)
        for r in records:
            yield ProofRow(
                notification_id=r.id, application_id=r.application_id,
                candidate=candidate_label(r.name, r.erased_at), recipient=None if r.erased_at else r.recipient_email,
                job=f"{r.title or 'Untitled job'} ({r.external_id})", kind=KIND_LABELS.get(r.kind, r.kind.value),
                subject=r.subject, sent_at=r.sent_at, delivered_at=r.delivered_at or from_events.get(r.id),
                delivery_status=r.delivery_status.value if r.delivery_status else None, provider=r.provider,
                provider_message_id=r.provider_message_id,
            )

    def _delivered_events(self, notification_ids: list[int]) -> dict[int, datetime]:
        """SendGrid `delivered` events for messages whose row has no delivered_at (one IN query per batch)."""
        if not notification_ids:
            return {}
        records = self.session.execute(
            select(MailEvent.notification_id, func.min(MailEvent.occurred_at))
            .where(MailEvent.org_id == self.org_id, MailEvent.event == DeliveryStatus.DELIVERED.value,
                   MailEvent.notification_id.in_(notification_ids))
            .group_by(MailEvent.notification_id)).all()
        return {notification_id: at for notification_id, at in records}
