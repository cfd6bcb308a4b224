"""The channel layer's Redis hosts from the environment (config/redis_hosts.py)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.redis_hosts import SOCKET_SETTINGS, channel_layer_hosts


def test_one_redis_by_default():
    assert channel_layer_hosts({}) == [{"address": "redis://localhost:6379/0", **SOCKET_SETTINGS}]


def test_redis_url_with_tls():
    url = "rediss://redis.internal:6380/0?ssl_ca_certs=/etc/ssl/private-ca.pem"
    assert channel_layer_hosts({"REDIS_URL": url}) == [{"address": url, **SOCKET_SETTINGS}]


def test_redis_urls_are_shards_and_win_over_redis_url():
    environ = {"REDIS_URL": "redis://ignored/0", "REDIS_URLS": "redis://a:6379/0, redis://b/0"}
    hosts = channel_layer_hosts(environ)
    assert [host["address"] for host in hosts] == ["redis://a:6379/0", "redis://b/0"]
    assert all(host.items() >= SOCKET_SETTINGS.items() for host in hosts)


def test_sentinels_win_over_urls():
    environ = {
        "REDIS_URLS": "redis://a/0",
        "REDIS_SENTINELS": "sentinel-1:26379,[::1]:26380",
        "REDIS_SENTINEL_MASTER": "chat",
    }
    (host,) = channel_layer_hosts(environ)
    assert host["sentinels"] == [("sentinel-1", 26379), ("::1", 26380)]
    assert host["master_name"] == "chat"
    assert host.items() >= SOCKET_SETTINGS.items()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL: 'localhost:6379' is not a Redis URL"),
        ({"REDIS_URL": "http://redis/0"}, "REDIS_URL: 'http://redis/0' is not a Redis URL"),
        ({"REDIS_URL": "redis://redis:65536/0"}, "REDIS_URL: 'redis://redis:65536/0' is not"),
        ({"REDIS_URL": "redis:///0"}, "REDIS_URL: 'redis:///0' names no host"),
        ({"REDIS_URLS": "redis://a/0,b:6379"}, "REDIS_URLS: 'b:6379' is not a Redis URL"),
        ({"REDIS_URLS": " , "}, "REDIS_URLS: empty"),
        ({"REDIS_SENTINELS": "s1:26379"}, "REDIS_SENTINEL_MASTER: empty"),
        ({"REDIS_SENTINEL_MASTER": "chat"}, "REDIS_SENTINELS: empty"),
        (
            {"REDIS_SENTINELS": "s1", "REDIS_SENTINEL_MASTER": "chat"},
            "REDIS_SENTINELS: 's1' is not host:port",
        ),
        (
            {"REDIS_SENTINELS": "s1:port", "REDIS_SENTINEL_MASTER": "chat"},
            "REDIS_SENTINELS: 's1:port' is not host:port",
        ),
    ],
)
def test_malformed_settings_are_refused_in_one_line_naming_the_variable(environ, message):
    with pytest.raises(ImproperlyConfigured) as refused:
        channel_layer_hosts(environ)
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)
