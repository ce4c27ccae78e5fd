// Schedule steps 1-2 on the device for one thread of the flat thread space (every population
// padded to whole warps): inputs emit, neurons take their ring-buffer input and integrate
// (kernels/neuron.h), spikes are appended to the step's region with warp-aggregated atomics.
// Used by the per-step update kernel (neurons.cu) and the single-block chunk kernel (chunk.cu).
#ifndef VL_KERNELS_NEURONS_CUH
#define VL_KERNELS_NEURONS_CUH

#include "kernels/cuda.cuh"

__device__ __forceinline__ void vl_atomic_max_float(float *addr, float v) {
    if (v >= 0.0f) atomicMax((int *)addr, __float_as_int(v));
    else atomicMin((unsigned int *)addr, __float_as_uint(v));
}

// Spike probability of input neuron k at step t: pattern protocol, rate table, per-neuron or
// constant rate (the CPU backend's vl_pop_rt_prob and vl_pop_rt_pattern).
__device__ __forceinline__ float vl_input_prob(const dev_pop &p, uint64_t t, uint32_t k) {
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

// Input population pi, neuron i at step t: does it fire? (Poisson and pattern inputs.)
__device__ __forceinline__ int vl_input_fires(const dev_pop &p, uint32_t pi, uint32_t i, uint64_t t, uint64_t seed) {
    float prob = vl_input_prob(p, t, i);
    if (prob <= 0.0f) return 0;
    vl_u32x4 r = vl_rand4(seed, VL_STREAM_POISSON | pi, (uint32_t)t, (uint32_t)(t >> 32), i);
    return vl_poisson_fires(prob, vl_u01f(r.v[0]));
}

// spike_times input: thread i emits the i-th spike of step t (a binary search finds the step's
// first entry); returns the neuron id or UINT32_MAX.
__device__ __forceinline__ uint32_t vl_spike_time_at(const dev_pop &p, uint32_t i, uint64_t t) {
    uint64_t lo = 0, hi = p.n_spk;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (p.spk_step[mid] < t) lo = mid + 1; else hi = mid;
    }
    return i < p.size && lo + i < p.n_spk && p.spk_step[lo + i] == t ? p.spk_id[lo + i] : UINT32_MAX;
}

// One neuron with NR receptors at step t: every load (state, this step's ring slot) is issued
// before any store, so a thread has all of them in flight at once and the state lives in
// registers while kernels/neuron.h's step runs on it. Writing through the arrays instead made
// each receptor's loads wait for the previous one's stores (they may alias), which left the
// kernel latency-bound at a few percent of the memory bandwidth. Same operations in the same
// order as the CPU backend.
template <int NR>
__device__ __forceinline__ int vl_neuron_regs(const dev_pop &p, const vl_neuron_params &np, uint32_t pi, uint32_t i,
                                              uint64_t t, uint64_t seed, float *v_out) {
    const size_t n = p.size;
    const size_t slot = vl_ring_slot(t, p.ring_len) * NR * n + i;
    float v = p.v[i], w = np.adapt ? p.wa[i] : 0.0f, g[NR], in[NR];
    int32_t refr = p.refr[i];
#pragma unroll
    for (int r = 0; r < NR; ++r) g[r] = p.g[r * n + i];
    if (p.ring_q) {
#pragma unroll
        for (int r = 0; r < NR; ++r) in[r] = vl_from_fixed(p.ring_q[slot + r * n]);
    } else {
#pragma unroll
        for (int r = 0; r < NR; ++r) in[r] = p.ring[slot + r * n];
    }
    float z = 0.0f;
    if (np.noise != 0.0f || np.bg_lambda > 0.0f) { // vl_neuron_draws, with the receptor picked by unrolled compares
        const vl_u32x4 rnd = vl_rand4(seed, VL_STREAM_NOISE | pi, (uint32_t)t, (uint32_t)(t >> 32), i);
        if (np.bg_lambda > 0.0f) {
            const float b = vl_bg_input(&np, rnd);
#pragma unroll
            for (int r = 0; r < NR; ++r)
                if (r == np.bg_rec) in[r] += b;
        }
        z = vl_noise_draw(&np, rnd);
    }
    const int spike = vl_neuron_step_n(&np, NR, &v, &refr, &w, g, in, 1, z);
    p.v[i] = v;
    p.refr[i] = refr;
    if (np.adapt) p.wa[i] = w;
#pragma unroll
    for (int r = 0; r < NR; ++r) p.g[r * n + i] = g[r];
    // The slot is cleared last: no store comes before the arithmetic, so the parameters it reads
    // from the table need not be kept in registers against aliasing.
    if (p.ring_q) {
#pragma unroll
        for (int r = 0; r < NR; ++r) p.ring_q[slot + r * n] = 0;
    } else {
#pragma unroll
        for (int r = 0; r < NR; ++r) p.ring[slot + r * n] = 0.0f;
    }
    *v_out = v;
    return spike;
}

// Any receptor count: the step works in place on the arrays (slower; models with 1-4 receptors
// take vl_neuron_regs).
__device__ __forceinline__ int vl_neuron_mem(const dev_pop &p, const vl_neuron_params &np, uint32_t pi, uint32_t i,
                                             uint64_t t, uint64_t seed, float *v_out) {
    size_t n = p.size, nr = (size_t)np.n_rec;
    size_t slot = vl_ring_slot(t, p.ring_len) * nr * n + i;
    float *in = p.ring + slot;
    if (p.ring_q)
        for (size_t r = 0; r < nr; ++r) {
            in[r * n] = vl_from_fixed(p.ring_q[slot + r * n]);
            p.ring_q[slot + r * n] = 0;
        }
    float z = 0.0f;
    if (np.noise != 0.0f || np.bg_lambda > 0.0f)
        z = vl_neuron_draws(&np, vl_rand4(seed, VL_STREAM_NOISE | pi, (uint32_t)t, (uint32_t)(t >> 32), i), in, n);
    int spike = vl_neuron_step(&np, p.v + i, p.refr + i, p.wa + i, p.g + i, in, n, z);
    *v_out = p.v[i];
    return spike;
}

// Steps 1-2 for flat thread gid of population pi at step t (step k of the chunk). Every lane of a
// warp must call it (the append is warp-aggregated); populations start at multiples of 32, so a
// warp is one population.
__device__ __forceinline__ void vl_update_in(const dev_pop *pops, uint32_t pi, uint32_t gid, uint64_t t, uint32_t k,
                                             uint64_t seed) {
    const dev_pop &p = pops[pi];
    uint32_t i = gid - p.offset;
    int spike = 0;
    float v_now = -INFINITY;
    uint32_t *region = p.spk + (size_t)(p.recorded ? k : 0) * p.size;
    if (p.type == VL_POP_SPIKE_TIMES) {
        uint32_t id = vl_spike_time_at(p, i, t);
        if (id != UINT32_MAX) {
            region[i] = id;
            atomicAdd(&p.count[k], 1u);
        }
        return;
    }
    if (i < p.size) {
        if (p.type == VL_POP_NEURON) {
            // vl_neuron_regs stores nothing before its arithmetic, so it reads the parameters from
            // the table as it needs them; the in-place step works on a register copy instead, which
            // its stores to the state arrays cannot alias.
            switch (p.np.n_rec) { // the same for the whole warp
            case 1: spike = vl_neuron_regs<1>(p, p.np, pi, i, t, seed, &v_now); break;
            case 2: spike = vl_neuron_regs<2>(p, p.np, pi, i, t, seed, &v_now); break;
            case 3: spike = vl_neuron_regs<3>(p, p.np, pi, i, t, seed, &v_now); break;
            case 4: spike = vl_neuron_regs<4>(p, p.np, pi, i, t, seed, &v_now); break;
            default: {
                const vl_neuron_params np = p.np;
                spike = vl_neuron_mem(p, np, pi, i, t, seed, &v_now);
                break;
            }
            }
        } else {
            spike = vl_input_fires(p, pi, i, t, seed);
        }
    }
    unsigned mask = __ballot_sync(0xffffffffu, spike);
    int lane = threadIdx.x & 31;
    if (mask) {
        uint32_t base = 0;
        if (lane == 0) base = atomicAdd(&p.count[k], (uint32_t)__popc(mask));
        base = __shfl_sync(0xffffffffu, base, 0);
        if (spike) region[base + __popc(mask & ((1u << lane) - 1u))] = i;
    }
    if (p.type == VL_POP_NEURON) {
        for (int off = 16; off > 0; off >>= 1) v_now = fmaxf(v_now, __shfl_xor_sync(0xffffffffu, v_now, off));
        // Each warp keeps its own maximum (a fire-and-forget atomic on its own address): one
        // address for the whole population made 31k warps per step at 10^6 neurons queue on it.
        if (lane == 0) vl_atomic_max_float(p.wmax + (i >> 5), v_now);
    }
}

// The same for flat thread gid, its population looked up in the per-warp table.
__device__ __forceinline__ void vl_update_one(const dev_pop *pops, const uint32_t *warp_pop, uint32_t gid, uint64_t t,
                                              uint32_t k, uint64_t seed) {
    vl_update_in(pops, warp_pop[gid >> 5], gid, t, k, seed); // one load instead of a search through the table
}

#endif
