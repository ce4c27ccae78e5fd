/* The time loop: builds the network, picks a backend, runs chunks of steps, streams them to the
 * writer, and turns the run into a result with diagnostics a user can act on. */
#include "sim/sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

float vl_pop_rt_prob(const vl_pop_rt *rt, uint64_t t, size_t *pos) {
    if (t < rt->start_step || t >= rt->stop_step) return 0.0f;
    if (!rt->n_table) return rt->prob;
    while (*pos + 1 < rt->n_table && rt->table_step[*pos + 1] <= t) ++*pos;
    return rt->table_step[*pos] <= t ? rt->table_prob[*pos] : 0.0f;
}

int32_t vl_pop_rt_pattern(const vl_pop_rt *rt, uint64_t t, size_t *pos) {
    while (*pos + 1 < rt->n_seg && rt->seg_step[*pos + 1] <= t) ++*pos;
    return rt->n_seg && rt->seg_step[*pos] <= t ? rt->seg_pat[*pos] : -1;
}

static uint64_t to_step(double ms, double dt) {
    if (isinf(ms)) return UINT64_MAX;
    return ms <= 0 ? 0 : (uint64_t)llround(ms / dt);
}

static int cmp_spk(const void *a, const void *b) {
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1];
}

static int build_runtime(vl_sim *sim) {
    const vl_spec *s = sim->s;
    sim->rt = vl__calloc(s->n_pops, sizeof *sim->rt);
    if (!sim->rt) return -1;
    const vl_stimulus_spec *S = &s->stim;
    if (S->n_patterns) {
        uint32_t npx = S->patterns[0].n_pixels;
        for (size_t k = 0; k < S->n_patterns; ++k) npx = S->patterns[k].n_pixels > npx ? S->patterns[k].n_pixels : npx;
        /* every pattern input uses patterns of its own pixel count (the reader checks); rows are npx long */
        sim->pix_stride = npx;
        sim->pix = vl__calloc(S->n_patterns * npx, 1);
        if (!sim->pix) return -1;
        for (size_t k = 0; k < S->n_patterns; ++k) memcpy(sim->pix + k * npx, S->patterns[k].on, S->patterns[k].n_pixels);
    }
    double dt = s->dt;
    for (size_t i = 0; i < s->n_pops; ++i) {
        const vl_pop_spec *p = &s->pops[i];
        vl_pop_rt *rt = &sim->rt[i];
        rt->type = p->type;
        rt->size = p->size;
        rt->ring_len = sim->net.ring_len[i];
        if (p->type == VL_POP_NEURON) {
            rt->rec = vl__calloc(p->n_rec, sizeof *rt->rec);
            double *tau = vl__calloc(p->n_rec, sizeof *tau), *E = vl__calloc(p->n_rec, sizeof *E),
                   *mg = vl__calloc(p->n_rec, sizeof *mg);
            if (!rt->rec || !tau || !E || !mg) { free(tau); free(E); free(mg); return -1; }
            for (size_t r = 0; r < p->n_rec; ++r) tau[r] = p->rec[r].tau, E[r] = p->rec[r].E, mg[r] = p->rec[r].mg;
            vl_lif_desc d = {p->model, p->refr_mode, (int32_t)p->n_rec, dt, p->C, p->g_L, p->E_L, p->V_th,
                             p->V_reset, p->t_ref, p->I_e, p->sigma, tau, E, mg, p->bg_rate, p->bg_weight,
                             p->bg_rec, p->a, p->b, p->tau_w};
            vl_neuron_params_init(&rt->np, rt->rec, &d);
            free(tau); free(E); free(mg);
        } else if (p->type == VL_POP_POISSON && p->is_pattern) {
            /* One segment per (trial, phase), in steps; the pattern tables are shared. */
            const vl_stimulus_spec *S = &s->stim;
            int in = -1;
            for (size_t k = 0; k < S->n_inputs; ++k)
                if (S->inputs[k] == (int)i) in = (int)k;
            rt->is_pattern = 1;
            rt->stop_step = UINT64_MAX;
            rt->pix_stride = sim->pix_stride;
            rt->group = p->group;
            rt->on_prob = (float)(p->on_rate * dt * 1e-3);
            rt->off_prob = (float)(p->off_rate * dt * 1e-3);
            rt->pix = sim->pix;
            rt->n_seg = S->n_trials * S->n_phases;
            rt->seg_step = vl__calloc(rt->n_seg + 1, sizeof *rt->seg_step);
            rt->seg_pat = vl__calloc(rt->n_seg + 1, sizeof *rt->seg_pat);
            if (!rt->seg_step || !rt->seg_pat) return -1;
            uint64_t step = 0;
            for (size_t k = 0; k < S->n_trials; ++k)
                for (size_t ph = 0; ph < S->n_phases; ++ph) {
                    size_t at = k * S->n_phases + ph;
                    rt->seg_step[at] = step;
                    rt->seg_pat[at] = in < 0 ? -1 : S->conditions[S->trials[k]].pattern[ph * S->n_inputs + (size_t)in];
                    step += (uint64_t)llround(S->phases[ph].duration / dt);
                }
            rt->seg_step[rt->n_seg] = step; /* after the last trial: baseline */
            rt->seg_pat[rt->n_seg] = -1;
            rt->n_seg += 1;
        } else if (p->type == VL_POP_POISSON) {
            rt->start_step = to_step(p->start, dt);
            rt->stop_step = to_step(p->stop, dt);
            rt->prob = (float)(p->rate * dt * 1e-3);
            if (p->rates) {
                rt->probs = vl__calloc(p->size, sizeof *rt->probs);
                if (!rt->probs) return -1;
                for (uint32_t k = 0; k < p->size; ++k) rt->probs[k] = (float)(p->rates[k] * dt * 1e-3);
            }
            if (p->n_table) {
                rt->n_table = p->n_table;
                rt->table_step = vl__calloc(p->n_table, sizeof *rt->table_step);
                rt->table_prob = vl__calloc(p->n_table, sizeof *rt->table_prob);
                if (!rt->table_step || !rt->table_prob) return -1;
                for (size_t k = 0; k < p->n_table; ++k) {
                    rt->table_step[k] = to_step(p->table_t[k], dt);
                    rt->table_prob[k] = (float)(p->table_rate[k] * dt * 1e-3);
                }
            }
        } else {
            rt->start_step = to_step(p->start, dt);
            rt->stop_step = to_step(p->stop, dt);
            uint64_t *pairs = vl__calloc(p->n_spk * 2, sizeof *pairs);
            rt->spk_step = vl__calloc(p->n_spk, sizeof *rt->spk_step);
            rt->spk_id = vl__calloc(p->n_spk, sizeof *rt->spk_id);
            if (!pairs || !rt->spk_step || !rt->spk_id) { free(pairs); return -1; }
            for (size_t k = 0; k < p->n_spk; ++k) {
                pairs[2 * k] = to_step(p->spk_t[k], dt);
                pairs[2 * k + 1] = p->spk_id[k];
            }
            qsort(pairs, p->n_spk, 2 * sizeof *pairs, cmp_spk);
            /* One spike per neuron per step: duplicates within a step collapse. */
            size_t n = 0;
            for (size_t k = 0; k < p->n_spk; ++k) {
                if (n && rt->spk_step[n - 1] == pairs[2 * k] && rt->spk_id[n - 1] == pairs[2 * k + 1]) continue;
                if (pairs[2 * k] < rt->start_step || pairs[2 * k] >= rt->stop_step) continue;
                rt->spk_step[n] = pairs[2 * k];
                rt->spk_id[n++] = (uint32_t)pairs[2 * k + 1];
            }
            rt->n_spk = n;
            free(pairs);
        }
    }
    return 0;
}

static void log_msg(vl_sim *s, vl_log_level lvl, const char *msg) {
    if (s->opt.log) s->opt.log(lvl, msg, s->opt.log_user);
}

static void fmt_bytes(double b, char out[32]) {
    if (b >= 1073741824.0) snprintf(out, 32, "%.2f GiB", b / 1073741824.0);
    else snprintf(out, 32, "%.1f MiB", b / 1048576.0);
}

/* The host memory plan (DESIGN.md "Memory plan"): a model that cannot fit in the memory left is
 * refused with the numbers before the network is built, not killed halfway through it.
 * VOLLEY_HOST_MEMORY (bytes) stands in for the machine's figure (vl__mem_available), for tests. */
/* Deterministic mode sums synaptic input in 64-bit fixed point (kernels/neuron.h): the largest
 * sum one neuron can receive in one step, every incoming synapse at once at its largest weight
 * (STDP's bound where plastic; short-term factors are at most 1), must stay within half of the
 * range, or the integer additions would overflow. */
static int check_fixed_range(vl_sim *s) {
    const double limit = 0.5 * 9223372036854775807.0 / VL_FIXED_ONE; /* units of the receptor */
    for (size_t i = 0; i < s->s->n_pops; ++i) {
        double *sum = NULL;
        for (size_t q = 0; q < s->net.n_proj; ++q) {
            const vl_csr *c = &s->net.proj[q];
            if (c->tgt != (int)i || !c->n_syn) continue;
            if (!sum && !(sum = vl__calloc(s->s->pops[i].size, sizeof *sum))) return -1;
            const vl_stdp_spec *st = &s->s->proj[q].stdp;
            const double wb = st->on ? fmax(fabs(st->w_min), fabs(st->w_max)) : 0.0;
            for (uint64_t k = 0; k < c->n_syn; ++k) sum[c->col[k]] += st->on ? wb : fabs((double)c->w[k]);
        }
        for (uint32_t k = 0; sum && k < s->s->pops[i].size; ++k)
            if (sum[k] > limit) {
                vl__diag_error(&s->diag, s->s->pops[i].mark,
                               "deterministic mode adds synaptic input in 64-bit fixed point, at most %.3g per "
                               "step and neuron in the receptor's unit, but neuron %u of '%s' can receive %.3g "
                               "(its incoming weights together); scale the weights down or run without "
                               "--deterministic", limit, k, s->s->pops[i].name, sum[k]);
                free(sum);
                return -1;
            }
        free(sum);
    }
    return 0;
}

static vl_status plan_host_memory(vl_sim *s) {
    const char *fake = getenv("VOLLEY_HOST_MEMORY");
    double avail = fake && *fake ? atof(fake) : vl__mem_available();
    if (avail < 0) return VL_OK;
    vl_mem_plan p;
    vl_spec_mem_plan(s->s, !strcmp(s->be->name, "cpu"), s->deterministic, &p);
    if (p.network + p.state <= avail) return VL_OK;
    char need[32], net[32], state[32], have[32], parts[128];
    fmt_bytes(p.network + p.state, need);
    fmt_bytes(p.network, net);
    fmt_bytes(p.state, state);
    fmt_bytes(avail, have);
    if (p.state > 0) snprintf(parts, sizeof parts, "network %s, neuron state and input rings %s", net, state);
    else snprintf(parts, sizeof parts, "network %s", net);
    vl__diag_error(&s->diag, (vl_mark){s->s->path, 0, 0},
                   "the model needs about %s of memory (%s) but only %s are available; make it smaller "
                   "(population sizes, connection probabilities, the longest delay into a population, a plastic "
                   "projection's delay)",
                   need, parts, have);
    return VL_ERR_NOMEM;
}

vl_status vl_sim_create(const vl_model *m, const vl_sim_options *opt, vl_sim **out) {
    vl_sim *s = vl__calloc(1, sizeof *s);
    *out = s;
    if (!s) return VL_ERR_NOMEM;
    s->model = m;
    s->s = &m->spec;
    if (opt) s->opt = *opt;
    if (!m->valid) {
        vl__diag_error(&s->diag, (vl_mark){0}, "the model did not load: %s", vl_model_error(m));
        return VL_ERR_MODEL;
    }
    s->seed = s->opt.have_seed ? s->opt.seed : s->s->seed;
    double duration = s->opt.duration_ms > 0 ? s->opt.duration_ms : s->s->duration;
    s->n_steps = (uint64_t)llround(duration / s->s->dt);
    s->chunk_steps = 1000;
#ifdef _OPENMP
    if (s->opt.threads > 0) omp_set_num_threads(s->opt.threads);
#endif
    /* The backend first (a missing device is reported before a long build), then the host
     * memory plan, then the network. */
    s->deterministic = s->opt.deterministic || s->s->deterministic;
    vl_status st = vl_backend_select(s);
    if (st != VL_OK) return st;
    if ((st = plan_host_memory(s)) != VL_OK) return st;
    double t0 = vl__now();
    if (vl_network_build(s->s, s->seed, &s->net, &s->diag) != 0) {
        if (!s->diag.has_err) vl__diag_error(&s->diag, (vl_mark){0}, "out of memory building the network");
        return VL_ERR_MODEL;
    }
    if (s->deterministic && check_fixed_range(s) != 0) {
        if (!s->diag.has_err) vl__diag_error(&s->diag, (vl_mark){0}, "out of memory checking the fixed-point range");
        return VL_ERR_MODEL;
    }
    if (build_runtime(s) != 0) {
        vl__diag_error(&s->diag, (vl_mark){0}, "out of memory preparing the simulation");
        return VL_ERR_NOMEM;
    }
    s->res.build_s = vl__now() - t0;
    s->pops = vl__calloc(s->s->n_pops, sizeof *s->pops);
    s->max_v = vl__calloc(s->s->n_pops, sizeof *s->max_v);
    if (!s->pops || !s->max_v) return VL_ERR_NOMEM;
    for (size_t i = 0; i < s->s->n_pops; ++i) s->max_v[i] = -INFINITY;
    /* Without an output file nothing is recorded: the backends only count spikes. */
    s->rec_spikes = vl__calloc(s->s->n_pops, sizeof *s->rec_spikes);
    if (!s->rec_spikes) return VL_ERR_NOMEM;
    for (size_t i = 0; s->opt.output && i < s->s->n_pops; ++i) s->rec_spikes[i] = s->s->rec_spikes[i];
    s->n_state = s->opt.output ? s->s->n_state : 0;
    s->stdp = vl__calloc(s->s->n_proj + 1, sizeof *s->stdp);
    s->stp = vl__calloc(s->s->n_proj + 1, sizeof *s->stp);
    if (!s->stdp || !s->stp) return VL_ERR_NOMEM;
    for (size_t q = 0; q < s->s->n_proj; ++q) {
        const vl_proj_spec *ps = &s->s->proj[q];
        vl_stp_params *p = &s->stp[q];
        p->model = ps->stp_model;
        p->dt = (float)s->s->dt;
        p->U = (float)ps->stp_U;
        p->tau_rec = (float)ps->stp_tau_rec;
        p->tau_fac = (float)ps->stp_tau_fac;
        p->alpha = (float)ps->stp_alpha;
        p->tau = (float)ps->stp_tau;
    }
    for (size_t q = 0; q < s->s->n_proj; ++q) {
        const vl_stdp_spec *st = &s->s->proj[q].stdp;
        if (!st->on) continue;
        vl_stdp_params *p = &s->stdp[q];
        p->decay_pre = (float)exp(-s->s->dt / st->tau_pre);
        p->decay_post = (float)exp(-s->s->dt / st->tau_post);
        p->dA_pre = (float)st->dA_pre;
        p->dA_post = (float)st->dA_post;
        p->w_min = (float)st->w_min;
        p->w_max = (float)st->w_max;
        p->nearest = st->nearest;
        p->multiplicative = st->multiplicative;
    }
    st = s->be->init(s);
    if (st != VL_OK) {
        if (!s->diag.has_err) vl__diag_error(&s->diag, (vl_mark){0}, "backend %s failed to start", s->be->name);
        return st;
    }
    char err[2048] = "";
    vl_writer_meta meta = {s->seed, s->be->name, s->device, s->opt.threads};
    st = vl_writer_open(s->opt.output, s->s, &s->net, s->chunk_steps, &meta, &s->writer, err, sizeof err);
    if (st != VL_OK) {
        vl__diag_error(&s->diag, (vl_mark){0}, "%s", err);
        return st;
    }
    return VL_OK;
}

static void finish_results(vl_sim *s) {
    const vl_spec *sp = s->s;
    double sim_ms = (double)s->steps_done * sp->dt;
    vl_run_result *r = &s->res;
    r->steps_done = s->steps_done;
    r->n_steps = s->n_steps;
    r->n_neurons = s->net.n_neurons;
    r->n_synapses = s->net.n_synapses;
    r->backend = s->be ? s->be->name : "none";
    r->device = s->device;
    r->rtf = sim_ms > 0 ? r->sim_s / (sim_ms * 1e-3) : 0;
    r->n_pops = sp->n_pops;
    r->pops = s->pops;
    r->events = 0;
    for (size_t q = 0; q < s->net.n_proj; ++q) {
        const vl_csr *c = &s->net.proj[q];
        r->events += (double)s->pops[c->src].spikes * (double)c->n_syn / sp->pops[c->src].size;
    }
    for (size_t i = 0; i < sp->n_pops; ++i) {
        vl_pop_result *p = &s->pops[i];
        const vl_pop_spec *ps = &sp->pops[i];
        p->name = ps->name;
        p->size = ps->size;
        p->is_input = ps->type != VL_POP_NEURON;
        p->rate_hz = sim_ms > 0 ? (double)p->spikes / (ps->size * sim_ms * 1e-3) : 0;
        p->max_v = s->max_v[i];
        if (p->is_input || s->steps_done == 0) continue;
        if (p->spikes == 0)
            vl__diag_warn(&s->diag, ps->mark, "population '%s' emitted no spikes: its highest v was %.1f mV, "
                          "%.1f mV below V_th (%.1f mV)", ps->name, p->max_v, ps->V_th - p->max_v, ps->V_th);
        else if (p->rate_hz > 200)
            vl__diag_warn(&s->diag, ps->mark, "population '%s' fired at %.0f Hz on average: runaway activity "
                          "(check inhibition, weights and the initial state)", ps->name, p->rate_hz);
    }
}

/* The next step at which some projection's weights are due (every > 0), or UINT64_MAX. */
/* The first weight snapshot due after step `at`. */
static uint64_t next_snapshot(const vl_sim *s, uint64_t at) {
    uint64_t best = UINT64_MAX;
    for (size_t q = 0; q < s->s->n_proj; ++q) {
        double ev = s->s->proj[q].weights_every;
        if (ev <= 0) continue;
        uint64_t every = (uint64_t)llround(ev / s->s->dt), next = (at / every + 1) * every;
        if (next < best) best = next;
    }
    return best;
}

/* Steps of the chunk that starts at step `at`: the chunk length, cut at the end of the run and
 * at the next weight snapshot (0 at the end). */
static uint32_t chunk_len(const vl_sim *s, uint64_t at) {
    if (at >= s->n_steps) return 0;
    uint64_t left = s->n_steps - at, snap = next_snapshot(s, at);
    uint32_t n = left < s->chunk_steps ? (uint32_t)left : s->chunk_steps;
    if (snap > at && snap - at < n) n = (uint32_t)(snap - at);
    return n;
}

/* Copies the weights of every projection due now into chunk c (or, when c is NULL, a chunk of its
 * own: the initial and final snapshots, all = 1 takes every recorded projection). */
static vl_status take_snapshots(vl_sim *s, vl_chunk *c, int all) {
    int due = 0;
    for (size_t q = 0; q < s->s->n_proj; ++q) {
        double ev = s->s->proj[q].weights_every;
        if (ev < 0) continue;
        if (all || (ev > 0 && s->steps_done % (uint64_t)llround(ev / s->s->dt) == 0)) due = 1;
    }
    if (!due) return VL_OK;
    if (s->be->sync_weights) {
        vl_status st = s->be->sync_weights(s);
        if (st != VL_OK) return st;
    }
    vl_chunk *own = c ? NULL : vl_writer_acquire(s->writer);
    vl_chunk *dst = c ? c : own;
    if (!dst) return VL_ERR_HDF5;
    if (own) own->step0 = s->steps_done, own->n_steps = 0;
    for (size_t q = 0; q < s->s->n_proj; ++q) {
        double ev = s->s->proj[q].weights_every;
        if (ev < 0 || !(all || (ev > 0 && s->steps_done % (uint64_t)llround(ev / s->s->dt) == 0))) continue;
        const vl_csr *cs = &s->net.proj[q];
        vl_weight_snap *sn = vl__realloc(dst->snap, (dst->n_snap + 1) * sizeof *sn);
        if (!sn) return VL_ERR_NOMEM;
        dst->snap = sn;
        sn = &dst->snap[dst->n_snap];
        sn->proj = (int)q;
        sn->time_ms = (double)s->steps_done * s->s->dt;
        sn->w = vl__calloc(cs->n_syn + 1, sizeof *sn->w);
        if (!sn->w) return VL_ERR_NOMEM;
        memcpy(sn->w, cs->w, cs->n_syn * sizeof *sn->w);
        dst->n_snap++;
    }
    if (own) vl_writer_submit(s->writer, own);
    return VL_OK;
}

vl_status vl_sim_run(vl_sim *s) {
    if (s->ran || !s->be || s->diag.has_err) {
        if (!s->diag.has_err) vl__diag_error(&s->diag, (vl_mark){0}, "vl_sim_run called twice");
        return VL_ERR_USAGE;
    }
    s->ran = 1;
    vl_status st = VL_OK;
    double t0 = vl__now();
    int interrupted = 0;
    if (s->opt.output) st = take_snapshots(s, NULL, 1); /* initial weights */
    while (st == VL_OK && s->steps_done < s->n_steps) {
        if (s->opt.interrupt && *s->opt.interrupt) { interrupted = 1; break; }
        vl_chunk *c = vl_writer_acquire(s->writer);
        if (!c) { st = VL_ERR_HDF5; break; }
        uint32_t n = chunk_len(s, s->steps_done);
        s->next_steps = chunk_len(s, s->steps_done + n); /* a backend may start it early */
        c->step0 = s->steps_done;
        st = s->be->run(s, s->steps_done, n, c);
        for (size_t i = 0; i < s->s->n_pops; ++i)
            for (uint32_t k = 0; k < c->n_steps; ++k) s->pops[i].spikes += c->count[i][k];
        uint32_t done = c->n_steps; /* the chunk belongs to the writer once submitted */
        s->steps_done += done;
        if (st == VL_OK && s->opt.output && s->steps_done < s->n_steps) st = take_snapshots(s, c, 0); /* when due */
        vl_writer_submit(s->writer, c);
        if (st != VL_OK) break;
        if (done < n) { interrupted = 1; break; }
        if (s->opt.progress) s->opt.progress(s->steps_done, s->n_steps, vl__now() - t0, s->opt.progress_user);
    }
    if (st == VL_OK && s->opt.output) st = take_snapshots(s, NULL, 1); /* final weights */
    s->res.sim_s = vl__now() - t0;
    if (st == VL_ERR_HDF5 && vl_writer_error(s->writer))
        vl__diag_error(&s->diag, (vl_mark){0}, "%s", vl_writer_error(s->writer));
    else if (st != VL_OK && !s->diag.has_err)
        vl__diag_error(&s->diag, (vl_mark){0}, "the %s backend failed: %s", s->be->name, vl_strerror(st));
    finish_results(s);
    s->res.complete = st == VL_OK && !interrupted;
    if (interrupted) log_msg(s, VL_LOG_WARN, "interrupted: the output holds the steps simulated so far");
    /* Every warning (model check and run diagnostics) is stored in the file. */
    size_t nw = s->model->diag.n_warn + s->diag.n_warn;
    const char **warn = vl__calloc(nw, sizeof *warn);
    for (size_t i = 0; i < s->model->diag.n_warn; ++i) warn[i] = s->model->diag.warn[i];
    for (size_t i = 0; i < s->diag.n_warn; ++i) warn[s->model->diag.n_warn + i] = s->diag.warn[i];
    double tw = vl__now();
    vl_writer_summary sum = {s->res.complete, s->res.complete ? "complete" : interrupted ? "interrupted" : "failed",
                             s->steps_done, &s->res, warn, nw};
    char err[2048] = "";
    vl_status wst = vl_writer_close(s->writer, &sum, err, sizeof err);
    s->writer = NULL;
    s->res.write_s = vl__now() - tw;
    free(warn);
    if (wst != VL_OK && st == VL_OK) {
        vl__diag_error(&s->diag, (vl_mark){0}, "%s", err);
        st = wst;
    }
    if (st == VL_OK && interrupted) st = VL_INTERRUPTED;
    return st;
}

const vl_run_result *vl_sim_result(const vl_sim *s) { return &s->res; }
const char *vl_sim_error(const vl_sim *s) { return s && s->diag.has_err ? s->diag.err : ""; }
size_t vl_sim_warning_count(const vl_sim *s) { return s->diag.n_warn; }
const char *vl_sim_warning(const vl_sim *s, size_t i) { return i < s->diag.n_warn ? s->diag.warn[i] : ""; }

void vl_sim_destroy(vl_sim *s) {
    if (!s) return;
    if (s->writer) {
        char err[256];
        vl_writer_close(s->writer, NULL, err, sizeof err);
    }
    if (s->be && s->be_state) s->be->destroy(s);
    for (size_t i = 0; s->rt && i < s->s->n_pops; ++i) {
        vl_pop_rt *rt = &s->rt[i];
        free(rt->rec); free(rt->probs); free(rt->table_step); free(rt->table_prob); free(rt->spk_step); free(rt->spk_id);
        free(rt->seg_step); free(rt->seg_pat);
    }
    free(s->rt);
    vl_network_free(&s->net, s->s->n_pops);
    vl__diag_free(&s->diag);
    free(s->pops);
    free(s->max_v);
    free(s->rec_spikes);
    free(s->stdp);
    free(s->stp);
    free(s->pix);
    free(s);
}
