/* The validated model handle behind the public vl_model. */
#ifndef VL_MODEL_MODEL_H
#define VL_MODEL_MODEL_H

#include "internal.h"

struct vl_model {
    vl_spec spec;
    vl_diag diag;
    int valid;
};

/* Expected synapse count of a projection (exact for the fixed rules). */
double vl_proj_expected_synapses(const vl_spec *s, const vl_proj_spec *p);
/* Largest delay in steps a projection can have. */
uint32_t vl_proj_max_delay_steps(const vl_spec *s, const vl_proj_spec *p);
uint64_t vl_spec_n_steps(const vl_spec *s);

/* Host memory a model needs (DESIGN.md "Memory plan"), in bytes, from the spec alone, so that a
 * model that cannot fit is refused before anything large is allocated. Projections read from
 * files count nothing (their size is known only once read). network + state came within 3 % of
 * the peak resident size of PD14 (2.8 GiB) and COBA at 10^6 neurons (0.7 GiB). */
typedef struct vl_mem_plan {
    double network; /* CSR (column, weight, per-synapse delay), row pointers, CSC for STDP, initial state */
    double state;   /* the CPU backend's neuron state and input rings (0 unless asked for) */
} vl_mem_plan;
void vl_spec_mem_plan(const vl_spec *s, int cpu_state, int deterministic, vl_mem_plan *out);
/* "lif_cond_exp", "poisson", ... */
const char *vl_pop_model_name(const vl_pop_spec *p);

#endif
