#!/bin/bash
# COBA-4000 (or, with -m bh, Brunel-Hakim) on the CPU: Volley (configs/coba.yaml,
# configs/brunel_hakim.yaml) against Brian2 C++ standalone (tools/brian2_coba.py, tools/brian2_bh.py),
# same thread count, each run REPEAT times; prints the medians and the ratio volley/brian2.
#
#   tools/bench-cpu.sh [-m coba|bh] [-t THREADS] [-n REPEAT] [-v path/to/volley] [-c MODEL.yaml]
#                      [--no-output] [--no-brian2] [--no-volley]
# --no-output runs volley with --no-output instead of -o /tmp/... (Brian2 records only counts).
#
# Volley's time is read from its summary on stdout: the first line that looks like
# "simulate: X s" (also "simulate X ms", "sim_s = X", "simulation time: X s"); when there is none,
# the script says so and uses the wall time of the whole command instead. Brian2's time is the
# network's own timer (time steps only, compilation and synapse creation excluded). Benchmarks
# print; nothing here asserts a time.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
THREADS=1
REPEAT=3
VOLLEY="$ROOT/build/volley"
WHICH=coba
MODEL=""
PY=${PYTHON:-/usr/bin/python3}
DO_B2=1
DO_VL=1
NO_OUTPUT=0
while [ $# -gt 0 ]; do
    case "$1" in
        -t|--threads) THREADS=$2; shift 2 ;;
        -n|--repeat) REPEAT=$2; shift 2 ;;
        -v|--volley) VOLLEY=$2; shift 2 ;;
        -c|--config) MODEL=$2; shift 2 ;;
        -m|--model) WHICH=$2; shift 2 ;;
        --no-brian2) DO_B2=0; shift ;;
        --no-output) NO_OUTPUT=1; shift ;;
        --no-volley) DO_VL=0; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
        *) echo "bench-cpu.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

case "$WHICH" in
    coba) B2_SCRIPT=brian2_coba.py; : "${MODEL:=$ROOT/configs/coba.yaml}" ;;
    bh) B2_SCRIPT=brian2_bh.py; : "${MODEL:=$ROOT/configs/brunel_hakim.yaml}" ;;
    *) echo "bench-cpu.sh: -m expects coba or bh" >&2; exit 2 ;;
esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/volley-bench.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM

median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) exit 1; if (NR % 2) print a[(NR + 1) / 2]; else printf "%.6g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
now() { date +%s.%N; }

# Seconds from the first "simulate"-like line of a volley summary, then a tab and the line;
# empty when there is none. Tolerant: "simulate: 0.31 s", "simulate 310 ms", "sim_s = 0.31",
# "simulation time: 0.31 s", "simulate: 0.31 s (RTF 0.31)".
parse_volley_time() {
    "$PY" -c '
import re, sys
key = re.compile(r"(simulate|simulation(?: time)?|sim_s|sim_ms|sim_time|sim)\b[^0-9+\-.]*?([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(ms|us|µs|s\b)?", re.I)
for line in sys.stdin:
    m = key.search(line)
    if not m or re.match(r"\s*(rtf|real.?time)", line[m.end(1):], re.I):
        continue
    v = float(m.group(2))
    unit = (m.group(3) or ("ms" if m.group(1).lower() == "sim_ms" else "s")).lower()
    v /= {"s": 1, "ms": 1e3, "us": 1e6, "µs": 1e6}[unit]
    print("%.6g\t%s" % (v, line.strip()))
    break
'
}

VL_T=()
B2_T=()
VL_SRC=""
if [ $DO_VL = 1 ]; then
    if [ ! -x "$VOLLEY" ]; then
        echo "bench-cpu.sh: $VOLLEY not built (cmake -S . -B build && cmake --build build); skipping Volley" >&2
        DO_VL=0
    elif [ ! -f "$MODEL" ]; then
        echo "bench-cpu.sh: $MODEL not found; skipping Volley" >&2
        DO_VL=0
    fi
fi
if [ $DO_VL = 1 ]; then
    if [ $NO_OUTPUT = 1 ]; then OUTARG="--no-output"; else OUTARG="-o $TMP/run.h5"; fi
    echo "== volley: $VOLLEY run $MODEL --threads $THREADS --quiet $OUTARG, $REPEAT runs"
    for i in $(seq 1 "$REPEAT"); do
        rm -f "$TMP/run.h5"
        t0=$(now)
        # shellcheck disable=SC2086
        "$VOLLEY" run "$MODEL" --threads "$THREADS" --quiet $OUTARG >"$TMP/vl-$i.out" 2>&1
        rc=$?
        t1=$(now)
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b - a}')
        if [ $rc -ne 0 ]; then
            echo "  run $i: volley exited with $rc; its output:"
            sed 's/^/  | /' "$TMP/vl-$i.out"
            exit 1
        fi
        [ "$i" = 1 ] && { echo "  summary of run 1:"; sed 's/^/  | /' "$TMP/vl-1.out"; }
        found=$(parse_volley_time <"$TMP/vl-$i.out")
        if [ -n "$found" ]; then
            t=${found%%$'\t'*}
            VL_SRC="its summary line"
            echo "  run $i: simulate $t s (from \"${found#*$'\t'}\"), wall $wall s"
        else
            t=$wall
            VL_SRC="WALL TIME of the whole command (no 'simulate: X s' line found in its stdout)"
            echo "  run $i: no simulate line in volley's stdout; using wall time $wall s"
        fi
        VL_T+=("$t")
    done
fi

B2_RATE=""
if [ $DO_B2 = 1 ]; then
    echo "== brian2: tools/$B2_SCRIPT --threads $THREADS --repeat $REPEAT (C++ standalone; compiles first)"
    "$PY" "$ROOT/tools/$B2_SCRIPT" --threads "$THREADS" --repeat "$REPEAT" >"$TMP/b2.out" 2>&1
    rc=$?
    sed 's/^/  | /' "$TMP/b2.out"
    if [ $rc -ne 0 ]; then
        echo "  $B2_SCRIPT exited with $rc"
        DO_B2=0
    else
        while read -r t; do B2_T+=("$t"); done < <(sed -n 's/^run [0-9]*: simulate \([0-9.eE+-]*\) s.*/\1/p' "$TMP/b2.out")
        if grep -q '^rate_exc: ' "$TMP/b2.out"; then
            B2_RATE="exc/inh $(sed -n 's/^rate_exc: //p' "$TMP/b2.out")/$(sed -n 's/^rate_inh: //p' "$TMP/b2.out")"
        else
            B2_RATE=$(sed -n 's/^rate: //p' "$TMP/b2.out")
        fi
    fi
fi

echo "== summary ($WHICH, threads=$THREADS, $REPEAT runs each, medians)"
VL_MED=""
B2_MED=""
if [ ${#VL_T[@]} -gt 0 ]; then
    VL_MED=$(printf '%s\n' "${VL_T[@]}" | median)
    echo "volley: $VL_MED s  (runs: ${VL_T[*]}; from $VL_SRC)"
fi
if [ ${#B2_T[@]} -gt 0 ]; then
    B2_MED=$(printf '%s\n' "${B2_T[@]}" | median)
    echo "brian2: $B2_MED s  (runs: ${B2_T[*]}; network timer; rate $B2_RATE Hz)"
fi
if [ -n "$VL_MED" ] && [ -n "$B2_MED" ]; then
    awk -v v="$VL_MED" -v b="$B2_MED" 'BEGIN {printf "ratio volley/brian2: %.3f (below 1: Volley faster)\n", v / b}'
fi
exit 0
