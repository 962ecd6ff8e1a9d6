"""The dashboard in a real browser (Debian's chromium through Playwright), at 1280 px and at phone width.

One journey per width over the demo's six-week round (played once into the test database through
the real API, sweep, queue and worker): sign in, read the overview, drill down from a breached
candidate to their timeline, change the organisation's policy as an admin (preview, then save) and
see its effect on an open deadline; then a manager's narrower view. Full-page screenshots land in
tests/artifacts/screenshots/dashboard-<step>-<width>.png so a person can look at them.
"""

from __future__ import annotations

import io
import re
from typing import Any, Iterator

import pytest
from browser_support import (  # skips without chromium/playwright
    PHONE,
    SCREENSHOTS,
    launched_chromium,
    serving,
)

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # pragma: no cover - depends on the machine
    pytest.skip("the axe-playwright-python package is not installed", allow_module_level=True)

from sqlalchemy import select  # noqa: E402

from plugin import clock as clock_module  # noqa: E402
from plugin.cli.demo import default_round_file, play  # noqa: E402
from plugin.models import Obligation, ObligationState  # noqa: E402

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def demo_round(rt: Any, clock: Any) -> Iterator[dict[str, Any]]:
    import json

    played = play(rt, json.loads(default_round_file().read_text()), io.StringIO())
    yield played
    clock_module.install(clock)  # play() installed its own simulated clock


@pytest.fixture
def live_server(app: Any, vendor_env: None, demo_round: dict[str, Any]) -> Iterator[str]:
    with serving(app) as url:
        yield url


def shot(page: Page, name: str, size: str) -> None:
    """Save a full-page screenshot, after checking the page with axe-core (WCAG 2 A/AA rules)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"dashboard-{name}-{size}.png"), full_page=True)
    assert accessibility_problems(page) == [], f"{name} at {size} px"


def accessibility_problems(page: Page) -> list[str]:
    """axe-core's serious and critical findings (contrast, labels, names, ARIA misuse...)."""
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']} ({', '.join(str(n['target']) for n in v['nodes'][:5])})"
            for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]


def sign_in(page: Page, server: str, email: str, password: str) -> None:
    page.goto(f"{server}/dashboard/")
    expect(page).to_have_url(re.compile(r"/dashboard/sign-in"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def credentials(demo_round: dict[str, Any], role: str) -> tuple[str, str]:
    email, password, _label = next(s for s in demo_round["sign_ins"] if s[0].startswith(role))
    return email, password


def open_due(rt: Any) -> dict[str, Any]:
    with rt.db.session() as session:
        rows = session.execute(select(Obligation.id, Obligation.due_at).where(Obligation.state == ObligationState.OPEN))
        return {row.id: row.due_at for row in rows}


def test_dashboard_journeys_at_desktop_and_phone_width(browser: Browser, live_server: str,
                                                      demo_round: dict[str, Any], rt: Any) -> None:
    # The round is played once (it takes a while); each width then walks the same journey, with a
    # policy change of its own so each sees an effect.
    admin = credentials(demo_round, "admin")
    admin_journey(browser, live_server, rt, admin, "1280", DESKTOP, cadence_days="3, 6, 9")
    admin_journey(browser, live_server, rt, admin, "390", PHONE, cadence_days="2, 4, 8")
    manager_view(browser, live_server, credentials(demo_round, "manager"), "1280", DESKTOP)
    manager_view(browser, live_server, credentials(demo_round, "manager"), "390", PHONE)
    for size, options in (("1280", DESKTOP), ("390", PHONE)):
        tour(browser, live_server, admin, size, options)


def admin_journey(browser: Browser, server: str, rt: Any, admin: tuple[str, str], size: str,
                  context_options: dict[str, Any], cadence_days: str) -> None:
    context = browser.new_context(**context_options)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        # Sign in: a wrong password first (a clear message, no hint which half was wrong), then the right one.
        email, password = admin
        page.goto(f"{server}/dashboard/")
        expect(page).to_have_url(re.compile(r"/dashboard/sign-in"))
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("do not match an account")
        shot(page, "sign-in-error", size)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/dashboard/$"))
        errors.clear()  # the refused attempt's 401 is logged by the browser; from here on nothing may fail

        # Overview over the simulated round: rates, the chart, breaches with their reason.
        expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
        page.keyboard.press("Tab")  # the first stop on every page is the skip link
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        expect(page.locator(".tile").first).to_contain_text("%")
        expect(page.locator("#trend-chart canvas")).to_be_visible()  # uPlot drew the trend
        breached = page.locator("section", has=page.get_by_role("heading", name="Breached"))
        expect(breached).to_contain_text("autopilot is off")
        shot(page, "overview", size)

        # Drill down: the first breached candidate's timeline.
        link = breached.locator("tbody a").first
        name = link.inner_text()
        link.click()
        expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
        expect(page.get_by_role("heading", name="Timeline, newest first")).to_be_visible()
        expect(page.get_by_role("heading", name="Deadlines (obligation cycles)")).to_be_visible()
        # Messages as the candidate saw them, each in a sandboxed frame (loaded when scrolled to).
        frame = page.locator("iframe.message").first
        frame.scroll_into_view_if_needed()
        expect(page.frame_locator("iframe.message").first.locator("body")).to_contain_text(name.split()[0])
        frame.screenshot(path=str(SCREENSHOTS / f"dashboard-timeline-message-{size}.png"))
        for index in range(page.locator("iframe.message").count()):
            page.locator("iframe.message").nth(index).scroll_into_view_if_needed()
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, "timeline", size)

        # A policy change: preview says how many open deadlines move and changes nothing; save applies it.
        before = open_due(rt)
        page.get_by_role("link", name="Settings", exact=True).click()
        page.goto(f"{server}/dashboard/settings/policy")
        # The round's open cycles were all opened by autopilot's updates: its cadence governs them.
        # Shorter steps move them earlier (later ones would be held at the date each update named).
        page.get_by_label("Time between autopilot's updates").fill(cadence_days)
        page.get_by_role("button", name="Preview", exact=True).click()
        preview = page.locator("#preview")
        expect(preview).to_contain_text("This change moves")
        moves = int(re.search(r"moves (\d+) open deadline", preview.inner_text()).group(1))  # type: ignore[union-attr]
        assert moves > 0
        assert open_due(rt) == before, "a preview must not change anything"
        shot(page, "policy-preview", size)
        preview.get_by_role("button", name="Save this change").click()
        expect(page.get_by_role("status").first).to_contain_text(f"{moves} open deadline")
        after = open_due(rt)
        changed = [ob for ob, due in after.items() if before.get(ob) != due]
        assert 0 < len(changed) <= moves
        shot(page, "policy-saved", size)
        assert not errors, errors  # no CSP violation or script error on any page
    finally:
        context.close()


def manager_view(browser: Browser, server: str, manager: tuple[str, str], size: str,
                 context_options: dict[str, Any]) -> None:
    context = browser.new_context(**context_options)
    page = context.new_page()
    try:
        sign_in(page, server, *manager)
        departments = page.locator("#table-department tbody th")
        expect(departments).to_have_count(1)
        expect(departments.first).to_have_text("Engineering")
        expect(page.get_by_role("link", name="Settings", exact=True)).to_have_count(0)
        shot(page, "manager-overview", size)
        response = page.goto(f"{server}/dashboard/settings/policy")
        assert response is not None and response.status == 403
    finally:
        context.close()


TOUR = [  # every other page an admin opens: each is screenshotted and checked with axe-core
    ("candidates", "/dashboard/applications", "Candidates"),
    ("compliance", "/dashboard/compliance", "Compliance"),
    ("ontario", "/dashboard/compliance/ontario-esa", "Ontario ESA report"),
    ("proof", "/dashboard/compliance/proof", "Proof of notice"),
    ("outbox", "/dashboard/outbox", "Outbox"),
    ("settings", "/dashboard/settings", "Settings"),
    ("jobs", "/dashboard/settings/jobs", None),
    ("calendar", "/dashboard/settings/calendar", "Business calendar"),
    ("sender", "/dashboard/settings/sender", None),
    ("users", "/dashboard/users", "Users"),
]


def tour(browser: Browser, server: str, admin: tuple[str, str], size: str, context_options: dict[str, Any]) -> None:
    context = browser.new_context(**context_options)
    page = context.new_page()
    try:
        sign_in(page, server, *admin)
        for name, path, heading in TOUR:
            response = page.goto(f"{server}{path}")
            assert response is not None and response.status == 200, path
            if heading:
                expect(page.get_by_role("heading", level=1)).to_have_text(heading)
            shot(page, name, size)
        page.goto(f"{server}/dashboard/outbox")
        page.locator("main table tbody a").first.click()
        expect(page.locator("iframe.message")).to_be_visible()
        shot(page, "outbox-message", size)
    finally:
        context.close()

