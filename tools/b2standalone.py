"""The harness the Brian2 C++ standalone benchmarks share (tools/brian2_coba.py, tools/brian2_bh.py):
their command line, the standalone device, one compile, --repeat runs of the binary timed by the
network's own timer, and the `key: value` lines tools/bench-cpu.sh reads."""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings


def parse_args(doc, n_default, n_help):
    """The scripts' options; doc is the script's docstring (first paragraph: description)."""
    ap = argparse.ArgumentParser(description=doc.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=doc.split('\n\n', 1)[1])
    ap.add_argument('--threads', type=int, default=1,
                    help='OpenMP threads (prefs.devices.cpp_standalone.openmp_threads); 1 = serial code')
    ap.add_argument('--repeat', type=int, default=1, help='run the compiled binary this many times')
    ap.add_argument('--N', type=int, default=n_default, help=n_help)
    ap.add_argument('--duration', type=float, default=1.0, help='simulated seconds')
    ap.add_argument('--seed', type=int, default=None, help='random seed (default: a new one each run)')
    ap.add_argument('--keep', metavar='DIR', help='build into DIR and keep it (default: a temp dir, removed)')
    return ap.parse_args()


def start(a, name):
    """Imports Brian2 and sets up the standalone device (dt 0.1 ms, a's threads and seed). Returns
    (brian2, numpy, build_dir), or None after saying why when Brian2 cannot be imported."""
    warnings.filterwarnings('ignore', category=FutureWarning)
    try:
        import numpy as np
        import brian2 as b2
    except ImportError as e:
        print(f"{name}: Brian2 not importable ({e}); Debian python3-brian, /usr/bin/python3")
        return None
    build_dir = a.keep or tempfile.mkdtemp(prefix=name + '_')
    b2.set_device('cpp_standalone', directory=build_dir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = a.threads if a.threads > 1 else 0
    b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f'-j{os.cpu_count() or 2}']
    b2.defaultclock.dt = 0.1 * b2.ms
    if a.seed is not None:
        b2.seed(a.seed)
    return b2, np, build_dir


def build_and_run(a, b2, build_dir, header, one_run):
    """Compiles the project and runs the binary a.repeat times. one_run() reads the monitors after a
    run and returns (text for its `run K:` line, its statistics). Prints the header, `compile:` and
    the run lines; returns (median simulate seconds, median binary seconds, the runs' statistics)."""
    t0 = time.time()
    b2.device.build(directory=build_dir, compile=True, run=False, with_output=False)
    print(header)
    print(f"compile: {time.time() - t0:.2f}")
    sims, bins, stats = [], [], []
    try:
        for k in range(a.repeat):
            b2.device.run(build_dir, with_output=False, run_args=[])
            sims.append(float(b2.device._last_run_time))
            bins.append(float(b2.device.timers['run_binary']))
            text, st = one_run()
            stats.append(st)
            print(f"run {k + 1}: simulate {sims[-1]:.4f} s, binary {bins[-1]:.3f} s, {text}")
            sys.stdout.flush()
    finally:
        if not a.keep:
            shutil.rmtree(build_dir, ignore_errors=True)
    return statistics.median(sims), statistics.median(bins), stats
