"""Helpers for the browser tests: Debian's Chromium, and what a person does on the pages.

Playwright drives the system's Chromium (CHROMIUM_PATH, or chromium on PATH)
and never downloads a browser. ``look_at`` checks a page as people see it: at a
desktop's and a phone's size, light and dark, with axe-core, saving screenshots.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from .live import PROJECT_DIR

# Flags for a headless Chromium in a container, as root, with no network beyond loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000  # how long an expectation waits for the page
RECONNECT_MS = 40_000  # the page's backoff may wait up to 30 s between attempts


def chromium_path() -> str:
    """Return the Chromium binary: CHROMIUM_PATH, else chromium on PATH; fail if neither."""
    path = (
        os.environ.get("CHROMIUM_PATH")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not path:
        pytest.fail(
            "The browser tests need Chromium: set CHROMIUM_PATH or put chromium on PATH "
            "(Debian: apt install chromium).",
            pytrace=False,
        )
    return path


def enter_room(page, room_name: str) -> None:
    """Pick a room on the index page and wait until its websocket is connected."""
    page.goto("/")
    page.fill("#room-name-input", room_name)
    page.click("#room-name-submit")
    expect(page).to_have_url(re.compile(f"/chat/{room_name}/$"))
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")


def say(page, text: str) -> None:
    """Type ``text`` into the message box and press Send."""
    page.fill("#chat-message-input", text)
    page.click("#chat-message-submit")


# The sizes a page is looked at: a laptop, and a 390 px wide phone.
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
COLOR_SCHEMES = ("light", "dark")
# axe-core's impacts that fail a test (the others are "minor" and "moderate").
FAILING_IMPACTS = {"serious", "critical"}


def screenshots_dir() -> Path:
    """Return where screenshots go: SCREENSHOTS_DIR, else screenshots/ beside manage.py."""
    directory = Path(os.environ.get("SCREENSHOTS_DIR") or PROJECT_DIR / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def assert_accessible(page) -> None:
    """Run axe-core (npm's, as axe-playwright-python ships it) on ``page``: nothing serious."""
    results = Axe().run(page)
    failing = [v for v in results.response["violations"] if v["impact"] in FAILING_IMPACTS]
    assert not failing, results.generate_report()


def assert_no_horizontal_scrolling(page) -> None:
    """Fail if ``page`` is wider than its viewport (a phone would scroll sideways)."""
    widths = page.evaluate(
        "({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth})"
    )
    assert widths["scroll"] <= widths["client"], f"{page.url} overflows: {widths}"


def look_at(page, name: str) -> None:
    """Check ``page`` at each of VIEWPORTS, light and dark, and save a screenshot of each.

    Each combination must pass ``assert_accessible`` and, on the phone,
    ``assert_no_horizontal_scrolling``. The screenshots are
    ``<name>-<viewport>-<scheme>.png`` in ``screenshots_dir()``.
    """
    directory = screenshots_dir()
    for viewport, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        for scheme in COLOR_SCHEMES:
            page.emulate_media(color_scheme=scheme)
            if viewport == "phone":
                assert_no_horizontal_scrolling(page)
            assert_accessible(page)
            page.screenshot(path=directory / f"{name}-{viewport}-{scheme}.png", full_page=True)
    page.set_viewport_size(VIEWPORTS["desktop"])
    page.emulate_media(color_scheme="light")
