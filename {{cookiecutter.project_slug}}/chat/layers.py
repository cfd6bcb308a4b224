"""The in-memory channel layer, made to log what it drops."""

import logging

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as BaseInMemoryChannelLayer

logger = logging.getLogger(__name__)


class InMemoryChannelLayer(BaseInMemoryChannelLayer):
    """Channels' InMemoryChannelLayer, logging a warning for each message it drops.

    Channels' ``group_send`` drops a message for a member whose channel already
    holds ``capacity`` messages and says nothing (channels/layers.py). This
    layer logs that drop on the "chat.layers" logger; ``send`` still raises
    ``ChannelFull`` as before. Serves one process only: use Redis for more.
    """

    async def send(self, channel, message):
        """Send ``message`` (a dict) to ``channel``; log and raise ``ChannelFull`` if it is full."""
        try:
            await super().send(channel, message)
        except ChannelFull:
            logger.warning(
                "Channel %s is full (capacity %d): message of type %r dropped",
                channel,
                self.get_capacity(channel),
                message.get("type"),
            )
            raise
