#!/usr/bin/python3
"""The downscaled PD14 microcircuit (configs/pd14_small.yaml) in Volley and in Brian2.

Volley runs the config with seeds 1-3; tools/brian2_pd14.py builds the same model from the same
YAML in Brian2 (another draw of the connectivity) and runs it once. After the first 0.5 s, each
population's rate must agree within TOL (relative, plus 0.1 Hz for the slowest populations), its
mean CV of inter-spike intervals (irregularity) within TOL_CV, and the Fano factor of its spike
count in 1 ms bins (synchrony: 1 for independent Poisson neurons) within TOL_FF. The
full-scale rates the NEST example lists are printed beside them for context only: downscaling the
in-degrees changes some populations' rates (in both simulators alike), so they are not asserted.
The test catches errors in rates and regime (a DC 10 % off fails it), not small timing shifts (every
delay 0.2 ms longer passes; test_delay checks delays exactly).

    tests/python/test_pd14_brian2.py path/to/volley [repo-root]
Exit 0 pass, 1 fail, 77 skip (Brian2, h5py or yaml not importable).
"""
import os
import subprocess
import sys
import tempfile

DURATION, SKIP = 2.5, 0.5
TOL, FLOOR = 0.15, 0.1
TOL_CV, TOL_FF = 0.12, 0.25  # measured: CV within 6 %, Fano factor within 10 % (Brian2 seeds 5-7)
NEST_FULL = {'L23E': 0.971, 'L23I': 2.868, 'L4E': 4.746, 'L4I': 5.396,
             'L5E': 8.142, 'L5I': 9.078, 'L6E': 0.991, 'L6I': 7.523}


def irregularity_synchrony(np, t, i):
    """Spike times t (s) and neuron ids i of one population -> (mean CV of the ISIs of neurons with
    at least 4 spikes after SKIP, Fano factor of the population count in 1 ms bins after SKIP)."""
    keep = t >= SKIP
    t, i = t[keep], i[keep]
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    cvs = []
    for seg in np.split(np.arange(len(i)), np.flatnonzero(np.diff(i)) + 1):
        if len(seg) >= 4:
            isi = np.diff(t[seg])
            cvs.append(isi.std() / isi.mean())
    counts, _ = np.histogram(t, bins=np.arange(SKIP, DURATION + 1e-9, 1e-3))
    return (float(np.mean(cvs)) if cvs else float('nan'),
            float(counts.var() / counts.mean()) if counts.mean() > 0 else float('nan'))


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    volley = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), '..', '..')
    try:
        import brian2  # noqa: F401  (only whether it imports)
        import h5py
        import numpy as np
        import yaml
    except ImportError as e:
        print(f"SKIP: {e} (Debian python3-brian python3-h5py python3-yaml, /usr/bin/python3)")
        return 77
    model = os.path.join(root, 'configs', 'pd14_small.yaml')
    cfg = yaml.safe_load(open(model))
    names = list(cfg['populations'])
    sizes = {p: int(cfg['populations'][p]['size']) for p in names}

    rates = {p: [] for p in names}
    cv = {p: [] for p in names}
    ff = {p: [] for p in names}
    with tempfile.TemporaryDirectory(prefix='volley-pd14-') as tmp:
        for seed in (1, 2, 3):
            out = os.path.join(tmp, f'pd14_{seed}.h5')
            cmd = [volley, 'run', model, '--seed', str(seed), '--duration', f'{DURATION} s', '-o', out,
                   '--backend', os.environ.get('VOLLEY_BACKEND', 'cpu')]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"FAIL: {' '.join(cmd)} exited with {r.returncode}:\n{r.stderr}")
                return 1
            with h5py.File(out, 'r') as f:
                for p in names:
                    t = f[f'/spikes/{p}/timestamps'][:] / 1000.0
                    rates[p].append(np.count_nonzero(t >= SKIP) / sizes[p] / (DURATION - SKIP))
                    c, fano = irregularity_synchrony(np, t, f[f'/spikes/{p}/node_ids'][:].astype(np.int64))
                    cv[p].append(c)
                    ff[p].append(fano)
        volley_rate = {p: float(np.mean(v)) for p, v in rates.items()}

        b2_spikes = os.path.join(tmp, 'brian2.npz')
        cmd = [sys.executable, os.path.join(root, 'tools', 'brian2_pd14.py'), model, '--duration', str(DURATION),
               '--skip', str(SKIP), '--repeat', '1', '--seed', '5', '--spikes', b2_spikes]
        r = subprocess.run(cmd, capture_output=True, text=True)
        b2 = dict(np.load(b2_spikes)) if r.returncode == 0 else None
    if r.returncode == 77:
        print(f"SKIP: {r.stdout.strip()}")
        return 77
    if r.returncode != 0:
        print(f"FAIL: {' '.join(cmd)} exited with {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return 1
    brian_rate = {}
    for line in r.stdout.splitlines():
        if line.startswith('rate '):
            key, val = line[5:].split(':')
            brian_rate[key.strip()] = float(val)
    print(r.stdout.splitlines()[0])

    bad = []
    print(f"{'population':<11}{'rate V':>8}{'rate B':>8}{'CV V':>7}{'CV B':>7}{'FF V':>7}{'FF B':>7}   (NEST full-scale rate)")
    for k, p in enumerate(names):
        v, b = volley_rate[p], brian_rate.get(p, float('nan'))
        m = (b2['i'] >= b2['start'][k]) & (b2['i'] < b2['start'][k + 1])
        cv_b, ff_b = irregularity_synchrony(np, b2['t'][m], b2['i'][m])
        cv_v, ff_v = float(np.mean(cv[p])), float(np.mean(ff[p]))
        off = [what for what, ok in (("rate", abs(v - b) <= TOL * b + FLOOR), ("CV", abs(cv_v - cv_b) <= TOL_CV * cv_b),
                                     ("Fano factor", abs(ff_v - ff_b) <= TOL_FF * ff_b)) if not ok]
        print(f"{p:<11}{v:8.2f}{b:8.2f}{cv_v:7.3f}{cv_b:7.3f}{ff_v:7.2f}{ff_b:7.2f}   ({NEST_FULL.get(p, float('nan')):.2f})"
              f"{'   <-- ' + ', '.join(off) if off else ''}")
        bad += [f"{p} {what}" for what in off]
    if bad:
        print(f"FAIL: {', '.join(bad)} differ from Brian2's by more than the tolerance "
              f"(rate {TOL:.0%} + {FLOOR} Hz, CV {TOL_CV:.0%}, Fano factor {TOL_FF:.0%})")
        return 1
    print(f"PASS: every population's rate within {TOL:.0%} + {FLOOR} Hz of Brian2's, CV within {TOL_CV:.0%}, "
          f"Fano factor within {TOL_FF:.0%}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
