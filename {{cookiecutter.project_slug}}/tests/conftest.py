import uuid

import pytest
{%- if cookiecutter.channel_layer == "redis" %}
import redis
from django.conf import settings as django_settings


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


@pytest.fixture
def room_name():
    """A room no other test uses, so tests never hear each other."""
    return f"room-{uuid.uuid4().hex[:12]}"
