#!/usr/bin/python3
"""Brunel & Hakim (1999) in Brian2 C++ standalone, as Brian2's examples/frompapers/Brunel_Hakim_1999.py.

shared/BENCHMARKS.md section 4 and Volley's configs/brunel_hakim.yaml: N inhibitory LIF neurons,
tau dV/dt = -V + mu + sigma sqrt(tau) xi (tau 20 ms, mu 25 mV, sigma 1 mV, theta 20 mV, V_r 10 mV,
2 ms refractory; the example's Euler-Maruyama, one Gaussian per neuron and step), each neuron with
p = 1000/N inputs that subtract 0.1 mV after 2 ms; V starts uniform in [0, 20 mV] as in the config.
dt 0.1 ms, spike counts only.

The project is generated and compiled once into a temporary folder; the binary then runs
--repeat times. Printed lines (one `key: value` per line, for tools/bench-cpu.sh -m bh):
    compile: S          code generation + make, seconds
    run K: simulate S s, binary S s, rate R Hz, synapses S
    simulate: S         median over the runs of the network's own timer (the time steps only)
    binary: S           median wall time of the whole binary (also synapse creation, I/O)
    rate / events_per_s / rtf
Usage: brian2_bh.py [--threads N] [--repeat K] [--N 5000] [--duration 1] [--seed S] [--keep DIR]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('--threads', type=int, default=1,
                    help='OpenMP threads (prefs.devices.cpp_standalone.openmp_threads); 1 = serial code')
    ap.add_argument('--repeat', type=int, default=1, help='run the compiled binary this many times')
    ap.add_argument('--N', type=int, default=5000, help='neurons; p = 1000/N')
    ap.add_argument('--duration', type=float, default=1.0, help='simulated seconds')
    ap.add_argument('--seed', type=int, default=None, help='random seed (default: a new one each run)')
    ap.add_argument('--keep', metavar='DIR', help='build into DIR and keep it (default: a temp dir, removed)')
    a = ap.parse_args()

    warnings.filterwarnings('ignore', category=FutureWarning)
    try:
        import numpy as np
        import brian2 as b2
    except ImportError as e:
        print(f"brian2_bh: Brian2 not importable ({e}); Debian python3-brian, /usr/bin/python3")
        return 77
    from brian2 import ms, mV, second

    build_dir = a.keep or tempfile.mkdtemp(prefix='brian2_bh_')
    b2.set_device('cpp_standalone', directory=build_dir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = a.threads if a.threads > 1 else 0
    b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f'-j{os.cpu_count() or 2}']
    b2.defaultclock.dt = 0.1 * ms
    if a.seed is not None:
        b2.seed(a.seed)

    N = a.N
    p = 1000.0 / N
    ns = dict(tau=20 * ms, theta=20 * mV, Vr=10 * mV, muext=25 * mV, sigmaext=1 * mV, J=0.1 * mV)
    eqs = 'dV/dt = (-V + muext + sigmaext * sqrt(tau) * xi) / tau : volt'
    G = b2.NeuronGroup(N, eqs, threshold='V > theta', reset='V = Vr', refractory=2 * ms, method='euler',
                       namespace=ns)
    G.V = '20*mV * rand()'
    S = b2.Synapses(G, G, on_pre='V += -J', delay=2 * ms, namespace=ns)
    S.connect(p=p)
    mon = b2.SpikeMonitor(G, record=False)
    b2.run(a.duration * second)

    t0 = time.time()
    b2.device.build(directory=build_dir, compile=True, run=False, with_output=False)
    compile_s = time.time() - t0
    print(f"brian2_bh: Brian2 {b2.__version__} cpp_standalone, N={N}, p={p:.4g}, threads={a.threads}, "
          f"duration={a.duration} s, build dir {build_dir}")
    print(f"compile: {compile_s:.2f}")
    sims, bins, res = [], [], []
    try:
        for k in range(a.repeat):
            b2.device.run(build_dir, with_output=False, run_args=[])
            sim = float(b2.device._last_run_time)
            binary = float(b2.device.timers['run_binary'])
            counts = np.asarray(mon.count[:], dtype=np.int64)
            outdeg = np.bincount(np.asarray(S.i[:]), minlength=N)
            events = int((counts * outdeg).sum())
            rate = counts.sum() / N / a.duration
            sims.append(sim)
            bins.append(binary)
            res.append((rate, events / a.duration, len(S)))
            print(f"run {k + 1}: simulate {sim:.4f} s, binary {binary:.3f} s, rate {rate:.2f} Hz, "
                  f"synapses {len(S)}, events {events}")
            sys.stdout.flush()
    finally:
        if not a.keep:
            shutil.rmtree(build_dir, ignore_errors=True)
    med = statistics.median(sims)
    print(f"synapses: {res[-1][2]}")
    print(f"simulate: {med:.4f}")
    print(f"binary: {statistics.median(bins):.3f}")
    print(f"rate: {statistics.median(r[0] for r in res):.2f}")
    print(f"events_per_s: {statistics.median(r[1] for r in res):.4g}")
    print(f"rtf: {med / a.duration:.4f}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
