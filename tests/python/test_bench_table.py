#!/usr/bin/env python3
"""tools/bench-table.py on a bench JSON with known rows: the README row it prints carries the
values (the build time too, or a dash), the mode from the device line, a failed run's exit code; a
malformed file is refused."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "bench-table.py")


def table(rows, *opts):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(rows, f)
    try:
        return subprocess.run([sys.executable, TOOL, *opts, f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)


def row(model, us, backend="cuda", rc=0):
    return {"model": model, "backend": backend, "us_per_step": us, "rc": rc}


def main():
    out = table([
        {"model": "coba-4000", "backend": "cuda", "neurons": 4000.0, "synapses": 320481.0, "rate_hz": 21.119,
         "events_per_s": 6752000.0, "us_per_step": 1.834, "rtf": 0.01834, "build_s": 0.0421,
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
                        "4,000 | 320,481 | 21.12 | 6.8e6 | 1.83 | 0.018 | 0.04 |"), lines[2]
    assert lines[3] == "| pd14 (exit 124) | cuda, graph mode | 77,169 | 3e8 | 3.50 | 1.1e9 | – | – | – |", lines[3]
    bad = table({"model": "not a list"})
    assert bad.returncode != 0 and "expected a list" in bad.stderr, bad.stderr
    # --compare: variants (BASE-VARIANT) against their base, fastest first; other backends and
    # failed runs apart.
    cmp = table([row("coba-4000", 8.0), row("coba-4000-pdl", 6.0), row("coba-4000-cluster", 10.0),
                 row("coba-4000-cluster-local", 2.0), row("coba-4000-broken", None, rc=124), row("pd14", 20.0),
                 row("pd14-warp", 120.0), row("coba-4000", 30.0, backend="cpu")], "--compare")
    assert cmp.returncode == 0, cmp.stderr
    got = [l.split() for l in cmp.stdout.strip().splitlines()]
    assert got == [["coba-4000", "(cuda):", "8.00", "us/step"],
                   ["cluster-local", "2.00", "us/step", "0.25x", "faster"],
                   ["pdl", "6.00", "us/step", "0.75x", "faster"],
                   ["cluster", "10.00", "us/step", "1.25x"],
                   ["pd14", "(cuda):", "20.00", "us/step"],
                   ["warp", "120.00", "us/step", "6.00x"],
                   ["failed:", "coba-4000-broken"]], got
    print("bench-table: rows, modes, failed runs, variant comparison and a malformed file as expected")


if __name__ == "__main__":
    main()
