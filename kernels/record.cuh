// Schedule step 5 on the device, sampled state: at the start of a step (as the CPU backend), v or
// a receptor's value plus this step's pending input. Used by record.cu and chunk.cu.
#ifndef VL_KERNELS_RECORD_CUH
#define VL_KERNELS_RECORD_CUH

#include "kernels/cuda.cuh"

// Thread j of n_ids * n_vars writes one value of step t's frame (frames of this chunk start at
// ceil(t0 / every)).
__device__ __forceinline__ void vl_state_one(const dev_pop *pops, const dev_state_rec &r, uint64_t t0, uint64_t t,
                                             uint32_t j) {
    if (t % r.every || j >= r.n_ids * r.n_vars) return;
    uint64_t frame = t / r.every - (t0 + r.every - 1) / r.every;
    const dev_pop &p = pops[r.pop];
    uint32_t v = j / r.n_ids, id = r.ids[j % r.n_ids];
    int rec = r.var_rec[v];
    size_t n = p.size, nr = (size_t)p.np.n_rec;
    float val = p.v[id];
    size_t at = (size_t)(t % p.ring_len) * nr * n + (size_t)rec * n + id;
    if (rec >= 0) val = p.g[(size_t)rec * n + id] + (p.ring_q ? vl_from_fixed(p.ring_q[at]) : p.ring[at]);
    r.frames[(size_t)frame * r.n_vars * r.n_ids + j] = val;
}

#endif
