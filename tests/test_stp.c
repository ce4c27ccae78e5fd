/* Short-term dynamics (kernels/stp.h) against their recursions computed here in double
 * precision: each presynaptic spike of a regular train makes a lif_delta target without leak jump
 * by w * factor, which the recorded v shows exactly. */
#include <hdf5.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "volley/volley.h"
#include "testutil.h"

#define N_SPIKES 12
#define PERIOD 20.0 /* ms */
#define FIRST 10.0

/* Runs a regular train through a projection with the given short_term block and returns the
 * v jumps (mV) it caused, one per spike, read from the recorded v (every step). */
static void jumps(const char *short_term, double *out) {
    char h5[1024], spikes[2048] = "", yaml[4096];
    for (int k = 0; k < N_SPIKES; ++k) {
        char one[64];
        snprintf(one, sizeof one, "%s[0, %g ms]", k ? ", " : "", FIRST + PERIOD * k);
        strcat(spikes, one);
    }
    snprintf(yaml, sizeof yaml,
             "name: stp\ndt: 0.1 ms\nduration: %g ms\n"
             "populations:\n"
             "  cell: {size: 1, model: lif_delta, params: {C: 250 pF, tau_m: 1e9 ms, E_L: 0 mV, V_th: 1e6 mV,"
             " V_reset: 0 mV, t_ref: 0 ms}, init: {v: 0 mV}}\n"
             "inputs:\n  train: {size: 1, model: spike_times, spikes: [%s]}\n"
             "projections:\n  - {from: train, to: cell, receptor: exc, connect: all_to_all, weight: 2 mV,"
             " delay: 1 ms, short_term: %s}\n"
             "record: {spikes: none, state: [{population: cell, variables: [v], neurons: [0], every: 0.1 ms}]}\n",
             FIRST + PERIOD * N_SPIKES + 5, spikes, short_term);
    snprintf(h5, sizeof h5, "%s", vt_path("stp.h5"));
    vt_run(vt_write("stp_model.yaml", yaml), NULL, 0, h5);
    hid_t fh = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(fh, "/report/cell/data", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    float *v = calloc(dims[0] * dims[1], sizeof *v);
    assert_true(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(fh);
    /* A spike at step s with delay 10 steps is added to v during step s + 11: v sampled at the
     * start of step s + 12 minus v at the start of step s + 11. */
    for (int k = 0; k < N_SPIKES; ++k) {
        size_t s0 = (size_t)llround((FIRST + PERIOD * k) / 0.1) + 11;
        out[k] = (double)v[s0 + 1] - v[s0];
    }
    free(v);
}

static void test_tsodyks_markram(void **state) {
    (void)state;
    const double U = 0.4, tau_rec = 300, tau_fac = 150;
    double got[N_SPIKES];
    jumps("{model: tsodyks_markram, U: 0.4, tau_rec: 300 ms, tau_fac: 150 ms}", got);
    double u = U, x = 1, last = 0;
    for (int k = 0; k < N_SPIKES; ++k) { /* NEST tsodyks2_synapse */
        double t = FIRST + PERIOD * k, h = t - last;
        last = t;
        x = 1 + (x - x * u - 1) * exp(-h / tau_rec);
        u = U + u * (1 - U) * exp(-h / tau_fac);
        double want = 2.0 * u * x;
        printf("  spike %2d: jump %.6f mV, expected %.6f mV\n", k, got[k], want);
        assert_true(fabs(got[k] - want) < 1e-4 * want + 1e-6);
    }
}

static void test_tsodyks_markram_depressing(void **state) {
    (void)state;
    double got[N_SPIKES];
    jumps("{model: tsodyks_markram, U: 0.8, tau_rec: 500 ms}", got); /* tau_fac 0: u = U */
    double x = 1, last = 0;
    for (int k = 0; k < N_SPIKES; ++k) {
        double t = FIRST + PERIOD * k, h = t - last;
        last = t;
        x = 1 + (x - x * 0.8 - 1) * exp(-h / 500.0);
        assert_true(fabs(got[k] - 2.0 * 0.8 * x) < 1e-4);
    }
    assert_true(got[N_SPIKES - 1] < 0.5 * got[0]); /* depression */
}

static void test_saturating(void **state) {
    (void)state;
    double got[N_SPIKES];
    jumps("{model: saturating, alpha: 0.6, tau: 100 ms}", got);
    double s = 0, last = 0;
    for (int k = 0; k < N_SPIKES; ++k) {
        double t = FIRST + PERIOD * k;
        double sm = s * exp(-(t - last) / 100.0), f = 0.6 * (1 - sm);
        last = t;
        s = sm + f;
        printf("  spike %2d: jump %.6f mV, expected %.6f mV (s = %.4f)\n", k, got[k], 2 * f, s);
        assert_true(fabs(got[k] - 2 * f) < 1e-4);
        assert_true(s < 1.0);
    }
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsodyks_markram),
        cmocka_unit_test(test_tsodyks_markram_depressing),
        cmocka_unit_test(test_saturating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
