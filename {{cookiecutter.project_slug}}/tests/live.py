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


def wait_for_port(port: int, process: subprocess.Popen, timeout: float, log: Path) -> None:
    """Wait until 127.0.0.1:``port`` accepts connections.

    Raises RuntimeError, with the end of ``log``, if ``process`` exits or
    ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"{process.args[0]} did not start listening on port {port}:\n{tail}")


class Process:
    """A server subprocess on a fixed loopback port, with its output in a log file."""

    def __init__(self, args: list[str], port: int, log: Path, env: dict | None = None) -> None:
        self.args = args
        self.port = port
        self.log = log
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        """Start the process and wait until it accepts connections (RuntimeError if not)."""
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                self.args, cwd=PROJECT_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, self.process, timeout, self.log)

    def stop(self, timeout: float = 20) -> None:
        """Send SIGTERM, as a service manager would, and wait; kill it after ``timeout`` s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"{self.args[0]} ignored SIGTERM for {timeout} s") from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class DaphneServer(Process):
    """``daphne config.asgi:application`` on a free loopback port, as in production."""

    def __init__(self, env: dict, log: Path, port: int | None = None) -> None:
        port = port or free_port()
        args = [sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port)]
        super().__init__([*args, "config.asgi:application"], port, log, env)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"


def redis_server_binary() -> str | None:
    """Return the path of ``redis-server`` or ``valkey-server`` on PATH, or None."""
    return shutil.which("redis-server") or shutil.which("valkey-server")


class RedisServer(Process):
    """A private, throwaway Redis on a free loopback port (no persistence)."""

    def __init__(self, binary: str, workdir: Path) -> None:
        port = free_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        super().__init__(
            [*args, "--appendonly", "no", "--dir", str(workdir)], port, workdir / "redis.log"
        )

    @property
    def url(self) -> str:
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
