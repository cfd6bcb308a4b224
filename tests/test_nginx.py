"""The shipped nginx site, for real, once per server.

Debian's nginx, with the bake's ``deploy/nginx.conf``, in front of two server
processes started with the command line of the bake's systemd unit, on one
Redis (``support.deployment``).
"""

import http.server
import json
import subprocess
import threading
import time
import uuid
from contextlib import ExitStack

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.bakes import PRODUCTION_ENV, show
from tests.support.deployment import (
    HOST,
    TIMEOUT,
    Deployment,
    Nginx,
    chat,
    client_tls,
    nginx_command,
    nginx_main_config,
    required,
    site_config,
    throwaway_certificate,
)
from tests.support.matrix import DEPLOY_COMBINATIONS
from tests.support.servers import accepts_connections, free_port, http_get

# nginx's default proxy_read_timeout is 60 s; the idle test outlasts it.
IDLE_SECONDS = 65


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
        nginx.wait_until_ready(accepts_connections(https_port), timeout=10)
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
