/* Chunk compression for the writer's spike datasets, on several threads. HDF5 applies a
 * dataset's filters inside H5Dwrite on the calling thread only, and at 10^6 neurons on a GPU
 * deflate alone is slower than the device hands spikes over. So the writer builds each chunk
 * itself, applies the same two filters the datasets declare (shuffle, then deflate at level 1,
 * exactly as HDF5's H5Z_FILTER_SHUFFLE and H5Z_FILTER_DEFLATE do), and stores the result with
 * H5Dwrite_chunk: the file reads back as if HDF5 had filtered it. Plain C and zlib, no HDF5. */
#ifndef VL_RECORD_COMPRESS_H
#define VL_RECORD_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* How a job turns its 32-bit source values into the dataset's 8-byte little-endian elements. */
typedef enum vl_zkind {
    VL_Z_TIME, /* step relative to step0 -> (double)(step0 + v) * dt, as timestamps */
    VL_Z_ID    /* id -> uint64, as node_ids */
} vl_zkind;

/* One chunk: its first `head_n` elements come from `head` (already converted: the chunk's part
 * written by the previous append), then `n` values of `src` converted by kind; the rest of the
 * chunk (beyond the dataset's extent) is zero. When `keep` is not NULL the job also copies the
 * chunk's elements there (the dataset's new partial last chunk). */
typedef struct vl_zjob {
    const unsigned char *head;
    size_t head_n;
    const uint32_t *src;
    size_t n;
    vl_zkind kind;
    uint64_t step0;
    double dt;
    size_t chunk_n;      /* elements per chunk (8 bytes each) */
    unsigned char *keep; /* NULL, or chunk_n * 8 bytes */
    /* result */
    unsigned char *out;  /* compressed chunk (grown as needed; the caller frees) */
    size_t out_len, out_cap;
    int zerr;            /* zlib's error code, 0 when fine */
} vl_zjob;

/* 1 when chunk compression is compiled in (zlib found at build time). */
int vl_z_available(void);
/* The compression threads the writer uses: VOLLEY_WRITER_THREADS (1-64) or the online CPUs,
 * at most 8. */
int vl_z_threads(void);
/* Runs every job on up to `threads` threads (the caller's thread is one of them). Returns 0, or
 * -1 when a job failed (its zerr set) or a thread could not start or memory ran out. */
int vl_z_run(vl_zjob *jobs, size_t n, int threads);
/* HDF5's shuffle filter on one chunk: byte b of element i goes to b * n + i. */
void vl_z_shuffle(const unsigned char *in, unsigned char *out, size_t n, size_t elem);

#endif
