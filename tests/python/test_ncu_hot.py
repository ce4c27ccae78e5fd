#!/usr/bin/env python3
"""tools/ncu-hot.py on a small source-page export with known stall samples: the per-reason shares
and the hottest instructions (in program order, each with its main reason); a file that is not
such an export is refused."""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "ncu-hot.py")

HEAD = ["Address", "Source", "Warp Stall Sampling (All Samples)", "Instructions Executed",
        "stall_long_sb", "stall_barrier", "stall_drain", "stall_long_sb (Not Issued)"]


def run(lines, *args):
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("\n".join(",".join(f'"{x}"' for x in row) for row in lines) + "\n")
    try:
        return subprocess.run([sys.executable, TOOL, f.name, *args], capture_output=True, text=True)
    finally:
        os.unlink(f.name)


def main():
    rows = [["Kernel Name", "k(int)", ""], HEAD,
            ["0x10", "LDG.E R0, [R2]", "10", "5", "10", "0", "0", "9"],
            ["0x20", "FADD R1, R0, R0", "60", "5", "50", "10", "0", "40"],
            ["0x30", "BAR.SYNC", "1,000", "5", "0", "1,000", "0", "0"],
            ["0x40", "EXIT", "130", "5", "0", "0", "130", "0"]]
    r = run(rows, "-n", "2")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert "1200 samples, 4 instructions" in out[0], out[0]
    # barrier 1010/1200, drain 130, long_sb 60: shares rounded, largest first
    assert out[1].strip() == "barrier 84%, drain 11%, long_sb 5%", out[1]
    body = [l.split() for l in out[2:]]
    assert [b[0] for b in body] == ["2", "3"], body  # the two hottest, in program order
    assert body[0][1:4] == ["1000", "83.3%", "barrier"], body[0]
    assert body[1][1:4] == ["130", "10.8%", "drain"], body[1]
    bad = run([["model", "rate"], ["coba", "3"]])
    assert bad.returncode != 0 and "not an ncu" in bad.stderr, (bad.returncode, bad.stderr)
    print("ok")


if __name__ == "__main__":
    main()
