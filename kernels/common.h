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
 * polynomial for e^r on |r| <= ln2/2 (relative error below 2e-7, about 2 ulp), and 2^n put in the
 * exponent bits. Inputs are clamped to [-87, 88], the normal range of float. */
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

#endif
