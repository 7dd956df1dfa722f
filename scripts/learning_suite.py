#!/usr/bin/env python3
"""The learning-task suite: PES accuracy of spikearm's executors against Nengo, task by task.

Every task is one LIF ensemble (Nengo defaults) with a PES-learned readout
starting from zero, fed a smooth recorded input and trained towards a target
function of it (error = output - target, dt = 1 ms, 5 ms pre and output
synapses). The suite spans 1-D and 2-D inputs, linear and nonlinear targets,
100 to 1000 neurons, learning rates 1e-4 to 1e-3 and target magnitudes from
0.01 to 100 units.

For each task and seed the script runs the Nengo reference simulator in this
process and ``spikearm neuro learn`` on the very same input/target CSV with
the float executor and with the fixed-point executor under each requested
configuration (``--variant``), then reports the RMSE of output vs target over
the last ``--tail`` seconds. Per task, the median over seeds of each RMSE and
its ratio to Nengo's median are printed; a configuration meets the bar on a
task when its ratio is at most ``--bar`` (1.15 for fixed-point, the float
executor is held to 1.05).

Variants are ``NAME:OPTIONS`` where OPTIONS are extra ``spikearm neuro learn``
arguments separated by commas, e.g.
``loihi2:--profile=loihi2`` or ``w10:--core=weight_bits=10``. Without
``--variant`` the fixed-point executor runs with the Loihi 1 and the Loihi 2
profiles.

Examples::

    cargo build --release
    scripts/learning_suite.py                              # the whole suite, seeds 0 1 2
    scripts/learning_suite.py --tasks 1d-sq-300 --seeds 0  # one task, one seed
    scripts/learning_suite.py --variant l1: --variant w16:--core=weight_bits=16
    scripts/learning_suite.py --json suite.json

Only the standard library, numpy and nengo are used (``pip install nengo``).
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nengo_compare as nc  # noqa: E402  (shared helpers: CSV/spec writers, binary check)

DT = nc.DT
SYNAPSE_S = nc.SYNAPSE_S


def signals(dims, sim_time):
    """Smooth test inputs inside the unit ball: 1-D a 1 Hz sine; 2-D two incommensurate sines of
    amplitude 0.7 (so the pair sweeps the disc instead of one circle)."""
    steps = int(round(sim_time / DT))
    t = np.arange(1, steps + 1) * DT
    if dims == 1:
        x = np.sin(2 * math.pi * t)[:, None]
    else:
        x = np.column_stack([0.7 * np.sin(2 * math.pi * t), 0.7 * np.cos(2 * math.pi * 0.618 * t + 0.3)])
    return t, x


# name: (neurons, input dims, learning rate, target description, target function of x (steps × d) -> (steps × k))
TASKS = {
    "1d-lin-100": (100, 1, 1e-4, "x0", lambda x: x[:, :1]),
    "1d-sq-300": (300, 1, 3e-4, "x0^2", lambda x: x[:, :1] ** 2),
    "1d-sin-1000-small": (1000, 1, 1e-3, "0.01 sin(pi x0)", lambda x: 0.01 * np.sin(math.pi * x[:, :1])),
    "2d-prod-200": (200, 2, 1e-3, "x0 x1", lambda x: x[:, :1] * x[:, 1:2]),
    "2d-lin-500-big": (500, 2, 5e-4, "100 (x0 - x1/2)", lambda x: 100 * (x[:, :1] - 0.5 * x[:, 1:2])),
    "2d-sq-1000": (1000, 2, 3e-4, "x0^2 + x1^2, 10 (x0 x1)", lambda x: np.column_stack([
        x[:, 0] ** 2 + x[:, 1] ** 2, 10 * x[:, 0] * x[:, 1]])),
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def tail_rmse(out, y, tail_steps):
    """RMSE of output vs target over the last `tail_steps` steps, all output dimensions together."""
    err = np.asarray(out, dtype=float).reshape(len(y), -1)[-tail_steps:] - y[-tail_steps:]
    return float(np.sqrt(np.mean(err ** 2)))


def run_nengo(n, x, y, lr, seed):
    import nengo
    net, probe = nc.build_nengo_network(nengo, n, x, y, lr, seed)
    with nengo.Simulator(net, dt=DT, progress_bar=False, optimize=True) as sim:
        t0 = time.perf_counter()
        sim.run_steps(len(x))
        wall = time.perf_counter() - t0
        return np.array(sim.data[probe]), wall


def run_spikearm(binary, workdir, executor, extra, seed, tag):
    out = os.path.join(workdir, f"out_{tag}.json")
    cmd = [binary, "neuro", "learn", "--spec", os.path.join(workdir, "spec.toml"),
           "--data", os.path.join(workdir, "data.csv"), "--executor", executor,
           "--seed", str(seed), "--out", out] + extra
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout).strip()[-400:]}")
    with open(out, encoding="utf-8") as f:
        res = json.load(f)
    return np.array(res["output"], dtype=float), res


def parse_variants(specs):
    """`NAME:OPT,OPT` -> [(name, [args])]; `--x=y` options are split into `--x y`."""
    out = []
    for spec in specs:
        name, _, opts = spec.partition(":")
        args = []
        for opt in filter(None, opts.split(",")):
            if opt.startswith("--") and "=" in opt:
                flag, _, val = opt.partition("=")
                args += [flag, val]
            else:
                args.append(opt)
        out.append((name, args))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spikearm", default="target/release/spikearm", metavar="PATH")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--sim-time", type=float, default=8.0, help="simulated seconds per run (default %(default)s)")
    p.add_argument("--tail", type=float, default=2.0, help="RMSE over the last SECONDS (default %(default)s)")
    p.add_argument("--variant", action="append", default=None, metavar="NAME:OPTS",
                   help="a fixed-point configuration (repeatable); default: l1 and l2 (--profile loihi2)")
    p.add_argument("--no-float", action="store_true", help="skip the float executor")
    p.add_argument("--bar", type=float, default=1.15, help="fixed-point bar on RMSE / Nengo (default %(default)s)")
    p.add_argument("--float-bar", type=float, default=1.05, help="float bar (default %(default)s)")
    p.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    args = p.parse_args(argv)
    try:
        import nengo  # noqa: F401
    except ImportError:
        sys.exit("error: nengo is not installed; `pip install nengo`")
    binary = nc.check_binary(args.spikearm)
    variants = parse_variants(args.variant or ["l1:", "l2:--profile=loihi2"])
    configs = ([] if args.no_float else [("float", "float", [])]) + [(v, "loihi", a) for v, a in variants]
    tail_steps = int(round(args.tail / DT))
    rows = []
    started = time.time()
    load_before = os.getloadavg()[0]
    for task in args.tasks:
        n, d, lr, desc, fn = TASKS[task]
        t, x = signals(d, args.sim_time)
        y = fn(x)
        per = {"nengo": []}
        for seed in args.seeds:
            log(f"[{task} seed {seed}] nengo ...")
            out, _ = run_nengo(n, x, y, lr, seed)
            per["nengo"].append(tail_rmse(out, y, tail_steps))
            with tempfile.TemporaryDirectory(prefix="suite_") as work:
                nc.write_spec(os.path.join(work, "spec.toml"), n, d, y.shape[1], lr, seed)
                nc.write_data(os.path.join(work, "data.csv"), t, x, y)
                for name, executor, extra in configs:
                    out, _ = run_spikearm(binary, work, executor, extra, seed, name)
                    per.setdefault(name, []).append(tail_rmse(out, y, tail_steps))
        med = {k: statistics.median(v) for k, v in per.items()}
        rows.append({"task": task, "n": n, "d": d, "learning_rate": lr, "target": desc,
                     "rmse": per, "median": med,
                     "ratio": {k: med[k] / med["nengo"] for k in med if k != "nengo"}})
    names = [c[0] for c in configs]
    head = f"{'task':<18} {'n':>5} {'d':>2} {'lr':>7} {'nengo':>9} " + " ".join(f"{c:>16}" for c in names)
    print(f"RMSE over the last {args.tail:g} s of {args.sim_time:g} s, median of seeds {args.seeds}; "
          f"(ratio to Nengo). Load average {load_before:.2f} -> {os.getloadavg()[0]:.2f}, "
          f"{time.time() - started:.0f} s.")
    print(head)
    print("-" * len(head))
    fails = []
    for r in rows:
        cells = []
        for c in names:
            ratio = r["ratio"][c]
            bar = args.float_bar if c == "float" else args.bar
            mark = "" if ratio <= bar else "*"
            if mark:
                fails.append((r["task"], c, ratio))
            cells.append(f"{r['median'][c]:.4g} ({ratio:.2f}){mark}".rjust(16))
        print(f"{r['task']:<18} {r['n']:>5} {r['d']:>2} {r['learning_rate']:>7g} {r['median']['nengo']:>9.4g} "
              + " ".join(cells))
    worst = {c: max(r["ratio"][c] for r in rows) for c in names}
    print("worst ratio: " + ", ".join(f"{c} {w:.2f}" for c, w in worst.items())
          + f"   (* above the bar: float {args.float_bar}, fixed-point {args.bar})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"sim_time_s": args.sim_time, "tail_s": args.tail, "seeds": args.seeds,
                       "variants": variants, "rows": rows, "worst": worst}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
