"""Websocket routes, wrapped by config/asgi.py."""

from channels.security.websocket import WebsocketDenier
from django.urls import path, re_path

from serving.logs import ConnectionLogMiddleware

from . import consumers
from .protocol import ROOM_NAME_PATTERN

websocket_urlpatterns = [
    path("ws/echo/", ConnectionLogMiddleware(consumers.EchoConsumer.as_asgi())),
    re_path(
        rf"^ws/chat/(?P<room_name>{ROOM_NAME_PATTERN})/$",
        ConnectionLogMiddleware(consumers.ChatConsumer.as_asgi()),
    ),
    # Any other path: refuse the handshake (HTTP 403) instead of raising
    # "No route found" inside the server.
    re_path(r"", WebsocketDenier.as_asgi()),
]
