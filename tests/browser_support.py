"""What the browser tests share: Debian's chromium driven by Playwright (never `playwright install`).

Importing this module skips the importing test module when chromium or playwright is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed", allow_module_level=True)
try:
    from playwright.sync_api import Browser, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    pytest.skip("the playwright package is not installed", allow_module_level=True)

from werkzeug.serving import make_server  # noqa: E402

SCREENSHOTS = Path(__file__).parent / "artifacts" / "screenshots"
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
                         "device_scale_factor": 2}


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """Debian's chromium, headless (each test module wraps it in a module-scoped `browser` fixture)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu", "--no-proxy-server"])
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app on a real port, from a thread, for as long as the block runs; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
