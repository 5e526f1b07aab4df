"""The benchmark script runs end to end and records every measurement."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_writes_every_measurement(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench.py"),
            "--samples",
            "20",
            "--exchanges",
            "3",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stderr
    results = json.loads(output.read_text())
    names = [entry["name"] for entry in results["measurements"]]
    assert len(names) == 7
    assert "token exchange RS256 (sign, POST, parse)" in names
    assert all(entry["median_ms"] > 0 for entry in results["measurements"])
    assert results["peak_memory_mib"] > 0
