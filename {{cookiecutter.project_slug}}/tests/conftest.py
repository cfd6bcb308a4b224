"""Fixtures every test layer shares.

The fixtures that depend on how the project was baked come from two modules
the bake chose: ``users.py`` (who the clients are: logged-in users, or
anonymous ones) and ``layer.py`` (the channel layer carrying their messages).
"""

import asyncio
import logging
import os
import secrets
import subprocess
import sys
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings

from .inprocess import DISCONNECT_TIMEOUT, ORIGIN, TIMEOUT
from .live import (
    METRICS_TOKEN,
    PING_INTERVAL,
    PING_TIMEOUT,
    PRESENCE_TIMEOUT,
    PROJECT_DIR,
    SEND_QUEUE_BYTES,
    SHUTDOWN_TIMEOUT,
    AsgiServer,
    assert_no_database_errors,
)

pytest_plugins = ["tests.users", "tests.layer"]


def pytest_collection_modifyitems(config, items):
    """Deselect the ``postgresql`` tests unless the database is PostgreSQL.

    Deselected, not skipped: on SQLite they do not apply, and a skip would read
    as something missing.
    """
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    deselected = [item for item in items if item.get_closest_marker("postgresql")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


# Lines of a server's log shown with a failed test that used it.
LOG_TAIL_LINES = 80


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Show the end of the log of each session server a failed test used (asgi_server...).

    A live test fails on what a client saw; why is often in the server's log,
    which otherwise ends with the session in a temporary directory.
    """
    report = yield
    if report.failed:
        # One server may stand under two names (second_server and _second_server).
        servers = {}
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, AsgiServer):
                servers.setdefault(id(value), (name, value))
        for name, server in servers.values():
            if server.log.exists():
                lines = server.log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
                report.sections.append((f"end of {name}'s log", "\n".join(lines)))
    return report


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    """Render pages without a collectstatic manifest (the manifest storage needs one)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def no_api_posts_counted():
    """Start each test with the API's rate limit untouched (chat/limits.py keeps it per process)."""
    from chat import limits

    limits.api_buckets.clear()


@pytest.fixture(autouse=True)
def no_task_left_pending(caplog):
    """Fail when asyncio reports an error, such as a task destroyed while still pending.

    asyncio logs "Task was destroyed but it is pending!" when a task is garbage
    collected after its event loop closed: a consumer or a channel-layer
    receive outlived its test. It shows up during the next test, which fails.
    """
    yield
    errors = [
        record.getMessage()
        for phase in ("setup", "call")
        for record in caplog.get_records(phase)
        if record.name == "asyncio" and record.levelno >= logging.ERROR
    ]
    assert not errors, errors


@pytest.fixture
async def channel_layer():
    """A channel layer of this test's own, bound to its event loop and closed at its end.

    Channels keeps one layer per alias for the whole process
    (``channels.layers.channel_layers``), but each test has its own event loop.
    A layer that outlives its loop keeps that loop's Redis connections, queues
    and receive state, and the next test's consumers then fail ("Two event
    loops are trying to receive() on one channel layer at once!") or leave a
    receive task pending (channels #908). So each test gets a new layer
    (``channel_layers.set`` exists for swapping layers in tests), closed by
    ``layer.close_layer``.
    """
    # Imported here: tests.layer is a plugin (pytest_plugins), which pytest
    # must import first to rewrite its asserts.
    from .layer import close_layer

    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    channel_layers.set(DEFAULT_CHANNEL_LAYER, layer)
    yield layer
    await close_layer(layer)
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


@pytest.fixture
async def open_communicator(channel_layer):
    """Connect websockets in-process through config.asgi:application; close them at the end.

    ``await open_communicator(path, cookie=None, origin=ORIGIN)`` returns
    ``(communicator, accepted)``; ``cookie`` is a Cookie header value and
    ``origin`` None sends no Origin. At teardown every connection still open is
    disconnected, even when the test failed, so that no consumer outlives the
    test's event loop or its channel layer: a consumer still running after
    ``DISCONNECT_TIMEOUT`` is cancelled and awaited (on Python 3.11 a consumer
    whose channel-layer receive is blocked in Redis misses its first
    cancellation; this second one ends it), then any sync handler still on
    asgiref's thread is waited for.
    """
    # Imported at test time, not at collection: AllowedHostsOriginValidator
    # reads ALLOWED_HOSTS once, on import, and by test time pytest-django has
    # added "testserver" to it.
    from config.asgi import application

    opened = []

    async def open_socket(path, cookie=None, origin=ORIGIN):
        headers = [(b"origin", origin.encode())] if origin else []
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        communicator = WebsocketCommunicator(application, path, headers=headers)
        opened.append(communicator)
        accepted, _ = await communicator.connect(timeout=TIMEOUT)
        return communicator, accepted

    yield open_socket
    for communicator in opened:
        if not communicator.future.done():
            await communicator.disconnect(timeout=DISCONNECT_TIMEOUT)
    # A sync consumer's handler runs on asgiref's one thread for sync code and
    # may still be finishing there, even once cancelled: queue behind it.
    await asyncio.wait_for(sync_to_async(lambda: None)(), TIMEOUT)
    # A cancelled Redis receive cleans up in a task of its own
    # (channels_redis's _clean_receive_backup): it gets TIMEOUT to end.
    this_task = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not this_task]
    if leftovers:
        await asyncio.wait(leftovers, timeout=TIMEOUT)
    running = [task for task in leftovers if not task.done()]
    assert not running, f"tasks still running after every consumer closed: {running}"


@pytest.fixture
def room_name():
    """A room no other test uses, so tests never hear each other."""
    return f"room-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def live_env(tmp_path_factory):
    """Environment for live servers: production settings over plain HTTP on loopback.

    DEBUG is off, static files are collected and served by WhiteNoise, and the
    database is the environment's DATABASE_URL (PostgreSQL in CI), else an
    SQLite file of the session's; every server process shares it. Only the HTTPS redirect and
    secure-only cookies are off, since the tests speak plain HTTP; pings come
    every second, so the idle test proves keepalive in seconds rather than
    minutes; a stopping server waits seconds, not minutes, for consumers; a
    killed server's members leave their rooms' lists in seconds; /metrics is
    served; one client may send as fast as it likes; and a client that stops
    reading is dropped after tens of kilobytes.
    """
    database = tmp_path_factory.mktemp("live") / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{database}",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "SERVER_PING_INTERVAL": str(PING_INTERVAL),
        "SERVER_PING_TIMEOUT": str(PING_TIMEOUT),
        "SERVER_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
        "CHAT_PRESENCE_TIMEOUT": str(PRESENCE_TIMEOUT),
        # Bursts from one client are what the load tests send (the limit's own
        # tests run in-process: test_limits.py).
        "CHAT_RATE": "10000",
        "CHAT_BURST": "10000",
        "METRICS_TOKEN": METRICS_TOKEN,
        "SERVER_SEND_QUEUE_BYTES": str(SEND_QUEUE_BYTES),
    }
    for command in (["migrate"], ["collectstatic", "--verbosity", "0"]):
        subprocess.run(
            [sys.executable, "manage.py", *command, "--noinput"],
            cwd=PROJECT_DIR,
            env=env,
            check=True,
        )
    return env


@pytest.fixture(scope="session")
def asgi_server(live_env, tmp_path_factory):
    """One production server for the whole session, serving config.asgi:application.

    At the end its log must hold no database error (``assert_no_database_errors``).
    """
    with AsgiServer(live_env, tmp_path_factory.mktemp("server") / "server.log") as server:
        yield server
    assert_no_database_errors(server.log)


@pytest.fixture(scope="session")
def _second_server(live_env, tmp_path_factory):
    with AsgiServer(live_env, tmp_path_factory.mktemp("second") / "server.log") as server:
        yield server
    assert_no_database_errors(server.log)


@pytest.fixture
def second_server(_second_server):
    """A second production server on the same database and channel layer.

    A test may stop and start it. It is shared by the session, since each start
    costs seconds, and started again for the next test if one left it stopped.
    """
    if _second_server.process is None or _second_server.process.poll() is not None:
        _second_server.start()
    return _second_server


@pytest.fixture
def browser():
    """A headless Chromium for one test.

    Not session-scoped: Playwright's sync API keeps an event loop running while
    it is open, which would stop pytest-asyncio from running the async tests
    collected after it in the same session. Playwright is imported here, so
    the other layers do not load it.
    """
    from playwright.sync_api import sync_playwright

    from .browser import CHROMIUM_ARGS, chromium_path

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh browser context (its own cookies) on a server."""
    from .browser import TIMEOUT_MS

    contexts = []

    def open_page(server):
        context = browser.new_context(base_url=server.origin)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
