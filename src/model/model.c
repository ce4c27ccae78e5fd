/* Model handle: loading through src/config, whole-model validation, warnings and the
 * `volley check` summary. */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/reader.h"
#include "kernels/neuron.h"

const char *vl_status_name(vl_status s) {
    switch (s) {
#define XX(name, code, msg) case VL_##name: return "VL_" #name;
        VL_STATUS_MAP(XX)
#undef XX
    }
    return "VL_UNKNOWN";
}

const char *vl_strerror(vl_status s) {
    switch (s) {
#define XX(name, code, msg) case VL_##name: return msg;
        VL_STATUS_MAP(XX)
#undef XX
    }
    return "unknown status";
}

uint64_t vl_spec_n_steps(const vl_spec *s) { return (uint64_t)llround(s->duration / s->dt); }

double vl_proj_expected_synapses(const vl_spec *s, const vl_proj_spec *p) {
    double ns = p->src_hi - p->src_lo, nt = p->tgt_hi - p->tgt_lo;
    /* Pairs that are the same neuron, excluded when autapses are off. */
    double self = 0;
    if (p->src == p->tgt && !p->autapses) {
        uint32_t lo = p->src_lo > p->tgt_lo ? p->src_lo : p->tgt_lo;
        uint32_t hi = p->src_hi < p->tgt_hi ? p->src_hi : p->tgt_hi;
        self = hi > lo ? hi - lo : 0;
    }
    (void)s;
    switch (p->rule) {
    case VL_CONN_ALL_TO_ALL: return ns * nt - self;
    case VL_CONN_ONE_TO_ONE: return ns - (p->src == p->tgt && !p->autapses && p->src_lo == p->tgt_lo ? ns : 0);
    case VL_CONN_FIXED_PROB: return p->p * (ns * nt - self);
    case VL_CONN_FIXED_INDEGREE: return (double)p->n * nt;
    case VL_CONN_FIXED_OUTDEGREE: return (double)p->n * ns;
    case VL_CONN_FIXED_TOTAL: return (double)p->n;
    case VL_CONN_FILE: return NAN;
    }
    return NAN;
}

uint32_t vl_proj_max_delay_steps(const vl_spec *s, const vl_proj_spec *p) {
    if (p->delay_from_file) return 0; /* known after reading the file */
    double hi = p->delay.a;
    if (p->delay.kind == VL_DIST_UNIFORM) hi = p->delay.b;
    if (p->delay.kind == VL_DIST_NORMAL || p->delay.kind == VL_DIST_LOGNORMAL)
        hi = isfinite(p->delay.hi) ? p->delay.hi : p->delay.a + 8 * p->delay.b * (p->delay.kind == VL_DIST_LOGNORMAL ? p->delay.a : 1);
    const double steps = nearbyint(hi / s->dt); /* beyond 65000 the build refuses it */
    return steps < 65001 ? (uint32_t)steps : 65001;
}

void vl_spec_mem_plan(const vl_spec *s, int cpu_state, int deterministic, vl_mem_plan *out) {
    memset(out, 0, sizeof *out);
    uint32_t *maxd = vl__calloc(s->n_pops ? s->n_pops : 1, sizeof(uint32_t));
    for (size_t i = 0; i < s->n_proj; ++i) {
        const vl_proj_spec *p = &s->proj[i];
        double e = vl_proj_expected_synapses(s, p), rows = p->src_hi - p->src_lo, cols = p->tgt_hi - p->tgt_lo;
        if (isnan(e)) e = 0;
        int drawn_delay = p->delay_from_file || p->delay.kind != VL_DIST_CONST;
        out->network += e * (4 + 4 + (drawn_delay ? 2 : 0)) + 8 * (rows + 1);
        uint32_t d = vl_proj_max_delay_steps(s, p);
        if (p->stdp.on) {
            out->network += 8 * (cols + 1) + 12 * e;
            /* traces, and with a delay d the spikes of the last d + 1 steps (src/sim/cpu.c) */
            if (cpu_state) out->state += 4 * (rows + cols) + (d ? 4.0 * (d + 1) * (rows + 1) : 0);
        }
        if (maxd && d > maxd[p->tgt]) maxd[p->tgt] = d;
    }
    for (size_t i = 0; i < s->n_pops; ++i) {
        const vl_pop_spec *p = &s->pops[i];
        if (p->type != VL_POP_NEURON) continue;
        double n = p->size, nr = (double)p->n_rec, ring = (maxd ? maxd[i] : 0) + 2.0;
        out->network += n * 4 * (1 + nr); /* initial v and conductances */
        if (cpu_state) out->state += n * (4 + 1 + 4 + 4 + 4 + 4 * nr) + n * nr * ring * (deterministic ? 12 : 4);
    }
    free(maxd);
}

static void validate(vl_model *m) {
    vl_spec *s = &m->spec;
    vl_diag *d = &m->diag;
    int *incoming = vl__calloc(s->n_pops, sizeof(int));
    for (size_t i = 0; i < s->n_proj; ++i) {
        const vl_proj_spec *p = &s->proj[i];
        incoming[p->tgt] = 1;
        if (!p->weight_from_file && p->weight.kind == VL_DIST_CONST && p->weight.a == 0)
            vl__diag_warn(d, p->mark, "projection '%s' has all weights zero: it has no effect", p->name);
    }
    for (size_t i = 0; i < s->n_pops; ++i) {
        const vl_pop_spec *p = &s->pops[i];
        if (p->type != VL_POP_NEURON) continue;
        if (!incoming[i] && p->I_e == 0 && p->sigma == 0 && p->bg_rate == 0)
            vl__diag_warn(d, p->mark, "population '%s' has no incoming projection, no input current (I_e), no "
                          "background and no noise: it will stay at rest", p->name);
        const vl_dist *v = &p->init_v;
        double vmax = v->kind == VL_DIST_CONST ? v->a : v->kind == VL_DIST_UNIFORM ? v->b : -INFINITY;
        if (v->kind == VL_DIST_NORMAL) vmax = v->a;
        if (vmax > p->V_th)
            vl__diag_warn(d, v->mark.file ? v->mark : p->mark,
                          "initial v of '%s' reaches %g mV, at or above V_th = %g mV: those neurons all fire at t = 0",
                          p->name, vmax, p->V_th);
        else if (v->kind == VL_DIST_NORMAL && v->a + 2 * v->b > p->V_th)
            vl__diag_warn(d, v->mark, "initial v of '%s' is normal(%g mV, %g mV): about %s of the neurons start above "
                          "V_th = %g mV and fire at t = 0", p->name, v->a, v->b,
                          v->a + v->b > p->V_th ? "a sixth or more" : "2%", p->V_th);
    }
    free(incoming);
}

vl_status vl_model_load(const char *path, const char *const *overrides, size_t n_overrides, vl_model **out) {
    vl_model *m = vl__calloc(1, sizeof *m);
    *out = m;
    if (!m) return VL_ERR_NOMEM;
    if (vl_spec_read(path, overrides, n_overrides, &m->spec, &m->diag) != 0) {
        if (!m->diag.has_err) vl__diag_error(&m->diag, (vl_mark){path, 0, 0}, "invalid model");
        return VL_ERR_MODEL;
    }
    validate(m);
    m->valid = 1;
    return VL_OK;
}

const char *vl_model_error(const vl_model *m) { return m && m->diag.has_err ? m->diag.err : ""; }
double vl_model_dt(const vl_model *m) { return m->spec.dt; }
size_t vl_model_warning_count(const vl_model *m) { return m ? m->diag.n_warn : 0; }
const char *vl_model_warning(const vl_model *m, size_t i) { return i < m->diag.n_warn ? m->diag.warn[i] : ""; }

void vl_model_destroy(vl_model *m) {
    if (!m) return;
    vl_spec_free(&m->spec);
    vl__diag_free(&m->diag);
    free(m);
}

static const char *rule_name(vl_conn_rule r) {
    static const char *n[] = {"all_to_all", "one_to_one", "fixed_probability", "fixed_indegree", "fixed_outdegree",
                              "fixed_total_number", "file"};
    return n[r];
}

const char *vl_pop_model_name(const vl_pop_spec *p) {
    if (p->type == VL_POP_POISSON) return "poisson";
    if (p->type == VL_POP_SPIKE_TIMES) return "spike_times";
    static const char *n[] = {"lif_cond_exp", "lif_curr_exp", "lif_delta"};
    return n[p->model];
}

void vl_model_summary(const vl_model *m, char *buf, size_t len) {
    const vl_spec *s = &m->spec;
    size_t o = 0;
#define OUT(...) do { int k_ = snprintf(buf + o, o < len ? len - o : 0, __VA_ARGS__); if (k_ > 0) o += (size_t)k_; } while (0)
    OUT("model %s: dt %g ms, duration %g ms (%llu steps), seed %llu\n", s->name, s->dt, s->duration,
        (unsigned long long)vl_spec_n_steps(s), (unsigned long long)s->seed);
    uint64_t neurons = 0;
    double syn_total = 0;
    OUT("populations:\n");
    for (size_t i = 0; i < s->n_pops; ++i) {
        const vl_pop_spec *p = &s->pops[i];
        OUT("  %-16s %10u  %s", p->name, p->size, vl_pop_model_name(p));
        if (p->type == VL_POP_NEURON) {
            OUT("  receptors:");
            for (size_t r = 0; r < p->n_rec; ++r) OUT(" %s", p->rec[r].name);
            neurons += p->size;
        } else if (p->type == VL_POP_POISSON) {
            if (p->n_table) OUT("  rate table of %zu steps", p->n_table);
            else if (p->rates) OUT("  per-neuron rates");
            else OUT("  %g Hz", p->rate);
        } else {
            OUT("  %zu spikes", p->n_spk);
        }
        OUT("\n");
    }
    OUT("projections:\n");
    for (size_t i = 0; i < s->n_proj; ++i) {
        const vl_proj_spec *p = &s->proj[i];
        double e = vl_proj_expected_synapses(s, p);
        int exact = p->rule != VL_CONN_FIXED_PROB;
        char src[96], tgt[96]; /* ranges shown when they are not the whole population */
        if (p->src_lo == 0 && p->src_hi == s->pops[p->src].size) snprintf(src, sizeof src, "%s", s->pops[p->src].name);
        else snprintf(src, sizeof src, "%s[%u:%u]", s->pops[p->src].name, p->src_lo, p->src_hi);
        if (p->tgt_lo == 0 && p->tgt_hi == s->pops[p->tgt].size) snprintf(tgt, sizeof tgt, "%s", s->pops[p->tgt].name);
        else snprintf(tgt, sizeof tgt, "%s[%u:%u]", s->pops[p->tgt].name, p->tgt_lo, p->tgt_hi);
        OUT("  %-24s %s -> %s.%s  %s  ", p->name, src, tgt, s->pops[p->tgt].rec[p->receptor].name, rule_name(p->rule));
        if (isnan(e)) OUT("synapses from file\n");
        else {
            OUT("%s%.0f synapses\n", exact ? "" : "~", e);
            syn_total += e;
        }
    }
    vl_mem_plan mp;
    vl_spec_mem_plan(s, 1, 0, &mp);
    OUT("total: %llu neurons, %s%.0f synapses, memory estimate %.1f MiB (network %.1f, CPU backend state %.1f)",
        (unsigned long long)neurons, "~", syn_total, (mp.network + mp.state) / 1048576.0, mp.network / 1048576.0,
        mp.state / 1048576.0);
    const double avail = vl__mem_available(); /* what run compares it with (sim.c) */
    if (avail >= 0)
        OUT("; %.1f MiB available here%s", avail / 1048576.0,
            mp.network + mp.state > avail ? ": run refuses it on the CPU backend" : "");
    OUT("\n");
    if (m->diag.n_warn == 0) OUT("no warnings\n");
    for (size_t i = 0; i < m->diag.n_warn; ++i) OUT("%s\n", m->diag.warn[i]);
#undef OUT
}
