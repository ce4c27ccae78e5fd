/* The CUDA backend's host-side decisions that need no GPU, so that CI checks them: the
 * propagation strategy per projection and the work items it makes (kernels/propagate.h: every
 * synapse of every arriving spike is added exactly once, by exactly one lane, whichever the
 * strategy), and the cluster kernel's shared-memory plan (kernels/cluster.h: slices cover every
 * neuron, arrays are aligned and never overlap, the plan fits the limit or is refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/cluster.h"
#include "kernels/philox.h"
#include "kernels/propagate.h"

static void test_strategy_choice(void **state) {
    (void)state;
    assert_int_equal(vl_prop_strategy(1.0, 1), VL_PROP_THREAD);      /* one_to_one */
    assert_int_equal(vl_prop_strategy(3.9, 32), VL_PROP_THREAD);     /* sparse input */
    assert_int_equal(vl_prop_strategy(3.9, 33), VL_PROP_WARP);       /* one long row: lanes would wait on it */
    assert_int_equal(vl_prop_strategy(4.0, 10), VL_PROP_WARP);
    assert_int_equal(vl_prop_strategy(80.0, 118), VL_PROP_WARP);     /* COBA-4000 */
    assert_int_equal(vl_prop_strategy(200.0, 256), VL_PROP_WARP);
    assert_int_equal(vl_prop_strategy(200.0, 257), VL_PROP_SPLIT);
    assert_int_equal(vl_prop_strategy(3000.0, 4100), VL_PROP_SPLIT); /* PD14 */
    assert_int_equal(vl_prop_strategy(0.0, 0), VL_PROP_THREAD);      /* an empty projection */
    assert_int_equal(vl_prop_parse("thread"), VL_PROP_THREAD);
    assert_int_equal(vl_prop_parse("warp"), VL_PROP_WARP);
    assert_int_equal(vl_prop_parse("split"), VL_PROP_SPLIT);
    assert_int_equal(vl_prop_parse("block"), -1);
    assert_int_equal(vl_prop_parse(NULL), -1);
    assert_int_equal(vl_prop_items(VL_PROP_THREAD, 33, 5), 2);
    assert_int_equal(vl_prop_items(VL_PROP_WARP, 33, 5), 33);
    assert_int_equal(vl_prop_items(VL_PROP_SPLIT, 33, 5), 165);
}

/* Random rows (lengths drawn from Philox, some empty, some several chunks long), a random
 * arriving list with repeats across steps excluded as in a real step (each row at most once):
 * walking every item and lane as the kernels do must hit each synapse of each arriving row once. */
static void test_items_cover_every_synapse_once(void **state) {
    (void)state;
    for (uint32_t trial = 0; trial < 60; ++trial) {
        const uint32_t n_rows = 1 + vl_rand4(7, 1, trial, 0, 0).v[0] % 300;
        const uint32_t max_len = (uint32_t[]){1, 4, 32, 90, 700}[trial % 5];
        uint64_t *row_ptr = calloc(n_rows + 1, sizeof *row_ptr);
        uint64_t longest = 0;
        for (uint32_t r = 0; r < n_rows; ++r) {
            uint64_t len = vl_rand4(7, 2, trial, r, 0).v[0] % (max_len + 1);
            row_ptr[r + 1] = row_ptr[r] + len;
            if (len > longest) longest = len;
        }
        const uint64_t n_syn = row_ptr[n_rows];
        uint32_t *arr = calloc(n_rows, sizeof *arr), n_arr = 0;
        for (uint32_t r = 0; r < n_rows; ++r)
            if (vl_rand4(7, 3, trial, r, 0).v[0] % 3 == 0) arr[n_arr++] = r;
        const uint32_t n_chunks = longest ? (uint32_t)((longest + VL_ROW_CHUNK - 1) / VL_ROW_CHUNK) : 1;
        uint8_t *want = calloc(n_syn + 1, 1);
        for (uint32_t s = 0; s < n_arr; ++s)
            for (uint64_t j = row_ptr[arr[s]]; j < row_ptr[arr[s] + 1]; ++j) want[j] = 1;
        for (int strategy = VL_PROP_THREAD; strategy <= VL_PROP_SPLIT; ++strategy) {
            uint32_t *hits = calloc(n_syn + 1, sizeof *hits);
            const uint32_t items = vl_prop_items(strategy, n_arr, n_chunks);
            for (uint32_t local = 0; local < items; ++local)
                for (uint32_t lane = 0; lane < 32; ++lane) {
                    uint32_t s = vl_prop_spike(strategy, local, lane, n_chunks);
                    if (s >= n_arr) continue;
                    uint32_t row = arr[s];
                    uint64_t j0, e;
                    uint32_t stride;
                    vl_prop_range(strategy, local, lane, n_chunks, row_ptr[row], row_ptr[row + 1], &j0, &e, &stride);
                    assert_true(e <= row_ptr[row + 1]);
                    for (uint64_t j = j0; j < e; j += stride) hits[j]++;
                }
            for (uint64_t j = 0; j < n_syn; ++j) {
                if (hits[j] != want[j])
                    fail_msg("trial %u, strategy %s: synapse %llu added %u times, expected %u", trial,
                             vl_prop_name(strategy), (unsigned long long)j, hits[j], want[j]);
            }
            free(hits);
        }
        free(want);
        free(arr);
        free(row_ptr);
    }
}

typedef struct seg { uint64_t at, bytes; } seg;

static int cmp_seg(const void *a, const void *b) {
    const seg *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Every array of a plan lies inside shm, 16-byte aligned, none overlapping another. */
#define DESC 1360 /* descriptor bytes: 2 populations and 4 projections, say */

static void check_layout_in(const vl_cluster_pop_in *pops, int n_pops, const vl_cluster_proj_in *projs, int n_proj,
                            const vl_cluster_layout *L) {
    static seg s[5 + 6 * VL_CLUSTER_MAX_POPS + 4 * VL_CLUSTER_MAX_PROJ];
    int n = 0;
    const uint64_t sets = projs ? 2 : 1;
    assert_int_equal(L->local, projs != NULL);
    s[n++] = (seg){L->desc, DESC};
    s[n++] = (seg){L->cnt, 4ull * sets * n_pops};
    s[n++] = (seg){L->smax, 4ull * n_pops};
    s[n++] = (seg){L->off, 4ull * (L->blocks + 1) * n_pops};
    s[n++] = (seg){L->items, 4ull * (n_proj + 1)};
    uint32_t work = 0;
    assert_true(L->blocks >= 1 && L->blocks <= (projs ? VL_CLUSTER_MAX_LOCAL_BLOCKS : VL_CLUSTER_MAX_BLOCKS));
    for (int p = 0; p < n_pops; ++p) {
        const vl_cluster_pop *c = &L->pop[p];
        assert_int_equal(c->m % 32, 0);
        assert_true((uint64_t)c->m * L->blocks >= pops[p].size); /* the slices cover the population */
        assert_true(c->m < 32 || (uint64_t)(c->m - 32) * L->blocks < pops[p].size); /* and are no larger than needed */
        work += c->m;
        s[n++] = (seg){c->list, 4ull * sets * c->m};
        if (!pops[p].neuron) continue;
        s[n++] = (seg){c->v, 4ull * c->m};
        s[n++] = (seg){c->refr, 4ull * c->m};
        s[n++] = (seg){c->wa, 4ull * c->m};
        s[n++] = (seg){c->g, 4ull * pops[p].n_rec * c->m};
        s[n++] = (seg){c->ring, (L->det ? 8ull : 4ull) * pops[p].ring_len * pops[p].n_rec * c->m};
    }
    for (int q = 0; projs && q < n_proj; ++q) { /* local synapses: inside [syn, syn + syn_bytes) */
        const vl_cluster_proj *c = &L->proj[q];
        const uint64_t cap = projs[q].cap[vl_cluster_log2(L->blocks)];
        seg a[4] = {{c->rp, 4ull * (projs[q].n_rows + 1)}, {c->col, 2 * cap}, {c->w, 4 * cap}, {c->delay, 2 * cap}};
        for (int i = 0; i < 4; ++i) {
            if ((i == 2 && projs[q].same_w) || (i == 3 && !projs[q].delays)) continue;
            assert_true(a[i].at >= L->syn && a[i].at + a[i].bytes <= (uint64_t)L->syn + L->syn_bytes);
            s[n++] = a[i];
        }
        if (!projs[q].delays) assert_int_equal(c->delay, 0);
        if (projs[q].same_w) { /* no weights stored: every one is w0 */
            assert_int_equal(c->w, 0);
            assert_true(c->w0 == projs[q].w0);
        }
    }
    assert_int_equal(L->work, work);
    assert_int_equal(L->threads, work <= 512 ? 512 : 1024);
    qsort(s, n, sizeof *s, cmp_seg);
    for (int i = 0; i < n; ++i) {
        assert_int_equal(s[i].at % 16, 0);
        assert_true(s[i].at + s[i].bytes <= L->shm);
        if (i) assert_true(s[i - 1].at + s[i - 1].bytes <= s[i].at);
    }
}

static void check_layout(const vl_cluster_pop_in *pops, int n_pops, int n_proj, const vl_cluster_layout *L) {
    check_layout_in(pops, n_pops, NULL, n_proj, L);
}

static void test_cluster_plan(void **state) {
    (void)state;
    const size_t limit = 232448; /* an H100's opt-in shared memory per block */
    /* COBA-4000: two neuron populations, two receptors, ring of 2 slots. */
    vl_cluster_pop_in coba[] = {{1, 3200, 2, 2}, {1, 800, 2, 2}};
    vl_cluster_layout L;
    assert_int_equal(vl_cluster_plan(coba, 2, 4, 0, DESC, limit, 0, &L), 0);
    assert_int_equal(L.blocks, 4); /* the smallest size with at most 1024 neurons per block: 800 + 224 */
    assert_int_equal(L.pop[0].m, 800);
    assert_int_equal(L.pop[1].m, 224);
    assert_int_equal(L.threads, 1024);
    check_layout(coba, 2, 4, &L);
    uint32_t float_ring = L.shm;
    assert_int_equal(vl_cluster_plan(coba, 2, 4, 1, DESC, limit, 0, &L), 0); /* deterministic: 64-bit rings */
    check_layout(coba, 2, 4, &L);
    assert_int_equal(L.shm - float_ring, 4 * 2 * 2 * (800 + 224));
    assert_int_equal(vl_cluster_plan(coba, 2, 4, 0, DESC, limit, 8, &L), 0); /* forced: 8 blocks of 416 + 128 */
    assert_int_equal(L.blocks, 8);
    assert_int_equal(L.pop[0].m, 416);
    assert_int_equal(L.work, 544);
    check_layout(coba, 2, 4, &L);
    /* Inputs keep only a spike list; a small network takes one block. */
    vl_cluster_pop_in small[] = {{0, 100, 0, 0}, {1, 200, 3, 16}, {0, 7, 0, 0}};
    assert_int_equal(vl_cluster_plan(small, 3, 2, 0, DESC, limit, 0, &L), 0);
    assert_int_equal(L.blocks, 1);
    check_layout(small, 3, 2, &L);
    /* Too large for 8 blocks' shared memory, too many receptors or populations: refused. */
    vl_cluster_pop_in big[] = {{1, 80000, 2, 16}};
    assert_int_equal(vl_cluster_plan(big, 1, 1, 0, DESC, limit, 0, &L), -1);
    assert_int_equal(vl_cluster_plan(coba, 2, 4, 0, (uint32_t)limit, limit, 0, &L), -1); /* descriptors count too */
    vl_cluster_pop_in many_rec[] = {{1, 100, VL_CLUSTER_MAX_REC + 1, 2}};
    assert_int_equal(vl_cluster_plan(many_rec, 1, 1, 0, DESC, limit, 0, &L), -1);
    assert_int_equal(vl_cluster_plan(coba, 2, VL_CLUSTER_MAX_PROJ + 1, 0, DESC, limit, 0, &L), -1);
    assert_int_equal(vl_cluster_plan(coba, 2, 4, 0, DESC, limit, VL_CLUSTER_MAX_BLOCKS + 1, &L), -1);
    /* Larger networks take more blocks, up to the limit. */
    vl_cluster_pop_in mid[] = {{1, 20000, 2, 4}};
    assert_int_equal(vl_cluster_plan(mid, 1, 1, 0, DESC, limit, 0, &L), 0);
    assert_int_equal(L.blocks, 8);
    assert_int_equal(L.threads, 1024);
    check_layout(mid, 1, 1, &L);
}

/* The cluster kernel finds spike s of a population in the block that listed it, whatever the
 * blocks' counts (zeros included), as the exclusive prefix over blocks says. */
static void test_cluster_spike_lookup(void **state) {
    (void)state;
    for (uint32_t trial = 0; trial < 200; ++trial) {
        const uint32_t blocks = 1 + trial % VL_CLUSTER_MAX_BLOCKS, n_pops = 1 + trial % 3;
        uint32_t count[VL_CLUSTER_MAX_BLOCKS][3], off[(VL_CLUSTER_MAX_BLOCKS + 1) * 3];
        for (uint32_t p = 0; p < n_pops; ++p) {
            off[p] = 0;
            for (uint32_t b = 0; b < blocks; ++b) {
                vl_u32x4 r = vl_rand4(11, 4, trial, b, p);
                count[b][p] = r.v[0] % 3 == 0 ? 0 : r.v[1] % 40; /* many empty blocks */
                off[(b + 1) * n_pops + p] = off[b * n_pops + p] + count[b][p];
            }
        }
        for (uint32_t p = 0; p < n_pops; ++p)
            for (uint32_t s = 0; s < off[blocks * n_pops + p]; ++s) {
                uint32_t b = vl_cluster_block_of(off, n_pops, blocks, p, s);
                assert_true(b < blocks);
                assert_true(off[b * n_pops + p] <= s);
                assert_true(s < off[b * n_pops + p] + count[b][p]);
            }
    }
}

/* A random projection: n_rows rows of about p * n_tgt targets (sorted, distinct), weights and,
 * when delays, per-synapse delays below 20. */
typedef struct rproj { uint32_t n_rows, n_tgt; uint64_t *row_ptr; uint32_t *col; float *w; uint16_t *delay; } rproj;

static rproj make_rproj(uint32_t seed, uint32_t n_rows, uint32_t n_tgt, double p, int delays) {
    rproj r = {n_rows, n_tgt, calloc(n_rows + 1, 8), NULL, NULL, NULL};
    uint64_t cap = (uint64_t)(n_rows * (p * n_tgt + 10)) + 16, k = 0;
    r.col = malloc(cap * 4);
    r.w = malloc(cap * 4);
    r.delay = delays ? malloc(cap * 2) : NULL;
    for (uint32_t i = 0; i < n_rows; ++i) {
        r.row_ptr[i] = k;
        for (uint32_t j = 0; j < n_tgt && k < cap; ++j) {
            vl_u32x4 x = vl_rand4(seed, 7, i, j, 0);
            if (vl_u01f(x.v[0]) >= p) continue;
            r.col[k] = j;
            r.w[k] = vl_u01f(x.v[1]);
            if (delays) r.delay[k] = (uint16_t)(x.v[2] % 20);
            ++k;
        }
    }
    r.row_ptr[n_rows] = k;
    return r;
}

/* Local synapses: the plan lays out every projection's share inside the block's shared memory
 * (caps from vl_cluster_cap), and the blocks' shards (vl_cluster_shard) hold every synapse exactly
 * once, in the block that owns its target, with the slice-local target, its weight and delay, in
 * row order. A network whose synapses do not fit 16 blocks is refused. */
static void test_cluster_local(void **state) {
    (void)state;
    const size_t limit = 232448;
    vl_cluster_pop_in pops[] = {{1, 3200, 2, 2}, {1, 800, 2, 21}, {0, 20, 0, 0}}; /* delays (< 20) into inh */
    const uint32_t src[4] = {0, 0, 1, 1}, tgt[4] = {0, 1, 0, 1};
    rproj r[4];
    vl_cluster_proj_in in[4];
    for (int q = 0; q < 4; ++q) {
        r[q] = make_rproj(100 + q, pops[src[q]].size, pops[tgt[q]].size, 0.02, q == 1);
        in[q] = (vl_cluster_proj_in){tgt[q], r[q].n_rows, q == 1, 0, 0.0f, {0}};
        in[q].same_w = vl_cluster_same_w(r[q].w, r[q].row_ptr[r[q].n_rows], &in[q].w0);
        assert_false(in[q].same_w); /* drawn weights */
        for (int lg = 0; lg < 5; ++lg)
            in[q].cap[lg] = vl_cluster_cap(r[q].col, r[q].row_ptr[r[q].n_rows], vl_cluster_slice(pops[tgt[q]].size, 1 << lg),
                                           1 << lg);
    }
    vl_cluster_layout L;
    assert_int_equal(vl_cluster_plan_local(pops, 3, in, 4, 0, DESC, limit, 0, &L), 0);
    /* 320 k synapses of 6-8 bytes do not fit fewer than 16 blocks' 227 KiB. */
    assert_int_equal(L.blocks, 16);
    check_layout_in(pops, 3, in, 4, &L);
    assert_true(L.shm <= limit);
    for (int q = 0; q < 4; ++q) {
        const uint32_t m = L.pop[tgt[q]].m, cap = in[q].cap[4];
        const uint64_t n_syn = r[q].row_ptr[r[q].n_rows];
        uint32_t *rp = malloc(4 * (r[q].n_rows + 1ull));
        uint16_t *c16 = malloc(2ull * cap + 2), *d16 = malloc(2ull * cap + 2);
        float *wb = malloc(4ull * cap + 4);
        uint64_t seen = 0;
        for (uint32_t b = 0; b < 16; ++b) {
            uint32_t k = vl_cluster_shard(r[q].row_ptr, r[q].col, r[q].w, r[q].delay, r[q].n_rows, m, b, rp, c16, wb,
                                          r[q].delay ? d16 : NULL);
            assert_true(k <= cap);
            seen += k;
            for (uint32_t i = 0; i < r[q].n_rows; ++i) { /* the row's synapses with targets in slice b, in order */
                uint32_t at = rp[i];
                for (uint64_t j = r[q].row_ptr[i]; j < r[q].row_ptr[i + 1]; ++j) {
                    if (r[q].col[j] / m != b) continue;
                    assert_true(at < rp[i + 1]);
                    assert_int_equal(c16[at] + b * m, r[q].col[j]);
                    assert_true(c16[at] < m);
                    assert_true(wb[at] == r[q].w[j]);
                    if (r[q].delay) assert_int_equal(d16[at], r[q].delay[j]);
                    ++at;
                }
                assert_int_equal(at, rp[i + 1]);
            }
        }
        assert_int_equal(seen, n_syn); /* and none twice */
        free(rp); free(c16); free(d16); free(wb);
    }
    /* The same synapses with one weight per projection (COBA, CUBA) store no weights: 8 blocks
     * (the portable size) suffice. */
    vl_cluster_proj_in same[4];
    for (int q = 0; q < 4; ++q) {
        for (uint64_t j = 0; j < r[q].row_ptr[r[q].n_rows]; ++j) r[q].w[j] = 0.25f * (q + 1);
        same[q] = in[q];
        same[q].same_w = vl_cluster_same_w(r[q].w, r[q].row_ptr[r[q].n_rows], &same[q].w0);
        assert_true(same[q].same_w && same[q].w0 == 0.25f * (q + 1));
    }
    assert_int_equal(vl_cluster_plan_local(pops, 3, same, 4, 0, DESC, limit, 0, &L), 0);
    assert_int_equal(L.blocks, 8);
    check_layout_in(pops, 3, same, 4, &L);
    /* Forced sizes: powers of two only (the caps are per power of two); too few blocks: refused. */
    assert_int_equal(vl_cluster_plan_local(pops, 3, in, 4, 0, DESC, limit, 3, &L), -1);
    assert_int_equal(vl_cluster_plan_local(pops, 3, in, 4, 0, DESC, limit, 4, &L), -1);
    assert_int_equal(vl_cluster_plan_local(pops, 3, in, 4, 0, DESC, limit, 32, &L), -1);
    /* Ten times the synapses do not fit at all. */
    for (int q = 0; q < 4; ++q)
        for (int lg = 0; lg < 5; ++lg) in[q].cap[lg] *= 10;
    assert_int_equal(vl_cluster_plan_local(pops, 3, in, 4, 0, DESC, limit, 0, &L), -1);
    /* Slices beyond 16-bit local targets are refused by the layout itself, whatever the limit;
     * without local synapses the same slices only cost memory. */
    vl_cluster_pop_in wide = {1, 70000, 2, 3};
    vl_cluster_proj_in one = {0, 10, 0, 1, 1.0f, {1, 1, 1, 1, 1}};
    assert_true(vl_cluster_layout_in(&wide, 1, &one, 1, 0, 1, DESC, &L) == UINT64_MAX);
    assert_true(vl_cluster_layout_in(&wide, 1, NULL, 1, 0, 1, DESC, &L) < UINT64_MAX);
    /* Arrays of several GiB must not wrap the byte count back under a limit: 2^28 neurons with a
     * deterministic ring need about 19 GB; the largest population, 2^32 - 1, about 200 GB. */
    vl_cluster_pop_in huge = {1, 1u << 28, 2, 3}, largest = {1, 0xffffffffu, 2, 3};
    assert_true(vl_cluster_layout_in(&huge, 1, NULL, 1, 1, 1, DESC, &L) == UINT64_MAX);
    assert_true(vl_cluster_layout_in(&largest, 1, NULL, 1, 0, 1, DESC, &L) == UINT64_MAX);
    assert_int_equal(vl_cluster_plan(&largest, 1, 1, 0, DESC, 1u << 30, 0, &L), -1);
    for (int q = 0; q < 4; ++q) { free(r[q].row_ptr); free(r[q].col); free(r[q].w); free(r[q].delay); }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strategy_choice),
        cmocka_unit_test(test_items_cover_every_synapse_once),
        cmocka_unit_test(test_cluster_plan),
        cmocka_unit_test(test_cluster_spike_lookup),
        cmocka_unit_test(test_cluster_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
