#!/usr/bin/env python3
"""Check a spikearm bus recording (MCAP) with readers independent of the Rust code that wrote it.

Uses the `mcap` package (the MCAP project's Python reader, with `zstandard` for compressed chunks),
`jsonschema` and `rosbags` (its CDR deserializer and .msg parser; pip install -r examples/requirements.txt).
Checks that:
  - every record parses and every CRC matches;
  - every chunk is compressed with the expected compression (default zstd) and is smaller than what it holds;
  - every channel has a schema: schema encoding `jsonschema` with message encoding `json`, or `ros2msg` with
    `cdr` (the high-rate kinds);
  - every JSON Schema is valid and one that Foxglove's JSON-schema parser accepts (an object with
    `properties`, one type per field, arrays with one item type); every ros2msg schema is a message
    definition rosbags parses;
  - every message is JSON that its channel's schema validates, or CDR that rosbags deserializes with the
    definition in the file, its per-joint arrays as long as its joint names (`--every N`: every N-th message
    of each channel, for long recordings).

Prints a JSON summary on stdout (chunks, sizes, schemas, messages per topic, the problems found) and exits 1
when there is any problem, 2 when the file cannot be read at all. `--dump TOPIC` adds `dump`: every message
of a CDR topic as rosbags decodes it (field name -> value), for comparisons.

Usage: scripts/check_recording.py reports/ur5e-payload/bus-adaptive.mcap [--compression zstd|none] [--every N]
       [--dump spikearm/ur5e/joint_states]
"""

import argparse
import json
import sys

try:
    import jsonschema
    from mcap import records
    from mcap.stream_reader import StreamReader
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore
except ImportError as e:  # the caller decides whether a missing module is a failure
    print(f"missing Python module: {e.name} (pip install -r examples/requirements.txt)", file=sys.stderr)
    sys.exit(3)

FOXGLOVE_SCALARS = {"boolean", "string", "number", "integer"}


def foxglove_problems(schema, path):
    """What Foxglove's JSON-schema parser would refuse in `schema` (an object schema)."""
    if schema.get("type") != "object":
        return [f"{path}: type {schema.get('type')!r}, Foxglove needs an object"]
    props = schema.get("properties")
    if not isinstance(props, dict):
        return [f"{path}: an object without `properties`"]
    problems = []
    for name, field in props.items():
        where = f"{path}.{name}"
        ty = field.get("type")
        if ty in FOXGLOVE_SCALARS:
            continue
        if ty == "object":
            problems += foxglove_problems(field, where)
        elif ty == "array":
            item = field.get("items", {})
            if item.get("type") == "object":
                problems += foxglove_problems(item, where)
            elif item.get("type") not in FOXGLOVE_SCALARS:
                problems.append(f"{where}: array items of type {item.get('type')!r}")
        else:
            problems.append(f"{where}: type {ty!r}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--compression", default="zstd", help="expected chunk compression: zstd, lz4 or none")
    ap.add_argument("--every", type=int, default=1, help="validate every N-th message of each channel")
    ap.add_argument("--dump", action="append", default=[], help="CDR topic whose decoded messages to print")
    args = ap.parse_args()
    want = "" if args.compression == "none" else args.compression
    problems = []

    def problem(text):
        if len(problems) < 50:
            problems.append(text)

    out = {
        "file": args.file,
        "profile": None,
        "library": None,
        "chunks": 0,
        "compression": {},
        "chunk_compressed_bytes": 0,
        "chunk_uncompressed_bytes": 0,
        "schemas": {},
        "topics": {},
        "messages": 0,
        "validated": 0,
        "footer": False,
        "dump": {t: [] for t in args.dump},
    }
    typestore = get_typestore(Stores.EMPTY)
    try:
        # Pass 1: the records as they are in the file, chunks left compressed.
        with open(args.file, "rb") as f:
            for r in StreamReader(f, emit_chunks=True, validate_crcs=True).records:
                if isinstance(r, records.Header):
                    out["profile"], out["library"] = r.profile, r.library
                elif isinstance(r, records.Chunk):
                    out["chunks"] += 1
                    name = r.compression or "none"
                    out["compression"][name] = out["compression"].get(name, 0) + 1
                    out["chunk_compressed_bytes"] += len(r.data)
                    out["chunk_uncompressed_bytes"] += r.uncompressed_size
                    if r.compression != want:
                        problem(f"chunk {out['chunks']}: compression {name!r}, expected {args.compression!r}")
                    elif want and len(r.data) >= r.uncompressed_size:
                        problem(f"chunk {out['chunks']}: {len(r.data)} B compressed from {r.uncompressed_size} B")
                elif isinstance(r, records.Footer):
                    out["footer"] = True

        # Pass 2: chunks decompressed by the reader; schemas, channels and messages.
        schemas, channels, validators, seen = {}, {}, {}, {}
        with open(args.file, "rb") as f:
            for r in StreamReader(f, validate_crcs=True).records:
                if isinstance(r, records.Schema):
                    schemas[r.id] = r
                    out["schemas"][r.name] = r.encoding
                    if r.encoding == "ros2msg":
                        try:
                            typestore.register(get_types_from_msg(r.data.decode(), r.name))
                        except Exception as e:  # noqa: BLE001 - reported, not raised
                            problem(f"schema {r.name}: rosbags cannot parse the definition: {e}")
                        continue
                    if r.encoding != "jsonschema":
                        problem(f"schema {r.name}: encoding {r.encoding!r}, expected jsonschema or ros2msg")
                        continue
                    try:
                        doc = json.loads(r.data)
                        cls = jsonschema.validators.validator_for(doc)
                        cls.check_schema(doc)
                    except Exception as e:  # noqa: BLE001 - reported, not raised
                        problem(f"schema {r.name}: not a valid JSON Schema: {e}")
                        continue
                    for p in foxglove_problems(doc, r.name):
                        problem(f"schema {p}")
                    validators[r.id] = cls(doc)
                elif isinstance(r, records.Channel):
                    channels[r.id] = r
                    if r.schema_id == 0 or r.schema_id not in schemas:
                        problem(f"channel {r.topic}: no schema")
                    want_enc = {"jsonschema": "json", "ros2msg": "cdr"}.get(
                        schemas[r.schema_id].encoding if r.schema_id in schemas else None
                    )
                    if r.message_encoding != want_enc:
                        problem(f"channel {r.topic}: message encoding {r.message_encoding!r}, expected {want_enc}")
                    out["topics"].setdefault(
                        r.topic,
                        {"schema": schemas[r.schema_id].name if r.schema_id in schemas else "", "messages": 0},
                    )
                elif isinstance(r, records.Message):
                    out["messages"] += 1
                    ch = channels.get(r.channel_id)
                    if ch is None:
                        problem(f"message on unknown channel {r.channel_id}")
                        continue
                    out["topics"][ch.topic]["messages"] += 1
                    n = seen.get(ch.id, 0)
                    seen[ch.id] = n + 1
                    if ch.message_encoding == "cdr":
                        if n % args.every != 0 and ch.topic not in out["dump"]:
                            continue
                        name = schemas[ch.schema_id].name
                        try:
                            msg = typestore.deserialize_cdr(r.data, name)
                        except Exception as e:  # noqa: BLE001 - reported, not raised
                            problem(f"{ch.topic} #{n}: rosbags cannot deserialize it as {name}: {e}")
                            continue
                        fields = {k: v for k, v in vars(msg).items() if not k.startswith("__")}
                        joints = len(fields.get("name", []))
                        for k in ("position", "velocity", "effort"):
                            if k in fields and "name" in fields and len(fields[k]) != joints:
                                problem(f"{ch.topic} #{n}: {k} has {len(fields[k])} values for {joints} joints")
                        if ch.topic in out["dump"]:
                            out["dump"][ch.topic].append(
                                {k: v.tolist() if hasattr(v, "tolist") else v for k, v in fields.items()}
                            )
                        out["validated"] += 1
                        continue
                    if n % args.every != 0:
                        continue
                    try:
                        body = json.loads(r.data)
                    except ValueError as e:
                        problem(f"{ch.topic} #{n}: not JSON: {e}")
                        continue
                    v = validators.get(ch.schema_id)
                    if v is None:
                        continue
                    err = next(iter(v.iter_errors(body)), None)
                    if err is not None:
                        problem(f"{ch.topic} #{n}: {err.message} at {list(err.absolute_path)}")
                    out["validated"] += 1
    except Exception as e:  # noqa: BLE001 - an unreadable file is the answer, said plainly
        out["problems"] = [f"unreadable: {type(e).__name__}: {e}"]
        print(json.dumps(out, indent=1))
        return 2
    if not out["footer"]:
        problem("no footer: the file was not finished")
    if out["messages"] == 0:
        problem("no messages")
    out["problems"] = problems
    print(json.dumps(out, indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
