"""A bare ``websockets``-library server speaking the baked projects' wire protocol.

The benchmark's baseline, the practical limit for Python on this machine: the
same two jobs as a baked project, with nothing between the socket and the job.

- ``/ws/echo/``: each valid frame ``{"message": text}`` is answered with
  ``{"type": "echo", "message": text}``;
- ``/ws/chat/<room>/``: each valid frame goes to every member of the room, the
  sender included, as ``{"type": "chat.message", "message", "user", "timestamp"}``,
  with ``websockets.broadcast``;
- a bad frame gets ``{"type": "error", ...}``, as in chat/protocol.py.

Run: ``python bench/bare_server.py --port 8765``; it prints "listening" once bound.
"""

import argparse
import asyncio
import json
import re
import signal
from datetime import UTC, datetime

from websockets.asyncio.server import broadcast, serve

MAX_MESSAGE_LENGTH = 4096  # the baked projects' CHAT_MAX_MESSAGE_LENGTH
MAX_FRAME_BYTES = 1024 * 1024  # the baked projects' servers' limit
ROOM_PATH = re.compile(r"^/ws/chat/([A-Za-z0-9_\-]{1,64})/$")

rooms: dict[str, set] = {}


def error(code: str, detail: str) -> str:
    return json.dumps({"type": "error", "code": code, "detail": detail})


def read_message(frame) -> tuple[str | None, str | None]:
    """Return ``(message, None)`` for a valid frame, else ``(None, error frame)``."""
    if not isinstance(frame, str):
        return None, error("binary_not_supported", "Binary frames are not supported; send text.")
    try:
        content = json.loads(frame)
    except ValueError:
        return None, error("invalid_json", "The frame is not valid JSON.")
    if not isinstance(content, dict) or not isinstance(content.get("message"), str):
        return None, error("invalid_message", 'Send a JSON object with a string "message".')
    if len(content["message"]) > MAX_MESSAGE_LENGTH:
        return None, error("message_too_long", "The message is too long.")
    return content["message"], None


async def echo(websocket) -> None:
    async for frame in websocket:
        message, problem = read_message(frame)
        reply = problem or json.dumps({"type": "echo", "message": message}, ensure_ascii=False)
        await websocket.send(reply)


async def chat(websocket, room: str) -> None:
    members = rooms.setdefault(room, set())
    members.add(websocket)
    try:
        async for frame in websocket:
            message, problem = read_message(frame)
            if problem:
                await websocket.send(problem)
                continue
            event = {
                "type": "chat.message",
                "message": message,
                "user": "anonymous",
                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            }
            broadcast(members, json.dumps(event, ensure_ascii=False))
    finally:
        members.discard(websocket)
        if not members:
            rooms.pop(room, None)


async def handler(websocket) -> None:
    path = websocket.request.path
    if path == "/ws/echo/":
        await echo(websocket)
        return
    match = ROOM_PATH.match(path)
    if match:
        await chat(websocket, match.group(1))
        return
    await websocket.close(4004, "no such route")


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(handler, host, port, max_size=MAX_FRAME_BYTES):
        print("listening", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.host, arguments.port))
