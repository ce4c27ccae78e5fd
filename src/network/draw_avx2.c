/* draw.c built for AVX2 (CMake compiles this file with -mavx2 on x86-64). */
#define VL_DRAW_ISA avx2
#include "draw.c"
