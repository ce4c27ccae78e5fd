/* Helpers in src/util.c checked against an independent implementation: vl__sort_u32 (the CUDA
 * backend's per-step sort of spike ids) against the C library's qsort, on inputs shaped like
 * device spike lists (sorted runs of a warp's lanes in any order) and on uniform random keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "kernels/philox.h"

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* n keys from stream `seed`: kind 0 uniform below `top`, kind 1 runs of up to 32 ascending ids of
 * one warp (ids below top) with warps in random order, kind 2 all equal. */
static void fill(uint32_t *a, size_t n, uint32_t seed, int kind, uint64_t top) {
    size_t i = 0;
    while (i < n) {
        vl_u32x4 r = vl_rand4(seed, (uint32_t)kind, (uint32_t)i, 0, 0);
        if (kind == 0) {
            a[i++] = (uint32_t)(((uint64_t)r.v[0] << 32 | r.v[1]) % top);
        } else if (kind == 1) {
            uint64_t warp = r.v[0] % (top / 32 ? top / 32 : 1);
            for (uint32_t lane = 0; lane < 32 && i < n; ++lane)
                if (r.v[1] >> lane & 1) a[i++] = (uint32_t)(warp * 32 + lane);
        } else {
            a[i++] = 12345;
        }
    }
}

static void test_sort_u32(void **state) {
    (void)state;
    const size_t sizes[] = {0, 1, 2, 31, 32, 33, 100, 2000, 100000};
    const uint64_t tops[] = {2, 300, 70000, 1000000, 1ull << 32};
    size_t cases = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; ++s)
        for (size_t t = 0; t < sizeof tops / sizeof *tops; ++t)
            for (int kind = 0; kind < 3; ++kind) {
                const size_t n = sizes[s];
                uint32_t *a = malloc(4 * n + 4), *want = malloc(4 * n + 4), *tmp = malloc(4 * n + 4);
                fill(a, n, (uint32_t)(s * 100 + t), kind, tops[t]);
                memcpy(want, a, 4 * n);
                qsort(want, n, 4, cmp_u32);
                vl__sort_u32(a, n, tmp);
                if (n) assert_memory_equal(a, want, 4 * n);
                free(a);
                free(want);
                free(tmp);
                ++cases;
            }
    assert_int_equal(cases, 9 * 5 * 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sort_u32)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
