#!/usr/bin/env bash
# The command line: backend selection and volley bench. Without a usable GPU, --backend auto runs on the CPU
# (saying so) and --backend cuda fails with exit status 1 and a message naming the problem; with a
# GPU, both run on it. A model error exits 2 with file:line:column. Usage: test_cli_backend.sh VOLLEY ROOT
set -u
V=${1:?volley}; ROOT=${2:?root}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
MODEL="$ROOT/configs/cuba.yaml"
if "$V" info | grep -q '^cuda:'; then has_gpu=1; else has_gpu=0; fi
out=$("$V" run "$MODEL" --backend auto --duration "50 ms" -o "$TMP/a.h5" 2>&1) || fail "--backend auto exited $?: $out"
if [ $has_gpu = 0 ]; then
  echo "$out" | grep -q "on cpu" || fail "--backend auto did not run on the CPU: $out"
  "$V" info | grep -q "CUDA backend: compiled in" && { echo "$out" | grep -q "no usable CUDA device" || fail "no fallback notice: $out"; }
  out=$("$V" run "$MODEL" --backend cuda --duration "50 ms" -o "$TMP/c.h5" 2>&1); rc=$?
  [ $rc = 1 ] || fail "--backend cuda without a GPU exited $rc, expected 1: $out"
  echo "$out" | grep -q -- "--backend cuda" || fail "the message does not name --backend cuda: $out"
  [ -e "$TMP/c.h5" ] && fail "--backend cuda without a GPU left an output file"
else
  echo "$out" | grep -q "on cuda" || fail "--backend auto did not pick the GPU: $out"
  "$V" run "$MODEL" --backend cuda --duration "50 ms" -o "$TMP/c.h5" >/dev/null 2>&1 || fail "--backend cuda failed on a GPU"
fi
printf 'name: bad\npopulations:\n  a: {size: 10, model: lif_cond_exp, params: {C: 200 nS}}\n' > "$TMP/bad.yaml"
out=$("$V" run "$TMP/bad.yaml" 2>&1); rc=$?
[ $rc = 2 ] || fail "a model error exited $rc, expected 2"
echo "$out" | grep -q "bad.yaml:3:" || fail "the model error does not name file:line: $out"
# volley bench: one line and one JSON record per model, numbers from the run itself
out=$("$V" bench "$MODEL" --duration "20 ms" --repeat 1 --json "$TMP/b.json" 2>&1) || fail "bench exited $?: $out"
echo "$out" | grep -q "cuba.yaml *4000 " || fail "bench table lacks the model line: $out"
/usr/bin/python3 - "$TMP/b.json" <<'PY' || fail "bench JSON"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r) == 1 and r[0]["neurons"] == 4000 and r[0]["synapses"] > 300000, r
assert r[0]["us_per_step"] > 0 and r[0]["rtf"] > 0 and r[0]["rate_hz"] > 0 and r[0]["build_s"] > 0, r
PY
"$V" bench "$TMP/missing.yaml" --repeat 1 >/dev/null 2>&1; [ $? = 2 ] || fail "bench on a missing model should exit 2"
# option values out of range are usage errors (exit 2), not silently 0, clamped or ignored
for bad in '--seed ""' '--seed 18446744073709551616' '--threads 2147483648' '--threads ""' '--duration "1e308 s"'; do
  out=$(eval "\"$V\" run \"$MODEL\" --no-output $bad" 2>&1); rc=$?
  [ $rc = 2 ] || fail "run $bad exited $rc, expected 2: $out"
  echo "$out" | grep -q -- "${bad%% *}" || fail "run $bad: the message does not name the option: $out"
done
# -h/--help after a command prints the usage on stdout and exits 0, running nothing; as an option's
# value it is that value (here an override path, refused with exit 2)
for cmd in "run $MODEL" "check" "bench" "run $MODEL --no-output"; do
  for h in -h --help; do
    out=$("$V" $cmd $h 2>/dev/null); rc=$?
    [ $rc = 0 ] || fail "volley $cmd $h exited $rc, expected 0"
    echo "$out" | grep -q "^usage:" || fail "volley $cmd $h printed no usage: $out"
    echo "$out" | grep -q "^network:" && fail "volley $cmd $h ran the model"
  done
done
"$V" check "$MODEL" --set -h >/dev/null 2>&1; [ $? = 2 ] || fail "--set -h should be read as an override and refused"
echo "backend selection, exit codes, help and bench as documented (GPU present: $has_gpu)"
