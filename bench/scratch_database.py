"""A scratch PostgreSQL database that a benchmark creates, uses and drops: never one it did not create.

A benchmark is given a server (any PostgreSQL URL: only its host, port and credentials are used) and
the NAME of a scratch database, which must start with `bench`. It connects to the server's `postgres`
maintenance database, creates NAME and writes a marker table into it (`ghostless_bench_scratch`). It
drops a database only when that marker is there: one it created in this run, or one an earlier run
kept (`--keep`). A database of that name without the marker (someone's data, a test database) is
refused before anything is written to it.

The marker also remembers what was seeded (`seeded` -> a free-form description), so a kept database
can be reused by a later run (`--reuse`) without seeding it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url

from plugin.settings import normalize_database_url

MARKER_TABLE = "ghostless_bench_scratch"
NAME_PREFIX = "bench"


class Refused(SystemExit):
    """The named database exists and no benchmark created it, or the name is not a scratch name."""


@dataclass
class ScratchDatabase:
    url: str  # SQLAlchemy URL of the scratch database (psycopg 3 driver)
    name: str
    reused: bool  # an earlier run's kept database, used as it was

    def get(self, key: str) -> str | None:
        with _engine(make_url(self.url)) as engine, engine.connect() as conn:
            return conn.execute(text(f"SELECT value FROM {MARKER_TABLE} WHERE key = :key"), {"key": key}).scalar()

    def put(self, key: str, value: str) -> None:
        with _engine(make_url(self.url)) as engine, engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {MARKER_TABLE} WHERE key = :key"), {"key": key})
            conn.execute(text(f"INSERT INTO {MARKER_TABLE} (key, value) VALUES (:key, :value)"),
                         {"key": key, "value": value})


def scratch_url(server_url: str, name: str) -> URL:
    if not name.startswith(NAME_PREFIX) or not name.replace("_", "").isalnum():
        raise Refused(f"refusing scratch database name {name!r}: it must start with {NAME_PREFIX!r} and hold only "
                      "letters, digits and underscores")
    return make_url(normalize_database_url(server_url)).set(database=name)


def create(server_url: str, name: str, *, script: str, reuse: bool = False) -> ScratchDatabase:
    """Create database `name` on the server of `server_url` (or take over an earlier run's, see module doc)."""
    target = scratch_url(server_url, name)
    with _engine(target.set(database="postgres")) as admin, admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).scalar()
        if exists:
            if not _has_marker(target):
                raise Refused(f"refusing to touch database {name!r}: it exists and has no {MARKER_TABLE} table, so "
                              "no benchmark created it. Choose another name (--database).")
            if reuse:
                return ScratchDatabase(target.render_as_string(hide_password=False), name, reused=True)
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))  # ours, kept by an earlier run
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    with _engine(target) as engine, engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {MARKER_TABLE} (key text PRIMARY KEY, value text NOT NULL)"))
        conn.execute(text(f"INSERT INTO {MARKER_TABLE} (key, value) VALUES ('created_by', :script), "
                          "('created_at', :at)"), {"script": script, "at": datetime.now(UTC).isoformat()})
    return ScratchDatabase(target.render_as_string(hide_password=False), name, reused=False)


def drop(scratch: ScratchDatabase) -> None:
    """Drop the scratch database, after checking its marker once more."""
    target = make_url(scratch.url)
    if not _has_marker(target):
        raise Refused(f"refusing to drop {scratch.name!r}: its {MARKER_TABLE} table is gone")
    with _engine(target.set(database="postgres")) as admin, admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{scratch.name}" WITH (FORCE)'))


def _has_marker(target: URL) -> bool:
    with _engine(target) as engine, engine.connect() as conn:
        return bool(conn.execute(text("SELECT to_regclass(:table) IS NOT NULL"), {"table": MARKER_TABLE}).scalar())


class _engine:  # noqa: N801 - used as `with _engine(url) as engine`, disposed at the end
    def __init__(self, url: URL) -> None:
        self.engine: Engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1)

    def __enter__(self) -> Engine:
        return self.engine

    def __exit__(self, *_exc: object) -> None:
        self.engine.dispose()
