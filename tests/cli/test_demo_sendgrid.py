"""`ghostless demo --sendgrid-standin`: the round goes through the real SendGrid client to the local
stand-in, which checks every request against SendGrid's contract; the outbox stays empty."""

from __future__ import annotations

import io
import json
import os
import re
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from plugin import clock, runtime
from plugin.cli import main
from plugin.cli.demo import default_round_file, run_demo
from plugin.settings import Settings

DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens there: a request that used it would fail


@pytest.fixture(autouse=True)
def restore_process_state() -> Iterator[None]:
    """The demo installs its simulated clock and its (closed) runtime for the whole process."""
    previous_clock = clock.current()
    yield
    clock.install(previous_clock)
    runtime.install(None)


def _without_ghostless_env(mp: pytest.MonkeyPatch) -> None:
    # The demo always builds its own embedded instance; the test run's back end must not leak in.
    for name in list(os.environ):
        if name.startswith("GHOSTLESS_"):
            mp.delenv(name)


@pytest.fixture(scope="module")
def full_round(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The shipped round, played once through the CLI with the stand-in (it takes some seconds)."""
    instance = tmp_path_factory.mktemp("demo-sendgrid") / "inst"
    previous_clock = clock.current()
    with pytest.MonkeyPatch.context() as mp:
        _without_ghostless_env(mp)
        mp.setenv("GHOSTLESS_INSTANCE_DIR", str(instance))
        result = CliRunner().invoke(main, ["demo", "--no-serve", "--sendgrid-standin"], catch_exceptions=False)
    clock.install(previous_clock)
    runtime.install(None)
    assert result.exit_code == 0, result.output
    yield result.output, instance


def _number(output: str, label: str) -> int:
    match = re.search(rf"^\s*{re.escape(label)}\s+(\d+)", output, re.MULTILINE)
    assert match, f"{label!r} missing from the summary:\n{output}"
    return int(match.group(1))


def _summary(output: str) -> str:
    return output[output.index("\nSummary"):]


def test_demo_sends_every_message_to_the_standin_without_contract_violations(full_round) -> None:
    output, _ = full_round
    assert _number(output, "contract violations") == 0
    assert _number(output, "requests received") > 0
    # One personalization per message the ledger recorded as sent: nothing lost, nothing doubled.
    assert _number(output, "messages in them") == _number(output, "messages sent:")
    assert "key SG.demo" in output


def test_demo_with_standin_leaves_the_outbox_empty(full_round) -> None:
    output, instance = full_round
    outbox = instance / "demo" / "outbox"
    assert not outbox.exists() or list(outbox.iterdir()) == []
    assert "outbox:" not in _summary(output)


def test_demo_sends_the_closing_notices_of_a_job_in_one_request(full_round) -> None:
    output, _ = full_round
    notices = _number(output, "job_closed")  # from the ledger's per-kind counts
    match = re.search(r"closing-notice requests (\d+) \((\d+) notices\)", output)
    assert match, output
    assert (int(match.group(1)), int(match.group(2))) == (1, notices)


def _one_job_round(tmp_path: Path) -> Path:
    """The shipped round cut down to the job that closes, ending a week after it does, so it is quick."""
    script = json.loads(default_round_file().read_text())
    closed = next(e for e in script["events"] if e["type"] == "job.closed")
    script["events"] = [e for e in script["events"] if e.get("job", {}).get("id") == closed["job"]["id"]]
    script["runs_until"] = (datetime.fromisoformat(closed["occurred_at"]) + timedelta(days=7)).isoformat()
    path = tmp_path / "round.json"
    path.write_text(json.dumps(script))
    return path


def _play(tmp_path: Path, round_file: Path, name: str, **options: Any) -> str:
    out = io.StringIO()
    settings = Settings(instance_dir=tmp_path / name, secret_key="test-secret")
    assert run_demo(settings, serve=False, round_file=str(round_file), out=out, **options) == 0
    return out.getvalue()


def _ledger_lines(output: str) -> list[str]:
    """The summary up to the mail lines, which differ by design between outbox and stand-in."""
    lines = _summary(output).splitlines()
    end = next(i for i, line in enumerate(lines) if "outbox:" in line or "SendGrid stand-in:" in line)
    return lines[:end]


def test_demo_round_plays_the_same_with_the_standin_as_with_the_outbox(tmp_path, monkeypatch) -> None:
    round_file = _one_job_round(tmp_path)
    with monkeypatch.context() as mp:
        _without_ghostless_env(mp)
        outbox_output = _play(tmp_path, round_file, "outbox")
        # A proxy that does not answer: the stand-in is only reached if 127.0.0.1 bypasses it.
        for var in ("http_proxy", "HTTP_PROXY"):
            mp.setenv(var, DEAD_PROXY)
        before = {var: os.environ.get(var) for var in ("no_proxy", "NO_PROXY")}
        standin_output = _play(tmp_path, round_file, "standin", sendgrid_standin=True)
        assert {var: os.environ.get(var) for var in ("no_proxy", "NO_PROXY")} == before

    assert _ledger_lines(standin_output) == _ledger_lines(outbox_output)
    eml_files = list((tmp_path / "outbox" / "demo" / "outbox").glob("*.eml"))
    assert len(eml_files) == _number(standin_output, "messages in them") > 0
    assert _number(standin_output, "contract violations") == 0
    assert _number(standin_output, "closing-notice requests") == 1
    assert not (tmp_path / "standin" / "demo" / "outbox").exists()

    # The stand-in lived as long as the demo and no longer: its port is closed again.
    match = re.search(r"SendGrid stand-in:\s+(http://\S+)", standin_output)
    assert match, standin_output
    address = urlsplit(match.group(1))
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address.hostname, address.port), timeout=2).close()
