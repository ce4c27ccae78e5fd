// Schedule step 4, pair-based STDP (kernels/plasticity.h), in three launches so that each phase
// sees the previous one complete: traces decay; each arriving pre spike updates its row against
// the post traces; each post spike updates its column (through the CSC index) against the pre
// traces.
#include "kernels/synapses.cuh"

static __global__ void vl_stdp_decay_kernel(const dev_plastic *pl, int n_pl) {
    uint32_t gid = blockIdx.x * blockDim.x + threadIdx.x, stride = gridDim.x * blockDim.x;
    for (int q = 0; q < n_pl; ++q) {
        const dev_plastic &c = pl[q];
        for (uint32_t i = gid; i < c.n_rows; i += stride) c.A_pre[i] *= c.p.decay_pre;
        for (uint32_t i = gid; i < c.n_cols; i += stride) c.A_post[i] *= c.p.decay_post;
    }
}

// One warp per (plastic projection, arriving pre spike): the trace first, then the row against A_post.
static __global__ void vl_stdp_pre_kernel(const dev_pop *pops, const dev_proj *proj, const dev_plastic *pl, int n_pl,
                                          const uint64_t *d_t0, uint32_t k) {
    uint32_t lane = threadIdx.x & 31, warp0 = blockIdx.x * VL_CU_WARPS + (threadIdx.x >> 5),
             n_warps = gridDim.x * VL_CU_WARPS;
    const uint64_t t = *d_t0 + k;
    for (int q = 0; q < n_pl; ++q) {
        const dev_plastic &c = pl[q];
        const dev_proj &pj = proj[c.proj];
        uint32_t n_spk;
        const uint32_t *list = vl_arrivals(pops, pj, t, k, &n_spk);
        for (uint32_t s = warp0; s < n_spk; s += n_warps) {
            uint32_t id = list[s];
            if (id < pj.src_lo || id - pj.src_lo >= c.n_rows) continue;
            uint32_t row = id - pj.src_lo;
            if (lane == 0) c.A_pre[row] = vl_trace_on_spike(c.A_pre[row], c.p.dA_pre, c.p.nearest);
            __syncwarp();
            for (uint64_t j = c.row_ptr[row] + lane; j < c.row_ptr[row + 1]; j += 32)
                c.w[j] = vl_stdp_on_pre(&c.p, c.w[j], c.A_post[c.col[j] - c.tgt_lo]);
        }
    }
}

// One warp per (plastic projection, post spike): the trace first, then the column against A_pre.
static __global__ void vl_stdp_post_kernel(const dev_pop *pops, const dev_plastic *pl, int n_pl, uint32_t k) {
    uint32_t lane = threadIdx.x & 31, warp0 = blockIdx.x * VL_CU_WARPS + (threadIdx.x >> 5),
             n_warps = gridDim.x * VL_CU_WARPS;
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

cudaError_t vl_cu_stdp(const vl_cu_net *n, uint32_t k, cudaStream_t st) {
    if (!n->n_pl) return cudaSuccess;
    uint32_t blocks = (n->pl_warps + VL_CU_WARPS - 1) / VL_CU_WARPS;
    vl_stdp_decay_kernel<<<blocks, VL_CU_BLOCK, 0, st>>>(n->pl, n->n_pl);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
    vl_stdp_pre_kernel<<<blocks, VL_CU_BLOCK, 0, st>>>(n->pops, n->proj, n->pl, n->n_pl, n->t0, k);
    if ((e = cudaGetLastError()) != cudaSuccess) return e;
    vl_stdp_post_kernel<<<blocks, VL_CU_BLOCK, 0, st>>>(n->pops, n->pl, n->n_pl, k);
    return cudaGetLastError();
}
