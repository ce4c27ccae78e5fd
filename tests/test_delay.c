/* Synaptic delays through the whole engine (DESIGN.md schedule): a spike emitted at step t over a
 * projection with delay_steps d is added to the target at the start of step t + 1 + d, with
 * d = round(delay / dt). Single input spikes drive lif_delta neurons across threshold (so the
 * target spikes in exactly the arrival step) and a recorded g_exc trace shows the arrival step
 * of a sub-threshold conductance. Spike times are read back from the HDF5 output. */
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
static char g_h5[1200];

#define DT 0.1

/* Input spike steps (37.3 ms / 0.1 ms = 372.99999999999994 must round to 373). The ring of
 * the deepest target has 27 slots, so later spikes reuse slots many times over. */
static const long in_steps[] = {0, 10, 100, 373, 800};
#define N_IN (sizeof in_steps / sizeof in_steps[0])

static const char *model_text(void) {
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "name: delay\n"
             "dt: 0.1 ms\n"
             "duration: 100 ms\n"
             "populations:\n"
             "  tgt:\n"
             "    size: 4\n"
             "    model: lif_delta\n"
             "    params: {C: 250 pF, tau_m: 10 ms, E_L: -65 mV, V_th: -50 mV, V_reset: -65 mV, t_ref: 0.5 ms}\n"
             "  ftgt:\n"
             "    size: 3\n"
             "    model: lif_delta\n"
             "    params: {C: 250 pF, tau_m: 10 ms, E_L: -65 mV, V_th: -50 mV, V_reset: -65 mV, t_ref: 0.5 ms}\n"
             "  hop:\n"
             "    size: 1\n"
             "    model: lif_delta\n"
             "    params: {C: 250 pF, tau_m: 10 ms, E_L: -65 mV, V_th: -50 mV, V_reset: -65 mV, t_ref: 0.5 ms}\n"
             "  cond:\n"
             "    size: 1\n"
             "    model: lif_cond_exp\n"
             "    params: {tau_exc: 2 ms}\n"
             "inputs:\n"
             "  in: {size: 1, model: spike_times, spikes: [[0, 0 ms], [0, 1 ms], [0, 10 ms], [0, 37.3 ms], [0, 80 ms]]}\n"
             "projections:\n"
             "  - {from: in, to: \"tgt[0]\", receptor: exc, connect: all_to_all, weight: 30 mV}\n"
             "  - {from: in, to: \"tgt[1]\", receptor: exc, connect: all_to_all, weight: 30 mV, delay: 0.1 ms}\n"
             "  - {from: in, to: \"tgt[2]\", receptor: exc, connect: all_to_all, weight: 30 mV, delay: 0.7 ms}\n"
             "  - {from: in, to: \"tgt[3]\", receptor: exc, connect: all_to_all, weight: 30 mV, delay: 2.5 ms}\n"
             "  - {from: in, to: ftgt, receptor: exc, connect: {file: %s/tests/data/delay_conn.csv},"
             " weight: file, delay: file}\n"
             "  - {from: \"tgt[3]\", to: hop, receptor: exc, connect: all_to_all, weight: 30 mV, delay: 1.2 ms}\n"
             "  - {from: in, to: cond, receptor: exc, connect: all_to_all, weight: 1 nS, delay: 0.7 ms}\n"
             "record:\n"
             "  spikes: all\n"
             "  state: [{population: cond, variables: [g_exc], neurons: [0]}]\n",
             VOLLEY_SOURCE_DIR);
    return buf;
}

static size_t h5_read(const char *name, double **out) {
    hid_t f = H5Fopen(g_h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) fail_msg("cannot open %s", g_h5);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) fail_msg("no dataset %s", name);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 1};
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    size_t n = (size_t)dims[0] * (rank > 1 ? (size_t)dims[1] : 1);
    *out = malloc((n ? n : 1) * sizeof **out);
    if (n && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) fail_msg("cannot read %s", name);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return n;
}

/* Spike steps of neuron id of population pop, in file order. */
static size_t spike_steps(const char *pop, uint32_t id, long *out, size_t max) {
    char a[128], b[128];
    snprintf(a, sizeof a, "/spikes/%s/timestamps", pop);
    snprintf(b, sizeof b, "/spikes/%s/node_ids", pop);
    double *ts, *ids;
    size_t n = h5_read(a, &ts), m = h5_read(b, &ids), k = 0;
    assert_int_equal(n, m);
    for (size_t i = 0; i < n; ++i) {
        if ((uint32_t)ids[i] != id) continue;
        double steps = ts[i] / DT;
        /* timestamps are step * dt */
        if (fabs(steps - nearbyint(steps)) > 1e-6) fail_msg("%s[%u]: timestamp %.17g is not a multiple of dt", pop, id, ts[i]);
        if (k < max) out[k] = lround(steps);
        ++k;
    }
    free(ts);
    free(ids);
    return k;
}

static void expect_arrivals(const char *pop, uint32_t id, long extra) {
    long got[32];
    size_t n = spike_steps(pop, id, got, 32);
    if (n != N_IN) fail_msg("%s[%u]: %zu spikes, expected %zu", pop, id, n, N_IN);
    for (size_t k = 0; k < N_IN; ++k)
        if (got[k] != in_steps[k] + extra)
            fail_msg("%s[%u]: spike %zu at step %ld, expected %ld (input step %ld + %ld)", pop, id, k, got[k],
                     in_steps[k] + extra, in_steps[k], extra);
}

static void test_input_spike_times(void **st) {
    (void)st;
    expect_arrivals("in", 0, 0);
}

/* Constant delays of 0, 1, 7 and 25 steps: the target fires at t + 1 + d. */
static void test_constant_delays(void **st) {
    (void)st;
    expect_arrivals("tgt", 0, 1 + 0);
    expect_arrivals("tgt", 1, 1 + 1);
    expect_arrivals("tgt", 2, 1 + 7);
    expect_arrivals("tgt", 3, 1 + 25);
}

/* Per-synapse delays (from a connection file) of 2, 5 and 13 steps. */
static void test_per_synapse_delays(void **st) {
    (void)st;
    expect_arrivals("ftgt", 0, 1 + 2);
    expect_arrivals("ftgt", 1, 1 + 5);
    expect_arrivals("ftgt", 2, 1 + 13);
}

/* Two hops add up: in -> tgt[3] (25 steps) -> hop (12 steps). */
static void test_two_hops(void **st) {
    (void)st;
    expect_arrivals("hop", 0, (1 + 25) + (1 + 12));
}

/* The recorded conductance (state at the start of the step, with the input that arrived for
 * that step) is zero until step t + 1 + 7 and jumps to the weight exactly then. */
static void test_conductance_arrival(void **st) {
    (void)st;
    double *g;
    size_t n = h5_read("/report/cond/data", &g);
    assert_int_equal(n, 1000);
    for (size_t k = 0; k < N_IN; ++k) {
        long at = in_steps[k] + 1 + 7;
        double before = at > 0 ? g[at - 1] : 0, jump = g[at] - before * exp(-DT / 2);
        if (fabs(jump - 1.0) > 1e-4)
            fail_msg("input %zu: g_exc jumps by %.6f nS at step %ld (frames %.6f -> %.6f), expected 1 nS", k, jump, at,
                     before, g[at]);
    }
    for (long t = 0; t < 8; ++t) assert_true(g[t] == 0.0); /* nothing before the first arrival */
    free(g);
}

static int setup(void **st) {
    (void)st;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(g_dir, sizeof g_dir, "%s/delay-XXXXXX", VOLLEY_TEST_TMP);
    if (!mkdtemp(g_dir)) return -1;
    char path[1200];
    snprintf(path, sizeof path, "%s/delay.yaml", g_dir);
    snprintf(g_h5, sizeof g_h5, "%s/delay.h5", g_dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(model_text(), f);
    fclose(f);
    vl_model *m = NULL;
    if (vl_model_load(path, NULL, 0, &m) != VL_OK) {
        fprintf(stderr, "model refused: %s\n", vl_model_error(m));
        return -1;
    }
    vl_sim_options opt;
    memset(&opt, 0, sizeof opt);
    opt.output = g_h5;
    opt.backend = VL_BACKEND_CPU;
    vl_sim *s = NULL;
    int rc = vl_sim_create(m, &opt, &s) == VL_OK && vl_sim_run(s) == VL_OK ? 0 : -1;
    if (rc) fprintf(stderr, "run failed: %s\n", vl_sim_error(s));
    vl_sim_destroy(s);
    vl_model_destroy(m);
    return rc;
}

static int teardown(void **st) {
    (void)st;
    return vt_remove_dir(g_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_spike_times),
        cmocka_unit_test(test_constant_delays),
        cmocka_unit_test(test_per_synapse_delays),
        cmocka_unit_test(test_two_hops),
        cmocka_unit_test(test_conductance_arrival),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
