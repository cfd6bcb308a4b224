"""Prometheus metrics of the websocket service, served at ``/metrics`` (serving/views.py).

Every figure is a module-level metric of prometheus_client. A server with
worker processes (uvicorn, granian) answers a scrape from whichever worker
the connection reaches, so ``manage.py serve`` runs every server in
prometheus_client's multiprocess mode: it points ``PROMETHEUS_MULTIPROC_DIR``
at a new, empty directory before the server starts, each process writes its
figures there, and a scrape adds them up (prometheus_client docs,
"Multiprocess Mode"). Elsewhere (runserver, the tests) the figures live in
the process's own registry.
"""

import contextlib
import json
import logging
import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from chat import protocol

from .middleware import INTERNAL_ERROR

CONNECTIONS = Gauge(
    "chat_websocket_connections",
    "Websocket connections open (accepted and not yet closed).",
    # Summed over live processes only: a stopped worker's connections are gone.
    multiprocess_mode="livesum",
)
HANDSHAKES_ACCEPTED = Counter(
    "chat_websocket_handshakes_accepted", "Websocket handshakes accepted."
)
HANDSHAKES_REFUSED = Counter(
    "chat_websocket_handshakes_refused",
    "Websocket handshakes refused, by reason: origin (not in ALLOWED_HOSTS), login (no "
    "logged-in session), route (no consumer for the path, or the consumer refused) or error "
    "(the application failed before accepting).",
    ["reason"],
)
FRAMES_RECEIVED = Counter("chat_websocket_frames_received", "Websocket frames from clients.")
FRAMES_SENT = Counter("chat_websocket_frames_sent", "Websocket frames to clients.")
ERROR_FRAMES = Counter(
    "chat_websocket_error_frames", "Error frames sent to clients, by code.", ["code"]
)
MESSAGES_STORED = Counter("chat_messages_stored", "Chat messages stored.")
MESSAGES_BROADCAST = Counter(
    "chat_messages_broadcast", "Stored chat messages sent to their room's group."
)
STORE_SECONDS = Histogram(
    "chat_message_store_seconds",
    "Seconds to store one chat message in the database.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CHANNEL_LAYER_DROPS = Counter(
    "chat_channel_layer_drops",
    "Messages the channel layer dropped because a member's channel was full.",
)
PRESENCE_UPDATES = Counter(
    "chat_presence_updates", "Lists of who is here sent to a room's members."
)

# An error frame, as protocol.encode writes one: the start of its text.
ERROR_FRAME_START = protocol.encode({"type": "error"})[:-1]
# What channels_redis logs when a group_send drops messages (channels_redis/core.py).
OVER_CAPACITY = "%s of %s channels over capacity in group %s"


class WebsocketMetricsMiddleware:
    """Count a websocket's handshake, frames and error frames, and keep it in the open count.

    The outermost middleware of the websocket stack. ``checks`` names the
    stack's checks in order ("origin", "login"), each marked as passed by a
    ``Passed`` inside it. A refused handshake counts under "error" when the
    application failed before accepting (HTTP 500, or close code 1011), else
    under the first check it did not pass, else under "route" (chat/routing.py
    refuses a path no consumer serves; a consumer of yours that refuses
    counts there too). Takes the ASGI application to wrap; is itself an ASGI
    application.
    """

    def __init__(self, app, checks: tuple[str, ...]):
        self.app = app
        self.checks = checks

    async def __call__(self, scope, receive, send):
        passed: list[str] = []
        state = "connecting"

        async def counted_receive():
            message = await receive()
            if message["type"] == "websocket.receive":
                FRAMES_RECEIVED.inc()
            return message

        async def counted_send(message):
            nonlocal state
            kind = message["type"]
            if kind == "websocket.send":
                FRAMES_SENT.inc()
                text = message.get("text")
                if text and text.startswith(ERROR_FRAME_START):
                    ERROR_FRAMES.labels(json.loads(text)["code"]).inc()
            elif state == "connecting" and kind == "websocket.accept":
                state = "open"
                HANDSHAKES_ACCEPTED.inc()
                CONNECTIONS.inc()
            elif state == "connecting" and kind == "websocket.close":
                state = "refused"
                failed = message.get("code") == INTERNAL_ERROR
                HANDSHAKES_REFUSED.labels(self.reason(passed, failed)).inc()
            elif state == "connecting" and kind == "websocket.http.response.start":
                state = "refused"
                failed = message["status"] >= 500
                HANDSHAKES_REFUSED.labels(self.reason(passed, failed)).inc()
            await send(message)

        try:
            await self.app({**scope, "metrics.passed": passed}, counted_receive, counted_send)
        except Exception:
            if state == "connecting":
                HANDSHAKES_REFUSED.labels("error").inc()
            raise
        finally:
            if state == "open":
                CONNECTIONS.dec()

    def reason(self, passed: list[str], failed: bool) -> str:
        """Name why a handshake was refused: "error", the first check not passed, or "route"."""
        if failed:
            return "error"
        return next((check for check in self.checks if check not in passed), "route")


class Passed:
    """Mark a check of the websocket stack as passed, for ``WebsocketMetricsMiddleware``.

    ``Passed("origin", app)`` goes right inside the origin check: a handshake
    that reaches it passed that check. Takes the check's name and the ASGI
    application to wrap.
    """

    def __init__(self, check: str, app):
        self.check = check
        self.app = app

    async def __call__(self, scope, receive, send):
        # Channels' middlewares copy the scope, but this list is the one shared object.
        with contextlib.suppress(KeyError):
            scope["metrics.passed"].append(self.check)
        return await self.app(scope, receive, send)


class CountChannelLayerDrops(logging.Filter):
    """Count the messages channels_redis drops for full channels (``chat_channel_layer_drops``).

    channels_redis's ``group_send`` reports its drops only in a log line,
    ``OVER_CAPACITY`` at INFO on "channels_redis.core", whose first argument
    is the number dropped. On that logger (settings.LOGGING) this filter
    counts them and lets every record through.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == OVER_CAPACITY:
            CHANNEL_LAYER_DROPS.inc(record.args[0])
        return True


def forget_stopped_processes(directory: Path) -> None:
    """Drop the open-connection figures of worker processes that are gone.

    prometheus_client asks a process manager to call ``mark_process_dead`` when
    a worker exits (its docs name gunicorn's ``child_exit`` hook); uvicorn and
    granian restart workers without such a hook, so each scrape does it.
    """
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(directory))
        except PermissionError:
            pass  # alive, another user's


def exposition() -> tuple[bytes, str]:
    """Return every figure in Prometheus' text format, and its content type.

    In multiprocess mode the figures of every process writing to
    ``PROMETHEUS_MULTIPROC_DIR``; else this process's.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    forget_stopped_processes(Path(directory))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry), CONTENT_TYPE_LATEST
