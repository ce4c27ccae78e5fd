/* Philox4x32-10 (Salmon et al., SC'11), the counter-based generator behind every random number
 * in Volley: network building, initial values, Poisson inputs and noise. Because a draw is a
 * pure function of (key, counter), any thread can compute any draw and the result does not
 * depend on the thread count or the backend. Checked against Random123's known-answer vectors
 * in tests/test_philox.c. */
#ifndef VL_KERNELS_PHILOX_H
#define VL_KERNELS_PHILOX_H

#include "common.h"

typedef struct { uint32_t v[4]; } vl_u32x4;

#define VL_PHILOX_M0 0xD2511F53u
#define VL_PHILOX_M1 0xCD9E8D57u
#define VL_PHILOX_W0 0x9E3779B9u
#define VL_PHILOX_W1 0xBB67AE85u

/* The high word of a 32 x 32-bit product. */
VL_HD uint32_t vl_mulhi32(uint32_t a, uint32_t b) { return (uint32_t)(((uint64_t)a * b) >> 32); }

/* One round with key (k0, k1). The high and low words of each product as two expressions: vector
 * units multiply 32-bit lanes into their low words and even/odd lanes into 64-bit products, so
 * the compiler need not widen whole vectors to 64 bits and narrow them back. */
VL_HD vl_u32x4 vl_philox_round(vl_u32x4 c, uint32_t k0, uint32_t k1) {
    vl_u32x4 n;
    n.v[0] = vl_mulhi32(VL_PHILOX_M1, c.v[2]) ^ c.v[1] ^ k0;
    n.v[1] = VL_PHILOX_M1 * c.v[2];
    n.v[2] = vl_mulhi32(VL_PHILOX_M0, c.v[0]) ^ c.v[3] ^ k1;
    n.v[3] = VL_PHILOX_M0 * c.v[0];
    return n;
}

/* Ten rounds, round r with the key bumped r times. Written out rather than looped: as straight-line
 * code it vectorises inside the CPU backend's `omp simd` loops over neurons and synapses whatever
 * the compiler's unrolling limits. */
VL_HD vl_u32x4 vl_philox4x32_10(vl_u32x4 c, uint32_t k0, uint32_t k1) {
#define VL_PHILOX_ROUND(r) c = vl_philox_round(c, k0 + (r) * VL_PHILOX_W0, k1 + (r) * VL_PHILOX_W1)
    VL_PHILOX_ROUND(0u); VL_PHILOX_ROUND(1u); VL_PHILOX_ROUND(2u); VL_PHILOX_ROUND(3u); VL_PHILOX_ROUND(4u);
    VL_PHILOX_ROUND(5u); VL_PHILOX_ROUND(6u); VL_PHILOX_ROUND(7u); VL_PHILOX_ROUND(8u); VL_PHILOX_ROUND(9u);
#undef VL_PHILOX_ROUND
    return c;
}

/* Stream tags keep the users of one seed apart: the key is (seed, tag | index). */
enum {
    VL_STREAM_CONNECT = 0x10000000u, /* | projection: connectivity */
    VL_STREAM_WEIGHT  = 0x20000000u, /* | projection: weights and delays */
    VL_STREAM_INIT    = 0x30000000u, /* | population: initial values */
    VL_STREAM_POISSON = 0x40000000u, /* | population: Poisson input spikes */
    VL_STREAM_NOISE   = 0x50000000u, /* | population: noise current */
    VL_STREAM_TRIALS  = 0x60000000u  /* trial conditions of a stimulus protocol */
};

/* Four draws for (seed, stream) at counter (a, b, c). */
VL_HD vl_u32x4 vl_rand4(uint64_t seed, uint32_t stream, uint32_t a, uint32_t b, uint32_t c) {
    vl_u32x4 ctr = {{a, b, c, (uint32_t)(seed >> 32)}};
    return vl_philox4x32_10(ctr, (uint32_t)seed, stream);
}

/* Uniform in the open interval (0, 1), 23 bits, as float (k + 0.5 stays exact below 2^23, so the
 * largest value is 1 - 2^-24, never 1). */
VL_HD float vl_u01f(uint32_t x) { return ((float)(x >> 9) + 0.5f) * (1.0f / 8388608.0f); }

/* Uniform in the open interval (0, 1) with 52 bits, from two words, as double: (M + 1/2) 2^-52 with
 * M = m >> 1 < 2^52, never 0 or 1. M becomes a double through its bits (2^52 + M, less 2^52, both
 * exact) rather than a 64-bit integer conversion, which SSE2 cannot vectorise. */
VL_HD double vl_u01d(uint32_t hi, uint32_t lo) {
    uint64_t m = (((uint64_t)hi << 21) ^ (uint64_t)(lo >> 11)) & ((1ull << 53) - 1);
    union { double f; uint64_t i; } u;
    u.i = 0x4330000000000000ull | (m >> 1);
    return ((u.f - 4503599627370496.0) + 0.5) * (1.0 / 4503599627370496.0);
}

/* Standard normal from a whole block in double precision (Box-Muller, one of the pair), for
 * network building. */
VL_HD double vl_normald(vl_u32x4 r) {
    return sqrt(-2.0 * vl_log(vl_u01d(r.v[0], r.v[1]))) * vl_cos2pi(vl_u01d(r.v[2], r.v[3]));
}

/* Standard normal from two words (Box-Muller, one of the pair). Only operations that IEEE 754
 * rounds exactly (sqrtf among them) and the call-free vl_logf and vl_cos2pif: the CPU and the GPU
 * give the same bits, so noise too is identical on both backends in deterministic mode. */
VL_HD float vl_normalf(uint32_t a, uint32_t b) {
    float u1 = vl_u01f(a), u2 = vl_u01f(b);
    return sqrtf(-2.0f * vl_logf(u1)) * vl_cos2pif(u2);
}

#endif
