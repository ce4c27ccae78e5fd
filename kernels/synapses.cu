// Schedule step 3: short-term factors, the spike history of delayed plastic projections, and
// propagation of every projection in one launch (kernels/synapses.cuh).
#include "kernels/synapses.cuh"

// Grid-stride over the step's work items: the grid is sized once for the device, not for the
// largest population, so empty steps cost one short wave of blocks. B: synapses per lane loaded
// ahead (vl_scatter; vl_cu_net.scatter, VOLLEY_CUDA_SCATTER).
template <int B>
static __global__ void vl_propagate_kernel(const dev_pop *pops, const dev_proj *proj, int n_proj, const uint64_t *d_t0,
                                           uint32_t k) {
    extern __shared__ uint32_t sh_items[];
    vl_pdl_start();
    const uint64_t t = *d_t0 + k;
    vl_load_items(pops, proj, n_proj, t, k, sh_items);
    vl_propagate_warps<B>(pops, proj, n_proj, sh_items, t, k, blockIdx.x * VL_CU_WARPS + (threadIdx.x >> 5),
                          gridDim.x * VL_CU_WARPS, threadIdx.x & 31);
}

cudaError_t vl_cu_propagate(const vl_cu_net *n, uint32_t k, cudaStream_t st) {
    if (!n->n_proj) return cudaSuccess;
    const size_t shm = 4 * (2 * (size_t)n->n_proj + 1);
    cudaLaunchAttribute attr;
    const cudaLaunchConfig_t cfg = vl_cu_config(n->pdl, n->prop_blocks, VL_CU_BLOCK, shm, st, &attr);
    const cudaError_t e = n->scatter == 4
                              ? cudaLaunchKernelEx(&cfg, vl_propagate_kernel<4>, n->pops, n->proj, n->n_proj, n->t0, k)
                              : cudaLaunchKernelEx(&cfg, vl_propagate_kernel<1>, n->pops, n->proj, n->n_proj, n->t0, k);
    return e != cudaSuccess ? e : cudaGetLastError();
}

int vl_cu_propagate_per_sm(const vl_cu_net *n) {
    const size_t shm = 4 * (2 * (size_t)n->n_proj + 1);
    int per = 0;
    const cudaError_t e =
        n->scatter == 4 ? cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, vl_propagate_kernel<4>, VL_CU_BLOCK, shm)
                        : cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, vl_propagate_kernel<1>, VL_CU_BLOCK, shm);
    if (e != cudaSuccess || per < 1) {
        cudaGetLastError(); // not sticky: clear it and assume the thread limit alone
        return 2048 / VL_CU_BLOCK;
    }
    return per;
}

// Short-term factors of this step's arriving spikes, before propagation: one thread per
// (projection, spike) updates the source row's state and leaves the factor for the propagate
// kernel's warps.
static __global__ void vl_stp_kernel(const dev_pop *pops, const dev_proj *proj, const dev_stp *stp, int n_stp,
                                     const uint64_t *d_t0, uint32_t k) {
    uint32_t gid = blockIdx.x * blockDim.x + threadIdx.x, stride = gridDim.x * blockDim.x;
    uint64_t t = *d_t0 + k;
    for (int q = 0; q < n_stp; ++q) {
        const dev_stp &c = stp[q];
        const dev_proj &pj = proj[c.proj];
        uint32_t n_spk;
        const uint32_t *list = vl_arrivals(pops, pj, t, k, &n_spk);
        for (uint32_t s = gid; s < n_spk; s += stride) {
            uint32_t id = list[s];
            if (id < pj.src_lo || id - pj.src_lo >= pj.n_rows) continue;
            uint32_t row = id - pj.src_lo;
            c.factor[row] = vl_stp_on_spike(&c.p, &c.u[row], &c.x[row], &c.last[row], t);
        }
    }
}

cudaError_t vl_cu_stp(const vl_cu_net *n, uint32_t k, cudaStream_t st) {
    if (!n->n_stp) return cudaSuccess;
    vl_stp_kernel<<<(n->max_src + VL_CU_BLOCK - 1) / VL_CU_BLOCK, VL_CU_BLOCK, 0, st>>>(n->pops, n->proj, n->stp,
                                                                                       n->n_stp, n->t0, k);
    return cudaGetLastError();
}

// Delayed plastic projections keep this step's spikes of their source rows in slot t mod (d + 1);
// they arrive d steps later (vl_arrivals). One block per projection.
static __global__ void vl_history_kernel(const dev_pop *pops, const dev_proj *proj, int n_proj, const uint64_t *d_t0,
                                         uint32_t k) {
    __shared__ uint32_t m;
    const uint64_t t = *d_t0 + k;
    for (int q = blockIdx.x; q < n_proj; q += gridDim.x) {
        const dev_proj &c = proj[q];
        if (!c.hist) continue; // the same for the whole block
        const dev_pop &src = pops[c.src];
        const uint32_t n = src.count[k], slot = (uint32_t)(t % c.hist_slots);
        const uint32_t *spk = src.spk + (size_t)(src.recorded ? k : 0) * src.size;
        uint32_t *dst = c.hist + (size_t)slot * c.n_rows;
        if (threadIdx.x == 0) m = 0;
        __syncthreads();
        for (uint32_t s = threadIdx.x; s < n; s += blockDim.x) {
            uint32_t id = spk[s];
            if (id >= c.src_lo && id - c.src_lo < c.n_rows) dst[atomicAdd(&m, 1u)] = id;
        }
        __syncthreads();
        if (threadIdx.x == 0) c.hist_n[slot] = m;
        __syncthreads();
    }
}

cudaError_t vl_cu_history(const vl_cu_net *n, uint32_t k, cudaStream_t st) {
    if (!n->n_hist) return cudaSuccess;
    vl_history_kernel<<<n->n_hist, VL_CU_BLOCK, 0, st>>>(n->pops, n->proj, n->n_proj, n->t0, k);
    return cudaGetLastError();
}
