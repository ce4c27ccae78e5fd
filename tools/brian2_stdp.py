#!/usr/bin/python3
"""STDP benchmark (Song, Miller & Abbott 2000) in Brian2 C++ standalone, and a check of Volley's.

The model is shared/BENCHMARKS.md section 3, with the semantics of Brian2's
examples/synapses/STDP.py:

    1000 Poisson inputs at 15 Hz, all-to-all onto one neuron, dt = 0.1 ms, no refractory period
    taum dv/dt = ge (Ee - v) + El - v     taum 10 ms, Ee 0 mV, El -74 mV, vt -54 mV, vr -60 mV
    dge/dt = -ge / taue                   taue 5 ms; ge dimensionless (in units of the leak)
    threshold v > vt, reset v = vr
    synapse: w (initially uniform in [0, gmax]), event-driven traces
             dApre/dt = -Apre/taupre, dApost/dt = -Apost/taupost, taupre = taupost = 20 ms
      on_pre:  ge += w; Apre += dApre;  w = clip(w + Apost, 0, gmax)
      on_post: Apost += dApost;         w = clip(w + Apre, 0, gmax)
    gmax = 0.01, dApre = 0.01 gmax, dApost = -1.05 dApre

Two choices the benchmark text leaves open: the integrator is Brian2's `euler`, as in the example
(--method exponential_euler gives the scheme Volley's lif_cond_exp uses, and is --compare's
default), and v starts at El (the example leaves v at 0 mV, above threshold, which only adds one
spike at t = 0).

Volley expresses the same model as lif_cond_exp with C = 100 pF, g_L = 10 nS (tau_m = 10 ms),
E_exc = 0 mV, tau_exc = 5 ms, t_ref = 0, so a weight in nS is 10 x Brian2's dimensionless w
(w_max = gmax x 10 nS = 0.1 nS).

Modes:
    brian2_stdp.py [--duration 100] [--seed 1] [--out run.npz]
        one run; prints key: value lines (fractions of weights < 0.1 and > 0.9 gmax, mean w/gmax,
        the 10-bin histogram of w/gmax, output rate over the last window, wall times).
        The npz holds w (final weights / gmax, float64), gmax, spikes_ms (output spike times),
        duration_ms, seed, method, input_rate_hz.
    brian2_stdp.py --seeds 1-8 [--duration 20] [--jobs 2]
        the same for several seeds (each a subprocess; the C++ project is built once per job and
        only main.cpp, which carries the seed, is recompiled); prints each seed, the mean and
        the standard deviation of every statistic: the seed-to-seed spread behind --compare's
        tolerances.
    brian2_stdp.py --compare VOLLEY.h5 --projection NAME [--population POP]
                   [--ref run.npz | --seed S] [--duration T]
        reads Volley's final weights /volley/weights/NAME/w (float32, nS, snapshots x synapses:
        the last row; attribute w_max in nS on the dataset or its group) and the output spikes
        /spikes/POP/timestamps (ms), runs Brian2 for the same duration (/volley attribute
        `duration`, unless --duration is given) or takes a saved --ref run, and prints both sets
        of statistics side by side. POP defaults to the
        group's attribute target_population, else the `to:` of the projection in /volley/model,
        else the only population under /spikes.

The output rate is measured over the last min(10 s, 10 % of the run): the last 10 s of the
standard 100 s run, the last 2 s of a 20 s run. It is divided by the population size.

Tolerances of --compare. Seed-to-seed spread of Brian2 itself (standard deviation over seeds of
one run each, measured with --seeds on the 2-core development machine, 2026-11-27):

    duration  method             seeds  frac < 0.1     frac > 0.9     mean w/gmax    rate, last window
    20 s      euler              1-20   0.156 (0.0095) 0.127 (0.0056) 0.483 (0.0029) 28.8 (4.4) Hz, 2 s
    20 s      exponential_euler  1-40   0.165 (0.0078) 0.127 (0.0077) 0.480 (0.0034) 30.4 (4.4) Hz, 2 s
    100 s     euler              1-16   0.240 (0.0093) 0.192 (0.0085) 0.474 (0.0030) 22.0 (1.6) Hz, 10 s
    100 s     exponential_euler  1-32   0.243 (0.0091) 0.192 (0.0102) 0.470 (0.0024) 22.8 (1.9) Hz, 10 s
    (mean over seeds, SD in brackets)

The tolerance of a statistic is 4 sqrt(2) ~ 5.7 times the larger of the two SDs at the nearer
measured duration (20 s or 100 s): a difference of two independent runs has SD sqrt(2) sigma, so
with near-normal spreads a correct Volley run fails a statistic with probability ~1e-4. The rate
tolerance is scaled to other windows as 1/sqrt(window) (the counts are close to Poisson). At 100 s
this allows |diff| <= 0.053 (frac < 0.1), 0.058 (frac > 0.9), 0.017 (mean), 10.7 Hz (rate); the
mean weight is the sharpest check (3.6 % of its value). The integrator alone matters, though
less than a tolerance: with the same seeds (same inputs and initial weights), exponential_euler
minus euler is -0.0033 +- 0.0005 (20 s) and -0.0037 +- 0.0006 (100 s) in mean w/gmax, +0.0074 +-
0.0018 in frac < 0.1 and +1.2 +- 0.3 Hz in rate at 20 s (mean +- standard error over 20 and 16
seed pairs); hence --compare runs Brian2 with exponential_euler, Volley's scheme. A Volley run
within the tolerances is one Brian2 itself could have produced with another seed.

Exit status: 0 success (and, with --compare, agreement), 1 the distributions differ beyond the
tolerances or Brian2's run failed, 2 usage or file error, 77 Brian2/numpy not importable.
Run with /usr/bin/python3 (Debian's python3-brian 2.5.1, numpy, h5py, yaml).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

EXIT_DIFFER, EXIT_USAGE, EXIT_SKIP = 1, 2, 77

GMAX = 0.01
VOLLEY_W_SCALE_NS = 10.0  # Volley's weight in nS per unit of Brian2's dimensionless w (g_L = 10 nS)

# Seed-to-seed standard deviations of Brian2's statistics (one run each), the larger of the euler
# and exponential_euler sweeps in the docstring's table; rate_sd is for the window the duration
# implies (2 s at 20 s, 10 s at 100 s).
TOLERANCES = {
    20.0: {'low_sd': 0.0095, 'high_sd': 0.0077, 'mean_sd': 0.0034, 'rate_sd': 4.43, 'window_s': 2.0},
    100.0: {'low_sd': 0.0093, 'high_sd': 0.0102, 'mean_sd': 0.0030, 'rate_sd': 1.89, 'window_s': 10.0},
}
Z_TOL = 4.0  # in units of the standard deviation of a difference of two runs (sqrt(2) sigma)


def rate_window_s(duration_s):
    return min(10.0, 0.1 * duration_s)


def stats(w_frac, spikes_ms, duration_ms, n_neurons=1):
    """Statistics of a final weight distribution (w / w_max) and the output spikes."""
    import numpy as np
    w = np.asarray(w_frac, dtype=np.float64)
    t = np.asarray(spikes_ms, dtype=np.float64)
    win_s = rate_window_s(duration_ms / 1000.0)
    t0 = duration_ms - win_s * 1000.0
    hist, _ = np.histogram(np.clip(w, 0.0, 1.0), bins=10, range=(0.0, 1.0))
    return {
        'n_synapses': int(w.size),
        'low': float(np.mean(w < 0.1)) if w.size else float('nan'),
        'high': float(np.mean(w > 0.9)) if w.size else float('nan'),
        'mean': float(np.mean(w)) if w.size else float('nan'),
        'hist': [int(h) for h in hist],
        'rate_last': float(np.sum(t >= t0) / (win_s * n_neurons)) if win_s > 0 else float('nan'),
        'rate_all': float(t.size / (duration_ms / 1000.0 * n_neurons)) if duration_ms > 0 else float('nan'),
        'window_s': win_s,
        'duration_s': duration_ms / 1000.0,
    }


def print_stats(s, prefix=''):
    print(f"{prefix}synapses: {s['n_synapses']}")
    print(f"{prefix}frac_below_0.1: {s['low']:.4f}")
    print(f"{prefix}frac_above_0.9: {s['high']:.4f}")
    print(f"{prefix}mean_w_over_gmax: {s['mean']:.4f}")
    print(f"{prefix}histogram_10_bins: {' '.join(str(h) for h in s['hist'])}")
    print(f"{prefix}rate_last_{s['window_s']:g}s: {s['rate_last']:.2f} Hz")
    print(f"{prefix}rate_whole_run: {s['rate_all']:.2f} Hz")


def run_brian2(duration_s, seed, method, build_dir, threads=1):
    """Builds and runs the model once; returns (w/gmax, output spike times in ms, info dict)."""
    warnings.filterwarnings('ignore', category=FutureWarning)
    import numpy as np
    import brian2 as b2
    from brian2 import ms, mV, Hz, second

    b2.set_device('cpp_standalone', directory=build_dir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
    b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f'-j{os.cpu_count() or 2}']
    b2.defaultclock.dt = 0.1 * ms
    b2.seed(seed)

    taum, taupre, taupost, taue = 10 * ms, 20 * ms, 20 * ms, 5 * ms
    ns = dict(taum=taum, taupre=taupre, taupost=taupost, taue=taue, Ee=0 * mV, vt=-54 * mV,
              vr=-60 * mV, El=-74 * mV, gmax=GMAX, dApre=0.01 * GMAX,
              dApost=-0.01 * GMAX * 1.05 * (taupre / taupost))
    eqs = '''
    dv/dt = (ge * (Ee - v) + El - v) / taum : volt
    dge/dt = -ge / taue : 1
    '''
    inp = b2.PoissonGroup(1000, rates=15 * Hz)
    post = b2.NeuronGroup(1, eqs, threshold='v > vt', reset='v = vr', method=method, namespace=ns)
    post.v = ns['El']
    S = b2.Synapses(inp, post,
                    '''w : 1
                       dApre/dt = -Apre / taupre : 1 (event-driven)
                       dApost/dt = -Apost / taupost : 1 (event-driven)''',
                    on_pre='''ge += w
                              Apre += dApre
                              w = clip(w + Apost, 0, gmax)''',
                    on_post='''Apost += dApost
                               w = clip(w + Apre, 0, gmax)''',
                    namespace=ns)
    S.connect()
    S.w = 'rand() * gmax'
    out_mon = b2.SpikeMonitor(post)
    in_mon = b2.SpikeMonitor(inp, record=False)
    b2.run(duration_s * second)

    t0 = time.time()
    b2.device.build(directory=build_dir, compile=True, run=False, with_output=False)
    compile_s = time.time() - t0
    t0 = time.time()
    b2.device.run(build_dir, with_output=False, run_args=[])
    binary_s = time.time() - t0
    w = np.asarray(S.w[:], dtype=np.float64) / GMAX
    spikes_ms = np.asarray(out_mon.t[:] / ms, dtype=np.float64)
    info = {
        'brian2': b2.__version__,
        'compile_s': compile_s,
        'simulate_s': float(b2.device._last_run_time),
        'binary_s': binary_s,
        'input_rate_hz': float(np.sum(in_mon.count[:]) / 1000.0 / duration_s),
    }
    return w, spikes_ms, info


def parse_seeds(text):
    seeds = []
    for part in text.split(','):
        part = part.strip()
        if '-' in part[1:]:
            a, b = part.split('-', 1)
            seeds.extend(range(int(a), int(b) + 1))
        elif part:
            seeds.append(int(part))
    if not seeds:
        raise ValueError('no seeds')
    return seeds


def sweep(a):
    """Runs each seed in a subprocess of this script; prints per-seed lines, mean and SD."""
    import numpy as np
    seeds = parse_seeds(a.seeds)
    tmp = tempfile.mkdtemp(prefix='brian2_stdp_sweep_')
    jobs = max(1, min(a.jobs, len(seeds)))
    base = a.build_dir or os.path.join(tmp, 'build')
    t_start = time.time()
    results = {}
    try:
        queue = list(seeds)
        running = {}  # job slot -> (seed, Popen)
        while queue or running:
            for slot in range(jobs):
                if slot not in running and queue:
                    s = queue.pop(0)
                    cmd = [sys.executable, os.path.abspath(__file__), '--duration', str(a.duration),
                           '--seed', str(s), '--method', a.method, '--out', os.path.join(tmp, f'{s}.npz'),
                           '--build-dir', os.path.join(base, f'job{slot}'), '--json',
                           os.path.join(tmp, f'{s}.json')]
                    running[slot] = (s, subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                                         stderr=subprocess.PIPE, text=True))
            time.sleep(0.2)
            for slot in list(running):
                s, p = running[slot]
                if p.poll() is not None:
                    err = p.stderr.read()
                    del running[slot]
                    if p.returncode != 0:
                        print(f"seed {s}: failed (exit {p.returncode})\n{err[-2000:]}")
                        return EXIT_DIFFER
                    with open(os.path.join(tmp, f'{s}.json')) as f:
                        results[s] = json.load(f)
                    r = results[s]
                    print(f"seed {s}: below_0.1 {r['low']:.4f}  above_0.9 {r['high']:.4f}  "
                          f"mean {r['mean']:.4f}  rate_last_{r['window_s']:g}s {r['rate_last']:.2f} Hz  "
                          f"rate_all {r['rate_all']:.2f} Hz  hist {' '.join(map(str, r['hist']))}  "
                          f"simulate {r['simulate_s']:.1f} s")
                    sys.stdout.flush()
    finally:
        if not a.build_dir:
            shutil.rmtree(base, ignore_errors=True)
        if a.keep_sweep:
            print(f"per-seed npz and json kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    keys = [('low', 'frac_below_0.1'), ('high', 'frac_above_0.9'), ('mean', 'mean_w_over_gmax'),
            ('rate_last', 'rate_last_window_hz'), ('rate_all', 'rate_whole_run_hz'),
            ('simulate_s', 'simulate_s')]
    print(f"seeds: {len(results)} ({a.duration:g} s each, {a.method}, rate window "
          f"{rate_window_s(a.duration):g} s), wall {time.time() - t_start:.0f} s")
    for k, name in keys:
        v = np.array([results[s][k] for s in sorted(results)])
        sd = float(np.std(v, ddof=1)) if v.size > 1 else float('nan')
        print(f"{name}: mean {np.mean(v):.4f}  sd {sd:.4f}  min {np.min(v):.4f}  max {np.max(v):.4f}")
    h = np.array([results[s]['hist'] for s in sorted(results)])
    print(f"histogram_mean: {' '.join(f'{x:.1f}' for x in h.mean(axis=0))}")
    print(f"histogram_sd:   {' '.join(f'{x:.1f}' for x in (h.std(axis=0, ddof=1) if len(h) > 1 else h[0] * 0))}")
    return 0


def tolerances(duration_s, window_s):
    """Allowed |Volley - Brian2| per statistic (see the module docstring)."""
    near = min(TOLERANCES, key=lambda d: abs(d - duration_s))
    t = TOLERANCES[near]
    f = Z_TOL * 2 ** 0.5
    # counts in the window are close to Poisson: the spread of a rate goes as 1/sqrt(window)
    rate_sd = t['rate_sd'] * (t['window_s'] / max(window_s, 1e-9)) ** 0.5
    return {'low': f * t['low_sd'], 'high': f * t['high_sd'], 'mean': f * t['mean_sd'],
            'rate_last': f * rate_sd}, near


def read_volley(path, projection, population):
    """Returns (w / w_max, output spikes in ms, duration in ms, population, n_neurons, w_max)."""
    import numpy as np
    import h5py
    with h5py.File(path, 'r') as f:
        key = f'volley/weights/{projection}/w'
        if key not in f:
            have = list(f['volley/weights'].keys()) if 'volley/weights' in f else []
            raise ValueError(f"{path}: no /{key} (projections with weights: {have or 'none'})")
        ds = f[key]
        w = np.asarray(ds[...], dtype=np.float64)
        if w.ndim == 2:  # snapshots x synapses (t = 0, every `every`, the end): the last is final
            if w.shape[0] == 0:
                raise ValueError(f"{path}: /{key} holds no snapshot")
            tk = f'volley/weights/{projection}/time'
            if tk in f and f[tk].shape[0] == w.shape[0]:
                print(f"Volley weights: the last of {w.shape[0]} snapshots, t = {float(f[tk][-1]):g} ms")
            w = w[-1]
        w = w.ravel()
        if 'w_max' in ds.attrs:
            w_max = float(np.ravel(ds.attrs['w_max'])[0])
        elif 'w_max' in ds.parent.attrs:
            w_max = float(np.ravel(ds.parent.attrs['w_max'])[0])
        else:
            raise ValueError(f"{path}: /{key} has no attribute w_max (nor has its group)")
        if not w_max > 0:
            raise ValueError(f"{path}: w_max = {w_max} is not positive")
        vol = f['volley'].attrs
        if 'duration' not in vol:
            raise ValueError(f"{path}: /volley has no attribute duration")
        duration_ms = float(np.ravel(vol['duration'])[0])
        if 'complete' in vol and int(np.ravel(vol['complete'])[0]) != 1:
            print(f"warning: {path} is marked incomplete (/volley complete != 1)")
        if 'steps_done' in vol and 'dt' in vol:
            done = float(np.ravel(vol['steps_done'])[0]) * float(np.ravel(vol['dt'])[0])
            if 0 < done < duration_ms:
                duration_ms = done
        if population is None:
            tp = f[f'volley/weights/{projection}'].attrs.get('target_population')
            population = as_text(tp) if tp is not None else population_from_model(f, projection)
        if population is None:
            pops = list(f['spikes'].keys()) if 'spikes' in f else []
            if len(pops) != 1:
                raise ValueError(f"{path}: cannot tell the output population (spikes of {pops}); "
                                 f"name it with --population")
            population = pops[0]
        if f'spikes/{population}/timestamps' not in f:
            raise ValueError(f"{path}: no /spikes/{population}/timestamps")
        t = np.asarray(f[f'spikes/{population}/timestamps'][...], dtype=np.float64)
        n = 1
        pg = f.get(f'volley/populations/{population}')
        if pg is not None and 'size' in pg.attrs:
            n = int(np.ravel(pg.attrs['size'])[0])
    return w / w_max, t, duration_ms, population, n, w_max


def as_text(v):
    import numpy as np
    if isinstance(v, np.ndarray):
        v = v.ravel()[0] if v.size else ''
    return v.decode('utf-8') if isinstance(v, bytes) else str(v)


def population_from_model(f, projection):
    """The plain target population of `projection` in the stored model YAML, or None."""
    if 'volley/model' not in f:
        return None
    try:
        import yaml
        text = f['volley/model'][()]
        if isinstance(text, bytes):
            text = text.decode('utf-8')
        model = yaml.safe_load(text)
    except Exception:
        return None
    pops = (model or {}).get('populations') or {}
    for p in (model or {}).get('projections') or []:
        if not isinstance(p, dict):
            continue
        to = p.get('to')
        targets = to if isinstance(to, list) else [to]
        for tgt in targets:
            if not isinstance(tgt, str):
                continue
            base = tgt.split('[')[0].split('.')[0]
            name = p.get('name')
            if name == projection or (name and len(targets) > 1 and projection == f'{name}_{tgt}'):
                return base if base in pops else None
    return None


def compare(a):
    import numpy as np
    try:
        vw, vt, vdur, pop, n, w_max = read_volley(a.compare, a.projection, a.population)
    except (OSError, ValueError, KeyError) as e:
        print(f"brian2_stdp: {e}")
        return EXIT_USAGE
    vs = stats(vw, vt, vdur, n)
    if a.ref:
        try:
            z = np.load(a.ref)
            bw, bt, bdur = z['w'], z['spikes_ms'], float(z['duration_ms'])
        except (OSError, KeyError, ValueError) as e:
            print(f"brian2_stdp: cannot read --ref {a.ref}: {e}")
            return EXIT_USAGE
        src = f"{a.ref} (seed {int(z['seed'])}, {str(z['method'])})"
    else:
        dur_s = a.duration if a.duration is not None else vdur / 1000.0
        build_dir = a.build_dir or tempfile.mkdtemp(prefix='brian2_stdp_')
        try:
            bw, bt, info = run_brian2(dur_s, a.seed, a.method, build_dir)
        except ImportError as e:
            print(f"brian2_stdp: Brian2 not importable ({e}); use /usr/bin/python3 or --ref")
            return EXIT_SKIP
        finally:
            if not a.build_dir:
                shutil.rmtree(build_dir, ignore_errors=True)
        bdur = dur_s * 1000.0
        src = f"Brian2 {info['brian2']} cpp_standalone, seed {a.seed}, {a.method}, simulate {info['simulate_s']:.1f} s"
    bs = stats(bw, bt, bdur)
    if abs(bdur - vdur) > 1e-6 * max(bdur, vdur):
        print(f"warning: durations differ (Volley {vdur / 1000:g} s, Brian2 {bdur / 1000:g} s): "
              f"the statistics are compared anyway")
    tol, near = tolerances(vdur / 1000.0, vs['window_s'])
    vscale = w_max / GMAX
    print(f"Volley: {a.compare}, projection {a.projection} ({vs['n_synapses']} synapses, w_max {w_max:g} nS"
          f" = {vscale:g} x Brian2's gmax), population {pop} ({n} neuron{'s' if n != 1 else ''}), "
          f"{vdur / 1000:g} s")
    print(f"Brian2: {src}, {bdur / 1000:g} s")
    print(f"{'statistic':<28}{'Volley':>10}{'Brian2':>10}{'|diff|':>10}{'tolerance':>11}  verdict")
    bad = []
    rows = [('low', 'fraction w < 0.1 w_max', '{:.4f}'), ('high', 'fraction w > 0.9 w_max', '{:.4f}'),
            ('mean', 'mean w / w_max', '{:.4f}'),
            ('rate_last', f"rate last {vs['window_s']:g} s (Hz)", '{:.2f}')]
    for k, label, fmt in rows:
        d = abs(vs[k] - bs[k])
        ok = d <= tol[k]
        if not ok:
            bad.append(label)
        print(f"{label:<28}{fmt.format(vs[k]):>10}{fmt.format(bs[k]):>10}{fmt.format(d):>10}"
              f"{fmt.format(tol[k]):>11}  {'ok' if ok else 'DIFFERS'}")
    print(f"{'rate whole run (Hz)':<28}{vs['rate_all']:>10.2f}{bs['rate_all']:>10.2f}{abs(vs['rate_all'] - bs['rate_all']):>10.2f}"
          f"{'-':>11}  (not checked)")
    print("histogram of w / w_max (10 bins, counts; fractions when the synapse counts differ)")
    print(f"{'bin':<14}{'Volley':>10}{'Brian2':>10}")
    same_n = vs['n_synapses'] == bs['n_synapses']
    for i in range(10):
        vv, bb = vs['hist'][i], bs['hist'][i]
        if not same_n:
            vv = f"{vv / max(vs['n_synapses'], 1):.3f}"
            bb = f"{bb / max(bs['n_synapses'], 1):.3f}"
        print(f"[{i / 10:.1f}, {(i + 1) / 10:.1f}{']' if i == 9 else ')'}    {vv:>10}{bb:>10}")
    print(f"tolerances: {Z_TOL:g} x sqrt(2) x the seed-to-seed SD of Brian2 runs of {near:g} s "
          f"(rate: scaled to a {vs['window_s']:g} s window)")
    if bad:
        print(f"DIFFER: {', '.join(bad)}")
        return EXIT_DIFFER
    print("AGREE: every checked statistic is within tolerance")
    return 0


def main():
    doc = __doc__
    ap = argparse.ArgumentParser(description=doc.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=doc.split('\n\n', 1)[1])
    ap.add_argument('--duration', type=float, default=None,
                    help='simulated seconds (default 100; with --compare: the Volley run\'s duration)')
    ap.add_argument('--seed', type=int, default=1, help='Brian2 random seed (default 1)')
    ap.add_argument('--seeds', metavar='LIST', help='several seeds, e.g. 1-8 or 1,2,5: spread study')
    ap.add_argument('--jobs', type=int, default=1, help='with --seeds: runs at a time (default 1)')
    ap.add_argument('--keep-sweep', action='store_true', help='with --seeds: keep per-seed npz/json files')
    ap.add_argument('--method', default=None, choices=['euler', 'exponential_euler'],
                    help='integrator of the neuron (default euler, as Brian2\'s example; with --compare '
                         'exponential_euler, as Volley\'s lif_cond_exp)')
    ap.add_argument('--out', metavar='FILE.npz', help='save final weights (w/gmax) and output spike times')
    ap.add_argument('--json', metavar='FILE', help=argparse.SUPPRESS)
    ap.add_argument('--build-dir', metavar='DIR',
                    help='build the C++ project in DIR and keep it (reused: only changed files recompile)')
    ap.add_argument('--threads', type=int, default=1, help='OpenMP threads (default 1: serial code)')
    ap.add_argument('--compare', metavar='VOLLEY.h5', help='compare with a Volley run of the same model')
    ap.add_argument('--projection', metavar='NAME', help='with --compare: the plastic projection')
    ap.add_argument('--population', metavar='POP', help='with --compare: the output population')
    ap.add_argument('--ref', metavar='RUN.npz', help='with --compare: a saved Brian2 run (--out) instead of a new one')
    a = ap.parse_args()

    if a.method is None:
        a.method = 'exponential_euler' if a.compare else 'euler'
    if a.compare:
        if not a.projection:
            ap.error('--compare needs --projection NAME')
        try:
            import numpy  # noqa: F401
            import h5py  # noqa: F401
        except ImportError as e:
            print(f"brian2_stdp: {e} (Debian python3-numpy python3-h5py, /usr/bin/python3)")
            return EXIT_SKIP
        return compare(a)
    if a.duration is None:
        a.duration = 100.0
    if a.duration <= 0:
        ap.error('--duration must be positive')
    if a.seeds:
        try:
            return sweep(a)
        except ValueError as e:
            ap.error(f'--seeds: {e}')

    t_all = time.time()
    build_dir = a.build_dir or tempfile.mkdtemp(prefix='brian2_stdp_')
    try:
        try:
            w, spikes, info = run_brian2(a.duration, a.seed, a.method, build_dir, a.threads)
        except ImportError as e:
            print(f"brian2_stdp: Brian2 not importable ({e}); Debian python3-brian, /usr/bin/python3")
            return EXIT_SKIP
    finally:
        if not a.build_dir:
            shutil.rmtree(build_dir, ignore_errors=True)
    import numpy as np
    s = stats(w, spikes, a.duration * 1000.0)
    print(f"brian2_stdp: Brian2 {info['brian2']} cpp_standalone, seed {a.seed}, {a.method}, "
          f"{a.duration:g} s, dt 0.1 ms, 1000 inputs at 15 Hz (measured {info['input_rate_hz']:.2f} Hz)")
    print_stats(s)
    print(f"output_spikes: {spikes.size}")
    print(f"compile_s: {info['compile_s']:.1f}")
    print(f"simulate_s: {info['simulate_s']:.2f}")
    print(f"binary_s: {info['binary_s']:.2f}")
    print(f"rtf: {info['simulate_s'] / a.duration:.3f}")
    print(f"total_s: {time.time() - t_all:.1f}")
    if a.out:
        np.savez(a.out, w=w, gmax=GMAX, spikes_ms=spikes, duration_ms=a.duration * 1000.0, seed=a.seed,
                 method=a.method, input_rate_hz=info['input_rate_hz'])
    if a.json:
        s.update(info)
        with open(a.json, 'w') as f:
            json.dump(s, f)
    return 0


if __name__ == '__main__':
    sys.exit(main())
