"""Invariant 6 mutants: an organisation filter removed from one route (or the query it calls).

Each entry is a plain text replacement: `search` occurs exactly once in `file` (relative to the
repository root) and becomes `replace`. With the mutant applied, the files in `tests` must fail, and
tests/api/test_tenant_isolation.py names the route and what leaked or changed. The comment above each
entry names the routes seen going red (SQLite and PostgreSQL).

Not listed, because it survives by design: removing only `Application.org_id == who.org_id` from
the dashboard timeline leaves `visible_jobs`, which filters jobs by organisation too.
"""

from __future__ import annotations

TESTS = ["tests/api/test_tenant_isolation.py"]

MUTANTS = [
    # GET /api/v1/obligations
    {
        "name": "api-obligations-list-without-org-filter",
        "why": "an organisation's API key lists every organisation's deadline cycles",
        "file": "plugin/api/records.py",
        "search": "query = select(Obligation).where(Obligation.org_id == org.id)",
        "replace": "query = select(Obligation).where(Obligation.org_id.is_not(None))",
        "tests": TESTS,
    },
    # GET /api/v1/notifications
    {
        "name": "api-notifications-list-without-org-filter",
        "why": "an organisation's API key lists every organisation's messages",
        "file": "plugin/api/records.py",
        "search": "query = select(Notification).where(Notification.org_id == org.id)",
        "replace": "query = select(Notification).where(Notification.org_id.is_not(None))",
        "tests": TESTS,
    },
    # GET /api/v1/applications/<string:application_id>
    {
        "name": "api-application-detail-without-org-filter",
        "why": "an API key reads another organisation's application and timeline",
        "file": "plugin/api/records.py",
        "search": "app = session.scalar(select(Application).where(Application.org_id == org.id,",
        "replace": "app = session.scalar(select(Application).where(Application.org_id.is_not(None),",
        "tests": TESTS,
    },
    # GET /api/v1/applications/<string:application_id>/proof
    {
        "name": "api-proof-without-org-filter",
        "why": "an API key reads another organisation's proof of notice",
        "file": "plugin/api/proof.py",
        "search": "app = session.scalar(select(Application).where(Application.org_id == org.id,",
        "replace": "app = session.scalar(select(Application).where(Application.org_id.is_not(None),",
        "tests": TESTS,
    },
    # POST /api/v1/applications/<string:application_id>/status-updates
    {
        "name": "api-status-update-without-org-filter",
        "why": "an API key sends a status update to another organisation's candidate",
        "file": "plugin/api/status_updates.py",
        "search": "app = session.scalar(select(Application).where(Application.org_id == org.id,",
        "replace": "app = session.scalar(select(Application).where(Application.org_id.is_not(None),",
        "tests": TESTS,
    },
    # GET/PATCH /api/v1/connections/<connection_id>; its /deliveries, /poll, /rotate-secret
    {
        "name": "api-connection-without-org-check",
        "why": "an API key reads, renames, disables or rotates another organisation's ATS connection",
        "file": "plugin/api/connections.py",
        "search": "if connection is None or connection.org_id != current_org(session).id:",
        "replace": "if connection is None:",
        "tests": TESTS,
    },
    # GET /api/v1/deliveries/<int:delivery_id>; POST /api/v1/deliveries/<int:delivery_id>/retry
    {
        "name": "api-delivery-without-org-check",
        "why": "an API key reads or replays another organisation's ATS delivery",
        "file": "plugin/api/connections.py",
        "search": "if delivery is None or delivery.org_id != current_org(session).id:",
        "replace": "if delivery is None:",
        "tests": TESTS,
    },
    # GET /api/v1/replies/<int:reply_id>
    {
        "name": "api-reply-without-org-check",
        "why": "an API key reads another organisation's candidate reply",
        "file": "plugin/api/replies.py",
        "search": "if reply is None or reply.org_id != current_org(session).id:",
        "replace": "if reply is None:",
        "tests": TESTS,
    },
    # GET/PUT /api/v1/policies/jobs/<string:job_id>
    {
        "name": "api-job-policy-without-org-filter",
        "why": "an API key reads or sets another organisation's job policy",
        "file": "plugin/api/policies.py",
        "search": "job = session.scalar(select(Job).where(Job.org_id == org.id, Job.external_id == external_id))",
        "replace": "job = session.scalar(select(Job).where(Job.external_id == external_id))",
        "tests": TESTS,
    },
    # GET/PUT/DELETE /api/v1/templates/<kind>/overrides/<locale>; GET .../preview
    {
        "name": "api-template-override-without-org-filter",
        "why": "an API key reads, overwrites or deletes another organisation's template",
        "file": "plugin/api/templates.py",
        "search": "TemplateOverride.org_id == org_id, TemplateOverride.kind == kind",
        "replace": "TemplateOverride.org_id.is_not(None), TemplateOverride.kind == kind",
        "tests": TESTS,
    },
    # GET /api/v1/event-batches
    {
        "name": "api-event-batches-list-without-org-filter",
        "why": "an API key lists another organisation's batches and their events' ids",
        "file": "plugin/api/events.py",
        "search": "statement = select(EventBatch).where(EventBatch.org_id == current_org(session).id)",
        "replace": "statement = select(EventBatch).where(EventBatch.org_id.is_not(None))",
        "tests": TESTS,
    },
    # GET /api/v1/event-batches/<int:batch_id>
    {
        "name": "api-event-batch-without-org-check",
        "why": "an API key reads another organisation's batch outcome",
        "file": "plugin/api/events.py",
        "search": "if batch is None or batch.org_id != current_org(session).id:",
        "replace": "if batch is None:",
        "tests": TESTS,
    },
    # POST /api/v1/events
    {
        "name": "events-application-lookup-without-org-filter",
        "why": "canonical events change another organisation's application with the same ATS id",
        "file": "plugin/sla/ledger_batch.py",  # the batch reads an event's application (and the rest) by ATS id
        "search": "rows = self.session.scalars(select(model).where(model.org_id == self.org.id,",
        "replace": "rows = self.session.scalars(select(model).where(model.org_id.is_not(None),",
        "tests": TESTS,
    },
    # PUT /api/v1/policies/organization (B's change recomputed A's open cycle)
    {
        "name": "policy-recompute-without-org-filter",
        "why": "a policy or calendar change recomputes other organisations' deadlines",
        "file": "plugin/sla/config_changes.py",
        "search": (".where(Obligation.org_id == org.id, Obligation.state == ObligationState.OPEN, "
                   "Obligation.due_at > at)"),
        "replace": ".where(Obligation.state == ObligationState.OPEN, Obligation.due_at > at)",
        "tests": TESTS,
    },
    # POST /webhooks/sendgrid/events/<org_id>
    {
        "name": "sendgrid-events-match-any-org",
        "why": "SendGrid events posted for one organisation move another's message status",
        "file": "plugin/notify/delivery_events.py",
        "search": "Notification.id == event.notification_id, Notification.org_id == org_id).with_for_update())",
        "replace": "Notification.id == event.notification_id).with_for_update())",
        "tests": TESTS,
    },
    # POST /webhooks/sendgrid/inbound/<org_id>
    {
        "name": "sendgrid-inbound-match-any-org",
        "why": "mail to one organisation is matched to another organisation's candidate",
        "file": "plugin/notify/replies.py",
        "search": "Candidate.org_id == org_id, func.lower(Candidate.email) == address.lower())).all()",
        "replace": "Candidate.org_id.is_not(None), func.lower(Candidate.email) == address.lower())).all()",
        "tests": TESTS,
    },
    # GET /dashboard/applications/<int:application_id>; POST .../status-updates
    {
        "name": "dashboard-timeline-without-org-filter",
        "why": "a dashboard user opens, and writes to, another organisation's candidate",
        "file": "plugin/dashboard/timeline.py",
        "search": ".where(Application.id == application_id, Application.org_id == who.org_id, visible_jobs(who))",
        "replace": ".where(Application.id == application_id)",
        "tests": TESTS,
    },
    # GET /dashboard/users/<int:user_id>; POST .../disable, /enable, /invitation, /role
    {
        "name": "dashboard-user-without-org-check",
        "why": "an admin sees and disables, re-roles or re-invites another organisation's users",
        "file": "plugin/dashboard/users_pages.py",
        "search": "if user is None or user.org_id != viewer().org_id:",
        "replace": "if user is None:",
        "tests": TESTS,
    },
    # GET/POST /dashboard/settings/jobs/<int:job_id>
    {
        "name": "dashboard-job-settings-without-org-filter",
        "why": "an admin sees and changes another organisation's job settings",
        "file": "plugin/dashboard/settings_pages.py",
        "search": "job = db().scalar(select(Job).where(Job.id == job_id, visible_jobs(viewer())))",
        "replace": "job = db().scalar(select(Job).where(Job.id == job_id))",
        "tests": TESTS,
    },
    # GET /dashboard/ (its job filter lists A's jobs), the four compliance reports and their landing page,
    # GET /dashboard/settings/jobs, GET and POST /dashboard/settings/jobs/<int:job_id>
    {
        "name": "dashboard-scope-without-org-filter",
        "why": "the dashboard's job scope lets every organisation's jobs in",
        "file": "plugin/dashboard/scope.py",
        "search": "in_org = Job.org_id == viewer.org_id",
        "replace": "in_org = Job.org_id.is_not(None)",
        "tests": TESTS,
    },
    # GET /dashboard/outbox (A's internal message with no application)
    {
        "name": "dashboard-outbox-list-without-org-filter",
        "why": "the outbox lists another organisation's messages that have no application",
        "file": "plugin/dashboard/outbox.py",
        "search": ".where(Notification.org_id == who.org_id, Notification.provider == OUTBOX,",
        "replace": ".where(Notification.org_id.is_not(None), Notification.provider == OUTBOX,",
        "tests": TESTS,
    },
    # GET /dashboard/messages/<int:notification_id>/html; GET /dashboard/outbox/<int:notification_id>
    {
        "name": "dashboard-message-without-org-filter",
        "why": "a dashboard user opens another organisation's message without an application",
        "file": "plugin/dashboard/timeline.py",
        "search": ".where(Notification.id == notification_id, Notification.org_id == who.org_id))",
        "replace": ".where(Notification.id == notification_id, Notification.org_id.is_not(None)))",
        "tests": TESTS,
    },
]
