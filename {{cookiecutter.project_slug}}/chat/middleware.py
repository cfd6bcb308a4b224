"""ASGI middleware for the websocket stack, the same under every server."""

import contextlib

# RFC 6455: the server met a condition that kept it from fulfilling the request.
INTERNAL_ERROR = 1011
DENIAL = "websocket.http.response"  # the ASGI "denial response" extension


class WebsocketCloseMiddleware:
    """Refuse and close websockets as daphne does, whatever the server.

    - A refusal (``websocket.close`` before ``websocket.accept``, as Channels'
      ``WebsocketDenier`` sends) becomes an explicit HTTP 403 response where the
      server offers the denial-response extension. Granian's own answer to a
      close before accept never came for about 1 in 200 handshakes (4 of 800
      here, none of 2,900 with this response).
    - A failing application: after the handshake, a close frame with 1011
      (uvicorn and granian drop the TCP connection or close without a code,
      which a client cannot tell from a network failure); before it, HTTP 500
      where the extension is offered (granian answers 403 otherwise). The
      exception still propagates, so the server logs it.

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
