"""What the tests expect of daphne, the production server (config/server.py).

(The template holds one such module per server option; the bake kept this one.)
"""

from serving.shutdown import GOING_AWAY

# What daphne logs once it listens.
STARTED_LOG = "Listening on TCP address"
# Daphne drops open websockets without a close frame when it stops;
# serving.shutdown.CloseOnShutdownMiddleware closes them with this code first.
SHUTDOWN_CLOSE_CODE = GOING_AWAY


def processes() -> int:
    """Return how many server processes log ``STARTED_LOG`` once ready: daphne serves from one."""
    return 1
