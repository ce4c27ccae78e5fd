/* Internal helpers shared by every stage: diagnostics (errors and warnings with a position),
 * checked allocation and small string utilities. Not part of the public API. */
#ifndef VL_INTERNAL_H
#define VL_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "volley/volley.h"
#include "model/spec.h"

#define VL_ASSERT(x)                                                                   \
    do {                                                                               \
        if (!(x)) vl__assert_fail(__FILE__, __LINE__, #x);                             \
    } while (0)
void vl__assert_fail(const char *file, int line, const char *expr);

/* The first error and every warning of one stage. */
typedef struct vl_diag {
    char err[4096];
    int has_err;
    char **warn;
    size_t n_warn, cap_warn;
} vl_diag;

void vl__diag_error(vl_diag *d, vl_mark at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void vl__diag_warn(vl_diag *d, vl_mark at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void vl__diag_free(vl_diag *d);
/* Formats "file:line:col: " (or "file: " / "--set ...: ") into buf. */
void vl__mark_format(vl_mark at, char *buf, size_t len);

void *vl__calloc(size_t n, size_t size);
void *vl__realloc(void *p, size_t size);
char *vl__strdup(const char *s);
double vl__now(void); /* monotonic seconds */
/* Bytes of memory the machine can still give this process: /proc/meminfo's MemAvailable, or
 * what a cgroup v2 limit leaves when that is less. Negative when unknown. */
double vl__mem_available(void);

/* Whether the host code built for AVX2 (src/sim/cpu_avx2.c, src/network/draw_avx2.c; x86-64 with
 * GCC or Clang) runs here: the CPU supports it and VOLLEY_CPU_ISA is not "baseline". Both builds
 * give the same bits (IEEE operations, no contraction or reassociation), only faster. */
int vl__cpu_avx2(void);

/* Sorts a[0 .. n) ascending; tmp holds n words. Short arrays by insertion, others by an LSD radix
 * sort on bytes, with only the passes the largest key needs (the CUDA backend sorts each step's
 * spike ids, appended in any order by the device, before handing them to the writer). */
void vl__sort_u32(uint32_t *a, size_t n, uint32_t *tmp);

/* Levenshtein distance, for "did you mean". */
int vl__edit_distance(const char *a, const char *b);
/* Returns the closest of the candidates (NULL-terminated list) when it is close enough. */
const char *vl__closest(const char *word, const char *const *candidates);

#endif
