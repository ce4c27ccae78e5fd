#!/usr/bin/env python3
"""Where a kernel's warps stall, from Nsight Compute's per-instruction source page:

    ncu --import R.ncu-rep --page source --print-source sass --csv > R-sass.csv   (tools/gpu-profile.sh)
    tools/ncu-hot.py R-sass.csv [-n 25]

Prints the stall reasons summed over the kernel (share of all samples) and the n instructions
with the most samples, in program order, each with its main stall reason."""
import argparse
import csv
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("-n", type=int, default=25, help="instructions to list (default 25)")
    a = ap.parse_args()
    rows = list(csv.reader(open(a.csv, newline="")))
    head = next((i for i, r in enumerate(rows) if r and r[0] == "Address"), None)
    if head is None:
        sys.exit(f"{a.csv}: no 'Address' header row: not an ncu --page source --csv export")
    h, data = rows[head], [r for r in rows[head + 1:] if len(r) == len(rows[head])]
    col = h.index("Warp Stall Sampling (All Samples)")
    reasons = [i for i, x in enumerate(h) if x.startswith("stall_") and "Not Issued" not in x]

    def num(x):
        try:
            return int(x.replace(",", ""))
        except ValueError:
            return 0

    total = sum(num(r[col]) for r in data) or 1
    by = {h[i][6:]: sum(num(r[i]) for r in data) for i in reasons}
    print(f"{a.csv}: {total} samples, {len(data)} instructions")
    print("  " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in sorted(by.items(), key=lambda x: -x[1])[:8] if v))
    top = sorted(range(len(data)), key=lambda j: -num(data[j][col]))[: a.n]
    for j in sorted(top):
        r = data[j]
        main_reason = h[max(reasons, key=lambda i: num(r[i]))][6:] if reasons else "-"
        print(f"{j:6d} {num(r[col]):7d} {100 * num(r[col]) / total:5.1f}%  {main_reason:16s} {r[1].strip()[:90]}")


if __name__ == "__main__":
    main()
