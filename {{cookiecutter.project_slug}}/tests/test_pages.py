"""The pages as people see them, in headless Chromium against the production server.

Run with ``pytest -m browser``. ``browser.look_at`` checks each page at
1280x800 and at 390x844 (a phone), light and dark: axe-core finds no serious
or critical violation, the phone never scrolls sideways, and a screenshot of
each lands in ``screenshots/`` beside manage.py (``SCREENSHOTS_DIR`` picks
another directory).
"""

import re

import pytest
from playwright.sync_api import expect

from .browser import VIEWPORTS, enter_room, look_at, say
from .users import sign_in

pytestmark = pytest.mark.browser

# A word too long for a phone's width: it must wrap, not widen the page.
LONG_WORD = "Supercalifragilisticexpialidocious" * 4


def failed_requests(page) -> list[str]:
    """Return a list that collects each of ``page``'s requests answered 400 or more."""
    failed = []
    page.on("response", lambda response: response.status >= 400 and failed.append(response.url))
    return failed


def box(page, selector: str) -> dict:
    """Return the bounding box (x, y, width, height) of ``selector``'s one element on ``page``."""
    return page.locator(selector).bounding_box()


def test_the_index_lists_recent_rooms_beside_the_picker(asgi_server, new_page, room_name):
    page = new_page(asgi_server)
    failed = failed_requests(page)
    sign_in(page, "ivy")
    older, newer = f"{room_name}-a", f"{room_name}-b"
    for room in (older, newer):
        enter_room(page, room)
        say(page, f"hello {room}")
        expect(page.locator("#chat-log > *")).to_have_count(1)

    page.goto("/")
    links = page.locator("#recent-rooms a")
    expect(links.nth(0)).to_have_attribute("href", f"/chat/{newer}/")
    expect(links.nth(1)).to_have_attribute("href", f"/chat/{older}/")
    look_at(page, "index")
    picker, recent = box(page, ".picker"), box(page, ".recent")
    assert recent["x"] >= picker["x"] + picker["width"], "recent rooms are not beside the picker"

    links.nth(1).click()
    expect(page).to_have_url(re.compile(f"/chat/{older}/$"))
    expect(page.locator("#chat-log .message")).to_have_text(f"hello {older}")
    assert failed == []


def test_the_room_pins_its_message_bar_and_scrolls_its_log(asgi_server, new_page, room_name):
    page, other = new_page(asgi_server), new_page(asgi_server)
    failed = failed_requests(page)
    sign_in(page, "jo")
    sign_in(other, "kim")
    enter_room(page, room_name)
    enter_room(other, room_name)
    say(other, "Hi! Is anyone around?")
    expect(page.locator("#chat-log > li")).to_have_count(1)
    say(page, f"Here, with a long word: {LONG_WORD}")
    expect(other.locator("#chat-log > li")).to_have_count(2)
    for n in range(1, 13):
        say(other if n % 3 else page, f"Message number {n}.")
        expect(page.locator("#chat-log > li")).to_have_count(2 + n)
    look_at(page, "room")

    page.set_viewport_size(VIEWPORTS["phone"])
    log = page.locator("#chat-log")
    heights = "element => ({scroll: element.scrollHeight, client: element.clientHeight})"
    scrolled = log.evaluate(heights)
    assert scrolled["scroll"] > scrolled["client"], f"the log does not scroll: {scrolled}"
    document = page.locator("html").evaluate(heights)
    assert document["scroll"] <= document["client"], f"the page scrolls: {document}"
    form = box(page, "#chat-form")
    assert form["y"] + form["height"] <= VIEWPORTS["phone"]["height"]
    long_message, log_box = box(page, "#chat-log > li:nth-child(2)"), box(page, "#chat-log")
    assert long_message["x"] + long_message["width"] <= log_box["x"] + log_box["width"]

    # One's own messages stand apart; every message shows its time.
    own = page.locator("#chat-log > li.own")
    others = page.locator("#chat-log > li:not(.own)")
    expect(own).to_have_count(5)
    background = "element => getComputedStyle(element).backgroundColor"
    assert own.first.evaluate(background) != others.first.evaluate(background)
    log.evaluate("element => { element.scrollTop = element.scrollHeight; }")
    expect(page.locator("#chat-log > li:last-child time")).to_be_in_viewport()
    assert failed == []
