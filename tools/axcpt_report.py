#!/usr/bin/python3
"""Report of an AX-CPT run: accuracy and reaction times per condition, memory-pool rates, figure.

Reads a Volley output file (HDF5, SONATA layout) of an AX-CPT simulation: a cue (A or B), a delay,
a probe (X or Y) and a response phase per trial. The correct response is the target pool for AX
(cue A then probe X) and the non-target pool for every other condition (AY, BX, BY).

Trial table written by Volley (all times in ms, trials in time order):

    /volley/trials/onset      float64 [n_trials, n_phases]   onset of each phase of each trial;
                              attribute `phases`: the phase names (variable-length UTF-8 strings,
                              n_phases of them, e.g. cue, delay, probe, response, iti). NaN marks
                              a phase a trial does not have.
    /volley/trials/end        float64 [n_trials]             end of each trial
    /volley/trials/condition  variable-length UTF-8 strings [n_trials], e.g. "AX"
    /volley/trials/pattern    variable-length UTF-8 strings [n_trials, n_phases]: the pattern each
                              phase shows, "" for none; when several inputs show patterns, the
                              entries are "input:pattern" joined by "," (e.g. "vis:A,aud:X")
    (Volley also writes /volley/trials/index, which this report does not need.)

Phase p of a trial lasts from its onset to the onset of the next phase the trial has (the next
finite onset in the row), the last one to the trial's end. Spikes come from
/spikes/<pop>/{timestamps (ms), node_ids (index within the population)}; a spike at time t lies
in a window [t0, t1) when t0 <= t < t1.

Pools are populations or parts of them: POP, POP.SUBGROUP, POP[SUBGROUP] or POP[lo:hi]
(half-open, as in the model file). Subgroups are read from the model text stored in /volley/model
(populations.<pop>.subgroups: {name: "lo:hi"}); sizes from the model or /volley/populations.

Decision: from the probe onset to the end of the response phase (--response-phase; default the
phase named "response", else "probe"), the spikes of the target and the non-target pools are
counted (spike counts summed over the pool's neurons). The pool with more spikes over the whole
window wins when it leads by at least --margin spikes; otherwise the trial is "no response" and
counts as incorrect (listed in its own column). The reaction time is the first time (ms after
probe onset) at which the winning pool's cumulative count leads by --margin (spikes at the same
time step taken together). Trials without a
probe onset are left out (and said so).

Printed, in this order:
  1. the accuracy table, one line per condition (AX, AY, BX, BY, then any other condition found,
     then "all"):
         condition  trials  correct  accuracy_%  wrong  no_response  RT_mean_ms  RT_sd_ms  RT_wrong_ms
     RT_mean_ms / RT_sd_ms are over correct trials, RT_wrong_ms the mean over wrong responses;
     "-" where there is nothing to average (sd needs two trials). Accuracy = correct / trials.
  2. memory-pool rates during the delay phase (--delay-phase), mean over the trials of each
     condition, Hz per neuron;
  3. memory-pool rates before the cue: the --baseline ms before the cue onset (--cue-phase,
     clipped at 0 ms), mean over the trials of each condition, Hz per neuron;
  4. with --trials, one line per trial (onset, condition, patterns, response, RT, delay rates).
A figure (PNG, --figure; default <run>_axcpt.png beside the run) shows a spike raster of the
pools with the phases shaded, the pool rates over time (--bin) for a window of the run (--window,
default the first four trials) and accuracy bars per condition with the delay rates.

Usage:
    axcpt_report.py RUN.h5 --target dec.T --nontarget dec.N --memory A=pfc.A --memory B=pfc.B
                    [--margin 3] [--expect AX=95,BY=95,AY=90,BX=90] [--trials] [--figure F.png]

Exit status: 0 ok, 1 an accuracy is below --expect (or a condition there has no trials),
2 usage or file error (missing trial table, unknown pool, ...), 77 numpy/h5py/matplotlib missing.
Run with /usr/bin/python3 (Debian's python3-numpy, python3-h5py, python3-yaml, python3-matplotlib).
"""
import argparse
import os
import re
import sys

EXIT_EXPECT, EXIT_USAGE, EXIT_SKIP = 1, 2, 77
ORDER = ['AX', 'AY', 'BX', 'BY']

try:
    import numpy as np
    import h5py
except ImportError as e:  # pragma: no cover
    print(f"axcpt_report: {e} (Debian python3-numpy python3-h5py; run with /usr/bin/python3)")
    sys.exit(EXIT_SKIP)


class ReportError(Exception):
    pass


def as_str(v):
    if isinstance(v, bytes):
        return v.decode('utf-8', 'replace')
    if isinstance(v, np.ndarray) and v.shape == ():
        return as_str(v[()])
    return str(v)


def str_array(a):
    """Strings read from HDF5 (bytes or str, variable- or fixed-length) as a numpy array of str."""
    a = np.asarray(a)
    flat = [as_str(x) for x in a.ravel()]
    return np.array(flat, dtype=object).reshape(a.shape)


# ---------------------------------------------------------------------------------------------
# reading the run


class Run:
    def __init__(self, path):
        self.path = path
        try:
            self.f = h5py.File(path, 'r')
        except OSError as e:
            raise ReportError(f"cannot open {path}: {e}")
        self.model = self._model()
        self._spikes = {}

    def _model(self):
        if 'volley/model' not in self.f:
            return {}
        try:
            import yaml
        except ImportError:
            raise ReportError("python3-yaml is needed to read /volley/model")
        text = as_str(self.f['volley/model'][()])
        try:
            m = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ReportError(f"{self.path}: /volley/model is not valid YAML: {e}")
        return m if isinstance(m, dict) else {}

    def trials(self):
        g = self.f.get('volley/trials')
        if g is None:
            raise ReportError(f"{self.path}: no /volley/trials (the trial table); was the run an AX-CPT task?")
        for k in ('onset', 'end', 'condition'):
            if k not in g:
                raise ReportError(f"{self.path}: /volley/trials has no '{k}'")
        onset = np.asarray(g['onset'][...], dtype=np.float64)
        if onset.ndim != 2:
            raise ReportError(f"{self.path}: /volley/trials/onset must be 2-D [n_trials, n_phases], is {onset.shape}")
        # the names belong on onset; a table that put them on the group is read too
        holder = g['onset'].attrs if 'phases' in g['onset'].attrs else g.attrs
        if 'phases' not in holder:
            raise ReportError(f"{self.path}: /volley/trials/onset has no attribute 'phases'")
        phases = [as_str(p) for p in np.ravel(holder['phases'])]
        if len(phases) != onset.shape[1]:
            raise ReportError(f"{self.path}: {len(phases)} phase names for {onset.shape[1]} onset columns")
        end = np.asarray(g['end'][...], dtype=np.float64).ravel()
        cond = [as_str(c) for c in np.ravel(g['condition'][...])]
        n = onset.shape[0]
        if end.size != n or len(cond) != n:
            raise ReportError(f"{self.path}: trial table lengths differ (onset {n}, end {end.size}, "
                              f"condition {len(cond)})")
        if 'pattern' in g:
            pat = str_array(g['pattern'][...])
            if pat.shape != onset.shape:
                raise ReportError(f"{self.path}: /volley/trials/pattern is {pat.shape}, onset {onset.shape}")
        else:
            pat = np.full(onset.shape, '', dtype=object)
        return Trials(onset, end, cond, phases, pat)

    def pop_size(self, pop):
        pg = self.f.get(f'volley/populations/{pop}')
        if pg is not None and 'size' in pg.attrs:
            return int(np.ravel(pg.attrs['size'])[0])
        for sec in ('populations', 'inputs'):
            p = (self.model.get(sec) or {}).get(pop)
            if isinstance(p, dict) and 'size' in p:
                return int(p['size'])
        return None

    def subgroups(self, pop):
        p = (self.model.get('populations') or {}).get(pop) or (self.model.get('inputs') or {}).get(pop) or {}
        sg = p.get('subgroups') if isinstance(p, dict) else None
        return sg if isinstance(sg, dict) else {}

    def spikes(self, pop):
        if pop not in self._spikes:
            g = self.f.get(f'spikes/{pop}')
            if g is None or 'timestamps' not in g or 'node_ids' not in g:
                have = sorted(self.f['spikes'].keys()) if 'spikes' in self.f else []
                raise ReportError(f"{self.path}: no spikes recorded for population '{pop}' "
                                  f"(recorded: {', '.join(have) or 'none'})")
            t = np.asarray(g['timestamps'][...], dtype=np.float64)
            i = np.asarray(g['node_ids'][...], dtype=np.int64)
            order = np.argsort(t, kind='stable')
            self._spikes[pop] = (t[order], i[order])
        return self._spikes[pop]


class Trials:
    def __init__(self, onset, end, cond, phases, pattern):
        self.onset, self.end, self.cond, self.phases, self.pattern = onset, end, cond, phases, pattern
        self.n = onset.shape[0]

    def col(self, name):
        return self.phases.index(name) if name in self.phases else None

    def span(self, k, p):
        """[start, stop) of phase column p in trial k, or None when the trial lacks it."""
        t0 = self.onset[k, p]
        if not np.isfinite(t0):
            return None
        later = [self.onset[k, q] for q in range(p + 1, len(self.phases)) if np.isfinite(self.onset[k, q])]
        return t0, (later[0] if later else self.end[k])


class Pool:
    """Neurons lo..hi-1 of a population, and their spike times."""

    def __init__(self, run, spec):
        self.spec = spec
        m = re.fullmatch(r'([^.\[\]]+)(?:\.([^.\[\]]+)|\[([^\]]+)\])?', spec.strip())
        if not m:
            raise ReportError(f"pool '{spec}': expected POP, POP.SUBGROUP, POP[SUBGROUP] or POP[lo:hi]")
        self.pop = m.group(1)
        sub = m.group(2) or m.group(3)
        size = run.pop_size(self.pop)
        if sub is None:
            if size is None:
                raise ReportError(f"pool '{spec}': size of population '{self.pop}' unknown "
                                  f"(not in /volley/populations nor in the model)")
            self.lo, self.hi = 0, size
        else:
            rng = run.subgroups(self.pop).get(sub)
            if rng is None and re.fullmatch(r'\s*\d*\s*:\s*\d*\s*|\s*\d+\s*', sub):
                rng = sub
            if rng is None:
                known = ', '.join(sorted(run.subgroups(self.pop))) or 'none'
                raise ReportError(f"pool '{spec}': population '{self.pop}' has no subgroup '{sub}' "
                                  f"in /volley/model (subgroups: {known})")
            if isinstance(rng, (list, tuple)) and len(rng) == 2:
                rng = f"{rng[0]}:{rng[1]}"
            self.lo, self.hi = parse_range(str(rng), size, spec)
        if self.hi <= self.lo:
            raise ReportError(f"pool '{spec}': empty range {self.lo}:{self.hi}")
        t, i = run.spikes(self.pop)
        sel = (i >= self.lo) & (i < self.hi)
        self.t = t[sel]
        self.ids = i[sel] - self.lo
        self.size = self.hi - self.lo

    def count(self, t0, t1):
        return int(np.searchsorted(self.t, t1, 'left') - np.searchsorted(self.t, t0, 'left'))

    def rate(self, t0, t1):
        """Hz per neuron in [t0, t1) ms; NaN for an empty window."""
        if not t1 > t0:
            return float('nan')
        return self.count(t0, t1) / (self.size * (t1 - t0) / 1000.0)


def parse_range(text, size, spec):
    text = text.strip()
    if not re.fullmatch(r'\d*\s*:\s*\d*|\d+', text):
        raise ReportError(f"pool '{spec}': range '{text}' is not lo:hi")
    if ':' in text:
        a, b = (x.strip() for x in text.split(':', 1))
        lo = int(a) if a else 0
        if b:
            hi = int(b)
        elif size is not None:
            hi = size
        else:
            raise ReportError(f"pool '{spec}': open range '{text}' needs the population size")
    else:
        lo = int(text)
        hi = lo + 1
    if size is not None and hi > size:
        raise ReportError(f"pool '{spec}': range {lo}:{hi} exceeds the population size {size}")
    return lo, hi


# ---------------------------------------------------------------------------------------------
# analysis


def decide(target, nontarget, t0, t1, margin):
    """(winner 'target'/'nontarget'/None, reaction time in ms after t0 or None)."""
    a0, a1 = np.searchsorted(target.t, [t0, t1], 'left')
    b0, b1 = np.searchsorted(nontarget.t, [t0, t1], 'left')
    times = np.concatenate([target.t[a0:a1], nontarget.t[b0:b1]])
    if times.size == 0:
        return None, None
    sign = np.concatenate([np.ones(a1 - a0, dtype=np.int64), -np.ones(b1 - b0, dtype=np.int64)])
    order = np.argsort(times, kind='stable')
    times, lead = times[order], np.cumsum(sign[order])
    # spikes at the same time step count together: look at the lead after each distinct time
    last = np.r_[times[1:] != times[:-1], True]
    times, lead = times[last], lead[last]
    # the winner is decided by the counts over the whole window; the reaction time is the first
    # moment the winner leads by the margin
    if abs(lead[-1]) < margin:
        return None, None
    sgn = 1 if lead[-1] > 0 else -1
    k = np.nonzero(sgn * lead >= margin)[0][0]
    return ('target' if sgn > 0 else 'nontarget'), float(times[k] - t0)


def analyse(run, a):
    tr = run.trials()
    if a.response_phase is None:
        a.response_phase = 'response' if 'response' in tr.phases else 'probe'
    for opt, name in (('--probe-phase', a.probe_phase), ('--response-phase', a.response_phase)):
        if tr.col(name) is None:
            raise ReportError(f"{opt}: no phase '{name}' (phases: {', '.join(tr.phases)})")
    cp, rp = tr.col(a.probe_phase), tr.col(a.response_phase)
    if rp < cp:
        raise ReportError(f"the response phase '{a.response_phase}' comes before the probe phase '{a.probe_phase}'")
    dp, qp = tr.col(a.delay_phase), tr.col(a.cue_phase)
    if a.memory and dp is None:
        print(f"note: no phase '{a.delay_phase}': no delay rates")
    if a.memory and qp is None:
        print(f"note: no phase '{a.cue_phase}': no pre-cue rates")

    target, nontarget = Pool(run, a.target), Pool(run, a.nontarget)
    memory = []
    for m in a.memory:
        name, _, spec = m.partition('=')
        if not name or not spec:
            raise ReportError(f"--memory '{m}': expected NAME=POP[.SUBGROUP]")
        memory.append((name, Pool(run, spec)))

    rows = []
    skipped = 0
    for k in range(tr.n):
        ps, rs = tr.span(k, cp), tr.span(k, rp)
        if ps is None or rs is None:
            skipped += 1
            continue
        winner, rt = decide(target, nontarget, ps[0], rs[1], a.margin)
        want = 'target' if tr.cond[k] == 'AX' else 'nontarget'
        ds = tr.span(k, dp) if dp is not None else None
        qs = tr.span(k, qp) if qp is not None else None
        delay = {n: (p.rate(*ds) if ds else float('nan')) for n, p in memory}
        pre = {}
        for n, p in memory:
            if qs is None:
                pre[n] = float('nan')
            else:
                pre[n] = p.rate(max(0.0, qs[0] - a.baseline), qs[0])
        rows.append({'k': k, 'cond': tr.cond[k], 'winner': winner, 'rt': rt, 'want': want,
                     'correct': winner == want, 'delay': delay, 'pre': pre,
                     'onset': tr.onset[k, 0] if np.isfinite(tr.onset[k, 0]) else ps[0],
                     'patterns': [tr.pattern[k, p] for p in range(len(tr.phases))]})
    return tr, rows, skipped, target, nontarget, memory


def fmt(x, spec='.1f'):
    return '-' if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def conditions(rows):
    found = sorted({r['cond'] for r in rows} - set(ORDER))
    return ORDER + found


def summary(rows):
    out = {}
    for c in conditions(rows) + ['all']:
        rs = [r for r in rows if c == 'all' or r['cond'] == c]
        n = len(rs)
        corr = sum(r['correct'] for r in rs)
        none = sum(r['winner'] is None for r in rs)
        rt_ok = [r['rt'] for r in rs if r['correct']]
        rt_bad = [r['rt'] for r in rs if r['winner'] is not None and not r['correct']]
        out[c] = {'trials': n, 'correct': corr, 'wrong': n - corr - none, 'none': none,
                  'acc': 100.0 * corr / n if n else None,
                  'rt_mean': float(np.mean(rt_ok)) if rt_ok else None,
                  'rt_sd': float(np.std(rt_ok, ddof=1)) if len(rt_ok) > 1 else None,
                  'rt_wrong': float(np.mean(rt_bad)) if rt_bad else None}
    return out


def mean_rates(rows, key, names):
    out = {}
    for c in conditions(rows) + ['all']:
        rs = [r for r in rows if c == 'all' or r['cond'] == c]
        out[c] = {}
        for n in names:
            v = [r[key][n] for r in rs if np.isfinite(r[key][n])]
            out[c][n] = float(np.mean(v)) if v else None
    return out


def print_report(run, a, tr, rows, skipped, target, nontarget, memory, summ):
    print(f"AX-CPT report: {run.path}")
    print(f"trials: {tr.n} ({skipped} without a probe, left out); phases: {', '.join(tr.phases)}")
    print(f"target pool {target.spec} ({target.size} neurons), non-target pool {nontarget.spec} "
          f"({nontarget.size} neurons); decision from '{a.probe_phase}' onset to the end of "
          f"'{a.response_phase}', margin {a.margin} spikes")
    print()
    print(f"{'condition':<10}{'trials':>7}{'correct':>8}{'accuracy_%':>11}{'wrong':>6}{'no_response':>12}"
          f"{'RT_mean_ms':>11}{'RT_sd_ms':>9}{'RT_wrong_ms':>12}")
    for c, s in summ.items():
        print(f"{c:<10}{s['trials']:>7}{s['correct']:>8}{fmt(s['acc']):>11}{s['wrong']:>6}{s['none']:>12}"
              f"{fmt(s['rt_mean']):>11}{fmt(s['rt_sd']):>9}{fmt(s['rt_wrong']):>12}")
    names = [n for n, _ in memory]
    if names:
        for key, title in (('delay', f"memory-pool rates during '{a.delay_phase}' (Hz per neuron, mean over trials)"),
                           ('pre', f"memory-pool rates in the {a.baseline:g} ms before '{a.cue_phase}' "
                                   f"(Hz per neuron, mean over trials)")):
            print()
            print(title)
            print(f"{'condition':<10}" + ''.join(f"{n:>10}" for n in names))
            for c, v in mean_rates(rows, key, names).items():
                print(f"{c:<10}" + ''.join(f"{fmt(v[n], '.2f'):>10}" for n in names))
    if a.trials:
        print()
        print(f"{'trial':>5}{'onset_ms':>11}  {'cond':<5}{'response':<11}{'RT_ms':>8}  {'ok':<4}"
              + ''.join(f"{'delay_' + n:>10}" for n in names) + "  patterns")
        for r in rows:
            resp = r['winner'] or 'none'
            pats = ' '.join(f"{ph}={p}" for ph, p in zip(tr.phases, r['patterns']) if p)
            print(f"{r['k']:>5}{r['onset']:>11.1f}  {r['cond']:<5}{resp:<11}{fmt(r['rt']):>8}  "
                  f"{'yes' if r['correct'] else 'no':<4}" + ''.join(f"{fmt(r['delay'][n], '.2f'):>10}" for n in names)
                  + f"  {pats}")


def parse_expect(text):
    out = {}
    for part in text.split(','):
        part = part.strip()
        if not part:
            continue
        c, _, v = part.partition('=')
        try:
            out[c.strip()] = float(v)
        except ValueError:
            raise ReportError(f"--expect '{part}': expected CONDITION=PERCENT")
    return out


# ---------------------------------------------------------------------------------------------
# figure


def figure(path, a, tr, rows, summ, pools, memory, expect):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if a.window:
        w0, w1 = (float(x) for x in a.window.split(':'))
    else:
        w0 = float(np.nanmin(tr.onset[0])) if tr.n else 0.0
        w1 = float(tr.end[min(tr.n, 4) - 1]) if tr.n else 1000.0
    fig = plt.figure(figsize=(12, 9), constrained_layout=True)
    gs = fig.add_gridspec(3, 2, height_ratios=[2.2, 1.4, 1.4])
    ax_r = fig.add_subplot(gs[0, :])
    ax_t = fig.add_subplot(gs[1, :], sharex=ax_r)
    ax_a = fig.add_subplot(gs[2, 0])
    ax_m = fig.add_subplot(gs[2, 1])

    colours = plt.rcParams['axes.prop_cycle'].by_key()['color']
    shade = {p: plt.cm.Pastel1(i % 9) for i, p in enumerate(tr.phases)}
    drawn = set()
    for k in range(tr.n):
        for p, ph in enumerate(tr.phases):
            s = tr.span(k, p)
            if s is None or s[1] <= w0 or s[0] >= w1:
                continue
            for ax in (ax_r, ax_t):
                ax.axvspan(s[0], s[1], color=shade[ph], alpha=0.6, lw=0,
                           label=ph if (ax is ax_r and ph not in drawn) else None)
            drawn.add(ph)
            if p == 0:
                ax_r.text(s[0], 0.99, f" {tr.cond[k]}", transform=ax_r.get_xaxis_transform(),
                          va='top', ha='left', fontsize=8, fontweight='bold')

    y0, ticks = 0, []
    bins = np.arange(w0, w1 + a.bin, a.bin)
    for j, (name, pool) in enumerate(pools):
        c = colours[j % len(colours)]
        sel = (pool.t >= w0) & (pool.t < w1)
        ax_r.scatter(pool.t[sel], pool.ids[sel] + y0, s=1.5, color=c, marker='|', linewidths=0.6)
        ticks.append((y0 + pool.size / 2, name))
        y0 += pool.size + max(1, pool.size // 10)
        if bins.size > 1:
            h, _ = np.histogram(pool.t[sel], bins=bins)
            ax_t.step(bins[:-1], h / (pool.size * a.bin / 1000.0), where='post', color=c, label=name, lw=1)
    ax_r.set_yticks([t for t, _ in ticks])
    ax_r.set_yticklabels([n for _, n in ticks])
    ax_r.set_xlim(w0, w1)
    ax_r.set_ylim(-1, max(y0, 1))
    ax_r.set_title('spikes of the pools (phases shaded, condition at each trial start)', fontsize=10, loc='left')
    ax_r.legend(loc='lower right', bbox_to_anchor=(1.0, 1.0), fontsize=7, ncol=len(tr.phases), frameon=False)
    ax_t.set_ylabel(f'rate (Hz, {a.bin:g} ms bins)')
    ax_t.set_xlabel('time (ms)')
    ax_t.legend(loc='upper right', fontsize=7, ncol=len(pools), framealpha=0.8)

    conds = [c for c in summ if c != 'all' and summ[c]['trials'] > 0] or [c for c in summ if c != 'all']
    x = np.arange(len(conds))
    acc = [summ[c]['acc'] or 0.0 for c in conds]
    none = [100.0 * summ[c]['none'] / summ[c]['trials'] if summ[c]['trials'] else 0.0 for c in conds]
    ax_a.bar(x, acc, color=colours[0], label='correct')
    ax_a.bar(x, none, bottom=acc, color='0.75', label='no response')
    for i, c in enumerate(conds):
        ax_a.text(i, acc[i] + 1, f"{summ[c]['correct']}/{summ[c]['trials']}", ha='center', fontsize=8)
        if c in expect:
            ax_a.hlines(expect[c], i - 0.4, i + 0.4, colors='k', linestyles='dashed')
    ax_a.set_xticks(x)
    ax_a.set_xticklabels(conds)
    ax_a.set_ylim(0, 110)
    ax_a.set_ylabel('% of trials')
    ax_a.set_title('accuracy per condition (dashed: --expect)', fontsize=10)
    ax_a.legend(fontsize=7, loc='lower right')

    names = [n for n, _ in memory]
    if names:
        mr = mean_rates(rows, 'delay', names)
        wdt = 0.8 / len(names)
        for j, n in enumerate(names):
            ax_m.bar(x + (j - (len(names) - 1) / 2) * wdt, [mr[c][n] or 0.0 for c in conds], wdt,
                     label=n, color=colours[(2 + j) % len(colours)])
        ax_m.set_xticks(x)
        ax_m.set_xticklabels(conds)
        ax_m.set_ylabel('Hz per neuron')
        ax_m.set_title(f"memory pools during '{a.delay_phase}'", fontsize=10)
        ax_m.legend(fontsize=7)
    else:
        ax_m.set_axis_off()
    fig.suptitle(os.path.basename(a.run), fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    doc = __doc__
    ap = argparse.ArgumentParser(description=doc.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=doc.split('\n\n', 1)[1])
    ap.add_argument('run', help='Volley output (HDF5) of the AX-CPT run')
    ap.add_argument('--target', required=True, metavar='POP[.SUBGROUP]', help='pool that answers "target" (AX)')
    ap.add_argument('--nontarget', required=True, metavar='POP[.SUBGROUP]', help='pool that answers "non-target"')
    ap.add_argument('--memory', action='append', default=[], metavar='NAME=POP[.SUBGROUP]',
                    help='a memory pool (repeatable), e.g. --memory A=pfc.A --memory B=pfc.B')
    ap.add_argument('--margin', type=int, default=3, help='spike-count lead that decides (default 3)')
    ap.add_argument('--probe-phase', default='probe', help='phase whose onset starts the decision (default probe)')
    ap.add_argument('--response-phase', default=None,
                    help='the decision ends with this phase (default: "response" if there is one, else "probe")')
    ap.add_argument('--delay-phase', default='delay', help='phase of the delay rates (default delay)')
    ap.add_argument('--cue-phase', default='cue', help='phase before which the baseline is taken (default cue)')
    ap.add_argument('--baseline', type=float, default=200.0, help='pre-cue window, ms (default 200)')
    ap.add_argument('--expect', metavar='AX=95,BY=95,...', help='exit 1 when an accuracy (%%) is below these')
    ap.add_argument('--trials', action='store_true', help='also print one line per trial')
    ap.add_argument('--figure', metavar='FILE.png', help='figure path (default: <run>_axcpt.png beside the run)')
    ap.add_argument('--no-figure', action='store_true', help='do not draw the figure')
    ap.add_argument('--window', metavar='T0:T1', help='figure time window in ms (default: the first four trials)')
    ap.add_argument('--bin', type=float, default=10.0, help='rate bin of the figure, ms (default 10)')
    a = ap.parse_args(argv)
    if a.margin < 1:
        ap.error('--margin must be at least 1')
    if a.bin <= 0 or a.baseline < 0:
        ap.error('--bin must be positive and --baseline not negative')
    try:
        expect = parse_expect(a.expect) if a.expect else {}
        run = Run(a.run)
        tr, rows, skipped, target, nontarget, memory = analyse(run, a)
        summ = summary(rows)
        print_report(run, a, tr, rows, skipped, target, nontarget, memory, summ)
    except ReportError as e:
        print(f"axcpt_report: {e}")
        return EXIT_USAGE

    if not a.no_figure:
        try:
            import matplotlib  # noqa: F401
        except ImportError as e:
            print(f"axcpt_report: {e} (Debian python3-matplotlib); no figure")
            return EXIT_SKIP
        path = a.figure or os.path.splitext(a.run)[0] + '_axcpt.png'
        pools = [('target', target), ('non-target', nontarget)] + [(f'mem {n}', p) for n, p in memory]
        try:
            figure(path, a, tr, rows, summ, pools, memory, expect)
        except (OSError, ValueError) as e:
            print(f"axcpt_report: cannot write the figure {path}: {e}")
            return EXIT_USAGE
        print()
        print(f"figure: {path}")

    if expect:
        fails = []
        for c, lim in expect.items():
            s = summ.get(c)
            if s is None or s['trials'] == 0:
                fails.append(f"{c}: no trials (expected >= {lim:g} %)")
            elif s['acc'] < lim:
                fails.append(f"{c}: {s['acc']:.1f} % < {lim:g} %")
        print()
        if fails:
            print(f"EXPECT FAILED: {'; '.join(fails)}")
            return EXIT_EXPECT
        print(f"EXPECT OK: {', '.join(f'{c} >= {v:g} %' for c, v in expect.items())}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
