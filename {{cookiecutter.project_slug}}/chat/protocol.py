"""The chat wire protocol, shared by every consumer.

Client to server: one text frame holding a JSON object ``{"message": "<text>"}``.
Server to client, one JSON object per text frame:

- ``{"type": "echo", "message": ...}`` from ``ws/echo/``;
- ``{"type": "chat.message", "message": ..., "user": ..., "timestamp": ...}`` to
  every member of a room, the sender included;
- ``{"type": "error", "code": ..., "detail": ...}`` for a frame that breaks the
  rules; the connection stays open.

Consumers only call these functions, so the rules live and are tested here once.
"""

import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

# A room name: 1 to ROOM_NAME_MAX_LENGTH of A-Z a-z 0-9 _ -, the one rule for the
# HTTP and websocket routes and the room picker (the hyphen is escaped because
# HTML's pattern attribute, with its "v" flag, requires it). The group name built
# from it stays within Channels' 100-character limit for group names.
ROOM_NAME_MAX_LENGTH = 64
ROOM_NAME_PATTERN = r"[A-Za-z0-9_\-]{1," + str(ROOM_NAME_MAX_LENGTH) + "}"
ROOM_NAME_RULE = f"1 to {ROOM_NAME_MAX_LENGTH} letters, digits, underscores or hyphens"

ANONYMOUS = "anonymous"


class ProtocolError(Exception):
    """A client frame that breaks the protocol.

    ``code`` is one of ``invalid_json``, ``invalid_message``, ``message_too_long``
    or ``binary_not_supported``; ``detail`` is a sentence for people.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    def event(self) -> dict[str, str]:
        """Return the error frame's content: ``{"type": "error", "code": ..., "detail": ...}``."""
        return {"type": "error", "code": self.code, "detail": self.detail}


def decode_frame(text_data: str | None) -> Any:
    """Decode a text frame's JSON; return the decoded value, of any JSON type.

    Raises ``ProtocolError`` with ``binary_not_supported`` when ``text_data``
    is None (the frame was binary) and ``invalid_json`` when it is not JSON.
    """
    if text_data is None:
        raise ProtocolError("binary_not_supported", "Binary frames are not supported; send text.")
    try:
        return json.loads(text_data)
    except ValueError:
        raise ProtocolError("invalid_json", "The frame is not valid JSON.") from None


def read_message(content: Any) -> str:
    """Return the chat text from a decoded client frame.

    Raises ``ProtocolError`` with ``invalid_message`` unless ``content`` is an
    object with a string "message", and ``message_too_long`` when that string
    has more than ``settings.CHAT_MAX_MESSAGE_LENGTH`` characters.
    """
    if not isinstance(content, dict) or not isinstance(content.get("message"), str):
        raise ProtocolError("invalid_message", 'Send a JSON object with a string "message".')
    message = content["message"]
    limit = settings.CHAT_MAX_MESSAGE_LENGTH
    if len(message) > limit:
        raise ProtocolError("message_too_long", f"A message may hold at most {limit} characters.")
    return message


def parse_frame(text_data: str | None) -> str:
    """Decode and validate one client frame; return its chat text (see ``read_message``)."""
    return read_message(decode_frame(text_data))


def encode(event: dict[str, Any]) -> str:
    """Serialize an outgoing event to the text of one frame."""
    return json.dumps(event, ensure_ascii=False)


def echo_event(message: str) -> dict[str, str]:
    """Return the reply to a message sent to ``ws/echo/``."""
    return {"type": "echo", "message": message}


def chat_event(message: str, user: str) -> dict[str, str]:
    """Return the group message for a room, with an ISO 8601 UTC timestamp.

    Its "type" is "chat.message", so Channels dispatches it to each member
    consumer's ``chat_message`` method, which sends it to the client unchanged.
    """
    timestamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    return {"type": "chat.message", "message": message, "user": user, "timestamp": timestamp}


def display_name(scope: dict[str, Any]) -> str:
    """Return the name shown for a connection: the logged-in username, else "anonymous"."""
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    return user.get_username()


def group_name(room_name: str) -> str:
    """Return the channel-layer group for a room (``room_name`` matches ``ROOM_NAME_PATTERN``)."""
    return f"chat_{room_name}"
