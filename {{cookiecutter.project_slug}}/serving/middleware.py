"""ASGI middleware for the websocket stack, the same under every server."""

import contextlib

# RFC 6455: the server met a condition that kept it from fulfilling the request.
INTERNAL_ERROR = 1011
DENIAL = "websocket.http.response"  # the ASGI "denial response" extension


class WebsocketCloseMiddleware:
    """Answer refusals and failures the same way under every ASGI server.

    Servers differ where the ASGI spec leaves them room, so this middleware
    says explicitly what a client gets:

    - A refusal (``websocket.close`` before ``websocket.accept``, as Channels'
      ``WebsocketDenier`` sends) is an HTTP 403 response, where the server
      offers the denial-response extension: granian's own answer to a close
      before accept sometimes never came.
    - A failing application gets, after the handshake, a close frame with 1011
      (some servers drop the TCP connection or close without a code, which a
      client cannot tell from a network failure); before it, HTTP 500 where
      the extension is offered. The exception still propagates, so the server
      logs it.

    Takes the ASGI application to wrap; is itself an ASGI application.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        state = "connecting"
        can_respond = DENIAL in scope.get("extensions", {})

        async def respond(status: int) -> None:
            await send({"type": "websocket.http.response.start", "status": status, "headers": []})
            await send({"type": "websocket.http.response.body", "body": b""})

        async def watch_send(message):
            nonlocal state
            kind = message["type"]
            if kind == "websocket.close" and state == "connecting" and can_respond:
                state = "closed"
                await respond(403)
                return
            if kind == "websocket.accept":
                state = "open"
            elif kind in ("websocket.close", "websocket.http.response.start"):
                state = "closed"
            await send(message)

        try:
            return await self.app(scope, receive, watch_send)
        except Exception:
            with contextlib.suppress(Exception):
                if state == "open":
                    await send({"type": "websocket.close", "code": INTERNAL_ERROR})
                elif state == "connecting" and can_respond:
                    await respond(500)
            raise
