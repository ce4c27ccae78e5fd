// The CUDA backend's host side: the DESIGN.md schedule on the GPU with the same kernels/ math as
// the CPU backend. cuda_init plans the device memory, uploads the network and builds the
// device tables (kernels/cuda.cuh); cuda_run advances a chunk of steps and drains its record.
//
// A step is a few launches for every population and projection at once: update (inputs and
// neurons), short-term factors and the spike history of delayed plastic projections when there
// are any, propagation, STDP when there is any, sampled state when recorded. A whole chunk of
// steps is captured once into a CUDA Graph and replayed; the chunk's first step lives in device
// memory, so the same graph serves every chunk and the host never waits inside one. Recording
// buffers come in two sets: while the host sorts and hands over one chunk's spikes, the device
// already simulates the next chunk into the other set (models without plasticity, whose weights
// the host may read between chunks; VOLLEY_CUDA_PIPELINE=0 turns it off). Two chunk
// kernels run a whole chunk in one launch instead (kernels/chunk.cu): one block
// (VOLLEY_CUDA_MODE=block) or one thread-block cluster with the neuron state in distributed
// shared memory (VOLLEY_CUDA_MODE=cluster). Spikes are recorded on the device (one region per
// step, so nothing can be dropped) and copied to pinned host memory once per chunk.
//
// Environment switches (for tests and benchmarks): VOLLEY_CUDA_MODE=graph|block|cluster|cluster-local,
// VOLLEY_CUDA_PIPELINE=0,
// VOLLEY_CUDA_PROPAGATE=thread|warp|split (kernels/propagate.h), VOLLEY_CUDA_UPDATE=thread|
// thread6|stride|bounds (the update kernel's launch shape, kernels/neurons.cu), VOLLEY_CUDA_SCATTER=1|4
// (synapses per lane the propagate kernel loads ahead, kernels/synapses.cuh), VOLLEY_CUDA_PDL=1
// (update and propagate launched with programmatic dependent launch, vl_pdl_start), VOLLEY_CUDA_SYNC=1 (no graph,
// a synchronisation and error check after every launch: faults are reported at their kernel),
// VOLLEY_CUDA_PROFILE=N (graph mode: chunk N, counted from 0, runs kernel by kernel with events
// between the kernels, and the mean device time of each kernel per step is printed to stderr:
// the kernels' own times with the caches as a run leaves them, which ncu's replay does not keep).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda.cuh"

extern "C" {
#include "sim/sim.h"
}

static const uint64_t VL_REC_BUDGET = 1ull << 28; // spike-record entries per chunk, both sets (1 GiB)

enum { MODE_GRAPH = 0, MODE_BLOCK = 1, MODE_CLUSTER = 2 };
static const char *const mode_names[] = {"graph", "single-block", "cluster"};

// Per-state-recording constants: the recorded ids and which receptor each variable reads (-1: v).
typedef struct state_dev { uint32_t *ids; int32_t *var_rec; } state_dev;

// One set of recording buffers and what simulates a chunk into it: the population table (whose
// spike regions and counts are the set's), the state-recording table, the chunk's first step, and
// the graph captured for it.
typedef struct rec_set {
    vl_cu_net net;           // what the launchers read (device pointers; pops and rec are the set's)
    dev_pop *h_pops;         // host copy of the set's population table
    dev_state_rec *h_rec;    // host copy of the set's state-recording table
    uint64_t *d_t0, *h_t0;   // the chunk's first step (h_t0 pinned)
    uint32_t *h_count;       // pinned, n_pops * chunk
    float *h_max;            // pinned, highest v per population
    float **d_frames, **h_frames;
    cudaGraphExec_t graph;
    int have_graph;
    cudaEvent_t done;        // counts, frames and highest v of the chunk are on the host
    int pending;             // a chunk is in flight or waiting to be collected
    uint64_t t0;
    uint32_t n;
} rec_set;

typedef struct cuda_state {
    cudaStream_t stream;     // the simulation
    cudaStream_t copy;       // packing and copying a finished chunk's spikes
    vl_cu_net net;           // the tables every set shares (pops and rec filled per set)
    dev_pop *h_pops;         // the population table without spike regions (each set adds its own)
    dev_proj *h_proj;        // host copies of the device tables
    dev_plastic *h_pl;
    dev_stp *h_stp;
    rec_set set[2];
    int n_sets, cur;         // sets in use (2: pipelined); the set the next chunk goes to
    uint32_t chunk;          // steps per chunk
    int mode, sync_each;     // MODE_*; VOLLEY_CUDA_SYNC
    long prof_chunk;         // VOLLEY_CUDA_PROFILE: the chunk to time kernel by kernel (-1: none)
    long chunks;             // chunks launched so far
    vl_cluster_layout cluster; // MODE_CLUSTER's plan
    void *d_syn;             // its local-synapse images (cluster.local), one per block
    // recording: one packing buffer (one chunk is collected at a time)
    uint32_t *h_spk;         // pinned, packed ids of recorded pops
    uint32_t *sort_tmp;      // vl__sort_u32's scratch: the largest recorded population
    uint32_t *d_packed;
    uint64_t packed_cap;
    size_t *frame_len;
    state_dev *sd;
    void **allocs;
    size_t n_allocs, cap_allocs;
} cuda_state;

#define CU(call)                                                                              \
    do {                                                                                      \
        cudaError_t e_ = (call);                                                              \
        if (e_ != cudaSuccess) {                                                              \
            vl__diag_error(&s->diag, vl_mark{}, "CUDA %s at %s:%d (%s)", cudaGetErrorName(e_),   \
                           __FILE__, __LINE__, cudaGetErrorString(e_));                      \
            return VL_ERR_DEVICE;                                                             \
        }                                                                                     \
    } while (0)

static cuda_state *state_of(vl_sim *s) { return (cuda_state *)s->be_state; }

// A launcher's result, and with VOLLEY_CUDA_SYNC the kernel's completion, checked where it ran.
#define LAUNCH(call)                                                                          \
    do {                                                                                      \
        CU(call);                                                                             \
        if (cs->sync_each) CU(cudaStreamSynchronize(cs->stream));                            \
    } while (0)

// Keeps a device allocation for cuda_free; frees it and fails when the list cannot grow.
static vl_status track_alloc(vl_sim *s, void *p) {
    cuda_state *cs = state_of(s);
    if (cs->n_allocs == cs->cap_allocs) {
        size_t cap = cs->cap_allocs ? 2 * cs->cap_allocs : 64;
        void **a = (void **)realloc(cs->allocs, cap * sizeof(void *));
        if (!a) {
            cudaFree(p);
            return VL_ERR_NOMEM;
        }
        cs->allocs = a;
        cs->cap_allocs = cap;
    }
    cs->allocs[cs->n_allocs++] = p;
    return VL_OK;
}

static vl_status dev_alloc(vl_sim *s, void **p, size_t bytes) {
    CU(cudaMalloc(p, bytes ? bytes : 4));
    return track_alloc(s, *p);
}

template <typename T>
static vl_status upload(vl_sim *s, T **dst, const T *src, size_t n) {
    vl_status st = dev_alloc(s, (void **)dst, n * sizeof(T));
    if (st != VL_OK) return st;
    if (n) CU(cudaMemcpy(*dst, src, n * sizeof(T), cudaMemcpyHostToDevice));
    return VL_OK;
}

extern "C" int vl_cuda_device_count(void) {
    int n = 0;
    // A failed probe means "no device" (TOOLCHAIN.md: the error is sticky; make no further calls).
    if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
    return n;
}

extern "C" int vl_cuda_describe(int dev, char *buf, size_t len) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, dev) != cudaSuccess) return snprintf(buf, len, "(unreadable)");
    return snprintf(buf, len, "%s, %d SMs, %.1f GiB, compute capability %d.%d", p.name, p.multiProcessorCount,
                    p.totalGlobalMem / 1073741824.0, p.major, p.minor);
}

static void cuda_destroy(vl_sim *s) {
    cuda_state *cs = state_of(s);
    if (!cs) return;
    if (cs->stream) cudaStreamSynchronize(cs->stream); // a chunk started early may still run
    if (cs->copy) cudaStreamSynchronize(cs->copy);
    for (int k = 0; k < 2; ++k) {
        rec_set *S = &cs->set[k];
        if (S->have_graph) cudaGraphExecDestroy(S->graph);
        if (S->done) cudaEventDestroy(S->done);
        if (S->h_t0) cudaFreeHost(S->h_t0);
        if (S->h_count) cudaFreeHost(S->h_count);
        if (S->h_max) cudaFreeHost(S->h_max);
        for (size_t q = 0; S->h_frames && q < s->n_state; ++q)
            if (S->h_frames[q]) cudaFreeHost(S->h_frames[q]);
        free(S->h_frames); free(S->d_frames); free(S->h_pops); free(S->h_rec);
    }
    for (size_t i = 0; i < cs->n_allocs; ++i) cudaFree(cs->allocs[i]);
    if (cs->h_spk) cudaFreeHost(cs->h_spk);
    free(cs->sort_tmp);
    if (cs->stream) cudaStreamDestroy(cs->stream);
    if (cs->copy) cudaStreamDestroy(cs->copy);
    free(cs->frame_len); free(cs->sd);
    free(cs->h_pops); free(cs->h_proj); free(cs->h_pl); free(cs->h_stp); free(cs->allocs);
    free(cs);
    s->be_state = NULL;
}

// A delayed plastic projection's spikes act on arrival (kernels/plasticity.h): it keeps a history.
static int keeps_history(const vl_sim *s, size_t q) { return s->s->proj[q].stdp.on && s->net.proj[q].delay_const > 0; }

// Bytes the model needs on the device, from the same sizes cuda_init allocates.
static vl_status plan_memory(vl_sim *s, uint32_t chunk, int n_sets) {
    const vl_spec *sp = s->s;
    double need = 0;
    for (size_t i = 0; i < sp->n_pops; ++i) {
        const vl_pop_rt *rt = &s->rt[i];
        double n = rt->size, nr = rt->type == VL_POP_NEURON ? rt->np.n_rec : 0;
        need += n * (12 + 4 * nr + (s->deterministic ? 12 : 4) * nr * rt->ring_len) + n / 8;
        need += n_sets * (4.0 * chunk + 4 * n * (s->rec_spikes[i] ? chunk : 1));
        if (s->rec_spikes[i]) need += 4.0 * n * chunk; // the packing buffer (init_state_rec)
    }
    for (size_t q = 0; q < s->n_state; ++q) { // sampled state: each set's frames (frame_len)
        const vl_state_rec_spec *sr = &sp->state[q];
        need += n_sets * 4.0 * (chunk / sr->every + 1) * sr->n_vars * sr->n_ids;
    }
    for (size_t q = 0; q < s->net.n_proj; ++q) {
        const vl_csr *c = &s->net.proj[q];
        need += 8.0 * (c->n_rows + 1) + 8.0 * c->n_syn + (c->delay ? 2.0 * c->n_syn : 0);
        if (sp->proj[q].stdp.on) need += 8.0 * (c->n_cols + 1) + 12.0 * c->n_syn + 4.0 * (c->n_rows + c->n_cols);
        if (keeps_history(s, q)) need += 4.0 * ((double)c->delay_const + 1) * (c->n_rows + 1);
        if (s->stp[q].model != VL_STP_NONE) need += 20.0 * c->n_rows;
    }
    size_t free_b = 0, total_b = 0;
    CU(cudaMemGetInfo(&free_b, &total_b));
    if (need > 0.95 * (double)free_b) {
        vl__diag_error(&s->diag, vl_mark{}, "the model needs %.2f GiB on the GPU but only %.2f GiB of %.2f GiB are free; "
                       "use --backend cpu or a smaller model", need / 1073741824.0, free_b / 1073741824.0,
                       total_b / 1073741824.0);
        return VL_ERR_NOMEM;
    }
    return VL_OK;
}

// Inputs: rates, tables, spike times and the stimulus protocol's segments and patterns.
static vl_status init_input(vl_sim *s, const vl_pop_rt *rt, dev_pop *p) {
    vl_status st;
    size_t n = rt->size;
    p->start_step = rt->start_step;
    p->stop_step = rt->stop_step;
    p->prob = rt->prob;
    p->n_table = (uint32_t)rt->n_table;
    p->n_spk = rt->n_spk;
    float *probs = NULL, *tprob = NULL;
    uint64_t *tstep = NULL, *sstep = NULL;
    uint32_t *sid = NULL;
    if (rt->probs && (st = upload(s, &probs, rt->probs, n))) return st;
    if (rt->n_table && ((st = upload(s, &tstep, rt->table_step, rt->n_table)) ||
                        (st = upload(s, &tprob, rt->table_prob, rt->n_table))))
        return st;
    if (rt->n_spk && ((st = upload(s, &sstep, rt->spk_step, rt->n_spk)) || (st = upload(s, &sid, rt->spk_id, rt->n_spk))))
        return st;
    if (rt->is_pattern) {
        uint64_t *ss;
        int32_t *seg;
        uint8_t *px;
        size_t n_pat = s->s->stim.n_patterns;
        if ((st = upload(s, &ss, rt->seg_step, rt->n_seg)) || (st = upload(s, &seg, rt->seg_pat, rt->n_seg)) ||
            (st = upload(s, &px, rt->pix, n_pat * rt->pix_stride)))
            return st;
        p->is_pattern = 1;
        p->n_seg = rt->n_seg;
        p->seg_step = ss;
        p->seg_pat = seg;
        p->pix = px;
        p->pix_stride = rt->pix_stride;
        p->group = rt->group;
        p->on_prob = rt->on_prob;
        p->off_prob = rt->off_prob;
    }
    p->probs = probs;
    p->table_step = tstep;
    p->table_prob = tprob;
    p->spk_step = sstep;
    p->spk_id = sid;
    return VL_OK;
}

// Neuron populations: state, ring buffers, per-warp maxima of v.
static vl_status init_neurons(vl_sim *s, size_t i, dev_pop *p) {
    cuda_state *cs = state_of(s);
    const vl_pop_rt *rt = &s->rt[i];
    vl_status st;
    size_t n = rt->size, nr = (size_t)rt->np.n_rec, ring = n * nr * rt->ring_len;
    p->np = rt->np;
    vl_rec_params *drec;
    if ((st = upload(s, &drec, rt->rec, nr))) return st;
    p->np.rec = drec;
    if ((st = upload(s, &p->v, s->net.v0[i], n)) || (st = upload(s, &p->g, s->net.g0[i], n * nr))) return st;
    if ((st = dev_alloc(s, (void **)&p->refr, 4 * n)) || (st = dev_alloc(s, (void **)&p->wa, 4 * n))) return st;
    CU(cudaMemset(p->refr, 0, 4 * n));
    CU(cudaMemset(p->wa, 0, 4 * n));
    if ((st = dev_alloc(s, (void **)&p->ring, 4 * ring))) return st;
    CU(cudaMemset(p->ring, 0, 4 * ring));
    if (s->deterministic) {
        if ((st = dev_alloc(s, (void **)&p->ring_q, 8 * ring))) return st;
        CU(cudaMemset(p->ring_q, 0, 8 * ring));
    }
    uint32_t n_warps = (uint32_t)((n + 31) / 32);
    if ((st = dev_alloc(s, (void **)&p->wmax, 4 * (size_t)n_warps))) return st;
    CU(vl_cu_fill(p->wmax, -INFINITY, n_warps, cs->stream));
    return VL_OK;
}

static vl_status init_pops(vl_sim *s) {
    cuda_state *cs = state_of(s);
    const vl_spec *sp = s->s;
    vl_status st;
    cs->h_pops = (dev_pop *)calloc(sp->n_pops + 1, sizeof(dev_pop));
    if (!cs->h_pops) return VL_ERR_NOMEM;
    uint32_t offset = 0;
    for (size_t i = 0; i < sp->n_pops; ++i) {
        const vl_pop_rt *rt = &s->rt[i];
        dev_pop *p = &cs->h_pops[i];
        p->type = rt->type;
        p->offset = offset;
        p->size = rt->size;
        p->ring_len = rt->ring_len;
        p->recorded = s->rec_spikes[i];
        offset += (rt->size + 31) & ~31u;
        if (rt->size > cs->net.max_src) cs->net.max_src = rt->size;
        if ((st = dev_alloc(s, (void **)&p->max_v, 4))) return st;
        CU(vl_cu_fill(p->max_v, -INFINITY, 1, cs->stream));
        st = rt->type == VL_POP_NEURON ? init_neurons(s, i, p) : init_input(s, rt, p);
        if (st != VL_OK) return st;
    }
    cs->net.n_threads = offset;
    if (sp->n_pops <= VL_CU_BOUNDS) {
        cs->net.bounds.n = (uint32_t)sp->n_pops;
        for (size_t i = 0; i < sp->n_pops; ++i) cs->net.bounds.first[i] = cs->h_pops[i].offset / 32;
    }
    uint32_t *wp = (uint32_t *)calloc(offset / 32 + 1, sizeof(uint32_t));
    if (!wp) return VL_ERR_NOMEM;
    for (size_t i = 0; i < sp->n_pops; ++i)
        for (uint32_t w = cs->h_pops[i].offset / 32; w < (cs->h_pops[i].offset + s->rt[i].size + 31) / 32; ++w) wp[w] = (uint32_t)i;
    uint32_t *d_wp;
    st = upload(s, &d_wp, (const uint32_t *)wp, offset / 32 + 1);
    free(wp);
    cs->net.warp_pop = d_wp;
    return st;
}

// Projections: CSR, strategy, short-term state, the history of delayed plastic projections.
static vl_status init_proj(vl_sim *s) {
    cuda_state *cs = state_of(s);
    size_t n_proj = s->net.n_proj;
    vl_status st;
    const int forced = vl_prop_parse(getenv("VOLLEY_CUDA_PROPAGATE"));
    cs->h_proj = (dev_proj *)calloc(n_proj + 1, sizeof(dev_proj));
    cs->h_stp = (dev_stp *)calloc(n_proj + 1, sizeof(dev_stp));
    if (!cs->h_proj || !cs->h_stp) return VL_ERR_NOMEM;
    for (size_t q = 0; q < n_proj; ++q) {
        const vl_csr *c = &s->net.proj[q];
        dev_proj *d = &cs->h_proj[q];
        d->src = (uint32_t)c->src;
        d->tgt = (uint32_t)c->tgt;
        d->rec = (uint32_t)c->rec;
        d->src_lo = c->src_lo;
        d->n_rows = c->n_rows;
        d->delay_const = c->delay_const;
        uint64_t longest = 0;
        for (uint32_t r = 0; r < c->n_rows; ++r)
            if (c->row_ptr[r + 1] - c->row_ptr[r] > longest) longest = c->row_ptr[r + 1] - c->row_ptr[r];
        d->n_chunks = (uint32_t)((longest + VL_ROW_CHUNK - 1) / VL_ROW_CHUNK);
        if (d->n_chunks == 0) d->n_chunks = 1;
        d->strategy = forced >= 0 ? forced : vl_prop_strategy(c->n_rows ? (double)c->n_syn / c->n_rows : 0.0, longest);
        uint64_t *rp;
        uint32_t *col;
        float *w;
        uint16_t *dl = NULL;
        if ((st = upload(s, &rp, c->row_ptr, (size_t)c->n_rows + 1)) || (st = upload(s, &col, c->col, c->n_syn)) ||
            (st = upload(s, &w, c->w, c->n_syn)))
            return st;
        if (c->delay && (st = upload(s, &dl, c->delay, c->n_syn))) return st;
        d->row_ptr = rp;
        d->col = col;
        d->w = w;
        d->delay = dl;
        if (keeps_history(s, q)) {
            d->hist_slots = (uint32_t)c->delay_const + 1;
            if ((st = dev_alloc(s, (void **)&d->hist, 4 * (size_t)d->hist_slots * (c->n_rows + 1))) ||
                (st = dev_alloc(s, (void **)&d->hist_n, 4 * (size_t)d->hist_slots)))
                return st;
            CU(cudaMemset(d->hist_n, 0, 4 * (size_t)d->hist_slots));
            cs->net.n_hist++;
        }
        const vl_stp_params *ps = &s->stp[q];
        if (ps->model == VL_STP_NONE) continue;
        dev_stp *e = &cs->h_stp[cs->net.n_stp++];
        e->p = *ps;
        e->proj = (uint32_t)q;
        float *u0 = (float *)calloc(c->n_rows + 1, sizeof(float)), *x0 = (float *)calloc(c->n_rows + 1, sizeof(float));
        if (!u0 || !x0) {
            free(u0);
            free(x0);
            return VL_ERR_NOMEM;
        }
        for (uint32_t i = 0; i < c->n_rows; ++i) u0[i] = ps->U, x0[i] = ps->model == VL_STP_TSODYKS_MARKRAM ? 1.0f : 0.0f;
        st = upload(s, &e->u, (const float *)u0, c->n_rows + 1);
        if (st == VL_OK) st = upload(s, &e->x, (const float *)x0, c->n_rows + 1);
        free(u0);
        free(x0);
        if (st != VL_OK || (st = dev_alloc(s, (void **)&e->last, 8 * ((size_t)c->n_rows + 1))) ||
            (st = dev_alloc(s, (void **)&e->factor, 4 * ((size_t)c->n_rows + 1))))
            return st;
        CU(cudaMemset(e->last, 0, 8 * ((size_t)c->n_rows + 1)));
        d->factor = e->factor;
    }
    return VL_OK;
}

// Plastic projections: traces and the CSC index over the projection's device CSR.
static vl_status init_plastic(vl_sim *s, uint32_t sm_count) {
    cuda_state *cs = state_of(s);
    const vl_spec *sp = s->s;
    vl_status st;
    cs->h_pl = (dev_plastic *)calloc(s->net.n_proj + 1, sizeof(dev_plastic));
    if (!cs->h_pl) return VL_ERR_NOMEM;
    uint32_t widest = 1;
    for (size_t q = 0; q < s->net.n_proj; ++q) {
        if (!sp->proj[q].stdp.on) continue;
        const vl_csr *c = &s->net.proj[q];
        dev_plastic *d = &cs->h_pl[cs->net.n_pl++];
        d->p = s->stdp[q];
        d->proj = (uint32_t)q;
        d->tgt = (uint32_t)c->tgt;
        d->tgt_lo = c->tgt_lo;
        d->n_rows = c->n_rows;
        d->n_cols = c->n_cols;
        d->w = (float *)cs->h_proj[q].w;
        d->row_ptr = cs->h_proj[q].row_ptr;
        d->col = cs->h_proj[q].col;
        uint64_t *cp, *syn;
        uint32_t *crow;
        if ((st = dev_alloc(s, (void **)&d->A_pre, 4 * (size_t)(c->n_rows + 1))) ||
            (st = dev_alloc(s, (void **)&d->A_post, 4 * (size_t)(c->n_cols + 1))) ||
            (st = upload(s, &cp, c->col_ptr, (size_t)c->n_cols + 1)) || (st = upload(s, &syn, c->csc_syn, c->n_syn)) ||
            (st = upload(s, &crow, c->csc_row, c->n_syn)))
            return st;
        CU(cudaMemset(d->A_pre, 0, 4 * (size_t)(c->n_rows + 1)));
        CU(cudaMemset(d->A_post, 0, 4 * (size_t)(c->n_cols + 1)));
        d->col_ptr = cp;
        d->csc_syn = syn;
        d->csc_row = crow;
        uint32_t need = s->rt[c->src].size > s->rt[c->tgt].size ? s->rt[c->src].size : s->rt[c->tgt].size;
        if (need > widest) widest = need;
    }
    uint32_t full_warps = sm_count * (2048 / 32);
    cs->net.pl_warps = widest < full_warps ? widest : full_warps;
    return VL_OK;
}

// The state-recording constants every set shares: recorded ids and the receptor per variable.
static vl_status init_state_rec(vl_sim *s) {
    cuda_state *cs = state_of(s);
    const vl_spec *sp = s->s;
    vl_status st;
    cs->frame_len = (size_t *)calloc(s->n_state + 1, sizeof(size_t));
    cs->sd = (state_dev *)calloc(s->n_state + 1, sizeof(state_dev));
    if (!cs->frame_len || !cs->sd) return VL_ERR_NOMEM;
    for (size_t q = 0; q < s->n_state; ++q) {
        const vl_state_rec_spec *sr = &sp->state[q];
        const vl_pop_spec *ps = &sp->pops[sr->pop];
        cs->frame_len[q] = (cs->chunk / sr->every + 1) * sr->n_vars * sr->n_ids;
        int32_t *vr = (int32_t *)calloc(sr->n_vars, sizeof(int32_t));
        if (!vr) return VL_ERR_NOMEM;
        for (size_t v = 0; v < sr->n_vars; ++v) {
            vr[v] = -1;
            for (size_t r = 0; strcmp(sr->vars[v], "v") != 0 && r < ps->n_rec; ++r)
                if (!strcmp(sr->vars[v] + 2, ps->rec[r].name)) vr[v] = (int32_t)r;
        }
        st = upload(s, &cs->sd[q].ids, sr->ids, sr->n_ids);
        if (st == VL_OK) st = upload(s, &cs->sd[q].var_rec, (const int32_t *)vr, sr->n_vars);
        free(vr);
        if (st != VL_OK) return st;
    }
    // One packing buffer: a chunk's recorded spikes on their way to the host.
    uint64_t cap = 0;
    for (size_t i = 0; i < sp->n_pops; ++i)
        if (s->rec_spikes[i]) cap += (uint64_t)s->rt[i].size * cs->chunk;
    cs->packed_cap = cap;
    CU(cudaMallocHost((void **)&cs->h_spk, 4 * (cap ? cap : 1)));
    size_t most = 1; // a step lists each neuron of a population at most once
    for (size_t i = 0; i < s->s->n_pops; ++i)
        if (s->rec_spikes[i] && s->rt[i].size > most) most = s->rt[i].size;
    cs->sort_tmp = (uint32_t *)malloc(4 * most);
    if (!cs->sort_tmp) return VL_ERR_NOMEM;
    return dev_alloc(s, (void **)&cs->d_packed, 4 * (cap ? cap : 1));
}

// Recording set k: spike regions and counts in its own copy of the population table, state
// frames, pinned host buffers, the chunk's first step; its device tables and launch view.
static vl_status init_set(vl_sim *s, int k) {
    cuda_state *cs = state_of(s);
    const vl_spec *sp = s->s;
    rec_set *S = &cs->set[k];
    vl_status st;
    S->h_pops = (dev_pop *)calloc(sp->n_pops + 1, sizeof(dev_pop));
    S->h_rec = (dev_state_rec *)calloc(s->n_state + 1, sizeof(dev_state_rec));
    S->d_frames = (float **)calloc(s->n_state + 1, sizeof(float *));
    S->h_frames = (float **)calloc(s->n_state + 1, sizeof(float *));
    if (!S->h_pops || !S->h_rec || !S->d_frames || !S->h_frames) return VL_ERR_NOMEM;
    memcpy(S->h_pops, cs->h_pops, sp->n_pops * sizeof(dev_pop));
    for (size_t i = 0; i < sp->n_pops; ++i) {
        dev_pop *p = &S->h_pops[i];
        if ((st = dev_alloc(s, (void **)&p->spk, 4 * (size_t)p->size * (p->recorded ? cs->chunk : 1))) ||
            (st = dev_alloc(s, (void **)&p->count, 4 * (size_t)cs->chunk)))
            return st;
    }
    CU(cudaMallocHost((void **)&S->h_t0, 8));
    CU(cudaMallocHost((void **)&S->h_count, 4 * sp->n_pops * (size_t)cs->chunk));
    CU(cudaMallocHost((void **)&S->h_max, 4 * (sp->n_pops + 1)));
    CU(cudaEventCreateWithFlags(&S->done, cudaEventDisableTiming));
    for (size_t q = 0; q < s->n_state; ++q) {
        const vl_state_rec_spec *sr = &sp->state[q];
        if ((st = dev_alloc(s, (void **)&S->d_frames[q], 4 * cs->frame_len[q]))) return st;
        CU(cudaMallocHost((void **)&S->h_frames[q], 4 * cs->frame_len[q]));
        dev_state_rec *r = &S->h_rec[q];
        r->pop = sr->pop;
        r->n_ids = (uint32_t)sr->n_ids;
        r->n_vars = (uint32_t)sr->n_vars;
        r->every = sr->every;
        r->ids = cs->sd[q].ids;
        r->var_rec = cs->sd[q].var_rec;
        r->frames = S->d_frames[q];
    }
    dev_pop *dp;
    dev_state_rec *dr;
    if ((st = upload(s, &dp, (const dev_pop *)S->h_pops, sp->n_pops + 1)) ||
        (st = upload(s, &dr, (const dev_state_rec *)S->h_rec, s->n_state + 1)) ||
        (st = dev_alloc(s, (void **)&S->d_t0, 8)))
        return st;
    S->net = cs->net;
    S->net.pops = dp;
    S->net.rec = dr;
    S->net.t0 = S->d_t0;
    return VL_OK;
}

// Local synapses for the cluster kernel (kernels/cluster.h): plans them when every projection's
// share fits the blocks' shared memory and the device can launch the cluster, then uploads each
// block's image of its synapse arrays. Returns 1 when planned, 0 when not (nothing allocated),
// -1 on a device error.
static int plan_local_synapses(vl_sim *s, const vl_cluster_pop_in *in, int n, uint32_t desc, const cudaDeviceProp *prop,
                               int force) {
    cuda_state *cs = state_of(s);
    const size_t n_proj = s->net.n_proj;
    uint64_t bytes = 0;
    for (size_t q = 0; q < n_proj; ++q) bytes += s->net.proj[q].n_syn * 6;
    if (n_proj < 1 || n_proj > VL_CLUSTER_MAX_PROJ ||
        bytes > (uint64_t)VL_CLUSTER_MAX_LOCAL_BLOCKS * prop->sharedMemPerBlockOptin)
        return 0; // cannot fit: spare the counting
    vl_cluster_proj_in *pj = (vl_cluster_proj_in *)calloc(n_proj, sizeof *pj);
    if (!pj) return 0;
    for (size_t q = 0; q < n_proj; ++q) {
        const vl_csr *c = &s->net.proj[q];
        pj[q].tgt = (uint32_t)c->tgt;
        pj[q].n_rows = c->n_rows;
        pj[q].delays = c->delay != NULL;
        pj[q].same_w = vl_cluster_same_w(c->w, c->n_syn, &pj[q].w0); // COBA, CUBA: no weights to store
        for (int lg = 0; lg < 5; ++lg)
            pj[q].cap[lg] = vl_cluster_cap(c->col, c->n_syn, vl_cluster_slice(in[c->tgt].size, 1 << lg), 1 << lg);
    }
    vl_cluster_layout L;
    int ok = vl_cluster_plan_local(in, n, pj, (int)n_proj, s->deterministic, desc, prop->sharedMemPerBlockOptin, force,
                                   &L) == 0 &&
             vl_cu_cluster_fits(&L) >= 1;
    free(pj);
    if (!ok) return 0;
    unsigned char *img = (unsigned char *)calloc((size_t)L.blocks, L.syn_bytes);
    if (!img) return 0;
    for (int b = 0; b < L.blocks; ++b) {
        unsigned char *base = img + (size_t)b * L.syn_bytes - L.syn; // L's offsets are within the block's memory
        for (size_t q = 0; q < n_proj; ++q) {
            const vl_csr *c = &s->net.proj[q];
            const vl_cluster_proj *lp = &L.proj[q];
            vl_cluster_shard(c->row_ptr, c->col, c->w, c->delay, c->n_rows, L.pop[c->tgt].m, (uint32_t)b,
                             (uint32_t *)(base + lp->rp), (uint16_t *)(base + lp->col),
                             lp->w ? (float *)(base + lp->w) : NULL, c->delay ? (uint16_t *)(base + lp->delay) : NULL);
        }
    }
    // No room on the device for the images is no error: the plain cluster plan is tried instead.
    if (cudaMalloc(&cs->d_syn, (size_t)L.blocks * L.syn_bytes) != cudaSuccess) {
        (void)cudaGetLastError(); // an allocation failure does not stick; clear it
        cs->d_syn = NULL;
        free(img);
        return 0;
    }
    vl_status st = track_alloc(s, cs->d_syn);
    if (st != VL_OK) cs->d_syn = NULL; // track_alloc freed it
    cudaError_t e = cudaSuccess;
    if (st == VL_OK) {
        // A pageable copy may return before its DMA has landed, and cs->stream (non-blocking) would
        // not wait for it: wait here, before any kernel can read the images.
        e = cudaMemcpy(cs->d_syn, img, (size_t)L.blocks * L.syn_bytes, cudaMemcpyHostToDevice);
        if (e == cudaSuccess) e = cudaDeviceSynchronize();
        if (e != cudaSuccess) {
            vl__diag_error(&s->diag, vl_mark{}, "CUDA %s while copying the local synapses (%s)", cudaGetErrorName(e),
                           cudaGetErrorString(e));
            st = VL_ERR_DEVICE;
        }
    }
    free(img);
    if (st == VL_ERR_NOMEM) vl__diag_error(&s->diag, vl_mark{}, "out of host memory for the device allocation list");
    if (st != VL_OK) return -1;
    cs->cluster = L;
    return 1;
}

// The execution mode: VOLLEY_CUDA_MODE, else graph replay. The chunk kernels have no plasticity,
// short-term or history phase; the cluster kernel needs compute capability 9.0 and a network
// whose neuron state fits its blocks' shared memory (kernels/cluster.h; VOLLEY_CUDA_CLUSTER=N
// forces N blocks); VOLLEY_CUDA_MODE=cluster-local also keeps each block's synapses in its
// shared memory when they fit (up to 16 blocks), else runs as cluster. A mode that cannot run
// the model falls back to graph replay.
static vl_status pick_mode(vl_sim *s, const cudaDeviceProp *prop) {
    cuda_state *cs = state_of(s);
    const char *m = getenv("VOLLEY_CUDA_MODE");
    const int local = m && !strcmp(m, "cluster-local");
    cs->mode = MODE_GRAPH;
    if (m && !strcmp(m, "block")) cs->mode = MODE_BLOCK;
    if (m && (!strcmp(m, "cluster") || local)) cs->mode = MODE_CLUSTER;
    if (cs->net.n_pl || cs->net.n_stp || cs->net.n_hist) cs->mode = MODE_GRAPH;
    if (cs->mode == MODE_CLUSTER) {
        vl_cluster_pop_in in[VL_CLUSTER_MAX_POPS];
        int n = cs->net.n_pops <= VL_CLUSTER_MAX_POPS ? cs->net.n_pops : 0;
        for (int i = 0; i < n; ++i) {
            const dev_pop *p = &cs->h_pops[i];
            in[i].neuron = p->type == VL_POP_NEURON;
            in[i].size = p->size;
            in[i].n_rec = p->type == VL_POP_NEURON ? (uint32_t)p->np.n_rec : 0;
            in[i].ring_len = p->ring_len;
        }
        const char *force = getenv("VOLLEY_CUDA_CLUSTER");
        const uint32_t desc = vl_cu_cluster_desc_bytes(n, cs->net.n_proj);
        int planned = 0;
        if (local && prop->major >= 9 && n) {
            planned = plan_local_synapses(s, in, n, desc, prop, force ? atoi(force) : 0);
            if (planned < 0) return VL_ERR_DEVICE;
        }
        if (!planned && (prop->major < 9 || !n ||
                         vl_cluster_plan(in, n, cs->net.n_proj, s->deterministic, desc, prop->sharedMemPerBlockOptin,
                                         force ? atoi(force) : 0, &cs->cluster) != 0 ||
                         vl_cu_cluster_fits(&cs->cluster) < 1))
            cs->mode = MODE_GRAPH;
    }
    if (cs->sync_each) cs->mode = MODE_GRAPH; // launches one by one, no graph
    char *d = s->device + strlen(s->device);
    size_t left = sizeof s->device - strlen(s->device);
    if (cs->mode == MODE_CLUSTER)
        snprintf(d, left, ", cluster mode (%d blocks of %d threads, %u KiB shared each%s)", cs->cluster.blocks,
                 cs->cluster.threads, cs->cluster.shm / 1024, cs->cluster.local ? ", local synapses" : "");
    else
        snprintf(d, left, ", %s mode", mode_names[cs->mode]);
    static const char *const update_names[] = {"thread", "thread6", "stride", "bounds"};
    if (cs->mode == MODE_GRAPH && cs->net.update != VL_UPDATE_THREAD)
        snprintf(s->device + strlen(s->device), sizeof s->device - strlen(s->device), ", %s update",
                 update_names[cs->net.update]);
    if (cs->mode == MODE_GRAPH && cs->net.scatter != 1)
        snprintf(s->device + strlen(s->device), sizeof s->device - strlen(s->device), ", scatter %d",
                 cs->net.scatter);
    if (cs->mode == MODE_GRAPH && cs->net.pdl)
        snprintf(s->device + strlen(s->device), sizeof s->device - strlen(s->device), ", dependent launch");
    if (cs->n_sets == 2) snprintf(s->device + strlen(s->device), sizeof s->device - strlen(s->device), ", pipelined");
    return VL_OK;
}

static vl_status cuda_init(vl_sim *s) {
    cuda_state *cs = (cuda_state *)calloc(1, sizeof *cs);
    s->be_state = cs;
    if (!cs) return VL_ERR_NOMEM;
    const vl_spec *sp = s->s;
    cs->net.n_pops = (int)sp->n_pops;
    cs->net.n_proj = (int)s->net.n_proj;
    cs->net.n_rec = (int)s->n_state;
    cs->net.seed = s->seed;
    CU(cudaSetDevice(0));
    cudaDeviceProp prop;
    CU(cudaGetDeviceProperties(&prop, 0));
    snprintf(s->device, sizeof s->device, "%.100s", prop.name); // room for the mode after it
    CU(cudaStreamCreateWithFlags(&cs->stream, cudaStreamNonBlocking));
    CU(cudaStreamCreateWithFlags(&cs->copy, cudaStreamNonBlocking));
    const char *sync = getenv("VOLLEY_CUDA_SYNC"), *pipe = getenv("VOLLEY_CUDA_PIPELINE");
    cs->sync_each = sync && *sync && strcmp(sync, "0") != 0;
    const char *prof = getenv("VOLLEY_CUDA_PROFILE");
    cs->prof_chunk = prof && *prof ? strtol(prof, NULL, 10) : -1;
    int plastic = 0;
    for (size_t q = 0; q < s->net.n_proj; ++q) plastic |= sp->proj[q].stdp.on;
    // Two recording sets let the device run a chunk ahead; not with plastic weights, which the
    // host reads between chunks (snapshots), nor when every launch is synchronised.
    cs->n_sets = plastic || cs->sync_each || (pipe && !strcmp(pipe, "0")) ? 1 : 2;
    // Chunk length: recorded spikes keep one region per step; stay within the budget.
    uint64_t rec_neurons = 0;
    for (size_t i = 0; i < sp->n_pops; ++i)
        if (s->rec_spikes[i]) rec_neurons += s->rt[i].size;
    uint64_t chunk = s->chunk_steps, budget = VL_REC_BUDGET / cs->n_sets;
    if (rec_neurons && rec_neurons * chunk > budget) chunk = budget / rec_neurons;
    if (chunk < 1) chunk = 1;
    cs->chunk = (uint32_t)chunk;
    s->chunk_steps = cs->chunk;
    vl_status st;
    if ((st = plan_memory(s, cs->chunk, cs->n_sets)) || (st = init_pops(s)) || (st = init_proj(s)) ||
        (st = init_plastic(s, (uint32_t)prop.multiProcessorCount)) || (st = init_state_rec(s)))
        return st;
    const char *upd = getenv("VOLLEY_CUDA_UPDATE");
    cs->net.update = vl_cu_update_parse(upd);
    if (cs->net.update < 0) {
        vl__diag_error(&s->diag, vl_mark{}, "VOLLEY_CUDA_UPDATE=%s: expected thread, thread6, stride or bounds", upd);
        return VL_ERR_DEVICE;
    }
    if (cs->net.update == VL_UPDATE_BOUNDS && !cs->net.bounds.n) cs->net.update = VL_UPDATE_THREAD; // too many populations
    cs->net.upd_blocks = (uint32_t)prop.multiProcessorCount * 4; // one wave of the stride kernel
    const char *ub = getenv("VOLLEY_CUDA_STRIDE_BLOCKS"); // a smaller wave, so that a test model strides
    if (ub && atoi(ub) > 0) cs->net.upd_blocks = (uint32_t)atoi(ub);
    const char *pdl = getenv("VOLLEY_CUDA_PDL");
    cs->net.pdl = pdl && *pdl && strcmp(pdl, "0") != 0 && prop.major >= 9; // griddepcontrol: compute capability 9.0
    const char *sc = getenv("VOLLEY_CUDA_SCATTER");
    cs->net.scatter = sc && *sc ? atoi(sc) : 1;
    if (cs->net.scatter != 1 && cs->net.scatter != 4) {
        vl__diag_error(&s->diag, vl_mark{}, "VOLLEY_CUDA_SCATTER=%s: expected 1 or 4", sc);
        return VL_ERR_DEVICE;
    }
    // Propagation: one resident wave at most (as many blocks as the SMs hold of this variant: 6
    // per SM, not 8, for 40 registers a thread), enough warps for the largest spike burst.
    uint32_t want = (cs->net.max_src + VL_CU_WARPS - 1) / VL_CU_WARPS,
             full = (uint32_t)prop.multiProcessorCount * (uint32_t)vl_cu_propagate_per_sm(&cs->net);
    cs->net.prop_blocks = want < full ? (want ? want : 1) : full;
    dev_proj *dq;
    dev_stp *ds;
    dev_plastic *dl;
    if ((st = upload(s, &dq, (const dev_proj *)cs->h_proj, s->net.n_proj + 1)) ||
        (st = upload(s, &ds, (const dev_stp *)cs->h_stp, (size_t)cs->net.n_stp + 1)) ||
        (st = upload(s, &dl, (const dev_plastic *)cs->h_pl, (size_t)cs->net.n_pl + 1)))
        return st;
    cs->net.proj = dq;
    cs->net.stp = ds;
    cs->net.pl = dl;
    for (int k = 0; k < cs->n_sets; ++k)
        if ((st = init_set(s, k)) != VL_OK) return st;
    CU(cudaDeviceSynchronize()); // the fills and memsets above (some on the legacy stream) are done
    return pick_mode(s, &prop);
}

// The schedule's launches for steps 0 .. n_steps - 1 of a chunk into set S (graph capture or direct).
enum { PHASES = 6 }; // a step's launches, in the schedule's order
static const char *const phase_name[PHASES] = {"state", "update", "history", "stp", "propagate", "stdp"};

static cudaError_t launch_phase(const rec_set *S, int p, uint32_t k, cudaStream_t st) {
    const vl_cu_net *n = &S->net;
    switch (p) {
    case 0: return vl_cu_state(n, S->h_rec, k, st);
    case 1: return vl_cu_update(n, k, st);
    case 2: return vl_cu_history(n, k, st);
    case 3: return vl_cu_stp(n, k, st);
    case 4: return vl_cu_propagate(n, k, st);
    default: return vl_cu_stdp(n, k, st);
    }
}

static vl_status enqueue_steps(vl_sim *s, const rec_set *S, uint32_t n_steps) {
    cuda_state *cs = state_of(s);
    for (uint32_t k = 0; k < n_steps; ++k)
        for (int p = 0; p < PHASES; ++p) {
            cudaError_t e = launch_phase(S, p, k, cs->stream);
            if (e == cudaSuccess && cs->sync_each) e = cudaStreamSynchronize(cs->stream);
            if (e != cudaSuccess) { // VOLLEY_CUDA_SYNC=1: a fault shows at its kernel
                vl__diag_error(&s->diag, vl_mark{}, "CUDA %s in the %s kernel, step %u of the chunk (%s)",
                               cudaGetErrorName(e), phase_name[p], k, cudaGetErrorString(e));
                return VL_ERR_DEVICE;
            }
        }
    return VL_OK;
}

// VOLLEY_CUDA_PROFILE: the schedule's launches for a chunk, each kernel between two events, the
// step waited for so that the events can be reused; prints each kernel's mean time per step.
static vl_status enqueue_steps_timed(vl_sim *s, const rec_set *S, uint32_t n_steps) {
    cuda_state *cs = state_of(s);
    const vl_cu_net *n = &S->net;
    const int used[PHASES] = {n->n_rec > 0, 1, n->n_hist > 0, n->n_stp > 0, n->n_proj > 0, n->n_pl > 0};
    cudaEvent_t ev[PHASES + 1];
    double ms[PHASES] = {0};
    int made = 0;
    cudaError_t ce = cudaSuccess;
    while (made <= PHASES && (ce = cudaEventCreate(&ev[made])) == cudaSuccess) ++made;
    if (ce != cudaSuccess) { // destroy the ones made before failing
        for (int p = 0; p < made; ++p) cudaEventDestroy(ev[p]);
        CU(ce);
    }
    vl_status st = VL_OK;
    for (uint32_t k = 0; k < n_steps && st == VL_OK; ++k) {
        cudaError_t e = cudaEventRecord(ev[0], cs->stream);
        for (int p = 0; p < PHASES && e == cudaSuccess; ++p) {
            e = launch_phase(S, p, k, cs->stream);
            if (e == cudaSuccess) e = cudaEventRecord(ev[p + 1], cs->stream);
        }
        if (e == cudaSuccess) e = cudaEventSynchronize(ev[PHASES]);
        for (int p = 0; p < PHASES && e == cudaSuccess; ++p) {
            float t = 0;
            e = cudaEventElapsedTime(&t, ev[p], ev[p + 1]);
            ms[p] += t;
        }
        if (e != cudaSuccess) {
            vl__diag_error(&s->diag, vl_mark{}, "CUDA %s while profiling (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
            st = VL_ERR_DEVICE;
        }
    }
    for (int p = 0; p <= PHASES; ++p) cudaEventDestroy(ev[p]);
    if (st != VL_OK || !n_steps) return st;
    double sum = 0;
    fprintf(stderr, "cuda profile, chunk %ld (%u steps, kernels one by one, events between them), us per step:\n",
            cs->chunks, n_steps);
    for (int p = 0; p < PHASES; ++p) {
        if (!used[p]) continue;
        fprintf(stderr, "  %-10s %9.3f\n", phase_name[p], 1e3 * ms[p] / n_steps);
        sum += ms[p];
    }
    fprintf(stderr, "  %-10s %9.3f\n", "sum", 1e3 * sum / n_steps);
    return VL_OK;
}

// Starts steps [t0, t0 + n_steps) into set S: the simulation, then the copies of its counts,
// frames and highest v, and an event when they are on the host. Returns without waiting.
static vl_status launch(vl_sim *s, rec_set *S, uint64_t t0, uint32_t n_steps) {
    cuda_state *cs = state_of(s);
    const vl_spec *sp = s->s;
    vl_status st;
    *S->h_t0 = t0; // pinned and the set's own: the copy is truly asynchronous
    CU(cudaMemcpyAsync(S->d_t0, S->h_t0, 8, cudaMemcpyHostToDevice, cs->stream));
    for (size_t i = 0; i < sp->n_pops; ++i) CU(cudaMemsetAsync(S->h_pops[i].count, 0, 4 * (size_t)cs->chunk, cs->stream));
    if (cs->mode == MODE_BLOCK) {
        LAUNCH(vl_cu_block_chunk(&S->net, n_steps, cs->stream));
    } else if (cs->mode == MODE_CLUSTER) {
        LAUNCH(vl_cu_cluster_chunk(&S->net, &cs->cluster, cs->d_syn, n_steps, cs->stream));
    } else if (cs->chunks == cs->prof_chunk && !cs->sync_each) {
        if ((st = enqueue_steps_timed(s, S, n_steps)) != VL_OK) return st;
    } else if (n_steps == cs->chunk && !cs->sync_each) {
        if (!S->have_graph) {
            cudaGraph_t g;
            CU(cudaStreamBeginCapture(cs->stream, cudaStreamCaptureModeThreadLocal));
            st = enqueue_steps(s, S, n_steps);
            cudaError_t e = cudaStreamEndCapture(cs->stream, &g);
            if (e == cudaSuccess) { // the captured template is not needed once instantiated, nor when it failed
                if (st == VL_OK) e = cudaGraphInstantiate(&S->graph, g, 0);
                cudaGraphDestroy(g);
            }
            if (st != VL_OK) return st;
            CU(e);
            S->have_graph = 1;
        }
        CU(cudaGraphLaunch(S->graph, cs->stream));
    } else if ((st = enqueue_steps(s, S, n_steps)) != VL_OK) {
        return st;
    }
    for (size_t i = 0; i < sp->n_pops; ++i)
        CU(cudaMemcpyAsync(S->h_count + i * cs->chunk, S->h_pops[i].count, 4 * (size_t)n_steps, cudaMemcpyDeviceToHost,
                           cs->stream));
    for (size_t q = 0; q < s->n_state; ++q)
        CU(cudaMemcpyAsync(S->h_frames[q], S->d_frames[q], 4 * cs->frame_len[q], cudaMemcpyDeviceToHost, cs->stream));
    for (size_t i = 0; i < sp->n_pops; ++i)
        if (s->rt[i].type == VL_POP_NEURON) {
            LAUNCH(vl_cu_max_v(S->h_pops[i].wmax, (s->rt[i].size + 31) / 32, S->h_pops[i].max_v, cs->stream));
            CU(cudaMemcpyAsync(&S->h_max[i], S->h_pops[i].max_v, 4, cudaMemcpyDeviceToHost, cs->stream));
        }
    CU(cudaEventRecord(S->done, cs->stream));
    cs->chunks++;
    S->pending = 1;
    S->t0 = t0;
    S->n = n_steps;
    return VL_OK;
}

// Waits for set S's chunk and fills c: counts, highest v, the recorded spikes (packed on the copy
// stream while the simulation stream may already run the next chunk), frames.
static vl_status collect(vl_sim *s, rec_set *S, vl_chunk *c) {
    cuda_state *cs = state_of(s);
    const vl_spec *sp = s->s;
    CU(cudaEventSynchronize(S->done));
    S->pending = 0;
    const uint32_t n_steps = S->n;
    const uint64_t t0 = S->t0;
    uint64_t off = 0;
    for (size_t i = 0; i < sp->n_pops; ++i) {
        const uint32_t *cnt = S->h_count + i * cs->chunk;
        for (uint32_t k = 0; k < n_steps; ++k) c->count[i][k] = cnt[k];
        if (s->rt[i].type == VL_POP_NEURON) s->max_v[i] = S->h_max[i];
        if (!s->rec_spikes[i]) continue;
        uint64_t total = 0;
        for (uint32_t k = 0; k < n_steps; ++k) total += cnt[k];
        if (total) {
            CU(vl_cu_pack(S->h_pops[i].spk, S->h_pops[i].count, S->h_pops[i].size, n_steps, cs->d_packed + off, cs->copy));
            CU(cudaMemcpyAsync(cs->h_spk + off, cs->d_packed + off, 4 * total, cudaMemcpyDeviceToHost, cs->copy));
        }
        off += total;
    }
    CU(cudaStreamSynchronize(cs->copy));
    off = 0;
    for (size_t i = 0; i < sp->n_pops; ++i) {
        if (!s->rec_spikes[i]) continue;
        const uint32_t *cnt = S->h_count + i * cs->chunk;
        for (uint32_t k = 0; k < n_steps; ++k) {
            // Atomics append in any order; ids ascending within a step, as the CPU backend writes them.
            vl__sort_u32(cs->h_spk + off, cnt[k], cs->sort_tmp);
            for (uint32_t j = 0; j < cnt[k]; ++j)
                if (vl_spike_buf_push(&c->spk[i], k, cs->h_spk[off++])) return VL_ERR_NOMEM;
        }
    }
    for (size_t q = 0; q < s->n_state; ++q) {
        const vl_state_rec_spec *sr = &sp->state[q];
        uint32_t frames = 0;
        for (uint64_t t = t0; t < t0 + n_steps; ++t) frames += (t % sr->every) == 0;
        memcpy(c->frames[q], S->h_frames[q], 4 * (size_t)frames * sr->n_vars * sr->n_ids);
        c->n_frames[q] = frames;
    }
    c->n_steps = n_steps;
    return VL_OK;
}

// Steps [t0, t0 + n_steps): the chunk started early by the previous call, or started now; with
// two sets the next chunk (s->next_steps) starts before this one is collected.
static vl_status cuda_run(vl_sim *s, uint64_t t0, uint32_t n_steps, vl_chunk *c) {
    cuda_state *cs = state_of(s);
    vl_status st;
    rec_set *S = NULL;
    for (int k = 0; k < cs->n_sets; ++k) {
        rec_set *P = &cs->set[k];
        if (!P->pending) continue;
        if (P->t0 != t0 || P->n != n_steps) {
            vl__diag_error(&s->diag, vl_mark{}, "internal error: the CUDA backend ran steps %llu-%llu ahead but was "
                           "asked for %llu-%llu", (unsigned long long)P->t0, (unsigned long long)(P->t0 + P->n),
                           (unsigned long long)t0, (unsigned long long)(t0 + n_steps));
            return VL_ERR_DEVICE;
        }
        S = P;
    }
    if (!S) {
        S = &cs->set[cs->cur];
        if ((st = launch(s, S, t0, n_steps)) != VL_OK) return st;
        cs->cur = (cs->cur + 1) % cs->n_sets;
    }
    if (cs->n_sets == 2 && s->next_steps) {
        rec_set *N = &cs->set[cs->cur];
        if (!N->pending) {
            if ((st = launch(s, N, t0 + n_steps, s->next_steps)) != VL_OK) return st;
            cs->cur = (cs->cur + 1) % cs->n_sets;
        }
    }
    return collect(s, S, c);
}

// Plastic weights back into the host CSR (for weight snapshots); other projections never change.
static vl_status cuda_sync_weights(vl_sim *s) {
    cuda_state *cs = state_of(s);
    for (size_t q = 0; q < s->net.n_proj; ++q)
        if (s->s->proj[q].stdp.on)
            CU(cudaMemcpy(s->net.proj[q].w, cs->h_proj[q].w, 4 * s->net.proj[q].n_syn, cudaMemcpyDeviceToHost));
    return VL_OK;
}

extern "C" const vl_backend_i vl_backend_cuda = {"cuda", cuda_init, cuda_run, cuda_sync_weights, cuda_destroy};
