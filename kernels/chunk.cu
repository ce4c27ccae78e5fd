// Whole chunks of steps in one launch, so that a step costs no launch at all. Both kernels run the
// per-step kernels' device functions (neurons.cuh, synapses.cuh, record.cuh) and take models
// without plasticity or short-term dynamics (the host side checks).
//   vl_block_chunk_kernel    one block, block barriers between the schedule's phases;
//   vl_cluster_chunk_kernel  one thread-block cluster (compute capability 9.0) with every
//                            population's neuron state, ring buffer and spike list spread over
//                            its blocks' shared memory (kernels/cluster.h): update and
//                            propagation never leave the SMs, synapses add into the owning
//                            block's ring through distributed shared memory, and two cluster
//                            barriers per step replace two kernel launches.
#include <cooperative_groups.h>

#include "kernels/neurons.cuh"
#include "kernels/record.cuh"
#include "kernels/synapses.cuh"

static __global__ void __launch_bounds__(VL_CU_CHUNK_BLOCK)
    vl_block_chunk_kernel(const dev_pop *pops, const uint32_t *warp_pop, const dev_proj *proj, int n_proj,
                          const dev_state_rec *rec, int n_rec, const uint64_t *d_t0, uint32_t n_steps,
                          uint32_t n_threads, uint64_t seed) {
    extern __shared__ uint32_t sh_items[];
    const uint64_t t0 = *d_t0;
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    for (uint32_t k = 0; k < n_steps; ++k) {
        const uint64_t t = t0 + k;
        for (int q = 0; q < n_rec; ++q)
            for (uint32_t j = threadIdx.x; j < rec[q].n_ids * rec[q].n_vars; j += blockDim.x) vl_state_one(pops, rec[q], t0, t, j);
        __syncthreads();
        for (uint32_t gid = threadIdx.x; gid < n_threads; gid += blockDim.x) vl_update_one(pops, warp_pop, gid, t, k, seed);
        __syncthreads();
        vl_load_items(pops, proj, n_proj, t, k, sh_items);
        vl_propagate_warps<1>(pops, proj, n_proj, sh_items, t, k, warp, n_warps, lane);
        __syncthreads();
    }
}

cudaError_t vl_cu_block_chunk(const vl_cu_net *n, uint32_t n_steps, cudaStream_t st) {
    vl_block_chunk_kernel<<<1, VL_CU_CHUNK_BLOCK, 4 * (2 * (size_t)n->n_proj + 1), st>>>(
        n->pops, n->warp_pop, n->proj, n->n_proj, n->rec, n->n_rec, n->t0, n_steps, n->n_threads, n->seed);
    return cudaGetLastError();
}

// ---- cluster chunk kernel ----

namespace cg = cooperative_groups;

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
#define VL_HAVE_CLUSTERS 1
#endif

// Block `rank`'s slice of a population: its shared-memory arrays.
struct vl_slice {
    float *v, *wa, *g, *ring;
    int32_t *refr;
    long long *ring_q;
    uint32_t *list;
};

// par: the step's parity, which picks the spike list when the plan keeps two (local synapses).
__device__ __forceinline__ vl_slice vl_slice_of(unsigned char *sh, const vl_cluster_pop &c, int det, uint32_t par = 0) {
    vl_slice s;
    s.v = (float *)(sh + c.v);
    s.wa = (float *)(sh + c.wa);
    s.g = (float *)(sh + c.g);
    s.refr = (int32_t *)(sh + c.refr);
    s.ring = det ? NULL : (float *)(sh + c.ring);
    s.ring_q = det ? (long long *)(sh + c.ring) : NULL;
    s.list = (uint32_t *)(sh + c.list) + (size_t)par * c.m;
    return s;
}

// Moves the neuron state of this block's slices between global and shared memory (to_shared: at
// the start of a chunk; else back at its end).
__device__ void vl_cluster_state_copy(const dev_pop *pops, const vl_cluster_layout &L, unsigned char *sh,
                                      uint32_t rank, int to_shared) {
    for (int p = 0; p < L.n_pops; ++p) {
        const dev_pop &P = pops[p];
        if (P.type != VL_POP_NEURON) continue;
        const vl_cluster_pop &c = L.pop[p];
        vl_slice S = vl_slice_of(sh, c, L.det);
        const uint32_t m = c.m, nr = (uint32_t)P.np.n_rec, D = P.ring_len;
        const size_t n = P.size;
        for (uint32_t li = threadIdx.x; li < m; li += blockDim.x) {
            const size_t i = (size_t)rank * m + li;
            const bool in = i < n;
            if (to_shared) {
                S.v[li] = in ? P.v[i] : 0.0f;
                S.refr[li] = in ? P.refr[i] : 0;
                S.wa[li] = in ? P.wa[i] : 0.0f;
            } else if (in) {
                P.v[i] = S.v[li];
                P.refr[i] = S.refr[li];
                P.wa[i] = S.wa[li];
            }
            for (uint32_t r = 0; r < nr; ++r) {
                if (to_shared) S.g[r * m + li] = in ? P.g[r * n + i] : 0.0f;
                else if (in) P.g[r * n + i] = S.g[r * m + li];
            }
            for (uint32_t x = 0; x < D * nr; ++x) { // x = slot * nr + receptor, as the global layout
                const size_t gi = x * n + i, si = (size_t)x * m + li;
                if (L.det) {
                    if (to_shared) S.ring_q[si] = in ? P.ring_q[gi] : 0;
                    else if (in) P.ring_q[gi] = S.ring_q[si];
                } else {
                    if (to_shared) S.ring[si] = in ? P.ring[gi] : 0.0f;
                    else if (in) P.ring[gi] = S.ring[si];
                }
            }
        }
    }
}

// One neuron of this block's slice at step t with NR receptors (a compile-time count, so that g
// and in are registers): state and this step's ring slot (cleared) are read first, the shared
// kernels/neuron.h step runs on the register copies, and the state is written back. NR = 0
// stands for any count up to VL_CLUSTER_MAX_REC (local arrays).
template <int NR>
__device__ __forceinline__ int vl_cluster_neuron(const dev_pop &P, uint32_t pi, const vl_slice &S, uint32_t m,
                                                 uint32_t li, uint32_t i, uint64_t t, uint64_t seed) {
    const vl_neuron_params np = P.np;
    const uint32_t nr = NR ? NR : (uint32_t)np.n_rec;
    const size_t slot = vl_ring_slot(t, P.ring_len) * nr;
    float g[NR ? NR : VL_CLUSTER_MAX_REC], in[NR ? NR : VL_CLUSTER_MAX_REC];
    float v = S.v[li], w = S.wa[li];
    int32_t refr = S.refr[li];
#pragma unroll
    for (uint32_t r = 0; r < (NR ? NR : VL_CLUSTER_MAX_REC); ++r) {
        if (r >= nr) break;
        const size_t at = (slot + r) * m + li;
        g[r] = S.g[r * m + li];
        if (S.ring_q) {
            in[r] = vl_from_fixed(S.ring_q[at]);
            S.ring_q[at] = 0;
        } else {
            in[r] = S.ring[at];
            S.ring[at] = 0.0f;
        }
    }
    float z = 0.0f;
    if (np.noise != 0.0f || np.bg_lambda > 0.0f) { // vl_neuron_draws, the receptor picked by unrolled compares
        const vl_u32x4 rnd = vl_rand4(seed, VL_STREAM_NOISE | pi, (uint32_t)t, (uint32_t)(t >> 32), i);
        if (np.bg_lambda > 0.0f) {
            const float b = vl_bg_input(&np, rnd);
#pragma unroll
            for (uint32_t r = 0; r < (NR ? NR : VL_CLUSTER_MAX_REC); ++r)
                if (r < nr && (int32_t)r == np.bg_rec) in[r] += b;
        }
        z = vl_noise_draw(&np, rnd);
    }
    const int spike = vl_neuron_step_n(&np, (int)nr, &v, &refr, &w, g, in, 1, z);
    S.v[li] = v;
    S.refr[li] = refr;
    S.wa[li] = w;
#pragma unroll
    for (uint32_t r = 0; r < (NR ? NR : VL_CLUSTER_MAX_REC); ++r) {
        if (r >= nr) break;
        S.g[r * m + li] = g[r];
    }
    return spike;
}

#ifdef VL_HAVE_CLUSTERS
// The id of spike s of population p this step: the spikes are the concatenation of every block's
// list (off[b * n_pops + p]: spikes in blocks before b).
__device__ __forceinline__ uint32_t vl_cluster_spike(cg::cluster_group &cl, unsigned char *sh,
                                                     const vl_cluster_layout &L, const uint32_t *off, int p, uint32_t s,
                                                     uint32_t par) {
    const uint32_t b = vl_cluster_block_of(off, (uint32_t)L.n_pops, (uint32_t)L.blocks, (uint32_t)p, s);
    const uint32_t *list = cl.map_shared_rank((uint32_t *)(sh + L.pop[p].list) + (size_t)par * L.pop[p].m, b);
    return list[s - off[b * L.n_pops + p]];
}

// Adds synapses j0, j0 + stride, ... below e of row `row` into the owning blocks' rings.
__device__ __forceinline__ void vl_cluster_scatter(cg::cluster_group &cl, unsigned char *sh, const vl_cluster_layout &L,
                                                   const dev_proj &c, const dev_pop &tgt, uint32_t row, uint64_t j0,
                                                   uint64_t e, uint32_t stride, uint64_t t) {
    const vl_cluster_pop &tp = L.pop[c.tgt];
    const uint32_t m = tp.m, nr = (uint32_t)tgt.np.n_rec, D = tgt.ring_len, base = (uint32_t)vl_ring_slot(t + 1, D);
    const uint16_t *delay = c.delay;
    for (uint64_t j = j0; j < e; j += stride) {
        const uint32_t col = c.col[j], owner = col / m, li = col % m;
        uint32_t slot = base + (delay ? delay[j] : c.delay_const); // delay < D: one wrap at most
        if (slot >= D) slot -= D;
        const size_t at = ((size_t)slot * nr + c.rec) * m + li;
        if (L.det) {
            long long *ring_q = cl.map_shared_rank((long long *)(sh + tp.ring), owner);
            atomicAdd((unsigned long long *)(ring_q + at), (unsigned long long)vl_to_fixed(c.w[j]));
        } else {
            float *ring = cl.map_shared_rank((float *)(sh + tp.ring), owner);
            atomicAdd(ring + at, c.w[j]);
        }
    }
}

// Local synapses: the synapses of source row `row` of projection q whose targets are in this
// block's slice, from the block's own shared-memory shard, into its own ring; this thread takes
// the row's synapses first, first + step, ... (a group of `step` threads shares the row).
__device__ __forceinline__ void vl_cluster_local(unsigned char *sh, const vl_cluster_layout &L, int q,
                                                 const dev_proj &c, const dev_pop &tgt, uint32_t row, uint64_t t,
                                                 uint32_t first, uint32_t step) {
    const vl_cluster_proj &lp = L.proj[q];
    const vl_cluster_pop &tp = L.pop[c.tgt];
    const uint32_t *rp = (const uint32_t *)(sh + lp.rp);
    const uint16_t *col = (const uint16_t *)(sh + lp.col);
    const float *w = lp.w ? (const float *)(sh + lp.w) : NULL; // NULL: every weight is lp.w0
    const uint16_t *delay = lp.delay ? (const uint16_t *)(sh + lp.delay) : NULL;
    const uint32_t m = tp.m, nr = (uint32_t)tgt.np.n_rec, D = tgt.ring_len, base = (uint32_t)vl_ring_slot(t + 1, D);
    const vl_slice T = vl_slice_of(sh, tp, L.det);
    for (uint32_t j = rp[row] + first, e = rp[row + 1]; j < e; j += step) {
        uint32_t slot = base + (delay ? delay[j] : c.delay_const);
        if (slot >= D) slot -= D;
        const size_t at = ((size_t)slot * nr + c.rec) * m + col[j];
        const float x = w ? w[j] : lp.w0;
        if (L.det)
            atomicAdd((unsigned long long *)(T.ring_q + at), (unsigned long long)vl_to_fixed(x));
        else
            atomicAdd(T.ring + at, x);
    }
}
#endif

// LOCAL: the plan has local synapses (kernels/cluster.h): syn holds every block's image of its
// synapse arrays (L.syn_bytes each), copied into shared memory at the start; a spike adds only
// into the block's own rings, so the end of a step needs a block barrier, not a cluster one (the
// spike lists and counts alternate by step parity, so that a block can list step k + 1's spikes
// while a slower one still reads step k's).
template <bool LOCAL>
static __global__ void __launch_bounds__(1024)
    vl_cluster_chunk_kernel(const dev_pop *g_pops, const dev_proj *g_proj, const dev_state_rec *rec, int n_rec,
                            const uint64_t *d_t0, uint32_t n_steps, uint64_t seed, const unsigned char *syn,
                            const __grid_constant__ vl_cluster_layout L) {
#ifndef VL_HAVE_CLUSTERS
    __trap(); // the host side launches it on compute capability 9.0 and later only
#else
    cg::cluster_group cl = cg::this_cluster();
    extern __shared__ __align__(16) unsigned char sh[];
    const uint32_t rank = cl.block_rank(), C = (uint32_t)L.blocks, n_pops = (uint32_t)L.n_pops;
    const uint32_t lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    uint32_t *const cnt0 = (uint32_t *)(sh + L.cnt);
    float *smax = (float *)(sh + L.smax);
    uint32_t *off = (uint32_t *)(sh + L.off);
    uint32_t *items = (uint32_t *)(sh + L.items);
    const uint64_t t0 = *d_t0;
    // The descriptor tables, read at every step, into shared memory (vl_cu_cluster_desc_bytes).
    dev_pop *pops = (dev_pop *)(sh + L.desc);
    dev_proj *proj = (dev_proj *)(sh + L.desc + ((n_pops * sizeof(dev_pop) + 15) & ~(size_t)15));
    static_assert(sizeof(dev_pop) % 4 == 0 && sizeof(dev_proj) % 4 == 0, "descriptors are copied as words");
    for (uint32_t j = threadIdx.x; j < n_pops * sizeof(dev_pop) / 4; j += blockDim.x)
        ((uint32_t *)pops)[j] = ((const uint32_t *)g_pops)[j];
    for (uint32_t j = threadIdx.x; j < L.n_proj * sizeof(dev_proj) / 4; j += blockDim.x)
        ((uint32_t *)proj)[j] = ((const uint32_t *)g_proj)[j];
    if (LOCAL) { // this block's synapses (the image is 16-byte aligned, a multiple of 16 bytes)
        const uint4 *src = (const uint4 *)(syn + (size_t)rank * L.syn_bytes);
        uint4 *dst = (uint4 *)(sh + L.syn);
        for (uint32_t j = threadIdx.x; j < L.syn_bytes / 16; j += blockDim.x) dst[j] = src[j];
    }
    __syncthreads();
    vl_cluster_state_copy(pops, L, sh, rank, 1);
    for (uint32_t p = threadIdx.x; p < n_pops; p += blockDim.x) smax[p] = -INFINITY;
    __syncthreads(); // the slices are loaded before anyone samples or updates them
    for (uint32_t k = 0; k < n_steps; ++k) {
        const uint64_t t = t0 + k;
        const uint32_t par = LOCAL ? k & 1 : 0;
        uint32_t *const cnt = cnt0 + par * n_pops;
        // 5 (of the previous step, as the CPU samples at the start of a step): sampled state of
        // the recorded neurons this block holds.
        for (int q = 0; q < n_rec; ++q) {
            const dev_state_rec &r = rec[q];
            if (t % r.every) continue;
            const dev_pop &P = pops[r.pop];
            const vl_cluster_pop &c = L.pop[r.pop];
            const vl_slice S = vl_slice_of(sh, c, L.det);
            const uint64_t frame = t / r.every - (t0 + r.every - 1) / r.every;
            for (uint32_t j = threadIdx.x; j < r.n_ids * r.n_vars; j += blockDim.x) {
                const uint32_t id = r.ids[j % r.n_ids];
                if (id / c.m != rank) continue;
                const uint32_t li = id % c.m;
                const int rv = r.var_rec[j / r.n_ids];
                float val = S.v[li];
                if (rv >= 0) {
                    const size_t at = ((size_t)(t % P.ring_len) * P.np.n_rec + rv) * c.m + li;
                    val = S.g[(size_t)rv * c.m + li] + (L.det ? vl_from_fixed(S.ring_q[at]) : S.ring[at]);
                }
                r.frames[(size_t)frame * r.n_vars * r.n_ids + j] = val;
            }
        }
        for (uint32_t p = threadIdx.x; p < n_pops; p += blockDim.x) cnt[p] = 0;
        __syncthreads();
        // 1-2: inputs and neurons of this block's slices; spikes into the block's lists.
        for (uint32_t p = 0; p < n_pops; ++p) {
            const dev_pop &P = pops[p];
            const vl_cluster_pop &c = L.pop[p];
            const vl_slice S = vl_slice_of(sh, c, L.det, par);
            for (uint32_t li = threadIdx.x; li < c.m; li += blockDim.x) { // whole warps: m is a multiple of 32
                const uint32_t i = rank * c.m + li;
                int spike = 0;
                uint32_t id = i;
                float v_now = -INFINITY;
                if (P.type == VL_POP_SPIKE_TIMES) {
                    id = vl_spike_time_at(P, i, t);
                    spike = id != UINT32_MAX;
                } else if (i < P.size) {
                    if (P.type == VL_POP_NEURON) {
                        switch (P.np.n_rec) { // the same for the whole population
                        case 1: spike = vl_cluster_neuron<1>(P, p, S, c.m, li, i, t, seed); break;
                        case 2: spike = vl_cluster_neuron<2>(P, p, S, c.m, li, i, t, seed); break;
                        case 3: spike = vl_cluster_neuron<3>(P, p, S, c.m, li, i, t, seed); break;
                        case 4: spike = vl_cluster_neuron<4>(P, p, S, c.m, li, i, t, seed); break;
                        default: spike = vl_cluster_neuron<0>(P, p, S, c.m, li, i, t, seed); break;
                        }
                        v_now = S.v[li];
                    } else {
                        spike = vl_input_fires(P, p, i, t, seed);
                    }
                }
                const unsigned mask = __ballot_sync(0xffffffffu, spike);
                if (mask) {
                    uint32_t base = 0;
                    if (lane == 0) base = atomicAdd(&cnt[p], (uint32_t)__popc(mask));
                    base = __shfl_sync(0xffffffffu, base, 0);
                    if (spike) S.list[base + __popc(mask & ((1u << lane) - 1u))] = id;
                }
                if (P.type == VL_POP_NEURON) {
                    for (int o = 16; o > 0; o >>= 1) v_now = fmaxf(v_now, __shfl_xor_sync(0xffffffffu, v_now, o));
                    if (lane == 0 && v_now > smax[p]) vl_atomic_max_float(&smax[p], v_now);
                }
            }
        }
        cl.sync(); // every block's lists are complete
        // Offsets of each block's spikes within each population, and the step's work items.
        for (uint32_t j = threadIdx.x; j < C * n_pops; j += blockDim.x)
            off[n_pops + j] = *cl.map_shared_rank(&cnt[j % n_pops], j / n_pops); // off[(b + 1) n + p] = count of b
        __syncthreads();
        for (uint32_t p = threadIdx.x; p < n_pops; p += blockDim.x) {
            off[p] = 0;
            for (uint32_t b = 1; b <= C; ++b) off[b * n_pops + p] += off[(b - 1) * n_pops + p];
        }
        __syncthreads();
        if (threadIdx.x == 0) { // local synapses: an item per arriving spike
            items[0] = 0;
            for (int q = 0; q < L.n_proj; ++q)
                items[q + 1] = items[q] + (LOCAL ? off[C * n_pops + proj[q].src]
                                                 : vl_prop_items(proj[q].strategy, off[C * n_pops + proj[q].src],
                                                                 proj[q].n_chunks));
        }
        // The record: this block's spikes at their offset in the step's region; block 0 counts.
        for (uint32_t p = 0; p < n_pops; ++p) {
            const dev_pop &P = pops[p];
            if (rank == 0 && threadIdx.x == 0) P.count[k] = off[C * n_pops + p];
            if (!P.recorded) continue;
            const uint32_t *list = (const uint32_t *)(sh + L.pop[p].list) + (size_t)par * L.pop[p].m;
            uint32_t *region = P.spk + (size_t)k * P.size + off[rank * n_pops + p];
            for (uint32_t j = threadIdx.x; j < cnt[p]; j += blockDim.x) region[j] = list[j];
        }
        __syncthreads();
        const uint32_t total = items[L.n_proj];
        if (LOCAL) { // 3: every block adds each arriving spike's synapses into its own slices
            // A group of g lanes per spike, g the largest power of two up to 32 with g * total
            // threads at most: a step with few spikes (COBA-4000: about 8) then walks each row's
            // local synapses (about 10 per block) in one pass instead of one thread's serial loop.
            uint32_t g = 32;
            while (g > 1 && g * total > blockDim.x) g >>= 1;
            const uint32_t groups = blockDim.x / g, gl = threadIdx.x & (g - 1);
            for (uint32_t x = threadIdx.x / g; x < total; x += groups) {
                int lo = 0, hi = L.n_proj;
                while (hi - lo > 1) {
                    int mid = (lo + hi) / 2;
                    if (items[mid] <= x) lo = mid; else hi = mid;
                }
                const dev_proj &c = proj[lo];
                const uint32_t id = vl_cluster_spike(cl, sh, L, off, c.src, x - items[lo], par);
                if (id < c.src_lo || id - c.src_lo >= c.n_rows) continue;
                vl_cluster_local(sh, L, lo, c, pops[c.tgt], id - c.src_lo, t, gl, g);
            }
            __syncthreads(); // the rings are complete for the next step's update
        } else {
            // 3: the cluster's warps take the work items (kernels/propagate.h strategies).
            for (uint32_t item = rank * warps + (threadIdx.x >> 5); item < total; item += C * warps) {
                int lo = 0, hi = L.n_proj;
                while (hi - lo > 1) {
                    int mid = (lo + hi) / 2;
                    if (items[mid] <= item) lo = mid; else hi = mid;
                }
                const dev_proj &c = proj[lo];
                const dev_pop &tgt = pops[c.tgt];
                const uint32_t local = item - items[lo], n_arr = off[C * n_pops + c.src];
                const uint32_t s = vl_prop_spike(c.strategy, local, lane, c.n_chunks);
                if (s >= n_arr) continue;
                const uint32_t id = vl_cluster_spike(cl, sh, L, off, c.src, s, par);
                if (id < c.src_lo || id - c.src_lo >= c.n_rows) continue;
                const uint32_t row = id - c.src_lo;
                uint64_t j0, e;
                uint32_t stride;
                vl_prop_range(c.strategy, local, lane, c.n_chunks, c.row_ptr[row], c.row_ptr[row + 1], &j0, &e,
                              &stride);
                vl_cluster_scatter(cl, sh, L, c, tgt, row, j0, e, stride, t);
            }
            cl.sync(); // every synapse has arrived; the lists may be reused
        }
    }
    if (LOCAL) cl.sync(); // no block leaves while another may still read its last spike list
    vl_cluster_state_copy(pops, L, sh, rank, 0);
    for (uint32_t p = threadIdx.x; p < n_pops; p += blockDim.x)
        if (pops[p].type == VL_POP_NEURON && smax[p] > -INFINITY) vl_atomic_max_float(pops[p].wmax, smax[p]);
#endif
}

// The kernel that runs plan L.
static const void *vl_cluster_fn(const vl_cluster_layout *L) {
    return L->local ? (const void *)vl_cluster_chunk_kernel<true> : (const void *)vl_cluster_chunk_kernel<false>;
}

// The launch configuration of a plan (attributes set on the kernel first).
static cudaError_t vl_cluster_config(const vl_cluster_layout *L, cudaStream_t st, cudaLaunchConfig_t *cfg,
                                     cudaLaunchAttribute *attr) {
    const void *fn = vl_cluster_fn(L);
    cudaError_t e = cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)L->shm);
    if (e == cudaSuccess && L->blocks > VL_CLUSTER_MAX_BLOCKS) // 16 blocks: beyond the portable size
        e = cudaFuncSetAttribute(fn, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
    if (e != cudaSuccess) return e;
    *cfg = cudaLaunchConfig_t{};
    cfg->gridDim = dim3((unsigned)L->blocks);
    cfg->blockDim = dim3((unsigned)L->threads);
    cfg->dynamicSmemBytes = L->shm;
    cfg->stream = st;
    attr->id = cudaLaunchAttributeClusterDimension;
    attr->val.clusterDim.x = (unsigned)L->blocks;
    attr->val.clusterDim.y = 1;
    attr->val.clusterDim.z = 1;
    cfg->attrs = attr;
    cfg->numAttrs = 1;
    return cudaSuccess;
}

int vl_cu_cluster_fits(const vl_cluster_layout *L) {
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute attr;
    int n = 0;
    if (vl_cluster_config(L, 0, &cfg, &attr) != cudaSuccess ||
        cudaOccupancyMaxActiveClusters(&n, vl_cluster_fn(L), &cfg) != cudaSuccess) {
        cudaGetLastError(); // not sticky: clear it
        return 0;
    }
    return n;
}

cudaError_t vl_cu_cluster_chunk(const vl_cu_net *n, const vl_cluster_layout *L, const void *syn, uint32_t n_steps,
                                cudaStream_t st) {
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute attr;
    cudaError_t e = vl_cluster_config(L, st, &cfg, &attr);
    if (e != cudaSuccess) return e;
    const unsigned char *img = (const unsigned char *)syn;
    if (L->local)
        e = cudaLaunchKernelEx(&cfg, vl_cluster_chunk_kernel<true>, n->pops, n->proj, n->rec, n->n_rec, n->t0, n_steps,
                               n->seed, img, *L);
    else
        e = cudaLaunchKernelEx(&cfg, vl_cluster_chunk_kernel<false>, n->pops, n->proj, n->rec, n->n_rec, n->t0, n_steps,
                               n->seed, img, *L);
    if (e != cudaSuccess) return e;
    return cudaGetLastError();
}
