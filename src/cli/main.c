/* The volley command: a thin client of the public API (include/volley/volley.h).
 * Exit codes: 0 success, 1 runtime failure, 2 usage or model error, 130 interrupted (Ctrl-C). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/units.h"
#include "volley/volley.h"

static volatile sig_atomic_t g_interrupt = 0;
static volatile int g_stop = 0;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupt = 1;
    g_stop = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends the process at once */
}

static void usage(FILE *f) {
    fprintf(f,
            "usage:\n"
            "  volley run MODEL.yaml [-o OUT.h5] [--seed N] [--set dotted.path=VALUE ...] [--duration T]\n"
            "             [--backend auto|cpu|cuda] [--threads N] [--deterministic] [--no-output] [--quiet]\n"
            "  volley check MODEL.yaml [--set dotted.path=VALUE ...]\n"
            "  volley bench [MODEL.yaml ...] [--backend auto|cpu|cuda] [--duration T] [--threads N] [--repeat R]\n"
            "               [--json FILE]\n"
            "  volley info\n"
            "\n"
            "run      builds and simulates the model and streams spikes and state to OUT.h5\n"
            "         (default out/<model>.h5; --no-output records nothing, for timing); prints a summary\n"
            "check    validates the model and prints populations, projections, memory and warnings\n"
            "bench    speed runs recording nothing (default: COBA, CUBA, Brunel-Hakim): medians per model\n"
            "info     version, build features and usable devices\n"
            "\n"
            "exit status: 0 success, 1 runtime failure, 2 usage or model error, 130 interrupted\n");
}

static void log_cb(vl_log_level lvl, const char *msg, void *user) {
    int quiet = *(int *)user;
    if (quiet && lvl < VL_LOG_WARN) return;
    fprintf(stderr, "volley: %s\n", msg);
}

static void progress_cb(uint64_t step, uint64_t n, double wall, void *user) {
    double dt = *(double *)user;
    double sim_s = step * dt * 1e-3, frac = n ? (double)step / n : 1;
    double rtf = sim_s > 0 ? wall / sim_s : 0, eta = frac > 0 ? wall / frac - wall : 0;
    fprintf(stderr, "\r  t = %.3f s  %5.1f%%  RTF %.3f  ETA %.0f s   ", sim_s, 100 * frac, rtf, eta);
    if (step == n) fprintf(stderr, "\n");
}

static int parse_time_arg(const char *s, double *ms) {
    vl_dim d;
    if (vl_quantity_parse(s, ms, &d) != 0 || d != VL_DIM_TIME || *ms <= 0 || *ms > VL_TIME_MAX_MS) {
        fprintf(stderr, "volley: --duration expects a positive time up to 11.6 days such as '2 s' or '500ms', got '%s'\n", s);
        return -1;
    }
    return 0;
}

static void print_warnings(const vl_model *m) {
    for (size_t i = 0; i < vl_model_warning_count(m); ++i) fprintf(stderr, "%s\n", vl_model_warning(m, i));
}

static int cmd_check(const char *path, const char **sets, size_t n_sets) {
    vl_model *m = NULL;
    vl_status st = vl_model_load(path, sets, n_sets, &m);
    if (st != VL_OK) {
        fprintf(stderr, "%s\n", m ? vl_model_error(m) : vl_strerror(st));
        vl_model_destroy(m);
        return 2;
    }
    static char buf[1 << 16];
    vl_model_summary(m, buf, sizeof buf);
    fputs(buf, stdout);
    vl_model_destroy(m);
    return 0;
}

static char *default_output(const char *model_path) {
    const char *base = strrchr(model_path, '/');
    base = base ? base + 1 : model_path;
    size_t n = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot) n = (size_t)(dot - base);
    char *out = malloc(n + 8);
    snprintf(out, n + 8, "out/%.*s.h5", (int)n, base);
    if (mkdir("out", 0777) != 0 && errno != EEXIST) fprintf(stderr, "volley: cannot create out/: %s\n", strerror(errno));
    return out;
}

static int cmd_run(int argc, char **argv) {
    const char *path = NULL, *out = NULL;
    const char **sets = calloc((size_t)argc + 2, sizeof *sets);
    size_t n_sets = 0;
    int quiet = 0, no_output = 0;
    vl_sim_options opt;
    memset(&opt, 0, sizeof opt);
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VAL() do { if (!val) { fprintf(stderr, "volley: %s needs a value\n", a); free(sets); return 2; } ++i; } while (0)
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) { NEED_VAL(); out = val; }
        else if (!strcmp(a, "--seed")) {
            NEED_VAL();
            char *end;
            errno = 0;
            opt.seed = strtoull(val, &end, 10);
            if (*end || end == val || errno || val[0] == '-') { fprintf(stderr, "volley: --seed expects a whole number, got '%s'\n", val); free(sets); return 2; }
            opt.have_seed = 1;
        } else if (!strcmp(a, "--set")) { NEED_VAL(); sets[n_sets++] = val; }
        else if (!strcmp(a, "--duration")) { NEED_VAL(); if (parse_time_arg(val, &opt.duration_ms)) { free(sets); return 2; } }
        else if (!strcmp(a, "--backend")) {
            NEED_VAL();
            if (!strcmp(val, "auto")) opt.backend = VL_BACKEND_AUTO;
            else if (!strcmp(val, "cpu")) opt.backend = VL_BACKEND_CPU;
            else if (!strcmp(val, "cuda")) opt.backend = VL_BACKEND_CUDA;
            else { fprintf(stderr, "volley: --backend expects auto, cpu or cuda, got '%s'\n", val); free(sets); return 2; }
        } else if (!strcmp(a, "--threads")) {
            NEED_VAL();
            char *end;
            long t = strtol(val, &end, 10);
            if (*end || end == val || t < 1 || t > 4096) { fprintf(stderr, "volley: --threads expects 1 to 4096, got '%s'\n", val); free(sets); return 2; }
            opt.threads = (int)t;
        } else if (!strcmp(a, "--deterministic")) opt.deterministic = 1;
        else if (!strcmp(a, "--no-output")) no_output = 1;
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) quiet = 1;
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "volley: unknown option '%s'\n", a); usage(stderr); free(sets); return 2; }
        else if (!path) path = a;
        else { fprintf(stderr, "volley: unexpected argument '%s'\n", a); free(sets); return 2; }
#undef NEED_VAL
    }
    if (!path) { fprintf(stderr, "volley run: missing MODEL.yaml\n"); usage(stderr); free(sets); return 2; }
    /* --seed and --duration become overrides too, so the model stored in the output is the
     * model that ran. */
    char seed_set[64], dur_set[64];
    if (opt.have_seed) {
        snprintf(seed_set, sizeof seed_set, "seed=%llu", (unsigned long long)opt.seed);
        sets[n_sets++] = seed_set;
    }
    if (opt.duration_ms > 0) {
        snprintf(dur_set, sizeof dur_set, "duration=%.17g ms", opt.duration_ms);
        sets[n_sets++] = dur_set;
    }
    vl_model *m = NULL;
    vl_status st = vl_model_load(path, sets, n_sets, &m);
    free(sets);
    if (st != VL_OK) {
        fprintf(stderr, "%s\n", m ? vl_model_error(m) : vl_strerror(st));
        vl_model_destroy(m);
        return 2;
    }
    print_warnings(m);
    char *def = out || no_output ? NULL : default_output(path);
    opt.output = no_output ? NULL : out ? out : def;
    opt.log = log_cb;
    opt.log_user = &quiet;
    opt.interrupt = (volatile int *)&g_stop;
    double dt_ms = vl_model_dt(m);
    if (!quiet && isatty(2)) {
        opt.progress = progress_cb; /* progress only on a terminal */
        opt.progress_user = &dt_ms;
    }
    signal(SIGINT, on_sigint);
    vl_sim *s = NULL;
    st = vl_sim_create(m, &opt, &s);
    if (st != VL_OK) {
        fprintf(stderr, "volley: %s\n", vl_sim_error(s));
        vl_sim_destroy(s);
        vl_model_destroy(m);
        free(def);
        return st == VL_ERR_MODEL ? 2 : 1;
    }
    st = vl_sim_run(s);
    const vl_run_result *r = vl_sim_result(s);
    for (size_t i = 0; i < vl_sim_warning_count(s); ++i) fprintf(stderr, "%s\n", vl_sim_warning(s, i));
    if (st != VL_OK && st != VL_INTERRUPTED) fprintf(stderr, "volley: %s\n", vl_sim_error(s));
    if (!quiet || st == VL_OK) {
        printf("volley %s: %s on %s (%s)\n", VL_VERSION, path, r->backend, r->device);
        printf("network: %llu neurons, %llu synapses, built in %.3f s\n", (unsigned long long)r->n_neurons,
               (unsigned long long)r->n_synapses, r->build_s);
        printf("%-20s %10s %12s %10s\n", "population", "size", "spikes", "rate (Hz)");
        uint64_t total = 0;
        for (size_t i = 0; i < r->n_pops; ++i) {
            printf("%-20s %10u %12llu %10.2f%s\n", r->pops[i].name, r->pops[i].size,
                   (unsigned long long)r->pops[i].spikes, r->pops[i].rate_hz, r->pops[i].is_input ? "  (input)" : "");
            total += r->pops[i].spikes;
        }
        double sim_ms = r->steps_done * dt_ms;
        printf("spikes: %llu\n", (unsigned long long)total);
        printf("synaptic events: %.4g (%.4g per simulated second)\n", r->events,
               sim_ms > 0 ? r->events / (sim_ms * 1e-3) : 0.0);
        printf("simulate: %.4f s for %.1f ms (%llu steps), RTF %.4f, %.3f us per step\n", r->sim_s, sim_ms,
               (unsigned long long)r->steps_done, r->rtf, r->steps_done ? 1e6 * r->sim_s / r->steps_done : 0.0);
        printf("write: %.4f s\n", r->write_s);
        if (opt.output) printf("output: %s%s\n", opt.output, r->complete ? "" : " (incomplete)");
    }
    vl_sim_destroy(s);
    vl_model_destroy(m);
    free(def);
    if (st == VL_INTERRUPTED || g_interrupt) return 130;
    return st == VL_OK ? 0 : 1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* volley bench [MODEL.yaml ...]: speed runs (nothing recorded), medians over --repeat runs, one
 * table line per model; --json FILE writes the same numbers. */
static int cmd_bench(int argc, char **argv) {
    const char *models[64], *json = NULL;
    size_t n_models = 0;
    int repeat = 3;
    vl_sim_options opt;
    memset(&opt, 0, sizeof opt);
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--backend") && val) {
            ++i;
            if (!strcmp(val, "auto")) opt.backend = VL_BACKEND_AUTO;
            else if (!strcmp(val, "cpu")) opt.backend = VL_BACKEND_CPU;
            else if (!strcmp(val, "cuda")) opt.backend = VL_BACKEND_CUDA;
            else { fprintf(stderr, "volley bench: --backend expects auto, cpu or cuda\n"); return 2; }
        } else if (!strcmp(a, "--duration") && val) {
            ++i;
            if (parse_time_arg(val, &opt.duration_ms)) return 2;
        } else if (!strcmp(a, "--threads") && val) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || t < 1 || t > 4096) { fprintf(stderr, "volley bench: --threads expects 1 to 4096\n"); return 2; }
            opt.threads = (int)t;
        } else if (!strcmp(a, "--repeat") && val) {
            repeat = atoi(argv[++i]);
            if (repeat < 1 || repeat > 100) { fprintf(stderr, "volley bench: --repeat expects 1 to 100\n"); return 2; }
        } else if (!strcmp(a, "--json") && val) {
            json = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "volley bench: unknown option '%s'\n", a);
            return 2;
        } else if (n_models < 64) {
            models[n_models++] = a;
        }
    }
    if (!n_models) { /* the standard set, from the repository root */
        models[n_models++] = "configs/coba.yaml";
        models[n_models++] = "configs/cuba.yaml";
        models[n_models++] = "configs/brunel_hakim.yaml";
    }
    FILE *js = json ? fopen(json, "w") : NULL;
    if (json && !js) { fprintf(stderr, "volley bench: cannot write '%s': %s\n", json, strerror(errno)); return 1; }
    if (js) fprintf(js, "[\n");
    printf("%-28s %10s %12s %9s %12s %10s %9s %8s  %s\n", "model", "neurons", "synapses", "rate Hz", "events/s",
           "us/step", "RTF", "build s", "backend (device)");
    int rc = 0;
    for (size_t k = 0; k < n_models; ++k) {
        vl_model *m = NULL;
        if (vl_model_load(models[k], NULL, 0, &m) != VL_OK) {
            fprintf(stderr, "%s\n", m ? vl_model_error(m) : "cannot load");
            vl_model_destroy(m);
            rc = 2;
            continue;
        }
        double sims[100], builds[100], rate = 0, ev = 0, ms = 0, neurons = 0, syn = 0, dt = vl_model_dt(m);
        char backend[200] = "";
        int ok = 1;
        for (int r = 0; r < repeat && ok; ++r) {
            vl_sim *s = NULL;
            if (vl_sim_create(m, &opt, &s) != VL_OK || vl_sim_run(s) != VL_OK) {
                fprintf(stderr, "volley bench: %s: %s\n", models[k], vl_sim_error(s));
                ok = 0;
            } else {
                const vl_run_result *res = vl_sim_result(s);
                double spikes = 0, size = 0;
                for (size_t i = 0; i < res->n_pops; ++i)
                    if (!res->pops[i].is_input) spikes += res->pops[i].spikes, size += res->pops[i].size;
                ms = res->steps_done * dt;
                rate = size > 0 && ms > 0 ? spikes / size / (ms * 1e-3) : 0;
                ev = ms > 0 ? res->events / (ms * 1e-3) : 0;
                neurons = (double)res->n_neurons;
                syn = (double)res->n_synapses;
                sims[r] = res->sim_s;
                builds[r] = res->build_s;
                snprintf(backend, sizeof backend, "%s (%s)", res->backend, res->device);
            }
            vl_sim_destroy(s);
        }
        vl_model_destroy(m);
        if (!ok) { rc = 1; continue; }
        qsort(sims, (size_t)repeat, sizeof *sims, cmp_double);
        qsort(builds, (size_t)repeat, sizeof *builds, cmp_double);
        double med = repeat % 2 ? sims[repeat / 2] : 0.5 * (sims[repeat / 2 - 1] + sims[repeat / 2]);
        double build = repeat % 2 ? builds[repeat / 2] : 0.5 * (builds[repeat / 2 - 1] + builds[repeat / 2]);
        double us = ms > 0 ? 1e6 * med / (ms / dt) : 0, rtf = ms > 0 ? med / (ms * 1e-3) : 0;
        printf("%-28s %10.0f %12.0f %9.2f %12.4g %10.3f %9.4f %8.3f  %s\n", models[k], neurons, syn, rate, ev, us, rtf,
               build, backend);
        if (js)
            fprintf(js, "%s {\"model\": \"%s\", \"neurons\": %.0f, \"synapses\": %.0f, \"rate_hz\": %.4f, "
                        "\"events_per_s\": %.6g, \"us_per_step\": %.4f, \"rtf\": %.5f, \"build_s\": %.4f, "
                        "\"repeat\": %d, \"backend\": \"%s\"}\n", k ? "," : "", models[k], neurons, syn, rate, ev, us, rtf,
                    build, repeat, backend);
    }
    if (js) { fprintf(js, "]\n"); fclose(js); }
    return rc;
}

static int cmd_info(void) {
    vl_build_info bi;
    vl_build_info_get(&bi);
    printf("volley %s (revision %s, %s build)\n", bi.version, bi.git_revision, bi.build_type);
    printf("CUDA backend: %s\n", bi.cuda_compiled ? "compiled in" : "not compiled in (CPU-only build)");
    printf("OpenMP: %s, %d threads\n", bi.openmp ? "yes" : "no", bi.omp_max_threads);
    printf("CPU code: %s\n", bi.avx2_used       ? "AVX2 (VOLLEY_CPU_ISA=baseline for the baseline build)"
                              : bi.avx2_compiled ? "baseline (an AVX2 build is in, but not used here)"
                                                 : "baseline");
    char buf[4096];
    int n = vl_devices_describe(buf, sizeof buf);
    if (n > 0) printf("devices:\n%s", buf);
    else printf("devices: none usable (%s); runs use the CPU backend\n",
                bi.cuda_compiled ? "no CUDA driver or GPU" : "CUDA not compiled in");
    return 0;
}

/* `volley CMD ... -h|--help` anywhere except as an option's value: the usage, exit 0. */
static int wants_help(int argc, char **argv) {
    static const char *const with_value[] = {"-o", "--seed", "--set", "--duration", "--backend", "--threads",
                                             "--repeat", "--json"};
    for (int i = 2; i < argc; ++i) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; ++k)
            if (!strcmp(argv[i], with_value[k])) { ++i; break; }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) { printf("volley %s\n", VL_VERSION); return 0; }
    if (wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "run")) return cmd_run(argc - 2, argv + 2);
    if (!strcmp(argv[1], "check")) {
        const char *path = NULL;
        const char **sets = calloc((size_t)argc, sizeof *sets);
        size_t n = 0;
        for (int i = 2; i < argc; ++i) {
            if (!strcmp(argv[i], "--set") && i + 1 < argc) sets[n++] = argv[++i];
            else if (argv[i][0] == '-') { fprintf(stderr, "volley check: unknown option '%s'\n", argv[i]); free(sets); return 2; }
            else if (!path) path = argv[i];
            else { fprintf(stderr, "volley check: unexpected argument '%s'\n", argv[i]); free(sets); return 2; }
        }
        if (!path) { fprintf(stderr, "volley check: missing MODEL.yaml\n"); free(sets); return 2; }
        int rc = cmd_check(path, sets, n);
        free(sets);
        return rc;
    }
    if (!strcmp(argv[1], "info")) return cmd_info();
    if (!strcmp(argv[1], "bench")) return cmd_bench(argc - 2, argv + 2);
    fprintf(stderr, "volley: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
