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
#include "testutil.h"

static void test_matching_pool_wins(void **state) {
    (void)state;
    char model[1024], out[1024];
    snprintf(model, sizeof model, "%s/configs/seed_xo.yaml", VOLLEY_SOURCE_DIR);
    snprintf(out, sizeof out, "%s/seed_xo.h5", VOLLEY_TEST_TMP);
    vt_run(model, NULL, 0, out);

    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    size_t n_on, n_cond, n_ts, n_id;
    double *onset = vt_read(f, "/volley/trials/onset", H5T_NATIVE_DOUBLE, sizeof(double), &n_on);
    char **cond = vt_read_strings(f, "/volley/trials/condition", &n_cond);
    double *ts = vt_read(f, "/spikes/out_e/timestamps", H5T_NATIVE_DOUBLE, sizeof(double), &n_ts);
    uint64_t *id = vt_read(f, "/spikes/out_e/node_ids", H5T_NATIVE_UINT64, sizeof(uint64_t), &n_id);
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
    float *w = vt_read(f, "/volley/weights/inp_mem/w", H5T_NATIVE_FLOAT, sizeof(float), &nw);
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
