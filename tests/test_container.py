"""The baked Dockerfile and compose.yaml, built and run for real with podman.

No image registry is reachable here, so the base images are made from Debian's
packages with debootstrap: a Python image handed to the Dockerfile through its
PYTHON_IMAGE build argument, and a Redis image under the name compose.yaml asks
for (``redis:7``), in a podman store of this test session's own.
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import DEFAULT_COMBINATION, free_port, http_get, require_commands
from test_bake import NEWEST_PYTHON_COMBINATION, PRODUCTION_ENV, show, tool
from websockets.sync.client import connect

# What podman needs in this sandbox: no rlimits may be raised, no systemd, runc.
CONTAINERS_CONF = """\
[containers]
default_ulimits = []
pids_limit = 0

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "{root}/tmp"

[network]
network_config_dir = "{root}/networks"
"""
STORAGE_CONF = """\
[storage]
driver = "overlay"
graphroot = "{root}/storage"
runroot = "{root}/run"
"""
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@dataclass
class BaseImage:
    """A base image made with ``debootstrap --variant=minbase``, imported under ``name``."""

    name: str
    suite: str
    packages: list[str]
    changes: list[str]  # Dockerfile instructions for ``podman import --change``


BASE_IMAGES = [
    # Stands in for the Dockerfile's default python:3.13-slim-trixie. It trusts
    # this machine's CA bundle, through which PyPI is reached here.
    BaseImage(
        "localhost/debian-python:trixie",
        "trixie",
        ["python3", "python3-venv", "python-is-python3", "ca-certificates"],
        [f"ENV SSL_CERT_FILE={CA_BUNDLE}", 'CMD ["python"]'],
    ),
    # Stands in for compose.yaml's redis:7: Redis 7 as the official image runs it.
    BaseImage(
        "docker.io/library/redis:7",
        "bookworm",
        ["redis-server"],
        [
            "USER redis",
            "WORKDIR /data",
            "EXPOSE 6379",
            'CMD ["redis-server", "--protected-mode", "no", "--dir", "/data"]',
        ],
    ),
]
PYTHON_IMAGE = BASE_IMAGES[0].name


class Podman:
    """podman and podman-compose on a store and configuration of their own under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "containers.conf").write_text(CONTAINERS_CONF.format(root=root))
        (root / "storage.conf").write_text(STORAGE_CONF.format(root=root))
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(root / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(root / "storage.conf"),
        }

    def run(self, *args: str, cwd=None, env=None, timeout: float = 900, **kwargs):
        """Run a podman (or other) command with this store; return the CompletedProcess."""
        return subprocess.run(
            args,
            cwd=cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )

    def has_image(self, name: str) -> bool:
        return self.run("podman", "image", "exists", name).returncode == 0

    def make_base_image(self, image: BaseImage) -> None:
        """Bootstrap ``image`` from Debian's packages and import it; raise on failure."""
        rootfs = self.root / f"rootfs-{image.suite}-{uuid.uuid4().hex[:8]}"
        cache = self.root / "debootstrap-cache"
        cache.mkdir(exist_ok=True)
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--cache-dir={cache}",
                f"--include={','.join(image.packages)}",
                image.suite,
                str(rootfs),
                "http://deb.debian.org/debian",
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
        if "ca-certificates" in image.packages:
            shutil.copy(CA_BUNDLE, rootfs / CA_BUNDLE.lstrip("/"))
        if "redis-server" in image.packages:
            (rootfs / "data").mkdir()
            subprocess.run(["chroot", str(rootfs), "chown", "redis:redis", "/data"], check=True)
        shutil.rmtree(rootfs / "var" / "lib" / "apt" / "lists", ignore_errors=True)
        changes = [arg for change in image.changes for arg in ("--change", change)]
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        result = self.run(
            "podman", "import", "--quiet", *changes, "-", image.name, stdin=tar.stdout
        )
        tar.wait()
        shutil.rmtree(rootfs)
        assert result.returncode == 0, show(result)

    def healthy(self, container: str, timeout: float = 90) -> None:
        """Run the container's HEALTHCHECK until it passes; fail after ``timeout`` seconds.

        podman runs health checks on a systemd timer, and there is no systemd
        here, so the test runs them itself.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = self.run("podman", "healthcheck", "run", container)
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                logs = self.run("podman", "logs", container)
                pytest.fail(f"{container} never became healthy\n{show(result)}\n{show(logs)}")
            time.sleep(1)


@pytest.fixture(scope="session")
def podman(tmp_path_factory):
    """podman with the base images, shared by the session's xdist workers (made once)."""
    require_commands("container", "podman runc debootstrap", "podman", "debootstrap", "runc")
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    root = shared / "podman"
    root.mkdir(exist_ok=True)
    with (shared / "podman.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        podman = Podman(root)
        missing = [image for image in BASE_IMAGES if not podman.has_image(image.name)]
        with ThreadPoolExecutor() as pool:
            list(pool.map(podman.make_base_image, missing))
    return podman


def build_image(podman: Podman, context: Path, tag: str) -> None:
    """Build the Dockerfile in ``context`` (a bake) on the stand-in Python image, as ``tag``."""
    result = podman.run(
        "podman",
        "build",
        # HEALTHCHECK is part of the Docker image format only.
        "--format",
        "docker",
        # The one network here that reaches PyPI.
        "--network",
        "host",
        "--build-arg",
        f"PYTHON_IMAGE={PYTHON_IMAGE}",
        "--tag",
        tag,
        str(context),
    )
    assert result.returncode == 0, show(result)


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


def locked_copy(baked_project, destination: Path) -> Path:
    """Copy the bake (its .env too, as a checkout in use has one) and lock it with uv."""
    root = destination / baked_project.path.name
    shutil.copytree(
        baked_project.path, root, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__")
    )
    result = baked_project.run(sys.executable, "-m", "uv", "lock", "--quiet", cwd=root)
    assert result.returncode == 0, show(result)
    return root


@pytest.mark.combinations([NEWEST_PYTHON_COMBINATION])
def test_compose_stack_chats_through_redis(baked_project, podman, tmp_path):
    # A project that keeps a uv.lock: the image gets exactly the locked versions.
    root = locked_copy(baked_project, tmp_path)
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
        for service in ("redis", "web"):
            (container,) = [c for c in containers if f"_{service}_" in c]
            podman.healthy(container)
        origin = f"http://127.0.0.1:{port}"
        status, _, body = http_get(f"{origin}/")
        assert status == 200 and b'id="room-name-input"' in body, status
        path = f"ws://127.0.0.1:{port}/ws/chat/compose/"
        # Enough members that the server's workers all hold some of them.
        with ExitStack() as stack:
            members = [
                stack.enter_context(connect(path, origin=origin, open_timeout=10)) for _ in range(6)
            ]
            members[0].send(json.dumps({"message": "through compose"}))
            for member in members:
                event = json.loads(member.recv(timeout=10))
                assert event["message"] == "through compose", event
    finally:
        down = podman.run(*compose, "down", "--volumes", cwd=root, env=env)
        assert down.returncode == 0, show(down)
