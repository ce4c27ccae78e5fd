// The CUDA backend's random numbers: kernels/philox.h on the device must equal the CPU's draws
// bit for bit, and equal cuRAND's device Philox4x32-10 under the documented mapping
//   vl_rand4(seed, stream, a, b, c) == curand4 after
//   curand_init((stream << 32) | seed_lo, (seed_hi << 32) | c, 4 * ((b << 32) | a)),
// which holds while 4 * ((b << 32) | a) fits in 64 bits (b < 2^30): Volley's counters put the
// step's high word in b, which stays 0 below 2^32 steps.
// Inputs are fresh random tuples drawn on the host. Exits 77 when no device is usable.
#include <cuda_runtime.h>
#include <curand_kernel.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/philox.h"

struct tuple { unsigned long long seed; uint32_t stream, a, b, c; };

__global__ void draw(const tuple *in, int n, uint4 *ours, uint4 *cur, float *u, float *z) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    tuple t = in[i];
    vl_u32x4 r = vl_rand4(t.seed, t.stream, t.a, t.b, t.c);
    ours[i] = make_uint4(r.v[0], r.v[1], r.v[2], r.v[3]);
    curandStatePhilox4_32_10_t st;
    unsigned long long key = ((unsigned long long)t.stream << 32) | (uint32_t)t.seed;
    unsigned long long sub = ((t.seed >> 32) << 32) | t.c;
    unsigned long long off = 4ull * (((unsigned long long)t.b << 32) | t.a);
    curand_init(key, sub, off, &st);
    cur[i] = curand4(&st);
    u[i] = vl_u01f(r.v[0]);
    z[i] = vl_normalf(r.v[0], r.v[1]);
}

#define CHECK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
    printf("CUDA error %s at %s:%d\n", cudaGetErrorName(e_), __FILE__, __LINE__); return 1; } } while (0)

int main(void) {
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("no usable CUDA device: skipped\n");
        return 77;
    }
    const int n = 1 << 20;
    tuple *h = (tuple *)malloc(n * sizeof *h);
    unsigned long long salt = (unsigned long long)time(NULL);
    for (int i = 0; i < n; ++i) {
        vl_u32x4 r = vl_rand4(salt, 7, (uint32_t)i, 0, 0), q = vl_rand4(salt, 8, (uint32_t)i, 0, 0);
        h[i].seed = ((unsigned long long)r.v[0] << 32) | r.v[1];
        h[i].stream = r.v[2];
        h[i].a = r.v[3];
        h[i].b = q.v[0] >> 2; /* see the mapping above */
        h[i].c = q.v[1];
    }
    tuple *d;
    uint4 *d_ours, *d_cur;
    float *d_u, *d_z;
    CHECK(cudaMalloc(&d, n * sizeof *d));
    CHECK(cudaMalloc(&d_ours, n * sizeof(uint4)));
    CHECK(cudaMalloc(&d_cur, n * sizeof(uint4)));
    CHECK(cudaMalloc(&d_u, n * sizeof(float)));
    CHECK(cudaMalloc(&d_z, n * sizeof(float)));
    CHECK(cudaMemset(d_ours, 0xAB, n * sizeof(uint4))); // poison: every element must be written
    CHECK(cudaMemcpy(d, h, n * sizeof *d, cudaMemcpyHostToDevice));
    draw<<<(n + 255) / 256, 256>>>(d, n, d_ours, d_cur, d_u, d_z);
    CHECK(cudaGetLastError());
    uint4 *ours = (uint4 *)malloc(n * sizeof(uint4)), *cur = (uint4 *)malloc(n * sizeof(uint4));
    float *u = (float *)malloc(n * sizeof(float)), *z = (float *)malloc(n * sizeof(float));
    CHECK(cudaMemcpy(ours, d_ours, n * sizeof(uint4), cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(cur, d_cur, n * sizeof(uint4), cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(u, d_u, n * sizeof(float), cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(z, d_z, n * sizeof(float), cudaMemcpyDeviceToHost));
    long bad_cpu = 0, bad_curand = 0, bad_u = 0, z_exact = 0;
    double z_maxdiff = 0;
    for (int i = 0; i < n; ++i) {
        vl_u32x4 r = vl_rand4(h[i].seed, h[i].stream, h[i].a, h[i].b, h[i].c);
        uint4 o = ours[i], c = cur[i];
        bad_cpu += o.x != r.v[0] || o.y != r.v[1] || o.z != r.v[2] || o.w != r.v[3];
        bad_curand += o.x != c.x || o.y != c.y || o.z != c.z || o.w != c.w;
        bad_u += u[i] != vl_u01f(r.v[0]);
        float zc = vl_normalf(r.v[0], r.v[1]);
        z_exact += z[i] == zc;
        double dz = fabs((double)z[i] - zc);
        if (dz > z_maxdiff) z_maxdiff = dz;
    }
    printf("%d draws: device vs CPU Philox mismatches %ld; device vs cuRAND mismatches %ld; uniform mismatches %ld;"
           " normal bit-identical %.4f%%, max |diff| %.3g\n", n, bad_cpu, bad_curand, bad_u, 100.0 * z_exact / n, z_maxdiff);
    int fail = bad_cpu || bad_curand || bad_u || z_exact != n; // normals too: call-free vl_logf and vl_cos2pif
    printf("%s\n", fail ? "FAILED" : "passed");
    return fail;
}
