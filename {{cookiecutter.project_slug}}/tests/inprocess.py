"""Websockets in-process for the unit tests: Channels' WebsocketCommunicator.

The ``open_communicator`` fixture (conftest.py) connects through the real
``config.asgi:application``, so the origin check and login check run as in
production; these helpers speak the chat protocol over its connections.
"""

import json

from prometheus_client import REGISTRY

ORIGIN = "http://testserver"  # the Origin of a page served by Django's test server
TIMEOUT = 5  # seconds to wait for a frame; generous for a loaded machine
# Seconds a consumer gets to finish after its client left, at a test's end,
# before it is cancelled: a consumer that missed its first cancellation (Python
# 3.11 and Redis, README: "The channel layer") would otherwise hold every test
# that used it for Channels' default of 1 s.
DISCONNECT_TIMEOUT = 0.2


async def receive(communicator, skip: tuple[str, ...] = ("presence",)):
    """Return the next frame the consumer sent, decoded from JSON, past those of a ``skip`` type.

    Room members get a presence frame whenever someone joins or leaves; tests
    about something else skip them, tests about presence pass ``skip=()``.
    """
    while True:
        frame = json.loads(await communicator.receive_from(timeout=TIMEOUT))
        if frame.get("type") not in skip:
            return frame


async def send(communicator, message: str) -> None:
    """Send one chat message: ``{"message": message}``."""
    await communicator.send_to(text_data=json.dumps({"message": message}))


async def join(open_communicator, room_name: str, cookie: str | None, query: str = ""):
    """Connect to ``ws/chat/<room_name>/`` (``?<query>`` if given); return it and its history.

    A member's first frames are the history, then who is here; this asserts
    they are, and reads both.
    """
    path = f"/ws/chat/{room_name}/" + (f"?{query}" if query else "")
    communicator, accepted = await open_communicator(path, cookie=cookie)
    assert accepted
    history = await receive(communicator, skip=())
    assert history["type"] == "history", history
    assert (await receive(communicator, skip=()))["type"] == "presence"
    return communicator, history


def figure(name: str, **labels: str) -> float:
    """Return a metric sample's value in this process's registry (0 before it was first counted)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
