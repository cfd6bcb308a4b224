"""The production server: daphne, Channels' own ASGI server (``manage.py serve``).

Daphne serves from one process; run several behind the proxy to use more
cores (README: "Deploying"). Every websocket setting is set here, in one
place, from the SERVER_* settings.
"""

import sys

from django.conf import settings


def command(host: str, port: int) -> list[str]:
    """Return the command line that serves config.asgi:application on ``host``:``port``."""
    return [
        sys.executable,
        "-m",
        "daphne",
        "--bind",
        host,
        "--port",
        str(port),
        "--ping-interval",
        str(settings.SERVER_PING_INTERVAL),
        "--ping-timeout",
        str(settings.SERVER_PING_TIMEOUT),
        "--websocket-max-message-size",
        str(settings.SERVER_MAX_MESSAGE_BYTES),
        "--websocket-max-frame-size",
        str(settings.SERVER_MAX_MESSAGE_BYTES),
        # How long a consumer has to finish once its connection closed.
        "--application-close-timeout",
        str(settings.SERVER_SHUTDOWN_TIMEOUT),
        # No access log: daphne writes it to stdout itself, not through
        # logging, so it could not be JSON; the proxy in front keeps one.
        "--verbosity",
        "0",
        "config.asgi:application",
    ]
