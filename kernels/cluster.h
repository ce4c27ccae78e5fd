/* The plan of the CUDA backend's cluster chunk kernel (kernels/chunk.cu), in C so that CI tests
 * it. A thread-block cluster (compute capability 9.0) runs a whole chunk of steps: every
 * population is cut into `blocks` equal slices of m neurons (a multiple of 32), and block b keeps
 * slice b's neuron state (v, refractory count, adaptation current, receptor state), its ring
 * buffer and its spike list in shared memory, at the same byte offsets in every block. A spike's
 * synapses add into the owning blocks' rings through distributed shared memory; two cluster
 * barriers per step separate update and propagation (with local synapses, below, one). */
#ifndef VL_KERNELS_CLUSTER_H
#define VL_KERNELS_CLUSTER_H

#include <string.h>

#include "common.h"

#define VL_CLUSTER_MAX_BLOCKS 8 /* the portable cluster size */
#define VL_CLUSTER_MAX_LOCAL_BLOCKS 16 /* local synapses: H100/H200 allow 16 (non-portable) */
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

/* Local synapses (the cluster-local variant): each block holds, in its own shared memory, every
 * synapse whose target is in its slices, as a CSR over the source rows with slice-local target
 * indices; a spike then adds only into the block's own rings, and one cluster barrier per step
 * suffices (spike lists and counts alternate between two buffers by step parity). */
typedef struct vl_cluster_proj_in {
    uint32_t tgt, n_rows;
    int32_t delays;                      /* per-synapse delays (else the projection's constant) */
    int32_t same_w;                      /* every weight equals w0: none are stored */
    float w0;
    uint32_t cap[5];                     /* most synapses one block holds, with 1, 2, 4, 8, 16 blocks */
} vl_cluster_proj_in;

typedef struct vl_cluster_proj {
    uint32_t rp, col, w, delay;          /* byte offsets: row starts [n_rows + 1] (u32), slice-local
                                          * targets [cap] (u16), weights [cap] (f32; 0: all w0),
                                          * delays [cap] (u16; 0: none) */
    float w0;
} vl_cluster_proj;

typedef struct vl_cluster_layout {
    int32_t blocks, threads, det, n_pops, n_proj;
    int32_t local;                       /* local synapses (proj[] and syn are set) */
    uint32_t syn, syn_bytes;             /* the local synapse arrays: bytes [syn, syn + syn_bytes) */
    vl_cluster_proj proj[VL_CLUSTER_MAX_PROJ];
    uint32_t work;                       /* neurons per block, all populations */
    uint32_t shm;                        /* bytes of shared memory per block */
    uint32_t desc;                       /* byte offset of the descriptor copy (desc_bytes of the plan) */
    uint32_t cnt, smax, off, items;      /* byte offsets: spike counts [n_pops] (local: two sets),
                                          * highest v [n_pops], spike offsets [(blocks + 1) n_pops],
                                          * items [n_proj + 1] */
    vl_cluster_pop pop[VL_CLUSTER_MAX_POPS];
} vl_cluster_layout;

/* The next array of `bytes` at *at (16-byte aligned). *at counts in 64 bits, so that a huge array
 * cannot wrap it back under the limit; the layout refuses any total past 2^31 before the 32-bit
 * offsets it keeps are used. */
static inline uint32_t vl_cluster_take(uint64_t *at, uint64_t bytes) {
    uint64_t here = *at;
    *at = (here + bytes + 15) & ~(uint64_t)15;
    return (uint32_t)here;
}

/* Neurons of a population of `size` in each of `blocks` slices: a multiple of 32, at least 32. */
static inline uint32_t vl_cluster_slice(uint64_t size, int blocks) {
    uint64_t per = (size + blocks - 1) / blocks, m = (per + 31) & ~(uint64_t)31;
    return !m ? 32 : m > 0xffffffe0u ? 0xffffffe0u : (uint32_t)m; /* the largest: refused for its bytes */
}

/* The most synapses (targets col[0 .. n_syn)) that one of `blocks` slices of m neurons holds. */
static inline uint32_t vl_cluster_cap(const uint32_t *col, uint64_t n_syn, uint32_t m, int blocks) {
    uint64_t cnt[VL_CLUSTER_MAX_LOCAL_BLOCKS] = {0}, most = 0;
    for (uint64_t j = 0; j < n_syn; ++j) cnt[col[j] / m]++;
    for (int b = 0; b < blocks; ++b) most = cnt[b] > most ? cnt[b] : most;
    return (uint32_t)most;
}

/* Block b's share of a CSR projection (rows row_ptr, targets col, weights w, delays or NULL) for
 * slices of m neurons: rp[r] .. rp[r + 1] index its synapses of row r, in row order, with targets
 * col16 = col - b m; wb and db may be NULL (not stored); returns how many (at most the plan's cap). */
static inline uint32_t vl_cluster_shard(const uint64_t *row_ptr, const uint32_t *col, const float *w,
                                        const uint16_t *delay, uint32_t n_rows, uint32_t m, uint32_t b, uint32_t *rp,
                                        uint16_t *col16, float *wb, uint16_t *db) {
    uint32_t k = 0;
    for (uint32_t r = 0; r < n_rows; ++r) {
        rp[r] = k;
        for (uint64_t j = row_ptr[r]; j < row_ptr[r + 1]; ++j) {
            if (col[j] / m != b) continue;
            col16[k] = (uint16_t)(col[j] - b * m);
            if (wb) wb[k] = w[j];
            if (db) db[k] = delay[j];
            ++k;
        }
    }
    rp[n_rows] = k;
    return k;
}

/* Whether all n weights are the same value (then *w0 is it; an empty projection counts). */
static inline int vl_cluster_same_w(const float *w, uint64_t n, float *w0) {
    *w0 = n ? w[0] : 0.0f;
    for (uint64_t j = 1; j < n; ++j)
        if (w[j] != w[0]) return 0;
    return 1;
}

static inline int vl_cluster_log2(int blocks) {
    int i = 0;
    while ((1 << i) < blocks) ++i;
    return i;
}

/* Lays out `blocks` blocks; returns the bytes per block (also in L->shm). desc_bytes: room for
 * the kernel's copy of the population and projection descriptors, which it reads every step
 * (global loads after a cluster barrier's acquire are likely to miss L1). */
static inline uint64_t vl_cluster_layout_in(const vl_cluster_pop_in *pops, int n_pops,
                                            const vl_cluster_proj_in *projs, int n_proj, int det, int blocks,
                                            uint32_t desc_bytes, vl_cluster_layout *L) {
    memset(L, 0, sizeof *L);
    L->blocks = blocks;
    L->det = det;
    L->n_pops = n_pops;
    L->n_proj = n_proj;
    L->local = projs != NULL;
    const uint64_t sets = projs ? 2 : 1; /* local: spike lists and counts by step parity */
    uint64_t at = 0;
    uint32_t work = 0;
    L->desc = vl_cluster_take(&at, desc_bytes);
    L->cnt = vl_cluster_take(&at, 4ull * sets * n_pops);
    L->smax = vl_cluster_take(&at, 4ull * n_pops);
    L->off = vl_cluster_take(&at, 4ull * (blocks + 1) * n_pops);
    L->items = vl_cluster_take(&at, 4ull * (n_proj + 1));
    for (int p = 0; p < n_pops; ++p) {
        vl_cluster_pop *c = &L->pop[p];
        c->m = vl_cluster_slice(pops[p].size, blocks);
        if (projs && c->m > 65535) return UINT64_MAX; /* local synapses keep 16-bit slice-local targets */
        work += c->m;
        c->list = vl_cluster_take(&at, 4ull * sets * c->m);
        if (!pops[p].neuron) continue;
        uint64_t m = c->m, nr = pops[p].n_rec;
        c->v = vl_cluster_take(&at, 4 * m);
        c->refr = vl_cluster_take(&at, 4 * m);
        c->wa = vl_cluster_take(&at, 4 * m);
        c->g = vl_cluster_take(&at, 4 * nr * m);
        c->ring = vl_cluster_take(&at, (det ? 8 : 4) * (uint64_t)pops[p].ring_len * nr * m);
        if (at > 0x7fffffffu) return UINT64_MAX;
    }
    if (projs) {
        const int lg = vl_cluster_log2(blocks);
        L->syn = (uint32_t)at;
        for (int q = 0; q < n_proj; ++q) {
            vl_cluster_proj *c = &L->proj[q];
            const uint64_t cap = projs[q].cap[lg];
            c->rp = vl_cluster_take(&at, 4ull * (projs[q].n_rows + 1ull));
            c->col = vl_cluster_take(&at, 2 * cap);
            c->w = projs[q].same_w ? 0 : vl_cluster_take(&at, 4 * cap);
            c->w0 = projs[q].w0;
            c->delay = projs[q].delays ? vl_cluster_take(&at, 2 * cap) : 0;
            if (at > 0x7fffffffu) return UINT64_MAX;
        }
        L->syn_bytes = (uint32_t)(at - L->syn);
    }
    if (at > 0x7fffffffu) return UINT64_MAX; /* also the spike lists of inputs */
    L->work = work;
    L->threads = work <= 512 ? 512 : 1024;
    L->shm = (uint32_t)at;
    return at;
}

static inline uint64_t vl_cluster_layout_for(const vl_cluster_pop_in *pops, int n_pops, int n_proj, int det, int blocks,
                                             uint32_t desc_bytes, vl_cluster_layout *L) {
    return vl_cluster_layout_in(pops, n_pops, NULL, n_proj, det, blocks, desc_bytes, L);
}

/* Picks the cluster size: the smallest of 1, 2, 4, 8 (local synapses: 16) blocks whose slices fit
 * shm_limit bytes and total at most 1024 neurons per block (one pass of the block's threads), else
 * the largest that fits; `force` > 0 takes that size. Returns 0, or -1 when the network cannot
 * run this way (does not fit, or more than VL_CLUSTER_MAX_POPS populations, _PROJ projections or
 * _REC receptors). */
static inline int vl_cluster_plan_in(const vl_cluster_pop_in *pops, int n_pops, const vl_cluster_proj_in *projs,
                                     int n_proj, int det, uint32_t desc_bytes, size_t shm_limit, int force,
                                     vl_cluster_layout *L) {
    const int most = projs ? VL_CLUSTER_MAX_LOCAL_BLOCKS : VL_CLUSTER_MAX_BLOCKS;
    if (n_pops < 1 || n_pops > VL_CLUSTER_MAX_POPS || n_proj > VL_CLUSTER_MAX_PROJ) return -1;
    if (force < 0 || force > most || (projs && (force & (force - 1)))) return -1; /* local: caps by powers of 2 */
    for (int p = 0; p < n_pops; ++p)
        if (pops[p].neuron && (pops[p].n_rec > VL_CLUSTER_MAX_REC || pops[p].ring_len == 0)) return -1;
    int best = 0;
    for (int b = force ? force : 1; b <= (force ? force : most); b *= 2) {
        vl_cluster_layout T;
        if (vl_cluster_layout_in(pops, n_pops, projs, n_proj, det, b, desc_bytes, &T) > shm_limit) continue;
        best = b;
        if (T.work <= 1024) break;
    }
    if (!best) return -1;
    vl_cluster_layout_in(pops, n_pops, projs, n_proj, det, best, desc_bytes, L);
    return 0;
}

static inline int vl_cluster_plan(const vl_cluster_pop_in *pops, int n_pops, int n_proj, int det, uint32_t desc_bytes,
                                  size_t shm_limit, int force, vl_cluster_layout *L) {
    return vl_cluster_plan_in(pops, n_pops, NULL, n_proj, det, desc_bytes, shm_limit, force, L);
}

/* The same with local synapses (projs: each projection's rows and caps): up to 16 blocks. */
static inline int vl_cluster_plan_local(const vl_cluster_pop_in *pops, int n_pops, const vl_cluster_proj_in *projs,
                                        int n_proj, int det, uint32_t desc_bytes, size_t shm_limit, int force,
                                        vl_cluster_layout *L) {
    return vl_cluster_plan_in(pops, n_pops, projs, n_proj, det, desc_bytes, shm_limit, force, L);
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
