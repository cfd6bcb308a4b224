"""Django code that talks to rooms: post a message, read a room's history.

Everything that posts goes through ``post_message``: the consumers, the HTTP
API (chat/api.py) and ``manage.py post_message``. It is the pattern to copy
for a view, a signal or a task queue that speaks to a room: store, then
deliver once the transaction commits.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from serving import metrics

from . import protocol
from .models import Message


def post_message(room_name: str, text: str, user=None, author: str | None = None) -> dict:
    """Store ``text`` in ``room_name`` and deliver it to the room's members; return its event.

    ``user`` is the sender (``request.user``, ``scope["user"]``, or None for
    no one); the name shown is ``author`` if given, else ``user``'s
    (``protocol.display_name``). ``text`` must already be valid
    (``protocol.read_message``). Sync code calls this directly; async code
    through ``database_sync_to_async``, which also closes stale database
    connections around the call.

    Members hear of the message only once it is committed
    (``transaction.on_commit``): inside ``transaction.atomic`` nobody does
    before the block commits, and nobody ever if it rolls back. Outside a
    transaction (autocommit) delivery happens before this returns. A delivery
    that fails (the channel layer is down) is logged, not raised
    (``robust=True``): the message is stored, and members get it in their next
    history frame.
    """
    with metrics.STORE_SECONDS.time():
        message = Message.objects.create(
            room=room_name,
            text=text,
            author=author or protocol.display_name(user),
{% if cookiecutter.use_auth %}
            user=user if user is not None and user.is_authenticated else None,
{% endif %}
        )
    metrics.MESSAGES_STORED.inc()
    event = message.event()
    transaction.on_commit(lambda: deliver(room_name, event), robust=True)
    return event


def deliver(room_name: str, event: dict) -> None:
    """Send ``event`` to every member of ``room_name`` through the channel layer (sync code).

    ``async_to_sync`` runs ``group_send`` on the server's event loop when called
    from a consumer's thread, and in a loop of its own otherwise (a management
    command): never a new event loop per call inside the server (asgiref docs).
    """
    async_to_sync(get_channel_layer().group_send)(protocol.group_name(room_name), event)
    metrics.MESSAGES_BROADCAST.inc()


def history(room_name: str, after: int | None = None) -> tuple[list[dict], bool]:
    """Return up to ``CHAT_HISTORY_LENGTH`` stored messages of a room, oldest first, and "more".

    Without ``after``, the newest messages; with it, those with a larger id,
    from the first. "more" is true when the room holds messages in that range
    that the list leaves out.
    """
    limit = settings.CHAT_HISTORY_LENGTH
    messages = Message.objects.filter(room=room_name)
    if after is None:
        page = list(messages.order_by("-id")[: limit + 1])[::-1]
        more = len(page) > limit
        page = page[1:] if more else page
    else:
        page = list(messages.filter(id__gt=after).order_by("id")[: limit + 1])
        more = len(page) > limit
        page = page[:limit]
    return [message.event() for message in page], more
