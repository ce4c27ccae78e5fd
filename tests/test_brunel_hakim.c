/* configs/brunel_hakim.yaml (Brunel & Hakim 1999, as Brian2's example): the mean rate over 1 s is
 * about 3.5 Hz (BENCHMARKS.md section 4, measured with Brian2 2.5.1), and the population activity
 * oscillates: the 1 ms-binned rate has a clearly larger variance than a Poisson population of the
 * same rate would give. */
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

static void test_rate_and_synchrony(void **state) {
    (void)state;
    char model[1024];
    snprintf(model, sizeof model, "%s/configs/brunel_hakim.yaml", VOLLEY_SOURCE_DIR);
    const char *out = vt_path("bh.h5");
    double rate = vt_run(model, NULL, 0, out);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    size_t n;
    float *r = vt_read(f, "/rates/neurons/rate", H5T_NATIVE_FLOAT, sizeof(float), &n);
    H5Fclose(f);
    /* skip the first 100 ms (the start from uniform v) */
    double mean = 0, var = 0;
    size_t m = 0;
    for (size_t i = 100; i < n; ++i) mean += r[i], ++m;
    mean /= m;
    for (size_t i = 100; i < n; ++i) var += (r[i] - mean) * (r[i] - mean);
    var /= m - 1;
    /* Poisson: the count in a 1 ms bin of 5000 neurons has variance = mean count */
    double poisson_var = mean / (5000 * 1e-3);
    printf("  mean rate %.2f Hz (binned %.2f Hz); binned-rate variance %.1f vs %.1f for independent firing\n", rate,
           mean, var, poisson_var);
    assert_true(rate > 3.0 && rate < 4.0);
    assert_true(var > 3 * poisson_var);
    free(r);
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_rate_and_synchrony)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
