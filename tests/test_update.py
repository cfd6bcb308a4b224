"""A baked project takes the template's later changes with cruft, cleanly."""

import json
import shutil
from pathlib import Path

import pytest

from tests.support.bakes import commit_all, search_path, show, tool
from tests.support.matrix import DEFAULT_COMBINATION, TEMPLATE_DIR

# Where a template change lands in the project, and the line it adds.
CHANGES = {
    "README.md": "A paragraph a later template added.",
    "config/settings.py": "CHAT_ADDED_BY_A_LATER_TEMPLATE = True",
}


def template_repository(destination: Path) -> Path:
    """Copy the template (as it is on disk, uncommitted edits included) into a git repository."""
    shutil.copytree(
        TEMPLATE_DIR,
        destination,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".cache", "node_modules", "demo", "__pycache__", ".*_cache"
        ),
    )
    commit_all(destination, "Template")
    return destination


@pytest.mark.combinations([DEFAULT_COMBINATION])
def test_cruft_update_applies_a_template_change_and_keeps_env(baked_project, tmp_path):
    template = template_repository(tmp_path / "template")
    output = tmp_path / "projects"
    context = json.dumps(baked_project.combination)
    cruft = tool("cruft")
    # cruft's bakes run the hooks too: without uv on PATH, as every bake here (no uv.lock).
    no_uv = {"PATH": search_path(False, baked_project.env["PATH"])}
    create = ["create", "-y", "--output-dir", str(output), "--extra-context", context]
    result = baked_project.run(cruft, *create, str(template), env=no_uv)
    assert result.returncode == 0, show(result)
    (project,) = output.iterdir()
    assert not (project / "uv.lock").exists()
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert {key: recorded[key] for key in baked_project.combination} == baked_project.combination
    commit_all(project, "Bake")
    env_before = (project / ".env").read_text()

    source = template / "{{cookiecutter.project_slug}}"
    for relative, line in CHANGES.items():
        with (source / relative).open("a") as file:
            file.write(f"\n{line}\n")
    commit_all(template, "A later template")
    assert baked_project.run(cruft, "check", cwd=project).returncode == 1

    result = baked_project.run(cruft, "update", "-y", cwd=project, env=no_uv)
    assert result.returncode == 0, show(result)
    assert not list(project.rglob("*.rej")), show(result)
    for relative, line in CHANGES.items():
        assert line in (project / relative).read_text().splitlines(), relative
    assert (project / ".env").read_text() == env_before
    commit_all(project, "Update from the template")
    assert baked_project.run(cruft, "check", cwd=project).returncode == 0
    baked_project.run_layer(cwd=project)
