/* Philox4x32-10 (kernels/philox.h) against Random123's published known-answer vectors, and the
 * derived uniform and normal draws against their distributions (moments, Kolmogorov-Smirnov,
 * bit balance, avalanche). Every sample comes from fixed keys, so the test is deterministic; the
 * bounds are several standard errors wide, so a correct generator passes with huge margin
 * and a broken one (wrong round constant, swapped words, bad float conversion) fails. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/neuron.h" /* vl_poisson_fires */
#include "kernels/philox.h"

static void check_kat(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1, uint32_t o0,
                      uint32_t o1, uint32_t o2, uint32_t o3) {
    vl_u32x4 c = {{c0, c1, c2, c3}};
    vl_u32x4 r = vl_philox4x32_10(c, k0, k1);
    if (r.v[0] != o0 || r.v[1] != o1 || r.v[2] != o2 || r.v[3] != o3)
        fail_msg("philox4x32_10(%08x %08x %08x %08x, key %08x %08x) = %08x %08x %08x %08x, expected %08x %08x %08x %08x",
                 c0, c1, c2, c3, k0, k1, r.v[0], r.v[1], r.v[2], r.v[3], o0, o1, o2, o3);
}

/* Random123 kat_vectors: philox4x32 10 rounds. */
static void test_known_answers(void **st) {
    (void)st;
    check_kat(0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u);
    check_kat(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu,
              0xa20bc7c6u, 0x6d5451fdu);
    check_kat(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu,
              0x5001e420u, 0x24126ea1u);
}

/* vl_rand4 spreads (seed, stream, a, b, c) over key and counter: every argument, including the
 * seed's high word, must change the output. */
static void test_rand4_uses_every_argument(void **st) {
    (void)st;
    vl_u32x4 base = vl_rand4(1, 7, 3, 4, 5);
    vl_u32x4 v[6] = {vl_rand4(2, 7, 3, 4, 5), vl_rand4(1ull | (1ull << 32), 7, 3, 4, 5), vl_rand4(1, 8, 3, 4, 5),
                     vl_rand4(1, 7, 4, 4, 5), vl_rand4(1, 7, 3, 5, 5), vl_rand4(1, 7, 3, 4, 6)};
    for (int i = 0; i < 6; ++i) assert_memory_not_equal(&base, &v[i], sizeof base);
    /* And it is a pure function. */
    vl_u32x4 again = vl_rand4(1, 7, 3, 4, 5);
    assert_memory_equal(&base, &again, sizeof base);
}

/* Flipping one counter bit flips each output bit with probability 1/2: over 128 x 64 trials the
 * mean number of flipped bits out of 128 is 64 (sd of the mean 5.66 / sqrt(8192) = 0.0625). */
static void test_avalanche(void **st) {
    (void)st;
    double sum = 0;
    int n = 0, minf = 128;
    for (uint32_t t = 0; t < 64; ++t) {
        vl_u32x4 c = vl_rand4(99, 1, t, 0, 0); /* a random base counter */
        vl_u32x4 r0 = vl_philox4x32_10(c, 0x12345678u, t);
        for (int bit = 0; bit < 128; ++bit) {
            vl_u32x4 c2 = c;
            c2.v[bit / 32] ^= 1u << (bit % 32);
            vl_u32x4 r1 = vl_philox4x32_10(c2, 0x12345678u, t);
            int f = 0;
            for (int w = 0; w < 4; ++w) f += __builtin_popcount(r0.v[w] ^ r1.v[w]);
            sum += f;
            if (f < minf) minf = f;
            ++n;
        }
    }
    double mean = sum / n;
    if (fabs(mean - 64.0) > 0.5) fail_msg("avalanche: mean flipped bits %.3f, expected 64", mean);
    assert_true(minf > 30);
}

#define N_DRAWS 400000

/* Each of the 32 bits of the output words is set half the time (sd 0.5/sqrt(N)). */
static void test_bit_balance(void **st) {
    (void)st;
    static uint32_t ones[32];
    memset(ones, 0, sizeof ones);
    uint32_t n = 0;
    for (uint32_t i = 0; i < N_DRAWS / 4; ++i) {
        vl_u32x4 r = vl_rand4(12345, VL_STREAM_POISSON, i, 0, 0);
        for (int w = 0; w < 4; ++w, ++n)
            for (int b = 0; b < 32; ++b) ones[b] += (r.v[w] >> b) & 1u;
    }
    double sd = 0.5 / sqrt((double)n);
    for (int b = 0; b < 32; ++b) {
        double f = (double)ones[b] / n;
        if (fabs(f - 0.5) > 5 * sd) fail_msg("bit %d set in %.5f of %u words", b, f, n);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Kolmogorov-Smirnov statistic of sorted samples against cdf. */
static double ks_stat(double *x, size_t n, double (*cdf)(double)) {
    qsort(x, n, sizeof *x, cmp_double);
    double d = 0;
    for (size_t i = 0; i < n; ++i) {
        double f = cdf(x[i]);
        double lo = f - (double)i / n, hi = (double)(i + 1) / n - f;
        if (lo > d) d = lo;
        if (hi > d) d = hi;
    }
    return d;
}

static double cdf_uniform(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }
static double cdf_normal(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* Critical value of the one-sample KS test at alpha = 0.001 is 1.949 / sqrt(n). */
#define KS_CRIT(n) (1.949 / sqrt((double)(n)))

static void test_uniform_float(void **st) {
    (void)st;
    double *x = malloc(N_DRAWS * sizeof *x);
    assert_non_null(x);
    double s = 0, s2 = 0, mn = 1, mx = 0, lag = 0, prev = 0.5;
    for (uint32_t i = 0; i < N_DRAWS / 4; ++i) {
        vl_u32x4 r = vl_rand4(2024, VL_STREAM_NOISE | 3u, i, 0, 0);
        for (int w = 0; w < 4; ++w) {
            double u = vl_u01f(r.v[w]);
            x[4 * i + w] = u;
            s += u;
            s2 += u * u;
            lag += (u - 0.5) * (prev - 0.5);
            prev = u;
            if (u < mn) mn = u;
            if (u > mx) mx = u;
        }
    }
    double n = N_DRAWS, mean = s / n, var = s2 / n - mean * mean;
    assert_true(mn > 0.0 && mx < 1.0);
    if (fabs(mean - 0.5) > 5 * sqrt(1.0 / 12 / n)) fail_msg("uniform mean %.6f", mean);
    /* var of u^2 terms: sd of the sample variance ~ sqrt(1/180/n) */
    if (fabs(var - 1.0 / 12) > 5 * sqrt(1.0 / 180 / n)) fail_msg("uniform variance %.6f, expected %.6f", var, 1.0 / 12);
    /* lag-1 correlation ~ N(0, 1/n) */
    double rho = lag / n / (1.0 / 12);
    if (fabs(rho) > 5 / sqrt(n)) fail_msg("lag-1 correlation %.5f", rho);
    double d = ks_stat(x, N_DRAWS, cdf_uniform);
    if (d > KS_CRIT(N_DRAWS)) fail_msg("uniform KS D = %.5f > %.5f", d, KS_CRIT(N_DRAWS));
    free(x);
}

static void test_uniform_double(void **st) {
    (void)st;
    double s = 0, s2 = 0;
    int finer_than_float = 0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) {
        vl_u32x4 r = vl_rand4(7, 0, (uint32_t)i, 1, 0);
        double u = vl_u01d(r.v[0], r.v[1]);
        assert_true(u > 0.0 && u < 1.0);
        s += u;
        s2 += u * u;
        /* 53-bit resolution: most values are not representable on a 2^-24 grid */
        finer_than_float += fmod(u * 16777216.0, 1.0) != 0.5 && fmod(u * 16777216.0, 1.0) != 0.0;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    if (fabs(mean - 0.5) > 5 * sqrt(1.0 / 12 / n)) fail_msg("u01d mean %.6f", mean);
    if (fabs(var - 1.0 / 12) > 5 * sqrt(1.0 / 180 / n)) fail_msg("u01d variance %.6f", var);
    assert_true(finer_than_float > n * 0.99);
}

/* philox.h documents both conversions as uniform in the open interval (0, 1), which the callers
 * rely on (log(u), uniform [a, b) weights): the extreme words must map strictly inside. */
static void test_u01_open_interval(void **st) {
    (void)st;
    float f0 = vl_u01f(0u), f1 = vl_u01f(0xffffffffu);
    double d0 = vl_u01d(0u, 0u), d1 = vl_u01d(0xffffffffu, 0xffffffffu);
    if (!(f0 > 0.0f)) fail_msg("vl_u01f(0) = %.9g, not > 0", (double)f0);
    if (!(f1 < 1.0f)) fail_msg("vl_u01f(0xffffffff) = %.9g, not < 1", (double)f1);
    if (!(d0 > 0.0)) fail_msg("vl_u01d(0, 0) = %.17g, not > 0", d0);
    if (!(d1 < 1.0)) fail_msg("vl_u01d(0xffffffff, 0xffffffff) = %.17g, not < 1", d1);
    /* and monotone at the top: every word above 0xff000000 maps below 1 */
    for (uint32_t x = 0xff000000u; x != 0; ++x)
        if (!(vl_u01f(x) < 1.0f)) fail_msg("vl_u01f(0x%08x) = 1", x);
}

static void test_normal(void **st) {
    (void)st;
    double *x = malloc(N_DRAWS * sizeof *x);
    assert_non_null(x);
    double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
    size_t n = 0, tail3 = 0;
    for (uint32_t i = 0; i < N_DRAWS / 2; ++i) {
        vl_u32x4 r = vl_rand4(31337, VL_STREAM_NOISE, i, 0, 0);
        for (int h = 0; h < 2; ++h) {
            double z = vl_normalf(r.v[2 * h], r.v[2 * h + 1]);
            assert_true(isfinite(z));
            x[n++] = z;
            m1 += z;
            m2 += z * z;
            m3 += z * z * z;
            m4 += z * z * z * z;
            tail3 += fabs(z) > 3.0;
        }
    }
    double dn = (double)n, mean = m1 / dn, var = m2 / dn - mean * mean;
    double skew = m3 / dn, kurt = m4 / dn;
    if (fabs(mean) > 5 / sqrt(dn)) fail_msg("normal mean %.5f", mean);
    if (fabs(var - 1) > 5 * sqrt(2 / dn)) fail_msg("normal variance %.5f", var);
    if (fabs(skew) > 5 * sqrt(15 / dn)) fail_msg("normal third moment %.5f", skew);
    if (fabs(kurt - 3) > 5 * sqrt(96 / dn)) fail_msg("normal fourth moment %.5f, expected 3", kurt);
    /* P(|z| > 3) = 0.0026998 */
    double p3 = 0.0026998, f3 = (double)tail3 / dn;
    if (fabs(f3 - p3) > 5 * sqrt(p3 * (1 - p3) / dn)) fail_msg("P(|z|>3) = %.5f, expected %.5f", f3, p3);
    double d = ks_stat(x, n, cdf_normal);
    if (d > KS_CRIT(n)) fail_msg("normal KS D = %.5f > %.5f", d, KS_CRIT(n));
    free(x);
}

/* The Poisson input decision: fraction of steps with a spike = rate * dt. */
static void test_poisson_fires(void **st) {
    (void)st;
    const float probs[] = {0.0f, 0.0015f, 0.02f, 0.5f};
    const int n = 400000;
    for (size_t k = 0; k < sizeof probs / sizeof probs[0]; ++k) {
        long hits = 0;
        for (int i = 0; i < n; ++i) {
            vl_u32x4 r = vl_rand4(5, VL_STREAM_POISSON | 1u, (uint32_t)i, 0, 9);
            hits += vl_poisson_fires(probs[k], vl_u01f(r.v[0]));
        }
        double p = probs[k], sd = sqrt(n * p * (1 - p));
        if (fabs(hits - n * p) > 5 * sd + (p == 0 ? 0 : 1))
            fail_msg("prob %.4f: %ld spikes in %d steps, expected %.0f +- %.0f", p, hits, n, n * p, sd);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_rand4_uses_every_argument),
        cmocka_unit_test(test_avalanche),
        cmocka_unit_test(test_bit_balance),
        cmocka_unit_test(test_uniform_float),
        cmocka_unit_test(test_uniform_double),
        cmocka_unit_test(test_u01_open_interval),
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_poisson_fires),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
