"""``make bench``: baked projects under each ASGI server against a bare websockets server.

For each setup (channel layer x consumer style x ASGI server, without auth) it
bakes the project, serves it with ``manage.py serve`` as a real process (one
worker, so every server is compared per process with the one-process bare
server), and measures with the baked project's own load tool
(``manage.py loadtest``, in its own process; the same tool measures the bare
server):

- echo: N clients each doing M sequential round trips: messages/s, p50, p99;
- broadcast: K members in one room, S of them sending at once: deliveries/s,
  delivered against sent (a lost message fails the benchmark);
- idle: server resident memory per open idle connection, at C connections.

Each figure is measured R times; the table gives the median, the spread (min
to max) and the ratio of the medians to the bare server's from the same run.
It writes BENCHMARKS.md's results section and BENCHMARKS.png (ratios per setup).
"""

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.support.bakes import bake, install_venv
from tests.support.matrix import BENCH_COMBINATIONS, CHOICES, TEMPLATE_DIR, combination_id
from tests.support.servers import Background, RedisServer, answers_http, free_port

BARE_SERVER = Path(__file__).resolve().parent / "bare_server.py"
RESULTS_START = "<!-- results: written by bench/run.py -->"
RESULTS_END = "<!-- end of results -->"


@dataclass
class Workload:
    """How much load: echo clients and round trips, broadcast members, senders and
    messages, idle connections, and repeats of each figure."""

    echo_clients: int = 50
    echo_messages: int = 200
    members: int = 50
    senders: int = 5
    messages: int = 40
    idle: int = 1000
    repeats: int = 3


@dataclass
class Figures:
    """Every repeat of each figure for one target (a setup or the bare server)."""

    name: str
    echo: list[float] = field(default_factory=list)  # messages/s
    p50: list[float] = field(default_factory=list)  # ms
    p99: list[float] = field(default_factory=list)  # ms
    broadcast: list[float] = field(default_factory=list)  # deliveries/s
    delivered: int = 0
    sent: int = 0
    memory: list[float] = field(default_factory=list)  # KiB per idle connection


def tree_rss(process: subprocess.Popen) -> int:
    """Resident memory, in bytes, of ``process`` and all its children (workers)."""
    root = psutil.Process(process.pid)
    total = 0
    for member in [root, *root.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


class Target(Background):
    """A running server to measure: a baked project under its server, or the bare server.

    ``argv`` is its command line but for ``--port``; it is ready once it answers HTTP.
    """

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict) -> None:
        self.name = name
        self.port = free_port()
        log = cwd / f"{name.replace(' ', '-')}.log"
        super().__init__([*argv, "--port", str(self.port)], log, cwd=cwd, env=env)
        self.wait_until_ready(answers_http(f"http://127.0.0.1:{self.port}/"))

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def loadtest(tool: list[str], cwd: Path, env: dict, url: str, *args: str) -> dict:
    """Run the load tool once against ``url``; return its JSON figures. Raises on a loss."""
    result = subprocess.run(
        [*tool, url, "--json", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"loadtest against {url} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def idle_memory(tool: list[str], cwd: Path, env: dict, target: Target, connections: int) -> float:
    """Return the server's resident memory per open idle connection, in KiB."""
    before = tree_rss(target.process)
    holder = subprocess.Popen(
        [*tool, target.url, "--idle", str(connections), "--hold", "600"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = holder.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"idle holder failed: {line}{holder.stderr.read()}")
        time.sleep(2)  # let the server settle its buffers
        after = tree_rss(target.process)
    finally:
        holder.terminate()
        holder.wait()
    return (after - before) / connections / 1024


def measure(start, tool: list[str], cwd: Path, env: dict, load: Workload) -> Figures:
    """Measure every figure ``load.repeats`` times against targets made by ``start()``.

    Echo and broadcast share one server. Memory per idle connection is taken on
    a fresh server each time: one that has already served a load reuses memory
    it holds, and the difference would say nothing.
    """
    echo_args = ["--only", "echo", "--echo-clients", str(load.echo_clients)]
    echo_args += ["--echo-messages", str(load.echo_messages)]
    broadcast_args = ["--only", "broadcast", "--members", str(load.members)]
    broadcast_args += ["--senders", str(load.senders), "--messages", str(load.messages)]
    target = start()
    figures = Figures(target.name)
    try:
        # One warm-up round, not counted: imports, caches and connection pools.
        loadtest(tool, cwd, env, target.url, "--only", "echo", "--echo-clients", "5")
        for _ in range(load.repeats):
            echo = loadtest(tool, cwd, env, target.url, *echo_args)["echo"]
            figures.echo.append(echo["messages_per_s"])
            figures.p50.append(echo["p50_ms"])
            figures.p99.append(echo["p99_ms"])
            broadcast = loadtest(tool, cwd, env, target.url, *broadcast_args)["broadcast"]
            figures.broadcast.append(broadcast["deliveries_per_s"])
            figures.delivered += broadcast["delivered"]
            figures.sent += broadcast["sent"]
    finally:
        target.stop()
    for _ in range(load.repeats):
        fresh = start()
        try:
            # One connection first, so what the first one loads is not counted.
            loadtest(tool, cwd, env, fresh.url, "--only", "echo", "--echo-clients", "1")
            figures.memory.append(idle_memory(tool, cwd, env, fresh, load.idle))
        finally:
            fresh.stop()
    return figures


def summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def markdown(results: list[Figures], bare: Figures) -> str:
    """Return the results table: medians, spreads and ratios to the bare server."""
    bare_echo = statistics.median(bare.echo)
    bare_broadcast = statistics.median(bare.broadcast)
    bare_memory = statistics.median(bare.memory)
    lines = [
        "| setup | echo msg/s (min–max) | × bare | p50 / p99 ms | broadcast deliveries/s "
        "(min–max) | × bare | delivered / sent | KiB per idle connection | × bare |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for figures in [bare, *results]:
        echo, echo_min, echo_max = summary(figures.echo)
        broadcast, b_min, b_max = summary(figures.broadcast)
        memory, m_min, m_max = summary(figures.memory)
        lines.append(
            f"| {figures.name} | {echo:,.0f} ({echo_min:,.0f}–{echo_max:,.0f}) "
            f"| {echo / bare_echo:.2f} "
            f"| {statistics.median(figures.p50):.1f} / {statistics.median(figures.p99):.1f} "
            f"| {broadcast:,.0f} ({b_min:,.0f}–{b_max:,.0f}) | {broadcast / bare_broadcast:.2f} "
            f"| {figures.delivered} / {figures.sent} "
            f"| {memory:.1f} ({m_min:.1f}–{m_max:.1f}) | {memory / bare_memory:.2f} |"
        )
    return "\n".join(lines)


def plot(results: list[Figures], bare: Figures, path: Path) -> None:
    """Write a bar chart of the three ratios per setup to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [figures.name for figures in results]
    ratios = {
        "echo msg/s × bare": [
            statistics.median(f.echo) / statistics.median(bare.echo) for f in results
        ],
        "broadcast deliveries/s × bare": [
            statistics.median(f.broadcast) / statistics.median(bare.broadcast) for f in results
        ],
        "memory per idle connection × bare": [
            statistics.median(f.memory) / statistics.median(bare.memory) for f in results
        ],
    }
    figure, axes = plt.subplots(3, 1, figsize=(12, 10), sharex=True)
    for axis, (label, values) in zip(axes, ratios.items(), strict=True):
        axis.bar(range(len(names)), values)
        axis.axhline(1.0, color="grey", linewidth=0.8)
        axis.set_ylabel(label)
    axes[-1].set_xticks(range(len(names)), names, rotation=60, ha="right")
    figure.suptitle("Baked projects against a bare websockets server (same run, 2-core machine)")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def machine(pythons: list[Path]) -> str:
    """Describe the machine and the package versions the setups ran with, across their venvs.

    A package installed at different versions in different venvs lists each.
    """
    packages = ["django", "channels", "channels-redis", "daphne", "uvicorn", "granian"]
    packages += ["websockets", "redis", "hiredis"]
    code = (
        "import importlib.metadata as m, json, sys\n"
        f"names = {packages!r}\n"
        "found = {}\n"
        "for name in names:\n"
        "    try: found[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(found))\n"
    )
    versions: dict[str, set[str]] = {name: set() for name in packages}
    for python in pythons:
        found = json.loads(subprocess.check_output([str(python), "-c", code], text=True))
        for name, version in found.items():
            versions[name].add(version)
    listed = ", ".join(
        f"{name} {' / '.join(sorted(found))}" for name, found in versions.items() if found
    )
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}, "
        f"Python {platform.python_version()}; {listed}"
    )


@dataclass
class Setup:
    """One baked project (a combination without auth) and how long its bake took."""

    combination: dict
    path: Path
    bake_seconds: float

    @property
    def name(self) -> str:
        """``<layer>-<style>-<server>``: the combination's id without the auth part."""
        return combination_id(self.combination).replace("-noauth", "")

    @property
    def venv_key(self) -> tuple[str, str]:
        """Setups of one channel layer and server share their dependencies, so one venv."""
        return self.combination["channel_layer"], self.combination["asgi_server"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option, flag in (("channel_layer", "layers"), ("consumer_style", "styles")):
        parser.add_argument(
            f"--{flag}", nargs="+", default=CHOICES[option], choices=CHOICES[option]
        )
    servers = CHOICES["asgi_server"]
    parser.add_argument("--servers", nargs="+", default=servers, choices=servers)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny workloads, to check it runs")
    parser.add_argument("--output", type=Path, default=TEMPLATE_DIR / "BENCHMARKS.md")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    arguments = parser.parse_args()
    load = Workload(repeats=arguments.repeats)
    if arguments.quick:
        load = Workload(5, 10, 5, 2, 5, 20, repeats=1)

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    redis = None
    redis_url = arguments.redis_url
    if "redis" in arguments.layers and not redis_url:
        redis = RedisServer(work / "redis")
        redis_url = redis.url
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "SERVER_WORKERS": "1",
        "CHANNEL_LAYER_CAPACITY": "100000",  # the benchmark measures speed, not back-pressure
        "PYTHONWARNINGS": "ignore",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    chosen = [
        combination
        for combination in BENCH_COMBINATIONS
        if combination["channel_layer"] in arguments.layers
        and combination["consumer_style"] in arguments.styles
        and combination["asgi_server"] in arguments.servers
    ]
    try:
        setups = []
        for combination in chosen:
            started = time.perf_counter()
            path = bake(work / combination_id(combination), **combination)
            setups.append(Setup(combination, path, time.perf_counter() - started))
        venvs = {}
        install_seconds = {}
        for setup in setups:
            if setup.venv_key not in venvs:
                started = time.perf_counter()
                venv = work / f"venv-{'-'.join(setup.venv_key)}"
                install_venv(setup.path, venv=venv, project=False)
                venvs[setup.venv_key] = venv / "bin" / "python"
                install_seconds[setup.venv_key] = time.perf_counter() - started
        tool_setup = setups[0]
        tool_python = venvs[tool_setup.venv_key]
        tool = [str(tool_python), "manage.py", "loadtest"]
        subprocess.run(
            [str(tool_python), "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=tool_setup.path,
            env=env,
            check=True,
        )

        bare_figures = measure(
            lambda: Target("bare websockets", [str(tool_python), str(BARE_SERVER)], work, env),
            tool,
            tool_setup.path,
            env,
            load,
        )
        results = []
        for setup in setups:
            command = [str(venvs[setup.venv_key]), "manage.py", "serve", "--bind", "127.0.0.1"]
            results.append(
                measure(
                    lambda setup=setup, command=command: Target(
                        setup.name, command, setup.path, env
                    ),
                    tool,
                    tool_setup.path,
                    env,
                    load,
                )
            )
            print(f"measured {setup.name}", file=sys.stderr)
    finally:
        if redis is not None:
            redis.kill()

    lost = [figures.name for figures in results if figures.delivered != figures.sent]
    table = markdown(results, bare_figures)
    bake_seconds = statistics.median(setup.bake_seconds for setup in setups)
    install = statistics.median(install_seconds.values())
    matrix = TEMPLATE_DIR / ".cache" / "last-test-run.json"
    matrix_line = "not measured (run `make test` first)"
    if matrix.is_file():
        recorded = json.loads(matrix.read_text())
        matrix_line = (
            f"{recorded['seconds'] / 60:.1f} min for {recorded['tests']} tests "
            f"({recorded['when']}, -n {recorded['workers']})"
        )
    report = "\n".join(
        [
            RESULTS_START,
            f"Machine: {machine(list(venvs.values()))}.",
            "",
            f"Workload: echo {load.echo_clients} clients × {load.echo_messages} round trips; "
            f"broadcast {load.members} members, {load.senders} sending {load.messages} each; "
            f"{load.idle} idle connections; each figure {load.repeats}× (median, min–max).",
            "",
            table,
            "",
            f"Template test run: one bake {bake_seconds:.2f} s (median of {len(setups)}); one "
            f"install of a baked project's dependencies {install:.1f} s (median); the whole "
            f"matrix (`make test`): {matrix_line}.",
            RESULTS_END,
        ]
    )
    print(report)
    write_results(arguments.output, report)
    plot(results, bare_figures, arguments.output.with_suffix(".png"))
    shutil.rmtree(work, ignore_errors=True)
    if lost:
        print(f"messages lost in: {', '.join(lost)}", file=sys.stderr)
        return 1
    return 0


def write_results(path: Path, report: str) -> None:
    """Replace the results section of ``path`` (between the markers), or write it anew."""
    path.parent.mkdir(parents=True, exist_ok=True)
    empty = f"# Benchmarks\n\n{RESULTS_START}\n{RESULTS_END}\n"
    text = path.read_text() if path.is_file() else empty
    if RESULTS_START not in text:
        text += f"\n{RESULTS_START}\n{RESULTS_END}\n"
    before = text[: text.index(RESULTS_START)]
    after = text[text.index(RESULTS_END) + len(RESULTS_END) :]
    path.write_text(before + report + after)


if __name__ == "__main__":
    sys.exit(main())
