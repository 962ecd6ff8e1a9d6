"""examples/greenhouse/send_sequence.py against a live server: signed webhooks in, emails out."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from ats_support import connect
from conftest import START
from werkzeug.serving import make_server

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "greenhouse" / "send_sequence.py"
SECRET = "change-me-please"


@pytest.fixture
def live_server(app, vendor_env):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, env=env)


def test_the_greenhouse_example_sequence_is_accepted_and_plays_a_whole_round(org, live_server, tick, outbox):
    conn = connect(org, "greenhouse", signing_secret=SECRET)
    result = run_script("--webhook-url", live_server + conn["webhook_path"], "--secret", SECRET,
                        "--api-key", org.key, "--now", START.isoformat())
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + 9 and lines[0].startswith("202"), result.stdout  # the API stores, a job applies
    assert all(line.startswith("200") for line in lines[1:]), result.stdout

    for _ in range(3):
        tick()
    tick(by=timedelta(hours=2))  # past the closing notice's hold
    tick(by=timedelta(days=1))  # past the rejection's minimum delay
    sent = Counter((m["X-Ghostless-Kind"], m["To"].split("<")[-1].rstrip(">")) for m in outbox())
    assert sent[("rejection", "ada.lovelace@example.com")] == 1  # rejected
    assert sent[("job_closed", "alan.turing@example.com")] == 1  # still open when the job closed
    assert not [kind for kind, to in sent if to == "grace.hopper@example.com"]  # hired: no decision mail from us
    assert all(count == 1 for count in sent.values())


def test_the_example_with_a_wrong_secret_is_refused(org, live_server):
    conn = connect(org, "greenhouse", signing_secret=SECRET)
    result = run_script("--webhook-url", live_server + conn["webhook_path"], "--secret", "not-the-secret")
    assert result.returncode == 1 and result.stdout.startswith("401")

