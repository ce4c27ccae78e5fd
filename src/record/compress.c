/* Chunk compression for the writer (compress.h): shuffle + deflate on a few threads. */
#include "record/compress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef VOLLEY_HAVE_ZLIB
#include <zlib.h>
#endif

void vl_z_shuffle(const unsigned char *in, unsigned char *out, size_t n, size_t elem) {
    for (size_t b = 0; b < elem; ++b) {
        unsigned char *o = out + b * n;
        const unsigned char *p = in + b;
        for (size_t i = 0; i < n; ++i) o[i] = p[i * elem];
    }
}

int vl_z_available(void) {
#ifdef VOLLEY_HAVE_ZLIB
    return 1;
#else
    return 0;
#endif
}

int vl_z_threads(int hint) {
    const char *e = getenv("VOLLEY_WRITER_THREADS");
    if (e && *e) {
        int n = atoi(e);
        return n < 1 ? 1 : n > 64 ? 64 : n;
    }
    if (hint > 0) return hint > 64 ? 64 : hint;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (int)n;
}

typedef struct z_pool {
    vl_zjob *jobs;
    size_t n, max_chunk; /* max_chunk: bytes */
    atomic_size_t next;
    atomic_int failed;
} z_pool;

#ifdef VOLLEY_HAVE_ZLIB
/* Fills raw with the job's chunk (head, new rows, zeros). Values go through memcpy so that the
 * bytes are the host's representation, which the writer checked is the file's. */
static void z_fill(const vl_zjob *j, unsigned char *raw) {
    size_t at = j->head_n * j->row_bytes;
    if (j->head_n) memcpy(raw, j->head, at);
    const uint32_t *v = j->src;
    const unsigned char *rows = j->src;
    for (size_t i = 0; i < j->n; ++i, at += j->row_bytes) {
        if (j->kind == VL_Z_TIME) {
            double t = (double)(j->step0 + v[i]) * j->dt;
            memcpy(raw + at, &t, 8);
        } else if (j->kind == VL_Z_ID) {
            uint64_t id = v[i];
            memcpy(raw + at, &id, 8);
        } else {
            memcpy(raw + at, rows + i * j->src_stride, j->row_bytes);
        }
    }
    memset(raw + at, 0, j->chunk_n * j->row_bytes - at);
}

static void z_one(vl_zjob *j, unsigned char *raw, unsigned char *shuf) {
    const size_t bytes = j->chunk_n * j->row_bytes;
    z_fill(j, raw);
    if (j->keep) memcpy(j->keep, raw, (j->head_n + j->n) * j->row_bytes);
    vl_z_shuffle(raw, shuf, bytes / j->elem, j->elem);
    uLongf len = compressBound((uLong)bytes);
    if (j->out_cap < len) {
        unsigned char *o = realloc(j->out, len);
        if (!o) { j->zerr = Z_MEM_ERROR; return; }
        j->out = o;
        j->out_cap = len;
    }
    int rc = compress2(j->out, &len, shuf, (uLong)bytes, 1); /* what H5Pset_deflate(pl, 1) asks */
    j->zerr = rc == Z_OK ? 0 : rc;
    j->out_len = rc == Z_OK ? (size_t)len : 0;
}
#endif

static void *z_worker(void *arg) {
    z_pool *p = arg;
#ifdef VOLLEY_HAVE_ZLIB
    unsigned char *raw = malloc(p->max_chunk), *shuf = malloc(p->max_chunk);
    if (!raw || !shuf) atomic_store(&p->failed, 1);
    for (size_t k; raw && shuf && (k = atomic_fetch_add(&p->next, 1)) < p->n;) {
        z_one(&p->jobs[k], raw, shuf);
        if (p->jobs[k].zerr) atomic_store(&p->failed, 1);
    }
    free(raw);
    free(shuf);
#else
    atomic_store(&p->failed, 1);
#endif
    return NULL;
}

int vl_z_run(vl_zjob *jobs, size_t n, int threads) {
    if (!n) return 0;
    z_pool p = {jobs, n, 0, 0, 0};
    for (size_t k = 0; k < n; ++k) /* the largest chunk in bytes */
        if (jobs[k].chunk_n * jobs[k].row_bytes > p.max_chunk) p.max_chunk = jobs[k].chunk_n * jobs[k].row_bytes;
    size_t extra = (size_t)(threads > 1 ? threads - 1 : 0);
    if (extra > n - 1) extra = n - 1;
    pthread_t tid[64];
    size_t started = 0;
    for (; started < extra && started < 64; ++started)
        if (pthread_create(&tid[started], NULL, z_worker, &p) != 0) break; /* fewer threads: still correct */
    z_worker(&p);
    for (size_t k = 0; k < started; ++k) pthread_join(tid[k], NULL);
    return atomic_load(&p.failed) ? -1 : 0;
}
