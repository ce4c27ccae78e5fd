/* The plan of the CUDA backend's cluster chunk kernel (kernels/chunk.cu), in C so that CI tests
 * it. A thread-block cluster (compute capability 9.0) runs a whole chunk of steps: every
 * population is cut into `blocks` equal slices of m neurons (a multiple of 32), and block b keeps
 * slice b's neuron state (v, refractory count, adaptation current, receptor state), its ring
 * buffer and its spike list in shared memory, at the same byte offsets in every block. A spike's
 * synapses add into the owning blocks' rings through distributed shared memory; two cluster
 * barriers per step separate update and propagation. */
#ifndef VL_KERNELS_CLUSTER_H
#define VL_KERNELS_CLUSTER_H

#include <string.h>

#include "common.h"

#define VL_CLUSTER_MAX_BLOCKS 8 /* the portable cluster size */
#define VL_CLUSTER_MAX_POPS 32
#define VL_CLUSTER_MAX_PROJ 256
#define VL_CLUSTER_MAX_REC 8

typedef struct vl_cluster_pop_in {
    int32_t neuron;             /* a neuron population (has state); else an input */
    uint32_t size, n_rec, ring_len;
} vl_cluster_pop_in;

typedef struct vl_cluster_pop {
    uint32_t m;                          /* neurons per block, a multiple of 32 */
    uint32_t list, v, refr, wa, g, ring; /* byte offsets in shared memory (state: neuron populations) */
} vl_cluster_pop;

typedef struct vl_cluster_layout {
    int32_t blocks, threads, det, n_pops, n_proj;
    uint32_t work;                       /* neurons per block, all populations */
    uint32_t shm;                        /* bytes of shared memory per block */
    uint32_t desc;                       /* byte offset of the descriptor copy (desc_bytes of the plan) */
    uint32_t cnt, smax, off, items;      /* byte offsets: spike counts [n_pops], highest v [n_pops],
                                          * spike offsets [(blocks + 1) n_pops], items [n_proj + 1] */
    vl_cluster_pop pop[VL_CLUSTER_MAX_POPS];
} vl_cluster_layout;

static inline uint32_t vl_cluster_take(uint32_t *at, uint64_t bytes) {
    uint32_t here = *at;
    *at = (uint32_t)((here + bytes + 15) & ~(uint64_t)15);
    return here;
}

/* Lays out `blocks` blocks; returns the bytes per block (also in L->shm). desc_bytes: room for
 * the kernel's copy of the population and projection descriptors, which it reads every step
 * (global loads after a cluster barrier's acquire are likely to miss L1). */
static inline uint64_t vl_cluster_layout_for(const vl_cluster_pop_in *pops, int n_pops, int n_proj, int det, int blocks,
                                             uint32_t desc_bytes, vl_cluster_layout *L) {
    memset(L, 0, sizeof *L);
    L->blocks = blocks;
    L->det = det;
    L->n_pops = n_pops;
    L->n_proj = n_proj;
    uint32_t at = 0, work = 0;
    L->desc = vl_cluster_take(&at, desc_bytes);
    L->cnt = vl_cluster_take(&at, 4ull * n_pops);
    L->smax = vl_cluster_take(&at, 4ull * n_pops);
    L->off = vl_cluster_take(&at, 4ull * (blocks + 1) * n_pops);
    L->items = vl_cluster_take(&at, 4ull * (n_proj + 1));
    for (int p = 0; p < n_pops; ++p) {
        vl_cluster_pop *c = &L->pop[p];
        uint64_t per = ((uint64_t)pops[p].size + blocks - 1) / blocks;
        c->m = (uint32_t)((per + 31) & ~(uint64_t)31);
        if (c->m == 0) c->m = 32;
        work += c->m;
        c->list = vl_cluster_take(&at, 4ull * c->m);
        if (!pops[p].neuron) continue;
        uint64_t m = c->m, nr = pops[p].n_rec;
        c->v = vl_cluster_take(&at, 4 * m);
        c->refr = vl_cluster_take(&at, 4 * m);
        c->wa = vl_cluster_take(&at, 4 * m);
        c->g = vl_cluster_take(&at, 4 * nr * m);
        c->ring = vl_cluster_take(&at, (det ? 8 : 4) * (uint64_t)pops[p].ring_len * nr * m);
        if (at > 0x7fffffffu) return UINT64_MAX;
    }
    L->work = work;
    L->threads = work <= 512 ? 512 : 1024;
    L->shm = at;
    return at;
}

/* Picks the cluster size: the smallest of 1, 2, 4, 8 blocks whose slices fit shm_limit bytes and
 * total at most 1024 neurons per block (one pass of the block's threads), else the largest that
 * fits; `force` > 0 takes that size. Returns 0, or -1 when the network cannot run this way (does
 * not fit, or more than VL_CLUSTER_MAX_POPS populations, _PROJ projections or _REC receptors). */
static inline int vl_cluster_plan(const vl_cluster_pop_in *pops, int n_pops, int n_proj, int det, uint32_t desc_bytes,
                                  size_t shm_limit, int force, vl_cluster_layout *L) {
    if (n_pops < 1 || n_pops > VL_CLUSTER_MAX_POPS || n_proj > VL_CLUSTER_MAX_PROJ) return -1;
    if (force < 0 || force > VL_CLUSTER_MAX_BLOCKS) return -1;
    for (int p = 0; p < n_pops; ++p)
        if (pops[p].neuron && (pops[p].n_rec > VL_CLUSTER_MAX_REC || pops[p].ring_len == 0)) return -1;
    int best = 0;
    for (int b = force ? force : 1; b <= (force ? force : VL_CLUSTER_MAX_BLOCKS); b *= 2) {
        vl_cluster_layout T;
        if (vl_cluster_layout_for(pops, n_pops, n_proj, det, b, desc_bytes, &T) > shm_limit) continue;
        best = b;
        if (T.work <= 1024) break;
    }
    if (!best) return -1;
    vl_cluster_layout_for(pops, n_pops, n_proj, det, best, desc_bytes, L);
    return 0;
}

/* Each step every block lists its own spikes; population p's spikes are the concatenation of the
 * blocks' lists, off[b * n_pops + p] being the number in blocks before b. The block holding spike
 * s: the last one whose first spike is at or before s (empty blocks are passed over). */
VL_HD uint32_t vl_cluster_block_of(const uint32_t *off, uint32_t n_pops, uint32_t blocks, uint32_t p, uint32_t s) {
    uint32_t b = 0;
    while (b + 1 < blocks && off[(b + 1) * n_pops + p] <= s) ++b;
    return b;
}

#endif
