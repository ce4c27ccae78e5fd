#!/usr/bin/python3
"""The downscaled PD14 microcircuit (configs/pd14_small.yaml) in Volley and in Brian2.

Volley runs the config with seeds 1-3; tools/brian2_pd14.py builds the same model from the same
YAML in Brian2 (another draw of the connectivity) and runs it once. Each population's rate after the
first 0.5 s must agree within TOL (relative, plus 0.1 Hz for the slowest populations). The
full-scale rates the NEST example lists are printed beside them for context only: downscaling the
in-degrees changes some populations' rates (in both simulators alike), so they are not asserted.

    tests/python/test_pd14_brian2.py path/to/volley [repo-root]
Exit 0 pass, 1 fail, 77 skip (Brian2, h5py or yaml not importable).
"""
import os
import subprocess
import sys
import tempfile

DURATION, SKIP = 2.5, 0.5
TOL, FLOOR = 0.15, 0.1
NEST_FULL = {'L23E': 0.971, 'L23I': 2.868, 'L4E': 4.746, 'L4I': 5.396,
             'L5E': 8.142, 'L5I': 9.078, 'L6E': 0.991, 'L6I': 7.523}


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
                    t = f[f'/spikes/{p}/timestamps'][:]
                    rates[p].append(np.count_nonzero(t >= SKIP * 1000) / sizes[p] / (DURATION - SKIP))
    volley_rate = {p: float(np.mean(v)) for p, v in rates.items()}

    cmd = [sys.executable, os.path.join(root, 'tools', 'brian2_pd14.py'), model, '--duration', str(DURATION),
           '--skip', str(SKIP), '--repeat', '1', '--seed', '5']
    r = subprocess.run(cmd, capture_output=True, text=True)
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
    print(f"{'population':<11}{'Volley':>8}{'Brian2':>8}{'ratio':>7}   (NEST full scale)")
    for p in names:
        v, b = volley_rate[p], brian_rate.get(p, float('nan'))
        ok = abs(v - b) <= TOL * b + FLOOR
        print(f"{p:<11}{v:8.2f}{b:8.2f}{v / b if b else float('nan'):7.2f}   ({NEST_FULL.get(p, float('nan')):.2f})"
              f"{'' if ok else '   <-- outside'}")
        if not ok:
            bad.append(p)
    if bad:
        print(f"FAIL: rates of {', '.join(bad)} differ from Brian2's by more than {TOL:.0%} + {FLOOR} Hz")
        return 1
    print(f"PASS: every population within {TOL:.0%} + {FLOOR} Hz of Brian2")
    return 0


if __name__ == '__main__':
    sys.exit(main())
