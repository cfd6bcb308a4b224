"""The channel layer over Redis shards, through Sentinel and over TLS; bad Redis settings.

On one redis bake, two server processes (started as the systemd unit starts
them, ``support.deployment``) chat through each form of the Redis settings.
"""

import json
from contextlib import ExitStack

import pytest

from tests.support.bakes import show
from tests.support.deployment import (
    production_env,
    receive,
    required,
    start_servers,
    throwaway_certificate,
    two_processes_chat,
)
from tests.support.matrix import REDIS_FORMS_COMBINATION
from tests.support.servers import Background, RedisServer, accepts_connections, free_port


@pytest.mark.combinations([REDIS_FORMS_COMBINATION])
def test_shards_carry_every_message_and_both_carry_traffic(baked_project, tmp_path):
    shards = [RedisServer(tmp_path / f"shard-{n}") for n in range(2)]
    try:
        urls = ",".join(shard.url for shard in shards)
        env = production_env(tmp_path, {"REDIS_URLS": urls})
        servers = start_servers(baked_project, env, tmp_path)
        try:
            # channels_redis puts group G on shard (crc32(G) & 0xFFF) // (4096 / shards):
            # of two shards, rooms 0 to 2 land on the first and 8 to 10 on the second.
            rooms = [f"shard-room-{n}" for n in (0, 1, 2, 8, 9, 10)]
            with ExitStack() as stack:
                # Three members per room, spread over both processes.
                members = {
                    room: [
                        stack.enter_context(server.websocket(f"/ws/chat/{room}/"))
                        for server in (*servers, servers[0])
                    ]
                    for room in rooms
                }
                groups = [shard.command("--scan", "--pattern", "asgi:group:*") for shard in shards]
                assert all(groups), groups
                # A burst: every room's first member sends 20 messages at once.
                for room, room_members in members.items():
                    for n in range(20):
                        room_members[0].send(json.dumps({"message": f"{room} {n}"}))
                for room, room_members in members.items():
                    for member in room_members:
                        received = [receive(member) for _ in range(20)]
                        assert [e["message"] for e in received] == [
                            f"{room} {n}" for n in range(20)
                        ]
        finally:
            for server in servers:
                server.kill()
    finally:
        for shard in shards:
            shard.kill()


@pytest.mark.combinations([REDIS_FORMS_COMBINATION])
def test_channel_layer_through_sentinel(baked_project, tmp_path):
    required("redis-sentinel")
    primary = RedisServer(tmp_path / "primary")
    sentinel_dir = tmp_path / "sentinel"
    sentinel_dir.mkdir()
    config = sentinel_dir / "sentinel.conf"  # Sentinel rewrites its file: it must be writable
    config.write_text(f"sentinel monitor chat 127.0.0.1 {primary.port} 1\n")
    port = free_port()
    sentinel = Background(
        ["redis-sentinel", str(config), "--port", str(port), "--bind", "127.0.0.1"],
        sentinel_dir / "sentinel.log",
        cwd=sentinel_dir,
    )
    try:
        sentinel.wait_until_ready(accepts_connections(port), timeout=10)
        env = {"REDIS_SENTINELS": f"127.0.0.1:{port}", "REDIS_SENTINEL_MASTER": "chat"}
        two_processes_chat(baked_project, env, tmp_path)
        # The rooms lived on the primary Sentinel named (group_add is a ZADD), not
        # on the session's Redis at REDIS_URL, which the processes also had.
        assert "cmdstat_zadd:" in primary.command("info", "commandstats")
    finally:
        sentinel.kill()
        primary.kill()


@pytest.mark.combinations([REDIS_FORMS_COMBINATION])
def test_channel_layer_over_tls(baked_project, tmp_path):
    tls = throwaway_certificate(tmp_path)
    redis = RedisServer(tmp_path / "redis-tls", tls=tls)
    try:
        two_processes_chat(baked_project, {"REDIS_URL": redis.url}, tmp_path)
    finally:
        redis.kill()


# Each malformed form is refused as a plain function by the bake's own
# tests/test_redis_hosts.py; this proves that a refusal stops the server itself.
@pytest.mark.combinations([REDIS_FORMS_COMBINATION])
def test_a_bad_redis_setting_stops_the_server_at_start_up_in_one_line(baked_project, tmp_path):
    env = production_env(tmp_path, {"REDIS_URLS": "redis://a/0,redis://b:99999/0"})
    port = str(free_port())
    result = baked_project.run("python", "manage.py", "serve", "--port", port, env=env, timeout=60)
    assert result.returncode == 1, show(result)
    # One line, no traceback (manage.py).
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ImproperlyConfigured: REDIS_URLS: 'redis://b:99999/0'"), show(result)
