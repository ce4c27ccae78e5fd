#!/usr/bin/env bash
# configs/stdp_song_abbott.yaml for 20 s in Volley against a Brian2 C++ standalone run of the same
# model (tools/brian2_stdp.py --compare): the weight distribution (fractions below 0.1 and above
# 0.9 of g_max, mean) and the output rate must agree within the statistical tolerances the script
# derives from Brian2's seed-to-seed spread. Exit 0 pass, 1 fail, 77 skip (Brian2 missing).
#   tests/python/test_stdp_brian2.sh path/to/volley [repo-root]
set -u
VOLLEY=${1:?usage: test_stdp_brian2.sh path/to/volley [repo-root]}
ROOT=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import brian2, h5py, numpy' 2>/dev/null; then
    echo "SKIP: brian2, h5py or numpy is not importable by $PY (Debian: python3-brian python3-h5py)"
    exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$VOLLEY" run "$ROOT/configs/stdp_song_abbott.yaml" --duration "20 s" --seed 3 --quiet -o "$TMP/stdp.h5" || exit 1
"$PY" "$ROOT/tools/brian2_stdp.py" --compare "$TMP/stdp.h5" --projection inputs_to_out --seed 3 \
    --build-dir "$TMP/brian2"
