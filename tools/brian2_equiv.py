#!/usr/bin/python3
"""Run a small deterministic Volley model in Brian2 and, optionally, compare Volley's spikes.

The model is read from the same YAML file that `volley run` reads (only the deterministic subset
of the schema is supported: lif_cond_exp / lif_curr_exp / lif_delta populations with constant
parameters and constant init, spike_times inputs, and projections whose connectivity is a CSV
file, all_to_all or one_to_one with constant weight and delay). Brian2 runs with the numpy
code-generation target in float64 and follows its default schedule, which Volley mirrors:

    groups (integrate) -> thresholds (spike, inputs emit) -> synapses (on_pre) -> resets

so a spike at step s through a synapse with delay d changes the target at the synapses slot of
step s + round(d/dt) and the integration of step s + 1 + round(d/dt) sees it.

Usage:
    brian2_equiv.py MODEL.yaml                       # run Brian2, print spike counts
    brian2_equiv.py MODEL.yaml -o spikes.csv         # also write population,neuron,step,time_ms
    brian2_equiv.py MODEL.yaml --compare OUT.h5      # compare with Volley's SONATA output
    brian2_equiv.py MODEL.yaml --no-synapses         # drop every projection (sensitivity check)
    brian2_equiv.py MODEL.yaml --engine f32          # float32 numpy re-implementation of
                                                     # Volley's kernel instead of Brian2

Exit status: 0 ok / match, 1 mismatch, 2 usage or model error, 77 Brian2 not importable
(only when Brian2 is needed).
"""
import argparse
import csv
import os
import re
import sys

import numpy as np

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.stderr.write("brian2_equiv: python3-yaml is required (apt-get install python3-yaml)\n")
    sys.exit(2)

EXIT_MISMATCH, EXIT_USAGE, EXIT_SKIP = 1, 2, 77


class ModelError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Units: every quantity is converted to Volley's internal units (ms, mV, nS, pF, pA, Hz).

_UNITS = {
    'time': {'s': 1e3, 'ms': 1.0, 'us': 1e-3},
    'voltage': {'V': 1e3, 'mV': 1.0, 'uV': 1e-3},
    'conductance': {'S': 1e9, 'mS': 1e6, 'uS': 1e3, 'nS': 1.0, 'pS': 1e-3},
    'capacitance': {'F': 1e12, 'uF': 1e6, 'nF': 1e3, 'pF': 1.0},
    'current': {'A': 1e12, 'mA': 1e9, 'uA': 1e6, 'nA': 1e3, 'pA': 1.0},
    'rate': {'Hz': 1.0, 'kHz': 1e3},
}
_QTY = re.compile(r'^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]+)\s*$')


def qty(value, dim, what):
    """'0.1 ms' -> 0.1 (internal unit of dim). Units are mandatory, as in Volley."""
    if isinstance(value, (int, float)) and value == 0:
        return 0.0
    m = _QTY.match(str(value))
    if not m:
        raise ModelError(f"{what}: expected a number with a unit, got {value!r}")
    num, unit = float(m.group(1)), m.group(2)
    table = _UNITS[dim]
    if unit not in table:
        raise ModelError(f"{what}: unit {unit!r} is not a {dim} unit ({', '.join(table)})")
    return num * table[unit]


def const_qty(value, dim, what):
    if isinstance(value, dict):
        raise ModelError(f"{what}: only constant values are supported here (the Brian2 equivalence "
                         f"model must be deterministic), got {value!r}")
    return qty(value, dim, what)


# ---------------------------------------------------------------------------------------------
# Model

# Defaults as in Volley's reader (NEST's iaf_cond_exp / iaf_psc_exp / iaf_psc_delta).
def _defaults(model):
    cond = model == 'lif_cond_exp'
    return {'C': 250.0, 'E_L': -70.0, 'V_th': -55.0, 'V_reset': -60.0 if cond else -70.0,
            't_ref': 2.0, 'g_L': 16.6667 if cond else 25.0, 'I_e': 0.0, 'sigma': 0.0,
            'E_exc': 0.0, 'E_inh': -85.0, 'tau_exc': 0.2 if cond else 2.0, 'tau_inh': 2.0}


_PARAM_DIM = {'C': 'capacitance', 'g_L': 'conductance', 'tau_m': 'time', 'E_L': 'voltage',
              'V_th': 'voltage', 'V_reset': 'voltage', 't_ref': 'time', 'I_e': 'current',
              'sigma': 'voltage', 'E_exc': 'voltage', 'E_inh': 'voltage', 'tau_exc': 'time',
              'tau_inh': 'time'}
_WEIGHT_DIM = {'lif_cond_exp': 'conductance', 'lif_curr_exp': 'current', 'lif_delta': 'voltage'}


def read_csv_conn(path):
    """CSV lines source,target[,weight[,delay]]; '#' comments; optional header line."""
    src, tgt, w, d = [], [], [], []
    with open(path, newline='') as f:
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith('#'):
                continue
            if s[0].isalpha():
                continue  # header
            cols = [c.strip() for c in next(csv.reader([s]))]
            if len(cols) < 2:
                raise ModelError(f"{path}:{lineno}: expected source,target[,weight[,delay]]")
            src.append(int(cols[0]))
            tgt.append(int(cols[1]))
            w.append(float(cols[2]) if len(cols) > 2 and cols[2] != '' else np.nan)
            d.append(float(cols[3]) if len(cols) > 3 and cols[3] != '' else np.nan)
    return (np.array(src, dtype=np.int64), np.array(tgt, dtype=np.int64),
            np.array(w, dtype=np.float64), np.array(d, dtype=np.float64))


def find_data(model_dir, name):
    p = name if os.path.isabs(name) else os.path.join(model_dir, name)
    if os.path.exists(p):
        return p
    if os.path.exists(name):
        return name
    raise ModelError(f"file {name!r} not found beside the model file or in the working directory")


def load_model(path, overrides=()):
    with open(path) as f:
        doc = yaml.safe_load(f)
    for ov in overrides:  # --set a.b.c=value (simple scalar paths only)
        key, _, val = ov.partition('=')
        node = doc
        parts = key.split('.')
        for k in parts[:-1]:
            node = node.setdefault(k, {})
        node[parts[-1]] = yaml.safe_load(val)
    model_dir = os.path.dirname(os.path.abspath(path))
    m = {'name': doc.get('name', 'model'),
         'dt': qty(doc.get('dt', '0.1 ms'), 'time', 'dt'),
         'duration': qty(doc.get('duration', '1000 ms'), 'time', 'duration'),
         'pops': {}, 'inputs': {}, 'proj': []}
    for name, p in (doc.get('populations') or {}).items():
        model = p.get('model')
        if model not in _WEIGHT_DIM:
            raise ModelError(f"population {name}: unsupported model {model!r}")
        if 'receptors' in p:
            raise ModelError(f"population {name}: custom receptors are not supported by this tool")
        par = _defaults(model)
        given = p.get('params') or {}
        for k, v in given.items():
            if k not in _PARAM_DIM:
                raise ModelError(f"population {name}: unknown parameter {k}")
            par[k] = const_qty(v, _PARAM_DIM[k], f"{name}.params.{k}")
        if 'tau_m' in given:  # tau_m with C gives g_L (Volley: g_L = C / tau_m unless g_L is given)
            if 'g_L' not in given:
                par['g_L'] = par['C'] / par['tau_m']
        par.pop('tau_m', None)
        if par['sigma'] != 0:
            raise ModelError(f"population {name}: sigma (noise) makes the model random; not supported")
        refr = p.get('refractory', 'clamp')
        if refr not in ('clamp', 'integrate'):
            raise ModelError(f"population {name}: refractory must be clamp or integrate")
        init = p.get('init') or {}
        iv = {'v': par['E_L'], 'exc': 0.0, 'inh': 0.0}
        for k, v in init.items():
            if k == 'v':
                iv['v'] = const_qty(v, 'voltage', f"{name}.init.v")
            elif k in ('g_exc', 'g_inh', 'I_exc', 'I_inh'):
                iv[k[2:]] = const_qty(v, _WEIGHT_DIM[model], f"{name}.init.{k}")
            else:
                raise ModelError(f"population {name}: unsupported init variable {k}")
        m['pops'][name] = {'size': int(p['size']), 'model': model, 'params': par, 'init': iv,
                           'refractory': refr}
    for name, p in (doc.get('inputs') or {}).items():
        if p.get('model') != 'spike_times':
            raise ModelError(f"input {name}: only spike_times inputs are deterministic "
                             f"(got {p.get('model')!r})")
        ids, times = [], []
        if 'spikes' in p:
            for item in p['spikes']:
                ids.append(int(item[0]))
                times.append(qty(item[1], 'time', f"{name}.spikes"))
        if 'file' in p:  # lines neuron,time_ms; '#' comments and a header line are skipped
            with open(find_data(model_dir, p['file'])) as f:
                for lineno, line in enumerate(f, 1):
                    s = line.strip()
                    if not s or s.startswith('#') or s[0].isalpha():
                        continue
                    cols = [c for c in re.split(r'[,\s]+', s) if c]
                    if len(cols) < 2:
                        raise ModelError(f"{p['file']}:{lineno}: expected neuron,time_ms")
                    ids.append(int(cols[0]))
                    times.append(float(cols[1]))
        for k in ('start', 'stop'):
            if k in p:
                raise ModelError(f"input {name}: {k} is not supported by this tool")
        m['inputs'][name] = {'size': int(p['size']), 'ids': np.array(ids, dtype=np.int64),
                             'times': np.array(times, dtype=np.float64)}
    for k, pr in enumerate(doc.get('projections') or []):
        src, tgt = pr['from'], pr['to']
        what = pr.get('name', f"projections[{k}] ({src}->{tgt})")
        if '[' in src or '[' in tgt or '.' in src or '.' in tgt:
            raise ModelError(f"{what}: population slices are not supported by this tool")
        if tgt not in m['pops']:
            raise ModelError(f"{what}: target {tgt!r} is not a neuron population")
        ns = m['pops'][src]['size'] if src in m['pops'] else m['inputs'][src]['size']
        nt = m['pops'][tgt]['size']
        tmodel = m['pops'][tgt]['model']
        rec = pr.get('receptor', 'exc')
        if rec not in ('exc', 'inh'):
            raise ModelError(f"{what}: receptor {rec!r} not supported")
        con = pr.get('connect')
        wv, dv = pr.get('weight'), pr.get('delay', 0)
        if isinstance(con, dict) and 'file' in con:
            s, t, w, d = read_csv_conn(find_data(model_dir, con['file']))
        elif con == 'all_to_all' or (isinstance(con, dict) and 'all_to_all' in con):
            s, t = [a.ravel() for a in np.meshgrid(np.arange(ns), np.arange(nt), indexing='ij')]
            w = d = np.full(len(s), np.nan)
        elif con == 'one_to_one' or (isinstance(con, dict) and 'one_to_one' in con):
            if ns != nt:
                raise ModelError(f"{what}: one_to_one needs equal sizes")
            s = t = np.arange(ns)
            w = d = np.full(ns, np.nan)
        else:
            raise ModelError(f"{what}: only file, all_to_all and one_to_one are deterministic")
        if wv != 'file':
            w = np.full(len(s), const_qty(wv, _WEIGHT_DIM[tmodel], f"{what}: weight"))
        if dv != 'file':
            d = np.full(len(s), const_qty(dv, 'time', f"{what}: delay"))
        if np.isnan(w).any() or np.isnan(d).any():
            raise ModelError(f"{what}: weight/delay 'file' but the CSV lacks that column")
        if len(s) and (s.min() < 0 or s.max() >= ns or t.min() < 0 or t.max() >= nt):
            raise ModelError(f"{what}: CSV index out of range (source size {ns}, target size {nt})")
        m['proj'].append({'name': what, 'src': src, 'tgt': tgt, 'receptor': rec,
                          'i': s, 'j': t, 'w': w, 'delay': d})
    return m


# ---------------------------------------------------------------------------------------------
# Brian2

def run_brian2(m, no_synapses=False):
    import warnings
    warnings.filterwarnings('ignore', category=FutureWarning)  # numpy/pythran noise on import
    try:
        import brian2 as b2
    except ImportError as e:
        print(f"SKIP: Brian2 is not importable ({e}); install python3-brian and use /usr/bin/python3")
        sys.exit(EXIT_SKIP)
    from brian2 import ms, mV, nS, pF, pA
    b2.prefs.codegen.target = 'numpy'
    b2.prefs.core.default_float_dtype = np.float64
    b2.start_scope()
    dt = m['dt'] * ms
    b2.defaultclock.dt = dt
    groups, mons = {}, {}
    wunit = {'lif_cond_exp': nS, 'lif_curr_exp': pA, 'lif_delta': mV}
    for name, p in m['pops'].items():
        par = p['params']
        ns = {'C': par['C'] * pF, 'g_L': par['g_L'] * nS, 'E_L': par['E_L'] * mV,
              'V_th': par['V_th'] * mV, 'V_reset': par['V_reset'] * mV, 'I_e': par['I_e'] * pA,
              'E_exc': par['E_exc'] * mV, 'E_inh': par['E_inh'] * mV,
              'tau_exc': par['tau_exc'] * ms, 'tau_inh': par['tau_inh'] * ms}
        unless = ' (unless refractory)' if p['refractory'] == 'clamp' else ''
        if p['model'] == 'lif_cond_exp':
            eqs = f'''
            dv/dt = (g_L*(E_L - v) + g_exc*(E_exc - v) + g_inh*(E_inh - v) + I_e) / C : volt{unless}
            dg_exc/dt = -g_exc / tau_exc : siemens
            dg_inh/dt = -g_inh / tau_inh : siemens
            '''
            method = 'exponential_euler'
        elif p['model'] == 'lif_curr_exp':
            eqs = f'''
            dv/dt = (g_L*(E_L - v) + I_exc + I_inh + I_e) / C : volt{unless}
            dI_exc/dt = -I_exc / tau_exc : amp
            dI_inh/dt = -I_inh / tau_inh : amp
            '''
            method = 'exact'
        else:
            eqs = f'dv/dt = (g_L*(E_L - v) + I_e) / C : volt{unless}'
            method = 'exact'
        g = b2.NeuronGroup(p['size'], eqs, threshold='v > V_th', reset='v = V_reset',
                           refractory=par['t_ref'] * ms, method=method, namespace=ns, name=name)
        g.v = p['init']['v'] * mV
        if p['model'] == 'lif_cond_exp':
            g.g_exc = p['init']['exc'] * nS
            g.g_inh = p['init']['inh'] * nS
        elif p['model'] == 'lif_curr_exp':
            g.I_exc = p['init']['exc'] * pA
            g.I_inh = p['init']['inh'] * pA
        groups[name] = g
    for name, p in m['inputs'].items():
        groups[name] = b2.SpikeGeneratorGroup(p['size'], p['ids'], p['times'] * ms, name=name)
    net = b2.Network(*groups.values())
    for name, g in groups.items():
        mons[name] = b2.SpikeMonitor(g, name=f'{name}_spikes')
        net.add(mons[name])
    if not no_synapses:
        for k, pr in enumerate(m['proj']):
            tmodel = m['pops'][pr['tgt']]['model']
            var = {'lif_cond_exp': f"g_{pr['receptor']}_post", 'lif_curr_exp': f"I_{pr['receptor']}_post",
                   'lif_delta': 'v_post'}[tmodel]
            unit = {'lif_cond_exp': 'siemens', 'lif_curr_exp': 'amp', 'lif_delta': 'volt'}[tmodel]
            # lif_delta: a jump that lands right at the end of a refractory period may be
            # treated differently (Volley drops inputs arriving in clamped steps); keep such
            # models away from that edge or compare with --engine f32.
            on_pre = f'{var} += w'
            S = b2.Synapses(groups[pr['src']], groups[pr['tgt']], f'w : {unit}', on_pre=on_pre,
                            name=f'proj{k}')
            if len(pr['i']):
                S.connect(i=pr['i'], j=pr['j'])
                S.w = pr['w'] * wunit[tmodel]
                S.delay = pr['delay'] * ms
            net.add(S)
    net.run(m['duration'] * ms, namespace={})
    out = {}
    for name, mon in mons.items():
        steps = np.round(np.asarray(mon.t / dt)).astype(np.int64)
        out[name] = (np.asarray(mon.i, dtype=np.int64), steps)
    return out


# ---------------------------------------------------------------------------------------------
# float32 re-implementation of Volley's kernel (kernels/neuron.h), same schedule

def run_f32(m, no_synapses=False):
    f32 = np.float32
    dt = m['dt']
    n_steps = int(round(m['duration'] / dt))
    proj = [] if no_synapses else m['proj']
    max_d = max([int(np.max(np.round(pr['delay'] / dt))) for pr in proj if len(pr['i'])] or [0])
    L = max_d + 2
    st = {}
    for name, p in m['pops'].items():
        par, n = p['params'], p['size']
        st[name] = {
            'v': np.full(n, p['init']['v'], dtype=f32),
            'refr': np.zeros(n, dtype=np.int32),
            'g': {'exc': np.full(n, p['init']['exc'], dtype=f32), 'inh': np.full(n, p['init']['inh'], dtype=f32)},
            'ring': {r: np.zeros((L, n), dtype=f32) for r in ('exc', 'inh')},
            'decay': {'exc': f32(np.exp(-dt / par['tau_exc'])), 'inh': f32(np.exp(-dt / par['tau_inh']))},
            'n_ref': int(round(par['t_ref'] / dt)),
            'v_decay': f32(np.exp(-dt * par['g_L'] / par['C'])),
        }
    # input spike steps (Brian2's SpikeGeneratorGroup binning: floor((t + 1e-3 dt) / dt))
    in_steps = {name: (p['ids'], np.floor((p['times'] + 1e-3 * dt) / dt).astype(np.int64))
                for name, p in m['inputs'].items()}
    out_i = {k: [] for k in list(m['pops']) + list(m['inputs'])}
    out_s = {k: [] for k in out_i}
    by_src = {}
    for pr in proj:
        if len(pr['i']):
            by_src.setdefault(pr['src'], []).append(
                (pr, np.round(pr['delay'] / dt).astype(np.int64), pr['w'].astype(f32)))
    for t in range(n_steps):
        fired = {}
        for name, p in m['pops'].items():
            s, par = st[name], p['params']
            slot = t % L
            v, refr = s['v'], s['refr']
            clamped = (refr > 0) & (p['refractory'] == 'clamp')
            ins = {r: s['ring'][r][slot].copy() for r in ('exc', 'inh')}
            for r in ('exc', 'inh'):
                s['ring'][r][slot] = 0
            if p['model'] == 'lif_cond_exp':
                G = np.full_like(v, f32(par['g_L']))
                GE = np.full_like(v, f32(par['g_L']) * f32(par['E_L']) + f32(par['I_e']))
                for r, E in (('exc', par['E_exc']), ('inh', par['E_inh'])):
                    gr = s['g'][r] + ins[r]
                    G = G + gr
                    GE = GE + gr * f32(E)
                    s['g'][r] = gr * s['decay'][r]
                v_inf = GE / G
                vn = v_inf + (v - v_inf) * np.exp(f32(-dt) * G / f32(par['C']))
            elif p['model'] == 'lif_curr_exp':
                tau_m = par['C'] / par['g_L']
                dv = np.zeros_like(v)
                for r in ('exc', 'inh'):
                    tr = par[f'tau_{r}']
                    p21 = f32(tau_m * tr / (par['C'] * (tau_m - tr)) * (np.exp(-dt / tau_m) - np.exp(-dt / tr)))
                    I = s['g'][r] + ins[r]
                    dv = dv + I * p21
                    s['g'][r] = I * s['decay'][r]
                vd = s['v_decay']
                vn = (f32(par['E_L']) + (v - f32(par['E_L'])) * vd
                      + f32(par['I_e'] / par['g_L']) * (f32(1) - vd) + dv)
            else:
                vd = s['v_decay']
                jump = ins['exc'] + ins['inh']
                vn = (f32(par['E_L']) + (v + jump - f32(par['E_L'])) * vd
                      + f32(par['I_e'] / par['g_L']) * (f32(1) - vd))
            v = np.where(clamped, v, vn).astype(f32)
            was_refr = refr > 0
            spike = (~was_refr) & (v > f32(par['V_th']))
            v = np.where(was_refr & clamped, f32(par['V_reset']), v)
            refr = np.where(was_refr, refr - 1, refr)
            v = np.where(spike, f32(par['V_reset']), v).astype(f32)
            refr = np.where(spike, max(s['n_ref'] - 1, 0), refr).astype(np.int32)
            s['v'], s['refr'] = v, refr
            fired[name] = np.nonzero(spike)[0]
        for name, (ids, steps) in in_steps.items():
            fired[name] = ids[steps == t]
        for name, idx in fired.items():
            out_i[name].extend(idx.tolist())
            out_s[name].extend([t] * len(idx))
            for pr, dsteps, w in by_src.get(name, ()):
                sel = np.isin(pr['i'], idx)
                if not sel.any():
                    continue
                ring = st[pr['tgt']]['ring'][pr['receptor']]
                for j, dd, ww in zip(pr['j'][sel], dsteps[sel], w[sel]):
                    ring[(t + 1 + dd) % L, j] += ww
    return {k: (np.array(out_i[k], dtype=np.int64), np.array(out_s[k], dtype=np.int64)) for k in out_i}


# ---------------------------------------------------------------------------------------------
# Volley output and comparison

def read_volley(path, dt):
    import h5py
    out, problems = {}, []
    with h5py.File(path, 'r') as f:
        if 'spikes' not in f:
            raise ModelError(f"{path}: no /spikes group")
        if 'volley' in f and int(f['volley'].attrs.get('complete', 1)) != 1:
            problems.append("/volley attribute complete != 1 (interrupted run?)")
        for pop, grp in f['spikes'].items():
            ts = np.asarray(grp['timestamps'][()], dtype=np.float64)
            ids = np.asarray(grp['node_ids'][()], dtype=np.int64)
            steps = np.round(ts / dt).astype(np.int64)
            off = np.abs(ts - steps * dt)
            if len(ts) and off.max() > 1e-6 * max(1.0, float(np.abs(ts).max())):
                problems.append(f"{pop}: timestamps are not on the dt grid (max offset {off.max():.3g} ms)")
            out[pop] = (ids, steps)
    return out, problems


def compare(ref, vol, sizes, tol_frac=0.99, tol_count=1, optional=()):
    """Per population: fraction of identical (neuron, step) pairs and per-neuron count
    differences. Populations in `optional` (inputs) are compared only when both sides have them.
    Returns (ok, lines, reference spikes, identical spikes)."""
    ok, lines = True, []
    pops = sorted(set(ref) | set(vol))
    tot_ref = tot_same = 0
    for pop in pops:
        if pop not in vol:
            if pop in optional:
                lines.append(f"  {pop:12s} (input) not in Volley's output: not compared")
                continue
            lines.append(f"  {pop:12s} MISSING in Volley's output")
            ok = False
            continue
        if pop not in ref:
            lines.append(f"  {pop:12s} present in Volley's output only (not in the model?)")
            ok = False
            continue
        ri, rs = ref[pop]
        vi, vs = vol[pop]
        n = sizes.get(pop, int(max(ri.max(initial=-1), vi.max(initial=-1)) + 1))
        rset = set(zip(ri.tolist(), rs.tolist()))
        vlist = list(zip(vi.tolist(), vs.tolist()))
        vset = set(vlist)
        dup = len(vlist) - len(vset)
        same = len(rset & vset)
        denom = max(len(rset), len(vset), 1)
        frac = same / denom if (rset or vset) else 1.0
        rc = np.bincount(ri, minlength=n) if len(ri) else np.zeros(n, dtype=np.int64)
        vc = np.bincount(vi, minlength=n) if len(vi) else np.zeros(n, dtype=np.int64)
        if len(vc) > n or len(rc) > n:
            lines.append(f"  {pop:12s} node id out of range (size {n})")
            ok = False
            continue
        dmax = int(np.abs(rc - vc).max()) if n else 0
        # unmatched spikes that have a partner one step away
        only_r, only_v = rset - vset, vset - rset
        near = sum(1 for (i, s) in only_r if (i, s - 1) in only_v or (i, s + 1) in only_v)
        pok = frac >= tol_frac and dmax <= tol_count and dup == 0
        ok &= pok
        tot_ref += len(rset)
        tot_same += same
        lines.append(f"  {pop:12s} brian2 {len(rset):6d}  volley {len(vlist):6d}  identical {same:6d} "
                     f"({100 * frac:6.2f}%)  off-by-one {near:4d}  max |count diff| {dmax}"
                     f"{'  duplicates ' + str(dup) if dup else ''}  {'ok' if pok else 'MISMATCH'}")
        if not pok:
            ex_r = sorted(only_r, key=lambda x: (x[1], x[0]))[:8]
            ex_v = sorted(only_v, key=lambda x: (x[1], x[0]))[:8]
            lines.append(f"      first (neuron, step) only in brian2: {ex_r}")
            lines.append(f"      first (neuron, step) only in volley: {ex_v}")
            bad = np.nonzero(rc != vc)[0][:10]
            if len(bad):
                lines.append("      counts differ (neuron: brian2/volley): " +
                             ", ".join(f"{b}: {rc[b]}/{vc[b]}" for b in bad))
    return ok, lines, tot_ref, tot_same


def summarize(m, res):
    lines = []
    for name, (i, s) in res.items():
        n = m['pops'][name]['size'] if name in m['pops'] else m['inputs'][name]['size']
        c = np.bincount(i, minlength=n) if len(i) else np.zeros(n, dtype=np.int64)
        rate = len(i) / n / (m['duration'] / 1000.0)
        lines.append(f"  {name:12s} n={n:4d} spikes={len(i):6d} rate={rate:7.2f} Hz "
                     f"per-neuron min/max={c.min()}/{c.max()}")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('model', help='model YAML (the same file volley runs)')
    ap.add_argument('--compare', metavar='OUT.h5', help="Volley's SONATA output to compare against")
    ap.add_argument('-o', '--output', metavar='FILE.csv', help='write spikes: population,neuron,step,time_ms')
    ap.add_argument('--engine', choices=['brian2', 'f32'], default='brian2',
                    help='reference: Brian2 (numpy target, float64; default) or a float32 numpy '
                         "re-implementation of Volley's kernel")
    ap.add_argument('--no-synapses', action='store_true', help='drop every projection')
    ap.add_argument('--set', action='append', default=[], metavar='a.b=VALUE',
                    help='override a YAML value (same syntax as volley run --set)')
    ap.add_argument('--min-identical', type=float, default=0.99,
                    help='fraction of identical (neuron, step) pairs required per population (0.99)')
    ap.add_argument('--max-count-diff', type=int, default=1,
                    help='largest allowed per-neuron spike count difference (1)')
    ap.add_argument('--sensitivity', action='store_true',
                    help='also run without synapses and report how many spikes change')
    a = ap.parse_args(argv)
    try:
        m = load_model(a.model, a.set)
    except (ModelError, OSError, KeyError, yaml.YAMLError) as e:
        print(f"brian2_equiv: model error: {e}", file=sys.stderr)
        return EXIT_USAGE
    run = run_brian2 if a.engine == 'brian2' else run_f32
    ref = run(m)
    print(f"brian2_equiv: {a.engine} reference for {a.model}: dt={m['dt']} ms, duration={m['duration']} ms, "
          f"{sum(len(p['i']) for p in m['proj'])} synapses")
    for ln in summarize(m, ref):
        print(ln)
    if a.sensitivity:
        bare = run(m, no_synapses=True)
        sizes = {k: v['size'] for k, v in {**m['pops'], **m['inputs']}.items()}
        _, lines, tot, same = compare(ref, {k: v for k, v in bare.items()}, sizes)
        print(f"sensitivity: without synapses {tot - same} of {tot} spikes change")
        for ln in lines:
            print(ln.replace('brian2', 'with').replace('volley', 'without'))
    if a.output:
        with open(a.output, 'w') as f:
            f.write('population,neuron,step,time_ms\n')
            for name, (i, s) in ref.items():
                for ii, ss in sorted(zip(i.tolist(), s.tolist()), key=lambda x: (x[1], x[0])):
                    f.write(f"{name},{ii},{ss},{ss * m['dt']:.4f}\n")
        print(f"wrote {a.output}")
    if not a.compare:
        return 0
    try:
        vol, problems = read_volley(a.compare, m['dt'])
    except (OSError, ModelError, KeyError) as e:
        print(f"brian2_equiv: cannot read {a.compare}: {e}", file=sys.stderr)
        return EXIT_MISMATCH
    sizes = {k: v['size'] for k, v in {**m['pops'], **m['inputs']}.items()}
    # Volley may record only some populations; compare what the model asks for.
    ok, lines, tot, same = compare(ref, vol, sizes, a.min_identical, a.max_count_diff, optional=set(m['inputs']))
    print(f"compare {a.compare} (volley) with {a.engine}: require >= {100 * a.min_identical:.1f}% identical "
          f"(neuron, step) pairs and per-neuron counts within {a.max_count_diff}")
    for ln in lines:
        print(ln)
    for p in problems:
        print(f"  problem: {p}")
    ok = ok and not problems and tot > 0
    print(f"RESULT: {'MATCH' if ok else 'MISMATCH'} ({same} of {tot} reference spikes identical)")
    return 0 if ok else EXIT_MISMATCH


if __name__ == '__main__':
    sys.exit(main())
