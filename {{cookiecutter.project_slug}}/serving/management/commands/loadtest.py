"""``manage.py loadtest``: measure a running deployment's echo and room broadcast.

Point it at any server speaking this project's wire protocol, ``ws://`` or
``wss://``, local or deployed; with accounts, pass a logged-in session's Cookie
header. It exits 1 when a message is lost, so it can gate a deployment.
"""

import asyncio
import json
import sys
import time
import uuid
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from websockets.asyncio.client import connect

from chat import protocol

OPEN_TIMEOUT = 30  # seconds a handshake may take under load
# Seconds to wait for the server's answer to a close frame once the figures are
# taken (websockets waits 10 s): a server still busy with a backlog answers late.
CLOSE_TIMEOUT = 2


class Loss(Exception):
    """Messages that did not arrive: ``expected`` and ``received`` counts."""

    def __init__(self, expected: int, received: int) -> None:
        super().__init__(f"{expected - received} of {expected} messages lost")
        self.expected = expected
        self.received = received


def origin_of(url: str) -> str:
    """Return the Origin a page served by ``url``'s host would send (ws→http, wss→https)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise CommandError(f"{url!r} is not a ws:// or wss:// URL")
    return f"{scheme}://{parts.netloc}"


def percentile(values: list[float], fraction: float) -> float:
    """Return the ``fraction`` (0..1) percentile of ``values``, nearest-rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Client:
    """Opens websockets to one server as a browser on its pages would."""

    def __init__(self, url: str, cookie: str | None, origin: str | None, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.origin = origin or origin_of(url)
        self.headers = {"Cookie": cookie} if cookie else None
        self.timeout = timeout  # seconds without a frame before a message counts as lost

    def open(self, path: str):
        """Return a ``websockets`` connect() for ``path`` (starting with "/")."""
        return connect(
            self.url + path,
            origin=self.origin,
            additional_headers=self.headers,
            open_timeout=OPEN_TIMEOUT,
            close_timeout=CLOSE_TIMEOUT,
            max_queue=None,  # never pause reading: a slow reader must not look like a lost message
        )


async def echo(client: Client, clients: int, messages: int, progress: Progress) -> dict:
    """``clients`` connections each do ``messages`` sequential round trips on ``ws/echo/``.

    Returns messages/s over the whole run and the p50 and p99 round-trip
    latency in milliseconds. Raises Loss when a reply does not come back.
    """
    task = progress.add_task("echo", total=clients * messages)
    latencies: list[float] = []

    async def one_client(number: int) -> None:
        async with client.open("/ws/echo/") as websocket:
            for sequence in range(messages):
                text = f"{number}:{sequence}"
                started = time.perf_counter()
                await websocket.send(protocol.encode({"message": text}))
                try:
                    reply = json.loads(await asyncio.wait_for(websocket.recv(), client.timeout))
                except TimeoutError:
                    raise Loss(clients * messages, len(latencies)) from None
                if reply.get("message") != text:
                    raise Loss(clients * messages, len(latencies))
                latencies.append(time.perf_counter() - started)
                progress.advance(task)

    started = time.perf_counter()
    await asyncio.gather(*(one_client(number) for number in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "messages_per_s": clients * messages / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


async def broadcast(
    client: Client, members: int, senders: int, messages: int, progress: Progress
) -> dict:
    """``members`` join one new room; ``senders`` of them send ``messages`` each, all at once.

    Every member must receive every message. Returns deliveries/s (member
    receipts over the time from the first send to the last receipt) and the
    delivered and sent counts. Raises Loss when a member misses a message.
    """
    room = f"loadtest-{uuid.uuid4().hex[:12]}"
    expected = {f"{sender}:{n}" for sender in range(senders) for n in range(messages)}
    task = progress.add_task("broadcast", total=members * len(expected))
    sockets = [await client.open(f"/ws/chat/{room}/") for _ in range(members)]
    delivered = 0

    async def receive_all(websocket) -> None:
        nonlocal delivered
        seen = set()
        while len(seen) < len(expected):
            try:
                frame = await asyncio.wait_for(websocket.recv(), client.timeout)
            except TimeoutError:
                return
            event = json.loads(frame)
            if event.get("type") != "chat.message":
                continue  # the history frame a member gets first
            seen.add(event["message"])
            delivered += 1
            progress.advance(task)

    async def send_all(websocket, sender: int) -> None:
        for n in range(messages):
            await websocket.send(protocol.encode({"message": f"{sender}:{n}"}))

    try:
        receivers = [asyncio.create_task(receive_all(websocket)) for websocket in sockets]
        started = time.perf_counter()
        await asyncio.gather(*(send_all(sockets[s], s) for s in range(senders)))
        await asyncio.gather(*receivers)
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*(websocket.close() for websocket in sockets))
    sent = members * len(expected)
    if delivered < sent:
        raise Loss(sent, delivered)
    return {"deliveries_per_s": delivered / elapsed, "delivered": delivered, "sent": sent}


async def hold_idle(client: Client, connections: int, seconds: float, out) -> None:
    """Open ``connections`` idle websockets to ``ws/echo/``, say so, hold them ``seconds``.

    Prints "ready <n>" once all are open, so a caller can measure the
    server's memory while they are open.
    """
    sockets = []
    try:
        for _ in range(connections):
            sockets.append(await client.open("/ws/echo/"))
        out.write(f"ready {len(sockets)}\n")
        out.flush()
        await asyncio.sleep(seconds)
    finally:
        await asyncio.gather(*(websocket.close() for websocket in sockets))


class Command(BaseCommand):
    help = (
        "Load a running server: echo round trips and a room broadcast; exit 1 when a "
        "message is lost."
    )

    def add_arguments(self, parser):
        parser.add_argument("url", help="the server's base URL: ws://host:port or wss://host")
        parser.add_argument("--cookie", help="Cookie header of a logged-in session (accounts)")
        parser.add_argument("--origin", help="Origin header (default: the URL's host)")
        parser.add_argument("--echo-clients", type=int, default=50)
        parser.add_argument("--echo-messages", type=int, default=200)
        parser.add_argument("--members", type=int, default=50, help="broadcast: room members")
        parser.add_argument("--senders", type=int, default=5, help="broadcast: members sending")
        parser.add_argument(
            "--messages", type=int, default=40, help="broadcast: messages per sender"
        )
        parser.add_argument(
            "--only", choices=["echo", "broadcast"], help="run one workload, not both"
        )
        parser.add_argument(
            "--idle",
            type=int,
            metavar="N",
            help="instead: hold N idle connections open (prints 'ready N'), for memory figures",
        )
        parser.add_argument("--hold", type=float, default=30, help="seconds to hold --idle")
        parser.add_argument(
            "--timeout",
            type=float,
            default=30,
            help="seconds without a frame before the missing messages count as lost",
        )
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")

    def handle(self, *args, **options):
        client = Client(options["url"], options["cookie"], options["origin"], options["timeout"])
        if options["idle"]:
            asyncio.run(hold_idle(client, options["idle"], options["hold"], sys.stdout))
            return
        console = Console(stderr=True)
        results = {}
        try:
            with Progress(console=console, transient=True) as progress:
                if options["only"] in (None, "echo"):
                    results["echo"] = asyncio.run(
                        echo(client, options["echo_clients"], options["echo_messages"], progress)
                    )
                if options["only"] in (None, "broadcast"):
                    results["broadcast"] = asyncio.run(
                        broadcast(
                            client,
                            options["members"],
                            options["senders"],
                            options["messages"],
                            progress,
                        )
                    )
        except Loss as loss:
            raise CommandError(f"{loss}: the server lost messages") from None
        except OSError as error:
            raise CommandError(f"cannot reach {options['url']}: {error}") from None
        if options["json"]:
            self.stdout.write(json.dumps(results))
        else:
            Console().print(summary_table(results))


def summary_table(results: dict) -> Table:
    """Return a rich Table of the figures in ``results`` (as ``handle`` gathers them)."""
    table = Table(title="Load test")
    table.add_column("workload")
    table.add_column("figure")
    table.add_column("value", justify="right")
    if "echo" in results:
        echo_figures = results["echo"]
        table.add_row("echo", "messages/s", f"{echo_figures['messages_per_s']:,.0f}")
        table.add_row("echo", "p50 latency", f"{echo_figures['p50_ms']:.1f} ms")
        table.add_row("echo", "p99 latency", f"{echo_figures['p99_ms']:.1f} ms")
    if "broadcast" in results:
        figures = results["broadcast"]
        table.add_row("broadcast", "deliveries/s", f"{figures['deliveries_per_s']:,.0f}")
        delivered = f"{figures['delivered']} / {figures['sent']}"
        table.add_row("broadcast", "delivered / sent", delivered)
    return table
