"""The chat page in a real headless Chromium, driven by Playwright, against the production server.

Run with ``pytest -m browser``. Uses the system's Chromium (CHROMIUM_PATH, or
chromium on PATH); Playwright never downloads a browser here.
"""

import re
import subprocess
import sys

import pytest
from django.conf import settings
from playwright.sync_api import expect

from .browser import RECONNECT_MS, enter_room, say
from .live import PROJECT_DIR, AsgiServer
from .users import sign_in

pytestmark = pytest.mark.browser


def message_ids(page) -> list[int]:
    """Return the ``data-id`` of each message in the page's #chat-log, in page order."""
    return page.locator("#chat-log > *").evaluate_all(
        "items => items.map(item => Number(item.dataset.id))"
    )


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

    # A reload shows the room as it was left: the same messages, with their ids.
    ids = message_ids(first)
    first.reload()
    expect(first.locator("#connection-status")).to_have_attribute("data-state", "connected")
    expect(first.locator("#chat-log .message")).to_have_text(
        ["hello from the first tab", "and hello back"]
    )
    assert message_ids(first) == ids


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


def post_while_away(env: dict, room_name: str, texts: list[str]) -> None:
    """Store and deliver ``texts`` in a room from a process of their own (rooms.post_message)."""
    code = (
        "from chat.rooms import post_message\n"
        f"for text in {texts!r}:\n"
        f"    post_message({room_name!r}, text, author='away')\n"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=PROJECT_DIR, env=env, check=True
    )


def test_after_a_disconnect_the_page_shows_what_it_missed_once_in_order(
    live_env, live_users, new_page, room_name, tmp_path
):
    """Messages stored while the page was away come back on reconnection, each once.

    The server's history frame holds 2 messages at most, so the page also pages
    through the room's API for the rest.
    """
    env = {**live_env, "CHAT_HISTORY_LENGTH": "2"}
    with AsgiServer(env, tmp_path / "server.log") as server:
        page = new_page(server)
        sign_in(page, "dave")
        enter_room(page, room_name)
        say(page, "before")
        expect(page.locator("#chat-log > *")).to_have_count(1)

        server.stop()
        expect(page.locator("#connection-status")).to_have_attribute("data-state", "disconnected")
        missed = [f"missed {n}" for n in range(5)]
        post_while_away(env, room_name, missed)
        server.start()

        status = page.locator("#connection-status")
        expect(status).to_have_attribute("data-state", "connected", timeout=RECONNECT_MS)
        say(page, "after")
        messages = page.locator("#chat-log .message")
        expect(messages).to_have_text(["before", *missed, "after"])
        ids = message_ids(page)
        assert ids == sorted(set(ids)) and len(ids) == 7, ids


def test_the_page_shows_who_is_here(asgi_server, new_page, room_name):
    first, second = new_page(asgi_server), new_page(asgi_server)
    ann, ben = sign_in(first, "ann"), sign_in(second, "ben")
    enter_room(first, room_name)
    enter_room(second, room_name)
    for page in (first, second):
        expect(page.locator("#presence > li")).to_have_text(sorted([ann, ben]))
    second.close()
    expect(first.locator("#presence > li")).to_have_text([ann])


def test_own_messages_are_marked_and_every_message_shows_its_time(asgi_server, new_page, room_name):
    first, second = new_page(asgi_server), new_page(asgi_server)
    sign_in(first, "ann")
    sign_in(second, "ben")
    enter_room(first, room_name)
    enter_room(second, room_name)
    say(first, "mine")
    for page, own in ((first, True), (second, False)):
        item = page.locator("#chat-log > li")
        expect(item).to_have_count(1)
        if own:
            expect(item).to_have_class(re.compile(r"\bown\b"))
        else:
            expect(item).not_to_have_class(re.compile(r"\bown\b"))
        expect(item.locator("time")).to_have_text(re.compile(r"^\d{1,2}:\d{2}"))
        expect(item.locator("time")).to_be_visible()


def test_a_refused_message_stays_in_the_input_and_an_empty_one_is_not_sent(
    asgi_server, new_page, room_name
):
    page = new_page(asgi_server)
    sign_in(page, "dora")
    enter_room(page, room_name)
    text_input = page.locator("#chat-message-input")
    assert int(text_input.get_attribute("maxlength")) == settings.CHAT_MAX_MESSAGE_LENGTH
    # What maxlength keeps a person from typing, a script can still put there.
    too_long = "x" * (settings.CHAT_MAX_MESSAGE_LENGTH + 1)
    text_input.evaluate("(element, value) => { element.value = value; }", too_long)
    page.click("#chat-message-submit")
    expect(page.locator("#chat-error")).to_be_visible()
    expect(text_input).to_have_value(too_long)
    say(page, "   ")
    say(page, "kept until stored")
    expect(page.locator("#chat-log .message")).to_have_text(["kept until stored"])
    expect(text_input).to_have_value("")
