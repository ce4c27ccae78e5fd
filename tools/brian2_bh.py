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
import statistics
import sys

import b2standalone


def main():
    a = b2standalone.parse_args(__doc__, 5000, 'neurons; p = 1000/N')
    started = b2standalone.start(a, 'brian2_bh')
    if started is None:
        return 77
    b2, np, build_dir = started
    from brian2 import ms, mV, second

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

    header = (f"brian2_bh: Brian2 {b2.__version__} cpp_standalone, N={N}, p={p:.4g}, threads={a.threads}, "
              f"duration={a.duration} s, build dir {build_dir}")

    def one_run():
        counts = np.asarray(mon.count[:], dtype=np.int64)
        events = int((counts * np.bincount(np.asarray(S.i[:]), minlength=N)).sum())
        rate = counts.sum() / N / a.duration
        return f"rate {rate:.2f} Hz, synapses {len(S)}, events {events}", (rate, events / a.duration, len(S))

    med, binary, res = b2standalone.build_and_run(a, b2, build_dir, header, one_run)
    print(f"synapses: {res[-1][2]}")
    print(f"simulate: {med:.4f}")
    print(f"binary: {binary:.3f}")
    print(f"rate: {statistics.median(r[0] for r in res):.2f}")
    print(f"events_per_s: {statistics.median(r[1] for r in res):.4g}")
    print(f"rtf: {med / a.duration:.4f}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
