"""Websocket consumers (WebsocketConsumer). The wire protocol lives in protocol.py.

Sync consumers run in a worker thread; channel-layer calls are coroutines, so
they go through ``async_to_sync`` (Channels docs, "Channel Layers").
"""

from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer

from . import protocol


class ProtocolConsumer(WebsocketConsumer):
    """Base consumer: decodes each frame with ``protocol.parse_frame``.

    A valid frame's text goes to ``receive_message``; a bad frame gets an
    error frame and the connection stays open.
    """

    def receive(self, text_data=None, bytes_data=None):
        """Parse one frame; answer a bad one with an error frame, the connection open."""
        try:
            message = protocol.parse_frame(text_data)
        except protocol.ProtocolError as error:
            self.send(text_data=protocol.encode(error.event()))
            return
        self.receive_message(message)

    def receive_message(self, message):
        """Handle the text of one valid frame; subclasses implement it."""
        raise NotImplementedError


class EchoConsumer(ProtocolConsumer):
    """``ws/echo/``: replies to each message with ``{"type": "echo", "message": ...}``."""

    def connect(self):
        """Accept the handshake{% if cookiecutter.use_auth %}; refuse anonymous users (HTTP 403){% endif %}."""
{%- if cookiecutter.use_auth %}
        if not self.scope["user"].is_authenticated:
            self.close()
            return
{%- endif %}
        self.accept()

    def receive_message(self, message):
        """Reply with an echo event."""
        self.send(text_data=protocol.encode(protocol.echo_event(message)))


class ChatConsumer(ProtocolConsumer):
    """``ws/chat/<room_name>/``: relays each message to every member of the room.

    Joins the room's channel-layer group on connect and leaves it on disconnect;
    a message goes out with ``group_send`` and reaches every member, the sender
    included, through ``chat_message``.
    """

    def connect(self):
        """Join the room's group and accept{% if cookiecutter.use_auth %}; refuse anonymous users (HTTP 403){% endif %}."""
        self.room_group_name = protocol.group_name(self.scope["url_route"]["kwargs"]["room_name"])
{%- if cookiecutter.use_auth %}
        if not self.scope["user"].is_authenticated:
            self.close()
            return
{%- endif %}
        async_to_sync(self.channel_layer.group_add)(self.room_group_name, self.channel_name)
        self.accept()

    def disconnect(self, close_code):
        """Leave the room's group."""
        async_to_sync(self.channel_layer.group_discard)(self.room_group_name, self.channel_name)

    def receive_message(self, message):
        """Send the message to every member of the room, this one included."""
        event = protocol.chat_event(message, protocol.display_name(self.scope))
        async_to_sync(self.channel_layer.group_send)(self.room_group_name, event)

    def chat_message(self, event):
        """Send a ``chat.message`` group event to this client unchanged."""
        self.send(text_data=protocol.encode(event))
