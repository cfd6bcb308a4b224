"""Logs (serving/logs.py): JSON lines in production, naming a websocket's room and user."""

import asyncio
import contextvars
import io
import logging
import sys
import uuid

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured

from chat import protocol
from serving.logs import configured_log_format, connection_fields, console_handler

from . import server
from .inprocess import TIMEOUT, join, send
from .layer import DROP_IN_LOG
from .live import history, json_records, open_socket, receive
from .live import send as send_live


@pytest.fixture
def json_lines():
    """The project's JSON handler on the root logger, writing to a string; yields its stream."""
    # config.asgi sets Django up on its first import, which configures logging
    # anew (LOGGING), removing any handler added before: so it comes first.
    import config.asgi  # noqa: F401

    handler = console_handler("json")
    stream = io.StringIO()
    handler.setStream(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


@pytest.fixture
def capacity_one(settings):
    """Channel layers made from now on hold one unread message per channel."""
    default = settings.CHANNEL_LAYERS["default"]
    config = {**default["CONFIG"], "capacity": 1}
    settings.CHANNEL_LAYERS = {"default": {**default, "CONFIG": config}}


# capacity_one comes first: it must change the settings before channel_layer is made.
@pytest.mark.django_db(transaction=True)
async def test_a_drop_in_a_room_is_one_json_line_naming_the_room_and_user(
    capacity_one, json_lines, open_communicator, channel_layer, room_name, alice
):
    """A member whose process died leaves its channel in the room's group until
    group_expiry; once it is full, each broadcast drops a message for it, and
    the layer logs that drop inside the sender's connection (sync consumers:
    in asgiref's thread, and back on the event loop for the channel layer)."""
    member, _ = await join(open_communicator, room_name, alice, query="name=alice")
    # A channel of no process of this test's (channels_redis keeps the
    # process's own channels, new_channel()'s, in one shared list).
    dead = f"dead-member-{uuid.uuid4().hex}"
    await channel_layer.group_add(protocol.group_name(room_name), dead)
    try:
        await send(member, "fills the dead member's channel")
        await send(member, "dropped for the dead member")
        async with asyncio.timeout(TIMEOUT):
            while not DROP_IN_LOG.search(json_lines.getvalue()):
                await asyncio.sleep(0.05)
    finally:
        await channel_layer.group_discard(protocol.group_name(room_name), dead)
    drops = [r for r in json_records(json_lines.getvalue()) if DROP_IN_LOG.search(r["message"])]
    assert drops
    for drop in drops:
        assert (drop["room"], drop["user"]) == (room_name, "alice"), drop


def test_a_record_outside_a_websocket_names_no_room_and_keeps_its_traceback_on_one_line(
    json_lines,
):
    try:
        int("not a number")
    except ValueError:
        logging.getLogger("chat").exception("Could not divide")
    (record,) = json_records(json_lines.getvalue())
    assert (record["level"], record["logger"], record["message"]) == (
        "ERROR",
        "chat",
        "Could not divide",
    )
    assert "ValueError: invalid literal" in record["exc_info"]
    assert "room" not in record and "user" not in record


def test_a_plain_line_names_the_room_and_user_before_the_traceback():
    handler = console_handler("plain")
    handler.setStream(io.StringIO())
    record = logging.LogRecord("chat", logging.ERROR, __file__, 1, "Could not store", (), None)
    try:
        int("not a number")
    except ValueError:
        record.exc_info = sys.exc_info()

    def log_in_a_connection():
        connection_fields.set({"user": "alice", "room": "lobby"})
        handler.handle(record)

    contextvars.copy_context().run(log_in_a_connection)
    first, *traceback = handler.stream.getvalue().splitlines()
    assert first.endswith(" ERROR chat: Could not store [room=lobby user=alice]"), first
    assert traceback[-1].startswith("ValueError: invalid literal"), traceback


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({"DJANGO_DEBUG": "false"}, "json"),
        ({"DJANGO_DEBUG": "true"}, "plain"),
        ({"DJANGO_DEBUG": "true", "DJANGO_LOG_FORMAT": "json"}, "json"),
        ({"DJANGO_DEBUG": "false", "DJANGO_LOG_FORMAT": "plain"}, "plain"),
    ],
)
def test_the_format_is_json_unless_debug_or_chosen(monkeypatch, variables, expected):
    monkeypatch.delenv("DJANGO_LOG_FORMAT", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert configured_log_format(environ.Env()) == expected


def test_an_unknown_format_is_refused_naming_the_setting(monkeypatch):
    monkeypatch.setenv("DJANGO_LOG_FORMAT", "xml")
    with pytest.raises(ImproperlyConfigured, match="DJANGO_LOG_FORMAT must be json or plain"):
        configured_log_format(environ.Env())


@pytest.mark.live
async def test_every_line_of_the_production_servers_log_is_a_json_object(
    asgi_server, live_alice, room_name
):
    """From the first line (``manage.py serve`` saying what it starts) to the last.

    The live server runs with DEBUG off and no DJANGO_LOG_FORMAT, so JSON is
    the default at work. Output that bypasses logging would fail here: a
    traceback or a warning printed to stderr, an access log that a server
    writes itself, a crash of a server's native code.
    """
    path = f"/ws/chat/{room_name}/?name=alice"
    async with open_socket(asgi_server, path, live_alice) as member:
        await history(member)
        await send_live(member, "logged")
        assert (await receive(member))["message"] == "logged"
    lines = json_records(asgi_server.log.read_text())
    assert lines[0]["logger"] == "serving.management.commands.serve", lines[0]
    started = [line for line in lines if server.STARTED_LOG in line["message"]]
    assert len(started) >= server.processes(), lines
