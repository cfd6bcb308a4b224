"""The consumers, run in-process through the full ASGI stack with WebsocketCommunicator."""

import json

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat import presence, protocol, rooms
from chat.models import Message, Presence

from .inprocess import join, receive, send
from .layer import group_size
from .users import shown_name

pytestmark = pytest.mark.django_db(transaction=True)


async def test_echo(open_communicator, alice):
    communicator, accepted = await open_communicator("/ws/echo/", cookie=alice)
    assert accepted
    await send(communicator, "hello")
    assert await receive(communicator) == {"type": "echo", "message": "hello"}


async def test_room_broadcast_reaches_every_member_and_no_other_room(
    open_communicator, room_name, alice, bob, carol
):
    first, _ = await join(open_communicator, room_name, alice)
    second, _ = await join(open_communicator, room_name, bob)
    elsewhere, _ = await join(open_communicator, f"{room_name}-other", carol)

    await send(first, "hi all")

    for member in (first, second):
        event = await receive(member)
        assert event["type"] == "chat.message"
        assert event["message"] == "hi all"
        assert event["user"] == shown_name("alice")
        assert event["timestamp"]
        assert event["id"] == (await Message.objects.aget(room=room_name)).pk
    # Frames on one connection arrive in order: if the other room's member gets
    # its own message first, the broadcast never reached it.
    await send(elsewhere, "other room")
    assert (await receive(elsewhere))["message"] == "other room"
    assert await elsewhere.receive_nothing(timeout=0.2)


async def test_a_member_leaves_the_group_when_it_disconnects(
    open_communicator, channel_layer, room_name, alice, bob
):
    group = protocol.group_name(room_name)
    stays, _ = await join(open_communicator, room_name, alice)
    leaves, _ = await join(open_communicator, room_name, bob)
    assert await group_size(channel_layer, group) == 2
    await leaves.disconnect()
    assert await group_size(channel_layer, group) == 1
    await send(stays, "still here?")
    assert (await receive(stays))["message"] == "still here?"
    await stays.disconnect()
    assert await group_size(channel_layer, group) == 0


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
    pytest.param({"text_data": '{"message": " \\t\\n "}'}, "empty_message", id="empty_message"),
]


@pytest.mark.parametrize(("frame", "code"), BAD_FRAMES)
async def test_echo_bad_frame_gets_error_and_connection_stays_usable(
    open_communicator, frame, code, alice
):
    communicator, _ = await open_communicator("/ws/echo/", cookie=alice)
    await communicator.send_to(**frame)
    error = await receive(communicator)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["detail"]

    await send(communicator, "still open")
    assert await receive(communicator) == {"type": "echo", "message": "still open"}


@pytest.mark.parametrize(("frame", "code"), BAD_FRAMES)
async def test_room_bad_frame_errors_only_the_sender(
    open_communicator, frame, code, room_name, alice, bob
):
    sender, _ = await join(open_communicator, room_name, alice)
    other, _ = await join(open_communicator, room_name, bob)
    await sender.send_to(**frame)
    error = await receive(sender)
    assert (error["type"], error["code"]) == ("error", code)
    assert await other.receive_nothing(timeout=0.3)

    await send(sender, "recovered")
    assert (await receive(sender))["message"] == "recovered"
    assert (await receive(other))["message"] == "recovered"


@pytest.mark.parametrize("path", ["/ws/echo/", "/ws/chat/lobby/"])
async def test_foreign_origin_is_rejected(open_communicator, path, alice):
    _, accepted = await open_communicator(path, origin="http://evil.example", cookie=alice)
    assert not accepted


async def test_missing_origin_is_rejected(open_communicator, alice):
    _, accepted = await open_communicator("/ws/echo/", origin=None, cookie=alice)
    assert not accepted


@pytest.mark.parametrize(
    "path",
    [
        "/ws/chat/",
        "/ws/chat/has space/",
        "/ws/chat/dots.not.allowed/",
        f"/ws/chat/{'x' * (protocol.ROOM_NAME_MAX_LENGTH + 1)}/",
        "/ws/chat/lobby",
        "/ws/unknown/",
    ],
)
async def test_unmatched_path_is_rejected(open_communicator, path, alice):
    _, accepted = await open_communicator(path, cookie=alice)
    assert not accepted


async def test_longest_room_name_is_accepted(open_communicator, alice):
    await join(open_communicator, "x" * protocol.ROOM_NAME_MAX_LENGTH, alice)


post = database_sync_to_async(rooms.post_message)


async def test_a_member_joins_to_the_rooms_stored_history(open_communicator, room_name, alice):
    earlier = [await post(room_name, f"earlier {n}") for n in range(3)]
    await post(f"{room_name}-other", "elsewhere")
    _, history = await join(open_communicator, room_name, alice)
    assert history == {"type": "history", "messages": earlier, "more": False}


async def test_history_holds_the_newest_messages_and_says_there_are_more(
    open_communicator, room_name, alice, settings
):
    settings.CHAT_HISTORY_LENGTH = 2
    posted = [await post(room_name, f"message {n}") for n in range(3)]
    _, history = await join(open_communicator, room_name, alice)
    assert history["messages"] == posted[1:]
    assert history["more"] is True


async def test_after_gives_only_later_messages_oldest_first(
    open_communicator, room_name, alice, settings
):
    settings.CHAT_HISTORY_LENGTH = 2
    posted = [await post(room_name, f"message {n}") for n in range(4)]
    after = posted[0]["id"]
    _, history = await join(open_communicator, room_name, alice, f"after={after}")
    assert (history["messages"], history["more"]) == (posted[1:3], True)
    last = posted[-1]["id"]
    _, history = await join(open_communicator, room_name, alice, f"after={last}")
    assert (history["messages"], history["more"]) == ([], False)


@pytest.mark.parametrize("after", ["", "abc", "-1", "1.5", " 1", "1&after=2", str(2**63)])
async def test_invalid_after_gets_an_error_then_the_history(
    open_communicator, room_name, alice, after
):
    posted = await post(room_name, "kept")
    communicator, accepted = await open_communicator(
        f"/ws/chat/{room_name}/?after={after}", cookie=alice
    )
    assert accepted
    error = await receive(communicator)
    assert (error["type"], error["code"]) == ("error", "invalid_after")
    assert await receive(communicator) == {"type": "history", "messages": [posted], "more": False}
    await send(communicator, "still usable")
    assert (await receive(communicator))["message"] == "still usable"


async def test_a_message_is_stored_before_every_member_hears_it(
    open_communicator, room_name, alice
):
    member, _ = await join(open_communicator, room_name, alice)
    await send(member, "kept")
    event = await receive(member)
    stored = await Message.objects.aget(pk=event["id"])
    assert (stored.room, stored.text, stored.author) == (room_name, "kept", event["user"])
    assert stored.event() == event


async def test_a_message_both_in_the_history_and_delivered_live_reaches_a_member_once(
    open_communicator, channel_layer, room_name, alice
):
    """A message stored while a member joins is in its history and on its way to it live.

    Delivered to the room before the member joined, it is in the history
    only; here its live copy comes after the history, as when it is stored
    after the member joined the group but before its history was read.
    """
    stored = await post(room_name, "while joining")
    member, history = await join(open_communicator, room_name, alice)
    assert history["messages"] == [stored]
    await channel_layer.group_send(protocol.group_name(room_name), stored)
    await send(member, "next")
    assert (await receive(member))["message"] == "next"


async def test_a_member_learns_who_is_here_after_the_history(open_communicator, room_name, alice):
    communicator, accepted = await open_communicator(
        f"/ws/chat/{room_name}/?name=alice", cookie=alice
    )
    assert accepted
    assert (await receive(communicator, skip=()))["type"] == "history"
    assert await receive(communicator, skip=()) == {"type": "presence", "users": ["alice"]}


async def test_every_member_hears_each_change_of_who_is_here_once(
    open_communicator, room_name, alice, bob
):
    """The list changes when a new name joins and when the last connection of a name leaves."""
    first, _ = await join(open_communicator, room_name, alice, "name=alice")
    second, _ = await join(open_communicator, room_name, bob, "name=bob")
    assert await receive(first, skip=()) == {"type": "presence", "users": ["alice", "bob"]}
    again, _ = await join(open_communicator, room_name, alice, "name=alice")
    await again.disconnect()
    # The same names all along: nothing to tell, so the next frame is a message.
    await send(second, "still two names")
    for member in (first, second):
        assert (await receive(member, skip=()))["message"] == "still two names"
    await second.disconnect()
    assert await receive(first, skip=()) == {"type": "presence", "users": ["alice"]}
    assert await first.receive_nothing(timeout=0.2)


async def test_a_connection_whose_process_died_leaves_the_list_within_the_timeout(
    open_communicator, room_name, alice, settings
):
    """A row nobody refreshes (its server process was killed) expires; members are told."""
    settings.CHAT_PRESENCE_TIMEOUT = 1  # refreshes every third of a second
    await Presence.objects.acreate(
        channel_name="dead-process!1", room=room_name, name="ghost", seen=timezone.now()
    )
    communicator, _ = await join(open_communicator, room_name, alice, "name=alice")
    assert await receive(communicator, skip=()) == {"type": "presence", "users": ["alice"]}
    assert await database_sync_to_async(presence.users)(room_name) == ["alice"]
    assert not await Presence.objects.filter(name="ghost").aexists()


async def test_the_presence_refresh_ends_with_the_last_connection(
    open_communicator, room_name, alice
):
    communicator, _ = await join(open_communicator, room_name, alice)
    keeper = presence.keeper()
    assert keeper.task is not None and not keeper.task.done()
    await communicator.disconnect()
    assert keeper.task is None
    assert not await Presence.objects.filter(room=room_name).aexists()
