"""What the tests expect of uvicorn, the production server (config/server.py).

(The template holds one such module per server option; the bake kept this one.)
"""

from django.conf import settings

# What each worker logs once it has loaded the application.
STARTED_LOG = "Started server process"
# uvicorn closes open websockets with 1012 (service restart) when it stops.
SHUTDOWN_CLOSE_CODE = 1012


def processes() -> int:
    """Return how many server processes log ``STARTED_LOG`` once ready: the workers."""
    return settings.SERVER_WORKERS
