#!/usr/bin/python3
"""COBA benchmark (Vogels & Abbott 2005, Brette et al. 2007 #1) in Brian2 C++ standalone.

Definition as in shared/BENCHMARKS.md section 1, with the PyNN/NEST kick start that Volley's
configs/coba.yaml uses: v uniform in [V_reset, V_th], zero conductances, 20 Poisson sources at
100 Hz during the first 50 ms, each connected with p = 0.01 to every neuron at 100 nS onto g_e.
N neurons (80 % exc), p = 80/N (0.02 at N = 4000), exponential_euler, dt 0.1 ms, no delay beyond
one step, no recording except spike counts.

The project is generated and compiled once into a temporary folder; the binary then runs
--repeat times. Printed lines (one `key: value` per line, for tools/bench-cpu.sh):
    compile: S          code generation + make, seconds
    run K: simulate S s, binary S s, rate_exc R Hz, rate_inh R Hz, events E
    simulate: S         median over the runs of the network's own timer (Network::run's
                        wall-clock loop: the time steps only, as device._last_run_time)
    binary: S           median wall time of the whole binary (also synapse creation, I/O)
    rate_exc / rate_inh / events_per_s / rtf
Usage: brian2_coba.py [--threads N] [--repeat K] [--N 4000] [--duration 1] [--seed S] [--keep DIR]
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
    ap.add_argument('--N', type=int, default=4000, help='neurons (80%% exc); p = 80/N')
    ap.add_argument('--duration', type=float, default=1.0, help='simulated seconds')
    ap.add_argument('--seed', type=int, default=None, help='random seed (default: a new one each run)')
    ap.add_argument('--keep', metavar='DIR', help='build into DIR and keep it (default: a temp dir, removed)')
    a = ap.parse_args()

    warnings.filterwarnings('ignore', category=FutureWarning)
    try:
        import numpy as np
        import brian2 as b2
    except ImportError as e:
        print(f"brian2_coba: Brian2 not importable ({e}); Debian python3-brian, /usr/bin/python3")
        return 77
    from brian2 import ms, mV, nS, pF, second

    build_dir = a.keep or tempfile.mkdtemp(prefix='brian2_coba_')
    b2.set_device('cpp_standalone', directory=build_dir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = a.threads if a.threads > 1 else 0
    b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f'-j{os.cpu_count() or 2}']
    b2.defaultclock.dt = 0.1 * ms
    if a.seed is not None:
        b2.seed(a.seed)

    N = a.N
    NE = int(round(0.8 * N))
    p = 80.0 / N
    ns = dict(taue=5 * ms, taui=10 * ms, C=200 * pF, gL=10 * nS, El=-60 * mV, Ee=0 * mV, Ei=-80 * mV,
              Vt=-50 * mV, Vr=-60 * mV, we=6 * nS, wi=67 * nS, wk=100 * nS)
    eqs = '''
    dv/dt = (gL*(El - v) + ge*(Ee - v) + gi*(Ei - v)) / C : volt (unless refractory)
    dge/dt = -ge / taue : siemens
    dgi/dt = -gi / taui : siemens
    '''
    P = b2.NeuronGroup(N, eqs, threshold='v > Vt', reset='v = Vr', refractory=5 * ms,
                       method='exponential_euler', namespace=ns)
    P.v = 'Vr + rand() * (Vt - Vr)'
    P.ge = 0 * nS
    P.gi = 0 * nS
    Ce = b2.Synapses(P[:NE], P, on_pre='ge += we', namespace=ns)
    Ci = b2.Synapses(P[NE:], P, on_pre='gi += wi', namespace=ns)
    Ce.connect(p=p)
    Ci.connect(p=p)
    kick = b2.PoissonGroup(20, rates='100*Hz * int(t < 50*ms)')
    K = b2.Synapses(kick, P, on_pre='ge += wk', namespace=ns)
    K.connect(p=0.01)
    mon = b2.SpikeMonitor(P, record=False)
    b2.run(a.duration * second)

    t0 = time.time()
    b2.device.build(directory=build_dir, compile=True, run=False, with_output=False)
    compile_s = time.time() - t0
    print(f"brian2_coba: Brian2 {b2.__version__} cpp_standalone, N={N} ({NE} exc), p={p:.4g}, "
          f"threads={a.threads}, duration={a.duration} s, build dir {build_dir}")
    print(f"compile: {compile_s:.2f}")
    sims, bins, res = [], [], []
    try:
        for k in range(a.repeat):
            b2.device.run(build_dir, with_output=False, run_args=[])
            sim = float(b2.device._last_run_time)
            binary = float(b2.device.timers['run_binary'])
            counts = np.asarray(mon.count[:], dtype=np.int64)
            outdeg = (np.bincount(np.asarray(Ce.i[:]), minlength=NE),
                      np.bincount(np.asarray(Ci.i[:]), minlength=N - NE))
            events = int((counts[:NE] * outdeg[0]).sum() + (counts[NE:] * outdeg[1]).sum())
            n_syn = len(Ce) + len(Ci)
            re = counts[:NE].sum() / NE / a.duration
            ri = counts[NE:].sum() / (N - NE) / a.duration
            sims.append(sim)
            bins.append(binary)
            res.append((re, ri, events / a.duration, n_syn))
            print(f"run {k + 1}: simulate {sim:.4f} s, binary {binary:.3f} s, rate_exc {re:.2f} Hz, "
                  f"rate_inh {ri:.2f} Hz, synapses {n_syn}, events {events}")
            sys.stdout.flush()
    finally:
        if not a.keep:
            shutil.rmtree(build_dir, ignore_errors=True)
    med = statistics.median(sims)
    print(f"synapses: {res[-1][3]}")
    print(f"simulate: {med:.4f}")
    print(f"binary: {statistics.median(bins):.3f}")
    print(f"rate_exc: {statistics.median(r[0] for r in res):.2f}")
    print(f"rate_inh: {statistics.median(r[1] for r in res):.2f}")
    print(f"events_per_s: {statistics.median(r[2] for r in res):.4g}")
    print(f"rtf: {med / a.duration:.4f}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
