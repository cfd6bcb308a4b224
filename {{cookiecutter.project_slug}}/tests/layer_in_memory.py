"""The channel layer in tests: the project's logging in-memory layer (serving/layers.py).

(layer_redis.py is this module's twin for a project baked with Redis.)
"""

import re

# How long the live idle test leaves a connection silent: several rounds of
# the live servers' pings (tests/live.py: PING_INTERVAL, PING_TIMEOUT).
IDLE_SECONDS = 5
# What serving.layers logs (a WARNING) when a group message finds a member's channel full.
DROPPED_MESSAGE_LOG = "is full (capacity 1): message of type 'chat.message' dropped"
# Any such drop, at any capacity, in a server's log.
DROP_IN_LOG = re.compile(r"is full \(capacity \d+\): message of type '[\w.]+' dropped")
# False: the layer lives inside the server process, so a management command's
# message reaches no member of a running server.
REACHES_OTHER_PROCESSES = False


async def group_size(layer, group: str) -> int:
    """Return how many channels ``layer`` holds in ``group``."""
    return len(layer.groups.get(group, {}))


async def close_layer(layer) -> None:
    """Drop every message and group the layer holds (its queues belong to this event loop)."""
    await layer.flush()
