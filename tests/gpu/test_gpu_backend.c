/* The CUDA backend against the CPU backend (the reference), through the public API on the same
 * models and seeds. Exact where the arithmetic is order-independent (input draws, feed-forward
 * drive), statistical where float atomics reorder sums in recurrent networks. Exits 77 when no
 * CUDA device is usable. */
#include <hdf5.h>
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

#include "../testutil.h"
#include "volley/volley.h"

typedef struct spikes { size_t n; double *t; uint64_t *id; } spikes;

static char tmpdir[256];
static int g_deterministic; /* run() passes it on */
static float g_max_v[8];    /* run() leaves the highest v of the first populations here */
static char g_device[256];  /* and the device line (it names the execution mode) */
static int g_cc_major;      /* the device's compute capability (9: clusters) */

static const char *write_model(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s.yaml", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The path of configs/<name>.yaml (a static buffer, valid until the next call). */
static const char *config(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/configs/%s.yaml", VOLLEY_SOURCE_DIR, name);
    return path;
}

/* Runs path on a backend; returns the result's per-population rates in rates[] when non-NULL. */
static void run(const char *path, vl_backend_kind be, const char *out, const char **sets, size_t n_sets,
                uint64_t seed, double *rates, size_t n_rates) {
    vl_model *m = NULL;
    vl_status st = vl_model_load(path, sets, n_sets, &m);
    if (st != VL_OK) fprintf(stderr, "%s\n", vl_model_error(m));
    assert_int_equal(st, VL_OK);
    vl_sim_options opt;
    memset(&opt, 0, sizeof opt);
    opt.backend = be;
    opt.output = out;
    opt.have_seed = 1;
    opt.seed = seed;
    opt.deterministic = g_deterministic;
    vl_sim *s = NULL;
    st = vl_sim_create(m, &opt, &s);
    if (st != VL_OK) fprintf(stderr, "%s\n", vl_sim_error(s));
    assert_int_equal(st, VL_OK);
    st = vl_sim_run(s);
    if (st != VL_OK) fprintf(stderr, "%s\n", vl_sim_error(s));
    assert_int_equal(st, VL_OK);
    const vl_run_result *r = vl_sim_result(s);
    assert_string_equal(r->backend, be == VL_BACKEND_CUDA ? "cuda" : "cpu");
    for (size_t i = 0; rates && i < n_rates && i < r->n_pops; ++i) rates[i] = r->pops[i].rate_hz;
    for (size_t i = 0; i < 8 && i < r->n_pops; ++i) g_max_v[i] = r->pops[i].max_v;
    snprintf(g_device, sizeof g_device, "%s", r->device ? r->device : "");
    vl_sim_destroy(s);
    vl_model_destroy(m);
}

static spikes read_spikes(const char *file, const char *pop) {
    spikes s = {0};
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    char p[256];
    size_t n_id;
    snprintf(p, sizeof p, "/spikes/%s/timestamps", pop);
    s.t = vt_read(f, p, H5T_NATIVE_DOUBLE, sizeof(double), &s.n);
    snprintf(p, sizeof p, "/spikes/%s/node_ids", pop);
    s.id = vt_read(f, p, H5T_NATIVE_UINT64, sizeof(uint64_t), &n_id);
    assert_int_equal(n_id, s.n);
    H5Fclose(f);
    return s;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* (step, id) keys, sorted, so that the order of spikes within a step does not matter. */
static uint64_t *keys(const spikes *s, double dt) {
    uint64_t *k = calloc(s->n + 1, sizeof *k);
    for (size_t i = 0; i < s->n; ++i) k[i] = ((uint64_t)llround(s->t[i] / dt) << 24) | s->id[i];
    qsort(k, s->n, sizeof *k, cmp_u64);
    return k;
}

/* Fraction of a's keys found in b (both sorted). */
static double overlap(const uint64_t *a, size_t na, const uint64_t *b, size_t nb) {
    size_t i = 0, j = 0, same = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j]) ++same, ++i, ++j;
        else if (a[i] < b[j]) ++i;
        else ++j;
    }
    return na ? (double)same / (double)(na > nb ? na : nb) : (nb ? 0.0 : 1.0);
}

/* Feed-forward drive only: every neuron receives at most one input per receptor and step, so no
 * sum depends on the order of atomics. */
static const char *FEEDFORWARD =
    "name: ff\ndt: 0.1 ms\nduration: 300 ms\nseed: 3\n"
    "populations:\n"
    "  cells: {size: 1000, model: lif_cond_exp, params: {C: 200 pF, g_L: 10 nS, E_L: -60 mV, V_th: -50 mV,"
    " V_reset: -60 mV, t_ref: 2 ms, E_exc: 0 mV, E_inh: -80 mV, tau_exc: 5 ms, tau_inh: 10 ms, I_e: 50 pA},"
    " init: {v: {uniform: [-60 mV, -50 mV]}}}\n"
    "  cur: {size: 1000, model: lif_curr_exp, params: {C: 250 pF, tau_m: 10 ms, E_L: -65 mV, V_th: -50 mV,"
    " V_reset: -65 mV, t_ref: 2 ms, tau_exc: 0.5 ms, tau_inh: 0.5 ms}}\n"
    "  bg: {size: 700, model: lif_curr_exp, params: {C: 250 pF, tau_m: 10 ms, E_L: -65 mV, V_th: -50 mV,"
    " V_reset: -65 mV, t_ref: 2 ms, tau_exc: 0.5 ms, tau_inh: 0.5 ms},"
    " background: {rate: 16000 Hz, weight: 87.8 pA, receptor: exc}}\n"
    "inputs:\n"
    "  drive: {size: 1000, model: poisson, rate: 80 Hz}\n"
    "  pattern: {size: 4, model: spike_times, spikes: [[0, 10 ms], [1, 10 ms], [2, 55.5 ms], [3, 120 ms]]}\n"
    "projections:\n"
    "  - {from: drive, to: cells, receptor: exc, connect: one_to_one, weight: 8 nS}\n"
    "  - {from: drive, to: cur, receptor: exc, connect: one_to_one, weight: 8000 pA}\n"
    "  - {from: pattern, to: \"cells[0:4]\", receptor: exc, connect: one_to_one, weight: 50 nS, delay: 1.5 ms}\n"
    "record:\n"
    "  spikes: all\n"
    "  state: [{population: cells, variables: [v, g_exc], neurons: \"0:20\", every: 0.5 ms}]\n";

/* The CUDA execution modes (single-block chunks, graph replay, cluster chunks) against the CPU. */
static const char *modes[] = {"block", "graph", "cluster"};
#define N_MODES 3

/* Sets VOLLEY_CUDA_MODE; after a run, checks the mode was the one asked for (the cluster mode
 * needs compute capability 9.0 and falls back to graph replay before that). */
static void set_mode(int mode) { setenv("VOLLEY_CUDA_MODE", modes[mode], 1); }
static void check_mode(int mode) {
    const char *want = mode == 0 ? "single-block mode" : mode == 1 ? "graph mode" : "cluster mode";
    if (mode == 2 && g_cc_major < 9) want = "graph mode";
    printf("  device: %s\n", g_device);
    assert_non_null(strstr(g_device, want));
}

static void test_feedforward_identical(void **state) {
    (void)state;
    const char *path = write_model("ff", FEEDFORWARD);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/ff_cpu.h5", tmpdir);
    run(path, VL_BACKEND_CPU, a, NULL, 0, 3, NULL, 0);
    for (int mode = 0; mode < N_MODES; ++mode) {
    set_mode(mode);
    printf("  CUDA %s mode\n", modes[mode]);
    snprintf(b, sizeof b, "%s/ff_gpu_%s.h5", tmpdir, modes[mode]);
    run(path, VL_BACKEND_CUDA, b, NULL, 0, 3, NULL, 0);
    check_mode(mode);
    const char *pops[] = {"drive", "pattern", "cells", "cur", "bg"};
    for (int p = 0; p < 5; ++p) {
        spikes x = read_spikes(a, pops[p]), y = read_spikes(b, pops[p]);
        uint64_t *kx = keys(&x, 0.1), *ky = keys(&y, 0.1);
        double ov = overlap(kx, x.n, ky, y.n);
        printf("  %-8s cpu %zu spikes, cuda %zu spikes, identical (step, id) pairs %.4f%%\n", pops[p], x.n, y.n,
               100 * ov);
        assert_true(x.n > 0);
        if (p < 2) { /* inputs: the same Philox draws, so exactly the same spikes */
            assert_int_equal(x.n, y.n);
            assert_true(ov == 1.0);
        } else { /* neurons: default mode, whose float atomics add a step's inputs in any order */
            assert_true(ov > 0.995);
        }
        free(kx); free(ky); free(x.t); free(x.id); free(y.t); free(y.id);
    }
    }
    unsetenv("VOLLEY_CUDA_MODE");
}

static void test_rates_agree(void **state) {
    (void)state;
    const char *models[] = {"coba", "cuba"};
    for (int m = 0; m < 2; ++m) {
        const char *path = config(models[m]);
        double cpu[4] = {0}, gpu[4] = {0}, rc[4], rg[4];
        for (uint64_t seed = 1; seed <= 3; ++seed) {
            run(path, VL_BACKEND_CPU, NULL, NULL, 0, seed, rc, 2);
            run(path, VL_BACKEND_CUDA, NULL, NULL, 0, seed, rg, 2);
            for (int p = 0; p < 2; ++p) cpu[p] += rc[p] / 3, gpu[p] += rg[p] / 3;
        }
        for (int p = 0; p < 2; ++p) {
            printf("  %s pop %d: mean rate over 3 seeds cpu %.2f Hz, cuda %.2f Hz\n", models[m], p, cpu[p], gpu[p]);
            assert_true(fabs(cpu[p] - gpu[p]) < 0.1 * cpu[p]);
        }
    }
}

static void test_every_step_recorded(void **state) {
    (void)state;
    /* t_ref 0 and a huge current: every neuron fires at every step, 2500 steps over 3 chunks. */
    const char *path = write_model("burst",
        "name: burst\ndt: 0.1 ms\nduration: 250 ms\n"
        "populations:\n"
        "  hot: {size: 3000, model: lif_curr_exp, params: {C: 10 pF, tau_m: 10 ms, E_L: -65 mV, V_th: -50 mV,"
        " V_reset: -65 mV, t_ref: 0 ms, I_e: 100 nA}}\n"
        "record: {spikes: all}\n");
    for (int mode = 0; mode < N_MODES; ++mode) {
        set_mode(mode);
        char out[512];
        snprintf(out, sizeof out, "%s/burst_%s.h5", tmpdir, modes[mode]);
        run(path, VL_BACKEND_CUDA, out, NULL, 0, 1, NULL, 0);
        check_mode(mode);
        spikes s = read_spikes(out, "hot");
        printf("  %s mode: %zu spikes recorded, expected %d\n", modes[mode], s.n, 3000 * 2500);
        assert_int_equal(s.n, 3000 * 2500);
        uint64_t *k = keys(&s, 0.1);
        for (size_t i = 1; i < s.n; ++i) assert_true(k[i] != k[i - 1]);
        free(k); free(s.t); free(s.id);
    }
    unsetenv("VOLLEY_CUDA_MODE");
}

/* Fixed-point accumulation: the CUDA backend repeats itself and equals the CPU backend bit for
 * bit, spike for spike, in recurrent networks where float atomics would reorder sums. */
static void deterministic_identical(const char *mode, const char *strategy) {
    const char *models[] = {"coba", "cuba"};
    g_deterministic = 1;
    setenv("VOLLEY_CUDA_MODE", mode, 1);
    if (strategy) setenv("VOLLEY_CUDA_PROPAGATE", strategy, 1);
    else unsetenv("VOLLEY_CUDA_PROPAGATE");
    for (int m = 0; m < 2; ++m) {
        const char *path = config(models[m]);
        char a[512], b[512], c[512];
        snprintf(a, sizeof a, "%s/det_cpu.h5", tmpdir);
        snprintf(b, sizeof b, "%s/det_gpu1.h5", tmpdir);
        snprintf(c, sizeof c, "%s/det_gpu2.h5", tmpdir);
        run(path, VL_BACKEND_CPU, a, NULL, 0, 2, NULL, 0);
        float cpu_max[2] = {g_max_v[0], g_max_v[1]};
        run(path, VL_BACKEND_CUDA, b, NULL, 0, 2, NULL, 0);
        run(path, VL_BACKEND_CUDA, c, NULL, 0, 2, NULL, 0);
        printf("  %s, %s propagation: %s\n", models[m], strategy ? strategy : "chosen", g_device);
        const char *pops[] = {"exc", "inh"};
        for (int p = 0; p < 2; ++p) {
            spikes x = read_spikes(a, pops[p]), y = read_spikes(b, pops[p]), z = read_spikes(c, pops[p]);
            uint64_t *kx = keys(&x, 0.1), *ky = keys(&y, 0.1), *kz = keys(&z, 0.1);
            double cpu_gpu = overlap(kx, x.n, ky, y.n), gpu_gpu = overlap(ky, y.n, kz, z.n);
            printf("    %s: cpu %zu, cuda %zu and %zu spikes; cpu=cuda %.4f%%, cuda=cuda %.4f%%; "
                   "highest v cpu %.4f cuda %.4f mV\n", pops[p], x.n, y.n, z.n, 100 * cpu_gpu, 100 * gpu_gpu,
                   cpu_max[p], g_max_v[p]);
            assert_true(x.n > 1000);
            assert_int_equal(y.n, z.n);
            assert_true(gpu_gpu == 1.0);
            assert_int_equal(x.n, y.n);
            assert_true(cpu_gpu == 1.0);
            assert_true(cpu_max[p] == g_max_v[p]);
            free(kx); free(ky); free(kz); free(x.t); free(x.id); free(y.t); free(y.id); free(z.t); free(z.id);
        }
        /* COBA's sampled state (v and both conductances of exc 0-9 every 0.5 ms) is the same bits. */
        const char *traces[] = {"/report/exc/data", "/report/exc/data_g_exc", "/report/exc/data_g_inh"};
        for (int q = 0; m == 0 && q < 3; ++q) {
            size_t n1, n2, same = 0;
            hid_t h1 = H5Fopen(a, H5F_ACC_RDONLY, H5P_DEFAULT), h2 = H5Fopen(b, H5F_ACC_RDONLY, H5P_DEFAULT);
            assert_true(h1 >= 0 && h2 >= 0);
            float *f1 = vt_read(h1, traces[q], H5T_NATIVE_FLOAT, sizeof(float), &n1);
            float *f2 = vt_read(h2, traces[q], H5T_NATIVE_FLOAT, sizeof(float), &n2);
            H5Fclose(h1);
            H5Fclose(h2);
            for (size_t i = 0; i < n1 && i < n2; ++i) same += f1[i] == f2[i];
            printf("    %s: %zu of %zu values identical\n", traces[q], same, n1);
            assert_true(n1 > 1000);
            assert_int_equal(n1, n2);
            assert_int_equal(same, n1);
            free(f1);
            free(f2);
        }
    }
    unsetenv("VOLLEY_CUDA_MODE");
    unsetenv("VOLLEY_CUDA_PROPAGATE");
    g_deterministic = 0;
}

/* Every execution mode, and in graph mode every propagation strategy forced on every projection
 * (kernels/propagate.h): the same additions whoever makes them, so the same spikes. */
static void test_det_graph(void **state) { (void)state; deterministic_identical("graph", NULL); }
static void test_det_block(void **state) { (void)state; deterministic_identical("block", NULL); }
static void test_det_cluster(void **state) { (void)state; deterministic_identical("cluster", NULL); }
/* Each block holding its own synapses (8 blocks for COBA-4000, no weights stored): the same
 * additions, so the CPU's spikes; and the runs did use that path (the device line says so). */
static void test_det_cluster_local(void **state) {
    (void)state;
    deterministic_identical("cluster-local", NULL);
    assert_non_null(strstr(g_device, "local synapses"));
}
static void test_det_thread(void **state) { (void)state; deterministic_identical("graph", "thread"); }
static void test_det_warp(void **state) { (void)state; deterministic_identical("graph", "warp"); }
static void test_det_split(void **state) { (void)state; deterministic_identical("graph", "split"); }
/* The update kernel's other launch shapes (kernels/neurons.cu): the same arithmetic per neuron. */
static void det_update(const char *shape) {
    setenv("VOLLEY_CUDA_UPDATE", shape, 1);
    deterministic_identical("graph", NULL);
    unsetenv("VOLLEY_CUDA_UPDATE");
    char want[64];
    snprintf(want, sizeof want, ", %s update", shape); /* the runs used it (the device line says so) */
    assert_non_null(strstr(g_device, want));
}
static void test_det_update_thread6(void **state) { (void)state; det_update("thread6"); }
/* COBA-4000 needs 16 blocks, far fewer than the stride kernel's wave (4 per SM): with 3 blocks its
 * warps take several groups of 32 each, so the striding path runs too. */
static void test_det_update_stride(void **state) {
    (void)state;
    setenv("VOLLEY_CUDA_STRIDE_BLOCKS", "3", 1);
    det_update("stride");
    unsetenv("VOLLEY_CUDA_STRIDE_BLOCKS");
}
static void test_det_update_bounds(void **state) { (void)state; det_update("bounds"); }

/* The propagate kernel loading 4 synapses per lane ahead (vl_scatter): the same additions. */
static void test_det_scatter4(void **state) {
    (void)state;
    setenv("VOLLEY_CUDA_SCATTER", "4", 1);
    deterministic_identical("graph", NULL);
    unsetenv("VOLLEY_CUDA_SCATTER");
    assert_non_null(strstr(g_device, ", scatter 4"));
}

/* Update and propagate launched with programmatic dependent launch (compute capability 9.0): each
 * waits for the kernel before it, so still the CPU's spikes. */
static void test_det_pdl(void **state) {
    (void)state;
    setenv("VOLLEY_CUDA_PDL", "1", 1);
    deterministic_identical("graph", NULL);
    unsetenv("VOLLEY_CUDA_PDL");
    printf("  (%s)\n", strstr(g_device, "dependent launch") ? "dependent launch used" : "no dependent launch on this device");
}

/* VOLLEY_CUDA_PROFILE times the first chunk kernel by kernel instead of replaying its graph: the
 * same launches, so still the CPU's spikes. */
static void test_det_profiled(void **state) {
    (void)state;
    setenv("VOLLEY_CUDA_PROFILE", "0", 1);
    deterministic_identical("graph", NULL);
    unsetenv("VOLLEY_CUDA_PROFILE");
}

/* Pattern inputs under a stimulus protocol draw the same spikes on both backends. */
static void test_pattern_identical(void **state) {
    (void)state;
    char yaml[4096], a[512], b[512];
    snprintf(yaml, sizeof yaml,
             "name: pat\ndt: 0.1 ms\nseed: 9\n"
             "populations:\n  sink: {size: 25, model: lif_cond_exp, params: {tau_exc: 5 ms}}\n"
             "inputs:\n  retina: {size: 500, model: pattern, pixels: 25, on_rate: 60 Hz, off_rate: 3 Hz}\n"
             "stimulus:\n  patterns: {A: %s/data/patterns/A.pgm, X: %s/data/patterns/X.pgm}\n"
             "  phases: [{cue: 100 ms}, {delay: 150 ms}, {probe: 100 ms}]\n"
             "  conditions: {AX: {cue: A, probe: X}, BX: {probe: X}}\n"
             "  trials: {count: 4, proportions: {AX: 0.5, BX: 0.5}}\n"
             "projections:\n  - {from: retina, to: sink, receptor: exc, connect: {fixed_indegree: 20}, weight: 5 nS}\n"
             "record: {spikes: all}\n",
             VOLLEY_SOURCE_DIR, VOLLEY_SOURCE_DIR);
    const char *path = write_model("pat", yaml);
    snprintf(a, sizeof a, "%s/pat_cpu.h5", tmpdir);
    snprintf(b, sizeof b, "%s/pat_gpu.h5", tmpdir);
    run(path, VL_BACKEND_CPU, a, NULL, 0, 9, NULL, 0);
    run(path, VL_BACKEND_CUDA, b, NULL, 0, 9, NULL, 0);
    spikes x = read_spikes(a, "retina"), y = read_spikes(b, "retina");
    uint64_t *kx = keys(&x, 0.1), *ky = keys(&y, 0.1);
    double ov = overlap(kx, x.n, ky, y.n);
    printf("  pattern input: cpu %zu, cuda %zu spikes, identical %.4f%%\n", x.n, y.n, 100 * ov);
    assert_true(x.n > 1000);
    assert_int_equal(x.n, y.n);
    assert_true(ov == 1.0);
    free(kx); free(ky); free(x.t); free(x.id); free(y.t); free(y.id);
}

/* Runs path (with the overrides sets) on the CPU and then the GPU in deterministic mode; their
 * outputs are <name>_cpu.h5 in a and <name>_gpu.h5 in b, and the CPU's highest v per population
 * is left in cpu_max (g_max_v holds the GPU's). */
static void det_runs(const char *path, const char *name, const char **sets, size_t n_sets, uint64_t seed, char *a,
                     char *b, float cpu_max[8]) {
    snprintf(a, 512, "%s/%s_cpu.h5", tmpdir, name);
    snprintf(b, 512, "%s/%s_gpu.h5", tmpdir, name);
    g_deterministic = 1;
    run(path, VL_BACKEND_CPU, a, sets, n_sets, seed, NULL, 0);
    memcpy(cpu_max, g_max_v, sizeof g_max_v);
    run(path, VL_BACKEND_CUDA, b, sets, n_sets, seed, NULL, 0);
    g_deterministic = 0;
    printf("  device: %s\n", g_device);
}

/* Requires population pop's spikes in files a and b to be the same (step, id) pairs, more than
 * min_spikes of them. */
static void same_spikes(const char *a, const char *b, const char *pop, size_t min_spikes) {
    spikes x = read_spikes(a, pop), y = read_spikes(b, pop);
    uint64_t *kx = keys(&x, 0.1), *ky = keys(&y, 0.1);
    double ov = overlap(kx, x.n, ky, y.n);
    printf("  %s, deterministic: cpu %zu, cuda %zu spikes, identical %.4f%%\n", pop, x.n, y.n, 100 * ov);
    assert_true(x.n > min_spikes);
    assert_int_equal(x.n, y.n);
    assert_true(ov == 1.0);
    free(kx); free(ky); free(x.t); free(x.id); free(y.t); free(y.id);
}

/* det_runs, then same_spikes for population pop. */
static void det_pair(const char *path, const char *name, uint64_t seed, const char *pop, size_t min_spikes, char *a,
                     char *b) {
    float cpu_max[8];
    det_runs(path, name, NULL, 0, seed, a, b, cpu_max);
    same_spikes(a, b, pop, min_spikes);
}

/* Short-term dynamics (both models) and the adaptation current on the GPU: in deterministic mode
 * the spike trains equal the CPU's exactly. */
static void test_stp_adaptation_identical(void **state) {
    (void)state;
    const char *path = write_model("stp",
        "name: stp\ndt: 0.1 ms\nduration: 500 ms\nseed: 4\n"
        "populations:\n"
        "  cells: {size: 300, model: lif_cond_exp, params: {C: 200 pF, g_L: 10 nS, E_L: -70 mV, V_th: -50 mV,"
        " V_reset: -60 mV, t_ref: 2 ms, a: 2 nS, b: 40 pA, tau_w: 150 ms}, receptors: {AMPA: {tau: 2 ms, E: 0 mV},"
        " NMDA: {tau: 100 ms, E: 0 mV, mg_block: 1 mM}}, background: {rate: 3000 Hz, weight: 1.5 nS, receptor: AMPA}}\n"
        "inputs:\n  drive: {size: 200, model: poisson, rate: 20 Hz}\n"
        "projections:\n"
        "  - {from: drive, to: cells, receptor: AMPA, connect: {fixed_probability: 0.1}, weight: 2 nS,"
        " short_term: {model: tsodyks_markram, U: 0.3, tau_rec: 200 ms, tau_fac: 100 ms}}\n"
        "  - {from: cells, to: cells, receptor: NMDA, connect: {fixed_probability: 0.2}, weight: 0.3 nS,"
        " short_term: {model: saturating, alpha: 0.5, tau: 100 ms}}\n"
        "record: {spikes: all}\n");
    char a[512], b[512];
    det_pair(path, "stp", 4, "cells", 500, a, b);
}

/* Noise: Brunel-Hakim (a Gaussian draw per neuron and step) in deterministic mode gives the CPU's
 * spikes exactly, since the normal draws use only correctly rounded operations and the call-free
 * vl_logf and vl_cos2pif (kernels/common.h), never libm's or CUDA's logf and cosf. */
static void test_noise_identical(void **state) {
    (void)state;
    char a[512], b[512];
    det_pair(config("brunel_hakim"), "noise", 1, "neurons", 10000, a, b);
}

/* The downscaled PD14 microcircuit (configs/pd14_small.yaml: fixed_total_number rows sorted by
 * target, per-synapse delays, a Poisson background counted by the search on the GPU and from a
 * table on the CPU, a DC per population) in deterministic mode: every population's spikes are the
 * CPU's, and the highest v of each population the same bits. */
static void test_pd14_identical(void **state) {
    (void)state;
    char a[512], b[512];
    const char *sets[] = {"duration=400 ms"};
    float cpu_max[8];
    det_runs(config("pd14_small"), "pd14", sets, 1, 1, a, b, cpu_max);
    const char *pops[] = {"L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"};
    for (int p = 0; p < 8; ++p) {
        same_spikes(a, b, pops[p], 50);
        printf("  %s: highest v cpu %.4f cuda %.4f mV\n", pops[p], cpu_max[p], g_max_v[p]);
        assert_true(cpu_max[p] == g_max_v[p]);
    }
}

/* The flagship model (configs/pfc_axcpt.yaml: pattern inputs under the AX-CPT protocol, three
 * receptors with an NMDA Mg2+ block, saturating short-term dynamics, a gate input) in
 * deterministic mode, four trials (one of each condition): the recorded spikes and every
 * population's binned rate (/rates, inputs and the unrecorded inhibitory pools too) equal the
 * CPU's, and the highest v of each population the same bits. */
static void test_axcpt_identical(void **state) {
    (void)state;
    char a[512], b[512];
    const char *sets[] = {"stimulus.trials=[AX, AY, BX, BY]"};
    float cpu_max[8];
    det_runs(config("pfc_axcpt"), "axcpt", sets, 1, 1, a, b, cpu_max);
    const char *recorded[] = {"letters", "pfc", "resp"};
    for (int p = 0; p < 3; ++p) same_spikes(a, b, recorded[p], 1000);
    const char *pops[] = {"letters", "letters_i", "pfc", "pfc_i", "resp", "resp_i", "retina", "gate"};
    hid_t fa = H5Fopen(a, H5F_ACC_RDONLY, H5P_DEFAULT), fb = H5Fopen(b, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(fa >= 0 && fb >= 0);
    for (int p = 0; p < 8; ++p) {
        char name[128];
        size_t na, nb, same = 0;
        double mean = 0;
        snprintf(name, sizeof name, "/rates/%s/rate", pops[p]);
        float *ra = vt_read(fa, name, H5T_NATIVE_FLOAT, sizeof(float), &na);
        float *rb = vt_read(fb, name, H5T_NATIVE_FLOAT, sizeof(float), &nb);
        for (size_t i = 0; i < na && i < nb; ++i) same += ra[i] == rb[i], mean += ra[i] / (double)na;
        printf("  rates of %s: %zu of %zu bins identical, mean %.2f Hz", pops[p], same, na, mean);
        if (p < 6) printf("; highest v cpu %.4f cuda %.4f mV", cpu_max[p], g_max_v[p]);
        printf("\n");
        assert_int_equal(na, 1000); /* 10 s in 10 ms bins */
        assert_int_equal(na, nb);
        assert_int_equal(same, na);
        assert_true(mean > 0.5);
        if (p < 6) assert_true(cpu_max[p] == g_max_v[p]);
        free(ra);
        free(rb);
    }
    H5Fclose(fa);
    H5Fclose(fb);
}

/* STDP on the GPU: in deterministic mode the Song-Abbott weights after 5 s equal the CPU's bit for
 * bit; in the default mode the distributions agree. */
static void test_stdp_matches_cpu(void **state) {
    (void)state;
    const char *path = config("stdp_song_abbott");
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/stdp_cpu.h5", tmpdir);
    snprintf(b, sizeof b, "%s/stdp_gpu.h5", tmpdir);
    const char *sets[] = {"duration=5 s"};
    for (int det = 1; det >= 0; --det) {
        g_deterministic = det;
        run(path, VL_BACKEND_CPU, a, sets, 1, 1, NULL, 0);
        run(path, VL_BACKEND_CUDA, b, sets, 1, 1, NULL, 0);
        size_t n1, n2, same = 0;
        size_t snaps;
        float *w1 = vt_read_weights(a, "inputs_to_out", -1, &n1, &snaps), *w2 = vt_read_weights(b, "inputs_to_out", -1, &n2, &snaps);
        assert_int_equal(n1, n2);
        double m1 = 0, m2 = 0;
        for (size_t i = 0; i < n1; ++i) same += w1[i] == w2[i], m1 += w1[i] / n1, m2 += w2[i] / n1;
        printf("  stdp %s: %zu of %zu weights identical, mean %.6f (cpu) %.6f (cuda) nS\n",
               det ? "deterministic" : "default", same, n1, m1, m2);
        if (det) assert_int_equal(same, n1);
        else assert_true(fabs(m1 - m2) < 0.05 * m1);
        free(w1);
        free(w2);
    }
    g_deterministic = 0;
}

/* Plastic projections with delays (feed-forward and recurrent) on the GPU: their spikes act on
 * arrival, kept in a device history; in deterministic mode the spikes and the final weights equal
 * the CPU's bit for bit. */
static void test_delayed_stdp_identical(void **state) {
    (void)state;
    const char *path = write_model("dstdp",
        "name: dstdp\ndt: 0.1 ms\nduration: 2 s\nseed: 5\n"
        "populations:\n"
        "  cells: {size: 120, model: lif_cond_exp, params: {C: 200 pF, g_L: 10 nS, E_L: -70 mV, V_th: -50 mV,"
        " V_reset: -60 mV, t_ref: 2 ms, tau_exc: 5 ms, tau_inh: 10 ms}}\n"
        "inputs:\n  drive: {size: 400, model: poisson, rate: 12 Hz}\n"
        "projections:\n"
        "  - {name: ff, from: drive, to: cells, receptor: exc, connect: {fixed_probability: 0.25}, delay: 1.5 ms,"
        " weight: {uniform: [0 nS, 1 nS]}, plasticity: {rule: stdp, tau_pre: 20 ms, tau_post: 20 ms,"
        " dA_pre: 0.01 nS, dA_post: -0.0105 nS, w_min: 0 nS, w_max: 1 nS}}\n"
        "  - {name: rec, from: cells, to: cells, receptor: exc, connect: {fixed_probability: 0.1}, delay: 3 ms,"
        " weight: 0.2 nS, plasticity: {rule: stdp, tau_pre: 15 ms, tau_post: 30 ms, dA_pre: 0.01 nS,"
        " dA_post: -0.008 nS, w_min: 0 nS, w_max: 1 nS, pairing: nearest, update: multiplicative}}\n"
        "record:\n  spikes: all\n  weights: [{projection: ff, every: 1 s}, {projection: rec, every: 1 s}]\n");
    char a[512], b[512];
    det_pair(path, "dstdp", 5, "cells", 500, a, b);
    const char *proj[] = {"ff", "rec"};
    for (int q = 0; q < 2; ++q) {
        size_t n1, n2, same = 0, moved = 0;
        size_t snaps;
        float *w1 = vt_read_weights(a, proj[q], -1, &n1, &snaps), *w2 = vt_read_weights(b, proj[q], -1, &n2, &snaps);
        assert_int_equal(n1, n2);
        for (size_t i = 0; i < n1; ++i) same += w1[i] == w2[i], moved += q == 1 && w1[i] != 0.2f;
        printf("  %s: %zu of %zu weights identical", proj[q], same, n1);
        if (q == 1) printf(", %zu moved from their initial 0.2 nS", moved);
        printf("\n");
        assert_true(n1 > 100);
        assert_int_equal(same, n1);
        if (q == 1) assert_true(moved > n1 / 10); /* the recurrent rule did act */
        free(w1);
        free(w2);
    }
}

/* The device memory plan (DESIGN.md): a model that cannot fit the device is refused before
 * anything is allocated, with the numbers, not a CUDA error mid-run. The host plan lets it
 * through: on the CUDA backend the host holds only the 114 MiB network. */
static void test_too_big_refused(void **state) {
    (void)state;
    char msg[2048];
    assert_int_equal(vt_create(write_model("too_big", VT_TOO_BIG_MODEL), VL_BACKEND_CUDA, msg, sizeof msg),
                     VL_ERR_NOMEM);
    const char *need = strstr(msg, "needs ");
    assert_non_null(need);
    assert_true(atof(need + 6) > 400.0); /* GiB, the ring buffers alone */
    assert_non_null(strstr(msg, "GiB are free"));
}

/* With an argument, runs the tests whose names match it (cmocka's filter, e.g. test_det_cluster):
 * ctest runs each test in its own process, so a device fault in one cannot poison the others. */
int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feedforward_identical),
        cmocka_unit_test(test_every_step_recorded),
        cmocka_unit_test(test_rates_agree),
        cmocka_unit_test(test_det_graph),
        cmocka_unit_test(test_det_block),
        cmocka_unit_test(test_det_cluster),
        cmocka_unit_test(test_det_cluster_local),
        cmocka_unit_test(test_det_thread),
        cmocka_unit_test(test_det_warp),
        cmocka_unit_test(test_det_split),
        cmocka_unit_test(test_det_profiled),
        cmocka_unit_test(test_det_pdl),
        cmocka_unit_test(test_det_update_thread6),
        cmocka_unit_test(test_det_update_stride),
        cmocka_unit_test(test_det_update_bounds),
        cmocka_unit_test(test_det_scatter4),
        cmocka_unit_test(test_stdp_matches_cpu),
        cmocka_unit_test(test_pattern_identical),
        cmocka_unit_test(test_stp_adaptation_identical),
        cmocka_unit_test(test_delayed_stdp_identical),
        cmocka_unit_test(test_noise_identical),
        cmocka_unit_test(test_pd14_identical),
        cmocka_unit_test(test_axcpt_identical),
        cmocka_unit_test(test_too_big_refused),
    };
    if (argc > 1) { /* a name that matches no test would pass silently: refuse it */
        size_t i = 0;
        while (i < sizeof tests / sizeof tests[0] && strcmp(tests[i].name, argv[1]) != 0) ++i;
        if (i == sizeof tests / sizeof tests[0]) {
            fprintf(stderr, "no test named %s\n", argv[1]);
            return 2;
        }
        cmocka_set_test_filter(argv[1]);
    }
    char buf[256];
    if (vl_devices_describe(buf, sizeof buf) <= 0) {
        printf("no usable CUDA device: skipped\n");
        return 77;
    }
    printf("device: %s", buf);
    const char *cc = strstr(buf, "compute capability ");
    g_cc_major = cc ? atoi(cc + strlen("compute capability ")) : 0;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/volley-gpu-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
