"""Websocket consumers (AsyncWebsocketConsumer). The wire protocol lives in protocol.py."""

from channels.generic.websocket import AsyncWebsocketConsumer

from . import protocol


class ProtocolConsumer(AsyncWebsocketConsumer):
    """Base consumer: decodes each frame with ``protocol.parse_frame``.

    A valid frame's text goes to ``receive_message``; a bad frame gets an
    error frame and the connection stays open.
    """

    async def receive(self, text_data=None, bytes_data=None):
        """Parse one frame; answer a bad one with an error frame, the connection open."""
        try:
            message = protocol.parse_frame(text_data)
        except protocol.ProtocolError as error:
            await self.send(text_data=protocol.encode(error.event()))
            return
        await self.receive_message(message)

    async def receive_message(self, message):
        """Handle the text of one valid frame; subclasses implement it."""
        raise NotImplementedError


class EchoConsumer(ProtocolConsumer):
    """``ws/echo/``: replies to each message with ``{"type": "echo", "message": ...}``."""

    async def connect(self):
        """Accept the handshake{% if cookiecutter.use_auth %}; refuse anonymous users (HTTP 403){% endif %}."""
{%- if cookiecutter.use_auth %}
        if not self.scope["user"].is_authenticated:
            await self.close()
            return
{%- endif %}
        await self.accept()

    async def receive_message(self, message):
        """Reply with an echo event."""
        await self.send(text_data=protocol.encode(protocol.echo_event(message)))


class ChatConsumer(ProtocolConsumer):
    """``ws/chat/<room_name>/``: relays each message to every member of the room.

    Joins the room's channel-layer group on connect and leaves it on disconnect;
    a message goes out with ``group_send`` and reaches every member, the sender
    included, through ``chat_message``.
    """

    async def connect(self):
        """Join the room's group and accept{% if cookiecutter.use_auth %}; refuse anonymous users (HTTP 403){% endif %}."""
        self.room_group_name = protocol.group_name(self.scope["url_route"]["kwargs"]["room_name"])
{%- if cookiecutter.use_auth %}
        if not self.scope["user"].is_authenticated:
            await self.close()
            return
{%- endif %}
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code):
        """Leave the room's group."""
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive_message(self, message):
        """Send the message to every member of the room, this one included."""
        event = protocol.chat_event(message, protocol.display_name(self.scope))
        await self.channel_layer.group_send(self.room_group_name, event)

    async def chat_message(self, event):
        """Send a ``chat.message`` group event to this client unchanged."""
        await self.send(text_data=protocol.encode(event))
