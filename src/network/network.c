/* Connectivity generation (every rule), weights, delays and initial values. Each CSR row (or
 * column, for fixed_indegree) draws from Philox keyed by (seed, projection) at counter (row, k),
 * so rows can be generated in parallel and the result never depends on the thread count. */
#include "network/network.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/neuron.h"
#include "kernels/philox.h"
#include "model/model.h"

double vl_dist_draw(const vl_dist *dist, uint64_t seed, uint32_t stream, uint32_t a, uint32_t b, uint32_t c) {
    if (dist->kind == VL_DIST_CONST) return dist->a;
    double x = dist->a;
    /* Truncation redraws (up to 64 times, then clips): the NEST "redraw" convention. */
    for (uint32_t attempt = 0; attempt < 64; ++attempt) {
        vl_u32x4 r = vl_rand4(seed, stream, a, b, c + (attempt << 8));
        if (dist->kind == VL_DIST_UNIFORM) return dist->a + (dist->b - dist->a) * vl_u01d(r.v[0], r.v[1]);
        double z = vl_normald(r);
        x = dist->kind == VL_DIST_NORMAL ? dist->a + dist->b * z : dist->a * exp(dist->b * z);
        if (x >= dist->lo && x <= dist->hi) return x;
    }
    return x < dist->lo ? dist->lo : x > dist->hi ? dist->hi : x;
}

static double u01(uint64_t seed, uint32_t stream, uint32_t a, uint32_t b, uint32_t c) {
    vl_u32x4 r = vl_rand4(seed, stream, a, b, c);
    return vl_u01d(r.v[0], r.v[1]);
}

/* Uniform integer in [0, n) without modulo bias worth worrying about (n < 2^32, 64-bit draw). */
static uint32_t uint_below(uint64_t seed, uint32_t stream, uint32_t a, uint32_t b, uint32_t c, uint32_t n) {
    vl_u32x4 r = vl_rand4(seed, stream, a, b, c);
    /* 32-bit multiply-shift on the high word, corrected by the low word: bias < 2^-32. */
    uint64_t hi = (uint64_t)r.v[0] * n, lo = ((uint64_t)r.v[1] * n) >> 32;
    return (uint32_t)((hi + lo) >> 32);
}

/* A set of indices below n for the rules without multapses: a bitmap when it fits in 64 MiB (a
 * test and a set per draw, where scanning the partners chosen so far made a dense row quadratic),
 * else NULL, and the callers scan. The same partners either way. */
static uint64_t *seen_alloc(uint32_t n) {
    return (uint64_t)n <= ((uint64_t)1 << 29) ? vl__calloc(((size_t)n + 63) / 64, sizeof(uint64_t)) : NULL;
}
static int seen_test_set(uint64_t *seen, uint32_t i) {
    const uint64_t bit = (uint64_t)1 << (i & 63);
    const int was = (seen[i >> 6] & bit) != 0;
    seen[i >> 6] |= bit;
    return was;
}

typedef struct gen {
    const vl_spec *s;
    const vl_proj_spec *p;
    uint64_t seed;
    uint32_t stream;
    uint32_t n_src, n_tgt;
} gen;

static int is_self(const gen *g, uint32_t row, uint32_t tgt_idx) {
    return !g->p->autapses && g->p->src == g->p->tgt && g->p->src_lo + row == tgt_idx;
}

/* Writes the targets of row into out (when non-NULL) and returns their number. Rules that are
 * generated per row: all_to_all, one_to_one, fixed_probability, fixed_outdegree. */
static uint64_t gen_row(const gen *g, uint32_t row, uint32_t *out, uint64_t *seen) {
    const vl_proj_spec *p = g->p;
    uint64_t n = 0;
    switch (p->rule) {
    case VL_CONN_ALL_TO_ALL:
        for (uint32_t j = 0; j < g->n_tgt; ++j)
            if (!is_self(g, row, p->tgt_lo + j)) { if (out) out[n] = p->tgt_lo + j; ++n; }
        break;
    case VL_CONN_ONE_TO_ONE:
        if (!is_self(g, row, p->tgt_lo + row)) { if (out) out[0] = p->tgt_lo + row; n = 1; }
        break;
    case VL_CONN_FIXED_PROB: {
        if (p->p <= 0) break;
        /* Geometric skipping: the gap to the next connected target is geometric(p). */
        double lq = p->p < 1 ? log1p(-p->p) : -INFINITY;
        int64_t j = -1;
        for (uint32_t k = 0;; ++k) {
            if (p->p >= 1) j += 1;
            else { /* a gap past the row ends it (compared as a double: at tiny p it exceeds int64) */
                const double gap = floor(log(u01(g->seed, g->stream, row, k, 0)) / lq);
                if (gap >= (double)g->n_tgt - (double)j) break;
                j += 1 + (int64_t)gap;
            }
            if (j >= (int64_t)g->n_tgt) break;
            if (!is_self(g, row, p->tgt_lo + (uint32_t)j)) { if (out) out[n] = p->tgt_lo + (uint32_t)j; ++n; }
        }
        break;
    }
    case VL_CONN_FIXED_OUTDEGREE: {
        /* The count is fixed by construction; only the filling pass draws. */
        if (!out) { n = p->n; break; }
        for (uint32_t attempt = 0; n < p->n && attempt < 100000000u; ++attempt) {
            uint32_t j = p->tgt_lo + uint_below(g->seed, g->stream, row, attempt, 0, g->n_tgt);
            if (is_self(g, row, j)) continue;
            int dup = 0;
            if (!p->multapses && seen) dup = seen_test_set(seen, j - p->tgt_lo);
            else
                for (uint64_t q = 0; !p->multapses && q < n && !dup; ++q) dup = out[q] == j;
            if (!dup) out[n++] = j;
        }
        if (seen) /* cleared for the next row */
            for (uint64_t q = 0; q < n; ++q) seen[(out[q] - p->tgt_lo) >> 6] = 0;
        break;
    }
    default:
        break;
    }
    return n;
}

static int build_rows(const gen *g, vl_csr *c) {
    c->row_ptr = vl__calloc((size_t)c->n_rows + 1, sizeof *c->row_ptr);
    if (!c->row_ptr) return -1;
    uint64_t *cnt = c->row_ptr + 1;
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t r = 0; r < (int64_t)c->n_rows; ++r) cnt[r] = gen_row(g, (uint32_t)r, NULL, NULL);
    for (uint32_t r = 0; r < c->n_rows; ++r) c->row_ptr[r + 1] += c->row_ptr[r];
    c->n_syn = c->row_ptr[c->n_rows];
    c->col = vl__calloc(c->n_syn, sizeof *c->col);
    if (!c->col) return -1;
    const int distinct = g->p->rule == VL_CONN_FIXED_OUTDEGREE && !g->p->multapses;
    int short_row = 0; /* a row that did not get its partners within the attempts (never left half-filled) */
#pragma omp parallel reduction(| : short_row)
    {
        uint64_t *seen = distinct ? seen_alloc(g->n_tgt) : NULL;
#pragma omp for schedule(dynamic, 64)
        for (int64_t r = 0; r < (int64_t)c->n_rows; ++r)
            if (gen_row(g, (uint32_t)r, c->col + c->row_ptr[r], seen) != c->row_ptr[r + 1] - c->row_ptr[r])
                short_row = 1;
        free(seen);
    }
    return short_row ? -2 : 0;
}

/* COO (src row, target) pairs -> CSR, keeping the order of the pairs within each row: a stable
 * counting sort. Each of T threads counts the rows of its contiguous range of pairs, the starts
 * are laid out row by row and, within a row, thread by thread, and each thread then places its
 * range in order, so the result is the serial one whatever T (PD14 has 3·10⁸ pairs). */
static int coo_to_csr(vl_csr *c, const uint32_t *rows, const uint32_t *cols, const float *w, const float *dl,
                      uint64_t n, float **w_out, float **dl_out) {
    c->row_ptr = vl__calloc((size_t)c->n_rows + 1, sizeof *c->row_ptr);
    c->col = vl__calloc(n, sizeof *c->col);
    if (!c->row_ptr || !c->col) return -1;
    if (w && !(*w_out = vl__calloc(n, sizeof(float)))) return -1;
    if (dl && !(*dl_out = vl__calloc(n, sizeof(float)))) return -1;
    const size_t nr = c->n_rows;
    int T = 1;
#ifdef _OPENMP
    T = omp_get_max_threads();
#endif
    if ((uint64_t)T > n / 1024 + 1) T = (int)(n / 1024 + 1);   /* at least 1024 pairs a thread */
    while (T > 1 && (size_t)T * nr > ((size_t)64 << 20)) --T;  /* counters: at most 512 MiB */
    uint64_t *start = vl__calloc((size_t)T * nr, sizeof *start); /* start[t * nr + r] */
    if (!start) return -1;
#ifdef _OPENMP
#pragma omp parallel num_threads(T)
#endif
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        uint64_t *cnt = start + (size_t)t * nr;
        const uint64_t k0 = n * (uint64_t)t / (uint64_t)T, k1 = n * (uint64_t)(t + 1) / (uint64_t)T;
        for (uint64_t k = k0; k < k1; ++k) cnt[rows[k]]++;
#ifdef _OPENMP
#pragma omp barrier
#pragma omp single
#endif
        {
            uint64_t at = 0;
            for (size_t r = 0; r < nr; ++r) {
                c->row_ptr[r] = at;
                for (int u = 0; u < T; ++u) {
                    const uint64_t m = start[(size_t)u * nr + r];
                    start[(size_t)u * nr + r] = at;
                    at += m;
                }
            }
            c->row_ptr[nr] = at;
        } /* the single's implied barrier: every start is set */
        float *wo = w ? *w_out : NULL, *dlo = dl ? *dl_out : NULL;
        for (uint64_t k = k0; k < k1; ++k) {
            const uint64_t at = cnt[rows[k]]++;
            c->col[at] = cols[k];
            if (wo) wo[at] = w[k];
            if (dlo) dlo[at] = dl[k];
        }
    }
    free(start);
    c->n_syn = n;
    return 0;
}

static int build_indegree(const gen *g, vl_csr *c) {
    const vl_proj_spec *p = g->p;
    uint64_t n = (uint64_t)p->n * g->n_tgt;
    uint32_t *rows = vl__calloc(n, sizeof *rows), *cols = vl__calloc(n, sizeof *cols);
    if (!rows || !cols) { free(rows); free(cols); return -1; }
    int fail = 0;
#pragma omp parallel reduction(| : fail)
    {
        uint64_t *seen = p->multapses ? NULL : seen_alloc(g->n_src);
#pragma omp for schedule(dynamic, 64)
        for (int64_t j = 0; j < (int64_t)g->n_tgt; ++j) {
            uint32_t tgt = p->tgt_lo + (uint32_t)j, attempt = 0;
            uint64_t base = (uint64_t)j * p->n, k = 0;
            while (k < p->n) {
                if (attempt > 100000000u) { fail = 1; break; }
                uint32_t src = uint_below(g->seed, g->stream, (uint32_t)j, attempt++, 1, g->n_src);
                if (!p->autapses && p->src == p->tgt && p->src_lo + src == tgt) continue;
                int dup = 0;
                if (!p->multapses && seen) dup = seen_test_set(seen, src);
                else
                    for (uint64_t q = base; !p->multapses && q < base + k && !dup; ++q) dup = rows[q] == src;
                if (dup) continue;
                rows[base + k] = src;
                cols[base + k] = tgt;
                ++k;
            }
            if (seen) /* cleared for the next target */
                for (uint64_t q = base; q < base + k; ++q) seen[rows[q] >> 6] = 0;
        }
        free(seen);
    }
    int rc = fail ? -2 : coo_to_csr(c, rows, cols, NULL, NULL, n, NULL, NULL);
    free(rows);
    free(cols);
    return rc;
}

static int build_total(const gen *g, vl_csr *c) {
    const vl_proj_spec *p = g->p;
    uint64_t n = p->n;
    uint32_t *rows = vl__calloc(n, sizeof *rows), *cols = vl__calloc(n, sizeof *cols);
    if (!rows || !cols) { free(rows); free(cols); return -1; }
    const int redraw_self = !p->autapses && p->src == p->tgt;
    vl_draw_pairs_fn *draw_pairs = vl__draw_pairs_base;
#ifdef VOLLEY_HAVE_AVX2
    if (vl__cpu_avx2()) draw_pairs = vl__draw_pairs_avx2;
#endif
#pragma omp parallel
    {
        /* every pair's first attempt, a vectorised loop over each thread's share, */
        uint64_t T = 1, me = 0;
#ifdef _OPENMP
        T = (uint64_t)omp_get_num_threads(), me = (uint64_t)omp_get_thread_num();
#endif
        const uint64_t k0 = n * me / T, k1 = n * (me + 1) / T;
        draw_pairs(g->seed, g->stream, k0, k1 - k0, g->n_src, g->n_tgt, p->tgt_lo, rows, cols);
#pragma omp barrier
        /* then, without autapses, the self-pairs drawn again (up to 1000 attempts) */
        if (redraw_self) {
#pragma omp for schedule(static)
            for (int64_t k = 0; k < (int64_t)n; ++k)
                for (uint32_t attempt = 1; p->src_lo + rows[k] == cols[k] && attempt <= 1000; ++attempt) {
                    vl__pair_from(vl_rand4(g->seed, g->stream, (uint32_t)k, (uint32_t)((uint64_t)k >> 32), 2 + (attempt << 4)),
                                  g->n_src, g->n_tgt, p->tgt_lo, &rows[k], &cols[k]);
                }
        }
    }
    int rc = coo_to_csr(c, rows, cols, NULL, NULL, n, NULL, NULL);
    free(rows);
    free(cols);
    return rc;
}

static int s_is_cond(const gen *g) { return g->s->pops[g->p->tgt].model == VL_LIF_COND_EXP; }

/* Reads one 1-D dataset of an HDF5 connection file as doubles; *n is its length. */
static double *h5_column(hid_t f, const char *name, hsize_t *n) {
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return NULL;
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) return NULL;
    hid_t sp = H5Dget_space(ds);
    double *v = NULL;
    if (H5Sget_simple_extent_ndims(sp) == 1) {
        H5Sget_simple_extent_dims(sp, n, NULL);
        v = malloc((*n ? *n : 1) * sizeof *v);
        if (v && *n && H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) { free(v); v = NULL; }
    }
    H5Sclose(sp);
    H5Dclose(ds);
    return v;
}

/* HDF5 connection file: 1-D datasets source, target (indices within the projection's ranges)
 * and optionally weight (the receptor's unit) and delay (ms), all of one length. */
static int build_h5(const gen *g, vl_csr *c, float **w_file, float **d_file, vl_diag *d) {
    const vl_proj_spec *p = g->p;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(p->file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        vl__diag_error(d, p->mark, "cannot open HDF5 connection file '%s'", p->file);
        return -1;
    }
    hsize_t ns = 0, nt = 0, nw = 0, nd = 0;
    double *src = h5_column(f, "source", &ns), *tgt = h5_column(f, "target", &nt);
    double *w = p->weight_from_file ? h5_column(f, "weight", &nw) : NULL;
    double *dl = p->delay_from_file ? h5_column(f, "delay", &nd) : NULL; /* optional: 0 ms */
    H5Fclose(f);
    int rc = 0;
    if (!src || !tgt || ns != nt || (p->weight_from_file && (!w || nw != ns)) || (dl && nd != ns)) {
        vl__diag_error(d, p->mark, "HDF5 connection file '%s' needs 1-D datasets source and target%s%s of equal "
                       "length (indices within the source and target ranges)", p->file,
                       p->weight_from_file ? ", weight" : "", p->delay_from_file ? ", delay (ms)" : "");
        rc = -1;
    }
    uint32_t *rows = NULL, *cols = NULL;
    float *wf = NULL, *df = NULL;
    if (rc == 0) {
        rows = malloc((ns ? ns : 1) * sizeof *rows);
        cols = malloc((ns ? ns : 1) * sizeof *cols);
        wf = malloc((ns ? ns : 1) * sizeof *wf);
        df = malloc((ns ? ns : 1) * sizeof *df);
        if (!rows || !cols || !wf || !df) rc = -1;
    }
    for (hsize_t k = 0; rc == 0 && k < ns; ++k) {
        if (src[k] < 0 || tgt[k] < 0 || src[k] >= g->n_src || tgt[k] >= g->n_tgt || src[k] != floor(src[k]) ||
            tgt[k] != floor(tgt[k]) || (dl && !(dl[k] >= 0 && dl[k] <= 1e9)) || (w && w[k] < 0 && s_is_cond(g)) ||
            (w && !(fabs(w[k]) <= FLT_MAX))) {
            vl__diag_error(d, p->mark, "HDF5 connection file '%s', entry %llu: source %g / target %g outside the "
                           "ranges (%u sources, %u targets)%s", p->file, (unsigned long long)k, src[k], tgt[k],
                           g->n_src, g->n_tgt,
                           dl && !(dl[k] >= 0 && dl[k] <= 1e9) ? ", or a delay that is negative, not a number or above 1e9 ms"
                           : ", or a weight that is not a number, beyond float or a negative conductance");
            rc = -1;
            break;
        }
        rows[k] = (uint32_t)src[k];
        cols[k] = p->tgt_lo + (uint32_t)tgt[k];
        wf[k] = w ? (float)w[k] : 0.0f;
        df[k] = dl ? (float)dl[k] : 0.0f;
    }
    if (rc == 0) rc = coo_to_csr(c, rows, cols, wf, df, ns, w_file, d_file);
    free(src); free(tgt); free(w); free(dl); free(rows); free(cols); free(wf); free(df);
    return rc;
}

static int build_file(const gen *g, vl_csr *c, float **w_file, float **d_file, vl_diag *d) {
    const vl_proj_spec *p = g->p;
    size_t len = strlen(p->file);
    if ((len > 3 && !strcmp(p->file + len - 3, ".h5")) || (len > 5 && !strcmp(p->file + len - 5, ".hdf5")))
        return build_h5(g, c, w_file, d_file, d);
    FILE *f = fopen(p->file, "r");
    if (!f) {
        vl__diag_error(d, p->mark, "cannot open connection file '%s': %s", p->file, strerror(errno));
        return -1;
    }
    size_t cap = 1024, n = 0;
    uint32_t *rows = malloc(cap * sizeof *rows), *cols = malloc(cap * sizeof *cols);
    float *w = malloc(cap * sizeof *w), *dl = malloc(cap * sizeof *dl);
    char line[512];
    int ln = 0, rc = 0, need_w = p->weight_from_file, need_d = p->delay_from_file;
    while (fgets(line, sizeof line, f)) {
        ++ln;
        char *s = line;
        while (isspace((unsigned char)*s)) ++s;
        if (!*s || *s == '#' || isalpha((unsigned char)*s)) continue;
        double v[4];
        int k = 0;
        char *e = s;
        while (k < 4) {
            char *e2;
            v[k] = strtod(e, &e2);
            if (e2 == e) break;
            ++k;
            e = e2;
            while (*e == ',' || *e == ' ' || *e == '\t') ++e;
        }
        int want = 2 + need_w; /* the delay column is optional (0 ms when absent) */
        if (k < want || v[0] < 0 || v[1] < 0 || v[0] != floor(v[0]) || v[1] != floor(v[1]) ||
            v[0] >= g->n_src || v[1] >= g->n_tgt || (need_d && k > 3 && !(v[3] >= 0 && v[3] <= 1e9)) ||
            (need_w && s_is_cond(g) && v[2] < 0) || (need_w && !(fabs(v[2]) <= FLT_MAX))) {
            vl__diag_error(d, p->mark, "connection file '%s', line %d: expected 'source,target%s%s' with source < %u "
                           "and target < %u (indices within the source and target ranges)%s%s, e.g. '3,17,6.0,1.5'",
                           p->file, ln, need_w ? ",weight" : "", need_d ? "[,delay_ms]" : "", g->n_src, g->n_tgt,
                           need_w ? ", a finite weight (not negative onto a conductance)" : "",
                           need_d ? ", a delay from 0 to 1e9 ms" : "");
            rc = -1;
            break;
        }
        if (n == cap) {
            cap *= 2;
            rows = realloc(rows, cap * sizeof *rows);
            cols = realloc(cols, cap * sizeof *cols);
            w = realloc(w, cap * sizeof *w);
            dl = realloc(dl, cap * sizeof *dl);
        }
        rows[n] = (uint32_t)v[0];
        cols[n] = p->tgt_lo + (uint32_t)v[1];
        w[n] = k > 2 ? (float)v[2] : 0.0f; /* a weight column ignored when weight: is given */
        dl[n] = k > 3 ? (float)v[3] : 0.0f;
        ++n;
    }
    if (rc == 0 && ferror(f)) { /* a directory opens, but does not read */
        vl__diag_error(d, p->mark, "cannot read connection file '%s': %s", p->file, strerror(errno));
        rc = -1;
    }
    fclose(f);
    if (rc == 0) rc = coo_to_csr(c, rows, cols, w, dl, n, w_file, d_file);
    free(rows); free(cols); free(w); free(dl);
    return rc;
}


/* Puts every row in target order, stably: synapses onto one target keep their generation order,
 * and each carries its drawn weight and delay along. The network is the same, and so is the
 * order of the additions into each target, so results keep their bits; propagation can find a
 * range of targets in a row by bisection (src/sim/cpu.c). Rows already in order (the per-row
 * rules) are left as they are; the others go through an LSD radix sort on the target. */
static int sort_rows(vl_csr *c, uint16_t *dsteps) {
    const uint32_t top = c->tgt_lo + c->n_cols; /* every col < top */
    unsigned bits = 1;
    while (bits < 32 && (top - 1) >> bits) ++bits;
    const unsigned passes = (bits + 10) / 11, digit = (bits + passes - 1) / passes;
    const uint32_t mask = (1u << digit) - 1;
    int fail = 0;
#pragma omp parallel reduction(| : fail)
    {
        uint64_t *key = NULL, *tmp = NULL;
        float *wt = NULL;
        uint16_t *dt = NULL;
        uint64_t cap = 0;
        uint32_t cnt[2048];
#pragma omp for schedule(dynamic, 256)
        for (int64_t r = 0; r < (int64_t)c->n_rows; ++r) {
            const uint64_t b = c->row_ptr[r], L = c->row_ptr[r + 1] - b;
            uint32_t *col = c->col + b;
            uint64_t i = 1;
            while (i < L && col[i - 1] <= col[i]) ++i;
            if (i >= L || fail) continue;
            if (L > cap) {
                free(key); free(tmp); free(wt); free(dt);
                cap = L;
                key = malloc(cap * sizeof *key), tmp = malloc(cap * sizeof *tmp);
                wt = malloc(cap * sizeof *wt), dt = malloc(cap * sizeof *dt);
                if (!key || !tmp || !wt || !dt || L > UINT32_MAX) { fail = 1; cap = 0; continue; }
            }
            for (i = 0; i < L; ++i) key[i] = (uint64_t)col[i] << 32 | i;
            for (unsigned p = 0; p < passes; ++p) {
                const unsigned sh = 32 + p * digit;
                memset(cnt, 0, ((size_t)mask + 1) * sizeof *cnt);
                for (i = 0; i < L; ++i) cnt[(key[i] >> sh) & mask]++;
                for (uint32_t k = 0, at = 0; k <= mask; ++k) {
                    const uint32_t m = cnt[k];
                    cnt[k] = at;
                    at += m;
                }
                for (i = 0; i < L; ++i) tmp[cnt[(key[i] >> sh) & mask]++] = key[i];
                uint64_t *x = key;
                key = tmp, tmp = x;
            }
            for (i = 0; i < L; ++i) {
                const uint32_t from = (uint32_t)key[i];
                col[i] = (uint32_t)(key[i] >> 32);
                wt[i] = c->w[b + from];
                dt[i] = dsteps[b + from];
            }
            memcpy(c->w + b, wt, L * sizeof *wt);
            memcpy(dsteps + b, dt, L * sizeof *dt);
        }
        free(key); free(tmp); free(wt); free(dt);
    }
    return fail ? -1 : 0;
}

/* Column index of a CSR matrix, for post-spike updates: synapses grouped by target, in row order. */
static int build_csc(vl_csr *c) {
    c->col_ptr = vl__calloc((size_t)c->n_cols + 1, sizeof *c->col_ptr);
    c->csc_syn = vl__calloc(c->n_syn, sizeof *c->csc_syn);
    c->csc_row = vl__calloc(c->n_syn, sizeof *c->csc_row);
    uint64_t *fill = vl__calloc((size_t)c->n_cols + 1, sizeof *fill);
    if (!c->col_ptr || !c->csc_syn || !c->csc_row || !fill) { free(fill); return -1; }
    for (uint64_t j = 0; j < c->n_syn; ++j) c->col_ptr[c->col[j] - c->tgt_lo + 1]++;
    for (uint32_t k = 0; k < c->n_cols; ++k) c->col_ptr[k + 1] += c->col_ptr[k];
    for (uint32_t r = 0; r < c->n_rows; ++r)
        for (uint64_t j = c->row_ptr[r]; j < c->row_ptr[r + 1]; ++j) {
            uint32_t k = c->col[j] - c->tgt_lo;
            uint64_t at = c->col_ptr[k] + fill[k]++;
            c->csc_syn[at] = j;
            c->csc_row[at] = r;
        }
    free(fill);
    return 0;
}

static int build_projection(const vl_spec *s, size_t index, uint64_t seed, vl_csr *c, vl_diag *d) {
    const vl_proj_spec *p = &s->proj[index];
    gen g = {s, p, seed, VL_STREAM_CONNECT | (uint32_t)index, p->src_hi - p->src_lo, p->tgt_hi - p->tgt_lo};
    memset(c, 0, sizeof *c);
    c->src = p->src;
    c->tgt = p->tgt;
    c->rec = p->receptor;
    c->src_lo = p->src_lo;
    c->n_rows = g.n_src;
    c->tgt_lo = p->tgt_lo;
    c->n_cols = g.n_tgt;
    float *w_file = NULL, *d_file = NULL;
    int rc;
    switch (p->rule) {
    case VL_CONN_FIXED_INDEGREE: rc = build_indegree(&g, c); break;
    case VL_CONN_FIXED_TOTAL:
        if (!p->multapses) {
            vl__diag_error(d, p->mark, "fixed_total_number without multapses is not supported yet; drop "
                           "multapses: false");
            return -1;
        }
        rc = build_total(&g, c);
        break;
    case VL_CONN_FILE: rc = build_file(&g, c, &w_file, &d_file, d); break;
    default: rc = build_rows(&g, c); break;
    }
    if (rc == -2 && !d->has_err)
        vl__diag_error(d, p->mark, "cannot build projection '%s': some neuron did not find its %llu distinct partners "
                       "in 10^8 draws; lower the degree or allow multapses", p->name, (unsigned long long)p->n);
    if (rc != 0) {
        if (!d->has_err)
            vl__diag_error(d, p->mark, "cannot build projection '%s': out of memory (about %.0f synapses)", p->name,
                           vl_proj_expected_synapses(s, p));
        free(w_file);
        free(d_file);
        return -1;
    }
    c->w = vl__calloc(c->n_syn, sizeof *c->w);
    uint16_t *dsteps = vl__calloc(c->n_syn, sizeof *dsteps);
    if (!c->w || !dsteps) {
        vl__diag_error(d, p->mark, "cannot build projection '%s': out of memory", p->name);
        free(w_file); free(d_file); free(dsteps);
        return -1;
    }
    uint32_t wstream = VL_STREAM_WEIGHT | (uint32_t)index;
    int too_long = 0;
    const int64_t n_blocks = (int64_t)((c->n_syn + VL_DRAW_BLOCK - 1) / VL_DRAW_BLOCK);
    vl_draw_block_fn *draw_block = vl__draw_block_base;
#ifdef VOLLEY_HAVE_AVX2
    if (vl__cpu_avx2()) draw_block = vl__draw_block_avx2;
#endif
#pragma omp parallel reduction(| : too_long)
    {
        double buf[VL_DRAW_BLOCK];
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < n_blocks; ++blk) {
            const uint64_t k0 = (uint64_t)blk * VL_DRAW_BLOCK;
            const uint32_t m = (uint32_t)(c->n_syn - k0 < VL_DRAW_BLOCK ? c->n_syn - k0 : VL_DRAW_BLOCK);
            draw_block(&p->weight, p->weight_from_file ? w_file : NULL, seed, wstream, 0, k0, m, buf);
            for (uint32_t j = 0; j < m; ++j) c->w[k0 + j] = (float)buf[j];
            draw_block(&p->delay, p->delay_from_file ? d_file : NULL, seed, wstream, 1, k0, m, buf);
            for (uint32_t j = 0; j < m; ++j) {
                double st = nearbyint(buf[j] / s->dt);
                if (st > 65000) too_long = 1;
                dsteps[k0 + j] = (uint16_t)(st > 65000 ? 65000 : st < 0 ? 0 : st);
            }
        }
    }
    free(w_file);
    free(d_file);
    if (too_long) {
        vl__diag_error(d, p->mark, "projection '%s' has a delay longer than 65000 steps (%.0f ms at dt = %g ms)",
                       p->name, 65000 * s->dt, s->dt);
        free(dsteps);
        return -1;
    }
    if (sort_rows(c, dsteps) != 0) {
        vl__diag_error(d, p->mark, "cannot build projection '%s': out of memory to sort its rows", p->name);
        free(dsteps);
        return -1;
    }
    if (p->stdp.on && build_csc(c) != 0) {
        vl__diag_error(d, p->mark, "cannot build projection '%s': out of memory for its CSC index", p->name);
        free(dsteps);
        return -1;
    }
    uint16_t mx = 0, mn = 65535;
    for (uint64_t k = 0; k < c->n_syn; ++k) {
        if (dsteps[k] > mx) mx = dsteps[k];
        if (dsteps[k] < mn) mn = dsteps[k];
    }
    c->max_delay = mx;
    if (c->n_syn == 0 || mn == mx) {
        c->delay_const = mx;
        free(dsteps);
    } else {
        c->delay = dsteps;
    }
    return 0;
}

static int init_values(const vl_spec *s, uint64_t seed, vl_network *net) {
    for (size_t i = 0; i < s->n_pops; ++i) {
        const vl_pop_spec *p = &s->pops[i];
        if (p->type != VL_POP_NEURON) continue;
        net->v0[i] = vl__calloc(p->size, sizeof(float));
        net->g0[i] = vl__calloc((size_t)p->size * p->n_rec, sizeof(float));
        if (!net->v0[i] || !net->g0[i]) return -1;
        uint32_t stream = VL_STREAM_INIT | (uint32_t)i;
        float *v0 = net->v0[i], *g0 = net->g0[i];
#pragma omp parallel for schedule(static)
        for (int64_t k = 0; k < (int64_t)p->size; ++k) {
            v0[k] = (float)vl_dist_draw(&p->init_v, seed, stream, (uint32_t)k, 0, 0);
            for (size_t r = 0; r < p->n_rec; ++r)
                g0[r * p->size + k] = (float)vl_dist_draw(&p->init_g[r], seed, stream, (uint32_t)k, (uint32_t)r + 1, 0);
        }
        net->n_neurons += p->size;
    }
    return 0;
}

int vl_network_build(const vl_spec *s, uint64_t seed, vl_network *net, vl_diag *d) {
    memset(net, 0, sizeof *net);
    net->v0 = vl__calloc(s->n_pops, sizeof *net->v0);
    net->g0 = vl__calloc(s->n_pops, sizeof *net->g0);
    net->ring_len = vl__calloc(s->n_pops, sizeof *net->ring_len);
    net->proj = vl__calloc(s->n_proj, sizeof *net->proj);
    if (!net->v0 || !net->g0 || !net->ring_len || !net->proj) return -1;
    net->n_proj = s->n_proj;
    for (size_t i = 0; i < s->n_pops; ++i) net->ring_len[i] = 2;
    for (size_t i = 0; i < s->n_proj; ++i) {
        if (build_projection(s, i, seed, &net->proj[i], d) != 0) return -1;
        net->n_synapses += net->proj[i].n_syn;
        uint32_t need = (uint32_t)net->proj[i].max_delay + 2;
        if (need > net->ring_len[net->proj[i].tgt]) net->ring_len[net->proj[i].tgt] = need;
    }
    if (init_values(s, seed, net) != 0) {
        vl__diag_error(d, (vl_mark){s->path, 0, 0}, "out of memory for the neuron state");
        return -1;
    }
    return 0;
}

void vl_network_free(vl_network *net, size_t n_pops) {
    for (size_t i = 0; i < net->n_proj; ++i) {
        free(net->proj[i].row_ptr); free(net->proj[i].col); free(net->proj[i].w); free(net->proj[i].delay);
        free(net->proj[i].col_ptr); free(net->proj[i].csc_syn); free(net->proj[i].csc_row);
    }
    for (size_t i = 0; net->v0 && i < n_pops; ++i) { free(net->v0[i]); free(net->g0[i]); }
    free(net->proj); free(net->v0); free(net->g0); free(net->ring_len);
    memset(net, 0, sizeof *net);
}
