/* Stimulus protocols: pattern inputs fire at on_rate on the shown pattern's pixels and off_rate
 * elsewhere, trials are drawn with the requested proportions (binomial bounds) or taken from a
 * list, and /volley/trials records phase onsets, conditions and patterns exactly. */
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

static char model_path[1024], out_path[1024];

static vl_status load(const char *yaml, vl_model **m) {
    snprintf(model_path, sizeof model_path, "%s/protocol_model.yaml", VOLLEY_TEST_TMP);
    FILE *f = fopen(model_path, "w");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);
    return vl_model_load(model_path, NULL, 0, m);
}

static void run(const char *yaml) {
    snprintf(out_path, sizeof out_path, "%s", vt_path("protocol.h5"));
    vt_run(vt_write("protocol_model.yaml", yaml), NULL, 0, out_path);
}

static char yaml_buf[8192];

/* A 2-pixel-row test pattern pair written as plain text, and a protocol over them. */
static const char *protocol(const char *trials, const char *extra) {
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/protocol_a.txt", VOLLEY_TEST_TMP);
    snprintf(b, sizeof b, "%s/protocol_b.txt", VOLLEY_TEST_TMP);
    FILE *f = fopen(a, "w");
    fputs("1 1 0 0\n0 0 0 0\n", f); /* pixels 0, 1 on */
    fclose(f);
    f = fopen(b, "w");
    fputs("0 0 0 0\n0 0 1 1\n", f); /* pixels 6, 7 on */
    fclose(f);
    snprintf(yaml_buf, sizeof yaml_buf,
             "name: protocol\ndt: 0.1 ms\nseed: 5\n%s"
             "populations:\n  sink: {size: 1, model: lif_delta}\n"
             "inputs:\n  retina: {size: 400, model: pattern, pixels: 8, on_rate: 100 Hz, off_rate: 5 Hz}\n"
             "stimulus:\n  patterns: {A: %s, B: %s}\n"
             "  phases: [{cue: 200 ms}, {delay: 300.04 ms}, {probe: 100 ms}]\n"
             "  conditions: {AB: {cue: A, probe: B}, AA: {cue: A, probe: A}, BN: {cue: B}, NN: {}}\n"
             "  trials: %s\n"
             "projections:\n  - {from: retina, to: sink, receptor: exc, connect: all_to_all, weight: 0 mV}\n"
             "record: {spikes: [retina]}\n",
             extra, a, b, trials);
    return yaml_buf;
}

static void test_trial_table(void **state) {
    (void)state;
    run(protocol("[AB, NN, AA, BN, AB]", ""));
    hid_t f = H5Fopen(out_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t g = H5Gopen2(f, "/volley/trials", H5P_DEFAULT);
    assert_true(g >= 0);
    size_t nc, np;
    char **cond = vt_read_strings(g, "condition", &nc), **pat = vt_read_strings(g, "pattern", &np);
    assert_int_equal(nc, 5);
    assert_int_equal(np, 15);
    const char *want_c[] = {"AB", "NN", "AA", "BN", "AB"};
    const char *want_p[] = {"A", "", "B", "", "", "", "A", "", "A", "B", "", "", "A", "", "B"};
    for (size_t i = 0; i < 5; ++i) assert_string_equal(cond[i], want_c[i]);
    for (size_t i = 0; i < 15; ++i) assert_string_equal(pat[i], want_p[i]);
    double onset[15], end[5];
    hid_t d = H5Dopen2(g, "onset", H5P_DEFAULT);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, onset) >= 0);
    H5Dclose(d);
    d = H5Dopen2(g, "end", H5P_DEFAULT);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, end) >= 0);
    H5Dclose(d);
    /* 300.04 ms rounds to 3000 steps: trials last 600 ms */
    for (int k = 0; k < 5; ++k) {
        assert_true(fabs(onset[k * 3] - 600.0 * k) < 1e-9);
        assert_true(fabs(onset[k * 3 + 1] - (600.0 * k + 200)) < 1e-9);
        assert_true(fabs(onset[k * 3 + 2] - (600.0 * k + 500)) < 1e-9);
        assert_true(fabs(end[k] - 600.0 * (k + 1)) < 1e-9);
    }
    /* The run lasted exactly the trials: no spike at or after 3000 ms. */
    d = H5Dopen2(f, "/spikes/retina/timestamps", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t n;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    double *ts = calloc(n, sizeof *ts);
    uint64_t *id = calloc(n, sizeof *id);
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, ts);
    H5Sclose(sp);
    H5Dclose(d);
    d = H5Dopen2(f, "/spikes/retina/node_ids", H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, id);
    H5Dclose(d);
    /* Rates in the cues of AB trials (A on pixels 0, 1), pooled: 50 neurons per pixel, 2 x 0.2 s. */
    double on = 0, off = 0;
    for (hsize_t i = 0; i < n; ++i) {
        assert_true(ts[i] < 3000.0);
        int trial = (int)(ts[i] / 600.0);
        double in = ts[i] - 600.0 * trial;
        if ((trial == 0 || trial == 4) && in < 200.0) {
            int pixel = (int)(id[i] / 50);
            if (pixel <= 1) on += 1;
            else off += 1;
        }
    }
    double exp_on = 100.0 * 0.2 * 2 * 100, exp_off = 5.0 * 0.2 * 2 * 300; /* 100 neurons on, 300 off */
    printf("  cue spikes: on %.0f (expected %.0f), off %.0f (expected %.0f)\n", on, exp_on, off, exp_off);
    assert_true(fabs(on - exp_on) < 4 * sqrt(exp_on));
    assert_true(fabs(off - exp_off) < 4 * sqrt(exp_off));
    for (size_t i = 0; i < nc; ++i) free(cond[i]);
    for (size_t i = 0; i < np; ++i) free(pat[i]);
    free(cond); free(pat); free(ts); free(id);
    H5Gclose(g);
    H5Fclose(f);
}

static void test_drawn_proportions(void **state) {
    (void)state;
    /* 2000 trials at 0.7 / 0.1 / 0.1 / 0.1, checked against binomial bounds (4 sigma), via check
     * only (the run itself would be long): the drawn list is in the model's trial table. */
    vl_model *m = NULL;
    assert_int_equal(load(protocol("{count: 2000, proportions: {AB: 0.7, AA: 0.1, BN: 0.1, NN: 0.1}}",
                                   "duration: 1 ms\n"), &m), VL_OK);
    vl_model_destroy(m);
    snprintf(out_path, sizeof out_path, "%s", vt_path("protocol_draw.h5"));
    vt_run(model_path, NULL, 0, out_path);
    hid_t f = H5Fopen(out_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "/volley/trials", H5P_DEFAULT);
    size_t n;
    char **cond = vt_read_strings(g, "condition", &n);
    assert_int_equal(n, 2000);
    int count[4] = {0};
    const char *names[] = {"AB", "AA", "BN", "NN"};
    double p[] = {0.7, 0.1, 0.1, 0.1};
    for (size_t i = 0; i < n; ++i) {
        for (int c = 0; c < 4; ++c) count[c] += !strcmp(cond[i], names[c]);
        free(cond[i]);
    }
    free(cond);
    for (int c = 0; c < 4; ++c) {
        double mu = 2000 * p[c], sd = sqrt(2000 * p[c] * (1 - p[c]));
        printf("  %s: %d trials (expected %.0f +- %.0f)\n", names[c], count[c], mu, sd);
        assert_true(fabs(count[c] - mu) < 4 * sd);
    }
    H5Gclose(g);
    H5Fclose(f);
}

static void test_protocol_errors(void **state) {
    (void)state;
    vl_model *m = NULL;
    /* a condition naming an unknown pattern */
    const char *y = protocol("[AB]", "");
    char bad[8192];
    snprintf(bad, sizeof bad, "%s", y);
    char *at = strstr(bad, "probe: B}");
    memcpy(at, "probe: Q}", 9);
    assert_int_equal(load(bad, &m), VL_ERR_MODEL);
    printf("  %s\n", vl_model_error(m));
    assert_non_null(strstr(vl_model_error(m), "no pattern named 'Q'"));
    assert_non_null(strstr(vl_model_error(m), ":11:"));
    vl_model_destroy(m);
    /* a trial naming an unknown condition */
    assert_int_equal(load(protocol("[AB, ZZ]", ""), &m), VL_ERR_MODEL);
    printf("  %s\n", vl_model_error(m));
    assert_non_null(strstr(vl_model_error(m), "no condition named 'ZZ'"));
    vl_model_destroy(m);
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trial_table),
        cmocka_unit_test(test_drawn_proportions),
        cmocka_unit_test(test_protocol_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
