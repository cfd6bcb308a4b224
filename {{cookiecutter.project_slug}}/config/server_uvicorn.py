"""The production server: uvicorn with its own worker processes (``manage.py serve``).

uvicorn's ``--workers`` supervisor restarts a worker that dies or stops
answering its health check (uvicorn 0.30+), so no gunicorn is needed in front
of it. ``websockets-sansio`` is uvicorn's fastest websocket implementation
here (BENCHMARKS.md). Every websocket setting is set here, in one place,
from the SERVER_* settings.
"""

import sys

from django.conf import settings

# uvicorn closes open websockets with 1012 (service restart) when it stops.
SHUTDOWN_CLOSE_CODE = 1012
# What each worker logs once it has loaded the application.
STARTED_LOG = "Started server process"


def processes() -> int:
    """Return how many server processes log ``STARTED_LOG`` once ready: the workers."""
    return settings.SERVER_WORKERS


def command(host: str, port: int) -> list[str]:
    """Return the command line that serves config.asgi:application on ``host``:``port``."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(settings.SERVER_WORKERS),
        "--ws",
        "websockets-sansio",
        "--ws-ping-interval",
        str(settings.SERVER_PING_INTERVAL),
        "--ws-ping-timeout",
        str(settings.SERVER_PING_TIMEOUT),
        "--ws-max-size",
        str(settings.SERVER_MAX_MESSAGE_BYTES),
        # daphne offers no compression either; it costs a zlib state per connection.
        "--ws-per-message-deflate",
        "false",
        # Django's ASGI handler has no lifespan support.
        "--lifespan",
        "off",
        # As daphne's application close timeout: a consumer still running 10 s
        # after the close is cancelled (uvicorn would otherwise wait forever).
        "--timeout-graceful-shutdown",
        "10",
        "--no-access-log",
        "config.asgi:application",
    ]
