"""``make bench``: baked projects under each ASGI server against two bare websocket servers.

For each setup (channel layer x consumer style x ASGI server, without auth) it
bakes the project, gives it a SQLite database of its own (migrated), serves it
with ``manage.py serve`` as a real process (one worker, so every server is
compared per process with the one-process bare servers), and measures with the
baked project's own load tool (``manage.py loadtest``, in processes of its own,
``--processes``; the same tool measures the bare servers):

- echo: N clients each doing M sequential round trips: messages/s, p50, p99;
- broadcast: K members in one room, S of them sending at once: deliveries/s,
  delivered against sent (a lost message fails the benchmark);
- idle: server resident memory per open idle connection, at C connections.

The bare servers (bench/bare_server.py, on ``websockets`` and on ``picows``)
run from this Python, so they need the template's test requirements. Each is
also measured with the load tool in one process, alternating with the full
count on the same server, so that the results show whether one process of the
tool caps the figures.

Each figure is measured R times; the tables give the median, the spread (min
to max) and the ratios of the medians to each bare server's from the same run.
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
# The bare servers, by name in the results, and the library each is built on.
BARE_LIBRARIES = {"bare websockets": "websockets", "bare picows": "picows"}
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
    # Processes of the load tool: one per core. One Python process takes in a
    # broadcast's deliveries slower than the fastest servers send them
    # (BENCHMARKS.md, "The load tool").
    processes: int = os.cpu_count() or 1


@dataclass
class Figures:
    """Every repeat of each figure for one target (a setup or a bare server) under one load."""

    name: str
    processes: int  # of the load tool
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


def measure(
    start, tool: list[str], cwd: Path, env: dict, load: Workload, one_process: bool = False
) -> tuple[Figures, Figures | None]:
    """Measure every figure ``load.repeats`` times against targets made by ``start()``.

    Returns the figures under ``load.processes`` processes of the load tool
    and, when ``one_process``, the echo and broadcast figures under one
    process, taken on the same server in turn with the others within each
    repeat (None otherwise). Echo and broadcast share one server. Memory per
    idle connection is taken on a fresh server each time: one that has already
    served a load reuses memory it holds, and the difference would say nothing.
    """
    echo_args = ["--only", "echo", "--echo-clients", str(load.echo_clients)]
    echo_args += ["--echo-messages", str(load.echo_messages)]
    broadcast_args = ["--only", "broadcast", "--members", str(load.members)]
    broadcast_args += ["--senders", str(load.senders), "--messages", str(load.messages)]
    target = start()
    figures = Figures(target.name, load.processes)
    single = Figures(target.name, 1) if one_process else None
    try:
        # One warm-up round, not counted: imports, caches and connection pools.
        loadtest(tool, cwd, env, target.url, "--only", "echo", "--echo-clients", "5")
        for _ in range(load.repeats):
            for taken in filter(None, (figures, single)):
                processes = ("--processes", str(taken.processes))
                echo = loadtest(tool, cwd, env, target.url, *echo_args, *processes)["echo"]
                taken.echo.append(echo["messages_per_s"])
                taken.p50.append(echo["p50_ms"])
                taken.p99.append(echo["p99_ms"])
                result = loadtest(tool, cwd, env, target.url, *broadcast_args, *processes)
                taken.broadcast.append(result["broadcast"]["deliveries_per_s"])
                taken.delivered += result["broadcast"]["delivered"]
                taken.sent += result["broadcast"]["sent"]
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
    return figures, single


def spread(values: list[float], digits: str = ",.0f") -> str:
    """``median (min–max)`` of a figure's repeats, each formatted with ``digits``."""
    low, middle, high = min(values), statistics.median(values), max(values)
    return f"{middle:{digits}} ({low:{digits}}–{high:{digits}})"


def ratio_header(bare: Figures) -> str:
    """``× websockets`` for the bare websockets server: a ratio column's header."""
    return f"× {bare.name.removeprefix('bare ')}"


def markdown(results: list[Figures], bares: list[Figures]) -> str:
    """Return the results table: medians, spreads and ratios to each bare server."""
    ratios = " | ".join(ratio_header(bare) for bare in bares)
    right = " | ".join("---:" for _ in bares)
    lines = [
        f"| setup | echo msg/s (min–max) | {ratios} | p50 / p99 ms "
        f"| broadcast deliveries/s (min–max) | {ratios} | delivered / sent "
        f"| KiB per idle connection | {ratios} |",
        f"| --- | ---: | {right} | ---: | ---: | {right} | ---: | ---: | {right} |",
    ]

    def against(figures: Figures, figure: str) -> str:
        value = statistics.median(getattr(figures, figure))
        return " | ".join(
            f"{value / statistics.median(getattr(bare, figure)):.2f}" for bare in bares
        )

    for figures in [*bares, *results]:
        lines.append(
            f"| {figures.name} | {spread(figures.echo)} "
            f"| {against(figures, 'echo')} "
            f"| {statistics.median(figures.p50):.1f} / {statistics.median(figures.p99):.1f} "
            f"| {spread(figures.broadcast)} | {against(figures, 'broadcast')} "
            f"| {figures.delivered} / {figures.sent} "
            f"| {spread(figures.memory, '.1f')} | {against(figures, 'memory')} |"
        )
    return "\n".join(lines)


def load_table(pairs: list[tuple[Figures, Figures]]) -> str:
    """Return the table of each bare server under one process of the load tool and under all.

    ``pairs`` holds (one process, all processes) figures of each bare server.
    """
    lines = [
        "| bare server | load processes | echo msg/s (min–max) | × 1 process | p50 / p99 ms "
        "| broadcast deliveries/s (min–max) | × 1 process | delivered / sent |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for single, full in pairs:
        for figures in (single, full):
            echo, broadcast = statistics.median(figures.echo), statistics.median(figures.broadcast)
            lines.append(
                f"| {figures.name} | {figures.processes} "
                f"| {spread(figures.echo)} "
                f"| {echo / statistics.median(single.echo):.2f} "
                f"| {statistics.median(figures.p50):.1f} / {statistics.median(figures.p99):.1f} "
                f"| {spread(figures.broadcast)} "
                f"| {broadcast / statistics.median(single.broadcast):.2f} "
                f"| {figures.delivered} / {figures.sent} |"
            )
    return "\n".join(lines)


def plot(results: list[Figures], bares: list[Figures], path: Path) -> None:
    """Write bar charts of each setup's three ratios to each bare server to ``path`` (PNG).

    One panel per figure, one bar per bare server beside each setup's name,
    and a line at 1: the bare server's own level.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [figures.name for figures in results]
    panels = {
        "echo": "echo msg/s",
        "broadcast": "broadcast deliveries/s",
        "memory": "memory per idle connection",
    }
    width = 0.8 / len(bares)
    figure, axes = plt.subplots(3, 1, figsize=(12, 11), sharex=True)
    for axis, (figure_name, label) in zip(axes, panels.items(), strict=True):
        for number, bare in enumerate(bares):
            level = statistics.median(getattr(bare, figure_name))
            values = [statistics.median(getattr(f, figure_name)) / level for f in results]
            offset = (number - (len(bares) - 1) / 2) * width
            positions = [index + offset for index in range(len(names))]
            axis.bar(positions, values, width, label=ratio_header(bare))
        axis.axhline(1.0, color="grey", linewidth=0.8)
        axis.set_ylabel(f"{label}\n(ratio to the bare server)")
    axes[0].legend(loc="upper right")
    axes[-1].set_xticks(range(len(names)), names, rotation=60, ha="right")
    figure.suptitle("Baked projects against bare websocket servers (same run, 2-core machine)")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def machine(pythons: list[Path]) -> str:
    """Describe the machine and the package versions the setups ran with, across their venvs.

    A package installed at different versions in different venvs lists each.
    """
    packages = ["django", "channels", "channels-redis", "daphne", "uvicorn", "granian"]
    packages += ["websockets", "picows", "redis", "hiredis"]
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
    """One baked project (a combination without auth), how long its bake took, its settings."""

    combination: dict
    path: Path
    bake_seconds: float
    env: dict = field(default_factory=dict)  # its settings, its own database included

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
    parser.add_argument(
        "--load-processes",
        type=int,
        default=Workload.processes,
        help="processes of the load tool (default: one per core)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny workloads, to check it runs")
    parser.add_argument("--output", type=Path, default=TEMPLATE_DIR / "BENCHMARKS.md")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    arguments = parser.parse_args()
    load = Workload(repeats=arguments.repeats, processes=arguments.load_processes)
    if arguments.quick:
        load = Workload(5, 10, 5, 2, 5, 20, repeats=1, processes=arguments.load_processes)

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
        "SERVER_WORKERS": "1",
        "CHANNEL_LAYER_CAPACITY": "100000",  # the benchmark measures speed, not back-pressure
        # Nor abuse limits: each sender sends its messages at once.
        "CHAT_RATE": "100000",
        "CHAT_BURST": "100000",
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
        for setup in setups:
            # A database of its own, as a deployment has: a stored message
            # is written to the setup's database alone.
            setup.env = {**env, "DATABASE_URL": f"sqlite:///{work / setup.name}.sqlite3"}
            subprocess.run(
                [str(venvs[setup.venv_key]), "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=setup.path,
                env=setup.env,
                check=True,
            )
        tool_setup = setups[0]
        tool = [str(venvs[tool_setup.venv_key]), "manage.py", "loadtest"]

        bares, load_pairs = [], []
        for name, library in BARE_LIBRARIES.items():
            command = [sys.executable, str(BARE_SERVER), "--library", library]
            full, single = measure(
                lambda name=name, command=command: Target(name, command, work, env),
                tool,
                tool_setup.path,
                tool_setup.env,
                load,
                one_process=True,
            )
            bares.append(full)
            load_pairs.append((single, full))
            print(f"measured {name}", file=sys.stderr)
        results = []
        for setup in setups:
            command = [str(venvs[setup.venv_key]), "manage.py", "serve", "--bind", "127.0.0.1"]
            figures, _ = measure(
                lambda setup=setup, command=command: Target(
                    setup.name, command, setup.path, setup.env
                ),
                tool,
                tool_setup.path,
                tool_setup.env,
                load,
            )
            results.append(figures)
            print(f"measured {setup.name}", file=sys.stderr)
    finally:
        if redis is not None:
            redis.kill()

    measured = [*bares, *(single for single, _ in load_pairs), *results]
    lost = sorted({f.name for f in measured if f.delivered != f.sent})
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
    processes = f"{load.processes} process{'es' if load.processes > 1 else ''}"
    report = "\n".join(
        [
            RESULTS_START,
            f"Machine: {machine([*venvs.values(), Path(sys.executable)])}.",
            "",
            f"Workload: echo {load.echo_clients} clients × {load.echo_messages} round trips; "
            f"broadcast {load.members} members, {load.senders} sending {load.messages} each; "
            f"{load.idle} idle connections; the load tool in {processes} "
            f"(`--processes {load.processes}`); each figure {load.repeats}× (median, min–max).",
            "",
            markdown(results, bares),
            "",
            "The load tool in one process and in all, taking turns on the same bare server "
            "(× 1 process: the ratio of medians):",
            "",
            load_table(load_pairs),
            "",
            f"Template test run: one bake {bake_seconds:.2f} s (median of {len(setups)}); one "
            f"install of a baked project's dependencies {install:.1f} s (median); the whole "
            f"matrix (`make test`): {matrix_line}.",
            RESULTS_END,
        ]
    )
    print(report)
    write_results(arguments.output, report)
    plot(results, bares, arguments.output.with_suffix(".png"))
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
