"""The chat wire protocol, shared by every consumer.

Client to server: one text frame holding a JSON object ``{"message": "<text>"}``.
Server to client, one JSON object per text frame:

- ``{"type": "echo", "message": ...}`` from ``ws/echo/``;
- ``{"type": "history", "messages": [...], "more": ...}``, first on joining a room:
  the stored ``chat.message`` objects of the room, oldest first (chat/rooms.py);
- ``{"type": "presence", "users": [...]}``, right after the history and again
  whenever the room's set of names changes (chat/presence.py);
- ``{"type": "chat.message", "id": ..., "message": ..., "user": ..., "timestamp": ...}``
  to every member of a room, the sender included, once the message is stored;
- ``{"type": "error", "code": ..., "detail": ...}`` for a frame that breaks the
  rules; the connection stays open, except for a client flooding a room
  (chat/limits.py), which is closed with 1008 after its error frame.

Consumers only call these functions, so the rules live and are tested here once.
"""

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

# A room name: 1 to ROOM_NAME_MAX_LENGTH of A-Z a-z 0-9 _ -, the one rule for the
# HTTP and websocket routes and the room picker (the hyphen is escaped because
# HTML's pattern attribute, with its "v" flag, requires it). The group name built
# from it stays within Channels' 100-character limit for group names.
ROOM_NAME_MAX_LENGTH = 64
ROOM_NAME_PATTERN = r"[A-Za-z0-9_\-]{1," + str(ROOM_NAME_MAX_LENGTH) + "}"
ROOM_NAME_RULE = f"1 to {ROOM_NAME_MAX_LENGTH} letters, digits, underscores or hyphens"

ANONYMOUS = "anonymous"

# A display name in "?name=" (projects without accounts), once trimmed.
NAME_PATTERN = re.compile(r"[\w .-]{1,32}")
NAME_RULE = "1 to 32 letters, digits, spaces, underscores, hyphens or dots"
# A message id in "?after=": digits only, within PostgreSQL's bigint (the id's column).
MESSAGE_ID_PATTERN = re.compile(r"[0-9]{1,19}")
MESSAGE_ID_MAX = 2**63 - 1


class ProtocolError(Exception):
    """A client frame that breaks the protocol.

    ``code`` is one of ``invalid_json``, ``invalid_message``, ``empty_message``,
    ``message_too_long``, ``binary_not_supported``, ``invalid_after``,
    ``invalid_name`` or ``rate_limited``; ``detail`` is a sentence for people.
    ``close_code``, when set, is the websocket close code to end the
    connection with after the error frame.
    """

    def __init__(self, code: str, detail: str, close_code: int | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.close_code = close_code

    def event(self) -> dict[str, str]:
        """Return the error frame's content: ``{"type": "error", "code": ..., "detail": ...}``."""
        return {"type": "error", "code": self.code, "detail": self.detail}


def decode_frame(text_data: str | bytes | None) -> Any:
    """Decode a text frame's JSON (or an HTTP body's, as bytes); return the decoded value.

    Raises ``ProtocolError`` with ``binary_not_supported`` when ``text_data``
    is None (the frame was binary) and ``invalid_json`` when it is not JSON
    (or bytes that are not UTF-8).
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
    object with a string "message", ``empty_message`` when that string is empty
    or only whitespace, and ``message_too_long`` when it has more than
    ``settings.CHAT_MAX_MESSAGE_LENGTH`` characters.
    """
    if not isinstance(content, dict) or not isinstance(content.get("message"), str):
        raise ProtocolError("invalid_message", 'Send a JSON object with a string "message".')
    message = content["message"]
    if not message.strip():
        raise ProtocolError("empty_message", "A message needs some text.")
    limit = settings.CHAT_MAX_MESSAGE_LENGTH
    if len(message) > limit:
        raise ProtocolError("message_too_long", f"A message may hold at most {limit} characters.")
    return message


def parse_frame(text_data: str | bytes | None) -> str:
    """Decode and validate one client frame; return its chat text (see ``read_message``)."""
    return read_message(decode_frame(text_data))


def query_values(query_string: bytes | str, key: str) -> list[str] | None:
    """Return every value ``key`` has in a query string (blank ones too), or None without it."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("utf-8", errors="replace")
    return parse_qs(query_string, keep_blank_values=True).get(key)


def read_after(query_string: bytes | str) -> int | None:
    """Return the ``after`` message id of a query string, or None when it has none.

    Raises ``ProtocolError`` with ``invalid_after`` unless its one value is a
    non-negative integer (digits only) that fits a message id.
    """
    values = query_values(query_string, "after")
    if values is None:
        return None
    if len(values) == 1 and MESSAGE_ID_PATTERN.fullmatch(values[0]):
        after = int(values[0])
        if after <= MESSAGE_ID_MAX:
            return after
    raise ProtocolError("invalid_after", '"after" must be a message id: a non-negative integer.')


def read_name(query_string: bytes | str) -> str | None:
    """Return the display name a query string's ``name`` asks for, trimmed; None without one.

    Raises ``ProtocolError`` with ``invalid_name`` unless it is ``NAME_RULE``.
    """
    values = query_values(query_string, "name")
    if values is None:
        return None
    if len(values) == 1 and NAME_PATTERN.fullmatch(values[0].strip()):
        return values[0].strip()
    raise ProtocolError("invalid_name", f"A name is {NAME_RULE}; you are {ANONYMOUS}.")


def encode(event: dict[str, Any]) -> str:
    """Serialize an outgoing event to the text of one frame."""
    return json.dumps(event, ensure_ascii=False)


def echo_event(message: str) -> dict[str, str]:
    """Return the reply to a message sent to ``ws/echo/``."""
    return {"type": "echo", "message": message}


def chat_event(message_id: int, message: str, user: str, timestamp: datetime) -> dict[str, Any]:
    """Return a stored message as the room's group message and client frame.

    Its "type" is "chat.message", so Channels dispatches it to each member
    consumer's ``chat_message`` method, which sends it to the client unchanged.
    ``timestamp`` (aware, UTC) goes out as ISO 8601 with milliseconds.
    """
    return {
        "type": "chat.message",
        "id": message_id,
        "message": message,
        "user": user,
        "timestamp": timestamp.isoformat(timespec="milliseconds"),
    }


def history_event(messages: list[dict[str, Any]], more: bool) -> dict[str, Any]:
    """Return the frame a member gets on joining: ``chat.message`` objects, oldest first.

    ``more`` is true when the room holds messages in the requested range that
    ``messages`` leaves out (chat/rooms.py, ``history``).
    """
    return {"type": "history", "messages": messages, "more": more}


def presence_event(users: list[str]) -> dict[str, Any]:
    """Return the frame listing who is in a room: sorted, distinct display names."""
    return {"type": "presence", "users": users}


def member_name(scope: dict[str, Any]) -> str:
    """Return the name a connection goes by: the logged-in username, else its ``?name=``.

    Without a login and a name it is "anonymous". Raises ``ProtocolError`` with
    ``invalid_name`` for a name that breaks ``NAME_RULE`` (the connection then
    goes by "anonymous"); with a login, ``?name=`` is ignored.
    """
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return user.get_username()
    return read_name(scope.get("query_string", b"")) or ANONYMOUS


def read_join(scope: dict[str, Any]) -> tuple[int | None, str, list[dict[str, str]]]:
    """Return what a room's handshake asks for: the ``after`` id, the member's name, and the
    error frames to send first.

    Each part that breaks the rules is dropped for its default, with its error
    frame: no ``after`` (``invalid_after``), "anonymous" (``invalid_name``).
    """
    errors = []
    try:
        after = read_after(scope.get("query_string", b""))
    except ProtocolError as error:
        errors.append(error.event())
        after = None
    try:
        name = member_name(scope)
    except ProtocolError as error:
        errors.append(error.event())
        name = ANONYMOUS
    return after, name, errors


def display_name(user) -> str:
    """Return the name shown for a sender: the logged-in username, else "anonymous".

    ``user`` is ``scope["user"]`` or ``request.user`` (a user or AnonymousUser),
    or None where the project has no accounts.
    """
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    return user.get_username()


def group_name(room_name: str) -> str:
    """Return the channel-layer group for a room (``room_name`` matches ``ROOM_NAME_PATTERN``)."""
    return f"chat_{room_name}"
