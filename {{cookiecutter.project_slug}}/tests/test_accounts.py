"""Accounts: every page and websocket needs a login (this file exists with accounts only).

Unit tests run by default; the live and browser tests carry their markers.
"""

import re
import subprocess
import sys
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import expect
from websockets.exceptions import InvalidStatus

from chat.models import Message

from . import live
from .browser import RECONNECT_MS, enter_room, look_at, say
from .inprocess import figure, join, receive, send
from .users import PASSWORD, sign_in


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/chat/lobby/"])
def test_chat_pages_require_login(path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/"])
def test_account_pages_are_public(path):
    response = Client().get(path)
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content


@pytest.mark.django_db
def test_signup_creates_the_user_and_logs_in():
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {"username": "dora", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(username="dora").exists()
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_logout_is_a_post(page_client):
    response = page_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert page_client.get("/").status_code == 302


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/echo/", "/ws/chat/lobby/"])
async def test_anonymous_handshake_is_rejected_and_counted(open_communicator, path):
    before = figure("chat_websocket_handshakes_refused_total", reason="login")
    _, accepted = await open_communicator(path)
    assert not accepted
    assert figure("chat_websocket_handshakes_refused_total", reason="login") == before + 1


@pytest.mark.django_db(transaction=True)
async def test_logged_in_user_is_named_in_messages(open_communicator, room_name, bob):
    communicator, _ = await join(open_communicator, room_name, bob)
    await send(communicator, "it's me")
    event = await receive(communicator)
    assert event["user"] == "bob"
    stored = await Message.objects.select_related("user").aget(pk=event["id"])
    assert stored.user.username == "bob"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_the_api_answers_401_without_a_login(method):
    response = getattr(Client(), method)("/api/rooms/lobby/messages/")
    assert response.status_code == 401
    assert response.json()["code"] == "login_required"
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_an_api_post_needs_the_csrf_token_as_any_form(django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("alice"))
    client.get("/")  # a page sets the csrftoken cookie
    url, body = "/api/rooms/lobby/messages/", '{"message": "hi"}'
    assert client.post(url, body, content_type="application/json").status_code == 403
    token = client.cookies["csrftoken"].value
    response = client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201
    assert Message.objects.get().user.username == "alice"


@pytest.mark.live
@pytest.mark.parametrize("path", ["/ws/echo/", "/ws/chat/lobby/"])
async def test_live_anonymous_handshake_is_rejected(asgi_server, path):
    with pytest.raises(InvalidStatus) as caught:
        async with live.open_socket(asgi_server, path):
            pass
    assert caught.value.response.status_code == 403


@pytest.mark.live
def test_loadtest_without_a_cookie_says_so_in_one_line(asgi_server, live_env):
    result = subprocess.run(
        [sys.executable, "manage.py", "loadtest", asgi_server.ws_url(""), "--only", "echo"],
        cwd=live.PROJECT_DIR,
        env=live_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"CommandError: {asgi_server.ws_url('')} refused the handshake (HTTP 403): with "
        "accounts, pass --cookie with a logged-in session's Cookie header; else check --origin"
    ], result.stderr


@pytest.mark.live
async def test_live_users_are_named(asgi_server, room_name, live_alice, live_bob):
    path = f"/ws/chat/{room_name}/"
    async with (
        live.open_socket(asgi_server, path, live_alice) as first,
        live.open_socket(asgi_server, path, live_bob) as second,
    ):
        await live.history(first)
        await live.history(second)
        await live.send(first, "from alice")
        await live.send(second, "from bob")
        received = [await live.receive(first), await live.receive(first)]
        assert sorted((event["user"], event["message"]) for event in received) == [
            ("alice", "from alice"),
            ("bob", "from bob"),
        ]


@pytest.mark.browser
def test_a_logged_out_page_stops_reconnecting_and_offers_the_login(
    second_server, new_page, room_name
):
    """Logged out in another tab, then the server restarts: the page must not retry forever.

    Its reconnection is refused (HTTP 403); the page finds the room page now
    redirects to the login page, stops, and links there with "next" back to
    the room. Logging in through that link brings the user back, connected.
    """
    page = new_page(second_server)
    username = sign_in(page, "erin")
    enter_room(page, room_name)
    other_tab = page.context.new_page()
    other_tab.goto("/")
    other_tab.click("#logout-submit")
    expect(other_tab).to_have_url(re.compile(r"/accounts/login/$"))

    second_server.stop()
    second_server.start()
    status = page.locator("#connection-status")
    expect(status).to_have_attribute("data-state", "logged-out", timeout=RECONNECT_MS)
    link = page.locator("#login-link")
    expect(link).to_be_visible()
    next_room = re.compile(rf"/accounts/login/\?next=/chat/{room_name}/$")
    expect(link).to_have_attribute("href", next_room)

    # Stopped for good: no further handshakes while the page waits.
    handshakes = []
    page.on("websocket", lambda websocket: handshakes.append(websocket.url))
    page.wait_for_timeout(3000)  # longer than the next backoff step would wait
    assert handshakes == []
    expect(status).to_have_attribute("data-state", "logged-out")

    link.click()
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(f"/chat/{room_name}/$"))
    expect(status).to_have_attribute("data-state", "connected")
    say(page, "logged in again")
    expect(page.locator("#chat-log .message")).to_have_text("logged in again")


@pytest.mark.browser
def test_the_login_page_looks_right_and_shows_its_error(asgi_server, new_page):
    page = new_page(asgi_server)
    page.goto("/accounts/login/")
    look_at(page, "login")
    page.fill("#id_username", "nobody")
    page.fill("#id_password", "not the password")
    page.click("#login-submit")
    expect(page.locator(".form-error")).to_contain_text("correct username and password")
    look_at(page, "login-error")


@pytest.mark.browser
def test_the_signup_page_shows_each_error_beside_its_field(asgi_server, new_page):
    page = new_page(asgi_server)
    page.goto("/accounts/signup/")
    look_at(page, "signup")
    page.fill("#id_username", f"fay-{uuid.uuid4().hex[:8]}")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", "another pass phrase")
    page.click("#signup-submit")
    field, error = page.locator("#id_password2"), page.locator("#id_password2_error")
    expect(error).to_contain_text("didn’t match")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", re.compile(r"\bid_password2_error\b"))
    field_box, error_box = field.bounding_box(), error.bounding_box()
    below = error_box["y"] - (field_box["y"] + field_box["height"])
    assert 0 <= below < 16, f"the error is not right below its field: {field_box} {error_box}"
    look_at(page, "signup-error")
