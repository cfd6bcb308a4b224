"""The hooks as plain functions, and bad answers through a real bake."""

import ast
import shlex
import subprocess
import tomllib

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException

from tests.support.bakes import bake, bake_on_the_command_line, show, tool, uv_on_path
from tests.support.hooks import post_gen, pre_gen
from tests.support.matrix import (
    COMBINATIONS,
    COOKIECUTTER_JSON,
    SOURCE_DIR,
    combination_id,
    combinations,
)


def test_matrix_is_the_product_of_cookiecutter_json_choices():
    assert len(COMBINATIONS) == 2 * 3 * 2 * 3
    assert COMBINATIONS[0] == {
        "channel_layer": "in-memory",
        "consumer_style": "async",
        "use_auth": True,
        "asgi_server": "daphne",
    }
    ids = [combination_id(c) for c in COMBINATIONS]
    assert len(set(ids)) == len(ids)
    assert "redis-json-noauth-granian" in ids


def test_matrix_follows_new_choices():
    context = {**COOKIECUTTER_JSON, "channel_layer": ["in-memory", "redis", "postgres"]}
    assert len(combinations(context)) == 3 * 3 * 2 * 3


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Chat Server", id="plain"),
        pytest.param("O'Brien's \"Chat\" '''x''' \"\"\"y\"\"\"", id="quotes"),
        pytest.param("back\\slash \\n and trailing \\", id="backslashes"),
        pytest.param("Café 聊天 😀 👩‍💻", id="non-ascii"),
        pytest.param("{{ x }} {% if %} <script>", id="markup"),
        pytest.param("  spaced  ", id="outer-spaces"),
    ],
)
@pytest.mark.parametrize("field", ["project_name", "description", "author_name"])
def test_one_line_answers(field, value):
    pre_gen.validate_one_line(field, value)


def test_blank_description_and_author_are_allowed():
    pre_gen.validate_one_line("description", "")
    pre_gen.validate_one_line("author_name", "  ")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param(
            "description",
            "one\ntwo",
            r"description 'one\ntwo' holds a line break: answer on one line.",
            id="newline",
        ),
        pytest.param(
            "project_name",
            "one\r\n",
            r"project_name 'one\r\n' holds a line break: answer on one line.",
            id="crlf",
        ),
        pytest.param(
            "author_name",
            "one\u2028two",
            r"author_name 'one\u2028two' holds a line break: answer on one line.",
            id="line-separator",
        ),
        pytest.param(
            "author_name",
            "a\tb",
            r"author_name 'a\tb' holds the control character '\t': remove it.",
            id="tab",
        ),
        pytest.param(
            "description",
            "\x1b[31mred",
            r"description '\x1b[31mred' holds the control character '\x1b': remove it.",
            id="escape",
        ),
        pytest.param(
            "description",
            "del\x7f",
            r"description 'del\x7f' holds the control character '\x7f': remove it.",
            id="delete",
        ),
        pytest.param(
            "project_name",
            "Caf\udce9",
            r"project_name 'Caf\udce9' holds '\udce9', which is not a character "
            "(input that is not UTF-8): answer in UTF-8.",
            id="surrogate",
        ),
        pytest.param(
            "project_name", "", "project_name '' is blank: give the project a name.", id="empty"
        ),
        pytest.param(
            "project_name",
            "   ",
            "project_name '   ' is blank: give the project a name.",
            id="blank",
        ),
    ],
)
def test_answers_that_are_not_one_line(field, value, message):
    with pytest.raises(ValueError) as caught:
        pre_gen.validate_one_line(field, value)
    assert str(caught.value) == message


@pytest.mark.parametrize("slug", ["chat_server", "my_app2", "a"])
def test_valid_slugs(slug):
    pre_gen.validate_project_slug(slug)


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("chat server", "not a valid Python identifier"),
        ("chat-server", "not a valid Python identifier"),
        ("2chat", "not a valid Python identifier"),
        ("", "not a valid Python identifier"),
        ("caf\u00e9", "not a valid Python identifier"),
        ("class", "Python keyword"),
        ("import", "Python keyword"),
        ("json", "would shadow"),
        ("asyncio", "would shadow"),
        ("django", "would shadow"),
        ("channels", "would shadow"),
        ("daphne", "would shadow"),
        ("config", "would shadow"),
        ("accounts", "would shadow"),
    ],
)
def test_invalid_slugs(slug, reason):
    with pytest.raises(ValueError, match=reason) as caught:
        pre_gen.validate_project_slug(slug)
    assert str(caught.value).startswith("project_slug ")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("email", ["you@example.com", "a.b+c@sub.example.org"])
def test_valid_emails(email):
    pre_gen.validate_author_email(email)


@pytest.mark.parametrize("email", ["", "you", "you@", "@example.com", "you@example", "a b@c.d"])
def test_invalid_emails(email):
    with pytest.raises(ValueError, match="^author_email .* does not look like an address"):
        pre_gen.validate_author_email(email)


GOOD_ANSWERS = {
    "project_name": "Chat Server",
    "project_slug": "chat_server",
    "description": "A chat server.",
    "author_name": "Your Name",
    "author_email": "you@example.com",
}


def test_pre_gen_main_accepts_good_answers(capsys):
    assert pre_gen.main(GOOD_ANSWERS) == 0
    assert capsys.readouterr().err == ""


def test_pre_gen_main_reports_one_line(capsys):
    assert pre_gen.main({**GOOD_ANSWERS, "project_slug": "for"}) == 1
    err = capsys.readouterr().err
    assert err.startswith("ERROR: project_slug 'for' is a Python keyword")
    assert err.count("\n") == 1


def test_pre_gen_main_checks_free_text_before_the_slug(capsys):
    assert pre_gen.main({**GOOD_ANSWERS, "project_name": "Chat\nServer"}) == 1
    err = capsys.readouterr().err
    assert err == "ERROR: project_name 'Chat\\nServer' holds a line break: answer on one line.\n"


def test_pre_gen_main_checks_the_email_is_one_line(capsys):
    assert pre_gen.main({**GOOD_ANSWERS, "author_email": "you\x01@example.com"}) == 1
    err = capsys.readouterr().err
    assert err.startswith(r"ERROR: author_email 'you\x01@example.com' holds the control character")


def make_source(tmp_path):
    """Lay out the files the post_gen hook works on, as a bake leaves them; return the dir.

    Each variant module holds its own name, so a test can tell which one was kept.
    """
    for module in post_gen.VARIANTS:
        stem = (tmp_path / module).with_suffix("")
        stem.parent.mkdir(parents=True, exist_ok=True)
        for suffix in VARIANT_SUFFIXES[module]:
            path = stem.with_name(f"{stem.name}_{suffix}.py")
            path.write_text(f"# {path.name}\n")
    for paths in post_gen.OPTION_PATHS.values():
        for relative in paths:
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix:
                path.write_text("")
            else:
                path.mkdir()
    (tmp_path / ".env.example").write_text(
        "# comment\nDJANGO_SECRET_KEY=\nDJANGO_DEBUG=true\nPOSTGRES_PASSWORD=\n"
    )
    return tmp_path


# Every variant each module in post_gen.VARIANTS ships with, by file-name suffix.
VARIANT_SUFFIXES = {
    "chat/consumers.py": ["async", "sync", "json"],
    "config/server.py": ["daphne", "uvicorn", "granian"],
    "tests/users.py": ["auth", "noauth"],
    "tests/layer.py": ["in_memory", "redis"],
    "tests/server.py": ["daphne", "uvicorn", "granian"],
}


def test_every_option_with_variants_has_one_per_answer():
    choices = {key: value for key, value in COOKIECUTTER_JSON.items() if not key.startswith("_")}
    for module, option in post_gen.VARIANTS.items():
        answers = choices[option] if isinstance(choices[option], list) else [True, False]
        expected = sorted(post_gen.variant_suffix(answer) for answer in answers)
        assert sorted(VARIANT_SUFFIXES[module]) == expected
        stem = (SOURCE_DIR / module).with_suffix("")
        shipped = sorted(
            path.stem.removeprefix(f"{stem.name}_")
            for path in stem.parent.glob(f"{stem.name}_*.py")
        )
        assert shipped == expected, module


def public_names(path) -> set[str]:
    """Return the names a module defines at its top level that do not start with "_"."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return {name for name in names if not name.startswith("_")}


# Public names one twin alone may define: each is used only by a module that
# exists for that answer alone (tests/test_accounts.py, with auth).
ANSWER_ONLY_NAMES = {"users_auth.py": {"PASSWORD"}}


@pytest.mark.parametrize("module", list(post_gen.VARIANTS))
def test_variants_of_a_module_define_the_same_names(module):
    """The twins of a variant module share one interface: what the others import from it.

    A name missing from one twin would otherwise show only in a bake of that
    answer; a helper that one twin alone needs starts with "_".
    """
    stem = (SOURCE_DIR / module).with_suffix("")
    variants = sorted(stem.parent.glob(f"{stem.name}_*.py"))
    assert len(variants) > 1, module
    names = {
        path.name: public_names(path) - ANSWER_ONLY_NAMES.get(path.name, set()) for path in variants
    }
    first = variants[0].name
    assert names[first], module
    for name, defined in names.items():
        assert defined == names[first], f"{name} and {first} differ: {defined ^ names[first]}"


@pytest.mark.parametrize("combination", COMBINATIONS, ids=combination_id)
def test_select_variants_keeps_the_chosen_module_of_each(tmp_path, combination):
    project = make_source(tmp_path)
    post_gen.select_variants(project, combination)
    for module, option in post_gen.VARIANTS.items():
        target = project / module
        suffix = post_gen.variant_suffix(combination[option])
        assert target.read_text() == f"# {target.stem}_{suffix}.py\n"
        assert not list(target.parent.glob(f"{target.stem}_*.py")), module


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {
                "use_auth": True,
                "channel_layer": "in-memory",
                "consumer_style": "async",
                "asgi_server": "daphne",
            },
            [
                "config/redis_hosts.py",
                "tests/test_live_redis.py",
                "tests/test_redis_hosts.py",
                "config/server_logging.json",
            ],
        ),
        (
            {
                "use_auth": False,
                "channel_layer": "in-memory",
                "consumer_style": "json",
                "asgi_server": "daphne",
            },
            [
                "accounts",
                "chat/admin.py",
                "chat/migrations/0003_message_user.py",
                "tests/test_accounts.py",
                "config/redis_hosts.py",
                "tests/test_live_redis.py",
                "tests/test_redis_hosts.py",
                "config/server_logging.json",
            ],
        ),
        (
            {
                "use_auth": True,
                "channel_layer": "redis",
                "consumer_style": "sync",
                "asgi_server": "uvicorn",
            },
            ["serving/layers.py", "chat/dispatch.py", "serving/shutdown.py"],
        ),
    ],
)
def test_unused_paths(context, expected):
    assert post_gen.unused_paths(context) == expected


def test_remove_paths(tmp_path):
    project = make_source(tmp_path)
    post_gen.remove_paths(project, ["accounts", "serving/layers.py"])
    assert not (project / "accounts").exists()
    assert not (project / "serving" / "layers.py").exists()


def test_write_env_file_fills_new_secrets_each_time(tmp_path):
    project = make_source(tmp_path)
    first = post_gen.write_env_file(project).read_text()
    second = post_gen.write_env_file(project).read_text()
    assert first.startswith(post_gen.ENV_HEADER + "DJANGO_SECRET_KEY=")
    assert "# comment" not in first
    assert first.splitlines()[-2:-1] == ["DJANGO_DEBUG=true"]
    settings = dict(line.split("=", 1) for line in first.splitlines() if "=" in line)
    assert len(settings["DJANGO_SECRET_KEY"]) >= 50
    assert len(settings["POSTGRES_PASSWORD"]) >= 32
    assert settings["POSTGRES_PASSWORD"].replace("-", "").replace("_", "").isalnum()
    assert first != second
    assert (project / ".env").stat().st_mode & 0o777 == 0o600


BAD_ANSWERS = [
    pytest.param(
        {"project_slug": "my-project"}, "project_slug 'my-project' is not", id="dash-slug"
    ),
    pytest.param({"project_name": "2 Chat"}, "project_slug '2_chat' is not", id="derived"),
    pytest.param(
        {"project_slug": "lambda"}, "project_slug 'lambda' is a Python keyword", id="keyword"
    ),
    pytest.param(
        {"project_slug": "django"}, "project_slug 'django' would shadow", id="shadow-django"
    ),
    pytest.param(
        {"project_slug": "email"}, "project_slug 'email' would shadow", id="shadow-stdlib"
    ),
    pytest.param({"author_email": "nobody"}, "author_email 'nobody' does not look", id="bad-email"),
]


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS)
def test_bad_answer_stops_the_bake_and_leaves_nothing(tmp_path, capfd, answers, message):
    with pytest.raises(FailedHookException):
        bake(tmp_path, **answers)
    assert f"ERROR: {message}" in capfd.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS[:1] + BAD_ANSWERS[-1:])
def test_bad_answer_on_the_command_line(tmp_path, answers, message):
    result = bake_on_the_command_line(tmp_path, *(f"{k}={v}" for k, v in answers.items()))
    assert result.returncode != 0
    first_line = result.stderr.splitlines()[0]
    assert first_line.startswith(f"ERROR: {message}")
    assert list(tmp_path.iterdir()) == []


def test_unknown_choice_is_refused(tmp_path):
    result = bake_on_the_command_line(tmp_path, "channel_layer=postgres")
    assert result.returncode != 0
    assert "postgres provided for choice variable channel_layer" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_next_steps_lead_with_uv():
    assert post_gen.next_steps("chat_server").splitlines()[1:5] == [
        "  cd chat_server",
        "  uv sync",
        "  uv run python manage.py migrate",
        "  uv run python manage.py runserver",
    ]


def one_dependency_project(tmp_path):
    """Write a project that depends on Django alone, for uv to lock; return its directory."""
    project = tmp_path / "chat_server"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "chat_server"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["django>=5.2,<5.3"]\n'
    )
    return project


def test_write_lock_without_uv_on_path_says_how_to_lock_later(tmp_path):
    project = one_dependency_project(tmp_path)
    with uv_on_path(False):
        said = post_gen.write_lock(project)
    assert said == (
        'No uv.lock yet (uv is not on PATH): run "uv lock" in chat_server/, then commit uv.lock.'
    )
    assert not (project / "uv.lock").exists()


def test_write_lock_says_why_when_uv_cannot_reach_an_index(tmp_path, monkeypatch):
    """Offline with nothing cached: uv cannot resolve, as without a network."""
    project = one_dependency_project(tmp_path)
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-cache"))
    with uv_on_path(True):
        said = post_gen.write_lock(project)
    assert said.startswith("No uv.lock yet (uv lock failed: No solution found"), said
    assert said.endswith('): run "uv lock" in chat_server/, then commit uv.lock.'), said
    assert "\n" not in said
    assert not (project / "uv.lock").exists()


def run_ci_install(project, *extra: str) -> subprocess.CompletedProcess:
    """Run the baked CI workflow's install step in ``project``, ``extra`` appended; return it.

    Its ``uv`` is the harness's (``tool``); the output is text.
    """
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    (command,) = [step["run"] for step in steps if step.get("name") == "Install the project"]
    program, *args = shlex.split(command)
    assert program == "uv", command
    return subprocess.run(
        [tool("uv"), *args, *extra], cwd=project, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    "with_uv", [pytest.param(False, id="no-uv"), pytest.param(True, id="offline")]
)
def test_bake_without_a_lock_succeeds_and_says_so_in_one_line(tmp_path, monkeypatch, with_uv):
    """Without uv on PATH, or with a uv that reaches no index, the bake exits 0 and says so.

    Offline with an empty cache stands for no network. One line comes before the
    next steps; CI's install (uv sync --locked) then refuses the bake at once.
    """
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-cache"))
    result = bake_on_the_command_line(tmp_path / "out", with_uv=with_uv)
    assert result.returncode == 0, show(result)
    said, *steps = result.stdout.splitlines()
    reason = "uv lock failed: " if with_uv else "uv is not on PATH"
    assert said.startswith(f"No uv.lock yet ({reason}"), said
    assert said.endswith('): run "uv lock" in chat_server/, then commit uv.lock.'), said
    assert steps == post_gen.next_steps("chat_server").splitlines()
    project = tmp_path / "out" / "chat_server"
    assert not (project / "uv.lock").exists()
    # The workflow's `uv sync --locked` stops at once, naming the missing file.
    refused = run_ci_install(project, "--dry-run")
    assert refused.returncode != 0, show(refused)
    assert "Unable to find lockfile at `uv.lock`" in refused.stderr, show(refused)


def test_bake_with_uv_on_path_holds_the_lock_ci_installs_from(tmp_path, capfd):
    project = bake(tmp_path, with_uv=True)
    assert capfd.readouterr().out.splitlines() == post_gen.next_steps("chat_server").splitlines()
    result = run_ci_install(project, "--dry-run")
    assert result.args[1:] == ["sync", "--locked", "--dry-run"]
    assert result.returncode == 0, show(result)
    locked = {
        package["name"] for package in tomllib.loads((project / "uv.lock").read_text())["package"]
    }
    # The dependencies and the dev group, which uv sync installs by default.
    assert {"django", "channels", "daphne", "pytest", "ruff"} <= locked, locked
