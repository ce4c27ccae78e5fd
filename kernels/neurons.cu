// Schedule steps 1-2: one thread per neuron of every population in one launch (a table of
// population descriptors, as GeNN merges groups). The per-thread work is vl_update_one
// (kernels/neurons.cuh) over the shared kernels/neuron.h math.
#include "kernels/neurons.cuh"

static __global__ void __launch_bounds__(VL_CU_BLOCK, 4) vl_update_kernel(const dev_pop *pops, const uint32_t *warp_pop, uint32_t n_threads,
                                        const uint64_t *d_t0, uint32_t k, uint64_t seed) {
    uint32_t gid = blockIdx.x * blockDim.x + threadIdx.x;
    if (gid < n_threads) vl_update_one(pops, warp_pop, gid, *d_t0 + k, k, seed); // whole warps leave together
}

cudaError_t vl_cu_update(const vl_cu_net *n, uint32_t k, cudaStream_t st) {
    vl_update_kernel<<<(n->n_threads + VL_CU_BLOCK - 1) / VL_CU_BLOCK, VL_CU_BLOCK, 0, st>>>(
        n->pops, n->warp_pop, n->n_threads, n->t0, k, n->seed);
    return cudaGetLastError();
}
