/* The HDF5 writer: SONATA spikes (/spikes/<pop>), state reports (/report/<pop>), population
 * rates (/rates/<pop>) and everything else Volley knows (/volley). Datasets are chunked,
 * extendible and compressed; one thread owns every HDF5 call and flushes after each chunk, so an
 * interrupted or crashed run leaves a readable file holding everything up to its last flush. */
#include "record/record.h"

#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/neuron.h"
#include "model/model.h"
#include "record/compress.h"
#include "network/network.h"

int vl_spike_buf_push(vl_spike_buf *b, uint32_t step, uint32_t id) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4096;
        uint32_t *s = realloc(b->step, cap * sizeof *s);
        if (!s) return -1;
        b->step = s;
        uint32_t *i = realloc(b->id, cap * sizeof *i);
        if (!i) return -1;
        b->id = i;
        b->cap = cap;
    }
    b->step[b->n] = step;
    b->id[b->n++] = id;
    return 0;
}

/* An extendible 1-D or 2-D dataset (len rows). Spike and report datasets are written chunk by
 * chunk (direct = 1, record/compress.h): the writer keeps the rows of the last, partial chunk
 * (tail) and writes that chunk again, longer, at the next append. */
typedef struct ext_ds {
    hid_t id;
    hsize_t len;
    int rank, direct;
    hsize_t chunk_n;                  /* rows per chunk (a chunk spans every column) */
    size_t elem, row_bytes;           /* the element type's size; bytes per row */
    unsigned char *tail, *tail_next;  /* direct: chunk_n rows each */
} ext_ds;

/* A queued chunk of a direct dataset: the vl_zjob at the same index says what goes in it. */
typedef struct zq {
    ext_ds *e;
    hsize_t chunk, new_len; /* chunk index; the dataset's length once the append is written */
} zq;

typedef struct pop_out {
    hid_t grp;
    ext_ds ts, ids;
    int spikes;
    /* rates */
    ext_ds rate;
    uint64_t bin_count;
    uint32_t bin_fill;
} pop_out;

typedef struct rep_out {
    ext_ds *data; /* per variable */
    hid_t time_ds;
    size_t n_cols;
} rep_out;

#define N_CHUNKS 2

struct vl_writer {
    const vl_spec *s;
    const vl_network *net;
    ext_ds *wds, *wtime;     /* per projection: weight snapshots and their times (id -1: none) */
    hid_t file, volley;
    pop_out *pops;
    rep_out *reps;
    uint32_t bin_steps;
    vl_chunk chunks[N_CHUNKS];
    int state[N_CHUNKS]; /* 0 free, 1 being filled, 2 submitted */
    uint64_t order[N_CHUNKS], next_order;
    pthread_t thread;
    int thread_started, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char err[2048];
    int failed;
    double busy_s; /* time the writer thread spent writing */
    int z_threads;   /* chunk compression threads */
    vl_zjob *zj;     /* queued chunks (their out buffers are kept for reuse) */
    zq *zq;
    size_t n_z, cap_z;
};

/* ---- HDF5 helpers ---- */

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
    char *buf = data;
    size_t l = strlen(buf);
    if (n < 4 && l < 900)
        snprintf(buf + l, 1000 - l, "%s%s (%s)", l ? "; " : "", e->desc ? e->desc : "?", e->func_name ? e->func_name : "?");
    return 0;
}

static void h5_fail(vl_writer *w, const char *what) {
    if (w->failed) return;
    char stack[1000] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, stack);
    snprintf(w->err, sizeof w->err, "HDF5: %s failed%s%s", what, stack[0] ? ": " : "", stack);
    w->failed = 1;
}

static hid_t str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static int attr_str(hid_t obj, const char *name, const char *value) {
    hid_t t = str_type(), sp = H5Screate(H5S_SCALAR);
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, t, &value) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

static int attr_num(hid_t obj, const char *name, hid_t type, const void *v, hsize_t n) {
    hid_t sp = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, type, v) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

static int write_str_ds(hid_t loc, const char *name, const char *text) {
    hid_t t = str_type(), sp = H5Screate(H5S_SCALAR);
    if (H5Lexists(loc, name, H5P_DEFAULT) > 0) H5Ldelete(loc, name, H5P_DEFAULT);
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 || H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) < 0 ? -1 : 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

static int write_fixed(hid_t loc, const char *name, hid_t type, const void *data, hsize_t n) {
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 || (n && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) ? -1 : 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return rc;
}

/* Creates an extendible dataset of rank 1 (cols == 0) or 2 (rows x cols), compressed. */
static int ext_create(ext_ds *e, hid_t loc, const char *name, hid_t type, hsize_t cols) {
    int rank = cols ? 2 : 1;
    hsize_t dims[2] = {0, cols}, maxd[2] = {H5S_UNLIMITED, cols}, chunk[2];
    size_t elem = H5Tget_size(type);
    hsize_t per_row = cols ? cols : 1;
    chunk[0] = (hsize_t)(262144 / (elem * per_row));
    if (chunk[0] < 1) chunk[0] = 1;
    if (chunk[0] > 65536) chunk[0] = 65536;
    chunk[1] = cols;
    e->chunk_n = chunk[0];
    e->rank = rank;
    e->elem = elem;
    e->row_bytes = elem * per_row;
    e->direct = 0;
    e->tail = e->tail_next = NULL;
    hid_t sp = H5Screate_simple(rank, dims, maxd), pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pl, rank, chunk);
    H5Pset_shuffle(pl);
    H5Pset_deflate(pl, 1);
    e->id = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    e->len = 0;
    H5Pclose(pl);
    H5Sclose(sp);
    return e->id < 0 ? -1 : 0;
}

/* Switches a dataset to direct chunk writes when chunk compression is compiled in and the file's
 * element type is the host's mem_type byte for byte (so the bytes the writer builds are the
 * file's). Otherwise it stays with H5Dwrite. */
static int ext_direct(ext_ds *e, hid_t mem_type) {
    hid_t ft = H5Dget_type(e->id);
    int same = ft >= 0 && H5Tequal(ft, mem_type) > 0;
    if (ft >= 0) H5Tclose(ft);
    if (!vl_z_available() || !same) return 0;
    e->tail = malloc(e->chunk_n * e->row_bytes);
    e->tail_next = malloc(e->chunk_n * e->row_bytes);
    if (!e->tail || !e->tail_next) return -1;
    e->direct = 1;
    return 0;
}

/* Queues the chunks that appending n rows to direct dataset e writes: the partial last chunk
 * again with the new rows after its old ones, then new chunks. how gives the rows' source and
 * kind (its src, n, head and chunk fields are set here). */
static int z_queue(vl_writer *w, ext_ds *e, const vl_zjob *how, size_t n) {
    const hsize_t cn = e->chunk_n, end = e->len + n, first = e->len / cn;
    size_t done = 0;
    for (hsize_t ch = first; ch * cn < end; ++ch) {
        if (w->n_z == w->cap_z) {
            size_t cap = w->cap_z ? 2 * w->cap_z : 64;
            vl_zjob *zj = realloc(w->zj, cap * sizeof *zj);
            if (zj) w->zj = zj;
            zq *q = realloc(w->zq, cap * sizeof *q);
            if (q) w->zq = q;
            if (!zj || !q) return -1;
            memset(w->zj + w->cap_z, 0, (cap - w->cap_z) * sizeof *zj);
            w->cap_z = cap;
        }
        vl_zjob *j = &w->zj[w->n_z];
        unsigned char *out = j->out;
        size_t out_cap = j->out_cap;
        *j = *how;
        j->out = out;
        j->out_cap = out_cap;
        j->out_len = 0;
        j->zerr = 0;
        j->keep = NULL;
        j->head_n = ch == first ? (size_t)(e->len % cn) : 0;
        j->head = j->head_n ? e->tail : NULL;
        j->n = (size_t)(cn - j->head_n) < n - done ? (size_t)(cn - j->head_n) : n - done;
        /* the source of row `done`: 4-byte values for spikes, src_stride apart for rows */
        j->src = (const unsigned char *)how->src + done * (how->kind == VL_Z_ROWS ? how->src_stride : 4);
        j->row_bytes = e->row_bytes;
        j->elem = e->elem;
        j->chunk_n = (size_t)cn;
        done += j->n;
        if (j->head_n + j->n < cn) j->keep = e->tail_next; /* the new partial last chunk */
        w->zq[w->n_z++] = (zq){e, ch, end};
    }
    return 0;
}

/* Compresses the queued chunks on the writer's threads, then stores them in order. */
static void z_flush(vl_writer *w) {
    if (!w->n_z) return;
    if (vl_z_run(w->zj, w->n_z, w->z_threads)) {
        int zerr = 0;
        for (size_t k = 0; k < w->n_z && !zerr; ++k) zerr = w->zj[k].zerr;
        if (zerr) snprintf(w->err, sizeof w->err, "compressing output chunks failed (zlib error %d)", zerr);
        else snprintf(w->err, sizeof w->err, "compressing output chunks failed (out of memory)");
        w->failed = 1;
    }
    for (size_t k = 0; k < w->n_z && !w->failed; ++k) {
        ext_ds *e = w->zq[k].e;
        hsize_t dims[2] = {w->zq[k].new_len, e->rank > 1 ? e->row_bytes / e->elem : 0};
        if ((k == 0 || w->zq[k - 1].e != e) && H5Dset_extent(e->id, dims) < 0) {
            h5_fail(w, "extending a dataset");
            break;
        }
        hsize_t off[2] = {w->zq[k].chunk * e->chunk_n, 0};
        if (H5Dwrite_chunk(e->id, H5P_DEFAULT, 0, off, w->zj[k].out_len, w->zj[k].out) < 0) {
            h5_fail(w, "writing a compressed chunk");
            break;
        }
        if (k + 1 == w->n_z || w->zq[k + 1].e != e) { /* the dataset's last chunk of this append */
            e->len = w->zq[k].new_len;
            if (w->zj[k].keep) {
                unsigned char *t = e->tail;
                e->tail = e->tail_next;
                e->tail_next = t;
            }
        }
    }
    w->n_z = 0;
}

static void ext_free(ext_ds *e) {
    if (e->id > 0) H5Dclose(e->id);
    free(e->tail);
    free(e->tail_next);
}

static int ext_append(ext_ds *e, hid_t mem_type, const void *data, hsize_t rows, hsize_t cols) {
    if (rows == 0) return 0;
    int rank = cols ? 2 : 1;
    hsize_t newd[2] = {e->len + rows, cols}, start[2] = {e->len, 0}, count[2] = {rows, cols};
    if (H5Dset_extent(e->id, newd) < 0) return -1;
    hid_t fs = H5Dget_space(e->id), ms = H5Screate_simple(rank, count, NULL);
    int rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
             H5Dwrite(e->id, mem_type, ms, fs, H5P_DEFAULT, data) < 0 ? -1 : 0;
    H5Sclose(ms);
    H5Sclose(fs);
    if (rc == 0) e->len += rows;
    return rc;
}

static hid_t grp(hid_t loc, const char *name) {
    htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
    return ex > 0 ? H5Gopen2(loc, name, H5P_DEFAULT) : H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

static const char *var_units(const vl_pop_spec *p, const char *var) {
    if (!strcmp(var, "v") || p->model == VL_LIF_DELTA) return "mV";
    return p->model == VL_LIF_CURR_EXP ? "pA" : "nS";
}

/* A 1-D or 2-D dataset of UTF-8 strings. */
static int write_strings(hid_t loc, const char *name, const char **v, hsize_t rows, hsize_t cols) {
    hid_t t = str_type();
    hsize_t dims[2] = {rows, cols};
    hid_t sp = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 || (rows && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) ? -1 : 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

/* /volley/trials: the stimulus protocol as it ran, so analysis never has to guess. onset
 * [trials x phases] ms with attribute phases, end [trials] ms, condition [trials], pattern
 * [trials x phases] (the pattern each phase shows; "input:pattern" joined by "," with several
 * pattern inputs; "" for none). */
static int write_trials(hid_t volley, const vl_spec *s) {
    const vl_stimulus_spec *S = &s->stim;
    size_t nt = S->n_trials, np = S->n_phases;
    hid_t g = H5Gcreate2(volley, "trials", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return -1;
    double *onset = vl__calloc(nt * np + 1, sizeof *onset), *end = vl__calloc(nt + 1, sizeof *end);
    const char **cond = vl__calloc(nt + 1, sizeof *cond), **pat = vl__calloc(nt * np + 1, sizeof *pat);
    char **owned = vl__calloc(nt * np + 1, sizeof *owned);
    const char **names = vl__calloc(np + 1, sizeof *names);
    uint32_t *index = vl__calloc(nt + 1, sizeof *index);
    int rc = !onset || !end || !cond || !pat || !owned || !names || !index;
    double t = 0;
    for (size_t k = 0; !rc && k < nt; ++k) {
        const vl_condition_spec *C = &S->conditions[S->trials[k]];
        cond[k] = C->name;
        index[k] = (uint32_t)k;
        for (size_t ph = 0; ph < np; ++ph) {
            onset[k * np + ph] = t;
            t += S->phases[ph].duration;
            char buf[512] = "";
            for (size_t in = 0; in < S->n_inputs; ++in) {
                int q = C->pattern[ph * S->n_inputs + in];
                if (q < 0) continue;
                size_t l = strlen(buf);
                if (S->n_inputs == 1) snprintf(buf + l, sizeof buf - l, "%s", S->patterns[q].name);
                else snprintf(buf + l, sizeof buf - l, "%s%s:%s", l ? "," : "", s->pops[S->inputs[in]].name,
                              S->patterns[q].name);
            }
            owned[k * np + ph] = vl__strdup(buf);
            pat[k * np + ph] = owned[k * np + ph];
        }
        end[k] = t;
    }
    for (size_t ph = 0; ph < np; ++ph) names[ph] = S->phases[ph].name;
    hsize_t dims[2] = {nt, np};
    if (!rc) {
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t d = H5Dcreate2(g, "onset", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        rc = d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, onset) < 0;
        if (!rc) {
            hid_t t2 = str_type(), as;
            hsize_t n = np;
            as = H5Screate_simple(1, &n, NULL);
            hid_t a = H5Acreate2(d, "phases", t2, as, H5P_DEFAULT, H5P_DEFAULT);
            rc = a < 0 || H5Awrite(a, t2, names) < 0;
            if (a >= 0) H5Aclose(a);
            H5Sclose(as);
            H5Tclose(t2);
            rc = rc || attr_str(d, "units", "ms");
        }
        if (d >= 0) H5Dclose(d);
        H5Sclose(sp);
    }
    rc = rc || write_fixed(g, "end", H5T_IEEE_F64LE, end, nt) || write_fixed(g, "index", H5T_STD_U32LE, index, nt) ||
         write_strings(g, "condition", cond, nt, 0) || write_strings(g, "pattern", pat, nt, np);
    for (size_t k = 0; owned && k < nt * np; ++k) free(owned[k]);
    free(onset); free(end); free(cond); free(pat); free(owned); free(names); free(index);
    H5Gclose(g);
    return rc ? -1 : 0;
}

static int create_layout(vl_writer *w, const vl_writer_meta *meta) {
    const vl_spec *s = w->s;
    hid_t f = w->file;
    uint32_t magic = 0x0A7A, version[2] = {0, 1};
    if (attr_num(f, "magic", H5T_NATIVE_UINT32, &magic, 1) || attr_num(f, "version", H5T_NATIVE_UINT32, version, 2))
        return -1;
    hid_t enum_t = H5Tenum_create(H5T_NATIVE_UINT8);
    uint8_t ev;
    ev = 0; H5Tenum_insert(enum_t, "none", &ev);
    ev = 1; H5Tenum_insert(enum_t, "by_id", &ev);
    ev = 2; H5Tenum_insert(enum_t, "by_time", &ev);
    hid_t spikes = -1, report = -1, rates = -1;
    for (size_t i = 0; i < s->n_pops; ++i) {
        pop_out *po = &w->pops[i];
        po->grp = po->ts.id = po->ids.id = po->rate.id = -1;
        if (s->rec_spikes[i]) {
            if (spikes < 0 && (spikes = grp(f, "spikes")) < 0) return -1;
            po->grp = H5Gcreate2(spikes, s->pops[i].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (po->grp < 0) return -1;
            uint8_t by_time = 2;
            if (attr_num(po->grp, "sorting", enum_t, &by_time, 1)) return -1;
            if (ext_create(&po->ts, po->grp, "timestamps", H5T_IEEE_F64LE, 0) ||
                ext_create(&po->ids, po->grp, "node_ids", H5T_STD_U64LE, 0) ||
                ext_direct(&po->ts, H5T_NATIVE_DOUBLE) || ext_direct(&po->ids, H5T_NATIVE_UINT64))
                return -1;
            if (attr_str(po->ts.id, "units", "ms")) return -1;
            po->spikes = 1;
        }
        if (w->bin_steps) {
            if (rates < 0 && (rates = grp(f, "rates")) < 0) return -1;
            hid_t g = H5Gcreate2(rates, s->pops[i].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g < 0 || ext_create(&po->rate, g, "rate", H5T_IEEE_F32LE, 0)) return -1;
            double bin = w->bin_steps * s->dt;
            if (attr_str(po->rate.id, "units", "Hz") || attr_num(po->rate.id, "bin", H5T_NATIVE_DOUBLE, &bin, 1) ||
                attr_str(po->rate.id, "bin_units", "ms"))
                return -1;
            H5Gclose(g);
        }
    }
    H5Tclose(enum_t);
    for (size_t k = 0; k < s->n_state; ++k) {
        const vl_state_rec_spec *sr = &s->state[k];
        const vl_pop_spec *p = &s->pops[sr->pop];
        rep_out *ro = &w->reps[k];
        if (report < 0 && (report = grp(f, "report")) < 0) return -1;
        hid_t g = H5Gcreate2(report, p->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) return -1;
        ro->n_cols = sr->n_ids;
        ro->data = vl__calloc(sr->n_vars, sizeof *ro->data);
        for (size_t v = 0; v < sr->n_vars; ++v) {
            char name[48];
            snprintf(name, sizeof name, v == 0 ? "data" : "data_%s", sr->vars[v]);
            if (ext_create(&ro->data[v], g, name, H5T_IEEE_F32LE, sr->n_ids) ||
                ext_direct(&ro->data[v], H5T_NATIVE_FLOAT) ||
                attr_str(ro->data[v].id, "units", var_units(p, sr->vars[v])) ||
                attr_str(ro->data[v].id, "variable", sr->vars[v]))
                return -1;
        }
        hid_t mp = H5Gcreate2(g, "mapping", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        uint64_t *ids = vl__calloc(sr->n_ids + 1, sizeof *ids), *ptr = vl__calloc(sr->n_ids + 1, sizeof *ptr);
        uint32_t *el = vl__calloc(sr->n_ids + 1, sizeof *el);
        for (size_t i = 0; i < sr->n_ids; ++i) ids[i] = sr->ids[i];
        for (size_t i = 0; i <= sr->n_ids; ++i) ptr[i] = i;
        int rc = write_fixed(mp, "node_ids", H5T_STD_U64LE, ids, sr->n_ids) ||
                 write_fixed(mp, "index_pointers", H5T_STD_U64LE, ptr, sr->n_ids + 1) ||
                 write_fixed(mp, "element_ids", H5T_STD_U32LE, el, sr->n_ids);
        free(ids); free(ptr); free(el);
        if (rc) return -1;
        /* bmtk reads the singular name: a hard link to the same dataset. */
        if (H5Lcreate_hard(mp, "index_pointers", mp, "index_pointer", H5P_DEFAULT, H5P_DEFAULT) < 0) return -1;
        double t3[3] = {0.0, 0.0, sr->every * s->dt};
        hsize_t three = 3;
        hid_t sp = H5Screate_simple(1, &three, NULL);
        ro->time_ds = H5Dcreate2(mp, "time", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Sclose(sp);
        if (ro->time_ds < 0 || H5Dwrite(ro->time_ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t3) < 0 ||
            attr_str(ro->time_ds, "units", "ms"))
            return -1;
        H5Gclose(mp);
        H5Gclose(g);
    }
    if (spikes >= 0) H5Gclose(spikes);
    if (report >= 0) H5Gclose(report);
    if (rates >= 0) H5Gclose(rates);
    w->volley = H5Gcreate2(f, "volley", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (w->volley < 0) return -1;
    hid_t wg = -1;
    for (size_t q = 0; q < s->n_proj; ++q) {
        w->wds[q].id = w->wtime[q].id = -1;
        if (s->proj[q].weights_every < 0) continue;
        const vl_csr *c = &w->net->proj[q];
        if (wg < 0 && (wg = H5Gcreate2(w->volley, "weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) return -1;
        hid_t g = H5Gcreate2(wg, s->proj[q].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) return -1;
        uint32_t *src = vl__calloc(c->n_syn + 1, sizeof *src), *tgt = vl__calloc(c->n_syn + 1, sizeof *tgt);
        for (uint32_t r = 0; r < c->n_rows; ++r)
            for (uint64_t j = c->row_ptr[r]; j < c->row_ptr[r + 1]; ++j) src[j] = c->src_lo + r, tgt[j] = c->col[j];
        int rc = write_fixed(g, "source", H5T_STD_U32LE, src, c->n_syn) ||
                 write_fixed(g, "target", H5T_STD_U32LE, tgt, c->n_syn);
        free(src);
        free(tgt);
        if (rc || ext_create(&w->wds[q], g, "w", H5T_IEEE_F32LE, c->n_syn ? c->n_syn : 1) ||
            ext_create(&w->wtime[q], g, "time", H5T_IEEE_F64LE, 0) || attr_str(w->wtime[q].id, "units", "ms") ||
            attr_str(w->wds[q].id, "units", var_units(&s->pops[s->proj[q].tgt], "g")))
            return -1;
        const vl_stdp_spec *st = &s->proj[q].stdp;
        if (st->on && (attr_num(w->wds[q].id, "w_min", H5T_NATIVE_DOUBLE, &st->w_min, 1) ||
                       attr_num(w->wds[q].id, "w_max", H5T_NATIVE_DOUBLE, &st->w_max, 1)))
            return -1;
        if (attr_str(g, "source_population", s->pops[s->proj[q].src].name) ||
            attr_str(g, "target_population", s->pops[s->proj[q].tgt].name))
            return -1;
        H5Gclose(g);
    }
    if (wg >= 0) H5Gclose(wg);
    if (s->stim.n_trials && write_trials(w->volley, s)) return -1;
    int zero = 0;
    vl_build_info bi;
    vl_build_info_get(&bi);
    char flags[512];
    snprintf(flags, sizeof flags, "build %s; C flags %s; CUDA %s; OpenMP %s", bi.build_type, bi.c_flags,
             bi.cuda_compiled ? "yes" : "no", bi.openmp ? "yes" : "no");
    if (attr_num(w->volley, "complete", H5T_NATIVE_INT, &zero, 1) || attr_str(w->volley, "status", "running") ||
        attr_str(w->volley, "version", bi.version) || attr_str(w->volley, "git_revision", bi.git_revision) ||
        attr_str(w->volley, "build", flags) || attr_num(w->volley, "seed", H5T_NATIVE_UINT64, &meta->seed, 1) ||
        attr_str(w->volley, "backend", meta->backend) || attr_str(w->volley, "device", meta->device) ||
        attr_num(w->volley, "dt", H5T_NATIVE_DOUBLE, &s->dt, 1) ||
        attr_num(w->volley, "duration", H5T_NATIVE_DOUBLE, &s->duration, 1) ||
        write_str_ds(w->volley, "model", s->text ? s->text : "") || attr_str(w->volley, "model_file", s->path))
        return -1;
    return 0;
}

static void write_chunk(vl_writer *w, vl_chunk *c) {
    const vl_spec *s = w->s;
    for (size_t i = 0; i < s->n_pops && !w->failed; ++i) {
        pop_out *po = &w->pops[i];
        if (po->spikes && po->ts.direct && po->ids.direct) { /* compressed below, on several threads */
            vl_spike_buf *b = &c->spk[i];
            const vl_zjob ts = {.src = b->step, .kind = VL_Z_TIME, .step0 = c->step0, .dt = s->dt},
                          ids = {.src = b->id, .kind = VL_Z_ID};
            if (z_queue(w, &po->ts, &ts, b->n) || z_queue(w, &po->ids, &ids, b->n)) {
                snprintf(w->err, sizeof w->err, "out of memory writing spikes");
                w->failed = 1;
            }
        } else if (po->spikes) {
            vl_spike_buf *b = &c->spk[i];
            double *ts = malloc((b->n ? b->n : 1) * sizeof *ts);
            uint64_t *ids = malloc((b->n ? b->n : 1) * sizeof *ids);
            if (!ts || !ids) { snprintf(w->err, sizeof w->err, "out of memory writing spikes"); w->failed = 1; }
            for (size_t k = 0; ts && ids && k < b->n; ++k) {
                ts[k] = (double)(c->step0 + b->step[k]) * s->dt;
                ids[k] = b->id[k];
            }
            if (!w->failed && (ext_append(&po->ts, H5T_NATIVE_DOUBLE, ts, b->n, 0) ||
                               ext_append(&po->ids, H5T_NATIVE_UINT64, ids, b->n, 0)))
                h5_fail(w, "appending spikes");
            free(ts);
            free(ids);
        }
        if (w->bin_steps) {
            float rates[256];
            size_t nr = 0;
            for (uint32_t k = 0; k < c->n_steps; ++k) {
                po->bin_count += c->count[i][k];
                if (++po->bin_fill == w->bin_steps) {
                    rates[nr++] = (float)(po->bin_count / ((double)s->pops[i].size * w->bin_steps * s->dt * 1e-3));
                    po->bin_count = 0;
                    po->bin_fill = 0;
                    if (nr == 256) {
                        if (ext_append(&po->rate, H5T_NATIVE_FLOAT, rates, nr, 0)) h5_fail(w, "appending rates");
                        nr = 0;
                    }
                }
            }
            if (nr && ext_append(&po->rate, H5T_NATIVE_FLOAT, rates, nr, 0)) h5_fail(w, "appending rates");
        }
    }
    for (size_t k = 0; k < s->n_state && !w->failed; ++k) {
        const vl_state_rec_spec *sr = &s->state[k];
        rep_out *ro = &w->reps[k];
        uint32_t nf = c->n_frames[k];
        if (!nf) continue;
        for (size_t v = 0; v < sr->n_vars; ++v) {
            if (ro->data[v].direct) { /* compressed with the spikes, below: frame rows n_vars rows apart */
                const vl_zjob rows = {.src = c->frames[k] + v * sr->n_ids, .kind = VL_Z_ROWS,
                                      .src_stride = sr->n_vars * sr->n_ids * sizeof(float)};
                if (z_queue(w, &ro->data[v], &rows, nf)) {
                    snprintf(w->err, sizeof w->err, "out of memory writing state");
                    w->failed = 1;
                }
                continue;
            }
            /* frames are stored frame-major with all variables per frame: gather one variable */
            float *tmp = malloc((size_t)nf * sr->n_ids * sizeof *tmp);
            if (!tmp) { snprintf(w->err, sizeof w->err, "out of memory writing state"); w->failed = 1; break; }
            for (uint32_t fr = 0; fr < nf; ++fr)
                memcpy(tmp + (size_t)fr * sr->n_ids, c->frames[k] + ((size_t)fr * sr->n_vars + v) * sr->n_ids,
                       sr->n_ids * sizeof *tmp);
            if (ext_append(&ro->data[v], H5T_NATIVE_FLOAT, tmp, nf, sr->n_ids)) h5_fail(w, "appending state");
            free(tmp);
        }
    }
    if (!w->failed) z_flush(w); /* every queued spike and report chunk, on the compression threads */
    w->n_z = 0;
    for (size_t k = 0; k < s->n_state && !w->failed; ++k) { /* the reports' time ranges, now complete */
        const vl_state_rec_spec *sr = &s->state[k];
        const rep_out *ro = &w->reps[k];
        if (!c->n_frames[k]) continue;
        double t3[3] = {0.0, (double)ro->data[0].len * sr->every * s->dt, sr->every * s->dt};
        if (H5Dwrite(ro->time_ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t3) < 0) h5_fail(w, "time");
    }
    for (size_t k = 0; k < c->n_snap && !w->failed; ++k) {
        const vl_weight_snap *sn = &c->snap[k];
        hsize_t n = w->net->proj[sn->proj].n_syn;
        if (ext_append(&w->wds[sn->proj], H5T_NATIVE_FLOAT, sn->w, 1, n ? n : 1) ||
            ext_append(&w->wtime[sn->proj], H5T_NATIVE_DOUBLE, &sn->time_ms, 1, 0))
            h5_fail(w, "appending a weight snapshot");
    }
    if (!w->failed && H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0) h5_fail(w, "flushing the file");
}

static void chunk_reset(const vl_spec *s, vl_chunk *c) {
    for (size_t k = 0; k < c->n_snap; ++k) free(c->snap[k].w);
    free(c->snap);
    c->snap = NULL;
    c->n_snap = 0;
    for (size_t i = 0; i < s->n_pops; ++i) c->spk[i].n = 0;
    for (size_t k = 0; k < s->n_state; ++k) c->n_frames[k] = 0;
    c->n_steps = 0;
}

static void *writer_main(void *arg) {
    vl_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        int pick = -1;
        for (int i = 0; i < N_CHUNKS; ++i)
            if (w->state[i] == 2 && (pick < 0 || w->order[i] < w->order[pick])) pick = i;
        if (pick < 0) {
            if (w->stop) break;
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        pthread_mutex_unlock(&w->mu);
        double t0 = vl__now();
        if (!w->failed) write_chunk(w, &w->chunks[pick]);
        w->busy_s += vl__now() - t0;
        chunk_reset(w->s, &w->chunks[pick]);
        pthread_mutex_lock(&w->mu);
        w->state[pick] = 0;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static int chunk_alloc(const vl_spec *s, uint32_t chunk_steps, vl_chunk *c) {
    c->spk = vl__calloc(s->n_pops, sizeof *c->spk);
    c->count = vl__calloc(s->n_pops, sizeof *c->count);
    c->frames = vl__calloc(s->n_state, sizeof *c->frames);
    c->n_frames = vl__calloc(s->n_state, sizeof *c->n_frames);
    if (!c->spk || !c->count || !c->frames || !c->n_frames) return -1;
    for (size_t i = 0; i < s->n_pops; ++i)
        if (!(c->count[i] = vl__calloc(chunk_steps, sizeof **c->count))) return -1;
    for (size_t k = 0; k < s->n_state; ++k) {
        size_t frames = chunk_steps / s->state[k].every + 1;
        if (!(c->frames[k] = vl__calloc(frames * s->state[k].n_vars * s->state[k].n_ids, sizeof(float)))) return -1;
    }
    return 0;
}

static void chunk_free(const vl_spec *s, vl_chunk *c) {
    chunk_reset(s, c);
    for (size_t i = 0; c->spk && i < s->n_pops; ++i) { free(c->spk[i].step); free(c->spk[i].id); }
    for (size_t i = 0; c->count && i < s->n_pops; ++i) free(c->count[i]);
    for (size_t k = 0; c->frames && k < s->n_state; ++k) free(c->frames[k]);
    free(c->spk); free(c->count); free(c->frames); free(c->n_frames);
}

vl_status vl_writer_open(const char *path, const vl_spec *s, const vl_network *net, uint32_t chunk_steps,
                         const vl_writer_meta *meta, vl_writer **out, char *err, size_t errlen) {
    vl_writer *w = vl__calloc(1, sizeof *w);
    *out = w;
    if (!w) return VL_ERR_NOMEM;
    w->s = s;
    w->net = net;
    w->file = w->volley = -1;
    w->bin_steps = s->rate_bin > 0 ? (uint32_t)llround(s->rate_bin / s->dt) : 0;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->z_threads = vl_z_threads(meta ? meta->threads : 0);
    for (int i = 0; i < N_CHUNKS; ++i)
        if (chunk_alloc(s, chunk_steps, &w->chunks[i])) {
            snprintf(err, errlen, "out of memory for the recording buffers");
            return VL_ERR_NOMEM;
        }
    if (!path) return VL_OK;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    w->pops = vl__calloc(s->n_pops, sizeof *w->pops);
    w->reps = vl__calloc(s->n_state ? s->n_state : 1, sizeof *w->reps);
    w->wds = vl__calloc(s->n_proj + 1, sizeof *w->wds);
    w->wtime = vl__calloc(s->n_proj + 1, sizeof *w->wtime);
    w->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) {
        h5_fail(w, "creating the output file");
        snprintf(err, errlen, "cannot create '%s' (%s)", path, w->err);
        return VL_ERR_IO;
    }
    if (create_layout(w, meta)) {
        h5_fail(w, "creating the output layout");
        snprintf(err, errlen, "%s", w->err);
        return VL_ERR_HDF5;
    }
    H5Fflush(w->file, H5F_SCOPE_GLOBAL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        snprintf(err, errlen, "cannot start the writer thread");
        return VL_ERR_IO;
    }
    w->thread_started = 1;
    return VL_OK;
}

vl_chunk *vl_writer_acquire(vl_writer *w) {
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->failed) { pthread_mutex_unlock(&w->mu); return NULL; }
        for (int i = 0; i < N_CHUNKS; ++i)
            if (w->state[i] == 0) {
                w->state[i] = 1;
                pthread_mutex_unlock(&w->mu);
                return &w->chunks[i];
            }
        pthread_cond_wait(&w->cv, &w->mu);
    }
}

void vl_writer_submit(vl_writer *w, vl_chunk *c) {
    int i = (int)(c - w->chunks);
    pthread_mutex_lock(&w->mu);
    if (!w->thread_started) {
        chunk_reset(w->s, c);
        w->state[i] = 0;
    } else {
        w->state[i] = 2;
        w->order[i] = w->next_order++;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}

const char *vl_writer_error(vl_writer *w) { return w->failed ? w->err : NULL; }

vl_status vl_writer_close(vl_writer *w, const vl_writer_summary *sum, char *err, size_t errlen) {
    if (!w) return VL_OK;
    vl_status st = VL_OK;
    if (w->thread_started) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    const vl_spec *s = w->s;
    if (w->file >= 0 && sum && !w->failed) {
        const vl_run_result *r = sum->res;
        hid_t v = w->volley;
        int rc = attr_num(v, "steps_done", H5T_NATIVE_UINT64, &sum->steps_done, 1) ||
                 attr_str(v, "status", sum->status) ||
                 attr_num(v, "build_s", H5T_NATIVE_DOUBLE, &r->build_s, 1) ||
                 attr_num(v, "simulate_s", H5T_NATIVE_DOUBLE, &r->sim_s, 1) ||
                 attr_num(v, "write_s", H5T_NATIVE_DOUBLE, &w->busy_s, 1) ||
                 attr_num(v, "n_synapses", H5T_NATIVE_UINT64, &r->n_synapses, 1) ||
                 attr_num(v, "n_neurons", H5T_NATIVE_UINT64, &r->n_neurons, 1);
        hid_t pg = H5Gcreate2(v, "populations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        for (size_t i = 0; pg >= 0 && !rc && i < r->n_pops; ++i) {
            hid_t g = H5Gcreate2(pg, r->pops[i].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            rc = g < 0 || attr_num(g, "size", H5T_NATIVE_UINT32, &r->pops[i].size, 1) ||
                 attr_num(g, "spike_count", H5T_NATIVE_UINT64, &r->pops[i].spikes, 1) ||
                 attr_num(g, "mean_rate", H5T_NATIVE_DOUBLE, &r->pops[i].rate_hz, 1) ||
                 attr_str(g, "model", vl_pop_model_name(&s->pops[i]));
            if (!rc && !r->pops[i].is_input) rc = attr_num(g, "max_v", H5T_NATIVE_FLOAT, &r->pops[i].max_v, 1);
            if (g >= 0) H5Gclose(g);
        }
        if (pg >= 0) H5Gclose(pg);
        if (!rc) {
            hid_t t = str_type();
            hsize_t n = sum->n_warnings;
            hid_t sp = H5Screate_simple(1, &n, NULL);
            hid_t d = H5Dcreate2(v, "warnings", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            rc = d < 0 || (n && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, sum->warnings) < 0);
            if (d >= 0) H5Dclose(d);
            H5Sclose(sp);
            H5Tclose(t);
        }
        int complete = sum->complete;
        if (!rc) rc = attr_num(v, "complete", H5T_NATIVE_INT, &complete, 1);
        if (rc) h5_fail(w, "writing the run summary");
    }
    if (w->failed) {
        snprintf(err, errlen, "%s", w->err);
        st = VL_ERR_HDF5;
    }
    for (size_t i = 0; w->pops && i < s->n_pops; ++i) {
        pop_out *po = &w->pops[i];
        ext_free(&po->ts);
        ext_free(&po->ids);
        if (po->rate.id > 0) H5Dclose(po->rate.id);
        if (po->grp > 0) H5Gclose(po->grp);
    }
    for (size_t k = 0; w->reps && k < s->n_state; ++k) {
        for (size_t v = 0; w->reps[k].data && v < s->state[k].n_vars; ++v)
            ext_free(&w->reps[k].data[v]);
        free(w->reps[k].data);
        if (w->reps[k].time_ds > 0) H5Dclose(w->reps[k].time_ds);
    }
    for (size_t q = 0; w->wds && q < s->n_proj; ++q) {
        if (w->wds[q].id > 0) H5Dclose(w->wds[q].id);
        if (w->wtime[q].id > 0) H5Dclose(w->wtime[q].id);
    }
    free(w->wds);
    free(w->wtime);
    for (size_t k = 0; k < w->cap_z; ++k) free(w->zj[k].out);
    free(w->zj);
    free(w->zq);
    if (w->volley > 0) H5Gclose(w->volley);
    if (w->file > 0 && H5Fclose(w->file) < 0 && st == VL_OK) {
        snprintf(err, errlen, "HDF5: closing the output file failed");
        st = VL_ERR_HDF5;
    }
    for (int i = 0; i < N_CHUNKS; ++i) chunk_free(s, &w->chunks[i]);
    free(w->pops);
    free(w->reps);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    return st;
}
