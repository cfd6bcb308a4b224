"""The channel layer in tests: channels_redis on the real Redis at REDIS_URL (or REDIS_URLS).

There is no fake to fall back to: with no Redis answering, every test layer
fails at once and says how to start one. (layer_in_memory.py is this module's
twin for a project baked with the in-memory layer.)
"""

import re

import pytest
import redis
from django.conf import settings

# How long the live idle test leaves a connection silent: past the Redis
# client's 10-second socket timeout, which once closed every idle connection
# after 5 s (channels_redis #422), and many rounds of the live servers' pings.
IDLE_SECONDS = 12
# What channels_redis logs (at INFO) when a group message finds a member's channel full.
DROPPED_MESSAGE_LOG = "1 of 1 channels over capacity in group"
# Any such drop, in a group of any size, in a server's log.
DROP_IN_LOG = re.compile(r"\d+ of \d+ channels over capacity in group")
# True: every process that shares the Redis reaches every member.
REACHES_OTHER_PROCESSES = True


@pytest.fixture(scope="session", autouse=True)
def _redis_answers():
    """Fail fast, saying how to start one, when a Redis of the channel layer does not answer."""
    hosts = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    for url in [host["address"] for host in hosts if "address" in host]:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        except redis.RedisError as error:
            pytest.fail(
                f"No Redis server answers at {url} ({error}). Start one with "
                "`redis-server --daemonize yes` (Debian: apt install redis-server), "
                "or set REDIS_URL to a server you can use for tests.",
                pytrace=False,
            )
        finally:
            client.close()


async def group_size(layer, group: str) -> int:
    """Return how many channels ``layer`` holds in ``group`` (a sorted set in Redis)."""
    connection = layer.connection(layer.consistent_hash(group))
    return await connection.zcard(layer._group_key(group))


async def close_layer(layer) -> None:
    """Close the layer's Redis connections for this event loop, once its receives are done.

    ``close_pools`` leaves the data alone (``flush`` would delete every key of
    the prefix, other test runs' on the same Redis included).
    """
    await layer.close_pools()
