"""Bare websocket servers speaking the baked projects' wire protocol: the benchmark's baselines.

The same two jobs as a baked project, with nothing between the socket and the
job, on one of two libraries (``--library``):

- ``websockets``: the library the baked projects' own load tool and uvicorn's
  ``websockets-sansio`` build on, its asyncio server and ``websockets.broadcast``;
- ``picows``: a Cython websocket library on asyncio's transports and protocols,
  with no task or queue per connection: each frame is handled in the callback
  that parsed it. The fastest websocket server Python has, so the practical
  limit for Python on this machine.

Both speak the protocol of chat/protocol.py:

- ``/ws/echo/``: each valid frame ``{"message": text}`` is answered with
  ``{"type": "echo", "message": text}``;
- ``/ws/chat/<room>/``: each valid frame goes to every member of the room, the
  sender included, as ``{"type": "chat.message", "message", "user", "timestamp"}``;
- a bad frame gets ``{"type": "error", "code", "detail"}`` and the connection
  stays open; a text frame that is not UTF-8 closes it with 1007, a message
  over 1 MiB with 1009.

They store nothing and track no one: no history or presence frames on joining
a room and no ``"id"`` in a chat message, which the baked projects, which store
every message and list who is in a room, send. The load tool counts only
``chat.message`` frames, so it measures both alike.

Run: ``python bench/bare_server.py --port 8765 [--library picows]``;
it prints "listening" once bound and stops on SIGTERM.
"""

import argparse
import asyncio
import json
import re
import signal
from datetime import UTC, datetime

MAX_MESSAGE_LENGTH = 4096  # the baked projects' CHAT_MAX_MESSAGE_LENGTH
MAX_FRAME_BYTES = 1024 * 1024  # the baked projects' servers' limit
ROOM_PATH = re.compile(r"^/ws/chat/([A-Za-z0-9_\-]{1,64})/$")


def error(code: str, detail: str) -> str:
    return json.dumps({"type": "error", "code": code, "detail": detail})


BINARY_NOT_SUPPORTED = error("binary_not_supported", "Binary frames are not supported; send text.")


def read_message(frame: str) -> tuple[str | None, str | None]:
    """Return ``(message, None)`` for a valid text frame, else ``(None, error frame)``."""
    try:
        content = json.loads(frame)
    except ValueError:
        return None, error("invalid_json", "The frame is not valid JSON.")
    if not isinstance(content, dict) or not isinstance(content.get("message"), str):
        return None, error("invalid_message", 'Send a JSON object with a string "message".')
    if not content["message"].strip():
        return None, error("empty_message", "A message needs some text.")
    if len(content["message"]) > MAX_MESSAGE_LENGTH:
        detail = f"A message may hold at most {MAX_MESSAGE_LENGTH} characters."
        return None, error("message_too_long", detail)
    return content["message"], None


def echo_reply(message: str) -> str:
    return json.dumps({"type": "echo", "message": message}, ensure_ascii=False)


def chat_message(message: str) -> str:
    event = {
        "type": "chat.message",
        "message": message,
        "user": "anonymous",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    return json.dumps(event, ensure_ascii=False)


def room_of(path: str) -> str | None:
    """Return the room named by a ``/ws/chat/<room>/`` path, else None."""
    match = ROOM_PATH.match(path)
    return match.group(1) if match else None


async def serve_websockets(host: str, port: int, stop: asyncio.Future) -> None:
    """Serve with the ``websockets`` library (one task per connection) until ``stop``."""
    from websockets.asyncio.server import broadcast, serve

    rooms: dict[str, set] = {}

    async def echo(websocket) -> None:
        async for frame in websocket:
            if not isinstance(frame, str):
                await websocket.send(BINARY_NOT_SUPPORTED)
                continue
            message, problem = read_message(frame)
            await websocket.send(problem or echo_reply(message))

    async def chat(websocket, room: str) -> None:
        members = rooms.setdefault(room, set())
        members.add(websocket)
        try:
            async for frame in websocket:
                if not isinstance(frame, str):
                    await websocket.send(BINARY_NOT_SUPPORTED)
                    continue
                message, problem = read_message(frame)
                if problem:
                    await websocket.send(problem)
                    continue
                broadcast(members, chat_message(message))
        finally:
            members.discard(websocket)
            if not members:
                rooms.pop(room, None)

    async def handler(websocket) -> None:
        path = websocket.request.path
        if path == "/ws/echo/":
            await echo(websocket)
        elif room := room_of(path):
            await chat(websocket, room)
        else:
            await websocket.close(4004, "no such route")

    async with serve(handler, host, port, max_size=MAX_FRAME_BYTES):
        print("listening", flush=True)
        await stop


async def serve_picows(host: str, port: int, stop: asyncio.Future) -> None:
    """Serve with ``picows`` (a callback per frame, no task per connection) until ``stop``.

    picows hands over every frame as it is parsed, control frames and the
    pieces of a fragmented message included: this joins the pieces, answers a
    close frame, and leaves pings to picows's automatic pong.
    """
    from picows import WSCloseCode, WSListener, WSMsgType, ws_create_server

    rooms: dict[str, set] = {}

    class Connection(WSListener):
        """One websocket: ``room`` is its room's name, or None on the echo route."""

        def __init__(self, room: str | None) -> None:
            self.room = room
            self.members: set | None = None
            self.pieces: list[bytes] = []  # a fragmented message so far
            self.binary = False  # whether that message is binary

        def on_ws_connected(self, transport) -> None:
            if self.room is not None:
                self.members = rooms.setdefault(self.room, set())
                self.members.add(transport)

        def on_ws_disconnected(self, transport) -> None:
            if self.members is not None:
                self.members.discard(transport)
                if not self.members:
                    rooms.pop(self.room, None)

        def on_ws_frame(self, transport, frame) -> None:
            kind = frame.msg_type
            if kind is WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()
                return
            if kind not in (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION):
                return  # a pong
            if kind is not WSMsgType.CONTINUATION:
                self.binary = kind is WSMsgType.BINARY
                self.pieces.clear()
            if not frame.fin or self.pieces:
                self.pieces.append(frame.get_payload_as_bytes())
                if sum(map(len, self.pieces)) > MAX_FRAME_BYTES:
                    transport.send_close(WSCloseCode.MESSAGE_TOO_BIG)
                    transport.disconnect()
                    return
                if not frame.fin:
                    return
                payload = b"".join(self.pieces)
                self.pieces.clear()
            else:
                payload = frame.get_payload_as_bytes()
            if self.binary:
                transport.send(WSMsgType.TEXT, BINARY_NOT_SUPPORTED.encode())
                return
            try:
                text = payload.decode()
            except UnicodeDecodeError:
                transport.send_close(WSCloseCode.INVALID_TEXT)
                transport.disconnect()
                return
            message, problem = read_message(text)
            if problem:
                transport.send(WSMsgType.TEXT, problem.encode())
            elif self.members is None:
                transport.send(WSMsgType.TEXT, echo_reply(message).encode())
            else:
                data = chat_message(message).encode()
                for member in self.members:
                    member.send(WSMsgType.TEXT, data)

    def route(request):
        """Return the listener for the request's path; None answers 404."""
        path = request.path.decode("latin-1")
        if path == "/ws/echo/":
            return Connection(None)
        room = room_of(path)
        return Connection(room) if room else None

    server = await ws_create_server(route, host, port, max_frame_size=MAX_FRAME_BYTES)
    async with server:
        print("listening", flush=True)
        await stop


SERVERS = {"websockets": serve_websockets, "picows": serve_picows}


async def main(library: str, host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await SERVERS[library](host, port, stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", choices=sorted(SERVERS), default="websockets")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.library, arguments.host, arguments.port))
