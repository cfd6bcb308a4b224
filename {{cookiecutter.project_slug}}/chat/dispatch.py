"""Message dispatch for the async consumer styles (this module exists with them only)."""

from channels.consumer import get_handler_name


class DirectDispatchMixin:
    """Run each message's handler at once, without Channels' ``aclose_old_connections()``.

    Channels 4.2 calls it before every message (channels #2090): a hop to
    asgiref's one thread for sync code per frame and per group message. Skipping
    it stays correct with a database in the path because these consumers reach
    the ORM only through ``database_sync_to_async``, which closes stale
    connections before and after each call itself (channels/db.py); a handler
    that used Django's async ORM (``acreate``, ``aget``) directly would need the
    per-message call back. Put it before the Channels consumer class in the bases.
    """

    async def dispatch(self, message):
        """Await the handler that ``message["type"]`` names; ValueError if there is none."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
