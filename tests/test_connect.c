/* Connectivity (src/network): every rule against its definition and its statistics (binomial
 * counts, degree distributions, multapse collision rates), autapses and multapses switches,
 * slices, connection files, weight and delay distributions (including the truncated normal's
 * analytic mean), and reproducibility: the same seed gives the same network whatever the thread
 * count, another seed gives another network. */
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

#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/model.h"
#include "kernels/philox.h"
#include "network/network.h"

static char g_dir[1024];
static vl_model *g_model;
static vl_network g_net;

enum { NA = 300, NB = 400 };

/* Projection indices (order of the YAML list below). */
enum {
    P_PROB, P_INDEG, P_INDEG_NM, P_OUTDEG, P_OUTDEG_NM, P_TOTAL, P_ALL, P_O2O, P_O2O_SLICE, P_REC_PROB,
    P_REC_INDEG_ALL, P_REC_OUTDEG, P_REC_ALL, P_REC_ALL_AUT, P_REC_TOTAL, P_SLICE, P_W_UNIFORM, P_W_NORMAL,
    P_W_TRUNC, P_W_AUTO0, P_W_LOGNORMAL, P_FILE, P_W_TOTAL, P_TINY_P, P_COUNT
};

static const char *model_text(void) {
    static char buf[16384];
    snprintf(buf, sizeof buf,
             "name: conn\n"
             "dt: 0.1 ms\n"
             "duration: 1 ms\n"
             "seed: 1\n"
             "populations:\n"
             "  a: {size: %d, model: lif_cond_exp, params: {I_e: 300 pA}, init: {v: {uniform: [-70 mV, -50 mV]}}}\n"
             "  b: {size: %d, model: lif_cond_exp, params: {I_e: 300 pA},"
             " init: {v: {normal: [-65 mV, 3 mV]}, g_exc: {uniform: [0 nS, 2 nS]}}}\n"
             "  c: {size: %d, model: lif_cond_exp, params: {I_e: 300 pA}}\n"
             "projections:\n"
             "  - {name: prob, from: a, to: b, receptor: exc, connect: {fixed_probability: 0.1}, weight: 1 nS}\n"
             "  - {name: indeg, from: a, to: b, receptor: exc, connect: {fixed_indegree: 20}, weight: 1 nS}\n"
             "  - {name: indeg_nm, from: a, to: b, receptor: exc, connect: {fixed_indegree: 250, multapses: false},"
             " weight: 1 nS}\n"
             "  - {name: outdeg, from: a, to: b, receptor: exc, connect: {fixed_outdegree: 15}, weight: 1 nS}\n"
             "  - {name: outdeg_nm, from: a, to: b, receptor: exc, connect: {fixed_outdegree: 350, multapses: false},"
             " weight: 1 nS}\n"
             "  - {name: total, from: a, to: b, receptor: exc, connect: {fixed_total_number: 5000}, weight: 1 nS}\n"
             "  - {name: all, from: a, to: b, receptor: exc, connect: all_to_all, weight: 1 nS}\n"
             "  - {name: o2o, from: a, to: c, receptor: exc, connect: one_to_one, weight: 1 nS}\n"
             "  - {name: o2o_slice, from: \"a[100:200]\", to: \"b[200:300]\", receptor: exc, connect: one_to_one,"
             " weight: 1 nS}\n"
             "  - {name: rec_prob, from: a, to: a, receptor: exc, connect: {fixed_probability: 0.5, autapses: false},"
             " weight: 1 nS}\n"
             "  - {name: rec_indeg_all, from: a, to: a, receptor: exc,"
             " connect: {fixed_indegree: %d, autapses: false, multapses: false}, weight: 1 nS}\n"
             "  - {name: rec_outdeg, from: a, to: a, receptor: exc, connect: {fixed_outdegree: 30, autapses: false},"
             " weight: 1 nS}\n"
             "  - {name: rec_all, from: a, to: a, receptor: exc, connect: {all_to_all: true, autapses: false},"
             " weight: 1 nS}\n"
             "  - {name: rec_all_aut, from: a, to: a, receptor: exc, connect: all_to_all, weight: 1 nS}\n"
             "  - {name: rec_total, from: a, to: a, receptor: exc, connect: {fixed_total_number: 3000, autapses: false},"
             " weight: 1 nS}\n"
             "  - {name: slice, from: \"a[0:100]\", to: \"a[50:150]\", receptor: exc,"
             " connect: {fixed_probability: 1.0, autapses: false}, weight: 1 nS}\n"
             "  - {name: w_uniform, from: a, to: b, receptor: exc, connect: {fixed_indegree: 50},"
             " weight: {uniform: [1 nS, 3 nS]}, delay: {uniform: [1 ms, 3 ms]}}\n"
             "  - {name: w_normal, from: a, to: b, receptor: exc, connect: {fixed_indegree: 50},"
             " weight: {normal: [5 nS, 1 nS]}, delay: 0.3 ms}\n"
             "  - {name: w_trunc, from: a, to: b, receptor: exc, connect: {fixed_indegree: 50},"
             " weight: {normal: [1 nS, 2 nS], min: 0.5 nS}, delay: 0.7 ms}\n"
             "  - {name: w_auto0, from: a, to: b, receptor: exc, connect: {fixed_indegree: 50},"
             " weight: {normal: [1 nS, 2 nS]}}\n"
             "  - {name: w_lognormal, from: a, to: b, receptor: exc, connect: {fixed_indegree: 50},"
             " weight: {lognormal: [2 nS, 0.5]}}\n"
             "  - {name: file, from: a, to: b, receptor: inh, connect: {file: %s/tests/data/conn_small.csv},"
             " weight: file, delay: file}\n"
             "  - {name: w_total, from: a, to: b, receptor: exc, connect: {fixed_total_number: 20000},"
             " weight: {uniform: [1 nS, 3 nS]}, delay: {uniform: [0.1 ms, 2 ms]}}\n"
             "  - {name: tiny_p, from: a, to: b, receptor: exc, connect: {fixed_probability: 1e-19}, weight: 1 nS}\n",
             NA, NB, NA, NA - 1, VOLLEY_SOURCE_DIR);
    return buf;
}

static int build(uint64_t seed, vl_network *net) {
    vl_diag d;
    memset(&d, 0, sizeof d);
    int rc = vl_network_build(&g_model->spec, seed, net, &d);
    if (rc != 0) fprintf(stderr, "network build failed: %s\n", d.err);
    vl__diag_free(&d);
    return rc;
}

static int setup(void **st) {
    (void)st;
    snprintf(g_dir, sizeof g_dir, "%s/connect-XXXXXX", VOLLEY_TEST_TMP);
    if (!mkdtemp(g_dir)) return -1;
    char path[1200];
    snprintf(path, sizeof path, "%s/conn.yaml", g_dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(model_text(), f);
    fclose(f);
    if (vl_model_load(path, NULL, 0, &g_model) != VL_OK) {
        fprintf(stderr, "model refused: %s\n", vl_model_error(g_model));
        return -1;
    }
    if (g_model->spec.n_proj != P_COUNT) {
        fprintf(stderr, "expected %d projections, got %zu\n", P_COUNT, g_model->spec.n_proj);
        return -1;
    }
    return build(g_model->spec.seed, &g_net);
}

static int teardown(void **st) {
    (void)st;
    vl_network_free(&g_net, g_model->spec.n_pops);
    vl_model_destroy(g_model);
    return vt_remove_dir(g_dir);
}

/* ---- helpers ---- */

static const vl_csr *P(int i) { return &g_net.proj[i]; }

static uint64_t row_len(const vl_csr *c, uint32_t r) { return c->row_ptr[r + 1] - c->row_ptr[r]; }

static void check_csr_shape(const vl_csr *c, uint32_t n_tgt, const char *what) {
    assert_int_equal(c->row_ptr[0], 0);
    for (uint32_t r = 0; r < c->n_rows; ++r)
        if (c->row_ptr[r + 1] < c->row_ptr[r]) fail_msg("%s: row_ptr decreases at row %u", what, r);
    assert_int_equal(c->row_ptr[c->n_rows], c->n_syn);
    for (uint64_t k = 0; k < c->n_syn; ++k)
        if (c->col[k] >= n_tgt) fail_msg("%s: col %u outside the target (size %u)", what, c->col[k], n_tgt);
}

/* in-degree of each target neuron (index within the target population) */
static uint32_t *in_degrees(const vl_csr *c, uint32_t n_tgt) {
    uint32_t *d = calloc(n_tgt, sizeof *d);
    for (uint64_t k = 0; k < c->n_syn; ++k) d[c->col[k]]++;
    return d;
}

static void mean_var_u32(const uint32_t *x, size_t n, double *mean, double *var) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; ++i) s += x[i];
    *mean = s / n;
    for (size_t i = 0; i < n; ++i) s2 += (x[i] - *mean) * (x[i] - *mean);
    *var = s2 / (n - 1);
}

/* Sample variance of n draws near a distribution of variance v: within k standard errors
 * (the normal approximation, sd(s^2) = v sqrt(2 / (n - 1)), a little widened for skew). */
static void expect_var(double got, double v, size_t n, const char *what) {
    double se = v * sqrt(2.0 / (n - 1)) * 1.2;
    if (fabs(got - v) > 5 * se) fail_msg("%s: variance %.3f, expected %.3f +- %.3f", what, got, v, 5 * se);
}

static void expect_near(double got, double want, double tol, const char *what) {
    if (fabs(got - want) > tol) fail_msg("%s: %.5f, expected %.5f +- %.5f", what, got, want, tol);
}

/* Number of (row, col) pairs that repeat (a pair present m times counts m - 1). */
static uint64_t duplicate_pairs(const vl_csr *c, uint32_t n_tgt) {
    uint32_t *seen = calloc(n_tgt, sizeof *seen);
    uint64_t dup = 0;
    for (uint32_t r = 0; r < c->n_rows; ++r) {
        for (uint64_t k = c->row_ptr[r]; k < c->row_ptr[r + 1]; ++k) {
            if (seen[c->col[k]] == r + 1) ++dup;
            seen[c->col[k]] = r + 1;
        }
    }
    free(seen);
    return dup;
}

static uint64_t self_pairs(const vl_csr *c) {
    uint64_t n = 0;
    for (uint32_t r = 0; r < c->n_rows; ++r)
        for (uint64_t k = c->row_ptr[r]; k < c->row_ptr[r + 1]; ++k) n += c->col[k] == c->src_lo + r;
    return n;
}

/* ---- rules ---- */

static void test_fixed_probability(void **st) {
    (void)st;
    const vl_csr *c = P(P_PROB);
    const double p = 0.1;
    check_csr_shape(c, NB, "prob");
    assert_int_equal(c->n_rows, NA);
    /* total ~ Binomial(NA*NB, p) */
    double n_pairs = (double)NA * NB, mu = p * n_pairs, sd = sqrt(n_pairs * p * (1 - p));
    if (fabs((double)c->n_syn - mu) > 4 * sd) fail_msg("fixed_probability: %llu synapses, expected %.0f +- %.0f",
                                                       (unsigned long long)c->n_syn, mu, 4 * sd);
    /* a Bernoulli trial per pair: never the same pair twice, and targets in increasing order */
    assert_int_equal(duplicate_pairs(c, NB), 0);
    /* in-degree ~ Binomial(NA, p), out-degree ~ Binomial(NB, p) */
    uint32_t *in = in_degrees(c, NB);
    double m, v;
    mean_var_u32(in, NB, &m, &v);
    expect_near(m, NA * p, 5 * sqrt(NA * p * (1 - p) / NB), "fixed_probability mean in-degree");
    expect_var(v, NA * p * (1 - p), NB, "fixed_probability in-degree");
    free(in);
    uint32_t *out = calloc(NA, sizeof *out);
    for (uint32_t r = 0; r < NA; ++r) out[r] = (uint32_t)row_len(c, r);
    mean_var_u32(out, NA, &m, &v);
    expect_near(m, NB * p, 5 * sqrt(NB * p * (1 - p) / NA), "fixed_probability mean out-degree");
    expect_var(v, NB * p * (1 - p), NA, "fixed_probability out-degree");
    free(out);
    /* every target position equally likely: the first target of a row is geometric(p) */
    double first = 0;
    int rows = 0;
    for (uint32_t r = 0; r < NA; ++r)
        if (row_len(c, r)) first += c->col[c->row_ptr[r]], ++rows;
    first /= rows;
    /* E[first index | at least one] ~ (1-p)/p = 9 for a long row; sd of geometric = sqrt(1-p)/p */
    expect_near(first, (1 - p) / p, 5 * sqrt(1 - p) / p / sqrt(rows), "fixed_probability first target");
}

/* At a tiny probability the geometric gap to the first target exceeds any 64-bit integer (about
 * 36 / 1e-19 here): the row must end, not wrap to a negative index (which crashed the build). */
static void test_fixed_probability_tiny(void **st) {
    (void)st;
    const vl_csr *c = P(P_TINY_P);
    check_csr_shape(c, NB, "tiny_p");
    assert_int_equal(c->n_syn, 0);
}

static void test_fixed_probability_recurrent(void **st) {
    (void)st;
    const vl_csr *c = P(P_REC_PROB);
    check_csr_shape(c, NA, "rec_prob");
    assert_int_equal(self_pairs(c), 0);
    double n_pairs = (double)NA * (NA - 1), p = 0.5;
    double mu = p * n_pairs, sd = sqrt(n_pairs * p * (1 - p));
    if (fabs((double)c->n_syn - mu) > 4 * sd) fail_msg("rec_prob: %llu synapses, expected %.0f", (unsigned long long)c->n_syn, mu);
    /* i->j and j->i are independent: reciprocal pairs ~ Binomial(NA(NA-1)/2, p^2) */
    uint8_t *adj = calloc((size_t)NA * NA, 1);
    for (uint32_t r = 0; r < NA; ++r)
        for (uint64_t k = c->row_ptr[r]; k < c->row_ptr[r + 1]; ++k) adj[(size_t)r * NA + c->col[k]] = 1;
    double recip = 0;
    for (uint32_t i = 0; i < NA; ++i)
        for (uint32_t j = i + 1; j < NA; ++j) recip += adj[(size_t)i * NA + j] && adj[(size_t)j * NA + i];
    free(adj);
    double np2 = n_pairs / 2;
    expect_near(recip, np2 * p * p, 5 * sqrt(np2 * p * p * (1 - p * p)), "reciprocal pairs");
}

static void test_fixed_indegree(void **st) {
    (void)st;
    const vl_csr *c = P(P_INDEG);
    const uint32_t K = 20;
    check_csr_shape(c, NB, "indeg");
    assert_int_equal(c->n_syn, (uint64_t)K * NB);
    uint32_t *in = in_degrees(c, NB);
    for (uint32_t j = 0; j < NB; ++j)
        if (in[j] != K) fail_msg("fixed_indegree: target %u has in-degree %u, expected %u", j, in[j], K);
    free(in);
    /* sources drawn uniformly with replacement: out-degree ~ Binomial(K*NB, 1/NA) */
    uint32_t *out = calloc(NA, sizeof *out);
    for (uint32_t r = 0; r < NA; ++r) out[r] = (uint32_t)row_len(c, r);
    double m, v, q = 1.0 / NA;
    mean_var_u32(out, NA, &m, &v);
    expect_near(m, (double)K * NB / NA, 1e-9, "fixed_indegree mean out-degree");
    expect_var(v, K * NB * q * (1 - q), NA, "fixed_indegree out-degree");
    free(out);
    /* with multapses (the default) sources are drawn with replacement: a target sees
     * NA (1 - (1 - 1/NA)^K) distinct sources on average, the rest are repeats */
    double dup = (double)duplicate_pairs(c, NB);
    double want = NB * (K - NA * (1 - pow(1 - 1.0 / NA, K)));
    expect_near(dup, want, 5 * sqrt(want), "fixed_indegree repeated pairs with multapses");
}

static void test_fixed_indegree_no_multapses(void **st) {
    (void)st;
    const vl_csr *c = P(P_INDEG_NM);
    check_csr_shape(c, NB, "indeg_nm");
    assert_int_equal(c->n_syn, 250ull * NB);
    uint32_t *in = in_degrees(c, NB);
    for (uint32_t j = 0; j < NB; ++j)
        if (in[j] != 250) fail_msg("fixed_indegree (no multapses): target %u has in-degree %u", j, in[j]);
    free(in);
    assert_int_equal(duplicate_pairs(c, NB), 0);
    /* recurrent, K = NA - 1, no autapses, no multapses: every ordered pair i != j exactly once */
    const vl_csr *r = P(P_REC_INDEG_ALL);
    assert_int_equal(r->n_syn, (uint64_t)NA * (NA - 1));
    assert_int_equal(self_pairs(r), 0);
    assert_int_equal(duplicate_pairs(r, NA), 0);
    for (uint32_t k = 0; k < NA; ++k) assert_int_equal(row_len(r, k), NA - 1);
}

static void test_fixed_outdegree(void **st) {
    (void)st;
    const vl_csr *c = P(P_OUTDEG);
    check_csr_shape(c, NB, "outdeg");
    assert_int_equal(c->n_syn, 15ull * NA);
    for (uint32_t r = 0; r < NA; ++r)
        if (row_len(c, r) != 15) fail_msg("fixed_outdegree: row %u has %llu", r, (unsigned long long)row_len(c, r));
    uint32_t *in = in_degrees(c, NB);
    double m, v, q = 1.0 / NB;
    mean_var_u32(in, NB, &m, &v);
    expect_near(m, 15.0 * NA / NB, 1e-9, "fixed_outdegree mean in-degree");
    expect_var(v, 15.0 * NA * q * (1 - q), NB, "fixed_outdegree in-degree");
    free(in);

    const vl_csr *nm = P(P_OUTDEG_NM);
    assert_int_equal(nm->n_syn, 350ull * NA);
    for (uint32_t r = 0; r < NA; ++r) assert_int_equal(row_len(nm, r), 350);
    assert_int_equal(duplicate_pairs(nm, NB), 0);

    const vl_csr *rec = P(P_REC_OUTDEG);
    check_csr_shape(rec, NA, "rec_outdeg");
    assert_int_equal(rec->n_syn, 30ull * NA);
    for (uint32_t r = 0; r < NA; ++r) assert_int_equal(row_len(rec, r), 30);
    assert_int_equal(self_pairs(rec), 0);
}

static void test_fixed_total_number(void **st) {
    (void)st;
    const vl_csr *c = P(P_TOTAL);
    check_csr_shape(c, NB, "total");
    assert_int_equal(c->n_syn, 5000);
    /* each synapse picks its pair uniformly: row counts ~ Binomial(5000, 1/NA) */
    uint32_t *out = calloc(NA, sizeof *out);
    for (uint32_t r = 0; r < NA; ++r) out[r] = (uint32_t)row_len(c, r);
    double m, v, q = 1.0 / NA;
    mean_var_u32(out, NA, &m, &v);
    expect_var(v, 5000 * q * (1 - q), NA, "fixed_total_number out-degree");
    free(out);
    uint32_t *in = in_degrees(c, NB);
    q = 1.0 / NB;
    mean_var_u32(in, NB, &m, &v);
    expect_var(v, 5000 * q * (1 - q), NB, "fixed_total_number in-degree");
    free(in);

    const vl_csr *rec = P(P_REC_TOTAL);
    assert_int_equal(rec->n_syn, 3000);
    assert_int_equal(self_pairs(rec), 0);
}

static void test_all_to_all_and_one_to_one(void **st) {
    (void)st;
    const vl_csr *c = P(P_ALL);
    assert_int_equal(c->n_syn, (uint64_t)NA * NB);
    for (uint32_t r = 0; r < NA; ++r) {
        assert_int_equal(row_len(c, r), NB);
        for (uint32_t j = 0; j < NB; ++j) assert_int_equal(c->col[c->row_ptr[r] + j], j);
    }
    const vl_csr *rn = P(P_REC_ALL);
    assert_int_equal(rn->n_syn, (uint64_t)NA * (NA - 1));
    assert_int_equal(self_pairs(rn), 0);
    assert_int_equal(duplicate_pairs(rn, NA), 0);
    const vl_csr *ra = P(P_REC_ALL_AUT); /* autapses default to on, as in NEST and Brian2 */
    assert_int_equal(ra->n_syn, (uint64_t)NA * NA);
    assert_int_equal(self_pairs(ra), NA);

    const vl_csr *o = P(P_O2O);
    assert_int_equal(o->n_syn, NA);
    for (uint32_t r = 0; r < NA; ++r) {
        assert_int_equal(row_len(o, r), 1);
        assert_int_equal(o->col[o->row_ptr[r]], r);
    }
    /* slices: a[100:200] -> b[200:300], row k is neuron 100 + k, its target b[200 + k] */
    const vl_csr *s = P(P_O2O_SLICE);
    assert_int_equal(s->src_lo, 100);
    assert_int_equal(s->n_rows, 100);
    assert_int_equal(s->n_syn, 100);
    for (uint32_t r = 0; r < 100; ++r) {
        assert_int_equal(row_len(s, r), 1);
        assert_int_equal(s->col[s->row_ptr[r]], 200 + r);
    }
}

/* a[0:100] -> a[50:150] with p = 1 and no autapses: neurons 50..99 are on both sides and skip
 * themselves. */
static void test_slices_and_autapses(void **st) {
    (void)st;
    const vl_csr *c = P(P_SLICE);
    assert_int_equal(c->src_lo, 0);
    assert_int_equal(c->n_rows, 100);
    assert_int_equal(c->n_syn, 100 * 100 - 50);
    for (uint32_t r = 0; r < 100; ++r) {
        assert_int_equal(row_len(c, r), r >= 50 ? 99 : 100);
        for (uint64_t k = c->row_ptr[r]; k < c->row_ptr[r + 1]; ++k) {
            assert_true(c->col[k] >= 50 && c->col[k] < 150);
            assert_int_not_equal(c->col[k], r);
        }
    }
}

static void test_expected_synapses_match(void **st) {
    (void)st;
    /* vl_model_summary prints these: exact for every rule but fixed_probability */
    const int exact[] = {P_INDEG, P_INDEG_NM, P_OUTDEG, P_OUTDEG_NM, P_TOTAL, P_ALL, P_O2O, P_O2O_SLICE,
                         P_REC_INDEG_ALL, P_REC_OUTDEG, P_REC_ALL, P_REC_ALL_AUT, P_REC_TOTAL, P_SLICE};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; ++i) {
        const vl_proj_spec *p = &g_model->spec.proj[exact[i]];
        double e = vl_proj_expected_synapses(&g_model->spec, p);
        if (e != (double)P(exact[i])->n_syn)
            fail_msg("projection %s: expected synapses %.0f, built %llu", p->name, e,
                     (unsigned long long)P(exact[i])->n_syn);
    }
}

static void test_connection_file(void **st) {
    (void)st;
    const vl_csr *c = P(P_FILE);
    assert_int_equal(c->n_syn, 6);
    assert_int_equal(c->rec, 1); /* inh */
    /* row 0 in the file: (1, 2.5 nS, 0.3 ms), (3, 1.0, 1.0), (1, 6.0, 0.5); in the CSR in target
     * order, the two synapses onto target 1 still in file order, each with its weight and delay */
    assert_int_equal(row_len(c, 0), 3);
    const uint32_t col0[] = {1, 1, 3};
    const float w0[] = {2.5f, 6.0f, 1.0f};
    const uint16_t d0[] = {3, 5, 10};
    assert_non_null(c->delay);
    for (int k = 0; k < 3; ++k) {
        assert_int_equal(c->col[k], col0[k]);
        assert_true(c->w[k] == w0[k]);
        assert_int_equal(c->delay[k], d0[k]);
    }
    assert_int_equal(row_len(c, 2), 1);
    assert_int_equal(c->col[c->row_ptr[2]], 0);
    assert_true(c->w[c->row_ptr[2]] == 4.0f);
    assert_int_equal(c->delay[c->row_ptr[2]], 7);
    assert_int_equal(row_len(c, 5), 1);
    assert_int_equal(c->col[c->row_ptr[5]], 399);
    assert_int_equal(c->delay[c->row_ptr[5]], 20);
    assert_int_equal(row_len(c, 299), 1);
    assert_int_equal(c->delay[c->row_ptr[299]], 1);
    assert_int_equal(c->max_delay, 20);
}

/* ---- weights and delays ---- */

static void weight_moments(const vl_csr *c, double *mean, double *var, double *mn, double *mx) {
    double s = 0, s2 = 0;
    *mn = INFINITY;
    *mx = -INFINITY;
    for (uint64_t k = 0; k < c->n_syn; ++k) {
        s += c->w[k];
        if (c->w[k] < *mn) *mn = c->w[k];
        if (c->w[k] > *mx) *mx = c->w[k];
    }
    *mean = s / c->n_syn;
    for (uint64_t k = 0; k < c->n_syn; ++k) s2 += (c->w[k] - *mean) * (c->w[k] - *mean);
    *var = s2 / (c->n_syn - 1);
}

static double phi(double x) { return exp(-0.5 * x * x) / 2.5066282746310002; }
static double Phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* Normal(mu, sd) truncated below at lo (the redraw convention): analytic mean and variance. */
static void trunc_normal(double mu, double sd, double lo, double *mean, double *var) {
    double a = (lo - mu) / sd, lam = phi(a) / (1 - Phi(a));
    *mean = mu + sd * lam;
    *var = sd * sd * (1 + a * lam - lam * lam);
}

/* Every row lists its targets in ascending order. A fixed_total_number projection, whose pairs
 * come in random order, is rebuilt here from its definition (pair k: source and target from the
 * Philox block (k, 0, 2) of the connectivity stream; rows keep the order of k) with each synapse's
 * weight and delay drawn at its position in that generation order; sorted stably by target, this
 * must be the built CSR: every weight and delay went with its synapse. */
static void test_rows_in_target_order(void **st) {
    (void)st;
    for (int i = 0; i < P_COUNT; ++i) {
        const vl_csr *c = P(i);
        for (uint32_t r = 0; r < c->n_rows; ++r)
            for (uint64_t k = c->row_ptr[r] + 1; k < c->row_ptr[r + 1]; ++k)
                if (c->col[k - 1] > c->col[k])
                    fail_msg("projection %s: row %u not in target order at synapse %llu",
                             g_model->spec.proj[i].name, r, (unsigned long long)k);
    }
    const vl_proj_spec *p = &g_model->spec.proj[P_W_TOTAL];
    const vl_csr *c = P(P_W_TOTAL);
    const uint64_t seed = g_model->spec.seed, n = p->n;
    assert_int_equal(c->n_syn, n);
    uint32_t *src = calloc(n, sizeof *src), *tgt = calloc(n, sizeof *tgt), *fill = calloc(NA, sizeof *fill);
    uint32_t *col = calloc(n, sizeof *col);
    float *w = calloc(n, sizeof *w);
    uint16_t *d = calloc(n, sizeof *d);
    assert_true(src && tgt && fill && col && w && d);
    for (uint64_t k = 0; k < n; ++k) {
        vl_u32x4 r = vl_rand4(seed, VL_STREAM_CONNECT | P_W_TOTAL, (uint32_t)k, 0, 2);
        src[k] = (uint32_t)(((uint64_t)r.v[0] * NA) >> 32);
        tgt[k] = (uint32_t)(((uint64_t)r.v[1] * NB) >> 32);
    }
    uint64_t moved = 0;
    for (uint64_t k = 0; k < n; ++k) { /* generation position of pair k: its row's start + its rank */
        const uint64_t at = c->row_ptr[src[k]] + fill[src[k]]++;
        col[at] = tgt[k];
        w[at] = (float)vl_dist_draw(&p->weight, seed, VL_STREAM_WEIGHT | P_W_TOTAL, (uint32_t)at, 0, 0);
        d[at] = (uint16_t)nearbyint(vl_dist_draw(&p->delay, seed, VL_STREAM_WEIGHT | P_W_TOTAL, (uint32_t)at, 0, 1) /
                                    g_model->spec.dt);
    }
    for (uint32_t r = 0; r < NA; ++r) {
        assert_int_equal(fill[r], row_len(c, r));
        const uint64_t b = c->row_ptr[r], e = c->row_ptr[r + 1];
        for (uint64_t k = b + 1; k < e; ++k) { /* insertion sort by target: stable */
            uint32_t cc = col[k];
            float ww = w[k];
            uint16_t dd = d[k];
            uint64_t j = k;
            for (; j > b && col[j - 1] > cc; --j, ++moved) col[j] = col[j - 1], w[j] = w[j - 1], d[j] = d[j - 1];
            col[j] = cc, w[j] = ww, d[j] = dd;
        }
    }
    assert_true(moved > n); /* the generation order was far from sorted */
    assert_non_null(c->delay);
    for (uint64_t k = 0; k < n; ++k)
        if (c->col[k] != col[k] || c->w[k] != w[k] || c->delay[k] != d[k])
            fail_msg("w_total synapse %llu: (%u, %g, %u) built, (%u, %g, %u) expected", (unsigned long long)k,
                     c->col[k], c->w[k], c->delay[k], col[k], w[k], d[k]);
    free(src); free(tgt); free(fill); free(col); free(w); free(d);
}

static void test_weight_distributions(void **st) {
    (void)st;
    double m, v, mn, mx;
    const vl_csr *u = P(P_W_UNIFORM);
    double n = (double)u->n_syn;
    assert_int_equal(u->n_syn, 50ull * NB);
    weight_moments(u, &m, &v, &mn, &mx);
    assert_true(mn >= 1.0 && mx <= 3.0);
    expect_near(m, 2.0, 5 * sqrt(1.0 / 3 / n), "uniform weight mean");
    expect_near(v, 1.0 / 3, 5 * sqrt(4.0 / 180 / n) * 1.2, "uniform weight variance");
    /* the distribution fills its range */
    assert_true(mn < 1.01 && mx > 2.99);

    const vl_csr *g = P(P_W_NORMAL);
    weight_moments(g, &m, &v, &mn, &mx);
    expect_near(m, 5.0, 5 / sqrt(n), "normal weight mean");
    expect_var(v, 1.0, (size_t)n, "normal weight");

    /* min: 0.5 nS truncates (redraws), it does not clip: no mass piles up at the bound and the
     * mean is that of the truncated normal */
    const vl_csr *t = P(P_W_TRUNC);
    double tm, tv;
    trunc_normal(1.0, 2.0, 0.5, &tm, &tv);
    weight_moments(t, &m, &v, &mn, &mx);
    assert_true(mn >= 0.5f);
    expect_near(m, tm, 5 * sqrt(tv / n), "truncated normal weight mean");
    expect_var(v, tv, (size_t)n, "truncated normal weight");
    uint64_t at_bound = 0;
    for (uint64_t k = 0; k < t->n_syn; ++k) at_bound += t->w[k] == 0.5f;
    assert_true(at_bound < 5);

    /* onto a conductance receptor a normal without min is truncated at 0 */
    const vl_csr *z = P(P_W_AUTO0);
    trunc_normal(1.0, 2.0, 0.0, &tm, &tv);
    weight_moments(z, &m, &v, &mn, &mx);
    assert_true(mn >= 0.0);
    expect_near(m, tm, 5 * sqrt(tv / n), "normal weight truncated at 0, mean");

    /* lognormal(median 2 nS, sigma 0.5): log w ~ N(ln 2, 0.5) */
    const vl_csr *l = P(P_W_LOGNORMAL);
    double s = 0, s2 = 0;
    for (uint64_t k = 0; k < l->n_syn; ++k) {
        assert_true(l->w[k] > 0);
        double x = log(l->w[k]);
        s += x;
        s2 += x * x;
    }
    double lm = s / l->n_syn, lv = s2 / l->n_syn - lm * lm;
    expect_near(lm, log(2.0), 5 * 0.5 / sqrt(n), "lognormal log-mean");
    expect_var(lv, 0.25, (size_t)n, "lognormal log");
}

static void test_delays(void **st) {
    (void)st;
    /* uniform [1 ms, 3 ms) at dt = 0.1 ms rounds to steps 10..30; the end steps get half the mass */
    const vl_csr *u = P(P_W_UNIFORM);
    assert_non_null(u->delay);
    uint64_t hist[40] = {0};
    for (uint64_t k = 0; k < u->n_syn; ++k) {
        if (u->delay[k] < 10 || u->delay[k] > 30) fail_msg("delay step %u outside 10..30", u->delay[k]);
        hist[u->delay[k]]++;
    }
    double n = (double)u->n_syn;
    expect_near((double)hist[10], n * 0.025, 5 * sqrt(n * 0.025), "delay step 10 count");
    expect_near((double)hist[30], n * 0.025, 5 * sqrt(n * 0.025), "delay step 30 count");
    for (int k = 11; k < 30; ++k) expect_near((double)hist[k], n * 0.05, 5 * sqrt(n * 0.05), "inner delay step count");
    assert_int_equal(u->max_delay, 30);
    /* constant delays that are inexact in binary: 0.3 / 0.1 and 0.7 / 0.1 round, not truncate */
    assert_null(P(P_W_NORMAL)->delay);
    assert_int_equal(P(P_W_NORMAL)->delay_const, 3);
    assert_null(P(P_W_TRUNC)->delay);
    assert_int_equal(P(P_W_TRUNC)->delay_const, 7);
    /* no delay: 0 steps */
    assert_int_equal(P(P_ALL)->delay_const, 0);
    /* the ring of b holds the longest incoming delay + 2 slots (b's longest is 30 steps) */
    assert_int_equal(g_net.ring_len[1], 32);
}

/* ---- reproducibility ---- */

static int csr_equal(const vl_csr *a, const vl_csr *b) {
    if (a->n_syn != b->n_syn || a->n_rows != b->n_rows || a->delay_const != b->delay_const ||
        !a->delay != !b->delay)
        return 0;
    if (memcmp(a->row_ptr, b->row_ptr, (a->n_rows + 1) * sizeof *a->row_ptr)) return 0;
    if (a->n_syn && memcmp(a->col, b->col, a->n_syn * sizeof *a->col)) return 0;
    if (a->n_syn && memcmp(a->w, b->w, a->n_syn * sizeof *a->w)) return 0;
    if (a->delay && memcmp(a->delay, b->delay, a->n_syn * sizeof *a->delay)) return 0;
    return 1;
}

static int v0_equal(const vl_network *a, const vl_network *b) {
    for (size_t i = 0; i < g_model->spec.n_pops; ++i) {
        uint32_t n = g_model->spec.pops[i].size;
        size_t nr = g_model->spec.pops[i].n_rec;
        if (memcmp(a->v0[i], b->v0[i], n * sizeof(float))) return 0;
        if (memcmp(a->g0[i], b->g0[i], n * nr * sizeof(float))) return 0;
    }
    return 1;
}

/* Initial values: a's v uniform in [-70, -50) mV, b's v normal(-65, 3) mV, b's g_exc uniform in
 * [0, 2) nS and its g_inh 0; c (no init) starts at E_L (-70 mV, NEST's iaf_cond_exp default). */
static void test_initial_values(void **st) {
    (void)st;
    const float *va = g_net.v0[0], *vb = g_net.v0[1], *gb = g_net.g0[1], *vc = g_net.v0[2];
    double s = 0, s2 = 0;
    for (int k = 0; k < NA; ++k) {
        assert_true(va[k] >= -70.0f && va[k] <= -50.0f);
        s += va[k];
    }
    expect_near(s / NA, -60, 5 * 20 / sqrt(12.0 * NA), "uniform initial v mean");
    s = 0;
    for (int k = 0; k < NB; ++k) s += vb[k];
    double m = s / NB;
    for (int k = 0; k < NB; ++k) s2 += (vb[k] - m) * (vb[k] - m);
    expect_near(m, -65, 5 * 3 / sqrt(NB), "normal initial v mean");
    expect_var(s2 / (NB - 1), 9.0, NB, "normal initial v");
    s = 0;
    for (int k = 0; k < NB; ++k) {
        assert_true(gb[k] >= 0.0f && gb[k] <= 2.0f);    /* receptor 0: exc */
        assert_true(gb[NB + k] == 0.0f);               /* receptor 1: inh */
        s += gb[k];
    }
    expect_near(s / NB, 1.0, 5 * 2 / sqrt(12.0 * NB), "uniform initial g_exc mean");
    for (int k = 0; k < NA; ++k) assert_true(vc[k] == -70.0f);
    /* v and g_exc of one neuron come from independent draws */
    double c = 0;
    for (int k = 0; k < NB; ++k) c += (vb[k] + 65) * (gb[k] - 1);
    c /= NB * 3 * sqrt(4.0 / 12);
    expect_near(c, 0, 5 / sqrt(NB), "correlation of initial v and g_exc");
}

static void test_same_seed_same_network(void **st) {
    (void)st;
    vl_network again;
    assert_int_equal(build(g_model->spec.seed, &again), 0);
    for (int i = 0; i < P_COUNT; ++i)
        if (!csr_equal(P(i), &again.proj[i])) fail_msg("projection %s differs between two builds with one seed",
                                                       g_model->spec.proj[i].name);
    assert_true(v0_equal(&g_net, &again));
    vl_network_free(&again, g_model->spec.n_pops);
}

static void test_other_seed_other_network(void **st) {
    (void)st;
    vl_network other;
    assert_int_equal(build(g_model->spec.seed + 1, &other), 0);
    const int random_rules[] = {P_PROB, P_INDEG, P_INDEG_NM, P_OUTDEG, P_OUTDEG_NM, P_TOTAL, P_REC_PROB,
                                P_REC_OUTDEG, P_REC_TOTAL, P_W_UNIFORM, P_W_NORMAL, P_W_LOGNORMAL};
    for (size_t i = 0; i < sizeof random_rules / sizeof random_rules[0]; ++i)
        if (csr_equal(P(random_rules[i]), &other.proj[random_rules[i]]))
            fail_msg("projection %s is the same for seeds 1 and 2", g_model->spec.proj[random_rules[i]].name);
    /* deterministic rules do not depend on the seed */
    const int fixed[] = {P_ALL, P_O2O, P_REC_ALL, P_SLICE, P_FILE, P_REC_INDEG_ALL};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; ++i) {
        const vl_csr *a = P(fixed[i]), *b = &other.proj[fixed[i]];
        assert_int_equal(a->n_syn, b->n_syn);
        if (fixed[i] != P_REC_INDEG_ALL) assert_true(csr_equal(a, b));
    }
    vl_network_free(&other, g_model->spec.n_pops);
}

static void test_thread_count_does_not_matter(void **st) {
    (void)st;
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    vl_network one, two, four;
    omp_set_num_threads(1);
    assert_int_equal(build(7, &one), 0);
    omp_set_num_threads(2);
    assert_int_equal(build(7, &two), 0);
    omp_set_num_threads(4);
    assert_int_equal(build(7, &four), 0);
    omp_set_num_threads(saved);
    for (int i = 0; i < P_COUNT; ++i) {
        if (!csr_equal(&one.proj[i], &two.proj[i]) || !csr_equal(&one.proj[i], &four.proj[i]))
            fail_msg("projection %s depends on the thread count", g_model->spec.proj[i].name);
    }
    assert_true(v0_equal(&one, &two) && v0_equal(&one, &four));
    vl_network_free(&one, g_model->spec.n_pops);
    vl_network_free(&two, g_model->spec.n_pops);
    vl_network_free(&four, g_model->spec.n_pops);
#else
    skip();
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_probability),
        cmocka_unit_test(test_fixed_probability_tiny),
        cmocka_unit_test(test_fixed_probability_recurrent),
        cmocka_unit_test(test_fixed_indegree),
        cmocka_unit_test(test_fixed_indegree_no_multapses),
        cmocka_unit_test(test_fixed_outdegree),
        cmocka_unit_test(test_fixed_total_number),
        cmocka_unit_test(test_all_to_all_and_one_to_one),
        cmocka_unit_test(test_slices_and_autapses),
        cmocka_unit_test(test_expected_synapses_match),
        cmocka_unit_test(test_connection_file),
        cmocka_unit_test(test_rows_in_target_order),
        cmocka_unit_test(test_weight_distributions),
        cmocka_unit_test(test_delays),
        cmocka_unit_test(test_initial_values),
        cmocka_unit_test(test_same_seed_same_network),
        cmocka_unit_test(test_other_seed_other_network),
        cmocka_unit_test(test_thread_count_does_not_matter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
