// Each kernel of the CUDA backend (through its launcher, kernels/cuda.cuh) against the CPU
// evaluation of the same kernels/*.h math on fresh random inputs (a new salt every run, printed):
// neuron update (three models, adaptation, Mg block, fixed-point and float rings, background and
// noise draws), Poisson and spike_times inputs, propagation with every strategy (fixed point:
// exact; float: to rounding), short-term factors, the delayed-plastic spike history, STDP,
// sampled state, spike packing and the highest-v fold. Exits 77 when no device is usable.
#include <algorithm>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vector>

#include "kernels/cuda.cuh"

static int fails;
static uint64_t salt;

#define CHECK(x)                                                                                        \
    do {                                                                                                \
        cudaError_t e_ = (x);                                                                           \
        if (e_ != cudaSuccess) {                                                                        \
            printf("CUDA error %s at %s:%d\n", cudaGetErrorName(e_), __FILE__, __LINE__);               \
            exit(1);                                                                                    \
        }                                                                                               \
    } while (0)
#define EXPECT(cond, ...)                                                                               \
    do {                                                                                                \
        if (!(cond)) {                                                                                  \
            printf("  FAIL (%s:%d): ", __FILE__, __LINE__);                                             \
            printf(__VA_ARGS__);                                                                        \
            printf("\n");                                                                               \
            ++fails;                                                                                    \
        }                                                                                               \
    } while (0)

// Fresh draws: stream s, counters (i, j).
static uint32_t rnd(uint32_t s, uint32_t i, uint32_t j = 0) { return vl_rand4(salt, 0x7000 + s, i, j, 0).v[0]; }
static float unif(uint32_t s, uint32_t i, float lo, float hi, uint32_t j = 0) {
    return lo + (hi - lo) * vl_u01f(rnd(s, i, j));
}

template <class T> static T *to_dev(const std::vector<T> &h) {
    T *d;
    CHECK(cudaMalloc(&d, (h.size() ? h.size() : 1) * sizeof(T)));
    if (h.size()) CHECK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}
template <class T> static std::vector<T> to_host(const T *d, size_t n) {
    std::vector<T> h(n);
    if (n) CHECK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
}

// A neuron population on both sides: host state, device arrays in a dev_pop.
struct npop {
    vl_neuron_params np;
    std::vector<vl_rec_params> rec;
    uint32_t n, D;
    std::vector<float> v, g, wa, ring;
    std::vector<int32_t> refr;
    std::vector<long long> ring_q; // empty: float ring
};

static npop make_neurons(uint32_t id, int model, uint32_t n, uint32_t D, int det, double sigma, double bg_rate) {
    npop p;
    double tau[3] = {5, 10, 100}, E[3] = {0, -80, 0}, mg[3] = {0, 0, 1};
    vl_lif_desc d;
    memset(&d, 0, sizeof d);
    d.model = model;
    d.n_rec = 3;
    d.dt = 0.1;
    d.C = 200;
    d.g_L = 10;
    d.E_L = -70;
    d.V_th = -50;
    d.V_reset = -60;
    d.t_ref = 0.5;
    d.I_e = 150;
    d.sigma = sigma;
    d.tau = tau;
    d.E = E;
    d.mg = mg;
    d.bg_rate = bg_rate;
    d.bg_weight = 2;
    d.bg_rec = 0;
    d.a = 2;
    d.b = 40;
    d.tau_w = 150;
    p.rec.resize(3);
    vl_neuron_params_init(&p.np, p.rec.data(), &d);
    p.n = n;
    p.D = D;
    for (uint32_t i = 0; i < n; ++i) {
        p.v.push_back(unif(id, i, -65, -45)); // a quarter above threshold: spikes
        int32_t refr = (int32_t)(rnd(id + 1, i) % 6) - 3; // a third refractory for 1-2 more steps
        p.refr.push_back(refr < 0 ? 0 : refr);
        p.wa.push_back(unif(id + 2, i, 0, 80));
    }
    for (uint32_t i = 0; i < 3 * n; ++i) p.g.push_back(unif(id + 3, i, 0, model == VL_LIF_CURR_EXP ? 200 : 8));
    for (uint32_t i = 0; i < D * 3 * n; ++i) {
        float x = unif(id + 4, i, 0, model == VL_LIF_CURR_EXP ? 300 : 5);
        if (det) p.ring_q.push_back(vl_to_fixed(x));
        p.ring.push_back(det ? 0.0f : x);
    }
    return p;
}

static void upload_neurons(const npop &h, dev_pop *p) {
    p->type = VL_POP_NEURON;
    p->size = h.n;
    p->ring_len = h.D;
    p->np = h.np;
    p->np.rec = to_dev(h.rec);
    p->v = to_dev(h.v);
    p->g = to_dev(h.g);
    p->wa = to_dev(h.wa);
    p->refr = to_dev(h.refr);
    p->ring = to_dev(h.ring);
    p->ring_q = h.ring_q.empty() ? NULL : to_dev(h.ring_q);
    std::vector<float> ninf((h.n + 31) / 32, -INFINITY), one(1, -INFINITY);
    p->wmax = to_dev(ninf);
    p->max_v = to_dev(one);
}

// The pieces every test needs: a population table with spike regions and counts.
static void add_regions(dev_pop *p, uint32_t steps) {
    p->recorded = 1;
    p->spk = to_dev(std::vector<uint32_t>((size_t)p->size * steps + 1, 0xFFFFFFFFu));
    p->count = to_dev(std::vector<uint32_t>(steps, 0));
}

static std::vector<uint32_t> spikes_of(const dev_pop &p, uint32_t k) {
    uint32_t cnt = to_host(p.count + k, 1)[0];
    std::vector<uint32_t> s = to_host(p.spk + (size_t)k * p.size, cnt);
    std::sort(s.begin(), s.end());
    return s;
}

// update: the launch shape (VL_UPDATE_*; the stride shape on a grid of 2 blocks, so that each warp
// strides over several populations).
static void test_update(int update) {
    static const char *const names[] = {"thread", "thread6", "stride", "bounds"};
    printf("update kernel, %s shape\n", names[update]);
    const uint64_t t = 1000003 + rnd(90, 0) % 1000, seed = ((uint64_t)rnd(91, 0) << 32) | rnd(92, 0);
    npop a = make_neurons(10, VL_LIF_COND_EXP, 1000, 4, 1, 0, 0);  // fixed-point ring, Mg block, adaptation
    npop b = make_neurons(20, VL_LIF_CURR_EXP, 777, 3, 0, 0, 0);   // float ring
    npop c = make_neurons(30, VL_LIF_COND_EXP, 300, 2, 0, 1.5, 800); // noise and background draws
    std::vector<dev_pop> pops(5);
    memset(pops.data(), 0, pops.size() * sizeof(dev_pop));
    upload_neurons(a, &pops[0]);
    upload_neurons(b, &pops[1]);
    upload_neurons(c, &pops[2]);
    // Poisson input with per-neuron probabilities; spike_times input with spikes around step t.
    dev_pop &in = pops[3];
    in.type = VL_POP_POISSON;
    in.size = 500;
    in.start_step = 0;
    in.stop_step = UINT64_MAX;
    std::vector<float> probs(500);
    for (uint32_t i = 0; i < 500; ++i) probs[i] = unif(40, i, 0, 0.3f);
    in.probs = to_dev(probs);
    dev_pop &st = pops[4];
    st.type = VL_POP_SPIKE_TIMES;
    st.size = 64;
    std::vector<uint64_t> s_step;
    std::vector<uint32_t> s_id, want_st;
    for (uint64_t step = t - 1; step <= t + 1; ++step) {
        std::vector<uint32_t> ids;
        for (uint32_t i = 0; i < 64; ++i)
            if (rnd(41, i, (uint32_t)(step - t + 1)) % 3 == 0) ids.push_back(i);
        for (uint32_t id : ids) s_step.push_back(step), s_id.push_back(id);
        if (step == t) want_st = ids;
    }
    st.n_spk = s_step.size();
    st.spk_step = to_dev(s_step);
    st.spk_id = to_dev(s_id);
    uint32_t offset = 0;
    std::vector<uint32_t> warp_pop;
    for (size_t i = 0; i < pops.size(); ++i) {
        pops[i].offset = offset;
        add_regions(&pops[i], 1);
        for (uint32_t w = 0; w < (pops[i].size + 31) / 32; ++w) warp_pop.push_back((uint32_t)i);
        offset += (pops[i].size + 31) & ~31u;
    }
    vl_cu_net net;
    memset(&net, 0, sizeof net);
    net.pops = to_dev(pops);
    net.warp_pop = to_dev(warp_pop);
    net.n_pops = (int)pops.size();
    net.n_threads = offset;
    net.update = update;
    net.upd_blocks = 2; // 16 warps for 85 groups of 32
    net.bounds.n = (uint32_t)pops.size();
    for (size_t i = 0; i < pops.size(); ++i) net.bounds.first[i] = pops[i].offset / 32;
    net.t0 = to_dev(std::vector<uint64_t>(1, t));
    net.seed = seed;
    CHECK(vl_cu_update(&net, 0, 0));
    CHECK(cudaDeviceSynchronize());
    // The CPU: the same functions per neuron, in the same order.
    npop *np_[3] = {&a, &b, &c};
    for (int q = 0; q < 3; ++q) {
        npop &h = *np_[q];
        const dev_pop &d = pops[q];
        const size_t n = h.n, nr = 3, slot = (size_t)(t % h.D) * nr * n;
        std::vector<uint32_t> want;
        float vmax = -INFINITY;
        h.np.rec = h.rec.data();
        for (uint32_t i = 0; i < h.n; ++i) {
            float *inp = h.ring.data() + slot + i;
            if (!h.ring_q.empty())
                for (size_t r = 0; r < nr; ++r) {
                    inp[r * n] = vl_from_fixed(h.ring_q[slot + i + r * n]);
                    h.ring_q[slot + i + r * n] = 0;
                }
            float z = 0;
            if (h.np.noise != 0.0f || h.np.bg_lambda > 0.0f)
                z = vl_neuron_draws(&h.np, vl_rand4(seed, VL_STREAM_NOISE | (uint32_t)q, (uint32_t)t, (uint32_t)(t >> 32), i),
                                    inp, n);
            if (vl_neuron_step(&h.np, &h.v[i], &h.refr[i], &h.wa[i], h.g.data() + i, inp, n, z)) want.push_back(i);
            vmax = fmaxf(vmax, h.v[i]);
        }
        std::vector<float> v = to_host(d.v, n), g = to_host(d.g, 3 * n), wa = to_host(d.wa, n),
                           ring = to_host(d.ring, h.D * 3 * n), wmax = to_host(d.wmax, (n + 31) / 32);
        std::vector<int32_t> refr = to_host(d.refr, n);
        size_t bad = 0; // exact: the noise draws too are the same bits on both (vl_logf, vl_cos2pif)
        for (size_t i = 0; i < n; ++i) bad += v[i] != h.v[i] || refr[i] != h.refr[i] || wa[i] != h.wa[i];
        for (size_t i = 0; i < 3 * n; ++i) bad += g[i] != h.g[i];
        for (size_t i = 0; i < ring.size(); ++i) bad += ring[i] != h.ring[i];
        if (!h.ring_q.empty()) {
            std::vector<long long> rq = to_host(d.ring_q, h.ring_q.size());
            for (size_t i = 0; i < rq.size(); ++i) bad += rq[i] != h.ring_q[i];
        }
        std::vector<uint32_t> got = spikes_of(d, 0);
        float gmax = *std::max_element(wmax.begin(), wmax.end());
        printf("  population %d (%s%s): %zu spikes (cpu %zu), %zu state mismatches, highest v %.6f (cpu %.6f)\n", q,
               h.np.model == VL_LIF_COND_EXP ? "lif_cond_exp" : "lif_curr_exp",
               q == 0 ? ", fixed point" : q == 2 ? ", noise" : "", got.size(), want.size(), bad, gmax, vmax);
        EXPECT(want.size() > 10 && want.size() < n - 10, "population %d: %zu spikes is no test", q, want.size());
        EXPECT(bad == 0, "population %d: %zu state values differ", q, bad);
        EXPECT(got == want, "population %d: spikes differ", q);
        EXPECT(gmax == vmax, "population %d: highest v %g, cpu %g", q, gmax, vmax);
    }
    std::vector<uint32_t> want;
    for (uint32_t i = 0; i < 500; ++i)
        if (vl_poisson_fires(probs[i], vl_u01f(vl_rand4(seed, VL_STREAM_POISSON | 3u, (uint32_t)t, (uint32_t)(t >> 32), i).v[0])))
            want.push_back(i);
    std::vector<uint32_t> got = spikes_of(pops[3], 0);
    printf("  poisson input: %zu spikes (cpu %zu)\n", got.size(), want.size());
    EXPECT(got == want && want.size() > 20, "poisson spikes differ");
    got = spikes_of(pops[4], 0);
    std::sort(want_st.begin(), want_st.end());
    printf("  spike_times input: %zu spikes (listed %zu)\n", got.size(), want_st.size());
    EXPECT(got == want_st && !want_st.empty(), "spike_times spikes differ");
}

// A random CSR projection (rows of up to max_len synapses, some empty).
struct csr {
    uint32_t n_rows, src_lo;
    std::vector<uint64_t> row_ptr;
    std::vector<uint32_t> col;
    std::vector<float> w;
    std::vector<uint16_t> delay;
};

static csr make_csr(uint32_t s, uint32_t n_rows, uint32_t src_lo, uint32_t max_len, uint32_t n_tgt, int delays) {
    csr c;
    c.n_rows = n_rows;
    c.src_lo = src_lo;
    c.row_ptr.push_back(0);
    for (uint32_t r = 0; r < n_rows; ++r) {
        uint32_t len = rnd(s, r) % 5 == 0 ? 0 : rnd(s + 1, r) % (max_len + 1);
        for (uint32_t j = 0; j < len; ++j) {
            c.col.push_back(rnd(s + 2, r, j) % n_tgt);
            c.w.push_back(unif(s + 3, r, -2, 5, j));
            if (delays) c.delay.push_back((uint16_t)(rnd(s + 4, r, j) % 12));
        }
        c.row_ptr.push_back(c.col.size());
    }
    return c;
}

static void test_propagate(void) {
    printf("propagate kernel\n");
    const uint64_t t = 50000 + rnd(93, 0) % 1000;
    const uint32_t n_tgt = 1000, nr = 3, D = 16, n_src = 600;
    csr cs[3] = {make_csr(100, 600, 0, 40, n_tgt, 0), make_csr(110, 300, 100, 700, n_tgt, 1),
                 make_csr(120, 600, 0, 3, n_tgt, 0)};
    const uint32_t rec_of[3] = {0, 2, 1}, delay_const[3] = {3, 0, 7};
    std::vector<float> factor(600);
    for (uint32_t r = 0; r < 600; ++r) factor[r] = unif(130, r, 0.1f, 1.0f);
    std::vector<uint32_t> spk;
    for (uint32_t i = 0; i < n_src; ++i)
        if (rnd(131, i) % 4 == 0) spk.push_back(i);
    for (int scatter = 1; scatter <= 4; scatter += 3) // synapses per lane loaded ahead (vl_scatter)
    for (int det = 1; det >= 0; --det)
        for (int strategy = -1; strategy <= VL_PROP_SPLIT; ++strategy) { // -1: each projection's own choice
            std::vector<dev_pop> pops(2);
            memset(pops.data(), 0, pops.size() * sizeof(dev_pop));
            pops[0].type = VL_POP_NEURON;
            pops[0].size = n_tgt;
            pops[0].ring_len = D;
            pops[0].np.n_rec = nr;
            pops[0].ring = to_dev(std::vector<float>((size_t)D * nr * n_tgt, 0.0f));
            if (det) pops[0].ring_q = to_dev(std::vector<long long>((size_t)D * nr * n_tgt, 0));
            pops[1].type = VL_POP_POISSON;
            pops[1].size = n_src;
            pops[1].recorded = 0;
            std::vector<uint32_t> region(spk);
            region.resize(n_src);
            pops[1].spk = to_dev(region);
            pops[1].count = to_dev(std::vector<uint32_t>(1, (uint32_t)spk.size()));
            pops[0].count = to_dev(std::vector<uint32_t>(1, 0));
            pops[0].spk = to_dev(std::vector<uint32_t>(n_tgt, 0));
            std::vector<dev_proj> proj(3);
            memset(proj.data(), 0, proj.size() * sizeof(dev_proj));
            for (int q = 0; q < 3; ++q) {
                dev_proj &d = proj[q];
                const csr &c = cs[q];
                d.src = 1;
                d.tgt = 0;
                d.rec = rec_of[q];
                d.src_lo = c.src_lo;
                d.n_rows = c.n_rows;
                d.delay_const = (uint16_t)delay_const[q];
                uint64_t longest = 0;
                for (uint32_t r = 0; r < c.n_rows; ++r) longest = std::max(longest, c.row_ptr[r + 1] - c.row_ptr[r]);
                d.n_chunks = (uint32_t)std::max<uint64_t>(1, (longest + VL_ROW_CHUNK - 1) / VL_ROW_CHUNK);
                d.strategy = strategy >= 0 ? strategy : vl_prop_strategy((double)c.col.size() / c.n_rows, longest);
                d.row_ptr = to_dev(c.row_ptr);
                d.col = to_dev(c.col);
                d.w = to_dev(c.w);
                d.delay = c.delay.empty() ? NULL : to_dev(c.delay);
                d.factor = q == 0 ? to_dev(factor) : NULL;
            }
            vl_cu_net net;
            memset(&net, 0, sizeof net);
            net.pops = to_dev(pops);
            net.proj = to_dev(proj);
            net.n_pops = 2;
            net.n_proj = 3;
            net.t0 = to_dev(std::vector<uint64_t>(1, t));
            net.prop_blocks = 20;
            net.scatter = scatter;
            CHECK(vl_cu_propagate(&net, 0, 0));
            CHECK(cudaDeviceSynchronize());
            // The CPU: every arriving spike's row, in order.
            std::vector<long long> want_q((size_t)D * nr * n_tgt, 0);
            std::vector<double> want_f((size_t)D * nr * n_tgt, 0.0);
            uint64_t events = 0;
            for (int q = 0; q < 3; ++q) {
                const csr &c = cs[q];
                for (uint32_t id : spk) {
                    if (id < c.src_lo || id - c.src_lo >= c.n_rows) continue;
                    uint32_t row = id - c.src_lo;
                    float f = q == 0 ? factor[row] : 1.0f;
                    for (uint64_t j = c.row_ptr[row]; j < c.row_ptr[row + 1]; ++j) {
                        size_t slot = (size_t)((t + 1 + (c.delay.empty() ? delay_const[q] : c.delay[j])) % D);
                        size_t at = (slot * nr + rec_of[q]) * n_tgt + c.col[j];
                        want_q[at] += vl_to_fixed(c.w[j] * f);
                        want_f[at] += (double)(c.w[j] * f);
                        ++events;
                    }
                }
            }
            size_t bad = 0;
            if (det) {
                std::vector<long long> got = to_host(pops[0].ring_q, want_q.size());
                for (size_t i = 0; i < got.size(); ++i) bad += got[i] != want_q[i];
            } else {
                std::vector<float> got = to_host(pops[0].ring, want_f.size());
                for (size_t i = 0; i < got.size(); ++i) bad += fabs(got[i] - want_f[i]) > 1e-4 * (1 + fabs(want_f[i]));
            }
            printf("  %s, %s, %d per lane ahead: %llu synaptic events from %zu spikes, %zu ring entries differ\n",
                   det ? "fixed point" : "float", strategy < 0 ? "chosen strategies" : vl_prop_name(strategy), scatter,
                   (unsigned long long)events, spk.size(), bad);
            EXPECT(events > 10000, "too few events to test");
            EXPECT(bad == 0, "%s ring differs (%zu entries)", det ? "fixed-point" : "float", bad);
        }
}

// Short-term factors, the spike history of a delayed plastic projection, and STDP.
static void test_synapse_state(void) {
    printf("short-term, history and STDP kernels\n");
    const uint64_t t = 70000 + rnd(94, 0) % 1000;
    const uint32_t n_src = 400, n_tgt = 300, d = 4, steps = 8;
    csr c = make_csr(200, 350, 30, 60, n_tgt, 0); // rows 30..379 of the source
    std::vector<dev_pop> pops(2);
    memset(pops.data(), 0, pops.size() * sizeof(dev_pop));
    pops[0].type = VL_POP_NEURON; // the target: only its spike list matters here
    pops[0].size = n_tgt;
    pops[1].type = VL_POP_POISSON;
    pops[1].size = n_src;
    std::vector<std::vector<uint32_t>> pre(steps), post(steps);
    std::vector<uint32_t> pre_reg((size_t)n_src * steps), post_reg((size_t)n_tgt * steps), pre_n(steps), post_n(steps);
    for (uint32_t k = 0; k < steps; ++k) {
        for (uint32_t i = 0; i < n_src; ++i)
            if (rnd(201, i, k) % 7 == 0) pre[k].push_back(i);
        for (uint32_t i = 0; i < n_tgt; ++i)
            if (rnd(202, i, k) % 9 == 0) post[k].push_back(i);
        std::reverse(pre[k].begin(), pre[k].end()); // the kernels must not rely on ascending ids
        std::copy(pre[k].begin(), pre[k].end(), pre_reg.begin() + (size_t)k * n_src);
        std::copy(post[k].begin(), post[k].end(), post_reg.begin() + (size_t)k * n_tgt);
        pre_n[k] = (uint32_t)pre[k].size();
        post_n[k] = (uint32_t)post[k].size();
    }
    pops[0].recorded = pops[1].recorded = 1;
    pops[0].spk = to_dev(post_reg);
    pops[0].count = to_dev(post_n);
    pops[1].spk = to_dev(pre_reg);
    pops[1].count = to_dev(pre_n);
    dev_proj pj;
    memset(&pj, 0, sizeof pj);
    pj.src = 1;
    pj.tgt = 0;
    pj.src_lo = c.src_lo;
    pj.n_rows = c.n_rows;
    pj.delay_const = (uint16_t)d;
    pj.row_ptr = to_dev(c.row_ptr);
    pj.col = to_dev(c.col);
    pj.w = to_dev(c.w);
    pj.hist_slots = d + 1;
    pj.hist = to_dev(std::vector<uint32_t>((size_t)(d + 1) * c.n_rows, 0));
    pj.hist_n = to_dev(std::vector<uint32_t>(d + 1, 0));
    // Short-term state per row.
    vl_stp_params sp = {VL_STP_TSODYKS_MARKRAM, 0.1f, 0.3f, 200.0f, 100.0f, 0.0f, 0.0f};
    std::vector<float> u(c.n_rows), x(c.n_rows), factor(c.n_rows, 0.0f);
    std::vector<uint64_t> last(c.n_rows);
    for (uint32_t r = 0; r < c.n_rows; ++r)
        u[r] = unif(210, r, 0.05f, 0.9f), x[r] = unif(211, r, 0.1f, 1.0f), last[r] = t - 1 - rnd(212, r) % 3000;
    dev_stp ds;
    memset(&ds, 0, sizeof ds);
    ds.p = sp;
    ds.proj = 0;
    ds.u = to_dev(u);
    ds.x = to_dev(x);
    ds.last = to_dev(last);
    ds.factor = to_dev(factor);
    pj.factor = ds.factor;
    // STDP with the CSC index of the projection.
    vl_stdp_params P = {0.995f, 0.993f, 0.01f, -0.0105f, -2.0f, 5.0f, 0, 1};
    std::vector<uint64_t> col_ptr(n_tgt + 1, 0), csc_syn(c.col.size());
    std::vector<uint32_t> csc_row(c.col.size());
    for (uint32_t cl : c.col) col_ptr[cl + 1]++;
    for (uint32_t k = 0; k < n_tgt; ++k) col_ptr[k + 1] += col_ptr[k];
    std::vector<uint64_t> fill(col_ptr.begin(), col_ptr.end() - 1);
    for (uint32_t r = 0; r < c.n_rows; ++r)
        for (uint64_t j = c.row_ptr[r]; j < c.row_ptr[r + 1]; ++j) {
            uint64_t a = fill[c.col[j]]++;
            csc_syn[a] = j;
            csc_row[a] = r;
        }
    std::vector<float> A_pre(c.n_rows), A_post(n_tgt);
    for (uint32_t r = 0; r < c.n_rows; ++r) A_pre[r] = unif(220, r, 0, 0.05f);
    for (uint32_t k = 0; k < n_tgt; ++k) A_post[k] = unif(221, k, -0.05f, 0);
    dev_plastic pl;
    memset(&pl, 0, sizeof pl);
    pl.p = P;
    pl.proj = 0;
    pl.tgt = 0;
    pl.tgt_lo = 0;
    pl.n_rows = c.n_rows;
    pl.n_cols = n_tgt;
    pl.A_pre = to_dev(A_pre);
    pl.A_post = to_dev(A_post);
    pl.w = (float *)pj.w;
    pl.row_ptr = pj.row_ptr;
    pl.col = pj.col;
    pl.col_ptr = to_dev(col_ptr);
    pl.csc_syn = to_dev(csc_syn);
    pl.csc_row = to_dev(csc_row);
    vl_cu_net net;
    memset(&net, 0, sizeof net);
    net.pops = to_dev(pops);
    net.proj = to_dev(std::vector<dev_proj>(1, pj));
    net.stp = to_dev(std::vector<dev_stp>(1, ds));
    net.pl = to_dev(std::vector<dev_plastic>(1, pl));
    net.n_pops = 2;
    net.n_proj = 1;
    net.n_stp = 1;
    net.n_pl = 1;
    net.n_hist = 1;
    net.max_src = n_src;
    net.pl_warps = 300;
    net.t0 = to_dev(std::vector<uint64_t>(1, t));
    std::vector<float> w = c.w;
    size_t bad_hist = 0, bad_stp = 0, arrivals = 0;
    for (uint32_t k = 0; k < steps; ++k) {
        const uint64_t tk = t + k;
        CHECK(vl_cu_history(&net, k, 0));
        CHECK(vl_cu_stp(&net, k, 0));
        CHECK(vl_cu_stdp(&net, k, 0));
        CHECK(cudaDeviceSynchronize());
        // The history slot written now holds this step's spikes of rows in range.
        uint32_t slot = (uint32_t)(tk % (d + 1));
        uint32_t hn = to_host(pj.hist_n + slot, 1)[0];
        std::vector<uint32_t> h = to_host(pj.hist + (size_t)slot * c.n_rows, hn), want;
        for (uint32_t id : pre[k])
            if (id >= c.src_lo && id - c.src_lo < c.n_rows) want.push_back(id);
        std::sort(h.begin(), h.end());
        std::sort(want.begin(), want.end());
        bad_hist += h != want;
        // The CPU: arrivals are the spikes of step k - d (none before), as vl_arrivals says.
        std::vector<uint32_t> arr;
        if (k >= d)
            for (uint32_t id : pre[k - d])
                if (id >= c.src_lo && id - c.src_lo < c.n_rows) arr.push_back(id);
        arrivals += arr.size();
        for (uint32_t id : arr) {
            uint32_t r = id - c.src_lo;
            float f = vl_stp_on_spike(&sp, &u[r], &x[r], &last[r], tk);
            bad_stp += to_host(ds.factor + r, 1)[0] != f;
        }
        for (uint32_t r = 0; r < c.n_rows; ++r) A_pre[r] *= P.decay_pre;
        for (uint32_t q = 0; q < n_tgt; ++q) A_post[q] *= P.decay_post;
        for (uint32_t id : arr) {
            uint32_t r = id - c.src_lo;
            A_pre[r] = vl_trace_on_spike(A_pre[r], P.dA_pre, P.nearest);
            for (uint64_t j = c.row_ptr[r]; j < c.row_ptr[r + 1]; ++j) w[j] = vl_stdp_on_pre(&P, w[j], A_post[c.col[j]]);
        }
        for (uint32_t q : post[k]) {
            A_post[q] = vl_trace_on_spike(A_post[q], P.dA_post, P.nearest);
            for (uint64_t a = col_ptr[q]; a < col_ptr[q + 1]; ++a)
                w[csc_syn[a]] = vl_stdp_on_post(&P, w[csc_syn[a]], A_pre[csc_row[a]]);
        }
    }
    std::vector<float> gw = to_host(pj.w, w.size()), gpre = to_host(pl.A_pre, c.n_rows), gpost = to_host(pl.A_post, n_tgt);
    size_t bad_w = 0, bad_tr = 0, moved = 0;
    for (size_t j = 0; j < w.size(); ++j) bad_w += gw[j] != w[j], moved += w[j] != c.w[j];
    for (uint32_t r = 0; r < c.n_rows; ++r) bad_tr += gpre[r] != A_pre[r];
    for (uint32_t q = 0; q < n_tgt; ++q) bad_tr += gpost[q] != A_post[q];
    printf("  %u steps, delay %u: %zu arrivals, history slots wrong %zu, short-term factors wrong %zu; "
           "%zu of %zu weights moved, %zu differ; %zu traces differ\n",
           steps, d, arrivals, bad_hist, bad_stp, moved, w.size(), bad_w, bad_tr);
    EXPECT(arrivals > 100 && moved > w.size() / 4, "too little activity to test");
    EXPECT(bad_hist == 0 && bad_stp == 0 && bad_w == 0 && bad_tr == 0, "history, short-term or STDP state differs");
}

// Sampled state, spike packing and the highest-v fold.
static void test_record(void) {
    printf("state, pack and highest-v kernels\n");
    const uint64_t t0 = 90000 + rnd(95, 0) % 100;
    const uint32_t n = 500, nr = 3, D = 5, steps = 6;
    npop h = make_neurons(300, VL_LIF_COND_EXP, n, D, 1, 0, 0);
    std::vector<dev_pop> pops(1);
    memset(pops.data(), 0, sizeof(dev_pop));
    upload_neurons(h, &pops[0]);
    std::vector<uint32_t> ids;
    for (uint32_t i = 0; i < n; ++i)
        if (rnd(301, i) % 10 == 0) ids.push_back(i);
    std::vector<int32_t> var_rec = {-1, 2, 0};
    const uint32_t every = 2, n_frames = steps / every + 1;
    dev_state_rec r;
    memset(&r, 0, sizeof r);
    r.pop = 0;
    r.n_ids = (uint32_t)ids.size();
    r.n_vars = 3;
    r.every = every;
    r.ids = to_dev(ids);
    r.var_rec = to_dev(var_rec);
    r.frames = to_dev(std::vector<float>((size_t)n_frames * 3 * ids.size(), NAN));
    vl_cu_net net;
    memset(&net, 0, sizeof net);
    net.pops = to_dev(pops);
    net.rec = to_dev(std::vector<dev_state_rec>(1, r));
    net.n_pops = 1;
    net.n_rec = 1;
    net.t0 = to_dev(std::vector<uint64_t>(1, t0));
    for (uint32_t k = 0; k < steps; ++k) CHECK(vl_cu_state(&net, &r, k, 0));
    CHECK(cudaDeviceSynchronize());
    std::vector<float> frames = to_host(r.frames, (size_t)n_frames * 3 * ids.size());
    size_t bad = 0, checked = 0;
    for (uint64_t t = t0; t < t0 + steps; ++t) {
        if (t % every) continue;
        uint64_t f = t / every - (t0 + every - 1) / every;
        for (uint32_t v = 0; v < 3; ++v)
            for (size_t j = 0; j < ids.size(); ++j) {
                uint32_t id = ids[j];
                int rc = var_rec[v];
                size_t at = (size_t)(t % D) * nr * n + (size_t)(rc < 0 ? 0 : rc) * n + id;
                float want = rc < 0 ? h.v[id] : h.g[(size_t)rc * n + id] + vl_from_fixed(h.ring_q[at]);
                bad += frames[(f * 3 + v) * ids.size() + j] != want;
                ++checked;
            }
    }
    printf("  state: %zu of %zu sampled values differ\n", bad, checked);
    EXPECT(bad == 0 && checked > 100, "sampled state differs");
    // Pack: per-step regions in, one list out in step order.
    std::vector<uint32_t> reg((size_t)n * steps, 0xFFFFFFFFu), cnt(steps), want;
    for (uint32_t k = 0; k < steps; ++k) {
        cnt[k] = rnd(310, k) % 60;
        for (uint32_t j = 0; j < cnt[k]; ++j) reg[(size_t)k * n + j] = rnd(311, k, j) % n, want.push_back(reg[(size_t)k * n + j]);
    }
    uint32_t *d_reg = to_dev(reg), *d_cnt = to_dev(cnt), *d_out = to_dev(std::vector<uint32_t>(want.size() + 1, 0));
    CHECK(vl_cu_pack(d_reg, d_cnt, n, steps, d_out, 0));
    CHECK(cudaDeviceSynchronize());
    std::vector<uint32_t> got = to_host(d_out, want.size());
    printf("  pack: %zu spikes over %u steps %s\n", want.size(), steps, got == want ? "in order" : "DIFFER");
    EXPECT(got == want && want.size() > 50, "packed spikes differ");
    // Highest v: random per-warp maxima (negative and positive) fold into the running value.
    std::vector<float> wm(1234);
    for (size_t i = 0; i < wm.size(); ++i) wm[i] = unif(320, (uint32_t)i, -80, 5);
    float *d_wm = to_dev(wm), *d_mx = to_dev(std::vector<float>(1, -70.0f));
    CHECK(vl_cu_max_v(d_wm, (uint32_t)wm.size(), d_mx, 0));
    CHECK(cudaDeviceSynchronize());
    float mx = to_host(d_mx, 1)[0], want_mx = std::max(-70.0f, *std::max_element(wm.begin(), wm.end()));
    printf("  highest v: %.6f (cpu %.6f)\n", mx, want_mx);
    EXPECT(mx == want_mx, "highest v differs");
}

int main(void) {
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("no usable CUDA device: skipped\n");
        return 77;
    }
    salt = ((uint64_t)time(NULL) << 16) ^ (uint64_t)clock();
    printf("salt %llu (fresh random inputs every run)\n", (unsigned long long)salt);
    for (int u = VL_UPDATE_THREAD; u <= VL_UPDATE_BOUNDS; ++u) test_update(u);
    test_propagate();
    test_synapse_state();
    test_record();
    printf("%s\n", fails ? "FAILED" : "passed");
    return fails ? 1 : 0;
}
