/* How the CUDA backend scatters one projection's spikes, chosen per projection from its row
 * lengths (compiled as C too, so the choice is tested in CI). Propagation is pre-span: work
 * items go to warps, and an item is
 *   VL_PROP_THREAD  32 spikes, one lane walking each spike's whole row: short rows (one_to_one,
 *                   sparse inputs), where a warp per spike would leave most lanes idle;
 *   VL_PROP_WARP    one spike, the warp's lanes striding over its row: rows up to a few hundred
 *                   synapses (COBA: 80);
 *   VL_PROP_SPLIT   one chunk of VL_ROW_CHUNK synapses of one spike, so that a long row (PD14:
 *                   up to ~4000) spreads over many warps, as a block per spike would, instead of
 *                   serialising one warp.
 * The choice never changes a result: every synapse receives the same atomic addition (in
 * deterministic mode, the same integer addition) whichever lane performs it.
 * VOLLEY_CUDA_PROPAGATE=thread|warp|split forces one strategy for every projection. */
#ifndef VL_KERNELS_PROPAGATE_H
#define VL_KERNELS_PROPAGATE_H

#include <string.h>

#include "common.h"

enum { VL_PROP_THREAD = 0, VL_PROP_WARP = 1, VL_PROP_SPLIT = 2 };

#define VL_ROW_CHUNK 128u

/* The strategy for rows of mean length mean_len and at most max_len synapses: a thread per spike
 * while rows are short enough that a lane's serial walk costs less than a warp's idle lanes
 * (mean below 4, none above 32: a warp of 32 spikes then takes at most 32 iterations, the work
 * of 32 warps' single iterations); several warps per spike once the longest row needs more
 * than two warp chunks; a warp otherwise. */
VL_HD int vl_prop_strategy(double mean_len, uint64_t max_len) {
    if (max_len > 2 * VL_ROW_CHUNK) return VL_PROP_SPLIT;
    if (mean_len < 4.0 && max_len <= 32) return VL_PROP_THREAD;
    return VL_PROP_WARP;
}

/* Work items for n_spk arriving spikes of a projection with this strategy (n_chunks: chunks of
 * VL_ROW_CHUNK in its longest row). */
VL_HD uint32_t vl_prop_items(int strategy, uint32_t n_spk, uint32_t n_chunks) {
    if (strategy == VL_PROP_THREAD) return (n_spk + 31) / 32;
    if (strategy == VL_PROP_SPLIT) return n_spk * n_chunks;
    return n_spk;
}

/* Item `local` of a projection (0 <= local < vl_prop_items), lane `lane` of the warp taking it:
 * the arriving spike it serves (an index into the step's list; the thread strategy's last item
 * has lanes past the end, which the caller skips) ... */
VL_HD uint32_t vl_prop_spike(int strategy, uint32_t local, uint32_t lane, uint32_t n_chunks) {
    if (strategy == VL_PROP_THREAD) return local * 32 + lane;
    if (strategy == VL_PROP_SPLIT) return local / n_chunks;
    return local;
}

/* ... and the synapses of that spike's row [b, e) it adds: *j0, *j0 + *stride, ... below *end. */
VL_HD void vl_prop_range(int strategy, uint32_t local, uint32_t lane, uint32_t n_chunks, uint64_t b, uint64_t e,
                         uint64_t *j0, uint64_t *end, uint32_t *stride) {
    if (strategy == VL_PROP_THREAD) {
        *j0 = b;
        *end = e;
        *stride = 1;
        return;
    }
    if (strategy == VL_PROP_SPLIT) { /* chunk local % n_chunks of the row */
        b += (uint64_t)(local % n_chunks) * VL_ROW_CHUNK;
        if (e > b + VL_ROW_CHUNK) e = b + VL_ROW_CHUNK;
    }
    *j0 = b + lane;
    *end = e;
    *stride = 32;
}

/* Parses a VOLLEY_CUDA_PROPAGATE value; -1 when it names no strategy. */
static inline int vl_prop_parse(const char *s) {
    if (!s) return -1;
    if (!strcmp(s, "thread")) return VL_PROP_THREAD;
    if (!strcmp(s, "warp")) return VL_PROP_WARP;
    if (!strcmp(s, "split")) return VL_PROP_SPLIT;
    return -1;
}

static inline const char *vl_prop_name(int strategy) {
    return strategy == VL_PROP_THREAD ? "thread" : strategy == VL_PROP_SPLIT ? "split" : "warp";
}

#endif
