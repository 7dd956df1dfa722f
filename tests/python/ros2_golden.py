#!/usr/bin/env python3
"""Golden ROS 2 wire data from independent implementations, for tests/ros2_cdr.rs.

Reads one JSON request on stdin:
  {"messages": [{"type": "pkg/msg/Name", "value": {...fields...}}, ...],
   "types": ["pkg/msg/Name", ...],
   "tokens": ["@ros2_lv/...", ...],
   "attachments": [{"sequence_number": int, "source_timestamp_ns": int, "gid": "hex"}, ...]}
and writes one JSON answer on stdout:
  {"messages": [{"le": "hex", "be": "hex"}, ...]        CDR bytes from rosbags (header included),
   "hashes": {"jazzy"|"kilted"|"rolling": {type: "RIHS01_..."}},   rosbags' hash_rihs01,
   "gids": ["hex", ...] | null,                          XXH3-128 of each token (python xxhash), low half first,
   "attachments": ["hex", ...] | null,                   zenoh-ext serialization (python eclipse-zenoh),
   "missing": ["module", ...]}                           optional modules that could not be imported.

rosbags is required (exit 3 with a message if it is missing); xxhash and zenoh are optional and reported in
"missing" so that the caller decides. Message values are built generically from rosbags' own field
definitions, so this script holds no copy of any message layout.
"""

import json
import sys

try:
    import numpy
    from rosbags.typesys import Stores, get_typestore
    from rosbags.typesys.base import Nodetype
except ImportError as exc:  # the Rust test turns this into a skip, or a failure under CI
    print(f"rosbags not importable: {exc}", file=sys.stderr)
    sys.exit(3)

STORES = {"jazzy": Stores.ROS2_JAZZY, "kilted": Stores.ROS2_KILTED, "rolling": Stores.LATEST}


def build(ts, typename, value):
    """A rosbags message object of `typename` from a JSON dict, following rosbags' field definitions."""
    cls = ts.types[typename]
    fields = ts.fielddefs[typename][1]
    args = {}
    for name, desc in fields:
        args[name] = build_field(ts, desc, value[name])
    return cls(**args)


def build_field(ts, desc, v):
    kind = desc[0]
    if kind == Nodetype.NAME:
        return build(ts, desc[1], v)
    if kind == Nodetype.BASE:
        base = desc[1][0]
        return float(v) if base in ("float32", "float64") else v
    sub, _count = desc[1]
    if sub[0] == Nodetype.BASE and sub[1][0] == "string":
        return list(v)
    if sub[0] == Nodetype.BASE:
        return numpy.array(v, dtype=numpy.dtype(sub[1][0]))
    return [build(ts, sub[1], x) for x in v]


def main():
    req = json.load(sys.stdin)
    missing = []
    jazzy = get_typestore(Stores.ROS2_JAZZY)
    out = {"messages": [], "hashes": {}, "gids": None, "attachments": None, "missing": missing}
    for m in req["messages"]:
        msg = build(jazzy, m["type"], m["value"])
        le = bytes(jazzy.serialize_cdr(msg, m["type"], little_endian=True))
        be = bytes(jazzy.serialize_cdr(msg, m["type"], little_endian=False))
        out["messages"].append({"le": le.hex(), "be": be.hex()})
    for distro, store in STORES.items():
        ts = get_typestore(store)
        out["hashes"][distro] = {t: ts.hash_rihs01(t) for t in req["types"]}
    try:
        import xxhash

        gids = []
        for token in req["tokens"]:
            h = xxhash.xxh3_128_intdigest(token.encode())
            gids.append(((h & (2**64 - 1)).to_bytes(8, "little") + (h >> 64).to_bytes(8, "little")).hex())
        out["gids"] = gids
    except ImportError:
        missing.append("xxhash")
    try:
        from zenoh.ext import Int64, z_serialize

        out["attachments"] = [
            z_serialize(
                (Int64(a["sequence_number"]), Int64(a["source_timestamp_ns"]), bytes.fromhex(a["gid"]))
            ).to_bytes().hex()
            for a in req["attachments"]
        ]
    except ImportError:
        missing.append("zenoh")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
