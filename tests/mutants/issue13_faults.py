"""Issue 13 mutants for faults: items 10-14 (deadlocks, the database or Redis down, large job
closings, a timeout's trade-off shown, internal mail that reaches nobody).

Each entry is a plain text replacement (see run.py): `search` occurs exactly once in `file` and
becomes `replace`; the files in `tests` must then fail. The connect timeout's mutant is not here:
without it the hung-database test hangs instead of failing (seen by hand under `timeout 60`).
`batches-lock-in-event-order` is caught on PostgreSQL only: SQLite has one writer at a time.
"""

from __future__ import annotations

INTERNAL = ["tests/notify/test_internal_undelivered.py"]
BATCHES = ["tests/api/test_overlapping_batches.py"]
DOWN = ["tests/api/test_database_down.py"]
REDIS = ["tests/faults/test_redis_down.py"]
CLOSING = ["tests/sla/test_job_closing_fanout.py"]

MUTANTS = [
    {
        "name": "internal-undelivered-only-logged",
        "why": "a reminder refused for a broken recruiter address is logged and nobody learns of it",
        "file": "plugin/sla/messages.py",
        "search": "        tell_lead_internal_undelivered(session, notification, reason, now, actor)\n",
        "replace": "        pass\n",
        "tests": INTERNAL,
    },
    {
        "name": "internal-undelivered-loops",
        "why": "a refused message to the lead itself makes a notice to the same dead address",
        "file": "plugin/sla/undelivered.py",
        "search": "    loops = (not lead or lead.strip().casefold() == failed_to.casefold()",
        "replace": "    loops = (not lead",
        "tests": INTERNAL,
    },
    {
        "name": "batches-lock-in-event-order",
        "why": "two overlapping batches lock rows in opposite orders and deadlock (caught on PostgreSQL only)",
        "file": "plugin/sla/apply.py",
        "search": "            lock_in_stable_order(session, org.id, events)\n",
        "replace": "",
        "tests": BATCHES,
    },
    {
        "name": "batch-applied-in-the-request",
        "why": "POST /api/v1/events applies its batch before answering: the request's work grows with the batch",
        "file": "plugin/api/events.py",
        "search": 'dispatch_event_batches(current_app.extensions["ghostless"].queue, [batch_id])',
        "replace": 'event_batches.process(current_app.extensions["ghostless"].db, batch_id, now=at)',
        "tests": ["tests/api/test_event_batches.py"],
    },
    {
        "name": "database-down-is-a-500",
        "why": "an unreachable database answers 500 with a traceback instead of 503 and Retry-After",
        "file": "plugin/__init__.py",
        "search": "    install_unavailable_handler(app)  # the database down: 503 and Retry-After on every route\n",
        "replace": "",
        "tests": DOWN,
    },
    {
        "name": "readyz-waits-for-the-connect-timeout",
        "why": "a hung database holds the readiness probe past a load balancer's timeout",
        "file": "plugin/web/health.py",
        "search": "PROBE_TIMEOUT = 2.0",
        "replace": "PROBE_TIMEOUT = 30.0",
        "tests": DOWN,
    },
    {
        "name": "webhook-enqueue-unguarded",
        "why": "with Redis down an ATS webhook answers 500 though the delivery was stored",
        "file": "plugin/api/ats_webhooks.py",
        "search": "        except Exception:  # noqa: BLE001\n            log.exception(\"could not enqueue ATS delivery",
        "replace": "        except ZeroDivisionError:  # noqa: BLE001\n            log.exception(\"could not enqueue ATS delivery",
        "tests": REDIS,
    },
    {
        "name": "lost-sends-never-requeued",
        "why": "messages claimed while Redis was down are never handed to a worker",
        "file": "plugin/sla/sweep.py",
        "search": "    _recover_in_flight(db, now, dispatch, check, report)\n",
        "replace": "",
        "tests": REDIS,
    },
    {
        "name": "redis-down-sign-in-is-a-500",
        "why": "signing in with Redis down answers 500 instead of 503 and Retry-After",
        "file": "plugin/web/unavailable.py",
        "search": "    @app.errorhandler(redis.ConnectionError)\n",
        "replace": "",
        "tests": REDIS,
    },
    {
        "name": "closing-fan-out-not-swept",
        "why": "a job closed with more candidates than one request adds tells only the first 200",
        "file": "plugin/sla/sweep.py",
        "search": "    _in_batches(db, report, lambda s: _continue_job_closings(s, now, report))\n",
        "replace": "",
        "tests": CLOSING,
    },
    {
        "name": "reopen-keeps-fanning-out",
        "why": "a job reopened during its closing's fan-out goes on telling candidates it is closed",
        "file": "plugin/sla/ledger_jobs.py",
        "search": "    job.closing_fanout_after = job.closing_hold_until = None  # a closing still fanning out stops here\n",
        "replace": "",
        "tests": CLOSING,
    },
    {
        "name": "unknown-fate-unexplained",
        "why": "the timeline shows 'state unknown' without saying why it is not sent again",
        "file": "plugin/dashboard/timeline_entries.py",
        "search": "    if notification.state is NotificationState.UNKNOWN:",
        "replace": "    if False:",
        "tests": ["tests/dashboard/test_dashboard_timeline.py::test_a_message_of_unknown_fate_says_why_it_is_not_sent_again"],
    },
]
