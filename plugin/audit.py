"""The audit trail: who changed what, when, with the state before and after.

Every layer writes to it (the ledger, the sweep, configuration changes, the dashboard's user pages,
ATS connections), so it sits beside the models, not inside any one of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from plugin.models import AuditEntry


def audit(
    session: Session,
    org_id: str,
    entity: str,
    entity_id: object,
    action: str,
    at: datetime,
    actor: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            org_id=org_id, at=at, actor=actor, entity=entity, entity_id=str(entity_id),
            action=action, before=before, after=after,
        )
    )
