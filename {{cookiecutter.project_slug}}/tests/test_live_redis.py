"""Redis only: server processes sharing one Redis, and a Redis outage.

Run with ``pytest -m live`` (this file exists in projects baked with Redis).
"""

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .live import (
    PRESENCE_TIMEOUT,
    PROJECT_DIR,
    AsgiServer,
    Process,
    free_port,
    history,
    http_get,
    open_socket,
    receive,
    send,
    until_presence,
)
from .users import live_cookie

pytestmark = pytest.mark.live


def redis_server_binary() -> str | None:
    """Return the path of ``redis-server`` or ``valkey-server`` on PATH, or None."""
    return shutil.which("redis-server") or shutil.which("valkey-server")


class RedisServer(Process):
    """A private, throwaway Redis on a free loopback port (no persistence)."""

    def __init__(self, binary: str, workdir: Path) -> None:
        port = free_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(workdir)]
        super().__init__(args, port, workdir / "redis.log")

    def is_ready(self, log_offset: int) -> bool:
        with self.log.open("rb") as log:
            log.seek(log_offset)
            return b"Ready to accept connections" in log.read()

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``, for REDIS_URL."""
        return f"redis://127.0.0.1:{self.port}/0"


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


async def test_members_on_two_processes_hear_each_other(
    asgi_server, second_server, room_name, live_alice, live_bob
):
    """asgi_server and second_server are two servers on one Redis and one database."""
    path = f"/ws/chat/{room_name}/"
    async with (
        open_socket(asgi_server, path, live_alice) as on_a,
        open_socket(second_server, path, live_bob) as on_b,
    ):
        await history(on_a)
        await history(on_b)
        await send(on_a, "from A")
        assert (await receive(on_a))["message"] == "from A"
        assert (await receive(on_b))["message"] == "from A"
        await send(on_b, "from B")
        assert (await receive(on_b))["message"] == "from B"
        assert (await receive(on_a))["message"] == "from B"


async def test_reconnecting_with_after_across_processes_gets_exactly_the_missed_messages(
    asgi_server, second_server, room_name, live_alice, live_bob
):
    """A member leaves server A; both servers' members talk; it comes back through server B."""
    path = f"/ws/chat/{room_name}/"
    async with (
        open_socket(asgi_server, path, live_bob) as on_a,
        open_socket(second_server, path, live_bob) as on_b,
    ):
        await history(on_a)
        await history(on_b)
        async with open_socket(asgi_server, path, live_alice) as member:
            await history(member)
            await send(on_a, "seen")
            last_seen = (await receive(member))["id"]
            for other in (on_a, on_b):
                assert (await receive(other))["id"] == last_seen
        for n in range(4):
            await send((on_a, on_b)[n % 2], f"missed {n}")
        # Sent through two processes, they may reach each member in either order.
        missed = sorted([await receive(on_a) for _ in range(4)], key=lambda event: event["id"])
        assert sorted([await receive(on_b) for _ in range(4)], key=lambda e: e["id"]) == missed
        async with open_socket(second_server, f"{path}?after={last_seen}", live_alice) as back:
            assert await history(back) == {"type": "history", "messages": missed, "more": False}
            await send(on_a, "live again")
            assert (await receive(back))["message"] == "live again"


async def test_post_message_command_reaches_the_members_of_a_running_server(
    asgi_server, live_env, room_name, live_alice
):
    async with open_socket(asgi_server, f"/ws/chat/{room_name}/", live_alice) as member:
        await history(member)
        command = [sys.executable, "manage.py", "post_message", room_name, "from cron"]
        result = await asyncio.to_thread(
            subprocess.run, command, cwd=PROJECT_DIR, env=live_env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        event = await receive(member)
        assert (event["id"], event["message"], event["user"]) == (
            int(result.stdout),
            "from cron",
            "system",
        )


async def test_server_recovers_from_a_redis_outage(
    live_env, live_users, private_redis, tmp_path, room_name
):
    env = {**live_env, "REDIS_URL": private_redis.url}
    with AsgiServer(env, tmp_path / "server.log") as server:
        cookie = live_cookie(server, "alice")
        path = f"/ws/chat/{room_name}/"
        async with (
            open_socket(server, f"{path}?name=alice", cookie) as first,
            open_socket(server, f"{path}?name=bob", live_cookie(server, "bob")) as second,
        ):
            await history(first)
            await history(second)
            await send(first, "before")
            assert (await receive(second))["message"] == "before"

            await asyncio.to_thread(private_redis.stop)
            # Connections that cannot go on are closed with a clear code, not left hanging.
            for websocket in (first, second):
                with pytest.raises(ConnectionClosed) as caught:
                    while True:
                        await asyncio.wait_for(websocket.recv(), 20)
                assert caught.value.rcvd is not None and caught.value.rcvd.code == 1011

        # While Redis is down, the server is alive but not ready, and says why.
        assert http_get(f"{server.origin}/healthz/")[0] == 200
        status, body = http_get(f"{server.origin}/readyz/")
        assert status == 503
        answer = json.loads(body)
        assert answer["database"] == "ok"
        assert answer["channel_layer"].startswith(("failed: ", "timed out")), answer

        # While Redis is down, a handshake fails at once.
        started = asyncio.get_running_loop().time()
        with pytest.raises(InvalidStatus) as caught:
            async with open_socket(server, path, cookie):
                pass
        assert caught.value.response.status_code == 500
        assert asyncio.get_running_loop().time() - started < 5

        # Redis is back: the server is ready, and new connections work, without a restart.
        await asyncio.to_thread(private_redis.start)
        assert (await asyncio.to_thread(http_get, f"{server.origin}/readyz/"))[0] == 200
        async with (
            open_socket(server, f"{path}?name=alice", cookie) as first,
            open_socket(server, f"{path}?name=alice", cookie) as second,
        ):
            # Who is here is right again: bob left during the outage.
            await until_presence(first, ["alice"], timeout=3 * PRESENCE_TIMEOUT)
            await history(second)
            await send(first, "after")
            assert (await receive(second))["message"] == "after"
