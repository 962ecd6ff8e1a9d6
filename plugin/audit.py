"""The audit trail: who changed what, when, with the state before and after.

Every layer writes to it (the ledger, the sweep, configuration changes, the dashboard's user pages,
ATS connections), so it sits beside the models, not inside any one of them. `audit` adds one entry
to the session; `audit_many` writes a list of `audit_row`s in one multi-row INSERT (the sweep's
thousand entries a tick), without ORM objects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from plugin.models import AuditEntry


def audit(session: Session, org_id: str, entity: str, entity_id: object, action: str, at: datetime, actor: str,
          before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    session.add(AuditEntry(**audit_row(org_id, entity, entity_id, action, at, actor, before, after)))


def audit_row(org_id: str, entity: str, entity_id: object, action: str, at: datetime, actor: str,
              before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> dict[str, Any]:
    """The column values of one entry (every key present: a bulk INSERT needs one shape)."""
    return dict(org_id=org_id, at=at, actor=actor, entity=entity, entity_id=str(entity_id), action=action,
                before=before, after=after)


def audit_many(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(AuditEntry), rows)
