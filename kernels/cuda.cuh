// What the CUDA kernels (kernels/*.cu, one file per subsystem) and the backend's host side
// (src/sim/cuda.cu) share: the device-side descriptors of populations and projections, the block
// sizes, and the launchers. Every launcher computes its grid, takes a stream and returns the
// launch's cudaGetLastError(), which the host side checks.
//
//   neurons.cu     schedule steps 1-2: inputs emit, neurons integrate, spikes are appended
//   synapses.cu    step 3: short-term factors, the spike history of delayed plastic projections,
//                  propagation (a thread, a warp or several warps per spike, per projection)
//   plasticity.cu  step 4: STDP traces, pre- and post-spike weight updates
//   record.cu      step 5: sampled state, packing of the spike record, highest v
//   chunk.cu       whole chunks of steps in one launch (one block, or one thread-block cluster
//                  with the neuron state in distributed shared memory)
#ifndef VL_KERNELS_CUDA_CUH
#define VL_KERNELS_CUDA_CUH

#include <cuda_runtime.h>

#include "kernels/cluster.h"
#include "kernels/neuron.h"
#include "kernels/philox.h"
#include "kernels/plasticity.h"
#include "kernels/propagate.h"
#include "kernels/stp.h"
#include "model/spec.h" // vl_pop_type

#define VL_CU_BLOCK 256 // threads per block of the per-step kernels
#define VL_CU_WARPS (VL_CU_BLOCK / 32)

#ifdef __CUDACC__
// Programmatic dependent launch (compute capability 9.0; VOLLEY_CUDA_PDL=1): a kernel launched
// with it may be scheduled while the kernel before it still runs, once every block of that one
// has called vl_pdl_start; it then waits in vl_pdl_start until that kernel has finished and its
// writes are visible. So a kernel launched this way must call vl_pdl_start before it touches
// memory. Launched without it, the wait returns at once.
static __device__ __forceinline__ void vl_pdl_start() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// A launch configuration, with programmatic dependent launch when pdl (attr: storage for it).
static inline cudaLaunchConfig_t vl_cu_config(int pdl, dim3 grid, dim3 block, size_t shm, cudaStream_t st,
                                              cudaLaunchAttribute *attr) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = shm;
    cfg.stream = st;
    if (pdl) {
        attr->id = cudaLaunchAttributeProgrammaticStreamSerialization;
        attr->val.programmaticStreamSerializationAllowed = 1;
        cfg.attrs = attr;
        cfg.numAttrs = 1;
    }
    return cfg;
}

// t mod ring_len in 32-bit arithmetic while t fits (a 64-bit remainder is a long subroutine).
static __device__ __forceinline__ size_t vl_ring_slot(uint64_t t, uint32_t ring_len) {
    return t <= 0xffffffffull ? (uint32_t)t % ring_len : (size_t)(t % ring_len);
}
#endif

enum { VL_UPDATE_THREAD = 0, VL_UPDATE_THREAD6 = 1, VL_UPDATE_STRIDE = 2, VL_UPDATE_BOUNDS = 3 }; // kernels/neurons.cu

// The first flat warp of each population (ascending), passed to the update kernel by value so
// that a warp finds its population in the constant bank instead of loading the per-warp table.
#define VL_CU_BOUNDS 32
typedef struct vl_cu_bounds {
    uint32_t n; // populations; 0: more than VL_CU_BOUNDS (the per-warp table is used)
    uint32_t first[VL_CU_BOUNDS];
} vl_cu_bounds;
#define VL_CU_CHUNK_BLOCK 1024 // threads of the single-block chunk kernel

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
    float *wmax;        // highest v per warp of the population (no contended address), reduced per chunk
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
    int32_t strategy;   // VL_PROP_THREAD, VL_PROP_WARP or VL_PROP_SPLIT (kernels/propagate.h)
    uint32_t n_chunks;  // split: work items per spike, ceil(longest row / VL_ROW_CHUNK), at least 1
    const float *factor; // short-term factor of each source row for this step, or NULL
    const uint64_t *row_ptr;
    const uint32_t *col;
    const float *w;
    const uint16_t *delay;
    // Delayed plastic projections: the source rows that spiked in each of the last delay_const + 1
    // steps (hist_slots regions of n_rows ids, hist_n[slot] of them); their spikes act on arrival,
    // with no further delay. NULL otherwise.
    uint32_t *hist, *hist_n;
    uint32_t hist_slots;
} dev_proj;

// A projection with short-term dynamics: its state per source row (kernels/stp.h).
typedef struct dev_stp {
    vl_stp_params p;
    uint32_t proj;      // index into the projection table
    float *u, *x, *factor;
    uint64_t *last;
} dev_stp;

// A plastic projection: its STDP constants, traces and CSC index (kernels/plasticity.h).
typedef struct dev_plastic {
    vl_stdp_params p;
    uint32_t proj;      // index into the projection table (pre spikes arrive as it says)
    uint32_t tgt, tgt_lo, n_rows, n_cols;
    float *A_pre, *A_post, *w;
    const uint64_t *row_ptr, *col_ptr, *csc_syn;
    const uint32_t *col, *csc_row;
} dev_plastic;

// One state recording: which neurons, which variable per column (receptor index, -1: v), every
// how many steps, and the chunk's frames.
typedef struct dev_state_rec {
    int pop;
    uint32_t n_ids, n_vars, every;
    const uint32_t *ids;
    const int32_t *var_rec;
    float *frames;
} dev_state_rec;

// Everything a step's kernels read, in device memory: the tables and the chunk's first step.
typedef struct vl_cu_net {
    const dev_pop *pops;          // device table
    const uint32_t *warp_pop;     // population of each warp of the flat thread space
    const dev_proj *proj;
    const dev_stp *stp;
    const dev_plastic *pl;
    const dev_state_rec *rec;
    const uint64_t *t0;           // first step of the chunk
    int n_pops, n_proj, n_stp, n_pl, n_rec, n_hist;
    uint32_t n_threads;           // flat thread space of the update (populations padded to warps)
    uint32_t max_src;             // largest population
    uint32_t prop_blocks;         // grid of the propagate kernel
    int update;                   // the update kernel's launch shape, VL_UPDATE_* (kernels/neurons.cu)
    int scatter;                  // synapses per lane the propagate kernel loads ahead: 1 or 4 (vl_scatter)
    int pdl;                      // launch update and propagate with programmatic dependent launch
    uint32_t upd_blocks;          // VL_UPDATE_STRIDE's grid: one resident wave
    vl_cu_bounds bounds;          // VL_UPDATE_BOUNDS's population lookup
    uint32_t pl_warps;            // warps of the STDP kernels
    uint64_t seed;
} vl_cu_net;

// Launchers (step k of the chunk). Each returns cudaGetLastError() after its launch.
cudaError_t vl_cu_update(const vl_cu_net *n, uint32_t k, cudaStream_t st);
// A VOLLEY_CUDA_UPDATE value (thread, thread6, stride, bounds; unset: thread) as VL_UPDATE_*; -1
// if none.
int vl_cu_update_parse(const char *s);
cudaError_t vl_cu_history(const vl_cu_net *n, uint32_t k, cudaStream_t st);
cudaError_t vl_cu_stp(const vl_cu_net *n, uint32_t k, cudaStream_t st);
cudaError_t vl_cu_propagate(const vl_cu_net *n, uint32_t k, cudaStream_t st);
// Blocks of n's propagate kernel (its scatter variant, registers and shared memory) that one SM
// holds at once: the host sizes the grid to one resident wave with it.
int vl_cu_propagate_per_sm(const vl_cu_net *n);
cudaError_t vl_cu_stdp(const vl_cu_net *n, uint32_t k, cudaStream_t st);
cudaError_t vl_cu_state(const vl_cu_net *n, const dev_state_rec *host_rec, uint32_t k, cudaStream_t st);
// After a chunk: the spike regions of one recorded population packed into out; the per-warp
// maxima of v folded into max_v.
cudaError_t vl_cu_pack(const uint32_t *spk, const uint32_t *count, uint32_t size, uint32_t n_steps, uint32_t *out,
                       cudaStream_t st);
cudaError_t vl_cu_max_v(float *wmax, uint32_t n_warps, float *max_v, cudaStream_t st);
cudaError_t vl_cu_fill(float *p, float value, size_t n, cudaStream_t st);
// Whole chunks: one block (small networks, no plasticity), or one cluster of blocks with the
// neuron state in distributed shared memory (compute capability 9.0).
cudaError_t vl_cu_block_chunk(const vl_cu_net *n, uint32_t n_steps, cudaStream_t st);
// syn: the local-synapse images when L->local (L->syn_bytes per block), else NULL.
cudaError_t vl_cu_cluster_chunk(const vl_cu_net *n, const vl_cluster_layout *L, const void *syn, uint32_t n_steps,
                                cudaStream_t st);
// Shared-memory bytes of the cluster kernel's descriptor copy: the population table (padded to
// 16 bytes), then the projection table.
static inline uint32_t vl_cu_cluster_desc_bytes(int n_pops, int n_proj) {
    return (uint32_t)(((n_pops * sizeof(dev_pop) + 15) & ~(size_t)15) + n_proj * sizeof(dev_proj));
}
// How many clusters of plan L the device can hold at once (0: it cannot launch it).
int vl_cu_cluster_fits(const vl_cluster_layout *L);

#endif
