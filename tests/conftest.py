"""Fixtures and hooks of the template's tests; what they use lives in ``support``."""

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.bakes import BakedProject
from tests.support.matrix import COMBINATIONS, TEMPLATE_DIR, combination_id
from tests.support.servers import RedisServer


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis for the redis combinations: REDIS_URL if set, else a throwaway server.

    The throwaway server listens on a free loopback port, keeps no data on
    disk, and is stopped at the end of the session.
    """
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.kill()


def pytest_generate_tests(metafunc):
    """Parametrize ``baked_project``: every combination, or a test's covering subset.

    A test asks for a subset with ``@pytest.mark.combinations(subset)``. Every
    test sees the same combination dicts, so each is baked once per session.
    """
    if "baked_project" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("combinations")
    chosen = marker.args[0] if marker else COMBINATIONS
    metafunc.parametrize(
        "baked_project", chosen, indirect=True, ids=combination_id, scope="session"
    )


@pytest.fixture(scope="session")
def baked_project(request, cookies_session):
    """Bake one combination and install its venv; shared by every test of that combination."""
    combination = request.param
    result = cookies_session.bake(extra_context=combination)
    assert result.exception is None, result.exception
    assert result.exit_code == 0
    redis = combination["channel_layer"] == "redis"
    redis_url = request.getfixturevalue("redis_url") if redis else None
    return BakedProject.install(combination, Path(result.project_path), redis_url)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "combinations(subset): run the test on these combinations only"
    )


def pytest_collection_modifyitems(items):
    """Keep each combination's tests together, on one xdist worker, so each bakes once.

    Items of one combination are made adjacent (a stable sort keeps their
    order), since the session fixture holds one bake at a time.
    """
    order = {combination_id(c): index for index, c in enumerate(COMBINATIONS)}

    def group(item) -> str | None:
        callspec = getattr(item, "callspec", None)
        if callspec and "baked_project" in callspec.params:
            return combination_id(callspec.params["baked_project"])
        return None

    for item in items:
        if group(item):
            item.add_marker(pytest.mark.xdist_group(group(item)))
    items.sort(key=lambda item: order.get(group(item), -1))


def pytest_sessionstart(session):
    session.config.started = time.monotonic()


def pytest_sessionfinish(session, exitstatus):
    """Record the whole run's wall time for ``make bench`` (.cache/last-test-run.json).

    Only a full, passing run on the controller counts: a partial run's time
    would say nothing about the matrix.
    """
    config = session.config
    if hasattr(config, "workerinput") or exitstatus != 0 or config.args != ["tests"]:
        return
    record = {
        "seconds": round(time.monotonic() - config.started),
        "tests": session.testscollected,
        "workers": config.getoption("numprocesses", None),
        "when": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    path = TEMPLATE_DIR / ".cache" / "last-test-run.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(record) + "\n")
