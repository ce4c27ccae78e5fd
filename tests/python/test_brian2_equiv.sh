#!/bin/sh
# Volley vs Brian2 on a deterministic network: same (neuron, step) spike pairs.
#   tests/python/test_brian2_equiv.sh path/to/volley [repo-root]
# Exit 0 pass, 1 fail, 77 skip (Brian2, h5py or yaml not importable with /usr/bin/python3).
# Environment: VOLLEY_BACKEND (default cpu), PYTHON (default /usr/bin/python3).
set -u
VOLLEY=${1:?usage: test_brian2_equiv.sh path/to/volley [repo-root]}
ROOT=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PYTHON:-/usr/bin/python3}
MODEL="$ROOT/configs/tests/brian2_equiv.yaml"

if ! "$PY" -c 'import brian2, h5py, yaml' >/dev/null 2>&1; then
    echo "SKIP: brian2, h5py or yaml is not importable by $PY (Debian: python3-brian python3-h5py python3-yaml)"
    exit 77
fi
[ -x "$VOLLEY" ] || { echo "FAIL: volley binary '$VOLLEY' not found or not executable"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/volley-b2eq.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM

echo "== volley run $MODEL"
"$VOLLEY" run "$MODEL" -o "$TMP/x.h5" --backend "${VOLLEY_BACKEND:-cpu}"
rc=$?
if [ $rc -ne 0 ]; then
    echo "FAIL: volley run exited with $rc"
    exit 1
fi
echo "== brian2_equiv --compare"
"$PY" "$ROOT/tools/brian2_equiv.py" "$MODEL" --compare "$TMP/x.h5"
rc=$?
case $rc in
    0) echo "PASS: Volley matches Brian2"; exit 0 ;;
    77) exit 77 ;;
    *) echo "FAIL: Volley's spikes differ from Brian2's (brian2_equiv.py exited with $rc)"; exit 1 ;;
esac
