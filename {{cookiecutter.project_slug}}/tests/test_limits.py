"""Abuse limits (chat/limits.py): a client's chat messages over CHAT_RATE and CHAT_BURST."""

import json

import pytest

from chat import limits
from chat.models import Message

from .inprocess import join, receive, send

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    """A clock that moves only when told to (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch, settings):
    """Limits of 1 message per second in bursts of 2, on a clock the test moves."""
    settings.CHAT_RATE = 1
    settings.CHAT_BURST = 2
    clock = Clock()
    monkeypatch.setattr(limits, "monotonic", clock)
    return clock


def test_token_bucket_allows_a_burst_then_the_rate():
    clock = Clock()
    bucket = limits.TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert bucket.seconds_to_next() == 0.5
    clock.now += 0.5
    assert (bucket.take(), bucket.take()) == (True, False)
    clock.now += 60  # a long pause refills the burst, no more
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


async def test_a_message_over_the_limit_gets_an_error_and_is_neither_stored_nor_sent(
    open_communicator, room_name, alice, bob, clock
):
    sender, _ = await join(open_communicator, room_name, alice)
    other, _ = await join(open_communicator, room_name, bob)
    for text in ("one", "two", "three"):
        await send(sender, text)
    # The error comes straight back; the stored messages through the channel
    # layer, so it may overtake them.
    frames = [await receive(sender) for _ in range(3)]
    (error,) = [frame for frame in frames if frame["type"] == "error"]
    assert error["code"] == "rate_limited"
    assert [frame.get("message") for frame in frames if frame is not error] == ["one", "two"]
    assert "1 per second" in error["detail"]
    assert [(await receive(other))["message"] for _ in range(2)] == ["one", "two"]
    assert await other.receive_nothing(timeout=0.2)
    assert await Message.objects.filter(room=room_name).acount() == 2
    # The connection stays usable: once a token is back, a message goes through.
    clock.now += 1
    await send(sender, "four")
    assert (await receive(sender))["message"] == "four"
    assert (await receive(other))["message"] == "four"


async def test_a_client_that_goes_on_flooding_is_closed_with_1008(
    open_communicator, room_name, alice, clock
):
    sender, _ = await join(open_communicator, room_name, alice)
    for n in range(2):
        await send(sender, f"allowed {n}")
        assert (await receive(sender))["type"] == "chat.message"
    # Refused while limited, CHAT_BURST times, with the connection open...
    for n in range(2):
        await send(sender, f"refused {n}")
        assert (await receive(sender))["code"] == "rate_limited"
    # ...then once more: its error frame, and the close.
    await send(sender, "one too many")
    assert (await receive(sender))["code"] == "rate_limited"
    assert await sender.receive_output(timeout=5) == {"type": "websocket.close", "code": 1008}
    assert await Message.objects.filter(room=room_name).acount() == 2


def test_the_api_limits_posts_per_client_with_429_and_retry_after(page_client, clock):
    def post(text):
        body = json.dumps({"message": text})
        return page_client.post("/api/rooms/lobby/messages/", body, content_type="application/json")

    assert [post(f"m{n}").status_code for n in range(2)] == [201, 201]
    refused = post("m2")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert refused.json()["code"] == "rate_limited"
    assert Message.objects.filter(room="lobby").count() == 2
    clock.now += 1
    assert post("m3").status_code == 201
