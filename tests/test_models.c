/* Whole benchmark models on the CPU backend: COBA (Vogels & Abbott 2005, Brette et al. 2007
 * benchmark 1) and CUBA (benchmark 2) over seeds 1..4 against the rates Brian2 2.5.1 gives for
 * the same model and kick (COBA 18.4-22.9 Hz per seed, mean about 19.9 Hz; CUBA 5.5-5.6 Hz),
 * the Poisson kick and the synapse count against their binomial/Poisson statistics, and
 * bit-identical spike trains for 1 and 2 OpenMP threads and for the baseline and AVX2 builds of the
 * CPU code. */
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

#include "volley/volley.h"

static char g_dir[1024];

typedef struct run_out {
    double rate[8];
    uint64_t spikes[8];
    char names[8][64];
    size_t n_pops;
    uint64_t n_synapses, steps;
    char device[64];
} run_out;

/* Runs configs/<name>.yaml (with --set overrides) with the given seed and thread count (0: default);
 * h5 may be NULL. */
static void run_config_set(const char *name, const char **sets, size_t n_sets, uint64_t seed, int threads,
                           const char *h5, run_out *o) {
    char path[1200];
    snprintf(path, sizeof path, "%s/configs/%s.yaml", VOLLEY_SOURCE_DIR, name);
    vl_model *m = NULL;
    if (vl_model_load(path, sets, n_sets, &m) != VL_OK) fail_msg("%s refused: %s", path, vl_model_error(m));
    vl_sim_options opt;
    memset(&opt, 0, sizeof opt);
    opt.output = h5;
    opt.backend = VL_BACKEND_CPU;
    opt.have_seed = 1;
    opt.seed = seed;
    opt.threads = threads;
    vl_sim *s = NULL;
    if (vl_sim_create(m, &opt, &s) != VL_OK) fail_msg("%s: sim_create: %s", name, vl_sim_error(s));
    if (vl_sim_run(s) != VL_OK) fail_msg("%s: run: %s", name, vl_sim_error(s));
    const vl_run_result *r = vl_sim_result(s);
    assert_true(r->complete);
    assert_int_equal(r->steps_done, r->n_steps);
    assert_true(r->n_pops <= 8);
    memset(o, 0, sizeof *o);
    o->n_pops = r->n_pops;
    o->n_synapses = r->n_synapses;
    o->steps = r->steps_done;
    snprintf(o->device, sizeof o->device, "%s", r->device);
    for (size_t i = 0; i < r->n_pops; ++i) {
        o->rate[i] = r->pops[i].rate_hz;
        o->spikes[i] = r->pops[i].spikes;
        snprintf(o->names[i], sizeof o->names[i], "%s", r->pops[i].name);
        /* the rate is the spike count over size and duration */
        double dur_s = r->steps_done * vl_model_dt(m) * 1e-3;
        assert_true(fabs(o->rate[i] - r->pops[i].spikes / (r->pops[i].size * dur_s)) < 1e-9 * (1 + o->rate[i]));
    }
    vl_sim_destroy(s);
    vl_model_destroy(m);
}

static void run_config(const char *name, uint64_t seed, int threads, const char *h5, run_out *o) {
    run_config_set(name, NULL, 0, seed, threads, h5, o);
}

static int pop_of(const run_out *o, const char *name) {
    for (size_t i = 0; i < o->n_pops; ++i)
        if (!strcmp(o->names[i], name)) return (int)i;
    fail_msg("no population %s", name);
    return -1;
}

static void test_coba_rates(void **st) {
    (void)st;
    const char *pops[] = {"exc", "inh"};
    double sum[2] = {0, 0};
    uint64_t kick = 0;
    for (uint64_t seed = 1; seed <= 4; ++seed) {
        run_out o;
        run_config("coba", seed, 0, NULL, &o);
        for (int p = 0; p < 2; ++p) {
            double r = o.rate[pop_of(&o, pops[p])];
            printf("coba seed %llu %s: %.2f Hz\n", (unsigned long long)seed, pops[p], r);
            if (r < 16 || r > 24) fail_msg("COBA seed %llu: %s at %.2f Hz, outside [16, 24]", (unsigned long long)seed,
                                           pops[p], r);
            sum[p] += r;
        }
        kick += o.spikes[pop_of(&o, "kick")];
        /* p = 0.02 over 4000 x 4000 pairs, p = 0.01 over 20 x 4000 */
        double mu = 0.02 * 16e6 + 0.01 * 80000, sd = sqrt(16e6 * 0.02 * 0.98 + 80000 * 0.01 * 0.99);
        if (fabs((double)o.n_synapses - mu) > 5 * sd)
            fail_msg("COBA: %llu synapses, expected %.0f +- %.0f", (unsigned long long)o.n_synapses, mu, 5 * sd);
    }
    /* the kick: 20 Poisson sources at 100 Hz for 50 ms, 100 spikes per seed, 400 (sd 20) in all */
    if (fabs((double)kick - 400) > 5 * 20)
        fail_msg("COBA: the kick emitted %llu spikes over 4 seeds, expected 400 +- 100", (unsigned long long)kick);
    for (int p = 0; p < 2; ++p) {
        double mean = sum[p] / 4;
        printf("coba mean %s: %.2f Hz\n", pops[p], mean);
        if (mean < 18 || mean > 20.5) fail_msg("COBA: mean %s rate over seeds 1-4 is %.2f Hz, outside [18, 20.5]",
                                               pops[p], mean);
    }
}

static void test_cuba_rates(void **st) {
    (void)st;
    const char *pops[] = {"exc", "inh"};
    double sum[2] = {0, 0};
    for (uint64_t seed = 1; seed <= 4; ++seed) {
        run_out o;
        run_config("cuba", seed, 0, NULL, &o);
        for (int p = 0; p < 2; ++p) {
            double r = o.rate[pop_of(&o, pops[p])];
            printf("cuba seed %llu %s: %.2f Hz\n", (unsigned long long)seed, pops[p], r);
            sum[p] += r;
        }
    }
    for (int p = 0; p < 2; ++p) {
        double mean = sum[p] / 4;
        printf("cuba mean %s: %.2f Hz\n", pops[p], mean);
        if (mean < 5.2 || mean > 6.0) fail_msg("CUBA: mean %s rate over seeds 1-4 is %.2f Hz, outside [5.2, 6.0]",
                                               pops[p], mean);
    }
}

static size_t h5_read_u64(const char *file, const char *name, uint64_t **out, int as_double) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) fail_msg("cannot open %s", file);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) fail_msg("no dataset %s in %s", name, file);
    hid_t sp = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    *out = malloc((n ? n : 1) * 8);
    if (n && H5Dread(d, as_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
        fail_msg("cannot read %s", name);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return (size_t)n;
}

/* Same seed, run A (threads_a, VOLLEY_CPU_ISA=isa_a when not NULL) against run B (threads_b,
 * isa_b): identical counts, spike trains and (when recorded) state traces. how: "with 1 and 2
 * threads" and the like, for the messages. Leaves the runs' summaries in *ra and *rb. */
static void expect_identical_runs(const char *model, const char *tag, const char **sets, size_t n_sets, int threads_a,
                                  const char *isa_a, int threads_b, const char *isa_b, const char *how, run_out *ra,
                                  run_out *rb) {
    char h1[1200], h2[1200];
    snprintf(h1, sizeof h1, "%s/%s_a.h5", g_dir, tag);
    snprintf(h2, sizeof h2, "%s/%s_b.h5", g_dir, tag);
    run_out a, b;
    if (isa_a) setenv("VOLLEY_CPU_ISA", isa_a, 1);
    run_config_set(model, sets, n_sets, 1, threads_a, h1, &a);
    unsetenv("VOLLEY_CPU_ISA");
    if (isa_b) setenv("VOLLEY_CPU_ISA", isa_b, 1);
    run_config_set(model, sets, n_sets, 1, threads_b, h2, &b);
    unsetenv("VOLLEY_CPU_ISA");
    assert_int_equal(a.n_synapses, b.n_synapses);
    for (size_t i = 0; i < a.n_pops; ++i)
        if (a.spikes[i] != b.spikes[i])
            fail_msg("%s %s: %llu against %llu spikes %s", model, a.names[i], (unsigned long long)a.spikes[i],
                     (unsigned long long)b.spikes[i], how);
    const char *pops[] = {"exc", "inh"};
    for (int p = 0; p < 2; ++p) {
        char ds[128];
        const char *what[] = {"timestamps", "node_ids"};
        for (int w = 0; w < 2; ++w) {
            snprintf(ds, sizeof ds, "/spikes/%s/%s", pops[p], what[w]);
            uint64_t *x, *y;
            size_t nx = h5_read_u64(h1, ds, &x, w == 0), ny = h5_read_u64(h2, ds, &y, w == 0);
            assert_int_equal(nx, ny);
            assert_int_equal(nx, a.spikes[pop_of(&a, pops[p])]);
            if (memcmp(x, y, nx * 8)) fail_msg("%s: %s differs %s", tag, ds, how);
            free(x);
            free(y);
        }
    }
    if (!strcmp(model, "coba")) { /* the sampled v and conductances, bit for bit */
        const char *traces[] = {"/report/exc/data", "/report/exc/data_g_exc", "/report/exc/data_g_inh"};
        hid_t f1 = H5Fopen(h1, H5F_ACC_RDONLY, H5P_DEFAULT), f2 = H5Fopen(h2, H5F_ACC_RDONLY, H5P_DEFAULT);
        assert_true(f1 >= 0 && f2 >= 0);
        for (int q = 0; q < 3; ++q) {
            size_t nx, ny;
            float *x = vt_read(f1, traces[q], H5T_NATIVE_FLOAT, sizeof(float), &nx);
            float *y = vt_read(f2, traces[q], H5T_NATIVE_FLOAT, sizeof(float), &ny);
            assert_true(nx > 1000);
            assert_int_equal(nx, ny);
            if (memcmp(x, y, nx * sizeof(float))) fail_msg("%s: %s differs %s", tag, traces[q], how);
            free(x);
            free(y);
        }
        H5Fclose(f1);
        H5Fclose(f2);
    }
    printf("  %s: %llu exc spikes, identical %s (%s; %s)\n", tag, (unsigned long long)a.spikes[0], how, a.device,
           b.device);
    if (ra) *ra = a;
    if (rb) *rb = b;
}

static void expect_thread_independent(const char *model, const char *tag, const char **sets, size_t n_sets) {
    expect_identical_runs(model, tag, sets, n_sets, 1, NULL, 2, NULL, "with 1 and 2 threads", NULL, NULL);
}

static void test_threads_identical(void **st) {
    (void)st;
    expect_thread_independent("coba", "coba", NULL, 0);
    expect_thread_independent("cuba", "cuba", NULL, 0);
    /* Dense and driven (about 1.5e4 synaptic additions per step): propagation runs on both
     * threads, each adding into its own range of targets. Weights are drawn, so that a different
     * order of additions would show in the sums, and the traced neurons span both ranges. */
    const char *dense[] = {"duration=300 ms", "projections.exc_rec.connect.fixed_probability=0.2",
                           "projections.exc_rec.weight={uniform: [0.3 nS, 0.9 nS]}",
                           "projections.inh_rec.connect.fixed_probability=0.2",
                           "projections.inh_rec.weight={uniform: [3 nS, 10 nS]}", "inputs.kick.stop=1 s",
                           "inputs.kick.size=200", "record.state.0.neurons=[5, 900, 1700, 2500, 3199]"};
    expect_thread_independent("coba", "coba_dense", dense, sizeof dense / sizeof dense[0]);
    /* Rows generated in random target order (fixed_total_number, sorted when built) with per-synapse
     * delays: each thread finds its range of targets in a row by bisection. */
    const char *total[] = {"duration=300 ms", "projections.exc_rec.connect={fixed_total_number: 1280000}",
                           "projections.exc_rec.weight={uniform: [0.15 nS, 0.45 nS]}",
                           "projections.exc_rec.delay={uniform: [0.1 ms, 2 ms]}", "inputs.kick.stop=1 s",
                           "inputs.kick.size=200", "record.state.0.neurons=[5, 900, 1700, 2500, 3199]"};
    expect_thread_independent("coba", "coba_total_delays", total, sizeof total / sizeof total[0]);
}

/* The CPU code built for AVX2 (src/sim/cpu_avx2.c, picked at run time) gives the baseline build's
 * bits: COBA with its traces, the dense driven COBA (two threads adding into their own ranges)
 * and Brunel-Hakim (a normal draw per neuron and step). The default run must name AVX2 on a CPU
 * that has it whenever the build has it; without either there is nothing to compare. */
static void test_isa_identical(void **st) {
    (void)st;
    vl_build_info bi;
    vl_build_info_get(&bi);
    if (!bi.avx2_compiled || !bi.avx2_used) {
        printf("  no AVX2 build or no AVX2 here (compiled %d, used %d): nothing to compare\n", bi.avx2_compiled,
               bi.avx2_used);
        skip();
    }
    run_out a, b;
    expect_identical_runs("coba", "coba_isa", NULL, 0, 2, "baseline", 2, NULL, "in the baseline and AVX2 builds", &a, &b);
    assert_string_equal(a.device, "CPU");
    assert_string_equal(b.device, "CPU, AVX2");
    const char *dense[] = {"duration=300 ms", "projections.exc_rec.connect.fixed_probability=0.2",
                           "projections.exc_rec.weight={normal: [0.6 nS, 0.2 nS], min: 0.1 nS}",
                           "projections.inh_rec.connect.fixed_probability=0.2",
                           "projections.inh_rec.weight={uniform: [3 nS, 10 nS]}", "inputs.kick.stop=1 s",
                           "inputs.kick.size=200", "record.state.0.neurons=[5, 900, 1700, 2500, 3199]"};
    expect_identical_runs("coba", "coba_dense_isa", dense, sizeof dense / sizeof dense[0], 2, "baseline", 2, NULL,
                          "in the baseline and AVX2 builds", NULL, NULL);
    const char *bh[] = {"duration=300 ms"};
    char h1[1200], h2[1200];
    snprintf(h1, sizeof h1, "%s/bh_base.h5", g_dir);
    snprintf(h2, sizeof h2, "%s/bh_avx2.h5", g_dir);
    setenv("VOLLEY_CPU_ISA", "baseline", 1);
    run_config_set("brunel_hakim", bh, 1, 1, 2, h1, &a);
    unsetenv("VOLLEY_CPU_ISA");
    run_config_set("brunel_hakim", bh, 1, 1, 2, h2, &b);
    assert_true(a.spikes[0] > 1000);
    assert_int_equal(a.spikes[0], b.spikes[0]);
    const char *what[] = {"/spikes/neurons/timestamps", "/spikes/neurons/node_ids"};
    for (int w = 0; w < 2; ++w) {
        uint64_t *x, *y;
        size_t nx = h5_read_u64(h1, what[w], &x, w == 0), ny = h5_read_u64(h2, what[w], &y, w == 0);
        assert_int_equal(nx, ny);
        if (memcmp(x, y, nx * 8)) fail_msg("brunel_hakim: %s differs in the baseline and AVX2 builds", what[w]);
        free(x);
        free(y);
    }
    printf("  brunel_hakim: %llu spikes, identical in the baseline and AVX2 builds\n", (unsigned long long)a.spikes[0]);
}

static int setup(void **st) {
    (void)st;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(g_dir, sizeof g_dir, "%s/models-XXXXXX", VOLLEY_TEST_TMP);
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    return vt_remove_dir(g_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coba_rates),
        cmocka_unit_test(test_cuba_rates),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_isa_identical),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
