"""The work every API request does before its route (issue 14, ingest speed): the key's owner in one
statement, a revoked key refused, and a body parsed once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, update

from plugin import clock as clock_module
from plugin.accounts.orgs import KeyOwner, key_owner
from plugin.api import PARSE_THEIR_OWN_BODY
from plugin.models import ApiKey


def test_the_key_owner_is_one_statement(rt, org):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    with rt.db.session() as session:
        session.connection()  # the transaction's BEGIN is not the lookup's
        event.listen(rt.db.engine, "before_cursor_execute", count)
        try:
            found = key_owner(session, org.key)
        finally:
            event.remove(rt.db.engine, "before_cursor_execute", count)
    assert found == KeyOwner(org.id, org.key[:10])
    assert len(statements) == 1, statements


def test_a_revoked_or_unknown_key_finds_nothing_and_the_api_refuses_it(rt, org):
    with rt.db.session() as session:
        assert key_owner(session, org.key + "x") is None
        session.execute(update(ApiKey).where(ApiKey.org_id == org.id)
                        .values(revoked_at=clock_module.now() - timedelta(seconds=1)))
    with rt.db.session() as session:
        assert key_owner(session, org.key) is None
    assert org.client.get("/api/v1/organization", headers=org.headers).status_code == 401


def test_the_routes_that_parse_their_own_body_exist(app):
    # A renamed endpoint would silently bring back the second parse (and the first check would
    # still guard it), so a rename must show here.
    assert PARSE_THEIR_OWN_BODY <= set(app.view_functions)
