"""What the browser shows: waiting for text to appear, and a page's state for a failure report."""

from __future__ import annotations

from typing import Any, Literal

from selenium import webdriver
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait
from urllib3.exceptions import HTTPError

# A page served from 127.0.0.1 answers well within this; a queue that refreshes itself on a
# timer needs the wait to outlast one period, which the caller passes.
WAIT_S = 10.0
# Looking is cheap on a local page; a short poll keeps a wait from outlasting the change it awaits.
POLL_S = 0.1
# Enough of the page to see which page it is and what it says, short enough for a CI log.
EVIDENCE_CHARS = 3000


def console_log(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """The console's entries since the last read (reading empties it)."""
    # selenium leaves get_log unannotated; its entries are dicts with level and message.
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return entries


def errors_in(entries: list[dict[str, Any]]) -> list[str]:
    """The messages of the console entries that are errors the page caused."""
    return [
        str(entry["message"])
        for entry in entries
        # The browser asks for /favicon.ico by itself, at a moment of its choosing; no page asked.
        if entry["level"] == "SEVERE" and "/favicon.ico - " not in str(entry["message"])
    ]


def browser_errors(driver: webdriver.Chrome) -> list[str]:
    """Console errors logged since the last read (a CSP refusal shows up here)."""
    return errors_in(console_log(driver))


def wait_for_text(
    driver: webdriver.Chrome, css: str, text: str, timeout: float = WAIT_S
) -> WebElement:
    """Wait until the element at ``css`` shows ``text``; fail saying what it showed instead."""
    last_seen: list[str] = []

    def shows_text(browser: webdriver.Chrome) -> WebElement | Literal[False]:
        """The element once its text holds ``text``."""
        found = browser.find_elements(By.CSS_SELECTOR, css)
        last_seen[:] = [element.text for element in found]
        return next((element for element in found if text in element.text), False)

    try:
        # A refresh may replace the element while its text is read; the next poll finds the new.
        waiting = WebDriverWait(
            driver,
            timeout,
            poll_frequency=POLL_S,
            ignored_exceptions=(StaleElementReferenceException,),
        )
        return waiting.until(shows_text)
    except TimeoutException:
        shown = " | ".join(last_seen) if last_seen else "no such element"
        msg = f"{text!r} did not appear in {css!r} within {timeout} s on {driver.current_url}; "
        msg += f"it shows: {shown[:500]!r}"
        raise AssertionError(msg) from None


def page_evidence(driver: webdriver.Chrome) -> str:
    """The address, title, visible text and console errors of the page, for a failed test."""
    try:
        text = str(driver.execute_script("return document.body ? document.body.innerText : '';"))
        errors = browser_errors(driver)
        lines = [f"url: {driver.current_url}", f"title: {driver.title}"]
    except (WebDriverException, HTTPError, OSError) as error:
        return f"the browser did not answer: {type(error).__name__}"
    if errors:
        lines.append("console errors:")
        lines.extend(f"  {error}" for error in errors)
    lines.append("text:")
    lines.append(text[:EVIDENCE_CHARS] + ("..." if len(text) > EVIDENCE_CHARS else ""))
    return "\n".join(lines)
