"""Debian's headless Chromium driven by selenium: the fixtures the dashboard's browser tests use.

One Chromium serves the whole session (starting it costs about a second); every test gets it back
on a blank page with no cookies and the standard window size. The driver and the browser are the
system's own binaries, passed by path, so selenium never looks anything up on the network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from urllib3.exceptions import HTTPError

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The page's viewport, fixed so that screenshots taken on any machine have the same size (a
# clinic PC's screen); TABLET is the other screen the dashboard is read on.
VIEWPORT = (1280, 800)
TABLET = (820, 1180)
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # /dev/shm is small in containers; Chromium crashes when it fills
    "--disable-quic",
    "--no-first-run",
    # Nothing but the page under test may reach the network: no updates, no sync, no probes.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A screenshot shows the page, not a scrollbar eating into its width.
    "--hide-scrollbars",
)
# Pages load from 127.0.0.1; a page or a script slower than this is a failure, not a wait.
TIMEOUT_S = 30
BROWSER_MARK = "browser"


def browser_required() -> bool:
    """True where a missing browser must fail the run (CI), not skip its tests."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def missing_binaries() -> list[Path]:
    """The browser binaries this machine lacks (``.ci/run`` installs them)."""
    return [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


def chromium_options(user_data_dir: Path) -> Options:
    """Options for a headless Chromium with its own profile in ``user_data_dir``."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.add_argument(f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}")
    # The console is kept, so a test can see a script or a resource the page's CSP refused.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


def start_chromium(user_data_dir: Path) -> webdriver.Chrome:
    """A new headless Chromium on the system's chromedriver, with the suite's timeouts."""
    user_data_dir.mkdir(parents=True, exist_ok=True)
    # An explicit driver path is what keeps selenium-manager from running at all.
    service = Service(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(service=service, options=chromium_options(user_data_dir))
    driver.set_page_load_timeout(TIMEOUT_S)
    driver.set_script_timeout(TIMEOUT_S)
    return driver


def reset(driver: webdriver.Chrome) -> None:
    """Back to one blank tab with no cookies, no cache and the standard window size."""
    handles = driver.window_handles
    for handle in handles[1:]:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(handles[0])
    driver.get("about:blank")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    set_viewport(driver, *VIEWPORT)
    console_log(driver)  # drop what the previous test left in the console


def viewport(driver: webdriver.Chrome) -> tuple[int, int]:
    """Width and height of the page's viewport, in CSS pixels."""
    width, height = driver.execute_script("return [window.innerWidth, window.innerHeight];")
    return int(width), int(height)


def set_viewport(driver: webdriver.Chrome, width: int, height: int) -> None:
    """Size the window so that the page itself is ``width`` by ``height``."""
    # The window's size includes the browser's own frame, whose height differs by version.
    driver.set_window_size(width, height)
    inner_width, inner_height = viewport(driver)
    if (inner_width, inner_height) != (width, height):
        driver.set_window_size(2 * width - inner_width, 2 * height - inner_height)


def console_log(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """The console's entries since the last read (reading empties it)."""
    # selenium leaves get_log unannotated; its entries are dicts with level and message.
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return entries


def browser_errors(driver: webdriver.Chrome) -> list[str]:
    """Console errors logged since the last read (a CSP refusal shows up here)."""
    return [str(entry["message"]) for entry in console_log(driver) if entry["level"] == "SEVERE"]


class Browsers:
    """One Chromium for the session, started on first use and started again if it died."""

    def __init__(self, profiles: Path) -> None:
        """Keep profiles under ``profiles``; start nothing yet."""
        self._profiles = profiles
        self._driver: webdriver.Chrome | None = None
        self._started = 0

    def fresh(self) -> webdriver.Chrome:
        """The session's browser on a blank page, or a new one if the last one stopped."""
        if self._driver is not None:
            try:
                reset(self._driver)
            except (WebDriverException, HTTPError, OSError):
                # The browser crashed, or its driver is gone: start a new pair.
                self.quit()
            else:
                return self._driver
        self._started += 1
        self._driver = start_chromium(self._profiles / f"profile-{self._started}")
        reset(self._driver)
        return self._driver

    def quit(self) -> None:
        """Stop the browser if one runs."""
        driver, self._driver = self._driver, None
        if driver is not None:
            # A browser that is already gone cannot say so; quit() still stops its driver.
            with suppress(WebDriverException, HTTPError, OSError):
                driver.quit()


def require_browser() -> None:
    """Skip (locally) or fail (in CI) with a clear reason when the binaries are absent."""
    missing = missing_binaries()
    if not missing:
        return
    reason = (
        f"headless Chromium is not installed ({', '.join(map(str, missing))} missing); "
        "install Debian's chromium and chromium-driver, as .ci/run does"
    )
    if browser_required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browsers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browsers]:
    """The session's Chromium, shared by every browser test."""
    require_browser()
    shared = Browsers(tmp_path_factory.mktemp("chromium"))
    try:
        yield shared
    finally:
        shared.quit()


@pytest.fixture
def browser(browsers: Browsers) -> webdriver.Chrome:
    """A headless Chromium on a blank page with no cookies, for one test."""
    return browsers.fresh()


def pytest_configure(config: pytest.Config) -> None:
    """Register the mark that browser tests carry, so ``-m 'not browser'`` leaves them out."""
    config.addinivalue_line("markers", f"{BROWSER_MARK}: drives a headless Chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that asks for a browser, so the mark cannot be forgotten."""
    for item in items:
        if "browsers" in getattr(item, "fixturenames", ()):
            item.add_marker(BROWSER_MARK)
