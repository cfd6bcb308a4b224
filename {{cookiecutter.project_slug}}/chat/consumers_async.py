"""Websocket consumers (AsyncWebsocketConsumer). The wire protocol lives in protocol.py.

Who may connect is decided before a consumer runs, in the websocket stack of
config/asgi.py; these classes only speak the protocol.
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from . import limits, presence, protocol, rooms
from .dispatch import DirectDispatchMixin


class ProtocolConsumer(DirectDispatchMixin, AsyncWebsocketConsumer):
    """Base consumer: a valid frame's text goes to ``receive_message``.

    A bad frame gets an error frame (``protocol.ProtocolError.event``) and the
    connection stays open, unless the error says to close it. Messages are
    dispatched without a hop to the sync thread (``DirectDispatchMixin``).
    """

    async def receive(self, text_data=None, bytes_data=None):
        try:
            await self.receive_message(protocol.parse_frame(text_data))
        except protocol.ProtocolError as error:
            await self.send(text_data=protocol.encode(error.event()))
            if error.close_code:
                await self.close(code=error.close_code)

    async def receive_message(self, message):
        """Handle the chat text (a str) of one valid frame; subclasses implement it."""
        raise NotImplementedError


class EchoConsumer(ProtocolConsumer):
    """``ws/echo/``: replies to each message with ``{"type": "echo", "message": ...}``."""

    async def receive_message(self, message):
        await self.send(text_data=protocol.encode(protocol.echo_event(message)))


class ChatConsumer(presence.LeaveOnExitMixin, ProtocolConsumer):
    """``ws/chat/<room_name>/``: stores each message, then relays it to every member of the room.

    Joins the room's channel-layer group on connect, then sends the room's
    history (``?after=<id>``: what came after that id) and who is here
    (chat/presence.py); leaves both when it ends. Without a login the member
    goes by its ``?name=``. Each client's messages are rate-limited
    (chat/limits.py). A message is stored and delivered through
    ``rooms.post_message`` and reaches every member, the sender included,
    through ``chat_message``.
    The database is reached through ``database_sync_to_async`` only.
    """

    async def connect(self):
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = protocol.group_name(self.room_name)
        self.limit = limits.MessageLimit()
        # Join before reading the history, so that a message stored meanwhile is
        # in the history, or delivered live, or both (chat_message skips it then).
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()
        after, self.name, errors = protocol.read_join(self.scope)
        for error in errors:
            await self.send(text_data=protocol.encode(error))
        messages, more = await database_sync_to_async(rooms.history)(self.room_name, after)
        self.ids_in_history = {message["id"] for message in messages}
        await self.send(text_data=protocol.encode(protocol.history_event(messages, more)))
        users = await presence.join(self.room_name, self.name, self.channel_name)
        self.presence_sent = users
        await self.send(text_data=protocol.encode(protocol.presence_event(users)))

    async def disconnect(self, close_code):
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive_message(self, message):
        self.limit.check()
        await database_sync_to_async(rooms.post_message)(
            self.room_name, message, self.scope.get("user"), self.name
        )

    async def chat_message(self, event):
        """Send a ``chat.message`` group event to this client unchanged, unless it had it."""
        if event["id"] not in self.ids_in_history:
            await self.send(text_data=protocol.encode(event))

    async def chat_presence(self, event):
        """Send the room's list of names to this client, unless it is the one it has."""
        if event["users"] != self.presence_sent:
            self.presence_sent = event["users"]
            await self.send(text_data=protocol.encode(protocol.presence_event(event["users"])))
