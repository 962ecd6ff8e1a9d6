"""Database plumbing: declarative base, an aware-UTC datetime type, engine and sessions.

Plain SQLAlchemy 2 (not Flask-SQLAlchemy): the deadline engine, the sweeper and RQ jobs use the
database without a Flask app.
"""

from __future__ import annotations

import os
import weakref
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from plugin.private_files import private_file

# Stable constraint names, so Alembic migrations can refer to them on every back end.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# PostgreSQL timeouts (plugin.db._make_engine). Generous for the longest legitimate statement (a
# dashboard report over a large organisation takes about a second), short against a hang.
CONNECT_TIMEOUT = 5  # seconds
STATEMENT_TIMEOUT_MS = 60_000
LOCK_TIMEOUT_MS = 20_000
POOL_TIMEOUT = 10  # seconds


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns aware UTC datetimes.

    SQLite keeps no offset, so without this a round trip would hand back naive values and every
    comparison with `clock.now()` would fail. Naive input is refused: it is always a bug here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"Naive datetime {value!r} cannot be stored; use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Database:
    """An engine and a session factory for one database URL."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url, echo)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        _forget_pool_in_forked_children(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _forget_pool_in_forked_children(engine: Engine) -> None:
    """A forked process (RQ's work horse, gunicorn's workers) must not use its parent's pooled
    connections: both would talk on one server session (on PostgreSQL, psycopg's prepared statements
    then collide). The child drops the pool without closing the parent's connections and opens its own,
    as SQLAlchemy's documentation on multiprocessing advises."""
    ref = weakref.ref(engine)

    def in_child() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose(close=False)

    os.register_at_fork(after_in_child=in_child)


def _make_engine(url: str, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take the write lock at BEGIN instead,
        # so two writers queue up rather than fail half-way with "database is locked".
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    # JIT compilation costs PostgreSQL ~0.4 s on the dashboard's report queries over large
    # organisations and saves nothing on the short queries everything else runs: off.
    # A database that does not answer must not hold a request (or a worker) for minutes: connecting
    # gives up after CONNECT_TIMEOUT, a statement after STATEMENT_TIMEOUT, waiting for a row lock
    # after LOCK_TIMEOUT, and waiting for a pooled connection after POOL_TIMEOUT; the web faces then
    # answer 503 with Retry-After (plugin.web.unavailable), and jobs and the sweeper try again later.
    options = f"-c jit=off -c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS}"
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_timeout=POOL_TIMEOUT,
                         connect_args={"options": options, "connect_timeout": CONNECT_TIMEOUT})


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use 0644): it holds candidates' names
    and addresses. SQLite gives the -wal and -shm files the database file's mode."""
    path = make_url(url).database
    if path and path != ":memory:" and not path.startswith("file:"):
        private_file(Path(path))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" listener issue BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # freed space is zeroed: erased data leaves the file
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
