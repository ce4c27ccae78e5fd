#!/usr/bin/python3
"""Checks tools/axcpt_report.py on a synthetic AX-CPT run whose answers are known by construction.

    tests/python/test_axcpt_report.py [repo-root]

The fake run has 20 trials of 2000 ms (cue 200, delay 1000, probe 200, response 200, iti 400 ms;
trial k starts at 100 + 2000 k ms), a decision population `dec` (60 neurons: subgroups T 0:20,
N 20:40; neurons 40:59 fire a lot and belong to no pool) and a memory population `pfc` (100
neurons: A 0:50, B 50:100). In every decided trial, after the probe onset:

    +5 ms      3 target and 3 non-target spikes at the same time (lead stays 0 only when
               spikes at the same step are taken together)
    +10, +11   one loser spike each                (lead -2)
    +12, +13   one winner spike each               (lead  0)
    +d-2, +d-1, +d  one winner spike each          (lead +3 at d: the reaction time is d)

plus winner-pool spikes in the delay and loser-pool spikes after the response ends, neither of
which may count. Trial 8 alternates the pools and ends with a lead of 2 (no response at margin 3,
a target response at 61 ms with margin 2; with margin 2 the loser's early lead at 11 ms does not
decide, the counts over the window do); trial 13's winner reaches the margin only after the
response phase (no response). Memory pools fire at chosen rates on a grid starting exactly at the
delay onset, with one extra spike exactly at the delay's end and one exactly at the cue onset
(neither may count), and at chosen rates in the 200 ms before each cue (100 ms before trial 0).

The expected table, rates, reaction-time statistics and exit codes are computed here from the
construction, never from the report's own code. Exit status: 0 pass, 1 fail, 77 skip (numpy,
h5py or matplotlib missing).
"""
import os
import statistics
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import h5py
    import matplotlib  # noqa: F401  (the report draws a figure)
except ImportError as e:
    print(f"SKIP: {e} (Debian: python3-numpy python3-h5py python3-matplotlib; run with /usr/bin/python3)")
    sys.exit(77)

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..'))
TOOL = os.path.join(ROOT, 'tools', 'axcpt_report.py')

FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print(f"  FAIL: {msg}")
    return bool(cond)


PHASES = ['cue', 'delay', 'probe', 'response', 'iti']
DUR = {'cue': 200.0, 'delay': 1000.0, 'probe': 200.0, 'response': 200.0, 'iti': 400.0}
# (condition, responding pool 'T'/'N'/None, reaction time d in ms)
TRIALS = [
    ('AX', 'T', 50), ('AY', 'N', 30), ('BX', 'N', 40), ('BY', 'N', 20), ('AX', 'T', 60),
    ('AX', 'N', 45), ('BY', 'N', 25), ('AY', 'T', 70), ('BX', None, 0), ('AX', 'T', 80),
    ('BY', 'N', 35), ('AY', 'N', 55), ('BX', 'N', 65), ('AX', None, 0), ('BY', 'N', 20),
    ('AX', 'T', 250), ('BX', 'T', 100), ('AY', 'N', 75), ('BY', 'N', 45), ('AX', 'T', 70),
]
# memory-pool rates (Hz per neuron) in the delay per condition; AX alternates 18 / 22
DELAY_RATE = {'AX': [(18.0, 2.0), (22.0, 2.0)], 'AY': [(24.0, 4.0)], 'BX': [(3.0, 25.0)], 'BY': [(5.0, 21.0)]}
PRE_RATE = {'AX': (1.0, 2.0), 'AY': (1.0, 2.0), 'BX': (1.0, 2.0), 'BY': (3.0, 2.0)}

MODEL = """name: axcpt_fake
dt: 0.1 ms
duration: 40.1 s
populations:
  dec: {size: 60, model: lif_cond_exp, subgroups: {T: "0:20", N: "20:40"}}
  pfc: {size: 100, model: lif_cond_exp, subgroups: {A: "0:50", B: "50:100"}}
"""


def grid(t0, t1, n):
    """n spike times on a regular grid in [t0, t1), the first exactly at t0."""
    return [t0 + j * (t1 - t0) / n for j in range(n)]


def build(path, with_trials=True):
    dec, pfc = [], []  # (time, node id)
    rr = {'T': [0], 'N': [0], 'A': [0], 'B': [0]}
    base = {'T': 0, 'N': 20, 'A': 0, 'B': 50}

    def spike(lst, pool, t):
        lst.append((t, base[pool] + rr[pool][0] % (20 if pool in 'TN' else 50)))
        rr[pool][0] += 1

    onset = np.zeros((len(TRIALS), len(PHASES)))
    end = np.zeros(len(TRIALS))
    seen = {c: 0 for c in DELAY_RATE}
    for k, (cond, win, d) in enumerate(TRIALS):
        t = 100.0 + 2000.0 * k
        for p, ph in enumerate(PHASES):
            onset[k, p] = t
            t += DUR[ph]
        end[k] = t
        cue, delay, probe = onset[k, 0], onset[k, 1], onset[k, 2]
        resp_end = onset[k, 4]
        # memory pools: the delay, an extra spike at its end and at the cue onset, the pre-cue window
        ra, rb = DELAY_RATE[cond][seen[cond] % len(DELAY_RATE[cond])]
        seen[cond] += 1
        for pool, r in (('A', ra), ('B', rb)):
            for x in grid(delay, probe, int(round(r * 50 * 1.0))):
                spike(pfc, pool, x)
        spike(pfc, 'A', probe)
        spike(pfc, 'A', cue)
        pa, pb = PRE_RATE[cond]
        w0 = max(0.0, cue - 200.0)
        for pool, r in (('A', pa), ('B', pb)):
            for x in grid(w0, cue, int(round(r * 50 * (cue - w0) / 1000.0))):
                spike(pfc, pool, x)
        # neurons 40..59 of dec belong to no pool and fire at 200 Hz all along the trial
        for x in grid(onset[k, 0], end[k], 400):
            dec.append((x, 40 + int(x) % 20))
        if k == 8:    # alternating, final lead 2: no response at margin 3
            for j in range(10):
                spike(dec, 'T', probe + 20 + 2 * j)
                spike(dec, 'N', probe + 21 + 2 * j)
            spike(dec, 'T', probe + 60)
            spike(dec, 'T', probe + 61)
            continue
        if k == 13:   # the winner gets there only after the response phase
            for j in range(4):
                spike(dec, 'T', resp_end + 50 + j)
            continue
        lose = 'N' if win == 'T' else 'T'
        for _ in range(3):
            spike(dec, 'T', probe + 5)
            spike(dec, 'N', probe + 5)
        spike(dec, lose, probe + 10)
        spike(dec, lose, probe + 11)
        spike(dec, win, probe + 12)
        spike(dec, win, probe + 13)
        for x in (d - 2, d - 1, d):
            spike(dec, win, probe + x)
        for j in range(5):             # in the delay: must not count
            spike(dec, win, probe - 50 + j)
        for j in range(10):            # after the response phase: must not count
            spike(dec, lose, resp_end + 1 + j)

    with h5py.File(path, 'w') as f:
        f.attrs['magic'] = np.uint32(0x0A7A)
        for pop, lst, size in (('dec', dec, 60), ('pfc', pfc, 100)):
            lst.sort(key=lambda s: s[0])
            g = f.create_group(f'spikes/{pop}')
            g.create_dataset('timestamps', data=np.array([s[0] for s in lst], dtype=np.float64))
            g.create_dataset('node_ids', data=np.array([s[1] for s in lst], dtype=np.uint64))
            f.create_group(f'volley/populations/{pop}').attrs['size'] = np.uint64(size)
        v = f['volley']
        v.attrs['complete'] = 1
        v.attrs['duration'] = float(end[-1])
        s = h5py.string_dtype('utf-8')
        v.create_dataset('model', data=MODEL, dtype=s)
        if with_trials:
            t = v.create_group('trials')
            o = t.create_dataset('onset', data=onset)
            o.attrs.create('phases', data=PHASES, dtype=s)
            t.create_dataset('end', data=end)
            t.create_dataset('condition', data=[c for c, _, _ in TRIALS], dtype=s)
            pat = [[f"vis:{c[0]}", '', f"vis:{c[1]}", '', ''] for c, _, _ in TRIALS]
            t.create_dataset('pattern', data=pat, dtype=s)


def expected_table(margin3=True):
    rows = {}
    for c in ['AX', 'AY', 'BX', 'BY', 'all']:
        ts = [tr for tr in TRIALS if c == 'all' or tr[0] == c]
        want = lambda cond: 'T' if cond == 'AX' else 'N'  # noqa: E731
        ok = [d for cond, w, d in ts if w == want(cond)]
        bad = [d for cond, w, d in ts if w is not None and w != want(cond)]
        none = sum(1 for _, w, _ in ts if w is None)
        n = len(ts)
        f = lambda x: '-' if x is None else f"{x:.1f}"  # noqa: E731
        rows[c] = [c, str(n), str(len(ok)), f(100.0 * len(ok) / n), str(len(bad)), str(none),
                   f(statistics.mean(ok) if ok else None), f(statistics.stdev(ok) if len(ok) > 1 else None),
                   f(statistics.mean(bad) if bad else None)]
    return rows


def expected_rates():
    delay, pre = {}, {}
    seen = {c: 0 for c in DELAY_RATE}
    per = []
    for cond, _, _ in TRIALS:
        ra, rb = DELAY_RATE[cond][seen[cond] % len(DELAY_RATE[cond])]
        seen[cond] += 1
        per.append((cond, ra, rb, PRE_RATE[cond]))
    for c in ['AX', 'AY', 'BX', 'BY', 'all']:
        sel = [p for p in per if c == 'all' or p[0] == c]
        delay[c] = [c, f"{statistics.mean(p[1] for p in sel):.2f}", f"{statistics.mean(p[2] for p in sel):.2f}"]
        pre[c] = [c, f"{statistics.mean(p[3][0] for p in sel):.2f}", f"{statistics.mean(p[3][1] for p in sel):.2f}"]
    return delay, pre


def run(args):
    p = subprocess.run([sys.executable, TOOL] + args, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


def section(out, title_start, skip=2):
    """Rows (split into fields, by first field) of the table starting `skip` lines after the first
    line that starts with title_start, up to the next empty line."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(title_start):
            rows = {}
            for row in lines[i + skip:]:
                if not row.strip():
                    break
                f = row.split()
                rows[f[0]] = f
            return rows
    return {}


def main():
    if not os.path.exists(TOOL):
        print(f"FAIL: {TOOL} not found")
        return 1
    tmp = tempfile.mkdtemp(prefix='axcpt_test_')
    h5 = os.path.join(tmp, 'fake.h5')
    build(h5)
    base = [h5, '--target', 'dec.T', '--nontarget', 'dec[N]', '--memory', 'A=pfc.A', '--memory', 'B=pfc[50:100]']

    print("1. accuracy table, reaction times, memory rates, figure")
    fig = os.path.join(tmp, 'fig.png')
    rc, out = run(base + ['--figure', fig, '--trials'])
    check(rc == 0, f"plain run exits 0, got {rc}:\n{out}")
    got = section(out, 'condition  ', 1)
    for c, want in expected_table().items():
        check(got.get(c) == want, f"row {c}: expected {want}, got {got.get(c)}")
    check(list(got)[:5] == ['AX', 'AY', 'BX', 'BY', 'all'], f"row order AX AY BX BY all, got {list(got)}")
    delay, pre = expected_rates()
    got_d = section(out, "memory-pool rates during 'delay'")
    got_p = section(out, "memory-pool rates in the 200 ms before 'cue'")
    for c in delay:
        check(got_d.get(c) == delay[c], f"delay rates {c}: expected {delay[c]}, got {got_d.get(c)}")
        check(got_p.get(c) == pre[c], f"pre-cue rates {c}: expected {pre[c]}, got {got_p.get(c)}")
    check(os.path.exists(fig) and open(fig, 'rb').read(8) == b'\x89PNG\r\n\x1a\n', "figure is a PNG file")
    trial_lines = [ln.split() for ln in out.splitlines() if ln.strip()[:1].isdigit() and 'vis:' in ln]
    check(len(trial_lines) == 20, f"--trials prints 20 trial lines, got {len(trial_lines)}")
    for f, (cond, win, d) in zip(trial_lines, TRIALS):
        resp = {'T': 'target', 'N': 'nontarget', None: 'none'}[win]
        rt = f"{float(d):.1f}" if win else '-'
        check(f[2:5] == [cond, resp, rt], f"trial {f[0]}: expected {cond} {resp} {rt}, got {f[2:5]}")
    check('cue=vis:A' in out and 'probe=vis:X' in out, "patterns listed per trial")

    print("2. --expect")
    rc, out = run(base + ['--no-figure', '--expect', 'AX=71.4,AY=75,BX=50,BY=100'])
    check(rc == 0, f"--expect at or below every accuracy exits 0, got {rc}:\n{out[-600:]}")
    rc, out = run(base + ['--no-figure', '--expect', 'AX=95,BY=95,AY=90,BX=90'])
    check(rc == 1, f"--expect above accuracies exits 1, got {rc}")
    check('AX: 71.4 % < 95 %' in out and 'BY' not in out.split('EXPECT FAILED:')[-1],
          f"the failure names AX and not BY:\n{out[-400:]}")
    rc, out = run(base + ['--no-figure', '--expect', 'CX=10'])
    check(rc == 1, f"--expect on a condition without trials exits 1, got {rc}")

    print("3. --margin 2: the winner over the window still wins; it first leads by 2 one spike earlier")
    rc, out = run(base + ['--no-figure', '--trials', '--margin', '2'])
    check(rc == 0, f"--margin 2 exits 0, got {rc}")
    trial_lines = [ln.split() for ln in out.splitlines() if ln.strip()[:1].isdigit() and 'vis:' in ln]
    for f, (cond, win, d) in zip(trial_lines, TRIALS):
        k = int(f[0])
        if k == 8:
            want = ['target', '61.0']
        elif k == 13:
            want = ['none', '-']
        else:
            # the loser's lead of 2 at 11 ms does not decide: the counts over the window do, and the
            # winner first leads by 2 at d - 1
            want = [{'T': 'target', 'N': 'nontarget'}[win], f'{d - 1:.1f}']
        check(f[3:5] == want, f"margin 2, trial {k}: expected {want}, got {f[3:5]}")

    print("4. --response-phase probe: decisions after 200 ms are no responses")
    rc, out = run(base + ['--no-figure', '--response-phase', 'probe'])
    got = section(out, 'condition  ', 1)
    # trial 15 (AX, target at 250 ms) now has no response: AX 4 correct, 1 wrong, 2 none
    check(rc == 0 and got.get('AX', [])[:6] == ['AX', '7', '4', '57.1', '1', '2'],
          f"AX row with --response-phase probe: got {got.get('AX')}")

    print("5. errors exit 2")
    rc, out = run([h5, '--target', 'dec.X', '--nontarget', 'dec.N', '--no-figure'])
    check(rc == 2 and "no subgroup 'X'" in out, f"unknown subgroup exits 2 with a message, got {rc}: {out[-300:]}")
    rc, out = run([h5, '--target', 'vis.T', '--nontarget', 'dec.N', '--no-figure'])
    check(rc == 2, f"unknown population exits 2, got {rc}: {out[-300:]}")
    bare = os.path.join(tmp, 'bare.h5')
    build(bare, with_trials=False)
    rc, out = run([bare, '--target', 'dec.T', '--nontarget', 'dec.N', '--no-figure'])
    check(rc == 2 and '/volley/trials' in out, f"a run without trials exits 2, got {rc}: {out[-300:]}")
    rc, out = run([os.path.join(tmp, 'missing.h5'), '--target', 'dec.T', '--nontarget', 'dec.N'])
    check(rc == 2, f"a missing file exits 2, got {rc}")
    rc, out = run(['--help'])
    check(rc == 0 and '/volley/trials/onset' in out, "--help documents the trial table")

    if FAILS:
        print(f"{len(FAILS)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == '__main__':
    sys.exit(main())
