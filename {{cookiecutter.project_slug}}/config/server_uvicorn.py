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


class WriteControl:
    """What serving.slow_clients may do to one websocket's connection under uvicorn.

    Takes the ASGI ``send`` of a connection, which for ``websockets-sansio`` is
    the bound method ``WebSocketsSansIOProtocol.send`` (uvicorn 0.55,
    uvicorn/protocols/websockets/websockets_sansio_impl.py). That ``send``
    already waits while the asyncio transport holds more than its high-water
    mark (64 KiB: ``pause_writing``/``resume_writing``), so ``writable`` has
    nothing to wait for.
    """

    def __init__(self, send):
        self.protocol = getattr(send, "__self__", None)

    async def writable(self) -> None:
        """Return at once: uvicorn's ``send`` waits for the buffer to drain itself."""

    def abort(self) -> None:
        """Close the TCP connection now, dropping what is buffered for it.

        uvicorn's own close (``transport.close()``) waits until the buffer is
        written, which never happens while the client does not read.
        """
        transport = getattr(self.protocol, "transport", None)
        if transport is not None:
            transport.abort()
