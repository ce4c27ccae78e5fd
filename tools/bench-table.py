#!/usr/bin/env python3
"""Turns a bench JSON written by tools/gpu-check.sh (or `volley bench --json`) into the Markdown
table of the README's Performance section, so that a GPU session spends its time measuring, not
formatting. Usage: tools/bench-table.py data/bench/DATE-DEVICE.json

--compare prints instead, for each benchmark with variants (rows named BASE-VARIANT, such as
coba-1M-update-bounds or coba-4000-cluster-local against coba-4000), the variants' time per step
against the base's, fastest first, so that the defaults can be chosen from one run."""
import argparse
import json
import sys


def sci(x):
    """1.6e9 -> 1.6e9, 320481 -> 320,481 (the README's style)."""
    if x is None:
        return "–"
    if x >= 1e6:
        mantissa, exponent = f"{x:.2g}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{x:,.0f}"


def compare(rows):
    """Each base row (same backend) followed by its variants, fastest first, with the ratio."""
    ok = [r for r in rows if r.get("rc", 0) == 0 and r.get("us_per_step")]
    names = {(r["model"], r.get("backend")) for r in ok}
    families = {}
    for r in ok:
        be = r.get("backend")
        bases = [m for m, b in names if b == be and r["model"].startswith(m + "-")]
        if bases:
            families.setdefault((min(bases, key=len), be), []).append(r)
    failed = [r["model"] for r in rows if r.get("rc", 0) != 0]
    for (base, be), variants in sorted(families.items()):
        b = next(r for r in ok if r["model"] == base and r.get("backend") == be)
        print(f"{base} ({be}): {b['us_per_step']:.2f} us/step")
        for v in sorted(variants, key=lambda r: r["us_per_step"]):
            ratio = v["us_per_step"] / b["us_per_step"]
            mark = "  faster" if ratio < 1 else ""
            print(f"  {v['model'][len(base) + 1:]:24} {v['us_per_step']:9.2f} us/step  {ratio:5.2f}x{mark}")
    if failed:
        print("failed: " + ", ".join(failed))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="bench JSON (a list of rows with model, backend, neurons, synapses, "
                                 "rate_hz, events_per_s, us_per_step, rtf, device, rc, build_s)")
    ap.add_argument("--compare", action="store_true", help="variants against their base instead of the table")
    args = ap.parse_args()
    try:
        rows = json.load(open(args.json))
    except (OSError, ValueError) as e:
        sys.exit(f"{args.json}: cannot read a bench JSON: {e}")
    if not isinstance(rows, list):
        sys.exit(f"{args.json}: expected a list of rows, found {type(rows).__name__}")
    if any(not isinstance(r, dict) or "model" not in r for r in rows):
        sys.exit(f"{args.json}: a row without a model")
    if args.compare:
        compare(rows)
        return
    print("| model | backend, mode | N | synapses | rate (Hz) | events per simulated s | µs/step | RTF | build (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if not isinstance(r, dict) or "model" not in r:
            sys.exit(f"{args.json}: a row without a model: {r!r}")
        dev = r.get("device") or ""
        mode = dev.split(", ", 1)[1] if ", " in dev else dev
        failed = "" if r.get("rc", 0) == 0 else f" (exit {r['rc']})"
        us, rtf, rate, build = r.get("us_per_step"), r.get("rtf"), r.get("rate_hz"), r.get("build_s")
        print(f"| {r['model']}{failed} | {r.get('backend', '?')}, {mode} | {sci(r.get('neurons'))} | "
              f"{sci(r.get('synapses'))} | {'–' if rate is None else f'{rate:.2f}'} | {sci(r.get('events_per_s'))} | "
              f"{'–' if us is None else f'{us:.2f}'} | {'–' if rtf is None else f'{rtf:.3f}'} | "
              f"{'–' if build is None else f'{build:.2f}'} |")


if __name__ == "__main__":
    main()
