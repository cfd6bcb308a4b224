"""``make bench`` runs end to end: a tiny workload on one setup and the bare server."""

import subprocess
import sys

import pytest

from tests.support.matrix import TEMPLATE_DIR


@pytest.mark.xdist_group("bench")
def test_bench_measures_a_setup_against_the_bare_server(tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    output.write_text("# Benchmarks\n\nMethod text that must survive.\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            *("--layers", "redis", "--styles", "async", "--servers", "granian"),
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
    rows = [line for line in text.splitlines() if line.startswith("| bare websockets")]
    rows += [line for line in text.splitlines() if line.startswith("| redis-async-granian")]
    assert len(rows) == 2, text
    bare_cells = [cell.strip() for cell in rows[0].split("|")[1:-1]]
    setup_cells = [cell.strip() for cell in rows[1].split("|")[1:-1]]
    assert bare_cells[2] == bare_cells[5] == bare_cells[8] == "1.00"
    # The figures themselves: a ratio rounded to two places may read 0.00 on a
    # loaded machine with this tiny workload.
    echo, deliveries = (float(setup_cells[i].split(" ")[0].replace(",", "")) for i in (1, 4))
    assert echo > 0 and deliveries > 0, rows[1]
    delivered, sent = setup_cells[6].split(" / ")
    assert delivered == sent != "0"
    machine = next(line for line in text.splitlines() if line.startswith("Machine: "))
    assert "granian " in machine and "channels-redis " in machine, machine
    assert "one bake" in text
    assert output.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
