#!/usr/bin/python3
"""The PD14 microcircuit of a Volley config (tools/gen_pd14.py's output) in Brian2 C++ standalone.

It reads the same YAML that Volley runs (configs/pd14_small.yaml by default), so that both simulate
one model: iaf_psc_exp neurons (C dv/dt = g_L (E_L - v) + I_exc + I_inh + I_e, exponential currents,
v held for t_ref after a spike), fixed_total_number projections with multapses (pre and post drawn
uniformly), normal weights and delays redrawn outside their bounds, initial v normal, and each
population's Poisson background as a PoissonInput of rate/8 Hz sources at 8 Hz onto I_exc. The
connectivity is a numpy draw: another realisation of the same rules as Volley's.

Printed lines (`key: value`):
    compile: S                 code generation + make, seconds
    run K: simulate S s, ...   one line per run of the binary (each run draws new inputs and v0)
    rate POP: R                mean over the runs of the population's rate after --skip, Hz
Usage: brian2_pd14.py [MODEL.yaml] [--duration 3] [--skip 0.5] [--repeat 3] [--threads 1] [--seed S]
"""
import argparse
import os
import re
import sys

import b2standalone

UNITS = {'ms': 1e-3, 's': 1.0, 'mV': 1e-3, 'pA': 1e-12, 'nA': 1e-9, 'pF': 1e-12, 'nS': 1e-9, 'Hz': 1.0}


def si(text):
    """'250 pF' -> 2.5e-10 (SI base units); only the units gen_pd14.py writes."""
    m = re.fullmatch(r'\s*([-+0-9.eE]+)\s*([A-Za-z]+)\s*', str(text))
    if not m or m.group(2) not in UNITS:
        raise ValueError(f"cannot read the quantity '{text}' (expected e.g. '250 pF')")
    return float(m.group(1)) * UNITS[m.group(2)]


def truncated_normal(np, rng, mean, sd, lo, hi, n):
    """n normal draws, each redrawn until it lies in [lo, hi] (as Volley draws bounded weights)."""
    x = rng.normal(mean, sd, n)
    bad = (x < lo) | (x > hi)
    while bad.any():
        x[bad] = rng.normal(mean, sd, int(bad.sum()))
        bad = (x < lo) | (x > hi)
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('model', nargs='?', default=None, help='the Volley config (default configs/pd14_small.yaml)')
    ap.add_argument('--duration', type=float, default=3.0, help='simulated seconds')
    ap.add_argument('--skip', type=float, default=0.5, help='seconds left out of the rates (the start)')
    ap.add_argument('--repeat', type=int, default=3, help='runs of the compiled binary')
    ap.add_argument('--threads', type=int, default=1, help='OpenMP threads; 1 = serial code')
    ap.add_argument('--seed', type=int, default=None, help='seed of the connectivity draw and of Brian2')
    ap.add_argument('--spikes', metavar='FILE.npz', help='save the last run\'s spikes (t in s, global i, '
                    'population starts and names)')
    ap.add_argument('--keep', metavar='DIR', help='build into DIR and keep it (default: a temp dir, removed)')
    a = ap.parse_args()
    if a.model is None:
        a.model = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'configs', 'pd14_small.yaml')
    try:
        import yaml
    except ImportError as e:
        print(f"brian2_pd14: PyYAML not importable ({e}); Debian python3-yaml")
        return 77
    started = b2standalone.start(a, 'brian2_pd14')
    if started is None:
        return 77
    b2, np, build_dir = started
    if a.seed is None:  # the binary's own draws are seeded at run time, so each repeat differs
        b2.seed()
    from brian2 import amp, farad, second, siemens, volt, Hz

    cfg = yaml.safe_load(open(a.model))
    if abs(si(cfg['dt']) - 1e-4) > 1e-12:
        raise SystemExit("brian2_pd14: the model's dt must be 0.1 ms (b2standalone's clock)")
    names = list(cfg['populations'])
    sizes = [int(cfg['populations'][p]['size']) for p in names]
    start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n_total = int(start[-1])

    eqs = '''
    dv/dt = (g_L * (E_L - v) + I_exc + I_inh + I_e) / C : volt (unless refractory)
    dI_exc/dt = -I_exc / tau_exc : amp
    dI_inh/dt = -I_inh / tau_inh : amp
    C : farad (constant)
    g_L : siemens (constant)
    E_L : volt (constant)
    V_th : volt (constant)
    V_reset : volt (constant)
    I_e : amp (constant)
    tau_exc : second (constant)
    tau_inh : second (constant)
    t_ref : second (constant)
    v0_mean : volt (constant)
    v0_sd : volt (constant)
    '''
    G = b2.NeuronGroup(n_total, eqs, threshold='v > V_th', reset='v = V_reset', refractory='t_ref',
                       method='exact')
    per = {k: np.zeros(n_total) for k in ('C', 'g_L', 'E_L', 'V_th', 'V_reset', 'I_e', 'tau_exc', 'tau_inh',
                                          't_ref', 'v0_mean', 'v0_sd')}
    inputs = []
    for i, p in enumerate(names):
        pop = cfg['populations'][p]
        if pop.get('model') != 'lif_curr_exp':
            raise SystemExit(f"brian2_pd14: population {p} is not lif_curr_exp")
        par = {k: si(v) for k, v in pop['params'].items()}
        sl = slice(start[i], start[i + 1])
        for k in ('C', 'E_L', 'V_th', 'V_reset', 'tau_exc', 'tau_inh', 't_ref'):
            per[k][sl] = par[k]
        per['g_L'][sl] = par['g_L'] if 'g_L' in par else par['C'] / par['tau_m']
        per['I_e'][sl] = par.get('I_e', 0.0)
        mean, sd = (si(x) for x in pop['init']['v']['normal'])
        per['v0_mean'][sl], per['v0_sd'][sl] = mean, sd
        bg = pop.get('background')
        if bg:
            n_src = int(round(si(bg['rate']) / 8.0))
            inputs.append(b2.PoissonInput(G[start[i]:start[i + 1]], 'I_exc', N=n_src, rate=8 * Hz,
                                          weight=f"{si(bg['weight'])!r}*amp"))
    units = dict(C=farad, g_L=siemens, E_L=volt, V_th=volt, V_reset=volt, I_e=amp, tau_exc=second,
                 tau_inh=second, t_ref=second, v0_mean=volt, v0_sd=volt)
    for k, u in units.items():
        setattr(G, k, per[k] * u)
    G.v = 'v0_mean + v0_sd * randn()'  # drawn in the binary, anew in each run

    rng = np.random.default_rng(a.seed)
    syn = {'exc': ([], [], [], []), 'inh': ([], [], [], [])}
    for pr in cfg['projections']:
        s, t = names.index(pr['from']), names.index(pr['to'])
        k = int(pr['connect']['fixed_total_number'])
        pre = start[s] + rng.integers(0, sizes[s], k)
        post = start[t] + rng.integers(0, sizes[t], k)
        wmean, wsd = (si(x) for x in pr['weight']['normal'])
        lo = si(pr['weight']['min']) if 'min' in pr['weight'] else -np.inf
        hi = si(pr['weight']['max']) if 'max' in pr['weight'] else np.inf
        dmean, dsd = (si(x) for x in pr['delay']['normal'])
        dlo = si(pr['delay'].get('min', '0 ms'))
        dhi = si(pr['delay']['max']) if 'max' in pr['delay'] else np.inf
        lists = syn[pr['receptor']]
        lists[0].append(pre)
        lists[1].append(post)
        lists[2].append(truncated_normal(np, rng, wmean, wsd, lo, hi, k))
        lists[3].append(truncated_normal(np, rng, dmean, dsd, dlo, dhi, k))
    groups = []
    for rec, (pre, post, w, d) in syn.items():
        if not pre:
            continue
        S = b2.Synapses(G, G, 'w : amp', on_pre=f'I_{rec} += w')
        S.connect(i=np.concatenate(pre), j=np.concatenate(post))
        S.w = np.concatenate(w) * amp
        S.delay = np.concatenate(d) * second
        groups.append(S)
    mon = b2.SpikeMonitor(G)
    # an explicit network: the magic one would miss the objects kept in lists
    b2.Network(G, *inputs, *groups, mon).run(a.duration * second)

    n_syn = sum(len(np.concatenate(v[0])) for v in syn.values() if v[0])
    header = (f"brian2_pd14: Brian2 {b2.__version__} cpp_standalone, {a.model}, {n_total} neurons, {n_syn} synapses, "
              f"threads={a.threads}, duration={a.duration} s, rates after {a.skip} s, build dir {build_dir}")

    def one_run():
        t = np.asarray(mon.t[:] / second)
        i = np.asarray(mon.i[:])
        keep = t >= a.skip
        counts = np.bincount(i[keep], minlength=n_total)
        rates = [counts[start[k]:start[k + 1]].sum() / sizes[k] / (a.duration - a.skip) for k in range(len(names))]
        if a.spikes:
            np.savez(a.spikes, t=t, i=i, start=start, names=np.array(names))
        return ' '.join(f'{p} {r:.2f}' for p, r in zip(names, rates)) + ' Hz', rates

    a.repeat = max(1, a.repeat)
    med, binary, res = b2standalone.build_and_run(a, b2, build_dir, header, one_run)
    print(f"simulate: {med:.4f}")
    mean = np.mean(np.array(res), axis=0)
    for p, r in zip(names, mean):
        print(f"rate {p}: {r:.4f}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
