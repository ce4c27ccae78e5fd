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
 * 2.6e-7, 3 ulp (tests/test_mathf.c). Inputs are clamped to [-87, 88], the normal range of float. */
VL_HD float vl_expf(float x) {
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
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

#endif
