"""Websocket consumers (WebsocketConsumer). The wire protocol lives in protocol.py.

Who may connect is decided before a consumer runs, in the websocket stack of
config/asgi.py; these classes only speak the protocol. Sync consumers run in a
worker thread, where the ORM is called directly (Channels closes stale
database connections around each handler); channel-layer calls are
coroutines, so they go through ``async_to_sync`` (Channels docs, "Channel Layers").
"""

from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer

from . import limits, presence, protocol, rooms


class ProtocolConsumer(WebsocketConsumer):
    """Base consumer: a valid frame's text goes to ``receive_message``.

    A bad frame gets an error frame (``protocol.ProtocolError.event``) and the
    connection stays open, unless the error says to close it.
    """

    def receive(self, text_data=None, bytes_data=None):
        try:
            self.receive_message(protocol.parse_frame(text_data))
        except protocol.ProtocolError as error:
            self.send(text_data=protocol.encode(error.event()))
            if error.close_code:
                self.close(code=error.close_code)

    def receive_message(self, message):
        """Handle the chat text (a str) of one valid frame; subclasses implement it."""
        raise NotImplementedError


class EchoConsumer(ProtocolConsumer):
    """``ws/echo/``: replies to each message with ``{"type": "echo", "message": ...}``."""

    def receive_message(self, message):
        self.send(text_data=protocol.encode(protocol.echo_event(message)))


class ChatConsumer(presence.LeaveOnExitMixin, ProtocolConsumer):
    """``ws/chat/<room_name>/``: stores each message, then relays it to every member of the room.

    Joins the room's channel-layer group on connect, then sends the room's
    history (``?after=<id>``: what came after that id) and who is here
    (chat/presence.py); leaves both when it ends. Without a login the member
    goes by its ``?name=``. Each client's messages are rate-limited
    (chat/limits.py). A message is stored and delivered through
    ``rooms.post_message`` and reaches every member, the sender included,
    through ``chat_message``.
    """

    def connect(self):
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = protocol.group_name(self.room_name)
        self.limit = limits.MessageLimit()
        # Join before reading the history, so that a message stored meanwhile is
        # in the history, or delivered live, or both (chat_message skips it then).
        async_to_sync(self.channel_layer.group_add)(self.room_group_name, self.channel_name)
        self.accept()
        after, self.name, errors = protocol.read_join(self.scope)
        for error in errors:
            self.send(text_data=protocol.encode(error))
        messages, more = rooms.history(self.room_name, after)
        self.ids_in_history = {message["id"] for message in messages}
        self.send(text_data=protocol.encode(protocol.history_event(messages, more)))
        users = async_to_sync(presence.join)(self.room_name, self.name, self.channel_name)
        self.presence_sent = users
        self.send(text_data=protocol.encode(protocol.presence_event(users)))

    def disconnect(self, close_code):
        async_to_sync(self.channel_layer.group_discard)(self.room_group_name, self.channel_name)

    def receive_message(self, message):
        self.limit.check()
        rooms.post_message(self.room_name, message, self.scope.get("user"), self.name)

    def chat_message(self, event):
        """Send a ``chat.message`` group event to this client unchanged, unless it had it."""
        if event["id"] not in self.ids_in_history:
            self.send(text_data=protocol.encode(event))

    def chat_presence(self, event):
        """Send the room's list of names to this client, unless it is the one it has."""
        if event["users"] != self.presence_sent:
            self.presence_sent = event["users"]
            self.send(text_data=protocol.encode(protocol.presence_event(event["users"])))
