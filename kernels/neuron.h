/* Per-neuron arithmetic of every neuron model, shared by the CPU backend and the CUDA kernels.
 *
 * Models (parameters in ms, mV, nS, pF, pA; see README "Neuron models"):
 *
 * lif_cond_exp  C dv/dt = g_L (E_L - v) + sum_r B_r(v) g_r (E_r - v) + I_e,  dg_r/dt = -g_r / tau_r
 *               Conductances decay exactly; v takes the exponential-Euler step (exact while the
 *               conductances are frozen over the step: Brian2's "exponential_euler"):
 *               G = g_L + sum B g,  v_inf = (g_L E_L + sum B g E + I_e) / G,
 *               v <- v_inf + (v - v_inf) exp(-dt G / C).
 *               B_r(v) = 1 / (1 + [Mg]/3.57 exp(-0.062 v)) for a receptor with an Mg2+ block
 *               (Jahr & Stevens 1990), 1 otherwise; evaluated at the start of the step.
 * lif_curr_exp  C dv/dt = g_L (E_L - v) + sum_r I_r + I_e,  dI_r/dt = -I_r / tau_r
 *               Exact integration (NEST iaf_psc_exp, Brian2 "exact"): propagators
 *               exp(-dt/tau_m) and p21_r = tau_m tau_r / (C (tau_m - tau_r)) (e^{-dt/tau_m} - e^{-dt/tau_r}).
 * lif_delta     C dv/dt = g_L (E_L - v) + I_e; a presynaptic spike adds its weight (mV) to v.
 *
 * All models: an optional adaptation current w (params a, b, tau_w): C dv/dt gains -w, with
 * tau_w dw/dt = a (v - E_L) - w and w += b at each spike; w is frozen over a step for v and decays
 * exactly with v frozen for w.
 *
 * All models: optional noise, v += sigma sqrt(dt / tau_m) z with z ~ N(0, 1), one draw per neuron
 * per step (Euler-Maruyama, as Brian2's xi). A spike is emitted when v > V_th (Brian2's
 * comparison); v is then set to V_reset. Refractoriness: a neuron that spiked at step s is
 * refractory during steps s+1 ... s+n_ref-1, n_ref = round(t_ref/dt) (Brian2's convention); in
 * the default "clamp" mode v stays at V_reset while synaptic state keeps evolving (NEST), in
 * "integrate" mode v is integrated and only the threshold is blocked (Brian2 without
 * "unless refractory"). Inputs arriving through the ring buffer are added at the start of the
 * step, before integration (DESIGN.md schedule). */
#ifndef VL_KERNELS_NEURON_H
#define VL_KERNELS_NEURON_H

#include "common.h"
#include "philox.h"

enum { VL_LIF_COND_EXP = 0, VL_LIF_CURR_EXP = 1, VL_LIF_DELTA = 2 };
enum { VL_REFR_CLAMP = 0, VL_REFR_INTEGRATE = 1 };

typedef struct vl_rec_params {
    float decay; /* exp(-dt / tau_r) */
    float E;     /* reversal potential (conductance receptors), mV */
    float p21;   /* current receptors: propagator from I_r to v, mV per pA */
    float mg;    /* Mg2+ concentration in mM; 0 means no block */
} vl_rec_params;

typedef struct vl_neuron_params {
    int32_t model, n_rec, refr_mode, n_ref;
    float dt, C, g_L, E_L, V_th, V_reset, I_e;
    float noise;   /* sigma * sqrt(dt / tau_m), mV per step */
    float v_decay; /* exp(-dt / tau_m) */
    float V_inf;   /* E_L + I_e / g_L, the resting point with the constant current */
    /* Poisson background (NEST's poisson_generator, one_to_one): each step adds k * bg_weight to
     * receptor bg_rec, k ~ Poisson(bg_lambda = rate * dt); bg_exp = exp(-bg_lambda). */
    float bg_lambda, bg_exp, bg_weight;
    int32_t bg_rec;
    /* Adaptation current w (all models): C dv/dt = ... - w, tau_w dw/dt = a (v - E_L) - w, and
     * w += b at each spike (Brette & Gerstner 2005 without the exponential term). */
    int32_t adapt;
    float a, b, w_decay; /* nS, pA, exp(-dt / tau_w) */
    const vl_rec_params *rec;
} vl_neuron_params;

/* A neuron model as the model file gives it (ms, mV, nS, pF, pA; receptors' tau, E and Mg). */
typedef struct vl_lif_desc {
    int32_t model, refr_mode, n_rec;
    double dt, C, g_L, E_L, V_th, V_reset, t_ref, I_e, sigma;
    const double *tau, *E, *mg; /* n_rec each */
    double bg_rate, bg_weight;  /* Hz and the receptor's unit; bg_rate 0: none */
    int32_t bg_rec;
    double a, b, tau_w;         /* adaptation: nS, pA, ms (tau_w 0: none) */
} vl_lif_desc;

/* Derives the per-step constants (propagators, decays, refractory steps) once, on the host, in
 * double precision; both backends and the tests use this one derivation. rec receives n_rec
 * entries and np->rec points at it. */
static inline void vl_neuron_params_init(vl_neuron_params *np, vl_rec_params *rec, const vl_lif_desc *d) {
    double dt = d->dt, tau_m = d->C / d->g_L;
    for (int32_t r = 0; r < d->n_rec; ++r) {
        double tau = d->tau[r];
        rec[r].decay = (float)exp(-dt / tau);
        rec[r].E = (float)d->E[r];
        rec[r].mg = (float)d->mg[r];
        rec[r].p21 = (float)(fabs(tau_m - tau) < 1e-9 * tau_m
                                 ? dt / d->C * exp(-dt / tau)
                                 : tau_m * tau / (d->C * (tau_m - tau)) * (exp(-dt / tau_m) - exp(-dt / tau)));
    }
    np->model = d->model;
    np->n_rec = d->n_rec;
    np->refr_mode = d->refr_mode;
    np->n_ref = (int32_t)llround(d->t_ref / dt);
    np->dt = (float)dt;
    np->C = (float)d->C;
    np->g_L = (float)d->g_L;
    np->E_L = (float)d->E_L;
    np->V_th = (float)d->V_th;
    np->V_reset = (float)d->V_reset;
    np->I_e = (float)d->I_e;
    np->noise = (float)(d->sigma * sqrt(dt / tau_m));
    np->v_decay = (float)exp(-dt / tau_m);
    np->V_inf = (float)(d->E_L + d->I_e / d->g_L);
    np->bg_lambda = (float)(d->bg_rate * dt * 1e-3);
    np->bg_exp = (float)exp(-d->bg_rate * dt * 1e-3);
    np->bg_weight = (float)d->bg_weight;
    np->bg_rec = d->bg_rec;
    np->adapt = d->tau_w > 0;
    np->a = (float)d->a;
    np->b = (float)d->b;
    np->w_decay = d->tau_w > 0 ? (float)exp(-dt / d->tau_w) : 0.0f;
    np->rec = rec;
}

VL_HD float vl_mg_block(float v, float mg) {
    return 1.0f / (1.0f + mg * (1.0f / 3.57f) * vl_expf(-0.062f * v));
}

/* One step of one neuron, in three parts so that the CPU backend can run each as its own
 * vectorised pass over a population while the CUDA kernels run them back to back per thread; the
 * operations and their order per neuron are the same either way.
 *
 * 1. vl_acc_init: the leak's share of the membrane equation.
 * 2. vl_receptor_step, for r = 0 .. n_rec-1 in order: receptor r adds the input that arrived for
 *    this step (in, then cleared), contributes to the membrane equation and decays.
 * 3. vl_membrane_step: integration, noise, threshold, reset, refractoriness and the adaptation
 *    current; returns 1 on a spike. */
VL_HD void vl_acc_init(const vl_neuron_params *p, float *G, float *GE) {
    *G = p->g_L;                          /* lif_cond_exp: total conductance */
    *GE = p->model == VL_LIF_COND_EXP ? p->g_L * p->E_L + p->I_e : 0.0f; /* or the jump in v */
}

VL_HD void vl_receptor_step(int32_t model, const vl_rec_params *q, float v, float *g, float *in, float *G,
                            float *GE) {
    float x = *in;
    *in = 0.0f;
    if (model == VL_LIF_COND_EXP) {
        float gr = *g + x;
        float ge = q->mg > 0.0f ? gr * vl_mg_block(v, q->mg) : gr;
        *G += ge;
        *GE += ge * q->E;
        *g = gr * q->decay;
    } else if (model == VL_LIF_CURR_EXP) {
        float I = *g + x;
        *GE += I * q->p21;
        *g = I * q->decay;
    } else { /* VL_LIF_DELTA: the input is a jump of v */
        *GE += x;
    }
}

VL_HD int vl_membrane_step(const vl_neuron_params *p, float *v_io, int32_t *refr_io, float *w_io, float G, float GE,
                           float z) {
    const float v0 = *v_io;
    float v = v0;
    int32_t refr = *refr_io;
    const float w = p->adapt ? *w_io : 0.0f; /* adaptation current, frozen over the step like g */
    const int clamped = refr > 0 && p->refr_mode == VL_REFR_CLAMP;
    if (!clamped) {
        if (p->model == VL_LIF_COND_EXP) {
            float v_inf = (GE - w) / G;
            v = v_inf + (v - v_inf) * vl_expf(-p->dt * G / p->C);
        } else if (p->model == VL_LIF_CURR_EXP) { /* relaxation towards V_inf = E_L + I_e/g_L */
            v = p->V_inf + (v - p->V_inf) * p->v_decay - (w / p->g_L) * (1.0f - p->v_decay) + GE;
        } else {
            v = p->V_inf + (v + GE - p->V_inf) * p->v_decay - (w / p->g_L) * (1.0f - p->v_decay);
        }
        v += p->noise * z;
    }
    int spike = 0;
    if (refr > 0) {
        refr -= 1;
        if (clamped) v = p->V_reset;
    } else if (v > p->V_th) {
        spike = 1;
        v = p->V_reset;
        refr = p->n_ref > 0 ? p->n_ref - 1 : 0;
    }
    if (p->adapt) { /* tau_w dw/dt = a (v - E_L) - w, exact with v frozen; w += b at a spike */
        float w_inf = p->a * (v0 - p->E_L);
        *w_io = w_inf + (w - w_inf) * p->w_decay + (spike ? p->b : 0.0f);
    }
    *v_io = v;
    *refr_io = refr;
    return spike;
}

/* The three parts for one neuron. g[r * stride] is receptor r's state for this neuron and
 * in[r * stride] the input that arrived for this step (the ring-buffer slot, laid out
 * [slot][receptor][neuron] so that both use the population size as stride); z is this step's
 * standard normal draw (unused when noise == 0). */
VL_HD int vl_neuron_step_n(const vl_neuron_params *p, int n_rec, float *v, int32_t *refr, float *w, float *g,
                           float *in, size_t stride, float z) {
    float G, GE;
    vl_acc_init(p, &G, &GE);
    for (int r = 0; r < n_rec; ++r)
        vl_receptor_step(p->model, &p->rec[r], *v, g + r * stride, in + r * stride, &G, &GE);
    return vl_membrane_step(p, v, refr, w, G, GE, z);
}

/* n_rec as an argument: a CUDA caller passes a compile-time count, so that the receptor loop
 * unrolls and g and in can be register arrays (kernels/neurons.cuh). */
VL_HD int vl_neuron_step(const vl_neuron_params *p, float *v, int32_t *refr, float *w, float *g, float *in,
                         size_t stride, float z) {
    return vl_neuron_step_n(p, p->n_rec, v, refr, w, g, in, stride, z);
}

/* Events of a Poisson process in one step, by inversion of its distribution from a uniform u
 * (exp_neg_lambda = exp(-lambda); the model reader keeps lambda below 80): the first k with
 * u <= F_k, where F_0 = p_0 = exp_neg_lambda and each further term is vl_poisson_term. In float
 * the sum stops growing a little off 1, often below the largest uniform (1 - 2^-24): when a term
 * no longer changes F, the search ends there, at the count past which the terms no longer count.
 * (It used to go on to its cap of 1000 events, a kick of 1000 weights in about one draw in 10^7
 * at a tenth of all rates, PD14's L6E among them.) */
#define VL_POISSON_MAX 1000

VL_HD void vl_poisson_term(float lambda, int32_t k, float *p, float *F) {
    *p *= lambda / (float)k;
    *F += *p;
}

VL_HD int32_t vl_poisson_count(float lambda, float exp_neg_lambda, float u) {
    float p = exp_neg_lambda, F = p;
    int32_t k = 0;
    while (u > F && k < VL_POISSON_MAX) {
        const float before = F;
        vl_poisson_term(lambda, ++k, &p, &F);
        if (F == before) break;
    }
    return k;
}

/* The same count from a table, without a data-dependent loop (the CPU backend's, per population).
 * vl_poisson_cdf fills F_0 .. F_{S-1} (F holds VL_POISSON_MAX) and returns S, the first k with
 * F_k = F_{k-1} (at most VL_POISSON_MAX). Every term is >= 0 and added with rounding to nearest,
 * so F never decreases, and the search's answer is the number of F_k (k < S) below u. */
VL_HD uint32_t vl_poisson_cdf(float lambda, float exp_neg_lambda, float *F) {
    float p = exp_neg_lambda, f = p;
    F[0] = f;
    for (int32_t k = 1; k < VL_POISSON_MAX; ++k) {
        vl_poisson_term(lambda, k, &p, &f);
        if (f == F[k - 1]) return (uint32_t)k;
        F[k] = f;
    }
    return VL_POISSON_MAX;
}

VL_HD int32_t vl_poisson_count_cdf(const float *F, uint32_t S, float u) {
    int32_t c = 0;
    for (uint32_t k = 0; k < S; ++k) c += F[k] < u;
    return c;
}

/* A neuron's random inputs for one step from one Philox block r (stream VL_STREAM_NOISE, counter
 * (step, neuron)): the background events are added to their receptor's input in[bg_rec * stride],
 * and the noise draw z is returned (0 without noise). Both backends call this, so the draws match. */
VL_HD float vl_bg_events(const vl_neuron_params *p, float u) { /* from the uniform u = vl_u01f(r.v[2]) */
    return (float)vl_poisson_count(p->bg_lambda, p->bg_exp, u) * p->bg_weight;
}

VL_HD float vl_bg_input(const vl_neuron_params *p, vl_u32x4 r) { /* what receptor bg_rec receives (bg_lambda > 0) */
    return vl_bg_events(p, vl_u01f(r.v[2]));
}

VL_HD float vl_noise_draw(const vl_neuron_params *p, vl_u32x4 r) {
    return p->noise != 0.0f ? vl_normalf(r.v[0], r.v[1]) : 0.0f;
}

VL_HD float vl_neuron_draws(const vl_neuron_params *p, vl_u32x4 r, float *in, size_t stride) {
    if (p->bg_lambda > 0.0f) in[(size_t)p->bg_rec * stride] += vl_bg_input(p, r);
    return vl_noise_draw(p, r);
}

/* Deterministic mode accumulates synaptic input in 64-bit fixed point: integer additions give
 * the same sum in any order, so runs repeat bit for bit and both backends agree. Resolution
 * 2^-24 of the receptor's unit (6e-8 nS, pA or mV), range +-5.5e11 units. */
#define VL_FIXED_ONE 16777216.0 /* 2^24 */
VL_HD int64_t vl_to_fixed(float w) { return (int64_t)rint((double)w * VL_FIXED_ONE); }
VL_HD float vl_from_fixed(int64_t q) { return (float)((double)q * (1.0 / VL_FIXED_ONE)); }

/* Pattern input: neuron k belongs to pixel k / group; the shown pattern (row pat of the pixel
 * table pix, rows of stride bytes; -1: none) sets it at on_prob or off_prob (rate * dt). */
VL_HD float vl_pattern_prob(const uint8_t *pix, int32_t pat, uint32_t stride, uint32_t group, uint32_t k,
                            float on_prob, float off_prob) {
    return pat >= 0 && pix[(size_t)pat * stride + k / group] ? on_prob : off_prob;
}

/* Poisson input: does neuron i of a source with spike probability prob (= rate * dt) fire at
 * this step? u is a uniform draw in (0, 1). */
VL_HD int vl_poisson_fires(float prob, float u) { return u < prob; }

#endif
