/* Recording: chunks of simulated steps (spikes, per-step spike counts, sampled state) filled by
 * a backend and drained by one writer thread into a SONATA-layout HDF5 file. Two chunks are
 * in flight at most, so memory stays bounded however long the run. */
#ifndef VL_RECORD_RECORD_H
#define VL_RECORD_RECORD_H

#include "internal.h"

typedef struct vl_spike_buf {
    uint32_t *step; /* relative to the chunk's first step */
    uint32_t *id;   /* population-local */
    size_t n, cap;
} vl_spike_buf;

typedef struct vl_weight_snap {
    int proj;
    double time_ms;
    float *w; /* a copy of the projection's weights, CSR order; the writer frees it */
} vl_weight_snap;

typedef struct vl_chunk {
    uint64_t step0;
    uint32_t n_steps;
    vl_weight_snap *snap; /* weight snapshots taken at the end of this chunk */
    size_t n_snap;
    vl_spike_buf *spk;  /* per population (only recorded ones are filled) */
    uint32_t **count;   /* per population: spikes in each step of the chunk */
    float **frames;     /* per state recording: frames x (n_vars * n_ids), variable-major */
    uint32_t *n_frames;
} vl_chunk;

/* Appends a spike; returns -1 when out of memory. */
int vl_spike_buf_push(vl_spike_buf *b, uint32_t step, uint32_t id);

typedef struct vl_writer vl_writer;

typedef struct vl_writer_meta {
    uint64_t seed;
    const char *backend, *device;
    int threads; /* the run's --threads (0: not given), a hint for the compression threads */
} vl_writer_meta;

/* Opens the output (path may be NULL: chunks are then only recycled). chunk_steps bounds a
 * chunk's length. On error returns non-zero with a message in err. */
struct vl_network;
vl_status vl_writer_open(const char *path, const vl_spec *s, const struct vl_network *net, uint32_t chunk_steps,
                         const vl_writer_meta *meta, vl_writer **out, char *err, size_t errlen);
/* An empty chunk to fill (waits while the writer is behind). NULL when the writer failed. */
vl_chunk *vl_writer_acquire(vl_writer *w);
void vl_writer_submit(vl_writer *w, vl_chunk *c);
/* The writer thread's error, or NULL. */
const char *vl_writer_error(vl_writer *w);

typedef struct vl_writer_summary {
    int complete;
    const char *status;
    uint64_t steps_done;
    const vl_run_result *res;
    const char *const *warnings;
    size_t n_warnings;
} vl_writer_summary;

/* Drains every submitted chunk, writes the summary under /volley and closes the file. */
vl_status vl_writer_close(vl_writer *w, const vl_writer_summary *sum, char *err, size_t errlen);

#endif
