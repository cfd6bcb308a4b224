"""The chat page in a real headless Chromium, driven by Playwright, against the production server.

Run with ``pytest -m browser``. Uses the system's Chromium (CHROMIUM_PATH, or
chromium on PATH); Playwright never downloads a browser here.
"""

import pytest
from playwright.sync_api import expect

from .browser import RECONNECT_MS, enter_room, say
from .users import sign_in

pytestmark = pytest.mark.browser


def test_two_pages_in_one_room_chat(asgi_server, new_page, room_name):
    first, second = new_page(asgi_server), new_page(asgi_server)
    ann, ben = sign_in(first, "ann"), sign_in(second, "ben")
    enter_room(first, room_name)
    enter_room(second, room_name)

    say(first, "hello from the first tab")
    for page in (first, second):
        expect(page.locator("#chat-log > *")).to_have_count(1)
    say(second, "and hello back")
    for page in (first, second):
        log = page.locator("#chat-log > *")
        expect(log).to_have_count(2)
        expect(log.nth(0)).to_contain_text("hello from the first tab")
        expect(log.nth(0).locator(".user")).to_have_text(ann)
        expect(log.nth(1)).to_contain_text("and hello back")
        expect(log.nth(1).locator(".user")).to_have_text(ben)


def test_html_in_a_message_is_shown_literally_and_never_runs(asgi_server, new_page, room_name):
    sender, reader = new_page(asgi_server), new_page(asgi_server)
    sign_in(sender, "mallory")
    sign_in(reader, "reader")
    enter_room(sender, room_name)
    enter_room(reader, room_name)
    payload = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script><b>bold</b>'

    say(sender, payload)
    for page in (sender, reader):
        expect(page.locator("#chat-log > *")).to_have_count(1)
        expect(page.locator("#chat-log .message")).to_have_text(payload)
        expect(page.locator("#chat-log img, #chat-log script, #chat-log b")).to_have_count(0)
        assert page.evaluate("window.pwned") is None


def test_page_shows_the_connection_state_and_reconnects(second_server, new_page, room_name):
    page = new_page(second_server)
    sign_in(page, "carol")
    enter_room(page, room_name)
    status = page.locator("#connection-status")
    expect(page.locator("#chat-message-submit")).to_be_enabled()

    second_server.stop()
    expect(status).to_have_attribute("data-state", "disconnected")
    expect(page.locator("#chat-message-submit")).to_be_disabled()

    second_server.start()
    expect(status).to_have_attribute("data-state", "connected", timeout=RECONNECT_MS)
    expect(page.locator("#login-again")).to_be_hidden()
    say(page, "back again")
    expect(page.locator("#chat-log > *")).to_have_count(1)
    expect(page.locator("#chat-log .message")).to_have_text("back again")
