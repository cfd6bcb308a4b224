"""Dropping a websocket client that stops reading, the same way under every server."""

import asyncio
import collections
import contextlib
import logging

from django.conf import settings

from config import server

logger = logging.getLogger(__name__)

# What the application hears when its client is dropped: RFC 6455's "abnormal
# closure" (no close frame), which is what the client sees too.
ABNORMAL_CLOSURE = 1006


class SlowClientMiddleware:
    """Queue each websocket's outgoing messages; drop a client that falls too far behind.

    A consumer's ``send`` of a ``websocket.send`` message returns at once: the
    message joins the connection's queue, and a writer task hands the queue to
    the server one message at a time, as fast as the client reads. So a client
    that stops reading never blocks its consumer (a sync consumer blocked in
    ``send`` would hold asgiref's one thread for sync code, and with it every
    other sync consumer of the process), and never makes the server buffer
    without limit. Once more than ``max_queue_bytes`` (``SERVER_SEND_QUEUE_BYTES``;
    text counts its UTF-8 bytes) would wait in the queue, the client is
    dropped: the queue is emptied, the server is told to end the connection
    (``config.server.WriteControl.abort``: the TCP connection aborted where
    the server allows it, the client seeing 1006; else a close frame, 1008
    "policy violation"), and the application receives
    ``websocket.disconnect`` with code 1006, so the consumer leaves its room
    and ends. A close frame cannot help where the connection can be aborted:
    it would wait behind the very bytes the client does not read. A browser
    reconnects after either close and, with ``?after=``, gets what it missed
    from the history.

    So a client falls behind by at most what the kernel buffers for its
    socket (up to ``net.ipv4.tcp_wmem``'s largest, 4 MiB by default), plus
    the server's own buffer, plus ``max_queue_bytes``. How this project's
    server writes, and so what ``WriteControl`` does about it, is in
    config/server.py; measured by tests/test_live_slow_readers.py.

    Other messages pass through unchanged before ``websocket.accept``; after
    it, a close is queued behind the messages before it. Once the application
    has returned, what it queued gets ``SERVER_SHUTDOWN_TIMEOUT`` seconds to
    go out. It goes outermost in the websocket stack (config/asgi.py):
    ``WriteControl`` reaches the server's connection through the server's own
    ``send``, which any middleware outside would replace. Takes the ASGI
    application to wrap and the queue's bound in bytes
    (default: the setting); is itself an ASGI application.
    """

    def __init__(self, app, max_queue_bytes: int | None = None):
        self.app = app
        self.max_queue_bytes = (
            settings.SERVER_SEND_QUEUE_BYTES if max_queue_bytes is None else max_queue_bytes
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        connection = _Connection(scope, receive, send, self.max_queue_bytes)
        try:
            return await self.app(scope, connection.receive, connection.send)
        finally:
            await connection.finish()


class _Connection:
    """One websocket's outgoing queue, its writer task, and whether its client was dropped."""

    def __init__(self, scope, receive, send, max_queue_bytes: int):
        self.scope = scope
        self.server_receive = receive
        self.server_send = send
        self.max_queue_bytes = max_queue_bytes
        self.queue = collections.deque()
        self.queued_bytes = 0
        self.ready = asyncio.Event()
        self.writer: asyncio.Task | None = None
        self.dropped = asyncio.get_running_loop().create_future()
        self.receiving: asyncio.Future | None = None

    async def receive(self):
        """Return the server's next message, or ``websocket.disconnect`` (1006) once dropped."""
        if self.receiving is None:
            self.receiving = asyncio.ensure_future(self.server_receive())
        await asyncio.wait((self.receiving, self.dropped), return_when=asyncio.FIRST_COMPLETED)
        if self.receiving.done():
            message, self.receiving = self.receiving.result(), None
            return message
        return {"type": "websocket.disconnect", "code": ABNORMAL_CLOSURE}

    async def send(self, message):
        if self.dropped.done():
            return
        if self.writer is None:
            await self.server_send(message)
            if message["type"] == "websocket.accept":
                self.control = server.WriteControl(self.server_send)
                self.writer = asyncio.ensure_future(self.write())
            return
        size = _size(message)
        if self.queued_bytes and self.queued_bytes + size > self.max_queue_bytes:
            self.drop(f"fell over {self.max_queue_bytes} bytes behind")
            return
        self.queue.append((message, size))
        self.queued_bytes += size
        self.ready.set()

    async def write(self):
        """Hand the queue to the server in order, each message once the client can take it.

        Ends after a close, or at the ``None`` that ``finish`` queues.
        """
        try:
            while True:
                await self.ready.wait()
                message, size = self.queue.popleft()
                if not self.queue:
                    self.ready.clear()
                if message is None:
                    return
                await self.control.writable()
                if message["type"] == "websocket.close":
                    # A close the server refuses (one server's websocket
                    # library takes no 1011 from an application) is left to
                    # the server, which closes itself once the application raises.
                    with contextlib.suppress(Exception):
                        await self.server_send(message)
                    return
                await self.server_send(message)
                self.queued_bytes -= size
        except (OSError, RuntimeError):
            # The client left (uvicorn raises ClientDisconnected, an OSError;
            # granian a RuntimeError): the server tells the application itself.
            self.queue.clear()

    def drop(self, reason: str):
        """Give up on the client: empty the queue, abort the connection, tell the application.

        ``reason`` goes into the WARNING logged on the "serving.slow_clients" logger.
        """
        client = self.scope.get("client") or ("?", 0)
        logger.warning(
            "Websocket client %s:%s on %s %s: dropped", *client[:2], self.scope.get("path"), reason
        )
        self.dropped.set_result(None)
        self.queue.clear()
        self.queued_bytes = 0
        self.writer.cancel()
        self.control.abort()

    async def finish(self):
        """Once the application has returned: let the writer send what is queued, then stop.

        A client that has not taken it all ``SERVER_SHUTDOWN_TIMEOUT`` seconds
        later is dropped.
        """
        if self.receiving is not None:
            self.receiving.cancel()
        if self.writer is None or self.writer.done():
            return
        self.queue.append((None, 0))
        self.ready.set()
        try:
            done, _ = await asyncio.wait((self.writer,), timeout=settings.SERVER_SHUTDOWN_TIMEOUT)
        except asyncio.CancelledError:
            self.writer.cancel()
            raise
        if done:
            self.writer.result()
        else:
            self.drop(f"took not its last messages in {settings.SERVER_SHUTDOWN_TIMEOUT} s")


def _size(message) -> int:
    """Return the bytes a ``websocket.send`` message puts on the wire, about; 0 for others."""
    if message.get("bytes") is not None:
        return len(message["bytes"])
    if message.get("text") is not None:
        return len(message["text"].encode())
    return 0
