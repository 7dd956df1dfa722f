#!/usr/bin/env bash
# CPU cost of the live view (BENCHMARKS.md, "Live view"): sim (real time, 1 kHz) + controller + `spikearm view`, one
# Foxglove client (tests/python/foxglove_client.py) subscribed to every channel; the view's CPU time from /proc over
# 10 s. RATE=<Hz> sets rate_hz (default 100); BIN=<path> the binary (default target/release/spikearm). Needs
# python3 with websockets.
set -euo pipefail
BIN=${BIN:-target/release/spikearm}
cd "$(dirname "$0")/.."
$BIN sim node --config config/sim.toml --set 'bus.listen=["tcp/127.0.0.1:17501"]' --set 'initial_q=[1.0, -1.4, -0.6]' --set wait=sleep 2>/dev/null & SIM=$!
$BIN control --config config/control.toml --set 'bus.connect=["tcp/127.0.0.1:17501"]' --set 'bus.listen=["tcp/127.0.0.1:17502"]' --set wait=sleep 2>/dev/null & CTL=$!
$BIN view --config config/live_view.toml --set 'bus.connect=["tcp/127.0.0.1:17501","tcp/127.0.0.1:17502"]' --set listen=127.0.0.1:17765 --set rate_hz=${RATE:-100} 2>/dev/null & VIEW=$!
sleep 3
cd tests/python
python3 - $VIEW <<'PY'
import os, sys, time
from foxglove_client import View
pid = int(sys.argv[1])
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick
v = View("ws://127.0.0.1:17765")
n = {"k": 0}
v.handlers.append(lambda t, ns, b: n.__setitem__("k", n["k"] + 1))
v.pump(2.0)
c0, t0, k0 = cpu(), time.monotonic(), n["k"]
v.pump(10.0)
c1, t1, k1 = cpu(), time.monotonic(), n["k"]
print(f"view CPU {100*(c1-c0)/(t1-t0):.1f} % of one core over {t1-t0:.1f} s; client got {(k1-k0)/(t1-t0):.0f} messages/s")
PY
kill $VIEW $CTL $SIM; wait 2>/dev/null || true
