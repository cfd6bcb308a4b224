"""The project as users run it: daphne in its own process, real websocket clients, real Redis.

Run with ``pytest -m live``. Every client sends the Origin header a browser would.
"""

import asyncio
import json
import os

import pytest
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
{%- if cookiecutter.channel_layer == "redis" and cookiecutter.use_auth %}

from .live import Browser, DaphneServer, RedisServer, redis_server_binary
{%- elif cookiecutter.channel_layer == "redis" %}

from .live import DaphneServer, RedisServer, redis_server_binary
{%- elif cookiecutter.use_auth %}

from .live import Browser
{%- endif %}

pytestmark = pytest.mark.live

TIMEOUT = 10  # seconds to wait for one frame
# How long the idle test leaves a connection silent: past daphne's ping
# interval (20 s) and ping timeout (30 s), so keepalive has to work.
IDLE_SECONDS = float(os.environ.get("LIVE_IDLE_SECONDS", "75"))
{%- if cookiecutter.use_auth %}
PASSWORD = "a long live-test pass phrase"


@pytest.fixture(scope="session")
def accounts(daphne_server):
    """Sign up "alice" and "bob" through the real signup form; return their names."""
    for username in ("alice", "bob"):
        form = {"username": username, "password1": PASSWORD, "password2": PASSWORD}
        landed = Browser(daphne_server).submit("/accounts/signup/", form)
        assert not landed.endswith("/accounts/signup/"), f"signup as {username} failed"
    return ("alice", "bob")


def log_in(server, username):
    """Log in through the real login form (CSRF token, then session cookie); return the Cookie."""
    browser = Browser(server)
    landed = browser.submit("/accounts/login/", {"username": username, "password": PASSWORD})
    assert not landed.endswith("/accounts/login/"), f"login as {username} failed"
    return browser.cookie_header()


@pytest.fixture(scope="session")
def alice(daphne_server, accounts):
    return log_in(daphne_server, "alice")


@pytest.fixture(scope="session")
def bob(daphne_server, accounts):
    return log_in(daphne_server, "bob")
{%- endif %}


def open_socket(server, path, cookie=None, origin=None):
    """Return a websockets connect() for ``path`` on ``server``, with a browser's Origin."""
    headers = {"Cookie": cookie} if cookie else None
    return connect(
        server.ws_url(path),
        origin=origin or server.origin,
        additional_headers=headers,
        open_timeout=TIMEOUT,
    )


async def receive(websocket, timeout=TIMEOUT):
    """Return the next frame from ``websocket``, decoded; TimeoutError after ``timeout`` s."""
    return json.loads(await asyncio.wait_for(websocket.recv(), timeout))


async def send(websocket, message):
    """Send one chat message: ``{"message": message}``."""
    await websocket.send(json.dumps({"message": message}))


async def test_echo(daphne_server, alice):
    async with open_socket(daphne_server, "/ws/echo/", alice) as websocket:
        await send(websocket, "hello")
        assert await receive(websocket) == {"type": "echo", "message": "hello"}


async def test_broadcast_reaches_every_member_and_no_other_room(
    daphne_server, room_name, alice, bob
):
    path = f"/ws/chat/{room_name}/"
    async with (
        open_socket(daphne_server, path, alice) as first,
        open_socket(daphne_server, path, bob) as second,
        open_socket(daphne_server, path, alice) as third,
        open_socket(daphne_server, f"/ws/chat/{room_name}-other/", bob) as elsewhere,
    ):
        members = (first, second, third)
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
        with pytest.raises(TimeoutError):
            await receive(elsewhere, timeout=1)


async def test_every_error_code_leaves_the_connection_usable(daphne_server, room_name, alice):
    async with open_socket(daphne_server, f"/ws/chat/{room_name}/", alice) as websocket:
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
async def test_foreign_origin_is_rejected(daphne_server, alice, path):
    with pytest.raises(InvalidStatus) as caught:
        async with open_socket(daphne_server, path, alice, origin="http://evil.example"):
            pass
    assert caught.value.response.status_code == 403


async def test_unknown_path_is_rejected(daphne_server, alice):
    with pytest.raises(InvalidStatus) as caught:
        async with open_socket(daphne_server, "/ws/chat/not.a.room/", alice):
            pass
    assert caught.value.response.status_code == 403
{%- if cookiecutter.use_auth %}


@pytest.mark.parametrize("path", ["/ws/echo/", "/ws/chat/lobby/"])
async def test_anonymous_handshake_is_rejected(daphne_server, path):
    with pytest.raises(InvalidStatus) as caught:
        async with open_socket(daphne_server, path):
            pass
    assert caught.value.response.status_code == 403


async def test_logged_in_users_are_named(daphne_server, room_name, alice, bob):
    path = f"/ws/chat/{room_name}/"
    async with (
        open_socket(daphne_server, path, alice) as first,
        open_socket(daphne_server, path, bob) as second,
    ):
        await send(first, "from alice")
        await send(second, "from bob")
        received = [await receive(first), await receive(first)]
        assert sorted((event["user"], event["message"]) for event in received) == [
            ("alice", "from alice"),
            ("bob", "from bob"),
        ]
{%- endif %}


async def test_burst_every_member_receives_every_message(daphne_server, room_name, alice):
    """50 members, 5 of them sending 40 messages each at once: 200 messages, none lost."""
    members_count, senders_count, per_sender = 50, 5, 40
    path = f"/ws/chat/{room_name}/"
    members = [await open_socket(daphne_server, path, alice) for _ in range(members_count)]
    try:
        expected = {f"{s}:{n}" for s in range(senders_count) for n in range(per_sender)}

        async def send_all(sender):
            for n in range(per_sender):
                await send(members[sender], f"{sender}:{n}")

        async def receive_all(member):
            return {(await receive(member, timeout=60))["message"] for _ in expected}

        receivers = [asyncio.create_task(receive_all(member)) for member in members]
        await asyncio.gather(*(send_all(sender) for sender in range(senders_count)))
        results = await asyncio.gather(*receivers)
        for index, received in enumerate(results):
            assert received == expected, f"member {index} missed {len(expected - received)}"
    finally:
        await asyncio.gather(*(member.close() for member in members))


async def test_idle_connection_still_sends_and_receives(daphne_server, room_name, alice, bob):
    path = f"/ws/chat/{room_name}/"
    async with open_socket(daphne_server, path, alice) as idle:
        await asyncio.sleep(IDLE_SECONDS)
        async with open_socket(daphne_server, path, bob) as fresh:
            await send(fresh, "anyone there?")
            assert (await receive(idle))["message"] == "anyone there?"
            await send(idle, "still here")
            assert (await receive(fresh))["message"] == "anyone there?"
            assert (await receive(fresh))["message"] == "still here"


async def test_shutdown_sends_a_close_frame_and_restart_serves_again(
    private_server, accounts, room_name
):
{%- if cookiecutter.use_auth %}
    cookie = log_in(private_server, "alice")
{%- else %}
    cookie = None
{%- endif %}
    path = f"/ws/chat/{room_name}/"
    async with open_socket(private_server, path, cookie) as websocket:
        await asyncio.to_thread(private_server.stop)
        with pytest.raises(ConnectionClosed) as caught:
            await asyncio.wait_for(websocket.recv(), TIMEOUT)
        assert caught.value.rcvd is not None, "TCP connection dropped without a close frame"
        assert caught.value.rcvd.code == 4001  # going away: chat.middleware.GOING_AWAY
    await asyncio.to_thread(private_server.start)
    async with open_socket(private_server, path, cookie) as websocket:
        await send(websocket, "back")
        assert (await receive(websocket))["message"] == "back"
{%- if cookiecutter.channel_layer == "redis" %}


async def test_members_on_two_processes_hear_each_other(
    daphne_server, private_server, room_name, alice, bob
):
    """daphne_server and private_server are two processes on one Redis and one database."""
    path = f"/ws/chat/{room_name}/"
    async with (
        open_socket(daphne_server, path, alice) as on_a,
        open_socket(private_server, path, bob) as on_b,
    ):
        await send(on_a, "from A")
        assert (await receive(on_a))["message"] == "from A"
        assert (await receive(on_b))["message"] == "from A"
        await send(on_b, "from B")
        assert (await receive(on_b))["message"] == "from B"
        assert (await receive(on_a))["message"] == "from B"


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of the test's own, which it may stop and start."""
    binary = redis_server_binary()
    if binary is None:
        pytest.fail(
            "The Redis outage test starts its own Redis: put redis-server or valkey-server "
            "on PATH (Debian: apt install redis-server).",
            pytrace=False,
        )
    with RedisServer(binary, tmp_path) as server:
        yield server


async def test_server_recovers_from_a_redis_outage(
    live_env, accounts, private_redis, tmp_path, room_name
):
    env = {**live_env, "REDIS_URL": private_redis.url}
    with DaphneServer(env, tmp_path / "daphne.log") as server:
{%- if cookiecutter.use_auth %}
        cookie = log_in(server, "alice")
{%- else %}
        cookie = None
{%- endif %}
        path = f"/ws/chat/{room_name}/"
        async with (
            open_socket(server, path, cookie) as first,
            open_socket(server, path, cookie) as second,
        ):
            await send(first, "before")
            assert (await receive(second))["message"] == "before"

            await asyncio.to_thread(private_redis.stop)
            # Connections that cannot go on are closed with a clear code, not left hanging.
            for websocket in (first, second):
                with pytest.raises(ConnectionClosed) as caught:
                    while True:
                        await asyncio.wait_for(websocket.recv(), 20)
                assert caught.value.rcvd is not None and caught.value.rcvd.code == 1011

        # While Redis is down, a handshake fails at once.
        started = asyncio.get_running_loop().time()
        with pytest.raises(InvalidStatus) as caught:
            async with open_socket(server, path, cookie):
                pass
        assert caught.value.response.status_code == 500
        assert asyncio.get_running_loop().time() - started < 5

        # Redis is back: new connections work, without restarting the server.
        await asyncio.to_thread(private_redis.start)
        async with (
            open_socket(server, path, cookie) as first,
            open_socket(server, path, cookie) as second,
        ):
            await send(first, "after")
            assert (await receive(second))["message"] == "after"
{%- endif %}
