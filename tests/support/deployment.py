"""The deployment the baked README walks through: the shipped nginx site and systemd unit, for real.

Debian's nginx runs the bake's ``deploy/nginx.conf`` (ports, paths and the
host name set here; TLS with a throwaway certificate) in front of server
processes started with the command line of the bake's systemd unit.
"""

import json
import random
import re
import shlex
import ssl
import subprocess
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import connect

from .bakes import PRODUCTION_ENV, show
from .servers import (
    Background,
    accepts_connections,
    free_port,
    http_get,
    require_commands,
)

HOST = "localhost"
TIMEOUT = 10  # seconds for a handshake or a frame
# Seconds a RoomMember's handshake may take, as long as the room page gives one
# (chat.js sets no limit): during a rolling restart a handshake that reaches a
# stopping uvicorn waits in its listen backlog until the process exits (up to
# SERVER_SHUTDOWN_TIMEOUT, 10 s, and more on a busy machine), then nginx passes
# it to the other process. A 10 s limit failed it once in CI, 10.5 s into a stop.
HANDSHAKE_TIMEOUT = 30


@contextmanager
def member(url: str, path: str, **options):
    """A websocket client (websockets' threading one) for ``path`` at ``url``.

    In a room (``/ws/chat/``) it reads the history and presence frames, the
    first a member receives, before it is handed over, so that what follows is
    the live chat (``receive`` skips later presence frames).
    """
    with connect(f"{url}{path}", open_timeout=TIMEOUT, **options) as websocket:
        if path.startswith("/ws/chat/"):
            for first in ("history", "presence"):
                assert json.loads(websocket.recv(timeout=TIMEOUT))["type"] == first
        yield websocket


def receive(websocket) -> dict:
    """Return a room member's next frame that is not a presence frame, decoded."""
    while True:
        frame = json.loads(websocket.recv(timeout=TIMEOUT))
        if frame.get("type") != "presence":
            return frame


def required(*commands: str) -> None:
    """Fail (never skip) when a command the deployment tests run is missing."""
    packages = "nginx redis-server redis-sentinel openssl systemd"
    require_commands("deployment", packages, *commands)


def throwaway_certificate(directory: Path) -> tuple[Path, Path]:
    """Make a self-signed certificate for localhost and 127.0.0.1; return (cert, key)."""
    required("openssl")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={HOST}"),
            *("-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def client_tls(cert: Path) -> ssl.SSLContext:
    """A TLS context that trusts ``cert`` alone."""
    return ssl.create_default_context(cafile=str(cert))


def unit_command(project: Path, port: int, directive: str = "ExecStart") -> list[str]:
    """The command line of the bake's systemd unit's ``directive`` for instance ``port``.

    The unit's /srv/<project> paths become the bake's own, so what the test
    runs, from ``project``, is what systemd would.
    """
    (unit,) = (project / "deploy").glob("*@.service")
    (line,) = re.findall(rf"^{directive}=(.+)$", unit.read_text(), re.MULTILINE)
    return shlex.split(line.replace("%i", str(port)).replace(f"/srv/{project.name}", str(project)))


class ServerProcess(Background):
    """A server process started as the systemd unit starts it; ready when /healthz/ answers 200.

    ``port`` is the unit's instance (a free port when None).
    """

    def __init__(self, baked_project, env: dict, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.baked_project, self.env = baked_project, env
        python = baked_project.path / ".venv" / "bin" / "python"
        command = unit_command(baked_project.path, self.port)
        assert command[0] == str(python), command
        env = {**baked_project.env, **env}
        super().__init__(command, log, cwd=baked_project.path, env=env)
        # Started as systemd says it is: once the unit's ExecStartPost, which
        # waits for /healthz/, has exited 0.
        started = subprocess.Popen(
            unit_command(baked_project.path, self.port, "ExecStartPost"),
            cwd=baked_project.path,
            env=env,
        )
        try:
            self.wait_until_ready(lambda: started.poll() is not None, timeout=90)
        finally:
            started.kill()
        assert started.wait() == 0, f"ExecStartPost exited with {started.returncode}"

    def restart(self) -> "ServerProcess":
        """``systemctl restart`` of this instance: SIGTERM to the server alone (KillMode=mixed),
        wait for it to exit (killed after the unit's TimeoutStopSec), start it again on the
        same port; return the new process once /healthz/ answers. ``stopped`` is set to the
        time.monotonic() at which this one had exited."""
        (unit,) = (self.baked_project.path / "deploy").glob("*@.service")
        (timeout,) = re.findall(r"^TimeoutStopSec=(\d+)$", unit.read_text(), re.MULTILINE)
        self.stop(timeout=int(timeout))
        self.stopped = time.monotonic()
        return ServerProcess(self.baked_project, self.env, self.log, self.port)

    def websocket(self, path: str):
        """A websocket client straight to this process, with the Origin its pages send."""
        return member(f"ws://127.0.0.1:{self.port}", path, origin=f"http://{HOST}:{self.port}")


def production_env(directory: Path, redis_env: dict) -> dict:
    """Production settings, as check --deploy wants them, for a site at https://localhost."""
    return {
        **PRODUCTION_ENV,
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
        # No server pings: the idle test shows nginx's read timeout, not pings, at work.
        "SERVER_PING_INTERVAL": "300",
        **redis_env,
    }


def prepare(baked_project, env: dict) -> None:
    """Migrate and collect static files, as the README's deployment steps do."""
    for command in (["migrate"], ["collectstatic", "--verbosity", "0"]):
        result = baked_project.run("python", "manage.py", *command, "--noinput", env=env)
        assert result.returncode == 0, show(result)


def start_servers(baked_project, env: dict, directory: Path, count: int = 2) -> list:
    """Start ``count`` server processes on one database and channel layer."""
    prepare(baked_project, env)
    return [ServerProcess(baked_project, env, directory / f"server-{n}.log") for n in range(count)]


SUBSTITUTIONS = [
    # (what the shipped site config says, what the test needs), each found exactly once
    (r"listen 80;\n", "listen 127.0.0.1:{http_port};\n"),
    (r"listen 443 ssl;\n", "listen 127.0.0.1:{https_port} ssl;\n"),
    (r"ssl_certificate /\S+;", "ssl_certificate {cert};"),
    (r"ssl_certificate_key /\S+;", "ssl_certificate_key {key};"),
]


LIMITS = {
    # limit: where the shipped site config sets it (its value is group 2), each found exactly once
    "handshake_rate": r"(limit_req_zone .* rate=)(\d+r/[sm])(?=;)",
    "handshake_burst": r"(limit_req zone=\S+ burst=)(\d+)",
    "connections": r"(limit_conn \S+ )(\d+)(?=;)",
}


def shipped_limits(project: Path) -> dict[str, str]:
    """The bake's nginx limits per client address, by the names of ``LIMITS``."""
    text = (project / "deploy" / "nginx.conf").read_text()
    return {name: re.search(pattern, text).group(2) for name, pattern in LIMITS.items()}


def site_config(project: Path, upstreams: list[int], limits: dict | None = None, **values) -> str:
    """The bake's deploy/nginx.conf with the test's ports, certificate and host name.

    ``limits`` replaces some of the shipped limits per client address (names
    of ``LIMITS``: ``{"connections": 3}``), for a test that must reach one.
    Fails if a line the test replaces is missing, so the shipped file and this
    test cannot drift apart silently.
    """
    text = (project / "deploy" / "nginx.conf").read_text()
    for pattern, replacement in SUBSTITUTIONS:
        text, count = re.subn(pattern, replacement.format(**values), text)
        assert count == 1, pattern
    for name, pattern in LIMITS.items():
        value = (limits or {}).get(name)
        text, count = re.subn(pattern, rf"\g<1>{value}" if value else r"\g<0>", text)
        assert count == 1, pattern
    text, count = re.subn(r"\n\s*listen \[::\]:\d+( ssl)?;", "", text)
    assert count == 2
    text = text.replace("server_name chat.example.com;", f"server_name {HOST};")
    # Each upstream line keeps the shipped parameters (max_fails=...).
    (parameters,) = set(re.findall(r"\n    server 127\.0\.0\.1:\d+(.*);", text))
    servers = "".join(f"    server 127.0.0.1:{port}{parameters};\n" for port in upstreams)
    text, count = re.subn(r"(    server 127\.0\.0\.1:\d+.*;\n)+", servers, text)
    assert count == 1
    return text


def nginx_main_config(directory: Path, site: str) -> Path:
    """Write nginx's main config around ``site`` under ``directory``; return its path.

    Everything nginx writes stays under ``directory``; the access log names the
    upstream that served each request.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "site.conf").write_text(site)
    temp_paths = "".join(
        f"    {name}_temp_path {directory / name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (directory / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} info;\nevents {{}}\nhttp {{\n"
        "    log_format upstream '$request_uri $status $upstream_addr';\n"
        f"    access_log {directory / 'access.log'} upstream;\n{temp_paths}"
        f"    include {directory / 'site.conf'};\n}}\n"
    )
    return directory / "nginx.conf"


def nginx_command(config: Path, *options: str) -> list[str]:
    """nginx on ``config``, its prefix and start-up error log beside it (not /var/log)."""
    prefix = str(config.parent)
    return ["nginx", *options, "-p", prefix, "-e", f"{prefix}/error.log", "-c", str(config)]


class Nginx(Background):
    """Debian's nginx running the site config, under a prefix of its own, not as a daemon."""

    def __init__(self, directory: Path, site: str) -> None:
        required("nginx")
        config = nginx_main_config(directory, site)
        self.access_log = directory / "access.log"
        super().__init__(nginx_command(config), directory / "nginx.out")

    def error_log(self) -> str:
        """nginx's error log so far (info level: refusals by the limits are there)."""
        path = self.log.parent / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def upstreams_of(self, path: str, status: str) -> set[str]:
        """The upstream addresses that served ``path`` with ``status`` (nginx's access log)."""
        time.sleep(0.2)  # nginx writes the line once the response is done
        lines = self.access_log.read_text().splitlines() if self.access_log.exists() else []
        return {line.split()[2] for line in lines if line.split()[:2] == [path, status]}


class Deployment:
    """nginx with the shipped site config in front of two server processes on one Redis.

    ``front`` starts another nginx, with other limits, in front of the same processes.
    """

    def __init__(self, baked_project, redis_url: str, directory: Path) -> None:
        self.stack = ExitStack()
        self.baked_project, self.directory = baked_project, directory
        self.cert, self.key = throwaway_certificate(directory)
        env = production_env(directory, {"REDIS_URL": redis_url})
        self.servers = start_servers(baked_project, env, directory)
        self.stack.callback(lambda: [server.kill() for server in self.servers])
        self.http_port = free_port()
        self.https_port, self.nginx = self.front(directory / "nginx", http_port=self.http_port)
        self.origin = f"https://{HOST}:{self.https_port}"
        self.tls = client_tls(self.cert)

    def front(self, directory: Path, limits: dict | None = None, http_port: int | None = None):
        """Start nginx with the site config (``limits`` as site_config takes them) in front
        of the servers, stopped with the deployment; return (its HTTPS port, the Nginx)."""
        https_port = free_port()
        site = site_config(
            self.baked_project.path,
            [server.port for server in self.servers],
            limits,
            http_port=http_port or free_port(),
            https_port=https_port,
            cert=self.cert,
            key=self.key,
        )
        nginx = Nginx(directory, site)
        self.stack.callback(nginx.kill)
        nginx.wait_until_ready(accepts_connections(https_port), timeout=10)
        return https_port, nginx

    def websocket(self, path: str, https_port: int | None = None):
        """A websocket client through nginx (``https_port``: another front's), with a
        browser's Origin and no client pings."""
        return member(
            f"wss://{HOST}:{https_port or self.https_port}",
            path,
            origin=self.origin,
            ssl=self.tls,
            ping_interval=None,
        )

    def restart(self, index: int) -> tuple[float, float]:
        """Restart server process ``index`` as systemd would; return the seconds until the
        old process had exited and until the new one answered, from the SIGTERM."""
        started = time.monotonic()
        server = self.servers[index]
        self.servers[index] = server.restart()
        return round(server.stopped - started, 1), round(time.monotonic() - started, 1)


def chat(members, sender_index: int = 0, text: str = "hello") -> None:
    """Send ``text`` from one member; assert every member receives it."""
    members[sender_index].send(json.dumps({"message": text}))
    for member in members:
        event = receive(member)
        assert event["message"] == text, event


def two_processes_chat(baked_project, redis_env: dict, directory: Path) -> list:
    """Start two server processes with ``redis_env``; members on each hear one another."""
    env = production_env(directory, redis_env)
    servers = start_servers(baked_project, env, directory)
    try:
        path = f"/ws/chat/pair-{uuid.uuid4().hex[:8]}/"
        with ExitStack() as stack:
            members = [stack.enter_context(server.websocket(path)) for server in servers * 2]
            for index in range(len(members)):
                chat(members, index, f"from {index}")
    finally:
        for server in servers:
            server.kill()
    return servers


def stored_messages(origin: str, tls: ssl.SSLContext, room: str, after: int = 0) -> list[dict]:
    """The stored messages of ``room`` after id ``after``, oldest first, paged through the
    room's API (``GET /api/rooms/<room>/messages/?after=``, which needs no login without
    accounts) at ``origin``; fails the test on an answer other than 200."""
    messages: list[dict] = []
    while True:
        after = messages[-1]["id"] if messages else after
        url = f"{origin}/api/rooms/{room}/messages/?after={after}"
        status, _, body = http_get(url, tls)
        assert status == 200, (url, status, body[:300])
        page = json.loads(body)
        messages += page["messages"]
        if not page["more"]:
            return messages


class RoomMember(threading.Thread):
    """A member of ``room`` through ``deployment``'s nginx that behaves as the room page
    (chat/static/chat/chat.js), in a thread of its own.

    It connects with ``?name=<name>`` and, once it has a message, ``&after=<the
    largest id it has>``; takes in the history frame, paging through the room's
    API when it says "more"; and while ``chatting`` is set sends a numbered
    message each time its previous one came back stored, ``interval`` s later.
    When its websocket closes, or a handshake fails, it reconnects after the
    page's backoff (0.5 s doubling to 30 s, half to all of it at random). A
    message whose echo never came is looked for in the next history; not
    there, it is sent again, as the page keeps it in its input. It stops when
    ``done`` is set.

    Records ``messages`` (id: text, read under ``lock``), ``sent`` (each text
    once), ``refused`` (a failed handshake's status or error), ``errors``
    (error frames), ``outages`` (seconds from a close to the moment the first
    message it sent afterwards came back stored, one per close) and
    ``events`` (when it connected, with which ``after``, and when it closed).
    """

    def __init__(self, deployment, room: str, name: str, chatting, done, interval=0.2) -> None:
        super().__init__(daemon=True)
        self.deployment, self.room, self.name = deployment, room, name
        self.chatting, self.done, self.interval = chatting, done, interval
        self.lock = threading.Lock()
        self.messages: dict[int, str] = {}
        self.sent: list[str] = []
        self.refused: list = []
        self.errors: list[dict] = []
        self.outages: list[float] = []
        self.pending: str | None = None
        self.closed_at: float | None = None  # the close not yet followed by a stored message
        self.events: list[tuple] = []  # (time.monotonic(), "connect", after) or (..., "closed")

    def run(self) -> None:
        failures = 0
        while not self.done.is_set():
            try:
                with self.connect() as websocket:
                    failures = 0
                    self.chat(websocket)
            except InvalidStatus as error:
                self.refused.append(error.response.status_code)
            except (OSError, TimeoutError, WebSocketException) as error:
                if not isinstance(error, ConnectionClosed):
                    self.refused.append(repr(error))
            self.events.append((round(time.monotonic(), 1), "closed"))
            if self.closed_at is None:
                self.closed_at = time.monotonic()
            ceiling = min(30, 0.5 * 2**failures)
            failures += 1
            self.done.wait(ceiling / 2 + random.random() * ceiling / 2)

    def connect(self):
        query = {"name": self.name}
        if self.messages:
            query["after"] = max(self.messages)
        self.events.append((round(time.monotonic(), 1), "connect", query.get("after")))
        return connect(
            f"wss://{HOST}:{self.deployment.https_port}/ws/chat/{self.room}/?{urlencode(query)}",
            origin=self.deployment.origin,
            ssl=self.deployment.tls,
            open_timeout=HANDSHAKE_TIMEOUT,
            ping_interval=None,
        )

    def chat(self, websocket) -> None:
        history = json.loads(websocket.recv(timeout=TIMEOUT))
        assert history["type"] == "history", history
        messages = history["messages"]
        if history["more"] and self.messages:
            site, after = self.deployment, messages[-1]["id"]
            messages += stored_messages(site.origin, site.tls, self.room, after)
        for message in messages:
            self.take(message, live=False)
        if self.pending is not None:
            websocket.send(json.dumps({"message": self.pending}))
        next_send = time.monotonic()
        while not self.done.is_set():
            if self.pending is None and self.chatting.is_set() and time.monotonic() >= next_send:
                self.pending = f"{self.name} {len(self.sent)}"
                self.sent.append(self.pending)
                websocket.send(json.dumps({"message": self.pending}))
            try:
                frame = json.loads(websocket.recv(timeout=0.05))
            except TimeoutError:
                continue
            if frame["type"] == "chat.message":
                if self.take(frame, live=True):
                    next_send = time.monotonic() + self.interval
            elif frame["type"] == "error":
                self.errors.append(frame)

    def take(self, message: dict, live: bool) -> bool:
        """Keep ``message``; return whether it was this member's pending one. A live one
        after a close ends an outage: the member is back and chatting."""
        with self.lock:
            self.messages[message["id"]] = message["message"]
        if message["message"] != self.pending:
            return False
        self.pending = None
        if live and self.closed_at is not None:
            self.outages.append(time.monotonic() - self.closed_at)
            self.closed_at = None
        return True

    def have(self) -> set[int]:
        with self.lock:
            return set(self.messages)


class Poller(threading.Thread):
    """GETs each of ``paths`` in turn through ``deployment``'s nginx until ``done`` is set;
    records each answer's status, or the error, in ``statuses`` as (path, status)."""

    def __init__(self, deployment, paths: list[str], done) -> None:
        super().__init__(daemon=True)
        self.deployment, self.paths, self.done = deployment, paths, done
        self.statuses: list[tuple[str, int | str]] = []
        self.slowest = 0.0  # seconds, the slowest answer

    def run(self) -> None:
        while not self.done.is_set():
            for path in self.paths:
                started = time.monotonic()
                try:
                    status, _, _ = http_get(
                        self.deployment.origin + path, self.deployment.tls, timeout=60
                    )
                except OSError as error:
                    status = repr(error)
                self.statuses.append((path, status))
                self.slowest = max(self.slowest, time.monotonic() - started)
            self.done.wait(0.05)


def wait_until(condition, timeout: float = 30) -> bool:
    """Poll ``condition()`` every 0.05 s until it is true (True) or ``timeout`` s pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
