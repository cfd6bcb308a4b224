import re

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.management.base import BaseCommand, CommandError

from chat import protocol, rooms
from chat.models import Message


class Command(BaseCommand):
    help = (
        "Store a message in a room and deliver it to the room's members, as a websocket "
        "message would be; print its id."
    )

    def add_arguments(self, parser):
        parser.add_argument("room_name", help=f"the room: {protocol.ROOM_NAME_RULE}")
        parser.add_argument("text", help="the message")
        parser.add_argument(
            "--user", default="system", help='the author shown to members (default: "system")'
        )

    def handle(self, *args, room_name, text, user, **options):
        if not re.fullmatch(protocol.ROOM_NAME_PATTERN, room_name):
            raise CommandError(f"{room_name!r} is not a room name: use {protocol.ROOM_NAME_RULE}.")
        if not 0 < len(user) <= Message._meta.get_field("author").max_length:
            raise CommandError("--user must be 1 to 150 characters.")
        try:
            text = protocol.read_message({"message": text})
        except protocol.ProtocolError as error:
            raise CommandError(error.detail) from None
        event = rooms.post_message(room_name, text, author=user)
        self.stdout.write(str(event["id"]))
        if isinstance(get_channel_layer(), InMemoryChannelLayer):
            self.stderr.write(
                "Stored. The in-memory channel layer lives inside the server process, so "
                "members see the message in their next history; POST to the HTTP API "
                "to reach them now."
            )
