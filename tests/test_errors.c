/* Model errors and warnings a user sees (vl_model_load): each bad file must be refused with a
 * message naming file:line:column of the offending text and words that say what to do. The
 * expected position is computed from the YAML text itself (where the offending token is), not
 * taken from the engine. Also --set overrides and the validation warnings. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "model/model.h"
#include "network/network.h"
#include "volley/volley.h"

static char g_dir[1024];

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Writes text to <tmpdir>/name and loads it. */
static vl_status load(const char *name, const char *text, const char *const *ov, size_t n_ov, vl_model **m,
                      char *path, size_t len) {
    snprintf(path, len, "%s/%s", g_dir, name);
    write_file(path, text);
    return vl_model_load(path, ov, n_ov, m);
}

/* 1-based line and column of the first occurrence of anchor in text, plus offset columns. */
static void position_of(const char *text, const char *anchor, int offset, int *line, int *col) {
    const char *at = strstr(text, anchor);
    if (!at) fail_msg("test bug: anchor '%s' not in the YAML", anchor);
    *line = 1;
    const char *bol = text;
    for (const char *p = text; p < at; ++p)
        if (*p == '\n') { ++*line; bol = p + 1; }
    *col = (int)(at - bol) + 1 + offset;
}

/* Loads text; the load must fail with "<path>:<line>:<col>: error: " where the position is that
 * of anchor (+ offset), and the message must contain every word (NULL-terminated). */
static void expect_error_at(const char *name, const char *text, const char *anchor, int offset, ...) {
    char path[1200], where[1400];
    vl_model *m = NULL;
    vl_status st = load(name, text, NULL, 0, &m, path, sizeof path);
    assert_non_null(m);
    const char *msg = vl_model_error(m);
    if (st != VL_ERR_MODEL) fail_msg("%s: expected VL_ERR_MODEL, got %s (%s)", name, vl_status_name(st), msg);
    int line, col;
    position_of(text, anchor, offset, &line, &col);
    snprintf(where, sizeof where, "%s:%d:%d: error: ", path, line, col);
    if (strncmp(msg, where, strlen(where)) != 0)
        fail_msg("%s: message does not start with '%s':\n  %s", name, where, msg);
    va_list ap;
    va_start(ap, offset);
    for (const char *w; (w = va_arg(ap, const char *));)
        if (!strstr(msg, w)) fail_msg("%s: message lacks '%s':\n  %s", name, w, msg);
    va_end(ap);
    vl_model_destroy(m);
}

#define HEAD "name: t\ndt: 0.1 ms\nduration: 100 ms\n"

/* A valid base: two neuron populations and an input. */
#define POPS                                                                            \
    "populations:\n"                                                                    \
    "  exc:\n"                                                                          \
    "    size: 20\n"                                                                    \
    "    model: lif_cond_exp\n"                                                         \
    "    params: {C: 200 pF, g_L: 10 nS, E_L: -60 mV, V_th: -50 mV, V_reset: -60 mV}\n" \
    "  inh:\n"                                                                          \
    "    size: 10\n"                                                                    \
    "    model: lif_cond_exp\n"                                                         \
    "inputs:\n"                                                                         \
    "  kick: {size: 5, model: poisson, rate: 10 Hz}\n"

static void test_valid_base_loads(void **st) {
    (void)st;
    char path[1200];
    vl_model *m = NULL;
    const char *y = HEAD POPS
        "projections:\n"
        "  - {name: ke, from: kick, to: exc, receptor: exc, connect: all_to_all, weight: 6 nS}\n"
        "  - {name: ei, from: exc, to: inh, receptor: exc, connect: {fixed_probability: 0.5}, weight: 6 nS}\n";
    vl_status s = load("valid.yaml", y, NULL, 0, &m, path, sizeof path);
    if (s != VL_OK) fail_msg("valid model refused: %s", vl_model_error(m));
    assert_string_equal(vl_model_error(m), "");
    assert_true(fabs(vl_model_dt(m) - 0.1) < 1e-12);
    assert_int_equal(m->spec.n_pops, 3);
    assert_int_equal(m->spec.n_proj, 2);
    /* every neuron population has an incoming projection, v starts at E_L: no warnings */
    assert_int_equal(vl_model_warning_count(m), 0);
    vl_model_destroy(m);
}

static void test_unknown_keys(void **st) {
    (void)st;
    expect_error_at("top.yaml", HEAD "duraton: 1 s\n" POPS, "duraton", 0, "unknown key 'duraton'",
                    "did you mean 'duration'", NULL);
    expect_error_at("param.yaml",
                    HEAD "populations:\n  exc:\n    size: 20\n    model: lif_cond_exp\n"
                         "    params: {C: 200 pF, tau_n: 20 ms}\n",
                    "tau_n", 0, "unknown key 'tau_n'", "did you mean 'tau_m'", NULL);
    expect_error_at("proj.yaml",
                    HEAD POPS "projections:\n"
                              "  - {from: kick, to: exc, recepter: exc, connect: all_to_all, weight: 6 nS}\n",
                    "recepter", 0, "unknown key 'recepter'", "did you mean 'receptor'", NULL);
}

/* A misspelt required key (`sise: 10`) must be reported as the unknown key it is, with the
 * suggestion, rather than only as the required key being missing. */
static void test_misspelt_required_size(void **st) {
    (void)st;
    expect_error_at("sise.yaml",
                    HEAD "populations:\n  exc:\n    model: lif_cond_exp\n    sise: 10\n    params: {I_e: 300 pA}\n",
                    "sise", 0, "unknown key 'sise'", "did you mean 'size'", NULL);
}

static void test_misspelt_required_model(void **st) {
    (void)st;
    expect_error_at("modl.yaml", HEAD "populations:\n  exc: {size: 10, modl: lif_cond_exp}\n", "modl", 0,
                    "unknown key 'modl'", "did you mean 'model'", NULL);
}

static void test_misspelt_required_rate(void **st) {
    (void)st;
    expect_error_at("rat.yaml",
                    HEAD "populations:\n  exc: {size: 10, model: lif_cond_exp, params: {I_e: 300 pA}}\n"
                         "inputs:\n  k: {size: 3, model: poisson, rat: 10 Hz}\n",
                    "rat:", 0, "unknown key 'rat'", "did you mean 'rate'", NULL);
}

static void test_misspelt_required_populations(void **st) {
    (void)st;
    expect_error_at("populatons.yaml", HEAD "populatons:\n  exc: {size: 10, model: lif_cond_exp}\n", "populatons", 0,
                    "unknown key 'populatons'", "did you mean 'populations'", NULL);
}

static void test_wrong_unit(void **st) {
    (void)st;
    expect_error_at("wunit.yaml",
                    HEAD POPS "projections:\n"
                              "  - from: kick\n"
                              "    to: exc\n"
                              "    receptor: exc\n"
                              "    connect: all_to_all\n"
                              "    weight: 6 mV\n",
                    "6 mV", 0, "weight", "a voltage", "a conductance", "6 nS", NULL);
    expect_error_at("taum.yaml",
                    HEAD "populations:\n  exc:\n    size: 20\n    model: lif_curr_exp\n"
                         "    params: {C: 200 pF, tau_m: 20 mV}\n",
                    "20 mV", 0, "tau_m", "a voltage", "a time", NULL);
    /* a conductance onto a current-based neuron */
    expect_error_at("curr.yaml",
                    HEAD "populations:\n  a:\n    size: 20\n    model: lif_curr_exp\n"
                         "inputs:\n  kick: {size: 5, model: poisson, rate: 10 Hz}\n"
                         "projections:\n  - {from: kick, to: a, receptor: exc, connect: all_to_all, weight: 6 nS}\n",
                    "6 nS", 0, "a conductance", "a current", NULL);
    expect_error_at("rate.yaml", HEAD POPS "  drive: {size: 5, model: poisson, rate: 10 ms}\n", "10 ms", 0, "rate",
                    "a time", "a rate", NULL);
}

static void test_unknown_unit(void **st) {
    (void)st;
    expect_error_at("uunit.yaml", "name: t\ndt: 0.1 msec\n" POPS, "0.1 msec", 0, "unknown unit", "a time", NULL);
}

static void test_missing_unit(void **st) {
    (void)st;
    expect_error_at("nounit.yaml",
                    HEAD POPS "projections:\n  - {from: kick, to: exc, receptor: exc, connect: all_to_all, weight: 6}\n",
                    "weight: 6", 8, "no unit", "a conductance", NULL);
    expect_error_at("nounit_dt.yaml", "name: t\ndt: 0.1\n" POPS, "0.1", 0, "no unit", "a time", NULL);
}

static void test_bad_size(void **st) {
    (void)st;
    expect_error_at("negsize.yaml", HEAD "populations:\n  exc:\n    size: -5\n    model: lif_cond_exp\n", "-5", 0,
                    "size", NULL);
    expect_error_at("zerosize.yaml", HEAD "populations:\n  exc:\n    size: 0\n    model: lif_cond_exp\n", "size: 0",
                    6, "size", NULL);
    expect_error_at("fracsize.yaml", HEAD "populations:\n  exc:\n    size: 2.5\n    model: lif_cond_exp\n", "2.5", 0,
                    "size", "whole number", NULL);
}

/* Times whose step counts would not fit the integers they become (found by a sanitizer build):
 * a dt below 1 ns, a time beyond 1e9 ms, a quantity beyond double's range in Volley's unit. */
static void test_times_out_of_range(void **st) {
    (void)st;
    expect_error_at("tinydt.yaml", "name: t\ndt: 1e-30 ms\n" POPS, "1e-30 ms", 0, "at least 1 ns", "dt: 0.1 ms", NULL);
    expect_error_at("longdur.yaml", "name: t\ndt: 0.1 ms\nduration: 1e7 s\n" POPS, "1e7 s", 0, "longer than",
                    "11.6 days", NULL);
    expect_error_at("bigw.yaml",
                    HEAD POPS "projections:\n  - {from: exc, to: inh, receptor: exc, connect: all_to_all, weight: 1e308 S}\n",
                    "1e308 S", 0, "too large", NULL);
}

/* Inputs a sanitizer build found crashing, hanging or silently wrong (each now a model error):
 * a PBM header whose width x height overflows (it wrote past the pixel buffer), a trial count no
 * run could hold (an unchecked allocation), a spike naming a neuron past 2^32 (it wrapped to 0),
 * a NaN weight in a connection file, names that cannot become HDF5 paths or do not fit, and a
 * state variable listed twice (the output layout failed after the run). */
static void test_hostile_inputs(void **st) {
    (void)st;
    char pbm[1200];
    snprintf(pbm, sizeof pbm, "%s/ovf.pbm", g_dir);
    write_file(pbm, "P1\n3037000500 3037000500\n0 1 0 1 0 1\n");
    char text[4096];
    snprintf(text, sizeof text,
             HEAD POPS "  retina: {size: 25, model: pattern, pixels: 25, on_rate: 40 Hz, off_rate: 2 Hz}\n"
                       "stimulus:\n  patterns: {A: %s}\n  phases: [{cue: 10 ms}]\n  conditions: {C1: {cue: A}}\n"
                       "  trials: {count: 2}\n", pbm);
    expect_error_at("pbm.yaml", text, pbm, 0, "bad PGM/PBM header", "4096 pixels", NULL);
    snprintf(text, sizeof text,
             HEAD POPS "  retina: {size: 25, model: pattern, pixels: 25, on_rate: 40 Hz, off_rate: 2 Hz}\n"
                       "stimulus:\n  patterns: {A: %s/data/patterns/A.pgm}\n  phases: [{cue: 10 ms}]\n"
                       "  conditions: {C1: {cue: A}}\n  trials: {count: 100000000000}\n", VOLLEY_SOURCE_DIR);
    expect_error_at("trials.yaml", text, "100000000000", 0, "at most 10^7 trials", NULL);
    expect_error_at("spike_id.yaml",
                    HEAD POPS "  cue: {size: 2, model: spike_times, spikes: [[4294967296, 1 ms]]}\n",
                    "4294967296", 0, "neuron 4294967296", "2 neurons", NULL);
    char csv[1200];
    snprintf(csv, sizeof csv, "%s/nan_w.csv", g_dir);
    write_file(csv, "0,1,nan,0.1\n");
    snprintf(text, sizeof text,
             HEAD POPS "projections:\n  - {from: exc, to: inh, receptor: exc, connect: {file: %s}}\n", csv);
    char path[1200];
    vl_model *m = NULL;
    snprintf(path, sizeof path, "%s/nan_w.yaml", g_dir);
    write_file(path, text);
    char msg[2048];
    assert_int_equal(vt_create(path, VL_BACKEND_CPU, msg, sizeof msg), VL_ERR_MODEL); /* read when building */
    assert_non_null(strstr(msg, "a finite weight"));
    expect_error_at("slash.yaml",
                    HEAD POPS "projections:\n  - {name: a/b, from: exc, to: inh, receptor: exc, connect: all_to_all,"
                              " weight: 1 nS}\n",
                    "name: a/b", 6, "projection name 'a/b'", "may not contain", NULL);
    expect_error_at("longrec.yaml",
                    HEAD "populations:\n  a:\n    size: 5\n    model: lif_cond_exp\n    receptors:\n"
                         "      an_exceedingly_long_receptor_name: {tau: 5 ms, E: 0 mV}\n",
                    "an_exceedingly", 0, "too long", "31 characters", NULL);
    expect_error_at("empty_slice.yaml",
                    HEAD POPS "projections:\n  - {from: \"exc[]\", to: inh, receptor: exc, connect: all_to_all,"
                              " weight: 1 nS}\n",
                    "\"exc[]\"", 0, "selects nothing", "exc[0:10]", NULL);
    snprintf(text, sizeof text, /* a directory opens but does not read: not an empty projection */
             HEAD POPS "projections:\n  - {from: exc, to: inh, receptor: exc, connect: {file: %s}, weight: 1 nS}\n",
             g_dir);
    snprintf(path, sizeof path, "%s/dir_conn.yaml", g_dir);
    write_file(path, text);
    assert_int_equal(vt_create(path, VL_BACKEND_CPU, msg, sizeof msg), VL_ERR_MODEL);
    assert_non_null(strstr(msg, "cannot read connection file"));
    expect_error_at("floatw.yaml",
                    HEAD POPS "projections:\n  - {from: exc, to: inh, receptor: exc, connect: all_to_all, weight: 1e40 nS}\n",
                    "1e40 nS", 0, "float's range", NULL);
    expect_error_at("neg_index.yaml",
                    HEAD POPS "projections:\n  - {from: \"exc[-1]\", to: inh, receptor: exc, connect: all_to_all,"
                              " weight: 1 nS}\n",
                    "\"exc[-1]\"", 0, "may not be negative", NULL);
    expect_error_at("twice.yaml",
                    HEAD POPS "record:\n  state: [{population: exc, variables: [v, v]}]\n", "[v, v]", 0,
                    "listed twice", NULL);
    (void)m;
}

static void test_missing_connection_file(void **st) {
    (void)st;
    expect_error_at("nofile.yaml",
                    HEAD POPS "projections:\n"
                              "  - from: kick\n"
                              "    to: exc\n"
                              "    receptor: exc\n"
                              "    connect: {file: no_such_connections.csv}\n"
                              "    weight: 6 nS\n",
                    "no_such_connections.csv", 0, "no_such_connections.csv", "not found", NULL);
}

/* More distinct partners than there are: without multapses, and without autapses where a neuron
 * would have to pick itself (a build that never ended before the check); also no partner at all. */
static void test_degree_beyond_partners(void **st) {
    (void)st;
    expect_error_at("indeg.yaml",
                    HEAD POPS "projections:\n"
                              "  - {from: exc, to: inh, receptor: exc, weight: 1 nS,\n"
                              "     connect: {fixed_indegree: 21, multapses: false}}\n",
                    "{fixed_indegree", 0, "fixed_indegree 21", "20 sources", "multapses are off",
                    "fixed_indegree: 20", NULL);
    expect_error_at("indeg_self.yaml",
                    HEAD POPS "projections:\n"
                              "  - {from: exc, to: exc, receptor: exc, weight: 1 nS,\n"
                              "     connect: {fixed_indegree: 20, multapses: false, autapses: false}}\n",
                    "{fixed_indegree", 0, "19 sources", "autapses are off", "fixed_indegree: 19", NULL);
    expect_error_at("outdeg_self.yaml",
                    HEAD POPS "projections:\n"
                              "  - {from: \"exc[3]\", to: \"exc[3]\", receptor: exc, weight: 1 nS,\n"
                              "     connect: {fixed_outdegree: 2, autapses: false}}\n",
                    "{fixed_outdegree", 0, "no targets", "autapses: true", NULL);
    expect_error_at("total_self.yaml",
                    HEAD POPS "projections:\n"
                              "  - {from: \"exc[3]\", to: \"exc[3]\", receptor: exc, weight: 1 nS,\n"
                              "     connect: {fixed_total_number: 5, autapses: false}}\n",
                    "{fixed_total_number", 0, "only pair", "autapses: true", NULL);
    char path[1200];
    vl_model *m = NULL; /* the largest possible degree is fine */
    vl_status s = load("indeg_ok.yaml",
                       HEAD POPS "projections:\n  - {from: exc, to: exc, receptor: exc, weight: 1 nS,"
                                 " connect: {fixed_indegree: 19, multapses: false, autapses: false}}\n",
                       NULL, 0, &m, path, sizeof path);
    if (s != VL_OK) fail_msg("fixed_indegree 19 of 20 without autapses refused: %s", vl_model_error(m));
    vl_model_destroy(m);
}

static void test_negative_conductance_weight(void **st) {
    (void)st;
    expect_error_at("negw.yaml",
                    HEAD POPS "projections:\n  - {from: inh, to: exc, receptor: exc, connect: all_to_all, weight: -6 nS}\n",
                    "-6 nS", 0, "negative", "receptor: inh", NULL);
    /* a negative weight is fine onto a current-based neuron (that is how inhibition works there) */
    char path[1200];
    vl_model *m = NULL;
    vl_status s = load("negcurr.yaml",
                       HEAD "populations:\n  a:\n    size: 20\n    model: lif_curr_exp\n    params: {I_e: 400 pA}\n"
                            "projections:\n  - {from: a, to: a, receptor: inh, connect: all_to_all, weight: -90 pA}\n",
                       NULL, 0, &m, path, sizeof path);
    if (s != VL_OK) fail_msg("negative current weight refused: %s", vl_model_error(m));
    vl_model_destroy(m);
}

static void test_input_as_target(void **st) {
    (void)st;
    expect_error_at("intgt.yaml",
                    HEAD POPS "projections:\n"
                              "  - from: exc\n"
                              "    to: kick\n"
                              "    receptor: exc\n"
                              "    connect: all_to_all\n"
                              "    weight: 6 nS\n",
                    "to: kick", 4, "'kick'", "input", NULL);
}

static void test_reset_not_below_threshold(void **st) {
    (void)st;
    expect_error_at("reset.yaml",
                    HEAD "populations:\n  exc:\n    size: 20\n    model: lif_cond_exp\n"
                         "    params:\n      V_th: -55 mV\n      V_reset: -50 mV\n      I_e: 300 pA\n",
                    "-50 mV", 0, "V_reset", "V_th", NULL);
    expect_error_at("reset_eq.yaml",
                    HEAD "populations:\n  exc:\n    size: 20\n    model: lif_curr_exp\n"
                         "    params:\n      V_th: -55 mV\n      V_reset: -55.0 mV\n",
                    "-55.0 mV", 0, "V_reset", "V_th", NULL);
}

static void test_delay_not_multiple_of_dt(void **st) {
    (void)st;
    expect_error_at("delay.yaml",
                    HEAD POPS "projections:\n"
                              "  - {from: kick, to: exc, receptor: exc, connect: all_to_all, weight: 6 nS, delay: 0.25 ms}\n",
                    "0.25 ms", 0, "delay", "dt", NULL);
    /* and a multiple that is inexact in binary floating point is accepted: 0.3 / 0.1 = 2.9999999999999996 */
    char path[1200];
    vl_model *m = NULL;
    vl_status s = load("delay_ok.yaml",
                       HEAD POPS "projections:\n"
                                 "  - {from: kick, to: exc, receptor: exc, connect: all_to_all, weight: 6 nS, delay: 0.3 ms}\n"
                                 "  - {from: kick, to: inh, receptor: exc, connect: all_to_all, weight: 6 nS, delay: 0.7 ms}\n",
                       NULL, 0, &m, path, sizeof path);
    if (s != VL_OK) fail_msg("delay 0.3 ms at dt 0.1 ms refused: %s", vl_model_error(m));
    vl_model_destroy(m);
}

static void test_unknown_population(void **st) {
    (void)st;
    expect_error_at("unkpop.yaml",
                    HEAD POPS "projections:\n  - {from: kick, to: exx, receptor: exc, connect: all_to_all, weight: 6 nS}\n",
                    "exx", 0, "'exx'", "did you mean 'exc'", NULL);
    expect_error_at("unkpop2.yaml",
                    HEAD POPS "projections:\n  - {from: inhh, to: exc, receptor: inh, connect: all_to_all, weight: 6 nS}\n",
                    "inhh", 0, "'inhh'", "did you mean 'inh'", NULL);
}

static void test_other_model_errors(void **st) {
    (void)st;
    expect_error_at("model.yaml", HEAD "populations:\n  exc:\n    size: 20\n    model: lif_cond_exq\n", "lif_cond_exq",
                    0, "unknown model", "did you mean 'lif_cond_exp'", NULL);
    expect_error_at("inmodel.yaml", HEAD POPS "  bad: {size: 5, model: lif_cond_exp}\n", "model: lif_cond_exp}", 7,
                    "populations:", NULL);
    expect_error_at("rec.yaml",
                    HEAD POPS "projections:\n  - {from: kick, to: exc, receptor: ampa, connect: all_to_all, weight: 6 nS}\n",
                    "ampa", 0, "no receptor 'ampa'", "exc, inh", NULL);
    expect_error_at("prob.yaml",
                    HEAD POPS "projections:\n  - {from: kick, to: exc, receptor: exc, connect: {fixed_probability: 1.5}, "
                              "weight: 6 nS}\n",
                    "1.5", 0, "between 0 and 1", NULL);
    expect_error_at("o2o.yaml",
                    HEAD POPS "projections:\n  - {from: kick, to: exc, receptor: exc, connect: one_to_one, weight: 6 nS}\n",
                    "one_to_one", 0, "equal size", NULL);
    expect_error_at("twice.yaml", HEAD "dt: 0.2 ms\n" POPS, "dt: 0.2", 0, "twice", NULL);
}

static void test_yaml_syntax(void **st) {
    (void)st;
    expect_error_at("syntax1.yaml", HEAD "populations:\n  exc:\n    size: 10: 20\n    model: lif_cond_exp\n", "10: 20",
                    2, "YAML", NULL);
    /* bad indentation: the error names the line of the misaligned key */
    const char *y = HEAD "populations:\n  exc:\n    size: 10\n   model: lif_cond_exp\n";
    char path[1200], want[1400];
    vl_model *m = NULL;
    assert_int_equal(load("syntax2.yaml", y, NULL, 0, &m, path, sizeof path), VL_ERR_MODEL);
    int line, col;
    position_of(y, "   model", 0, &line, &col);
    snprintf(want, sizeof want, "%s:%d:", path, line);
    if (strncmp(vl_model_error(m), want, strlen(want)) != 0)
        fail_msg("expected the error on line %d: %s", line, vl_model_error(m));
    vl_model_destroy(m);
}

static void test_missing_and_empty_file(void **st) {
    (void)st;
    vl_model *m = NULL;
    char path[1200];
    snprintf(path, sizeof path, "%s/does_not_exist.yaml", g_dir);
    assert_int_equal(vl_model_load(path, NULL, 0, &m), VL_ERR_MODEL);
    assert_non_null(strstr(vl_model_error(m), "does_not_exist.yaml"));
    vl_model_destroy(m);
    m = NULL;
    assert_int_equal(load("empty.yaml", "", NULL, 0, &m, path, sizeof path), VL_ERR_MODEL);
    assert_non_null(strstr(vl_model_error(m), "empty"));
    vl_model_destroy(m);
}

/* ---- --set overrides ---- */

#define OV_MODEL                                                                                          \
    HEAD POPS "projections:\n"                                                                            \
              "  - {name: ke, from: kick, to: exc, receptor: exc, connect: all_to_all, weight: 6 nS}\n"   \
              "  - {name: ei, from: exc, to: inh, receptor: exc, connect: all_to_all, weight: 3 nS}\n"

static int pop_index(const vl_model *m, const char *name) {
    for (size_t i = 0; i < m->spec.n_pops; ++i)
        if (!strcmp(m->spec.pops[i].name, name)) return (int)i;
    fail_msg("no population %s", name);
    return -1;
}

static void test_overrides_take_effect(void **st) {
    (void)st;
    const char *ov[] = {"populations.exc.size=10", "projections.0.weight=\"5 nS\"", "projections.ei.weight=7 nS",
                        "dt=0.05 ms", "populations.exc.params.t_ref=3 ms", "inputs.kick.rate=25 Hz"};
    char path[1200];
    vl_model *m = NULL;
    vl_status s = load("ov.yaml", OV_MODEL, ov, sizeof ov / sizeof ov[0], &m, path, sizeof path);
    if (s != VL_OK) fail_msg("overrides refused: %s", vl_model_error(m));
    const vl_spec *sp = &m->spec;
    assert_int_equal(sp->pops[pop_index(m, "exc")].size, 10);
    assert_true(fabs(sp->pops[pop_index(m, "exc")].t_ref - 3.0) < 1e-12);
    assert_true(fabs(sp->pops[pop_index(m, "kick")].rate - 25.0) < 1e-12);
    assert_true(fabs(sp->dt - 0.05) < 1e-12);
    assert_int_equal(sp->n_proj, 2);
    assert_string_equal(sp->proj[0].name, "ke");
    assert_true(fabs(sp->proj[0].weight.a - 5.0) < 1e-12);
    assert_string_equal(sp->proj[1].name, "ei");
    assert_true(fabs(sp->proj[1].weight.a - 7.0) < 1e-12);
    /* the range of the resized population follows the override */
    assert_int_equal(sp->proj[1].src_hi - sp->proj[1].src_lo, 10);
    vl_model_destroy(m);
    /* without overrides the file's values hold */
    m = NULL;
    assert_int_equal(load("ov0.yaml", OV_MODEL, NULL, 0, &m, path, sizeof path), VL_OK);
    assert_int_equal(m->spec.pops[pop_index(m, "exc")].size, 20);
    assert_true(fabs(m->spec.proj[0].weight.a - 6.0) < 1e-12);
    vl_model_destroy(m);
}

/* A bad override fails with a message that starts with the override (there is no file line). */
static void expect_override_error(const char *assignment, ...) {
    char path[1200], want[700];
    vl_model *m = NULL;
    const char *ov[] = {assignment};
    vl_status s = load("ovbad.yaml", OV_MODEL, ov, 1, &m, path, sizeof path);
    const char *msg = vl_model_error(m);
    if (s != VL_ERR_MODEL) fail_msg("override '%s' accepted", assignment);
    snprintf(want, sizeof want, "--set %s", assignment);
    if (strncmp(msg, want, strlen(want)) != 0) fail_msg("message does not name the override '%s': %s", want, msg);
    va_list ap;
    va_start(ap, assignment);
    for (const char *w; (w = va_arg(ap, const char *));)
        if (!strstr(msg, w)) fail_msg("override '%s': message lacks '%s': %s", assignment, w, msg);
    va_end(ap);
    vl_model_destroy(m);
}

static void test_bad_overrides(void **st) {
    (void)st;
    expect_override_error("populations.exx.size=10", "'exx'", NULL);
    expect_override_error("projections.9.weight=5 nS", "'9'", NULL);
    expect_override_error("projections.kk.weight=5 nS", "'kk'", NULL);
    expect_override_error("noequals", "dotted.path=VALUE", NULL);
    expect_override_error(".=1", "empty part", "'.'", NULL);
    expect_override_error("populations..size=1", "empty part", NULL);
    expect_override_error("populations.=1", "empty part", NULL);
    expect_override_error(".populations.exc.size=1", "empty part", NULL);
    expect_override_error("populations.exc.sise=10", "unknown key 'sise'", "did you mean 'size'", NULL);
    expect_override_error("populations.exc.size=-3", "size", NULL);
}

/* spec.h: a value from an override has no position in the model file (line 0), so the message
 * is "--set ...: error: ..." and carries no line:column that would point into the model file. */
static void test_override_error_has_no_file_position(void **st) {
    (void)st;
    expect_override_error("projections.0.weight=6 mV", "a voltage", "a conductance", NULL);
    char path[1200];
    vl_model *m = NULL;
    const char *ov[] = {"projections.0.weight=6 mV"};
    assert_int_equal(load("ovpos.yaml", OV_MODEL, ov, 1, &m, path, sizeof path), VL_ERR_MODEL);
    const char *want = "--set projections.0.weight=6 mV: error: ";
    if (strncmp(vl_model_error(m), want, strlen(want)) != 0)
        fail_msg("expected '%s...', got: %s", want, vl_model_error(m));
    vl_model_destroy(m);
}

/* ---- warnings ---- */

static int count_warnings_with(const vl_model *m, const char *a, const char *b) {
    int n = 0;
    for (size_t i = 0; i < vl_model_warning_count(m); ++i) {
        const char *w = vl_model_warning(m, i);
        n += strstr(w, a) && (!b || strstr(w, b));
    }
    return n;
}

static void test_warnings(void **st) {
    (void)st;
    const char *y = HEAD
        "populations:\n"
        "  exc:\n"
        "    size: 20\n"
        "    model: lif_cond_exp\n"
        "    params: {V_th: -50 mV, V_reset: -60 mV, I_e: 100 pA}\n"
        "    init: {v: -40 mV}\n"
        "  quiet:\n"
        "    size: 5\n"
        "    model: lif_cond_exp\n"
        "  driven:\n"
        "    size: 5\n"
        "    model: lif_curr_exp\n"
        "    params: {I_e: 300 pA}\n"
        "  silent_target:\n"
        "    size: 5\n"
        "    model: lif_cond_exp\n"
        "inputs:\n"
        "  kick: {size: 5, model: poisson, rate: 10 Hz}\n"
        "projections:\n"
        "  - {name: zero, from: kick, to: silent_target, receptor: exc, connect: all_to_all, weight: 0 nS}\n";
    char path[1200];
    vl_model *m = NULL;
    vl_status s = load("warn.yaml", y, NULL, 0, &m, path, sizeof path);
    if (s != VL_OK) fail_msg("model with warnings refused: %s", vl_model_error(m));
    /* initial v -40 mV above V_th -50 mV, reported at the init value */
    int line, col;
    char where[1400];
    position_of(y, "-40 mV", 0, &line, &col);
    snprintf(where, sizeof where, "%s:%d:%d: warning: ", path, line, col);
    int found = 0;
    for (size_t i = 0; i < vl_model_warning_count(m); ++i) {
        const char *w = vl_model_warning(m, i);
        if (strstr(w, "initial v") && strstr(w, "'exc'")) {
            found = 1;
            if (strncmp(w, where, strlen(where)) != 0) fail_msg("expected '%s...', got: %s", where, w);
        }
    }
    if (!found) fail_msg("no warning about the initial v of exc");
    assert_int_equal(count_warnings_with(m, "all weights zero", "'zero'"), 1);
    assert_int_equal(count_warnings_with(m, "no incoming projection", "'quiet'"), 1);
    /* driven has I_e, silent_target has a projection, exc has I_e: no "stay at rest" for them */
    assert_int_equal(count_warnings_with(m, "no incoming projection", NULL), 1);
    assert_int_equal(count_warnings_with(m, "initial v", NULL), 1);
    assert_int_equal(vl_model_warning_count(m), 3);
    vl_model_destroy(m);

    /* initial v drawn up to above threshold, and a normal whose tail crosses it */
    m = NULL;
    const char *y2 = HEAD
        "populations:\n"
        "  a:\n"
        "    size: 20\n"
        "    model: lif_cond_exp\n"
        "    params: {V_th: -50 mV, V_reset: -60 mV, I_e: 100 pA}\n"
        "    init: {v: {uniform: [-60 mV, -45 mV]}}\n"
        "  b:\n"
        "    size: 20\n"
        "    model: lif_cond_exp\n"
        "    params: {V_th: -50 mV, V_reset: -60 mV, I_e: 100 pA}\n"
        "    init: {v: {normal: [-55 mV, 4 mV]}}\n"
        "  c:\n"
        "    size: 20\n"
        "    model: lif_cond_exp\n"
        "    params: {V_th: -50 mV, V_reset: -60 mV, I_e: 100 pA}\n"
        "    init: {v: {uniform: [-60 mV, -50 mV]}}\n";
    s = load("warn2.yaml", y2, NULL, 0, &m, path, sizeof path);
    if (s != VL_OK) fail_msg("refused: %s", vl_model_error(m));
    assert_int_equal(count_warnings_with(m, "initial v", "'a'"), 1);
    assert_int_equal(count_warnings_with(m, "initial v", "'b'"), 1);
    assert_int_equal(count_warnings_with(m, "initial v", "'c'"), 0); /* up to V_th, not above: the COBA kick */
    vl_model_destroy(m);
}

static int setup(void **st) {
    (void)st;
    snprintf(g_dir, sizeof g_dir, "%s/errors-XXXXXX", VOLLEY_TEST_TMP);
    if (!mkdtemp(g_dir)) return -1;
    return 0;
}

static int teardown(void **st) {
    (void)st;
    return vt_remove_dir(g_dir);
}

/* Deterministic mode's fixed-point sums (vl_sim_create): twenty synapses of 2e10 nS onto one
 * neuron could add 4e11 nS in a step, past half the 64-bit range at 2^-24 nS (2.75e11), and are
 * refused with the numbers at the population's line; 1e10 nS each (2e11) run. */
static void test_fixed_point_range(void **st) {
    (void)st;
    char path[1200], msg[2048];
    const char *fmt = "name: t\ndt: 0.1 ms\nduration: 1 ms\ndeterministic: true\n"
                      "populations:\n  a: {size: 20, model: lif_cond_exp}\n"
                      "projections:\n  - {from: a, to: a, receptor: exc, connect: all_to_all, weight: %s}\n";
    char text[512];
    snprintf(path, sizeof path, "%s/fixed_big.yaml", g_dir);
    snprintf(text, sizeof text, fmt, "2e10 nS");
    write_file(path, text);
    assert_int_equal(vt_create(path, VL_BACKEND_CPU, msg, sizeof msg), VL_ERR_MODEL);
    char where[1300];
    snprintf(where, sizeof where, "%s:6:3: error: ", path);
    if (strncmp(msg, where, strlen(where)) != 0) fail_msg("message does not start with '%s':\n  %s", where, msg);
    assert_non_null(strstr(msg, "2.75e+11"));
    assert_non_null(strstr(msg, "4e+11"));
    assert_non_null(strstr(msg, "--deterministic"));
    snprintf(text, sizeof text, fmt, "1e10 nS");
    write_file(path, text);
    assert_int_equal(vt_create(path, VL_BACKEND_CPU, msg, sizeof msg), VL_OK);
}

/* The host memory plan (vl_sim_create): a model that cannot fit in the memory left is refused
 * with the numbers and the file's name before its network is built, and the plan's estimate
 * agrees with the bytes a built network really holds. */
static void test_memory_plan(void **st) {
    (void)st;
    char path[1200], msg[2048];
    /* refused at once on any machine (the calloc of its rings used to be what failed) */
    snprintf(path, sizeof path, "%s/too_big.yaml", g_dir);
    write_file(path, VT_TOO_BIG_MODEL);
    assert_int_equal(vt_create(path, VL_BACKEND_CPU, msg, sizeof msg), VL_ERR_NOMEM);
    assert_true(strncmp(msg, path, strlen(path)) == 0); /* names the file */
    const char *need = strstr(msg, "needs about ");
    assert_non_null(need);
    assert_true(atof(need + strlen("needs about ")) > 480 && atof(need + strlen("needs about ")) < 490);
    assert_non_null(strstr(msg, "input rings 484."));
    assert_non_null(strstr(msg, "GiB are available"));
    assert_non_null(strstr(msg, "of memory (network 114.4 MiB, "));

    /* COBA: about 2.6 MiB; refused with 1 MB left, built with 1 GB left. */
    snprintf(path, sizeof path, "%s/configs/coba.yaml", VOLLEY_SOURCE_DIR);
    setenv("VOLLEY_HOST_MEMORY", "1000000", 1);
    assert_int_equal(vt_create(path, VL_BACKEND_CPU, msg, sizeof msg), VL_ERR_NOMEM);
    setenv("VOLLEY_HOST_MEMORY", "1000000000", 1);
    assert_int_equal(vt_create(path, VL_BACKEND_CPU, msg, sizeof msg), VL_OK);
    unsetenv("VOLLEY_HOST_MEMORY");

    /* The estimate against the network as built (CSR arrays and initial state) for COBA. */
    vl_model *m = NULL;
    assert_int_equal(vl_model_load(path, NULL, 0, &m), VL_OK);
    vl_mem_plan plan;
    vl_spec_mem_plan(&m->spec, 0, 0, &plan);
    vl_network net;
    vl_diag d = {0};
    assert_int_equal(vl_network_build(&m->spec, 1, &net, &d), 0);
    double real = 0;
    for (size_t q = 0; q < net.n_proj; ++q) {
        const vl_csr *c = &net.proj[q];
        real += 8.0 * (c->n_rows + 1) + 8.0 * c->n_syn + (c->delay ? 2.0 * c->n_syn : 0);
    }
    for (size_t i = 0; i < m->spec.n_pops; ++i)
        if (m->spec.pops[i].type == VL_POP_NEURON) real += 4.0 * m->spec.pops[i].size * (1 + m->spec.pops[i].n_rec);
    printf("  COBA network: planned %.0f bytes, built %.0f\n", plan.network, real);
    assert_true(fabs(plan.network - real) < 0.02 * real);
    vl_network_free(&net, m->spec.n_pops);
    vl_model_destroy(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_base_loads),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_misspelt_required_size),
        cmocka_unit_test(test_misspelt_required_model),
        cmocka_unit_test(test_misspelt_required_rate),
        cmocka_unit_test(test_misspelt_required_populations),
        cmocka_unit_test(test_wrong_unit),
        cmocka_unit_test(test_unknown_unit),
        cmocka_unit_test(test_missing_unit),
        cmocka_unit_test(test_bad_size),
        cmocka_unit_test(test_times_out_of_range),
        cmocka_unit_test(test_hostile_inputs),
        cmocka_unit_test(test_missing_connection_file),
        cmocka_unit_test(test_degree_beyond_partners),
        cmocka_unit_test(test_fixed_point_range),
        cmocka_unit_test(test_negative_conductance_weight),
        cmocka_unit_test(test_input_as_target),
        cmocka_unit_test(test_reset_not_below_threshold),
        cmocka_unit_test(test_delay_not_multiple_of_dt),
        cmocka_unit_test(test_unknown_population),
        cmocka_unit_test(test_other_model_errors),
        cmocka_unit_test(test_yaml_syntax),
        cmocka_unit_test(test_missing_and_empty_file),
        cmocka_unit_test(test_overrides_take_effect),
        cmocka_unit_test(test_bad_overrides),
        cmocka_unit_test(test_override_error_has_no_file_position),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_memory_plan),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
