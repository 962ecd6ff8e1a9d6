"""Issue 13, item 8 mutants: erasure and retention leaving a copy of a person's data somewhere.

Each entry is a plain text replacement (see run.py): `search` occurs exactly once in `file` and
becomes `replace`; the files in `tests` must then fail (tests/sla/test_erasure_leaves_nothing.py
names the table and column, file or Redis key where the copy was found). All were seen going red on
SQLite + embedded Redis; the two SQLite ones (`no-secure-delete`, `no-wal-checkpoint`) only there.
"""

from __future__ import annotations

TESTS = ["tests/sla/test_erasure_leaves_nothing.py"]

MUTANTS = [
    {
        "name": "erasure-keeps-delivery-detail",
        "why": "a bounce reason quoting the address stays on the erased person's message",
        "file": "plugin/sla/erasure.py",
        "search": "                delivery_detail=None, last_error=None)",
        "replace": "                last_error=None)",
        "tests": TESTS,
    },
    {
        "name": "erasure-keeps-mail-event-detail",
        "why": "SendGrid's bounce detail stays in mail_events",
        "file": "plugin/sla/erasure.py",
        "search": ".values(raw=None, detail=None))",
        "replace": ".values(raw=None))",
        "tests": TESTS,
    },
    {
        "name": "erasure-leaves-audit-trail",
        "why": "audit entries keep the undeliverable reason that quotes the address",
        "file": "plugin/sla/erasure.py",
        "search": "    _redact_audit(session, org_id, entities, pattern)\n",
        "replace": "    pass\n",
        "tests": TESTS,
    },
    {
        "name": "erasure-redacts-parts-of-words",
        "why": "a name's word matched inside other words: \"Ann\" erases \"the channel was closed\" too",
        "file": "plugin/sla/erasure.py",
        "search": 'alternatives += [rf"(?<!\\w){re.escape(w)}(?!\\w)" for w',
        "replace": "alternatives += [re.escape(w) for w",
        "tests": TESTS,
    },
    {
        "name": "erasure-keeps-rejection-reason",
        "why": "the ATS's free-text rejection reason stays on the application",
        "file": "plugin/sla/erasure.py",
        "search": ".values(rejection_reason=None))",
        "replace": ".values(rejection_reason=Application.rejection_reason))",
        "tests": TESTS,
    },
    {
        "name": "erasure-keeps-replies",
        "why": "the candidate's reply (sender, subject, text) stays",
        "file": "plugin/sla/erasure.py",
        "search": "    reply_ids = _erase_replies(session, org_id, candidate, traces)\n",
        "replace": "    reply_ids = set()\n",
        "tests": TESTS,
    },
    {
        "name": "erasure-keeps-pending-deliveries",
        "why": "an ATS delivery waiting for its job keeps its body, and the API returns it",
        "file": "plugin/sla/erasure_deliveries.py",
        "search": "        if not person.named_in(payload if payload is not None else row.body.decode(\"utf-8\", \"replace\")):",
        "replace": "        if True:",
        "tests": TESTS,
    },
    {
        "name": "erasure-keeps-poll-records",
        "why": "a waiting poll page keeps the erased person's record",
        "file": "plugin/sla/erasure_deliveries.py",
        "search": " if not person.named_in(record)]",
        "replace": "]",
        "tests": TESTS,
    },
    {
        "name": "erasure-keeps-outbox-files",
        "why": "the .eml copies stay in the outbox after the erasure commits",
        "file": "plugin/runtime.py",
        "search": "        self.remove_mail_copies(notification_ids)\n        self.forget",
        "replace": "        self.forget",
        "tests": TESTS,
    },
    {
        "name": "erasure-keeps-send-job-results",
        "why": "a send job's result quoting a refused address stays in Redis",
        "file": "plugin/runtime.py",
        "search": "        self.forget_send_jobs(notification_ids)\n",
        "replace": "        pass\n",
        "tests": TESTS,
    },
    {
        "name": "sweep-leaves-erased-files",
        "why": "a file the erasure could not remove (a late worker's) stays for good",
        "file": "plugin/processes.py",
        "search": "    report.mail_files_removed = remove_erased_mail_files(rt)\n",
        "replace": "    report.mail_files_removed = 0\n",
        "tests": TESTS,
    },
    {
        "name": "dashboard-serves-erased-file",
        "why": "the dashboard's outbox serves an erased person's .eml while it is still on disk",
        "file": "plugin/dashboard/outbox.py",
        "search": "    if notification.candidate is not None and notification.candidate.erased_at is not None:",
        "replace": "    if False:",
        "tests": TESTS,
    },
    {
        "name": "no-secure-delete",
        "why": "SQLite leaves the erased values in freed space of the database file",
        "file": "plugin/db.py",
        "search": '    cursor.execute("PRAGMA secure_delete=ON")',
        "replace": '    cursor.execute("PRAGMA secure_delete=OFF")',
        "tests": TESTS,
    },
    {
        "name": "no-wal-checkpoint",
        "why": "SQLite's write-ahead log keeps the pages the erasure replaced",
        "file": "plugin/sla/erasure.py",
        "search": '    if bind.dialect.name != "sqlite":\n        return\n    raw',
        "replace": '    if True:\n        return\n    raw',
        "tests": TESTS,
    },
]
