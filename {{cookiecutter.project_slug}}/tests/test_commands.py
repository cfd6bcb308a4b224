"""Management commands: post_message, prune_messages, and what serve says before it starts."""

import io
import os
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.management import CommandError, call_command
from django.utils import timezone

from chat import rooms
from chat.models import Message

from .inprocess import join, receive
from .layer import REACHES_OTHER_PROCESSES

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> tuple[str, str]:
    """Run a management command in this process; return its stdout and stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(*args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_post_message_stores_it_as_system_and_prints_its_id():
    stdout, _ = run("post_message", "lobby", "maintenance at noon")
    stored = Message.objects.get()
    assert stdout == f"{stored.pk}\n"
    assert (stored.room, stored.text, stored.author) == ("lobby", "maintenance at noon", "system")
    run("post_message", "lobby", "done", "--user", "ops")
    assert Message.objects.latest("id").author == "ops"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["not a room", "hi"], "is not a room name"),
        (["lobby", "x" * 5000], "at most"),
        (["lobby", "hi", "--user", ""], "--user"),
    ],
)
def test_post_message_refuses_bad_input_and_stores_nothing(args, error):
    with pytest.raises(CommandError, match=error):
        run("post_message", *args)
    assert not Message.objects.exists()


async def test_post_message_in_the_servers_process_reaches_the_rooms_members(
    open_communicator, room_name, alice
):
    member, _ = await join(open_communicator, room_name, alice)
    stdout, _ = await database_sync_to_async(run)("post_message", room_name, "announcement")
    event = await receive(member)
    assert (event["id"], event["message"], event["user"]) == (
        int(stdout),
        "announcement",
        "system",
    )


def test_post_message_says_so_when_no_server_can_hear_it():
    _, stderr = run("post_message", "lobby", "hi")
    assert ("next history" in stderr) != REACHES_OTHER_PROCESSES, stderr


def test_prune_messages_deletes_only_older_messages():
    old = rooms.post_message("lobby", "old")
    new = rooms.post_message("lobby", "new")
    Message.objects.filter(pk=old["id"]).update(created=timezone.now() - timedelta(days=31))
    stdout, _ = run("prune_messages", "--days", "30")
    assert stdout == "Deleted 1 messages older than 30 days.\n"
    assert list(Message.objects.values_list("pk", flat=True)) == [new["id"]]


def test_prune_messages_refuses_a_negative_age():
    with pytest.raises(CommandError, match="--days"):
        run("prune_messages", "--days", "-1")


def test_serve_warns_in_one_line_when_debug_is_on(settings, monkeypatch):
    """The server replaces the command's process (os.execv): here it is recorded instead."""
    started = []
    monkeypatch.setattr(os, "execv", lambda path, argv: started.append(argv))
    for debug in (True, False):
        settings.DEBUG = debug
        _, stderr = run("serve", "--port", "8123")
        assert stderr.count("\n") == (1 if debug else 0), stderr
        assert ("DJANGO_DEBUG" in stderr) == debug
    assert len(started) == 2
