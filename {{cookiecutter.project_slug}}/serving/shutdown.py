"""Close frames when daphne stops (this module exists with daphne only)."""

import asyncio
import logging
import sys

logger = logging.getLogger(__name__)

# The close code for "server shutting down, reconnect". RFC 6455's own code
# for it, 1001, is refused by autobahn (daphne's websocket library) from an
# application, which may only send 1000 or 3000-4999; 4000 + 1001 mirrors it.
GOING_AWAY = 4001
SHUTDOWN_GRACE = 5.0  # seconds to wait for clients to answer the close frames


class CloseOnShutdownMiddleware:
    """Close every open websocket with code 4001 (going away) when daphne shuts down.

    Daphne 4.2 drops websockets on SIGTERM or SIGINT without a close frame: its
    own shutdown step (``Server.kill_all_applications``) fails with a KeyError
    once a websocket has connected, so no application is told. This middleware
    keeps the ``send`` of each open connection and registers a Twisted
    "before shutdown" trigger that sends ``websocket.close`` with ``GOING_AWAY`` to
    each, then waits up to ``SHUTDOWN_GRACE`` seconds for the clients to answer,
    so browsers see a clean close and reconnect.

    Takes the ASGI application to wrap; is itself an ASGI application.
    """

    def __init__(self, app):
        self.app = app
        self.connections = set()
        reactor = sys.modules.get("twisted.internet.reactor")
        if reactor is not None:
            reactor.addSystemEventTrigger("before", "shutdown", self.close_all)

    async def __call__(self, scope, receive, send):
        """Run the wrapped application, keeping ``send`` while the connection is open."""
        self.connections.add(send)
        try:
            return await self.app(scope, receive, send)
        finally:
            self.connections.discard(send)

    def close_all(self):
        """Twisted trigger: start closing every connection; return a Deferred for when done."""
        from twisted.internet.defer import Deferred

        return Deferred.fromFuture(asyncio.ensure_future(self._close_all()))

    async def _close_all(self):
        if self.connections:
            logger.info("Shutting down: closing %d websocket(s)", len(self.connections))
        for send in list(self.connections):
            try:
                await send({"type": "websocket.close", "code": GOING_AWAY})
            except Exception:
                logger.exception("Could not send a close frame at shutdown")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_GRACE
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
