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
    const vl_rec_params *rec;
} vl_neuron_params;

VL_HD float vl_mg_block(float v, float mg) {
    return 1.0f / (1.0f + mg * (1.0f / 3.57f) * expf(-0.062f * v));
}

/* One step of one neuron. g[r * stride] is receptor r's state for this neuron and in[r * stride]
 * the input that arrived for this step (the ring-buffer slot, laid out [slot][receptor][neuron]
 * so that both use the population size as stride); z is this step's standard normal draw
 * (unused when noise == 0). Returns 1 when the neuron spikes. */
VL_HD int vl_neuron_step(const vl_neuron_params *p, float *v_io, int32_t *refr_io, float *g,
                         const float *in, size_t stride, float z) {
    float v = *v_io;
    int32_t refr = *refr_io;
    const int clamped = refr > 0 && p->refr_mode == VL_REFR_CLAMP;
    if (p->model == VL_LIF_COND_EXP) {
        float G = p->g_L, GE = p->g_L * p->E_L + p->I_e;
        for (int r = 0; r < p->n_rec; ++r) {
            const vl_rec_params *q = &p->rec[r];
            float gr = g[r * stride] + in[r * stride];
            float ge = q->mg > 0.0f ? gr * vl_mg_block(v, q->mg) : gr;
            G += ge;
            GE += ge * q->E;
            g[r * stride] = gr * q->decay;
        }
        if (!clamped) {
            float v_inf = GE / G;
            v = v_inf + (v - v_inf) * expf(-p->dt * G / p->C);
        }
    } else if (p->model == VL_LIF_CURR_EXP) {
        float dv = 0.0f;
        for (int r = 0; r < p->n_rec; ++r) {
            const vl_rec_params *q = &p->rec[r];
            float I = g[r * stride] + in[r * stride];
            dv += I * q->p21;
            g[r * stride] = I * q->decay;
        }
        if (!clamped)
            v = p->E_L + (v - p->E_L) * p->v_decay + (p->I_e / p->g_L) * (1.0f - p->v_decay) + dv;
    } else { /* VL_LIF_DELTA */
        float jump = 0.0f;
        for (int r = 0; r < p->n_rec; ++r) jump += in[r * stride];
        if (!clamped)
            v = p->E_L + (v + jump - p->E_L) * p->v_decay + (p->I_e / p->g_L) * (1.0f - p->v_decay);
    }
    if (!clamped && p->noise != 0.0f) v += p->noise * z;
    int spike = 0;
    if (refr > 0) {
        refr -= 1;
        if (clamped) v = p->V_reset;
    } else if (v > p->V_th) {
        spike = 1;
        v = p->V_reset;
        refr = p->n_ref > 0 ? p->n_ref - 1 : 0;
    }
    *v_io = v;
    *refr_io = refr;
    return spike;
}

/* Poisson input: does neuron i of a source with spike probability prob (= rate * dt) fire at
 * this step? u is a uniform draw in (0, 1). */
VL_HD int vl_poisson_fires(float prob, float u) { return u < prob; }

#endif
