"""Job closing notices in bulk: a job closing with 2,500 candidates is 3 SendGrid requests, not 2,500.

`send_closing_notices(org_id)` claims up to 1000 closing notices of one organisation at a time (one
conditional `UPDATE ... RETURNING`, so concurrent jobs split the rows and never share one): those
queued by the sweep and those whose time has come that the sweep has not reached yet, so a sweep
queuing them 100 at a time does not cut the requests short. Then, for each thousand:
1. prepare, in one transaction committed before anything is sent: every row the notices need is
   read in five queries (no query per notice), each notice is re-checked against current state
   (`jobs.still_wanted`), its content is made and stored exactly as its candidate will get it
   (`bulk_content`: one rendering shared by the notices that differ only in per-person values,
   each notice's content that rendering with its values put in), and notices with the same shared
   content are grouped;
2. send each group, at most 1000 recipients a request, each with their own `substitutions`;
3. record the outcome of each request in one transaction (`jobs.record_sent` for each notice), the
   rows it touches read up front: the notices, their applications, and the cycles they discharge.
What SendGrid produces is therefore always exactly what we stored as sent.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from plugin import clock, runtime
from plugin.audit import audit_many, audit_row
from plugin.mail.base import (
    BULK_MAX_RECIPIENTS,
    BulkMessage,
    BulkRecipient,
    OutgoingMessage,
    PermanentMailError,
    TransientMailError,
    UncertainMailError,
    prepare,
)
from plugin.models import (
    Application,
    ApplicationStatus,
    Candidate,
    Job,
    JobStatus,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    ObligationState,
    Organization,
    Rung,
)
from plugin.notify import compose
from plugin.notify.bulk_content import Personal, SharedRenderings
from plugin.notify.jobs import ACTOR, fail, fate_unknown, retry_later, still_wanted, store_content
from plugin.notify.render import TemplateError
from plugin.sla import messages, obligations

log = logging.getLogger(__name__)


@dataclass
class _Group:
    """Notices with the same content (after tokens), sent together."""

    template: OutgoingMessage  # sender, reply-to, headers and the token content
    recipients: list[BulkRecipient] = field(default_factory=list)


def send_closing_notices(org_id: str) -> str:
    rt = runtime.current()
    totals: Counter[str] = Counter()
    while True:
        ids = _claim(org_id, clock.now())
        if not ids:
            break
        for bulk, attempts in _prepare(ids, clock.now(), totals):
            _send(rt.mail, bulk, attempts, totals)
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(totals.items())) or "nothing queued"
    log.info("closing notices of organisation %s: %s", org_id, summary)
    return summary


def _claim(org_id: str, now: datetime) -> list[int]:
    with runtime.current().db.session() as session:
        claimable = or_(Notification.state == NotificationState.QUEUED,
                        (Notification.state == NotificationState.SCHEDULED) & (Notification.scheduled_for <= now))
        # Not SKIP LOCKED: rows the sweep is queuing at this moment are waited for (a few ms), not
        # left for a request of their own. Another job of this organisation that claimed them first
        # leaves nothing here once it commits: the rows no longer match, and this job ends.
        queued = list(session.scalars(
            select(Notification.id)
            .where(Notification.org_id == org_id, Notification.kind == NotificationKind.JOB_CLOSED, claimable)
            .order_by(Notification.id).limit(BULK_MAX_RECIPIENTS).with_for_update()
        ))
        if not queued:
            return []
        return sorted(session.scalars(
            update(Notification)
            .where(Notification.id.in_(queued), claimable)
            .values(state=NotificationState.SENDING, attempts=Notification.attempts + 1, queued_at=now)
            .returning(Notification.id)
        ))


def _load(session: Session, ids: list[int]) -> tuple[list[Notification], list[Any]]:
    """The notices and every row their checks, context and discharge read, in a few queries.

    The rows are returned too: the session only holds them weakly, and a row it dropped would be read
    again one query at a time."""
    notices = list(session.scalars(select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)))
    held: list[Any] = [session.get(Organization, org_id) for org_id in {n.org_id for n in notices}]
    app_ids = {i for n in notices for i in (n.context.get("application_ids") or [])}
    app_ids |= {n.application_id for n in notices if n.application_id is not None}
    held += session.scalars(select(Application).where(Application.id.in_(app_ids)))
    held += session.scalars(select(Job).where(Job.id.in_({a.job_id for a in held if isinstance(a, Application)})))
    held += session.scalars(select(Candidate).where(Candidate.id.in_({n.candidate_id for n in notices})))
    held += session.scalars(select(Obligation).where(Obligation.id.in_({n.obligation_id for n in notices})))
    return notices, held


def _prepare(ids: list[int], now: datetime, totals: Counter[str]) -> list[tuple[BulkMessage, dict[int, int]]]:
    """Re-check, render and store every notice (committed before anything is sent), then group them."""
    rt = runtime.current()
    groups: dict[str, _Group] = {}
    attempts: dict[int, int] = {}
    shared = SharedRenderings(rt.renderer)
    with rt.db.session() as session:
        compose.cache_lookups(session)
        notices, _held = _load(session, ids)
        for notification in notices:
            outcome = still_wanted(session, notification, now)
            if outcome is not None:
                totals[outcome.split(":")[0]] += 1
                continue
            try:
                personal = _personal(session, shared, notification, now)
            except TemplateError as exc:
                messages.mark_failed(session, notification, f"Template error: {exc}", now, ACTOR)
                totals["failed"] += 1
                continue
            message = compose.outgoing(session, notification)
            try:
                prepare(message)  # a bad address fails this notice alone, not the whole request
            except PermanentMailError as exc:
                messages.mark_failed(session, notification, str(exc), now, ACTOR)
                totals["failed"] += 1
                continue
            attempts[notification.id] = notification.attempts
            _add(groups, notification, message, personal)
    bulks = []
    for group in groups.values():
        for chunk in _chunks(group.recipients):
            t = group.template
            bulks.append((BulkMessage(kind=t.kind, sender=t.sender, subject=t.subject, text=t.text, html=t.html,
                                      recipients=chunk, reply_to=t.reply_to, headers=t.headers), attempts))
    return bulks


def _personal(session: Session, shared: SharedRenderings, notification: Notification,
              now: datetime) -> Personal | None:
    """Make and store the notice's content: its part of a shared rendering, or None when it was
    rendered alone. TemplateError when it cannot be rendered at all."""
    locale, context, override = compose.render_inputs(session, notification, now)
    found = shared.personal(notification.kind.value, locale, context, override)
    if found is None:
        rendered, _ = compose.render_notification(session, notification, now)
        store_content(session, notification, rendered, now)
        return None
    store_content(session, notification, found.rendered, now)
    return found


def _add(groups: dict[str, _Group], notification: Notification, message: OutgoingMessage,
         personal: Personal | None) -> None:
    if personal is None:  # sent as rendered, on its own
        subject, text, html, substitutions = message.subject, message.text, message.html, {}
        group_key = f"single:{notification.id}"
    else:
        s = personal.shared
        subject, text, html, substitutions = s.subject, s.text, s.html, personal.substitutions
        group_key = json.dumps([message.sender.__dict__, message.reply_to and message.reply_to.__dict__,
                                sorted(message.headers.items()), subject, text, html])
    group = groups.get(group_key)
    if group is None:
        template = OutgoingMessage(notification_id=notification.id, kind=message.kind, sender=message.sender,
                                   to=message.to, subject=subject, text=text, html=html,
                                   reply_to=message.reply_to, headers=message.headers)
        group = groups[group_key] = _Group(template)
    group.recipients.append(BulkRecipient(notification.id, message.to, substitutions))


def _chunks(recipients: list[BulkRecipient]) -> list[list[BulkRecipient]]:
    """At most 1000 per request, and each address once per request (SendGrid refuses repeats)."""
    chunks: list[list[BulkRecipient]] = []
    seen: list[set[str]] = []
    for recipient in recipients:
        address = recipient.to.email.strip().lower()
        for chunk, addresses in zip(chunks, seen):
            if len(chunk) < BULK_MAX_RECIPIENTS and address not in addresses:
                chunk.append(recipient)
                addresses.add(address)
                break
        else:
            chunks.append([recipient])
            seen.append({address})
    return chunks


def _send(provider: Any, bulk: BulkMessage, attempts: dict[int, int], totals: Counter[str]) -> None:
    ids = [r.notification_id for r in bulk.recipients]
    try:
        message_ids = provider.send_bulk(bulk)
    except TransientMailError as exc:
        for notification_id in ids:
            retry_later(notification_id, exc, attempts[notification_id])
        totals["retrying"] += len(ids)
        return
    except PermanentMailError as exc:
        for notification_id in ids:
            fail(notification_id, str(exc))
        totals["failed"] += len(ids)
        return
    except UncertainMailError as exc:
        for notification_id in ids:
            fate_unknown(notification_id, str(exc))
        totals["unknown"] += len(ids)
        return
    _record_sent(ids, provider.name, message_ids, clock.now())
    totals["sent"] += len(ids)
    log.info("sent %s closing notices in one %s request", len(ids), provider.name)


def _record_sent(ids: list[int], provider: str, message_ids: dict[int, str | None], sent_at: datetime) -> None:
    """`jobs.record_sent` and `messages.on_sent` for a request's closing notices, as a few set-based
    statements: each notice sent and audited; each application it told that is still active on a
    closed job closed; the open cycle of each discharged (`obligations.discharge`, no next cycle),
    its unsent ladder messages cancelled. A cycle with a breach recorded goes through
    `obligations.discharge` itself (it may withdraw the breach). Keep in step with those functions:
    the closing tests and the property tests check the outcome.

    Cycles are updated row by row by the ORM (their version column makes every UPDATE check it), which
    was 10,000 round trips; here one conditional UPDATE claims them and moves their version on, so a
    holder of an older copy still fails its own check."""
    message_id = next(iter(message_ids.values()), None)  # one request, one X-Message-Id for all its notices
    with runtime.current().db.session() as session:
        sent = session.execute(
            update(Notification).where(Notification.id.in_(ids))
            .values(state=NotificationState.SENT, sent_at=sent_at, provider=provider, provider_message_id=message_id,
                    last_error=None)
            .returning(Notification.id, Notification.org_id, Notification.kind, Notification.delivery_status,
                       Notification.application_id, Notification.context)
            .execution_options(synchronize_session=False)
        ).all()
        audit_many(session, [audit_row(org_id, "notification", notification_id, "sent", sent_at, ACTOR,
                                       after={"provider": provider, "message_id": message_id})
                             for notification_id, org_id, *_ in sent])
        told = {i for _, _, kind, status, app_id, context in sent
                if kind is NotificationKind.JOB_CLOSED and not (status is not None and status.undeliverable)
                for i in (context.get("application_ids") or ([app_id] if app_id else []))}
        _discharge(session, told, sent_at)


def _discharge(session: Session, app_ids: set[int], at: datetime) -> None:
    """`messages._discharge` for closing notices, for many applications at once."""
    if not app_ids:
        return
    closed_jobs = select(Job.id).where(Job.status == JobStatus.CLOSED)
    closed = list(session.scalars(
        update(Application)
        .where(Application.id.in_(app_ids), Application.status == ApplicationStatus.ACTIVE,
               Application.job_id.in_(closed_jobs))
        .values(status=ApplicationStatus.CLOSED, status_changed_at=at).returning(Application.id)))
    breached = list(session.scalars(select(Obligation).where(
        Obligation.application_id.in_(closed), Obligation.state == ObligationState.OPEN,
        Obligation.breached_at.is_not(None))))
    for obligation in breached:
        obligations.discharge(obligation, at=at, by="job_closed", now=at, actor=ACTOR, next_cycle=False)
    discharged = session.execute(
        update(Obligation)
        .where(Obligation.application_id.in_(closed), Obligation.state == ObligationState.OPEN,
               Obligation.breached_at.is_(None))
        .values(state=ObligationState.DISCHARGED, next_rung=Rung.DONE, next_action_at=None, discharged_at=at,
                discharged_by="job_closed", version=Obligation.version + 1)
        .returning(Obligation.id, Obligation.org_id)
        .execution_options(synchronize_session=False)
    ).all()
    reason = f"obligation {ObligationState.DISCHARGED.value}: job_closed"
    cancelled = session.execute(
        update(Notification)
        .where(Notification.obligation_id.in_([i for i, _ in discharged]), Notification.kind.in_(obligations._LADDER_KINDS),
               Notification.state.in_(obligations.UNSENT))
        .values(state=NotificationState.CANCELLED, cancelled_reason=reason[:64])
        .returning(Notification.id, Notification.org_id)
        .execution_options(synchronize_session=False)
    ).all() if discharged else []
    audit_many(session, [audit_row(org_id, "notification", i, "cancelled", at, ACTOR, after={"reason": reason})
                         for i, org_id in cancelled] + [
        audit_row(org_id, "obligation", i, ObligationState.DISCHARGED.value, at, ACTOR,
                  before={"state": ObligationState.OPEN.value},
                  after={"state": ObligationState.DISCHARGED.value, "reason": "job_closed",
                         "discharged_at": at.isoformat()}) for i, org_id in discharged])
