"""Finish a bake: keep the chosen modules, drop the rest, write .env, lock with uv if on PATH.

Each step is a plain function of the project directory and the answers (the
cookiecutter context), so the template's tests call them directly.
"""

import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

# Modules written once per answer of an option: ``<stem>_<answer>.py``. The
# bake keeps the chosen one as ``<stem>.py`` and deletes the others, so each
# module is plain Python and the option is decided here, in one place.
VARIANTS = {
    "chat/consumers.py": "consumer_style",
    "config/server.py": "asgi_server",
    "tests/users.py": "use_auth",
    "tests/layer.py": "channel_layer",
    "tests/server.py": "asgi_server",
}

# Paths that exist for some answers of an option only: deleted for the others.
OPTION_PATHS = {
    ("use_auth", (True,)): [
        "accounts",
        "chat/admin.py",
        "chat/migrations/0003_message_user.py",
        "tests/test_accounts.py",
    ],
    ("channel_layer", ("in-memory",)): ["serving/layers.py"],
    ("channel_layer", ("redis",)): [
        "config/redis_hosts.py",
        "tests/test_live_redis.py",
        "tests/test_redis_hosts.py",
    ],
    ("consumer_style", ("async", "json")): ["chat/dispatch.py"],
    ("asgi_server", ("daphne",)): ["serving/shutdown.py"],
    ("asgi_server", ("uvicorn", "granian")): ["config/server_logging.json"],
}
# Settings of .env.example that .env gets a new random value for, with its
# length in bytes of randomness (token_urlsafe).
SECRETS = {"DJANGO_SECRET_KEY": 50, "POSTGRES_PASSWORD": 24}
ENV_HEADER = """\
# Settings for local development, written by the bake with a new secret key.
# Real environment variables win over this file. Never commit it (it is
# git-ignored); README.md lists every setting.
"""


def variant_suffix(answer) -> str:
    """Return the file-name suffix for an answer: "json", "in_memory", "auth", "noauth"."""
    if isinstance(answer, bool):
        return "auth" if answer else "noauth"
    return answer.replace("-", "_")


def select_variants(project_dir: Path, context: dict) -> None:
    """Keep the variant of each module in ``VARIANTS`` that the answers chose; delete the rest.

    ``chat/consumers_json.py`` becomes ``chat/consumers.py`` when consumer_style
    is "json", for example. Raises FileNotFoundError if a chosen variant is missing.
    """
    for module, option in VARIANTS.items():
        target = project_dir / module
        chosen = target.with_name(f"{target.stem}_{variant_suffix(context[option])}.py")
        chosen.replace(target)
        for other in target.parent.glob(f"{target.stem}_*.py"):
            other.unlink()


def unused_paths(context: dict) -> list[str]:
    """Return the project-relative paths (``OPTION_PATHS``) that the answers do not use."""
    return [
        path
        for (option, answers), paths in OPTION_PATHS.items()
        if context[option] not in answers
        for path in paths
    ]


def remove_paths(project_dir: Path, relative_paths: list[str]) -> None:
    """Delete each file or directory in ``relative_paths`` under ``project_dir``."""
    for relative in relative_paths:
        path = project_dir / relative
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def write_env_file(project_dir: Path) -> Path:
    """Write ``.env`` from ``.env.example`` with new secrets; return its path.

    The example's settings are kept and its comments give way to ``ENV_HEADER``.
    Each of ``SECRETS`` left empty in the example gets a new value from
    ``secrets``: the key is 67 URL-safe characters (Django's deploy check wants
    50 or more, with at least 5 distinct), the password 32 (URL-safe, so it
    fits in DATABASE_URL as it is). ``.env`` is git-ignored.
    """
    lines = (project_dir / ".env.example").read_text().splitlines()
    filled = []
    for line in lines:
        if line.startswith("#"):
            continue
        name = line.removesuffix("=")
        if name in SECRETS:
            line = f"{name}={secrets.token_urlsafe(SECRETS[name])}"
        filled.append(line)
    env_file = project_dir / ".env"
    env_file.write_text(ENV_HEADER + "\n".join(filled) + "\n")
    env_file.chmod(0o600)
    return env_file


def write_lock(project_dir: Path) -> str | None:
    """Run ``uv lock`` in ``project_dir`` if uv is on PATH; return None once uv.lock is written.

    Otherwise return the one line to print instead: why there is no uv.lock (uv
    is not on PATH, or ``uv lock`` failed, with uv's first "error:" line, e.g.
    for want of a network) and how to lock later. uv runs as the user would run
    it there (their PATH, uv settings and cache); the bake never fails for it.
    """
    uv = shutil.which("uv")
    if uv is None:
        reason = "uv is not on PATH"
    else:
        result = subprocess.run(
            [uv, "lock"], cwd=project_dir, capture_output=True, text=True, check=False
        )
        if result.returncode == 0:
            return None
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        said = errors[0].removeprefix("error: ") if errors else f"exit {result.returncode}"
        reason = f"uv lock failed: {said}"
    return f'No uv.lock yet ({reason}): run "uv lock" in {project_dir.name}/, then commit uv.lock.'


def next_steps(project_slug: str) -> str:
    """Return the lines printed after a successful bake: uv's way (README.md has pip's)."""
    return "\n".join(
        [
            f"Baked {project_slug}/. Next:",
            f"  cd {project_slug}",
            "  uv sync",
            "  uv run python manage.py migrate",
            "  uv run python manage.py runserver",
            "Then open http://127.0.0.1:8000/ (README.md has the rest, and the steps with pip).",
        ]
    )


def main(context: dict) -> int:
    """Apply every step to the current directory (the baked project); return the exit status."""
    project_dir = Path.cwd()
    select_variants(project_dir, context)
    remove_paths(project_dir, unused_paths(context))
    write_env_file(project_dir)
    not_locked = write_lock(project_dir)
    if not_locked:
        print(not_locked)
    print(next_steps(context["project_slug"]))
    return 0


if __name__ == "__main__":
    # cookiecutter renders this file before running it; tojson keeps any
    # quote or backslash in an answer from breaking the Python source.
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}""")))
