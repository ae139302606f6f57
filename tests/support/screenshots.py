"""PNG screenshots of what the browser shows, for the README and for a failing test's evidence."""

from __future__ import annotations

import base64
from pathlib import Path

from selenium import webdriver

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def save_screenshot(driver: webdriver.Chrome, path: Path, *, full_page: bool = False) -> Path:
    """Write the window (or the whole page, if ``full_page``) to ``path`` as a PNG."""
    if full_page:
        # The page's full height, not only the window: a patient's timeline runs long.
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
        )
        png = base64.b64decode(shot["data"])
    else:
        png = driver.get_screenshot_as_png()
    if not png.startswith(PNG_SIGNATURE):
        msg = f"the browser returned no PNG for {driver.current_url}"
        raise RuntimeError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, read from its header."""
    header = path.read_bytes()[:24]
    if not header.startswith(PNG_SIGNATURE):
        msg = f"{path.name} is not a PNG"
        raise ValueError(msg)
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
