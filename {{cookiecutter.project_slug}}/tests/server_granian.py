"""What the tests expect of granian, the production server (config/server.py).

(The template holds one such module per server option; the bake kept this one.)
"""

from django.conf import settings

# What each worker logs once it has loaded the application.
STARTED_LOG = "Started worker-"
# None: granian drops open websockets without a close frame when it stops
# (granian #796), and the application cannot send one first: each worker's
# SIGTERM handler is granian's own, on its event loop. Browsers see 1006 and
# reconnect as after any close.
SHUTDOWN_CLOSE_CODE = None


def processes() -> int:
    """Return how many server processes log ``STARTED_LOG`` once ready: the workers."""
    return settings.SERVER_WORKERS
