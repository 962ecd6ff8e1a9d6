"""Job closing notices in bulk: a job closing with 2,500 candidates is 3 SendGrid requests, not 2,500.

`send_closing_notices(org_id)` claims up to 1000 queued closing notices of one organisation at a
time (a conditional update, so concurrent jobs split the rows and never share one), renders and
stores each notice exactly as its candidate will get it, then sends messages with the same content
together: one request with one personalization per candidate, whose `substitutions` put in the
candidate's own values (name, status-page link).

Which values are per candidate is decided by rendering twice: once for real, once with a token in
place of each personal value. If putting the candidate's values into the token version does not give
back the real rendering byte for byte (a template that changes a name, a subject cut at 200
characters...), that candidate's notice is sent on its own. What SendGrid produces is therefore always
exactly what we stored as sent.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from plugin import clock, runtime
from plugin.mail.base import (
    BULK_MAX_RECIPIENTS,
    BulkMessage,
    BulkRecipient,
    OutgoingMessage,
    PermanentMailError,
    TransientMailError,
    UncertainMailError,
    prepare,
    substitute,
)
from plugin.models import Notification, NotificationKind, NotificationState
from plugin.notify import compose
from plugin.notify.jobs import ACTOR, fail, fate_unknown, ready_to_send, record_sent, retry_later
from plugin.notify.render import RenderedMessage
from plugin.sla import messages

log = logging.getLogger(__name__)

# (path into the template context, token name); only values a candidate's notice shows of them.
PERSONAL_FIELDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("candidate", "name"), "name"),
    (("candidate", "first_name"), "first_name"),
    (("recipient_name",), "recipient_name"),
    (("status_url",), "status_url"),
)


def _token(name: str, part: str) -> str:
    # Letters, digits, '%' and '_': unchanged by HTML escaping, CSS inlining and header cleaning.
    return f"%%GL_{name.upper()}_{part}%%"


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
        queued = list(session.scalars(
            select(Notification.id)
            .where(Notification.org_id == org_id, Notification.kind == NotificationKind.JOB_CLOSED,
                   Notification.state == NotificationState.QUEUED)
            .order_by(Notification.id).limit(BULK_MAX_RECIPIENTS).with_for_update(skip_locked=True)
        ))
        if not queued:
            return []
        return list(session.scalars(
            update(Notification)
            .where(Notification.id.in_(queued), Notification.state == NotificationState.QUEUED)
            .values(state=NotificationState.SENDING, attempts=Notification.attempts + 1, queued_at=now)
            .returning(Notification.id)
        ))


def _prepare(ids: list[int], now: datetime, totals: Counter[str]) -> list[tuple[BulkMessage, dict[int, int]]]:
    """Re-check, render and store every notice (committed before anything is sent), then group them."""
    rt = runtime.current()
    groups: dict[str, _Group] = {}
    attempts: dict[int, int] = {}
    token_renders: dict[str, tuple[RenderedMessage, RenderedMessage]] = {}
    with rt.db.session() as session:
        notifications = session.scalars(select(Notification).where(Notification.id.in_(ids))
                                        .order_by(Notification.id)).all()
        for notification in notifications:
            outcome, inputs = ready_to_send(session, notification, now)
            if outcome is not None or inputs is None:
                totals[(outcome or "failed").split(":")[0]] += 1
                continue
            message = compose.outgoing(session, notification)
            try:
                prepare(message)  # a bad address fails this notice alone, not the whole request
            except PermanentMailError as exc:
                messages.mark_failed(session, notification, str(exc), now, ACTOR)
                totals["failed"] += 1
                continue
            attempts[notification.id] = notification.attempts
            _add(groups, token_renders, notification, message, inputs)
    bulks = []
    for group in groups.values():
        for chunk in _chunks(group.recipients):
            t = group.template
            bulks.append((BulkMessage(kind=t.kind, sender=t.sender, subject=t.subject, text=t.text, html=t.html,
                                      recipients=chunk, reply_to=t.reply_to, headers=t.headers), attempts))
    return bulks


def _add(groups: dict[str, _Group], token_renders: dict[str, tuple[RenderedMessage, RenderedMessage]],
         notification: Notification, message: OutgoingMessage, inputs: compose.RenderInputs) -> None:
    rt = runtime.current()
    locale, context, override = inputs
    personal = {name: _get(context, path) for path, name in PERSONAL_FIELDS}
    personal = {name: str(value) for name, value in personal.items() if value not in (None, "")}
    # Templates show a link only if it looks like one, so the token keeps the URL's fixed part
    # (".../status/") and stands for the signed part alone.
    prefix = {name: _url_prefix(value) if name == "status_url" else "" for name, value in personal.items()}
    personal = {name: value[len(prefix[name]):] for name, value in personal.items()}
    key = json.dumps([locale, sorted(personal), prefix, override and override.__dict__,
                      _with_values(context, {name: "" for name in personal})], sort_keys=True, default=str)
    if key not in token_renders:
        # The same context apart from personal values renders the same token content: render once.
        as_text = _with_values(context, {name: prefix[name] + _token(name, "T") for name in personal})
        as_html = _with_values(context, {name: prefix[name] + _token(name, "H") for name in personal})
        token_renders[key] = (rt.renderer.render(notification.kind.value, locale, as_text, override),
                              rt.renderer.render(notification.kind.value, locale, as_html, override))
    text_render, html_render = token_renders[key]
    substitutions = {_token(name, "T"): value for name, value in personal.items()}
    substitutions.update({_token(name, "H"): _html_text(value) for name, value in personal.items()})
    subject, text, html = text_render.subject, text_render.text, html_render.html
    exact = (substitute(subject, substitutions) == message.subject
             and substitute(text, substitutions) == message.text
             and substitute(html, substitutions) == message.html)
    if not exact:  # send this one as rendered, on its own
        subject, text, html, substitutions = message.subject, message.text, message.html, {}
        group_key = f"single:{notification.id}"
    else:
        group_key = json.dumps([message.sender.__dict__, message.reply_to and message.reply_to.__dict__,
                                sorted(message.headers.items()), subject, text, html])
    group = groups.get(group_key)
    if group is None:
        template = OutgoingMessage(notification_id=notification.id, kind=message.kind, sender=message.sender,
                                   to=message.to, subject=subject, text=text, html=html,
                                   reply_to=message.reply_to, headers=message.headers)
        group = groups[group_key] = _Group(template)
    group.recipients.append(BulkRecipient(notification.id, message.to, substitutions))


def _html_text(value: str) -> str:
    """A value as it appears in a text node of our HTML after CSS inlining, whose serializer
    escapes only &, < and > (and non-breaking spaces) — not quotes."""
    return (value.replace("&", "&amp;").replace("\u00a0", "&nbsp;")
            .replace("<", "&lt;").replace(">", "&gt;"))


def _url_prefix(url: str) -> str:
    """Everything up to and including the last '/', e.g. "https://ghostless.example/status/"."""
    return url[: url.rfind("/") + 1]


def _get(context: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = context
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _with_values(context: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """A copy of `context` with the personal fields named in `values` set to those values."""
    copy = {**context, "candidate": dict(context.get("candidate") or {})}
    for path, name in PERSONAL_FIELDS:
        if name in values:
            target = copy
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = values[name]
    return copy


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
    rt = runtime.current()
    with rt.db.session() as session:
        sent_at = clock.now()
        for notification in session.scalars(select(Notification).where(Notification.id.in_(ids))):
            record_sent(session, notification, provider.name, message_ids.get(notification.id), sent_at)
    totals["sent"] += len(ids)
    log.info("sent %s closing notices in one %s request", len(ids), provider.name)

