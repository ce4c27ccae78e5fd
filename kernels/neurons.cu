// Schedule steps 1-2: every population in one launch (a table of population descriptors, as GeNN
// merges groups), a lane per neuron; the per-lane work is vl_update_in (kernels/neurons.cuh) over
// the shared kernels/neuron.h math. Three launch shapes, picked by vl_cu_net.update
// (VOLLEY_CUDA_UPDATE), so that a GPU session can compare them in one run without rebuilding:
//   VL_UPDATE_THREAD    a thread per neuron, at most 64 registers (4 blocks of 256 per SM): the
//                       default, measured on an H200;
//   VL_UPDATE_THREAD6   the same at 40 registers (6 blocks per SM, the most every target
//                       architecture allows: 1.5 times the loads in flight, at the price of
//                       spilling to local memory);
//   VL_UPDATE_STRIDE    one resident wave (upd_blocks), each warp striding over groups of 32
//                       neurons with the next group's population index loaded ahead (fewer
//                       table lookups and one store drain per warp instead of per group);
//   VL_UPDATE_BOUNDS    a thread per neuron that finds its population by a binary search of the
//                       populations' first warps, a kernel parameter (vl_cu_bounds), instead of
//                       loading the per-warp table first (17 % of the default's stall samples
//                       at 10^6 neurons waited for that load).
// Every shape runs the same per-neuron operations, so results do not depend on the choice.
#include "kernels/neurons.cuh"

template <int MIN_BLOCKS>
static __global__ void __launch_bounds__(VL_CU_BLOCK, MIN_BLOCKS)
    vl_update_kernel(const dev_pop *pops, const uint32_t *warp_pop, uint32_t n_threads, const uint64_t *d_t0, uint32_t k,
                     uint64_t seed) {
    vl_pdl_start();
    uint32_t gid = blockIdx.x * blockDim.x + threadIdx.x;
    if (gid < n_threads) vl_update_one(pops, warp_pop, gid, *d_t0 + k, k, seed); // whole warps leave together
}

static __global__ void __launch_bounds__(VL_CU_BLOCK, 4)
    vl_update_stride_kernel(const dev_pop *pops, const uint32_t *warp_pop, uint32_t n_threads, const uint64_t *d_t0,
                            uint32_t k, uint64_t seed) {
    vl_pdl_start();
    const uint32_t n_warps = n_threads >> 5, stride = gridDim.x * VL_CU_WARPS, lane = threadIdx.x & 31;
    uint32_t w = blockIdx.x * VL_CU_WARPS + (threadIdx.x >> 5);
    if (w >= n_warps) return; // whole warps
    const uint64_t t = *d_t0 + k;
    uint32_t pi = warp_pop[w];
    for (; w < n_warps; w += stride) {
        const uint32_t next = w + stride < n_warps ? warp_pop[w + stride] : 0;
        vl_update_in(pops, pi, w * 32 + lane, t, k, seed);
        pi = next;
    }
}

static __global__ void __launch_bounds__(VL_CU_BLOCK, 4)
    vl_update_bounds_kernel(const dev_pop *pops, const vl_cu_bounds b, uint32_t n_threads, const uint64_t *d_t0,
                            uint32_t k, uint64_t seed) {
    vl_pdl_start();
    const uint32_t gid = blockIdx.x * blockDim.x + threadIdx.x;
    if (gid >= n_threads) return; // whole warps
    const uint32_t w = gid >> 5;
    uint32_t lo = 0, hi = b.n; // the last population whose first warp is at or before w
    while (hi - lo > 1) {
        const uint32_t mid = (lo + hi) / 2;
        if (b.first[mid] <= w) lo = mid; else hi = mid;
    }
    vl_update_in(pops, lo, gid, *d_t0 + k, k, seed);
}

cudaError_t vl_cu_update(const vl_cu_net *n, uint32_t k, cudaStream_t st) {
    uint32_t blocks = (n->n_threads + VL_CU_BLOCK - 1) / VL_CU_BLOCK;
    if (n->update == VL_UPDATE_STRIDE && n->upd_blocks && n->upd_blocks < blocks) blocks = n->upd_blocks;
    cudaLaunchAttribute attr;
    const cudaLaunchConfig_t cfg = vl_cu_config(n->pdl, blocks, VL_CU_BLOCK, 0, st, &attr);
    cudaError_t e;
    if (n->update == VL_UPDATE_STRIDE)
        e = cudaLaunchKernelEx(&cfg, vl_update_stride_kernel, n->pops, n->warp_pop, n->n_threads, n->t0, k, n->seed);
    else if (n->update == VL_UPDATE_BOUNDS && n->bounds.n)
        e = cudaLaunchKernelEx(&cfg, vl_update_bounds_kernel, n->pops, n->bounds, n->n_threads, n->t0, k, n->seed);
    else if (n->update == VL_UPDATE_THREAD6)
        e = cudaLaunchKernelEx(&cfg, vl_update_kernel<6>, n->pops, n->warp_pop, n->n_threads, n->t0, k, n->seed);
    else
        e = cudaLaunchKernelEx(&cfg, vl_update_kernel<4>, n->pops, n->warp_pop, n->n_threads, n->t0, k, n->seed);
    return e != cudaSuccess ? e : cudaGetLastError();
}

int vl_cu_update_parse(const char *s) {
    if (!s || !*s || !strcmp(s, "thread")) return VL_UPDATE_THREAD;
    if (!strcmp(s, "thread6")) return VL_UPDATE_THREAD6;
    if (!strcmp(s, "stride")) return VL_UPDATE_STRIDE;
    if (!strcmp(s, "bounds")) return VL_UPDATE_BOUNDS;
    return -1;
}
