/* The built network: one CSR matrix per projection and the initial state of every neuron,
 * generated from the seed alone (independent of thread count and backend). */
#ifndef VL_NETWORK_NETWORK_H
#define VL_NETWORK_NETWORK_H

#include "internal.h"
#include "kernels/philox.h"

typedef struct vl_csr {
    int src, tgt, rec;
    uint32_t src_lo, n_rows;   /* row k is source neuron src_lo + k */
    uint64_t n_syn;
    uint64_t *row_ptr;         /* n_rows + 1 */
    uint32_t *col;             /* target neuron, index within the target population; each row in
                                * ascending order, synapses onto one target in generation order */
    float *w;
    uint16_t *delay;           /* per-synapse delay in steps, or NULL when all equal delay_const */
    uint16_t delay_const, max_delay;
    uint32_t tgt_lo, n_cols;   /* target range [tgt_lo, tgt_lo + n_cols) */
    /* Plastic projections only: the CSC index for post-spike updates. Column c (target
     * tgt_lo + c) holds synapses csc_syn[col_ptr[c] .. col_ptr[c+1]), whose rows are csc_row. */
    uint64_t *col_ptr, *csc_syn;
    uint32_t *csc_row;
} vl_csr;

typedef struct vl_network {
    size_t n_proj;
    vl_csr *proj;
    float **v0;                /* per population (neurons only): initial v */
    float **g0;                /* per population: n_rec * size initial receptor state */
    uint32_t *ring_len;        /* per population: slots of the input ring (max incoming delay + 2) */
    uint64_t n_synapses, n_neurons;
} vl_network;

/* Builds the network for spec with the given seed. Errors (unreadable files, too many
 * synapses for memory) go to d. */
int vl_network_build(const vl_spec *s, uint64_t seed, vl_network *net, vl_diag *d);
void vl_network_free(vl_network *net, size_t n_pops);

/* Draws one value of a distribution from a 4-word random block. */
double vl_dist_draw(const vl_dist *dist, uint64_t seed, uint32_t stream, uint32_t a, uint32_t b, uint32_t c);

/* Synapses per block of vl__draw_block: its values stay in the caller's cache. */
#define VL_DRAW_BLOCK 2048

/* The values of synapses k0 .. k0 + m - 1 (m <= VL_DRAW_BLOCK) into out: from the file's values,
 * or vl_dist_draw(dist, seed, stream, k, k >> 32, which) each (src/network/draw.c; _avx2 where
 * vl__cpu_avx2() says so, the same values faster). */
typedef void vl_draw_block_fn(const vl_dist *dist, const float *file, uint64_t seed, uint32_t stream, uint32_t which,
                              uint64_t k0, uint32_t m, double *out);
vl_draw_block_fn vl__draw_block_base, vl__draw_block_avx2;

/* The first attempt at pairs k0 .. k0 + m - 1 of a fixed_total_number projection: pair k is
 * (source row, target) from the Philox block (k, k >> 32, 2) of its connectivity stream, the row
 * below n_src and the target tgt_lo + below n_tgt (network.c draws self-pairs again where
 * autapses are off). As vl__draw_block, _avx2 the same values faster. */
static inline void vl__pair_from(vl_u32x4 r, uint32_t n_src, uint32_t n_tgt, uint32_t tgt_lo, uint32_t *row,
                                 uint32_t *col) {
    *row = (uint32_t)(((uint64_t)r.v[0] * n_src) >> 32);
    *col = tgt_lo + (uint32_t)(((uint64_t)r.v[1] * n_tgt) >> 32);
}
typedef void vl_draw_pairs_fn(uint64_t seed, uint32_t stream, uint64_t k0, uint64_t m, uint32_t n_src,
                              uint32_t n_tgt, uint32_t tgt_lo, uint32_t *rows, uint32_t *cols);
vl_draw_pairs_fn vl__draw_pairs_base, vl__draw_pairs_avx2;

#endif
