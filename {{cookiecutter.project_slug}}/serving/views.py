"""Operations endpoints: liveness (``/healthz/``), readiness (``/readyz/``), ``/metrics``."""

import asyncio
import logging
import secrets

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse

from . import metrics

logger = logging.getLogger(__name__)

# Seconds each readiness check may take before it counts as failed.
READY_TIMEOUT = 2.0


@login_not_required
def health(request):
    """Answer "ok" (text/plain): this process serves Django (``manage.py healthcheck`` asks it)."""
    return HttpResponse("ok", content_type="text/plain")


def check_database() -> None:
    """Run ``SELECT 1`` on the default database; raise its error if it fails."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


async def check_channel_layer() -> None:
    """Send a message to a new channel of this process and receive it; raise on failure."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "readiness.check"})
    await layer.receive(channel)


async def outcome(name: str, check) -> str:
    """Await the ``check`` coroutine within ``READY_TIMEOUT``; return "ok" or why it failed.

    The answer names the exception's type only (the page is public); the log
    line has the whole error.
    """
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await check
    except TimeoutError:
        logger.warning("Readiness: %s timed out after %g s", name, READY_TIMEOUT)
        return f"timed out after {READY_TIMEOUT:g} s"
    except Exception as error:
        logger.warning("Readiness: %s failed: %r", name, error)
        return f"failed: {type(error).__name__}"
    return "ok"


@login_not_required
async def ready(request):
    """Answer 200 if this process can do its job, else 503; JSON naming each check's outcome.

    Two checks, at once, each within ``READY_TIMEOUT`` seconds: a query on the
    database, and a round trip through the channel layer. The database check
    runs on a thread of its own, not asgiref's one thread for sync code, so a
    hung database does not hold up every consumer's ORM calls behind it.
    """
    checks = {
        "database": sync_to_async(check_database, thread_sensitive=False)(),
        "channel_layer": check_channel_layer(),
    }
    results = await asyncio.gather(*(outcome(name, check) for name, check in checks.items()))
    answer = dict(zip(checks, results, strict=True))
    status = 200 if all(result == "ok" for result in results) else 503
    return JsonResponse(answer, status=status)


@login_not_required
def prometheus(request):
    """Answer every figure in Prometheus' text format (serving/metrics.py).

    Only with ``Authorization: Bearer <METRICS_TOKEN>``: 401 without it, and
    404 when METRICS_TOKEN is unset, as if there were no such page.
    """
    if not settings.METRICS_TOKEN:
        raise Http404("METRICS_TOKEN is not set")
    expected = f"Bearer {settings.METRICS_TOKEN}".encode()
    if not secrets.compare_digest(request.headers.get("Authorization", "").encode(), expected):
        response = HttpResponse("A bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
