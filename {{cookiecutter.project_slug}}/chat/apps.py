from django.apps import AppConfig


class ChatConfig(AppConfig):
    """The chat app: consumers, websocket routes, pages."""

    name = "chat"
