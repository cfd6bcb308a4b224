"""The production server: daphne, Channels' own ASGI server (``manage.py serve``).

Daphne serves from one process; run several behind the proxy to use more
cores (README: "Deploying"). Every websocket setting is set here, in one
place, from the SERVER_* settings.
"""

import asyncio
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


class WriteControl:
    """What serving.slow_clients may do to one websocket's connection under daphne.

    Takes the ASGI ``send`` of a connection, which daphne makes as
    ``functools.partial(Server.handle_reply, protocol)`` (daphne 4.2,
    daphne/server.py ``Server.create_application``); the protocol is
    autobahn's ``WebSocketServerProtocol`` on a Twisted TCP transport.
    Daphne's ``send`` never waits: autobahn's ``sendMessage`` appends to the
    transport's buffer however full it is. So this registers itself as the
    transport's streaming producer (Twisted's IPushProducer): the transport
    calls ``pauseProducing`` once it holds more than its ``bufferSize``
    (64 KiB) and ``resumeProducing`` once it has written it all out
    (twisted/internet/abstract.py ``FileDescriptor.write`` and ``doWrite``),
    and ``writable`` waits in between. The transport still has the HTTP
    channel that read the handshake as its producer (daphne hands the
    transport over on upgrade, daphne/http_protocol.py ``WebRequest.process``);
    a transport takes one producer, and that channel has nothing left to
    produce, so it is unregistered first.
    """

    def __init__(self, send):
        self.resumed = asyncio.Event()
        self.resumed.set()
        args = getattr(send, "args", ())
        # None when not under daphne (the tests' in-process communicator).
        self.protocol = args[0] if args and hasattr(args[0], "dropConnection") else None
        if self.protocol is None:
            return
        transport = self.protocol.transport
        if getattr(transport, "producer", None) is not None:
            transport.unregisterProducer()
        transport.registerProducer(self, True)

    async def writable(self) -> None:
        """Wait until the transport's buffer has drained below its ``bufferSize``."""
        await self.resumed.wait()

    def abort(self) -> None:
        """Close the TCP connection now, dropping what is buffered for it (autobahn's API)."""
        if self.protocol is not None:
            self.protocol.dropConnection(abort=True)

    def pauseProducing(self) -> None:  # noqa: N802 (Twisted's name)
        """Twisted: the transport's buffer is full."""
        self.resumed.clear()

    def resumeProducing(self) -> None:  # noqa: N802 (Twisted's name)
        """Twisted: the transport's buffer is empty again."""
        self.resumed.set()

    def stopProducing(self) -> None:  # noqa: N802 (Twisted's name)
        """Twisted: the connection is gone; let a waiting writer go on to fail."""
        self.resumed.set()
