"""Fixtures and hooks of the template's tests; what they use lives in ``support``."""

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.bakes import BakedProject, uv_on_path
from tests.support.matrix import COMBINATIONS, TEMPLATE_DIR, combination_id
from tests.support.servers import PostgresServer, RedisServer


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


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster for this worker; each test creates its own database."""
    server = PostgresServer()
    try:
        yield server
    finally:
        server.stop()


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
    # Without uv on PATH: the matrix bakes write no lock (test_hooks.py tests the lock).
    with uv_on_path(False):
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


# Rough seconds a test takes in a full run on a 2-core machine (pytest
# --durations, 2026-12-02), where it is far above the few seconds most take;
# its bake and venv are counted apart.
SECONDS = {
    "test_image_serves_with_production_settings": 220,  # the base images first
    "test_unit_and_live_layers_pass_on_the_newest_python": 180,
    "test_unit_and_live_layers_pass_on_postgresql": 160,
    "test_browser_tests_pass": 135,
    "test_bench_measures_a_setup_against_both_bare_servers": 105,
    "test_live_tests_pass": 90,
    "test_compose_stack_stores_in_postgresql_and_chats_through_redis": 90,
    "test_connection_stays_open_past_nginx_default_read_timeout": 60,
    "test_rolling_restart_under_chat_load_loses_nothing": 55,
    "test_channel_layer_through_sentinel": 55,
    "test_channel_layer_over_tls": 40,
    "test_shards_carry_every_message_and_both_carry_traffic": 30,
    "test_cruft_update_applies_a_template_change_and_keeps_env": 25,
    "test_unit_tests_pass": 20,
    "test_pruning_timer_is_valid_and_its_command_prunes": 15,
    "test_readme_local_steps_work_in_a_fresh_clone": 7,
}
BAKE_SECONDS = 20  # a bake, its venv, and its static checks


def pytest_collection_modifyitems(items):
    """Keep each combination's tests together on one xdist worker; start the longest first.

    A combination's tests share its bake, so they form one xdist group, made
    adjacent since the session fixture holds one bake at a time (a stable
    sort keeps their order). Groups, and modules of tests without a bake, go
    longest first (``SECONDS``), so that no long group starts last while the
    other workers sit idle.
    """

    def combination(item) -> str | None:
        callspec = getattr(item, "callspec", None)
        if callspec and "baked_project" in callspec.params:
            return combination_id(callspec.params["baked_project"])
        return None

    scopes: dict = {}
    seconds: dict[str, float] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        baked = combination(item)
        key = scopes[item] = baked or item.module.__name__
        if key not in seconds:
            seconds[key] = BAKE_SECONDS if baked else 0
            first[key] = index
        seconds[key] += SECONDS.get(item.originalname, 1)
        if baked:
            item.add_marker(pytest.mark.xdist_group(key))
    items.sort(key=lambda item: (-seconds[scopes[item]], first[scopes[item]]))


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
