"""The baked Dockerfile and compose.yaml, built and run for real with podman.

The base images are made from Debian's packages (``support.containers``): no
image registry is reachable here.
"""

import json
import tomllib
import uuid
from contextlib import ExitStack

import pytest
from websockets.sync.client import connect

from tests.support.bakes import PRODUCTION_ENV, bake, once_per_run, show, tool
from tests.support.containers import Podman, build_image
from tests.support.deployment import receive
from tests.support.matrix import DEFAULT_COMBINATION, PYTHONS_COMBINATION
from tests.support.servers import free_port, http_get, require_commands


@pytest.fixture(scope="session")
def podman(tmp_path_factory):
    """podman with the base images, shared by the session's xdist workers (made once)."""
    require_commands("container", "podman runc debootstrap", "podman", "debootstrap", "runc")
    with once_per_run(tmp_path_factory, "podman") as root:
        return Podman.with_base_images(root)


@pytest.mark.combinations([DEFAULT_COMBINATION])
def test_image_serves_with_production_settings(baked_project, podman):
    name = f"web-{uuid.uuid4().hex[:8]}"
    tag = f"localhost/{name}"
    build_image(podman, baked_project.path, tag)
    (config,) = json.loads(podman.run("podman", "image", "inspect", tag).stdout)
    assert config["User"] == "10001"
    assert config["Healthcheck"]["Test"][-4:] == ["manage.py", "healthcheck", "--port", "8000"]
    files = podman.run("podman", "run", "--rm", tag, "ls", "-A", "/app").stdout.split()
    assert {".venv", "manage.py", "staticfiles"} <= set(files), files
    assert not {".env", "db.sqlite3", "tests", ".git"} & set(files), files

    # Production refuses to start without a secret key, in one line naming the setting.
    result = podman.run("podman", "run", "--rm", tag)
    assert result.returncode == 1
    # podman's own log lines (time="..." level=...) aside, the container said one line.
    said = [line for line in result.stderr.splitlines() if not line.startswith('time="')]
    assert said == ["ImproperlyConfigured: Set the DJANGO_SECRET_KEY environment variable"], show(
        result
    )

    volume = f"{name}-data"
    env = {**PRODUCTION_ENV, "DATABASE_URL": "sqlite:////data/db.sqlite3"}
    settings = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
    mounts = ["--volume", f"{volume}:/data"]
    result = podman.run(
        "podman", "run", "--rm", *settings, *mounts, tag, "python", "manage.py", "migrate"
    )
    assert result.returncode == 0, show(result)
    port = free_port()
    publish = ["--publish", f"127.0.0.1:{port}:8000"]
    result = podman.run(
        "podman", "run", "--detach", "--name", name, *settings, *mounts, *publish, tag
    )
    assert result.returncode == 0, show(result)
    try:
        podman.healthy(name)
        # As the proxy asks: the site's host name, HTTPS said by X-Forwarded-Proto.
        proxied = {"Host": PRODUCTION_ENV["DJANGO_ALLOWED_HOSTS"], "X-Forwarded-Proto": "https"}
        base = f"http://127.0.0.1:{port}"
        status, _, body = http_get(f"{base}/static/chat/chat.css", **proxied)
        assert status == 200 and body, status
        status, _, body = http_get(f"{base}/accounts/login/", **proxied)
        assert status == 200 and b'name="username"' in body, status
        # Plain HTTP is redirected to HTTPS, as check --deploy wants.
        status, _, _ = http_get(f"{base}/accounts/login/", Host=proxied["Host"])
        assert status == 301
        # SIGTERM reaches the server (PID 1, after manage.py serve's exec): a clean stop.
        result = podman.run("podman", "stop", "--time", "20", name)
        assert result.returncode == 0, show(result)
        state = podman.run("podman", "inspect", "--format", "{{.State.ExitCode}}", name)
        assert state.stdout.strip() == "0", show(podman.run("podman", "logs", name))
    finally:
        podman.run("podman", "rm", "--force", "--time", "0", name)
        podman.run("podman", "volume", "rm", "--force", volume)


def test_compose_stack_stores_in_postgresql_and_chats_through_redis(podman, tmp_path):
    # Baked with uv on PATH, so with the hook's uv.lock: the image gets exactly
    # the locked versions. PYTHONS_COMBINATION is a redis one.
    root = bake(tmp_path, with_uv=True, **PYTHONS_COMBINATION)
    # compose.yaml names the web image after the project; built here, compose reuses it.
    image = f"localhost/{root.name}"
    build_image(podman, root, image)
    locked = tomllib.loads((root / "uv.lock").read_text())["package"]
    (django,) = [package["version"] for package in locked if package["name"] == "django"]
    installed = podman.run(
        "podman", "run", "--rm", image, "python", "-c", "import django; print(django.__version__)"
    )
    assert installed.stdout.strip() == django, show(installed)
    port = free_port()
    compose = [tool("podman-compose"), "--project-name", f"stack-{uuid.uuid4().hex[:8]}"]
    env = {"WEB_PORT": str(port)}
    result = podman.run(*compose, "up", "--detach", cwd=root, env=env)
    try:
        assert result.returncode == 0, show(result)
        containers = podman.run(*compose, "ps", "--format", "{{.Names}}", cwd=root).stdout.split()
        # podman 4.3 has no wait for "healthy", so depends_on's condition is not
        # waited on here; the test waits for each service's health check instead.
        for service in ("db", "redis", "web"):
            (container,) = [c for c in containers if f"_{service}_" in c]
            podman.healthy(container)
        # The web service's check is compose's readiness one, not the image's liveness.
        check = podman.run(
            "podman", "inspect", "--format", "{{json .Config.Healthcheck}}", container
        )
        assert "--ready" in json.loads(check.stdout)["Test"], show(check)
        vendor = "from django.db import connection; print(connection.vendor)"
        result = podman.run(
            "podman", "exec", container, "python", "manage.py", "shell", "-c", vendor
        )
        assert result.stdout.split()[-1:] == ["postgresql"], show(result)
        origin = f"http://127.0.0.1:{port}"
        status, _, body = http_get(f"{origin}/")
        assert status == 200 and b'id="room-name-input"' in body, status
        path = f"ws://127.0.0.1:{port}/ws/chat/compose/"
        # Enough members that the server's workers all hold some of them.
        with ExitStack() as stack:
            members = [
                stack.enter_context(connect(path, origin=origin, open_timeout=10)) for _ in range(6)
            ]
            for member in members:
                assert json.loads(member.recv(timeout=10))["type"] == "history"
            members[0].send(json.dumps({"message": "through compose"}))
            for member in members:
                event = receive(member)
                assert event["message"] == "through compose", event
        # Stored: a member who joins later finds it in the room's history.
        with connect(path, origin=origin, open_timeout=10) as latecomer:
            history = json.loads(latecomer.recv(timeout=10))
            assert [m["message"] for m in history["messages"]] == ["through compose"], history
    finally:
        down = podman.run(*compose, "down", "--volumes", cwd=root, env=env)
        assert down.returncode == 0, show(down)
