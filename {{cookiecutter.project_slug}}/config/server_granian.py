"""The production server: granian with its own worker processes (``manage.py serve``).

``--respawn-failed-workers`` restarts a worker that dies (without it, granian
stops altogether). ``asginl`` is the ASGI interface without the lifespan
protocol, which Django's ASGI handler does not speak. Granian has no setting
for websocket pings or the largest message, and sends no close frame when it
stops (README: "Deploying" says what that means); every setting it has is set
here, in one place.
"""

import asyncio
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


class WriteControl:
    """What serving.slow_clients may do to one websocket's connection under granian.

    Granian's ``send`` waits until the frame is written to the socket
    (granian 2.8, src/asgi/io.rs: ``send_message`` awaits tokio-tungstenite's
    ``SinkExt::send``, which flushes), so ``writable`` has nothing to wait for.
    Its transport lives in Rust, out of the application's reach, so ``abort``
    can only ask for a close frame (code 1008, policy violation). The frame
    waits behind the bytes already buffered: the socket stays open until the
    client reads them or goes away, holding one frame and the kernel's
    buffers (the consumer has ended). Without that close, the connection
    could stay open even then: granian closes it when the application
    returns only if no cancelled send still holds its writer (a race).
    """

    def __init__(self, send):
        self.send = send
        self.closing = None

    async def writable(self) -> None:
        """Return at once: granian's ``send`` waits for the socket itself."""

    def abort(self) -> None:
        """Queue a close frame (1008) in a task of its own; an error there means it is closed."""
        self.closing = asyncio.ensure_future(self.send({"type": "websocket.close", "code": 1008}))
        self.closing.add_done_callback(lambda task: task.cancelled() or task.exception())
