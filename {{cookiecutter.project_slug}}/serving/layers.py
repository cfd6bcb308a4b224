"""The in-memory channel layer, made to log what it drops and to sweep for expiry less often."""

import logging
import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as BaseInMemoryChannelLayer

from . import metrics

logger = logging.getLogger(__name__)

# Seconds between two sweeps of expired messages and memberships.
SWEEP_INTERVAL = 1.0


class InMemoryChannelLayer(BaseInMemoryChannelLayer):
    """Channels' InMemoryChannelLayer, logging each message it drops, sweeping less often.

    Channels' ``group_send`` drops a message for a member whose channel already
    holds ``capacity`` messages and says nothing (channels/layers.py). This
    layer logs that drop on the "serving.layers" logger and counts it
    (``chat_channel_layer_drops``); ``send`` still raises ``ChannelFull``.
    Serves one process only: use Redis for more.

    Channels sweeps every channel and every group membership for expired
    entries on each ``receive`` and ``group_send``: one room broadcast to N
    members costs N sweeps of N channels. Here a sweep runs at most once per
    ``SWEEP_INTERVAL`` (the template's BENCHMARKS.md has the figures), so
    expiry (``expiry`` 60 s, ``group_expiry`` a day) moves by at most a second.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last_sweep = float("-inf")

    async def send(self, channel, message):
        """Send ``message`` (a dict) to ``channel``; log and raise ``ChannelFull`` if it is full."""
        try:
            await super().send(channel, message)
        except ChannelFull:
            metrics.CHANNEL_LAYER_DROPS.inc()
            logger.warning(
                "Channel %s is full (capacity %d): message of type %r dropped",
                channel,
                self.get_capacity(channel),
                message.get("type"),
            )
            raise

    def _clean_expired(self):
        """Run Channels' sweep of expired messages and memberships, at most once per interval."""
        now = time.monotonic()
        if now - self._last_sweep >= SWEEP_INTERVAL:
            self._last_sweep = now
            super()._clean_expired()
