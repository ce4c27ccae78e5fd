/* Diagnostics, allocation and string helpers used by every stage. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void vl__assert_fail(const char *file, int line, const char *expr) {
    fprintf(stderr, "volley: internal error at %s:%d: assertion '%s' failed\n", file, line, expr);
    abort();
}

void vl__mark_format(vl_mark at, char *buf, size_t len) {
    if (!at.file)
        snprintf(buf, len, "%s", "");
    else if (at.line > 0)
        snprintf(buf, len, "%s:%d:%d: ", at.file, at.line, at.col);
    else
        snprintf(buf, len, "%s: ", at.file);
}

static char *vformat(vl_mark at, const char *kind, const char *fmt, va_list ap) {
    char where[1200], msg[3000];
    vl__mark_format(at, where, sizeof where);
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(where) + strlen(kind) + strlen(msg) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", where, kind, msg);
    return s;
}

void vl__diag_error(vl_diag *d, vl_mark at, const char *fmt, ...) {
    if (d->has_err) return; /* the first error is the one the user should fix first */
    va_list ap;
    va_start(ap, fmt);
    char *s = vformat(at, "error: ", fmt, ap);
    va_end(ap);
    snprintf(d->err, sizeof d->err, "%s", s ? s : "error (out of memory formatting it)");
    free(s);
    d->has_err = 1;
}

void vl__diag_warn(vl_diag *d, vl_mark at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = vformat(at, "warning: ", fmt, ap);
    va_end(ap);
    if (!s) return;
    if (d->n_warn == d->cap_warn) {
        size_t cap = d->cap_warn ? 2 * d->cap_warn : 8;
        char **w = realloc(d->warn, cap * sizeof *w);
        if (!w) { free(s); return; }
        d->warn = w;
        d->cap_warn = cap;
    }
    d->warn[d->n_warn++] = s;
}

void vl__diag_free(vl_diag *d) {
    for (size_t i = 0; i < d->n_warn; ++i) free(d->warn[i]);
    free(d->warn);
    d->warn = NULL;
    d->n_warn = d->cap_warn = 0;
}

void *vl__calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }
void *vl__realloc(void *p, size_t size) { return realloc(p, size ? size : 1); }

char *vl__strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

double vl__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int vl__edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int prev[64], cur[64];
    for (size_t j = 0; j <= lb; ++j) prev[j] = (int)j;
    for (size_t i = 1; i <= la; ++i) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; ++j) {
            int c = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < c) c = prev[j] + 1;
            if (cur[j - 1] + 1 < c) c = cur[j - 1] + 1;
            cur[j] = c;
        }
        memcpy(prev, cur, (lb + 1) * sizeof *cur);
    }
    return prev[lb];
}

const char *vl__closest(const char *word, const char *const *candidates) {
    const char *best = NULL;
    int best_d = 1 << 30;
    for (size_t i = 0; candidates[i]; ++i) {
        int d = vl__edit_distance(word, candidates[i]);
        if (d < best_d) { best_d = d; best = candidates[i]; }
    }
    size_t len = strlen(word);
    int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    return best_d <= limit ? best : NULL;
}

void vl__sort_u32(uint32_t *a, size_t n, uint32_t *tmp) {
    if (n <= 32) {
        for (size_t i = 1; i < n; ++i) {
            uint32_t x = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1] > x; --j) a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    uint32_t bits = 0;
    for (size_t i = 0; i < n; ++i) bits |= a[i];
    uint32_t *src = a, *dst = tmp;
    for (unsigned shift = 0; shift < 32 && (bits >> shift); shift += 8) {
        size_t at[256] = {0};
        for (size_t i = 0; i < n; ++i) at[(src[i] >> shift) & 255]++;
        if (at[(src[0] >> shift) & 255] == n) continue; /* one bucket: this byte is the same everywhere */
        size_t sum = 0;
        for (int b = 0; b < 256; ++b) {
            size_t c = at[b];
            at[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; ++i) dst[at[(src[i] >> shift) & 255]++] = src[i];
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

int vl__cpu_avx2(void) {
#if defined(VOLLEY_HAVE_AVX2) && (defined(__GNUC__) || defined(__clang__))
    const char *e = getenv("VOLLEY_CPU_ISA");
    if (e && !strcmp(e, "baseline")) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
#else
    return 0;
#endif
}

double vl__mem_available(void) {
    double avail = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "MemAvailable:", 13)) avail = atof(line + 13) * 1024.0;
    if (f) fclose(f);
    double lim = -1, cur = 0;
    if ((f = fopen("/sys/fs/cgroup/memory.max", "r"))) { /* "max" when there is no limit */
        if (fgets(line, sizeof line, f) && line[0] >= '0' && line[0] <= '9') lim = atof(line);
        fclose(f);
    }
    if (lim > 0 && (f = fopen("/sys/fs/cgroup/memory.current", "r"))) {
        if (fgets(line, sizeof line, f)) cur = atof(line);
        fclose(f);
        if (avail < 0 || lim - cur < avail) avail = lim - cur;
    }
    return avail;
}
