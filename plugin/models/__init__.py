"""SQLAlchemy 2 typed models, one module per aggregate; import them from here (`plugin.models`).

Every `*_at` column is an aware UTC instant (`UTCDateTime`). States are string enums stored as
VARCHAR (no native PostgreSQL enum types: adding a state later is then a code change only).
Each index says which query uses it.

Modules: `orgs` (organisations, closure dates, API keys, email wording), `users` (dashboard users),
`candidates` (jobs, candidates, applications, interviews), `obligations` (the ledger),
`notifications` (messages, delivery events, replies), `records` (inbound events, the audit trail),
`ats` (connections and deliveries). Importing this package registers every model with the one
declarative registry, so relationships resolve by class name across modules.
"""

from __future__ import annotations

from plugin.models.ats import AtsConnection, AtsDelivery, ConnectionState, DeliveryKind, DeliveryState
from plugin.models.candidates import (
    Application,
    ApplicationStatus,
    Candidate,
    Interview,
    InterviewStatus,
    Job,
    JobStatus,
)
from plugin.models.columns import new_uuid, string_enum
from plugin.models.notifications import (
    CANDIDATE_KINDS,
    CandidateReply,
    DeliveryStatus,
    MailEvent,
    Notification,
    NotificationKind,
    NotificationState,
    ReplyState,
)
from plugin.models.obligations import Obligation, ObligationState, Rung
from plugin.models.orgs import ApiKey, ClosureDate, Organization, TemplateOverride
from plugin.models.records import AuditEntry, BatchState, EventBatch, EventOutcome, InboundEvent
from plugin.models.users import Role, User

__all__ = [
    "string_enum",
    "new_uuid",
    "Organization",
    "ClosureDate",
    "ApiKey",
    "TemplateOverride",
    "Role",
    "User",
    "JobStatus",
    "ApplicationStatus",
    "InterviewStatus",
    "Job",
    "Candidate",
    "Application",
    "Interview",
    "ObligationState",
    "Rung",
    "Obligation",
    "NotificationKind",
    "CANDIDATE_KINDS",
    "DeliveryStatus",
    "ReplyState",
    "NotificationState",
    "Notification",
    "MailEvent",
    "CandidateReply",
    "EventOutcome",
    "InboundEvent",
    "BatchState",
    "EventBatch",
    "AuditEntry",
    "ConnectionState",
    "DeliveryKind",
    "DeliveryState",
    "AtsConnection",
    "AtsDelivery",
]
