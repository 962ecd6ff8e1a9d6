"""The candidate status page in a real browser (Debian's chromium through Playwright), desktop and phone.

The app is served on a real port from a thread; the browser reads it as a candidate would, only with
the keyboard for the withdrawal. Full-page screenshots land in tests/artifacts/screenshots/
(status-<state>-<width>.png) so a person can look at them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Iterator

import pytest
from browser_support import (  # skips without chromium/playwright
    PHONE,
    SCREENSHOTS,
    launched_chromium,
    serving,
)
from conftest import START
from helpers import event, interview_done
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from plugin.models import Application, ApplicationStatus
from plugin.notify import status_links

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
SIZES = [pytest.param(DESKTOP, id="1280"), pytest.param(PHONE, id="390")]
LONG_TITLE = "Senior Staff Distributed-Systems Engineer, Payments Infrastructure (Remote, EMEA)"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def live_server(app: Any, vendor_env: None) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture(params=SIZES)
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(**request.param)
    tab = context.new_page()
    yield tab
    context.close()


def width(page: Page) -> int:
    return page.viewport_size["width"]  # type: ignore[index]


def status_url(rt: Any, server: str, external_id: str = "a-1") -> str:
    with rt.db.session() as session:
        application_id = session.scalar(select(Application.id).where(Application.external_id == external_id))
    return f"{server}/status/{status_links.make_token(rt.settings, application_id)}"


def candidate(body: dict[str, Any], locale: str, title: str | None = None) -> dict[str, Any]:
    body["candidate"]["locale"] = locale
    if title:
        body["job"]["title"] = title
    return body


def two_rounds(org: Any, tick: Any, *, app: str = "a-1", who: str = "c-1", name: str = "Ada Lovelace",
               locale: str = "en", title: str | None = None) -> None:
    """A phone screen last week and an onsite on Mon 2 Nov: they will hear by Mon 9 Nov."""
    tick(at=utc(2026, 10, 28, 15))
    org.post(candidate(interview_done(utc(2026, 10, 28, 15), app=app, candidate=who, name=name,
                                      interview=f"{app}-phone", stage="Phone screen"), locale, title))
    tick(at=START)
    org.post(candidate(interview_done(START, app=app, candidate=who, name=name, interview=f"{app}-onsite",
                                      stage="Onsite"), locale, title))


def shoot(page: Page, state: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"status-{state}-{width(page)}.png"), full_page=True)


def assert_fits(page: Page) -> None:
    """No horizontal scrolling, whatever the width."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width(page), f"{scroll_width}px wide in a {width(page)}px viewport"


def tab_to(page: Page, text: str, limit: int = 25) -> None:
    """Press Tab until the focused element reads `text`, as someone without a mouse would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.textContent.trim()") == text:
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline not in ("none", ""), f"no visible focus on {text!r}"
            return
    raise AssertionError(f"{text!r} cannot be reached with the Tab key")


# -- rendering -------------------------------------------------------------------------------------

def test_the_page_renders_in_english_and_german(org, rt, tick, live_server, page):
    two_rounds(org, tick)
    two_rounds(org, tick, app="a-2", who="c-2", name="Jürgen Müller-Lüdenscheidt", locale="de", title=LONG_TITLE)

    page.goto(status_url(rt, live_server))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Your application"
    assert [h.inner_text() for h in page.locator("h2").all()] == [
        "Where things stand", "Your interviews so far", "Changed your mind?"]
    stages = [li.inner_text() for li in page.locator("ol.stages li").all()]
    assert [" ".join(s.split()) for s in stages] == [
        "✓ Completed: Phone screen — 28 October", "✓ Completed: Onsite — 2 November"]
    assert page.locator(".next-date").inner_text() == "Monday 9 November"
    assert page.locator(".next-date").is_visible()
    assert_fits(page)
    shoot(page, "in_review")

    page.goto(status_url(rt, live_server, "a-2"))
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").inner_text() == "Ihre Bewerbung"
    assert page.locator(".next-date").inner_text() == "Montag, 9. November"
    assert page.locator("ol.stages li").count() == 2
    assert LONG_TITLE in page.locator(".job").inner_text()
    assert_fits(page)
    shoot(page, "in_review_de")


TEXT_CHECK = """() => {
  const rgb = c => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = e => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll('h1, h2, p, li, a, button, time, strong, span')]
    .filter(e => e.offsetParent !== null && e.textContent.trim()
                 && !e.closest('.visually-hidden, [aria-hidden=true]'))
    .map(e => {
      const s = getComputedStyle(e);
      const [l1, l2] = [lum(rgb(s.color).slice(0, 3)), lum(background(e))].sort((a, b) => b - a);
      return {text: e.textContent.trim().slice(0, 40), size: parseFloat(s.fontSize),
              contrast: (l1 + 0.05) / (l2 + 0.05)};
    });
}"""


def test_text_is_large_enough_and_dark_enough(org, rt, tick, live_server, page):
    """16px or more, and at least WCAG AA contrast (4.5:1) for every piece of text, in every section."""
    two_rounds(org, tick)
    url = status_url(rt, live_server)
    for path in ("", "/withdraw"):
        page.goto(url + path)
        texts = page.evaluate(TEXT_CHECK)
        assert texts
        assert [t for t in texts if t["size"] < 16] == []
        assert [t for t in texts if t["contrast"] < 4.5] == []
    assert page.locator("main").count() == 1
    assert page.locator("footer").inner_text().startswith(
        "This page is private to you. Sent on behalf of Acme by Ghostless.")


# -- withdrawing with the keyboard only ------------------------------------------------------------

def test_keyboard_only_withdrawal_ends_on_the_withdrawn_page(org, rt, tick, live_server, page):
    two_rounds(org, tick)
    url = status_url(rt, live_server)
    page.goto(url)

    tab_to(page, "Withdraw my application")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == url + "/withdraw"
    assert page.locator("h1").inner_text() == "Withdraw your application?"
    assert page.locator("form button[type=submit]").inner_text() == "Yes, withdraw my application"
    assert_fits(page)
    shoot(page, "confirm")

    tab_to(page, "Yes, withdraw my application")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == url  # 303 back to the status page
    assert "You withdrew your application on 2 November 2026." in page.locator("main").inner_text()
    assert page.get_by_text("Withdraw my application").count() == 0
    assert_fits(page)
    shoot(page, "withdrawn")
    with rt.db.session() as session:
        assert session.scalar(select(Application.status)) is ApplicationStatus.WITHDRAWN


def test_keep_my_application_goes_back_and_changes_nothing(org, rt, tick, live_server, page):
    two_rounds(org, tick)
    url = status_url(rt, live_server)
    page.goto(url + "/withdraw")
    tab_to(page, "No, keep my application")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == url and page.locator(".badge").inner_text() == "In review"
    with rt.db.session() as session:
        assert session.scalar(select(Application.status)) is ApplicationStatus.ACTIVE


# -- every other state, for the eye ----------------------------------------------------------------

def _offer(org: Any, tick: Any) -> None:
    org.post(event("application.hired", START + timedelta(hours=2)))


def _rejected(org: Any, tick: Any) -> None:
    org.post(event("application.rejected", START + timedelta(hours=1), ats_notification="none"))
    tick(at=utc(2026, 11, 3, 14))  # Tue 09:00 New York: the rejection email goes out


def _closed(org: Any, tick: Any) -> None:
    tick(at=utc(2026, 11, 3, 15))
    org.post(event("job.closed", utc(2026, 11, 3, 15)))
    tick(by=timedelta(hours=1, minutes=1))


STATES = {"offer": (_offer, "Offer"), "rejected": (_rejected, "Decision made"), "closed": (_closed, "Position closed")}


@pytest.mark.parametrize("state", sorted(STATES))
def test_decided_states(org, rt, tick, live_server, page, state):
    two_rounds(org, tick)
    tick()
    url = status_url(rt, live_server)
    make, badge = STATES[state]
    make(org, tick)
    page.goto(url)
    assert page.locator(".badge").inner_text() == badge
    assert page.get_by_text("Withdraw my application").count() == 0
    assert_fits(page)
    shoot(page, state)


def test_links_that_do_not_open(org, rt, tick, live_server, page, clock):
    two_rounds(org, tick)
    url = status_url(rt, live_server)
    response = page.goto(url[:-4] + ("BBBB" if url.endswith("AAAA") else "AAAA"))
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "This link is not valid"
    assert_fits(page)
    shoot(page, "invalid")
    clock.advance(timedelta(days=181))
    response = page.goto(url)
    assert response is not None and response.status == 410
    assert page.locator("h1").inner_text() == "This link has expired"
    shoot(page, "expired")
