"""ATS deliveries that carried an erased person: their raw bodies go, and a pending one is not applied.

Deliveries are kept raw for replay, so an erasure finds every one that speaks of the person:
1. those whose events were recorded for them (`inbound_events.raw` names the delivery);
2. those that brought the same events again (a vendor's retry, a poll that saw the same change):
   their `events` list names one of the person's event ids;
3. those not finished (received, processing, failed): their bodies are read and searched for the
   person's addresses and names (a first and a last name in two fields of one object count too).
A finished delivery loses its body, headers and error. A pending webhook that names them is not
applied: everything in it about them would be ignored anyway (an erased person is never touched
again), so it is marked ignored, body removed. A pending poll page keeps everyone else's records:
only the records that name the person are taken out of it, and it is applied as usual.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, or_, select, update
from sqlalchemy.orm import Session

from plugin.models import AtsDelivery, DeliveryKind, DeliveryState

NOT_APPLIED = "not applied: it named a candidate who was erased, and its body was removed"
UNFINISHED = (DeliveryState.RECEIVED, DeliveryState.PROCESSING, DeliveryState.FAILED)
PENDING = (DeliveryState.RECEIVED, DeliveryState.PROCESSING)
_CHUNK = 50


def scrub_deliveries(session: Session, delivery_ids: Collection[int]) -> None:
    """Remove the raw bodies (and headers) of finished ATS deliveries that carried an erased person's data."""
    if delivery_ids:
        session.execute(update(AtsDelivery).where(AtsDelivery.id.in_(delivery_ids))
                        .values(body=None, headers={}, error=None))


def scrub_deliveries_of(session: Session, org_id: str, *, linked_ids: set[int], event_ids: set[str],
                        emails: set[str], names: set[str], now: datetime) -> None:
    """Every delivery of the organisation that carried the person (see the module docstring)."""
    finished = set(linked_ids) | _repeating(session, org_id, event_ids)
    person = _Person(emails, names)
    for row in session.execute(select(AtsDelivery.id, AtsDelivery.kind, AtsDelivery.state, AtsDelivery.body)
                               .where(AtsDelivery.org_id == org_id, AtsDelivery.state.in_(UNFINISHED),
                                      AtsDelivery.body.is_not(None))):
        payload = _json(row.body)
        if not person.named_in(payload if payload is not None else row.body.decode("utf-8", "replace")):
            continue
        if row.state not in PENDING:
            finished.add(row.id)
        elif row.kind is DeliveryKind.POLL and isinstance(payload, dict) and isinstance(payload.get("records"), list):
            kept = [record for record in payload["records"] if not person.named_in(record)]
            session.execute(update(AtsDelivery).where(AtsDelivery.id == row.id)
                            .values(body=json.dumps({**payload, "records": kept}).encode()))
        else:
            session.execute(update(AtsDelivery).where(AtsDelivery.id == row.id).values(
                body=None, headers={}, state=DeliveryState.IGNORED, error=NOT_APPLIED, events=[],
                processed_at=now, next_attempt_at=None))
    scrub_deliveries(session, finished)


def _repeating(session: Session, org_id: str, event_ids: Iterable[str]) -> set[int]:
    """Processed deliveries whose events list names one of these event ids."""
    ids = sorted(event_ids)
    found: set[int] = set()
    listed = cast(AtsDelivery.events, Text)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        found.update(session.scalars(select(AtsDelivery.id).where(
            AtsDelivery.org_id == org_id, AtsDelivery.body.is_not(None), AtsDelivery.events.is_not(None),
            or_(*(listed.contains(json.dumps(event_id), autoescape=True) for event_id in chunk)))))
    return found


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


class _Person:
    def __init__(self, emails: set[str], names: set[str]) -> None:
        self.emails = {e for e in emails if e}
        self.names = {n for n in names if n}
        self.first_and_last = [(parts[0], parts[-1]) for parts in (n.split() for n in self.names) if len(parts) > 1]

    def _quoted(self, text: str) -> bool:
        lowered = " ".join(text.split()).lower()
        return any(e in lowered for e in self.emails) or any(n in lowered for n in self.names)

    def named_in(self, value: Any) -> bool:
        if isinstance(value, str):
            return self._quoted(value)
        if isinstance(value, list):
            return any(self.named_in(item) for item in value)
        if isinstance(value, dict):
            words = {" ".join(v.split()).lower() for v in value.values() if isinstance(v, str)}
            if any(first in words and last in words for first, last in self.first_and_last):
                return True
            return any(self.named_in(item) for item in value.values())
        return False
