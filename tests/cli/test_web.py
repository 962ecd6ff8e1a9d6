"""`ghostless web`: gunicorn with threaded workers (issue 14, ingest speed), started for real."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time

from plugin.cli.processes import WebApplication
from plugin.settings import Settings


def test_the_configuration_is_threaded_workers(tmp_path):
    cfg = WebApplication(Settings(instance_dir=tmp_path), bind="127.0.0.1:0", workers=3, threads=5).cfg
    assert (cfg.worker_class_str, cfg.workers, cfg.threads) == ("gthread", 3, 5)
    assert WebApplication(Settings(instance_dir=tmp_path), bind="127.0.0.1:0", workers=1).cfg.threads == 4


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_ghostless_web_serves_and_keeps_a_connection_alive(tmp_path):
    port = _free_port()
    env = {**os.environ, "GHOSTLESS_INSTANCE_DIR": str(tmp_path / "instance")}
    process = subprocess.Popen([sys.executable, "-c", "from plugin.cli import main; main()", "web", "--bind",
                                f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                first = conn.getresponse()
                break
            except OSError:
                assert time.monotonic() < deadline, "ghostless web did not answer within 60 s"
                time.sleep(0.2)
        assert first.status == 200 and first.read()
        local = conn.sock.getsockname()
        conn.request("GET", "/healthz")  # the same connection: a sync worker would have closed it
        second = conn.getresponse()
        assert second.status == 200 and second.read() and conn.sock.getsockname() == local
        conn.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
