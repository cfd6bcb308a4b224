"""The channel layer's Redis hosts, from the environment (README: "Redis beyond one server").

The first of these forms that is set wins:

- ``REDIS_SENTINELS`` (comma-separated ``host:port``) with ``REDIS_SENTINEL_MASTER``
  (the primary's name): channels_redis asks Sentinel where the primary is;
- ``REDIS_URLS`` (comma-separated URLs): channels_redis shards channels and groups
  over them, by a hash of each name;
- ``REDIS_URL``: one Redis, ``redis://localhost:6379/0`` by default.

URLs are ``redis://``, ``rediss://`` (TLS; a private CA with ``?ssl_ca_certs=<path>``)
or ``unix://``. A malformed value raises ImproperlyConfigured with one line naming the
variable, so the project stops at start-up rather than in a consumer.
"""

from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

DEFAULT_URL = "redis://localhost:6379/0"
URL_SCHEMES = ("redis", "rediss", "unix")
# Every form of host gets these (redis-py connection settings).
SOCKET_SETTINGS = {
    # channels_redis waits for messages with a 5-second blocking pop; redis-py 8
    # times socket reads out after 5 s by default, which kills idle connections
    # with 1011 (channels_redis #422).
    "socket_timeout": 10,
    # While Redis is unreachable, fail handshakes fast.
    "socket_connect_timeout": 2,
    # Retry once on a pooled connection that Redis dropped (a restart, or its
    # idle "timeout").
    "retry_on_timeout": True,
}
# Sentinel answers one short query per new connection to the primary.
SENTINEL_SETTINGS = {"socket_timeout": 2, "socket_connect_timeout": 2}


def split_list(value: str) -> list[str]:
    """Return the non-empty, stripped items of a comma-separated ``value``."""
    return [item.strip() for item in value.split(",") if item.strip()]


def checked_url(variable: str, url: str) -> str:
    """Return ``url`` if it is a Redis URL redis-py can use; raise ImproperlyConfigured."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when not a number from 0 to 65535
    except ValueError as error:
        raise ImproperlyConfigured(f"{variable}: {url!r} is not a Redis URL ({error})") from None
    if parts.scheme not in URL_SCHEMES:
        raise ImproperlyConfigured(
            f"{variable}: {url!r} is not a Redis URL: use redis://host:port/db, "
            "rediss:// for TLS, or unix:///path"
        )
    if parts.scheme == "unix" and not parts.path:
        raise ImproperlyConfigured(f"{variable}: {url!r} names no socket path")
    if parts.scheme != "unix" and (not parts.hostname or port == 0):
        raise ImproperlyConfigured(f"{variable}: {url!r} names no host, or port 0")
    return url


def checked_address(variable: str, entry: str) -> tuple[str, int]:
    """Return ``(host, port)`` from ``"host:port"``; raise ImproperlyConfigured."""
    host, _, port = entry.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ImproperlyConfigured(f"{variable}: {entry!r} is not host:port")
    return host.strip("[]"), int(port)


def channel_layer_hosts(environ: Mapping[str, str]) -> list[dict]:
    """Return channels_redis's ``hosts`` list for the Redis settings in ``environ``.

    Each host is a dict of redis-py connection settings with ``SOCKET_SETTINGS``
    (channels_redis.utils.create_pool takes ``address`` for a URL, or
    ``sentinels`` with ``master_name``). Raises ImproperlyConfigured, naming the
    variable, for a malformed value or an incomplete Sentinel pair.
    """
    sentinels = environ.get("REDIS_SENTINELS", "")
    master = environ.get("REDIS_SENTINEL_MASTER", "").strip()
    if sentinels or master:
        if not split_list(sentinels):
            raise ImproperlyConfigured(
                "REDIS_SENTINELS: empty, but REDIS_SENTINEL_MASTER is set: "
                "list the Sentinels as host:port,host:port"
            )
        if not master:
            raise ImproperlyConfigured(
                "REDIS_SENTINEL_MASTER: empty, but REDIS_SENTINELS is set: "
                "give the primary's name as the Sentinels know it"
            )
        return [
            {
                "sentinels": [
                    checked_address("REDIS_SENTINELS", entry) for entry in split_list(sentinels)
                ],
                "master_name": master,
                "sentinel_kwargs": SENTINEL_SETTINGS,
                **SOCKET_SETTINGS,
            }
        ]
    if "REDIS_URLS" in environ:
        variable, urls = "REDIS_URLS", split_list(environ["REDIS_URLS"])
    else:
        variable, urls = "REDIS_URL", [environ.get("REDIS_URL", DEFAULT_URL)]
    if not urls:
        raise ImproperlyConfigured(
            "REDIS_URLS: empty: list one or more Redis URLs, or unset it to use REDIS_URL"
        )
    return [{"address": checked_url(variable, url), **SOCKET_SETTINGS} for url in urls]
