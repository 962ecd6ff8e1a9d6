"""The long-running processes: sweeper loop, RQ worker, and `serve` (all three in one process)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, fields
from datetime import datetime

from rq import SimpleWorker, Worker

from plugin import clock, retention
from plugin.ats import deliveries, polling
from plugin.notify.jobs import dispatch
from plugin.runtime import Runtime
from plugin.sla.sweep import SweepReport, sweep

log = logging.getLogger(__name__)


@dataclass
class TickReport(SweepReport):
    """The core sweep's report plus what the rest of a tick did."""

    anonymised: int = 0  # candidates whose retention period ended (plugin.retention)
    replies_anonymised: int = 0  # unknown-sender replies scrubbed after the same period

    def summary(self) -> str:
        return (f"{super().summary()}; retention: candidates anonymised {self.anonymised}, "
                f"unknown-sender replies scrubbed {self.replies_anonymised}")


def sweep_once(rt: Runtime, at: datetime | None = None) -> TickReport:
    """One tick at `at` (default: now): due obligations and messages, ATS deliveries and polls, retention."""
    queue = rt.queue
    now = at or clock.now()
    core = sweep(rt.db, now, lambda ids: dispatch(queue, ids), rt.mail.was_sent)
    report = TickReport(**{f.name: getattr(core, f.name) for f in fields(core)})
    report.ats_deliveries_requeued = deliveries.recover(rt.db, now, lambda ids: deliveries.dispatch(queue, ids))
    report.ats_polls = polling.claim_due(rt.db, now, rt.settings.poll_interval_minutes,
                                         lambda ids: polling.dispatch(queue, ids))
    expired = retention.anonymise_due(rt.db, now, rt.settings.retention_days)
    report.anonymised, report.replies_anonymised = expired.candidates, expired.replies
    return report


def sweeper_loop(rt: Runtime, stop: threading.Event) -> None:
    log.info("sweeper running every %ss", rt.settings.sweep_interval)
    while not stop.is_set():
        try:
            report = sweep_once(rt)
            if (report.queued or report.rungs or report.interviews_ended or report.ats_polls or report.anonymised
                    or report.replies_anonymised):
                log.info("sweep: %s", report.summary())
        except Exception:  # noqa: BLE001 - a failed tick is logged; the next one retries
            log.exception("sweep tick failed")
        stop.wait(rt.settings.sweep_interval)


def run_worker(rt: Runtime, burst: bool = False, simple: bool = False) -> bool:
    """An RQ worker on our queue. `simple` runs jobs in-process (no fork): tests, demo, serve."""
    worker_class = SimpleWorker if simple else Worker
    worker = worker_class([rt.queue], connection=rt.redis)
    return worker.work(burst=burst, logging_level=rt.settings.log_level, with_scheduler=False)


def serve(rt: Runtime, host: str, port: int) -> None:
    """Web + sweeper + worker in one process, for small installs and the demo."""
    from werkzeug.serving import make_server

    from plugin import create_app

    app = create_app(runtime=rt)
    server = make_server(host, port, app, threaded=True)
    stop = threading.Event()
    threads = [
        threading.Thread(target=server.serve_forever, name="web", daemon=True),
        threading.Thread(target=sweeper_loop, args=(rt, stop), name="sweeper", daemon=True),
    ]
    for thread in threads:
        thread.start()
    print(f"Ghostless is serving on http://{host}:{port} (API: /api/v1/openapi.json). Stop with Ctrl-C.")
    try:
        run_worker(rt, burst=False, simple=True)  # main thread: RQ installs its signal handlers here
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.shutdown()
