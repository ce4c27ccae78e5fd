#!/usr/bin/python3
"""Checks Volley's SONATA HDF5 output with h5py and bmtk, and that SIGINT leaves a readable file.

    tests/python/test_output.py path/to/volley [repo-root] [--skip-sigint]

1. structure: a small model (100 lif_cond_exp neurons driven by a Poisson input, spikes of every
   population and v, g_exc of neurons 0:5 every 1 ms) is run; every dataset and attribute of the
   output layout is checked (dtypes, shapes, units, magic/version, the sorting enum, index
   pointers, the time triple, spike times and ids in range, /volley attributes);
2. bmtk: the spike file loads with bmtk's SpikeTrains with the same number of spikes per
   population, and the state report with bmtk's CompartmentReport;
3. interrupt: a long run (4000 neurons, 100 s) gets SIGINT after about 2 s; it must stop within a
   few seconds and leave a file h5py can read with /volley complete == 0 and some spikes.

Exit status: 0 pass, 1 fail, 77 skip (h5py or numpy missing). Uses only the standard library,
numpy, h5py and bmtk (/usr/bin/python3 on Debian).
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import h5py
except ImportError as e:
    print(f"SKIP: {e} (Debian: python3-numpy python3-h5py; run with /usr/bin/python3)")
    sys.exit(77)

FAILS = []
CHECKS = [0]


def check(cond, msg):
    CHECKS[0] += 1
    if not cond:
        FAILS.append(msg)
        print(f"  FAIL: {msg}")
    return bool(cond)


def info(msg):
    print(f"  {msg}")


def attr_str(v):
    if isinstance(v, bytes):
        return v.decode('utf-8', 'replace')
    if isinstance(v, np.ndarray) and v.shape == () and v.dtype.kind in 'SOU':
        return attr_str(v[()])
    return v if isinstance(v, str) else None


NEURON_PARAMS = ("{C: 200 pF, g_L: 10 nS, E_L: -60 mV, V_th: -50 mV, V_reset: -60 mV, t_ref: 5 ms, "
                 "E_exc: 0 mV, E_inh: -80 mV, tau_exc: 5 ms, tau_inh: 10 ms}")

SMALL = f"""name: output_check
dt: 0.1 ms
duration: 500 ms
seed: 7
populations:
  exc:
    size: 100
    model: lif_cond_exp
    params: {NEURON_PARAMS}
    init: {{v: {{uniform: [-60 mV, -50 mV]}}}}
inputs:
  noise: {{size: 50, model: poisson, rate: 50 Hz}}
projections:
  - {{from: noise, to: exc, receptor: exc, connect: {{fixed_probability: 0.1}}, weight: 5 nS, delay: 0.1 ms}}
record:
  spikes: all
  state: [{{population: exc, variables: [v, g_exc], neurons: "0:5", every: 1 ms}}]
"""
SMALL_SIZES = {'exc': 100, 'noise': 50}
SMALL_DURATION = 500.0
SMALL_SEED = 3  # given on the command line, overriding the file's 7

LONG = f"""name: sigint_check
dt: 0.1 ms
duration: 100 s
seed: 11
populations:
  exc:
    size: 4000
    model: lif_cond_exp
    params: {NEURON_PARAMS}
    init: {{v: {{uniform: [-60 mV, -50 mV]}}}}
inputs:
  noise: {{size: 200, model: poisson, rate: 40 Hz}}
projections:
  - {{from: noise, to: exc, receptor: exc, connect: {{fixed_probability: 0.05}}, weight: 4 nS, delay: 0.1 ms}}
  - {{from: exc, to: exc, receptor: inh, connect: {{fixed_probability: 0.01}}, weight: 2 nS, delay: 1 ms}}
record:
  spikes: all
  state: [{{population: exc, variables: [v], neurons: "0:3", every: 0.5 ms}}]
"""


def run(cmd, timeout=300):
    print("  $ " + " ".join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode('utf-8', 'replace')
    for ln in out.rstrip().splitlines()[-25:]:
        print("  | " + ln)
    return p.returncode, out


# ---------------------------------------------------------------------------------------------

def check_root(f):
    print("-- root attributes")
    if check('magic' in f.attrs, "root attribute 'magic' missing"):
        a = f.attrs.get_id('magic')
        mg = f.attrs['magic']
        check(a.dtype == np.uint32, f"magic dtype {a.dtype}, expected uint32")
        check(np.size(mg) == 1 and int(np.ravel(mg)[0]) == 0x0A7A, f"magic = {np.ravel(mg).tolist()} (hex {[hex(int(x)) for x in np.ravel(mg)]}), expected 0x0A7A")
    if check('version' in f.attrs, "root attribute 'version' missing"):
        a = f.attrs.get_id('version')
        v = np.asarray(f.attrs['version'])
        check(a.dtype == np.uint32, f"version dtype {a.dtype}, expected uint32")
        check(v.shape == (2,), f"version shape {v.shape}, expected (2,)")
        info(f"version = {v.tolist()}")


def check_spikes(f, sizes, duration, require=('exc',)):
    print("-- /spikes")
    counts = {}
    if not check('spikes' in f, "/spikes group missing"):
        return counts
    pops = list(f['spikes'].keys())
    info(f"populations in /spikes: {pops}")
    for r in require:
        check(r in pops, f"/spikes/{r} missing (record: spikes: all)")
    for pop in pops:
        g = f['spikes'][pop]
        if not check(isinstance(g, h5py.Group), f"/spikes/{pop} is not a group"):
            continue
        if not (check('timestamps' in g, f"/spikes/{pop}/timestamps missing") &
                check('node_ids' in g, f"/spikes/{pop}/node_ids missing")):
            continue
        ts, ids = g['timestamps'], g['node_ids']
        check(ts.dtype == np.float64, f"/spikes/{pop}/timestamps dtype {ts.dtype}, expected float64")
        check(ids.dtype == np.uint64, f"/spikes/{pop}/node_ids dtype {ids.dtype}, expected uint64")
        check(ts.ndim == 1 and ids.ndim == 1 and ts.shape == ids.shape,
              f"/spikes/{pop}: timestamps {ts.shape} and node_ids {ids.shape} must be 1-D of equal length")
        check(attr_str(ts.attrs.get('units')) == 'ms',
              f"/spikes/{pop}/timestamps attribute units = {ts.attrs.get('units')!r}, expected 'ms'")
        t, n = ts[()], ids[()]
        counts[pop] = len(t)
        srt = None
        if check('sorting' in g.attrs, f"/spikes/{pop} attribute 'sorting' missing"):
            dt = g.attrs.get_id('sorting').dtype
            emap = h5py.check_enum_dtype(dt)
            if check(emap is not None, f"/spikes/{pop} sorting is {dt}, not an HDF5 enum"):
                check(dt == np.uint8, f"/spikes/{pop} sorting enum base type {dt}, expected uint8")
                check(dict(emap) == {'none': 0, 'by_id': 1, 'by_time': 2},
                      f"/spikes/{pop} sorting enum members {dict(emap)}, expected none=0 by_id=1 by_time=2")
                val = int(np.ravel(g.attrs['sorting'])[0])
                srt = {v: k for k, v in emap.items()}.get(val, f"?{val}")
        info(f"{pop}: {len(t)} spikes, sorting={srt}")
        if pop in sizes and duration:
            check(len(t) > 0, f"/spikes/{pop}: no spikes at all (the model should fire)")
        if len(t):
            check(np.all(np.diff(t) >= 0), f"/spikes/{pop}/timestamps are not sorted (sorting={srt})")
            if srt == 'by_id':
                check(np.all(np.diff(n.astype(np.int64)) >= 0), f"/spikes/{pop}: sorting=by_id but node_ids unsorted")
            check(t.min() >= 0 and (duration is None or t.max() < duration),
                  f"/spikes/{pop}: timestamps outside [0, {duration}) ms: {t.min()}..{t.max()}")
            if pop in sizes:
                check(int(n.max()) < sizes[pop], f"/spikes/{pop}: node id {int(n.max())} >= size {sizes[pop]}")
    return counts


def check_reports(f, duration, pop='exc', want_vars=('v', 'g_exc'), want_ids=range(5), every=1.0):
    print("-- /report")
    if not check('report' in f, "/report group missing (record: state)"):
        return
    found = []  # (path, variable, node_ids)

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and 'data' in obj and 'mapping' in obj:
            found.append(name)
    f['report'].visititems(visit)
    info(f"report groups: {found}")
    check(found, "no report group (a group with 'data' and 'mapping') under /report")
    seen_vars = {}
    for name in found:
        g = f['report'][name]
        # 'data' is SONATA's (what bmtk and libsonata read); Volley stores further variables of the
        # same population and mapping beside it as 'data_<variable>'.
        extra = sorted(k for k in g if k.startswith('data_') and isinstance(g[k], h5py.Dataset))
        if extra:
            info(f"NOTE: /report/{name} also holds {extra} (variables beyond the first; SONATA readers "
                 f"only see 'data')")
        for dname in ['data'] + extra:
            check_report_data(g, f"/report/{name}", dname, duration, every, seen_vars)
    check_wanted_vars(seen_vars, want_vars, want_ids)


def check_report_data(g, gpath, dname, duration, every, seen_vars):
    path = gpath
    d = g[dname]
    mp = g['mapping']
    check(d.dtype == np.float32, f"{path}/{dname} dtype {d.dtype}, expected float32")
    check(d.ndim == 2, f"{path}/{dname} has {d.ndim} dimensions, expected 2 (frames x values)")
    units = attr_str(d.attrs.get('units'))
    var = attr_str(d.attrs.get('variable'))
    if var is None:
        var = attr_str(g.attrs.get('variable'))
    check(units is not None, f"{path}/{dname} attribute units missing")
    check(var is not None, f"{path}/{dname} attribute variable missing")
    info(f"{path}/{dname}: {d.shape} {d.dtype}, variable={var!r}, units={units!r}")
    if dname != 'data' and var is not None:
        check(dname == f"data_{var}", f"{path}/{dname} holds variable {var!r}")
    for k, dtp in (('node_ids', np.uint64), ('index_pointers', np.uint64), ('element_ids', np.uint32),
                   ('time', np.float64)):
        if check(k in mp, f"{path}/mapping/{k} missing"):
            check(mp[k].dtype == dtp, f"{path}/mapping/{k} dtype {mp[k].dtype}, expected {np.dtype(dtp)}")
    if not all(k in mp for k in ('node_ids', 'index_pointers', 'element_ids', 'time')):
        return
    nid, ip, el, tm = mp['node_ids'][()], mp['index_pointers'][()], mp['element_ids'][()], mp['time'][()]
    N = len(nid)
    check(len(ip) == N + 1, f"{path}/mapping/index_pointers has {len(ip)} entries, expected N+1 = {N + 1}")
    check(len(ip) and ip[0] == 0 and np.all(np.diff(ip.astype(np.int64)) >= 0),
          f"{path}/mapping/index_pointers must start at 0 and not decrease: {ip.tolist()[:10]}")
    if d.ndim == 2 and len(ip):
        check(int(ip[-1]) == d.shape[1], f"{path}: index_pointers[-1] = {int(ip[-1])} but data has "
                                         f"{d.shape[1]} columns")
        check(len(el) == d.shape[1], f"{path}/mapping/element_ids has {len(el)} entries, data {d.shape[1]} columns")
    if check('index_pointer' in mp, f"{path}/mapping/index_pointer (bmtk's name) missing"):
        a, b = mp['index_pointer'], mp['index_pointers']
        same = h5py.h5o.get_info(a.id).addr == h5py.h5o.get_info(b.id).addr
        check(same, f"{path}/mapping/index_pointer is not a hard link to index_pointers")
    check(tm.shape == (3,), f"{path}/mapping/time shape {tm.shape}, expected (3,)")
    check(attr_str(mp['time'].attrs.get('units')) == 'ms',
          f"{path}/mapping/time attribute units = {mp['time'].attrs.get('units')!r}, expected 'ms'")
    if tm.shape == (3,):
        start, stop, step = tm.tolist()
        info(f"{path}: time = start {start}, stop {stop}, step {step} ms")
        check(abs(start) < 1e-9, f"{path}: time start {start}, expected 0")
        check(abs(stop - duration) < 1e-6, f"{path}: time stop {stop}, expected the duration {duration}")
        check(abs(step - every) < 1e-9, f"{path}: time step {step}, expected {every} (every)")
        if step > 0 and d.ndim == 2:
            frames = int(round((stop - start) / step))
            check(d.shape[0] == frames, f"{path}: {d.shape[0]} frames, expected (stop-start)/step = {frames}")
    check(np.all(nid < 100), f"{path}: node ids {nid.tolist()} out of range")
    if var is not None:
        seen_vars[var] = (nid.tolist(), d, units)


def check_wanted_vars(seen_vars, want_vars, want_ids):
    for v in want_vars:
        if not check(v in seen_vars, f"recorded variable {v!r} not found in any report (found {list(seen_vars)})"):
            continue
        nid, d, units = seen_vars[v]
        check(sorted(nid) == list(want_ids), f"variable {v}: node_ids {nid}, expected {list(want_ids)}")
        x = d[()]
        check(np.all(np.isfinite(x)), f"variable {v}: non-finite values")
        if v == 'v':
            check(units == 'mV', f"variable v units {units!r}, expected 'mV'")
            check(x.min() >= -80.001 and x.max() <= -49.999,
                  f"variable v outside [E_inh, V_th] = [-80, -50] mV: {x.min()}..{x.max()}")
            check(x.std() > 0.1, "variable v does not change")
        elif v.startswith('g_'):
            check(units == 'nS', f"variable {v} units {units!r}, expected 'nS'")
            check(x.min() >= 0 and x.max() > 0, f"variable {v}: expected non-negative and not all zero, "
                                                f"{x.min()}..{x.max()}")


def check_volley_group(f, counts, seed, complete):
    print("-- /volley")
    if not check('volley' in f, "/volley group missing"):
        return
    a = f['volley'].attrs
    info("attributes: " + ", ".join(f"{k}={attr_str(a[k]) if attr_str(a[k]) is not None else a[k]!r}"
                                    if k != 'model' else "model=<yaml>" for k in a))
    for k in ('complete', 'seed', 'version', 'backend'):
        check(k in a, f"/volley attribute {k} missing")
    model_text = None
    if 'model' in a:
        model_text = attr_str(a['model'])
    elif check('model' in f['volley'], "/volley: the model's YAML text is neither an attribute nor a dataset 'model'"):
        info("NOTE: the model's YAML is the dataset /volley/model, not an attribute")
        model_text = attr_str(f['volley/model'][()])
    check(model_text is not None and 'populations' in model_text, "/volley model is not the model's YAML text")
    if 'complete' in a:
        check(int(np.ravel(a['complete'])[0]) == complete, f"/volley complete = {a['complete']}, expected {complete}")
    if seed is not None and 'seed' in a:
        check(int(np.ravel(a['seed'])[0]) == seed, f"/volley seed = {a['seed']}, expected {seed} (--seed)")
    if 'backend' in a:
        check(attr_str(a['backend']) in ('cpu', 'cuda'), f"/volley backend = {a['backend']!r}")
    # per-population spike counts: /volley/populations/<pop> attribute spike_count (Volley's
    # layout), else an attribute of /volley naming the population
    for pop, n in counts.items():
        grp = f['volley'].get(f'populations/{pop}')
        if grp is not None and 'spike_count' in grp.attrs:
            c = int(np.ravel(grp.attrs['spike_count'])[0])
            check(c == n, f"/volley/populations/{pop} spike_count = {c} but /spikes/{pop} holds {n}")
            continue
        hits = {k: a[k] for k in a if k.endswith(pop) and np.asarray(a[k]).dtype.kind in 'iu'}
        if check(hits, f"/volley: no spike count for population {pop!r} (looked for "
                       f"/volley/populations/{pop} attribute spike_count)"):
            vals = [int(np.ravel(v)[0]) for v in hits.values()]
            check(n in vals, f"/volley spike count for {pop}: {hits} but /spikes/{pop} holds {n}")


def check_bmtk(path, counts, report=True):
    print("-- bmtk")
    try:
        from bmtk.utils.reports.spike_trains import SpikeTrains
    except Exception as e:  # noqa: BLE001
        check(False, f"bmtk not importable ({e}); Debian: python3-bmtk")
        return
    st = SpikeTrains.load(path, file_type='sonata')
    pops = list(st.populations)
    info(f"bmtk populations: {pops}")
    for pop, n in counts.items():
        if not check(pop in pops, f"bmtk does not see population {pop}"):
            continue
        nb = st.n_spikes(population=pop)
        df = st.to_dataframe(populations=pop)
        info(f"bmtk {pop}: n_spikes={nb}, dataframe rows={len(df)}, sort order={st.sort_order(population=pop)}")
        check(nb == n and len(df) == n, f"bmtk reads {nb} spikes ({len(df)} rows) for {pop}, h5py {n}")
    if not report:
        return
    try:
        from bmtk.utils.reports.compartment import CompartmentReport
        with h5py.File(path, 'r') as f:
            groups = []
            f['report'].visititems(lambda n, o: groups.append(n) if isinstance(o, h5py.Group) and 'data' in o else None)
        for g in groups:
            rep = CompartmentReport(path, mode='r', default_population=g)
            d = rep.data(population=g)
            info(f"bmtk CompartmentReport {g}: data {np.shape(d)}, node_ids {list(rep.node_ids(population=g))}, "
                 f"tstart {rep.tstart(population=g)} tstop {rep.tstop(population=g)} dt {rep.dt(population=g)}")
            check(np.shape(d)[0] > 0, f"bmtk CompartmentReport {g}: empty data")
    except Exception as e:  # noqa: BLE001
        check(False, f"bmtk CompartmentReport cannot read /report: {type(e).__name__}: {e}")


# ---------------------------------------------------------------------------------------------

def test_structure(volley, tmp):
    print("== structure: small model, spikes + state")
    model = os.path.join(tmp, 'small.yaml')
    with open(model, 'w') as f:
        f.write(SMALL)
    out = os.path.join(tmp, 'small.h5')
    rc, _ = run([volley, 'run', model, '-o', out, '--seed', str(SMALL_SEED), '--quiet'])
    if not check(rc == 0, f"volley run exited with {rc}, expected 0"):
        return
    if not check(os.path.exists(out), f"{out} was not written"):
        return
    with h5py.File(out, 'r') as f:
        check_root(f)
        counts = check_spikes(f, SMALL_SIZES, SMALL_DURATION)
        check_reports(f, SMALL_DURATION)
        check_volley_group(f, counts, SMALL_SEED, complete=1)
    check_bmtk(out, counts)


def test_sigint(volley, tmp):
    print("== interrupt: SIGINT after about 2 s of a 100 s run")
    model = os.path.join(tmp, 'long.yaml')
    with open(model, 'w') as f:
        f.write(LONG)
    out = os.path.join(tmp, 'long.h5')
    cmd = [volley, 'run', model, '-o', out, '--quiet']
    print("  $ " + " ".join(cmd))
    log = open(os.path.join(tmp, 'long.log'), 'w+b')
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(2.0)
    if p.poll() is not None:
        check(False, f"the 100 s run ended by itself after {time.monotonic() - t0:.1f} s (rc {p.returncode})")
        return
    p.send_signal(signal.SIGINT)
    t1 = time.monotonic()
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        check(False, "volley did not exit within 10 s of SIGINT (killed)")
        return
    dt_exit = time.monotonic() - t1
    log.seek(0)
    for ln in log.read().decode('utf-8', 'replace').rstrip().splitlines()[-10:]:
        print("  | " + ln)
    info(f"exit status {rc} {time.monotonic() - t1:.2f} s after SIGINT")
    check(rc in (0, 1, 130), f"exit status {rc} after SIGINT, expected 130 or 1 (a negative status means it "
                             f"died of the signal without a handler)")
    check(dt_exit < 5.0, f"took {dt_exit:.1f} s to stop after SIGINT (expected a few seconds at most)")
    if not check(os.path.exists(out), f"{out} was not left behind"):
        return
    try:
        f = h5py.File(out, 'r')
    except OSError as e:
        check(False, f"h5py cannot open the interrupted file: {e}")
        return
    with f:
        counts = check_spikes(f, {'exc': 4000, 'noise': 200}, 100000.0)
        check(counts.get('exc', 0) > 0, "the interrupted file holds no spikes of exc")
        if 'exc' in counts and counts['exc']:
            tmax = float(f['spikes/exc/timestamps'][-1])
            info(f"last exc spike at {tmax:.1f} ms of simulated time")
        check_volley_group(f, counts, None, complete=0)
        a = f['volley'].attrs if 'volley' in f else {}
        if 'steps_done' in a and counts.get('exc'):
            reached = int(np.ravel(a['steps_done'])[0]) * 0.1
            info(f"steps_done = {int(np.ravel(a['steps_done'])[0])} ({reached:.1f} ms)")
            check(float(f['spikes/exc/timestamps'][-1]) < reached + 1e-6,
                  "a spike lies beyond the steps_done the file reports")
        # the state report must be self-consistent: frames == (stop - start) / step
        if check('report/exc/data' in f and 'report/exc/mapping/time' in f,
                 "interrupted run: /report/exc/data or mapping/time missing"):
            d, tm = f['report/exc/data'], f['report/exc/mapping/time'][()]
            start, stop, step = tm.tolist()
            frames = int(round((stop - start) / step)) if step > 0 else -1
            info(f"interrupted report: {d.shape[0]} frames, time = {tm.tolist()}")
            check(d.shape[0] == frames, f"interrupted run: report has {d.shape[0]} frames but time says "
                                        f"(stop - start)/step = {frames} (stop should be the time reached)")
            check(d.shape[0] > 0 and np.all(np.isfinite(d[()])), "interrupted run: report empty or not finite")
    check_bmtk(out, counts, report=False)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    if not args or '--help' in sys.argv or '-h' in sys.argv:
        print(__doc__)
        return 0 if args else 2
    volley = os.path.abspath(args[0])
    if not os.access(volley, os.X_OK):
        print(f"FAIL: {volley} is not an executable")
        return 1
    with tempfile.TemporaryDirectory(prefix='volley-output-') as tmp:
        test_structure(volley, tmp)
        if '--skip-sigint' not in sys.argv:
            test_sigint(volley, tmp)
    print(f"== {CHECKS[0]} checks, {len(FAILS)} failed")
    if FAILS:
        print("FAILED:\n  " + "\n  ".join(FAILS))
        return 1
    print("PASS")
    return 0


if __name__ == '__main__':
    sys.exit(main())
