"""Helpers for the browser tests: Debian's Chromium, and what a person does on the pages.

Playwright drives the system's Chromium (CHROMIUM_PATH, or chromium on PATH)
and never downloads a browser.
"""

import os
import re
import shutil

import pytest
from playwright.sync_api import expect

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
