/* The CPU backend built for AVX2 (CMake compiles this file with -mavx2 on x86-64): the same
 * source as cpu.c, whose backend table it names vl_backend_cpu_avx2. */
#define VL_CPU_ISA avx2
#define VL_CPU_DEVICE "CPU, AVX2"
#include "cpu.c"
