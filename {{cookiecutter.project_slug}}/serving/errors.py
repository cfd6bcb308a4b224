"""Errors to Sentry, when SENTRY_DSN is set (sentry-sdk).

``init_sentry`` starts the SDK from settings.py, before Django is set up, as
Sentry's Django guide says. Its Django integration reports what escapes a view
(and ERROR log records). Nothing reports what escapes a websocket consumer
on its own: Channels' consumers are not Django's request handling (Sentry's
issue #2556), so config/asgi.py wraps the websocket stack in the SDK's
``SentryAsgiMiddleware``, which reports what escapes it and names the path.
Without SENTRY_DSN the SDK is never started, and the middleware sends
nothing.
"""

import sentry_sdk
from django.core.exceptions import ImproperlyConfigured
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.utils import BadDsn


def init_sentry(
    dsn: str,
    environment: str | None = None,
    release: str | None = None,
    ignore_loggers: tuple[str, ...] = (),
) -> bool:
    """Start sending errors to the Sentry project at ``dsn``; do nothing if it is empty.

    ``environment`` and ``release`` label each event (None: the SDK's own
    defaults, "production" and the SENTRY_RELEASE variable). No tracing
    (``traces_sample_rate`` stays unset), and the SDK's default of no
    personal data (``send_default_pii`` left unset: sentry-sdk 2.75 warns
    that passing it is deprecated, for ``data_collection``): no user ids or
    names, cookies or IP addresses, so an event names the room (in the URL
    of its websocket) but not who was in it; the server's log has that.
    Stack frames come without their local variables, and requests without
    their bodies (see below).

    An ERROR log record becomes an event too, except on ``ignore_loggers``:
    a server that logs each exception escaping the application again, where
    the SDK's duplicate check (per context) does not see it, would report it
    twice. Returns whether the SDK started.
    Raises ImproperlyConfigured for a malformed ``dsn``, which manage.py
    reports in one line.
    """
    if not dsn:
        return False
    try:
        sentry_sdk.init(
            dsn=dsn,
            environment=environment,
            release=release,
            integrations=[DjangoIntegration()],
            # Without the stack frames' local variables: the ASGI scope in
            # them holds the Cookie header, session key and all, which the
            # SDK's scrubber does not see in a list of byte pairs.
            include_local_variables=False,
            # Nor request bodies: an API request's body is a chat message.
            max_request_body_size="never",
        )
    except BadDsn as error:
        raise ImproperlyConfigured(f"SENTRY_DSN: {error}") from None
    for name in ignore_loggers:
        ignore_logger(name)
    return True
