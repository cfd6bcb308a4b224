"""Abuse limits: how fast one client may post chat messages (CHAT_RATE, CHAT_BURST).

A websocket connection has a token bucket of its own (``MessageLimit``); the
HTTP API keeps one per user, or per address without accounts
(``allow_post``). The API's buckets live in each server process: with
several workers a client that spreads its requests over them gets that many
times the rate, which the proxy's own limit caps (deploy/nginx.conf).
"""

import math
from collections import OrderedDict
from collections.abc import Callable
from time import monotonic

from django.conf import settings

from . import protocol

# RFC 6455: the endpoint closes a connection that broke its policy.
POLICY_VIOLATION = 1008
# The most API buckets a process keeps; the least recently used goes first.
MAX_API_BUCKETS = 10_000


class TokenBucket:
    """``rate`` takes per second on average, at most ``burst`` at once; it starts full.

    ``clock`` returns seconds; by default this module's ``monotonic``, which
    tests may replace.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] | None = None):
        self.rate = rate
        self.burst = burst
        self.clock = clock or monotonic
        self.tokens = float(burst)
        self.updated = self.clock()

    def take(self) -> bool:
        """Take a token if there is one; return whether there was."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def seconds_to_next(self) -> float:
        """Return how long until the next token comes (0 if there is one now)."""
        return max(0.0, (1 - self.tokens) / self.rate)


def rate_limited(close_code: int | None = None) -> protocol.ProtocolError:
    """Return the ``rate_limited`` error, saying the limits; closing with ``close_code``."""
    return protocol.ProtocolError(
        "rate_limited",
        f"Too many messages: at most {settings.CHAT_RATE:g} per second, "
        f"{settings.CHAT_BURST} at once. This one was not sent.",
        close_code,
    )


class MessageLimit:
    """One connection's chat messages: ``CHAT_RATE`` per second, bursts of ``CHAT_BURST``.

    A client that goes on sending while limited is flooding: once it has had
    ``CHAT_BURST`` messages refused in a row, the next refusal closes the
    connection with 1008 (policy violation).
    """

    def __init__(self) -> None:
        self.bucket = TokenBucket(settings.CHAT_RATE, settings.CHAT_BURST)
        self.refused = 0

    def check(self) -> None:
        """Count one message; raise ``ProtocolError`` ``rate_limited`` if it is over the limit.

        The error's ``close_code`` is ``POLICY_VIOLATION`` once the client is flooding.
        """
        if self.bucket.take():
            self.refused = 0
            return
        self.refused += 1
        flooding = self.refused > settings.CHAT_BURST
        raise rate_limited(POLICY_VIOLATION if flooding else None)


# The API's buckets of this process, most recently used last. Sync views run on
# asgiref's one thread for sync code, so one thread at a time uses them.
api_buckets: OrderedDict[str, TokenBucket] = OrderedDict()


def allow_post(key: str) -> float:
    """Count one API post by ``key`` (a user or an address); return 0 if allowed, else the
    seconds until it would be (for Retry-After)."""
    bucket = api_buckets.pop(key, None) or TokenBucket(settings.CHAT_RATE, settings.CHAT_BURST)
    api_buckets[key] = bucket
    while len(api_buckets) > MAX_API_BUCKETS:
        api_buckets.popitem(last=False)
    return 0.0 if bucket.take() else bucket.seconds_to_next()


def client_key(request) -> str:
    """Return whom an API request counts against: its user, else its client's address.

    Behind the proxy (README: "Deploying") the address is the last one in
    X-Forwarded-For, which the proxy itself appended; clients must not reach
    the server directly, or they could name any address.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    forwarded = request.headers.get("X-Forwarded-For", "")
    address = forwarded.rsplit(",", 1)[-1].strip() or request.META.get("REMOTE_ADDR", "")
    return f"address:{address}"


def retry_after(seconds: float) -> str:
    """Return a Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
