"""PostgreSQL under load: the servers' database connections stay within their pools.

Run with ``pytest -m live`` and DATABASE_URL set to a PostgreSQL database (as
CI does); on SQLite these tests are deselected.
"""

import asyncio
import time

import psycopg
import pytest
from django.conf import settings

from .layer import REACHES_OTHER_PROCESSES
from .live import AsgiServer, assert_no_database_errors, history, open_socket, receive, send
from .server import processes
from .users import live_cookie

pytestmark = [pytest.mark.live, pytest.mark.postgresql]


def server_connections(database_url: str, application_name: str) -> int:
    """Return how many connections to the database clients named so hold (pg_stat_activity).

    A client's name is libpq's PGAPPNAME, from its environment.
    """
    with psycopg.connect(database_url, autocommit=True) as connection:
        return connection.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [application_name],
        ).fetchone()[0]


async def test_database_connections_stay_within_the_pools_and_end_with_the_servers(
    live_env, live_users, tmp_path, room_name
):
    """200 websockets across two server processes, and a burst through both.

    Each server process holds at most DATABASE_POOL_MAX_SIZE connections,
    however many websockets it serves; none is left once the servers stop.
    """
    database_url = live_env["DATABASE_URL"]
    name = f"pool-test-{room_name}"  # these servers' connections, not the session's servers'
    env = {**live_env, "PGAPPNAME": name}
    pool_max = settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]
    bound = 2 * processes() * pool_max
    path = f"/ws/chat/{room_name}/"
    servers = [AsgiServer(env, tmp_path / f"server-{n}.log") for n in range(2)]
    try:
        for server in servers:
            await asyncio.to_thread(server.start)
        cookies = [live_cookie(server, "alice") for server in servers]
        members = [await open_socket(servers[n % 2], path, cookies[n % 2]) for n in range(200)]
        for member in members:
            await history(member)
        assert await asyncio.to_thread(server_connections, database_url, name) <= bound
        senders, per_sender = members[:4], 10
        for n in range(per_sender):
            for index, sender in enumerate(senders):
                await send(sender, f"{index}:{n}")
        # With the in-memory layer a member hears only its own server's senders.
        expected = len(senders) * per_sender if REACHES_OTHER_PROCESSES else 2 * per_sender

        async def receive_all(member):
            return [await receive(member, timeout=60) for _ in range(expected)]

        received = await asyncio.gather(*(receive_all(member) for member in members))
        assert all(len(frames) == expected for frames in received)
        # At least one (the servers store through their pools), never more than the pools hold.
        assert 1 <= await asyncio.to_thread(server_connections, database_url, name) <= bound
        await asyncio.gather(*(member.close() for member in members))
        for server in servers:
            await asyncio.to_thread(server.stop)
        deadline = time.monotonic() + 10
        while await asyncio.to_thread(server_connections, database_url, name):
            assert time.monotonic() < deadline, "connections left after the servers stopped"
            await asyncio.sleep(0.2)
    finally:
        for server in servers:
            server.kill()
            assert_no_database_errors(server.log)
