/* Presynaptic short-term dynamics, one state per source neuron of a projection (all its synapses
 * share the parameters), shared by both backends. A spike of source i at step t is delivered with
 * weight w * vl_stp_on_spike(...), computed when it is emitted.
 *
 * tsodyks_markram  NEST's tsodyks2_synapse (Tsodyks & Markram 1997, Fuhrmann et al. 2002): with
 *                  h the time since the previous spike (since t = 0 for the first),
 *                  x <- 1 + (x - x u - 1) exp(-h / tau_rec),  u <- U + u (1 - U) exp(-h / tau_fac)
 *                  (u <- U when tau_fac = 0), factor = u x. Initially u = U, x = 1.
 * saturating       a presynaptic gating variable s (NMDA-like; Wang 1999, Brunel & Wang 2001): it
 *                  decays with tau and each spike adds alpha (1 - s): factor = alpha (1 - s^-),
 *                  s <- s^- + factor, where s^- = s exp(-h / tau). Initially s = 0. With the
 *                  receptor's tau equal to this tau, the conductance is exactly sum_j w_j s_j(t). */
#ifndef VL_KERNELS_STP_H
#define VL_KERNELS_STP_H

#include "common.h"

enum { VL_STP_NONE = 0, VL_STP_TSODYKS_MARKRAM = 1, VL_STP_SATURATING = 2 };

typedef struct vl_stp_params {
    int32_t model;
    float dt;      /* ms */
    float U, tau_rec, tau_fac; /* tsodyks_markram, ms */
    float alpha, tau;          /* saturating, ms */
} vl_stp_params;

/* Updates source i's state (u, x: s is kept in x) for a spike at step t and returns the factor. */
VL_HD float vl_stp_on_spike(const vl_stp_params *p, float *u, float *x, uint64_t *last, uint64_t t) {
    float h = (float)(t - *last) * p->dt;
    *last = t;
    if (p->model == VL_STP_TSODYKS_MARKRAM) {
        float x_decay = vl_expf(-h / p->tau_rec);
        float u_decay = p->tau_fac > 0.0f ? vl_expf(-h / p->tau_fac) : 0.0f;
        *x = 1.0f + (*x - *x * *u - 1.0f) * x_decay;
        *u = p->U + *u * (1.0f - p->U) * u_decay;
        return *u * *x;
    }
    float s = *x * vl_expf(-h / p->tau);
    float f = p->alpha * (1.0f - s);
    *x = s + f;
    return f;
}

#endif
