#!/usr/bin/env python3
"""tools/bench-table.py on a bench JSON with known rows: the README row it prints carries the
values, the mode from the device line, a failed run's exit code; a malformed file is refused."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "bench-table.py")


def table(rows):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(rows, f)
    try:
        return subprocess.run([sys.executable, TOOL, f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)


def main():
    out = table([
        {"model": "coba-4000", "backend": "cuda", "neurons": 4000.0, "synapses": 320481.0, "rate_hz": 21.119,
         "events_per_s": 6752000.0, "us_per_step": 1.834, "rtf": 0.01834,
         "device": "NVIDIA H100 80GB HBM3, cluster mode (4 blocks of 1024 threads, 52 KiB shared each), pipelined",
         "rc": 0},
        {"model": "pd14", "backend": "cuda", "neurons": 77169.0, "synapses": 298880968.0, "rate_hz": 3.5,
         "events_per_s": 1.06e9, "us_per_step": None, "rtf": None, "device": "NVIDIA H100 80GB HBM3, graph mode",
         "rc": 124},
    ])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 4, lines
    assert lines[2] == ("| coba-4000 | cuda, cluster mode (4 blocks of 1024 threads, 52 KiB shared each), pipelined | "
                        "4,000 | 320,481 | 21.12 | 6.8e6 | 1.83 | 0.018 |"), lines[2]
    assert lines[3] == "| pd14 (exit 124) | cuda, graph mode | 77,169 | 3e8 | 3.50 | 1.1e9 | – | – |", lines[3]
    bad = table({"model": "not a list"})
    assert bad.returncode != 0 and "expected a list" in bad.stderr, bad.stderr
    print("bench-table: rows, modes, failed runs and a malformed file as expected")


if __name__ == "__main__":
    main()
