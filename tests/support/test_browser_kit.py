"""The browser kit on a tiny site of its own: driving, axe, keyboard, screenshots, CSP, recovery."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
import tornado.escape
import tornado.httpserver
import tornado.netutil
import tornado.web
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.selenium_manager import SeleniumManager
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait
from support import browser as kit
from support.accessibility import (
    assert_accessible,
    axe_violations,
    describe_violations,
)
from support.background_loop import BackgroundLoop
from support.keyboard import assert_every_field_labelled, press, tab_to, unlabelled_fields
from support.screenshots import png_size, save_screenshot
from support.vendored import VENDORED

HTMX = next(vendored for vendored in VENDORED if vendored.package == "htmx.org")
# The dashboard's policy in miniature: nothing inline, nothing from elsewhere.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script src="/static/htmx.min.js"></script></head>
<body><main><h1>{title}</h1>
"""
FOOT = "</main></body></html>"
BOOKING_FORM = """<form method="post" action="/book">
<label for="patient">Patient</label> <input id="patient" name="patient" type="text">
<label for="room">Room</label>
<select id="room" name="room"><option>Room 1</option><option>Room 3</option></select>
<input type="hidden" name="token" value="kit">
<button type="submit">Book</button>
</form>
"""
GOOD_PAGE = (
    HEAD.format(title="Book a visit")
    + BOOKING_FORM
    + '<button id="refresh" type="button" hx-get="/fragment" hx-target="#queue">'
    "Refresh the queue</button>\n"
    '<div id="queue" aria-live="polite"><p>Nothing yet</p></div>\n' + FOOT
)
BAD_PAGE = (
    HEAD.format(title="Search patients") + '<form method="get" action="/">\n'
    '<label for="query">Name</label> <input id="query" name="query" type="search">\n'
    '<input id="nickname" name="nickname" type="text">\n'
    # axe takes a placeholder for a name; the kit's label check does not.
    '<input id="phone" name="phone" type="tel" placeholder="Phone">\n'
    '<button type="submit">Search</button>\n</form>\n' + FOOT
)
LONG_PAGE = (
    HEAD.format(title="Timeline")
    + "".join(f"<p>Check-in week {week}: pain 4 of 10</p>\n" for week in range(1, 121))
    + FOOT
)
INLINE_PAGE = (
    HEAD.format(title="Inline") + '<script>document.title = "inline script ran";</script>\n' + FOOT
)


class Page(tornado.web.RequestHandler):
    """Serves one fixed page under the kit's CSP."""

    def initialize(self, html: str) -> None:
        """Keep the page to serve."""
        self.html = html

    def set_default_headers(self) -> None:
        """Every response carries the CSP."""
        self.set_header("Content-Security-Policy", CSP)

    def get(self) -> None:
        """The page."""
        self.write(self.html)


class Book(Page):
    """The booking form's answer, built from what was typed."""

    def post(self) -> None:
        """Say what was booked (escaped, as the dashboard must)."""
        patient = tornado.escape.xhtml_escape(self.get_body_argument("patient"))
        room = tornado.escape.xhtml_escape(self.get_body_argument("room"))
        self.write(HEAD.format(title="Booked") + f"<p>{patient} in {room}</p>" + FOOT)


class Static(Page):
    """The vendored htmx, as the dashboard serves it."""

    def get(self) -> None:
        """The script."""
        self.set_header("Content-Type", "text/javascript; charset=utf-8")
        self.write(HTMX.script.read_bytes())


@dataclass
class Site:
    """The kit's site on an ephemeral port of 127.0.0.1."""

    base: str

    def url(self, path: str) -> str:
        """The absolute URL of ``path``."""
        return self.base + path


def application() -> tornado.web.Application:
    """The kit's pages."""
    return tornado.web.Application(
        [
            (r"/", Page, {"html": GOOD_PAGE}),
            (r"/bad", Page, {"html": BAD_PAGE}),
            (r"/long", Page, {"html": LONG_PAGE}),
            (r"/inline", Page, {"html": INLINE_PAGE}),
            (r"/fragment", Page, {"html": "<p>Queue refreshed: 2 waiting</p>"}),
            (r"/book", Book, {"html": ""}),
            (r"/static/htmx.min.js", Static, {"html": ""}),
        ]
    )


async def start_site() -> tuple[tornado.httpserver.HTTPServer, int]:
    """Serve the kit's pages on a free port; return the server and the port."""
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(application())
    server.add_sockets(sockets)
    return server, int(sockets[0].getsockname()[1])


async def stop_site(server: tornado.httpserver.HTTPServer) -> None:
    """Stop listening and close open connections."""
    server.stop()
    await server.close_all_connections()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """The kit's site, served from a background loop while selenium blocks this thread."""
    loop = BackgroundLoop()
    server, port = loop.run(start_site())
    try:
        yield Site(f"http://127.0.0.1:{port}")
    finally:
        loop.run(stop_site(server))
        loop.close()


def wait(driver: webdriver.Chrome) -> WebDriverWait[webdriver.Chrome]:
    """A wait that gives a local page a few seconds."""
    return WebDriverWait(driver, 10)


def test_driver_loads_the_page(browser: webdriver.Chrome, site: Site) -> None:
    browser.get(site.url("/"))
    assert browser.title == "Book a visit"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Book a visit"
    assert kit.viewport(browser) == kit.VIEWPORT == (1280, 800)


def test_axe_finds_nothing_serious_on_the_labelled_page(
    browser: webdriver.Chrome, site: Site
) -> None:
    browser.get(site.url("/"))
    assert axe_violations(browser) == []
    assert_accessible(browser)


def test_axe_reports_the_unlabelled_field_as_serious(browser: webdriver.Chrome, site: Site) -> None:
    browser.get(site.url("/bad"))
    violations = axe_violations(browser)
    assert [violation["id"] for violation in violations] == ["label"]
    assert violations[0]["impact"] in {"serious", "critical"}
    assert [node["target"] for node in violations[0]["nodes"]] == [["#nickname"]]
    message = describe_violations(violations)
    assert "label: Form elements must have labels" in message
    assert "#nickname" in message
    with pytest.raises(AssertionError, match="#nickname"):
        assert_accessible(browser)


def test_every_field_labelled_passes_the_good_page_and_names_the_bad_field(
    browser: webdriver.Chrome, site: Site
) -> None:
    browser.get(site.url("/"))
    assert unlabelled_fields(browser) == []
    assert_every_field_labelled(browser)
    browser.get(site.url("/bad"))
    assert unlabelled_fields(browser) == [
        "input#nickname[name=nickname]",
        "input#phone[name=phone]",
    ]
    with pytest.raises(AssertionError, match=r"input#nickname\[name=nickname\]"):
        assert_every_field_labelled(browser)


def test_the_form_is_filled_and_sent_with_the_keyboard_only(
    browser: webdriver.Chrome, site: Site
) -> None:
    browser.get(site.url("/"))
    tab_to(browser, element_id="patient")
    press(browser, "Ann <Lee>")
    tab_to(browser, label="Room")
    press(browser, Keys.END)
    button = tab_to(browser, label="Book")
    assert button.tag_name == "button"
    press(browser, Keys.ENTER)
    wait(browser).until(expected_conditions.title_is("Booked"))
    assert browser.find_element(By.TAG_NAME, "p").text == "Ann <Lee> in Room 3"


def test_tab_to_goes_backwards_with_shift(browser: webdriver.Chrome, site: Site) -> None:
    browser.get(site.url("/"))
    tab_to(browser, label="Refresh the queue")
    assert tab_to(browser, element_id="patient", backwards=True).tag_name == "input"


def test_tab_to_says_where_focus_went_when_it_never_arrives(
    browser: webdriver.Chrome, site: Site
) -> None:
    browser.get(site.url("/"))
    with pytest.raises(AssertionError, match=r"input#patient\[name=patient\] 'Patient' -> "):
        tab_to(browser, element_id="nowhere", max_tabs=4)


def test_vendored_htmx_swaps_a_fragment_under_the_csp(
    browser: webdriver.Chrome, site: Site
) -> None:
    browser.get(site.url("/"))
    assert browser.execute_script("return window.htmx && htmx.version") == HTMX.version
    tab_to(browser, label="Refresh the queue")
    press(browser, Keys.ENTER)
    wait(browser).until(
        expected_conditions.text_to_be_present_in_element((By.ID, "queue"), "2 waiting")
    )
    assert kit.browser_errors(browser) == []


def test_a_script_the_csp_refuses_shows_in_the_console(
    browser: webdriver.Chrome, site: Site
) -> None:
    browser.get(site.url("/inline"))
    assert browser.title == "Inline"
    errors = kit.browser_errors(browser)
    assert any("Content Security Policy" in error for error in errors), errors


def test_screenshot_is_a_png_of_the_window(
    browser: webdriver.Chrome, site: Site, tmp_path: Path
) -> None:
    browser.get(site.url("/"))
    path = save_screenshot(browser, tmp_path / "shots" / "booking.png")
    assert png_size(path) == kit.VIEWPORT


def test_full_page_screenshot_holds_the_whole_page(
    browser: webdriver.Chrome, site: Site, tmp_path: Path
) -> None:
    browser.get(site.url("/long"))
    height = browser.execute_script("return document.documentElement.scrollHeight")
    path = save_screenshot(browser, tmp_path / "timeline.png", full_page=True)
    width, shot_height = png_size(path)
    assert width == kit.VIEWPORT[0]
    assert shot_height == height > kit.VIEWPORT[1]


def test_each_test_gets_the_browser_back_without_cookies(
    browsers: kit.Browsers, site: Site
) -> None:
    driver = browsers.fresh()
    driver.get(site.url("/"))
    driver.add_cookie({"name": "session", "value": "signed-in"})
    kit.set_viewport(driver, *kit.TABLET)
    assert kit.viewport(driver) == kit.TABLET
    again = browsers.fresh()
    assert again is driver
    again.get(site.url("/"))
    assert again.get_cookies() == []
    assert kit.viewport(again) == kit.VIEWPORT


def test_a_browser_that_died_is_started_again(browsers: kit.Browsers, site: Site) -> None:
    browsers.fresh().quit()
    driver = browsers.fresh()
    driver.get(site.url("/"))
    assert driver.title == "Book a visit"


def test_selenium_manager_is_never_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kit.require_browser()

    def refuse(*_: object) -> dict[str, str]:
        pytest.fail("selenium-manager was asked for a driver")

    monkeypatch.setattr(SeleniumManager, "binary_paths", refuse)
    driver = kit.start_chromium(tmp_path / "profile")
    try:
        assert driver.capabilities["browserName"] in {"chrome", "chromium"}
    finally:
        driver.quit()


def test_missing_browser_skips_locally(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(kit, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-chromium missing"):
        kit.require_browser()


def test_missing_browser_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(kit, "CHROMEDRIVER", tmp_path / "no-driver")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="install Debian's chromium"):
        kit.require_browser()


class CollectedTest:
    """What the marking hook sees of a collected test: its fixtures and its marks."""

    def __init__(self, *fixturenames: str) -> None:
        """A test asking for ``fixturenames``."""
        self.fixturenames = fixturenames
        self.marks: list[str] = []

    def add_marker(self, mark: str) -> None:
        """Record a mark."""
        self.marks.append(mark)


def test_every_test_that_asks_for_a_browser_is_marked() -> None:
    direct, shared, plain = (
        CollectedTest("browsers", "browser", "site"),
        CollectedTest("browsers", "tmp_path"),
        CollectedTest("monkeypatch", "tmp_path"),
    )
    kit.pytest_collection_modifyitems(cast("list[pytest.Item]", [direct, shared, plain]))
    assert (direct.marks, shared.marks, plain.marks) == (["browser"], ["browser"], [])
