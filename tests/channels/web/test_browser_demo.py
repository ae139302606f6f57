"""The demo dashboard in the browser: made-up patients, labelled demo; the README's screenshots.

With ``LDH_UPDATE_SCREENSHOTS=1`` the screenshots are written to ``docs/screenshots/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from browser_site import page_text, wait_for
from selenium import webdriver
from selenium.webdriver.common.by import By
from support.accessibility import assert_accessible
from support.background_loop import background_loop
from support.screenshots import png_size, save_screenshot

from bot.channels.web.demo import DEMO_STAFF, DEMO_STAFF_NAME, ROUTINE, ZONE, DemoClock, fill
from bot.channels.web.serve import WebChannel
from bot.channels.web.settings import WebSettings
from bot.content import Content
from bot.storage import open_store

DOCS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


def test_demo_queue_and_patient_page(content: Content, tmp_path: Path,
                                     browser: webdriver.Chrome) -> None:
    shots = DOCS if os.environ.get("LDH_UPDATE_SCREENSHOTS") else tmp_path
    with background_loop() as loop:
        store = open_store(f"sqlite:///{tmp_path / 'demo.db'}")
        clock = DemoClock()
        web = WebChannel(WebSettings("127.0.0.1", 0, None, "en"), content, store,
                         staff_ids={DEMO_STAFF}, timezone=ZONE, clock=clock, demo=True)

        async def start() -> str | None:
            await store.open()
            await fill(content, store, clock)
            await web.start()
            return await web.new_link(DEMO_STAFF, DEMO_STAFF_NAME)

        async def stop() -> None:
            await web.stop()
            await store.close()

        link = loop.run(start(), timeout=120)
        try:
            assert link is not None
            browser.get(link)
            browser.find_element(By.ID, "signin").click()
            wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "tr[data-item]"))
            text = page_text(browser)
            assert "DEMO" in text
            assert "Emergency" in text
            assert "Reschedule" in text
            assert_accessible(browser)
            queue = save_screenshot(browser, shots / "queue.png")
            browser.get(f"{web.base_url}/patients/{ROUTINE[0][0]}")
            assert browser.find_elements(By.CSS_SELECTOR, "svg.chart circle")
            assert_accessible(browser)
            patient = save_screenshot(browser, shots / "patient.png", full_page=True)
        finally:
            loop.run(stop())
    assert png_size(queue) == (1280, 800)
    assert png_size(patient)[1] > 800
