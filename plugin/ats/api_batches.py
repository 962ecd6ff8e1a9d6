"""The generic integration's job: apply a batch stored by `POST /api/v1/events`.

Any ATS (or script) that posts canonical events itself is the generic integration; its batches are
stored like an adapter's deliveries and applied the same way (`plugin.sla.apply`). The job takes
the batch's id and reads the runtime when it runs; it is enqueued only after the row is committed.
The logic (claim, apply, retry, recover) is `plugin.sla.event_batches`; this is the RQ entry point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plugin import clock, runtime
from plugin.sla import event_batches

JOB_TIMEOUT = 300  # seconds: well inside event_batches.LEASE, so a slow job is never run twice at once


def apply_event_batch(batch_id: int) -> str:
    """The job: apply one stored batch. Returns its state afterwards."""
    return event_batches.process(runtime.current().db, batch_id, now=clock.now())


def dispatch_event_batches(queue: Any, ids: Sequence[int]) -> None:
    """One job per batch, in one round trip to Redis (a pipeline: the request waits for it).
    A duplicate job is harmless: the job claims its row first."""
    with queue.connection.pipeline() as pipe:
        for batch_id in ids:
            queue.enqueue(apply_event_batch, batch_id, description=f"apply event batch {batch_id}",
                          job_timeout=JOB_TIMEOUT, result_ttl=600, failure_ttl=7 * 24 * 3600, pipeline=pipe)
        pipe.execute()
