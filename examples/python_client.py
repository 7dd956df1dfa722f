#!/usr/bin/env python3
"""Talk to a running spikearm sim + controller over zenoh, from Python.

Reads the arm's joint states, sends an end-effector target a few centimetres from where the arm is, waits for
the controller's status to report that target, then attaches a payload to the simulated arm and checks that
it took effect. Exits 0 when all three were seen, 1 (with the reason) otherwise.

Neither `joint_states` nor `status` carries the payload mass, so the evidence is physical: holding the arm
still with a mass m at horizontal distance r from the base's vertical axis takes about m*g*r more torque at
the shoulder, and the sim reports the torques it applied in `joint_states.effort`. The client compares the
mean effort over a window before the payload with one after it has settled, and also checks that the sim's
status did not count the payload as refused.

    pip install -r examples/requirements.txt
    cargo run --release -- sim node --config config/sim.toml        # listens on tcp/127.0.0.1:7447
    cargo run --release -- control --config config/control.toml
    python3 examples/python_client.py --connect tcp/127.0.0.1:7447

Wire format (src/bus/messages.rs): UTF-8 JSON, every body carries the schema version `v`; units s, rad,
rad/s, N*m, m, kg. Keys (src/bus/keys.rs): spikearm/<arm>/{joint_states,target,payload,status/<node>}.
"""

import argparse
import json
import math
import sys
import threading
import time

SCHEMA_VERSION = 1
GRAVITY = 9.81  # m/s^2, the sim's


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connect", action="append", metavar="ENDPOINT",
                   help="zenoh endpoint to connect to, e.g. tcp/127.0.0.1:7447 (repeatable; "
                        "default tcp/127.0.0.1:7447)")
    p.add_argument("--mode", choices=["client", "peer"], default="client",
                   help="zenoh session mode (default: %(default)s); a client has the node it connects to "
                        "route for it, a peer must --connect to the sim and the controller")
    p.add_argument("--arm", default="threelink", help="arm name: keys live under spikearm/<arm>/ (default: %(default)s)")
    p.add_argument("--offset", type=float, nargs=3, metavar=("DX", "DY", "DZ"),
                   help="target = current end-effector position + this offset, m "
                        "(default: 5 cm towards the base's vertical axis, which stays inside the workspace)")
    p.add_argument("--payload-kg", type=float, default=1.0, help="payload mass attached to the end effector, kg (default: %(default)s)")
    p.add_argument("--show", type=int, default=3, help="joint states to print at the start (default: %(default)s)")
    p.add_argument("--settle", type=float, default=1.5,
                   help="seconds to let the arm settle after the target and after the payload "
                        "(default: %(default)s)")
    p.add_argument("--window", type=float, default=0.5, help="seconds of joint states averaged per effort reading (default: %(default)s)")
    p.add_argument("--min-effect", type=float, default=0.3,
                   help="pass when the effort change is at least this fraction of m*g*r (see above; "
                        "default: %(default)s)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for any one expected message (default: %(default)s)")
    args = p.parse_args(argv)
    args.connect = args.connect or ["tcp/127.0.0.1:7447"]
    if args.payload_kg <= 0:
        p.error("--payload-kg must be > 0")
    return args


class Failure(Exception):
    """Something expected did not happen; the message says what."""


class Monitor:
    """Collects what the nodes publish. zenoh calls the callbacks on its own threads, hence the lock."""

    def __init__(self):
        self._cv = threading.Condition()
        self.joint_states = []  # (stamp, effort) of every state, for effort averages
        self.latest = None  # newest joint_states body
        self.statuses = []  # every status body, in arrival order
        self.bad = 0  # bodies we could not read

    def on_joint_states(self, sample):
        msg = self._decode(sample, ("stamp", "seq", "position", "effort", "ee_position"))
        if msg is None:
            return
        with self._cv:
            self.latest = msg
            self.joint_states.append((time.monotonic(), msg["effort"]))
            self._cv.notify_all()

    def on_status(self, sample):
        msg = self._decode(sample, ("node", "state"))
        if msg is None:
            return
        with self._cv:
            self.statuses.append(msg)
            self._cv.notify_all()

    def _decode(self, sample, fields):
        try:
            msg = json.loads(sample.payload.to_bytes())
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or msg.get("v") != SCHEMA_VERSION or any(f not in msg for f in fields):
            with self._cv:
                self.bad += 1
            return None
        return msg

    def wait_for(self, what, predicate, timeout):
        """Blocks until predicate(self) returns something truthy and returns it; Failure after timeout."""
        with self._cv:
            found = self._cv.wait_for(lambda: predicate(self), timeout)
        if not found:
            raise Failure(f"timed out after {timeout:.1f} s waiting for {what}")
        return found

    def mean_effort(self, since, until):
        """Mean joint effort (N*m) over states received in [since, until) (monotonic clock)."""
        with self._cv:
            rows = [e for t, e in self.joint_states if since <= t < until]
        if not rows:
            raise Failure("no joint states in an averaging window: is the sim still running?")
        return [sum(col) / len(rows) for col in zip(*rows)]


def fmt(xs, digits=3):
    return "[" + ", ".join(f"{x:+.{digits}f}" for x in xs) + "]"


def describe_status(s):
    # A status is a common header plus the body of its kind of node: {"sim": {...}} or {"controller": {...}}.
    c = s.get("controller")
    if c is not None:
        err = c.get("tracking_error_m")
        err = "n/a" if err is None else f"{err * 1e3:.1f} mm"
        target = "none" if c.get("target") is None else fmt(c["target"])
        return (f"status {s['node']}: {s['state']}, controller {c.get('name') or '-'}, "
                f"target {target}, tracking error {err}")
    return (f"status {s['node']}: {s['state']}, t = {s.get('stamp', math.nan):.2f} s, ticks {s.get('ticks')}, "
            f"rejected {s.get('rejected') or {}}")


def refusals(status):
    """Bodies a node has refused so far, all reasons together (`rejected` counts them by reason)."""
    return sum((status.get("rejected") or {}).values())


def run(args, session, keys, mon, zenoh):
    def put_event(key, body):
        # As the nodes publish events: high priority, never dropped on congestion.
        session.put(key, json.dumps(body), encoding="application/json",
                    congestion_control=zenoh.CongestionControl.BLOCK,
                    priority=zenoh.Priority.INTERACTIVE_HIGH)

    # 1. Joint states.
    mon.wait_for("joint states on " + keys["joint_states"],
                 lambda m: len(m.joint_states) >= args.show, args.timeout)
    for _ in range(args.show):
        js = mon.latest
        print(f"joint_states t = {js['stamp']:.3f} s  seq {js['seq']}  q {fmt(js['position'])} rad  "
              f"effort {fmt(js['effort'], 2)} N*m  ee {fmt(js['ee_position'])} m")
        time.sleep(0.05)

    # 2. A target near where the end effector is. Wait for the controller first: a target published before
    # it subscribed would be lost (targets are plain puts, not stored).
    hint = "" if args.mode == "client" else " (a peer must --connect to the controller's endpoint too)"
    mon.wait_for("a status from the controller" + hint,
                 lambda m: any(s["node"] == "controller" for s in m.statuses), args.timeout)
    ee = mon.latest["ee_position"]
    if args.offset is not None:
        offset = args.offset
    else:
        r = math.hypot(ee[0], ee[1])
        offset = [-0.05 * ee[0] / r, -0.05 * ee[1] / r, 0.0] if r > 1e-6 else [0.0, 0.0, -0.05]
    target = [e + d for e, d in zip(ee, offset)]
    print(f"sending target {fmt(target)} m (end effector at {fmt(ee)} m)")

    def echoes_target(s):
        t = (s.get("controller") or {}).get("target")
        return t is not None and max(abs(a - b) for a, b in zip(t, target)) < 1e-9

    # Re-send until the controller's status reports it; the target is idempotent.
    deadline = time.monotonic() + args.timeout
    seen = None
    while seen is None:
        put_event(keys["target"], {"v": SCHEMA_VERSION, "position": target})
        try:
            seen = mon.wait_for("the controller to report the target",
                                lambda m: next((s for s in m.statuses if echoes_target(s)), None),
                                min(0.5, max(0.0, deadline - time.monotonic())))
        except Failure:
            if time.monotonic() >= deadline:
                raise Failure(f"timed out after {args.timeout:.1f} s waiting for the controller to report "
                              f"target {fmt(target)}; last status: "
                              f"{describe_status(mon.statuses[-1]) if mon.statuses else 'none'}")
    n_before_target = mon.statuses.index(seen)
    print(describe_status(seen))
    settle_and_print(args, mon, n_before_target + 1)

    # 3. A payload, judged by the torque it takes to hold it.
    now = time.monotonic()
    before = mon.mean_effort(now - args.window, now)
    sim_refused = max((refusals(s) for s in mon.statuses if s["node"] == "sim"), default=0)
    ee = mon.latest["ee_position"]
    lever = math.hypot(ee[0], ee[1])
    expected = args.payload_kg * GRAVITY * lever
    print(f"mean effort before the payload {fmt(before, 2)} N*m")
    print(f"sending payload {args.payload_kg:g} kg; holding it at r = {lever:.3f} m takes about "
          f"{expected:.2f} N*m more at the shoulder")
    n_before_payload = len(mon.statuses)
    put_event(keys["payload"], {"v": SCHEMA_VERSION, "mass_kg": args.payload_kg, "offset_m": [0.0, 0.0, 0.0]})
    settle_and_print(args, mon, n_before_payload)
    now = time.monotonic()
    after = mon.mean_effort(now - args.window, now)
    change = math.sqrt(sum((a - b) ** 2 for a, b in zip(after, before)))
    print(f"mean effort with the payload   {fmt(after, 2)} N*m  (change {change:.2f} N*m)")

    sim_after = [s for s in mon.statuses[n_before_payload:] if s["node"] == "sim"]
    if not sim_after:
        raise Failure("no status from the sim after the payload")
    last = sim_after[-1]
    # Newer sims also say what they refused last; without that, any new refusal is taken to be ours.
    if refusals(last) > sim_refused and "payload" in (last.get("last_refusal") or "payload"):
        raise Failure(f"the sim refused the payload: rejected {last.get('rejected')}, "
                      f"last refusal: {last.get('last_refusal') or '-'}")
    if change < args.min_effect * expected:
        raise Failure(f"the payload had no visible effect: effort changed by {change:.2f} N*m, "
                      f"expected at least {args.min_effect * expected:.2f} N*m")
    print(f"ok: joint states read, target reported by the controller, payload took effect "
          f"({change:.2f} N*m ≥ {args.min_effect:g} × {expected:.2f})")


def settle_and_print(args, mon, first_status):
    """Waits `--settle` seconds, printing the controller's statuses as they arrive (from index `first_status`
    on), then the sim's latest."""
    end = time.monotonic() + args.settle
    printed = first_status
    while time.monotonic() < end:
        time.sleep(0.1)
        for s in mon.statuses[printed:]:
            if s["node"] != "sim":
                print(describe_status(s))
        printed = len(mon.statuses)
    sim = [s for s in mon.statuses[first_status:] if s["node"] == "sim"]
    if sim:
        print(describe_status(sim[-1]))


def main(argv=None):
    args = parse_args(argv)
    try:
        import zenoh
    except ImportError:
        print("error: the zenoh module is missing: pip install -r examples/requirements.txt", file=sys.stderr)
        return 2
    prefix = f"spikearm/{args.arm}"
    keys = {k: f"{prefix}/{k}" for k in ("joint_states", "target", "payload")}
    keys["status"] = f"{prefix}/status/*"

    conf = zenoh.Config()
    conf.insert_json5("mode", json.dumps(args.mode))
    conf.insert_json5("connect/endpoints", json.dumps(args.connect))
    # Keep retrying for up to --timeout, so that the client may start before the nodes do.
    conf.insert_json5("connect/timeout_ms", json.dumps(int(args.timeout * 1000)))
    # This client listens on nothing and finds nobody by itself: the nodes' machines share a network with
    # other projects, so multicast scouting stays off (as in config/zenoh/peer.json5).
    conf.insert_json5("listen/endpoints", "[]")
    conf.insert_json5("scouting/multicast/enabled", "false")
    conf.insert_json5("scouting/gossip/enabled", "false")
    try:
        session = zenoh.open(conf)
    except zenoh.ZError as e:
        print(f"error: cannot open a zenoh session to {args.connect}: {e}", file=sys.stderr)
        return 1

    mon = Monitor()
    subs = [session.declare_subscriber(keys["joint_states"], mon.on_joint_states),
            session.declare_subscriber(keys["status"], mon.on_status)]
    try:
        run(args, session, keys, mon, zenoh)
        code = 0
    except Failure as e:
        print(f"error: {e}", file=sys.stderr)
        code = 1
    finally:
        for s in subs:
            s.undeclare()
        session.close()
    if mon.bad:
        print(f"note: {mon.bad} bodies could not be read (not JSON or another schema version)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
