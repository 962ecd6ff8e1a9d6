"""`ghostless sweep`, `sweeper`, `worker`, `web` and `serve`: the processes that keep the promise."""

from __future__ import annotations

import threading
from datetime import datetime

import click
from gunicorn.app.base import BaseApplication
from redis import RedisError

from plugin import clock, create_app
from plugin.cli.common import build_runtime, needs_shared_redis
from plugin.cli.common import settings as settings_from_env
from plugin.processes import run_worker, sweep_once, sweeper_loop
from plugin.processes import serve as serve_all
from plugin.runtime import EmbeddedRedisError
from plugin.settings import Settings
from plugin.web.access_log import RedactingGunicornLogger


@click.command("sweep")
@click.option("--at", "at", default=None, help="Act as if it were this instant (ISO 8601 with offset)")
def sweep_command(at: str | None) -> None:
    """Run one sweep tick (for cron and tests)."""

    instant = None
    if at is not None:
        try:
            instant = datetime.fromisoformat(at)
        except ValueError as exc:
            raise click.BadParameter(f"{at!r} is not an ISO 8601 instant", param_hint="--at") from exc
        if instant.tzinfo is None:
            raise click.BadParameter("give an offset, e.g. 2026-11-20T09:00:00Z", param_hint="--at")
        clock.install(clock.FrozenClock(instant))
    rt = build_runtime(upgrade_embedded=True)
    try:
        report = sweep_once(rt, instant)
    finally:
        rt.close()
    click.echo(f"Sweep at {(instant or clock.now()).isoformat()}: {report.summary()}")


@click.command()
def sweeper() -> None:
    """Sweep forever, every GHOSTLESS_SWEEP_INTERVAL seconds."""
    needs_shared_redis("sweeper")
    rt = build_runtime()
    try:
        sweeper_loop(rt, threading.Event())
    except KeyboardInterrupt:
        pass
    finally:
        rt.close()


@click.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty")
def worker(burst: bool) -> None:
    """Run an RQ worker that sends notifications."""

    needs_shared_redis("worker")
    rt = build_runtime()
    try:
        run_worker(rt, burst=burst)
    finally:
        rt.close()


class WebApplication(BaseApplication):  # type: ignore[misc]
    """gunicorn serving the app: `ghostless web`'s configuration, in one place the tests can read."""

    def __init__(self, settings: Settings, bind: str, workers: int, threads: int = 4) -> None:
        self.settings, self.bind, self.workers, self.threads = settings, bind, workers, threads
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", self.bind)
        self.cfg.set("workers", self.workers)
        # Threads, not sync workers: an API request spends most of its time waiting for PostgreSQL
        # and Redis (authenticate, store, commit, enqueue), and a sync worker sits idle through every
        # wait and closes each connection after one response. With 4 threads a worker serves others
        # meanwhile and keeps connections alive: POST /api/v1/events with one event went from about
        # 25% to 40% of a bare handler's events/s under the same settings (bench/ingest.py, issue 14).
        # The app is thread-safe (`ghostless serve` runs it in werkzeug's threaded server).
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", self.threads)
        self.cfg.set("accesslog", "-")
        # Status and invitation tokens are passwords: access-log lines show `/status/<redacted>`.
        self.cfg.set("logger_class", RedactingGunicornLogger)

    def load(self):  # type: ignore[no-untyped-def]
        return create_app(self.settings)


@click.command()
@click.option("--bind", default="127.0.0.1:5000", show_default=True, help="host:port")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="threads per worker (requests each worker serves at once)")
def web(bind: str, workers: int, threads: int) -> None:
    """Serve the HTTP API with gunicorn (production)."""
    settings = settings_from_env()
    if settings.is_sqlite:  # the embedded default has no separate migration step
        build_runtime(upgrade_embedded=True).close()
    WebApplication(settings, bind, workers, threads).run()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    """Web + worker + sweeper in one process (small installs; embedded default). Stop with Ctrl-C or SIGTERM:
    the embedded Redis stops with it."""
    rt = build_runtime(upgrade_embedded=True)
    try:
        serve_all(rt, host, port)
    except (EmbeddedRedisError, RedisError, OSError) as exc:  # Redis unreachable, port taken: said at start-up
        raise click.ClickException(f"cannot serve: {exc}") from exc
    finally:
        rt.close()
