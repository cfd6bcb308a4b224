"""``make bench`` runs end to end: a tiny workload on one setup and both bare servers."""

import re
import subprocess
import sys

import pytest

from tests.support.matrix import TEMPLATE_DIR

BARE_SERVERS = ("websockets", "picows")


def table(text: str, header: str) -> list[list[str]]:
    """Return the cells of each row of the markdown table whose header starts ``header``,
    the header row first (its separator row left out)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.split("|")[1:-1]])
    del rows[1]
    return rows


def number(cell: str) -> float:
    """The figure at the start of a cell: ``1,234 (1,100–1,300)`` gives 1234.0."""
    return float(cell.split(" ")[0].replace(",", ""))


@pytest.mark.xdist_group("bench")
def test_bench_measures_a_setup_against_both_bare_servers(tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    output.write_text("# Benchmarks\n\nMethod text that must survive.\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            *("--layers", "redis", "--styles", "async", "--servers", "granian"),
            *("--load-processes", "2"),
            *("--output", str(output)),
        ],
        cwd=TEMPLATE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = output.read_text()
    assert text.startswith("# Benchmarks\n\nMethod text that must survive.\n")

    header, *rows = table(text, "| setup |")
    assert [row[0] for row in rows] == ["bare websockets", "bare picows", "redis-async-granian"]
    # Each figure, then its ratio to each bare server, in the order of BARE_SERVERS.
    ratio_columns = {}
    for figure, column in (("echo", 1), ("broadcast", 5), ("memory", 9)):
        assert header[column + 1 : column + 3] == [f"× {bare}" for bare in BARE_SERVERS], header
        ratio_columns[figure] = (column, column + 1, column + 2)
    bares = dict(zip(BARE_SERVERS, rows[:2], strict=True))
    for row in rows:
        for figure, (column, *ratios) in ratio_columns.items():
            assert number(row[column]) > 0, (figure, row)
            for bare_name, ratio in zip(BARE_SERVERS, ratios, strict=True):
                # A ratio rounded to two places may read 0.00 on a loaded machine
                # with this tiny workload: each is checked against the two figures
                # it divides, as the table shows them (rounded).
                expected = number(row[column]) / number(bares[bare_name][column])
                assert abs(float(row[ratio]) - expected) <= 0.01 + expected / 100, (figure, row)
                if row is bares[bare_name]:
                    assert row[ratio] == "1.00", (figure, row)
    for row in rows:
        delivered, sent = row[8].split(" / ")
        assert delivered == sent != "0", row

    workload = next(line for line in text.splitlines() if line.startswith("Workload: "))
    assert "the load tool in 2 processes (`--processes 2`)" in workload, workload
    header, *rows = table(text, "| bare server |")
    assert [(row[0], row[1]) for row in rows] == [
        (f"bare {bare}", processes) for bare in BARE_SERVERS for processes in ("1", "2")
    ]
    for single, full in (rows[0:2], rows[2:4]):
        assert single[3] == single[6] == "1.00", single
        assert float(full[3]) > 0 and float(full[6]) > 0, full
        for row in (single, full):
            delivered, sent = row[7].split(" / ")
            assert delivered == sent != "0", row

    machine = next(line for line in text.splitlines() if line.startswith("Machine: "))
    for package in ("granian", "channels-redis", "websockets", "picows"):
        assert re.search(rf"\b{package} \d", machine), machine
    assert "one bake" in text
    assert output.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
