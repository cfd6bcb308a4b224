"""Websocket consumers (AsyncJsonWebsocketConsumer). The wire protocol lives in protocol.py.

The JSON consumer decodes each text frame before ``receive_json``; decoding goes
through ``protocol.decode_frame`` so that bad JSON and binary frames get the same
error frames as in the other consumer styles.
"""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import protocol


class ProtocolConsumer(AsyncJsonWebsocketConsumer):
    """Base consumer: answers any ``protocol.ProtocolError`` with an error frame."""

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Parse one frame; answer a bad one with an error frame, the connection open."""
        try:
            await self.receive_json(await self.decode_json(text_data), **kwargs)
        except protocol.ProtocolError as error:
            await self.send_json(error.event())

    @classmethod
    async def decode_json(cls, text_data):
        """Decode a text frame (None for a binary one); raise ``protocol.ProtocolError``."""
        return protocol.decode_frame(text_data)

    @classmethod
    async def encode_json(cls, content):
        """Encode an outgoing event as ``protocol.encode`` does."""
        return protocol.encode(content)


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

    async def receive_json(self, content, **kwargs):
        """Reply with an echo event."""
        await self.send_json(protocol.echo_event(protocol.read_message(content)))


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

    async def receive_json(self, content, **kwargs):
        """Send the message to every member of the room, this one included."""
        message = protocol.read_message(content)
        event = protocol.chat_event(message, protocol.display_name(self.scope))
        await self.channel_layer.group_send(self.room_group_name, event)

    async def chat_message(self, event):
        """Send a ``chat.message`` group event to this client unchanged."""
        await self.send_json(event)
