"""The deployment the baked README walks through, for real.

Debian's nginx, with the bake's ``deploy/nginx.conf`` (ports, paths and the host
name set by the test, TLS with a throwaway certificate), in front of two server
processes started with the command line of the bake's systemd unit, on one
Redis; for each server option. Then, on one bake, the channel layer over two
Redis shards, through Sentinel, and over TLS, and bad Redis settings refused.
"""

import http.server
import json
import re
import ssl
import subprocess
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
from conftest import (
    LIVE_COMBINATIONS,
    Background,
    RedisServer,
    free_port,
    http_get,
    require_commands,
    wait_for_port,
)
from test_bake import PRODUCTION_ENV, show
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

# One bake per server; the consumer style does not change what the proxy does.
DEPLOY_COMBINATIONS = list(
    {
        c["asgi_server"]: c
        for c in reversed(LIVE_COMBINATIONS)
        if c["channel_layer"] == "redis" and not c["use_auth"]
    }.values()
)
REDIS_FORMS_COMBINATION = DEPLOY_COMBINATIONS[0]
HOST = "localhost"
# nginx's default proxy_read_timeout is 60 s; the idle test outlasts it.
IDLE_SECONDS = 65
TIMEOUT = 10


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
    """One server process, started as the systemd unit starts it, ready when /healthz/ answers."""

    def __init__(self, baked_project, env: dict, log: Path) -> None:
        self.port = free_port()
        python = baked_project.path / ".venv" / "bin" / "python"
        command = unit_command(baked_project.path, self.port)
        assert command[0] == str(python), command
        super().__init__(command, log, cwd=baked_project.path, env={**baked_project.env, **env})
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, _ = http_get(
                    f"http://127.0.0.1:{self.port}/healthz/",
                    Host=HOST,
                    **{"X-Forwarded-Proto": "https"},
                )
                if status == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"server on port {self.port} did not start:\n{self.output()}")
            time.sleep(0.2)


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
        wait_for_port(self.https_port, timeout=10)
        self.origin = f"https://{HOST}:{self.https_port}"
        self.tls = client_tls(self.cert)

    def websocket(self, path: str):
        """A websocket client through nginx, with a browser's Origin and no client pings."""
        return connect(
            f"wss://{HOST}:{self.https_port}{path}",
            origin=self.origin,
            ssl=self.tls,
            open_timeout=TIMEOUT,
            ping_interval=None,
        )


@pytest.fixture(scope="module")
def deployment(baked_project, redis_url, tmp_path_factory):
    """The deployment, and a member that joined a room of its own before the first test."""
    required("nginx", "openssl")
    deployed = Deployment(baked_project, redis_url, tmp_path_factory.mktemp("deploy"))
    with deployed.stack:
        path = f"/ws/chat/idle-{uuid.uuid4().hex[:8]}/"
        with deployed.websocket(path) as idle:
            deployed.idle = (idle, path, time.monotonic())
            yield deployed


def chat(members, sender_index: int = 0, text: str = "hello") -> None:
    """Send ``text`` from one member; assert every member receives it."""
    members[sender_index].send(json.dumps({"message": text}))
    for member in members:
        event = json.loads(member.recv(timeout=TIMEOUT))
        assert event["message"] == text, event


@pytest.mark.combinations(DEPLOY_COMBINATIONS)
def test_members_on_both_processes_share_a_room_through_nginx(baked_project, deployment):
    path = f"/ws/chat/shared-{uuid.uuid4().hex[:8]}/"
    with ExitStack() as stack:
        members = [stack.enter_context(deployment.websocket(path)) for _ in range(4)]
        for index in range(len(members)):
            chat(members, index, f"from member {index}")
    servers = {f"127.0.0.1:{server.port}" for server in deployment.servers}
    assert deployment.nginx.upstreams_of(path, "101") == servers


@pytest.mark.combinations(DEPLOY_COMBINATIONS)
def test_pages_and_static_files_through_nginx_with_host_and_https_intact(baked_project, deployment):
    origin = deployment.origin
    status, headers, body = http_get(f"{origin}/", deployment.tls)
    assert status == 200 and b'id="room-name-input"' in body, status
    # Django sends HSTS on secure requests only: X-Forwarded-Proto reached it.
    assert "max-age=31536000" in headers.get("Strict-Transport-Security", ""), headers
    status, _, body = http_get(f"{origin}/static/chat/chat.css", deployment.tls)
    assert status == 200 and body
    status, headers, _ = http_get(f"http://{HOST}:{deployment.http_port}/chat/lobby/")
    assert status == 301 and headers["Location"] == f"https://{HOST}/chat/lobby/"
    # The Origin reaches the application behind nginx, which refuses a foreign one.
    with pytest.raises(InvalidStatus) as refused:
        connect(
            f"wss://{HOST}:{deployment.https_port}/ws/echo/",
            origin="https://evil.example",
            ssl=deployment.tls,
            open_timeout=TIMEOUT,
        )
    assert refused.value.response.status_code == 403


@pytest.mark.combinations(DEPLOY_COMBINATIONS)
def test_burst_through_nginx_loses_nothing(baked_project, deployment):
    url = f"wss://{HOST}:{deployment.https_port}"
    result = baked_project.run(
        *("python", "manage.py", "loadtest", url, "--origin", deployment.origin, "--json"),
        *("--echo-clients", "10", "--echo-messages", "20"),
        *("--members", "30", "--senders", "3", "--messages", "20"),
        env={**PRODUCTION_ENV, "SSL_CERT_FILE": str(deployment.cert)},
        timeout=300,
    )
    assert result.returncode == 0, show(result)
    figures = json.loads(result.stdout)
    assert figures["broadcast"]["delivered"] == figures["broadcast"]["sent"] == 30 * 3 * 20


class HeaderRecorder(http.server.ThreadingHTTPServer):
    """An upstream on a free port that records each request's headers and answers 200 "ok"."""

    def __init__(self) -> None:
        recorder = self
        self.requests: list[dict[str, str]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.requests.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.mark.combinations(DEPLOY_COMBINATIONS)
def test_only_an_upgrade_request_is_sent_as_an_upgrade(baked_project, tmp_path):
    recorder = HeaderRecorder()
    cert, key = throwaway_certificate(tmp_path)
    https_port = free_port()
    site = site_config(
        baked_project.path,
        [recorder.port],
        http_port=free_port(),
        https_port=https_port,
        cert=cert,
        key=key,
    )
    nginx = Nginx(tmp_path / "nginx", site)
    try:
        wait_for_port(https_port, timeout=10)
        base = f"https://{HOST}:{https_port}"
        status, _, _ = http_get(f"{base}/plain/", client_tls(cert), Connection="keep-alive")
        assert status == 200
        status, _, _ = http_get(
            f"{base}/ws/echo/", client_tls(cert), Connection="Upgrade", Upgrade="websocket"
        )
        plain, upgrade = recorder.requests
        assert "upgrade" not in plain and plain["connection"] == "close", plain
        assert upgrade["upgrade"] == "websocket" and upgrade["connection"] == "upgrade", upgrade
        assert plain["host"] == HOST and plain["x-forwarded-proto"] == "https", plain
    finally:
        nginx.kill()
        recorder.shutdown()
        recorder.server_close()


def test_site_config_passes_nginx_t(baked_project, tmp_path):
    required("nginx")
    cert, key = throwaway_certificate(tmp_path)
    ports = {"http_port": free_port(), "https_port": free_port()}
    site = site_config(baked_project.path, [free_port()], cert=cert, key=key, **ports)
    config = nginx_main_config(tmp_path / "nginx", site)
    result = subprocess.run(nginx_command(config, "-t"), capture_output=True, text=True)
    assert result.returncode == 0, show(result)
    assert "[warn]" not in result.stderr, show(result)


# Last of the nginx tests, so that the others' time counts toward the silence.
@pytest.mark.combinations(DEPLOY_COMBINATIONS)
def test_connection_stays_open_past_nginx_default_read_timeout(baked_project, deployment):
    idle, path, joined = deployment.idle
    time.sleep(max(0, joined + IDLE_SECONDS - time.monotonic()))
    with deployment.websocket(path) as fresh:
        chat([idle, fresh], 0, "still here after 65 s")


def test_systemd_unit_is_valid_and_waits_longer_than_the_server(baked_project, tmp_path):
    required("systemd-analyze")
    (unit,) = (baked_project.path / "deploy").glob("*@.service")
    text = unit.read_text()
    (stop_timeout,) = re.findall(r"^TimeoutStopSec=(\d+)$", text, re.MULTILINE)
    # The servers give consumers 10 s after SIGTERM (config/server.py).
    assert int(stop_timeout) > 10
    # As it would run here: the bake's paths, root, an env file of the test's.
    env_file = tmp_path / "env"
    env_file.write_text("DJANGO_SECRET_KEY=test\n")
    srv = f"/srv/{baked_project.path.name}"
    local = text.replace(srv, str(baked_project.path))
    local = re.sub(r"^(User|Group)=.*$", r"\1=root", local, flags=re.MULTILINE)
    local = re.sub(
        r"^EnvironmentFile=.*$", f"EnvironmentFile={env_file}", local, flags=re.MULTILINE
    )
    (tmp_path / unit.name).write_text(local)
    instance = tmp_path / unit.name.replace("@.service", "@8001.service")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(instance)], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stderr.strip(), show(result)


def two_processes_chat(baked_project, redis_env: dict, directory: Path) -> list:
    """Start two server processes with ``redis_env``; members on each hear one another."""
    env = production_env(directory, redis_env)
    servers = start_servers(baked_project, env, directory)
    try:
        path = f"/ws/chat/pair-{uuid.uuid4().hex[:8]}/"
        with ExitStack() as stack:
            members = [
                stack.enter_context(
                    connect(
                        f"ws://127.0.0.1:{server.port}{path}",
                        origin=f"http://{HOST}:{server.port}",
                        open_timeout=TIMEOUT,
                    )
                )
                for server in servers * 2
            ]
            for index in range(len(members)):
                chat(members, index, f"from {index}")
    finally:
        for server in servers:
            server.kill()
    return servers


@pytest.mark.combinations([REDIS_FORMS_COMBINATION])
def test_shards_carry_every_message_and_both_carry_traffic(baked_project, tmp_path):
    shards = [RedisServer(tmp_path / f"shard-{n}") for n in range(2)]
    try:
        urls = ",".join(shard.url for shard in shards)
        env = production_env(tmp_path, {"REDIS_URLS": urls})
        servers = start_servers(baked_project, env, tmp_path)
        try:
            # channels_redis puts group G on shard (crc32(G) & 0xFFF) // (4096 / shards):
            # of two shards, rooms 0 to 2 land on the first and 8 to 10 on the second.
            rooms = [f"shard-room-{n}" for n in (0, 1, 2, 8, 9, 10)]
            with ExitStack() as stack:
                # Three members per room, spread over both processes.
                members = {
                    room: [
                        stack.enter_context(
                            connect(
                                f"ws://127.0.0.1:{server.port}/ws/chat/{room}/",
                                origin=f"http://{HOST}:{server.port}",
                                open_timeout=TIMEOUT,
                            )
                        )
                        for server in (*servers, servers[0])
                    ]
                    for room in rooms
                }
                groups = [shard.command("--scan", "--pattern", "asgi:group:*") for shard in shards]
                assert all(groups), groups
                # A burst: every room's first member sends 20 messages at once.
                for room, room_members in members.items():
                    for n in range(20):
                        room_members[0].send(json.dumps({"message": f"{room} {n}"}))
                for room, room_members in members.items():
                    for member in room_members:
                        received = [json.loads(member.recv(timeout=TIMEOUT)) for _ in range(20)]
                        assert [e["message"] for e in received] == [
                            f"{room} {n}" for n in range(20)
                        ]
        finally:
            for server in servers:
                server.kill()
    finally:
        for shard in shards:
            shard.kill()


@pytest.mark.combinations([REDIS_FORMS_COMBINATION])
def test_channel_layer_through_sentinel(baked_project, tmp_path):
    required("redis-sentinel")
    primary = RedisServer(tmp_path / "primary")
    sentinel_dir = tmp_path / "sentinel"
    sentinel_dir.mkdir()
    config = sentinel_dir / "sentinel.conf"  # Sentinel rewrites its file: it must be writable
    config.write_text(f"sentinel monitor chat 127.0.0.1 {primary.port} 1\n")
    port = free_port()
    sentinel = Background(
        ["redis-sentinel", str(config), "--port", str(port), "--bind", "127.0.0.1"],
        sentinel_dir / "sentinel.log",
        cwd=sentinel_dir,
    )
    try:
        wait_for_port(port, timeout=10)
        env = {"REDIS_SENTINELS": f"127.0.0.1:{port}", "REDIS_SENTINEL_MASTER": "chat"}
        two_processes_chat(baked_project, env, tmp_path)
        # The rooms lived on the primary Sentinel named (group_add is a ZADD), not
        # on the session's Redis at REDIS_URL, which the processes also had.
        assert "cmdstat_zadd:" in primary.command("info", "commandstats")
    finally:
        sentinel.kill()
        primary.kill()


@pytest.mark.combinations([REDIS_FORMS_COMBINATION])
def test_channel_layer_over_tls(baked_project, tmp_path):
    tls = throwaway_certificate(tmp_path)
    redis = RedisServer(tmp_path / "redis-tls", tls=tls)
    try:
        two_processes_chat(baked_project, {"REDIS_URL": redis.url}, tmp_path)
    finally:
        redis.kill()


@pytest.mark.combinations([REDIS_FORMS_COMBINATION])
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL: 'localhost:6379' is not a Redis URL"),
        ({"REDIS_URLS": "redis://a/0,redis://b:99999/0"}, "REDIS_URLS: 'redis://b:99999/0'"),
        ({"REDIS_SENTINELS": "sentinel:26379"}, "REDIS_SENTINEL_MASTER: empty"),
        (
            {"REDIS_SENTINELS": "sentinel", "REDIS_SENTINEL_MASTER": "chat"},
            "REDIS_SENTINELS: 'sentinel' is not host:port",
        ),
    ],
    ids=["url", "urls", "sentinel-master", "sentinels"],
)
def test_bad_redis_settings_stop_the_server_at_start_up(baked_project, tmp_path, settings, message):
    env = production_env(tmp_path, settings)
    port = str(free_port())
    result = baked_project.run("python", "manage.py", "serve", "--port", port, env=env, timeout=60)
    assert result.returncode == 1, show(result)
    # One line, no traceback (manage.py).
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"ImproperlyConfigured: {message}"), show(result)
