"""Baked projects: bake a combination, install its virtualenv, run its commands and test layers."""

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cookiecutter.main import cookiecutter

from .matrix import TEMPLATE_DIR
from .servers import redis_server_binary

# Settings a production deployment sets (the baked README: "Deploying").
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "chat.example.com",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    # Bursts of messages from one client are what these tests send; the rate
    # limit itself is the baked project's unit tests' business.
    "CHAT_RATE": "10000",
    "CHAT_BURST": "10000",
}
# What a baked project's commands do not inherit from the caller: its own
# settings, which come from its .env and the tests alone, and pytest's options.
NOT_INHERITED = (
    *("DJANGO_", "DATABASE_URL", "REDIS_URL", "CHAT_", "CHANNEL_LAYER_", "SERVER_"),
    "PYTEST_",
)
GIT = ["git", "-c", "user.name=Template Tests", "-c", "user.email=tests@example.com"]
# What asyncio prints when a task outlived its event loop: the baked project's
# own tests fail on it during a test, and run_layer catches it after the last one.
LEFTOVER_TASK = re.compile(r"Task was destroyed but it is pending|Event loop is closed")


def show(result) -> str:
    """Format a finished command's exit status and output for an assertion message."""
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def tool(name: str) -> str:
    """Return the path of a command installed beside the Python running the tests."""
    return str(Path(sys.executable).parent / name)


def search_path(uv: bool, path: str) -> str:
    """Return ``path`` (a PATH value) with uv on it or not, for the post-gen hook to see.

    The hook locks the project (uv.lock) when uv is on PATH. Bakes run without
    it unless a test asks, so a bake does not depend on the caller's shell (an
    activated venv holds uv; CI's PATH does not) and the matrix bakes spend no
    time locking. ``uv`` True puts ``tool("uv")``'s directory first; False
    drops every directory holding a ``uv`` (so only for commands that need
    nothing else from those directories: the hooks run on ``sys.executable``).
    """
    directories = [d for d in path.split(os.pathsep) if not os.path.isfile(Path(d, "uv"))]
    if uv:
        directories.insert(0, str(Path(tool("uv")).parent))
    return os.pathsep.join(directories)


@contextlib.contextmanager
def uv_on_path(present: bool):
    """Set this process's PATH with or without uv (``search_path``) for a bake; restore it."""
    before = os.environ["PATH"]
    os.environ["PATH"] = search_path(present, before)
    try:
        yield
    finally:
        os.environ["PATH"] = before


def bake(output_dir: Path, *, with_uv: bool = False, **answers) -> Path:
    """Bake the template with ``answers`` (cookiecutter's Python API); return the project.

    cookiecutter renders each answer as a Jinja template before the hooks see
    it. ``with_uv`` True bakes with uv on PATH, so the project gets a uv.lock
    (``uv_on_path``).
    """
    with uv_on_path(with_uv):
        return Path(
            cookiecutter(
                str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=str(output_dir)
            )
        )


def bake_on_the_command_line(
    output_dir: Path, *answers: str, with_uv: bool = False
) -> subprocess.CompletedProcess:
    """Run ``cookiecutter --no-input`` as a user would, ``answers`` as ``key=value``; return it.

    ``with_uv`` puts uv on its PATH, as for ``bake``.
    """
    with uv_on_path(with_uv):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "cookiecutter",
                "--no-input",
                "-o",
                str(output_dir),
                str(TEMPLATE_DIR),
                *answers,
            ],
            capture_output=True,
            text=True,
            check=False,
        )


def commit_all(directory: Path, message: str) -> None:
    """Commit everything in ``directory``, a git repository made first if it is not one yet."""
    subprocess.run(["git", "init", "--quiet"], cwd=directory, check=True)
    subprocess.run([*GIT, "add", "--all"], cwd=directory, check=True)
    subprocess.run([*GIT, "commit", "--quiet", "-m", message], cwd=directory, check=True)


def install_venv(
    project_dir: Path, venv: Path | None = None, python: str = sys.executable, project: bool = True
) -> Path:
    """Make a venv with uv and install the baked project in it; return the venv.

    ``project`` True installs the project itself, editable, with its dev group
    (as its README says); False installs only its dependencies. The venv is
    ``.venv`` in the project unless ``venv`` names another. ``python`` (by
    default the one running the tests) is given to uv by path, so uv never
    looks for, or downloads, another.
    """
    uv = [sys.executable, "-m", "uv"]
    venv = venv or project_dir / ".venv"
    what = ["-e", ".", "--group", "dev"] if project else ["-r", "pyproject.toml"]
    subprocess.run([*uv, "venv", "--quiet", "--python", python, str(venv)], check=True)
    subprocess.run(
        [*uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *what],
        cwd=project_dir,
        check=True,
    )
    return venv


@contextlib.contextmanager
def once_per_run(tmp_path_factory, name: str):
    """Hold a lock on ``name`` shared by every xdist worker of this run; yield its directory.

    The first worker to take the lock makes what is there; the others wait for
    it, then find it made.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers
    directory = root / name
    directory.mkdir(exist_ok=True)
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield directory


@dataclass
class BakedProject:
    """A baked project and the virtualenv installed from its pyproject."""

    combination: dict
    path: Path
    files: list[Path] = field(default_factory=list)  # what the bake wrote, before any install
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def install(cls, combination: dict, path: Path, redis_url: str | None) -> "BakedProject":
        """Install ``path``'s venv; commands then run with it first on PATH and the settings
        of the caller's environment removed (``REDIS_URL`` is ``redis_url``)."""
        files = sorted(p for p in path.rglob("*") if p.is_file())
        install_venv(path)
        env = {key: value for key, value in os.environ.items() if not key.startswith(NOT_INHERITED)}
        env.pop("VIRTUAL_ENV", None)
        # The Redis server binary too, for the live test that starts a Redis of its own.
        bins = [str(path / ".venv" / "bin"), os.path.dirname(redis_server_binary())]
        env["PATH"] = os.pathsep.join([*bins, env["PATH"]])
        if redis_url:
            env["REDIS_URL"] = redis_url
        return cls(combination=combination, path=path, files=files, env=env)

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

    def run_layer(self, *marker: str, cwd: Path | None = None, env: dict | None = None):
        """Run one layer of the project's own tests in a fresh git clone of it (no ``.env``).

        ``cwd`` runs them in another checkout of the project instead, and ``env``
        adds to (or replaces) the bake's environment. Asserts the layer passed
        with nothing skipped and no task left pending (``LEFTOVER_TASK``);
        returns the CompletedProcess.
        """
        args = ["python", "-m", "pytest", "-p", "no:cacheprovider", "-rA", *marker]
        result = self.run(*args, timeout=1500, cwd=cwd or self.fresh_clone(), env=env)
        assert result.returncode == 0, show(result)
        summary = result.stdout.strip().splitlines()[-1]
        assert " passed" in summary, show(result)
        assert "skipped" not in summary and "xfail" not in summary, show(result)
        assert not LEFTOVER_TASK.search(result.stdout + result.stderr), show(result)
        return result


def python_binary(version: str) -> str:
    """Return a working ``python<version>``: on PATH, else pyenv's; fail the test if none.

    pyenv puts a shim on PATH for every version it holds, but the shim runs
    only versions its global setting names, so pyenv's own copy is tried next.
    """
    import pytest

    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(pyenv_root.glob(f"versions/{version}*/bin/python{version}"), reverse=True)
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "--version"], capture_output=True).returncode == 0:
            return str(candidate)
    pytest.fail(f"Python {version} is needed (pyenv install {version})", pytrace=False)
