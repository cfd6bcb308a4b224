"""The chat page in a real headless Chromium, driven by Playwright, against daphne.

Run with ``pytest -m browser``. Uses the system's Chromium (CHROMIUM_PATH, or
chromium on PATH); Playwright never downloads a browser here.
"""

import os
import re
import shutil
{%- if cookiecutter.use_auth %}
import uuid
{%- endif %}

import pytest
from playwright.sync_api import expect, sync_playwright

pytestmark = pytest.mark.browser

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
TIMEOUT_MS = 15_000
{%- if cookiecutter.use_auth %}
PASSWORD = "a long browser-test pass phrase"
{%- endif %}


def chromium_path():
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


@pytest.fixture
def browser():
    """A headless Chromium for one test.

    Not session-scoped: Playwright's sync API keeps an event loop running while
    it is open, which would stop pytest-asyncio from running the async tests
    collected after it in the same session.
    """
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh browser context (its own cookies) on a server."""
    contexts = []

    def open_page(server):
        context = browser.new_context(base_url=server.origin)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
{%- if cookiecutter.use_auth %}


def sign_up(page, username):
    """Create an account through the signup form (which logs it in)."""
    page.goto("/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("#signup-submit")
    expect(page.locator("#current-user")).to_contain_text(username)


def log_out(page):
    """Log out with the header's button (a POST, as Django requires)."""
    page.click("#logout-submit")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))


def log_in(page, username):
    """Log in through the login form."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#current-user")).to_contain_text(username)
{%- endif %}


def enter_room(page, room_name):
    """Pick a room on the index page and wait until its websocket is connected."""
    page.goto("/")
    page.fill("#room-name-input", room_name)
    page.click("#room-name-submit")
    expect(page).to_have_url(re.compile(f"/chat/{room_name}/$"))
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")


def say(page, text):
    """Type ``text`` into the message box and press Send."""
    page.fill("#chat-message-input", text)
    page.click("#chat-message-submit")


def test_two_pages_in_one_room_chat(daphne_server, new_page, room_name):
    first, second = new_page(daphne_server), new_page(daphne_server)
{%- if cookiecutter.use_auth %}
    suffix = uuid.uuid4().hex[:8]
    ann, ben = f"ann-{suffix}", f"ben-{suffix}"
    sign_up(first, ann)
    sign_up(second, ben)
    log_out(second)
    log_in(second, ben)
{%- else %}
    ann = ben = "anonymous"
{%- endif %}
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


def test_html_in_a_message_is_shown_literally_and_never_runs(daphne_server, new_page, room_name):
    sender, reader = new_page(daphne_server), new_page(daphne_server)
{%- if cookiecutter.use_auth %}
    suffix = uuid.uuid4().hex[:8]
    sign_up(sender, f"mallory-{suffix}")
    sign_up(reader, f"reader-{suffix}")
{%- endif %}
    enter_room(sender, room_name)
    enter_room(reader, room_name)
    payload = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script><b>bold</b>'

    say(sender, payload)
    for page in (sender, reader):
        expect(page.locator("#chat-log > *")).to_have_count(1)
        expect(page.locator("#chat-log .message")).to_have_text(payload)
        expect(page.locator("#chat-log img, #chat-log script, #chat-log b")).to_have_count(0)
        assert page.evaluate("window.pwned") is None


def test_page_shows_the_connection_state_and_reconnects(private_server, new_page, room_name):
    page = new_page(private_server)
{%- if cookiecutter.use_auth %}
    sign_up(page, f"carol-{uuid.uuid4().hex[:8]}")
{%- endif %}
    enter_room(page, room_name)
    status = page.locator("#connection-status")
    expect(page.locator("#chat-message-submit")).to_be_enabled()

    private_server.stop()
    expect(status).to_have_attribute("data-state", "disconnected")
    expect(page.locator("#chat-message-submit")).to_be_disabled()

    private_server.start()
    expect(status).to_have_attribute("data-state", "connected", timeout=40_000)
    say(page, "back again")
    expect(page.locator("#chat-log > *")).to_have_count(1)
    expect(page.locator("#chat-log .message")).to_have_text("back again")
