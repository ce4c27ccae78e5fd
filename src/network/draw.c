/* Drawn weights and delays, a block of synapses at a time, and fixed_total_number's pairs (network.c). Compiled twice, as
 * src/sim/cpu.c is: for the baseline ISA (vl__draw_block_base) and, through draw_avx2.c with
 * -mavx2, for AVX2 (vl__draw_block_avx2), with the same results. */
#include <math.h>

#include "kernels/philox.h"
#include "network/network.h"

#ifndef VL_DRAW_ISA
#define VL_DRAW_ISA base
#endif
#define VL_DRAW_JOIN(a, b) a##_##b
#define VL_DRAW_NAME(a, b) VL_DRAW_JOIN(a, b)

/* For uniform and normal draws the first attempts of the whole block are one vectorised loop
 * (call-free Philox, vl_normald), and only values outside [lo, hi] go through vl_dist_draw, which
 * repeats that first attempt exactly and redraws. */
void VL_DRAW_NAME(vl__draw_block, VL_DRAW_ISA)(const vl_dist *dist, const float *file, uint64_t seed, uint32_t stream,
                                               uint32_t which, uint64_t k0, uint32_t m, double *out) {
    if (file) {
        for (uint32_t j = 0; j < m; ++j) out[j] = file[k0 + j];
        return;
    }
    const double a = dist->a, b = dist->b;
    if (dist->kind == VL_DIST_CONST) {
        for (uint32_t j = 0; j < m; ++j) out[j] = a;
        return;
    }
    if (dist->kind == VL_DIST_UNIFORM) {
#pragma omp simd
        for (uint32_t j = 0; j < m; ++j) {
            const uint64_t k = k0 + j;
            vl_u32x4 r = vl_rand4(seed, stream, (uint32_t)k, (uint32_t)(k >> 32), which);
            out[j] = a + (b - a) * vl_u01d(r.v[0], r.v[1]);
        }
        return;
    }
    if (dist->kind == VL_DIST_NORMAL) {
#pragma omp simd
        for (uint32_t j = 0; j < m; ++j) {
            const uint64_t k = k0 + j;
            out[j] = a + b * vl_normald(vl_rand4(seed, stream, (uint32_t)k, (uint32_t)(k >> 32), which));
        }
    }
    for (uint32_t j = 0; j < m; ++j) /* lognormal: every draw; normal: the redraws */
        if (dist->kind != VL_DIST_NORMAL || !(out[j] >= dist->lo && out[j] <= dist->hi)) {
            const uint64_t k = k0 + j;
            out[j] = vl_dist_draw(dist, seed, stream, (uint32_t)k, (uint32_t)(k >> 32), which);
        }
}

void VL_DRAW_NAME(vl__draw_pairs, VL_DRAW_ISA)(uint64_t seed, uint32_t stream, uint64_t k0, uint64_t m, uint32_t n_src,
                                               uint32_t n_tgt, uint32_t tgt_lo, uint32_t *rows, uint32_t *cols) {
#pragma omp simd
    for (uint64_t j = 0; j < m; ++j) {
        const uint64_t k = k0 + j;
        vl__pair_from(vl_rand4(seed, stream, (uint32_t)k, (uint32_t)(k >> 32), 2), n_src, n_tgt, tgt_lo, &rows[k],
                      &cols[k]);
    }
}
