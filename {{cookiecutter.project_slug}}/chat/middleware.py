"""ASGI middleware for the websocket stack, the same under every server."""

import contextlib

# RFC 6455: the server met a condition that kept it from fulfilling the request.
INTERNAL_ERROR = 1011


class CloseOnErrorMiddleware:
    """Answer a failing application as daphne does, whatever the server.

    After the handshake: close with 1011 (uvicorn and granian drop the TCP
    connection or close without a code, which a client cannot tell from a
    network failure). Before it: HTTP 500, through the ASGI "denial response"
    extension where the server offers it (granian answers 403 otherwise; the
    others answer 500 themselves). The exception still propagates, so the
    server logs it. Takes the ASGI application to wrap; is an ASGI application.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        state = "connecting"

        async def watch_send(message):
            nonlocal state
            if message["type"] == "websocket.accept":
                state = "open"
            elif message["type"] in ("websocket.close", "websocket.http.response.start"):
                state = "closed"
            await send(message)

        try:
            return await self.app(scope, receive, watch_send)
        except Exception:
            with contextlib.suppress(Exception):
                if state == "open":
                    await send({"type": "websocket.close", "code": INTERNAL_ERROR})
                elif state == "connecting" and "websocket.http.response" in scope.get(
                    "extensions", {}
                ):
                    await send(
                        {"type": "websocket.http.response.start", "status": 500, "headers": []}
                    )
                    await send({"type": "websocket.http.response.body", "body": b""})
            raise
