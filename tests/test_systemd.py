"""The shipped systemd units: valid for systemd, patient enough with a stopping server, and
the retention timer's command prunes."""

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.bakes import show
from tests.support.deployment import required
from tests.support.matrix import DEFAULT_COMBINATION


def test_systemd_unit_is_valid_and_waits_longer_than_the_server(baked_project, tmp_path):
    required("systemd-analyze")
    (unit,) = (baked_project.path / "deploy").glob("*@.service")
    text = unit.read_text()
    (stop_timeout,) = re.findall(r"^TimeoutStopSec=(\d+)$", text, re.MULTILINE)
    # The server gives consumers SERVER_SHUTDOWN_TIMEOUT after SIGTERM.
    settings = (baked_project.path / "config" / "settings.py").read_text()
    (shutdown_timeout,) = re.findall(r'"SERVER_SHUTDOWN_TIMEOUT", default=(\d+)\)', settings)
    assert int(stop_timeout) > int(shutdown_timeout)
    # As it would run here: the bake's paths, root, an env file of the test's.
    env_file = tmp_path / "env"
    env_file.write_text("DJANGO_SECRET_KEY=test\n")
    srv = f"/srv/{baked_project.path.name}"
    local = text.replace(srv, str(baked_project.path))
    local = re.sub(r"^(User|Group)=.*$", r"\1=root", local, flags=re.MULTILINE)
    local = re.sub(
        r"^EnvironmentFile=.*$", f"EnvironmentFile={env_file}", local, flags=re.MULTILINE
    )
    (tmp_path / unit.name).write_text(local)
    instance = tmp_path / unit.name.replace("@.service", "@8001.service")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(instance)], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stderr.strip(), show(result)


@pytest.mark.combinations([DEFAULT_COMBINATION])
def test_pruning_timer_is_valid_and_its_command_prunes(baked_project, tmp_path):
    """The retention units pass systemd's checks, and the service's command line runs.

    They hold nothing that depends on the answers but the project's name, so one bake
    proves them.
    """
    required("systemd-analyze")
    deploy = baked_project.path / "deploy"
    srv = f"/srv/{baked_project.path.name}"
    for unit in deploy.glob("*-prune-messages.*"):
        local = unit.read_text().replace(srv, str(baked_project.path))
        local = re.sub(r"^(User|Group)=.*$", r"\1=root", local, flags=re.MULTILINE)
        local = re.sub(r"^EnvironmentFile=.*$", "", local, flags=re.MULTILINE)
        (tmp_path / unit.name).write_text(local)
    units = sorted(str(path) for path in tmp_path.glob("*-prune-messages.*"))
    assert [Path(unit).suffix for unit in units] == [".service", ".timer"]
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), show(result)
    # The service's command, as systemd would run it: a fresh message stays, an old one goes.
    service = (tmp_path / Path(units[0]).name).read_text()
    (command,) = re.findall(r"^ExecStart=(.*)$", service, re.MULTILINE)
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    for step in (
        ["python", "manage.py", "migrate", "--noinput", "-v", "0"],
        ["python", "manage.py", "post_message", "lobby", "news"],
    ):
        assert baked_project.run(*step, env=env).returncode == 0
    result = baked_project.run(*command.split(), env=env)
    assert result.returncode == 0, show(result)
    assert result.stdout == "Deleted 0 messages older than 30 days.\n", show(result)
    result = baked_project.run("python", "manage.py", "prune_messages", "--days", "0", env=env)
    assert result.stdout == "Deleted 1 messages older than 0 days.\n", show(result)
