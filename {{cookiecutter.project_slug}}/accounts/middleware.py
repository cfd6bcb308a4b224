"""Login required: for websockets as for pages, and for the API without a redirect."""

from channels.security.websocket import WebsocketDenier
from django.contrib.auth import middleware
from django.http import JsonResponse


class LoginRequiredMiddleware(middleware.LoginRequiredMiddleware):
    """Django's ``LoginRequiredMiddleware``, except that the JSON API answers 401.

    A page still redirects an anonymous request to the login page; a request
    under ``/api/`` (chat/api.py) gets 401 and the wire protocol's error object
    with code ``login_required``, which a script can act on.
    """

    def handle_no_permission(self, request, view_func):
        if request.path_info.startswith("/api/"):
            error = {
                "type": "error",
                "code": "login_required",
                "detail": "Log in first: the API takes a logged-in session.",
            }
            return JsonResponse(error, status=401)
        return super().handle_no_permission(request, view_func)


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
