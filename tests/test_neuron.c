/* Neuron models (kernels/neuron.h) against analytic results: the LIF f-I curve (exact inter-spike
 * interval in steps at dt = 0.1 ms, rate within 1 % of the closed form at dt = 0.01 ms), the
 * refractory conventions, the exact response of lif_curr_exp to an exponential current pulse
 * (also for tau_syn = tau_m), exponential decay of conductances and currents, lif_delta jumps,
 * the Mg block, the stationary variance of the noise and Poisson input statistics. Kernel-level tests build
 * vl_neuron_params from the formulas in the header; API-level tests run whole single-neuron
 * models through vl_sim_run and read the HDF5 output, so they also check how the engine
 * derives those parameters from a model file. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include <hdf5.h>

#include "kernels/neuron.h"
#include "kernels/philox.h"
#include "volley/volley.h"

static char g_dir[1024];

/* ---- kernel level ---- */

/* The background input's Poisson count from the CPU backend's table (vl_poisson_cdf and
 * vl_poisson_count_cdf) equals the search that the GPU runs (vl_poisson_count), for rates from
 * far below one event per step to the reader's limit: on 2e5 uniforms of the Philox stream per
 * rate, on every F_k and its two float neighbours (the decision boundaries), and above the last
 * F_k. The mean count is lambda. */
static void test_poisson_table_equals_search(void **st) {
    (void)st;
    const double lambdas[] = {1e-7, 1e-3, 0.02, 0.3, 1.28, 1.68, 2.32, 4.0, 17.5, 79.9};
    static float F[VL_POISSON_MAX];
    for (size_t i = 0; i < sizeof lambdas / sizeof lambdas[0]; ++i) {
        const float lam = (float)lambdas[i], e = (float)exp(-lambdas[i]);
        const uint32_t S = vl_poisson_cdf(lam, e, F);
        assert_true(S >= 1 && S < VL_POISSON_MAX);
        double sum = 0;
        const int n = 200000;
        for (int k = 0; k < n; ++k) {
            const float u = vl_u01f(vl_rand4(99, 7, (uint32_t)i, 0, (uint32_t)k).v[2]);
            const int32_t a = vl_poisson_count(lam, e, u), b = vl_poisson_count_cdf(F, S, u);
            if (a != b) fail_msg("lambda %g, u %.9g: search %d, table %d", lambdas[i], u, a, b);
            sum += a;
        }
        const double mean = sum / n;
        if (fabs(mean - lambdas[i]) > 5 * sqrt(lambdas[i] / n) + 1e-6)
            fail_msg("lambda %g: mean count %g", lambdas[i], mean);
        for (uint32_t k = 0; k < S; ++k) {
            const float us[3] = {F[k], nextafterf(F[k], 0.0f), nextafterf(F[k], 2.0f)};
            for (int j = 0; j < 3; ++j) {
                const int32_t a = vl_poisson_count(lam, e, us[j]), b = vl_poisson_count_cdf(F, S, us[j]);
                if (a != b)
                    fail_msg("lambda %g, u = F_%u %+d ulp: search %d, table %d", lambdas[i], k, j ? 2 * j - 3 : 0, a, b);
            }
        }
        const float top = nextafterf(F[S - 1], 2.0f);
        assert_int_equal(vl_poisson_count(lam, e, top), (int32_t)S);
        assert_int_equal(vl_poisson_count_cdf(F, S, top), (int32_t)S);
    }
}

/* The largest uniform (1 - 2^-24) gives a count at the far tail of the distribution, never the
 * search's cap: more than lambda + 10 sqrt(lambda) + 10 events has a probability below 1e-12 at
 * every rate the reader takes. In float the sum of the terms stops a little off 1, below that
 * uniform at about a tenth of all rates (here 2.32 events per step, PD14's L6E, among them); the
 * search used to run on to 1000 events there. */
static void test_poisson_count_tail(void **st) {
    (void)st;
    const float umax = vl_u01f(0xffffffffu);
    int below = 0;
    static float F[VL_POISSON_MAX];
    for (double l = 1e-6; l < 80; l *= 1.01) {
        const float lam = (float)l, e = (float)exp(-l);
        const int32_t k = vl_poisson_count(lam, e, umax);
        if (k > l + 10 * sqrt(l) + 10) fail_msg("lambda %g: %d events for u = 1 - 2^-24", l, k);
        const uint32_t S = vl_poisson_cdf(lam, e, F);
        below += F[S - 1] < umax;
    }
    assert_true(below > 0); /* the case the old search got wrong occurs */
}

typedef struct nrn {
    vl_neuron_params p;
    vl_rec_params rec[2];
    float v, w, g[2], in[2];
    int32_t refr;
} nrn;

typedef struct lif {
    int model;
    double dt, C, g_L, E_L, V_th, V_reset, t_ref, I_e, tau_e, tau_i, E_e, E_i, sigma;
    int refr_mode;
} lif;

/* COBA parameters (Vogels & Abbott 2005) with a DC current. */
static lif coba(int model, double dt, double I_e) {
    lif l = {model, dt, 200, 10, -60, -50, -60, 5, I_e, 5, 10, 0, -80, 0, VL_REFR_CLAMP};
    return l;
}

static void nrn_init(nrn *n, const lif *l) {
    memset(n, 0, sizeof *n);
    double taus[2] = {l->tau_e, l->tau_i}, Es[2] = {l->E_e, l->E_i}, mg[2] = {0, 0};
    vl_lif_desc d = {l->model, l->refr_mode, 2, l->dt, l->C, l->g_L, l->E_L, l->V_th, l->V_reset,
                     l->t_ref, l->I_e, l->sigma, taus, Es, mg, 0, 0, 0, 0, 0, 0};
    vl_neuron_params_init(&n->p, n->rec, &d);
    n->v = (float)l->E_L;
}

static int nrn_step(nrn *n) {
    int s = vl_neuron_step(&n->p, &n->v, &n->refr, &n->w, n->g, n->in, 1, 0.0f);
    n->in[0] = n->in[1] = 0;
    return s;
}

/* Time for v to go from v0 to V_th under constant drive (infinite when it never gets there). */
static double crossing_time(const lif *l, double v0) {
    double tau_m = l->C / l->g_L, v_inf = l->E_L + l->I_e / l->g_L;
    if (v_inf <= l->V_th) return INFINITY;
    return tau_m * log((v_inf - v0) / (v_inf - l->V_th));
}

/* Closed-form LIF rate in Hz. */
static double lif_rate(const lif *l) { return 1000.0 / (l->t_ref + crossing_time(l, l->V_reset)); }

/* Period in steps by the documented convention: spike at s, refractory (v clamped) during
 * s+1 .. s+n_ref-1, then v integrates from V_reset; after m steps of integration v equals the
 * continuous v(m dt), so the next spike comes at the first m with m dt > T. */
static void expected_period(const lif *l, long *lo, long *hi) {
    double T = crossing_time(l, l->V_reset) / l->dt;
    long n_ref = llround(l->t_ref / l->dt);
    long m = (long)floor(T) + 1;
    long base = (n_ref > 0 ? n_ref - 1 : 0) + m;
    double frac = T - floor(T);
    /* float rounding can move a crossing that falls within a hair of a step boundary */
    *lo = base - (frac < 0.02 ? 1 : 0);
    *hi = base + (frac > 0.98 ? 1 : 0);
}

static void run_isis(const lif *l, long n_steps, long *spikes, int max_spikes, int *n_spikes) {
    nrn n;
    nrn_init(&n, l);
    *n_spikes = 0;
    for (long t = 0; t < n_steps && *n_spikes < max_spikes; ++t)
        if (nrn_step(&n)) spikes[(*n_spikes)++] = t;
}

static const double currents[] = {110, 150, 200, 300, 500, 1000}; /* rheobase is 100 pA */

static void test_isi_exact_steps(void **st) {
    (void)st;
    for (int model = VL_LIF_COND_EXP; model <= VL_LIF_CURR_EXP; ++model) {
        for (size_t i = 0; i < sizeof currents / sizeof currents[0]; ++i) {
            lif l = coba(model, 0.1, currents[i]);
            long sp[8], lo, hi;
            int n;
            run_isis(&l, 100000, sp, 8, &n);
            assert_int_equal(n, 8);
            expected_period(&l, &lo, &hi);
            for (int k = 1; k < n; ++k) {
                long isi = sp[k] - sp[k - 1];
                if (isi < lo || isi > hi)
                    fail_msg("model %d, I_e %.0f pA: ISI %ld steps, expected %ld..%ld", model, currents[i], isi, lo, hi);
            }
            /* the first spike starts from E_L: after step k, v = v((k+1) dt) */
            double T0 = crossing_time(&l, l.E_L) / l.dt;
            long first = (long)floor(T0);
            if (labs(sp[0] - first) > (fabs(T0 - nearbyint(T0)) < 0.02 ? 1 : 0))
                fail_msg("model %d, I_e %.0f: first spike at step %ld, expected %ld", model, currents[i], sp[0], first);
        }
    }
}

static void test_fi_curve_small_dt(void **st) {
    (void)st;
    for (int model = VL_LIF_COND_EXP; model <= VL_LIF_CURR_EXP; ++model) {
        for (size_t i = 0; i < sizeof currents / sizeof currents[0]; ++i) {
            lif l = coba(model, 0.01, currents[i]);
            long sp[12];
            int n;
            run_isis(&l, 2000000, sp, 12, &n);
            assert_int_equal(n, 12);
            double rate = 1000.0 * (n - 1) / ((sp[n - 1] - sp[0]) * l.dt), want = lif_rate(&l);
            if (fabs(rate / want - 1) > 0.01)
                fail_msg("model %d, I_e %.0f pA: %.4f Hz, closed form %.4f Hz", model, currents[i], rate, want);
        }
    }
}

static void test_below_rheobase_stays_silent(void **st) {
    (void)st;
    for (int model = VL_LIF_COND_EXP; model <= VL_LIF_CURR_EXP; ++model) {
        lif l = coba(model, 0.1, 99.0);
        nrn n;
        nrn_init(&n, &l);
        for (long t = 0; t < 50000; ++t) assert_int_equal(nrn_step(&n), 0);
        /* it settles at V_inf = E_L + I_e / g_L = -50.1 mV */
        assert_true(fabs(n.v - (-50.1)) < 1e-3);
    }
}

/* Refractoriness: n_ref = 50 steps and a drive that needs m = 20 steps from V_reset. */
static void test_refractory_modes(void **st) {
    (void)st;
    /* choose I_e such that T = 19.5 dt exactly: v_inf - V_th = (v_inf - V_reset) e^{-T/tau} */
    lif l = coba(VL_LIF_COND_EXP, 0.1, 0);
    double tau = 20, T = 1.95, e = exp(-T / tau);
    double v_inf = (l.V_th - l.V_reset * e) / (1 - e);
    l.I_e = (v_inf - l.E_L) * l.g_L;
    long sp[6];
    int n;
    run_isis(&l, 100000, sp, 6, &n);
    for (int k = 1; k < n; ++k) assert_int_equal(sp[k] - sp[k - 1], 49 + 20); /* clamp: n_ref - 1 + m */
    l.refr_mode = VL_REFR_INTEGRATE;
    run_isis(&l, 100000, sp, 6, &n);
    for (int k = 1; k < n; ++k) assert_int_equal(sp[k] - sp[k - 1], 50); /* threshold blocked until s + n_ref */
    l.refr_mode = VL_REFR_CLAMP;
    l.t_ref = 0;
    run_isis(&l, 100000, sp, 6, &n);
    for (int k = 1; k < n; ++k) assert_int_equal(sp[k] - sp[k - 1], 20);
    l.t_ref = 0.1; /* one step: the neuron may spike again right at s + 1 + (m - 1) */
    run_isis(&l, 100000, sp, 6, &n);
    for (int k = 1; k < n; ++k) assert_int_equal(sp[k] - sp[k - 1], 20);

    /* during clamping v stays exactly at V_reset and conductances still decay */
    l.t_ref = 5;
    nrn nn;
    nrn_init(&nn, &l);
    long t = 0;
    while (!nrn_step(&nn)) ++t;
    nn.g[0] = 10.0f;
    for (int k = 1; k < 50; ++k) {
        assert_int_equal(nrn_step(&nn), 0);
        assert_true(nn.v == (float)l.V_reset);
    }
    assert_true(fabs(nn.g[0] - 10.0 * pow(exp(-0.1 / 5), 49)) < 1e-4);
    nrn_step(&nn);
    assert_true(nn.v > (float)l.V_reset); /* integrating again at s + n_ref */
}

/* lif_curr_exp: an input I0 arriving at step 0 gives, after step k, the exact solution of
 * C du/dt = -g_L u + I0 e^{-t/tau_s}: u(t) = I0 tau_m tau_s / (C (tau_m - tau_s)) (e^{-t/tau_m} - e^{-t/tau_s})
 * at t = (k + 1) dt. */
static double pulse_u(double t, double I0, double C, double tau_m, double tau_s) {
    if (fabs(tau_m - tau_s) < 1e-12) return I0 / C * t * exp(-t / tau_m);
    return I0 * tau_m * tau_s / (C * (tau_m - tau_s)) * (exp(-t / tau_m) - exp(-t / tau_s));
}

static void test_curr_exp_pulse_kernel(void **st) {
    (void)st;
    lif l = coba(VL_LIF_CURR_EXP, 0.1, 0);
    l.V_th = 100; /* never fires */
    nrn n;
    nrn_init(&n, &l);
    const double I0 = 800;
    n.in[0] = (float)I0;
    double peak = 0;
    for (int k = 0; k < 1000; ++k) {
        nrn_step(&n);
        double want = l.E_L + pulse_u((k + 1) * l.dt, I0, l.C, 20, 5);
        if (fabs(n.v - want) > 2e-4 + 1e-5 * fabs(want)) fail_msg("step %d: v %.6f, analytic %.6f", k, n.v, want);
        if (want - l.E_L > peak) peak = want - l.E_L;
        /* the current decays as e^{-t/tau_s} */
        double I = I0 * exp(-(k + 1) * l.dt / 5);
        if (fabs(n.g[0] - I) > 1e-4 * I0) fail_msg("step %d: I %.6f, analytic %.6f", k, n.g[0], I);
    }
    assert_true(peak > 5.0); /* the pulse actually moved v */
}

/* lif_cond_exp with conductances that do not decay over the run is a linear ODE with constant
 * coefficients: exponential Euler must be exact. Both receptors, so that each reversal
 * potential enters (E_exc = 0 mV, E_inh = -80 mV). */
static void test_cond_exp_frozen_conductance(void **st) {
    (void)st;
    lif l = coba(VL_LIF_COND_EXP, 0.1, 250);
    l.tau_e = 1e12;
    l.tau_i = 1e12;
    l.V_th = 100;
    nrn n;
    nrn_init(&n, &l);
    n.g[0] = 3.0f;
    n.g[1] = 5.0f;
    double G = l.g_L + 3.0 + 5.0, v_inf = (l.g_L * l.E_L + 3.0 * l.E_e + 5.0 * l.E_i + l.I_e) / G;
    /* float32 state stagnates once a step's change is below half an ulp of v: within
     * (ulp(v) / 2) / (1 - e^{-dt G / C}) of v_inf (~2e-4 mV here) */
    double ulp = nextafterf((float)fabs(v_inf), INFINITY) - (float)fabs(v_inf);
    double stagnation = 0.5 * ulp / (1 - exp(-l.dt * G / l.C));
    for (int k = 0; k < 2000; ++k) {
        nrn_step(&n);
        double want = v_inf + (l.E_L - v_inf) * exp(-(k + 1) * l.dt * G / l.C);
        if (fabs(n.v - want) > 1e-4 + 1.1 * stagnation) fail_msg("step %d: v %.6f, analytic %.6f", k, n.v, want);
    }
    assert_true(fabs(v_inf - l.E_L) > 5); /* the conductances moved v far from rest */
}

/* lif_delta: a weight w (mV) arriving at step 0 moves v by w, which then relaxes with tau_m. */
static void test_delta_jump(void **st) {
    (void)st;
    lif l = coba(VL_LIF_DELTA, 0.1, 0);
    nrn n;
    nrn_init(&n, &l);
    n.p.n_rec = 1;
    n.in[0] = 2.0f;
    for (int k = 0; k < 500; ++k) {
        nrn_step(&n);
        double want = l.E_L + 2.0 * exp(-(k + 1) * l.dt / 20);
        if (fabs(n.v - want) > 1e-4) fail_msg("step %d: v %.6f, analytic %.6f", k, n.v, want);
    }
    /* a jump across threshold fires in the step it arrives */
    nrn_init(&n, &l);
    n.p.n_rec = 1;
    n.in[0] = 10.5f;
    assert_int_equal(nrn_step(&n), 1);
    assert_true(n.v == (float)l.V_reset);
}

/* Jahr & Stevens (1990): B(v) = 1 / (1 + [Mg] / 3.57 mM exp(-0.062 v / mV)). */
static void test_mg_block(void **st) {
    (void)st;
    const double vs[] = {-80, -60, -40, -20, 0, 20};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; ++i) {
        double want = 1.0 / (1.0 + 1.0 / 3.57 * exp(-0.062 * vs[i]));
        assert_true(fabs(vl_mg_block((float)vs[i], 1.0f) - want) < 1e-6);
    }
    /* at -60 mV about 8 % of the NMDA conductance is unblocked, at 0 mV about 78 % */
    assert_true(fabs(vl_mg_block(-60.0f, 1.0f) - 0.0796) < 5e-4);
    assert_true(fabs(vl_mg_block(0.0f, 1.0f) - 0.7812) < 5e-4);
}

/* ---- API level: whole models through vl_sim_run ---- */

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Loads and runs name.yaml (written from text) into name.h5. */
static void run_text(const char *name, const char *text, const char *const *ov, size_t n_ov, char *h5, size_t len) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.yaml", g_dir, name);
    snprintf(h5, len, "%s/%s.h5", g_dir, name);
    write_file(path, text);
    vl_model *m = NULL;
    if (vl_model_load(path, ov, n_ov, &m) != VL_OK) fail_msg("%s refused: %s", name, vl_model_error(m));
    vl_sim_options opt;
    memset(&opt, 0, sizeof opt);
    opt.output = h5;
    opt.backend = VL_BACKEND_CPU;
    vl_sim *s = NULL;
    if (vl_sim_create(m, &opt, &s) != VL_OK) fail_msg("%s: sim_create: %s", name, vl_sim_error(s));
    if (vl_sim_run(s) != VL_OK) fail_msg("%s: run: %s", name, vl_sim_error(s));
    assert_true(vl_sim_result(s)->complete);
    vl_sim_destroy(s);
    vl_model_destroy(m);
}

/* Reads a whole dataset as double (any numeric type); returns element count, data in *out. */
static size_t h5_read(const char *file, const char *name, double **out, size_t *cols) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) fail_msg("cannot open %s", file);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) fail_msg("%s has no dataset %s", file, name);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 1};
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    size_t n = (size_t)dims[0] * (rank > 1 ? (size_t)dims[1] : 1);
    if (cols) *cols = rank > 1 ? (size_t)dims[1] : 1;
    *out = malloc((n ? n : 1) * sizeof **out);
    if (n && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) fail_msg("cannot read %s", name);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return n;
}

#define FI_POP(name, model, ie)                                                                             \
    "  " name ":\n    size: 1\n    model: " model "\n"                                                     \
    "    params: {C: 200 pF, g_L: 10 nS, E_L: -60 mV, V_th: -50 mV, V_reset: -60 mV, t_ref: 5 ms, I_e: " ie \
    ", tau_exc: 5 ms, tau_inh: 10 ms}\n"

static const char *fi_model =
    "name: fi\n"
    "dt: 0.01 ms\n"
    "duration: 1500 ms\n"
    "populations:\n"
    FI_POP("c110", "lif_cond_exp", "110 pA")
    FI_POP("c150", "lif_cond_exp", "150 pA")
    FI_POP("c300", "lif_cond_exp", "0.3 nA")
    FI_POP("c1000", "lif_cond_exp", "1000 pA")
    FI_POP("u120", "lif_curr_exp", "120 pA")
    FI_POP("u500", "lif_curr_exp", "500 pA")
    "record:\n  spikes: all\n";

static const struct { const char *pop; int model; double I; } fi_pops[] = {
    {"c110", VL_LIF_COND_EXP, 110}, {"c150", VL_LIF_COND_EXP, 150}, {"c300", VL_LIF_COND_EXP, 300},
    {"c1000", VL_LIF_COND_EXP, 1000}, {"u120", VL_LIF_CURR_EXP, 120}, {"u500", VL_LIF_CURR_EXP, 500}};

/* f-I through the whole engine at dt = 0.01 ms: rate within 1 % of the closed form. */
static void test_api_fi_curve(void **st) {
    (void)st;
    char h5[1200], ds[256];
    run_text("fi", fi_model, NULL, 0, h5, sizeof h5);
    for (size_t i = 0; i < sizeof fi_pops / sizeof fi_pops[0]; ++i) {
        lif l = coba(fi_pops[i].model, 0.01, fi_pops[i].I);
        double *ts;
        snprintf(ds, sizeof ds, "/spikes/%s/timestamps", fi_pops[i].pop);
        size_t n = h5_read(h5, ds, &ts, NULL);
        if (n < 10) fail_msg("%s: only %zu spikes", fi_pops[i].pop, n);
        double rate = 1000.0 * (n - 1) / (ts[n - 1] - ts[0]), want = lif_rate(&l);
        if (fabs(rate / want - 1) > 0.01) fail_msg("%s: %.4f Hz, closed form %.4f Hz", fi_pops[i].pop, rate, want);
        /* the first crossing takes thousands of float32 steps: allow 0.5 % besides the step */
        double T0 = crossing_time(&l, l.E_L);
        if (fabs(ts[0] - T0) > 2 * l.dt + 0.005 * T0) fail_msg("%s: first spike at %.3f ms, expected %.3f ms", fi_pops[i].pop, ts[0], T0);
        free(ts);
    }
}

/* The same file at dt = 0.1 ms (a --set override): inter-spike intervals exactly as the
 * convention predicts, in steps. */
static void test_api_isi_exact(void **st) {
    (void)st;
    char h5[1200], ds[256];
    const char *ov[] = {"dt=0.1 ms", "duration=400 ms"};
    run_text("fi01", fi_model, ov, 2, h5, sizeof h5);
    for (size_t i = 0; i < sizeof fi_pops / sizeof fi_pops[0]; ++i) {
        lif l = coba(fi_pops[i].model, 0.1, fi_pops[i].I);
        long lo, hi;
        expected_period(&l, &lo, &hi);
        double *ts;
        snprintf(ds, sizeof ds, "/spikes/%s/timestamps", fi_pops[i].pop);
        size_t n = h5_read(h5, ds, &ts, NULL);
        assert_true(n >= 3);
        for (size_t k = 1; k < n; ++k) {
            long isi = lround((ts[k] - ts[k - 1]) / 0.1);
            if (isi < lo || isi > hi) fail_msg("%s: ISI %ld steps, expected %ld..%ld", fi_pops[i].pop, isi, lo, hi);
        }
        free(ts);
    }
}

/* One input spike at t = 0 into single neurons. The spike (step 0, no delay) reaches the targets
 * at the start of step 1; a recorded frame k is the state at the start of step k, so from frame 1
 * on the synaptic variable is w e^{-(k-1) dt / tau}, and from frame 2 on v is the analytic pulse
 * response at t = (k - 1) dt. */
static const char *pulse_model =
    "name: pulse\n"
    "dt: 0.1 ms\n"
    "duration: 60 ms\n"
    "populations:\n"
    "  cur:\n    size: 1\n    model: lif_curr_exp\n"
    "    params: {C: 200 pF, g_L: 10 nS, E_L: -60 mV, V_th: 0 mV, V_reset: -60 mV, tau_exc: 5 ms, tau_inh: 10 ms}\n"
    "  same:\n    size: 1\n    model: lif_curr_exp\n"
    "    params: {C: 200 pF, tau_m: 20 ms, E_L: -65 mV, V_th: 0 mV, V_reset: -70 mV, tau_exc: 20 ms}\n"
    "  cond:\n    size: 1\n    model: lif_cond_exp\n"
    "    params: {C: 200 pF, g_L: 10 nS, E_L: -60 mV, V_th: 0 mV, V_reset: -60 mV, tau_exc: 5 ms, tau_inh: 10 ms}\n"
    "inputs:\n"
    "  in: {size: 1, model: spike_times, spikes: [[0, 0 ms]]}\n"
    "projections:\n"
    "  - {from: in, to: cur, receptor: exc, connect: all_to_all, weight: 800 pA}\n"
    "  - {from: in, to: same, receptor: exc, connect: all_to_all, weight: 0.5 nA}\n"
    "  - {from: in, to: cond, receptor: exc, connect: all_to_all, weight: 4 nS}\n"
    "record:\n"
    "  spikes: all\n"
    "  state:\n"
    "    - {population: cur, variables: [v, I_exc], neurons: [0]}\n"
    "    - {population: same, variables: [v], neurons: [0]}\n"
    "    - {population: cond, variables: [g_exc], neurons: [0], every: 0.1 ms}\n";

static void test_api_pulse_response(void **st) {
    (void)st;
    char h5[1200];
    run_text("pulse", pulse_model, NULL, 0, h5, sizeof h5);
    double *v, *I, *v2, *g;
    size_t nv = h5_read(h5, "/report/cur/data", &v, NULL);
    size_t nI = h5_read(h5, "/report/cur/data_I_exc", &I, NULL);
    size_t nv2 = h5_read(h5, "/report/same/data", &v2, NULL);
    size_t ng = h5_read(h5, "/report/cond/data", &g, NULL);
    assert_int_equal(nv, 600);
    assert_int_equal(nI, 600);
    assert_int_equal(nv2, 600);
    assert_int_equal(ng, 600);
    const double dt = 0.1;
    assert_true(v[0] == -60.0 && v[1] == -60.0 && I[0] == 0.0 && g[0] == 0.0);
    for (size_t k = 1; k < nv; ++k) {
        double t = (k - 1) * dt;
        double Iw = 800 * exp(-t / 5), gw = 4 * exp(-t / 5);
        if (fabs(I[k] - Iw) > 1e-4 * 800) fail_msg("frame %zu: I_exc %.6f pA, expected %.6f", k, I[k], Iw);
        if (fabs(g[k] - gw) > 1e-4 * 4) fail_msg("frame %zu: g_exc %.6f nS, expected %.6f", k, g[k], gw);
        if (k >= 2) {
            if (k >= 3 && fabs(g[k] / g[k - 1] - exp(-dt / 5)) > 1e-5)
                fail_msg("frame %zu: g decays by %.7f per step, expected exp(-dt/tau) = %.7f", k, g[k] / g[k - 1],
                         exp(-dt / 5));
            double vw = -60 + pulse_u(t, 800, 200, 20, 5);
            if (fabs(v[k] - vw) > 2e-4 + 1e-5 * fabs(vw)) fail_msg("frame %zu: v %.6f mV, analytic %.6f", k, v[k], vw);
            double vw2 = -65 + pulse_u(t, 500, 200, 20, 20); /* tau_syn = tau_m: the t e^{-t/tau} limit */
            if (fabs(v2[k] - vw2) > 2e-4 + 1e-5 * fabs(vw2))
                fail_msg("frame %zu (tau_s = tau_m): v %.6f mV, analytic %.6f", k, v2[k], vw2);
        }
    }
    free(v);
    free(I);
    free(v2);
    free(g);
}

/* sigma: v += sigma sqrt(dt / tau_m) z per step, so without threshold v is an AR(1) process with
 * stationary variance sigma^2 (dt / tau_m) / (1 - e^{-2 dt / tau_m}) (~ sigma^2 / 2, Brian2's xi). */
static void test_api_noise_variance(void **st) {
    (void)st;
    const char *text =
        "name: noise\n"
        "dt: 0.1 ms\n"
        "duration: 1100 ms\n"
        "seed: 3\n"
        "populations:\n"
        "  p:\n    size: 400\n    model: lif_curr_exp\n"
        "    params: {C: 200 pF, g_L: 10 nS, E_L: -60 mV, V_th: 0 mV, V_reset: -70 mV, sigma: 2 mV}\n"
        "record:\n"
        "  spikes: none\n"
        "  state: [{population: p, variables: [v], neurons: \"0:400\", every: 10 ms}]\n";
    char h5[1200];
    run_text("noise", text, NULL, 0, h5, sizeof h5);
    double *v;
    size_t cols;
    size_t n = h5_read(h5, "/report/p/data", &v, &cols);
    assert_int_equal(cols, 400);
    size_t frames = n / cols;
    assert_int_equal(frames, 110);
    double s = 0, s2 = 0, cnt = 0;
    for (size_t f = 10; f < frames; ++f) /* after 100 ms = 5 tau_m */
        for (size_t j = 0; j < cols; ++j) {
            double x = v[f * cols + j] + 60;
            s += x;
            s2 += x * x;
            cnt += 1;
        }
    double mean = s / cnt, var = s2 / cnt - mean * mean;
    double a = exp(-0.1 / 20), want = 4.0 * (0.1 / 20) / (1 - a * a);
    /* frames 10 ms apart have correlation r = e^{-0.5}: for the mean, 40000 samples count as
     * 40000 (1 - r) / (1 + r) ~ 9800; for the variance as 40000 (1 - r^2) / (1 + r^2) ~ 18500 */
    if (fabs(mean) > 5 * sqrt(want / 9000)) fail_msg("noise mean %.4f mV", mean);
    if (fabs(var / want - 1) > 0.06) fail_msg("noise variance %.4f mV^2, expected %.4f", var, want);
    /* neurons draw independently: the correlation between neighbours is ~0 */
    double c = 0;
    for (size_t f = 10; f < frames; ++f)
        for (size_t j = 0; j + 1 < cols; j += 2) c += (v[f * cols + j] + 60) * (v[f * cols + j + 1] + 60);
    c /= (cnt / 2) * want;
    if (fabs(c) > 0.05) fail_msg("correlation between neighbouring neurons %.4f", c);
    free(v);
}

/* Poisson inputs: counts against rate x duration (Poisson sd), nothing outside start/stop,
 * Fano factor 1 across sources, rate tables and per-neuron rates. */
static void test_api_poisson_inputs(void **st) {
    (void)st;
    const char *text =
        "name: poisson\n"
        "dt: 0.1 ms\n"
        "duration: 1000 ms\n"
        "seed: 11\n"
        "populations:\n"
        "  sink: {size: 1, model: lif_curr_exp, params: {I_e: 10 pA}}\n"
        "inputs:\n"
        "  flat: {size: 1000, model: poisson, rate: 40 Hz, start: 100 ms, stop: 600 ms}\n"
        "  table: {size: 1000, model: poisson, rate: {times: [0 ms, 200 ms, 500 ms], rates: [10 Hz, 80 Hz, 0 Hz]}}\n"
        "  per: {size: 4, model: poisson, rate: [0 Hz, 5 Hz, 50 Hz, 0.2 kHz]}\n"
        "record:\n  spikes: all\n";
    char h5[1200];
    run_text("poisson", text, NULL, 0, h5, sizeof h5);
    double *ts, *ids;
    size_t n = h5_read(h5, "/spikes/flat/timestamps", &ts, NULL);
    assert_int_equal(h5_read(h5, "/spikes/flat/node_ids", &ids, NULL), n);
    double mu = 1000 * 40 * 0.5;
    if (fabs(n - mu) > 5 * sqrt(mu)) fail_msg("flat: %zu spikes, expected %.0f +- %.0f", n, mu, 5 * sqrt(mu));
    static double count[1000];
    memset(count, 0, sizeof count);
    for (size_t k = 0; k < n; ++k) {
        if (ts[k] < 100 - 1e-9 || ts[k] >= 600 - 1e-9) fail_msg("flat: spike at %.3f ms outside [100, 600)", ts[k]);
        count[(size_t)ids[k]] += 1;
    }
    double m = 0, v = 0;
    for (int i = 0; i < 1000; ++i) m += count[i];
    m /= 1000;
    for (int i = 0; i < 1000; ++i) v += (count[i] - m) * (count[i] - m);
    v /= 999;
    /* Bernoulli per step: Fano factor 1 - p = 0.996 */
    if (fabs(v / m - 0.996) > 5 * sqrt(2.0 / 999)) fail_msg("flat: Fano factor %.3f, expected 1", v / m);
    free(ts);
    free(ids);

    n = h5_read(h5, "/spikes/table/timestamps", &ts, NULL);
    double win[3] = {0, 0, 0};
    for (size_t k = 0; k < n; ++k) win[ts[k] < 200 ? 0 : ts[k] < 500 ? 1 : 2] += 1;
    const double want[3] = {1000 * 10 * 0.2, 1000 * 80 * 0.3, 0};
    for (int w = 0; w < 3; ++w)
        if (fabs(win[w] - want[w]) > 5 * sqrt(want[w])) fail_msg("table window %d: %.0f spikes, expected %.0f", w, win[w], want[w]);
    free(ts);

    n = h5_read(h5, "/spikes/per/node_ids", &ids, NULL);
    double per[4] = {0, 0, 0, 0};
    for (size_t k = 0; k < n; ++k) per[(size_t)ids[k]] += 1;
    const double rates[4] = {0, 5, 50, 200};
    for (int i = 0; i < 4; ++i)
        if (fabs(per[i] - rates[i]) > 5 * sqrt(rates[i])) fail_msg("per-neuron rate %d: %.0f spikes, expected %.0f", i, per[i], rates[i]);
    free(ids);
}

static int setup(void **st) {
    (void)st;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(g_dir, sizeof g_dir, "%s/neuron-XXXXXX", VOLLEY_TEST_TMP);
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    return vt_remove_dir(g_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poisson_table_equals_search),
        cmocka_unit_test(test_poisson_count_tail),
        cmocka_unit_test(test_isi_exact_steps),
        cmocka_unit_test(test_fi_curve_small_dt),
        cmocka_unit_test(test_below_rheobase_stays_silent),
        cmocka_unit_test(test_refractory_modes),
        cmocka_unit_test(test_curr_exp_pulse_kernel),
        cmocka_unit_test(test_cond_exp_frozen_conductance),
        cmocka_unit_test(test_delta_jump),
        cmocka_unit_test(test_mg_block),
        cmocka_unit_test(test_api_fi_curve),
        cmocka_unit_test(test_api_isi_exact),
        cmocka_unit_test(test_api_pulse_response),
        cmocka_unit_test(test_api_noise_variance),
        cmocka_unit_test(test_api_poisson_inputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
