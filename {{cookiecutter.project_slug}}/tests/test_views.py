"""The HTML pages."""

import pytest
from django.contrib.staticfiles import finders

from chat.protocol import ROOM_NAME_MAX_LENGTH, ROOM_NAME_PATTERN

pytestmark = pytest.mark.django_db


def test_index_has_the_room_picker(page_client):
    response = page_client.get("/")
    assert response.status_code == 200
    assert b'id="room-name-input"' in response.content
    assert b'id="room-name-submit"' in response.content


def test_the_room_picker_checks_the_room_name_rule_in_the_browser_too(page_client):
    response = page_client.get("/")
    assert f'pattern="{ROOM_NAME_PATTERN}"'.encode() in response.content


def test_index_redirects_a_valid_room_name(page_client):
    response = page_client.get("/", {"room": "lobby-1_a"})
    assert response.status_code == 302
    assert response["Location"] == "/chat/lobby-1_a/"


@pytest.mark.parametrize(
    "room", ["has space", "dot.ted", "x" * (ROOM_NAME_MAX_LENGTH + 1), "<script>"]
)
def test_index_explains_an_invalid_room_name(page_client, room):
    response = page_client.get("/", {"room": room})
    assert response.status_code == 200
    assert b'class="error"' in response.content


def test_room_page_has_the_chat_elements(page_client):
    response = page_client.get("/chat/lobby/")
    assert response.status_code == 200
    for element_id in (
        "chat-log",
        "chat-message-input",
        "chat-message-submit",
        "room-name",
        "connection-status",
        "login-again",
        "login-link",
    ):
        assert f'id="{element_id}"'.encode() in response.content
    assert b"chat/chat.js" in response.content


@pytest.mark.parametrize(
    "path",
    ["/chat/has%20space/", "/chat/dot.ted/", f"/chat/{'x' * (ROOM_NAME_MAX_LENGTH + 1)}/"],
)
def test_room_page_rejects_an_invalid_room_name(page_client, path):
    assert page_client.get(path).status_code == 404


def test_static_files_are_found():
    assert finders.find("chat/chat.js")
    assert finders.find("chat/chat.css")


def test_health_answers_ok_to_anyone(client):
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.content == b"ok"
