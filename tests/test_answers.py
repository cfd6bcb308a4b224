"""Any answer a person can type either bakes a clean project or is refused in one line.

The free-text answers (project_name, description, author_name) land in the
README and pyproject.toml, and the slug derived from the name lands everywhere.
Hostile answers are baked for real, as a person gives them: typed at the
prompts of the real CLI, or passed as ``extra_context`` to the Python API.
"""

import ast
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException
from jinja2 import TemplateSyntaxError

from tests.support.bakes import bake, bake_on_the_command_line, install_venv, once_per_run, show
from tests.support.matrix import CHOICES, TEMPLATE_DIR

FREE_TEXT = ("project_name", "description", "author_name")
EMAIL = "you@example.com"
RUFF = Path(sys.executable).with_name("ruff")  # the template venv's ruff


def bake_typed(output_dir: Path, name: str, description: str, author: str):
    """Run the real ``cookiecutter`` CLI and type the answers on its stdin, as a person would.

    The slug and every choice get an empty line (Enter: the default shown).
    cookiecutter 2.7 prompts with rich, which reads each answer with
    ``input()`` and so reads a pipe as it reads a terminal; it strips the
    answer's outer whitespace, and, unlike an answer given on the command line
    or as extra_context, never renders it as Jinja. The child's stdin is UTF-8,
    as a person's terminal is. Returns the completed process (text output).
    """
    lines = [name, "", description, author, EMAIL] + [""] * len(CHOICES)
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", "-o", str(output_dir), str(TEMPLATE_DIR)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )


# (id, the answer put in all three free-text fields, how it is given, the slug
# derived from it). Typed answers lose their outer spaces at the prompt, so the
# spaces are given through extra_context; Jinja-looking text is typed, since a
# given answer is rendered as Jinja by cookiecutter itself.
HOSTILE = [
    ("single-quote", "O'Brien's '''Chat'''", "typed", "o_brien_s_chat"),
    ("double-quote", 'The "Chat" Server', "given", "the_chat_server"),
    ("triple-quote", '"""Chat""" Server', "typed", "chat_server"),
    ("backslash-inside", r"Chat\nServer \d \u00e9", "given", "chat_nserver_d_u00e9"),
    ("trailing-backslash", "Chat Server\\", "typed", "chat_server"),
    ("accents", "Café Crème Ñandú", "given", "cafe_creme_nandu"),
    ("cjk", "聊天服务器", "typed", "liao_tian_fu_wu_qi"),
    ("emoji", "Chat 😀 Server 👩‍💻", "typed", "chat_server"),
    (
        "jinja",
        "{{ cookiecutter.project_slug }} {% if x %} {# c #} Chat",
        "typed",
        "cookiecutter_project_slug_if_x_c_chat",
    ),
    ("html", "<script>alert('hi')</script> Chat", "given", "script_alert_hi_script_chat"),
    ("spaces", "  Chat Server  ", "given", "chat_server"),
]


@dataclass
class Bake:
    """A project baked with one hostile answer in every free-text field."""

    value: str
    slug: str
    path: Path


@pytest.fixture(scope="module", params=HOSTILE, ids=[case[0] for case in HOSTILE])
def hostile_bake(request, tmp_path_factory):
    """Bake one HOSTILE answer the way its row says; shared by that answer's checks."""
    name, value, how, slug = request.param
    output_dir = tmp_path_factory.mktemp(name)
    if how == "typed":
        result = bake_typed(output_dir, value, value, value)
        assert result.returncode == 0, show(result)
        (path,) = output_dir.iterdir()
    else:
        path = bake(output_dir, project_name=value, description=value, author_name=value)
    return Bake(value=value, slug=slug, path=path)


@pytest.fixture(scope="session")
def checks_python(tmp_path_factory):
    """The Python of one venv holding a baked project's dependencies, made once per test run.

    ``manage.py check`` then runs from each baked directory, whose manage.py
    puts that directory first on sys.path.
    """
    with once_per_run(tmp_path_factory, "answers") as root:
        venv = root / "venv"
        if not (venv / "installed").exists():
            install_venv(bake(root / "bake"), venv=venv, project=False)
            (venv / "installed").touch()
    return venv / "bin" / "python"


def test_the_slug_is_derived_from_the_name(hostile_bake):
    assert hostile_bake.path.name == hostile_bake.slug


def test_every_python_file_compiles(hostile_bake):
    sources = sorted(hostile_bake.path.rglob("*.py"))
    assert sources
    for source in sources:
        compile(source.read_text(encoding="utf-8"), str(source), "exec")


def test_pyproject_and_readme_hold_the_trimmed_answer(hostile_bake):
    expected = hostile_bake.value.strip()
    pyproject = tomllib.loads((hostile_bake.path / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    assert project["name"] == hostile_bake.slug
    assert project["description"] == expected
    assert project["authors"] == [{"name": expected, "email": EMAIL}]
    readme = (hostile_bake.path / "README.md").read_text(encoding="utf-8").splitlines()
    assert readme[:4] == [f"# {expected}", "", expected, ""]


def test_ruff_passes(hostile_bake):
    for command in (
        [RUFF, "check", "--no-cache", "."],
        [RUFF, "format", "--check", "--diff", "--no-cache", "."],
    ):
        result = subprocess.run(
            command, cwd=hostile_bake.path, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, show(result)


def test_django_check_passes(hostile_bake, checks_python):
    # The project's settings come from its .env alone.
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    result = subprocess.run(
        [checks_python, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=hostile_bake.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, show(result)


@pytest.mark.parametrize(
    ("name", "slug", "reason"),
    [
        pytest.param('"""', "name-without-letters-or-digits", "is not a valid", id="quotes-only"),
        pytest.param("😀", "name-without-letters-or-digits", "is not a valid", id="emoji-only"),
        pytest.param("2 Chat", "2_chat", "is not a valid", id="leading-digit"),
        pytest.param("Class", "class", "is a Python keyword", id="keyword"),
        pytest.param("Django", "django", "would shadow", id="shadowing"),
    ],
)
def test_name_whose_derived_slug_is_refused(tmp_path, name, slug, reason):
    result = bake_typed(tmp_path, name, "A description.", "Your Name")
    assert result.returncode != 0, show(result)
    assert result.stderr.splitlines()[0].startswith(f"ERROR: project_slug {slug!r} {reason}")
    assert list(tmp_path.iterdir()) == []


def bake_refused(output_dir: Path, how: str, answers: dict[str, str], capfd) -> str:
    """Bake ``answers`` as extra_context or on the command line; return what went to stderr.

    Fails the test unless a hook stopped the bake (``FailedHookException`` from
    the Python API; a non-zero exit from the CLI). ``capfd`` captures the hook's
    stderr in the API case, where the hook writes to this process's stderr.
    """
    if how == "extra-context":
        with pytest.raises(FailedHookException):
            bake(output_dir, **answers)
        return capfd.readouterr().err
    result = bake_on_the_command_line(output_dir, *(f"{k}={v}" for k, v in answers.items()))
    assert result.returncode != 0, show(result)
    return result.stderr


@pytest.mark.parametrize("how", ["extra-context", "command-line"])
@pytest.mark.parametrize("field", FREE_TEXT)
def test_line_break_is_refused(tmp_path, capfd, field, how):
    value = "First line\nsecond line"
    err = bake_refused(tmp_path, how, {field: value}, capfd)
    expected = f"ERROR: {field} {value!r} holds a line break: answer on one line."
    assert err.splitlines()[0] == expected
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", ["extra-context", "command-line"])
def test_given_answers_are_rendered_as_jinja(tmp_path, how):
    """What the README says: cookiecutter renders a given answer before the hooks see it."""
    answers = {"description": "{{ 7*7 }} rooms", "author_name": "{{ cookiecutter.project_slug }}"}
    if how == "extra-context":
        bake(tmp_path, **answers)
    else:
        args = (f"{k}={v}" for k, v in answers.items())
        result = bake_on_the_command_line(tmp_path, *args)
        assert result.returncode == 0, show(result)
    project = tomllib.loads((tmp_path / "chat_server" / "pyproject.toml").read_text())["project"]
    assert project["description"] == "49 rooms"
    assert project["authors"][0]["name"] == "chat_server"


@pytest.mark.parametrize("how", ["extra-context", "command-line"])
def test_broken_jinja_in_a_given_answer_is_a_cookiecutter_error(tmp_path, how):
    """A stray ``{%`` fails in cookiecutter's own rendering, before any hook; nothing is left."""
    if how == "extra-context":
        with pytest.raises(TemplateSyntaxError):
            bake(tmp_path, description="{% if %}")
    else:
        result = bake_on_the_command_line(tmp_path, "description={% if %}")
        assert result.returncode != 0, show(result)
        assert "TemplateSyntaxError" in result.stderr, show(result)
    assert list(tmp_path.iterdir()) == []


def readme_error_lines() -> list[str]:
    """Return the ``ERROR: ...`` lines the template's README quotes."""
    readme = (TEMPLATE_DIR / "README.md").read_text(encoding="utf-8")
    return [line for line in readme.splitlines() if line.startswith("ERROR: ")]


def test_readme_quotes_some_error():
    assert readme_error_lines()


# An error line as the hook prints it: the field, then the answer as a Python literal.
ERROR_LINE = re.compile(r"ERROR: (\w+) ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") ")


@pytest.mark.parametrize("line", readme_error_lines(), ids=lambda line: line.split()[1])
def test_readme_quotes_the_hook_word_for_word(tmp_path, capfd, line):
    """Give the answer the quoted line names, on the command line; the hook must print that line."""
    match = ERROR_LINE.match(line)
    assert match, line
    field, value = match[1], ast.literal_eval(match[2])
    err = bake_refused(tmp_path, "command-line", {field: value}, capfd)
    assert err.splitlines()[0] == line
