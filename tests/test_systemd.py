"""The shipped systemd unit: valid for systemd, and patient enough with a stopping server."""

import re
import subprocess

from tests.support.bakes import show
from tests.support.deployment import required


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
