"""Login required for websockets, as Django's LoginRequiredMiddleware requires it for pages."""

from channels.security.websocket import WebsocketDenier


class WebsocketLoginRequiredMiddleware:
    """Refuse the handshake with HTTP 403 unless ``scope["user"]`` is logged in.

    Goes inside ``AuthMiddlewareStack``, which puts the session's user in the
    scope (config/asgi.py), so each consumer can assume a logged-in user. The
    refusal is Channels' own ``WebsocketDenier``, the one its origin check
    answers with. Takes the ASGI application to wrap; is an ASGI application.
    """

    def __init__(self, app):
        self.app = app
        self.denier = WebsocketDenier.as_asgi()

    async def __call__(self, scope, receive, send):
        if scope["user"].is_authenticated:
            return await self.app(scope, receive, send)
        return await self.denier(scope, receive, send)
