"""The production server: granian with its own worker processes (``manage.py serve``).

``--respawn-failed-workers`` restarts a worker that dies (without it, granian
stops altogether). ``asginl`` is the ASGI interface without the lifespan
protocol, which Django's ASGI handler does not speak. Granian has no setting
for websocket pings or the largest message, and sends no close frame when it
stops (README: "Deploying" says what that means); every setting it has is set
here, in one place.
"""

import sys

from django.conf import settings


def command(host: str, port: int) -> list[str]:
    """Return the command line that serves config.asgi:application on ``host``:``port``."""
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asginl",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(settings.SERVER_WORKERS),
        "--respawn-failed-workers",
        # A worker with sync consumers open does not stop on SIGTERM by itself
        # (it waits on asgiref's thread for good); kill it after this long.
        "--workers-kill-timeout",
        str(settings.SERVER_SHUTDOWN_TIMEOUT),
        "--loop",
        "uvloop",
        # Its own lines as Django's (settings.LOG_FORMAT), from the first:
        # the main process never loads Django (serving/logs.py).
        "--log-config",
        str(settings.BASE_DIR / "config" / "server_logging.json"),
        "config.asgi:application",
    ]
