/* Helpers shared by the cmocka tests that run whole models: write a model file, run it through
 * the public API (asserting each step), and read datasets of the output back. Include after
 * <cmocka.h>; needs VOLLEY_TEST_TMP. */
#ifndef VL_TESTUTIL_H
#define VL_TESTUTIL_H

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volley/volley.h"

/* Writes text to VOLLEY_TEST_TMP/name and returns the path (a few calls may be in use at once). */
static inline const char *vt_write(const char *name, const char *text) {
    static char paths[4][1024];
    static int next;
    char *p = paths[next++ & 3];
    snprintf(p, sizeof paths[0], "%s/%s", VOLLEY_TEST_TMP, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* A model no machine can hold: 10^7 neurons with a 650 ms delay into them keep 6502 ring slots
 * of two receptors, about 485 GiB. The memory plans (host and device) must refuse it. */
#define VT_TOO_BIG_MODEL                                                                                   \
    "name: too_big\ndt: 0.1 ms\nduration: 10 ms\n"                                                          \
    "populations:\n  big: {size: 10000000, model: lif_curr_exp}\n"                                          \
    "inputs:\n  src: {size: 1, model: spike_times, spikes: [[0, 1 ms]]}\n"                                  \
    "projections:\n  - {from: src, to: big, receptor: exc, connect: {fixed_total_number: 1}, weight: 1 pA," \
    " delay: 650 ms}\n"

/* Loads model_path and creates a simulation of it on backend be (nothing runs), then frees both;
 * returns vl_sim_create's status, with its error message (or "") copied into msg. */
static inline vl_status vt_create(const char *model_path, vl_backend_kind be, char *msg, size_t len) {
    vl_model *m = NULL;
    assert_int_equal(vl_model_load(model_path, NULL, 0, &m), VL_OK);
    vl_sim_options opt;
    memset(&opt, 0, sizeof opt);
    opt.backend = be;
    vl_sim *s = NULL;
    vl_status st = vl_sim_create(m, &opt, &s);
    snprintf(msg, len, "%s", vl_sim_error(s));
    if (st != VL_OK) printf("  %s\n", msg);
    vl_sim_destroy(s);
    vl_model_destroy(m);
    return st;
}

/* VOLLEY_TEST_TMP/name, without writing anything. */
static inline const char *vt_path(const char *name) {
    static char paths[4][1024];
    static int next;
    char *p = paths[next++ & 3];
    snprintf(p, sizeof paths[0], "%s/%s", VOLLEY_TEST_TMP, name);
    return p;
}

/* Loads, creates, runs and destroys a simulation of model_path on the CPU backend; returns the
 * first population's mean rate (Hz) for convenience. */
static inline double vt_run(const char *model_path, const char *const *sets, size_t n_sets, const char *output) {
    vl_model *m = NULL;
    vl_status st = vl_model_load(model_path, sets, n_sets, &m);
    if (st != VL_OK) fprintf(stderr, "%s\n", vl_model_error(m));
    assert_int_equal(st, VL_OK);
    vl_sim_options opt;
    memset(&opt, 0, sizeof opt);
    opt.backend = VL_BACKEND_CPU;
    opt.output = output;
    vl_sim *s = NULL;
    st = vl_sim_create(m, &opt, &s);
    if (st != VL_OK) fprintf(stderr, "%s\n", vl_sim_error(s));
    assert_int_equal(st, VL_OK);
    st = vl_sim_run(s);
    if (st != VL_OK) fprintf(stderr, "%s\n", vl_sim_error(s));
    assert_int_equal(st, VL_OK);
    double rate = vl_sim_result(s)->n_pops ? vl_sim_result(s)->pops[0].rate_hz : 0;
    vl_sim_destroy(s);
    vl_model_destroy(m);
    return rate;
}

/* Removes a test's temporary folder (a cmocka group teardown); 0 on success. */
static inline int vt_remove_dir(const char *dir) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A whole 1-D or 2-D dataset as type (element size size); *n receives the element count. */
static inline void *vt_read(hid_t f, const char *name, hid_t type, size_t size, size_t *n) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 1};
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    *n = dims[0] * (rank == 2 ? dims[1] : 1);
    void *buf = calloc(*n + 1, size);
    if (*n) assert_true(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    return buf;
}

/* Reads snapshot `row` (-1: the last) of /volley/weights/<proj>/w into a new array. */
static inline float *vt_read_weights(const char *h5, const char *proj, int row, size_t *n_syn, size_t *n_snap) {
    hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    char p[256];
    snprintf(p, sizeof p, "/volley/weights/%s/w", proj);
    hid_t d = H5Dopen2(f, p, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2];
    assert_int_equal(H5Sget_simple_extent_ndims(sp), 2);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    *n_snap = dims[0];
    *n_syn = dims[1];
    hsize_t start[2] = {row < 0 ? dims[0] - 1 : (hsize_t)row, 0}, count[2] = {1, dims[1]};
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(2, count, NULL);
    float *w = calloc(dims[1], sizeof *w);
    assert_true(H5Dread(d, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, w) >= 0);
    H5Sclose(ms);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return w;
}

/* A dataset of UTF-8 strings (free each, then the array). */
static inline char **vt_read_strings(hid_t f, const char *name, size_t *n) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char **s = vt_read(f, name, t, sizeof(char *), n);
    H5Tclose(t);
    return s;
}

#endif
