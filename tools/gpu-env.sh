# Sourced by tools/gpu-check.sh and tools/gpu-profile.sh on the lent GPU machine: unpacks the
# carried Debian packages (.deb/, from tools/fetch-gpu-debs.sh) into a private prefix when the
# machine lacks libyaml or cmocka headers, then builds Volley with CUDA for sm_90 into $BUILD.
# Expects ROOT, OUT and a log function; sets BUILD and V (the volley binary).
export PATH="/usr/local/cuda/bin:$PATH"
JOBS=$(nproc)
PREFIX=$ROOT/.gpu/prefix
if [ ! -e /usr/include/yaml.h ] || [ ! -e /usr/include/cmocka.h ]; then
  if ls "$ROOT"/.deb/*.deb >/dev/null 2>&1; then
    mkdir -p "$PREFIX"
    for f in "$ROOT"/.deb/*.deb; do dpkg -x "$f" "$PREFIX"; done
    for pc in "$PREFIX"/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc; do
      sed -i -e "s|^prefix=/usr|prefix=$PREFIX/usr|" -e "s|-L/usr/|-L$PREFIX/usr/|g" -e "s|-I/usr/|-I$PREFIX/usr/|g" "$pc"
    done
    export PKG_CONFIG_PATH="$PREFIX/usr/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    log "unpacked $(ls "$ROOT"/.deb/*.deb | wc -l) carried packages into $PREFIX"
  else
    log "libyaml/cmocka headers missing and no .deb/ carried: run tools/fetch-gpu-debs.sh and carry .deb"
    exit 1
  fi
fi

log "build (CUDA arch 90)"
BUILD=$ROOT/build-gpu
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DVOLLEY_TESTS=${GPU_TESTS:-OFF} \
  >"$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
cmake --build "$BUILD" -j "$JOBS" >"$OUT/build.log" 2>&1 || { grep -E 'error' -A3 "$OUT/build.log" | head -40; exit 1; }
V=$BUILD/volley
"$V" info | tee -a "$OUT/gpu-check.log"
