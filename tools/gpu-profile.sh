#!/usr/bin/env bash
# Nsight Compute profiles of the kernels that set the step time, on the lent GPU machine:
#   OUT=$OUT tools/gpu-profile.sh            (carry .deb, as for tools/gpu-check.sh)
# For each case one launch of the named kernel is profiled with --set full (caches and clocks left
# alone, as in a real run), after enough launches that the network is past its start. The
# summary (duration, throughput, occupancy, the warp-stall breakdown of tools/ncu-hot.py) is
# printed; the reports, their full details and the per-instruction SASS pages with stall samples
# go into $OUT/profiles.tar.gz (tools/ncu-hot.py reads those pages here too).
# GPU_PROFILE_CASES picks cases by name (default: all).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/out/gpu-profile}
mkdir -p "$OUT/prof"
log() { echo "== $*" | tee -a "$OUT/gpu-check.log"; }
trap '(cd "$OUT" && tar czf profiles.tar.gz prof configure.log build.log 2>/dev/null && rm -rf prof configure.log build.log)' EXIT
trap 'exit 143' TERM
. tools/gpu-env.sh

COBA_1M=(--set populations.exc.size=800000 --set populations.inh.size=200000
  --set projections.0.connect.fixed_probability=0.00008 --set projections.1.connect.fixed_probability=0.00008
  --set projections.2.connect.fixed_probability=0.0005)

prof() { # name mode kernel-regex launches-to-skip model [args...]
  local name=$1 mode=$2 re=$3 skip=$4; shift 4
  case " ${GPU_PROFILE_CASES:-$name} " in *" $name "*) ;; *) return ;; esac
  log "profile $name: VOLLEY_CUDA_MODE=$mode kernel $re, launch $((skip + 1))"
  VOLLEY_CUDA_MODE=$mode timeout 200 ncu --clock-control none --cache-control none --set full \
    --kernel-name "regex:$re" --launch-skip "$skip" --launch-count 1 -f -o "$OUT/prof/$name" \
    "$V" run "$@" --backend cuda --no-output --quiet >"$OUT/prof/$name.run.txt" 2>&1
  ncu --import "$OUT/prof/$name.ncu-rep" --print-details all >"$OUT/prof/$name.txt" 2>&1
  ncu --import "$OUT/prof/$name.ncu-rep" --page source --print-source sass --csv >"$OUT/prof/$name-sass.csv" 2>&1
  grep -E "^  [a-z_]+.*\(|Duration|Elapsed Cycles|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Warp Cycles Per Issued|Issued Ipc Active|Executed Instructions  " \
    "$OUT/prof/$name.txt" | head -20
  # The stall reasons and the instructions with the most stall samples.
  python3 tools/ncu-hot.py "$OUT/prof/$name-sass.csv" -n 8
}

prof coba4000-cluster cluster vl_cluster_chunk 1 configs/coba.yaml --duration "0.3 s"
prof coba4000-block block vl_block_chunk 1 configs/coba.yaml --duration "0.3 s"
prof coba4000-update "" vl_update 200 configs/coba.yaml --duration "30 ms"
prof coba4000-propagate "" vl_propagate 200 configs/coba.yaml --duration "30 ms"
prof coba1M-update "" vl_update 150 configs/coba.yaml --duration "20 ms" "${COBA_1M[@]}"
prof coba1M-propagate "" vl_propagate 150 configs/coba.yaml --duration "20 ms" "${COBA_1M[@]}"
prof pd14-update "" vl_update 120 configs/pd14.yaml --duration "15 ms"
prof pd14-propagate "" vl_propagate 120 configs/pd14.yaml --duration "15 ms"
log "done"
