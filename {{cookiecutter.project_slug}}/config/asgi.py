"""ASGI application for {{ cookiecutter.project_slug }}: ``config.asgi:application``.

HTTP goes to Django. A websocket passes through, outermost first:

- SlowClientMiddleware: a client that stops reading is dropped, not buffered for
  (outermost: it needs the server's own ``send``, serving/slow_clients.py);
- SentryAsgiMiddleware: what escapes the stack goes to Sentry (serving/errors.py);
- WebsocketMetricsMiddleware: handshakes, frames and open connections counted
  for /metrics (serving/metrics.py; ``Passed`` marks each check passed);
{% if cookiecutter.asgi_server == "daphne" %}
- CloseOnShutdownMiddleware: a close frame for every connection when daphne stops;
{% endif %}
- WebsocketCloseMiddleware: refusals as HTTP 403, failures as a close frame (1011);
- AllowedHostsOriginValidator: the handshake's Origin must be in ALLOWED_HOSTS;
{% if cookiecutter.use_auth %}
- AuthMiddlewareStack: the session's user in ``scope["user"]``;
- WebsocketLoginRequiredMiddleware: an anonymous handshake is refused (HTTP 403);
{% endif %}
- URLRouter: the routes in chat/routing.py, where ConnectionLogMiddleware names
  the room and user on the connection's log records (serving/logs.py).

Django is set up before any consumer is imported, as the Channels docs say
("Tutorial Part 2" and "Deploying").
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Set up Django (apps, settings) before anything imports models or consumers.
django_asgi_app = get_asgi_application()

{% if cookiecutter.use_auth %}
from channels.auth import AuthMiddlewareStack  # noqa: E402
{% endif %}
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from sentry_sdk.integrations.asgi import SentryAsgiMiddleware  # noqa: E402

{% if cookiecutter.use_auth %}
from accounts.middleware import WebsocketLoginRequiredMiddleware  # noqa: E402
{% endif %}
from chat.routing import websocket_urlpatterns  # noqa: E402
from serving.metrics import Passed, WebsocketMetricsMiddleware  # noqa: E402
from serving.middleware import WebsocketCloseMiddleware  # noqa: E402
{% if cookiecutter.asgi_server == "daphne" %}
from serving.shutdown import CloseOnShutdownMiddleware  # noqa: E402
{% endif %}
from serving.slow_clients import SlowClientMiddleware  # noqa: E402

{% if cookiecutter.use_auth %}
websocket_routes = AuthMiddlewareStack(
    WebsocketLoginRequiredMiddleware(Passed("login", URLRouter(websocket_urlpatterns)))
)
checks = ("origin", "login")
{% else %}
websocket_routes = URLRouter(websocket_urlpatterns)
checks = ("origin",)
{% endif %}
websocket_app = WebsocketCloseMiddleware(
    AllowedHostsOriginValidator(Passed("origin", websocket_routes))
)
{% if cookiecutter.asgi_server == "daphne" %}
websocket_app = CloseOnShutdownMiddleware(websocket_app)
{% endif %}
websocket_app = WebsocketMetricsMiddleware(websocket_app, checks)
websocket_app = SentryAsgiMiddleware(websocket_app)
websocket_app = SlowClientMiddleware(websocket_app)

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_app})
