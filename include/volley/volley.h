/* Volley public API: load a model, check it, simulate it and stream the results to HDF5.
 * Every fallible call returns a vl_status; the detailed message stays on the handle
 * (vl_model_error, vl_sim_error). The library never exits and never prints except through
 * the log callback. */
#ifndef VOLLEY_H
#define VOLLEY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VL_VERSION "0.1.0"

/* One list generates the codes, their names and their messages. */
#define VL_STATUS_MAP(XX)                                              \
    XX(OK, 0, "success")                                               \
    XX(ERR_USAGE, -1, "invalid arguments")                             \
    XX(ERR_MODEL, -2, "invalid model")                                 \
    XX(ERR_IO, -3, "input/output error")                               \
    XX(ERR_NOMEM, -4, "out of memory")                                 \
    XX(ERR_HDF5, -5, "HDF5 error")                                     \
    XX(ERR_DEVICE, -6, "device error")                                 \
    XX(ERR_UNSUPPORTED, -7, "not supported by this build or backend") \
    XX(INTERRUPTED, -8, "interrupted")

typedef enum {
#define XX(name, code, msg) VL_##name = code,
    VL_STATUS_MAP(XX)
#undef XX
} vl_status;

const char *vl_status_name(vl_status s);
const char *vl_strerror(vl_status s);

typedef enum { VL_LOG_DEBUG, VL_LOG_INFO, VL_LOG_WARN, VL_LOG_ERROR } vl_log_level;
typedef void (*vl_log_fn)(vl_log_level level, const char *msg, void *user);

/* ---- model: YAML file -> validated model ---- */
typedef struct vl_model vl_model;

/* Loads and validates path. overrides is an array of n "dotted.path=VALUE" strings applied to
 * the YAML tree before interpretation. On error *out still receives a handle (unless memory
 * ran out) whose vl_model_error() names file:line:column; destroy it either way. */
vl_status vl_model_load(const char *path, const char *const *overrides, size_t n_overrides,
                        vl_model **out);
const char *vl_model_error(const vl_model *m);
void vl_model_destroy(vl_model *m);

/* The model's time step in ms. */
double vl_model_dt(const vl_model *m);

/* Warnings found by validation (initial v above threshold, silent projections, ...). */
size_t vl_model_warning_count(const vl_model *m);
const char *vl_model_warning(const vl_model *m, size_t i);

/* Writes the check summary (populations, projections, expected synapses, memory) to buf. */
void vl_model_summary(const vl_model *m, char *buf, size_t len);

/* ---- simulation ---- */
typedef enum { VL_BACKEND_AUTO = 0, VL_BACKEND_CPU = 1, VL_BACKEND_CUDA = 2 } vl_backend_kind;

typedef struct vl_sim_options {
    const char *output;       /* HDF5 path; NULL: no file */
    int have_seed;            /* override the model's seed */
    uint64_t seed;
    double duration_ms;       /* > 0 overrides the model's duration */
    vl_backend_kind backend;
    int threads;              /* 0: OpenMP default */
    int deterministic;
    vl_log_fn log;            /* NULL: silent */
    void *log_user;
    /* Called every chunk of steps with the simulated step count; for progress lines. */
    void (*progress)(uint64_t step, uint64_t n_steps, double wall_s, void *user);
    void *progress_user;
    volatile int *interrupt;  /* when non-NULL and set, the run stops at the next step */
} vl_sim_options;

typedef struct vl_sim vl_sim;

typedef struct vl_pop_result {
    const char *name;
    uint32_t size;
    uint64_t spikes;
    double rate_hz;
    float max_v; /* highest v seen (neuron populations) */
    int is_input;
} vl_pop_result;

typedef struct vl_run_result {
    uint64_t steps_done, n_steps;
    uint64_t n_neurons, n_synapses;
    double build_s, sim_s, write_s, rtf;
    double events;            /* synaptic events delivered (spikes x mean row length per projection) */
    const char *backend, *device;
    int complete;
    size_t n_pops;
    const vl_pop_result *pops;
} vl_run_result;

vl_status vl_sim_create(const vl_model *m, const vl_sim_options *opt, vl_sim **out);
vl_status vl_sim_run(vl_sim *s);
const vl_run_result *vl_sim_result(const vl_sim *s);
const char *vl_sim_error(const vl_sim *s);
size_t vl_sim_warning_count(const vl_sim *s);
const char *vl_sim_warning(const vl_sim *s, size_t i);
void vl_sim_destroy(vl_sim *s);

/* ---- build information ---- */
typedef struct vl_build_info {
    const char *version, *git_revision, *build_type, *c_flags;
    int cuda_compiled, openmp, omp_max_threads;
    int avx2_compiled; /* the CPU code is also built for AVX2 (x86-64) */
    int avx2_used;     /* ... and runs here: the CPU has AVX2 and VOLLEY_CPU_ISA is not "baseline" */
} vl_build_info;
void vl_build_info_get(vl_build_info *info);
/* Writes a one-line description per usable device into buf; returns their number. */
int vl_devices_describe(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
