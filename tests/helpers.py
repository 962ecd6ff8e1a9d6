"""Builders for canonical events and queries the tests share."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy import select

from plugin.models import Notification, NotificationState, Obligation, Organization

_ids = itertools.count(1)


def iso(at: datetime) -> str:
    return at.isoformat()


def event(
    type_: str, at: datetime, *, app: str = "a-1", candidate: str = "c-1", job: str = "j-1", id: str | None = None,
    email: str | None = None, name: str = "Ada Lovelace", timezone: str | None = None, **extra: Any,
) -> dict[str, Any]:
    """A canonical event about one application, with the objects every application event carries."""
    body: dict[str, Any] = {"id": id or f"evt-{next(_ids)}", "type": type_, "occurred_at": iso(at)}
    if type_.startswith("job."):
        body["job"] = {"id": job, "title": "Backend Engineer"}
    elif type_ == "candidate.erased":
        body["candidate"] = {"id": candidate}
    else:
        cand: dict[str, Any] = {"id": candidate, "name": name, "email": email or f"{candidate}@example.com",
                                "locale": "en"}
        if timezone:
            cand["timezone"] = timezone
        body["candidate"] = cand
        body["job"] = {
            "id": job, "title": "Backend Engineer", "department": "Engineering",
            "hiring_manager": {"name": "Grace Hopper", "email": "grace@acme.example"},
            "recruiter": {"name": "Alan Turing", "email": "alan@acme.example"},
        }
        body["application"] = {"id": app}
    body.update(extra)
    return body


def interview_done(at: datetime, *, interview: str = "i-1", stage: str = "Onsite", **kw: Any) -> dict[str, Any]:
    return event("interview.completed", at, interview={"id": interview, "ends_at": iso(at), "stage": stage}, **kw)


def sent(db: Any, kind: str | None = None) -> list[Notification]:
    with db.session() as session:
        query = select(Notification).where(Notification.state == NotificationState.SENT)
        if kind:
            query = query.where(Notification.kind == kind)
        return list(session.scalars(query.order_by(Notification.sent_at, Notification.id)))


def notifications(db: Any, kind: str | None = None) -> list[Notification]:
    with db.session() as session:
        query = select(Notification)
        if kind:
            query = query.where(Notification.kind == kind)
        return list(session.scalars(query.order_by(Notification.id)))


def obligations(db: Any) -> list[Obligation]:
    with db.session() as session:
        return list(session.scalars(select(Obligation).order_by(Obligation.application_id, Obligation.cycle)))


def interviews_ended(org: Any, db: Any, at: datetime, count: int) -> None:
    """`count` applications (a-0, c-0, i-0, ...) whose interviews ended at `at`, posted 50 a batch,
    with the thank-you mail off, so what a test looks at is the ladder or the closing alone."""
    with db.session() as session:
        session.get(Organization, org.id).policy = {"next_steps": False}
    events = [interview_done(at, app=f"a-{i}", candidate=f"c-{i}", interview=f"i-{i}") for i in range(count)]
    for start in range(0, count, 50):
        org.post(*events[start:start + 50])
