/* The writer's own chunk compression (src/record/compress.h): spikes and report frames handed
 * over in appends of awkward sizes (empty, one, exactly filling a chunk, several chunks at once)
 * are read back by the HDF5 library itself, which undoes the shuffle and deflate filters the
 * datasets declare: every timestamp, node id and sampled value (two variables, interleaved in the
 * writer's frames) must come back exactly, with 1 and with 3 compression threads, and the
 * datasets must still declare shuffle + deflate, so any reader decodes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <hdf5.h>

#include "model/model.h"
#include "network/network.h"
#include "record/compress.h"
#include "record/record.h"

/* Spikes in the first three steps of each chunk (0 = none). The spike datasets' chunks hold
 * 32768 elements. */
static const uint32_t chunk_spikes[][3] = {
    {0, 0, 0}, {5, 0, 0}, {32763, 0, 0}, {1, 0, 0}, {30000, 40000, 0}, {32768, 0, 0}, {7, 12345, 3},
};
/* Steps of each chunk, each a frame of the report (N_IDS neurons, 2 variables): its chunks hold
 * 262144 / (4 * 37) = 1771 frames. */
static const uint32_t chunk_steps[] = {3, 3, 1770, 1, 3, 1771, 4000};
#define N_CHUNK (sizeof chunk_spikes / sizeof chunk_spikes[0])
#define N_NEURONS 100000u
#define N_IDS 37u

static uint32_t spike_id(uint64_t step, uint32_t j) { return (uint32_t)((j * 7919u + step * 104729u) % N_NEURONS); }
/* Sampled value of variable var of recorded neuron i at step t: distinct, not smooth. */
static float sample(uint64_t t, uint32_t var, uint32_t i) {
    return (float)(t % 9973) * 0.37f - 60.0f + (float)var * 100.0f + (float)i * 0.013f;
}

static void expect_filters(hid_t ds) {
    hid_t pl = H5Dget_create_plist(ds);
    assert_int_equal(H5Pget_nfilters(pl), 2); /* what a reader needs to decode them */
    unsigned flags, cd[4];
    size_t ncd = 4;
    assert_int_equal(H5Pget_filter2(pl, 0, &flags, &ncd, cd, 0, NULL, NULL), H5Z_FILTER_SHUFFLE);
    ncd = 4;
    assert_int_equal(H5Pget_filter2(pl, 1, &flags, &ncd, cd, 0, NULL, NULL), H5Z_FILTER_DEFLATE);
    H5Pclose(pl);
}

static void write_and_check(const char *threads) {
    char dir[] = VOLLEY_TEST_TMP "/writerXXXXXX";
    if (!mkdtemp(dir)) fail_msg("mkdtemp");
    char yaml[256], h5[256], err[2048];
    snprintf(yaml, sizeof yaml, "%s/m.yaml", dir);
    snprintf(h5, sizeof h5, "%s/out.h5", dir);
    FILE *f = fopen(yaml, "w");
    fprintf(f, "dt: 0.1 ms\nduration: 10 ms\npopulations:\n  pop: {size: %u, model: lif_cond_exp}\n"
               "record:\n  spikes: [pop]\n"
               "  state: [{population: pop, variables: [v, g_exc], neurons: \"0:%u\", every: 0.1 ms}]\n",
            N_NEURONS, N_IDS);
    fclose(f);
    vl_model *m = NULL;
    if (vl_model_load(yaml, NULL, 0, &m) != VL_OK) fail_msg("%s", vl_model_error(m));
    const vl_spec *s = &m->spec;
    vl_network net;
    vl_diag d = {0};
    assert_int_equal(vl_network_build(s, 1, &net, &d), 0);
    setenv("VOLLEY_WRITER_THREADS", threads, 1);
    assert_int_equal(vl_z_threads(0), atoi(threads));
    assert_int_equal(vl_z_threads(5), atoi(threads)); /* the variable wins over --threads */
    vl_writer *w = NULL;
    vl_writer_meta meta = {1, "test", "test", 0};
    if (vl_writer_open(h5, s, &net, 4000, &meta, &w, err, sizeof err) != VL_OK) fail_msg("%s", err);
    uint64_t step0 = 0, total = 0;
    for (size_t c = 0; c < N_CHUNK; ++c) {
        vl_chunk *ch = vl_writer_acquire(w);
        assert_non_null(ch);
        ch->step0 = step0;
        ch->n_steps = chunk_steps[c];
        for (uint32_t k = 0; k < ch->n_steps; ++k) {
            const uint32_t ns = k < 3 ? chunk_spikes[c][k] : 0;
            for (uint32_t j = 0; j < ns; ++j)
                assert_int_equal(vl_spike_buf_push(&ch->spk[0], k, spike_id(step0 + k, j)), 0);
            ch->count[0][k] = ns;
            total += ns;
            for (uint32_t var = 0; var < 2; ++var) /* frame-major, the variables of a frame in turn */
                for (uint32_t i = 0; i < N_IDS; ++i)
                    ch->frames[0][((size_t)k * 2 + var) * N_IDS + i] = sample(step0 + k, var, i);
        }
        ch->n_frames[0] = ch->n_steps;
        vl_writer_submit(w, ch);
        step0 += chunk_steps[c]; /* not ch->n_steps: the writer may have recycled ch already */
    }
    const uint64_t frames = step0;
    vl_run_result res;
    memset(&res, 0, sizeof res);
    vl_writer_summary sum = {1, "ok", step0, &res, NULL, 0};
    if (vl_writer_close(w, &sum, err, sizeof err) != VL_OK) fail_msg("%s", err);
    unsetenv("VOLLEY_WRITER_THREADS");

    hid_t fh = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(fh >= 0);
    double *ts = malloc(total * sizeof *ts);
    uint64_t *ids = malloc(total * sizeof *ids);
    const char *names[2] = {"/spikes/pop/timestamps", "/spikes/pop/node_ids"};
    for (int q = 0; q < 2; ++q) {
        hid_t ds = H5Dopen2(fh, names[q], H5P_DEFAULT), sp = H5Dget_space(ds);
        hsize_t n = 0;
        H5Sget_simple_extent_dims(sp, &n, NULL);
        assert_int_equal(n, total);
        expect_filters(ds);
        herr_t rc = q ? H5Dread(ds, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids)
                      : H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, ts);
        assert_true(rc >= 0);
        H5Sclose(sp);
        H5Dclose(ds);
    }
    float *data[2];
    const char *rep_names[2] = {"/report/pop/data", "/report/pop/data_g_exc"};
    for (int var = 0; var < 2; ++var) {
        hid_t ds = H5Dopen2(fh, rep_names[var], H5P_DEFAULT), sp = H5Dget_space(ds);
        hsize_t dims[2] = {0, 0};
        H5Sget_simple_extent_dims(sp, dims, NULL);
        if (dims[0] != frames) fail_msg("%s has %llu frames, expected %llu", rep_names[var], (unsigned long long)dims[0], (unsigned long long)frames);
        assert_int_equal(dims[1], N_IDS);
        expect_filters(ds);
        data[var] = malloc(frames * N_IDS * sizeof(float));
        assert_true(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data[var]) >= 0);
        H5Sclose(sp);
        H5Dclose(ds);
    }
    double t3[3];
    hid_t td = H5Dopen2(fh, "/report/pop/mapping/time", H5P_DEFAULT);
    assert_true(H5Dread(td, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t3) >= 0);
    H5Dclose(td);
    H5Fclose(fh);
    assert_true(t3[1] == (double)frames * 0.1); /* the end of the time range counts every frame */
    size_t bad_frames = 0;
    for (uint64_t t = 0; t < frames; ++t)
        for (uint32_t var = 0; var < 2; ++var)
            for (uint32_t i = 0; i < N_IDS; ++i)
                if (data[var][t * N_IDS + i] != sample(t, var, i) && bad_frames++ < 5)
                    print_error("frame %llu, variable %u, neuron %u: %g, expected %g\n", (unsigned long long)t, var, i,
                                data[var][t * N_IDS + i], sample(t, var, i));
    assert_int_equal(bad_frames, 0);
    free(data[0]);
    free(data[1]);
    size_t at = 0, bad = 0;
    step0 = 0;
    for (size_t c = 0; c < N_CHUNK; step0 += chunk_steps[c], ++c)
        for (uint32_t k = 0; k < 3 && k < chunk_steps[c]; ++k)
            for (uint32_t j = 0; j < chunk_spikes[c][k]; ++j, ++at) {
                const double t = (double)(step0 + k) * 0.1; /* the writer's expression */
                if (ts[at] != t || ids[at] != spike_id(step0 + k, j)) {
                    if (bad++ < 5)
                        print_error("spike %zu: (%.17g ms, %llu), expected (%.17g ms, %u)\n", at, ts[at],
                                    (unsigned long long)ids[at], t, spike_id(step0 + k, j));
                }
            }
    assert_int_equal(at, total);
    assert_int_equal(bad, 0);
    free(ts);
    free(ids);
    vl_network_free(&net, s->n_pops);
    vl_model_destroy(m);
    remove(h5);
    remove(yaml);
    rmdir(dir);
}

static void test_one_thread(void **st) {
    (void)st;
    write_and_check("1");
}

static void test_three_threads(void **st) {
    (void)st;
    write_and_check("3");
}

/* The shuffle is HDF5's: byte b of element i at b * n + i. */
static void test_shuffle_layout(void **st) {
    (void)st;
    unsigned char in[24], out[24];
    for (int i = 0; i < 24; ++i) in[i] = (unsigned char)i;
    vl_z_shuffle(in, out, 3, 8);
    for (int i = 0; i < 3; ++i)
        for (int b = 0; b < 8; ++b) assert_int_equal(out[b * 3 + i], in[i * 8 + b]);
}

/* Who picks the compression threads: VOLLEY_WRITER_THREADS, else the run's --threads, else the
 * online CPUs up to 8. */
static void test_thread_choice(void **st) {
    (void)st;
    unsetenv("VOLLEY_WRITER_THREADS");
    assert_int_equal(vl_z_threads(3), 3);
    assert_int_equal(vl_z_threads(1), 1);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(vl_z_threads(0), cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus);
    setenv("VOLLEY_WRITER_THREADS", "2", 1);
    assert_int_equal(vl_z_threads(3), 2);
    unsetenv("VOLLEY_WRITER_THREADS");
}

int main(void) {
    if (!vl_z_available()) {
        printf("chunk compression not compiled in (no zlib): nothing to test\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shuffle_layout),
        cmocka_unit_test(test_thread_choice),
        cmocka_unit_test(test_one_thread),
        cmocka_unit_test(test_three_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
