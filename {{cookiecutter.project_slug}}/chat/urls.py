from django.urls import path, re_path

from . import api, views
from .protocol import ROOM_NAME_PATTERN

app_name = "chat"

urlpatterns = [
    path("", views.index, name="index"),
    path("favicon.ico", views.favicon, name="favicon"),
    re_path(rf"^chat/(?P<room_name>{ROOM_NAME_PATTERN})/$", views.room, name="room"),
    re_path(
        rf"^api/rooms/(?P<room_name>{ROOM_NAME_PATTERN})/messages/$",
        api.messages,
        name="api-messages",
    ),
]
