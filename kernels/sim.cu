// The CUDA backend: the DESIGN.md schedule on the GPU with the same kernels/ math as the CPU
// backend. Two launches per step advance every population and every projection at once:
//   vl_update_kernel     one thread per neuron of every population (a table of population
//                        descriptors, as GeNN merges groups): inputs emit, neurons integrate,
//                        spikes are appended with warp-aggregated atomics;
//   vl_propagate_kernel  one warp per (projection, spike, chunk of 128 synapses): the CSR row is
//                        scattered into the target's ring buffer with float atomics.
// A chunk of steps is captured once into a CUDA Graph and replayed; the chunk's first step lives
// in device memory, so the same graph serves every chunk and the host never waits inside one.
// Alternatively one block runs a whole chunk (vl_block_chunk_kernel, VOLLEY_CUDA_MODE=block).
// Spikes are recorded on the device (one region per step, so nothing can be dropped) and copied
// to pinned host memory once per chunk.
#include <cuda_runtime.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/neuron.h"
#include "kernels/philox.h"
#include "kernels/plasticity.h"
#include "kernels/stp.h"

extern "C" {
#include "sim/sim.h"
}

static const int VL_BLOCK = 256;          // threads per block of both kernels
static const int VL_WARPS = VL_BLOCK / 32;
static const uint64_t VL_REC_BUDGET = 1ull << 28; // spike-record entries per chunk (1 GiB)
static const int VL_CHUNK_BLOCK = 1024;
static const uint32_t VL_ROW_CHUNK = 128; // synapses per warp work item of the propagate kernel   // threads of the single-block chunk kernel
// Networks up to this many (padded) neurons run a whole chunk in one block (see
// vl_block_chunk_kernel); VOLLEY_CUDA_MODE=graph|block overrides the choice. Measured on an H200
// (tools/gpu-check.sh, 2026-11-27): COBA-4000 took 13.5 us per step in one block against 9.2 us
// as a graph, the block being bound by its chain of dependent memory accesses, so graph replay
// is the default and the single-block path stays selectable for further work.
static const uint32_t VL_BLOCK_MODE_MAX = 0;

typedef struct dev_pop {
    int32_t type;       // vl_pop_type
    uint32_t offset;    // first flat thread index (multiple of 32)
    uint32_t size;
    uint32_t ring_len;
    int32_t recorded;   // keeps one spike region per step of the chunk
    vl_neuron_params np;
    float *v, *g, *ring, *wa; // wa: adaptation current
    long long *ring_q;  // deterministic mode: fixed-point accumulation, same layout as ring
    int32_t *refr;
    uint32_t *spk;      // regions of `size` entries
    uint32_t *count;    // spikes per step of the chunk
    float *max_v;
    // inputs
    uint64_t start_step, stop_step;
    float prob;
    const float *probs;
    uint32_t n_table;
    const uint64_t *table_step;
    const float *table_prob;
    int32_t is_pattern;       // pattern input: segments of the stimulus protocol
    uint32_t pix_stride, group;
    float on_prob, off_prob;
    uint64_t n_seg;
    const uint64_t *seg_step;
    const int32_t *seg_pat;
    const uint8_t *pix;
    uint64_t n_spk;
    const uint64_t *spk_step; // spike_times, sorted by (step, id)
    const uint32_t *spk_id;
} dev_pop;

typedef struct dev_proj {
    uint32_t src, tgt, rec, src_lo, n_rows;
    uint16_t delay_const, pad;
    uint32_t n_chunks;  // work items per spike: ceil(longest row / VL_ROW_CHUNK), at least 1
    const float *factor; // short-term factor of each source row for this step, or NULL
    const uint64_t *row_ptr;
    const uint32_t *col;
    const float *w;
    const uint16_t *delay;
} dev_proj;

// A projection with short-term dynamics: its state per source row (kernels/stp.h).
typedef struct dev_stp {
    vl_stp_params p;
    uint32_t src, src_lo, n_rows;
    float *u, *x, *factor;
    uint64_t *last;
} dev_stp;

// A plastic projection: its STDP constants, traces and CSC index (kernels/plasticity.h).
typedef struct dev_plastic {
    vl_stdp_params p;
    uint32_t src, tgt, src_lo, tgt_lo, n_rows, n_cols;
    float *A_pre, *A_post, *w;
    const uint64_t *row_ptr, *col_ptr, *csc_syn;
    const uint32_t *col, *csc_row;
} dev_plastic;

// Per-state-recording constants: the recorded ids and which receptor each variable reads (-1: v).
typedef struct state_dev { uint32_t *ids; int32_t *var_rec; } state_dev;

typedef struct cuda_state {
    cudaStream_t stream;
    dev_pop *h_pops, *d_pops;
    dev_proj *h_proj, *d_proj;
    size_t n_pops, n_proj;
    uint32_t n_threads, max_src, prop_blocks;
    uint32_t *d_warp_pop;    // population of each warp of the flat thread space
    uint64_t seed;
    uint64_t *d_t0;
    uint32_t chunk;          // steps per chunk
    cudaGraphExec_t graph;
    int have_graph;
    // recording
    uint32_t *h_count;       // pinned, n_pops * chunk
    uint32_t *h_spk;         // pinned, packed ids of recorded pops
    uint32_t *d_packed;
    uint64_t packed_cap;
    float **d_frames, **h_frames;
    size_t *frame_len;
    state_dev *sd;
    struct dev_state_rec *d_rec;
    int block_mode;
    dev_plastic *h_pl, *d_pl; // plastic projections
    dev_stp *h_stp, *d_stp;   // projections with short-term dynamics
    uint32_t n_stp;
    uint32_t n_pl, pl_warps;  // how many; warps of the largest spike burst among their populations
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

// ---- device helpers ----

__device__ __forceinline__ void atomic_max_float(float *addr, float v) {
    if (v >= 0.0f) atomicMax((int *)addr, __float_as_int(v));
    else atomicMin((unsigned int *)addr, __float_as_uint(v));
}

__device__ __forceinline__ float input_prob(const dev_pop &p, uint64_t t, uint32_t k) {
    if (p.is_pattern) { // the segment holding step t: the last one starting at or before it
        uint64_t lo = 0, hi = p.n_seg;
        while (hi - lo > 1) {
            uint64_t mid = (lo + hi) / 2;
            if (p.seg_step[mid] <= t) lo = mid; else hi = mid;
        }
        int32_t pat = p.n_seg && p.seg_step[lo] <= t ? p.seg_pat[lo] : -1;
        return vl_pattern_prob(p.pix, pat, p.pix_stride, p.group, k, p.on_prob, p.off_prob);
    }
    if (t < p.start_step || t >= p.stop_step) return 0.0f;
    if (p.probs) return p.probs[k];
    if (!p.n_table) return p.prob;
    float pr = 0.0f;
    for (uint32_t i = 0; i < p.n_table && p.table_step[i] <= t; ++i) pr = p.table_prob[i];
    return pr;
}

// Schedule steps 1-2 for flat thread gid. Every lane of a warp must call it (the spike append
// is warp-aggregated); populations start at multiples of 32, so a warp is one population.
__device__ __forceinline__ void update_one(const dev_pop *pops, const uint32_t *warp_pop, uint32_t gid, uint64_t t,
                                           uint32_t k, uint64_t seed) {
    const uint32_t pi = warp_pop[gid >> 5]; // one load instead of a search through the table
    const dev_pop &p = pops[pi];
    uint32_t i = gid - p.offset;
    int spike = 0;
    float v_now = -INFINITY;
    if (i < p.size) {
        if (p.type == VL_POP_NEURON) {
            size_t n = p.size, nr = (size_t)p.np.n_rec;
            size_t slot = (size_t)(t % p.ring_len) * nr * n + i;
            float *in = p.ring + slot;
            if (p.ring_q)
                for (size_t r = 0; r < nr; ++r) {
                    in[r * n] = vl_from_fixed(p.ring_q[slot + r * n]);
                    p.ring_q[slot + r * n] = 0;
                }
            // A register copy: stores to the state arrays cannot alias it, so nothing is reloaded.
            const vl_neuron_params np = p.np;
            float z = 0.0f;
            if (np.noise != 0.0f || np.bg_lambda > 0.0f)
                z = vl_neuron_draws(&np, vl_rand4(seed, VL_STREAM_NOISE | pi, (uint32_t)t, (uint32_t)(t >> 32), i),
                                    in, n);
            spike = vl_neuron_step(&np, p.v + i, p.refr + i, p.wa + i, p.g + i, in, n, z);
            v_now = p.v[i];
        } else if (p.type == VL_POP_POISSON) {
            float prob = input_prob(p, t, i);
            if (prob > 0.0f) {
                vl_u32x4 r = vl_rand4(seed, VL_STREAM_POISSON | (uint32_t)pi, (uint32_t)t, (uint32_t)(t >> 32), i);
                spike = vl_poisson_fires(prob, vl_u01f(r.v[0]));
            }
        }
    }
    uint32_t *region = p.spk + (size_t)(p.recorded ? k : 0) * p.size;
    if (p.type == VL_POP_SPIKE_TIMES) {
        // Thread i emits the i-th spike of this step (binary search for the step's first entry).
        uint64_t lo = 0, hi = p.n_spk;
        while (lo < hi) {
            uint64_t mid = (lo + hi) / 2;
            if (p.spk_step[mid] < t) lo = mid + 1; else hi = mid;
        }
        if (i < p.size && lo + i < p.n_spk && p.spk_step[lo + i] == t) {
            region[i] = p.spk_id[lo + i];
            atomicAdd(&p.count[k], 1u);
        }
        return;
    }
    // Warp-aggregated append: populations start at multiples of 32, so a warp is one population.
    unsigned mask = __ballot_sync(0xffffffffu, spike);
    int lane = threadIdx.x & 31;
    uint32_t base = 0;
    if (mask) {
        if (lane == 0) base = atomicAdd(&p.count[k], (uint32_t)__popc(mask));
        base = __shfl_sync(0xffffffffu, base, 0);
        if (spike) region[base + __popc(mask & ((1u << lane) - 1u))] = i;
    }
    if (p.type == VL_POP_NEURON) {
        for (int off = 16; off > 0; off >>= 1) v_now = fmaxf(v_now, __shfl_xor_sync(0xffffffffu, v_now, off));
        // Read before the atomic: one address for the whole population, so an unconditional
        // atomic per warp serialises (31k per step at 10^6 neurons); the maximum rarely moves.
        if (lane == 0 && v_now > *(volatile float *)p.max_v) atomic_max_float(p.max_v, v_now);
    }
}

__global__ void vl_update_kernel(const dev_pop *pops, const uint32_t *warp_pop, uint32_t n_threads,
                                 const uint64_t *d_t0, uint32_t k, uint64_t seed) {
    uint32_t gid = blockIdx.x * blockDim.x + threadIdx.x;
    if (gid < n_threads) update_one(pops, warp_pop, gid, *d_t0 + k, k, seed); // whole warps leave together
}

// Work items of step k: each spike of each projection is cut into chunks of VL_ROW_CHUNK synapses
// (a projection's n_chunks covers its longest row), so a long row (PD14: ~4000 synapses) is
// spread over many warps instead of serialising one. The block loads every projection's spike
// count at once (independent loads that overlap) and keeps the prefix sum of items in shared
// memory: sh[q] = first item of projection q, sh[n_proj] = total.
__device__ __forceinline__ void load_items(const dev_pop *pops, const dev_proj *proj, int n_proj, uint32_t k,
                                           uint32_t *sh) {
    for (int q = threadIdx.x; q < n_proj; q += blockDim.x) sh[q + 1] = pops[proj[q].src].count[k] * proj[q].n_chunks;
    __syncthreads();
    if (threadIdx.x == 0) {
        sh[0] = 0;
        for (int q = 0; q < n_proj; ++q) sh[q + 1] += sh[q];
    }
    __syncthreads();
}

// Schedule step 3: warps warp0, warp0 + n_warps, ... scatter the items of every projection.
__device__ __forceinline__ void propagate_warps(const dev_pop *pops, const dev_proj *proj, int n_proj,
                                                const uint32_t *sh, uint64_t t, uint32_t k, uint32_t warp0,
                                                uint32_t n_warps, uint32_t lane) {
    const uint32_t total = sh[n_proj];
    for (uint32_t item = warp0; item < total; item += n_warps) {
        int lo = 0, hi = n_proj; // the last projection whose first item is <= item
        while (hi - lo > 1) {
            int mid = (lo + hi) / 2;
            if (sh[mid] <= item) lo = mid; else hi = mid;
        }
        const dev_proj &c = proj[lo];
        const uint32_t local = item - sh[lo], nch = c.n_chunks;
        const dev_pop &src = pops[c.src];
        const dev_pop &tgt = pops[c.tgt];
        uint32_t id = src.spk[(size_t)(src.recorded ? k : 0) * src.size + local / nch];
        if (id < c.src_lo || id - c.src_lo >= c.n_rows) continue;
        const uint32_t row = id - c.src_lo;
        uint64_t b = c.row_ptr[row], e = c.row_ptr[row + 1];
        b += (uint64_t)(local % nch) * VL_ROW_CHUNK;
        if (e > b + VL_ROW_CHUNK) e = b + VL_ROW_CHUNK;
        const size_t n = tgt.size, nr = (size_t)tgt.np.n_rec, D = tgt.ring_len;
        const uint32_t *col = c.col;
        const float *w = c.w;
        const uint16_t *delay = c.delay;
        if (c.factor) { // short-term dynamics: every weight of the row scaled by the source's factor
            const float f = c.factor[row];
            for (uint64_t j = b + lane; j < e; j += 32) {
                size_t at = (size_t)c.rec * n + (size_t)((t + 1 + (delay ? delay[j] : c.delay_const)) % D) * nr * n + col[j];
                if (tgt.ring_q) atomicAdd((unsigned long long *)(tgt.ring_q + at), (unsigned long long)vl_to_fixed(w[j] * f));
                else atomicAdd(tgt.ring + at, w[j] * f);
            }
            continue;
        }
        if (tgt.ring_q) { // integer atomics: the sum does not depend on the order
            long long *ring_q = tgt.ring_q + (size_t)c.rec * n;
            for (uint64_t j = b + lane; j < e; j += 32) {
                size_t slot = (size_t)((t + 1 + (delay ? delay[j] : c.delay_const)) % D);
                atomicAdd((unsigned long long *)(ring_q + slot * nr * n + col[j]), (unsigned long long)vl_to_fixed(w[j]));
            }
        } else if (!delay) {
            float *dst = tgt.ring + (size_t)c.rec * n + (size_t)((t + 1 + c.delay_const) % D) * nr * n;
            for (uint64_t j = b + lane; j < e; j += 32) atomicAdd(dst + col[j], w[j]);
        } else {
            float *ring = tgt.ring + (size_t)c.rec * n;
            for (uint64_t j = b + lane; j < e; j += 32) atomicAdd(ring + (size_t)((t + 1 + delay[j]) % D) * nr * n + col[j], w[j]);
        }
    }
}

// Grid-stride over (projection, spike): the grid is sized once for the device, not for the
// largest population, so empty steps cost one short wave of blocks.
__global__ void vl_propagate_kernel(const dev_pop *pops, const dev_proj *proj, int n_proj, const uint64_t *d_t0,
                                    uint32_t k) {
    extern __shared__ uint32_t sh_items[];
    load_items(pops, proj, n_proj, k, sh_items);
    propagate_warps(pops, proj, n_proj, sh_items, *d_t0 + k, k, blockIdx.x * VL_WARPS + (threadIdx.x >> 5),
                    gridDim.x * VL_WARPS, threadIdx.x & 31);
}

// Sampled state at the start of a step (as the CPU backend): v or receptor value + this step's input.
// Thread j of n_ids * n_vars writes one value of the step's frame.
__device__ __forceinline__ void state_one(const dev_pop *pops, int pop, const uint32_t *ids, const int32_t *var_rec,
                                          uint32_t n_ids, uint32_t n_vars, uint64_t t0, uint64_t t, uint32_t every,
                                          float *frames, uint32_t j) {
    if (t % every || j >= n_ids * n_vars) return;
    uint64_t frame = t / every - (t0 + every - 1) / every; // frames of this chunk start at ceil(t0 / every)
    const dev_pop &p = pops[pop];
    uint32_t v = j / n_ids, id = ids[j % n_ids];
    int rec = var_rec[v];
    size_t n = p.size, nr = (size_t)p.np.n_rec;
    float val = p.v[id];
    size_t at = (size_t)(t % p.ring_len) * nr * n + (size_t)rec * n + id;
    if (rec >= 0) val = p.g[(size_t)rec * n + id] + (p.ring_q ? vl_from_fixed(p.ring_q[at]) : p.ring[at]);
    frames[(size_t)frame * n_vars * n_ids + j] = val;
}

__global__ void vl_state_kernel(const dev_pop *pops, int pop, const uint32_t *ids, const int32_t *var_rec,
                                uint32_t n_ids, uint32_t n_vars, const uint64_t *d_t0, uint32_t k, uint32_t every,
                                float *frames) {
    state_one(pops, pop, ids, var_rec, n_ids, n_vars, *d_t0, *d_t0 + k, every, frames,
              blockIdx.x * blockDim.x + threadIdx.x);
}

typedef struct dev_state_rec {
    int pop;
    uint32_t n_ids, n_vars, every;
    const uint32_t *ids;
    const int32_t *var_rec;
    float *frames;
} dev_state_rec;

// Small networks: one block runs a whole chunk, with block barriers between the schedule's
// phases instead of kernel boundaries, so a step costs no launch at all.
__global__ void __launch_bounds__(1024) vl_block_chunk_kernel(const dev_pop *pops, const uint32_t *warp_pop,
                                                              const dev_proj *proj,
                                                              int n_proj, const dev_state_rec *rec, int n_rec,
                                                              const uint64_t *d_t0, uint32_t n_steps,
                                                              uint32_t n_threads, uint64_t seed) {
    extern __shared__ uint32_t sh_items[];
    uint64_t t0 = *d_t0;
    uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    for (uint32_t k = 0; k < n_steps; ++k) {
        uint64_t t = t0 + k;
        for (int q = 0; q < n_rec; ++q)
            for (uint32_t j = threadIdx.x; j < rec[q].n_ids * rec[q].n_vars; j += blockDim.x)
                state_one(pops, rec[q].pop, rec[q].ids, rec[q].var_rec, rec[q].n_ids, rec[q].n_vars, t0, t,
                          rec[q].every, rec[q].frames, j);
        __syncthreads();
        for (uint32_t gid = threadIdx.x; gid < n_threads; gid += blockDim.x) update_one(pops, warp_pop, gid, t, k, seed);
        __syncthreads();
        load_items(pops, proj, n_proj, k, sh_items);
        propagate_warps(pops, proj, n_proj, sh_items, t, k, warp, n_warps, lane);
        __syncthreads();
    }
}

// Short-term factors of this step's spikes, before propagation: one thread per (projection, spike)
// updates the source's state and leaves the factor for the propagate kernel's warps.
__global__ void vl_stp_kernel(const dev_pop *pops, const dev_stp *stp, int n_stp, const uint64_t *d_t0, uint32_t k) {
    uint32_t gid = blockIdx.x * blockDim.x + threadIdx.x, stride = gridDim.x * blockDim.x;
    uint64_t t = *d_t0 + k;
    for (int q = 0; q < n_stp; ++q) {
        const dev_stp &c = stp[q];
        const dev_pop &src = pops[c.src];
        uint32_t n_spk = src.count[k];
        for (uint32_t s = gid; s < n_spk; s += stride) {
            uint32_t id = src.spk[(size_t)(src.recorded ? k : 0) * src.size + s];
            if (id < c.src_lo || id - c.src_lo >= c.n_rows) continue;
            uint32_t row = id - c.src_lo;
            c.factor[row] = vl_stp_on_spike(&c.p, &c.u[row], &c.x[row], &c.last[row], t);
        }
    }
}

// Schedule step 4 (STDP), three launches so that each phase sees the previous one complete.
__global__ void vl_stdp_decay_kernel(const dev_plastic *pl, int n_pl) {
    uint32_t gid = blockIdx.x * blockDim.x + threadIdx.x, stride = gridDim.x * blockDim.x;
    for (int q = 0; q < n_pl; ++q) {
        const dev_plastic &c = pl[q];
        for (uint32_t i = gid; i < c.n_rows; i += stride) c.A_pre[i] *= c.p.decay_pre;
        for (uint32_t i = gid; i < c.n_cols; i += stride) c.A_post[i] *= c.p.decay_post;
    }
}

// One warp per (plastic projection, pre spike): the trace first, then the row against A_post.
__global__ void vl_stdp_pre_kernel(const dev_pop *pops, const dev_plastic *pl, int n_pl, uint32_t k) {
    uint32_t lane = threadIdx.x & 31, warp0 = blockIdx.x * VL_WARPS + (threadIdx.x >> 5), n_warps = gridDim.x * VL_WARPS;
    for (int q = 0; q < n_pl; ++q) {
        const dev_plastic &c = pl[q];
        const dev_pop &src = pops[c.src];
        uint32_t n_spk = src.count[k];
        for (uint32_t s = warp0; s < n_spk; s += n_warps) {
            uint32_t id = src.spk[(size_t)(src.recorded ? k : 0) * src.size + s];
            if (id < c.src_lo || id - c.src_lo >= c.n_rows) continue;
            uint32_t row = id - c.src_lo;
            if (lane == 0) c.A_pre[row] = vl_trace_on_spike(c.A_pre[row], c.p.dA_pre, c.p.nearest);
            __syncwarp();
            for (uint64_t j = c.row_ptr[row] + lane; j < c.row_ptr[row + 1]; j += 32)
                c.w[j] = vl_stdp_on_pre(&c.p, c.w[j], c.A_post[c.col[j] - c.tgt_lo]);
        }
    }
}

// One warp per (plastic projection, post spike): the trace first, then the column against A_pre.
__global__ void vl_stdp_post_kernel(const dev_pop *pops, const dev_plastic *pl, int n_pl, uint32_t k) {
    uint32_t lane = threadIdx.x & 31, warp0 = blockIdx.x * VL_WARPS + (threadIdx.x >> 5), n_warps = gridDim.x * VL_WARPS;
    for (int q = 0; q < n_pl; ++q) {
        const dev_plastic &c = pl[q];
        const dev_pop &tgt = pops[c.tgt];
        uint32_t n_spk = tgt.count[k];
        for (uint32_t s = warp0; s < n_spk; s += n_warps) {
            uint32_t id = tgt.spk[(size_t)(tgt.recorded ? k : 0) * tgt.size + s];
            if (id < c.tgt_lo || id - c.tgt_lo >= c.n_cols) continue;
            uint32_t col = id - c.tgt_lo;
            if (lane == 0) c.A_post[col] = vl_trace_on_spike(c.A_post[col], c.p.dA_post, c.p.nearest);
            __syncwarp();
            for (uint64_t a = c.col_ptr[col] + lane; a < c.col_ptr[col + 1]; a += 32) {
                uint64_t syn = c.csc_syn[a];
                c.w[syn] = vl_stdp_on_post(&c.p, c.w[syn], c.A_pre[c.csc_row[a]]);
            }
        }
    }
}

// Packs the per-step spike regions of one recorded population into a contiguous list.
__global__ void vl_pack_kernel(const uint32_t *spk, const uint32_t *count, uint32_t size, uint32_t n_steps,
                               uint32_t *out) {
    uint32_t k = blockIdx.x;
    if (k >= n_steps) return;
    __shared__ uint64_t base;
    if (threadIdx.x == 0) {
        uint64_t b = 0;
        for (uint32_t q = 0; q < k; ++q) b += count[q];
        base = b;
    }
    __syncthreads();
    for (uint32_t i = threadIdx.x; i < count[k]; i += blockDim.x) out[base + i] = spk[(size_t)k * size + i];
}

// ---- host side ----

static cuda_state *state_of(vl_sim *s) { return (cuda_state *)s->be_state; }

static vl_status dev_alloc(vl_sim *s, void **p, size_t bytes) {
    cuda_state *cs = state_of(s);
    CU(cudaMalloc(p, bytes ? bytes : 4));
    if (cs->n_allocs == cs->cap_allocs) {
        cs->cap_allocs = cs->cap_allocs ? 2 * cs->cap_allocs : 64;
        cs->allocs = (void **)realloc(cs->allocs, cs->cap_allocs * sizeof(void *));
    }
    cs->allocs[cs->n_allocs++] = *p;
    return VL_OK;
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
    if (cs->have_graph) cudaGraphExecDestroy(cs->graph);
    for (size_t i = 0; i < cs->n_allocs; ++i) cudaFree(cs->allocs[i]);
    if (cs->h_count) cudaFreeHost(cs->h_count);
    if (cs->h_spk) cudaFreeHost(cs->h_spk);
    for (size_t k = 0; cs->h_frames && k < s->n_state; ++k) cudaFreeHost(cs->h_frames[k]);
    if (cs->stream) cudaStreamDestroy(cs->stream);
    free(cs->h_frames); free(cs->d_frames); free(cs->frame_len); free(cs->sd);
    free(cs->h_pops); free(cs->h_proj); free(cs->h_pl); free(cs->h_stp); free(cs->allocs);
    free(cs);
    s->be_state = NULL;
}

static vl_status plan_memory(vl_sim *s, uint32_t chunk) {
    const vl_spec *sp = s->s;
    double need = 0;
    for (size_t i = 0; i < sp->n_pops; ++i) {
        const vl_pop_rt *rt = &s->rt[i];
        double n = rt->size, nr = rt->type == VL_POP_NEURON ? rt->np.n_rec : 0;
        need += n * (8 + 4 * nr + (s->deterministic ? 12 : 4) * nr * rt->ring_len) + 4.0 * chunk;
        need += 4 * n * (s->rec_spikes[i] ? chunk : 1);
    }
    for (size_t q = 0; q < s->net.n_proj; ++q) {
        const vl_csr *c = &s->net.proj[q];
        need += 8.0 * (c->n_rows + 1) + 8.0 * c->n_syn + (c->delay ? 2.0 * c->n_syn : 0);
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

static vl_status cuda_init(vl_sim *s) {
    cuda_state *cs = (cuda_state *)calloc(1, sizeof *cs);
    s->be_state = cs;
    if (!cs) return VL_ERR_NOMEM;
    const vl_spec *sp = s->s;
    cs->n_pops = sp->n_pops;
    cs->n_proj = s->net.n_proj;
    cs->seed = s->seed;
    CU(cudaSetDevice(0));
    cudaDeviceProp prop;
    CU(cudaGetDeviceProperties(&prop, 0));
    snprintf(s->device, sizeof s->device, "%s", prop.name);
    CU(cudaStreamCreateWithFlags(&cs->stream, cudaStreamNonBlocking));
    // Chunk length: recorded spikes keep one region per step; stay within the budget.
    uint64_t rec_neurons = 0;
    for (size_t i = 0; i < sp->n_pops; ++i)
        if (s->rec_spikes[i]) rec_neurons += s->rt[i].size;
    uint64_t chunk = s->chunk_steps;
    if (rec_neurons && rec_neurons * chunk > VL_REC_BUDGET) chunk = VL_REC_BUDGET / rec_neurons;
    if (chunk < 1) chunk = 1;
    cs->chunk = (uint32_t)chunk;
    s->chunk_steps = cs->chunk;
    vl_status st = plan_memory(s, cs->chunk);
    if (st != VL_OK) return st;

    cs->h_pops = (dev_pop *)calloc(sp->n_pops, sizeof(dev_pop));
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
        if (rt->size > cs->max_src) cs->max_src = rt->size;
        size_t n = rt->size;
        if ((st = dev_alloc(s, (void **)&p->spk, 4 * n * (p->recorded ? cs->chunk : 1)))) return st;
        if ((st = dev_alloc(s, (void **)&p->count, 4 * (size_t)cs->chunk))) return st;
        if ((st = dev_alloc(s, (void **)&p->max_v, 4))) return st;
        float ninf = -INFINITY;
        CU(cudaMemcpy(p->max_v, &ninf, 4, cudaMemcpyHostToDevice));
        if (rt->type == VL_POP_NEURON) {
            size_t nr = (size_t)rt->np.n_rec;
            p->np = rt->np;
            vl_rec_params *drec;
            if ((st = upload(s, &drec, rt->rec, nr))) return st;
            p->np.rec = drec;
            if ((st = upload(s, &p->v, s->net.v0[i], n))) return st;
            if ((st = upload(s, &p->g, s->net.g0[i], n * nr))) return st;
            if ((st = dev_alloc(s, (void **)&p->refr, 4 * n)) || (st = dev_alloc(s, (void **)&p->wa, 4 * n))) return st;
            CU(cudaMemset(p->refr, 0, 4 * n));
            CU(cudaMemset(p->wa, 0, 4 * n));
            if ((st = dev_alloc(s, (void **)&p->ring, 4 * n * nr * rt->ring_len))) return st;
            CU(cudaMemset(p->ring, 0, 4 * n * nr * rt->ring_len));
            if (s->deterministic) {
                if ((st = dev_alloc(s, (void **)&p->ring_q, 8 * n * nr * rt->ring_len))) return st;
                CU(cudaMemset(p->ring_q, 0, 8 * n * nr * rt->ring_len));
            }
        } else {
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
            if (rt->n_spk && ((st = upload(s, &sstep, rt->spk_step, rt->n_spk)) ||
                              (st = upload(s, &sid, rt->spk_id, rt->n_spk))))
                return st;
            if (rt->is_pattern) {
                uint64_t *ss;
                int32_t *sp2;
                uint8_t *px;
                size_t n_pat = s->s->stim.n_patterns;
                if ((st = upload(s, &ss, rt->seg_step, rt->n_seg)) || (st = upload(s, &sp2, rt->seg_pat, rt->n_seg)) ||
                    (st = upload(s, &px, rt->pix, n_pat * rt->pix_stride)))
                    return st;
                p->is_pattern = 1;
                p->n_seg = rt->n_seg;
                p->seg_step = ss;
                p->seg_pat = sp2;
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
        }
    }
    cs->n_threads = offset;
    uint32_t *wp = (uint32_t *)calloc(offset / 32 + 1, sizeof(uint32_t));
    for (size_t i = 0; i < sp->n_pops; ++i)
        for (uint32_t w = cs->h_pops[i].offset / 32; w < (cs->h_pops[i].offset + s->rt[i].size + 31) / 32; ++w) wp[w] = (uint32_t)i;
    st = upload(s, &cs->d_warp_pop, (const uint32_t *)wp, offset / 32 + 1);
    free(wp);
    if (st != VL_OK) return st;
    // One resident wave at most: enough warps for the largest spike burst, no more than the device holds.
    uint32_t want = (cs->max_src + VL_WARPS - 1) / VL_WARPS, full = (uint32_t)prop.multiProcessorCount * (2048 / VL_BLOCK);
    cs->prop_blocks = want < full ? (want ? want : 1) : full;
    if ((st = upload(s, &cs->d_pops, cs->h_pops, sp->n_pops))) return st;
    cs->h_proj = (dev_proj *)calloc(cs->n_proj ? cs->n_proj : 1, sizeof(dev_proj));
    for (size_t q = 0; q < cs->n_proj; ++q) {
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
    }
    cs->h_stp = (dev_stp *)calloc(cs->n_proj + 1, sizeof(dev_stp));
    for (size_t q = 0; q < cs->n_proj; ++q) {
        const vl_stp_params *sp2 = &s->stp[q];
        if (sp2->model == VL_STP_NONE) continue;
        const vl_csr *c = &s->net.proj[q];
        dev_stp *d = &cs->h_stp[cs->n_stp++];
        d->p = *sp2;
        d->src = (uint32_t)c->src;
        d->src_lo = c->src_lo;
        d->n_rows = c->n_rows;
        float *u0 = (float *)calloc(c->n_rows + 1, sizeof(float)), *x0 = (float *)calloc(c->n_rows + 1, sizeof(float));
        for (uint32_t i = 0; i < c->n_rows; ++i) u0[i] = sp2->U, x0[i] = sp2->model == VL_STP_TSODYKS_MARKRAM ? 1.0f : 0.0f;
        st = upload(s, &d->u, (const float *)u0, c->n_rows + 1);
        if (st == VL_OK) st = upload(s, &d->x, (const float *)x0, c->n_rows + 1);
        free(u0);
        free(x0);
        if (st != VL_OK || (st = dev_alloc(s, (void **)&d->last, 8 * ((size_t)c->n_rows + 1))) ||
            (st = dev_alloc(s, (void **)&d->factor, 4 * ((size_t)c->n_rows + 1))))
            return st;
        CU(cudaMemset(d->last, 0, 8 * ((size_t)c->n_rows + 1)));
        cs->h_proj[q].factor = d->factor;
    }
    if ((st = upload(s, &cs->d_stp, (const dev_stp *)cs->h_stp, cs->n_stp + 1))) return st;
    if ((st = upload(s, &cs->d_proj, cs->h_proj, cs->n_proj ? cs->n_proj : 1))) return st;
    for (size_t q = 0; q < cs->n_proj; ++q)
        if (sp->proj[q].stdp.on && s->net.proj[q].delay_const > 0) {
            vl__diag_error(&s->diag, sp->proj[q].mark, "plastic projection '%s' has a delay: the CUDA backend runs "
                           "plastic projections without delay only so far; use --backend cpu", sp->proj[q].name);
            return VL_ERR_UNSUPPORTED;
        }
    cs->h_pl = (dev_plastic *)calloc(cs->n_proj + 1, sizeof(dev_plastic));
    uint32_t widest = 1;
    for (size_t q = 0; q < cs->n_proj; ++q) {
        if (!sp->proj[q].stdp.on) continue;
        const vl_csr *c = &s->net.proj[q];
        dev_plastic *d = &cs->h_pl[cs->n_pl++];
        d->p = s->stdp[q];
        d->src = (uint32_t)c->src;
        d->tgt = (uint32_t)c->tgt;
        d->src_lo = c->src_lo;
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
    uint32_t full_warps = (uint32_t)prop.multiProcessorCount * (2048 / 32);
    cs->pl_warps = widest < full_warps ? widest : full_warps;
    if ((st = upload(s, &cs->d_pl, (const dev_plastic *)cs->h_pl, cs->n_pl + 1))) return st;
    if ((st = dev_alloc(s, (void **)&cs->d_t0, 8))) return st;
    // Recording buffers: packed spikes, per-step counts, state frames.
    CU(cudaMallocHost((void **)&cs->h_count, 4 * sp->n_pops * (size_t)cs->chunk));
    uint64_t cap = 0;
    for (size_t i = 0; i < sp->n_pops; ++i)
        if (s->rec_spikes[i]) cap += (uint64_t)s->rt[i].size * cs->chunk;
    cs->packed_cap = cap;
    CU(cudaMallocHost((void **)&cs->h_spk, 4 * (cap ? cap : 1)));
    if ((st = dev_alloc(s, (void **)&cs->d_packed, 4 * (cap ? cap : 1)))) return st;
    cs->d_frames = (float **)calloc(s->n_state + 1, sizeof(float *));
    cs->h_frames = (float **)calloc(s->n_state + 1, sizeof(float *));
    cs->frame_len = (size_t *)calloc(s->n_state + 1, sizeof(size_t));
    for (size_t k = 0; k < s->n_state; ++k) {
        const vl_state_rec_spec *sr = &sp->state[k];
        size_t len = (cs->chunk / sr->every + 1) * sr->n_vars * sr->n_ids;
        cs->frame_len[k] = len;
        if ((st = dev_alloc(s, (void **)&cs->d_frames[k], 4 * len))) return st;
        CU(cudaMallocHost((void **)&cs->h_frames[k], 4 * len));
    }
    cs->sd = (state_dev *)calloc(s->n_state + 1, sizeof(state_dev));
    for (size_t q = 0; q < s->n_state; ++q) {
        const vl_state_rec_spec *sr = &sp->state[q];
        const vl_pop_spec *ps = &sp->pops[sr->pop];
        int32_t *vr = (int32_t *)calloc(sr->n_vars, sizeof(int32_t));
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
    dev_state_rec *hr = (dev_state_rec *)calloc(s->n_state + 1, sizeof(dev_state_rec));
    for (size_t q = 0; q < s->n_state; ++q) {
        const vl_state_rec_spec *sr = &sp->state[q];
        hr[q].pop = sr->pop;
        hr[q].n_ids = (uint32_t)sr->n_ids;
        hr[q].n_vars = (uint32_t)sr->n_vars;
        hr[q].every = sr->every;
        hr[q].ids = cs->sd[q].ids;
        hr[q].var_rec = cs->sd[q].var_rec;
        hr[q].frames = cs->d_frames[q];
    }
    st = upload(s, &cs->d_rec, (const dev_state_rec *)hr, s->n_state + 1);
    free(hr);
    if (st != VL_OK) return st;
    const char *mode = getenv("VOLLEY_CUDA_MODE");
    cs->block_mode = mode && *mode ? strcmp(mode, "block") == 0 : cs->n_threads <= VL_BLOCK_MODE_MAX;
    if (cs->n_pl || cs->n_stp) cs->block_mode = 0; // the single-block kernel has no plasticity or STP phase
    snprintf(s->device + strlen(s->device), sizeof s->device - strlen(s->device), ", %s mode",
             cs->block_mode ? "single-block" : "graph");
    return VL_OK;
}

static vl_status enqueue_steps(vl_sim *s, uint32_t n_steps) {
    cuda_state *cs = state_of(s);
    const vl_spec *sp = s->s;
    dim3 ugrid((cs->n_threads + VL_BLOCK - 1) / VL_BLOCK);
    dim3 pgrid(cs->prop_blocks);
    for (uint32_t k = 0; k < n_steps; ++k) {
        for (size_t q = 0; q < s->n_state; ++q) {
            const vl_state_rec_spec *sr = &sp->state[q];
            uint32_t n = (uint32_t)(sr->n_ids * sr->n_vars);
            vl_state_kernel<<<(n + VL_BLOCK - 1) / VL_BLOCK, VL_BLOCK, 0, cs->stream>>>(
                cs->d_pops, sr->pop, cs->sd[q].ids, cs->sd[q].var_rec, (uint32_t)sr->n_ids, (uint32_t)sr->n_vars, cs->d_t0, k,
                sr->every, cs->d_frames[q]);
        }
        vl_update_kernel<<<ugrid, VL_BLOCK, 0, cs->stream>>>(cs->d_pops, cs->d_warp_pop, cs->n_threads, cs->d_t0, k,
                                                             cs->seed);
        if (cs->n_stp)
            vl_stp_kernel<<<(cs->max_src + VL_BLOCK - 1) / VL_BLOCK, VL_BLOCK, 0, cs->stream>>>(
                cs->d_pops, cs->d_stp, (int)cs->n_stp, cs->d_t0, k);
        if (cs->n_proj)
            vl_propagate_kernel<<<pgrid, VL_BLOCK, 4 * (cs->n_proj + 1), cs->stream>>>(
                cs->d_pops, cs->d_proj, (int)cs->n_proj, cs->d_t0, k);
        if (cs->n_pl) {
            uint32_t blocks = (cs->pl_warps + VL_WARPS - 1) / VL_WARPS;
            vl_stdp_decay_kernel<<<blocks, VL_BLOCK, 0, cs->stream>>>(cs->d_pl, (int)cs->n_pl);
            vl_stdp_pre_kernel<<<blocks, VL_BLOCK, 0, cs->stream>>>(cs->d_pops, cs->d_pl, (int)cs->n_pl, k);
            vl_stdp_post_kernel<<<blocks, VL_BLOCK, 0, cs->stream>>>(cs->d_pops, cs->d_pl, (int)cs->n_pl, k);
        }
    }
    CU(cudaGetLastError());
    return VL_OK;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static vl_status cuda_run(vl_sim *s, uint64_t t0, uint32_t n_steps, vl_chunk *c) {
    cuda_state *cs = state_of(s);
    const vl_spec *sp = s->s;
    vl_status st;
    CU(cudaMemcpyAsync(cs->d_t0, &t0, 8, cudaMemcpyHostToDevice, cs->stream));
    for (size_t i = 0; i < sp->n_pops; ++i) CU(cudaMemsetAsync(cs->h_pops[i].count, 0, 4 * (size_t)cs->chunk, cs->stream));
    if (cs->block_mode) {
        vl_block_chunk_kernel<<<1, VL_CHUNK_BLOCK, 4 * (cs->n_proj + 1), cs->stream>>>(cs->d_pops, cs->d_warp_pop, cs->d_proj,
                                                                  (int)cs->n_proj, cs->d_rec, (int)s->n_state,
                                                                  cs->d_t0, n_steps, cs->n_threads, cs->seed);
        CU(cudaGetLastError());
    } else if (n_steps == cs->chunk) {
        if (!cs->have_graph) {
            cudaGraph_t g;
            CU(cudaStreamBeginCapture(cs->stream, cudaStreamCaptureModeThreadLocal));
            st = enqueue_steps(s, n_steps);
            CU(cudaStreamEndCapture(cs->stream, &g));
            if (st != VL_OK) return st;
            CU(cudaGraphInstantiate(&cs->graph, g, 0));
            CU(cudaGraphDestroy(g));
            cs->have_graph = 1;
        }
        CU(cudaGraphLaunch(cs->graph, cs->stream));
    } else if ((st = enqueue_steps(s, n_steps)) != VL_OK) {
        return st;
    }
    // Drain: counts, packed spikes of recorded populations, frames, max v.
    for (size_t i = 0; i < sp->n_pops; ++i)
        CU(cudaMemcpyAsync(cs->h_count + i * cs->chunk, cs->h_pops[i].count, 4 * (size_t)n_steps,
                           cudaMemcpyDeviceToHost, cs->stream));
    CU(cudaStreamSynchronize(cs->stream));
    uint64_t off = 0;
    for (size_t i = 0; i < sp->n_pops; ++i) {
        const uint32_t *cnt = cs->h_count + i * cs->chunk;
        for (uint32_t k = 0; k < n_steps; ++k) c->count[i][k] = cnt[k];
        if (!s->rec_spikes[i]) continue;
        uint64_t total = 0;
        for (uint32_t k = 0; k < n_steps; ++k) total += cnt[k];
        if (total) {
            vl_pack_kernel<<<n_steps, VL_BLOCK, 0, cs->stream>>>(cs->h_pops[i].spk, cs->h_pops[i].count,
                                                                 cs->h_pops[i].size, n_steps, cs->d_packed + off);
            CU(cudaGetLastError());
            CU(cudaMemcpyAsync(cs->h_spk + off, cs->d_packed + off, 4 * total, cudaMemcpyDeviceToHost, cs->stream));
        }
        off += total;
    }
    for (size_t q = 0; q < s->n_state; ++q)
        CU(cudaMemcpyAsync(cs->h_frames[q], cs->d_frames[q], 4 * cs->frame_len[q], cudaMemcpyDeviceToHost, cs->stream));
    for (size_t i = 0; i < sp->n_pops; ++i)
        if (s->rt[i].type == VL_POP_NEURON)
            CU(cudaMemcpyAsync(&s->max_v[i], cs->h_pops[i].max_v, 4, cudaMemcpyDeviceToHost, cs->stream));
    CU(cudaStreamSynchronize(cs->stream));
    off = 0;
    for (size_t i = 0; i < sp->n_pops; ++i) {
        if (!s->rec_spikes[i]) continue;
        const uint32_t *cnt = cs->h_count + i * cs->chunk;
        for (uint32_t k = 0; k < n_steps; ++k) {
            // Atomics append in any order; ids ascending within a step, as the CPU backend writes them.
            qsort(cs->h_spk + off, cnt[k], sizeof(uint32_t), cmp_u32);
            for (uint32_t j = 0; j < cnt[k]; ++j)
                if (vl_spike_buf_push(&c->spk[i], k, cs->h_spk[off++])) return VL_ERR_NOMEM;
        }
    }
    for (size_t q = 0; q < s->n_state; ++q) {
        const vl_state_rec_spec *sr = &sp->state[q];
        uint32_t frames = 0;
        for (uint64_t t = t0; t < t0 + n_steps; ++t) frames += (t % sr->every) == 0;
        memcpy(c->frames[q], cs->h_frames[q], 4 * (size_t)frames * sr->n_vars * sr->n_ids);
        c->n_frames[q] = frames;
    }
    c->n_steps = n_steps;
    return VL_OK;
}

// Plastic weights back into the host CSR (for weight snapshots); other projections never change.
static vl_status cuda_sync_weights(vl_sim *s) {
    cuda_state *cs = state_of(s);
    for (size_t q = 0; q < cs->n_proj; ++q)
        if (s->s->proj[q].stdp.on)
            CU(cudaMemcpy(s->net.proj[q].w, cs->h_proj[q].w, 4 * s->net.proj[q].n_syn, cudaMemcpyDeviceToHost));
    return VL_OK;
}

extern "C" const vl_backend_i vl_backend_cuda = {"cuda", cuda_init, cuda_run, cuda_sync_weights, cuda_destroy};
