"""The JSON API under /api/v1: canonical events, policies, records. OpenAPI at /api/v1/openapi.json.

Every route except the OpenAPI document needs `Authorization: Bearer <org API key>`; the key decides
the organisation, and every query below is filtered by it (one organisation never sees another's data).
"""

from __future__ import annotations

from flask import Flask, request
from flask_smorest import Api

from plugin.api.common import authenticate, check_json_body
from plugin.api.connections import blp as connections_blp
from plugin.api.events import blp as events_blp
from plugin.api.mail_settings import blp as mail_settings_blp
from plugin.api.organization import blp as organization_blp
from plugin.api.policies import blp as policies_blp
from plugin.api.proof import blp as proof_blp
from plugin.api.records import blp as records_blp
from plugin.api.replies import blp as replies_blp
from plugin.api.status_updates import blp as status_updates_blp
from plugin.api.templates import blp as templates_blp

# Routes that read their JSON body with `plugin.json_input.parse_json` themselves (the same bound on
# nesting) instead of through webargs: checking it here too would parse every batch twice, the
# largest cost of an accepted request after validation (tests/api/test_hostile_input.py sends them
# deep bodies; tests/api/test_request_path.py checks these endpoints exist).
PARSE_THEIR_OWN_BODY = frozenset({"events.Events"})


def register_api(app: Flask) -> Api:
    app.config.update(
        API_TITLE="Ghostless API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "info": {"description": "Every interviewed candidate hears from the employer before a deadline."},
        },
    )
    api = Api(app)
    protected = set()
    for blueprint in (events_blp, organization_blp, policies_blp, records_blp, connections_blp,
                      mail_settings_blp, proof_blp, templates_blp, replies_blp, status_updates_blp):
        api.register_blueprint(blueprint)
        protected.add(blueprint.name)

    # Registered on the app, not the module-level blueprints, so several apps can be created
    # in one process (tests, the demo) without re-registering blueprint hooks.
    @app.before_request
    def require_api_key() -> None:
        if request.blueprint in protected:
            authenticate()
            if request.endpoint not in PARSE_THEIR_OWN_BODY:
                check_json_body()

    return api
