"""Named mutants for the promise (issue 11): each breaks one rule on purpose; the listed tests must
go red. Applied by tests/mutants/run.py to a scratch copy of the tree, never to the tree itself.

Each `search` string must occur exactly once in its file, so a mutant that no longer applies (the
code moved on) is reported as such instead of silently testing nothing.
"""

from __future__ import annotations

MUTANTS = [
    {
        "name": "deadline-one-working-day-later",
        "why": "every deadline counted from an interview, contact or update lands one working day late",
        "file": "plugin/sla/deadlines.py",
        "search": "    day = cals.candidate.working_days_after(anchor, working_days)\n",
        "replace": "    day = cals.candidate.working_days_after(anchor, working_days + 1)\n",
        "tests": ["tests/sla/test_oracle_scenarios.py", "tests/sla/test_invariants.py::test_invariants_hold_for_any_event_sequence"],
    },
    {
        "name": "obligations-never-opened",
        "why": "an interview that ended opens no cycle: nobody is owed anything",
        "file": "plugin/sla/ledger_interviews.py",
        "search": "    obligations.open_cycle(session, org, app, anchor=interview.ends_at, opened_by=\"interview\", now=now, actor=actor)\n",
        "replace": "    return None  # mutant: the cycle is never opened\n",
        "tests": ["tests/sla/test_invariants.py::test_invariants_hold_for_any_event_sequence", "tests/sla/test_oracle_scenarios.py"],
    },
    {
        "name": "send-window-not-checked-at-send-time",
        "why": "a message claimed after its window closed (a late sweeper, a busy worker) goes out anyway",
        "file": "plugin/notify/jobs.py",
        "search": "    if opening > now:\n",
        "replace": "    if False:  # mutant: the window is only checked when scheduling\n",
        "tests": ["tests/sla/test_promises.py", "tests/sla/test_oracle_scenarios.py"],
    },
    {
        "name": "written-date-may-move",
        "why": "a deadline may move later than the date a message already gave the candidate",
        "file": "plugin/sla/deadlines.py",
        "search": "    if written_due_at is not None and written_due_at < due:\n",
        "replace": "    if False:  # mutant: dates in writing are not promises\n",
        "tests": ["tests/sla/test_promises.py", "tests/sla/test_oracle_scenarios.py"],
    },
    {
        "name": "dedupe-key-removed",
        "why": "no message gets a dedupe key (neither the default one per kind and cycle nor a caller's), so "
               "nothing in the code or the database stops a second one",
        "file": "plugin/sla/obligations.py",
        "search": "    if dedupe_key is None and obligation is not None:\n        dedupe_key = f\"{kind.value}:ob{obligation.id}\"\n",
        "replace": "    dedupe_key = None  # mutant: no dedupe key at all\n",
        "tests": ["tests/api/test_sendgrid_inbound.py", "tests/api/test_sendgrid_events.py", "tests/sla/test_ledger.py",
                  "tests/sla/test_invariants.py::test_invariants_hold_for_any_event_sequence"],
    },
    {
        "name": "autopilot-repeats-the-same-text",
        "why": "every autopilot update in a row reads like the first",
        "file": "plugin/notify/compose.py",
        "search": "        \"autopilot_variant\": autopilot_variant(run) if notification.autopilot else \"\",\n",
        "replace": "        \"autopilot_variant\": \"first\" if notification.autopilot else \"\",\n",
        "tests": ["tests/sla/test_promises.py", "tests/sla/test_oracle_scenarios.py"],
    },
    {
        "name": "person-promise-checked-on-the-organisation-calendar",
        "why": "a day a person promises is checked against the organisation's holidays, not the candidate's",
        "file": "plugin/sla/status_updates.py",
        "search": "        check_promised_day(next_date, cals.candidate, now)\n",
        "replace": "        check_promised_day(next_date, cals.org, now)\n",
        "tests": ["tests/sla/test_status_updates.py", "tests/sla/test_oracle_scenarios.py"],
    },
    {
        "name": "crash-reported-as-bounce",
        "why": "a worker that died mid-send is failed and escalated as undeliverable",
        "file": "plugin/sla/sweep.py",
        "search": "            messages.mark_unknown(session, notification, \"The worker stopped while sending; the message may or may \"\n",
        "replace": "            messages.mark_failed(session, notification, \"The worker stopped while sending; the message may or may \"\n",
        "tests": ["tests/notify/test_uncertain_sends.py"],
    },
    {
        "name": "honest-deadline-floor-removed",
        "why": "a lowered SLA or a backfilled interview sets deadlines in the past",
        "file": "plugin/sla/deadlines.py",
        "search": "    if due < now + HONEST_MARGIN:\n",
        "replace": "    if False:  # mutant: deadlines may be set in the past\n",
        "tests": ["tests/sla/test_promises.py", "tests/sla/test_oracle_scenarios.py"],
    },
]
