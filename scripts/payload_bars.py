#!/usr/bin/env python3
"""The adaptive controller's payload bars across protocols, payloads and seeds, as one table.

Runs `spikearm eval payload` (fixed-point core, no float or PID rows) for both arms, three payloads each (UR5e
0.5 / 2 / 3 kg, 3-link 0.25 / 1 / 1.5 kg), three target protocols (circle, random, figure8) and three seeds (the
random protocol's target seed is the ensemble seed), and prints one Markdown row per arm, payload and protocol
with the three seeds' figures side by side. The circle runs also take the payload off for two laps.

Bars checked per run: lap 4 <= 0.06, last lap <= 0.04, no lap from lap 4 on above 0.08 (normalised error), the
adaptive controller without a payload <= 1.05 x the OSC's mean error, and (circle) the second lap after the
removal <= 1.1 x the OSC's.

    cargo build --release && python3 scripts/payload_bars.py [--bin target/release/spikearm] [--jobs 2] [--only ur5e]
"""
import argparse
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARMS = {"ur5e": (0.5, 2.0, 3.0), "threelink": (0.25, 1.0, 1.5)}
PROTOCOLS = ("circle", "random", "figure8")
SEEDS = (0, 1, 2)


def run(binary, out_dir, arm, kg, protocol, seed):
    """One eval; returns lap figures and ratios."""
    stem = os.path.join(out_dir, f"{arm}_{kg}_{protocol}_{seed}")
    cmd = [binary, "eval", "payload", "--arm", os.path.join(ROOT, "config", "arms", f"{arm}.urdf"),
           "--payload-kg", str(kg), "--no-float", "--no-pid", "--seed", str(seed), "--targets", protocol,
           "--targets-seed", str(seed), "--threads", "1", "--json", stem + ".json"]
    if protocol == "circle":
        cmd += ["--laps-after-removal", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    c = json.load(open(stem + ".json"))["controllers"]
    laps = c["adaptive_loihi"]["normalised_per_window"]
    no_payload = sum(c["adaptive_loihi_no_payload"]["error_per_window"]) / sum(c["pd_no_payload"]["error_per_window"])
    # The table's "removed (mm)" column (second lap without the payload) of the OSC and the adaptive rows.
    removed = {}
    for line in done.stdout.splitlines():
        f = line.split()
        if len(f) == 8 and f[0] in ("pd_no_payload", "adaptive_loihi") and f[6] != "-":
            removed[f[0]] = float(f[6])
    removal = removed["adaptive_loihi"] / removed["pd_no_payload"] if len(removed) == 2 else None
    ok = laps[3] <= 0.06 and laps[-1] <= 0.04 and max(laps[3:]) <= 0.08 and no_payload <= 1.05
    ok = ok and (removal is None or removal <= 1.1)
    return laps, no_payload, removal, ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "spikearm"))
    ap.add_argument("--jobs", type=int, default=2, help="evals at once (each uses one thread)")
    ap.add_argument("--only", choices=sorted(ARMS), help="one arm")
    ap.add_argument("--out", help="directory for the JSON results (default: a temporary one)")
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"no spikearm binary at {a.bin}: run `cargo build --release` first, or pass --bin")
    out_dir = a.out or tempfile.mkdtemp(prefix="payload_bars_")
    os.makedirs(out_dir, exist_ok=True)
    keys = [(arm, kg, p, s) for arm, kgs in ARMS.items() if a.only in (None, arm)
            for kg in kgs for p in PROTOCOLS for s in SEEDS]
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        results = dict(zip(keys, ex.map(lambda k: run(a.bin, out_dir, *k), keys)))
    print("| arm, payload, targets | lap 4 (seeds 0 / 1 / 2) | last lap | worst lap from 4 | no payload × OSC "
          "| removal × OSC | bars |")
    print("|---|---|---|---|---|---|---|")
    failed = 0
    for arm, kgs in ARMS.items():
        for kg in kgs:
            for p in PROTOCOLS:
                rs = [results[(arm, kg, p, s)] for s in SEEDS if (arm, kg, p, s) in results]
                if not rs:
                    continue
                cell = lambda f: " / ".join(f(r) for r in rs)
                fails = sum(not r[3] for r in rs)
                failed += fails
                print(f"| {arm} {kg:g} kg, {p} | {cell(lambda r: f'{r[0][3]:.3f}')} | {cell(lambda r: f'{r[0][-1]:.3f}')} "
                      f"| {cell(lambda r: f'{max(r[0][3:]):.3f}')} | {max(r[1] for r in rs):.3f} "
                      f"| {'–' if rs[0][2] is None else f'{max(r[2] for r in rs):.3f}'} "
                      f"| {'met' if fails == 0 else f'{fails} of {len(rs)} seeds not met'} |")
    print(f"\n{len(results) - failed} of {len(results)} runs meet every bar (JSON in {out_dir})")


if __name__ == "__main__":
    main()
