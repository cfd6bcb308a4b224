"""Real processes for the live and browser tests, and a websocket client for them.

Nothing here is a fake: the server is the production one (``manage.py serve``)
in its own process, and clients talk to it over real sockets with the
``websockets`` library.
"""

import asyncio
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from . import server

PROJECT_DIR = Path(__file__).resolve().parent.parent
TIMEOUT = 20  # seconds to wait for one frame, or for a handshake, on a loaded machine
START_TIMEOUT = 30  # seconds a server may take to say it listens
STOP_TIMEOUT = 30  # seconds a server may take to exit after SIGTERM
# Live servers give consumers 3 s to finish at shutdown (SERVER_SHUTDOWN_TIMEOUT):
# tests that stop a server then wait that long at most, not production's 10 s.
SHUTDOWN_TIMEOUT = 3
# Live servers ping every second (SERVER_PING_*), so the idle test outlasts many
# ping rounds in a few seconds; a peer gets 10 s to answer, as a loaded machine
# may be slow to (a burst of 10,000 deliveries keeps both ends busy).
PING_INTERVAL = 1
PING_TIMEOUT = 10
# Live servers drop a connection whose process stopped refreshing it from the
# room's list after 3 s (CHAT_PRESENCE_TIMEOUT), refreshing every second.
PRESENCE_TIMEOUT = 3
# The bearer token live servers answer /metrics with.
METRICS_TOKEN = "live-tests-metrics-token"
# Live servers drop a websocket client once this many bytes wait for it beyond
# what the server and the kernel buffer (SERVER_SEND_QUEUE_BYTES), so the slow
# reader test needs a burst of hundreds of kilobytes, not megabytes.
SEND_QUEUE_BYTES = 64 * 1024
# What a server must never log: the ORM called from async code, SQLite's
# writers failing each other, or a lost connection to the database.
DATABASE_ERRORS = re.compile(
    r"SynchronousOnlyOperation|database is locked|OperationalError|InterfaceError|PoolTimeout"
)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A server subprocess on a fixed loopback port, with its output in a log file.

    Subclasses say when it is ready (``is_ready``).
    """

    def __init__(self, args: list[str], port: int, log: Path, env=None) -> None:
        self.args = args
        self.port = port
        self.log = log
        self.env = env
        self.process: subprocess.Popen | None = None

    def is_ready(self, log_offset: int) -> bool:
        """True once the server accepts connections; its log for this start begins at the offset."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the process and wait until it is ready.

        Raises RuntimeError, with the end of its log, if it exits or is not
        ready within START_TIMEOUT seconds; no process is left behind then.
        """
        self.log.touch()
        offset = self.log.stat().st_size
        with self.log.open("a") as log:
            # A session of its own, so that kill() reaches the workers a server forks.
            self.process = subprocess.Popen(
                self.args,
                cwd=PROJECT_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.is_ready(offset):
                return
            time.sleep(0.1)
        self.kill()
        tail = self.log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(self.args)} did not get ready:\n{tail}")

    def stop(self) -> None:
        """Send SIGTERM to the main process, as a service manager would, and wait for it.

        Raises RuntimeError, after killing every process of the server, if it
        has not exited STOP_TIMEOUT seconds later.
        """
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"{self.args[0]} ignored SIGTERM for {STOP_TIMEOUT} s") from None

    def kill(self) -> None:
        """Kill the process and every process it started (its session), and reap it."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def __enter__(self):
        """Start the process (see ``start``)."""
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        """Kill it: a graceful stop is what the shutdown test checks, not every teardown.

        On Python 3.11 a consumer whose Redis receive was cancelled in the
        instant after its client left can miss the cancel; a SIGTERM then
        waits out SHUTDOWN_TIMEOUT (README: "The channel layer").
        """
        self.kill()


class AsgiServer(Process):
    """The production server, ``manage.py serve`` (config/server.py), on a free loopback port.

    Ready once every server process has logged ``server.STARTED_LOG`` (a server
    with several workers says it listens before its workers have loaded the
    application) and it serves a static file over HTTP.
    """

    def __init__(self, env: dict, log: Path) -> None:
        port = free_port()
        args = [sys.executable, "manage.py", "serve", "--bind", "127.0.0.1", "--port", str(port)]
        super().__init__(args, port, log, env)

    def is_ready(self, log_offset: int) -> bool:
        with self.log.open("rb") as log:
            log.seek(log_offset)
            if log.read().count(server.STARTED_LOG.encode()) < server.processes():
                return False
        try:
            with urllib.request.urlopen(f"{self.origin}/static/chat/chat.css", timeout=1):
                return True
        except OSError:
            return False

    @property
    def origin(self) -> str:
        """The Origin a browser on this server's pages sends: ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str) -> str:
        """Return the ``ws://`` URL of ``path`` (which starts with "/") on this server."""
        return f"ws://127.0.0.1:{self.port}{path}"


def open_socket(
    server: AsgiServer, path: str, cookie: str | None = None, origin=None, client=connect
):
    """Return a websockets ``connect()`` for ``path`` on ``server``.

    It sends the Origin a browser on the server's pages would (or ``origin``)
    and, when given, ``cookie`` as the Cookie header (a logged-in session).
    ``client`` may be websockets' threading client (``websockets.sync.client.connect``)
    instead of its asyncio one.
    """
    headers = {"Cookie": cookie} if cookie else None
    return client(
        server.ws_url(path),
        origin=origin or server.origin,
        additional_headers=headers,
        open_timeout=TIMEOUT,
    )


async def receive(websocket, timeout: float = TIMEOUT, skip: tuple[str, ...] = ("presence",)):
    """Return the next frame from ``websocket``, decoded, past those of a ``skip`` type.

    Raises TimeoutError after ``timeout`` s for one frame. Room members get a
    presence frame whenever someone joins or leaves; tests about something else
    skip them, tests about presence pass ``skip=()``.
    """
    while True:
        frame = json.loads(await asyncio.wait_for(websocket.recv(), timeout))
        if frame.get("type") not in skip:
            return frame


async def send(websocket, message: str) -> None:
    """Send one chat message: ``{"message": message}``."""
    await websocket.send(json.dumps({"message": message}))


def receive_in_thread(websocket, timeout: float = TIMEOUT) -> dict:
    """``receive`` for websockets' threading client: the next frame that is not presence."""
    while True:
        frame = json.loads(websocket.recv(timeout))
        if frame.get("type") != "presence":
            return frame


async def history(websocket) -> dict:
    """Return the history frame, the first a member of a room receives, and read the
    presence frame that follows it (both asserted)."""
    frame = await receive(websocket, skip=())
    assert frame["type"] == "history", frame
    assert (await receive(websocket, skip=()))["type"] == "presence"
    return frame


def stored_messages(server: AsgiServer, room_name: str, cookie: str | None) -> list[dict]:
    """Return every stored message of a room, oldest first, paging through the room's API.

    ``cookie`` is a logged-in session's Cookie header, or None without accounts.
    """
    messages, after, more = [], 0, True
    while more:
        request = urllib.request.Request(
            f"{server.origin}/api/rooms/{room_name}/messages/?after={after}",
            headers={"Cookie": cookie} if cookie else {},
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            page = json.load(response)
        messages += page["messages"]
        more = page["more"]
        after = messages[-1]["id"] if messages else after
    return messages


def http_get(url: str) -> tuple[int, bytes]:
    """GET ``url``; return the status and body, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def scrape(server: AsgiServer) -> dict[tuple, float]:
    """Scrape ``/metrics`` of a server, parsed by prometheus_client's own parser.

    Returns each sample's value by ``(name, label, value, ...)``, labels
    sorted: ``("chat_websocket_error_frames_total", "code", "invalid_json")``.
    """
    request = urllib.request.Request(
        f"{server.origin}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        text = response.read().decode()
    return {
        (sample.name, *(item for label in sorted(sample.labels.items()) for item in label)): (
            sample.value
        )
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def json_records(text: str) -> list[dict]:
    """Return each complete line (one that ends in a newline) of a log as a JSON object.

    Production logs one JSON object per line (serving/logs.py); ``text`` may
    be a server's log read while it is writing a line, which is left out.
    Fails naming a line that is not a JSON object with ``time``, ``level``,
    ``logger`` and ``message``.
    """
    records = []
    for line in text[: text.rfind("\n") + 1].splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= record.keys(), line
        records.append(record)
    return records


def assert_no_database_errors(log: Path) -> None:
    """Fail if a server's log holds any of ``DATABASE_ERRORS``, with the lines that do."""
    lines = log.read_text(errors="replace").splitlines()
    errors = [line for line in lines if DATABASE_ERRORS.search(line)]
    assert not errors, "\n".join(errors[:20])


async def until_presence(websocket, users: list[str], timeout: float = TIMEOUT) -> None:
    """Read frames until a presence frame lists ``users``; TimeoutError after ``timeout`` s."""
    async with asyncio.timeout(timeout):
        while (await receive(websocket, timeout=timeout, skip=())) != {
            "type": "presence",
            "users": users,
        }:
            pass


def open_stalled_socket(server: AsgiServer, path: str, cookie: str | None = None) -> socket.socket:
    """Open a websocket on ``path`` over a plain socket that nobody reads; return it once accepted.

    Sends the Origin a browser on the server's pages would and, when given,
    ``cookie``; reads the handshake's response and nothing after it. The
    socket's receive buffer is the smallest the kernel allows and it
    announces a 536-byte MSS: Linux sizes the server's send buffer for the
    connection from the MSS (``tcp_sndbuf_expand``), so the server's kernel
    holds about 200 KiB for it rather than the 4 MiB it grows to on loopback.
    Raises AssertionError if the server does not switch protocols.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", server.port))
    headers = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {server.origin}",
        *([f"Cookie: {cookie}"] if cookie else []),
    ]
    sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
    response = b""
    while not response.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, f"connection closed during the handshake: {response!r}"
        response += byte
    assert response.startswith(b"HTTP/1.1 101 "), response
    return sock


def read_until_closed(sock: socket.socket, timeout: float = TIMEOUT) -> int:
    """Read ``sock`` until the server closes or resets it; return how many bytes came.

    Raises TimeoutError if it is still open ``timeout`` seconds after its last byte.
    """
    sock.settimeout(timeout)
    received = 0
    try:
        while chunk := sock.recv(65536):
            received += len(chunk)
    except ConnectionResetError:
        pass
    return received


def rss_kib(pid: int) -> int:
    """Return the resident memory (VmRSS, KiB) of process ``pid`` and of every process under it.

    Reads /proc (Linux). A process that exits meanwhile counts as 0.
    """
    total, pids = 0, [pid]
    while pids:
        pid = pids.pop()
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                pids += map(int, Path(f"/proc/{pid}/task/{task}/children").read_text().split())
            status = Path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))
    return total
