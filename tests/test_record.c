/* The HDF5 output (src/record) as SONATA readers see it (DESIGN.md "Output", TOOLCHAIN.md
 * "SONATA as real readers read it"): root magic/version, spike datasets with units and the
 * by_time sorting enum, report mapping (N + 1 index pointers, the bmtk index_pointer link, the
 * right-open time triple), binned rates that add up to the spike counts, the /volley run record
 * (status, seed, the model text after overrides), an interrupted run that still leaves a
 * readable file, and a clear error for an unwritable output path. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include <hdf5.h>

#include "volley/volley.h"

static char g_dir[1024];
static char g_h5[1200];
static uint64_t g_spikes[4];  /* exc, inh, in (from vl_sim_result) */

static const char *model_text =
    "name: rec\n"
    "dt: 0.1 ms\n"
    "duration: 100 ms\n"
    "seed: 5\n"
    "populations:\n"
    "  exc:\n"
    "    size: 50\n"
    "    model: lif_cond_exp\n"
    "    params: {C: 200 pF, g_L: 10 nS, E_L: -60 mV, V_th: -50 mV, V_reset: -60 mV, t_ref: 2 ms, I_e: 90 pA,"
    " tau_exc: 5 ms, tau_inh: 10 ms, E_inh: -80 mV}\n"
    "    init: {v: {uniform: [-60 mV, -50 mV]}}\n"
    "  inh:\n"
    "    size: 20\n"
    "    model: lif_curr_exp\n"
    "    params: {I_e: 200 pA}\n"
    "inputs:\n"
    "  in: {size: 40, model: poisson, rate: 200 Hz}\n"
    "projections:\n"
    "  - {from: in, to: exc, receptor: exc, connect: {fixed_indegree: 10}, weight: 2 nS}\n"
    "  - {from: exc, to: inh, receptor: exc, connect: {fixed_probability: 0.2}, weight: 30 pA, delay: 1 ms}\n"
    "  - {from: inh, to: exc, receptor: inh, connect: all_to_all, weight: 1 nS}\n"
    "record:\n"
    "  spikes: [exc, in]\n"
    "  state: [{population: exc, variables: [v, g_exc], neurons: [0, 3, 7], every: 0.5 ms}]\n"
    "  rates: {bin: 5 ms}\n";

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static hid_t open_h5(const char *path) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) fail_msg("cannot open %s", path);
    return f;
}

static size_t read_ds(hid_t f, const char *name, hid_t mem_type, void **out, size_t elem, hsize_t *dims2) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) fail_msg("no dataset %s", name);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 1};
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    size_t n = (size_t)dims[0] * (rank > 1 ? (size_t)dims[1] : 1);
    if (dims2) { dims2[0] = dims[0]; dims2[1] = rank > 1 ? dims[1] : 0; }
    *out = malloc((n ? n : 1) * elem);
    if (n && H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) fail_msg("cannot read %s", name);
    H5Sclose(sp);
    H5Dclose(d);
    return n;
}

/* A scalar variable-length string attribute of object path (attribute name attr). */
static void expect_str_attr(hid_t f, const char *obj, const char *attr, const char *want) {
    hid_t a = H5Aopen_by_name(f, obj, attr, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) fail_msg("%s has no attribute %s", obj, attr);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *s = NULL;
    if (H5Aread(a, t, &s) < 0 || !s) fail_msg("cannot read %s/%s as a string", obj, attr);
    if (strcmp(s, want)) fail_msg("%s/%s is '%s', expected '%s'", obj, attr, s, want);
    H5free_memory(s);
    H5Tclose(t);
    H5Aclose(a);
}

static void read_num_attr(hid_t f, const char *obj, const char *attr, hid_t mem_type, void *out) {
    hid_t a = H5Aopen_by_name(f, obj, attr, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) fail_msg("%s has no attribute %s", obj, attr);
    if (H5Aread(a, mem_type, out) < 0) fail_msg("cannot read %s/%s", obj, attr);
    H5Aclose(a);
}

static int g_stop_after_first_chunk;
static volatile int g_interrupt;

static void on_progress(uint64_t step, uint64_t n_steps, double wall_s, void *user) {
    (void)n_steps;
    (void)wall_s;
    (void)user;
    if (g_stop_after_first_chunk && step > 0) g_interrupt = 1;
}

static vl_status run(const char *yaml_name, const char *text, const char *const *ov, size_t n_ov, const char *h5,
                     int interrupt, uint64_t *steps_done) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", g_dir, yaml_name);
    write_file(path, text);
    vl_model *m = NULL;
    if (vl_model_load(path, ov, n_ov, &m) != VL_OK) fail_msg("refused: %s", vl_model_error(m));
    vl_sim_options opt;
    memset(&opt, 0, sizeof opt);
    opt.output = h5;
    opt.backend = VL_BACKEND_CPU;
    opt.progress = on_progress;
    g_stop_after_first_chunk = interrupt;
    g_interrupt = 0;
    opt.interrupt = &g_interrupt;
    vl_sim *s = NULL;
    vl_status st = vl_sim_create(m, &opt, &s);
    if (st != VL_OK) fail_msg("sim_create: %s", vl_sim_error(s));
    st = vl_sim_run(s);
    const vl_run_result *r = vl_sim_result(s);
    if (steps_done) *steps_done = r->steps_done;
    for (size_t i = 0; i < r->n_pops && i < 4; ++i) g_spikes[i] = r->pops[i].spikes;
    vl_sim_destroy(s);
    vl_model_destroy(m);
    return st;
}

static void test_root_and_run_record(void **st) {
    (void)st;
    hid_t f = open_h5(g_h5);
    uint32_t magic = 0, version[2] = {0, 0};
    read_num_attr(f, "/", "magic", H5T_NATIVE_UINT32, &magic);
    read_num_attr(f, "/", "version", H5T_NATIVE_UINT32, version);
    assert_int_equal(magic, 0x0A7A);
    int complete = 0;
    uint64_t seed = 0, steps = 0;
    double dt = 0;
    read_num_attr(f, "/volley", "complete", H5T_NATIVE_INT, &complete);
    read_num_attr(f, "/volley", "seed", H5T_NATIVE_UINT64, &seed);
    read_num_attr(f, "/volley", "dt", H5T_NATIVE_DOUBLE, &dt);
    read_num_attr(f, "/volley", "steps_done", H5T_NATIVE_UINT64, &steps);
    assert_int_equal(complete, 1);
    assert_int_equal(seed, 5);
    assert_int_equal(steps, 1000);
    assert_true(dt == 0.1);
    expect_str_attr(f, "/volley", "status", "complete");
    expect_str_attr(f, "/volley", "backend", "cpu");
    /* the exact model after overrides is kept */
    hid_t d = H5Dopen2(f, "/volley/model", H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *text = NULL;
    assert_true(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) >= 0 && text);
    if (!strstr(text, "90 pA") || !strstr(text, "rate: 200 Hz") || !strstr(text, "size: 20"))
        fail_msg("/volley/model does not hold the model text:\n%s", text);
    H5free_memory(text);
    H5Tclose(t);
    H5Dclose(d);
    /* the per-population summary agrees with the API result */
    uint64_t cnt = 0;
    read_num_attr(f, "/volley/populations/exc", "spike_count", H5T_NATIVE_UINT64, &cnt);
    assert_int_equal(cnt, g_spikes[0]);
    H5Fclose(f);
}

static void check_spikes(hid_t f, const char *pop, uint32_t size, uint64_t want_count) {
    char grp[64], ts_name[128], id_name[128];
    snprintf(grp, sizeof grp, "/spikes/%s", pop);
    snprintf(ts_name, sizeof ts_name, "%s/timestamps", grp);
    snprintf(id_name, sizeof id_name, "%s/node_ids", grp);
    double *ts;
    uint64_t *ids;
    size_t n = read_ds(f, ts_name, H5T_NATIVE_DOUBLE, (void **)&ts, 8, NULL);
    size_t m = read_ds(f, id_name, H5T_NATIVE_UINT64, (void **)&ids, 8, NULL);
    assert_int_equal(n, m);
    assert_int_equal(n, want_count);
    assert_true(n > 0);
    for (size_t k = 0; k < n; ++k) {
        assert_true(ids[k] < size);
        assert_true(ts[k] >= 0 && ts[k] < 100.0);
        if (k && (ts[k] < ts[k - 1] || (ts[k] == ts[k - 1] && ids[k] <= ids[k - 1])))
            fail_msg("%s: spikes not sorted by time (then id) at %zu", pop, k);
    }
    expect_str_attr(f, ts_name, "units", "ms");
    /* sorting: HDF5 enum over u8, value by_time */
    hid_t a = H5Aopen_by_name(f, grp, "sorting", H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    hid_t t = H5Aget_type(a);
    assert_int_equal(H5Tget_class(t), H5T_ENUM);
    assert_int_equal(H5Tget_size(t), 1);
    uint8_t v = 0;
    assert_true(H5Aread(a, t, &v) >= 0);
    char name[32];
    assert_true(H5Tenum_nameof(t, &v, name, sizeof name) >= 0);
    assert_string_equal(name, "by_time");
    assert_int_equal(v, 2);
    H5Tclose(t);
    H5Aclose(a);
    free(ts);
    free(ids);
}

static void test_spikes_layout(void **st) {
    (void)st;
    hid_t f = open_h5(g_h5);
    check_spikes(f, "exc", 50, g_spikes[0]);
    check_spikes(f, "in", 40, g_spikes[2]);
    /* inh is not in record.spikes */
    assert_true(H5Lexists(f, "/spikes/inh", H5P_DEFAULT) <= 0);
    H5Fclose(f);
}

static void test_report_layout(void **st) {
    (void)st;
    hid_t f = open_h5(g_h5);
    float *v, *g;
    hsize_t dv[2], dg[2];
    read_ds(f, "/report/exc/data", H5T_NATIVE_FLOAT, (void **)&v, 4, dv);
    read_ds(f, "/report/exc/data_g_exc", H5T_NATIVE_FLOAT, (void **)&g, 4, dg);
    assert_int_equal(dv[0], 200); /* 100 ms every 0.5 ms */
    assert_int_equal(dv[1], 3);
    assert_int_equal(dg[0], 200);
    assert_int_equal(dg[1], 3);
    expect_str_attr(f, "/report/exc/data", "units", "mV");
    expect_str_attr(f, "/report/exc/data_g_exc", "units", "nS");
    for (size_t k = 0; k < 600; ++k) {
        assert_true(v[k] >= -80.0f - 1e-3f && v[k] <= -50.0f); /* between E_inh and threshold */
        assert_true(g[k] >= 0.0f);
    }
    uint64_t *ids, *ptr;
    uint32_t *el;
    double *time;
    assert_int_equal(read_ds(f, "/report/exc/mapping/node_ids", H5T_NATIVE_UINT64, (void **)&ids, 8, NULL), 3);
    assert_int_equal(read_ds(f, "/report/exc/mapping/index_pointers", H5T_NATIVE_UINT64, (void **)&ptr, 8, NULL), 4);
    assert_int_equal(read_ds(f, "/report/exc/mapping/element_ids", H5T_NATIVE_UINT32, (void **)&el, 4, NULL), 3);
    assert_int_equal(read_ds(f, "/report/exc/mapping/time", H5T_NATIVE_DOUBLE, (void **)&time, 8, NULL), 3);
    assert_true(ids[0] == 0 && ids[1] == 3 && ids[2] == 7);
    for (int k = 0; k < 4; ++k) assert_int_equal(ptr[k], k);
    assert_true(el[0] == 0 && el[1] == 0 && el[2] == 0);
    /* right-open [start, stop) with step */
    assert_true(fabs(time[0]) < 1e-12 && fabs(time[1] - 100.0) < 1e-9 && fabs(time[2] - 0.5) < 1e-12);
    expect_str_attr(f, "/report/exc/mapping/time", "units", "ms");
    /* bmtk reads the singular name */
    assert_true(H5Lexists(f, "/report/exc/mapping/index_pointer", H5P_DEFAULT) > 0);
    free(v); free(g); free(ids); free(ptr); free(el); free(time);
    H5Fclose(f);
}

/* Binned rates: 20 bins of 5 ms; rate * size * bin adds up to the spike count. */
static void test_rates(void **st) {
    (void)st;
    hid_t f = open_h5(g_h5);
    const char *pops[] = {"exc", "inh", "in"};
    const double sizes[] = {50, 20, 40};
    for (int p = 0; p < 3; ++p) {
        char name[64];
        snprintf(name, sizeof name, "/rates/%s/rate", pops[p]);
        float *r;
        size_t n = read_ds(f, name, H5T_NATIVE_FLOAT, (void **)&r, 4, NULL);
        assert_int_equal(n, 20);
        double total = 0;
        for (size_t k = 0; k < n; ++k) total += r[k] * sizes[p] * 5e-3;
        if (fabs(total - (double)g_spikes[p]) > 1e-3 * (1 + g_spikes[p]))
            fail_msg("%s: rates add up to %.3f spikes, the run counted %llu", pops[p], total,
                     (unsigned long long)g_spikes[p]);
        expect_str_attr(f, name, "units", "Hz");
        free(r);
    }
    H5Fclose(f);
}

/* Stopping after the first chunk: VL_INTERRUPTED, and a readable file with what was simulated. */
static void test_interrupted_run(void **st) {
    (void)st;
    char h5[1200];
    snprintf(h5, sizeof h5, "%s/interrupted.h5", g_dir);
    const char *ov[] = {"duration=1 s"};
    uint64_t steps = 0;
    vl_status s = run("interrupted.yaml", model_text, ov, 1, h5, 1, &steps);
    assert_int_equal(s, VL_INTERRUPTED);
    assert_true(steps > 0 && steps < 10000);
    hid_t f = open_h5(h5);
    int complete = 1;
    uint64_t steps_file = 0;
    read_num_attr(f, "/volley", "complete", H5T_NATIVE_INT, &complete);
    read_num_attr(f, "/volley", "steps_done", H5T_NATIVE_UINT64, &steps_file);
    assert_int_equal(complete, 0);
    assert_int_equal(steps_file, steps);
    expect_str_attr(f, "/volley", "status", "interrupted");
    double *ts;
    size_t n = read_ds(f, "/spikes/exc/timestamps", H5T_NATIVE_DOUBLE, (void **)&ts, 8, NULL);
    assert_int_equal(n, g_spikes[0]);
    for (size_t k = 0; k < n; ++k) assert_true(ts[k] < steps * 0.1);
    free(ts);
    H5Fclose(f);
}

static void test_unwritable_output(void **st) {
    (void)st;
    char path[1200], h5[1300];
    snprintf(path, sizeof path, "%s/unwritable.yaml", g_dir);
    snprintf(h5, sizeof h5, "%s/no/such/dir/out.h5", g_dir);
    write_file(path, model_text);
    vl_model *m = NULL;
    assert_int_equal(vl_model_load(path, NULL, 0, &m), VL_OK);
    vl_sim_options opt;
    memset(&opt, 0, sizeof opt);
    opt.output = h5;
    opt.backend = VL_BACKEND_CPU;
    vl_sim *s = NULL;
    vl_status rc = vl_sim_create(m, &opt, &s);
    assert_true(rc < 0);
    if (!strstr(vl_sim_error(s), "out.h5")) fail_msg("the error does not name the output file: %s", vl_sim_error(s));
    vl_sim_destroy(s);
    vl_model_destroy(m);
}

/* Two state recordings of one population (v of some neurons every step, g_exc of others every
 * 1 ms) are a valid model: either the model check refuses them with a position, or the run
 * succeeds and writes both traces. It must not pass the check and then fail in the writer. */
static void test_two_state_recordings_one_population(void **st) {
    (void)st;
    const char *text =
        "name: two_reports\n"
        "dt: 0.1 ms\n"
        "duration: 10 ms\n"
        "populations:\n"
        "  exc: {size: 10, model: lif_cond_exp, params: {I_e: 300 pA}}\n"
        "record:\n"
        "  state:\n"
        "    - {population: exc, variables: [v], neurons: \"0:5\"}\n"
        "    - {population: exc, variables: [g_exc], neurons: \"5:10\", every: 1 ms}\n";
    char path[1200], h5[1200];
    snprintf(path, sizeof path, "%s/two_reports.yaml", g_dir);
    snprintf(h5, sizeof h5, "%s/two_reports.h5", g_dir);
    write_file(path, text);
    vl_model *m = NULL;
    if (vl_model_load(path, NULL, 0, &m) != VL_OK) {
        char where[1300];
        snprintf(where, sizeof where, "%s:9:", path);
        if (strncmp(vl_model_error(m), where, strlen(where)) != 0)
            fail_msg("refused without pointing at the second recording: %s", vl_model_error(m));
        vl_model_destroy(m);
        return;
    }
    vl_sim_options opt;
    memset(&opt, 0, sizeof opt);
    opt.output = h5;
    opt.backend = VL_BACKEND_CPU;
    vl_sim *s = NULL;
    vl_status rc = vl_sim_create(m, &opt, &s);
    if (rc == VL_OK) rc = vl_sim_run(s);
    if (rc != VL_OK) fail_msg("the model passed the check but the run failed: %s", vl_sim_error(s));
    vl_sim_destroy(s);
    vl_model_destroy(m);
}

static int setup(void **st) {
    (void)st;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(g_dir, sizeof g_dir, "%s/record-XXXXXX", VOLLEY_TEST_TMP);
    if (!mkdtemp(g_dir)) return -1;
    snprintf(g_h5, sizeof g_h5, "%s/rec.h5", g_dir);
    return 0;
}

/* The main run happens in the first test so that its failures are reported as such. */
static void test_run(void **st) {
    (void)st;
    uint64_t steps = 0;
    assert_int_equal(run("rec.yaml", model_text, NULL, 0, g_h5, 0, &steps), VL_OK);
    assert_int_equal(steps, 1000);
    assert_true(g_spikes[0] > 0 && g_spikes[1] > 0 && g_spikes[2] > 0);
}

static int teardown(void **st) {
    (void)st;
    return vt_remove_dir(g_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run),
        cmocka_unit_test(test_root_and_run_record),
        cmocka_unit_test(test_spikes_layout),
        cmocka_unit_test(test_report_layout),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_interrupted_run),
        cmocka_unit_test(test_unwritable_output),
        cmocka_unit_test(test_two_state_recordings_one_population),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
