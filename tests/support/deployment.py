"""The deployment the baked README walks through: the shipped nginx site and systemd unit, for real.

Debian's nginx runs the bake's ``deploy/nginx.conf`` (ports, paths and the
host name set here; TLS with a throwaway certificate) in front of server
processes started with the command line of the bake's systemd unit.
"""

import json
import re
import ssl
import subprocess
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

from websockets.sync.client import connect

from .bakes import PRODUCTION_ENV, show
from .servers import Background, accepts_connections, answers_http, free_port, require_commands

HOST = "localhost"
TIMEOUT = 10  # seconds for a handshake or a frame


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


def unit_command(project: Path, port: int) -> list[str]:
    """The command line of the bake's systemd unit for instance ``port``, run from ``project``.

    The unit's /srv/<project> paths become the bake's own, so what the test
    runs is what systemd would.
    """
    (unit,) = (project / "deploy").glob("*@.service")
    (exec_start,) = re.findall(r"^ExecStart=(.+)$", unit.read_text(), re.MULTILINE)
    srv = f"/srv/{project.name}"
    return [
        str(project / part.removeprefix(srv + "/")) if part.startswith(srv) else part
        for part in exec_start.replace("%i", str(port)).split()
    ]


class ServerProcess(Background):
    """A server process started as the systemd unit starts it; ready when /healthz/ answers 200."""

    def __init__(self, baked_project, env: dict, log: Path) -> None:
        self.port = free_port()
        python = baked_project.path / ".venv" / "bin" / "python"
        command = unit_command(baked_project.path, self.port)
        assert command[0] == str(python), command
        super().__init__(command, log, cwd=baked_project.path, env={**baked_project.env, **env})
        health = f"http://127.0.0.1:{self.port}/healthz/"
        proxied = {"Host": HOST, "X-Forwarded-Proto": "https"}
        self.wait_until_ready(answers_http(health, status=200, **proxied))

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


def site_config(project: Path, upstreams: list[int], **values) -> str:
    """The bake's deploy/nginx.conf with the test's ports, certificate and host name.

    Fails if a line the test replaces is missing, so the shipped file and this
    test cannot drift apart silently.
    """
    text = (project / "deploy" / "nginx.conf").read_text()
    for pattern, replacement in SUBSTITUTIONS:
        text, count = re.subn(pattern, replacement.format(**values), text)
        assert count == 1, pattern
    text, count = re.subn(r"\n\s*listen \[::\]:\d+( ssl)?;", "", text)
    assert count == 2
    text = text.replace("server_name chat.example.com;", f"server_name {HOST};")
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in upstreams)
    text, count = re.subn(r"(    server 127\.0\.0\.1:\d+;\n)+", servers, text)
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

    def upstreams_of(self, path: str, status: str) -> set[str]:
        """The upstream addresses that served ``path`` with ``status`` (nginx's access log)."""
        time.sleep(0.2)  # nginx writes the line once the response is done
        lines = self.access_log.read_text().splitlines() if self.access_log.exists() else []
        return {line.split()[2] for line in lines if line.split()[:2] == [path, status]}


class Deployment:
    """nginx with the shipped site config in front of two server processes on one Redis."""

    def __init__(self, baked_project, redis_url: str, directory: Path) -> None:
        self.stack = ExitStack()
        self.cert, key = throwaway_certificate(directory)
        env = production_env(directory, {"REDIS_URL": redis_url})
        self.servers = start_servers(baked_project, env, directory)
        for server in self.servers:
            self.stack.callback(server.kill)
        self.https_port, self.http_port = free_port(), free_port()
        site = site_config(
            baked_project.path,
            [server.port for server in self.servers],
            http_port=self.http_port,
            https_port=self.https_port,
            cert=self.cert,
            key=key,
        )
        self.nginx = Nginx(directory / "nginx", site)
        self.stack.callback(self.nginx.kill)
        self.nginx.wait_until_ready(accepts_connections(self.https_port), timeout=10)
        self.origin = f"https://{HOST}:{self.https_port}"
        self.tls = client_tls(self.cert)

    def websocket(self, path: str):
        """A websocket client through nginx, with a browser's Origin and no client pings."""
        return member(
            f"wss://{HOST}:{self.https_port}",
            path,
            origin=self.origin,
            ssl=self.tls,
            ping_interval=None,
        )


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
