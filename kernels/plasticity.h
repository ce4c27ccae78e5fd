/* Pair-based STDP with per-neuron exponential traces (Song, Miller & Abbott 2000; Brian2's
 * examples/synapses/STDP.py semantics), shared by the CPU backend and the CUDA kernels.
 *
 * Each plastic projection keeps a pre trace per source neuron and a post trace per target neuron
 * (equivalent to Brian2's per-synapse traces: every synapse of a source sees the same pre events).
 * Step 4 of the schedule, after propagation, in this order:
 *   1. every trace decays by exp(-dt / tau);
 *   2. each pre spike: A_pre += dA_pre (pairing all; nearest: A_pre = dA_pre), then every synapse
 *      of its row w <- clip(w + A_post[target] * f_dep(w));
 *   3. each post spike: A_post += dA_post (or = dA_post), then every synapse onto it
 *      w <- clip(w + A_pre[source] * f_pot(w)).
 * Additive: f = 1. Multiplicative (weight-dependent): f_pot = (w_max - w) / (w_max - w_min),
 * f_dep = (w - w_min) / (w_max - w_min). The synaptic effect of a pre spike uses the weight before
 * its own update (Brian2: ge += w comes first). A plastic projection has one constant delay d and
 * the pre-synaptic event is the spike's arrival, emission + d, as in Brian2 where on_pre runs after
 * the delay: the CPU backend keeps the spikes of the last d steps and lets them act on arrival,
 * both for their synaptic effect (with the weight at arrival) and for the update; the CUDA
 * backend keeps the same history on the device (kernels/synapses.cu). */
#ifndef VL_KERNELS_PLASTICITY_H
#define VL_KERNELS_PLASTICITY_H

#include "common.h"

typedef struct vl_stdp_params {
    float decay_pre, decay_post; /* exp(-dt / tau) */
    float dA_pre, dA_post, w_min, w_max;
    int32_t nearest, multiplicative;
} vl_stdp_params;

VL_HD float vl_stdp_clip(const vl_stdp_params *p, float w) {
    return w < p->w_min ? p->w_min : w > p->w_max ? p->w_max : w;
}

VL_HD float vl_trace_on_spike(float A, float dA, int32_t nearest) { return nearest ? dA : A + dA; }

/* A pre spike meets the target's post trace (depression when A_post < 0). */
VL_HD float vl_stdp_on_pre(const vl_stdp_params *p, float w, float A_post) {
    float f = p->multiplicative ? (w - p->w_min) / (p->w_max - p->w_min) : 1.0f;
    return vl_stdp_clip(p, w + A_post * f);
}

/* A post spike meets the source's pre trace (potentiation when A_pre > 0). */
VL_HD float vl_stdp_on_post(const vl_stdp_params *p, float w, float A_pre) {
    float f = p->multiplicative ? (p->w_max - w) / (p->w_max - p->w_min) : 1.0f;
    return vl_stdp_clip(p, w + A_pre * f);
}

#endif
