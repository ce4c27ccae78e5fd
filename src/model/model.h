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
/* "lif_cond_exp", "poisson", ... */
const char *vl_pop_model_name(const vl_pop_spec *p);

#endif
