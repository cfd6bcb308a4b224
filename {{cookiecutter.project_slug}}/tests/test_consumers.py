"""The consumers, run in-process through the full ASGI stack with WebsocketCommunicator."""

import json

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
{%- if cookiecutter.use_auth %}
from django.contrib.auth import get_user_model
from django.test import Client
{%- endif %}

from chat import protocol

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://testserver"
TIMEOUT = 5  # seconds to wait for a frame; generous for a loaded machine


def asgi_application():
    """Return config.asgi:application, imported at test time, not at collection.

    AllowedHostsOriginValidator reads ALLOWED_HOSTS once, when config.asgi is
    imported; by test time pytest-django has added "testserver" to it.
    """
    from config.asgi import application

    return application


async def open_socket(path, origin=ORIGIN, cookie=None):
    """Connect through config.asgi:application; return (communicator, accepted)."""
    headers = [(b"origin", origin.encode())] if origin else []
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(asgi_application(), path, headers=headers)
    accepted, _ = await communicator.connect(timeout=TIMEOUT)
    return communicator, accepted


async def receive(communicator):
    """Return the next frame the consumer sent, decoded from JSON."""
    return json.loads(await communicator.receive_from(timeout=TIMEOUT))
{%- if cookiecutter.use_auth %}


def session_cookie(username):
    """Create a user, log it in with Django's test client, return its Cookie header value."""
    user = get_user_model().objects.create_user(username)  # no password: no slow hashing
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.fixture
def alice():
    return session_cookie("alice")


@pytest.fixture
def bob():
    return session_cookie("bob")


@pytest.fixture
def carol():
    return session_cookie("carol")
{%- endif %}


async def test_echo(alice):
    communicator, accepted = await open_socket("/ws/echo/", cookie=alice)
    assert accepted
    await communicator.send_to(text_data=json.dumps({"message": "hello"}))
    assert await receive(communicator) == {"type": "echo", "message": "hello"}
    await communicator.disconnect()


async def test_room_broadcast_reaches_every_member_and_no_other_room(room_name, alice, bob, carol):
    first, _ = await open_socket(f"/ws/chat/{room_name}/", cookie=alice)
    second, _ = await open_socket(f"/ws/chat/{room_name}/", cookie=bob)
    elsewhere, _ = await open_socket(f"/ws/chat/{room_name}-other/", cookie=carol)

    await first.send_to(text_data=json.dumps({"message": "hi all"}))

    for member in (first, second):
        event = await receive(member)
        assert event["type"] == "chat.message"
        assert event["message"] == "hi all"
        assert event["user"] == {% if cookiecutter.use_auth %}"alice"{% else %}"anonymous"{% endif %}
        assert event["timestamp"]
    # Frames on one connection arrive in order: if the other room's member gets
    # its own message first, the broadcast never reached it.
    await elsewhere.send_to(text_data=json.dumps({"message": "other room"}))
    assert (await receive(elsewhere))["message"] == "other room"
    assert await elsewhere.receive_nothing(timeout=0.2)

    for communicator in (first, second, elsewhere):
        await communicator.disconnect()


async def group_size(room_name):
    """Return how many channels the channel layer holds in a room's group."""
    layer = get_channel_layer()
    group = protocol.group_name(room_name)
{%- if cookiecutter.channel_layer == "redis" %}
    # channels_redis keeps each group as a sorted set of channel names.
    connection = layer.connection(layer.consistent_hash(group))
    return await connection.zcard(layer._group_key(group))
{%- else %}
    return len(layer.groups.get(group, {}))
{%- endif %}


async def test_a_member_leaves_the_group_when_it_disconnects(room_name, alice, bob):
    stays, _ = await open_socket(f"/ws/chat/{room_name}/", cookie=alice)
    leaves, _ = await open_socket(f"/ws/chat/{room_name}/", cookie=bob)
    assert await group_size(room_name) == 2
    await leaves.disconnect()
    assert await group_size(room_name) == 1
    await stays.send_to(text_data=json.dumps({"message": "still here?"}))
    assert (await receive(stays))["message"] == "still here?"
    await stays.disconnect()
    assert await group_size(room_name) == 0


BAD_FRAMES = [
    pytest.param({"text_data": "{not json"}, "invalid_json", id="invalid_json"),
    pytest.param({"text_data": '["message"]'}, "invalid_message", id="not_an_object"),
    pytest.param({"text_data": '{"message": 1}'}, "invalid_message", id="message_not_a_string"),
    pytest.param({"text_data": '{"msg": "hi"}'}, "invalid_message", id="no_message"),
    pytest.param(
        {"text_data": json.dumps({"message": "x" * (settings.CHAT_MAX_MESSAGE_LENGTH + 1)})},
        "message_too_long",
        id="message_too_long",
    ),
    pytest.param({"bytes_data": b"\x00\x01"}, "binary_not_supported", id="binary_not_supported"),
]


@pytest.mark.parametrize(("frame", "code"), BAD_FRAMES)
async def test_echo_bad_frame_gets_error_and_connection_stays_usable(frame, code, alice):
    communicator, _ = await open_socket("/ws/echo/", cookie=alice)
    await communicator.send_to(**frame)
    error = await receive(communicator)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["detail"]

    await communicator.send_to(text_data=json.dumps({"message": "still open"}))
    assert await receive(communicator) == {"type": "echo", "message": "still open"}
    await communicator.disconnect()


@pytest.mark.parametrize(("frame", "code"), BAD_FRAMES)
async def test_room_bad_frame_errors_only_the_sender(frame, code, room_name, alice, bob):
    sender, _ = await open_socket(f"/ws/chat/{room_name}/", cookie=alice)
    other, _ = await open_socket(f"/ws/chat/{room_name}/", cookie=bob)
    await sender.send_to(**frame)
    error = await receive(sender)
    assert (error["type"], error["code"]) == ("error", code)
    assert await other.receive_nothing(timeout=0.3)

    await sender.send_to(text_data=json.dumps({"message": "recovered"}))
    assert (await receive(sender))["message"] == "recovered"
    assert (await receive(other))["message"] == "recovered"
    await sender.disconnect()
    await other.disconnect()


@pytest.mark.parametrize("path", ["/ws/echo/", "/ws/chat/lobby/"])
async def test_foreign_origin_is_rejected(path, alice):
    communicator, accepted = await open_socket(path, origin="http://evil.example", cookie=alice)
    assert not accepted


async def test_missing_origin_is_rejected(alice):
    communicator, accepted = await open_socket("/ws/echo/", origin=None, cookie=alice)
    assert not accepted


@pytest.mark.parametrize(
    "path",
    [
        "/ws/chat/",
        "/ws/chat/has space/",
        "/ws/chat/dots.not.allowed/",
        "/ws/chat/" + "x" * 65 + "/",
        "/ws/chat/lobby",
        "/ws/unknown/",
    ],
)
async def test_unmatched_path_is_rejected(path, alice):
    communicator, accepted = await open_socket(path, cookie=alice)
    assert not accepted


async def test_longest_room_name_is_accepted(alice):
    communicator, accepted = await open_socket("/ws/chat/" + "x" * 64 + "/", cookie=alice)
    assert accepted
    await communicator.disconnect()
{%- if cookiecutter.use_auth %}


@pytest.mark.parametrize("path", ["/ws/echo/", "/ws/chat/lobby/"])
async def test_anonymous_handshake_is_rejected(path):
    communicator, accepted = await open_socket(path)
    assert not accepted


async def test_logged_in_user_is_named_in_messages(room_name, bob):
    communicator, accepted = await open_socket(f"/ws/chat/{room_name}/", cookie=bob)
    assert accepted
    await communicator.send_to(text_data=json.dumps({"message": "it's me"}))
    assert (await receive(communicator))["user"] == "bob"
    await communicator.disconnect()
{%- endif %}
