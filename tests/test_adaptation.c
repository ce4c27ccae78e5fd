/* The adaptation current (kernels/neuron.h) against independent references: the subthreshold
 * steady state v = E_L + I_e / (g_L + a), and the inter-spike intervals of a spike-triggered
 * adaptive neuron against an RK4 integration in double precision with 50 substeps per step. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/neuron.h"

static const double DT = 0.1, C = 200, GL = 10, EL = -70, VTH = -50, VR = -60, TREF = 2, TAUW = 100;

static void make(vl_neuron_params *np, vl_rec_params *rec, int model, double I_e, double a, double b) {
    double tau[1] = {5}, E[1] = {0}, mg[1] = {0};
    vl_lif_desc d = {model, VL_REFR_CLAMP, 1, DT, C, GL, EL, VTH, VR, TREF, I_e, 0, tau, E, mg, 0, 0, 0, a, b, TAUW};
    vl_neuron_params_init(np, rec, &d);
}

static void test_subthreshold_steady_state(void **state) {
    (void)state;
    int models[] = {VL_LIF_COND_EXP, VL_LIF_CURR_EXP, VL_LIF_DELTA};
    for (int m = 0; m < 3; ++m) {
        vl_neuron_params np;
        vl_rec_params rec[1];
        double I_e = 150, a = 6; /* without adaptation v_inf = -55 mV; with it -60.625 mV */
        make(&np, rec, models[m], I_e, a, 0);
        float v = (float)EL, w = 0, g = 0, in = 0;
        int32_t refr = 0;
        for (int k = 0; k < 30000; ++k) assert_int_equal(vl_neuron_step(&np, &v, &refr, &w, &g, &in, 1, 0.0f), 0);
        double want = EL + I_e / (GL + a);
        printf("  model %d: v %.5f mV, steady state %.5f mV; w %.4f pA, a (v - E_L) %.4f pA\n", models[m], v, want, w,
               a * (want - EL));
        assert_true(fabs(v - want) < 2e-3);
        assert_true(fabs(w - a * (want - EL)) < 2e-2);
    }
}

/* Reference: RK4 of C dv/dt = g_L(E_L - v) + I_e - w, tau_w dw/dt = a(v - E_L) - w with v held at
 * V_reset during refractoriness, threshold tested at the end of each step (as Volley does). */
static int reference_spikes(double I_e, double a, double b, int n_steps, int *out, int max_out) {
    double v = EL, w = 0;
    int refr = 0, n = 0, n_ref = (int)llround(TREF / DT);
    for (int k = 0; k < n_steps; ++k) {
        int clamped = refr > 0;
        const int sub = 50;
        double h = DT / sub;
        for (int s = 0; s < sub; ++s) {
            double kv[4], kw[4], vv = v, ww = w;
            for (int q = 0; q < 4; ++q) {
                double fv = clamped ? 0.0 : (GL * (EL - vv) + I_e - ww) / C, fw = (a * (vv - EL) - ww) / TAUW;
                kv[q] = fv;
                kw[q] = fw;
                double c = q < 2 ? 0.5 : 1.0;
                if (q < 3) vv = v + c * h * fv, ww = w + c * h * fw;
            }
            v += h / 6 * (kv[0] + 2 * kv[1] + 2 * kv[2] + kv[3]);
            w += h / 6 * (kw[0] + 2 * kw[1] + 2 * kw[2] + kw[3]);
        }
        if (refr > 0) {
            refr -= 1;
            v = VR;
        } else if (v > VTH) {
            if (n < max_out) out[n] = k;
            ++n;
            v = VR;
            w += b;
            refr = n_ref - 1;
        }
    }
    return n;
}

static void test_spike_triggered_adaptation(void **state) {
    (void)state;
    const double I_e = 400, a = 2, b = 60;
    const int steps = 20000, max = 200;
    int ref[200], got[200], nr, ng = 0;
    nr = reference_spikes(I_e, a, b, steps, ref, max);
    vl_neuron_params np;
    vl_rec_params rec[1];
    make(&np, rec, VL_LIF_CURR_EXP, I_e, a, b);
    float v = (float)EL, w = 0, g = 0, in = 0;
    int32_t refr = 0;
    for (int k = 0; k < steps; ++k)
        if (vl_neuron_step(&np, &v, &refr, &w, &g, &in, 1, 0.0f) && ng < max) got[ng++] = k;
    printf("  %d spikes (reference %d); ISIs in steps:", ng, nr);
    for (int i = 1; i < 8 && i < ng; ++i) printf(" %d/%d", got[i] - got[i - 1], ref[i] - ref[i - 1]);
    printf(" ... last %d/%d\n", got[ng - 1] - got[ng - 2], ref[nr - 1] - ref[nr - 2]);
    assert_true(abs(ng - nr) <= 1);
    /* adaptation: the steady ISI is well above the first */
    assert_true(got[ng - 1] - got[ng - 2] > 2 * (got[1] - got[0]));
    int n = ng < nr ? ng : nr;
    for (int i = 1; i < n; ++i) {
        int d = (got[i] - got[i - 1]) - (ref[i] - ref[i - 1]);
        assert_true(d >= -3 && d <= 3);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subthreshold_steady_state),
        cmocka_unit_test(test_spike_triggered_adaptation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
