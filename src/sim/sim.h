/* The simulation handle and the backend table. The time loop (sim.c) runs chunks of steps
 * through a backend and hands each filled chunk to the writer. */
#ifndef VL_SIM_SIM_H
#define VL_SIM_SIM_H

#include "internal.h"
#include "kernels/neuron.h"
#include "kernels/plasticity.h"
#include "kernels/stp.h"
#include "model/model.h"
#include "network/network.h"
#include "record/record.h"

typedef struct vl_sim vl_sim;

/* A backend: the CPU one is the reference; the CUDA one runs the same kernels/ headers math. */
typedef struct vl_backend_i {
    const char *name;
    vl_status (*init)(vl_sim *s);
    /* Simulates steps [t0, t0 + n) and fills c (spikes, counts, frames, max v). s->next_steps is
     * the length of the chunk the time loop will ask for next (0: none), which a backend may
     * start simulating before it returns this one (the CUDA backend does, to overlap the host's
     * handling of a chunk with the device's next one). */
    vl_status (*run)(vl_sim *s, uint64_t t0, uint32_t n, vl_chunk *c);
    /* Optional: brings plastic weights back into s->net (NULL: they live there already). */
    vl_status (*sync_weights)(vl_sim *s);
    void (*destroy)(vl_sim *s);
} vl_backend_i;

/* The CPU backend, src/sim/cpu.c compiled twice: for the baseline ISA and, where the build has it,
 * for AVX2 (cpu_avx2.c); vl_backend_cpu() picks the one this machine runs (vl__cpu_avx2). */
extern const vl_backend_i vl_backend_cpu_base;
extern const vl_backend_i vl_backend_cpu_avx2; /* only when VOLLEY_HAVE_AVX2 */
const vl_backend_i *vl_backend_cpu(void);
extern const vl_backend_i vl_backend_cuda; /* only when VOLLEY_HAVE_CUDA */

/* Per-population constants every backend uses. */
typedef struct vl_pop_rt {
    vl_pop_type type;
    uint32_t size;
    uint32_t ring_len;
    vl_neuron_params np;      /* neurons; np.rec points into rec */
    vl_rec_params *rec;
    /* inputs */
    uint64_t start_step, stop_step;
    float prob;               /* constant rate * dt */
    float *probs;             /* per-neuron rate * dt, or NULL */
    size_t n_table;
    uint64_t *table_step;     /* rate table, in steps */
    float *table_prob;
    /* pattern input: segments [seg_step[i], seg_step[i+1]) show pattern seg_pat[i] (-1: none) */
    int is_pattern;
    size_t n_seg;
    uint64_t *seg_step;
    int32_t *seg_pat;
    const uint8_t *pix;       /* n_patterns rows of pix_stride, shared */
    uint32_t pix_stride, group;
    float on_prob, off_prob;
    size_t n_spk;             /* spike_times, sorted by step */
    uint64_t *spk_step;
    uint32_t *spk_id;
} vl_pop_rt;

struct vl_sim {
    const vl_model *model;
    const vl_spec *s;
    vl_sim_options opt;
    uint64_t seed, n_steps, steps_done;
    uint32_t chunk_steps;
    uint32_t next_steps;      /* the chunk after the one being run (vl_backend_i.run) */
    vl_network net;
    vl_pop_rt *rt;
    vl_diag diag;
    const vl_backend_i *be;
    void *be_state;
    char device[160];
    vl_writer *writer;
    vl_run_result res;
    vl_pop_result *pops;
    float *max_v;             /* per population, updated by the backend */
    int *rec_spikes;          /* per population: record spikes (all 0 without an output file) */
    size_t n_state;           /* state recordings in force (0 without an output file) */
    int deterministic;        /* fixed-point synaptic accumulation (vl_to_fixed) */
    vl_stdp_params *stdp;     /* per projection (used where s->s->proj[q].stdp.on) */
    vl_stp_params *stp;       /* per projection (model VL_STP_NONE: no short-term dynamics) */
    uint8_t *pix;             /* stimulus patterns, n_patterns rows of pix_stride pixels */
    uint32_t pix_stride;
    int ran;
};

/* Probability of a Poisson input spike for population rt at step t (rate table aware). */
float vl_pop_rt_prob(const vl_pop_rt *rt, uint64_t t, size_t *table_pos);
/* The pattern a pattern input shows at step t (-1: none); pos advances with t. */
int32_t vl_pop_rt_pattern(const vl_pop_rt *rt, uint64_t t, size_t *pos);

/* Picks the backend for opt->backend; fills s->be and s->device or sets an error. */
vl_status vl_backend_select(vl_sim *s);

#ifdef VOLLEY_HAVE_CUDA
/* CUDA entry points (src/sim/cuda.cu). */
int vl_cuda_device_count(void);
int vl_cuda_describe(int dev, char *buf, size_t len);
#endif

#endif
