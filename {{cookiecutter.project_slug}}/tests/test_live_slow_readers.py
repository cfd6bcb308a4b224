"""A member that stops reading in a busy room: dropped, at a bounded cost to the server.

Run with ``pytest -m live``. serving/slow_clients.py says how each server writes
and what bounds a slow client.
"""

import asyncio

import pytest

from .live import (
    SEND_QUEUE_BYTES,
    TIMEOUT,
    history,
    open_socket,
    open_stalled_socket,
    read_until_closed,
    receive,
    rss_kib,
    send,
)

pytestmark = pytest.mark.live

BURST = 1000  # messages of MESSAGE_BYTES each, ~1.1 MiB as frames
MESSAGE_BYTES = 1024
IN_FLIGHT = 100  # messages the sender may be ahead of the slowest member
STALLED = 20  # members that never read
# What a dropped member may have been sent: the server's kernel buffer for it
# (~200 KiB, see open_stalled_socket), the server's own buffer (64 KiB at most)
# and SEND_QUEUE_BYTES, with room to spare; a third of the burst.
DROPPED_AFTER_BYTES = 384 * 1024
# How much the server's processes may grow during the burst. A dropped member
# costs SEND_QUEUE_BYTES and the server's 64 KiB buffer at most, 2.5 MiB for
# STALLED of them; serving the burst itself grew granian's workers by up to
# 5 MiB. With nobody dropped, the 20 members' messages pile up in the server
# (its own buffers, or the queue) or in the in-memory channel layer: 20 MiB.
RSS_GROWTH_KIB = 12 * 1024


async def test_members_that_stop_reading_are_dropped_and_the_others_receive_everything(
    asgi_server, room_name, live_alice, live_bob
):
    """Three members read a burst of BURST 1 KiB messages while STALLED others never read.

    Each stalled member is dropped (the server logs it) after being sent less
    than DROPPED_AFTER_BYTES, the server's memory grows by less than
    RSS_GROWTH_KIB, and the three readers receive every message in order.
    Without serving.slow_clients the stalled members were sent the whole burst
    (1.1 MiB each, once they read) under every server, the server that buffers
    without limit grew by 16 MiB, and one whose send waits on a full socket
    stalled the readers with sync consumers (no burst in 120 s); the
    README's "Abuse limits" says what this project's server does.
    """
    path = f"/ws/chat/{room_name}/"
    members = [await open_socket(asgi_server, path, live_alice) for _ in range(3)]
    for member in members:
        await history(member)
    stalled = [
        await asyncio.to_thread(open_stalled_socket, asgi_server, path, live_bob)
        for _ in range(STALLED)
    ]
    log_offset = asgi_server.log.stat().st_size
    try:
        before = rss_kib(asgi_server.process.pid)
        peak = before
        received = [0] * len(members)

        async def receive_all(index):
            messages = []
            while len(messages) < BURST:
                messages.append((await receive(members[index]))["message"])
                received[index] = len(messages)
            return messages

        receivers = [asyncio.create_task(receive_all(index)) for index in range(len(members))]
        padding = "x" * MESSAGE_BYTES
        for n in range(BURST):
            while n - min(received) > IN_FLIGHT:
                await asyncio.wait(receivers, timeout=0.01)
                peak = max(peak, rss_kib(asgi_server.process.pid))
            await send(members[0], f"{n}:{padding}"[:MESSAGE_BYTES])
        results = await asyncio.wait_for(asyncio.gather(*receivers), TIMEOUT)
        peak = max(peak, rss_kib(asgi_server.process.pid))
        sent_to_stalled = [await asyncio.to_thread(read_until_closed, sock) for sock in stalled]
    finally:
        for sock in stalled:
            sock.close()
        await asyncio.gather(*(member.close() for member in members))
    expected = [f"{n}:{padding}"[:MESSAGE_BYTES] for n in range(BURST)]
    for result in results:
        assert result == expected
    print(
        f"\n{STALLED} stalled members: at most {max(sent_to_stalled) / 1024:.0f} KiB sent to one"
        f" before its drop; server RSS {before / 1024:.1f} MiB,"
        f" peak +{(peak - before) / 1024:.2f} MiB"
    )
    assert max(sent_to_stalled) < DROPPED_AFTER_BYTES
    assert peak - before < RSS_GROWTH_KIB
    log = asgi_server.log.read_bytes()[log_offset:].decode(errors="replace")
    assert log.count(f"fell over {SEND_QUEUE_BYTES} bytes behind: dropped") == STALLED
