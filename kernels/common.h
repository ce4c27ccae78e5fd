/* Definitions shared by every kernels/ headers header: the VL_HD qualifier that makes one function
 * compile for both the CPU backend (plain C11) and the CUDA backend (nvcc). */
#ifndef VL_KERNELS_COMMON_H
#define VL_KERNELS_COMMON_H

#include <stdint.h>
#include <stddef.h>

#ifdef __CUDACC__
#define VL_HD static __host__ __device__ __forceinline__
#else
#define VL_HD static inline
#endif

#include <math.h>

/* exp(x) for float, branch-free and call-free so that CPU loops vectorise and both backends
 * evaluate the same operations: Cody-Waite range reduction x = n ln2 + r, a degree-6 Taylor
 * polynomial for e^r on |r| <= ln2/2, and 2^n put in the exponent bits: relative error at most
 * 2.6e-7, 3 ulp (tests/test_mathf.c). Inputs are clamped to [-87, 88], the normal range of float,
 * and a NaN to -87 (so that no conversion below is out of range, which C leaves undefined). */
VL_HD float vl_expf(float x) {
    x = x > -87.0f ? x : -87.0f;
    x = x < 88.0f ? x : 88.0f;
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding and subtracting it rounds to an integer */
    float n = (x * 1.44269504f + magic) - magic;
    float r = (x - n * 0.693145752f) - n * 1.42860677e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f +
                          r * (0.00833333377f + r * 0.00138888892f)))));
    union { float f; int32_t i; } u;
    u.f = p;
    u.i += (int32_t)n * (1 << 23);
    return u.f;
}

/* log(x) for a positive normal float, call-free like vl_expf so that both backends evaluate the
 * same operations (CUDA's logf and libm's may differ in the last bit). x = 2^k m with m in
 * [sqrt(1/2), sqrt(2)), found in the bits; with f = m - 1 (exact) and s = f / (2 + f),
 * log(1 + f) = 2 atanh(s) = f - f^2/2 + s (f^2/2 + R), R = 2z/3 + 2z^2/5 + 2z^3/7 + 2z^4/9 with
 * z = s^2 <= 0.0295 (the first omitted term is below 1e-9). ln 2 is split so that k ln2_hi is
 * exact. Error at most 1 ulp (exhaustive over (0, 1) in tests/test_mathf.c). Not for 0,
 * subnormals, infinities or NaN. */
VL_HD float vl_logf(float x) {
    union { float f; int32_t i; } u;
    u.f = x;
    int32_t j = u.i + (0x3f800000 - 0x3f3504f3); /* 0x3f3504f3: sqrt(1/2); j > 0 for every positive x */
    int32_t k = (j >> 23) - 127;
    u.i = (j & 0x007fffff) + 0x3f3504f3;
    float f = u.f - 1.0f, s = f / (2.0f + f), z = s * s, hfsq = 0.5f * f * f;
    float R = z * (0.666666687f + z * (0.400000006f + z * (0.285714298f + z * 0.222222224f)));
    float dk = (float)k;
    return ((s * (hfsq + R) + dk * 1.42860677e-6f) - hfsq + f) + dk * 0.693145752f;
}

/* cos(2 pi u) for |u| < 2^20, call-free and branch-free. The reduction is exact: 4u = q + r with q
 * the nearest integer and |r| <= 1/2, so the angle r pi/2 lies in [-pi/4, pi/4] with no rounded
 * pi in it; cos and sin of it are Taylor polynomials in r (first omitted terms below 2e-10), and
 * q mod 4 picks cos, -sin, -cos or sin. Absolute error at most 2^-24 + 1 ulp (exhaustive over the
 * uniform draws in tests/test_mathf.c). */
VL_HD float vl_cos2pif(float u) {
    const float magic = 12582912.0f;
    float y = 4.0f * u, q = (y + magic) - magic, r = y - q, r2 = r * r;
    float c = 1.0f + r2 * (-1.23370051f + r2 * (0.253669500f + r2 * (-0.0208634809f +
                          r2 * (0.000919260259f + r2 * -2.52020418e-05f))));
    float s = r * (1.57079637f + r2 * (-0.645964086f + r2 * (0.0796926245f + r2 * (-0.00468175393f +
                   r2 * 0.000160441181f))));
    int32_t n = (int32_t)q;
    float m = (n & 1) ? s : c;
    return ((n + 1) & 2) ? -m : m;
}

/* The same two in double precision, for the network's drawn weights and delays (to a float or a
 * step count, so that the last bits seldom matter: against libm, 0 of 4e7 drawn float weights
 * differed). log: the reduction above with R to z^10 (first omitted term below 1e-18), error at
 * most 1 ulp; ln 2 is split so that k ln2_hi is exact for every exponent. */
VL_HD double vl_log(double x) {
    union { double f; uint64_t i; } u;
    u.f = x;
    uint64_t j = u.i + (0x3ff0000000000000ull - 0x3fe6a09e667f3bcdull); /* sqrt(1/2) */
    int32_t k = (int32_t)(j >> 52) - 1023;
    u.i = (j & 0x000fffffffffffffull) + 0x3fe6a09e667f3bcdull;
    double f = u.f - 1.0, s = f / (2.0 + f), z = s * s, hfsq = 0.5 * f * f;
    double R = z * (0.6666666666666666 + z * (0.4 + z * (0.2857142857142857 + z * (0.2222222222222222 +
               z * (0.18181818181818182 + z * (0.15384615384615385 + z * (0.13333333333333333 +
               z * (0.11764705882352941 + z * (0.10526315789473684 + z * 0.09523809523809523)))))))));
    double dk = (double)k;
    return ((s * (hfsq + R) + dk * 5.497923018708371e-14) - hfsq + f) + dk * 0.6931471805598903;
}

/* cos(2 pi u) for |u| < 2^29 (first omitted terms below 3e-21). The quadrant picks its result with
 * bit masks rather than a select, so that loops around it stay vectorisable. */
VL_HD double vl_cos2pi(double u) {
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    double y = 4.0 * u, q = (y + magic) - magic, r = y - q, r2 = r * r;
    double c = 1.0 + r2 * (-1.2337005501361697 + r2 * (0.253669507901048 + r2 * (-0.020863480763352957 +
               r2 * (0.0009192602748394263 + r2 * (-2.5202042373060596e-05 + r2 * (4.710874778818169e-07 +
               r2 * (-6.386603083791849e-09 + r2 * (6.565963114979468e-11 + r2 * -5.294400200734619e-13))))))));
    double s = r * (1.5707963267948966 + r2 * (-0.6459640975062462 + r2 * (0.07969262624616703 +
               r2 * (-0.004681754135318687 + r2 * (0.00016044118478735975 + r2 * (-3.598843235212084e-06 +
               r2 * (5.692172921967924e-08 + r2 * (-6.688035109811464e-10 + r2 * 6.066935731106192e-12))))))));
    uint32_t n = (uint32_t)(int32_t)q;
    union { double f; uint64_t i; } uc, us, out;
    uc.f = c;
    us.f = s;
    uint64_t pick = 0 - (uint64_t)(n & 1u); /* odd quadrant: sin */
    out.i = ((uc.i & ~pick) | (us.i & pick)) ^ ((uint64_t)((n + 1u) & 2u) << 62); /* quadrants 1, 2: negated */
    return out.f;
}

#endif
