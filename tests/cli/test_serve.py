"""`ghostless serve` run as a user runs it: a real process on the embedded default (SQLite file, embedded
Redis, .eml outbox), real HTTP, the real wall clock, then Ctrl-C or SIGTERM.

Whatever back end the rest of the suite runs on, this file always runs on the embedded default:
`serve` exists for it. It proves three things issue 11 found missing: an event posted over HTTP
becomes mail (the web thread and the worker share one Redis), there is exactly one embedded Redis
while serving, and none is left running once `serve` has stopped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.message import Message
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import interview_done
from test_cli import redis_servers_under

START_TIMEOUT = 30.0  # import, migrations and the embedded Redis; about 3 s here
MAIL_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SIGINT_EXITS = {0, 130, -signal.SIGINT}  # a clean return, or the shell's and Python's ways of saying Ctrl-C
SIGTERM_EXITS = {0, 143}  # -SIGTERM would mean it died without cleaning up


def _ghostless(*args: str) -> list[str]:
    """The console script a `pip install -e .` put next to this interpreter, as a user would type it."""
    script = shutil.which("ghostless", path=str(Path(sys.executable).parent))
    if script is not None:
        return [script, *args]
    return [sys.executable, "-c", "import sys; from plugin.cli import main; sys.exit(main())", *args]


def _embedded_env(instance: Path) -> dict[str, str]:
    """This environment without any GHOSTLESS_* setting (the suite may point at PostgreSQL and a shared
    Redis; `serve` must be tested on what it owns), plus a fast sweep."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("GHOSTLESS_")}
    env.update(GHOSTLESS_INSTANCE_DIR=str(instance), GHOSTLESS_SWEEP_INTERVAL="1", PYTHONUNBUFFERED="1")
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _zone_near_noon(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now, so the candidate's send window is open whenever
    the test runs (Etc/GMT-N is N hours *ahead* of UTC)."""
    offset = 12 - now.hour  # from -11 to +12, all of which exist as Etc/GMT zones
    return f"Etc/GMT{-offset:+d}"


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    instance: Path
    log: Path
    base: str
    http: requests.Session

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def call(self, method: str, path: str, key: str, body: Any) -> requests.Response:
        return self.http.request(method, self.base + path, json=body, timeout=10,
                                 headers={"Authorization": f"Bearer {key}"})

    def stop(self, sig: signal.Signals) -> int:
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`ghostless serve` still running {STOP_TIMEOUT:.0f} s after {sig.name}:\n{self.output()}")


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Path]:
    inst = tmp_path / "instance"
    yield inst
    # Only after the test's own assertions: leave nothing of ours running, whatever happened.
    for pid in redis_servers_under(inst.resolve()):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def serve(instance: Path, tmp_path: Path) -> Iterator[Served]:
    """`ghostless serve --port <free>` in its own process, answering /readyz."""
    env = _embedded_env(instance)
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(_ghostless("serve", "--port", str(port := _free_port())), cwd=tmp_path, env=env,
                                   stdout=sink, stderr=subprocess.STDOUT)
    http = requests.Session()
    http.trust_env = False  # a proxy from the environment must not sit between the test and 127.0.0.1
    served = Served(process, instance, log, f"http://127.0.0.1:{port}", http)
    try:
        _wait_ready(served)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        http.close()


def _wait_ready(served: Served) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"`ghostless serve` exited with {served.process.returncode}:\n{served.output()}")
        try:
            if served.http.get(served.base + "/readyz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"`ghostless serve` not ready after {START_TIMEOUT:.0f} s:\n{served.output()}")


def _create_org(instance: Path, cwd: Path) -> str:
    """`ghostless org create` against the same instance, before `serve` starts; returns the API key."""
    done = subprocess.run(_ghostless("org", "create", "Acme", "--timezone", "UTC", "--country", "GB"), cwd=cwd,
                          env=_embedded_env(instance), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.split("API key (shown once, store it now):")[1].split()[0]


@pytest.fixture
def api_key(instance: Path, tmp_path: Path) -> str:
    return _create_org(instance, tmp_path)


def _open_all_week(served: Served, key: str) -> None:
    """Every day a working day with no holidays, and a send window as wide as a day: candidate mail may
    leave now, whatever the wall clock says."""
    org = served.call("PATCH", "/api/v1/organization", key,
                      {"timezone": "UTC", "holiday_country": None, "working_weekdays": list(range(7))})
    assert org.status_code == 200, org.text
    policy = served.call("PUT", "/api/v1/policies/organization", key,
                         {"send_window_start": "00:00", "send_window_end": "23:59"})
    assert policy.status_code == 200, policy.text


def _wait_for_eml(outbox: Path, kind: str, served: Served) -> Message:
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob(f"*-{kind}.eml")):
            return message_from_bytes(path.read_bytes())
        if served.process.poll() is not None:
            pytest.fail(f"`ghostless serve` exited with {served.process.returncode}:\n{served.output()}")
        time.sleep(0.25)
    pytest.fail(f"no {kind} .eml in {outbox} after {MAIL_TIMEOUT:.0f} s (outbox: "
                f"{sorted(p.name for p in outbox.glob('*'))}):\n{served.output()}")


# `api_key` comes before `serve` on purpose: the organisation is created before `serve` starts.
def test_serve_mails_an_event_posted_over_http_and_ctrl_c_leaves_no_redis(api_key: str, serve: Served) -> None:
    instance = serve.instance.resolve()
    assert len(redis_servers_under(instance)) == 1, "serve must own exactly one embedded Redis"
    _open_all_week(serve, api_key)
    now = datetime.now(timezone.utc)
    ended = interview_done(now - timedelta(minutes=1), candidate="c-serve", app="a-serve",
                           email="ada@example.com", timezone=_zone_near_noon(now))
    posted = serve.call("POST", "/api/v1/events", api_key, ended)
    assert posted.status_code == 202, posted.text

    # Mail only appears if the web thread's enqueue (the batch) and the sweeper's (the message) reach
    # the worker's Redis.
    mail = _wait_for_eml(instance / "outbox", "next_steps", serve)
    assert mail["X-Ghostless-Kind"] == "next_steps"
    assert parseaddr(mail["To"])[1] == "ada@example.com"
    assert len(redis_servers_under(instance)) == 1, "a second embedded Redis appeared while serving"

    code = serve.stop(signal.SIGINT)
    assert code in SIGINT_EXITS, f"exit code {code}:\n{serve.output()}"
    assert redis_servers_under(instance) == [], f"Ctrl-C left the embedded Redis running:\n{serve.output()}"


def test_serve_stops_its_embedded_redis_on_sigterm(serve: Served) -> None:
    instance = serve.instance.resolve()
    assert len(redis_servers_under(instance)) == 1
    code = serve.stop(signal.SIGTERM)
    assert code in SIGTERM_EXITS, f"exit code {code}:\n{serve.output()}"
    assert redis_servers_under(instance) == [], f"SIGTERM left the embedded Redis running:\n{serve.output()}"
