"""Issue 13, item 9 mutants: hostile input (deep JSON, verify before parse, numbers, the documented
answers, access logs, file modes, replayed bodies). Each was seen to turn the listed tests red.

Each entry is a plain text replacement (see run.py): `search` occurs exactly once in `file` and
becomes `replace`; the tests listed must then fail.
"""

from __future__ import annotations

H = "tests/api/test_hostile_input.py"
FUZZ = "tests/api/test_openapi_fuzz.py"

MUTANTS = [
    {
        "name": "deep-json-recursion-not-caught",
        "why": "Python's RecursionError on 100,000 `[` escapes as a 500",
        "file": "plugin/json_input.py",
        "search": "    except RecursionError:\n",
        "replace": "    except ZeroDivisionError:\n",
        "tests": [f"{H}::test_json_nested_100000_deep_is_a_400_saying_so_on_the_api"],
    },
    {
        "name": "deep-json-limit-raised",
        "why": "JSON a thousand levels deep is read (and recursed into by whatever reads it next)",
        "file": "plugin/json_input.py",
        "search": "MAX_DEPTH = 32\n",
        "replace": "MAX_DEPTH = 10_000\n",
        "tests": [f"{H}::test_json_just_past_the_nesting_limit_is_refused_and_within_it_is_read"],
    },
    {
        "name": "api-json-check-dropped",
        "why": "flask-smorest parses the body with the standard library: a deep body is a 500 again",
        "file": "plugin/api/__init__.py",
        "search": "            check_json_body()\n",
        "replace": "",
        "tests": [f"{H}::test_json_nested_100000_deep_is_a_400_saying_so_on_the_api"],
    },
    {
        "name": "webhook-parses-before-verifying",
        "why": "every ATS body is parsed before its signature is checked",
        "file": "plugin/ats/base.py",
        "search": "    signs_raw_body: ClassVar[bool] = True\n",
        "replace": "    signs_raw_body: ClassVar[bool] = False\n",
        "tests": [f"{H}::test_an_unsigned_ats_webhook_is_refused_before_its_body_is_parsed"],
    },
    {
        "name": "sendgrid-events-unbounded-parse",
        "why": "a signed deep SendGrid batch is a 500",
        "file": "plugin/mail/sendgrid_events.py",
        "search": "        payload = parse_json(body)",
        "replace": "        payload = __import__('json').loads(body)",
        "tests": [f"{H}::test_sendgrid_events_deep_and_signed_is_a_400_unsigned_a_401"],
    },
    {
        "name": "id-converter-not-installed",
        "why": "`<int:id>` takes any digits: ids past the column's range reach the database",
        "file": "plugin/web/numbers.py",
        "search": '    app.url_map.converters["int"] = DatabaseIdConverter\n',
        "replace": "    pass\n",
        "tests": [f"{H}::test_every_route_with_an_integer_id_answers_404_for_ids_past_its_column_or_in_other_digits",
                  f"{H}::test_the_openapi_document_bounds_integer_ids_to_what_the_columns_hold"],
    },
    {
        "name": "id-converter-unbounded",
        "why": "an id of 2**31 or more is a 500 on PostgreSQL",
        "file": "plugin/web/numbers.py",
        "search": "max=MAX_ID if max is None else max",
        "replace": "max=max",
        "tests": [f"{H}::test_every_route_with_an_integer_id_answers_404_for_ids_past_its_column_or_in_other_digits"],
    },
    {
        "name": "query-integer-any-digits",
        "why": "`?before_id=١٢` is read as 12",
        "file": "plugin/api/common.py",
        "search": "            if not ASCII_INTEGER.fullmatch(value):\n",
        "replace": "            if False:\n",
        "tests": [f"{H}::test_api_query_integers_in_other_digits_or_past_64_bits_are_refused_naming_the_parameter"],
    },
    {
        "name": "query-integer-unbounded",
        "why": "`?before_id=2**63` reaches the database",
        "file": "plugin/api/common.py",
        "search": "validate=validate.Range(min=minimum, max=maximum)",
        "replace": "validate=validate.Range(min=minimum)",
        "tests": [f"{H}::test_api_query_integers_in_other_digits_or_past_64_bits_are_refused_naming_the_parameter"],
    },
    {
        "name": "page-numbers-any-digits",
        "why": "`?page=١٢` on a dashboard page is read as page 12",
        "file": "plugin/web/numbers.py",
        "search": 'ASCII_INTEGER = re.compile(r"-?[0-9]+")',
        "replace": 'ASCII_INTEGER = re.compile(r"-?\\d+")',
        "tests": [f"{H}::test_dashboard_page_numbers_in_other_digits_or_past_64_bits_are_a_400"],
    },
    {
        "name": "preview-documented-as-json-only",
        "why": "the template preview answers text/plain where the document says JSON",
        "file": "plugin/api/templates.py",
        "search": '                    "text/plain": {"schema": {"type": "string"}}}}})\n',
        "replace": "                    }}})\n",
        "tests": [f"{H}::test_template_preview_answers_a_content_type_its_document_names"],
    },
    {
        "name": "proof-documented-as-json-only",
        "why": "the proof answers text/html where the document says JSON (found by the fuzzer)",
        "file": "plugin/api/proof.py",
        "search": '"text/html": {"schema": {"type": "string"}}}}})',
        "replace": "}}})",
        "tests": [FUZZ],
    },
    {
        "name": "access-log-not-redacted",
        "why": "status and invitation tokens are written to the access logs",
        "file": "plugin/web/access_log.py",
        "search": "    return _SECRET_SEGMENT.sub(lambda m: m.group(1) + REDACTED, text)\n",
        "replace": "    return text\n",
        "tests": [f"{H}::test_gunicorn_access_log_of_ghostless_web_redacts_status_and_invitation_tokens",
                  f"{H}::test_werkzeug_access_log_of_ghostless_serve_redacts_status_and_invitation_tokens"],
    },
    {
        "name": "gunicorn-logger-not-configured",
        "why": "`ghostless web` logs with gunicorn's own logger",
        "file": "plugin/cli/processes.py",
        "search": '        self.cfg.set("logger_class", RedactingGunicornLogger)\n',
        "replace": "",
        "tests": [f"{H}::test_gunicorn_access_log_of_ghostless_web_redacts_status_and_invitation_tokens"],
    },
    {
        "name": "sqlite-file-default-mode",
        "why": "SQLite creates the database 0644: every user on the machine reads it",
        "file": "plugin/db.py",
        "search": "        _private_sqlite_file(url)\n",
        "replace": "",
        "tests": [f"{H}::test_the_sqlite_file_and_its_journal_are_readable_by_their_owner_only"],
    },
    {
        "name": "outbox-folder-default-mode",
        "why": "the outbox folder is created 0755",
        "file": "plugin/mail/outbox.py",
        "search": "        private_folder(self.directory)",
        "replace": "        self.directory.mkdir(parents=True, exist_ok=True)",
        "tests": [f"{H}::test_outbox_folder_and_each_mail_are_readable_by_their_owner_only"],
    },
    {
        "name": "replayed-body-not-deduplicated",
        "why": "a signed Greenhouse body under a new Greenhouse-Event-ID is stored and applied again",
        "file": "plugin/api/ats_webhooks.py",
        "search": "            content_hash=body_hash(body), body=body,",
        "replace": "            body=body,",
        "tests": [f"{H}::test_a_greenhouse_body_replayed_under_a_new_event_id_is_a_duplicate_applied_once"],
    },
]
