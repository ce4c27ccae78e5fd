/* The model spec: plain structs produced by src/config from the YAML file and checked by
 * src/model. Internal units: ms, mV, nS, pF, pA, Hz. Every item keeps the position of the YAML
 * node it came from so that later errors can still name file:line:column. */
#ifndef VL_MODEL_SPEC_H
#define VL_MODEL_SPEC_H

#include <stdint.h>
#include <stddef.h>

/* Where a value came from: the model file (1-based line and column) or a --set override
 * (file names the override, line 0). */
typedef struct vl_mark { const char *file; int line, col; } vl_mark;

typedef enum { VL_POP_NEURON, VL_POP_POISSON, VL_POP_SPIKE_TIMES } vl_pop_type;

typedef enum { VL_DIST_CONST, VL_DIST_UNIFORM, VL_DIST_NORMAL, VL_DIST_LOGNORMAL, VL_DIST_FROM_FILE } vl_dist_kind;

/* A value or a distribution. normal: (a = mean, b = sd) clipped to [lo, hi];
 * uniform: [a, b); lognormal: median a, shape b (sigma of the underlying normal). */
typedef struct vl_dist {
    vl_dist_kind kind;
    double a, b, lo, hi;
    vl_mark mark;
} vl_dist;

typedef struct vl_receptor_spec {
    char name[32];
    double tau, E, mg; /* ms, mV, mM (mg 0 = no Mg block) */
} vl_receptor_spec;

typedef struct vl_subgroup_spec {
    char name[32];
    uint32_t lo, hi; /* [lo, hi) */
} vl_subgroup_spec;

typedef struct vl_pop_spec {
    char name[64];
    vl_pop_type type;
    int model; /* VL_LIF_* for neurons */
    uint32_t size;
    vl_mark mark;
    /* neurons */
    double C, g_L, E_L, V_th, V_reset, t_ref, I_e, sigma;
    double a, b, tau_w; /* adaptation current: nS, pA, ms (tau_w 0: none) */
    double bg_rate, bg_weight; /* Poisson background: Hz, receptor unit (bg_rate 0: none) */
    int bg_rec;
    int refr_mode;
    size_t n_rec;
    vl_receptor_spec *rec;
    vl_dist init_v;
    vl_dist *init_g;   /* per receptor */
    int has_init_v;
    /* poisson: constant rate, per-neuron rates, or a rate table over time */
    double rate, start, stop;
    double *rates;     /* size entries, or NULL */
    size_t n_table;
    double *table_t, *table_rate; /* piecewise constant from table_t[k] */
    /* pattern input (a poisson input driven by the stimulus protocol): pixel i drives neurons
     * [i * group, (i + 1) * group) at on_rate when the shown pattern has it on, else off_rate */
    int is_pattern;
    double on_rate, off_rate;
    uint32_t group, n_pixels;
    /* spike_times */
    size_t n_spk;
    uint32_t *spk_id;
    double *spk_t;
    size_t n_sub;
    vl_subgroup_spec *sub;
} vl_pop_spec;

typedef enum {
    VL_CONN_ALL_TO_ALL, VL_CONN_ONE_TO_ONE, VL_CONN_FIXED_PROB, VL_CONN_FIXED_INDEGREE,
    VL_CONN_FIXED_OUTDEGREE, VL_CONN_FIXED_TOTAL, VL_CONN_FILE
} vl_conn_rule;

/* Pair-based STDP (plasticity: block of a projection); weights and dA in the weight's unit. */
typedef struct vl_stdp_spec {
    int on;
    double tau_pre, tau_post, dA_pre, dA_post, w_min, w_max;
    int nearest;        /* pairing: nearest-neighbour (trace set to dA) or all-to-all (trace += dA) */
    int multiplicative; /* weight-dependent updates */
    vl_mark mark;
} vl_stdp_spec;

/* One projection after expansion: a single source range and a single target range. */
typedef struct vl_proj_spec {
    char name[160];
    vl_mark mark;
    int src, tgt;                      /* population indices */
    uint32_t src_lo, src_hi, tgt_lo, tgt_hi;
    int receptor;                      /* index into the target's receptors */
    vl_conn_rule rule;
    double p;                          /* probability */
    uint64_t n;                        /* in/out-degree or total number */
    int autapses, multapses;
    char *file;                        /* explicit list (CSV: source,target[,weight[,delay]]) */
    vl_dist weight, delay;
    int weight_from_file, delay_from_file;
    vl_stdp_spec stdp;
    int stp_model;                     /* VL_STP_*: short_term: block */
    double stp_U, stp_tau_rec, stp_tau_fac, stp_alpha, stp_tau;
    double weights_every;              /* ms between weight snapshots; 0: final only; <0: none */
} vl_proj_spec;

/* Stimulus protocol: patterns, the phases of a trial, conditions and the trial list. */
typedef struct vl_pattern_spec {
    char name[32];
    uint32_t n_pixels;
    uint8_t *on; /* n_pixels, row-major */
} vl_pattern_spec;

typedef struct vl_phase_spec {
    char name[32];
    double duration; /* ms */
} vl_phase_spec;

typedef struct vl_condition_spec {
    char name[32];
    int *pattern;  /* [n_phases][n_pattern_inputs]: index into patterns, -1 for none (baseline) */
    double weight; /* proportion when trials are drawn */
} vl_condition_spec;

typedef struct vl_stimulus_spec {
    size_t n_patterns, n_phases, n_conditions, n_inputs, n_trials;
    vl_pattern_spec *patterns;
    vl_phase_spec *phases;
    vl_condition_spec *conditions;
    int *inputs;   /* the pattern inputs (population indices) */
    int *trials;   /* condition of each trial */
} vl_stimulus_spec;

typedef struct vl_state_rec_spec {
    int pop;
    size_t n_vars;
    char (*vars)[32];
    uint32_t *ids;     /* neurons recorded (population-local) */
    size_t n_ids;
    uint32_t every;    /* steps */
} vl_state_rec_spec;

typedef struct vl_spec {
    char *path;        /* the model file */
    char *name;
    char *text;        /* the final YAML after overrides */
    double dt, duration;
    uint64_t seed;
    int deterministic;
    size_t n_pops;
    vl_pop_spec *pops;
    size_t n_proj;
    vl_proj_spec *proj;
    int *rec_spikes;   /* per population: record spikes */
    size_t n_state;
    vl_state_rec_spec *state;
    double rate_bin;   /* ms; 0 = no population rates */
    vl_stimulus_spec stim;
    size_t n_strings;  /* strings the marks point into */
    char **strings;
} vl_spec;

void vl_spec_free(vl_spec *s);

#endif
