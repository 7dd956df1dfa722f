#!/usr/bin/env python3
"""A third-party rmw_zenoh client for tests/ros2_interop.rs, built only on eclipse-zenoh and rosbags.

It does what a ROS 2 tool does over rmw_zenoh, without sharing any code with spikearm:
  1. finds the node NODE and its endpoints in the graph, from the liveliness tokens under @ros2_lv/<domain>;
  2. checks each endpoint's type hash against rosbags' RIHS01 of the type;
  3. subscribes to the joint states on the key the publisher's token names, decodes them with rosbags and
     checks their attachments (33 bytes: sequence number, timestamp, GID = XXH3-128 of the token);
  4. declares itself a node with a publisher, and closes the loop: a joint-space PD law sent as
     std_msgs/msg/Float64MultiArray efforts on the subscription the sim advertises moves the arm to a goal.

Prints one "ok: ..." line at the end on success; exits 1 with "error: ..." otherwise, 3 if a module is
missing.
"""

import argparse
import json
import sys
import threading
import time

try:
    import numpy
    import zenoh
    from rosbags.typesys import Stores, get_typestore
except ImportError as exc:
    print(f"missing module: {exc}", file=sys.stderr)
    sys.exit(3)

try:
    import xxhash
except ImportError:
    xxhash = None

JOINT_STATE = "sensor_msgs/msg/JointState"
FLOAT64_MULTI_ARRAY = "std_msgs/msg/Float64MultiArray"


class Failure(Exception):
    pass


def dds_name(ros_type):
    pkg, kind, name = ros_type.split("/")
    return f"{pkg}::{kind}::dds_::{name}_"


def parse_token(key):
    """The parts of an rmw_zenoh liveliness token (see rmw_zenoh's design document)."""
    parts = key.split("/")
    if parts[0] != "@ros2_lv" or len(parts) < 9:
        return None
    tok = {"domain": parts[1], "zid": parts[2], "nid": parts[3], "id": parts[4], "kind": parts[5],
           "namespace": parts[7].replace("%", "/"), "node": parts[8], "key": key}
    if tok["kind"] in ("MP", "MS") and len(parts) >= 13:
        tok.update(topic=parts[9].replace("%", "/"), type=parts[10], hash=parts[11], qos=parts[12])
    return tok


def graph(session, domain, timeout):
    deadline = time.monotonic() + timeout
    while True:
        tokens = []
        for reply in session.liveliness().get(f"@ros2_lv/{domain}/**", timeout=2.0):
            if reply.ok is not None:
                t = parse_token(str(reply.ok.key_expr))
                if t:
                    tokens.append(t)
        if tokens or time.monotonic() > deadline:
            return tokens
        time.sleep(0.2)


def find(tokens, node, kind, topic):
    for t in tokens:
        if t["node"] == node and t["kind"] == kind and t.get("topic") == topic:
            return t
    raise Failure(f"no {kind} of {node} on {topic} in the graph: {[t['key'] for t in tokens]}")


def gid_of(token_key):
    h = xxhash.xxh3_128(token_key.encode()).intdigest()
    return (h & (2**64 - 1)).to_bytes(8, "little") + (h >> 64).to_bytes(8, "little")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True)
    ap.add_argument("--domain", type=int, default=0)
    ap.add_argument("--node", default="spikearm_sim")
    ap.add_argument("--goal-offset", type=float, nargs="+", default=[-0.4, 0.3, 0.3])
    # Per joint: the threelink's distal joints carry far less inertia than its shoulder.
    ap.add_argument("--kp", type=float, nargs="+", default=[60.0, 25.0, 6.0])
    ap.add_argument("--kd", type=float, nargs="+", default=[12.0, 5.0, 1.2])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()

    ts = get_typestore(Stores.ROS2_JAZZY)
    conf = zenoh.Config()
    conf.insert_json5("mode", json.dumps("peer"))
    conf.insert_json5("connect/endpoints", json.dumps([args.connect]))
    conf.insert_json5("connect/timeout_ms", json.dumps(int(args.timeout * 1000)))
    conf.insert_json5("listen/endpoints", "[]")
    conf.insert_json5("scouting/multicast/enabled", "false")
    session = zenoh.open(conf)
    try:
        run(args, ts, session)
    except Failure as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        session.close()
    return 0


def run(args, ts, session):
    # 1-2. The graph: the sim's node, its joint-state publisher and its effort subscription, with types.
    tokens = graph(session, args.domain, args.timeout)
    nodes = [t for t in tokens if t["kind"] == "NN"]
    print("nodes:", sorted(f"{t['namespace'].rstrip('/')}/{t['node']}" for t in nodes))
    if not any(t["node"] == args.node for t in nodes):
        raise Failure(f"node {args.node} not in the graph")
    for t in tokens:
        if t["kind"] in ("MP", "MS"):
            print(f"endpoint {t['kind']} {t['node']} {t['topic']} {t['type']} {t['hash']}")
    pub = find(tokens, args.node, "MP", "/joint_states")
    sub = find(tokens, args.node, "MS", "/effort_controller/commands")
    for tok, ros_type in ((pub, JOINT_STATE), (sub, FLOAT64_MULTI_ARRAY)):
        if tok["type"] != dds_name(ros_type):
            raise Failure(f"{tok['topic']} has type {tok['type']}, expected {dds_name(ros_type)}")
        want = ts.hash_rihs01(ros_type)
        if tok["hash"] != want:
            raise Failure(f"{tok['topic']} has hash {tok['hash']}, rosbags says {want}")
    print(f"graph ok: {JOINT_STATE} on /joint_states, {FLOAT64_MULTI_ARRAY} on /effort_controller/commands")

    # 3. Joint states, decoded by rosbags, on the key the token names.
    state_key = f"{pub['domain']}{pub['topic']}/{pub['type']}/{pub['hash']}"
    cmd_key = f"{sub['domain']}{sub['topic']}/{sub['type']}/{sub['hash']}"
    want_gid = gid_of(pub["key"]) if xxhash else None
    lock = threading.Condition()
    latest = {"msg": None, "n": 0, "seqs": [], "bad": []}

    def on_state(sample):
        att = sample.attachment
        raw = bytes(sample.payload.to_bytes())
        try:
            msg = ts.deserialize_cdr(raw, JOINT_STATE)
        except Exception as e:  # noqa: BLE001 - any decode failure is a test failure
            latest["bad"].append(f"rosbags cannot decode: {e}")
            return
        if att is None:
            latest["bad"].append("a sample without attachment")
        else:
            a = bytes(att.to_bytes())
            if len(a) != 33 or a[16] != 16:
                latest["bad"].append(f"attachment of {len(a)} bytes")
            elif want_gid is not None and a[17:] != want_gid:
                latest["bad"].append(f"attachment GID {a[17:].hex()} is not the token's {want_gid.hex()}")
            else:
                latest["seqs"].append(int.from_bytes(a[:8], "little", signed=True))
        with lock:
            latest["msg"] = msg
            latest["n"] += 1
            lock.notify_all()

    state_sub = session.declare_subscriber(state_key, on_state)

    def next_state(after):
        end = time.monotonic() + args.timeout
        with lock:
            while latest["n"] <= after:
                if not lock.wait(timeout=max(0.0, end - time.monotonic())):
                    raise Failure(f"no joint state on {state_key} within {args.timeout} s")
            return latest["n"], latest["msg"]

    n, first = next_state(0)
    names = list(first.name)
    q0 = numpy.array(first.position, dtype=float)
    print(f"joint_states: names {names} position {numpy.round(q0, 4).tolist()} "
          f"stamp {first.header.stamp.sec}.{first.header.stamp.nanosec:09d}")
    if not len(q0) == len(args.goal_offset) == len(args.kp) == len(args.kd):
        raise Failure(f"{len(q0)} joints, {len(args.goal_offset)} goal offsets, {len(args.kp)} and {len(args.kd)} gains")

    # 4. This client in the graph too, then the loop: PD to q0 + offset.
    zid = str(session.zid())
    me = f"@ros2_lv/{args.domain}/{zid}/0/0/NN/%/%/pd_client"
    my_pub = f"@ros2_lv/{args.domain}/{zid}/0/1/MP/%/%/pd_client/%effort_controller%commands/" \
             f"{sub['type']}/{sub['hash']}/::,10:,:,:,,"
    tokens_held = [session.liveliness().declare_token(me), session.liveliness().declare_token(my_pub)]
    cmd_pub = session.declare_publisher(cmd_key)
    my_gid = gid_of(my_pub) if xxhash else bytes(16)
    Msg = ts.types[FLOAT64_MULTI_ARRAY]
    Layout = ts.types["std_msgs/msg/MultiArrayLayout"]
    goal = q0 + numpy.array(args.goal_offset)
    kp, kd = numpy.array(args.kp), numpy.array(args.kd)
    sent = 0
    end = time.monotonic() + args.seconds
    msg = first
    while time.monotonic() < end:
        q = numpy.array(msg.position, dtype=float)
        dq = numpy.array(msg.velocity, dtype=float)
        tau = kp * (goal - q) - kd * dq
        body = ts.serialize_cdr(Msg(layout=Layout(dim=[], data_offset=0), data=tau.astype(numpy.float64)),
                                FLOAT64_MULTI_ARRAY)
        sent += 1
        att = sent.to_bytes(8, "little", signed=True) + time.time_ns().to_bytes(8, "little", signed=True) \
            + bytes([16]) + my_gid
        cmd_pub.put(bytes(body), attachment=att)
        n, msg = next_state(n)
    q = numpy.array(msg.position, dtype=float)
    state_sub.undeclare()
    for t in tokens_held:
        t.undeclare()
    if latest["bad"]:
        raise Failure("; ".join(sorted(set(latest["bad"]))[:5]))
    seqs = latest["seqs"]
    if any(b <= a for a, b in zip(seqs, seqs[1:])):
        raise Failure("attachment sequence numbers do not increase")
    err0 = float(numpy.abs(goal - q0).max())
    err = float(numpy.abs(goal - q).max())
    print(f"closed loop: {sent} effort commands, {latest['n']} joint states; "
          f"max joint error {err0:.3f} rad -> {err:.3f} rad; final {numpy.round(q, 4).tolist()}")
    if not err < 0.25 * err0:
        raise Failure(f"the arm did not follow the effort commands: error {err0:.3f} -> {err:.3f} rad")
    print(f"ok: {len(nodes)} nodes, {latest['n']} joint states decoded by rosbags, the arm moved to the goal")


if __name__ == "__main__":
    sys.exit(main())
