"""The long-running processes: sweeper loop, RQ worker, and `serve` (all three in one process)."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, fields
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

from rq import SimpleWorker, Worker
from werkzeug.serving import make_server

from plugin import clock, create_app
from plugin.ats import deliveries, polling
from plugin.ats.api_batches import dispatch_event_batches
from plugin.mail import outbox
from plugin.notify.dispatch import dispatch
from plugin.runtime import Runtime
from plugin.sla import erasure, event_batches, retention
from plugin.sla.sweep import SweepReport, sweep
from plugin.web.access_log import RedactingRequestHandler

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.serving import BaseWSGIServer

log = logging.getLogger(__name__)


@dataclass
class TickReport(SweepReport):
    """The core sweep's report plus what the rest of a tick did."""

    event_batches_requeued: int = 0  # API batches whose job was lost or whose worker died
    event_batches_forgotten: int = 0  # outcomes older than event_batches.KEEP_OUTCOMES
    anonymized: int = 0  # candidates whose retention period ended (plugin.sla.retention)
    replies_anonymized: int = 0  # unknown-sender replies scrubbed after the same period
    mail_files_removed: int = 0  # .eml copies of erased people's mail left behind by their erasure

    def summary(self) -> str:
        return (f"{super().summary()}; event batches re-queued {self.event_batches_requeued}; "
                f"retention: candidates anonymised {self.anonymized}, "
                f"unknown-sender replies scrubbed {self.replies_anonymized}"
                + (f"; erased people's outbox files removed {self.mail_files_removed}" if self.mail_files_removed else ""))


def sweep_once(rt: Runtime, at: datetime | None = None) -> TickReport:
    """One tick at `at` (default: now): due obligations and messages, ATS deliveries and polls, retention."""
    queue = rt.queue
    now = at or clock.now()
    core = sweep(rt.db, now, lambda ids: dispatch(queue, ids), rt.mail.was_sent)
    report = TickReport(**{f.name: getattr(core, f.name) for f in fields(core)})
    report.ats_deliveries_requeued = deliveries.recover(rt.db, now, lambda ids: deliveries.dispatch(queue, ids))
    report.event_batches_requeued = event_batches.recover(rt.db, now, lambda ids: dispatch_event_batches(queue, ids))
    report.event_batches_forgotten = event_batches.forget_old(rt.db, now)
    report.ats_polls = polling.claim_due(rt.db, now, rt.settings.poll_interval_minutes,
                                         lambda ids: polling.dispatch(queue, ids))
    expired = retention.anonymize_due(rt.db, now, rt.settings.retention_days)
    report.anonymized, report.replies_anonymized = expired.candidates, expired.replies
    report.mail_files_removed = remove_erased_mail_files(rt)
    return report


def remove_erased_mail_files(rt: Runtime) -> int:
    """Sweep step: .eml files of erased people's mail that their erasure could not remove (a file
    that was busy, or one a worker wrote while the erasure committed). Reads the outbox folder's
    names, asks the database which belong to erased people, removes those."""
    present: set[int] = set()
    for folder in rt.mail_copy_directories():
        present |= outbox.message_ids(folder)
    if not present:
        return 0
    with rt.db.session() as session:
        erased = erasure.erased_among(session, present)
    if not erased:
        return 0
    left = rt.remove_mail_copies(erased)
    return len(erased - left)


def sweeper_loop(rt: Runtime, stop: threading.Event) -> None:
    log.info("sweeper running every %ss", rt.settings.sweep_interval)
    while not stop.is_set():
        try:
            report = sweep_once(rt)
            if (report.queued or report.rungs or report.interviews_ended or report.ats_polls or report.anonymized
                    or report.replies_anonymized or report.mail_files_removed):
                log.info("sweep: %s", report.summary())
        except Exception:  # noqa: BLE001 - a failed tick is logged; the next one retries
            log.exception("sweep tick failed")
        stop.wait(rt.settings.sweep_interval)


class InProcessBurstWorker(SimpleWorker):
    """A SimpleWorker that drains the queue in this thread and returns, without RQ's pub/sub thread.

    RQ subscribes every worker to a channel for `rq`'s commands (shutdown, kill the horse) and, when
    the worker stops, waits up to a second for that thread to notice: 0.1 to 1 s a call, which was most
    of `ghostless demo` (407 drains, 81 s of 400 under cProfile) and a share of every test that posts.
    Nothing can address a worker that lives for one drain inside its caller, so it does not listen.
    """

    def subscribe(self) -> None:
        pass


def run_worker(rt: Runtime, burst: bool = False, simple: bool = False) -> bool:
    """An RQ worker on our queue. `simple` runs jobs in-process (no fork): tests, demo, serve."""
    worker_class = (InProcessBurstWorker if burst else SimpleWorker) if simple else Worker
    worker = worker_class([rt.queue], connection=rt.redis)
    return worker.work(burst=burst, logging_level=rt.settings.log_level, with_scheduler=False)


def web_server(host: str, port: int, app: Flask) -> BaseWSGIServer:
    """werkzeug's threaded server, whose access log shows `/status/<redacted>` (tokens are passwords)."""
    return make_server(host, port, app, threaded=True, request_handler=RedactingRequestHandler)


def serve(rt: Runtime, host: str, port: int) -> None:
    """Web + sweeper + worker in one process, for small installs and the demo. Runs in the main thread.

    1. SIGTERM stops it like Ctrl-C from the first instant, so the cleanup in step 5 always runs.
    2. Redis is connected (the embedded one started) here, before any thread exists: the threads share
       that one server, and a server that cannot start stops `serve` at once instead of in a thread.
    3. The web server binds its port here too, so a port in use is reported at once.
    4. The RQ worker runs in this thread; it installs its own SIGINT/SIGTERM handlers (a warm stop: the
       job in hand finishes, an idle worker stops at once).
    5. Whatever ended it (a signal, an exception), the threads are stopped and `rt` is closed, which
       stops the embedded Redis, with further signals held off so a second Ctrl-C cannot cut that short.
    """
    previous = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    signal.signal(signal.SIGTERM, _interrupt)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    server = None
    try:
        rt.redis.ping()
        server = web_server(host, port, create_app(runtime=rt))
        threads = [
            threading.Thread(target=server.serve_forever, name="web", daemon=True),
            threading.Thread(target=sweeper_loop, args=(rt, stop), name="sweeper", daemon=True),
        ]
        for thread in threads:
            thread.start()
        print(f"Ghostless is serving on http://{host}:{port} (API: /api/v1/openapi.json). Stop with Ctrl-C.",
              flush=True)
        run_worker(rt, burst=False, simple=True)
    except KeyboardInterrupt:
        pass  # Ctrl-C or SIGTERM before the worker took over the signals: stop the same way
    finally:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        try:
            _stop_threads(server, stop, threads)
            rt.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    log.info("stopped")


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
THREAD_STOP_TIMEOUT = 10.0  # a sweep tick in progress gets this long to finish before the runtime closes


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _stop_threads(server: BaseWSGIServer | None, stop: threading.Event, threads: list[threading.Thread]) -> None:
    stop.set()
    if server is not None:
        if any(t.name == "web" and t.is_alive() for t in threads):
            server.shutdown()  # waits for serve_forever to return, so only once it has started
        server.server_close()
    for thread in threads:
        thread.join(THREAD_STOP_TIMEOUT)
        if thread.is_alive():
            log.warning("%s thread still busy after %ss; stopping without it", thread.name, THREAD_STOP_TIMEOUT)
