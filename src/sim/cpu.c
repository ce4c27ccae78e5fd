/* The CPU backend: the reference implementation of the DESIGN.md schedule, OpenMP over the
 * shared kernels/ headers math. Propagation adds every neuron's inputs in one fixed order
 * whatever the thread count (threads split the targets, not the spikes), so a CPU run is
 * bit-for-bit reproducible with any number of threads.
 *
 * This file is compiled twice: as itself (vl_backend_cpu_base) and, on x86-64, through
 * cpu_avx2.c with -mavx2 (vl_backend_cpu_avx2, VL_CPU_ISA avx2), whose vectorised loops are twice
 * as wide. Without contraction or reassociation both give the same bits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/neuron.h"
#include "kernels/philox.h"
#include "sim/sim.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef VL_CPU_ISA
#define VL_CPU_ISA base
#define VL_CPU_DEVICE "CPU"
#endif
#define VL_CPU_JOIN(a, b) a##_##b
#define VL_CPU_NAME(a, b) VL_CPU_JOIN(a, b)

/* Synaptic additions in a step below which propagation stays on one thread (a parallel region
 * costs more than it saves). */
#define VL_CPU_PAR_WORK 4096

typedef struct cpu_pop {
    float *v;
    float *wa;     /* adaptation current */
    int32_t *refr;
    float *g;      /* [receptor][neuron] */
    float *ring;   /* [slot][receptor][neuron] */
    int64_t *ring_q; /* deterministic mode: the same layout in fixed point, turned into ring at read */
    uint8_t *flag;
    uint32_t *spk;
    uint32_t n_spk;
    size_t spk_pos, table_pos;
    float *bg_F;   /* background input: the distribution function of its Poisson count, */
    uint32_t bg_S; /* and its varying length (vl_poisson_cdf) */
} cpu_pop;

typedef struct cpu_state {
    cpu_pop *pops;
    float *acc_G, *acc_GE, *acc_Z, *acc_U; /* per-neuron accumulators, noise draws and background uniforms
                                           (largest population) */
    float **A_pre, **A_post;       /* per plastic projection: traces per source row and target column */
    float **stp_u, **stp_x;        /* per projection with short-term dynamics: state per source row */
    float **stp_f;                 /* and this step's factor per arriving row */
    /* Plastic projections with a delay d: the spikes of the last d + 1 steps (rows), so that their
     * arrival (emission + d) drives both the synaptic effect and the pre-synaptic update. */
    uint32_t **hist, **hist_n;
    uint64_t **stp_last;
} cpu_state;

static void cpu_destroy(vl_sim *s) {
    cpu_state *cs = s->be_state;
    for (size_t i = 0; cs && cs->pops && i < s->s->n_pops; ++i) {
        cpu_pop *p = &cs->pops[i];
        free(p->v); free(p->wa); free(p->refr); free(p->g); free(p->ring); free(p->ring_q); free(p->flag); free(p->spk);
        free(p->bg_F);
    }
    for (size_t q = 0; cs && cs->A_pre && q < s->net.n_proj; ++q) {
        free(cs->A_pre[q]);
        free(cs->A_post[q]);
        free(cs->stp_u[q]);
        free(cs->stp_x[q]);
        free(cs->stp_f[q]);
        free(cs->stp_last[q]);
        if (cs->hist) free(cs->hist[q]), free(cs->hist_n[q]);
    }
    if (cs) {
        free(cs->A_pre);
        free(cs->A_post);
        free(cs->stp_u);
        free(cs->stp_x);
        free(cs->stp_f);
        free(cs->stp_last);
        free(cs->hist);
        free(cs->hist_n);
        free(cs->pops);
        free(cs->acc_G);
        free(cs->acc_GE);
        free(cs->acc_Z);
        free(cs->acc_U);
    }
    free(cs);
    s->be_state = NULL;
}

static vl_status cpu_init(vl_sim *s) {
    cpu_state *cs = vl__calloc(1, sizeof *cs);
    s->be_state = cs;
    if (!cs || !(cs->pops = vl__calloc(s->s->n_pops, sizeof *cs->pops))) return VL_ERR_NOMEM;
    size_t largest = 1;
    for (size_t i = 0; i < s->s->n_pops; ++i)
        if (s->rt[i].size > largest) largest = s->rt[i].size;
    cs->acc_G = vl__calloc(largest, sizeof *cs->acc_G);
    cs->acc_GE = vl__calloc(largest, sizeof *cs->acc_GE);
    cs->acc_Z = vl__calloc(largest, sizeof *cs->acc_Z);
    cs->acc_U = vl__calloc(largest, sizeof *cs->acc_U);
    if (!cs->acc_G || !cs->acc_GE || !cs->acc_Z || !cs->acc_U) return VL_ERR_NOMEM;
    for (size_t i = 0; i < s->s->n_pops; ++i) {
        const vl_pop_rt *rt = &s->rt[i];
        cpu_pop *p = &cs->pops[i];
        size_t n = rt->size;
        p->spk = vl__calloc(n, sizeof *p->spk);
        p->flag = vl__calloc(n, sizeof *p->flag);
        if (!p->spk || !p->flag) return VL_ERR_NOMEM;
        if (rt->type != VL_POP_NEURON) continue;
        size_t nr = (size_t)rt->np.n_rec;
        p->v = vl__calloc(n, sizeof *p->v);
        p->wa = vl__calloc(n, sizeof *p->wa);
        p->refr = vl__calloc(n, sizeof *p->refr);
        p->g = vl__calloc(n * nr, sizeof *p->g);
        p->ring = vl__calloc(n * nr * rt->ring_len, sizeof *p->ring);
        if (s->deterministic) p->ring_q = vl__calloc(n * nr * rt->ring_len, sizeof *p->ring_q);
        if (!p->v || !p->wa || !p->refr || !p->g || !p->ring || (s->deterministic && !p->ring_q)) {
            vl__diag_error(&s->diag, (vl_mark){0}, "out of memory for the state of population '%s'",
                           s->s->pops[i].name);
            return VL_ERR_NOMEM;
        }
        if (rt->np.bg_lambda > 0.0f) {
            if (!(p->bg_F = vl__calloc(VL_POISSON_MAX, sizeof *p->bg_F))) return VL_ERR_NOMEM;
            p->bg_S = vl_poisson_cdf(rt->np.bg_lambda, rt->np.bg_exp, p->bg_F);
        }
        memcpy(p->v, s->net.v0[i], n * sizeof *p->v);
        memcpy(p->g, s->net.g0[i], n * nr * sizeof *p->g);
    }
    cs->A_pre = vl__calloc(s->net.n_proj + 1, sizeof *cs->A_pre);
    cs->A_post = vl__calloc(s->net.n_proj + 1, sizeof *cs->A_post);
    cs->stp_u = vl__calloc(s->net.n_proj + 1, sizeof *cs->stp_u);
    cs->stp_x = vl__calloc(s->net.n_proj + 1, sizeof *cs->stp_x);
    cs->stp_f = vl__calloc(s->net.n_proj + 1, sizeof *cs->stp_f);
    cs->stp_last = vl__calloc(s->net.n_proj + 1, sizeof *cs->stp_last);
    cs->hist = vl__calloc(s->net.n_proj + 1, sizeof *cs->hist);
    cs->hist_n = vl__calloc(s->net.n_proj + 1, sizeof *cs->hist_n);
    if (!cs->A_pre || !cs->A_post || !cs->stp_u || !cs->stp_x || !cs->stp_f || !cs->stp_last || !cs->hist ||
        !cs->hist_n)
        return VL_ERR_NOMEM;
    for (size_t q = 0; q < s->net.n_proj; ++q) {
        const vl_csr *c = &s->net.proj[q];
        if (!s->s->proj[q].stdp.on || c->delay_const == 0) continue;
        size_t slots = (size_t)c->delay_const + 1;
        cs->hist[q] = vl__calloc(slots * c->n_rows + 1, sizeof(uint32_t));
        cs->hist_n[q] = vl__calloc(slots, sizeof(uint32_t));
        if (!cs->hist[q] || !cs->hist_n[q]) return VL_ERR_NOMEM;
    }
    for (size_t q = 0; q < s->net.n_proj; ++q) {
        const vl_stp_params *sp = &s->stp[q];
        if (sp->model == VL_STP_NONE) continue;
        uint32_t rows = s->net.proj[q].n_rows;
        cs->stp_u[q] = vl__calloc(rows + 1, sizeof(float));
        cs->stp_x[q] = vl__calloc(rows + 1, sizeof(float));
        cs->stp_f[q] = vl__calloc(rows + 1, sizeof(float));
        cs->stp_last[q] = vl__calloc(rows + 1, sizeof(uint64_t));
        if (!cs->stp_u[q] || !cs->stp_x[q] || !cs->stp_f[q] || !cs->stp_last[q]) return VL_ERR_NOMEM;
        for (uint32_t i = 0; i < rows; ++i) /* u = U, x = 1 (Tsodyks-Markram); s = 0 (saturating) */
            cs->stp_u[q][i] = sp->U, cs->stp_x[q][i] = sp->model == VL_STP_TSODYKS_MARKRAM ? 1.0f : 0.0f;
    }
    for (size_t q = 0; q < s->net.n_proj; ++q) {
        if (!s->s->proj[q].stdp.on) continue;
        cs->A_pre[q] = vl__calloc(s->net.proj[q].n_rows + 1, sizeof(float));
        cs->A_post[q] = vl__calloc(s->net.proj[q].n_cols + 1, sizeof(float));
        if (!cs->A_pre[q] || !cs->A_post[q]) return VL_ERR_NOMEM;
    }
    snprintf(s->device, sizeof s->device, "%s", VL_CPU_DEVICE);
    return VL_OK;
}

/* An input population's spike flags for step t, a worksharing loop (as neuron_passes): neuron k
 * fires with probability probs[k], or prob when probs is NULL, or its pattern's when pix is set. */
static inline __attribute__((always_inline)) void input_flags(const vl_pop_rt *rt, uint64_t seed, uint32_t stream,
                                                              uint64_t t, int32_t pat, float prob,
                                                              const float *probs, uint8_t *flag) {
    const int64_t n = rt->size;
    if (rt->is_pattern) {
#pragma omp for schedule(static)
        for (int64_t k = 0; k < n; ++k) {
            vl_u32x4 r = vl_rand4(seed, stream, (uint32_t)t, (uint32_t)(t >> 32), (uint32_t)k);
            float pk = vl_pattern_prob(rt->pix, pat, rt->pix_stride, rt->group, (uint32_t)k, rt->on_prob, rt->off_prob);
            flag[k] = (uint8_t)vl_poisson_fires(pk, vl_u01f(r.v[0]));
        }
    } else {
#pragma omp for schedule(static)
        for (int64_t k = 0; k < n; ++k) {
            vl_u32x4 r = vl_rand4(seed, stream, (uint32_t)t, (uint32_t)(t >> 32), (uint32_t)k);
            flag[k] = (uint8_t)vl_poisson_fires(probs ? probs[k] : prob, vl_u01f(r.v[0]));
        }
    }
}

/* Inputs emit this step's spikes (schedule step 1); a parallel region only for large ones. */
static void step_input(vl_sim *s, size_t i, uint64_t t) {
    const vl_pop_rt *rt = &s->rt[i];
    cpu_pop *p = &((cpu_state *)s->be_state)->pops[i];
    p->n_spk = 0;
    if (rt->type == VL_POP_SPIKE_TIMES) {
        while (p->spk_pos < rt->n_spk && rt->spk_step[p->spk_pos] < t) ++p->spk_pos;
        while (p->spk_pos < rt->n_spk && rt->spk_step[p->spk_pos] == t) p->spk[p->n_spk++] = rt->spk_id[p->spk_pos++];
        return;
    }
    const uint32_t stream = VL_STREAM_POISSON | (uint32_t)i, n = rt->size;
    uint8_t *flag = p->flag;
    const uint64_t seed = s->seed;
    int32_t pat = -1;
    float prob = 0.0f;
    if (rt->is_pattern) {
        pat = vl_pop_rt_pattern(rt, t, &p->table_pos);
        if (pat < 0 && rt->off_prob <= 0.0f) return;
    } else {
        prob = vl_pop_rt_prob(rt, t, &p->table_pos);
        if (prob <= 0.0f && !rt->probs) return;
        if (t < rt->start_step || t >= rt->stop_step) return;
    }
    if (n > 4096) {
#pragma omp parallel
        input_flags(rt, seed, stream, t, pat, prob, rt->probs, flag);
    } else {
        input_flags(rt, seed, stream, t, pat, prob, rt->probs, flag);
    }
    for (uint32_t k = 0; k < n; ++k)
        if (flag[k]) p->spk[p->n_spk++] = k;
}

/* One receptor over a population, inside the caller's parallel region. q is a copy, so that the
 * compiler knows no store to the state arrays changes it. The same static schedule gives each
 * thread the same neurons in every pass, so the passes need no barrier between them. */
static inline __attribute__((always_inline)) void receptor_pass(int32_t model, vl_rec_params q, int64_t n,
                                                                const float *v, float *g, float *in, float *G,
                                                                float *GE) {
#pragma omp for simd schedule(static) nowait
    for (int64_t k = 0; k < n; ++k) vl_receptor_step(model, &q, v[k], &g[k], &in[k], &G[k], &GE[k]);
}

/* The membrane part over a population, inside the caller's parallel region. p is a copy with a
 * constant model, as in receptor_pass. */
static inline __attribute__((always_inline)) void membrane_pass(int32_t model, vl_neuron_params p, int64_t n,
                                                                float *v, int32_t *refr, float *wa, const float *G,
                                                                const float *GE, const float *Z, uint8_t *flag) {
    p.model = model;
    if (Z) {
#pragma omp for simd schedule(static) nowait
        for (int64_t k = 0; k < n; ++k)
            flag[k] = (uint8_t)vl_membrane_step(&p, &v[k], &refr[k], &wa[k], G[k], GE[k], Z[k]);
    } else {
#pragma omp for simd schedule(static) nowait
        for (int64_t k = 0; k < n; ++k)
            flag[k] = (uint8_t)vl_membrane_step(&p, &v[k], &refr[k], &wa[k], G[k], GE[k], 0.0f);
    }
}

/* The passes of a neuron update (schedule step 2): the parts of vl_neuron_step as passes over the
 * population (the leak, each receptor, the membrane), each a loop the compiler vectorises. They
 * are worksharing loops: inside a parallel region each thread takes its static share of every
 * pass, and called outside one, the calling thread runs them whole. */
static inline __attribute__((always_inline)) void neuron_passes(vl_sim *s, size_t i, uint64_t t) {
    const vl_pop_rt *rt = &s->rt[i];
    cpu_state *cs = s->be_state;
    cpu_pop *p = &cs->pops[i];
    const vl_neuron_params *np = &rt->np;
    const int64_t n = rt->size;
    const int32_t model = np->model, nr = np->n_rec;
    float *in = p->ring + (size_t)(t % rt->ring_len) * (size_t)nr * (size_t)n;
    float *v = p->v, *g = p->g, *G = cs->acc_G, *GE = cs->acc_GE, *Z = cs->acc_Z, *U = cs->acc_U;
    int32_t *refr = p->refr;
    uint8_t *flag = p->flag;
    const uint32_t stream = VL_STREAM_NOISE | (uint32_t)i;
    const uint64_t seed = s->seed;
    int64_t *in_q = p->ring_q ? p->ring_q + (in - p->ring) : NULL;
    if (in_q) {
#pragma omp for schedule(static)
        for (int64_t k = 0; k < (int64_t)nr * n; ++k) {
            in[k] = vl_from_fixed(in_q[k]);
            in_q[k] = 0;
        }
    }
#pragma omp for simd schedule(static) nowait
    for (int64_t k = 0; k < n; ++k) vl_acc_init(np, &G[k], &GE[k]);
    if (np->noise != 0.0f || np->bg_lambda > 0.0f) { /* a Philox block per neuron, then the Poisson counts from a table: all vectorise */
        if (np->noise != 0.0f) {
#pragma omp for simd schedule(static) nowait
            for (int64_t k = 0; k < n; ++k) {
                vl_u32x4 r = vl_rand4(seed, stream, (uint32_t)t, (uint32_t)(t >> 32), (uint32_t)k);
                Z[k] = vl_normalf(r.v[0], r.v[1]);
                U[k] = vl_u01f(r.v[2]);
            }
        } else { /* Z is not read (membrane_pass gets none) */
#pragma omp for simd schedule(static) nowait
            for (int64_t k = 0; k < n; ++k)
                U[k] = vl_u01f(vl_rand4(seed, stream, (uint32_t)t, (uint32_t)(t >> 32), (uint32_t)k).v[2]);
        }
        if (np->bg_lambda > 0.0f) {
            float *in_bg = in + (size_t)np->bg_rec * (size_t)n;
            const float *F = p->bg_F, w = np->bg_weight;
            const uint32_t S = p->bg_S;
#pragma omp for simd schedule(static) nowait
            for (int64_t k = 0; k < n; ++k) in_bg[k] += (float)vl_poisson_count_cdf(F, S, U[k]) * w;
        }
    }
    for (int32_t r = 0; r < nr; ++r) {
        float *gr = g + (size_t)r * (size_t)n, *ir = in + (size_t)r * (size_t)n;
        switch (model) { /* a constant model lets each pass drop the other models' branches */
        case VL_LIF_COND_EXP: receptor_pass(VL_LIF_COND_EXP, np->rec[r], n, v, gr, ir, G, GE); break;
        case VL_LIF_CURR_EXP: receptor_pass(VL_LIF_CURR_EXP, np->rec[r], n, v, gr, ir, G, GE); break;
        default: receptor_pass(VL_LIF_DELTA, np->rec[r], n, v, gr, ir, G, GE); break;
        }
    }
    const float *z = np->noise != 0.0f ? Z : NULL;
    switch (model) {
    case VL_LIF_COND_EXP: membrane_pass(VL_LIF_COND_EXP, *np, n, v, refr, p->wa, G, GE, z, flag); break;
    case VL_LIF_CURR_EXP: membrane_pass(VL_LIF_CURR_EXP, *np, n, v, refr, p->wa, G, GE, z, flag); break;
    default: membrane_pass(VL_LIF_DELTA, *np, n, v, refr, p->wa, G, GE, z, flag); break;
    }
}

/* Neurons integrate this step (schedule step 2), and the highest v is kept. A small population
 * runs on the calling thread without a parallel region: even one that an if clause keeps to one
 * thread costs a team's allocation and a futex wake-up, which were a tenth of the PFC model's
 * time. */
static void step_neurons(vl_sim *s, size_t i, uint64_t t) {
    cpu_pop *p = &((cpu_state *)s->be_state)->pops[i];
    const int64_t n = s->rt[i].size;
    const float *v = p->v;
    const uint8_t *flag = p->flag;
    float mx = s->max_v[i];
    if (n > 2048) {
#pragma omp parallel
        {
            neuron_passes(s, i, t);
#pragma omp for simd schedule(static) reduction(max : mx)
            for (int64_t k = 0; k < n; ++k) mx = v[k] > mx ? v[k] : mx;
        }
    } else {
        neuron_passes(s, i, t);
#pragma omp simd reduction(max : mx)
        for (int64_t k = 0; k < n; ++k) mx = v[k] > mx ? v[k] : mx;
    }
    s->max_v[i] = mx;
    p->n_spk = 0;
    for (int64_t k = 0; k < n; ++k)
        if (flag[k]) p->spk[p->n_spk++] = (uint32_t)k;
}

/* The rows whose spikes reach projection q's synapses at step t: the source's spikes of this step,
 * or, for a plastic projection with delay d, those emitted d steps ago (which then act with no
 * further delay). Rows are given as population ids; *n receives their number. */
static const uint32_t *arriving(vl_sim *s, size_t q, uint64_t t, uint32_t *n) {
    cpu_state *cs = s->be_state;
    const vl_csr *c = &s->net.proj[q];
    if (!cs->hist[q]) {
        *n = cs->pops[c->src].n_spk;
        return cs->pops[c->src].spk;
    }
    uint64_t d = c->delay_const;
    size_t slot = (size_t)((t + 1) % (d + 1)); /* = (t - d) mod (d + 1): written d steps ago */
    *n = t >= d ? cs->hist_n[q][slot] : 0;
    return cs->hist[q] + slot * c->n_rows;
}

/* Keeps this step's spikes of delayed plastic projections' sources. */
static void push_history(vl_sim *s, uint64_t t) {
    cpu_state *cs = s->be_state;
    for (size_t q = 0; q < s->net.n_proj; ++q) {
        if (!cs->hist[q]) continue;
        const vl_csr *c = &s->net.proj[q];
        const cpu_pop *src = &cs->pops[c->src];
        size_t slot = (size_t)(t % ((uint64_t)c->delay_const + 1));
        uint32_t *dst = cs->hist[q] + slot * c->n_rows, m = 0;
        for (uint32_t k = 0; k < src->n_spk; ++k)
            if (src->spk[k] >= c->src_lo && src->spk[k] - c->src_lo < c->n_rows) dst[m++] = src->spk[k];
        cs->hist_n[q][slot] = m;
    }
}

/* The first synapse in [b, e) of a row (targets ascending, src/network/network.h) whose target
 * is at least x. */
static uint64_t row_lower_bound(const uint32_t *col, uint64_t b, uint64_t e, uint32_t x) {
    while (b < e) {
        const uint64_t m = b + (e - b) / 2;
        if (col[m] < x) b = m + 1;
        else e = m;
    }
    return b;
}

/* Projection q's arriving spikes into the rings of target neurons [lo, hi): in spike-list order,
 * each row in CSR order, from its first synapse onto lo to its last below hi (rows are sorted by
 * target). */
static void propagate_range(vl_sim *s, size_t q, uint64_t t, uint32_t lo, uint32_t hi) {
    cpu_state *cs = s->be_state;
    const vl_csr *c = &s->net.proj[q];
    uint32_t n_spk;
    const uint32_t *spk = arriving(s, q, t, &n_spk);
    if (!n_spk || !c->n_syn || lo >= hi) return;
    const vl_pop_rt *tr = &s->rt[c->tgt];
    const size_t n = tr->size, nr = (size_t)tr->np.n_rec, D = tr->ring_len;
    float *ring = cs->pops[c->tgt].ring + (size_t)c->rec * n;
    int64_t *ring_q = cs->pops[c->tgt].ring_q ? cs->pops[c->tgt].ring_q + (size_t)c->rec * n : NULL;
    /* delayed plastic spikes have already waited their delay */
    const size_t slot_const = (size_t)((t + 1 + (cs->hist[q] ? 0 : c->delay_const)) % D);
    /* Per-synapse delays: slot (t + 1 + d) mod D as base + d less D once it passes D, since d <= D - 2
     * (the ring holds the longest delay and two more slots), without a 64-bit remainder per synapse. */
    const size_t base = (size_t)((t + 1) % D);
#define VL_SLOT(d) (base + (d) >= D ? base + (d) - D : base + (d))
    const float *fac = cs->stp_f[q];
    for (uint32_t k = 0; k < n_spk; ++k) {
        uint32_t id = spk[k];
        if (id < c->src_lo || id - c->src_lo >= c->n_rows) continue;
        uint32_t row = id - c->src_lo;
        uint64_t b = c->row_ptr[row], e = c->row_ptr[row + 1];
        if (lo > 0) b = row_lower_bound(c->col, b, e, lo);
        if (hi < n) e = row_lower_bound(c->col, b, e, hi);
        if (fac) { /* the row's weights scaled by the source's short-term factor */
            float f = fac[row];
            for (uint64_t j = b; j < e; ++j) {
                size_t at = (c->delay ? VL_SLOT(c->delay[j]) : slot_const) * nr * n + c->col[j];
                if (ring_q) ring_q[at] += vl_to_fixed(c->w[j] * f);
                else ring[at] += c->w[j] * f;
            }
        } else if (ring_q) {
            for (uint64_t j = b; j < e; ++j) {
                size_t slot = c->delay ? VL_SLOT(c->delay[j]) : slot_const;
                ring_q[slot * nr * n + c->col[j]] += vl_to_fixed(c->w[j]);
            }
        } else if (!c->delay) {
            float *dst = ring + slot_const * nr * n;
            for (uint64_t j = b; j < e; ++j) dst[c->col[j]] += c->w[j];
        } else {
            for (uint64_t j = b; j < e; ++j) {
                if (j + 24 < e) __builtin_prefetch(&ring[VL_SLOT(c->delay[j + 24]) * nr * n + c->col[j + 24]], 1);
                ring[VL_SLOT(c->delay[j]) * nr * n + c->col[j]] += c->w[j];
            }
        }
    }
#undef VL_SLOT
}

/* Spikes scatter into the targets' rings at slot t + 1 + delay (schedule step 3). Short-term
 * factors first, once per arriving spike. Then, when the step has enough synapses to share,
 * each thread takes an equal range of every target population and, in every arriving row, the
 * synapses onto its range (found by bisection: rows are sorted by target): every neuron receives its inputs in the serial order
 * (projection, spike, synapse), so the sums are the same bits for any thread count. */
static void step_propagate(vl_sim *s, uint64_t t) {
    cpu_state *cs = s->be_state;
    uint64_t work = 0;
    for (size_t q = 0; q < s->net.n_proj; ++q) {
        const vl_csr *c = &s->net.proj[q];
        const vl_stp_params *stp = s->stp[q].model != VL_STP_NONE ? &s->stp[q] : NULL;
        uint32_t n_spk;
        const uint32_t *spk = arriving(s, q, t, &n_spk);
        for (uint32_t k = 0; k < n_spk; ++k) {
            uint32_t id = spk[k];
            if (id < c->src_lo || id - c->src_lo >= c->n_rows) continue;
            uint32_t row = id - c->src_lo;
            work += c->row_ptr[row + 1] - c->row_ptr[row];
            if (stp) cs->stp_f[q][row] = vl_stp_on_spike(stp, &cs->stp_u[q][row], &cs->stp_x[q][row], &cs->stp_last[q][row], t);
        }
    }
    if (!work) return;
    if (work < VL_CPU_PAR_WORK) { /* no parallel region at all (see step_neurons) */
        for (size_t q = 0; q < s->net.n_proj; ++q) propagate_range(s, q, t, 0, (uint32_t)s->rt[s->net.proj[q].tgt].size);
        return;
    }
#pragma omp parallel
    {
        uint32_t me = 0, T = 1;
#ifdef _OPENMP
        me = (uint32_t)omp_get_thread_num();
        T = (uint32_t)omp_get_num_threads();
#endif
        for (size_t q = 0; q < s->net.n_proj; ++q) {
            uint64_t n = s->rt[s->net.proj[q].tgt].size;
            propagate_range(s, q, t, (uint32_t)(n * me / T), (uint32_t)(n * (me + 1) / T));
        }
    }
}

/* Pair-based STDP (schedule step 4, kernels/plasticity.h): traces decay, then pre spikes update
 * their rows against the post traces, then post spikes update their columns against the pre
 * traces, in spike-list order (serial, so the CPU stays bit-reproducible). */
static void step_plasticity(vl_sim *s, uint64_t t) {
    cpu_state *cs = s->be_state;
    for (size_t q = 0; q < s->net.n_proj; ++q) {
        if (!s->s->proj[q].stdp.on) continue;
        const vl_stdp_params *P = &s->stdp[q];
        vl_csr *c = &s->net.proj[q];
        float *A_pre = cs->A_pre[q], *A_post = cs->A_post[q];
        for (uint32_t i = 0; i < c->n_rows; ++i) A_pre[i] *= P->decay_pre;
        for (uint32_t k = 0; k < c->n_cols; ++k) A_post[k] *= P->decay_post;
        const cpu_pop *tgt = &cs->pops[c->tgt];
        uint32_t n_pre;
        const uint32_t *pre = arriving(s, q, t, &n_pre); /* "pre" is the spike's arrival */
        for (uint32_t k = 0; k < n_pre; ++k) {
            uint32_t id = pre[k];
            if (id < c->src_lo || id - c->src_lo >= c->n_rows) continue;
            uint32_t row = id - c->src_lo;
            A_pre[row] = vl_trace_on_spike(A_pre[row], P->dA_pre, P->nearest);
            for (uint64_t j = c->row_ptr[row]; j < c->row_ptr[row + 1]; ++j)
                c->w[j] = vl_stdp_on_pre(P, c->w[j], A_post[c->col[j] - c->tgt_lo]);
        }
        for (uint32_t k = 0; k < tgt->n_spk; ++k) {
            uint32_t id = tgt->spk[k];
            if (id < c->tgt_lo || id - c->tgt_lo >= c->n_cols) continue;
            uint32_t col = id - c->tgt_lo;
            A_post[col] = vl_trace_on_spike(A_post[col], P->dA_post, P->nearest);
            for (uint64_t a = c->col_ptr[col]; a < c->col_ptr[col + 1]; ++a)
                c->w[c->csc_syn[a]] = vl_stdp_on_post(P, c->w[c->csc_syn[a]], A_pre[c->csc_row[a]]);
        }
    }
}

/* Sampled state at the start of the step (Brian2's StateMonitor "start" slot): v, and each
 * receptor's value including the input that arrived for this step. */
static void record_state(vl_sim *s, uint64_t t, vl_chunk *c) {
    cpu_state *cs = s->be_state;
    for (size_t k = 0; k < s->n_state; ++k) {
        const vl_state_rec_spec *sr = &s->s->state[k];
        if (t % sr->every) continue;
        const vl_pop_rt *rt = &s->rt[sr->pop];
        const cpu_pop *p = &cs->pops[sr->pop];
        const vl_pop_spec *ps = &s->s->pops[sr->pop];
        size_t n = rt->size, nr = (size_t)rt->np.n_rec;
        const float *in = p->ring + (size_t)(t % rt->ring_len) * nr * n;
        float *out = c->frames[k] + (size_t)c->n_frames[k] * sr->n_vars * sr->n_ids;
        for (size_t v = 0; v < sr->n_vars; ++v) {
            int rec = -1; /* v, or g_<receptor> / I_<receptor> */
            for (size_t r = 0; strcmp(sr->vars[v], "v") != 0 && r < ps->n_rec; ++r)
                if (!strcmp(sr->vars[v] + 2, ps->rec[r].name)) rec = (int)r;
            for (size_t j = 0; j < sr->n_ids; ++j) {
                uint32_t id = sr->ids[j];
                size_t at = (size_t)rec * n + id;
                float pending = rec < 0 ? 0.0f : p->ring_q ? vl_from_fixed(p->ring_q[in - p->ring + at]) : in[at];
                out[v * sr->n_ids + j] = rec < 0 ? p->v[id] : p->g[at] + pending;
            }
        }
        c->n_frames[k]++;
    }
}

static vl_status cpu_run(vl_sim *s, uint64_t t0, uint32_t n_steps, vl_chunk *c) {
    cpu_state *cs = s->be_state;
    const vl_spec *sp = s->s;
    uint32_t k;
    for (k = 0; k < n_steps; ++k) {
        if (s->opt.interrupt && *s->opt.interrupt) break;
        uint64_t t = t0 + k;
        record_state(s, t, c);
        for (size_t i = 0; i < sp->n_pops; ++i) {
            if (s->rt[i].type == VL_POP_NEURON) step_neurons(s, i, t);
            else step_input(s, i, t);
        }
        push_history(s, t);
        step_propagate(s, t);
        step_plasticity(s, t);
        for (size_t i = 0; i < sp->n_pops; ++i) {
            const cpu_pop *p = &cs->pops[i];
            c->count[i][k] = p->n_spk;
            if (!s->rec_spikes[i]) continue;
            for (uint32_t j = 0; j < p->n_spk; ++j)
                if (vl_spike_buf_push(&c->spk[i], k, p->spk[j])) {
                    vl__diag_error(&s->diag, (vl_mark){0}, "out of memory recording spikes");
                    c->n_steps = k;
                    return VL_ERR_NOMEM;
                }
        }
    }
    c->n_steps = k;
    return VL_OK;
}

const vl_backend_i VL_CPU_NAME(vl_backend_cpu, VL_CPU_ISA) = {"cpu", cpu_init, cpu_run, NULL, cpu_destroy};
