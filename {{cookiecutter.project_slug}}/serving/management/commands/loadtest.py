"""``manage.py loadtest``: measure a running deployment's echo and room broadcast.

Point it at any server speaking this project's wire protocol, ``ws://`` or
``wss://``, local or deployed; with accounts, pass a logged-in session's Cookie
header. It exits 1 when a message is lost, so it can gate a deployment.

One Python process can open only so many round trips a second: against a fast
server the tool, not the server, sets the figures. ``--processes N`` splits the
clients and room members across N processes, which start together once every
connection is open; their figures are merged as one run's.
"""

import asyncio
import json
import multiprocessing
import queue
import sys
import time
import uuid
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

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


# Each workload runs as one or more shares, one per process. A share opens its
# connections, awaits ``start()`` (in several processes: until every process has
# opened its own), then works, calling ``advance()`` for each message that
# arrives. It returns when its first message went out and its last one came in,
# as time.perf_counter() values, which on Linux, macOS and Windows read one
# clock for every process of the machine, so shares' times compare.


async def echo_share(client: Client, numbers: range, messages: int, start, advance) -> dict:
    """The echo clients numbered ``numbers`` each do ``messages`` sequential round trips.

    Returns ``started``, ``finished`` and ``latencies``, in seconds, one for each
    reply that came back; a client stops at a reply that is missing or wrong.
    """
    latencies: list[float] = []
    sockets = []

    async def one_client(websocket, number: int) -> None:
        for sequence in range(messages):
            text = f"{number}:{sequence}"
            sent = time.perf_counter()
            await websocket.send(protocol.encode({"message": text}))
            try:
                async with asyncio.timeout(client.timeout):
                    reply = json.loads(await websocket.recv())
            except TimeoutError:
                return
            if reply.get("message") != text:
                return
            latencies.append(time.perf_counter() - sent)
            advance()

    try:
        for _ in numbers:
            sockets.append(await client.open("/ws/echo/"))
        await start()
        started = time.perf_counter()
        await asyncio.gather(*map(one_client, sockets, numbers))
        finished = time.perf_counter()
    finally:
        await asyncio.gather(*(websocket.close() for websocket in sockets))
    return {"started": started, "finished": finished, "latencies": latencies}


async def broadcast_share(
    client: Client, room: str, numbers: range, senders: int, messages: int, start, advance
) -> dict:
    """The room members numbered ``numbers`` join ``room``; those below ``senders`` send.

    Each sender sends ``messages`` messages at once; every member, in any
    process, must receive each of them, live (``chat.message``) or, for a member
    still joining when they were sent, in its history frame; other frames are
    skipped. Returns ``started``,
    ``finished`` (the last receipt) and ``delivered``, the receipts of distinct
    messages.
    """
    expected = {f"{sender}:{n}" for sender in range(senders) for n in range(messages)}
    sockets = []
    delivered = 0
    finished = None

    async def receive_all(websocket) -> None:
        nonlocal delivered, finished
        seen = set()
        while len(seen) < len(expected):
            try:
                async with asyncio.timeout(client.timeout):
                    frame = await websocket.recv()
            except TimeoutError:
                return
            event = json.loads(frame)
            # A member whose history was read after the first sends gets those
            # messages in its history frame rather than live: they count too.
            if event.get("type") == "history":
                received = event.get("messages", [])
            else:
                received = [event] if event.get("type") == "chat.message" else []
            for message in received:
                text = message.get("message")
                if text in expected and text not in seen:
                    seen.add(text)
                    delivered += 1
                    finished = time.perf_counter()
                    advance()

    async def send_all(websocket, sender: int) -> None:
        for n in range(messages):
            await websocket.send(protocol.encode({"message": f"{sender}:{n}"}))

    try:
        for _ in numbers:
            sockets.append(await client.open(f"/ws/chat/{room}/"))
        await start()
        receivers = [asyncio.create_task(receive_all(websocket)) for websocket in sockets]
        started = time.perf_counter()
        mine = zip(numbers, sockets, strict=True)
        await asyncio.gather(*(send_all(websocket, n) for n, websocket in mine if n < senders))
        await asyncio.gather(*receivers)
    finally:
        await asyncio.gather(*(websocket.close() for websocket in sockets))
    return {"started": started, "finished": finished or started, "delivered": delivered}


async def no_wait() -> None:
    """``start()`` for a share that runs alone."""


def run_in_process(share, arguments: dict, barrier, counter, results) -> None:
    """Run one share in a process of its own; put its figures, or its error, on ``results``.

    ``barrier`` holds every share until all have opened their connections;
    ``counter`` counts arrived messages for the progress bar of the parent.
    """

    async def start() -> None:
        await asyncio.to_thread(barrier.wait)

    def advance() -> None:
        with counter.get_lock():
            counter.value += 1

    try:
        results.put(asyncio.run(share(**arguments, start=start, advance=advance)))
    except BaseException as error:
        barrier.abort()  # the other shares stop waiting for this one
        results.put({"error": f"{type(error).__name__}: {error}", "os": isinstance(error, OSError)})


def run_shares(share, shares: list[dict], progress: Progress, task) -> list[dict]:
    """Run ``share`` once with each of ``shares`` (its arguments); return their figures.

    A lone share runs in this process, several in a spawned process each,
    their figures in order of completion. Raises OSError when a share could
    not reach the server and CommandError when one failed otherwise.
    """
    if len(shares) == 1:
        only = shares[0]
        return [asyncio.run(share(**only, start=no_wait, advance=lambda: progress.advance(task)))]
    # spawn: a fresh interpreter, never a fork of this one and its progress thread.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(shares))
    counter = context.Value("q", 0)
    results = context.Queue()
    processes = [
        context.Process(target=run_in_process, args=(share, arguments, barrier, counter, results))
        for arguments in shares
    ]
    for process in processes:
        process.start()
    collected = []
    try:
        while len(collected) < len(shares):
            try:
                collected.append(results.get(timeout=0.2))
            except queue.Empty:
                if not any(process.is_alive() for process in processes) and results.empty():
                    raise CommandError("a load process died without its figures") from None
            progress.update(task, completed=counter.value)
    finally:
        for process in processes:
            process.join(CLOSE_TIMEOUT)
            if process.is_alive():
                process.kill()
    # The first failure is the cause; the others stopped at the barrier it broke.
    failures = sorted(
        (figures for figures in collected if "error" in figures),
        key=lambda failure: failure["error"].startswith("BrokenBarrierError"),
    )
    if failures and failures[0]["os"]:
        raise OSError(failures[0]["error"])
    if failures:
        raise CommandError(f"a load process failed: {failures[0]['error']}")
    return collected


def echo(client: Client, clients: int, messages: int, processes: int, progress: Progress) -> dict:
    """``clients`` connections each do ``messages`` sequential round trips on ``ws/echo/``.

    Returns messages/s from the first message sent to the last reply, in any
    process, and the p50 and p99 round-trip latency in milliseconds over
    every reply. Raises Loss when a reply does not come back.
    """
    task = progress.add_task("echo", total=clients * messages)
    processes = min(processes, clients)
    shares = [
        {"client": client, "numbers": range(p, clients, processes), "messages": messages}
        for p in range(processes)
    ]
    figures = run_shares(echo_share, shares, progress, task)
    latencies = [latency for share in figures for latency in share["latencies"]]
    if len(latencies) < clients * messages:
        raise Loss(clients * messages, len(latencies))
    elapsed = max(s["finished"] for s in figures) - min(s["started"] for s in figures)
    return {
        "messages_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


def broadcast(
    client: Client, members: int, senders: int, messages: int, processes: int, progress: Progress
) -> dict:
    """``members`` join one new room; ``senders`` of them send ``messages`` each, all at once.

    Every member, in whichever process, must receive every message. Returns
    deliveries/s (member receipts from the first send to the last receipt in
    any process) and the delivered and sent counts. Raises Loss when a member
    misses a message.
    """
    room = f"loadtest-{uuid.uuid4().hex[:12]}"
    sent = members * senders * messages
    task = progress.add_task("broadcast", total=sent)
    processes = min(processes, members)
    shares = [
        {
            "client": client,
            "room": room,
            "numbers": range(p, members, processes),
            "senders": senders,
            "messages": messages,
        }
        for p in range(processes)
    ]
    figures = run_shares(broadcast_share, shares, progress, task)
    delivered = sum(share["delivered"] for share in figures)
    if delivered < sent:
        raise Loss(sent, delivered)
    elapsed = max(s["finished"] for s in figures) - min(s["started"] for s in figures)
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
            "--processes",
            type=int,
            default=1,
            metavar="N",
            help="split the clients and members across N processes (one process caps the load)",
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
        check_handshake(client, options["url"])
        if options["idle"]:
            asyncio.run(hold_idle(client, options["idle"], options["hold"], sys.stdout))
            return
        if options["processes"] < 1:
            raise CommandError("--processes must be at least 1")
        console = Console(stderr=True)
        results = {}
        try:
            with Progress(console=console, transient=True) as progress:
                if options["only"] in (None, "echo"):
                    results["echo"] = echo(
                        client,
                        options["echo_clients"],
                        options["echo_messages"],
                        options["processes"],
                        progress,
                    )
                if options["only"] in (None, "broadcast"):
                    results["broadcast"] = broadcast(
                        client,
                        options["members"],
                        options["senders"],
                        options["messages"],
                        options["processes"],
                        progress,
                    )
        except Loss as loss:
            raise CommandError(f"{loss}: the server lost messages") from None
        except OSError as error:
            raise CommandError(f"cannot reach {options['url']}: {error}") from None
        if options["json"]:
            self.stdout.write(json.dumps(results))
        else:
            Console().print(summary_table(results))


def check_handshake(client: Client, url: str) -> None:
    """Open and close one connection to ``ws/echo/`` before any workload.

    Raises CommandError, in one line, when the server refuses the handshake
    (with accounts: no ``--cookie``; or an Origin it does not allow) or cannot
    be reached, rather than a traceback from deep inside a workload.
    """

    async def probe() -> None:
        async with client.open("/ws/echo/"):
            pass

    try:
        asyncio.run(probe())
    except InvalidStatus as error:
        status = error.response.status_code
        raise CommandError(
            f"{url} refused the handshake (HTTP {status}): with accounts, pass --cookie with "
            "a logged-in session's Cookie header; else check --origin"
        ) from None
    except OSError as error:
        raise CommandError(f"cannot reach {url}: {error}") from None


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
