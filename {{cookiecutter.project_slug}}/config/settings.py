"""Django settings for {{ cookiecutter.project_slug }}.

Every value that differs between machines comes from the environment (see the
settings table in README.md). For local development the bake wrote a
git-ignored ``.env`` beside manage.py; real environment variables win over it.
"""

{% if cookiecutter.channel_layer == "redis" %}
import os
{% endif %}
from pathlib import Path

import environ

{% if cookiecutter.channel_layer == "redis" %}
from config.redis_hosts import channel_layer_hosts
{% endif %}
from serving.errors import init_sentry
from serving.logs import configured_log_format

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    # First, so that "manage.py runserver" serves the ASGI application,
    # websockets included (Channels docs, "Installation").
    "daphne",
{% if cookiecutter.use_auth %}
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
{% endif %}
    "django.contrib.staticfiles",
    "chat",
    "serving",
{% if cookiecutter.use_auth %}
    "accounts",
{% endif %}
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
{% if cookiecutter.use_auth %}
    "django.contrib.sessions.middleware.SessionMiddleware",
{% endif %}
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
{% if cookiecutter.use_auth %}
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login except those marked login_not_required; the
    # API answers 401 instead of a redirect (accounts/middleware.py).
    "accounts.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
{% endif %}
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                # project_name, for every page's header.
                "chat.views.project",
{% if cookiecutter.use_auth %}
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
{% endif %}
            ],
        },
    },
]

ASGI_APPLICATION = "config.asgi.application"

# SQLite by default (local runs, the tests); PostgreSQL through DATABASE_URL
# (postgres://...) in production (README: "The database").
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# PostgreSQL: no persistent connections under ASGI, where a connection belongs to
# one thread and would outlive it (Django docs, "Asynchronous support"); the pool
# below instead. SQLite: its one connection stays open, since every ORM call runs
# on asgiref's one thread for sync code and opening it again for each message
# costs about 15 ms (BENCHMARKS.md).
SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
DATABASES["default"]["CONN_MAX_AGE"] = None if SQLITE else 0
engine_options = {
    # Many consumers writing at once: readers never wait for the writer (WAL),
    # a write transaction takes the lock when it starts rather than failing
    # halfway (IMMEDIATE), and a writer waits up to 20 s for the lock instead
    # of failing with "database is locked" (Django docs, "SQLite notes").
    "django.db.backends.sqlite3": {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    },
    # psycopg's pool, per worker process: it opens DATABASE_POOL_MIN_SIZE
    # connections and at most DATABASE_POOL_MAX_SIZE.
    "django.db.backends.postgresql": {
        "pool": {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=4),
        },
    },
}
DATABASES["default"]["OPTIONS"] = {
    **engine_options.get(DATABASES["default"]["ENGINE"], {}),
    **DATABASES["default"].get("OPTIONS", {}),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
{% if cookiecutter.use_auth %}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:index"
LOGOUT_REDIRECT_URL = "login"
{% endif %}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # The ASGI servers serve no static files; WhiteNoise serves the collected ones.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# HTTPS. The server runs behind a proxy that terminates TLS and sets
# X-Forwarded-Proto (README: "Deploying"); clients must not reach the server
# directly, or they could claim HTTPS themselves.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Start HSTS short; raise it and opt in to subdomains and preload once HTTPS works.
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Channels. A group message for a member whose channel already holds
# "capacity" unread messages is dropped for that member, and the layer logs it
# (see LOGGING). Unread messages older than "expiry" seconds are dropped, and a
# member leaves its groups after "group_expiry" seconds, so group_expiry must
# outlast the longest connection (README: "The channel layer").
{% if cookiecutter.channel_layer == "redis" %}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # REDIS_URL, REDIS_URLS (shards) or REDIS_SENTINELS: config/redis_hosts.py.
            "hosts": channel_layer_hosts(os.environ),
            "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=1000),
            "expiry": 60,
            "group_expiry": 86400,
        },
    },
}
{% else %}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "serving.layers.InMemoryChannelLayer",
        "CONFIG": {
            "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=1000),
            "expiry": 60,
            "group_expiry": 86400,
        },
    },
}
{% endif %}

# Characters one chat message may hold; longer ones get a message_too_long error.
CHAT_MAX_MESSAGE_LENGTH = env.int("CHAT_MAX_MESSAGE_LENGTH", default=4096)
# Stored messages a member gets on joining a room (the history frame), and the
# most that one ?after=<id> frame or API answer holds.
CHAT_HISTORY_LENGTH = env.int("CHAT_HISTORY_LENGTH", default=50)
# Seconds after which a connection whose server process stopped refreshing it
# (killed, or its machine lost) leaves its room's list of who is here.
CHAT_PRESENCE_TIMEOUT = env.int("CHAT_PRESENCE_TIMEOUT", default=60)

# Per connection, a client may send CHAT_RATE chat messages per second on
# average, in bursts of up to CHAT_BURST; the API allows each user (without
# accounts, each address) the same. Over it a message gets a rate_limited error
# frame (or HTTP 429) and is neither stored nor sent (chat/limits.py).
CHAT_RATE = env.float("CHAT_RATE", default=5)
CHAT_BURST = env.int("CHAT_BURST", default=10)

# /metrics, in Prometheus' text format, answers only a request with the header
# "Authorization: Bearer <METRICS_TOKEN>"; unset, it is not served.
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# The production server, started by "manage.py serve" (config/server.py). A ping
# every SERVER_PING_INTERVAL seconds keeps idle websockets open through proxies;
# a peer that does not answer within SERVER_PING_TIMEOUT is closed.
SERVER_PING_INTERVAL = env.int("SERVER_PING_INTERVAL", default=20)
SERVER_PING_TIMEOUT = env.int("SERVER_PING_TIMEOUT", default=30)
# Seconds a consumer gets to finish once the server stops (or its client
# leaves), before it is cancelled or its worker killed; the systemd unit waits
# longer than that (deploy/).
SERVER_SHUTDOWN_TIMEOUT = env.int("SERVER_SHUTDOWN_TIMEOUT", default=10)
# The largest websocket message a client may send (1 MiB; CVE-2026-44545).
SERVER_MAX_MESSAGE_BYTES = 1024 * 1024
# The most bytes of messages that may wait for one websocket client beyond
# what the server and the kernel buffer for it; a client further behind (one
# that stopped reading in a busy room) is dropped (serving/slow_clients.py).
SERVER_SEND_QUEUE_BYTES = env.int("SERVER_SEND_QUEUE_BYTES", default=1024 * 1024)
{% if cookiecutter.channel_layer == "redis" %}
# Worker processes; they meet in Redis, so any number serves the same rooms.
SERVER_WORKERS = env.int("SERVER_WORKERS", default=os.cpu_count() or 1)
{% else %}
# One worker process: the in-memory channel layer lives inside one process, so
# members connected to another worker would never hear the room.
SERVER_WORKERS = 1
{% endif %}

# Logs go to stderr: one JSON object per line in production, a readable line
# in development; DJANGO_LOG_FORMAT (json or plain) overrides. A websocket's
# records name its room and user (serving/logs.py).
LOG_FORMAT = configured_log_format(env)
LOGGING_CONFIG = "serving.logs.configure"  # Python's warnings as log records too
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
{% if cookiecutter.channel_layer == "redis" %}
    "filters": {"count_drops": {"()": "serving.metrics.CountChannelLayerDrops"}},
{% endif %}
    "handlers": {"console": {"()": "serving.logs.console_handler", "log_format": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # Replaces Django's default "django" logger, which would print each line
        # twice (its own console handler, then the root's) in debug mode.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
{% if cookiecutter.asgi_server == "daphne" %}
        # "Listening on TCP address ...", and what daphne does at shutdown.
        "daphne": {"level": "INFO"},
{% else %}
        # The server's own loggers are set in config/server_logging.json: named
        # here, dictConfig would reset their children (the access log, off).
{% endif %}
        "chat": {"level": "INFO"},
        "serving": {"level": "INFO"},
{% if cookiecutter.channel_layer == "redis" %}
        # Logs "N of M channels over capacity in group G" at INFO when it drops.
        "channels_redis": {"level": "INFO"},
        # Counts those drops for /metrics too (serving/metrics.py).
        "channels_redis.core": {"filters": ["count_drops"]},
{% endif %}
    },
}

# Errors to Sentry when SENTRY_DSN is set; nothing is sent without it (serving/errors.py).
init_sentry(
    env.str("SENTRY_DSN", default=""),
    environment=env.str("SENTRY_ENVIRONMENT", default=None),
{% if cookiecutter.asgi_server == "daphne" %}
    # "Exception inside application": daphne's copy of what SentryAsgiMiddleware reported.
    ignore_loggers=("daphne.server",),
{% elif cookiecutter.asgi_server == "granian" %}
    # "Application callable raised an exception": granian's copy of what
    # SentryAsgiMiddleware reported.
    ignore_loggers=("_granian.utils",),
{% endif %}
)
