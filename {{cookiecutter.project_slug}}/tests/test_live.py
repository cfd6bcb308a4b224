"""The project as users run it: the production server in its own process, real clients.

Run with ``pytest -m live``. Every client sends the Origin header a browser would.
"""

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as connect_in_thread

from . import server
from .layer import DROP_IN_LOG, IDLE_SECONDS
from .live import (
    PRESENCE_TIMEOUT,
    PROJECT_DIR,
    TIMEOUT,
    AsgiServer,
    free_port,
    history,
    open_socket,
    receive,
    receive_in_thread,
    scrape,
    send,
    stored_messages,
    until_presence,
)
from .users import live_cookie

pytestmark = pytest.mark.live


@dataclass
class IdleMember:
    """A room member's open connection, its room's path, and when it joined (monotonic s)."""

    websocket: ClientConnection
    path: str
    joined: float


@pytest.fixture(scope="module", autouse=True)
def idle_member(asgi_server, live_alice):
    """A member that joins a room of its own before the module's first test, then stays silent.

    The idle test comes last and waits only for what remains of its idle time,
    so the other tests' time counts toward it. websockets' threading client
    answers the server's pings in a thread of its own, whichever event loop a
    test runs.
    """
    path = f"/ws/chat/room-idle-{uuid.uuid4().hex[:12]}/"
    with open_socket(asgi_server, path, live_alice, client=connect_in_thread) as websocket:
        assert json.loads(websocket.recv(TIMEOUT))["type"] == "history"
        assert json.loads(websocket.recv(TIMEOUT))["type"] == "presence"
        yield IdleMember(websocket, path, time.monotonic())


async def test_echo(asgi_server, live_alice):
    async with open_socket(asgi_server, "/ws/echo/", live_alice) as websocket:
        await send(websocket, "hello")
        assert await receive(websocket) == {"type": "echo", "message": "hello"}


async def test_broadcast_reaches_every_member_and_no_other_room(
    asgi_server, room_name, live_alice, live_bob
):
    path = f"/ws/chat/{room_name}/"
    async with (
        open_socket(asgi_server, path, live_alice) as first,
        open_socket(asgi_server, path, live_bob) as second,
        open_socket(asgi_server, path, live_alice) as third,
        open_socket(asgi_server, f"/ws/chat/{room_name}-other/", live_bob) as elsewhere,
    ):
        members = (first, second, third)
        for websocket in (*members, elsewhere):
            await history(websocket)
        for number, member in enumerate(members):
            await send(member, f"message {number}")
        for member in members:
            received = [await receive(member) for _ in members]
            assert sorted(event["message"] for event in received) == [
                "message 0",
                "message 1",
                "message 2",
            ]
            assert {event["type"] for event in received} == {"chat.message"}
        # Frames on one connection arrive in order: if the other room's member
        # gets its own message first, no broadcast reached it.
        await send(elsewhere, "other room")
        assert (await receive(elsewhere))["message"] == "other room"


async def test_every_error_code_leaves_the_connection_usable(asgi_server, room_name, live_alice):
    async with open_socket(asgi_server, f"/ws/chat/{room_name}/", live_alice) as websocket:
        await history(websocket)
        too_long = json.dumps({"message": "x" * (settings.CHAT_MAX_MESSAGE_LENGTH + 1)})
        frames = [
            ("{oops", "invalid_json"),
            ('["message"]', "invalid_message"),
            (too_long, "message_too_long"),
            (b"\x00binary", "binary_not_supported"),
        ]
        for frame, code in frames:
            await websocket.send(frame)
            error = await receive(websocket)
            assert (error["type"], error["code"]) == ("error", code)
            assert error["detail"]
        await send(websocket, "still here")
        assert (await receive(websocket))["message"] == "still here"


@pytest.mark.parametrize("path", ["/ws/echo/", "/ws/chat/lobby/"])
async def test_foreign_origin_is_rejected(asgi_server, live_alice, path):
    with pytest.raises(InvalidStatus) as caught:
        async with open_socket(asgi_server, path, live_alice, origin="http://evil.example"):
            pass
    assert caught.value.response.status_code == 403


async def test_unknown_path_is_rejected(asgi_server, live_alice):
    with pytest.raises(InvalidStatus) as caught:
        async with open_socket(asgi_server, "/ws/chat/not.a.room/", live_alice):
            pass
    assert caught.value.response.status_code == 403


async def test_burst_every_member_receives_every_message_stored_once(
    asgi_server, room_name, live_alice
):
    """50 members, 5 of them sending 40 messages each at once: 200 messages, none lost.

    Every message is stored once, and every member receives the stored ones,
    with the ids the room's API gives them.
    """
    members_count, senders_count, per_sender = 50, 5, 40
    path = f"/ws/chat/{room_name}/"
    members = [await open_socket(asgi_server, path, live_alice) for _ in range(members_count)]
    for member in members:
        await history(member)
    try:
        expected = {f"{s}:{n}" for s in range(senders_count) for n in range(per_sender)}

        async def send_all(sender):
            for n in range(per_sender):
                await send(members[sender], f"{sender}:{n}")

        async def receive_all(member):
            return [await receive(member, timeout=60) for _ in expected]

        receivers = [asyncio.create_task(receive_all(member)) for member in members]
        await asyncio.gather(*(send_all(sender) for sender in range(senders_count)))
        results = await asyncio.gather(*receivers)
        stored = await asyncio.to_thread(stored_messages, asgi_server, room_name, live_alice)
        assert sorted(event["message"] for event in stored) == sorted(expected)
        stored_ids = {event["id"]: event["message"] for event in stored}
        for index, received in enumerate(results):
            ids = {event["id"]: event["message"] for event in received}
            assert ids == stored_ids, f"member {index} missed {len(stored_ids.keys() - ids)}"
    finally:
        await asyncio.gather(*(member.close() for member in members))


async def test_shutdown_closes_connections_and_restart_serves_again(
    second_server, live_users, room_name
):
    """SIGTERM ends every connection at once, with the server's close code, then restarts.

    ``server.SHUTDOWN_CLOSE_CODE`` is None where the server sends no close
    frame (granian); the connection must still end, not hang.
    """
    cookie = live_cookie(second_server, "alice")
    path = f"/ws/chat/{room_name}/"
    async with open_socket(second_server, path, cookie) as websocket:
        await history(websocket)
        await asyncio.to_thread(second_server.stop)
        with pytest.raises(ConnectionClosed) as caught:
            await asyncio.wait_for(websocket.recv(), TIMEOUT)
        if server.SHUTDOWN_CLOSE_CODE is None:
            assert caught.value.rcvd is None
        else:
            assert caught.value.rcvd is not None, "TCP connection dropped without a close frame"
            assert caught.value.rcvd.code == server.SHUTDOWN_CLOSE_CODE
    await asyncio.to_thread(second_server.start)
    async with open_socket(second_server, path, cookie) as websocket:
        await history(websocket)
        await send(websocket, "back")
        assert (await receive(websocket))["message"] == "back"


async def test_a_member_that_reconnects_with_after_gets_exactly_what_it_missed(
    asgi_server, room_name, live_alice, live_bob
):
    path = f"/ws/chat/{room_name}/"
    async with open_socket(asgi_server, path, live_bob) as sender:
        await history(sender)
        async with open_socket(asgi_server, path, live_alice) as member:
            await history(member)
            await send(sender, "seen")
            last_seen = await receive(member)
            assert (await receive(sender))["id"] == last_seen["id"]
        for n in range(3):
            await send(sender, f"missed {n}")
        missed = [await receive(sender) for _ in range(3)]
        async with open_socket(asgi_server, f"{path}?after={last_seen['id']}", live_alice) as back:
            assert await history(back) == {"type": "history", "messages": missed, "more": False}
            await send(sender, "live again")
            assert (await receive(back))["message"] == "live again"
            assert (await receive(sender))["message"] == "live again"


async def test_who_is_here_holds_across_processes_and_drops_a_killed_one(
    asgi_server, second_server, room_name, live_alice, live_bob
):
    """Two processes on one database: each member sees the other, until one process is killed.

    Through Redis the list reaches the other process's members at once; with the
    in-memory layer, at its next refresh. The killed process closes nothing: its
    member leaves the list once its row is PRESENCE_TIMEOUT old.
    """
    path = f"/ws/chat/{room_name}/"
    async with open_socket(asgi_server, f"{path}?name=alice", live_alice) as here:
        await history(here)
        async with open_socket(second_server, f"{path}?name=bob", live_bob) as there:
            await history(there)
            await until_presence(here, ["alice", "bob"])
            await asyncio.to_thread(second_server.kill)
            await until_presence(here, ["alice"], timeout=3 * PRESENCE_TIMEOUT)


def run_loadtest(target, cookie, env, *workload: str) -> subprocess.CompletedProcess:
    """Run ``manage.py loadtest`` against the ``target`` server in its own process; return it."""
    args = [sys.executable, "manage.py", "loadtest", target.ws_url(""), "--json", *workload]
    if cookie:
        args += ["--cookie", cookie]
    return subprocess.run(
        args, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_loadtest_reports_every_message_delivered_and_metrics_count_it(
    asgi_server, live_env, live_alice
):
    before = scrape(asgi_server)
    result = run_loadtest(
        asgi_server,
        live_alice,
        live_env,
        *("--echo-clients", "5", "--echo-messages", "20"),
        *("--members", "10", "--senders", "2", "--messages", "10"),
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["echo"]["messages_per_s"] > 0
    assert figures["echo"]["p99_ms"] >= figures["echo"]["p50_ms"] > 0
    assert figures["broadcast"]["delivered"] == figures["broadcast"]["sent"] == 10 * 2 * 10

    # One scrape, whichever worker answers it, counts what every worker saw.
    def added(*sample):
        return after.get(sample, 0) - before.get(sample, 0)

    after = scrape(asgi_server)
    # The tool's handshake check, 5 echo clients and 10 members.
    assert added("chat_websocket_handshakes_accepted_total") == 1 + 5 + 10
    assert added("chat_websocket_frames_received_total") == 5 * 20 + 2 * 10
    assert added("chat_messages_stored_total") == 2 * 10
    assert added("chat_messages_broadcast_total") == 2 * 10
    assert added("chat_message_store_seconds_count") == 2 * 10
    # Echo replies and each member's history frame at least; a late joiner gets
    # some messages inside its history frame rather than one frame each.
    assert added("chat_websocket_frames_sent_total") >= 5 * 20 + 10
    errors = [sample for sample in after if sample[0] == "chat_websocket_error_frames_total"]
    assert sum(added(*sample) for sample in errors) == 0
    assert added("chat_channel_layer_drops_total") == 0


# Bursts at most, until one overflows a channel (test_loadtest_fails_when_messages_are_lost).
LOSSY_BURSTS = 5


def test_loadtest_fails_when_messages_are_lost(live_env, live_users, tmp_path):
    """Whenever the server dropped a message, the load tool must exit 1 saying so.

    Channels that hold one message overflow when two senders' broadcasts
    interleave before the members have read, which a burst usually causes (it
    loses most of its deliveries) but cannot force: with a fast server and the
    load tool slowed by a busy machine, broadcasts can arrive one at a time and
    all be delivered. So bursts repeat until one loses something, and a drop
    in the server's log must always come with the tool's exit 1. The converse
    does not hold with Redis: channels_redis's per-process receive buffer, of
    the same capacity, drops its oldest message without a log line
    (channels_redis #212), so a loss may show in the tool alone; then the tool
    must say how many it counted.
    """
    env = {**live_env, "CHANNEL_LAYER_CAPACITY": "1"}
    log = tmp_path / "server.log"
    with AsgiServer(env, log) as lossy:
        cookie = live_cookie(lossy, "alice")
        for _ in range(LOSSY_BURSTS):
            offset = log.stat().st_size
            result = run_loadtest(
                lossy,
                cookie,
                env,
                *("--only", "broadcast", "--members", "20", "--messages", "40", "--timeout", "3"),
            )
            dropped = DROP_IN_LOG.search(log.read_bytes()[offset:].decode(errors="replace"))
            if dropped:
                assert result.returncode == 1, result.stdout + result.stderr
            if result.returncode == 0:
                figures = json.loads(result.stdout)["broadcast"]
                assert figures["delivered"] == figures["sent"], figures
            else:
                break
        else:
            pytest.fail(f"none of {LOSSY_BURSTS} bursts overflowed a channel of capacity 1")
    assert re.search(r"\d+ of \d+ messages lost", result.stderr), result.stderr


def test_healthcheck_passes_while_the_server_runs_and_fails_without_it(asgi_server):
    # In this process: the command's code is what the image's HEALTHCHECK runs.
    output = io.StringIO()
    call_command("healthcheck", port=asgi_server.port, timeout=2, stdout=output)
    call_command("healthcheck", "--ready", port=asgi_server.port, timeout=5, stdout=output)
    assert output.getvalue().splitlines() == [
        f"127.0.0.1:{asgi_server.port} is alive",
        f"127.0.0.1:{asgi_server.port} is ready",
    ]
    with pytest.raises(CommandError, match=r"^no answer from 127\.0\.0\.1:"):
        call_command("healthcheck", port=free_port(), timeout=2)


# Last in the module, so that the other tests' time counts toward the silence.
async def test_idle_connection_still_sends_and_receives(asgi_server, idle_member, live_bob):
    # How long: tests/layer.py says why; LIVE_IDLE_SECONDS may lengthen it.
    idle_seconds = float(os.environ.get("LIVE_IDLE_SECONDS", IDLE_SECONDS))
    await asyncio.sleep(idle_member.joined + idle_seconds - time.monotonic())
    idle = idle_member.websocket
    async with open_socket(asgi_server, idle_member.path, live_bob) as fresh:
        await history(fresh)
        await send(fresh, "anyone there?")
        assert (await asyncio.to_thread(receive_in_thread, idle))["message"] == "anyone there?"
        assert (await receive(fresh))["message"] == "anyone there?"
        await asyncio.to_thread(idle.send, json.dumps({"message": "still here"}))
        assert (await receive(fresh))["message"] == "still here"
