"""Logs: one JSON object per line in production, readable lines in development.

``settings.LOG_FORMAT`` decides: "json" or "plain" (``configured_log_format``:
DJANGO_LOG_FORMAT, by default "json" unless DEBUG). Every record goes to one
handler on stderr, ``console_handler``: Django's LOGGING builds it, and so
does the production server's own logging before Django is set up
(config/server_logging.json, where the server has such a file).

A websocket's records carry its ``room`` and ``user`` as JSON fields:
``ConnectionLogMiddleware`` puts them in a context variable when the
connection starts, and the handler's ``ConnectionFilter`` copies them onto
each record logged in that connection's context, in async handlers as in sync
ones (asgiref runs a sync handler in a copy of the caller's context).
"""

import contextvars
import logging
import logging.config

import environ
from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from chat import protocol

FORMATS = ("json", "plain")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The JSON fields, in this order, then any ``extra`` ones (room and user too).
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
JSON_NAMES = {"levelname": "level", "name": "logger"}
# Left out: uvicorn's copy of each message with terminal colour codes.
JSON_LEFT_OUT = [*RESERVED_ATTRS, "color_message"]

CONNECTION_FIELDS = ("room", "user")
connection_fields: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "connection_fields", default=None
)


class ConnectionFilter(logging.Filter):
    """Add the ``room`` and ``user`` of the websocket being served, if any, to each record.

    Keeps every record. A record that already has such an attribute (an
    ``extra`` of its own) keeps it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (connection_fields.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class PlainFormatter(logging.Formatter):
    """``PLAIN_FORMAT``, then the websocket's room and user, if any: ``[room=lobby user=alice]``."""

    def __init__(self) -> None:
        super().__init__(PLAIN_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        # Before the traceback, which format() appends after this.
        line = super().formatMessage(record)
        fields = [
            f"{name}={getattr(record, name)}" for name in CONNECTION_FIELDS if hasattr(record, name)
        ]
        return f"{line} [{' '.join(fields)}]" if fields else line


def configure(config: dict) -> None:
    """Django's LOGGING_CONFIG: apply LOGGING (``config``, a dictConfig dict) and capture warnings.

    Python's warnings go through logging too (the "py.warnings" logger), so
    that they come out in the log's format, not as raw lines on stderr;
    Django no longer does this itself.
    """
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


def configured_log_format(env: environ.Env) -> str:
    """Return the log format ``env`` asks for, one of ``FORMATS``.

    DJANGO_LOG_FORMAT if set, else "plain" when DJANGO_DEBUG is on and "json"
    when it is off. Raises ImproperlyConfigured for any other value, which
    manage.py reports in one line.
    """
    debug = env.bool("DJANGO_DEBUG", default=False)
    name = env.str("DJANGO_LOG_FORMAT", default="plain" if debug else "json")
    if name not in FORMATS:
        raise ImproperlyConfigured(f"DJANGO_LOG_FORMAT must be json or plain, not {name!r}")
    return name


def formatter(log_format: str) -> logging.Formatter:
    """Return the formatter for ``log_format``: "json" or "plain".

    "json" writes one object per record on one line (python-json-logger):
    ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, any extra
    fields, and ``exc_info`` (the traceback, newlines escaped); "plain" a
    readable line (``PlainFormatter``), the traceback on lines of its own. Raises
    ValueError for any other ``log_format``.
    """
    if log_format == "json":
        return JsonFormatter(
            JSON_FIELDS, rename_fields=JSON_NAMES, reserved_attrs=JSON_LEFT_OUT, timestamp="time"
        )
    if log_format == "plain":
        return PlainFormatter()
    raise ValueError(f"no log format {log_format!r}: {FORMATS}")


def console_handler(log_format: str | None = None) -> logging.Handler:
    """Return a handler writing to stderr in ``log_format`` (see ``formatter``).

    With no ``log_format``, the one the environment asks for
    (``configured_log_format``), as settings.py reads it: what a server's own
    logging config (a dictConfig "()" factory) uses, so that its lines before
    Django is set up come out as Django's do. It does not load the settings,
    which would keep a new uvicorn worker from answering its supervisor's
    health check in time. ``manage.py serve`` hands the server the variables
    it read from .env. Raises ValueError for an unknown format.
    """
    if log_format is None:
        log_format = configured_log_format(environ.Env())
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    handler.addFilter(ConnectionFilter())
    return handler


class ConnectionLogMiddleware:
    """Name the websocket's room and user on every record logged while serving it.

    Goes around a consumer in the routes (chat/routing.py), where the scope
    has the URL's ``room_name`` (only the router knows it) and the user (the
    logged-in username, else the ``?name=`` the member goes by). The context
    variable is not reset: the server runs each connection in a task of its
    own, whose context ends with it, so a server's own lines about the
    connection name the room and user too where it logs them in that task
    (uvicorn does, its exception line included).
    Takes the ASGI application to wrap; is an ASGI application.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        try:
            user = protocol.member_name(scope)
        except protocol.ProtocolError:
            user = protocol.ANONYMOUS
        fields = {"user": user}
        room = scope.get("url_route", {}).get("kwargs", {}).get("room_name")
        if room is not None:
            fields["room"] = room
        connection_fields.set(fields)
        return await self.app(scope, receive, send)
