from django.apps import AppConfig


class ServingConfig(AppConfig):
    """Serving and operations, apart from the chat domain.

    The production server (``manage.py serve``), the websocket middleware every
    server shares, health checks, the load tool, and the in-memory channel layer.
    """

    name = "serving"
