// Schedule step 3 on the device: the spikes that reach each projection's synapses at a step are
// scattered into the target's ring buffer at slot t + 1 + delay. Work items go to warps: each
// projection contributes vl_prop_items() items per step, by its strategy (kernels/propagate.h).
// Used by the per-step propagate kernel (synapses.cu) and the single-block chunk kernel (chunk.cu).
#ifndef VL_KERNELS_SYNAPSES_CUH
#define VL_KERNELS_SYNAPSES_CUH

#include "kernels/cuda.cuh"

// The population ids whose spikes reach projection c's synapses at step t (step k of the chunk):
// the source's spikes of this step, or, for a delayed plastic projection, those emitted
// delay_const steps ago (kept by the history kernel; they act with no further delay).
__device__ __forceinline__ const uint32_t *vl_arrivals(const dev_pop *pops, const dev_proj &c, uint64_t t, uint32_t k,
                                                       uint32_t *n) {
    if (c.hist) {
        uint32_t slot = (uint32_t)((t + 1) % c.hist_slots); // = (t - d) mod (d + 1): written d steps ago
        *n = t >= c.delay_const ? c.hist_n[slot] : 0;
        return c.hist + (size_t)slot * c.n_rows;
    }
    const dev_pop &src = pops[c.src];
    *n = src.count[k];
    return src.spk + (size_t)(src.recorded ? k : 0) * src.size;
}

// Fire-and-forget additions to global memory (PTX red.global): atomicAdd on a generic pointer
// also tests at run time whether it points to shared memory.
__device__ __forceinline__ void vl_red_add(float *p, float v) {
    asm volatile("red.global.add.f32 [%0], %1;" ::"l"(p), "f"(v) : "memory");
}
__device__ __forceinline__ void vl_red_add(long long *p, long long v) {
    asm volatile("red.global.add.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

// Adds row `row`'s synapses j0, j0 + stride, ... below e into the target's ring buffer, B
// synapses per lane at a time: their indices, weights and delays are all loaded before the first
// of their additions, so the loads' latencies overlap (an atomic between two loads otherwise makes
// the second wait, as the compiler must assume they may alias). The ring slot is (t + 1 + d) mod D
// with (t + 1) mod D taken once (d <= D - 2: the ring holds the longest delay plus two slots).
template <int B>
__device__ __forceinline__ void vl_scatter(const dev_proj &c, const dev_pop &tgt, uint32_t row, uint64_t j0, uint64_t e,
                                           uint32_t stride, uint64_t t) {
    // Locals, not the descriptors' fields: an addition could alias a field, which would then be
    // loaded again after each one.
    const size_t n = tgt.size, nr = (size_t)tgt.np.n_rec, rec = c.rec;
    float *const ring = tgt.ring;
    long long *const ring_q = tgt.ring_q;
    const uint32_t D = tgt.ring_len, base = (uint32_t)vl_ring_slot(t + 1, D);
    const uint32_t *col = c.col;
    const float *w = c.w;
    const uint16_t *delay = c.delay;
    const uint32_t d0 = c.hist ? 0 : c.delay_const; // delayed plastic spikes have waited already
    const float f = c.factor ? c.factor[row] : 1.0f; // short-term factor (w * 1 is w exactly)
    for (uint64_t j = j0; j < e; j += (uint64_t)B * stride) {
        uint32_t cj[B], dj[B];
        float wj[B];
#pragma unroll
        for (int u = 0; u < B; ++u) {
            const uint64_t q = j + (uint64_t)u * stride;
            if (q < e) { // read-only while the kernel runs: the non-coherent path
                cj[u] = __ldg(col + q);
                wj[u] = __ldg(w + q);
                dj[u] = delay ? __ldg(delay + q) : d0;
            }
        }
#pragma unroll
        for (int u = 0; u < B; ++u) {
            if (j + (uint64_t)u * stride >= e) break;
            uint32_t slot = base + dj[u];
            if (slot >= D) slot -= D;
            const size_t at = ((size_t)slot * nr + rec) * n + cj[u];
            if (ring_q) // integer additions: the sum does not depend on the order
                vl_red_add(ring_q + at, (long long)vl_to_fixed(wj[u] * f));
            else
                vl_red_add(ring + at, wj[u] * f);
        }
    }
}

// The step's work items, in shared memory: sh[q] = first item of projection q, sh[n_proj] = the
// total, sh[n_proj + 1 + q] = spikes arriving at projection q (2 n_proj + 1 words). The block
// loads every projection's count at once (independent loads that overlap); the first warp sums
// them with shuffles (a serial loop by one thread kept every other warp at the barrier: PD14 has
// 64 projections).
__device__ __forceinline__ void vl_load_items(const dev_pop *pops, const dev_proj *proj, int n_proj, uint64_t t,
                                              uint32_t k, uint32_t *sh) {
    uint32_t *arr = sh + n_proj + 1;
    for (int q = threadIdx.x; q < n_proj; q += blockDim.x) {
        uint32_t n;
        vl_arrivals(pops, proj[q], t, k, &n);
        arr[q] = n;
        sh[q + 1] = vl_prop_items(proj[q].strategy, n, proj[q].n_chunks);
    }
    __syncthreads();
    if (threadIdx.x < 32) { // the prefix sum, by the first warp 32 projections at a time
        const uint32_t lane = threadIdx.x;
        uint32_t carry = 0;
        for (int base = 0; base < n_proj; base += 32) {
            const int q = base + (int)lane;
            uint32_t x = q < n_proj ? sh[q + 1] : 0;
            for (int o = 1; o < 32; o <<= 1) {
                const uint32_t y = __shfl_up_sync(0xffffffffu, x, o);
                if (lane >= (uint32_t)o) x += y;
            }
            if (q < n_proj) sh[q + 1] = x + carry;
            carry += __shfl_sync(0xffffffffu, x, 31);
        }
        if (lane == 0) sh[0] = 0;
    }
    __syncthreads();
}

// Warps warp0, warp0 + n_warps, ... take the step's items (vl_load_items filled sh); B as for
// vl_scatter.
template <int B>
__device__ __forceinline__ void vl_propagate_warps(const dev_pop *pops, const dev_proj *proj, int n_proj,
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
        const uint32_t local = item - sh[lo], n_arr = sh[n_proj + 1 + lo];
        uint32_t unused;
        const uint32_t *list = vl_arrivals(pops, c, t, k, &unused);
        const dev_pop &tgt = pops[c.tgt];
        // The thread strategy's lanes serve different spikes; the others' lanes share one (kernels/propagate.h).
        const uint32_t s = vl_prop_spike(c.strategy, local, lane, c.n_chunks);
        if (s >= n_arr) continue;
        const uint32_t id = list[s];
        if (id < c.src_lo || id - c.src_lo >= c.n_rows) continue;
        const uint32_t row = id - c.src_lo;
        uint64_t j0, e;
        uint32_t stride;
        vl_prop_range(c.strategy, local, lane, c.n_chunks, c.row_ptr[row], c.row_ptr[row + 1], &j0, &e, &stride);
        vl_scatter<B>(c, tgt, row, j0, e, stride, t);
    }
}

#endif
