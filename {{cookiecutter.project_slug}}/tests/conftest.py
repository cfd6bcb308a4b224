import os
import secrets
import subprocess
import sys
import uuid

import pytest
{%- if cookiecutter.channel_layer == "redis" %}
import redis
from django.conf import settings as django_settings
{%- endif %}

from .live import PROJECT_DIR, DaphneServer
{%- if cookiecutter.channel_layer == "redis" %}


@pytest.fixture(scope="session", autouse=True)
def redis_server():
    """Fail fast, saying how to start one, when no Redis answers at REDIS_URL.

    These tests use the real channels_redis layer: there is no fake to fall back to.
    """
    url = django_settings.REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(
            f"No Redis server answers at REDIS_URL={url} ({error}). Start one with "
            "`redis-server --daemonize yes` (Debian: apt install redis-server), "
            "or set REDIS_URL to a server you can use for tests.",
            pytrace=False,
        )
    finally:
        client.close()
    return url
{%- endif %}


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    """Render pages without a collectstatic manifest (the manifest storage needs one)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


{%- if not cookiecutter.use_auth %}


@pytest.fixture
def accounts():
    """No accounts without auth: every client is anonymous."""
    return ()


@pytest.fixture
def alice():
    """A client's Cookie header: None, as there is no login."""
    return None


@pytest.fixture
def bob():
    """A client's Cookie header: None, as there is no login."""
    return None


@pytest.fixture
def carol():
    """A client's Cookie header: None, as there is no login."""
    return None
{%- endif %}


@pytest.fixture
def room_name():
    """A room no other test uses, so tests never hear each other."""
    return f"room-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def live_env(tmp_path_factory):
    """Environment for live servers: production settings over plain HTTP on loopback.

    DEBUG is off, static files are collected and served by WhiteNoise, and the
    database is a file every server process shares. Only the HTTPS redirect and
    secure-only cookies are off, since the tests speak plain HTTP.
    """
    database = tmp_path_factory.mktemp("live") / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
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
def daphne_server(live_env, tmp_path_factory):
    """One daphne process for the whole session, serving config.asgi:application."""
    with DaphneServer(live_env, tmp_path_factory.mktemp("daphne") / "daphne.log") as server:
        yield server


@pytest.fixture
def private_server(live_env, tmp_path):
    """A daphne process of the test's own, which it may stop and start."""
    with DaphneServer(live_env, tmp_path / "daphne.log") as server:
        yield server
