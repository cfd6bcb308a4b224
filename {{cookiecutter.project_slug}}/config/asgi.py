"""ASGI application for {{ cookiecutter.project_name }}: ``config.asgi:application``.

HTTP goes to Django; websockets go through the origin check{% if cookiecutter.use_auth %}, the
session-based AuthMiddlewareStack{% endif %} and the chat routes. Wired as in the
Channels docs ("Tutorial Part 2" and "Deploying").
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Set up Django (apps, settings) before anything imports models or consumers.
django_asgi_app = get_asgi_application()

{% if cookiecutter.use_auth -%}
from channels.auth import AuthMiddlewareStack  # noqa: E402
{% endif -%}
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from chat.middleware import CloseOnShutdownMiddleware  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
{%- if cookiecutter.use_auth %}
        "websocket": CloseOnShutdownMiddleware(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
{%- else %}
        "websocket": CloseOnShutdownMiddleware(
            AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns))
        ),
{%- endif %}
    }
)
