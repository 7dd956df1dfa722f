#!/usr/bin/env python3
"""Side-by-side benchmark: the reference PES task in Nengo and in spikearm.

The network (the reference PES task, docs/ARCHITECTURE.md section 4): one ensemble of n LIF
neurons with Nengo defaults, input x(t) fed directly (no input synapse), a
learned readout starting at zero (PES, pre synapse 5 ms, output synapse 5 ms),
error = output - target with target = x0**2, dt = 1 ms.

For every (n, d) the script

1. builds the network in Nengo (reference simulator), times ``sim.run(T)``
   only (build excluded), and records neuron-updates/s = n * steps / time and
   the RMSE of output vs target per 1-s window;
2. writes the very same input/target to a CSV plus a spec TOML in a temp dir
   and runs ``spikearm neuro learn`` with ``--executor float`` and
   ``--executor loihi``, reading the OUT.json it writes;
3. prints a table with the throughputs, their ratios against Nengo, and the
   last-window RMSE of each (``--json`` dumps the same rows as JSON).

``--anchors`` instead measures the Nengo anchor figures quoted in docs/ARCHITECTURE.md
section 7 (throughput at n = 100, 1000, 10000 and the RMSE of the n = 100
task for learning rates 1e-4 and 1e-3 over several seeds).

Only the standard library, numpy and nengo are used (``pip install nengo``).
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

DT = 0.001  # s; both simulators step at 1 ms
WINDOW_S = 1.0  # RMSE window length in seconds
NENGO_DEFAULTS = {
    "max_rates": [200.0, 400.0],
    "intercepts": [-1.0, 0.9],
    "tau_rc": 0.02,
    "tau_ref": 0.002,
}
SYNAPSE_S = 0.005  # PES pre synapse and readout output synapse


def log(msg):
    """Print a progress message on stderr (stdout is kept for results)."""
    print(msg, file=sys.stderr, flush=True)


def default_sim_time(n_neurons):
    """Return the default simulated time in seconds for an ensemble of n neurons.

    Long enough for a stable throughput figure, short enough that the Nengo
    run of the big ensembles stays within a minute or so.
    """
    if n_neurons <= 1000:
        return 10.0
    if n_neurons <= 10000:
        return 2.0
    return 0.5


def input_radius(dims):
    """Return the ensemble radius used for d-dimensional input.

    The phase-shifted sines have norm |sin| <= 1 for d = 1 and exactly
    sqrt(d/2) for d >= 2, so the radius is max(1, sqrt(d/2)): Nengo's default
    of 1 for d = 1 and 2, and big enough not to saturate the ensemble for
    larger d. The same radius is written into the spikearm spec.
    """
    return max(1.0, math.sqrt(dims / 2.0))


def make_signals(dims, sim_time):
    """Build the input and target arrays for one run.

    Returns (t, x, y): t[k] = (k + 1) * dt, the time Nengo reports for step
    k; x has shape (steps, dims) with x_k(t) = sin(2 pi t + k pi / d); y has
    shape (steps, 1) with y = x0**2.
    """
    steps = int(round(sim_time / DT))
    t = np.arange(1, steps + 1) * DT
    phases = np.arange(dims) * math.pi / dims
    x = np.sin(2.0 * math.pi * t[:, None] + phases[None, :])
    y = x[:, :1] ** 2
    return t, x, y


def window_rmse(output, target, steps_per_window=None):
    """Return the RMSE of output vs target in consecutive windows (1 s default).

    A trailing partial window (or a run shorter than one window) is kept as
    its own window, so the last entry is always the end of the run.
    """
    if steps_per_window is None:
        steps_per_window = int(round(WINDOW_S / DT))
    output = np.asarray(output, dtype=float).reshape(len(target), -1)
    target = np.asarray(target, dtype=float).reshape(len(target), -1)
    out = []
    for start in range(0, len(target), steps_per_window):
        err = output[start:start + steps_per_window] - target[start:start + steps_per_window]
        out.append(float(np.sqrt(np.mean(err ** 2))))
    return out


def build_nengo_network(nengo, n_neurons, x, y, learning_rate, seed):
    """Build the reference PES network in Nengo.

    The input and target nodes replay the rows of x and y (step k reads row
    k), so Nengo sees exactly the data written to the spikearm CSV. The
    readout starts at zero: ``function`` returns zeros (it only sets the
    readout's size) and NoSolver(zeros) gives exactly the decoders a
    least-squares fit of zero would, without building and solving the
    (2n x n) system, which is impossible at n = 100000.

    Returns (network, output_probe).
    """
    dims = x.shape[1]
    out_dims = y.shape[1]
    steps = len(x)

    def row(data):
        """Return a node function that replays data one row per step."""
        def f(t):
            return data[min(int(round(t / DT)) - 1, steps - 1)]
        return f

    with nengo.Network(seed=seed) as net:
        inp = nengo.Node(row(x), size_out=dims)
        tgt = nengo.Node(row(y), size_out=out_dims)
        ens = nengo.Ensemble(n_neurons, dims, radius=input_radius(dims))
        nengo.Connection(inp, ens, synapse=None)
        out = nengo.Node(size_in=out_dims)
        conn = nengo.Connection(
            ens,
            out,
            function=lambda v: np.zeros(out_dims),
            solver=nengo.solvers.NoSolver(np.zeros((n_neurons, out_dims))),
            learning_rule_type=nengo.PES(learning_rate=learning_rate,
                                         pre_synapse=SYNAPSE_S),
            synapse=SYNAPSE_S,
        )
        err = nengo.Node(size_in=out_dims)
        nengo.Connection(out, err, synapse=None)
        nengo.Connection(tgt, err, transform=-1, synapse=None)
        nengo.Connection(err, conn.learning_rule, synapse=None)
        probe = nengo.Probe(out, synapse=None)
    return net, probe


def run_nengo(n_neurons, dims, sim_time, learning_rate, seed):
    """Build and run the task in the Nengo reference simulator.

    Only ``sim.run`` is timed. Returns a dict with the build and run wall
    times, neuron-updates/s and the per-window RMSE.
    """
    import nengo  # imported here so --help works without nengo

    _, x, y = make_signals(dims, sim_time)
    steps = len(x)
    net, probe = build_nengo_network(nengo, n_neurons, x, y, learning_rate, seed)
    t0 = time.perf_counter()
    with nengo.Simulator(net, dt=DT, progress_bar=False, optimize=True) as sim:
        t1 = time.perf_counter()
        c1 = time.process_time()
        sim.run_steps(steps)
        t2 = time.perf_counter()
        c2 = time.process_time()
        output = np.array(sim.data[probe])
    rmse = window_rmse(output, y)
    return {
        "nengo_version": nengo.__version__,
        "build_wall_s": t1 - t0,
        "wall_time_s": t2 - t1,
        "steps": steps,
        "neuron_updates_per_s": n_neurons * steps / (t2 - t1),
        "cpu_time_s": c2 - c1,
        "neuron_updates_per_cpu_s": n_neurons * steps / max(c2 - c1, 1e-9),
        "rmse_per_window": rmse,
        "rmse_first": rmse[0],
        "rmse_last": rmse[-1],
    }


def toml_value(value):
    """Format a Python int, float, str or list as a TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def write_spec(path, n_neurons, dims, out_dims, learning_rate, seed):
    """Write the spikearm spec TOML for the task, every parameter explicit."""
    sections = {
        "ensemble": {
            "neurons": n_neurons,
            "dimensions": dims,
            "seed": seed,
            "radius": input_radius(dims),
            **NENGO_DEFAULTS,
        },
        "readout": {
            "dimensions": out_dims,
            "learning_rate": learning_rate,
            "pre_synapse": SYNAPSE_S,
            "synapse": SYNAPSE_S,
        },
        "data": {
            "input": [f"x{k}" for k in range(dims)],
            "target": [f"y{k}" for k in range(out_dims)],
        },
    }
    lines = ["# written by scripts/nengo_compare.py"]
    for name, table in sections.items():
        lines.append(f"\n[{name}]")
        lines.extend(f"{key} = {toml_value(val)}" for key, val in table.items())
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def write_data(path, t, x, y):
    """Write the CSV: header ``t,x0..,y0..``, one row per 1-ms step."""
    header = ["t"] + [f"x{k}" for k in range(x.shape[1])] + [f"y{k}" for k in range(y.shape[1])]
    table = np.column_stack([t, x, y])
    np.savetxt(path, table, delimiter=",", header=",".join(header), comments="",
               fmt=["%.6f"] + ["%.17g"] * (table.shape[1] - 1))


def output_rows(out_json):
    """Return OUT.json's ``output`` as a 2-D float array, or None if unusable."""
    rows = out_json.get("output")
    if not isinstance(rows, list) or not rows:
        return None
    try:
        arr = np.array(rows, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr.reshape(len(rows), -1)


def run_spikearm(binary, executor, workdir, n_neurons, y, seed, timeout):
    """Run ``spikearm neuro learn`` on the spec/CSV in workdir with one executor.

    Returns a dict with its throughput and RMSE figures (taken from OUT.json;
    the RMSE is recomputed from ``output`` when the file lacks it), or a dict
    with an ``error`` key when the run failed.
    """
    spec = os.path.join(workdir, "spec.toml")
    data = os.path.join(workdir, "data.csv")
    out = os.path.join(workdir, f"out_{executor}.json")
    cmd = [binary, "neuro", "learn", "--spec", spec, "--data", data,
           "--executor", executor, "--seed", str(seed), "--out", out]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s: {' '.join(cmd)}"}
    process_s = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail), "command": " ".join(cmd)}
    try:
        with open(out, encoding="utf-8") as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        return {"error": f"could not read {out}: {e}"}

    steps = len(y)
    wall = res.get("wall_time_s")
    ups = res.get("neuron_updates_per_s")
    if ups is None and wall:
        updates = (res.get("accounting") or {}).get("neuron_updates", n_neurons * steps)
        ups = updates / wall
    rmse = res.get("rmse_per_window")
    rows = output_rows(res)
    recomputed = None
    if rows is not None and len(rows) == steps:
        recomputed = window_rmse(rows[:, -y.shape[1]:], y)
    if not rmse:
        rmse = recomputed
    elif recomputed and abs(recomputed[-1] - rmse[-1]) > 1e-6 * max(1.0, abs(rmse[-1])):
        log(f"  note: {executor} rmse_last {rmse[-1]:.6f} in OUT.json, "
            f"{recomputed[-1]:.6f} recomputed from its output vs the CSV target")
    summary = {
        "wall_time_s": wall,
        "process_wall_s": process_s,
        "neuron_updates_per_s": ups,
        "neuron_updates_per_cpu_s": res.get("neuron_updates_per_cpu_s"),
        "rmse_per_window": rmse,
        "rmse_first": res.get("rmse_first", rmse[0] if rmse else None),
        "rmse_last": res.get("rmse_last", rmse[-1] if rmse else None),
        "rmse_last_recomputed": recomputed[-1] if recomputed else None,
        "accounting": res.get("accounting"),
    }
    return summary


def check_binary(path):
    """Return the absolute path of the spikearm binary or exit with advice."""
    found = shutil.which(path) if os.sep not in path else (path if os.path.isfile(path) else None)
    if found is None or not os.access(found, os.X_OK):
        sys.exit(f"error: spikearm binary not found at '{path}'.\n"
                 f"Build it first with `cargo build --release` (from the repository root), "
                 f"pass its path with --spikearm PATH, or use --nengo-only.")
    return os.path.abspath(found)


def best_of(repeats, run):
    """Call run() `repeats` times; return the result with the highest neuron-updates/s.

    All throughputs are kept in ``updates_per_s_runs``. A run that returns an
    ``error`` is returned at once. The RMSE figures are the same in every run
    (both simulators are deterministic for a given seed).
    """
    results = []
    for _ in range(max(1, repeats)):
        res = run()
        if "error" in res:
            return res
        results.append(res)
    best = max(results, key=lambda r: r.get("neuron_updates_per_s") or 0.0)
    best["updates_per_s_runs"] = [r.get("neuron_updates_per_s") for r in results]
    cpu_runs = [r.get("neuron_updates_per_cpu_s") for r in results]
    best["updates_per_cpu_s_runs"] = cpu_runs
    best["best_updates_per_cpu_s"] = max((c for c in cpu_runs if c), default=None)
    return best


def compare_one(args, binary, n_neurons, dims):
    """Run one (n, d) case in Nengo and in spikearm's executors; return a row dict."""
    sim_time = args.sim_time if args.sim_time is not None else default_sim_time(n_neurons)
    t, x, y = make_signals(dims, sim_time)
    row = {"n": n_neurons, "d": dims, "T_s": sim_time, "steps": len(t),
           "learning_rate": args.learning_rate, "seed": args.seed}
    log(f"[n={n_neurons} d={dims} T={sim_time}s] nengo ...")
    row["nengo"] = best_of(args.repeats, lambda: run_nengo(
        n_neurons, dims, sim_time, args.learning_rate, args.seed))
    if binary is None:
        return row
    with tempfile.TemporaryDirectory(prefix="nengo_compare_") as tmp:
        workdir = tmp
        if args.keep_dir:
            workdir = os.path.join(args.keep_dir, f"n{n_neurons}_d{dims}")
            os.makedirs(workdir, exist_ok=True)
        write_spec(os.path.join(workdir, "spec.toml"), n_neurons, dims, y.shape[1],
                   args.learning_rate, args.seed)
        write_data(os.path.join(workdir, "data.csv"), t, x, y)
        for executor in args.executors:
            log(f"[n={n_neurons} d={dims} T={sim_time}s] spikearm --executor {executor} ...")
            res = best_of(args.repeats, lambda ex=executor: run_spikearm(
                binary, ex, workdir, n_neurons, y, args.seed, args.timeout))
            if "error" in res:
                log(f"  spikearm {executor} failed: {res['error']}")
            elif res["neuron_updates_per_s"]:
                res["ratio_vs_nengo"] = res["neuron_updates_per_s"] / row["nengo"]["neuron_updates_per_s"]
                ours, theirs = res.get("best_updates_per_cpu_s"), row["nengo"].get("best_updates_per_cpu_s")
                if ours and theirs:
                    res["cpu_ratio_vs_nengo"] = ours / theirs
            row[executor] = res
    return row


def fmt_rate(value):
    """Format neuron-updates/s in millions."""
    return "-" if value is None else f"{value / 1e6:.2f}M"


def fmt_num(value, spec):
    """Format an optional number."""
    return "-" if value is None else format(value, spec)


def print_table(rows, executors, stream):
    """Print the comparison table (throughputs, ratios vs Nengo, last-window RMSE)."""
    head = ["n", "d", "T[s]", "nengo upd/s"]
    for ex in executors:
        head += [f"{ex} upd/s", f"{ex}/nengo", f"{ex}/nengo cpu"]
    head += ["rmse_last nengo"] + [f"rmse_last {ex}" for ex in executors]
    table = [head]
    for r in rows:
        line = [str(r["n"]), str(r["d"]), f"{r['T_s']:g}", fmt_rate(r["nengo"]["neuron_updates_per_s"])]
        for ex in executors:
            res = r.get(ex, {})
            if "error" in res:
                line += ["ERR", "-", "-"]
            else:
                line += [fmt_rate(res.get("neuron_updates_per_s")),
                         fmt_num(res.get("ratio_vs_nengo"), ".2f") + ("x" if res.get("ratio_vs_nengo") else ""),
                         fmt_num(res.get("cpu_ratio_vs_nengo"), ".2f") + ("x" if res.get("cpu_ratio_vs_nengo") else "")]
        line.append(f"{r['nengo']['rmse_last']:.4f}")
        for ex in executors:
            line.append(fmt_num(r.get(ex, {}).get("rmse_last"), ".4f"))
        table.append(line)
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for i, line in enumerate(table):
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths)), file=stream)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=stream)
    for r in rows:
        for ex in executors:
            if "error" in r.get(ex, {}):
                print(f"n={r['n']} d={r['d']} {ex}: {r[ex]['error']}", file=stream)


def machine_info():
    """Return load averages, CPU count and library versions for the record."""
    import nengo
    return {"loadavg": list(os.getloadavg()), "nproc": os.cpu_count(),
            "nengo_version": nengo.__version__, "numpy_version": np.__version__,
            "python": sys.version.split()[0]}


def measure_anchors(args):
    """Measure the Nengo anchor figures (docs/ARCHITECTURE.md section 7) on this machine.

    Throughput with PES at each of args.anchor_sizes (median and best of
    args.repeats runs, default T per size), and the first/last-window RMSE of
    the n = 100, T = 10 s task for learning rates 1e-4 and 1e-3 over
    args.anchor_seeds.
    """
    result = {"machine_before": machine_info(), "throughput": [], "rmse": []}
    for n in args.anchor_sizes:
        sim_time = args.sim_time if args.sim_time is not None else default_sim_time(n)
        rates = []
        for rep in range(args.repeats):
            log(f"[anchor throughput n={n} T={sim_time}s run {rep + 1}/{args.repeats}]")
            rates.append(run_nengo(n, 1, sim_time, 1e-4, 0)["neuron_updates_per_s"])
        result["throughput"].append({"n": n, "T_s": sim_time, "runs": rates,
                                     "median": statistics.median(rates), "best": max(rates)})
    for lr in (1e-4, 1e-3):
        firsts, lasts = [], []
        for seed in args.anchor_seeds:
            log(f"[anchor rmse n=100 lr={lr:g} seed={seed}]")
            res = run_nengo(100, 1, 10.0, lr, seed)
            firsts.append(res["rmse_first"])
            lasts.append(res["rmse_last"])
        result["rmse"].append({
            "n": 100, "learning_rate": lr, "seeds": list(args.anchor_seeds),
            "rmse_first": firsts, "rmse_last": lasts,
            "rmse_first_mean": statistics.mean(firsts), "rmse_last_mean": statistics.mean(lasts),
            "rmse_first_sd": statistics.stdev(firsts) if len(firsts) > 1 else 0.0,
            "rmse_last_sd": statistics.stdev(lasts) if len(lasts) > 1 else 0.0,
        })
    result["machine_after"] = machine_info()
    return result


def print_anchors(result, stream):
    """Print the anchor measurements as two small tables."""
    print(f"Nengo {result['machine_before']['nengo_version']} reference simulator, "
          f"loadavg before {result['machine_before']['loadavg'][0]:.2f}, "
          f"after {result['machine_after']['loadavg'][0]:.2f}", file=stream)
    print("\nthroughput with PES (d=1):", file=stream)
    print(f"{'n':>7}  {'T[s]':>5}  {'median upd/s':>12}  {'best upd/s':>10}", file=stream)
    for r in result["throughput"]:
        print(f"{r['n']:>7}  {r['T_s']:>5g}  {fmt_rate(r['median']):>12}  {fmt_rate(r['best']):>10}", file=stream)
    print("\nRMSE of output vs x0^2, n=100, T=10 s:", file=stream)
    for r in result["rmse"]:
        print(f"lr={r['learning_rate']:g}: first {r['rmse_first_mean']:.4f} ± {r['rmse_first_sd']:.4f}, "
              f"last {r['rmse_last_mean']:.4f} ± {r['rmse_last_sd']:.4f}  (seeds {r['seeds']})", file=stream)
        print("    per seed first: " + ", ".join(f"{v:.4f}" for v in r["rmse_first"]), file=stream)
        print("    per seed last:  " + ", ".join(f"{v:.4f}" for v in r["rmse_last"]), file=stream)


def emit_json(obj, target):
    """Write obj as JSON to a file path, or to stdout for '-'."""
    text = json.dumps(obj, indent=1)
    if target == "-":
        print(text)
    else:
        with open(target, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        log(f"wrote {target}")


def parse_args(argv=None):
    """Parse the command line."""
    p = argparse.ArgumentParser(
        description="Run the reference PES task (LIF ensemble, learned readout of x0^2) in Nengo "
                    "and in spikearm (float and loihi executors) and print throughput ratios and "
                    "last-window RMSE side by side.",
        epilog="Examples:\n"
               "  scripts/nengo_compare.py                      # n = 100, 1000, 10000, d = 1\n"
               "  scripts/nengo_compare.py --add-100k --add-d12 # also n = 100000 and d = 12\n"
               "  scripts/nengo_compare.py --nengo-only         # no spikearm binary needed\n"
               "  scripts/nengo_compare.py --anchors --repeats 3 --json anchors.json\n"
               "Default simulated time: 10 s for n <= 1000, 2 s for n <= 10000, 0.5 s above.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spikearm", default="target/release/spikearm", metavar="PATH",
                   help="spikearm binary (default: %(default)s; build with `cargo build --release`)")
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000], metavar="N",
                   help="ensemble sizes (default: %(default)s)")
    p.add_argument("--add-100k", action="store_true", help="also run n = 100000")
    p.add_argument("--dims", type=int, nargs="+", default=[1], metavar="D",
                   help="input dimensions, each run at every size (default: %(default)s)")
    p.add_argument("--add-d12", action="store_true", help="also run d = 12 at every size")
    p.add_argument("--sim-time", type=float, default=None, metavar="SECONDS",
                   help="simulated time for every run (default: by size, see below)")
    p.add_argument("--learning-rate", type=float, default=1e-4, help="PES learning rate (default: %(default)g)")
    p.add_argument("--seed", type=int, default=0, help="network / ensemble seed (default: %(default)s)")
    p.add_argument("--executors", nargs="+", default=["float", "loihi"], choices=["float", "loihi"],
                   help="spikearm executors to run (default: %(default)s)")
    p.add_argument("--nengo-only", action="store_true", help="skip spikearm (no binary needed)")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="SECONDS",
                   help="per spikearm run (default: %(default)g)")
    p.add_argument("--keep-dir", metavar="DIR",
                   help="write spec/CSV/OUT.json under DIR instead of a deleted temp dir")
    p.add_argument("--json", nargs="?", const="-", metavar="PATH",
                   help="dump the results as JSON to PATH, or to stdout (instead of the table) if no PATH")
    p.add_argument("--anchors", action="store_true",
                   help="measure the Nengo anchors instead: throughput at --anchor-sizes and the n=100 "
                        "RMSE for lr 1e-4 and 1e-3 over --anchor-seeds")
    p.add_argument("--anchor-sizes", type=int, nargs="+", default=[100, 1000, 10000], metavar="N",
                   help="sizes for --anchors throughput (default: %(default)s)")
    p.add_argument("--anchor-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], metavar="S",
                   help="seeds for --anchors RMSE (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=1,
                   help="runs of every case; the comparison reports the fastest, --anchors the median "
                        "and the fastest (default: %(default)s)")
    return p.parse_args(argv)


def main(argv=None):
    """Entry point: run the comparison (or the anchors) and report."""
    args = parse_args(argv)
    try:
        import nengo  # noqa: F401
    except ImportError:
        sys.exit("error: nengo is not installed; `pip install nengo`")
    table_stream = sys.stderr if args.json == "-" else sys.stdout

    if args.anchors:
        result = measure_anchors(args)
        print_anchors(result, table_stream)
        if args.json:
            emit_json(result, args.json)
        return 0

    binary = None if args.nengo_only else check_binary(args.spikearm)
    sizes = list(args.sizes) + ([100000] if args.add_100k and 100000 not in args.sizes else [])
    dims = list(args.dims) + ([12] if args.add_d12 and 12 not in args.dims else [])
    executors = [] if binary is None else list(args.executors)
    info = machine_info()
    rows = [compare_one(args, binary, n, d) for d in dims for n in sizes]
    info["loadavg_after"] = list(os.getloadavg())
    print_table(rows, executors, table_stream)
    if args.json:
        emit_json({"machine": info, "spikearm": binary, "rows": rows}, args.json)
    failed = any("error" in r.get(ex, {}) for r in rows for ex in executors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
