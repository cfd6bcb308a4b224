"""The HTML pages."""

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.utils.html import escape

from chat.models import Message
from chat.protocol import ROOM_NAME_MAX_LENGTH, ROOM_NAME_PATTERN
from chat.views import PROJECT_NAME, recent_rooms

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


def test_recent_rooms_are_those_with_messages_latest_first_at_most_20_in_one_query(
    django_assert_num_queries,
):
    for n in range(25):
        Message.objects.create(room=f"room-{n}", text="hello", author="ann")
    Message.objects.create(room="room-3", text="again", author="ann")
    with django_assert_num_queries(1):
        rooms = recent_rooms()
    assert rooms == ["room-3", *(f"room-{n}" for n in range(24, 5, -1))]


def test_index_links_recent_rooms_beside_the_picker(page_client):
    for room in ("lobby", "den", "lobby", "attic"):
        Message.objects.create(room=room, text="hello", author="ann")
    content = page_client.get("/").content.decode()
    assert 'id="recent-rooms"' in content
    links = [content.index(f'href="/chat/{room}/"') for room in ("attic", "lobby", "den")]
    assert links == sorted(links)


def test_index_without_messages_lists_no_rooms(page_client):
    content = page_client.get("/").content.decode()
    assert 'id="recent-rooms"' not in content
    assert "No messages yet" in content


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
    assert b'id="presence"' in response.content
    assert f'maxlength="{settings.CHAT_MAX_MESSAGE_LENGTH}"'.encode() in response.content


def test_pages_show_the_project_name_and_the_icon(page_client):
    for path in ("/", "/chat/lobby/"):
        content = page_client.get(path).content.decode()
        assert f"<span>{escape(PROJECT_NAME)}</span>" in content
        assert f'<link rel="icon" href="{static("chat/favicon.svg")}"' in content


def test_favicon_ico_leads_anyone_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == static("chat/favicon.svg")


@pytest.mark.parametrize(
    "path",
    ["/chat/has%20space/", "/chat/dot.ted/", f"/chat/{'x' * (ROOM_NAME_MAX_LENGTH + 1)}/"],
)
def test_room_page_rejects_an_invalid_room_name(page_client, path):
    assert page_client.get(path).status_code == 404


def test_static_files_are_found():
    assert finders.find("chat/chat.js")
    assert finders.find("chat/chat.css")
    assert finders.find("chat/favicon.svg")


def test_health_answers_ok_to_anyone(client):
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.content == b"ok"
