/* configs/seed_xo.yaml, the forum network done right: over 40 presentations (20 circle, 20
 * cross) the output pool matching the shown pattern wins (more spikes during the presentation)
 * in at least 95 % of trials, the winner fires at a rate below the refractory limit, and STDP
 * has moved the input -> memory weights. Winners are decided from /spikes and /volley/trials. */
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

static void *read_all(hid_t f, const char *name, hid_t type, size_t size, size_t *n) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 1};
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    *n = dims[0] * (rank == 2 ? dims[1] : 1);
    void *buf = calloc(*n + 1, size);
    if (*n) assert_true(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    return buf;
}

static void test_matching_pool_wins(void **state) {
    (void)state;
    char model[1024], out[1024];
    snprintf(model, sizeof model, "%s/configs/seed_xo.yaml", VOLLEY_SOURCE_DIR);
    snprintf(out, sizeof out, "%s/seed_xo.h5", VOLLEY_TEST_TMP);
    vl_model *m = NULL;
    vl_status st = vl_model_load(model, NULL, 0, &m);
    if (st != VL_OK) fprintf(stderr, "%s\n", vl_model_error(m));
    assert_int_equal(st, VL_OK);
    vl_sim_options opt;
    memset(&opt, 0, sizeof opt);
    opt.backend = VL_BACKEND_CPU;
    opt.output = out;
    vl_sim *s = NULL;
    assert_int_equal(vl_sim_create(m, &opt, &s), VL_OK);
    assert_int_equal(vl_sim_run(s), VL_OK);
    vl_sim_destroy(s);
    vl_model_destroy(m);

    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    size_t n_on, n_cond, n_ts, n_id;
    double *onset = read_all(f, "/volley/trials/onset", H5T_NATIVE_DOUBLE, sizeof(double), &n_on);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char **cond = read_all(f, "/volley/trials/condition", t, sizeof(char *), &n_cond);
    H5Tclose(t);
    double *ts = read_all(f, "/spikes/out_e/timestamps", H5T_NATIVE_DOUBLE, sizeof(double), &n_ts);
    uint64_t *id = read_all(f, "/spikes/out_e/node_ids", H5T_NATIVE_UINT64, sizeof(uint64_t), &n_id);
    assert_int_equal(n_cond, 40);
    assert_int_equal(n_on, 80); /* 40 trials x 2 phases (show, rest) */
    int correct = 0, circles = 0;
    double winner_rate = 0;
    for (size_t k = 0; k < n_cond; ++k) {
        double a = onset[2 * k], b = onset[2 * k + 1];
        long pool[2] = {0, 0};
        for (size_t i = 0; i < n_ts; ++i)
            if (ts[i] >= a && ts[i] < b) pool[id[i] >= 40]++; /* out_e.circle = 0:40, cross = 40:80 */
        int is_circle = !strcmp(cond[k], "circle");
        circles += is_circle;
        correct += is_circle ? pool[0] > pool[1] : pool[1] > pool[0];
        winner_rate += (pool[0] > pool[1] ? pool[0] : pool[1]) / 40.0 / ((b - a) * 1e-3) / n_cond;
    }
    printf("  %d of %zu presentations won by the matching pool (%d circle); winner pool %.1f Hz\n", correct, n_cond,
           circles, winner_rate);
    assert_int_equal(circles, 20);
    assert_true(correct >= 38);
    assert_true(winner_rate > 10 && winner_rate < 200);
    size_t nw;
    float *w = read_all(f, "/volley/weights/inp_mem/w", H5T_NATIVE_FLOAT, sizeof(float), &nw);
    size_t n_syn = nw / 2, moved = 0; /* snapshots: initial and final */
    for (size_t i = 0; i < n_syn; ++i) moved += fabsf(w[n_syn + i] - w[i]) > 1e-3f;
    printf("  STDP moved %zu of %zu input -> memory weights\n", moved, n_syn);
    assert_true(moved > n_syn / 4);
    for (size_t k = 0; k < n_cond; ++k) free(cond[k]);
    free(onset); free(cond); free(ts); free(id); free(w);
    H5Fclose(f);
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_matching_pool_wins)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
