"""Invariant 6, route by route: one organisation can never read or change another's data.

One world per back end, built once for this module: Zanzibar (A) has one of everything a route can
address (applications with interviews, deadline cycles, sent mail, a status update, a breach, a job
override, an ATS connection with a delivery, template overrides, a reply, a SendGrid delivery event,
users and a pending invitation); Beta (B) has its own. Every name, title and internal address this
module gives A's data contains "zanzibar" (rows the Greenhouse delivery adds are caught by their ids
and links); B's rows say "globex" (B's organisation is "Beta Org", so a page that only shows its
header does not count as showing B's rows).

ROUTES maps every (method, rule) of the app's url_map to the requests B makes there: A's ids in the
path, in query filters and in bodies, answered 404 (or a refusal) or with none of A's rows, and a
control against B's own object, so that a 404 cannot come from a wrong URL. Around every request a
snapshot of all of A's rows must not change. A route with no line in ROUTES or EXEMPT fails
`test_every_route_has_an_isolation_case`, so no route is added without an isolation check.
tests/mutants/tenant.py names organisation filters whose removal these tests were seen to catch.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from ats_support import connect, fixture_bytes
from conftest import START, Org, _empty_tables
from dashboard_support import add_user, csrf_token, sign_in
from helpers import event, interview_done
from sqlalchemy import select
from test_dashboard_settings import calendar_form, policy_form
from test_sendgrid_events import Signer
from test_sendgrid_inbound import basic, inbound_fields, multipart, set_secret

from plugin import clock as clock_module
from plugin import create_app, runtime
from plugin.accounts.users import invite_user
from plugin.ats.signing import hmac_sha256_hex
from plugin.db import Base
from plugin.mail.outbox import OutboxProvider
from plugin.models import (
    Application,
    AtsDelivery,
    CandidateReply,
    EventBatch,
    Job,
    Notification,
    NotificationKind,
    NotificationState,
    Obligation,
    Organization,
    Role,
)
from plugin.notify.render import TemplateRenderer
from plugin.processes import run_worker, sweep_once
from plugin.settings import Settings

A_WORD, B_WORD = "zanzibar", "globex"

Snapshot = dict[str, dict[tuple[Any, ...], dict[str, Any]]]  # table -> primary key -> row


# -- the two organisations ------------------------------------------------------------------------


@dataclass
class Tenant:
    """One organisation and the ids of its objects, as the paths in ROUTES name them."""

    org: Org
    word: str
    app: str = ""  # the ATS's application id (the API's)
    app_id: int = 0  # our row id (the dashboard's)
    job: str = ""
    job_id: int = 0
    connection: str = ""
    delivery: int = 0
    batch: int = 0  # a processed POST /api/v1/events batch
    reply: int = 0
    message: int = 0  # a sent candidate message with an .eml file and HTML
    loose: int = 0  # a sent internal message with no application (A only)
    user: int = 0  # an active admin
    viewer: int = 0  # an active viewer
    invitee: int = 0  # a pending invitation
    signer: Signer = field(default_factory=Signer)
    webhook_secret: str = ""
    inbound_secret: str = ""

    @property
    def id(self) -> str:
        return self.org.id


@dataclass
class World:
    rt: runtime.Runtime
    app: Any
    a: Tenant
    b: Tenant
    b_dashboard: Any  # a test client signed in as B's admin
    b_csrf: str
    a_rows: Snapshot = field(default_factory=dict)  # A's rows after the last request (nothing else changes them)


def _job_people(body: dict[str, Any], word: str, title: str, department: str) -> dict[str, Any]:
    name = word.capitalize()
    body["job"].update(title=title, department=department,
                       hiring_manager={"name": f"Grace {name}", "email": f"grace@{word}.example"},
                       recruiter={"name": f"Alan {name}", "email": f"alan@{word}.example"})
    return body


def _interview(word: str, *, app: str, candidate: str, job: str, name: str, title: str, department: str) -> dict[str, Any]:
    # Candidates' addresses carry no marker: B receives mail from A's candidates in one probe below.
    body = interview_done(START, app=app, candidate=candidate, job=job, interview=f"i-{app}", name=name,
                          email=f"{candidate}@candidates.example")
    return _job_people(body, word, title, department)


def _tick(rt: runtime.Runtime, frozen: clock_module.FrozenClock, by: timedelta = timedelta(0)) -> None:
    frozen.advance(by)
    sweep_once(rt, frozen.now())
    if rt.queue.count:
        run_worker(rt, burst=True, simple=True)


def _identity(org: Org, word: str, name: str) -> None:
    response = org.client.patch("/api/v1/organization", headers=org.headers, json={
        "sender_name": f"{name} Talent", "sender_email": f"talent@{word}.example",
        "escalation_email": f"ops@{word}.example",
        "closures": [{"day": "2026-12-24", "label": f"{name} winter break"}]})
    assert response.status_code == 200, response.get_json()


def _mail_settings(org: Tenant) -> None:
    response = org.org.client.patch("/api/v1/organization/mail", headers=org.org.headers,
                                    json={"sendgrid_event_public_key": org.signer.public_b64})
    assert response.status_code == 200, response.get_json()
    response = org.org.client.post("/api/v1/organization/mail/inbound-secret", headers=org.org.headers)
    org.inbound_secret = response.get_json()["secret"]


def _greenhouse(org: Tenant, name: str) -> None:
    org.webhook_secret = f"{org.word}-webhook-secret"
    created = connect(org.org, "greenhouse", signing_secret=org.webhook_secret)
    response = org.org.client.patch(f"/api/v1/connections/{created['id']}", headers=org.org.headers,
                                    json={"name": name})
    assert response.status_code == 200, response.get_json()
    org.connection = created["id"]
    response = org.org.client.post(created["webhook_path"], **_greenhouse_post(org.webhook_secret))
    assert response.status_code == 200, response.get_json()
    org.delivery = response.get_json()["delivery_id"]


def _greenhouse_post(secret: str) -> dict[str, Any]:
    body = fixture_bytes("greenhouse", "reject_candidate.json")
    return {"data": body, "headers": {"Content-Type": "application/json", "Greenhouse-Event-ID": uuid.uuid4().hex,
                                      "Signature": f"sha256 {hmac_sha256_hex(secret, body)}"}}


def _reply(world_client: Any, org: Tenant, candidate: str, subject: str) -> None:
    body, content_type = multipart(inbound_fields(f"Someone <{candidate}@candidates.example>", subject=subject))
    response = world_client.post(f"/webhooks/sendgrid/inbound/{org.id}", data=body, content_type=content_type,
                                 headers=basic(org.inbound_secret))
    assert response.status_code == 200 and response.get_json()["state"] == "matched", response.get_json()
    org.reply = response.get_json()["reply_id"]


def _delivered(client: Any, org: Tenant, notification_id: int) -> None:
    # Now, by the test clock: an event older than SendGrid's retry window, or before the send, is refused.
    payload = json.dumps([{"email": "someone@candidates.example", "timestamp": int(clock_module.now().timestamp()),
                           "event": "delivered", "sg_event_id": uuid.uuid4().hex,
                           "sg_message_id": f"{uuid.uuid4().hex}.filter", "notification_id": str(notification_id)}])
    response = client.post(f"/webhooks/sendgrid/events/{org.id}", **_signed_events(org.signer, payload.encode()))
    assert response.status_code == 200 and response.get_json()["unmatched"] == 0, response.get_json()


def _signed_events(signer: Signer, body: bytes) -> dict[str, Any]:
    timestamp = "1793700000"
    return {"data": body, "headers": {"Content-Type": "application/json",
                                      "X-Twilio-Email-Event-Webhook-Signature": signer.sign(timestamp, body),
                                      "X-Twilio-Email-Event-Webhook-Timestamp": timestamp}}


def _override(org: Org, kind: str, subject: str) -> None:
    org.put(f"/api/v1/templates/{kind}/overrides/en", {"subject": subject})


def _row_ids(world: World, org: Tenant) -> None:
    """Our own ids of the objects the dashboard addresses."""
    with world.rt.db.session() as session:
        org.app_id = session.scalar(select(Application.id).where(Application.org_id == org.id,
                                                                  Application.external_id == org.app))
        org.job_id = session.scalar(select(Job.id).where(Job.org_id == org.id, Job.external_id == org.job))
        org.message = session.scalar(select(Notification.id).where(
            Notification.org_id == org.id, Notification.application_id == org.app_id,
            Notification.kind == "next_steps", Notification.sent_at.is_not(None)))
        org.batch = session.scalar(select(EventBatch.id).where(EventBatch.org_id == org.id).limit(1))
    assert org.app_id and org.job_id and org.message and org.batch


def _loose_message(rt: runtime.Runtime, org: Tenant, at: datetime) -> None:
    """A sent internal message that belongs to no application. No path writes one today, but the outbox
    and message pages show such messages to whole-organisation viewers (`application_id IS NULL`), where
    the organisation filter is all that stands between them and another organisation."""
    with rt.db.session() as session:
        row = Notification(org_id=org.id, kind=NotificationKind.ESCALATION, recipient_name="Zanzibar Ops",
                           recipient_email=f"ops@{org.word}.example", subject="Zanzibar escalation",
                           body_text="Zanzibar escalation", body_html="<p>Zanzibar escalation</p>", context={},
                           state=NotificationState.SENT, scheduled_for=at, sent_at=at, provider="outbox",
                           attempts=1, created_at=at)
        session.add(row)
        session.commit()
        org.loose = row.id


def build_world(rt: runtime.Runtime, frozen: clock_module.FrozenClock) -> World:
    app = create_app(runtime=rt)
    client = app.test_client()
    a = Tenant(Org(rt, client, name="Zanzibar Ltd"), A_WORD, app="app-1", job="job-1")
    b = Tenant(Org(rt, client, name="Beta Org"), B_WORD, app="app-b1", job="job-b1")
    _identity(a.org, A_WORD, "Zanzibar")
    _identity(b.org, "beta", "Beta")
    # A: two applications on two jobs; job-2 has autopilot off and a one-day deadline, so it breaches.
    a.org.post(_interview(A_WORD, app="app-1", candidate="cand-1", job="job-1", name="Ada Zanzibar",
                          title="Zanzibar Engineer", department="Research"),
               _interview(A_WORD, app="app-2", candidate="cand-2", job="job-2", name="Ben Zanzibar",
                          title="Zanzibar Analyst", department="Research"))
    a.org.put("/api/v1/policies/jobs/job-2", {"autopilot": False, "first_update_working_days": 1})
    b.org.post(_interview(B_WORD, app="app-b1", candidate="cand-b1", job="job-b1", name="Bea Globex",
                          title="Globex Engineer", department="Sales"))
    _override(a.org, "next_steps", "Zanzibar news")
    _override(a.org, "rejection", "Zanzibar decision")
    _override(b.org, "status_update", "Globex news")
    _override(b.org, "reply_ack", "Globex thanks")
    _tick(rt, frozen)  # the thank-you notes go out
    response = client.post("/api/v1/applications/app-1/status-updates", headers=a.org.headers,
                           json={"note": "Zanzibar will decide soon"})
    assert response.status_code == 202, response.get_json()
    for tenant, name in ((a, "Zanzibar Greenhouse"), (b, "Globex Greenhouse")):
        _mail_settings(tenant)
        _greenhouse(tenant, name)
    _reply(client, a, "cand-1", "Zanzibar question")
    _reply(client, b, "cand-b1", "Globex question")
    a.user = add_user(rt, a.id, f"admin@{A_WORD}.example", "admin", name="Zed Zanzibar")
    a.viewer = add_user(rt, a.id, f"vic@{A_WORD}.example", "viewer", name="Vic Zanzibar")
    b.user = add_user(rt, b.id, f"admin@{B_WORD}.example", "admin", name="Gil Globex")
    b.viewer = add_user(rt, b.id, f"vic@{B_WORD}.example", "viewer", name="Vic Globex")
    for tenant in (a, b):
        with rt.db.session() as session:
            invited, _token = invite_user(session, session.get(Organization, tenant.id), f"new@{tenant.word}.example",
                                          Role.MANAGER, now=frozen.now(), invited_by="test")
            session.commit()
            tenant.invitee = invited.id
    _tick(rt, frozen, timedelta(days=2))  # status update, forwards and acks sent; job-2's deadline missed
    _tick(rt, frozen, timedelta(days=3))  # reminders about B's candidate
    _tick(rt, frozen, timedelta(days=2))  # Mon 9 Nov: autopilot answers B's candidate on the day it is due
    _loose_message(rt, a, frozen.now())
    world = World(rt=rt, app=app, a=a, b=b, b_dashboard=app.test_client(), b_csrf="")
    for tenant in (a, b):
        _row_ids(world, tenant)
        _delivered(client, tenant, tenant.message)
    sign_in(world.b_dashboard, f"admin@{B_WORD}.example")
    world.b_csrf = csrf_token(world.b_dashboard.get("/dashboard/users").get_data(as_text=True))
    world.a_rows = snapshot(world)
    empty = [table for table, rows in world.a_rows.items() if not rows]
    assert not empty, f"A must have rows in every table, or their isolation goes unchecked: {empty}"
    return world


@pytest.fixture(scope="module")
def world(database: Any, redis_connection: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The runtime of conftest's `rt`, but module-scoped: `rt` empties every table for each test."""
    _empty_tables(database)
    redis_connection.flushdb()
    directory = tmp_path_factory.mktemp("tenants")
    settings = Settings(instance_dir=directory, outbox_dir=directory / "outbox", secret_key="test-secret",
                        testing=True, redis_url=os.environ.get("GHOSTLESS_REDIS_URL", ""),
                        database_url=database.url)
    frozen = clock_module.FrozenClock(START)
    with clock_module.using(frozen):
        rt = runtime.Runtime(settings=settings, db=database,
                             mail=OutboxProvider(directory / "outbox", clock_module.now),
                             renderer=TemplateRenderer(), _redis=redis_connection)
        runtime.install(rt)
        try:
            yield build_world(rt, frozen)
        finally:
            runtime.install(None)


# -- what B sends, and what it must get -----------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One request by B. `path` and `shows` are formatted with a= and b= (Tenant), e.g. {a.app}."""

    path: str
    expect: int | tuple[int, ...]
    json: Any = None
    form: dict[str, Any] | None = None  # dashboard forms; the CSRF token of B's session is added
    raw: Callable[[World], dict[str, Any]] | None = None  # webhooks: `data` and `headers`
    shows: str | None = None  # what of B's own data a 2xx answer must show (else the control proves nothing)
    rows: type | None = None  # the model whose `id`s a JSON list answer holds
    check: Callable[[Any], bool] | None = None  # more about a 2xx JSON answer
    # POST /api/v1/events only stores: a worker then applies the batch, and the answer judged is the
    # batch's outcome (its `Location`), so what the events did to A's rows is checked too.
    applied_by_worker: bool = False
    may_change: tuple[tuple[str, str], ...] = ()  # (table, column) of A's rows this request may touch
    typed: str | None = None  # what B itself sent and the answer may repeat (an address B typed)


def _b_events() -> dict[str, Any]:
    """Events by B that name A's application, job and candidate (app-2, job-2, cand-2) by the ATS's ids.

    They create B's own rows under those ids, so no other probe names app-2, job-2 or cand-2."""
    at = START + timedelta(hours=1)
    rejected = event("application.rejected", at, app="app-2", candidate="cand-2", job="job-2", name="Mal Globex",
                     email="mal@candidates.example", reason="Beta's reasons", ats_notification="none")
    return {"events": [_job_people(rejected, B_WORD, "Globex Analyst", "Sales"),
                       event("job.closed", at, job="job-2"), event("candidate.erased", at, candidate="cand-2")]}


def _sendgrid_event_about(message: int) -> bytes:
    return json.dumps([{"email": "someone@candidates.example", "timestamp": int(clock_module.now().timestamp()),
                        "event": "bounce", "type": "bounce", "reason": "550 no such user",
                        "sg_event_id": uuid.uuid4().hex, "sg_message_id": f"{uuid.uuid4().hex}.filter",
                        "notification_id": str(message)}]).encode()


def _mail_from_a_candidate(world: World) -> dict[str, Any]:
    """Inbound Parse with B's secret, from A's candidate's address (B's secret may have been renewed by a probe)."""
    set_secret(world.rt, world.b.id, world.b.inbound_secret)
    body, content_type = multipart(inbound_fields("Someone <cand-1@candidates.example>", subject="Hello"))
    return {"data": body, "content_type": content_type, "headers": basic(world.b.inbound_secret)}


def _no_override_of(kind: str) -> Callable[[Any], bool]:
    return lambda answer: [k["overrides"] for k in answer["kinds"] if k["kind"] == kind] == [[]]


APPLICATION = "/api/v1/applications/<string:application_id>"
CONNECTION = "/api/v1/connections/<connection_id>"
OVERRIDE = "/api/v1/templates/<kind>/overrides/<locale>"
OUTBOX = "/dashboard/outbox/<int:notification_id>"
USER = "/dashboard/users/<int:user_id>"
JOB_SETTINGS = "/dashboard/settings/jobs/<int:job_id>"
EXPORTS = ("manager", "recruiter", "department", "job", "at_risk", "breached")

API: dict[tuple[str, str], list[Probe]] = {
    ("GET", APPLICATION): [Probe("/api/v1/applications/{a.app}", 404),
                           Probe("/api/v1/applications/{b.app}", 200, shows=B_WORD)],
    ("GET", APPLICATION + "/proof"): [
        Probe("/api/v1/applications/{a.app}/proof", 404), Probe("/api/v1/applications/{a.app}/proof?format=html", 404),
        Probe("/api/v1/applications/{b.app}/proof", 200, shows=B_WORD),
        Probe("/api/v1/applications/{b.app}/proof?format=html", 200, shows=B_WORD)],
    ("POST", APPLICATION + "/status-updates"): [
        Probe("/api/v1/applications/{a.app}/status-updates", 404, json={"note": "Beta writes to your candidate"}),
        # A day in the past: refused after the application was found, so nothing changes for B either.
        Probe("/api/v1/applications/{b.app}/status-updates", 422, json={"next_date": "2026-10-01"})],
    ("GET", "/api/v1/connections"): [Probe("/api/v1/connections", 200, shows=B_WORD)],
    ("POST", "/api/v1/connections"): [Probe("/api/v1/connections", 201, shows=B_WORD, json={
        "provider": "lever", "name": "Globex Lever", "signing_secret": "globex-lever-secret"})],
    ("GET", CONNECTION): [Probe("/api/v1/connections/{a.connection}", 404),
                          Probe("/api/v1/connections/{b.connection}", 200, shows=B_WORD)],
    ("PATCH", CONNECTION): [
        Probe("/api/v1/connections/{a.connection}", 404, json={"name": "Taken by Beta", "enabled": False}),
        Probe("/api/v1/connections/{b.connection}", 200, shows=B_WORD, json={"name": "Globex Greenhouse"})],
    ("GET", CONNECTION + "/deliveries"): [
        Probe("/api/v1/connections/{a.connection}/deliveries", 404),
        Probe("/api/v1/connections/{b.connection}/deliveries", 200, rows=AtsDelivery),
        Probe("/api/v1/connections/{b.connection}/deliveries?before_id=999999", 200, rows=AtsDelivery)],
    ("POST", CONNECTION + "/poll"): [Probe("/api/v1/connections/{a.connection}/poll", 404),
                                     Probe("/api/v1/connections/{b.connection}/poll", 409)],
    ("POST", CONNECTION + "/rotate-secret"): [
        Probe("/api/v1/connections/{a.connection}/rotate-secret", 404, json={"signing_secret": "beta-owns-this"}),
        Probe("/api/v1/connections/{b.connection}/rotate-secret", 200, shows=B_WORD,
              json={"signing_secret": f"{B_WORD}-webhook-secret"})],
    ("GET", "/api/v1/deliveries/<int:delivery_id>"): [Probe("/api/v1/deliveries/{a.delivery}", 404),
                                                     Probe("/api/v1/deliveries/{b.delivery}", 200)],
    ("POST", "/api/v1/deliveries/<int:delivery_id>/retry"): [Probe("/api/v1/deliveries/{a.delivery}/retry", 404),
                                                            Probe("/api/v1/deliveries/{b.delivery}/retry", 202)],
    ("POST", "/api/v1/events"): [Probe("/api/v1/events", 200, json=_b_events(), applied_by_worker=True,
                                       check=lambda answer: answer["applied"] == 3)],
    ("GET", "/api/v1/event-batches"): [
        Probe("/api/v1/event-batches", 200, rows=EventBatch),
        Probe("/api/v1/event-batches?state=processed&before_id=999999", 200, shows="{b.batch}", rows=EventBatch)],
    ("GET", "/api/v1/event-batches/<int:batch_id>"): [Probe("/api/v1/event-batches/{a.batch}", 404),
                                                     Probe("/api/v1/event-batches/{b.batch}", 200, shows="{b.batch}")],
    ("GET", "/api/v1/notifications"): [
        Probe("/api/v1/notifications", 200, shows=B_WORD, rows=Notification),
        Probe("/api/v1/notifications?kind=next_steps", 200, rows=Notification),
        Probe("/api/v1/notifications?state=sent&limit=1000", 200, shows=B_WORD, rows=Notification)],
    ("GET", "/api/v1/obligations"): [Probe("/api/v1/obligations", 200, shows=B_WORD, rows=Obligation),
                                     Probe("/api/v1/obligations?state=open", 200, rows=Obligation),
                                     Probe("/api/v1/obligations?state=discharged", 200, rows=Obligation)],
    ("GET", "/api/v1/openapi.json"): [Probe("/api/v1/openapi.json", 200)],
    ("GET", "/api/v1/organization"): [Probe("/api/v1/organization", 200, shows="Beta Org")],
    # A closure recomputes B's open deadlines, and only B's.
    ("PATCH", "/api/v1/organization"): [Probe("/api/v1/organization", 200, shows="Beta Org", json={
        "closures": [{"day": "2026-11-13", "label": "Beta offsite"}]})],
    ("GET", "/api/v1/organization/mail"): [Probe("/api/v1/organization/mail", 200, shows="{b.id}")],
    ("PATCH", "/api/v1/organization/mail"): [Probe("/api/v1/organization/mail", 200, shows="{b.id}",
                                                   json={"locale": "de"})],
    ("POST", "/api/v1/organization/mail/inbound-secret"): [Probe("/api/v1/organization/mail/inbound-secret", 200,
                                                                 shows="{b.id}")],
    ("GET", "/api/v1/policies/jobs/<string:job_id>"): [Probe("/api/v1/policies/jobs/{a.job}", 404),
                                                       Probe("/api/v1/policies/jobs/{b.job}", 200, shows="{b.job}")],
    ("PUT", "/api/v1/policies/jobs/<string:job_id>"): [
        Probe("/api/v1/policies/jobs/{a.job}", 404, json={"autopilot": False}),
        Probe("/api/v1/policies/jobs/{b.job}", 200, shows="{b.job}", json={"first_update_working_days": 4})],
    ("GET", "/api/v1/policies/organization"): [Probe("/api/v1/policies/organization", 200)],
    # Recomputes B's open deadlines, and only B's.
    ("PUT", "/api/v1/policies/organization"): [Probe("/api/v1/policies/organization", 200,
                                                     json={"first_update_working_days": 7, "cadence_working_days": 9})],
    ("GET", "/api/v1/replies"): [Probe("/api/v1/replies", 200, shows=B_WORD, rows=CandidateReply),
                                 Probe("/api/v1/replies?state=matched&before_id=999999", 200, shows=B_WORD,
                                       rows=CandidateReply)],
    ("GET", "/api/v1/replies/<int:reply_id>"): [Probe("/api/v1/replies/{a.reply}", 404),
                                               Probe("/api/v1/replies/{b.reply}", 200, shows=B_WORD)],
    ("GET", "/api/v1/templates"): [Probe("/api/v1/templates", 200, check=_no_override_of("next_steps"))],
    # A has overrides of next_steps and rejection in English, B of status_update and reply_ack.
    ("GET", OVERRIDE): [Probe("/api/v1/templates/next_steps/overrides/en", 404),
                        Probe("/api/v1/templates/status_update/overrides/en", 200, shows=B_WORD)],
    ("PUT", OVERRIDE): [Probe("/api/v1/templates/rejection/overrides/en", 200, shows=B_WORD,
                              json={"subject": "Globex decision"})],
    ("DELETE", OVERRIDE): [Probe("/api/v1/templates/next_steps/overrides/en", 404),
                           Probe("/api/v1/templates/reply_ack/overrides/en", 204)],
    ("GET", "/api/v1/templates/<kind>/preview"): [
        Probe("/api/v1/templates/next_steps/preview", 200),
        Probe("/api/v1/templates/next_steps/preview?format=html", 200),
        Probe("/api/v1/templates/status_update/preview", 200, shows=B_WORD)],
}

DASHBOARD: dict[tuple[str, str], list[Probe]] = {
    ("GET", "/dashboard/"): [
        Probe("/dashboard/", 200, shows=B_WORD), Probe("/dashboard/?job={a.job_id}", 400),
        Probe("/dashboard/?department=Research", 400), Probe("/dashboard/?period=90&table=job&sort=cycles", 200),
        *[Probe(f"/dashboard/?export={name}", 200) for name in EXPORTS],
        Probe("/dashboard/?export=manager", 200, shows=B_WORD)],
    ("GET", "/dashboard/applications"): [
        Probe("/dashboard/applications", 200, shows=B_WORD), Probe("/dashboard/applications?q=app-1", 200),
        Probe("/dashboard/applications?q=ada", 200), Probe("/dashboard/applications?waiting=1", 200, shows=B_WORD),
        Probe("/dashboard/applications?before=999999", 200, shows=B_WORD),
        Probe("/dashboard/applications?after=0", 200, shows=B_WORD)],
    ("GET", "/dashboard/applications/<int:application_id>"): [
        Probe("/dashboard/applications/{a.app_id}", 404),
        Probe("/dashboard/applications/{b.app_id}", 200, shows=B_WORD)],
    ("GET", "/dashboard/applications/<int:application_id>/proof"): [
        Probe("/dashboard/applications/{a.app_id}/proof", 404),
        Probe("/dashboard/applications/{b.app_id}/proof", 200, shows=B_WORD)],
    ("POST", "/dashboard/applications/<int:application_id>/status-updates"): [
        Probe("/dashboard/applications/{a.app_id}/status-updates", 404, form={"note": "Beta writes to you"}),
        Probe("/dashboard/applications/{b.app_id}/status-updates", 400, form={"next_date": "soon"})],
    ("GET", "/dashboard/compliance"): [Probe("/dashboard/compliance", 200, shows=B_WORD)],
    **{("GET", f"/dashboard/compliance/{report}"): [
        Probe(f"/dashboard/compliance/{report}", 200, shows=B_WORD),
        Probe(f"/dashboard/compliance/{report}?job={{a.job_id}}", 400),
        Probe(f"/dashboard/compliance/{report}?from=2026-01-01&to=2026-12-31", 200, shows=B_WORD)]
       for report in ("ontario-esa", "ontario-esa.csv", "proof", "proof.csv")},
    ("GET", "/dashboard/messages/<int:notification_id>/html"): [
        Probe("/dashboard/messages/{a.message}/html", 404), Probe("/dashboard/messages/{a.loose}/html", 404),
        Probe("/dashboard/messages/{b.message}/html", 200)],
    ("GET", "/dashboard/outbox"): [Probe("/dashboard/outbox", 200, shows=B_WORD),
                                   Probe("/dashboard/outbox?page=2", 200)],
    ("GET", OUTBOX): [Probe("/dashboard/outbox/{a.message}", 404), Probe("/dashboard/outbox/{a.loose}", 404),
                      Probe("/dashboard/outbox/{b.message}", 200, shows=B_WORD)],
    ("GET", OUTBOX + "/html"): [Probe("/dashboard/outbox/{a.message}/html", 404),
                                Probe("/dashboard/outbox/{b.message}/html", 200)],
    ("GET", OUTBOX + "/message.eml"): [Probe("/dashboard/outbox/{a.message}/message.eml", 404),
                                       Probe("/dashboard/outbox/{b.message}/message.eml", 200, shows=B_WORD)],
    ("GET", "/dashboard/settings"): [Probe("/dashboard/settings", 200, shows="Beta Org")],
    ("GET", "/dashboard/settings/calendar"): [Probe("/dashboard/settings/calendar", 200)],
    ("POST", "/dashboard/settings/calendar"): [
        Probe("/dashboard/settings/calendar", 302, form={**calendar_form(closures="2026-11-12 Beta day"),
                                                         "action": "save"})],
    ("GET", "/dashboard/settings/jobs"): [Probe("/dashboard/settings/jobs", 200, shows=B_WORD)],
    ("GET", JOB_SETTINGS): [Probe("/dashboard/settings/jobs/{a.job_id}", 404),
                            Probe("/dashboard/settings/jobs/{b.job_id}", 200, shows=B_WORD)],
    ("POST", JOB_SETTINGS): [
        Probe("/dashboard/settings/jobs/{a.job_id}", 404, form={"first_update_working_days": "9", "action": "save"}),
        Probe("/dashboard/settings/jobs/{b.job_id}", 302, form={"first_update_working_days": "9", "action": "save"})],
    ("GET", "/dashboard/settings/policy"): [Probe("/dashboard/settings/policy", 200)],
    ("POST", "/dashboard/settings/policy"): [
        Probe("/dashboard/settings/policy", 302,
              form={**policy_form(first_update_working_days=8, cadence_working_days=8), "action": "save"})],
    ("GET", "/dashboard/settings/sender"): [Probe("/dashboard/settings/sender", 200, shows="Beta Talent")],
    ("POST", "/dashboard/settings/sender"): [Probe("/dashboard/settings/sender", 302, form={
        "sender_name": "Beta People", "sender_email": "people@beta.example", "escalation_email": "ops@beta.example",
        "action": "save"})],
    ("GET", "/dashboard/users"): [Probe("/dashboard/users", 200, shows=B_WORD)],
    ("GET", USER): [Probe("/dashboard/users/{a.user}", 404), Probe("/dashboard/users/{b.viewer}", 200, shows=B_WORD)],
    ("POST", USER + "/disable"): [Probe("/dashboard/users/{a.user}/disable", 404),
                                  Probe("/dashboard/users/{b.viewer}/disable", 302)],
    ("POST", USER + "/enable"): [Probe("/dashboard/users/{a.viewer}/enable", 404),
                                 Probe("/dashboard/users/{b.viewer}/enable", 302)],
    ("POST", USER + "/invitation"): [Probe("/dashboard/users/{a.invitee}/invitation", 404),
                                     Probe("/dashboard/users/{b.invitee}/invitation", 200, shows=B_WORD)],
    ("POST", USER + "/role"): [
        Probe("/dashboard/users/{a.user}/role", 404, form={"role": "viewer"}),
        Probe("/dashboard/users/{b.viewer}/role", 302, form={"role": "viewer"})],
    # An address that has an account at A is invited like any new address (B learns nothing about A,
    # and cannot squat it: addresses are unique per organisation), and A's user stays as it was.
    ("POST", "/dashboard/users/invite"): [
        Probe("/dashboard/users/invite", 200, form={"email": f"admin@{A_WORD}.example", "role": "admin"},
              typed=f"admin@{A_WORD}.example", shows=f"Invitation created for admin@{A_WORD}.example"),
        Probe("/dashboard/users/invite", 200, shows=B_WORD, form={"email": f"lee@{B_WORD}.example", "role": "viewer"})],
}

WEBHOOKS: dict[tuple[str, str], list[Probe]] = {
    # Anyone may post to a webhook URL; a refused signature only counts against the connection.
    ("POST", "/webhooks/<provider>/<connection_id>"): [
        Probe("/webhooks/greenhouse/{a.connection}", 401, raw=lambda w: _greenhouse_post(w.b.webhook_secret),
              may_change=(("ats_connections", "rejected_signatures"), ("ats_connections", "last_rejected_at"))),
        Probe("/webhooks/greenhouse/{b.connection}", 200, raw=lambda w: _greenhouse_post(w.b.webhook_secret))],
    ("POST", "/webhooks/sendgrid/events/<org_id>"): [
        Probe("/webhooks/sendgrid/events/{a.id}", 401,
              raw=lambda w: _signed_events(w.b.signer, _sendgrid_event_about(w.a.message))),
        # B's own URL and key, naming A's message: stored for B as unmatched, A's message untouched.
        Probe("/webhooks/sendgrid/events/{b.id}", 200, check=lambda answer: answer["unmatched"] == 1,
              raw=lambda w: _signed_events(w.b.signer, _sendgrid_event_about(w.a.message)))],
    ("POST", "/webhooks/sendgrid/inbound/<org_id>"): [
        Probe("/webhooks/sendgrid/inbound/{a.id}", 401, raw=_mail_from_a_candidate),
        Probe("/webhooks/sendgrid/inbound/{b.id}", 200, raw=_mail_from_a_candidate,
              check=lambda answer: answer["state"] == "unknown_sender")],
}

ROUTES = {**API, **DASHBOARD, **WEBHOOKS}

# Routes that hold no organisation's data, or whose only key is a secret that is not an organisation's.
EXEMPT: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "no organisation data",
    ("GET", "/readyz"): "no organisation data",
    ("GET", "/static/<path:filename>"): "files shipped with the package",
    ("GET", "/dashboard/static/<path:filename>"): "files shipped with the package",
    ("GET", "/dashboard/sign-in"): "public form",
    ("POST", "/dashboard/sign-in"): "an address signs in to its own organisation only (tests/dashboard/test_dashboard_auth.py)",
    ("POST", "/dashboard/sign-out"): "ends the requester's own session",
    ("GET", "/dashboard/invitations/<token>"): "the unguessable token is the only key (tests/dashboard/test_dashboard_users.py)",
    ("POST", "/dashboard/invitations/<token>"): "the unguessable token is the only key (tests/dashboard/test_dashboard_users.py)",
    ("GET", "/status/<token>"): "a signed token names one application (tests/candidate/test_status_page.py)",
    ("GET", "/status/<token>/withdraw"): "a signed token names one application (tests/candidate/test_status_page.py)",
    ("POST", "/status/<token>/withdraw"): "a signed token names one application (tests/candidate/test_status_page.py)",
}

# Path parameters that name one organisation's object: a route with one must be probed with A's.
OBJECT_PARAMETERS = re.compile(r"<(?:\w+:)?(application_id|connection_id|delivery_id|reply_id|job_id|notification_id|"
                               r"user_id|org_id)>")


# -- checking -------------------------------------------------------------------------------------


def snapshot(world: World) -> Snapshot:
    """Every row of A, table by table, by primary key."""
    rows: Snapshot = {}
    with world.rt.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            owner = table.c.id if table.name == "organizations" else table.c.org_id
            key = [column.name for column in table.primary_key.columns]
            rows[table.name] = {tuple(row[k] for k in key): dict(row)
                                for row in conn.execute(select(table).where(owner == world.a.id)).mappings()}
    return rows


def differences(before: Snapshot, after: Snapshot, allowed: tuple[tuple[str, str], ...]) -> list[str]:
    found = []
    for table, rows in before.items():
        now = after[table]
        for key in sorted(rows.keys() - now.keys(), key=str):
            found.append(f"{table} {key} deleted")
        for key in sorted(now.keys() - rows.keys(), key=str):
            found.append(f"{table} {key} added: {now[key]}")
        for key in sorted(rows.keys() & now.keys(), key=str):
            changed = {c: (rows[key][c], now[key][c]) for c in rows[key]
                       if rows[key][c] != now[key][c] and (table, c) not in allowed}
            if changed:
                found.append(f"{table} {key} changed (before, after): {changed}")
    return found


LINKS = re.compile(r"/dashboard/(applications|messages|outbox|settings/jobs|users)/(\d+)")
LINKED_TABLES = {"applications": "applications", "messages": "notifications", "outbox": "notifications",
                 "settings/jobs": "jobs", "users": "users"}


def leaks(world: World, text: str, answer: Any, probe: Probe, a_rows: Snapshot) -> list[str]:
    """What of A's a 2xx answer to B shows."""
    found = []
    if probe.typed:
        text = re.sub(re.escape(probe.typed), "", text, flags=re.IGNORECASE)
    lowered = text.lower()
    for marker in (A_WORD, world.a.id, world.a.connection):
        at = lowered.find(marker.lower())
        if at >= 0:
            found.append(f"{marker!r} in ...{text[max(0, at - 120):at + 80]!r}...")
    for kind, number in LINKS.findall(text):
        if (int(number),) in a_rows[LINKED_TABLES[kind]]:
            found.append(f"a link to A's {kind}/{number}")
    if probe.rows is not None:
        ids = {item.get("id", item.get("batch_id")) for item in answer} & {key[0] for key in a_rows[probe.rows.__tablename__]}
        if ids:
            found.append(f"A's {probe.rows.__tablename__} {sorted(ids)}")
    return found


def send(world: World, method: str, path: str, probe: Probe) -> Any:
    if path.startswith("/api/"):
        client = world.app.test_client()
        response = client.open(path, method=method, json=probe.json, headers=world.b.org.headers)
        if probe.applied_by_worker and response.status_code == 202:
            run_worker(world.rt, burst=True, simple=True)
            return client.get(response.headers["Location"], headers=world.b.org.headers)
        return response
    if path.startswith("/dashboard/"):
        form = None if method == "GET" else {**(probe.form or {}), "csrf_token": world.b_csrf}
        return world.b_dashboard.open(path, method=method, data=form)
    assert probe.raw is not None, f"{method} {path}: a webhook probe needs `raw`"
    return world.app.test_client().open(path, method=method, **probe.raw(world))


def probe_route(world: World, method: str, rule: str, probe: Probe) -> None:
    path = probe.path.format(a=world.a, b=world.b)
    before = world.a_rows
    response = send(world, method, path, probe)
    world.a_rows = snapshot(world)
    text = response.get_data(as_text=True)
    problems = []
    expected = probe.expect if isinstance(probe.expect, tuple) else (probe.expect,)
    if response.status_code not in expected:
        problems.append(f"answered {response.status_code}, expected {expected}: {' '.join(text.split())[:300]}")
    if response.status_code < 300:
        answer = response.get_json(silent=True)
        if shown := leaks(world, text, answer, probe, before):
            problems.append(f"the answer shows organisation A's data: {shown}")
        own = probe.shows.format(a=world.a, b=world.b) if probe.shows is not None else ""
        if own.lower() not in text.lower():
            problems.append(f"B's own {own!r} is missing from the answer, so this control proves nothing")
        if probe.check is not None and not probe.check(answer):
            problems.append(f"unexpected answer: {' '.join(text.split())[:300]}")
    if changed := differences(before, world.a_rows, probe.may_change):
        problems.append(f"organisation A's rows changed: {changed}")
    assert not problems, f"{method} {path} (route {method} {rule}) by organisation B: " + "; ".join(problems)


# -- the tests ------------------------------------------------------------------------------------


def test_every_route_has_an_isolation_case(world: World) -> None:
    served = {(method, rule.rule) for rule in world.app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    missing = sorted(served - ROUTES.keys() - EXEMPT.keys())
    assert not missing, f"routes with no isolation case: add them to ROUTES (or EXEMPT, with the reason): {missing}"
    gone = sorted((ROUTES.keys() | EXEMPT.keys()) - served)
    assert not gone, f"cases for routes the app no longer has: {gone}"
    assert not ROUTES.keys() & EXEMPT.keys()
    for (method, rule), probes in ROUTES.items():
        if OBJECT_PARAMETERS.search(rule):
            assert any("{a." in p.path for p in probes), f"{method} {rule}: no request names A's object"
            assert any("{b." in p.path for p in probes), f"{method} {rule}: no control on B's own object"


@pytest.mark.parametrize(("method", "rule"), list(ROUTES), ids=[f"{m} {r}" for m, r in ROUTES])
def test_route_keeps_organisations_apart(world: World, method: str, rule: str) -> None:
    for probe in ROUTES[(method, rule)]:
        probe_route(world, method, rule, probe)
