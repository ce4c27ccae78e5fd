/* configs/pfc_axcpt.yaml in reduced form (20 trials: 8 AX, 4 AY, 4 BX, 4 BY) on the CPU: the
 * response pool that wins the probe and response phases (by more than 3 spikes) is the right one
 * in at least 19 of 20 trials and in at least 3 of 4 of each rare condition; during the delay the
 * cued memory pool fires 20-60 Hz and the other stays below 5 Hz; before each cue both memory pools
 * are below 10 Hz. The full 100-trial run and the reduced-gain manipulation are documented in the
 * README (tools/axcpt_report.py). */
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

typedef struct train { size_t n; double *t; uint64_t *id; } train;

static train spikes(hid_t f, const char *pop) {
    train s;
    char p[128];
    size_t n2;
    snprintf(p, sizeof p, "/spikes/%s/timestamps", pop);
    s.t = vt_read(f, p, H5T_NATIVE_DOUBLE, sizeof(double), &s.n);
    snprintf(p, sizeof p, "/spikes/%s/node_ids", pop);
    s.id = vt_read(f, p, H5T_NATIVE_UINT64, sizeof(uint64_t), &n2);
    return s;
}

/* Spikes of neurons [lo, hi) in [a, b) ms. */
static long count(const train *s, uint64_t lo, uint64_t hi, double a, double b) {
    long c = 0;
    for (size_t i = 0; i < s->n; ++i) c += s->t[i] >= a && s->t[i] < b && s->id[i] >= lo && s->id[i] < hi;
    return c;
}

static void test_axcpt_reduced(void **state) {
    (void)state;
    char model[1024], out[1024];
    snprintf(model, sizeof model, "%s/configs/pfc_axcpt.yaml", VOLLEY_SOURCE_DIR);
    snprintf(out, sizeof out, "%s/pfc_axcpt.h5", VOLLEY_TEST_TMP);
    const char *sets[] = {"stimulus.trials=[AX, AY, AX, BX, BY, AX, AX, AY, BX, BY, AX, BY, AY, AX, BX, AX, BY, AY, BX, AX]"};
    vt_run(model, sets, 1, out);

    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    size_t n_on, n_cond;
    double *on = vt_read(f, "/volley/trials/onset", H5T_NATIVE_DOUBLE, sizeof(double), &n_on);
    char **cond = vt_read_strings(f, "/volley/trials/condition", &n_cond);
    assert_int_equal(n_cond, 20);
    assert_int_equal(n_on, 100); /* phases: cue, delay, probe, response, iti */
    train resp = spikes(f, "resp"), pfc = spikes(f, "pfc");
    const char *names[] = {"AX", "AY", "BX", "BY"};
    int trials[4] = {0}, correct[4] = {0}, total = 0;
    double cued = 0, other = 0, pre_max = 0;
    for (size_t k = 0; k < n_cond; ++k) {
        const double *o = on + 5 * k; /* cue, delay, probe, response, iti */
        long T = count(&resp, 0, 40, o[2], o[4]), N = count(&resp, 40, 80, o[2], o[4]);
        int c = 0;
        while (c < 4 && strcmp(cond[k], names[c])) ++c;
        assert_true(c < 4);
        int ok = c == 0 ? T > N + 3 : N > T + 3;
        trials[c]++;
        correct[c] += ok;
        total += ok;
        int a_cue = cond[k][0] == 'A';
        double delay_s = (o[2] - o[1]) * 1e-3;
        cued += count(&pfc, a_cue ? 0 : 80, a_cue ? 80 : 160, o[1], o[2]) / 80.0 / delay_s / n_cond;
        other += count(&pfc, a_cue ? 80 : 0, a_cue ? 160 : 80, o[1], o[2]) / 80.0 / delay_s / n_cond;
        if (o[0] >= 300) {
            for (int pool = 0; pool < 2; ++pool) {
                double r = count(&pfc, 80 * pool, 80 * pool + 80, o[0] - 300, o[0]) / 80.0 / 0.3;
                if (r > pre_max) pre_max = r;
            }
        }
    }
    for (int c = 0; c < 4; ++c) printf("  %s: %d of %d correct\n", names[c], correct[c], trials[c]);
    printf("  delay: cued pool %.1f Hz, other %.2f Hz; before cues at most %.2f Hz\n", cued, other, pre_max);
    assert_true(total >= 19);
    for (int c = 1; c < 4; ++c) assert_true(correct[c] >= 3);
    assert_true(cued >= 20 && cued <= 60);
    assert_true(other < 5);
    assert_true(pre_max < 10);
    for (size_t k = 0; k < n_cond; ++k) free(cond[k]);
    free(on); free(cond); free(resp.t); free(resp.id); free(pfc.t); free(pfc.id);
    H5Fclose(f);
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_axcpt_reduced)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
