/* Chunk compression for the writer's spike and state datasets, on several threads. HDF5 applies
 * a dataset's filters inside H5Dwrite on the calling thread only, and at GPU speeds deflate alone
 * is slower than the device hands spikes and traces over. So the writer builds each chunk itself,
 * applies the same two filters the datasets declare (shuffle, then deflate at level 1, exactly as
 * HDF5's H5Z_FILTER_SHUFFLE and H5Z_FILTER_DEFLATE do), and stores the result with
 * H5Dwrite_chunk: the file reads back as if HDF5 had filtered it. Plain C and zlib, no HDF5.
 * A chunk is chunk_n rows of row_bytes (one 8-byte element for spikes, one frame of a report). */
#ifndef VL_RECORD_COMPRESS_H
#define VL_RECORD_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* How a job makes the dataset's rows from its source. */
typedef enum vl_zkind {
    VL_Z_TIME, /* uint32 step relative to step0 -> 8-byte (double)(step0 + v) * dt, as timestamps */
    VL_Z_ID,   /* uint32 id -> 8-byte uint64, as node_ids */
    VL_Z_ROWS  /* rows of row_bytes copied as they are, src_stride bytes apart (report frames) */
} vl_zkind;

/* One chunk: its first `head_n` rows come from `head` (the chunk's part written by the previous
 * append), then `n` rows made from `src` by kind; the rest of the chunk (beyond the dataset's
 * extent) is zero. When `keep` is not NULL the job also copies the chunk's rows there (the
 * dataset's new partial last chunk). */
typedef struct vl_zjob {
    const unsigned char *head;
    size_t head_n;
    const void *src;
    size_t n;
    vl_zkind kind;
    uint64_t step0;      /* VL_Z_TIME */
    double dt;
    size_t row_bytes;    /* 8 for VL_Z_TIME and VL_Z_ID */
    size_t src_stride;   /* VL_Z_ROWS: bytes from one source row to the next */
    size_t elem;         /* the datatype's size, which the shuffle works in */
    size_t chunk_n;      /* rows per chunk */
    unsigned char *keep; /* NULL, or chunk_n * row_bytes bytes */
    /* result */
    unsigned char *out;  /* compressed chunk (grown as needed; the caller frees) */
    size_t out_len, out_cap;
    int zerr;            /* zlib's error code, 0 when fine */
} vl_zjob;

/* 1 when chunk compression is compiled in (zlib found at build time). */
int vl_z_available(void);
/* The compression threads the writer uses: VOLLEY_WRITER_THREADS (1-64) when set, else `hint`
 * when positive (the run's --threads: a user who caps a run's CPUs, e.g. for a sweep of parallel
 * runs, caps its writer too), else the online CPUs, at most 8. */
int vl_z_threads(int hint);
/* Runs every job on up to `threads` threads (the caller's thread is one of them). Returns 0, or
 * -1 when a job failed (its zerr set) or a thread could not start or memory ran out. */
int vl_z_run(vl_zjob *jobs, size_t n, int threads);
/* HDF5's shuffle filter on one chunk: byte b of element i goes to b * n + i. */
void vl_z_shuffle(const unsigned char *in, unsigned char *out, size_t n, size_t elem);

#endif
