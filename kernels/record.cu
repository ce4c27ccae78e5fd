// Schedule step 5 and the chunk's drain: sampled state per step, the spike record packed per
// population, the per-warp maxima of v folded into one value per population.
#include "kernels/record.cuh"

static __global__ void vl_state_kernel(const dev_pop *pops, const dev_state_rec *rec, int q, const uint64_t *d_t0,
                                       uint32_t k) {
    vl_state_one(pops, rec[q], *d_t0, *d_t0 + k, blockIdx.x * blockDim.x + threadIdx.x);
}

cudaError_t vl_cu_state(const vl_cu_net *n, const dev_state_rec *host_rec, uint32_t k, cudaStream_t st) {
    for (int q = 0; q < n->n_rec; ++q) {
        uint32_t m = host_rec[q].n_ids * host_rec[q].n_vars;
        vl_state_kernel<<<(m + VL_CU_BLOCK - 1) / VL_CU_BLOCK, VL_CU_BLOCK, 0, st>>>(n->pops, n->rec, q, n->t0, k);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) return e;
    }
    return cudaSuccess;
}

// Packs the per-step spike regions of one recorded population into a contiguous list.
static __global__ void vl_pack_kernel(const uint32_t *spk, const uint32_t *count, uint32_t size, uint32_t n_steps,
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

cudaError_t vl_cu_pack(const uint32_t *spk, const uint32_t *count, uint32_t size, uint32_t n_steps, uint32_t *out,
                       cudaStream_t st) {
    vl_pack_kernel<<<n_steps, VL_CU_BLOCK, 0, st>>>(spk, count, size, n_steps, out);
    return cudaGetLastError();
}

// One block folds the per-warp maxima into max_v (which keeps the run's highest value).
static __global__ void vl_max_v_kernel(const float *wmax, uint32_t n_warps, float *max_v) {
    __shared__ float part[VL_CU_WARPS];
    float m = -INFINITY;
    for (uint32_t i = threadIdx.x; i < n_warps; i += blockDim.x) m = fmaxf(m, wmax[i]);
    for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = m;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < VL_CU_WARPS; ++w) m = fmaxf(m, part[w]);
        *max_v = fmaxf(*max_v, fmaxf(m, part[0]));
    }
}

cudaError_t vl_cu_max_v(float *wmax, uint32_t n_warps, float *max_v, cudaStream_t st) {
    vl_max_v_kernel<<<1, VL_CU_BLOCK, 0, st>>>(wmax, n_warps, max_v);
    return cudaGetLastError();
}

static __global__ void vl_fill_kernel(float *p, float value, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) p[i] = value;
}

cudaError_t vl_cu_fill(float *p, float value, size_t n, cudaStream_t st) {
    size_t blocks = (n + VL_CU_BLOCK - 1) / VL_CU_BLOCK;
    vl_fill_kernel<<<blocks < 1024 ? (blocks ? (unsigned)blocks : 1u) : 1024u, VL_CU_BLOCK, 0, st>>>(p, value, n);
    return cudaGetLastError();
}
