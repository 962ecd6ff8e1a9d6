"""ATS connections and their deliveries.

POST /api/v1/connections                      connect an ATS; answers with the webhook URL to paste
GET  /api/v1/connections[/<id>]               list / one (secrets are never returned)
PATCH /api/v1/connections/<id>                name, enabled, credentials, options
POST /api/v1/connections/<id>/rotate-secret   new signing secret; the old one works for a grace period
POST /api/v1/connections/<id>/poll            run the reconciliation poll now
GET  /api/v1/connections/<id>/deliveries      what arrived, newest first, with outcome and error
GET  /api/v1/deliveries/<id>                  one delivery with its raw body and the events it became
POST /api/v1/deliveries/<id>/retry            process a failed delivery again
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.api.common import QueryInteger, current_org, db_session, now
from plugin.ats import connections as service
from plugin.ats import deliveries, polling
from plugin.ats.secrets import SecretBox
from plugin.models import AtsConnection, AtsDelivery, DeliveryState
from plugin.settings import HostPattern
from plugin.sla.config_schemas import StrictBoolean

blp = Blueprint("connections", __name__, url_prefix="/api/v1", description="ATS connections and webhook deliveries")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _secret() -> fields.String:
    return fields.String(validate=validate.Length(min=8, max=500, error="Between 8 and 500 characters."))


class ConnectionCreateSchema(_Strict):
    provider = fields.String(required=True, metadata={"description": "greenhouse | lever | ashby | workable"})
    name = fields.String(validate=validate.Length(min=1, max=200))
    signing_secret = _secret()
    credentials = fields.Dict(keys=fields.String(), values=fields.Raw(),
                              metadata={"description": "REST API credentials for hint checks and polling"})
    options = fields.Dict(keys=fields.String(), values=fields.Raw())


class ConnectionUpdateSchema(_Strict):
    name = fields.String(validate=validate.Length(min=1, max=200))
    enabled = StrictBoolean()
    credentials = fields.Dict(keys=fields.String(), values=fields.Raw())
    options = fields.Dict(keys=fields.String(), values=fields.Raw())


class RotateSecretSchema(_Strict):
    signing_secret = _secret()
    grace_hours = fields.Integer(load_default=24, strict=True, validate=validate.Range(min=0, max=168),
                                 metadata={"description": "how long the old secret is still accepted"})


class ConnectionSchema(Schema):
    id = fields.String()
    provider = fields.String()
    name = fields.String()
    state = fields.Function(lambda c: c.state.value)
    webhook_url = fields.Function(lambda c: _webhook_url(c))
    webhook_path = fields.Function(lambda c: f"/webhooks/{c.provider}/{c.id}")
    has_signing_secret = fields.Function(lambda c: c.signing_secret is not None)
    previous_secret_accepted_until = fields.DateTime(attribute="previous_secret_expires_at", allow_none=True)
    secret_rotated_at = fields.DateTime(allow_none=True)
    credentials_set = fields.Function(lambda c: service.credential_names(c, _box()))
    options = fields.Dict()
    polling = fields.Function(lambda c: c.next_poll_at is not None)
    next_poll_at = fields.DateTime(allow_none=True)
    last_poll_at = fields.DateTime(allow_none=True)
    last_poll_error = fields.String(allow_none=True)
    last_delivery_at = fields.DateTime(allow_none=True)
    rejected_signatures = fields.Integer()
    last_rejected_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    disabled_at = fields.DateTime(allow_none=True)


class DeliverySchema(Schema):
    id = fields.Integer()
    connection_id = fields.String()
    provider = fields.String()
    kind = fields.Function(lambda d: d.kind.value)
    vendor_event = fields.String(allow_none=True)
    delivery_key = fields.String()
    received_at = fields.DateTime()
    state = fields.Function(lambda d: d.state.value)
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    processed_at = fields.DateTime(allow_none=True)
    error = fields.String(allow_none=True)
    events = fields.List(fields.Dict(), allow_none=True)


class DeliveryDetailSchema(DeliverySchema):
    headers = fields.Dict()
    body = fields.Function(lambda d: (d.body or b"").decode("utf-8", "replace"))


class DeliveryQuerySchema(_Strict):
    state = fields.String(validate=validate.OneOf([s.value for s in DeliveryState]))
    limit = QueryInteger(load_default=50, minimum=1, maximum=500)
    before_id = QueryInteger(metadata={"description": "page: deliveries older than this id"})


def _box() -> SecretBox:
    return SecretBox(current_app.extensions["ghostless"].settings)


def _allowed_hosts() -> tuple[HostPattern, ...]:
    """The operator's extra hosts for connection URLs (the SSRF policy: plugin/ats/egress.py)."""
    return current_app.extensions["ghostless"].settings.ats_allowed_hosts  # type: ignore[no-any-return]


def _webhook_url(connection: AtsConnection) -> str:
    base = current_app.extensions["ghostless"].settings.base_url.rstrip("/")
    return f"{base}/webhooks/{connection.provider}/{connection.id}"


def _actor() -> str:
    from flask import g
    return g.actor


def _connection(connection_id: str) -> AtsConnection:
    session = db_session()
    connection = session.get(AtsConnection, connection_id)
    if connection is None or connection.org_id != current_org(session).id:
        abort(404, message=f"No connection {connection_id!r} in this organisation.")
    return connection


@contextmanager
def _saving() -> Iterator[Session]:
    """The request's session, committed after the block; invalid input is a 422 and changes nothing."""
    session = db_session()
    try:
        yield session
    except service.ConnectionError_ as exc:
        session.rollback()
        abort(422, message="The connection is invalid; nothing was changed.", errors={"json": exc.errors})
    session.commit()


@blp.route("/connections")
class Connections(MethodView):
    @blp.response(200, ConnectionSchema(many=True))
    def get(self) -> list[AtsConnection]:
        session = db_session()
        return list(session.scalars(select(AtsConnection).where(AtsConnection.org_id == current_org(session).id)
                                    .order_by(AtsConnection.created_at)))

    @blp.arguments(ConnectionCreateSchema)
    @blp.response(201, ConnectionSchema)
    @blp.doc(summary="Connect an ATS",
             description="Providers: greenhouse, lever, ashby, workable. The answer holds the webhook URL to paste "
                         "into the ATS. Secrets are encrypted at rest and never returned.")
    def post(self, body: dict[str, Any]) -> AtsConnection:
        with _saving() as session:
            connection = service.create(
                session, _box(), current_org(session).id, provider=body["provider"], name=body.get("name"),
                signing_secret=body.get("signing_secret"), credentials=body.get("credentials", {}),
                options=body.get("options", {}), now=now(), actor=_actor(), allowed_hosts=_allowed_hosts())
        return connection


@blp.route("/connections/<connection_id>")
class ConnectionItem(MethodView):
    @blp.response(200, ConnectionSchema)
    def get(self, connection_id: str) -> AtsConnection:
        return _connection(connection_id)

    @blp.arguments(ConnectionUpdateSchema)
    @blp.response(200, ConnectionSchema)
    @blp.doc(summary="Rename, enable/disable, or replace credentials/options",
             description="A disabled connection answers its ATS with 410 Gone, so the ATS stops retrying.")
    def patch(self, body: dict[str, Any], connection_id: str) -> AtsConnection:
        connection = _connection(connection_id)
        with _saving() as session:
            service.update(session, _box(), connection, name=body.get("name"), enabled=body.get("enabled"),
                           credentials=body.get("credentials"), options=body.get("options"), now=now(),
                           actor=_actor(), allowed_hosts=_allowed_hosts())
        return connection


@blp.route("/connections/<connection_id>/rotate-secret")
class RotateSecret(MethodView):
    @blp.arguments(RotateSecretSchema)
    @blp.response(200, ConnectionSchema)
    @blp.doc(summary="Rotate the signing secret",
             description="Requests signed with the new secret are accepted at once; the old secret keeps working "
                         "for `grace_hours` (default 24) so you can update the ATS without losing deliveries.")
    def post(self, body: dict[str, Any], connection_id: str) -> AtsConnection:
        if "signing_secret" not in body:
            abort(422, message="Send the new secret.", errors={"json": {"signing_secret": ["Required."]}})
        connection = _connection(connection_id)
        with _saving() as session:
            service.rotate_secret(session, _box(), connection, body["signing_secret"],
                                  timedelta(hours=body["grace_hours"]), now=now(), actor=_actor())
        return connection


@blp.route("/connections/<connection_id>/poll")
class PollNow(MethodView):
    @blp.response(202, ConnectionSchema)
    @blp.doc(summary="Run the reconciliation poll now")
    def post(self, connection_id: str) -> AtsConnection:
        connection = _connection(connection_id)
        if connection.next_poll_at is None:
            abort(409, message="This connection does not poll: it is disabled, has no API credentials, "
                               "or options.poll_interval_minutes is 0.")
        db_session().commit()
        polling.dispatch(current_app.extensions["ghostless"].queue, [connection.id])
        return connection


@blp.route("/connections/<connection_id>/deliveries")
class ConnectionDeliveries(MethodView):
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliverySchema(many=True))
    def get(self, query: dict[str, Any], connection_id: str) -> list[AtsDelivery]:
        connection = _connection(connection_id)
        statement = select(AtsDelivery).where(AtsDelivery.connection_id == connection.id)
        if "state" in query:
            statement = statement.where(AtsDelivery.state == DeliveryState(query["state"]))
        if "before_id" in query:
            statement = statement.where(AtsDelivery.id < query["before_id"])
        statement = statement.order_by(AtsDelivery.received_at.desc(), AtsDelivery.id.desc()).limit(query["limit"])
        return list(db_session().scalars(statement))


def _delivery(delivery_id: int) -> AtsDelivery:
    session = db_session()
    delivery = session.get(AtsDelivery, delivery_id)
    if delivery is None or delivery.org_id != current_org(session).id:
        abort(404, message=f"No delivery {delivery_id} in this organisation.")
    return delivery


@blp.route("/deliveries/<int:delivery_id>")
class DeliveryItem(MethodView):
    @blp.response(200, DeliveryDetailSchema)
    def get(self, delivery_id: int) -> AtsDelivery:
        return _delivery(delivery_id)


@blp.route("/deliveries/<int:delivery_id>/retry")
class DeliveryRetry(MethodView):
    @blp.response(202, DeliverySchema)
    @blp.doc(summary="Process a delivery again",
             description="For a failed delivery after fixing its cause (credentials, an ATS outage). Processing is "
                         "idempotent: events already applied are acknowledged as duplicates.")
    def post(self, delivery_id: int) -> AtsDelivery:
        delivery = _delivery(delivery_id)
        if delivery.state is DeliveryState.IGNORED:
            abort(409, message="This delivery was a ping or test request; there is nothing to process.")
        if not deliveries.retry(db_session(), delivery, now()):
            abort(409, message=f"This delivery is already {delivery.state.value}; wait for it to finish.")
        db_session().commit()
        deliveries.dispatch(current_app.extensions["ghostless"].queue, [delivery.id])
        return delivery
