"""Why a deadline passed without news, in the words reports use (`Obligation.breach_reason`).

The sweep asks when it records a breach; the reason comes from what became of the cycle's messages:
undeliverable mail, a message of unknown fate, one that could not leave in time, or none at all.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import Notification, NotificationKind, NotificationState, Obligation
from plugin.sla.messages import FATE_UNKNOWN
from plugin.sla.undelivered import UNDELIVERABLE


def breach_reason(session: Session, obligation: Obligation, autopilot: bool) -> str:
    """Why a deadline passed without news, in the words reports use."""
    return breach_reasons(session, [(obligation, autopilot)])[obligation.id]


def breach_reasons(session: Session, breached: Sequence[tuple[Obligation, bool]]) -> dict[int, str]:
    """`breach_reason` of many cycles (each with its policy's autopilot switch) in one query."""
    asked = [obligation.id for obligation, _ in breached if not obligation.at_risk]
    telling: dict[int, list[tuple[NotificationState, datetime, bool]]] = defaultdict(list)
    if asked:
        for obligation_id, state, at, by_autopilot in session.execute(
            select(Notification.obligation_id, Notification.state, Notification.scheduled_for,
                   Notification.autopilot).where(Notification.obligation_id.in_(asked),
                                                 Notification.kind.in_(_TELLING_KINDS))
        ):
            telling[obligation_id].append((state, at, by_autopilot))
    return {obligation.id: _reason(obligation, telling.get(obligation.id, []), autopilot)
            for obligation, autopilot in breached}


def _reason(obligation: Obligation, telling: list[tuple[NotificationState, datetime, bool]], autopilot: bool) -> str:
    if obligation.at_risk:  # mail bounced, was dropped or could not be sent; a person was told
        return UNDELIVERABLE
    if any(state is NotificationState.UNKNOWN for state, _, _ in telling):
        return FATE_UNKNOWN  # a message may have reached them; the provider's events will tell
    in_flight = (NotificationState.SCHEDULED, NotificationState.QUEUED, NotificationState.SENDING)
    if any(state in in_flight and (by_autopilot or at <= obligation.due_at) for state, at, by_autopilot in telling):
        # A message meant to meet the deadline (autopilot's, or one due before it) could not leave in
        # time: a late sweep or worker. One scheduled after it by design (the ATS's notify_not_before)
        # does not excuse the breach.
        return "late"
    return "forgotten" if autopilot else "autopilot_off"


_TELLING_KINDS = (NotificationKind.STATUS_UPDATE, NotificationKind.REJECTION, NotificationKind.JOB_CLOSED)
