"""Who is in each room, across server processes, and after a process dies.

The database holds one ``Presence`` row per open connection to a room. Each
server process refreshes the rows of its own connections every
``CHAT_PRESENCE_TIMEOUT / 3`` seconds, and a room's list is the sorted,
distinct names of its rows refreshed within ``CHAT_PRESENCE_TIMEOUT``. So the
connections of a process that died without closing them (SIGKILL, a lost
machine) leave every list within the timeout, and a database or channel-layer
outage heals at the first refresh after it.

When a connection joins or leaves and the room's list is not the one this
process last sent, and at every refresh, the process sends the room
``{"type": "chat.presence", "users": [...]}`` through the channel layer. Each
consumer forwards a list to its client only when it differs from the last one it
sent, so a member hears each change once, however many processes noticed it,
and a list that two processes' messages delivered out of order is put right at
the next refresh.
"""

import asyncio
import contextvars
import logging
import weakref
from datetime import timedelta

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from serving import metrics

from . import protocol
from .models import Presence

logger = logging.getLogger(__name__)


def users(room_name: str) -> list[str]:
    """Return the sorted, distinct names of the connections to a room seen within the timeout."""
    cutoff = timezone.now() - timedelta(seconds=settings.CHAT_PRESENCE_TIMEOUT)
    names = Presence.objects.filter(room=room_name, seen__gte=cutoff).values_list("name", flat=True)
    return sorted(set(names))


def refresh(members: dict[str, tuple[str, str]]) -> None:
    """Mark these connections (channel name: (room, name)) seen now, re-creating any row
    that is gone."""
    now = timezone.now()
    rows = [
        Presence(channel_name=channel, room=room, name=name, seen=now)
        for channel, (room, name) in members.items()
    ]
    Presence.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["channel_name"], update_fields=["seen"]
    )


def expire() -> None:
    """Delete the rows nobody refreshed within the timeout (``users`` already ignores them)."""
    cutoff = timezone.now() - timedelta(seconds=settings.CHAT_PRESENCE_TIMEOUT)
    Presence.objects.filter(seen__lt=cutoff).delete()


def forget(channel_name: str) -> None:
    """Delete a connection's row."""
    Presence.objects.filter(channel_name=channel_name).delete()


class Keeper:
    """The presence of one server process's connections: one per event loop.

    Its refresh task runs while it has connections and ends with the last one,
    so no task outlives the connections it served (or a test's event loop).
    """

    def __init__(self) -> None:
        self.members: dict[str, tuple[str, str]] = {}  # channel name: (room, name)
        self.announced: dict[str, list[str]] = {}  # room: the list this process last sent
        self.task: asyncio.Task | None = None

    async def join(self, room_name: str, name: str, channel_name: str) -> list[str]:
        """Add a connection to a room; return the room's list, which the room is sent too.

        Raises the database's error when the row cannot be written: a member
        must not be told it is here when nobody else can see it.
        """
        self.members[channel_name] = (room_name, name)
        await database_sync_to_async(refresh)({channel_name: (room_name, name)})
        if self.task is None:
            # A context of its own: one inherited from a sync consumer's async_to_sync
            # call would route its database calls to that call's thread, gone by then.
            self.task = asyncio.create_task(
                self.refresh_while_connected(), context=contextvars.Context()
            )
        return await self.announce(room_name, only_if_changed=True)

    async def leave(self, channel_name: str | None) -> None:
        """Remove a connection (None, or one that never joined: nothing to do) and tell its
        room; a failure is logged (the row expires)."""
        if channel_name not in self.members:
            return  # it never joined: its connection failed first
        room_name, _ = self.members.pop(channel_name)
        try:
            await database_sync_to_async(forget)(channel_name)
            await self.announce(room_name, only_if_changed=True)
        except Exception:
            logger.exception("Presence: leaving %s failed; its row expires instead", room_name)
        if not self.members and self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None

    async def announce(self, room_name: str, only_if_changed: bool = False) -> list[str]:
        """Send the room its list (``chat.presence``), if it changed since this process last
        did when ``only_if_changed``; return the list."""
        current = await database_sync_to_async(users)(room_name)
        if not only_if_changed or current != self.announced.get(room_name):
            self.announced[room_name] = current
            event = {"type": "chat.presence", "users": current}
            await get_channel_layer().group_send(protocol.group_name(room_name), event)
            metrics.PRESENCE_UPDATES.inc()
        return current

    async def refresh_while_connected(self) -> None:
        """Every timeout / 3 seconds: refresh this process's rows, and send each of its rooms
        its list, which members whose list is right ignore (someone's process died, an
        outage ended, or two announcements crossed)."""
        interval = settings.CHAT_PRESENCE_TIMEOUT / 3
        while self.members:
            await asyncio.sleep(interval)
            try:
                await database_sync_to_async(refresh)(dict(self.members))
                await database_sync_to_async(expire)()
                for room_name in {room for room, _ in self.members.values()}:
                    await self.announce(room_name)
            except Exception:
                logger.exception("Presence: refresh failed; retrying in %s s", interval)


class LeaveOnExitMixin:
    """For a room's consumer: however it ends, it leaves its room's presence.

    A consumer whose channel layer fails (a Redis outage) ends without
    ``disconnect``; without this its process would go on refreshing its row,
    a ghost in the list for good. Put it before the Channels consumer class.
    """

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            await leave(getattr(self, "channel_name", None))


_keepers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Keeper]" = (
    weakref.WeakKeyDictionary()
)


def keeper() -> Keeper:
    """Return the running event loop's ``Keeper`` (async code only)."""
    loop = asyncio.get_running_loop()
    if loop not in _keepers:
        _keepers[loop] = Keeper()
    return _keepers[loop]


async def join(room_name: str, name: str, channel_name: str) -> list[str]:
    """Add a connection to a room's presence (see ``Keeper.join``); return the room's list."""
    return await keeper().join(room_name, name, channel_name)


async def leave(channel_name: str | None) -> None:
    """Remove a connection from its room's presence (see ``Keeper.leave``)."""
    await keeper().leave(channel_name)
