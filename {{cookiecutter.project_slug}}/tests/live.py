"""Real processes for the live and browser tests, and a websocket client for them.

Nothing here is a fake: the server is ``daphne config.asgi:application`` in its
own process, and clients talk to it over real sockets with the ``websockets``
library.
"""

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

PROJECT_DIR = Path(__file__).resolve().parent.parent
TIMEOUT = 10  # seconds to wait for one frame, or for a handshake
START_TIMEOUT = 30  # seconds a server may take to say it listens
STOP_TIMEOUT = 20  # seconds a server may take to exit after SIGTERM


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(process: subprocess.Popen, log: Path, offset: int, ready: str, timeout: float):
    """Wait until ``ready`` appears in ``log`` after byte ``offset`` (the server says it listens).

    Raises RuntimeError, with the end of the log, if ``process`` exits or
    ``timeout`` seconds pass first. Reading the server's own word, rather than
    probing the port, cannot mistake another process on that port for it.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with log.open("rb") as file:
            file.seek(offset)
            if ready.encode() in file.read():
                return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"{process.args[0]} did not get ready ({ready!r}):\n{tail}")


class Process:
    """A server subprocess on a fixed loopback port, with its output in a log file.

    ``ready`` is the text the server logs once it accepts connections.
    """

    def __init__(self, args: list[str], port: int, log: Path, ready: str, env=None) -> None:
        self.args = args
        self.port = port
        self.log = log
        self.ready = ready
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the process and wait until it is ready; RuntimeError (and no process) if not."""
        self.log.touch()
        offset = self.log.stat().st_size
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                self.args, cwd=PROJECT_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_until_ready(self.process, self.log, offset, self.ready, START_TIMEOUT)
        except BaseException:
            self.process.kill()
            self.process.wait()
            raise

    def stop(self) -> None:
        """Send SIGTERM, as a service manager would, and wait; kill it after STOP_TIMEOUT s.

        Raises RuntimeError if the process had to be killed.
        """
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"{self.args[0]} ignored SIGTERM for {STOP_TIMEOUT} s") from None

    def __enter__(self):
        """Start the process (see ``start``); the ``with`` block's end stops it."""
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class DaphneServer(Process):
    """``daphne config.asgi:application`` on a free loopback port, as in production."""

    def __init__(self, env: dict, log: Path) -> None:
        port = free_port()
        args = [sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port)]
        ready = f"Listening on TCP address 127.0.0.1:{port}"
        super().__init__([*args, "config.asgi:application"], port, log, ready, env)

    @property
    def origin(self) -> str:
        """The Origin a browser on this server's pages sends: ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str) -> str:
        """Return the ``ws://`` URL of ``path`` (which starts with "/") on this server."""
        return f"ws://127.0.0.1:{self.port}{path}"


def open_socket(server: DaphneServer, path: str, cookie: str | None = None, origin=None):
    """Return a websockets ``connect()`` for ``path`` on ``server``.

    It sends the Origin a browser on the server's pages would (or ``origin``)
    and, when given, ``cookie`` as the Cookie header (a logged-in session).
    """
    headers = {"Cookie": cookie} if cookie else None
    return connect(
        server.ws_url(path),
        origin=origin or server.origin,
        additional_headers=headers,
        open_timeout=TIMEOUT,
    )


async def receive(websocket, timeout: float = TIMEOUT):
    """Return the next frame from ``websocket``, decoded; TimeoutError after ``timeout`` s."""
    return json.loads(await asyncio.wait_for(websocket.recv(), timeout))


async def send(websocket, message: str) -> None:
    """Send one chat message: ``{"message": message}``."""
    await websocket.send(json.dumps({"message": message}))
