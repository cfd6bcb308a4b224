"""podman on a store and configuration of its own, with base images made from Debian's packages.

No image registry is reachable here, so the base images are made with
debootstrap: a Python image handed to the baked Dockerfile through its
PYTHON_IMAGE build argument, and PostgreSQL and Redis images under the names
the baked compose.yaml asks for (``postgres:17``, ``redis:7``).
"""

import os
import shutil
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from .bakes import show

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
    # Stands in for compose.yaml's postgres:17: PostgreSQL 17 made and run as the
    # official image does (POSTGRES_ENTRYPOINT), its socket where pg_isready looks.
    BaseImage(
        "docker.io/library/postgres:17",
        "trixie",
        ["postgresql-17"],
        [
            "ENV PATH=/usr/lib/postgresql/17/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "USER postgres",
            "EXPOSE 5432",
            'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]',
        ],
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
# What the official postgres image's entrypoint does on a first start, in short:
# a cluster owned by POSTGRES_USER with POSTGRES_PASSWORD, and POSTGRES_DB in it.
POSTGRES_ENTRYPOINT = """\
#!/bin/sh
set -e
data=/var/lib/postgresql/data
if [ ! -s "$data/PG_VERSION" ]; then
    printf '%s' "$POSTGRES_PASSWORD" > /tmp/password
    initdb -D "$data" -U "$POSTGRES_USER" --pwfile=/tmp/password --locale=C.UTF-8 \\
        --auth-local=trust --auth-host=scram-sha-256
    rm /tmp/password
    echo "host all all all scram-sha-256" >> "$data/pg_hba.conf"
    pg_ctl -D "$data" -o "-c listen_addresses=''" -w start
    psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres -c "CREATE DATABASE \\"$POSTGRES_DB\\""
    pg_ctl -D "$data" -m fast -w stop
fi
exec postgres -D "$data" -c listen_addresses='*'
"""


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

    @classmethod
    def with_base_images(cls, root: Path) -> "Podman":
        """podman on a store under ``root`` holding every ``BASE_IMAGES`` image, made if missing."""
        podman = cls(root)
        missing = [image for image in BASE_IMAGES if not podman.has_image(image.name)]
        with ThreadPoolExecutor() as pool:
            list(pool.map(podman.make_base_image, missing))
        return podman

    def has_image(self, name: str) -> bool:
        return self.run("podman", "image", "exists", name).returncode == 0

    def make_base_image(self, image: BaseImage) -> None:
        """Bootstrap ``image`` from Debian's packages and import it; raise on failure."""
        name = f"{image.suite}-{uuid.uuid4().hex[:8]}"
        rootfs = self.root / f"rootfs-{name}"
        # A cache of its own: debootstraps that share one, in parallel, fail each other.
        cache = self.root / f"debootstrap-cache-{name}"
        cache.mkdir()
        result = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--cache-dir={cache}",
                f"--include={','.join(image.packages)}",
                image.suite,
                str(rootfs),
                "http://deb.debian.org/debian",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, show(result)
        if "ca-certificates" in image.packages:
            shutil.copy(CA_BUNDLE, rootfs / CA_BUNDLE.lstrip("/"))
        if "redis-server" in image.packages:
            (rootfs / "data").mkdir()
            subprocess.run(["chroot", str(rootfs), "chown", "redis:redis", "/data"], check=True)
        if "postgresql-17" in image.packages:
            entrypoint = rootfs / "usr" / "local" / "bin" / "docker-entrypoint.sh"
            entrypoint.write_text(POSTGRES_ENTRYPOINT)
            entrypoint.chmod(0o755)
            for directory in ("/var/lib/postgresql/data", "/run/postgresql"):
                (rootfs / directory.lstrip("/")).mkdir(parents=True, exist_ok=True)
                subprocess.run(
                    ["chroot", str(rootfs), "chown", "postgres:postgres", directory], check=True
                )
        shutil.rmtree(rootfs / "var" / "lib" / "apt" / "lists", ignore_errors=True)
        changes = [arg for change in image.changes for arg in ("--change", change)]
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        result = self.run(
            "podman", "import", "--quiet", *changes, "-", image.name, stdin=tar.stdout
        )
        tar.wait()
        shutil.rmtree(rootfs)
        shutil.rmtree(cache)
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
