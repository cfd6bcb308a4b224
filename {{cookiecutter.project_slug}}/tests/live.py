"""Real processes for the live and browser tests: daphne serving the project, and Redis.

Nothing here is a fake: the server is ``daphne config.asgi:application`` in its
own process, talking to a real Redis in the redis combinations.
"""

import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


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

    def start(self, timeout: float = 30) -> None:
        """Start the process and wait until it is ready; RuntimeError (and no process) if not."""
        self.log.touch()
        offset = self.log.stat().st_size
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                self.args, cwd=PROJECT_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_until_ready(self.process, self.log, offset, self.ready, timeout)
        except BaseException:
            self.process.kill()
            self.process.wait()
            raise

    def stop(self, timeout: float = 20) -> None:
        """Send SIGTERM, as a service manager would, and wait; kill it after ``timeout`` s.

        Raises RuntimeError if the process had to be killed.
        """
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"{self.args[0]} ignored SIGTERM for {timeout} s") from None

    def __enter__(self):
        """Start the process (see ``start``); the ``with`` block's end stops it."""
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class DaphneServer(Process):
    """``daphne config.asgi:application`` on a free loopback port, as in production."""

    def __init__(self, env: dict, log: Path, port: int | None = None) -> None:
        port = port or free_port()
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


def redis_server_binary() -> str | None:
    """Return the path of ``redis-server`` or ``valkey-server`` on PATH, or None."""
    return shutil.which("redis-server") or shutil.which("valkey-server")


class RedisServer(Process):
    """A private, throwaway Redis on a free loopback port (no persistence)."""

    def __init__(self, binary: str, workdir: Path) -> None:
        port = free_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(workdir)]
        super().__init__(args, port, workdir / "redis.log", "Ready to accept connections")

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``, for REDIS_URL."""
        return f"redis://127.0.0.1:{self.port}/0"


class Browser:
    """An HTTP client with a cookie jar, for the login and signup forms.

    It sends the Origin header a browser would, so Django's CSRF check runs
    for real: GET the form for the csrftoken cookie and field, then POST.
    """

    def __init__(self, server: DaphneServer) -> None:
        self.server = server
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> str:
        """GET ``path``, following redirects; return the body. Raises urllib's URLError."""
        with self.opener.open(self.server.origin + path, timeout=30) as response:
            return response.read().decode()

    def submit(self, path: str, fields: dict[str, str]) -> str:
        """POST ``fields`` to the form at ``path``; return the final URL after redirects."""
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.get(path)).group(1)
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        request = urllib.request.Request(
            self.server.origin + path, data=data, headers={"Origin": self.server.origin}
        )
        with self.opener.open(request, timeout=30) as response:
            return response.url

    def cookie_header(self) -> str:
        """Return the ``Cookie`` header value a websocket handshake should send."""
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.cookies)
