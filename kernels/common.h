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

#endif
