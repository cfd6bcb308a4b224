"""Finish a bake: keep the chosen consumer module, drop what the options rule out, write .env.

Each step is a plain function of the project directory and one answer, so the
template's tests call them directly.
"""

import json
import secrets
import shutil
import sys
from pathlib import Path

CONSUMER_STYLES = ("async", "sync", "json")
ENV_HEADER = """\
# Settings for local development, written by the bake with a new secret key.
# Real environment variables win over this file. Never commit it (it is
# git-ignored); README.md lists every setting.
"""


def select_consumer_module(project_dir: Path, style: str) -> None:
    """Rename ``chat/consumers_<style>.py`` to ``chat/consumers.py`` and delete the other styles.

    ``style`` is one of ``CONSUMER_STYLES``: cookiecutter refuses any other
    answer to a choice before the hooks run.
    """
    chat = project_dir / "chat"
    (chat / f"consumers_{style}.py").replace(chat / "consumers.py")
    for other in CONSUMER_STYLES:
        (chat / f"consumers_{other}.py").unlink(missing_ok=True)


def unused_paths(context: dict) -> list[str]:
    """Return the project-relative paths that the chosen options do not use."""
    paths = []
    if not context["use_auth"]:
        paths.append("chat/templates/registration")  # login, logout and signup pages
    if context["channel_layer"] == "redis":
        paths.append("chat/layers.py")  # the logging in-memory layer
    return paths


def remove_paths(project_dir: Path, relative_paths: list[str]) -> None:
    """Delete each file or directory in ``relative_paths`` under ``project_dir``."""
    for relative in relative_paths:
        path = project_dir / relative
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def write_env_file(project_dir: Path) -> Path:
    """Write ``.env`` from ``.env.example`` with a new DJANGO_SECRET_KEY; return its path.

    The example's settings are kept and its comments give way to ``ENV_HEADER``.
    The key is 67 URL-safe characters from ``secrets`` (Django's deploy check
    wants 50 or more, with at least 5 distinct). ``.env`` is git-ignored.
    """
    key = secrets.token_urlsafe(50)
    lines = (project_dir / ".env.example").read_text().splitlines()
    settings = [line for line in lines if not line.startswith("#")]
    filled = [
        f"DJANGO_SECRET_KEY={key}" if line == "DJANGO_SECRET_KEY=" else line for line in settings
    ]
    env_file = project_dir / ".env"
    env_file.write_text(ENV_HEADER + "\n".join(filled) + "\n")
    env_file.chmod(0o600)
    return env_file


def next_steps(project_slug: str) -> str:
    """Return the lines printed after a successful bake."""
    return "\n".join(
        [
            f"Baked {project_slug}/. Next:",
            f"  cd {project_slug}",
            "  python -m venv .venv && . .venv/bin/activate",
            '  pip install -e ".[dev]"',
            "  python manage.py migrate",
            "  python manage.py runserver",
            "Then open http://127.0.0.1:8000/ (README.md has the rest).",
        ]
    )


def main(context: dict) -> int:
    """Apply every step to the current directory (the baked project); return the exit status."""
    project_dir = Path.cwd()
    select_consumer_module(project_dir, context["consumer_style"])
    remove_paths(project_dir, unused_paths(context))
    write_env_file(project_dir)
    print(next_steps(context["project_slug"]))
    return 0


if __name__ == "__main__":
    # cookiecutter renders this file before running it; tojson keeps any
    # quote or backslash in an answer from breaking the Python source.
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}""")))
