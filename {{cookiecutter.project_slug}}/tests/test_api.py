"""The rooms' HTTP API (chat/api.py), through the full Django stack."""

import json

import pytest
from django.conf import settings
from django.test import AsyncClient

from chat import rooms

from .inprocess import join, receive
from .users import NEEDS_CSRF_TOKEN, shown_name

URL = "/api/rooms/{}/messages/"


def post_json(client, room_name, body):
    """POST ``body`` (a str, sent as is) to the room's API; return the response."""
    return client.post(URL.format(room_name), body, content_type="application/json")


@pytest.mark.django_db
def test_get_answers_the_rooms_history_oldest_first(page_client, settings):
    settings.CHAT_HISTORY_LENGTH = 2
    posted = [rooms.post_message("lobby", f"message {n}") for n in range(3)]
    response = page_client.get(URL.format("lobby"))
    assert response.status_code == 200
    assert response.json() == {"messages": posted[1:], "more": True}
    response = page_client.get(URL.format("lobby"), {"after": posted[0]["id"]})
    assert response.json() == {"messages": posted[1:], "more": False}


@pytest.mark.django_db
def test_post_stores_the_message_and_answers_it(page_client):
    response = post_json(page_client, "lobby", json.dumps({"message": "from a script"}))
    assert response.status_code == 201
    event = response.json()
    assert (event["type"], event["message"]) == ("chat.message", "from a script")
    assert event["user"] == shown_name("alice")
    assert page_client.get(URL.format("lobby")).json()["messages"] == [event]


@pytest.mark.django_db
def test_a_post_without_a_csrf_token_is_refused_only_where_there_are_sessions(page_client):
    page_client.handler.enforce_csrf_checks = True
    response = post_json(page_client, "lobby", json.dumps({"message": "from a script"}))
    assert response.status_code == (403 if NEEDS_CSRF_TOKEN else 201)


BAD_BODIES = [
    pytest.param("{oops", "invalid_json", id="invalid_json"),
    pytest.param(b"\xff\xfe{", "invalid_json", id="not_utf8"),
    pytest.param('["message"]', "invalid_message", id="not_an_object"),
    pytest.param('{"message": 1}', "invalid_message", id="message_not_a_string"),
    pytest.param(
        json.dumps({"message": "x" * (settings.CHAT_MAX_MESSAGE_LENGTH + 1)}),
        "message_too_long",
        id="message_too_long",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "code"), BAD_BODIES)
def test_a_bad_body_gets_400_with_the_protocols_error(page_client, body, code):
    response = post_json(page_client, "lobby", body)
    assert response.status_code == 400
    error = response.json()
    assert (error["type"], error["code"]) == ("error", code)
    assert error["detail"]
    assert page_client.get(URL.format("lobby")).json()["messages"] == []


@pytest.mark.django_db
def test_a_bad_after_gets_400_with_invalid_after(page_client):
    response = page_client.get(URL.format("lobby"), {"after": "-1"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_after"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/rooms/dot.ted/messages/", "/api/rooms/lobby/"])
def test_unknown_paths_are_not_found(page_client, path):
    assert page_client.get(path).status_code == 404


@pytest.mark.django_db
def test_other_methods_are_not_allowed(page_client):
    assert page_client.delete(URL.format("lobby")).status_code == 405


@pytest.mark.django_db(transaction=True)
async def test_a_posted_message_reaches_the_rooms_members(open_communicator, room_name, alice):
    member, _ = await join(open_communicator, room_name, alice)
    client = AsyncClient()
    client.cookies.load(alice or "")
    response = await client.post(
        URL.format(room_name), {"message": "from outside"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert await receive(member) == response.json()
