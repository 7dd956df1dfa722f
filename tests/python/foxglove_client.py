#!/usr/bin/env python3
"""An independent client of the Foxglove WebSocket protocol, written from the protocol's specification with nothing
but the `websockets` package, for tests/live_view.rs. The protocol's subprotocol name is `foxglove.sdk.v1` in the
current Foxglove SDK and app; it is the earlier `foxglove.websocket.v1` under a new name (same messages).

Against a read-only live view (--ro URL) it checks what the server offers and that a publish attempt is refused.
Against a publishing one (--rw URL) it lists the channels with their schemas, counts joint states and transforms
over a wall-clock window, sends malformed bodies, then a target, and follows the controller's status and the
tracking error. It prints one JSON object with what it saw; the Rust test judges it.
"""
import argparse
import json
import struct
import sys
import time

from websockets.sync.client import connect

SUBPROTOCOL = "foxglove.sdk.v1"
OP_MESSAGE_DATA = 0x01  # server → client: subscription id u32, log time u64, payload
OP_CLIENT_MESSAGE_DATA = 0x01  # client → server: channel id u32, payload


class View:
    def __init__(self, url):
        # The server may still be starting: retry a refused connection for up to 15 s.
        end = time.monotonic() + 15
        while True:
            try:
                self.ws = connect(url, subprotocols=[SUBPROTOCOL], max_size=None, open_timeout=10)
                break
            except ConnectionRefusedError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.1)
        assert self.ws.subprotocol == SUBPROTOCOL, self.ws.subprotocol
        self.server_info = None
        self.channels = {}  # id -> advertised channel
        self.subs = {}  # subscription id -> topic
        self.statuses = []  # server status messages
        self.handlers = []

    def pump(self, seconds):
        """Reads frames for `seconds` of wall time, dispatching each; returns the number of binary frames."""
        end = time.monotonic() + seconds
        n = 0
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return n
            try:
                frame = self.ws.recv(timeout=left)
            except TimeoutError:
                return n
            if isinstance(frame, bytes):
                n += 1
                self.on_binary(frame)
            else:
                self.on_text(json.loads(frame))

    def on_text(self, msg):
        op = msg.get("op")
        if op == "serverInfo":
            self.server_info = msg
        elif op == "advertise":
            for ch in msg["channels"]:
                self.channels[ch["id"]] = ch
                self.subscribe(ch)
        elif op == "status":
            self.statuses.append(msg)

    def subscribe(self, ch):
        sub = len(self.subs) + 1
        self.subs[sub] = ch["topic"]
        self.ws.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": sub, "channelId": ch["id"]}]}))

    def on_binary(self, frame):
        assert frame[0] == OP_MESSAGE_DATA, frame[0]
        sub, log_ns = struct.unpack_from("<IQ", frame, 1)
        topic = self.subs[sub]
        for h in self.handlers:
            h(topic, log_ns, frame[13:])

    def topics(self):
        return {c["topic"]: c for c in self.channels.values()}

    def advertise(self, cid, topic, schema_name):
        self.ws.send(json.dumps({"op": "advertise", "channels": [
            {"id": cid, "topic": topic, "encoding": "json", "schemaName": schema_name}]}))

    def publish(self, cid, body):
        self.ws.send(struct.pack("<BI", OP_CLIENT_MESSAGE_DATA, cid) + body)


def wait_for(view, cond, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        view.pump(0.05)
    return cond()


def read_only(url, arm, out):
    v = View(url)
    latest = {}
    v.handlers.append(lambda topic, ns, body: latest.__setitem__(topic, body))
    wait_for(v, lambda: v.server_info is not None and f"spikearm/{arm}/joint_states" in latest, 10)
    out["ro_capabilities"] = v.server_info["capabilities"] if v.server_info else None
    out["ro_topics"] = sorted(v.topics())
    out["ro_states_seen"] = f"spikearm/{arm}/joint_states" in latest
    # Publish anyway, as a misbehaving client would.
    sent = [0.123, 0.0, 0.456]
    v.advertise(1, f"spikearm/{arm}/target", "spikearm.target")
    v.publish(1, json.dumps({"v": 1, "position": sent}).encode())
    v.pump(1.0)
    status = latest.get(f"spikearm/{arm}/status/controller")
    out["ro_controller_target_after"] = json.loads(status)["controller"]["target"] if status else None
    out["ro_statuses"] = v.statuses
    v.ws.close()


def read_write(url, arm, out):
    v = View(url)
    counts = {}
    latest = {}

    toward = {"target": None, "first": None, "last": None}

    def count(topic, ns, body):
        counts[topic] = counts.get(topic, 0) + 1
        latest[topic] = body
        if topic == f"viz/{arm}/errors" and toward["target"] is not None:
            e = json.loads(body)
            if all(abs(a - b) < 1e-9 for a, b in zip(e["target_m"], toward["target"])):
                toward["first"] = toward["first"] if toward["first"] is not None else e["tracking_error_m"]
                toward["last"] = e["tracking_error_m"]

    v.handlers.append(count)
    states = f"spikearm/{arm}/joint_states"
    tf = f"viz/{arm}/tf"
    status_key = f"spikearm/{arm}/status/controller"
    ok = wait_for(v, lambda: states in latest and tf in latest and status_key in latest, 15)
    out["rw_started"] = ok
    out["rw_capabilities"] = v.server_info["capabilities"] if v.server_info else None
    out["rw_channels"] = {t: {"encoding": c["encoding"], "schemaName": c["schemaName"],
                              "schemaEncoding": c.get("schemaEncoding")} for t, c in v.topics().items()}
    # Rates: messages per wall-clock second over a window of 1.5 s.
    counts.clear()
    t0 = time.monotonic()
    v.pump(1.5)
    window = time.monotonic() - t0
    out["window_s"] = window
    out["rates_hz"] = {t: n / window for t, n in counts.items()}
    out["tf_sample"] = json.loads(latest[tf]) if tf in latest else None
    out["state_sample"] = json.loads(latest[states]) if states in latest else None
    scene = f"viz/{arm}/scene"
    out["scene_bytes"] = len(latest.get(scene, b""))

    # Hostile bodies first: they must be counted and the view must keep serving.
    target_topic = f"spikearm/{arm}/target"
    v.advertise(7, target_topic, "spikearm.target")
    v.publish(7, b"\x00\xffnot json")
    v.publish(7, json.dumps({"v": 1, "position": [1e9, 0.0, 0.0]}).encode())
    v.pump(0.3)
    # Then a real target: 5 cm above and 5 cm in from where the controller steers now.
    before = json.loads(latest[status_key])["controller"]["target"]
    target = [round(before[0] - 0.05, 4), round(before[1], 4), round(before[2] + 0.05, 4)]
    out["target_before"] = before
    out["target_sent"] = target
    errors_key = f"viz/{arm}/errors"
    toward["target"] = target
    v.publish(7, json.dumps({"v": 1, "position": target}).encode())
    sent_at = time.monotonic()

    def controller_has_target():
        st = json.loads(latest[status_key])["controller"]["target"]
        return st is not None and all(abs(a - b) < 1e-9 for a, b in zip(st, target))

    out["target_taken"] = wait_for(v, controller_has_target, 5)
    out["target_taken_after_s"] = time.monotonic() - sent_at
    v.pump(max(0.0, 2.0 - (time.monotonic() - sent_at)))
    last = json.loads(latest[errors_key]) if errors_key in latest else None
    # The error against the new target when the view first saw it, and 2 s after it was sent.
    out["error_at_switch_m"] = toward["first"]
    out["error_after_2s_m"] = toward["last"]
    out["errors_target_m"] = last["target_m"] if last else None
    # A payload from the client: the torques channel then shows the payload's torque beside the adaptive share.
    v.advertise(8, f"spikearm/{arm}/payload", "spikearm.payload")
    v.publish(8, json.dumps({"v": 1, "mass_kg": 1.0, "offset_m": [0.0, 0.0, 0.0]}).encode())
    torques_key = f"viz/{arm}/torques"

    def carried():
        return torques_key in latest and len(json.loads(latest[torques_key])["payload"]) > 0

    out["payload_torque_seen"] = wait_for(v, carried, 3)
    out["torques_sample"] = json.loads(latest[torques_key]) if torques_key in latest else None
    spikes_key = f"viz/{arm}/spikes"
    out["spikes_sample"] = json.loads(latest[spikes_key]) if spikes_key in latest else None
    counters = f"viz/{arm}/live_view"
    wait_for(v, lambda: counters in latest and json.loads(latest[counters])["client_accepted"] >= 2, 3)
    out["counters"] = json.loads(latest[counters]) if counters in latest else None
    out["statuses"] = v.statuses
    v.ws.close()


def identities(viewer_url, operator_url, arm, out):
    """Two publishing views behind a router with access control, one logged in as `viewer`, one as `operator`:
    a target sent through each, and the controller's status watched through each."""
    status_key = f"spikearm/{arm}/status/controller"
    for who, url, offset in [("viewer", viewer_url, 0.06), ("operator", operator_url, -0.06)]:
        v = View(url)
        latest = {}
        v.handlers.append(lambda topic, ns, body: latest.__setitem__(topic, body))
        wait_for(v, lambda: status_key in latest and json.loads(latest[status_key])["controller"]["target"], 15)
        before = json.loads(latest[status_key])["controller"]["target"]
        target = [round(before[0] + offset, 4), round(before[1], 4), round(before[2] + offset, 4)]
        v.advertise(1, f"spikearm/{arm}/target", "spikearm.target")
        v.publish(1, json.dumps({"v": 1, "position": target}).encode())

        def taken():
            st = json.loads(latest[status_key])["controller"]["target"]
            return all(abs(a - b) < 1e-9 for a, b in zip(st, target))

        out[f"{who}_target_taken"] = wait_for(v, taken, 3)
        out[f"{who}_statuses"] = v.statuses
        v.ws.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ro", help="ws:// URL of a read-only live view")
    ap.add_argument("--rw", help="ws:// URL of a live view that accepts client publishing")
    ap.add_argument("--viewer", help="ws:// URL of a publishing live view logged in as `viewer`")
    ap.add_argument("--operator", help="ws:// URL of a publishing live view logged in as `operator`")
    ap.add_argument("--arm", default="threelink")
    a = ap.parse_args()
    out = {}
    try:
        if a.ro:
            read_only(a.ro, a.arm, out)
        if a.rw:
            read_write(a.rw, a.arm, out)
        if a.viewer and a.operator:
            identities(a.viewer, a.operator, a.arm, out)
    finally:
        print(json.dumps(out))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
