/* The call-free float functions of kernels/common.h that both backends evaluate (vl_expf,
 * vl_logf, vl_cos2pif) and the normal draw built from them, against libm in double precision:
 * exhaustively over the arguments the simulation gives them (every uniform draw vl_u01f can
 * return, every float in [1/2, 2) for the logarithm's reduction) and on a dense stride over the
 * rest of their ranges; their double-precision siblings vl_log and vl_cos2pi, and vl_u01d's bit
 * construction. The bounds are the ones their comments state. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/philox.h"

static const double PI = 3.14159265358979323846;

static float from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* The spacing of floats at |ref|: the unit in the last place that a correctly rounded result has. */
static double ulp(double ref) {
    int e;
    frexp(fabs(ref), &e);
    return ldexp(1.0, e - 24);
}

/* The 2^23 values vl_u01f returns, in order. */
static float u01(uint32_t k) { return vl_u01f(k << 9); }

static void test_logf(void **st) {
    (void)st;
    double worst = 0;
    float at = 0;
    for (uint32_t k = 0; k < (1u << 23); ++k) { /* every uniform draw: Box-Muller's log(u1) */
        float u = u01(k);
        double ref = log((double)u), e = fabs(vl_logf(u) - ref) / ulp(ref);
        if (e > worst) worst = e, at = u;
    }
    for (uint32_t b = 0x3f000000u; b < 0x40000000u; ++b) { /* [1/2, 2): both sides of sqrt(1/2) and sqrt(2) */
        float x = from_bits(b);
        double ref = log((double)x);
        if (ref == 0.0) {
            assert_true(vl_logf(x) == 0.0f);
            continue;
        }
        double e = fabs(vl_logf(x) - ref) / ulp(ref);
        if (e > worst) worst = e, at = x;
    }
    for (uint32_t b = 0x00800000u; b < 0x7f800000u; b += 101) { /* every exponent, smallest to largest normal */
        float x = from_bits(b);
        double ref = log((double)x);
        if (ref == 0.0) continue;
        double e = fabs(vl_logf(x) - ref) / ulp(ref);
        if (e > worst) worst = e, at = x;
    }
    print_message("  vl_logf: at most %.3f ulp (at %.9g)\n", worst, at);
    if (worst > 1.0) fail_msg("vl_logf(%.9g) is %.3f ulp from log", at, worst);
    assert_true(worst > 0.3); /* it does round: a reference that matched exactly would prove nothing */
}

static void test_cos2pif(void **st) {
    (void)st;
    double worst = 0;
    float at = 0;
    for (uint32_t k = 0; k < (1u << 23); ++k) { /* every uniform draw: Box-Muller's cos(2 pi u2) */
        float u = u01(k);
        double ref = cos(2 * PI * (double)u), got = vl_cos2pif(u);
        double e = fabs(got - ref) / (ldexp(1.0, -24) + ulp(ref));
        if (e > worst) worst = e, at = u;
        if (fabs(got) > 1.0) fail_msg("vl_cos2pif(%.9g) = %.9g", u, got);
    }
    /* the quadrant points themselves, and arguments outside (0, 1) */
    const float exact[][2] = {{0.0f, 1.0f}, {0.25f, 0.0f}, {0.5f, -1.0f}, {0.75f, 0.0f}, {1.0f, 1.0f}, {-0.5f, -1.0f}};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; ++i)
        if (vl_cos2pif(exact[i][0]) != exact[i][1])
            fail_msg("vl_cos2pif(%g) = %.9g, expected %g", exact[i][0], vl_cos2pif(exact[i][0]), exact[i][1]);
    for (float u = -1000.0f; u < 1000.0f; u += 0.0123f) {
        double ref = cos(2 * PI * (double)u), e = fabs(vl_cos2pif(u) - ref) / (ldexp(1.0, -24) + ulp(ref));
        if (e > worst) worst = e, at = u;
    }
    print_message("  vl_cos2pif: at most %.3f (2^-24 + 1 ulp) (at %.9g)\n", worst, at);
    if (worst > 1.0) fail_msg("vl_cos2pif(%.9g) is %.3f times 2^-24 + 1 ulp from cos(2 pi u)", at, worst);
}

static void test_expf(void **st) {
    (void)st;
    double worst = 0;
    float at = 0;
    /* [-87, 88] in both signs, every 7th float (about 3e8 / 7 arguments) */
    for (uint32_t sign = 0; sign < 2; ++sign) {
        uint32_t top = sign ? 0x42ae0000u : 0x42b00000u; /* 87, 88 */
        for (uint32_t b = 0; b <= top; b += 7) {
            float x = from_bits(b | sign << 31);
            double ref = exp((double)x), e = fabs(vl_expf(x) - ref) / ref;
            if (e > worst) worst = e, at = x;
        }
    }
    print_message("  vl_expf: relative error at most %.3g (at %.9g)\n", worst, at);
    if (worst > 2.6e-7) fail_msg("vl_expf(%.9g): relative error %.3g", at, worst);
    /* the clamp: the ends of the normal range, not infinity or 0 */
    assert_true(vl_expf(100.0f) == vl_expf(88.0f) && isfinite(vl_expf(100.0f)));
    assert_true(vl_expf(-100.0f) == vl_expf(-87.0f) && vl_expf(-100.0f) > 0.0f);
    assert_true(vl_expf(NAN) == vl_expf(-87.0f)); /* a NaN is clamped too, not converted to an integer */
}

/* The double-precision pair used for drawn weights and delays, against libm (long double as the
 * reference where double's own rounding would blur an ulp): a million arguments spread over
 * (0, 1) and every exponent, both sides of the reduction's split points. */
static void test_log_cos2pi_double(void **st) {
    (void)st;
    double worst_log = 0, worst_cos = 0;
    double at_log = 0, at_cos = 0;
    for (uint32_t i = 0; i < 1000000; ++i) {
        vl_u32x4 r = vl_rand4(99, 7, i, 0, 0);
        double u = vl_u01d(r.v[0], r.v[1]);
        double xs[3] = {u, ldexp(u, (int)(r.v[2] % 2000) - 1000), 0.70710678118654752 + (u - 0.5) * 1e-6};
        for (int h = 0; h < 3; ++h) {
            long double ref = logl((long double)xs[h]);
            if (ref == 0) continue;
            int e;
            frexpl(fabsl(ref), &e);
            double err = (double)(fabsl((long double)vl_log(xs[h]) - ref) / ldexpl(1.0L, e - 53));
            if (err > worst_log) worst_log = err, at_log = xs[h];
        }
        long double cref = cosl(2 * 3.14159265358979323846264338327950288L * (long double)u);
        double cerr = (double)(fabsl((long double)vl_cos2pi(u) - cref) / ldexpl(1.0L, -53));
        if (cerr > worst_cos) worst_cos = cerr, at_cos = u;
    }
    print_message("  vl_log: at most %.3f ulp (at %.17g); vl_cos2pi: at most %.3f x 2^-53 (at %.17g)\n", worst_log,
                  at_log, worst_cos, at_cos);
    if (worst_log > 1.0) fail_msg("vl_log(%.17g) is %.3f ulp from log", at_log, worst_log);
    if (worst_cos > 2.0) fail_msg("vl_cos2pi(%.17g) is %.3f x 2^-53 from cos(2 pi u)", at_cos, worst_cos);
    const double exact[][2] = {{0.0, 1.0}, {0.25, 0.0}, {0.5, -1.0}, {0.75, 0.0}, {1.0, 1.0}};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; ++i)
        if (vl_cos2pi(exact[i][0]) != exact[i][1])
            fail_msg("vl_cos2pi(%g) = %.17g, expected %g", exact[i][0], vl_cos2pi(exact[i][0]), exact[i][1]);
    assert_true(vl_log(1.0) == 0.0 && vl_log(2.0) == log(2.0) && vl_log(0.5) == -log(2.0));
}

/* vl_u01d builds its double from bits; it must equal the integer conversion it replaced, also at
 * the ends of its range. */
static void test_u01d_bits(void **st) {
    (void)st;
    const uint32_t edge[] = {0u, 1u, 0x7ffu, 0x800u, 0xfffff7ffu, 0xfffff800u, 0x7fffffffu, 0x80000000u, 0xffffffffu};
    for (uint32_t i = 0; i < 2000000 + 81; ++i) {
        uint32_t hi, lo;
        if (i < 81) {
            hi = edge[i / 9];
            lo = edge[i % 9];
        } else {
            vl_u32x4 r = vl_rand4(5, 11, i, 0, 0);
            hi = r.v[0];
            lo = r.v[1];
        }
        uint64_t m = (((uint64_t)hi << 21) ^ (uint64_t)(lo >> 11)) & ((1ull << 53) - 1);
        double want = ((double)(m >> 1) + 0.5) * (1.0 / 4503599627370496.0);
        if (vl_u01d(hi, lo) != want) fail_msg("vl_u01d(0x%08x, 0x%08x) = %.17g, expected %.17g", hi, lo, vl_u01d(hi, lo), want);
    }
}

/* The normal draw against Box-Muller in double on the same two uniforms: near-exact everywhere,
 * including the far tail (u1 = the smallest uniform gives |z| = 5.79). */
static void test_normal_vs_double(void **st) {
    (void)st;
    double worst = 0;
    for (uint32_t i = 0; i < 4000000; ++i) {
        vl_u32x4 r = vl_rand4(2718, VL_STREAM_NOISE, i, 0, 0);
        float u1 = vl_u01f(r.v[0]), u2 = vl_u01f(r.v[1]);
        double ref = sqrt(-2 * log((double)u1)) * cos(2 * PI * (double)u2);
        double e = fabs(vl_normalf(r.v[0], r.v[1]) - ref);
        if (e > worst) worst = e;
    }
    double tail = vl_normalf(0, 0), tail_ref = sqrt(-2 * log(ldexp(1.0, -24)));
    print_message("  vl_normalf: at most %.3g from double Box-Muller; z(0, 0) = %.7f (%.7f)\n", worst, tail,
                  tail_ref);
    assert_true(worst < 1e-6);
    assert_true(fabs(tail - tail_ref) < 1e-6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logf),
        cmocka_unit_test(test_cos2pif),
        cmocka_unit_test(test_expf),
        cmocka_unit_test(test_normal_vs_double),
        cmocka_unit_test(test_log_cos2pi_double),
        cmocka_unit_test(test_u01d_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
