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
import statistics
import sys

import b2standalone


def main():
    a = b2standalone.parse_args(__doc__, 4000, 'neurons (80%% exc); p = 80/N')
    started = b2standalone.start(a, 'brian2_coba')
    if started is None:
        return 77
    b2, np, build_dir = started
    from brian2 import ms, mV, nS, pF, second

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

    header = (f"brian2_coba: Brian2 {b2.__version__} cpp_standalone, N={N} ({NE} exc), p={p:.4g}, "
              f"threads={a.threads}, duration={a.duration} s, build dir {build_dir}")

    def one_run():
        counts = np.asarray(mon.count[:], dtype=np.int64)
        outdeg = (np.bincount(np.asarray(Ce.i[:]), minlength=NE), np.bincount(np.asarray(Ci.i[:]), minlength=N - NE))
        events = int((counts[:NE] * outdeg[0]).sum() + (counts[NE:] * outdeg[1]).sum())
        n_syn = len(Ce) + len(Ci)
        re = counts[:NE].sum() / NE / a.duration
        ri = counts[NE:].sum() / (N - NE) / a.duration
        return (f"rate_exc {re:.2f} Hz, rate_inh {ri:.2f} Hz, synapses {n_syn}, events {events}",
                (re, ri, events / a.duration, n_syn))

    med, binary, res = b2standalone.build_and_run(a, b2, build_dir, header, one_run)
    print(f"synapses: {res[-1][3]}")
    print(f"simulate: {med:.4f}")
    print(f"binary: {binary:.3f}")
    print(f"rate_exc: {statistics.median(r[0] for r in res):.2f}")
    print(f"rate_inh: {statistics.median(r[1] for r in res):.2f}")
    print(f"events_per_s: {statistics.median(r[2] for r in res):.4g}")
    print(f"rtf: {med / a.duration:.4f}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
