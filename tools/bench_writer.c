/* bench_writer: the output path alone. Pushes synthetic spikes (S per step, sorted ids drawn
 * from a fixed generator) from one population of N neurons through the real writer into an HDF5
 * file, as a backend would hand over chunks, and prints spikes written per second of wall time and
 * of the writer thread's busy time. It answers "can the writer keep up with the device?" without
 * a GPU: COBA at 10^6 neurons hands over about 2000 spikes per step.
 *
 *   bench_writer OUT.h5 [--neurons N] [--spikes S] [--steps T] [--chunk C] [--state K]
 *
 * --state K also records v of K neurons at every step (a drifting synthetic trace), which goes
 * through the writer's report path.
 *
 * VOLLEY_WRITER_THREADS picks the number of compression threads (README, Output). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "network/network.h"
#include "record/compress.h"
#include "record/record.h"

int main(int argc, char **argv) {
    const char *out = NULL;
    unsigned long neurons = 1000000, spikes = 2000, steps = 20000, chunk = 1000, state = 0;
    for (int i = 1; i < argc; ++i) {
        unsigned long *opt = !strcmp(argv[i], "--neurons") ? &neurons
                             : !strcmp(argv[i], "--spikes") ? &spikes
                             : !strcmp(argv[i], "--steps")  ? &steps
                             : !strcmp(argv[i], "--chunk")  ? &chunk
                             : !strcmp(argv[i], "--state")  ? &state
                                                            : NULL;
        if (opt && i + 1 < argc) *opt = strtoul(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && !out) out = argv[i];
        else {
            fprintf(stderr, "usage: bench_writer OUT.h5 [--neurons N] [--spikes S] [--steps T] [--chunk C] [--state K]\n");
            return 2;
        }
    }
    if (!out || !neurons || spikes > neurons || state > neurons || !steps || !chunk || (!spikes && !state)) {
        fprintf(stderr, "bench_writer: need OUT.h5, neurons >= spikes per step and >= state, steps and chunk > 0\n");
        return 2;
    }
    /* The model: one recorded population, no synapses (written to a temporary YAML). */
    char yaml[256];
    snprintf(yaml, sizeof yaml, "%s.yaml", out);
    FILE *f = fopen(yaml, "w");
    if (!f) { perror(yaml); return 1; }
    fprintf(f, "dt: 0.1 ms\nduration: %lu ms\npopulations:\n  pop: {size: %lu, model: lif_cond_exp}\n"
               "record:\n  spikes: [pop]\n", steps / 10 + 1, neurons);
    if (state) fprintf(f, "  state: [{population: pop, variables: [v], neurons: \"0:%lu\", every: 0.1 ms}]\n", state);
    fclose(f);
    vl_model *m = NULL;
    if (vl_model_load(yaml, NULL, 0, &m) != VL_OK) { fprintf(stderr, "%s\n", vl_model_error(m)); return 1; }
    remove(yaml);
    const vl_spec *s = &m->spec;
    vl_network net;
    vl_diag d = {0};
    if (vl_network_build(s, 1, &net, &d)) { fprintf(stderr, "%s\n", d.err); return 1; }
    vl_writer *w = NULL;
    char err[2048];
    vl_writer_meta meta = {1, "synthetic", "bench_writer", 0};
    if (vl_writer_open(out, s, &net, (uint32_t)chunk, &meta, &w, err, sizeof err) != VL_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    uint32_t *ids = malloc(spikes * sizeof *ids);
    uint64_t x = 88172645463325252ull, total = 0;
    double t0 = vl__now(), fill_s = 0;
    for (unsigned long step0 = 0; step0 < steps; step0 += chunk) {
        vl_chunk *c = vl_writer_acquire(w);
        if (!c) { fprintf(stderr, "writer failed: %s\n", vl_writer_error(w)); return 1; }
        double f0 = vl__now();
        c->step0 = step0;
        c->n_steps = (uint32_t)(steps - step0 < chunk ? steps - step0 : chunk);
        for (uint32_t k = 0; k < c->n_steps; ++k) {
            const unsigned long stride = spikes ? neurons / spikes : 1;
            for (unsigned long j = 0; j < spikes; ++j) { /* xorshift64: one id in each stride, sorted */
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                ids[j] = (uint32_t)(j * stride + x % stride);
            }
            for (unsigned long j = 0; j < spikes; ++j)
                if (vl_spike_buf_push(&c->spk[0], k, ids[j])) { fprintf(stderr, "out of memory\n"); return 1; }
            c->count[0][k] = (uint32_t)spikes;
            total += spikes;
            if (state) { /* frame k: a slow drift plus a little xorshift noise, like a membrane trace */
                float *fr = c->frames[0] + (size_t)k * state;
                for (unsigned long j = 0; j < state; ++j) {
                    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                    fr[j] = -60.0f + 0.001f * (float)((step0 + k + j) % 10000) + (float)(x & 1023) * 1e-4f;
                }
            }
        }
        if (state) c->n_frames[0] = c->n_steps;
        fill_s += vl__now() - f0;
        vl_writer_submit(w, c);
    }
    vl_run_result res;
    memset(&res, 0, sizeof res);
    vl_writer_summary sum = {1, "ok", steps, &res, NULL, 0};
    double t_close = vl__now();
    if (vl_writer_close(w, &sum, err, sizeof err) != VL_OK) { fprintf(stderr, "%s\n", err); return 1; }
    double wall = vl__now() - t0, gen = fill_s;
    /* The writer's own time is recorded in the file (/volley write_s). */
    double busy = 0;
    hid_t fh = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT), v = fh >= 0 ? H5Oopen(fh, "/volley", H5P_DEFAULT) : -1;
    hid_t a = v >= 0 ? H5Aopen(v, "write_s", H5P_DEFAULT) : -1;
    if (a >= 0) H5Aread(a, H5T_NATIVE_DOUBLE, &busy), H5Aclose(a);
    if (v >= 0) H5Oclose(v);
    if (fh >= 0) H5Fclose(fh);
    char how[64];
    if (vl_z_available()) snprintf(how, sizeof how, "%d compression threads", vl_z_threads(0));
    else snprintf(how, sizeof how, "HDF5 filters, no zlib at build time");
    const double mb = 4e-6 * (double)state * (double)steps;
    printf("spikes %llu, state %.0f MB  wall %.3f s (generating %.3f s, draining at close %.3f s)  writer busy %.3f s"
           "  => %.1f M spikes/s, %.0f MB/s of state (%s)\n",
           (unsigned long long)total, mb, wall, gen, vl__now() - t_close, busy, busy > 0 ? total / busy * 1e-6 : 0.0,
           busy > 0 ? mb / busy : 0.0, how);
    free(ids);
    vl_network_free(&net, s->n_pops);
    vl_model_destroy(m);
    return 0;
}
