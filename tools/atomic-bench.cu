// Random-address float atomicAdd throughput on the device, with the target buffer sized to
// sit in L2 or spill to DRAM. Spike propagation is a stream of such adds, so this bounds it.
// Build: nvcc -O3 -arch=sm_90 tools/atomic-bench.cu -o atomic-bench
#include <cstdio>
#include <cstdint>
#include <cuda_runtime.h>

#define CHECK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
    fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorName(e_)); return 1; } } while (0)

static const int BLOCK = 256;

// A cheap per-thread hash gives uniformly spread addresses without a stored index stream,
// so the kernel measures the atomics, not index loads.
__device__ __forceinline__ uint32_t mix(uint32_t x) {
    x ^= x >> 16; x *= 0x7feb352dU; x ^= x >> 15; x *= 0x846ca68bU; x ^= x >> 16;
    return x;
}

__global__ void scatter(float *buf, uint32_t mask, int per_thread, uint32_t salt) {
    uint32_t tid = blockIdx.x * blockDim.x + threadIdx.x;
    uint32_t h = mix(tid ^ salt);
    for (int i = 0; i < per_thread; ++i) {
        h = mix(h + (uint32_t)i);
        atomicAdd(&buf[h & mask], 1.0f);
    }
}

int main(void) {
    cudaDeviceProp p;
    CHECK(cudaGetDeviceProperties(&p, 0));
    printf("device: %s, %d SMs, L2 %d MiB\n", p.name, p.multiProcessorCount, p.l2CacheSize >> 20);
    const size_t max_elems = (size_t)1 << 28;  // 1 GiB of floats
    float *buf;
    CHECK(cudaMalloc(&buf, max_elems * sizeof(float)));
    CHECK(cudaMemset(buf, 0, max_elems * sizeof(float)));
    cudaEvent_t a, b;
    CHECK(cudaEventCreate(&a));
    CHECK(cudaEventCreate(&b));
    const int grid = p.multiProcessorCount * 16, per_thread = 256;
    const double adds = (double)grid * BLOCK * per_thread;
    printf("%12s %14s %12s\n", "buffer", "atomics/s", "ns/atomic");
    for (int lg = 18; lg <= 28; lg += 1) {
        uint32_t mask = (1u << lg) - 1u;
        scatter<<<grid, BLOCK>>>(buf, mask, per_thread, 1u);  // warm-up
        CHECK(cudaGetLastError());
        float best = 1e30f, t;
        for (int r = 0; r < 5; ++r) {
            CHECK(cudaEventRecord(a));
            scatter<<<grid, BLOCK>>>(buf, mask, per_thread, (uint32_t)r * 7919u);
            CHECK(cudaEventRecord(b));
            CHECK(cudaEventSynchronize(b));
            CHECK(cudaGetLastError());
            CHECK(cudaEventElapsedTime(&t, a, b));
            if (t < best) best = t;
        }
        double rate = adds / (best * 1e-3);
        printf("%9zu KiB %14.3e %12.4f\n", ((size_t)1 << lg) * 4 / 1024, rate, 1e9 / rate);
    }
    CHECK(cudaFree(buf));
    return 0;
}
