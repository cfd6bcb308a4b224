"""Stored chat messages: what a member who joins a room is shown first (chat/rooms.py)."""

{% if cookiecutter.use_auth %}
from django.conf import settings
{% endif %}
from django.db import models

from . import protocol


class Message(models.Model):
    """One message said in a room, kept until ``manage.py prune_messages`` deletes it.

    Its id orders a room's messages: a later message has a larger id, which
    clients send back as ``?after=<id>`` to get what they missed.
    """

    room = models.CharField(max_length=protocol.ROOM_NAME_MAX_LENGTH)
    text = models.TextField()
    # The name shown, as it was when the message was sent.
    author = models.CharField(max_length=150)
{% if cookiecutter.use_auth %}
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
{% endif %}
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # A room's history: its newest messages, or those after an id.
            models.Index(fields=["room", "id"], name="chat_message_room_id"),
            # Retention: manage.py prune_messages deletes by age.
            models.Index(fields=["created"], name="chat_message_created"),
        ]

    def __str__(self):
        return f"{self.room} #{self.pk} {self.author}: {self.text[:50]}"

    def event(self) -> dict:
        """Return this message as a ``chat.message`` object (chat/protocol.py)."""
        return protocol.chat_event(self.pk, self.text, self.author, self.created)


class Presence(models.Model):
    """One open connection to a room, refreshed while it lives (chat/presence.py)."""

    channel_name = models.CharField(max_length=255, unique=True)
    room = models.CharField(max_length=protocol.ROOM_NAME_MAX_LENGTH)
    name = models.CharField(max_length=150)
    seen = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["room", "seen"], name="chat_presence_room_seen")]

    def __str__(self):
        return f"{self.name} in {self.room}"
