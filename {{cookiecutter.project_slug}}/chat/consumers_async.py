"""Websocket consumers (AsyncWebsocketConsumer). The wire protocol lives in protocol.py.

Who may connect is decided before a consumer runs, in the websocket stack of
config/asgi.py; these classes only speak the protocol.
"""

from channels.generic.websocket import AsyncWebsocketConsumer

from . import protocol
from .dispatch import DirectDispatchMixin


class ProtocolConsumer(DirectDispatchMixin, AsyncWebsocketConsumer):
    """Base consumer: a valid frame's text goes to ``receive_message``.

    A bad frame gets an error frame (``protocol.ProtocolError.event``) and the
    connection stays open. Messages are dispatched without a hop to the sync
    thread (``DirectDispatchMixin``).
    """

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = protocol.parse_frame(text_data)
        except protocol.ProtocolError as error:
            await self.send(text_data=protocol.encode(error.event()))
            return
        await self.receive_message(message)

    async def receive_message(self, message):
        """Handle the chat text (a str) of one valid frame; subclasses implement it."""
        raise NotImplementedError


class EchoConsumer(ProtocolConsumer):
    """``ws/echo/``: replies to each message with ``{"type": "echo", "message": ...}``."""

    async def receive_message(self, message):
        await self.send(text_data=protocol.encode(protocol.echo_event(message)))


class ChatConsumer(ProtocolConsumer):
    """``ws/chat/<room_name>/``: relays each message to every member of the room.

    Joins the room's channel-layer group on connect and leaves it on disconnect;
    a message goes out with ``group_send`` and reaches every member, the sender
    included, through ``chat_message``.
    """

    async def connect(self):
        self.room_group_name = protocol.group_name(self.scope["url_route"]["kwargs"]["room_name"])
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code):
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive_message(self, message):
        event = protocol.chat_event(message, protocol.display_name(self.scope))
        await self.channel_layer.group_send(self.room_group_name, event)

    async def chat_message(self, event):
        """Send a ``chat.message`` group event to this client unchanged."""
        await self.send(text_data=protocol.encode(event))
