"""The production server: uvicorn with its own worker processes (``manage.py serve``).

uvicorn's ``--workers`` supervisor restarts a worker that dies or stops
answering its health check (uvicorn 0.30+), so no gunicorn is needed in front
of it. ``websockets-sansio`` is uvicorn's fastest websocket implementation
(the template's BENCHMARKS.md). Every websocket setting is set here, in one
place, from the SERVER_* settings.
"""

import sys

from django.conf import settings


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
        # No compression: it costs a zlib state per connection.
        "--ws-per-message-deflate",
        "false",
        # Django's ASGI handler has no lifespan support.
        "--lifespan",
        "off",
        # A consumer still running this long after the close is cancelled
        # (uvicorn would otherwise wait forever for one that missed its cancel).
        "--timeout-graceful-shutdown",
        str(settings.SERVER_SHUTDOWN_TIMEOUT),
        "--no-access-log",
        # Its own lines as Django's (settings.LOG_FORMAT), from the first:
        # the supervisor never loads Django (serving/logs.py).
        "--log-config",
        str(settings.BASE_DIR / "config" / "server_logging.json"),
        "config.asgi:application",
    ]
