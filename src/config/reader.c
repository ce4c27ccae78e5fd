/* Reads the YAML tree into a vl_spec: names, units, dimensions and shapes. Cross-item checks
 * (V_reset >= V_th, inputs as targets, delays against dt, ...) are here too because they need
 * the positions of the nodes; warnings that need the whole model live in src/model. */
#define _POSIX_C_SOURCE 200809L
#include "config/reader.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/tree.h"
#include "config/units.h"
#include "kernels/neuron.h"
#include "kernels/philox.h"
#include "kernels/stp.h"

typedef struct rd {
    vl_diag *d;
    vl_spec *s;
    const char *dir; /* directory of the model file, for relative data paths */
    int has_duration;
} rd;

#define FAIL(n_, ...) do { vl__diag_error(r->d, (n_)->mark, __VA_ARGS__); return -1; } while (0)

static const char *kind_of(const vnode *n) {
    return n->type == VN_MAP ? "a mapping" : n->type == VN_SEQ ? "a list" : "a plain value";
}

/* A name that becomes part of an HDF5 path or a reference (population, projection, receptor,
 * subgroup, stimulus part) must fit its field of cap bytes and hold none of [ ] . / : or spaces;
 * returns the complaint, or NULL for a good name. */
static const char *bad_name(const char *name, size_t cap) {
    if (!name[0]) return "may not be empty";
    if (strlen(name) >= cap) return "is too long";
    if (strpbrk(name, "[]./ :\t")) return "may not contain [ ] . / : or spaces";
    return NULL;
}

#define CHECK_NAME(mark_, kind_, name_, cap_, example_)                                                           \
    do {                                                                                                          \
        const char *why_ = bad_name((name_), (cap_));                                                             \
        if (why_) {                                                                                               \
            vl__diag_error(r->d, (mark_), "%s name '%s' %s (at most %zu characters, e.g. %s)", (kind_), (name_), \
                           why_, (size_t)(cap_) - 1, (example_));                                                 \
            return -1;                                                                                            \
        }                                                                                                         \
    } while (0)

static int rd_quantity(rd *r, const vnode *n, vl_dim want, double *out, const char *what) {
    if (n->type != VN_SCALAR)
        FAIL(n, "%s: expected %s such as '%s', found %s", what, vl_dim_name(want), vl_dim_example(want), kind_of(n));
    vl_dim dim;
    int rc = vl_quantity_parse(n->str, out, &dim);
    if (rc == -1)
        FAIL(n, "%s: '%s' is not a number; expected %s such as '%s'", what, n->str, vl_dim_name(want),
             vl_dim_example(want));
    if (rc == -3)
        FAIL(n, "%s: '%s' is too large to represent; expected %s such as '%s'", what, n->str, vl_dim_name(want),
             vl_dim_example(want));
    if (rc == -2)
        FAIL(n, "%s: unknown unit in '%s'; expected %s such as '%s' (units: s ms us, V mV, nS uS pS, pF nF, "
             "pA nA, Hz kHz, mM)", what, n->str, vl_dim_name(want), vl_dim_example(want));
    if (dim == VL_DIM_TIME && want == VL_DIM_TIME && fabs(*out) > VL_TIME_MAX_MS)
        FAIL(n, "%s: '%s' is longer than the %g ms (11.6 days) a model may state; e.g. %s", what, n->str,
             VL_TIME_MAX_MS, vl_dim_example(want));
    if (dim != want) {
        if (dim == VL_DIM_NONE)
            FAIL(n, "%s: '%s' has no unit; expected %s such as '%s'", what, n->str, vl_dim_name(want),
                 vl_dim_example(want));
        FAIL(n, "%s: '%s' is %s; expected %s such as '%s'", what, n->str, vl_dim_name(dim), vl_dim_name(want),
             vl_dim_example(want));
    }
    return 0;
}

static int rd_opt_quantity(rd *r, vnode *map, const char *key, vl_dim want, double *out) {
    vnode *n = vn_get(map, key);
    if (!n) return 0;
    return rd_quantity(r, n, want, out, key);
}

static int rd_uint(rd *r, const vnode *n, uint64_t *out, const char *what, uint64_t min) {
    char *end = NULL;
    if (n->type == VN_SCALAR && !n->quoted) {
        errno = 0;
        if (n->str[0] != '-') {
            unsigned long long v = strtoull(n->str, &end, 10);
            if (!errno && end != n->str && *end == 0 && v >= min) { *out = v; return 0; }
        }
    }
    FAIL(n, "%s: expected a whole number >= %llu, e.g. %s: %llu; found '%s'", what, (unsigned long long)min, what,
         (unsigned long long)(min > 0 ? min * 100 : 100), n->type == VN_SCALAR ? n->str : kind_of(n));
}

static int rd_bool(rd *r, const vnode *n, int *out, const char *what) {
    if (n->type == VN_SCALAR) {
        if (!strcmp(n->str, "true") || !strcmp(n->str, "yes") || !strcmp(n->str, "on")) { *out = 1; return 0; }
        if (!strcmp(n->str, "false") || !strcmp(n->str, "no") || !strcmp(n->str, "off")) { *out = 0; return 0; }
    }
    FAIL(n, "%s: expected true or false", what);
}

static int rd_number(rd *r, const vnode *n, double *out, const char *what) {
    return rd_quantity(r, n, VL_DIM_NONE, out, what);
}

/* Distribution forms: a value; {uniform: [a, b]}; {normal: [mean, sd], min:, max:};
 * {lognormal: [median, sigma]}. */
static int rd_dist(rd *r, vnode *n, vl_dim dim, vl_dist *out, const char *what) {
    memset(out, 0, sizeof *out);
    out->mark = n->mark;
    out->lo = -INFINITY;
    out->hi = INFINITY;
    if (n->type == VN_SCALAR) {
        out->kind = VL_DIST_CONST;
        return rd_quantity(r, n, dim, &out->a, what);
    }
    if (n->type != VN_MAP)
        FAIL(n, "%s: expected a value (e.g. %s) or a distribution such as {normal: [%s, %s]}", what,
             vl_dim_example(dim), vl_dim_example(dim), vl_dim_example(dim));
    static const char *forms[] = {"uniform", "normal", "lognormal", "min", "max", NULL};
    vnode *u = vn_get(n, "uniform"), *g = vn_get(n, "normal"), *l = vn_get(n, "lognormal");
    vnode *lo = vn_get(n, "min"), *hi = vn_get(n, "max");
    if (vn_check_keys(n, forms, what, r->d)) return -1;
    vnode *f = u ? u : g ? g : l;
    if (!f || (u && g) || (u && l) || (g && l))
        FAIL(n, "%s: give exactly one of uniform: [low, high], normal: [mean, sd], lognormal: [median, sigma]",
             what);
    if (f->type != VN_SEQ || f->n != 2)
        FAIL(f, "%s: expected a list of two values, e.g. [%s, %s]", what, vl_dim_example(dim), vl_dim_example(dim));
    out->kind = u ? VL_DIST_UNIFORM : g ? VL_DIST_NORMAL : VL_DIST_LOGNORMAL;
    if (rd_quantity(r, f->items[0], dim, &out->a, what)) return -1;
    if (rd_quantity(r, f->items[1], l ? VL_DIM_NONE : dim, &out->b, what)) return -1;
    if (!u && out->b < 0) FAIL(f->items[1], "%s: the spread must not be negative", what);
    if (u && out->b < out->a) FAIL(f, "%s: uniform needs low <= high", what);
    if (lo && rd_quantity(r, lo, dim, &out->lo, "min")) return -1;
    if (hi && rd_quantity(r, hi, dim, &out->hi, "max")) return -1;
    return 0;
}

static char *path_join(const char *dir, const char *file) {
    if (file[0] == '/' || !dir || !*dir) return vl__strdup(file);
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, file);
    return p;
}

/* Finds a data file: relative to the model file first, then to the working directory. */
static char *find_data(rd *r, const vnode *n) {
    char *p = path_join(r->dir, n->str);
    FILE *f = p ? fopen(p, "rb") : NULL;
    if (!f) {
        free(p);
        p = vl__strdup(n->str);
        f = fopen(p, "rb");
    }
    if (!f) {
        vl__diag_error(r->d, n->mark, "file '%s' not found (looked beside the model file and in the working "
                       "directory)", n->str);
        free(p);
        return NULL;
    }
    fclose(f);
    return p;
}

/* ---- populations ---- */

static const vl_dim g_dim_of_model[] = {VL_DIM_CONDUCTANCE, VL_DIM_CURRENT, VL_DIM_VOLTAGE};

static int add_receptor(vl_pop_spec *p, const char *name, double tau, double E, double mg) {
    vl_receptor_spec *rec = vl__realloc(p->rec, (p->n_rec + 1) * sizeof *rec);
    if (!rec) return -1;
    p->rec = rec;
    memset(&rec[p->n_rec], 0, sizeof *rec);
    snprintf(rec[p->n_rec].name, sizeof rec[p->n_rec].name, "%s", name);
    rec[p->n_rec].tau = tau;
    rec[p->n_rec].E = E;
    rec[p->n_rec].mg = mg;
    p->n_rec++;
    return 0;
}

static int read_neuron(rd *r, vnode *m, vl_pop_spec *p) {
    /* Defaults: NEST's iaf_cond_exp / iaf_psc_exp / iaf_psc_delta. */
    int cond = p->model == VL_LIF_COND_EXP;
    p->C = 250.0;
    p->E_L = -70.0;
    p->V_th = -55.0;
    p->V_reset = cond ? -60.0 : -70.0;
    p->t_ref = 2.0;
    p->g_L = cond ? 16.6667 : 25.0;
    double E_exc = 0.0, E_inh = -85.0, tau_exc = cond ? 0.2 : 2.0, tau_inh = 2.0;
    vnode *params = vn_get(m, "params");
    if (params) {
        if (params->type != VN_MAP) FAIL(params, "params: expected a mapping such as {C: 200 pF, g_L: 10 nS}");
        static const char *keys_cond[] = {"C", "g_L", "tau_m", "E_L", "V_th", "V_reset", "t_ref", "I_e", "sigma",
                                          "E_exc", "E_inh", "tau_exc", "tau_inh", "a", "b", "tau_w", NULL};
        static const char *keys_curr[] = {"C", "g_L", "tau_m", "E_L", "V_th", "V_reset", "t_ref", "I_e", "sigma",
                                          "tau_exc", "tau_inh", "a", "b", "tau_w", NULL};
        static const char *keys_delta[] = {"C", "g_L", "tau_m", "E_L", "V_th", "V_reset", "t_ref", "I_e",
                                           "sigma", "a", "b", "tau_w", NULL};
        double tau_m = -1;
        if (rd_opt_quantity(r, params, "C", VL_DIM_CAPACITANCE, &p->C) ||
            rd_opt_quantity(r, params, "g_L", VL_DIM_CONDUCTANCE, &p->g_L) ||
            rd_opt_quantity(r, params, "tau_m", VL_DIM_TIME, &tau_m) ||
            rd_opt_quantity(r, params, "E_L", VL_DIM_VOLTAGE, &p->E_L) ||
            rd_opt_quantity(r, params, "V_th", VL_DIM_VOLTAGE, &p->V_th) ||
            rd_opt_quantity(r, params, "V_reset", VL_DIM_VOLTAGE, &p->V_reset) ||
            rd_opt_quantity(r, params, "t_ref", VL_DIM_TIME, &p->t_ref) ||
            rd_opt_quantity(r, params, "I_e", VL_DIM_CURRENT, &p->I_e) ||
            rd_opt_quantity(r, params, "sigma", VL_DIM_VOLTAGE, &p->sigma) ||
            rd_opt_quantity(r, params, "a", VL_DIM_CONDUCTANCE, &p->a) ||
            rd_opt_quantity(r, params, "b", VL_DIM_CURRENT, &p->b) ||
            rd_opt_quantity(r, params, "tau_w", VL_DIM_TIME, &p->tau_w))
            return -1;
        if ((p->a != 0 || p->b != 0) && p->tau_w <= 0)
            FAIL(vn_get(params, "a") ? vn_get(params, "a") : vn_get(params, "b"),
                 "an adaptation current (a, b) needs its time constant, e.g. tau_w: 100 ms");
        if (cond && (rd_opt_quantity(r, params, "E_exc", VL_DIM_VOLTAGE, &E_exc) ||
                     rd_opt_quantity(r, params, "E_inh", VL_DIM_VOLTAGE, &E_inh)))
            return -1;
        if (p->model != VL_LIF_DELTA && (rd_opt_quantity(r, params, "tau_exc", VL_DIM_TIME, &tau_exc) ||
                                         rd_opt_quantity(r, params, "tau_inh", VL_DIM_TIME, &tau_inh)))
            return -1;
        if (vn_check_keys(params, cond ? keys_cond : p->model == VL_LIF_CURR_EXP ? keys_curr : keys_delta,
                          "neuron params", r->d))
            return -1;
        if (vn_get(params, "tau_m") && vn_get(params, "g_L"))
            FAIL(params, "give either g_L or tau_m (g_L = C / tau_m), not both");
        if (tau_m > 0) p->g_L = p->C / tau_m;
        else if (vn_get(params, "tau_m")) FAIL(vn_get(params, "tau_m"), "tau_m must be positive, e.g. 20 ms");
        if (p->C <= 0) FAIL(vn_get(params, "C") ? vn_get(params, "C") : params, "C must be positive, e.g. 200 pF");
        if (p->g_L <= 0) FAIL(vn_get(params, "g_L") ? vn_get(params, "g_L") : params,
                              "g_L must be positive, e.g. 10 nS");
        if (p->t_ref < 0) FAIL(vn_get(params, "t_ref"), "t_ref must not be negative, e.g. 2 ms");
        if (p->t_ref / r->s->dt > 1e9)
            FAIL(vn_get(params, "t_ref"), "t_ref is more than 10^9 steps of dt = %g ms; e.g. t_ref: 2 ms", r->s->dt);
        if (p->sigma < 0) FAIL(vn_get(params, "sigma"), "sigma must not be negative, e.g. 1 mV");
        if (p->V_reset >= p->V_th) {
            vnode *at = vn_get(params, "V_reset") ? vn_get(params, "V_reset") : params;
            FAIL(at, "V_reset (%g mV) must be below V_th (%g mV), e.g. V_reset: -60 mV with V_th: -50 mV",
                 p->V_reset, p->V_th);
        }
        if (tau_exc <= 0 || tau_inh <= 0) FAIL(params, "receptor time constants must be positive, e.g. 5 ms");
    }
    vnode *recs = vn_get(m, "receptors");
    if (recs) {
        if (recs->type != VN_MAP || recs->n == 0)
            FAIL(recs, "receptors: expected a mapping of names, e.g. {AMPA: {tau: 2 ms, E: 0 mV}, "
                       "NMDA: {tau: 100 ms, E: 0 mV, mg_block: 1 mM}}");
        for (size_t i = 0; i < recs->n; ++i) {
            vnode *q = recs->items[i];
            recs->used[i] = 1;
            double tau = 5.0, E = 0.0, mg = 0.0;
            if (q->type != VN_MAP) FAIL(q, "receptor '%s': expected a mapping such as {tau: 5 ms, E: 0 mV}", recs->keys[i]);
            if (p->model != VL_LIF_DELTA) {
                vnode *t = vn_get(q, "tau");
                if (!t) FAIL(q, "receptor '%s' needs tau, e.g. tau: 5 ms", recs->keys[i]);
                if (rd_quantity(r, t, VL_DIM_TIME, &tau, "tau")) return -1;
                if (tau <= 0) FAIL(t, "tau must be positive, e.g. 5 ms");
            }
            if (cond) {
                vnode *e = vn_get(q, "E");
                if (!e) FAIL(q, "receptor '%s' needs a reversal potential E, e.g. E: 0 mV", recs->keys[i]);
                if (rd_quantity(r, e, VL_DIM_VOLTAGE, &E, "E")) return -1;
                if (rd_opt_quantity(r, q, "mg_block", VL_DIM_CONCENTRATION, &mg)) return -1;
            }
            static const char *kc[] = {"tau", "E", "mg_block", NULL}, *ku[] = {"tau", NULL}, *kd[] = {NULL};
            if (vn_check_keys(q, cond ? kc : p->model == VL_LIF_CURR_EXP ? ku : kd, "receptor", r->d)) return -1;
            CHECK_NAME(recs->key_marks[i], "receptor", recs->keys[i], sizeof p->rec[0].name, "AMPA");
            if (add_receptor(p, recs->keys[i], tau, E, mg)) return -1;
        }
    } else {
        if (add_receptor(p, "exc", tau_exc, E_exc, 0) || add_receptor(p, "inh", tau_inh, E_inh, 0)) return -1;
    }
    p->init_g = vl__calloc(p->n_rec, sizeof *p->init_g);
    p->init_v.kind = VL_DIST_CONST;
    p->init_v.a = p->E_L;
    p->init_v.lo = -INFINITY;
    p->init_v.hi = INFINITY;
    for (size_t k = 0; k < p->n_rec; ++k) p->init_g[k].hi = INFINITY, p->init_g[k].lo = -INFINITY;
    vnode *init = vn_get(m, "init");
    if (init) {
        if (init->type != VN_MAP) FAIL(init, "init: expected a mapping such as {v: {uniform: [-60 mV, -50 mV]}}");
        for (size_t i = 0; i < init->n; ++i) {
            const char *var = init->keys[i];
            init->used[i] = 1;
            if (!strcmp(var, "v")) {
                if (rd_dist(r, init->items[i], VL_DIM_VOLTAGE, &p->init_v, "init.v")) return -1;
                p->has_init_v = 1;
                continue;
            }
            int found = -1;
            const char *prefix = p->model == VL_LIF_CURR_EXP ? "I_" : "g_";
            for (size_t k = 0; k < p->n_rec; ++k) {
                char nm[40];
                snprintf(nm, sizeof nm, "%s%s", prefix, p->rec[k].name);
                if (!strcmp(nm, var)) found = (int)k;
            }
            if (found < 0 || p->model == VL_LIF_DELTA)
                FAIL(init->items[i], "init: unknown variable '%s'; this population has v%s%s<receptor> (e.g. %s%s)",
                     var, p->model == VL_LIF_DELTA ? "" : " and ", p->model == VL_LIF_DELTA ? "" : prefix, prefix,
                     p->rec[0].name);
            if (rd_dist(r, init->items[i], g_dim_of_model[p->model], &p->init_g[found], var)) return -1;
        }
    }
    vnode *bg = vn_get(m, "background");
    if (bg) {
        static const char *kb[] = {"rate", "weight", "receptor", NULL};
        if (bg->type != VN_MAP || vn_check_keys(bg, kb, "background", r->d)) {
            if (!r->d->has_err)
                FAIL(bg, "background: expected {rate: 12800 Hz, weight: 87.8 pA, receptor: exc}");
            return -1;
        }
        vnode *rate = vn_get(bg, "rate"), *w = vn_get(bg, "weight"), *rec = vn_get(bg, "receptor");
        if (!rate || !w) FAIL(bg, "background needs rate and weight, e.g. {rate: 12800 Hz, weight: 87.8 pA, receptor: exc}");
        if (rd_quantity(r, rate, VL_DIM_RATE, &p->bg_rate, "background rate") ||
            rd_quantity(r, w, g_dim_of_model[p->model], &p->bg_weight, "background weight"))
            return -1;
        if (p->bg_rate < 0) FAIL(rate, "background rate must not be negative");
        if (!(fabs(p->bg_weight) <= FLT_MAX)) FAIL(w, "background weight: beyond float's range (%g)", (double)FLT_MAX);
        if (p->bg_rate * r->s->dt * 1e-3 > 80)
            FAIL(rate, "background rate %g Hz gives %g events per step; above 80 per step use a current (I_e and "
                       "sigma) instead", p->bg_rate, p->bg_rate * r->s->dt * 1e-3);
        if (p->model == VL_LIF_COND_EXP && p->bg_weight < 0)
            FAIL(w, "a conductance weight must not be negative: use an inhibitory receptor with a positive weight");
        p->bg_rec = -1;
        const char *want = rec && rec->type == VN_SCALAR ? rec->str : "exc";
        for (size_t q = 0; q < p->n_rec; ++q)
            if (!strcmp(p->rec[q].name, want)) p->bg_rec = (int)q;
        if (p->bg_rec < 0) {
            if (rec) FAIL(rec, "background receptor '%s' is not a receptor of this population", want);
            p->bg_rec = 0;
        }
    }
    vnode *refr = vn_get(m, "refractory");
    if (refr) {
        if (refr->type == VN_SCALAR && !strcmp(refr->str, "clamp")) p->refr_mode = VL_REFR_CLAMP;
        else if (refr->type == VN_SCALAR && !strcmp(refr->str, "integrate")) p->refr_mode = VL_REFR_INTEGRATE;
        else FAIL(refr, "refractory: expected clamp (v held at V_reset, NEST) or integrate (v integrates, "
                        "threshold blocked, Brian2 default)");
    }
    return 0;
}

static int read_table(rd *r, vnode *t, vl_pop_spec *p) {
    vnode *times = vn_get(t, "times"), *rates = vn_get(t, "rates");
    static const char *k[] = {"times", "rates", NULL};
    if (vn_check_keys(t, k, "rate table", r->d)) return -1;
    if (!times || !rates || times->type != VN_SEQ || rates->type != VN_SEQ || times->n != rates->n || !times->n)
        FAIL(t, "a rate table needs two lists of equal length, e.g. {times: [0 ms, 100 ms], rates: [5 Hz, 40 Hz]} "
                "(each rate holds from its time until the next)");
    p->n_table = times->n;
    p->table_t = vl__calloc(times->n, sizeof(double));
    p->table_rate = vl__calloc(times->n, sizeof(double));
    for (size_t i = 0; i < times->n; ++i) {
        if (rd_quantity(r, times->items[i], VL_DIM_TIME, &p->table_t[i], "times") ||
            rd_quantity(r, rates->items[i], VL_DIM_RATE, &p->table_rate[i], "rates"))
            return -1;
        if (i && p->table_t[i] <= p->table_t[i - 1]) FAIL(times->items[i], "times must increase");
        if (p->table_rate[i] < 0) FAIL(rates->items[i], "a rate must not be negative");
    }
    return 0;
}

static int read_spike_file(rd *r, vnode *fn, vl_pop_spec *p) {
    char *path = find_data(r, fn);
    if (!path) return -1;
    FILE *f = fopen(path, "r");
    free(path);
    char line[512];
    int ln = 0;
    size_t cap = 0;
    while (f && fgets(line, sizeof line, f)) {
        ++ln;
        char *s = line;
        while (isspace((unsigned char)*s)) ++s;
        if (!*s || *s == '#' || isalpha((unsigned char)*s)) continue; /* comment or header */
        char *e1, *e2;
        errno = 0;
        unsigned long long id = isdigit((unsigned char)*s) ? strtoull(s, &e1, 10) : (e1 = s, 0);
        const int id_ok = e1 != s && !errno && id <= UINT32_MAX;
        while (*e1 == ',' || isspace((unsigned char)*e1)) ++e1;
        double t = strtod(e1, &e2);
        if (!id_ok || e2 == e1 || !isfinite(t) || fabs(t) > VL_TIME_MAX_MS) {
            vl_mark m = {fn->mark.file, fn->mark.line, fn->mark.col};
            vl__diag_error(r->d, m, "spike file '%s', line %d: expected 'neuron,time_ms' with a neuron index below "
                           "2^32 and a time up to 1e9 ms, e.g. '3,12.5'", fn->str, ln);
            fclose(f);
            return -1;
        }
        if (p->n_spk == cap) {
            cap = cap ? 2 * cap : 256;
            uint32_t *ids = vl__realloc(p->spk_id, cap * sizeof *p->spk_id);
            if (ids) p->spk_id = ids;
            double *ts = vl__realloc(p->spk_t, cap * sizeof *p->spk_t);
            if (ts) p->spk_t = ts;
            if (!ids || !ts) {
                fclose(f);
                FAIL(fn, "spike file '%s': out of memory at line %d", fn->str, ln);
            }
        }
        p->spk_id[p->n_spk] = (uint32_t)id;
        p->spk_t[p->n_spk++] = t;
    }
    if (f) fclose(f);
    return 0;
}

static int read_input(rd *r, vnode *m, vl_pop_spec *p) {
    p->stop = INFINITY;
    if (rd_opt_quantity(r, m, "start", VL_DIM_TIME, &p->start) || rd_opt_quantity(r, m, "stop", VL_DIM_TIME, &p->stop))
        return -1;
    if (p->type == VL_POP_POISSON) {
        vnode *rate = vn_get(m, "rate");
        if (!rate) FAIL(m, "a poisson input needs a rate, e.g. rate: 10 Hz");
        if (rate->type == VN_SCALAR) {
            if (rd_quantity(r, rate, VL_DIM_RATE, &p->rate, "rate")) return -1;
            if (p->rate < 0) FAIL(rate, "rate must not be negative, e.g. 10 Hz");
        } else if (rate->type == VN_SEQ) {
            if (rate->n != p->size)
                FAIL(rate, "a per-neuron rate list needs one rate per neuron (%u), found %zu", p->size, rate->n);
            p->rates = vl__calloc(p->size, sizeof(double));
            for (size_t i = 0; i < rate->n; ++i) {
                if (rd_quantity(r, rate->items[i], VL_DIM_RATE, &p->rates[i], "rate")) return -1;
                if (p->rates[i] < 0) FAIL(rate->items[i], "rate must not be negative");
            }
        } else if (read_table(r, rate, p)) {
            return -1;
        }
        /* One spike per neuron and step at most: a higher rate would silently saturate. */
        double top = p->rate;
        for (size_t i = 0; p->rates && i < p->size; ++i) top = p->rates[i] > top ? p->rates[i] : top;
        for (size_t i = 0; i < p->n_table; ++i) top = p->table_rate[i] > top ? p->table_rate[i] : top;
        if (top * r->s->dt * 1e-3 > 1.0)
            FAIL(rate, "rate %g Hz is above 1/dt = %g Hz: a poisson input emits at most one spike per neuron and step; "
                       "for a summed drive use the target population's background: {rate: %g Hz, weight: ..., "
                       "receptor: ...}", top, 1e3 / r->s->dt, top);
    } else {
        vnode *sp = vn_get(m, "spikes"), *fn = vn_get(m, "file");
        if (!!sp == !!fn)
            FAIL(m, "a spike_times input needs either spikes: [[neuron, time], ...] (e.g. [[0, 10 ms], [3, 12.5 ms]]) "
                    "or file: data/spikes.csv");
        if (fn) {
            if (fn->type != VN_SCALAR) FAIL(fn, "file: expected a path such as data/spikes.csv");
            if (read_spike_file(r, fn, p)) return -1;
        } else {
            if (sp->type != VN_SEQ) FAIL(sp, "spikes: expected a list of [neuron, time] pairs, e.g. [[0, 10 ms]]");
            p->spk_id = vl__calloc(sp->n, sizeof *p->spk_id);
            p->spk_t = vl__calloc(sp->n, sizeof *p->spk_t);
            for (size_t i = 0; i < sp->n; ++i) {
                vnode *it = sp->items[i];
                uint64_t id;
                if (it->type != VN_SEQ || it->n != 2) FAIL(it, "expected a [neuron, time] pair, e.g. [0, 10 ms]");
                if (rd_uint(r, it->items[0], &id, "neuron", 0) ||
                    rd_quantity(r, it->items[1], VL_DIM_TIME, &p->spk_t[i], "spike time"))
                    return -1;
                if (id >= p->size) FAIL(it->items[0], "spike %zu names neuron %llu but the input has %u neurons", i,
                                        (unsigned long long)id, p->size);
                p->spk_id[i] = (uint32_t)id;
            }
            p->n_spk = sp->n;
        }
        for (size_t i = 0; i < p->n_spk; ++i) {
            if (p->spk_id[i] >= p->size) FAIL(fn ? fn : sp, "spike %zu names neuron %u but the input has %u neurons", i,
                                              p->spk_id[i], p->size);
            if (p->spk_t[i] < 0) FAIL(fn ? fn : sp, "spike %zu has a negative time", i);
        }
    }
    return 0;
}

static int read_subgroups(rd *r, vnode *sg, vl_pop_spec *p) {
    if (sg->type != VN_MAP) FAIL(sg, "subgroups: expected a mapping such as {cue_A: \"0:100\"}");
    p->sub = vl__calloc(sg->n, sizeof *p->sub);
    for (size_t i = 0; i < sg->n; ++i) {
        vnode *v = sg->items[i];
        sg->used[i] = 1;
        unsigned long lo, hi;
        char tail;
        if (v->type != VN_SCALAR || sscanf(v->str, "%lu:%lu%c", &lo, &hi, &tail) != 2 || lo >= hi || hi > p->size)
            FAIL(v, "subgroup '%s': expected \"first:end\" inside 0..%u, e.g. \"0:100\"", sg->keys[i], p->size);
        CHECK_NAME(sg->key_marks[i], "subgroup", sg->keys[i], sizeof p->sub[i].name, "cue");
        snprintf(p->sub[i].name, sizeof p->sub[i].name, "%s", sg->keys[i]);
        p->sub[i].lo = (uint32_t)lo;
        p->sub[i].hi = (uint32_t)hi;
    }
    p->n_sub = sg->n;
    return 0;
}

static const char *neuron_models[] = {"lif_cond_exp", "lif_curr_exp", "lif_delta", NULL};
static const char *input_models[] = {"poisson", "spike_times", "pattern", NULL};

static int read_pop(rd *r, const char *name, vl_mark km, vnode *m, vl_pop_spec *p, int is_input) {
    snprintf(p->name, sizeof p->name, "%s", name);
    p->mark = km;
    if (m->type != VN_MAP) FAIL(m, "population '%s': expected a mapping such as {size: 100, model: lif_cond_exp}", name);
    CHECK_NAME(km, "population", name, sizeof p->name, "exc");
    /* Unknown keys first: a misspelt "sise" should be named as such, not reported as a missing size. */
    static const char *kn[] = {"size", "model", "params", "receptors", "init", "refractory", "background",
                               "subgroups", NULL};
    static const char *ki[] = {"size", "model", "rate", "spikes", "file", "start", "stop", "subgroups", "on_rate",
                               "off_rate", "pixels", NULL};
    if (vn_check_keys(m, is_input ? ki : kn, is_input ? "an input" : "a population", r->d)) return -1;
    vnode *size = vn_get(m, "size"), *model = vn_get(m, "model");
    if (!size) FAIL(m, "population '%s' needs a size, e.g. size: 100", name);
    uint64_t n;
    if (size->type == VN_SCALAR && size->str[0] == '-')
        FAIL(size, "size must be a positive whole number, e.g. size: 100; found '%s'", size->str);
    if (rd_uint(r, size, &n, "size", 1)) return -1;
    if (n > 0xFFFFFFFFull) FAIL(size, "size must fit in 32 bits");
    p->size = (uint32_t)n;
    if (!model || model->type != VN_SCALAR)
        FAIL(model ? model : m, "population '%s' needs a model, e.g. model: %s", name, is_input ? "poisson" : "lif_cond_exp");
    const char *const *list = is_input ? input_models : neuron_models;
    int found = -1;
    for (int i = 0; list[i]; ++i)
        if (!strcmp(list[i], model->str)) found = i;
    if (found < 0) {
        const char *const *other = is_input ? neuron_models : input_models;
        for (int i = 0; other[i]; ++i)
            if (!strcmp(other[i], model->str))
                FAIL(model, "'%s' is %s model: put it under %s", model->str, is_input ? "a neuron" : "an input",
                     is_input ? "populations:" : "inputs: (inputs are sources only)");
        const char *near = vl__closest(model->str, list);
        FAIL(model, "unknown model '%s'%s%s%s; expected one of %s", model->str, near ? "; did you mean '" : "",
             near ? near : "", near ? "'" : "", is_input ? "poisson, spike_times, pattern" : "lif_cond_exp, lif_curr_exp, lif_delta");
    }
    if (is_input && found == 2) { /* pattern: {size, on_rate, off_rate, pixels} */
        static const char *kt[] = {"size", "model", "on_rate", "off_rate", "pixels", "subgroups", NULL};
        if (vn_check_keys(m, kt, "a pattern input", r->d)) return -1;
        p->type = VL_POP_POISSON;
        p->is_pattern = 1;
        p->stop = INFINITY;
        vnode *on = vn_get(m, "on_rate"), *off = vn_get(m, "off_rate"), *px = vn_get(m, "pixels");
        if (!on || !px)
            FAIL(m, "a pattern input needs on_rate and pixels, e.g. {size: 250, model: pattern, pixels: 25, "
                    "on_rate: 40 Hz, off_rate: 2 Hz}");
        uint64_t npx;
        if (rd_quantity(r, on, VL_DIM_RATE, &p->on_rate, "on_rate") ||
            (off && rd_quantity(r, off, VL_DIM_RATE, &p->off_rate, "off_rate")) || rd_uint(r, px, &npx, "pixels", 1))
            return -1;
        if (p->size % npx)
            FAIL(px, "size %u is not a multiple of pixels (%llu): each pixel drives size/pixels neurons", p->size,
                 (unsigned long long)npx);
        if (p->on_rate < 0 || p->off_rate < 0) FAIL(on, "rates must not be negative");
        if ((p->on_rate > p->off_rate ? p->on_rate : p->off_rate) * r->s->dt * 1e-3 > 1.0)
            FAIL(on, "a rate above 1/dt = %g Hz: an input emits at most one spike per neuron and step", 1e3 / r->s->dt);
        p->n_pixels = (uint32_t)npx;
        p->group = p->size / (uint32_t)npx;
        vnode *sg = vn_get(m, "subgroups");
        if (sg && read_subgroups(r, sg, p)) return -1;
        return 0;
    }
    if (is_input) {
        p->type = found == 0 ? VL_POP_POISSON : VL_POP_SPIKE_TIMES;
        static const char *kp[] = {"size", "model", "rate", "start", "stop", "subgroups", NULL};
        static const char *ks[] = {"size", "model", "spikes", "file", "start", "stop", "subgroups", NULL};
        if (vn_check_keys(m, p->type == VL_POP_POISSON ? kp : ks,
                          p->type == VL_POP_POISSON ? "a poisson input" : "a spike_times input", r->d))
            return -1;
        if (read_input(r, m, p)) return -1;
        vnode *sg = vn_get(m, "subgroups");
        if (sg && read_subgroups(r, sg, p)) return -1;
        return 0;
    }
    p->type = VL_POP_NEURON;
    p->model = found;
    if (read_neuron(r, m, p)) return -1;
    vnode *sg = vn_get(m, "subgroups");
    if (sg && read_subgroups(r, sg, p)) return -1;
    return vn_check_keys(m, kn, "a population", r->d);
}

static int find_pop(const vl_spec *s, const char *name) {
    for (size_t i = 0; i < s->n_pops; ++i)
        if (!strcmp(s->pops[i].name, name)) return (int)i;
    return -1;
}

/* "pop", "pop[a:b]", "pop[k]", "pop.sub", "pop[sub]" -> population and range. */
static int resolve_ref(rd *r, const vnode *n, int *pop, uint32_t *lo, uint32_t *hi) {
    if (n->type != VN_SCALAR) FAIL(n, "expected a population name such as exc, a slice exc[0:50] or a subgroup exc.cue");
    char name[64], sel[64] = "";
    const char *br = strchr(n->str, '['), *dot = strchr(n->str, '.');
    size_t len = br ? (size_t)(br - n->str) : dot ? (size_t)(dot - n->str) : strlen(n->str);
    if (len >= sizeof name) FAIL(n, "population name too long");
    memcpy(name, n->str, len);
    name[len] = 0;
    if (br) {
        const char *end = strchr(br, ']');
        if (!end || end[1] || (size_t)(end - br - 1) >= sizeof sel) FAIL(n, "bad slice '%s'; expected e.g. exc[0:50]", n->str);
        memcpy(sel, br + 1, (size_t)(end - br - 1));
        sel[end - br - 1] = 0;
    } else if (dot) {
        snprintf(sel, sizeof sel, "%s", dot + 1);
    }
    int i = find_pop(r->s, name);
    if (i < 0) {
        const char *cand[256];
        size_t k = 0;
        for (; k < r->s->n_pops && k < 255; ++k) cand[k] = r->s->pops[k].name;
        cand[k] = NULL;
        const char *near = vl__closest(name, cand);
        FAIL(n, "no population or input named '%s'%s%s%s", name, near ? "; did you mean '" : "", near ? near : "",
             near ? "'?" : "");
    }
    const vl_pop_spec *p = &r->s->pops[i];
    *pop = i;
    *lo = 0;
    *hi = p->size;
    if (!sel[0]) {
        if (br || dot) FAIL(n, "'%s' selects nothing; write %s for the whole population, or a slice such as %s[0:10]",
                            n->str, name, name);
        return 0;
    }
    unsigned long a, b;
    char tail;
    if (sel[0] == '-' || strstr(sel, ":-")) FAIL(n, "'%s': indices count from 0 and may not be negative, e.g. %s[0:10]", n->str, name);
    if (sscanf(sel, "%lu:%lu%c", &a, &b, &tail) == 2) {
        if (a >= b || b > p->size) FAIL(n, "slice [%lu:%lu] is empty or outside '%s' (size %u)", a, b, name, p->size);
        *lo = (uint32_t)a;
        *hi = (uint32_t)b;
        return 0;
    }
    if (sscanf(sel, "%lu%c", &a, &tail) == 1) {
        if (a >= p->size) FAIL(n, "neuron %lu is outside '%s' (size %u)", a, name, p->size);
        *lo = (uint32_t)a;
        *hi = (uint32_t)a + 1;
        return 0;
    }
    for (size_t k = 0; k < p->n_sub; ++k)
        if (!strcmp(p->sub[k].name, sel)) { *lo = p->sub[k].lo; *hi = p->sub[k].hi; return 0; }
    FAIL(n, "'%s' has no subgroup '%s' (define it under subgroups:, or use a slice such as %s[0:10])", name, sel, name);
}

static int read_connect(rd *r, vnode *c, vl_proj_spec *pr, vl_proj_spec *tmpl_out) {
    (void)tmpl_out;
    pr->autapses = 1;
    pr->multapses = 1;
    if (c->type == VN_SCALAR) {
        if (!strcmp(c->str, "all_to_all")) { pr->rule = VL_CONN_ALL_TO_ALL; return 0; }
        if (!strcmp(c->str, "one_to_one")) { pr->rule = VL_CONN_ONE_TO_ONE; return 0; }
        FAIL(c, "unknown connection rule '%s'; expected all_to_all, one_to_one, {fixed_probability: 0.02}, "
                "{fixed_indegree: 100}, {fixed_outdegree: 100}, {fixed_total_number: 1000} or {file: data/conn.csv}",
             c->str);
    }
    if (c->type != VN_MAP) FAIL(c, "connect: expected a rule such as {fixed_probability: 0.02}");
    static const char *keys[] = {"all_to_all", "one_to_one", "fixed_probability", "fixed_indegree", "fixed_outdegree",
                                 "fixed_total_number", "file", "autapses", "multapses", NULL};
    vnode *n;
    int rules = 0;
    if ((n = vn_get(c, "fixed_probability"))) {
        ++rules;
        pr->rule = VL_CONN_FIXED_PROB;
        if (rd_number(r, n, &pr->p, "fixed_probability")) return -1;
        if (!(pr->p >= 0 && pr->p <= 1)) FAIL(n, "fixed_probability must be between 0 and 1, e.g. 0.02");
    }
    const char *cnt[] = {"fixed_indegree", "fixed_outdegree", "fixed_total_number"};
    const vl_conn_rule rule[] = {VL_CONN_FIXED_INDEGREE, VL_CONN_FIXED_OUTDEGREE, VL_CONN_FIXED_TOTAL};
    for (int k = 0; k < 3; ++k)
        if ((n = vn_get(c, cnt[k]))) {
            ++rules;
            pr->rule = rule[k];
            if (rd_uint(r, n, &pr->n, cnt[k], 0)) return -1;
        }
    if ((n = vn_get(c, "file"))) {
        ++rules;
        pr->rule = VL_CONN_FILE;
        if (n->type != VN_SCALAR) FAIL(n, "file: expected a path such as data/conn.csv");
        if (!(pr->file = find_data(r, n))) return -1;
    }
    if ((n = vn_get(c, "all_to_all"))) ++rules, pr->rule = VL_CONN_ALL_TO_ALL;
    if ((n = vn_get(c, "one_to_one"))) ++rules, pr->rule = VL_CONN_ONE_TO_ONE;
    if ((n = vn_get(c, "autapses")) && rd_bool(r, n, &pr->autapses, "autapses")) return -1;
    if ((n = vn_get(c, "multapses")) && rd_bool(r, n, &pr->multapses, "multapses")) return -1;
    if (vn_check_keys(c, keys, "connect", r->d)) return -1;
    if (rules != 1) FAIL(c, "connect: give exactly one rule, e.g. {fixed_probability: 0.02}");
    return 0;
}

/* plasticity: {rule: stdp, tau_pre, tau_post, dA_pre, dA_post, w_min, w_max, pairing, update} */
static int read_stdp(rd *r, vnode *pl, const vl_pop_spec *tp, vl_proj_spec *pr) {
    static const char *keys[] = {"rule", "tau_pre", "tau_post", "dA_pre", "dA_post", "w_min", "w_max", "pairing",
                                 "update", NULL};
    const char *example = "plasticity: {rule: stdp, tau_pre: 20 ms, tau_post: 20 ms, dA_pre: 0.001 nS, "
                          "dA_post: -0.00105 nS, w_min: 0 nS, w_max: 0.1 nS}";
    if (pl->type != VN_MAP) FAIL(pl, "expected a mapping such as %s", example);
    if (vn_check_keys(pl, keys, "plasticity", r->d)) return -1;
    vl_stdp_spec *st = &pr->stdp;
    memset(st, 0, sizeof *st);
    st->mark = pl->mark;
    vnode *rule = vn_get(pl, "rule");
    if (!rule || rule->type != VN_SCALAR || strcmp(rule->str, "stdp") != 0)
        FAIL(rule ? rule : pl, "plasticity needs rule: stdp (the only rule so far), e.g. %s", example);
    const char *req[] = {"tau_pre", "tau_post", "dA_pre", "dA_post", "w_min", "w_max"};
    double *dst[] = {&st->tau_pre, &st->tau_post, &st->dA_pre, &st->dA_post, &st->w_min, &st->w_max};
    vl_dim wd = g_dim_of_model[tp->model];
    for (int k = 0; k < 6; ++k) {
        vnode *n = vn_get(pl, req[k]);
        if (!n) FAIL(pl, "plasticity needs %s, e.g. %s", req[k], example);
        if (rd_quantity(r, n, k < 2 ? VL_DIM_TIME : wd, dst[k], req[k])) return -1;
        if (k < 2 && *dst[k] <= 0) FAIL(n, "%s must be positive, e.g. 20 ms", req[k]);
    }
    if (st->w_max <= st->w_min) FAIL(vn_get(pl, "w_max"), "w_max must be above w_min");
    if (tp->model == VL_LIF_COND_EXP && st->w_min < 0)
        FAIL(vn_get(pl, "w_min"), "w_min must not be negative onto a conductance receptor");
    vnode *n;
    if ((n = vn_get(pl, "pairing"))) {
        if (n->type == VN_SCALAR && !strcmp(n->str, "all")) st->nearest = 0;
        else if (n->type == VN_SCALAR && !strcmp(n->str, "nearest")) st->nearest = 1;
        else FAIL(n, "pairing: expected all (traces add up) or nearest (each spike resets its trace)");
    }
    if ((n = vn_get(pl, "update"))) {
        if (n->type == VN_SCALAR && !strcmp(n->str, "additive")) st->multiplicative = 0;
        else if (n->type == VN_SCALAR && !strcmp(n->str, "multiplicative")) st->multiplicative = 1;
        else FAIL(n, "update: expected additive or multiplicative (weight-dependent)");
    }
    if (pr->delay_from_file || pr->delay.kind != VL_DIST_CONST)
        FAIL(pl, "a plastic projection needs one constant delay (e.g. delay: 1 ms): its spikes reach every synapse "
                 "at the same step, where the pre-synaptic update happens");
    st->on = 1;
    return 0;
}

/* short_term: {model: tsodyks_markram, U: 0.5, tau_rec: 800 ms, tau_fac: 0 ms}
 *           | {model: saturating, alpha: 0.5, tau: 100 ms}   (kernels/stp.h) */
static int read_stp(rd *r, vnode *n, vl_proj_spec *pr) {
    const char *example = "short_term: {model: tsodyks_markram, U: 0.5, tau_rec: 800 ms, tau_fac: 0 ms} or "
                          "{model: saturating, alpha: 0.5, tau: 100 ms}";
    if (n->type != VN_MAP) FAIL(n, "expected %s", example);
    vnode *model = vn_get(n, "model");
    if (!model || model->type != VN_SCALAR) FAIL(n, "short_term needs a model: %s", example);
    if (!strcmp(model->str, "tsodyks_markram")) {
        static const char *k[] = {"model", "U", "tau_rec", "tau_fac", NULL};
        if (vn_check_keys(n, k, "short_term", r->d)) return -1;
        vnode *U = vn_get(n, "U"), *tr = vn_get(n, "tau_rec"), *tf = vn_get(n, "tau_fac");
        if (!U || !tr) FAIL(n, "tsodyks_markram needs U and tau_rec (tau_fac defaults to 0 ms): %s", example);
        if (rd_number(r, U, &pr->stp_U, "U") || rd_quantity(r, tr, VL_DIM_TIME, &pr->stp_tau_rec, "tau_rec") ||
            (tf && rd_quantity(r, tf, VL_DIM_TIME, &pr->stp_tau_fac, "tau_fac")))
            return -1;
        if (!(pr->stp_U > 0 && pr->stp_U <= 1)) FAIL(U, "U must be in (0, 1], e.g. U: 0.5");
        if (pr->stp_tau_rec <= 0) FAIL(tr, "tau_rec must be positive, e.g. 800 ms");
        if (pr->stp_tau_fac < 0) FAIL(tf, "tau_fac must not be negative");
        pr->stp_model = VL_STP_TSODYKS_MARKRAM;
    } else if (!strcmp(model->str, "saturating")) {
        static const char *k[] = {"model", "alpha", "tau", NULL};
        if (vn_check_keys(n, k, "short_term", r->d)) return -1;
        vnode *a = vn_get(n, "alpha"), *t = vn_get(n, "tau");
        if (!a || !t) FAIL(n, "saturating needs alpha and tau: %s", example);
        if (rd_number(r, a, &pr->stp_alpha, "alpha") || rd_quantity(r, t, VL_DIM_TIME, &pr->stp_tau, "tau")) return -1;
        if (!(pr->stp_alpha > 0 && pr->stp_alpha <= 1)) FAIL(a, "alpha must be in (0, 1], e.g. alpha: 0.5");
        if (pr->stp_tau <= 0) FAIL(t, "tau must be positive, e.g. 100 ms");
        pr->stp_model = VL_STP_SATURATING;
    } else {
        FAIL(model, "unknown short_term model '%s'; expected tsodyks_markram or saturating", model->str);
    }
    return 0;
}

/* read_projection's work; *base_file receives the connection file's path that the targets copy,
 * for the caller to free on every path. */
static int read_projection_into(rd *r, vnode *m, size_t index, char **base_file) {
    vl_spec *s = r->s;
    if (m->type != VN_MAP) FAIL(m, "a projection is a mapping such as {from: exc, to: inh, receptor: exc, "
                                   "connect: {fixed_probability: 0.02}, weight: 6 nS}");
    vnode *from = vn_get(m, "from"), *to = vn_get(m, "to"), *rec = vn_get(m, "receptor"), *con = vn_get(m, "connect");
    vnode *w = vn_get(m, "weight"), *dl = vn_get(m, "delay"), *nm = vn_get(m, "name"), *pl = vn_get(m, "plasticity"),
          *stp = vn_get(m, "short_term");
    static const char *keys[] = {"name", "from", "to", "receptor", "connect", "weight", "delay", "plasticity",
                                 "short_term", NULL};
    if (vn_check_keys(m, keys, "a projection", r->d)) return -1;
    if (!from) FAIL(m, "projection %zu needs from: (a population or input)", index);
    if (!to) FAIL(m, "projection %zu needs to: (a population, a slice such as exc[0:50], or a list)", index);
    if (!con) FAIL(m, "projection %zu needs connect:, e.g. connect: {fixed_probability: 0.02}", index);
    vl_proj_spec base;
    memset(&base, 0, sizeof base);
    base.mark = m->mark;
    if (resolve_ref(r, from, &base.src, &base.src_lo, &base.src_hi)) return -1;
    const int connect_rc = read_connect(r, con, &base, NULL);
    *base_file = base.file; /* each target below holds its own copy */
    if (connect_rc) return -1;
    size_t n_to = to->type == VN_SEQ ? to->n : 1;
    if (n_to == 0) FAIL(to, "to: the list is empty");
    for (size_t k = 0; k < n_to; ++k) {
        vnode *t = to->type == VN_SEQ ? to->items[k] : to;
        vl_proj_spec pr = base;
        pr.file = base.file ? vl__strdup(base.file) : NULL;
        if (resolve_ref(r, t, &pr.tgt, &pr.tgt_lo, &pr.tgt_hi)) { free(pr.file); return -1; }
        const vl_pop_spec *tp = &s->pops[pr.tgt];
        if (tp->type != VL_POP_NEURON) {
            free(pr.file);
            FAIL(t, "'%s' is an input and can only be a source; connect it from: %s to a neuron population "
                    "(to drive neurons with Poisson spikes, make a poisson input and project it onto them)",
                 tp->name, tp->name);
        }
        char full[256];
        if (nm && nm->type == VN_SCALAR)
            snprintf(full, sizeof full, n_to > 1 ? "%s_%s" : "%s", nm->str, tp->name);
        else
            snprintf(full, sizeof full, "%s_to_%s", s->pops[pr.src].name, tp->name);
        {
            const char *why = bad_name(full, sizeof pr.name);
            if (why) {
                free(pr.file);
                vl__diag_error(r->d, nm ? nm->mark : m->mark, "projection name '%s' %s (at most %zu characters, "
                               "e.g. name: exc_rec)", full, why, sizeof pr.name - 1);
                return -1;
            }
        }
        snprintf(pr.name, sizeof pr.name, "%s", full);
        pr.receptor = -1;
        if (rec) {
            if (rec->type != VN_SCALAR) { free(pr.file); FAIL(rec, "receptor: expected a receptor name such as exc"); }
            for (size_t q = 0; q < tp->n_rec; ++q)
                if (!strcmp(tp->rec[q].name, rec->str)) pr.receptor = (int)q;
            if (pr.receptor < 0) {
                char list[256] = "";
                for (size_t q = 0; q < tp->n_rec; ++q) {
                    if (q) strncat(list, ", ", sizeof list - strlen(list) - 1);
                    strncat(list, tp->rec[q].name, sizeof list - strlen(list) - 1);
                }
                free(pr.file);
                FAIL(rec, "population '%s' has no receptor '%s'; its receptors are: %s", tp->name, rec->str, list);
            }
        } else if (tp->n_rec == 1) {
            pr.receptor = 0;
        } else {
            free(pr.file);
            FAIL(m, "projection %zu needs receptor: (one of the target's receptors, e.g. receptor: %s)", index,
                 tp->rec[0].name);
        }
        if (pr.rule == VL_CONN_ONE_TO_ONE && pr.src_hi - pr.src_lo != pr.tgt_hi - pr.tgt_lo) {
            free(pr.file);
            FAIL(con, "one_to_one needs source and target of equal size (%u vs %u); use slices such as exc[0:%u]",
                 pr.src_hi - pr.src_lo, pr.tgt_hi - pr.tgt_lo, pr.src_hi - pr.src_lo);
        }
        vl_dim wd = g_dim_of_model[tp->model];
        if (w) {
            if (w->type == VN_SCALAR && !strcmp(w->str, "file")) {
                if (pr.rule != VL_CONN_FILE) { free(pr.file); FAIL(w, "weight: file needs connect: {file: ...}"); }
                pr.weight_from_file = 1;
            } else if (rd_dist(r, w, wd, &pr.weight, "weight")) {
                free(pr.file);
                return -1;
            } else if (!(fabs(pr.weight.a) <= FLT_MAX) || (pr.weight.kind != VL_DIST_CONST && !(fabs(pr.weight.b) <= FLT_MAX))) {
                free(pr.file); /* weights are stored as float */
                FAIL(w, "weight: beyond float's range (%g %s), e.g. weight: %s", (double)FLT_MAX, vl_dim_unit(wd),
                     vl_dim_example(wd));
            }
        } else if (pr.rule == VL_CONN_FILE) {
            pr.weight_from_file = 1;
        } else {
            free(pr.file);
            FAIL(m, "projection %zu needs weight:, e.g. weight: %s", index, vl_dim_example(wd));
        }
        if (!pr.weight_from_file) {
            if (tp->model == VL_LIF_COND_EXP && (pr.weight.a < 0 || (pr.weight.kind == VL_DIST_UNIFORM && pr.weight.a < 0))) {
                free(pr.file);
                FAIL(w, "a conductance weight must not be negative: inhibition comes from the receptor's reversal "
                        "potential; use receptor: inh with a positive weight, e.g. weight: 67 nS");
            }
            if (tp->model == VL_LIF_COND_EXP && pr.weight.kind == VL_DIST_NORMAL && pr.weight.lo < 0) pr.weight.lo = 0;
        }
        pr.delay.kind = VL_DIST_CONST;
        pr.delay.lo = 0;
        pr.delay.hi = INFINITY;
        pr.delay.mark = m->mark;
        /* A connection file's delay column is used when delay: is omitted (no column: 0 ms). */
        if (!dl && pr.rule == VL_CONN_FILE) pr.delay_from_file = 1;
        if (dl) {
            if (dl->type == VN_SCALAR && !strcmp(dl->str, "file")) {
                if (pr.rule != VL_CONN_FILE) { free(pr.file); FAIL(dl, "delay: file needs connect: {file: ...}"); }
                pr.delay_from_file = 1;
            } else {
                if (rd_dist(r, dl, VL_DIM_TIME, &pr.delay, "delay")) { free(pr.file); return -1; }
                if (pr.delay.a < 0) { free(pr.file); FAIL(dl, "delay must not be negative, e.g. delay: 1.5 ms"); }
                if (pr.delay.lo < 0) pr.delay.lo = 0;
                if (pr.delay.kind == VL_DIST_CONST) {
                    double steps = pr.delay.a / s->dt;
                    if (fabs(steps - nearbyint(steps)) > 1e-6 * (1 + steps)) {
                        free(pr.file);
                        FAIL(dl, "delay %g ms is not a whole number of time steps (dt = %g ms); use a multiple of dt, "
                                 "e.g. %g ms", pr.delay.a, s->dt, nearbyint(steps) * s->dt);
                    }
                }
            }
        }
        if (pr.rule == VL_CONN_FIXED_TOTAL && !pr.multapses) {
            free(pr.file);
            FAIL(con, "fixed_total_number without multapses is not supported yet; drop multapses: false");
        }
        { /* distinct partners to choose from: without autapses, a neuron in both ranges is not its own */
            const uint32_t lo = pr.src_lo > pr.tgt_lo ? pr.src_lo : pr.tgt_lo;
            const uint32_t hi = pr.src_hi < pr.tgt_hi ? pr.src_hi : pr.tgt_hi;
            const uint32_t self = !pr.autapses && pr.src == pr.tgt && lo < hi;
            if (pr.rule == VL_CONN_FIXED_TOTAL && self && pr.n > 0 && pr.src_hi - pr.src_lo == 1 &&
                pr.tgt_hi - pr.tgt_lo == 1) {
                free(pr.file);
                FAIL(con, "fixed_total_number %llu: the only pair is a neuron with itself, and autapses are off; "
                          "widen a range or allow them, e.g. autapses: true", (unsigned long long)pr.n);
            }
            const int indeg = pr.rule == VL_CONN_FIXED_INDEGREE;
            if (indeg || pr.rule == VL_CONN_FIXED_OUTDEGREE) {
                const uint32_t range = indeg ? pr.src_hi - pr.src_lo : pr.tgt_hi - pr.tgt_lo, avail = range - self;
                const char *rule = indeg ? "fixed_indegree" : "fixed_outdegree", *who = indeg ? "target" : "source",
                           *whom = indeg ? "sources" : "targets";
                if (pr.n > 0 && avail == 0) {
                    free(pr.file);
                    FAIL(con, "%s %llu: a %s has no %s to choose from but itself, and autapses are off; widen the "
                              "%s range or allow them, e.g. autapses: true", rule, (unsigned long long)pr.n, who,
                         whom, indeg ? "source" : "target");
                }
                if (!pr.multapses && pr.n > avail) {
                    free(pr.file);
                    FAIL(con, "%s %llu: a %s has %u %s to choose from%s while multapses are off; lower it, e.g. %s: %u",
                         rule, (unsigned long long)pr.n, who, avail, whom,
                         self ? " (itself excluded: autapses are off)" : "", rule, avail);
                }
            }
        }
        pr.weights_every = -1;
        if (pl && read_stdp(r, pl, tp, &pr)) { free(pr.file); return -1; }
        if (stp && read_stp(r, stp, &pr)) { free(pr.file); return -1; }
        vl_proj_spec *np = vl__realloc(s->proj, (s->n_proj + 1) * sizeof *np);
        if (!np) { free(pr.file); return -1; }
        s->proj = np;
        s->proj[s->n_proj++] = pr;
    }
    return 0;
}

static int read_projection(rd *r, vnode *m, size_t index) {
    char *base_file = NULL;
    const int rc = read_projection_into(r, m, index, &base_file);
    free(base_file);
    return rc;
}

static int parse_ids(rd *r, vnode *n, uint32_t size, uint32_t **ids, size_t *count) {
    unsigned long lo = 0, hi = size;
    char tail;
    if (n->type == VN_SCALAR) {
        if (!strcmp(n->str, "all")) {
        } else if (sscanf(n->str, "%lu:%lu%c", &lo, &hi, &tail) != 2 || lo >= hi || hi > size) {
            FAIL(n, "neurons: expected all, \"first:end\" inside 0..%u (e.g. \"0:10\") or a list of ids", size);
        }
        *ids = vl__calloc(hi - lo, sizeof **ids);
        for (unsigned long i = lo; i < hi; ++i) (*ids)[i - lo] = (uint32_t)i;
        *count = hi - lo;
        return 0;
    }
    if (n->type != VN_SEQ || !n->n) FAIL(n, "neurons: expected all, \"0:10\" or a list of ids such as [0, 5, 7]");
    *ids = vl__calloc(n->n, sizeof **ids);
    for (size_t i = 0; i < n->n; ++i) {
        uint64_t v;
        if (rd_uint(r, n->items[i], &v, "neuron id", 0)) return -1;
        if (v >= size) FAIL(n->items[i], "neuron %llu is outside the population (size %u)", (unsigned long long)v, size);
        (*ids)[i] = (uint32_t)v;
    }
    *count = n->n;
    return 0;
}

static int read_record(rd *r, vnode *m) {
    vl_spec *s = r->s;
    s->rec_spikes = vl__calloc(s->n_pops, sizeof(int));
    if (!m) {
        for (size_t i = 0; i < s->n_pops; ++i) s->rec_spikes[i] = s->pops[i].type == VL_POP_NEURON;
        return 0;
    }
    if (m->type != VN_MAP) FAIL(m, "record: expected a mapping such as {spikes: [exc, inh]}");
    static const char *keys[] = {"spikes", "state", "rates", "weights", NULL};
    vnode *sp = vn_get(m, "spikes"), *st = vn_get(m, "state"), *rt = vn_get(m, "rates"), *wt = vn_get(m, "weights");
    if (vn_check_keys(m, keys, "record", r->d)) return -1;
    if (sp) {
        if (sp->type == VN_SCALAR && !strcmp(sp->str, "all")) {
            for (size_t i = 0; i < s->n_pops; ++i) s->rec_spikes[i] = 1;
        } else if (sp->type == VN_SEQ) {
            for (size_t i = 0; i < sp->n; ++i) {
                int pop;
                uint32_t lo, hi;
                if (resolve_ref(r, sp->items[i], &pop, &lo, &hi)) return -1;
                s->rec_spikes[pop] = 1;
            }
        } else if (!(sp->type == VN_SCALAR && !strcmp(sp->str, "none"))) {
            FAIL(sp, "spikes: expected all, none or a list of population names such as [exc, inh]");
        }
    }
    if (st) {
        if (st->type != VN_SEQ)
            FAIL(st, "state: expected a list such as [{population: exc, variables: [v], neurons: \"0:10\", every: 1 ms}]");
        s->state = vl__calloc(st->n, sizeof *s->state);
        for (size_t i = 0; i < st->n; ++i) {
            vnode *e = st->items[i];
            vl_state_rec_spec *sr = &s->state[s->n_state++];
            if (e->type != VN_MAP) FAIL(e, "expected {population: exc, variables: [v], neurons: \"0:10\"}");
            vnode *pn = vn_get(e, "population"), *vars = vn_get(e, "variables"), *ids = vn_get(e, "neurons"),
                  *every = vn_get(e, "every");
            static const char *k2[] = {"population", "variables", "neurons", "every", NULL};
            if (vn_check_keys(e, k2, "a state recording", r->d)) return -1;
            if (!pn || !vars) FAIL(e, "a state recording needs population: and variables:, e.g. {population: exc, "
                                      "variables: [v]}");
            uint32_t lo, hi;
            if (resolve_ref(r, pn, &sr->pop, &lo, &hi)) return -1;
            for (size_t q = 0; q + 1 < s->n_state; ++q)
                if (s->state[q].pop == sr->pop)
                    FAIL(pn, "'%s' already has a state recording (entry %zu): list all its variables and neurons in "
                             "one entry, e.g. {population: %s, variables: [v, g_exc], neurons: \"0:10\"}",
                         s->pops[sr->pop].name, q, s->pops[sr->pop].name);
            const vl_pop_spec *p = &s->pops[sr->pop];
            if (p->type != VL_POP_NEURON) FAIL(pn, "'%s' is an input: it has no state to record", p->name);
            if (vars->type == VN_SCALAR) {
                sr->vars = vl__calloc(1, sizeof *sr->vars);
                snprintf(sr->vars[0], 32, "%s", vars->str);
                sr->n_vars = 1;
            } else if (vars->type == VN_SEQ && vars->n) {
                sr->vars = vl__calloc(vars->n, sizeof *sr->vars);
                for (size_t k = 0; k < vars->n; ++k) {
                    if (vars->items[k]->type != VN_SCALAR) FAIL(vars->items[k], "expected a variable name such as v");
                    snprintf(sr->vars[k], 32, "%s", vars->items[k]->str);
                }
                sr->n_vars = vars->n;
            } else {
                FAIL(vars, "variables: expected a list such as [v, g_exc]");
            }
            for (size_t k = 0; k < sr->n_vars; ++k) {
                for (size_t j = 0; j < k; ++j)
                    if (!strcmp(sr->vars[j], sr->vars[k]))
                        FAIL(vars, "'%s' is listed twice in variables; list each once, e.g. variables: [v, g_exc]",
                             sr->vars[k]);
                int ok = !strcmp(sr->vars[k], "v");
                const char *prefix = p->model == VL_LIF_CURR_EXP ? "I_" : "g_";
                for (size_t q = 0; q < p->n_rec && p->model != VL_LIF_DELTA; ++q) {
                    char nm[40];
                    snprintf(nm, sizeof nm, "%s%s", prefix, p->rec[q].name);
                    ok |= !strcmp(nm, sr->vars[k]);
                }
                if (!ok && p->model == VL_LIF_DELTA)
                    FAIL(vars, "'%s' has no variable '%s'; a lif_delta population has only v, e.g. variables: [v]",
                         p->name, sr->vars[k]);
                if (!ok) FAIL(vars, "'%s' has no variable '%s'; it has v and %s<receptor> (e.g. %s%s)", p->name,
                              sr->vars[k], prefix, prefix, p->rec[0].name);
            }
            if (ids) {
                if (parse_ids(r, ids, p->size, &sr->ids, &sr->n_ids)) return -1;
            } else {
                uint32_t n = p->size < 10 ? p->size : 10;
                sr->ids = vl__calloc(n, sizeof *sr->ids);
                for (uint32_t k = 0; k < n; ++k) sr->ids[k] = k;
                sr->n_ids = n;
            }
            sr->every = 1;
            if (every) {
                double ev;
                if (rd_quantity(r, every, VL_DIM_TIME, &ev, "every")) return -1;
                double steps = nearbyint(ev / s->dt);
                if (steps < 1 || fabs(ev / s->dt - steps) > 1e-6 * steps)
                    FAIL(every, "every must be a positive multiple of dt (%g ms), e.g. every: %g ms", s->dt, s->dt * 10);
                if (steps > UINT32_MAX)
                    FAIL(every, "every is %.0f steps, more than 2^32 - 1; e.g. every: %g ms", steps, s->dt * 10);
                sr->every = (uint32_t)steps;
            }
        }
    }
    if (wt) { /* weights: [name, {projection: name, every: 10 s}, ...] */
        if (wt->type != VN_SEQ)
            FAIL(wt, "weights: expected a list of projection names or {projection: NAME, every: 10 s} entries");
        for (size_t i = 0; i < wt->n; ++i) {
            vnode *e = wt->items[i], *pn = e, *every = NULL;
            if (e->type == VN_MAP) {
                static const char *kw[] = {"projection", "every", NULL};
                pn = vn_get(e, "projection");
                every = vn_get(e, "every");
                if (vn_check_keys(e, kw, "a weights recording", r->d)) return -1;
                if (!pn) FAIL(e, "a weights recording needs projection:, e.g. {projection: inputs_to_out, every: 10 s}");
            }
            if (pn->type != VN_SCALAR) FAIL(pn, "expected a projection name (as volley check lists them)");
            int found = -1;
            for (size_t q = 0; q < s->n_proj; ++q)
                if (!strcmp(s->proj[q].name, pn->str)) found = (int)q;
            if (found < 0) {
                const char *cand[256];
                size_t k = 0;
                for (; k < s->n_proj && k < 255; ++k) cand[k] = s->proj[k].name;
                cand[k] = NULL;
                const char *near = vl__closest(pn->str, cand);
                FAIL(pn, "no projection named '%s'%s%s%s (volley check lists the names)", pn->str,
                     near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
            }
            double ev = 0;
            if (every) {
                if (rd_quantity(r, every, VL_DIM_TIME, &ev, "every")) return -1;
                double steps = nearbyint(ev / s->dt);
                if (steps < 1 || fabs(ev / s->dt - steps) > 1e-6 * steps)
                    FAIL(every, "every must be a positive multiple of dt (%g ms), e.g. every: 1 s", s->dt);
            }
            s->proj[found].weights_every = ev;
        }
    }
    if (rt) {
        vnode *bin = rt->type == VN_MAP ? vn_get(rt, "bin") : NULL;
        static const char *k3[] = {"bin", NULL};
        if (!bin) FAIL(rt, "rates: expected {bin: 5 ms}");
        if (vn_check_keys(rt, k3, "rates", r->d)) return -1;
        if (rd_quantity(r, bin, VL_DIM_TIME, &s->rate_bin, "bin")) return -1;
        double steps = nearbyint(s->rate_bin / s->dt);
        if (steps < 1 || fabs(s->rate_bin / s->dt - steps) > 1e-6 * steps || steps > UINT32_MAX)
            FAIL(bin, "bin must be a positive multiple of dt (%g ms), at most 2^32 - 1 steps, e.g. bin: 5 ms", s->dt);
    }
    return 0;
}

/* A 5x5 (or any size) binary image: PGM (P2, or P5 is refused), PBM (P1), or plain text rows of
 * 0/1, '.'/'#' or ' '/'X'. Returns the pixel count or -1. */
static int read_pattern_file(rd *r, const vnode *n, vl_pattern_spec *pt) {
    char *path = find_data(r, n);
    if (!path) return -1;
    FILE *f = fopen(path, "r");
    free(path);
    if (!f) FAIL(n, "cannot read pattern file '%s'", n->str);
    char buf[8192];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    uint8_t px[4096];
    size_t np = 0;
    if (buf[0] == 'P' && (buf[1] == '1' || buf[1] == '2')) {
        /* header: magic, width, height[, maxval], skipping # comments */
        long hdr[4] = {0, 0, 0, 1};
        int need = buf[1] == '1' ? 2 : 3, got = 0;
        char *q = buf + 2;
        while (got < need && *q) {
            if (*q == '#') { while (*q && *q != '\n') ++q; continue; }
            if (isdigit((unsigned char)*q)) hdr[got++] = strtol(q, &q, 10);
            else ++q;
        }
        long w = hdr[0], h = hdr[1], maxv = buf[1] == '1' ? 1 : hdr[2];
        /* each side checked before the product, which could overflow (and write past px) */
        if (w <= 0 || h <= 0 || w > 4096 || h > 4096 || w * h > 4096 || maxv <= 0 || maxv > 65535)
            FAIL(n, "pattern '%s': bad PGM/PBM header (at most 4096 pixels, maxval at most 65535)", n->str);
        while (*q && np < (size_t)(w * h)) {
            if (*q == '#') { while (*q && *q != '\n') ++q; continue; }
            if (isdigit((unsigned char)*q)) {
                long v = buf[1] == '1' ? *q++ - '0' : strtol(q, &q, 10);
                px[np++] = v > maxv / 2.0; /* above half the maximum is on */
            } else {
                ++q;
            }
        }
        if (np != (size_t)(w * h)) FAIL(n, "pattern '%s': %ld x %ld pixels expected, found %zu", n->str, w, h, np);
    } else {
        for (char *q = buf; *q && np < sizeof px; ++q) {
            if (*q == '1' || *q == '#' || *q == 'X') px[np++] = 1;
            else if (*q == '0' || *q == '.') px[np++] = 0;
        }
        if (!np) FAIL(n, "pattern '%s': no pixels (expected PGM or rows of 0/1)", n->str);
    }
    pt->n_pixels = (uint32_t)np;
    pt->on = vl__calloc(np, 1);
    memcpy(pt->on, px, np);
    return 0;
}

static int find_name(char (*names)[32], size_t stride, size_t n, const char *name) {
    for (size_t i = 0; i < n; ++i)
        if (!strcmp((const char *)names + i * stride, name)) return (int)i;
    return -1;
}

/* stimulus: {patterns: {A: data/patterns/A.pgm}, phases: [{cue: 300 ms}, ...],
 *            conditions: {AX: {cue: A, probe: X}}, trials: {count: 100, proportions: {AX: 0.7}} | [AX, ...]} */
static int read_stimulus(rd *r, vnode *st) {
    vl_spec *s = r->s;
    vl_stimulus_spec *S = &s->stim;
    const char *example = "stimulus: {patterns: {A: data/patterns/A.pgm}, phases: [{cue: 300 ms}, {delay: 1 s}], "
                          "conditions: {AX: {cue: A}}, trials: {count: 10, proportions: {AX: 1}}}";
    static const char *keys[] = {"patterns", "phases", "conditions", "trials", NULL};
    if (st->type != VN_MAP || vn_check_keys(st, keys, "stimulus", r->d)) {
        if (!r->d->has_err) FAIL(st, "expected a mapping such as %s", example);
        return -1;
    }
    vnode *pats = vn_get(st, "patterns"), *phases = vn_get(st, "phases"), *conds = vn_get(st, "conditions"),
          *trials = vn_get(st, "trials");
    if (!pats || !phases || !conds || !trials) FAIL(st, "stimulus needs patterns, phases, conditions and trials: %s", example);
    for (size_t i = 0; i < s->n_pops; ++i) S->n_inputs += s->pops[i].is_pattern;
    if (!S->n_inputs) FAIL(st, "stimulus needs at least one input with model: pattern");
    S->inputs = vl__calloc(S->n_inputs, sizeof *S->inputs);
    for (size_t i = 0, k = 0; i < s->n_pops; ++i)
        if (s->pops[i].is_pattern) S->inputs[k++] = (int)i;
    if (pats->type != VN_MAP || !pats->n) FAIL(pats, "patterns: expected {name: file, ...}");
    S->patterns = vl__calloc(pats->n, sizeof *S->patterns);
    for (size_t i = 0; i < pats->n; ++i) {
        pats->used[i] = 1;
        vl_pattern_spec *pt = &S->patterns[S->n_patterns++];
        CHECK_NAME(pats->key_marks[i], "pattern", pats->keys[i], sizeof pt->name, "A");
        snprintf(pt->name, sizeof pt->name, "%s", pats->keys[i]);
        if (pats->items[i]->type != VN_SCALAR) FAIL(pats->items[i], "expected a pattern file such as data/patterns/A.pgm");
        if (read_pattern_file(r, pats->items[i], pt)) return -1;
    }
    if (phases->type != VN_SEQ || !phases->n) FAIL(phases, "phases: expected a list such as [{cue: 300 ms}, {delay: 1 s}]");
    S->phases = vl__calloc(phases->n, sizeof *S->phases);
    for (size_t i = 0; i < phases->n; ++i) {
        vnode *ph = phases->items[i];
        if (ph->type != VN_MAP || ph->n != 1) FAIL(ph, "a phase is {name: duration}, e.g. {cue: 300 ms}");
        ph->used[0] = 1;
        vl_phase_spec *P = &S->phases[S->n_phases++];
        CHECK_NAME(ph->key_marks[0], "phase", ph->keys[0], sizeof P->name, "delay");
        snprintf(P->name, sizeof P->name, "%s", ph->keys[0]);
        if (rd_quantity(r, ph->items[0], VL_DIM_TIME, &P->duration, "phase duration")) return -1;
        if (P->duration <= 0) FAIL(ph->items[0], "a phase must last longer than 0 ms");
    }
    if (conds->type != VN_MAP || !conds->n) FAIL(conds, "conditions: expected {AX: {cue: A, probe: X}, ...}");
    S->conditions = vl__calloc(conds->n, sizeof *S->conditions);
    for (size_t c = 0; c < conds->n; ++c) {
        conds->used[c] = 1;
        vl_condition_spec *C = &S->conditions[S->n_conditions++];
        CHECK_NAME(conds->key_marks[c], "condition", conds->keys[c], sizeof C->name, "AX");
        snprintf(C->name, sizeof C->name, "%s", conds->keys[c]);
        C->pattern = vl__calloc(S->n_phases * S->n_inputs, sizeof *C->pattern);
        for (size_t k = 0; k < S->n_phases * S->n_inputs; ++k) C->pattern[k] = -1;
        vnode *cm = conds->items[c];
        if (cm->type != VN_MAP) FAIL(cm, "condition '%s': expected {phase: pattern, ...}", C->name);
        for (size_t j = 0; j < cm->n; ++j) {
            cm->used[j] = 1;
            int ph = find_name(&S->phases[0].name, sizeof *S->phases, S->n_phases, cm->keys[j]);
            if (ph < 0) {
                vl__diag_error(r->d, cm->key_marks[j], "condition '%s': no phase named '%s'", C->name, cm->keys[j]);
                return -1;
            }
            vnode *v = cm->items[j];
            /* one pattern input: phase: A; several: phase: {input: A, ...} */
            size_t nv = v->type == VN_MAP ? v->n : 1;
            for (size_t q = 0; q < nv; ++q) {
                vnode *pv = v->type == VN_MAP ? v->items[q] : v;
                int in = 0;
                if (v->type == VN_MAP) {
                    v->used[q] = 1;
                    in = -1;
                    for (size_t k = 0; k < S->n_inputs; ++k)
                        if (!strcmp(s->pops[S->inputs[k]].name, v->keys[q])) in = (int)k;
                    if (in < 0) {
                        vl__diag_error(r->d, v->key_marks[q], "'%s' is not a pattern input", v->keys[q]);
                        return -1;
                    }
                } else if (S->n_inputs > 1) {
                    FAIL(v, "with several pattern inputs, name the input: {%s: %s}", s->pops[S->inputs[0]].name,
                         v->type == VN_SCALAR ? v->str : "A");
                }
                if (pv->type != VN_SCALAR) FAIL(pv, "expected a pattern name");
                int pt = find_name(&S->patterns[0].name, sizeof *S->patterns, S->n_patterns, pv->str);
                if (pt < 0) FAIL(pv, "no pattern named '%s' under stimulus.patterns", pv->str);
                const vl_pop_spec *ip = &s->pops[S->inputs[in]];
                if (S->patterns[pt].n_pixels != ip->n_pixels)
                    FAIL(pv, "pattern '%s' has %u pixels but input '%s' has %u", pv->str, S->patterns[pt].n_pixels,
                         ip->name, ip->n_pixels);
                C->pattern[(size_t)ph * S->n_inputs + (size_t)in] = pt;
            }
        }
    }
    if (trials->type == VN_SEQ) {
        S->n_trials = trials->n;
        S->trials = vl__calloc(trials->n, sizeof *S->trials);
        if (!S->trials) FAIL(trials, "out of memory for %zu trials", trials->n);
        for (size_t i = 0; i < trials->n; ++i) {
            vnode *t = trials->items[i];
            int c = t->type == VN_SCALAR ? find_name(&S->conditions[0].name, sizeof *S->conditions, S->n_conditions, t->str) : -1;
            if (c < 0) FAIL(t, "no condition named '%s'", t->type == VN_SCALAR ? t->str : "?");
            S->trials[i] = c;
        }
    } else {
        static const char *kt[] = {"count", "proportions", NULL};
        if (trials->type != VN_MAP || vn_check_keys(trials, kt, "trials", r->d)) {
            if (!r->d->has_err) FAIL(trials, "trials: expected a list of conditions or {count: 100, proportions: {AX: 0.7, ...}}");
            return -1;
        }
        vnode *cnt = vn_get(trials, "count"), *pr = vn_get(trials, "proportions");
        uint64_t n;
        if (!cnt || rd_uint(r, cnt, &n, "count", 1)) {
            if (!r->d->has_err) FAIL(trials, "trials needs count, e.g. {count: 100, proportions: {AX: 0.7, AY: 0.1}}");
            return -1;
        }
        if (n > 10000000) FAIL(cnt, "count: at most 10^7 trials, e.g. count: 100");
        double total = 0;
        if (pr) {
            if (pr->type != VN_MAP) FAIL(pr, "proportions: expected {condition: fraction, ...}");
            for (size_t i = 0; i < pr->n; ++i) {
                pr->used[i] = 1;
                int c = find_name(&S->conditions[0].name, sizeof *S->conditions, S->n_conditions, pr->keys[i]);
                if (c < 0) {
                    vl__diag_error(r->d, pr->key_marks[i], "no condition named '%s'", pr->keys[i]);
                    return -1;
                }
                if (rd_number(r, pr->items[i], &S->conditions[c].weight, "proportion")) return -1;
                if (S->conditions[c].weight < 0) FAIL(pr->items[i], "a proportion must not be negative");
                total += S->conditions[c].weight;
            }
        } else {
            for (size_t c = 0; c < S->n_conditions; ++c) S->conditions[c].weight = 1, total += 1;
        }
        if (!(total > 0)) FAIL(pr, "proportions must not all be zero");
        /* Drawn with the seed: trial k's condition from Philox (seed, trial stream, k). */
        S->n_trials = n;
        S->trials = vl__calloc(n, sizeof *S->trials);
        if (!S->trials) FAIL(cnt, "out of memory for %llu trials", (unsigned long long)n);
        for (uint64_t k = 0; k < n; ++k) {
            vl_u32x4 q = vl_rand4(s->seed, VL_STREAM_TRIALS, (uint32_t)k, 0, 0);
            double u = vl_u01d(q.v[0], q.v[1]) * total, acc = 0;
            int c = (int)S->n_conditions - 1;
            for (size_t i = 0; i < S->n_conditions; ++i) {
                acc += S->conditions[i].weight;
                if (u < acc && S->conditions[i].weight > 0) { c = (int)i; break; }
            }
            S->trials[k] = c;
        }
    }
    /* Phases last whole steps. Without an explicit duration the run lasts as long as its trials. */
    double trial = 0;
    for (size_t i = 0; i < S->n_phases; ++i) {
        S->phases[i].duration = nearbyint(S->phases[i].duration / s->dt) * s->dt;
        trial += S->phases[i].duration;
    }
    if (!r->has_duration) s->duration = trial * (double)S->n_trials;
    return 0;
}

static int read_model(rd *r, vnode *root) {
    vl_spec *s = r->s;
    if (root->type != VN_MAP) FAIL(root, "a model file is a mapping with name:, dt:, duration:, populations:, ...");
    static const char *keys[] = {"name", "description", "dt", "duration", "seed", "deterministic", "populations",
                                 "inputs", "stimulus", "projections", "record", NULL};
    if (vn_check_keys(root, keys, "the model", r->d)) return -1;
    vnode *n;
    s->dt = 0.1;
    s->duration = 1000.0;
    s->seed = 1;
    if ((n = vn_get(root, "name")) && n->type == VN_SCALAR) s->name = vl__strdup(n->str);
    else s->name = vl__strdup("model");
    vn_get(root, "description");
    if ((n = vn_get(root, "dt"))) {
        if (rd_quantity(r, n, VL_DIM_TIME, &s->dt, "dt")) return -1;
        if (!(s->dt >= VL_DT_MIN_MS)) FAIL(n, "dt must be at least 1 ns (1e-6 ms), e.g. dt: 0.1 ms");
    }
    if ((n = vn_get(root, "duration"))) {
        if (rd_quantity(r, n, VL_DIM_TIME, &s->duration, "duration")) return -1;
        if (s->duration < 0) FAIL(n, "duration must not be negative, e.g. duration: 1 s");
    }
    if ((n = vn_get(root, "seed")) && rd_uint(r, n, &s->seed, "seed", 0)) return -1;
    if ((n = vn_get(root, "deterministic")) && rd_bool(r, n, &s->deterministic, "deterministic")) return -1;
    vnode *pops = vn_get(root, "populations"), *ins = vn_get(root, "inputs");
    if (!pops) FAIL(root, "the model needs populations:, e.g. populations: {exc: {size: 100, model: lif_cond_exp}}");
    if (pops->type != VN_MAP) FAIL(pops, "populations: expected a mapping of names to populations");
    if (ins && ins->type != VN_MAP) FAIL(ins, "inputs: expected a mapping of names to inputs");
    size_t total = pops->n + (ins ? ins->n : 0);
    s->pops = vl__calloc(total, sizeof *s->pops);
    for (int pass = 0; pass < 2; ++pass) {
        vnode *m = pass ? ins : pops;
        for (size_t i = 0; m && i < m->n; ++i) {
            m->used[i] = 1;
            if (find_pop(s, m->keys[i]) >= 0) {
                vl__diag_error(r->d, m->key_marks[i], "the name '%s' is used twice (populations and inputs share names)",
                               m->keys[i]);
                return -1;
            }
            vl_pop_spec *p = &s->pops[s->n_pops++];
            if (read_pop(r, m->keys[i], m->key_marks[i], m->items[i], p, pass)) return -1;
        }
    }
    vnode *stim = vn_get(root, "stimulus");
    r->has_duration = vn_get(root, "duration") != NULL;
    if (stim && read_stimulus(r, stim)) return -1;
    vnode *proj = vn_get(root, "projections");
    if (proj) {
        if (proj->type != VN_SEQ) FAIL(proj, "projections: expected a list of projections (each starting with '- ')");
        for (size_t i = 0; i < proj->n; ++i)
            if (read_projection(r, proj->items[i], i)) return -1;
    }
    if (read_record(r, vn_get(root, "record"))) return -1;
    return vn_check_keys(root, keys, "the model", r->d);
}

static char *keep_string(vl_spec *s, const char *str) {
    char **a = vl__realloc(s->strings, (s->n_strings + 1) * sizeof *a);
    if (!a) return NULL;
    s->strings = a;
    return s->strings[s->n_strings++] = vl__strdup(str);
}

int vl_spec_read(const char *path, const char *const *overrides, size_t n_over, vl_spec *s, vl_diag *d) {
    memset(s, 0, sizeof *s);
    s->path = vl__strdup(path);
    const char *origin = keep_string(s, path);
    vnode *root = vn_load_file(path, origin, d);
    if (!root) return -1;
    for (size_t i = 0; i < n_over; ++i) {
        char label[600];
        snprintf(label, sizeof label, "--set %s", overrides[i]);
        if (vn_apply_override(root, overrides[i], keep_string(s, label), d)) { vn_free(root); return -1; }
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    rd r = {d, s, dir, 0};
    int rc = read_model(&r, root);
    s->text = vn_to_yaml(root);
    vn_free(root);
    return rc;
}

void vl_spec_free(vl_spec *s) {
    for (size_t i = 0; i < s->n_pops; ++i) {
        vl_pop_spec *p = &s->pops[i];
        free(p->rec); free(p->init_g); free(p->rates); free(p->table_t); free(p->table_rate);
        free(p->spk_id); free(p->spk_t); free(p->sub);
    }
    for (size_t i = 0; i < s->n_proj; ++i) free(s->proj[i].file);
    for (size_t i = 0; i < s->n_state; ++i) { free(s->state[i].vars); free(s->state[i].ids); }
    vl_stimulus_spec *S = &s->stim;
    for (size_t i = 0; i < S->n_patterns; ++i) free(S->patterns[i].on);
    for (size_t i = 0; i < S->n_conditions; ++i) free(S->conditions[i].pattern);
    free(S->patterns); free(S->phases); free(S->conditions); free(S->inputs); free(S->trials);
    for (size_t i = 0; i < s->n_strings; ++i) free(s->strings[i]);
    free(s->strings); free(s->pops); free(s->proj); free(s->state); free(s->rec_spikes);
    free(s->path); free(s->name); free(s->text);
    memset(s, 0, sizeof *s);
}
