//! Hostile input. Every bus decoder (every message type, including the parameter query body) is driven with
//! arbitrary bytes and with plausible-but-mutated JSON: it never panics, every refusal has a counter reason
//! (the one the nodes count under), and anything accepted satisfies the documented invariants (finite
//! numbers, consistent lengths, ranges). Then a flood of hostile bodies on the real bus: the nodes keep
//! controlling and count what they refused, by reason.

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use spikearm::arm::hold::{HoldLaw, HoldParams};
use spikearm::bus::{
    Bus, BusConfig, Estop, JointStates, MAX_BODY_BYTES, MAX_COORD_M, MAX_JOINTS, MAX_NAME_BYTES, MAX_PARAMS,
    MAX_PAYLOAD_OFFSET_M, Message, NodeState, ParamsReply, ParamsRequest, Payload, SCHEMA_VERSION, Status, Target,
    TorqueCmd, decode, encode_into,
};
use spikearm::control::controller::{ControlError, ControlInput, Controller};
use spikearm::node::{Reason, Shutdown, run_controller_node, run_sim_node};

/// Every reason a decoder may give.
const DECODE_REASONS: [&str; 7] =
    ["too_large", "malformed", "version", "non_finite", "dimension", "out_of_range", "invalid"];

#[derive(Default, Debug)]
struct Tally {
    cases: u64,
    accepted: u64,
    by_reason: BTreeMap<&'static str, u64>,
}

fn finite(xs: &[f64]) -> bool {
    xs.iter().all(|x| x.is_finite())
}

/// Decodes `body` as `M`: a refusal must carry a known reason that the nodes' counters map to the same name;
/// an accepted message must satisfy `ok` and survive a round trip unchanged.
fn one<M: Message + PartialEq + Debug>(body: &[u8], t: &mut Tally, ok: impl Fn(&M) -> bool) {
    t.cases += 1;
    match decode::<M>(body) {
        Ok(m) => {
            t.accepted += 1;
            assert!(ok(&m), "{} accepted an invalid message: {m:?}", M::KIND);
            let mut buf = Vec::new();
            encode_into(&m, &mut buf);
            assert_eq!(decode::<M>(&buf).as_ref(), Ok(&m), "{} round trip", M::KIND);
        }
        Err(e) => {
            let r = e.reason();
            assert!(DECODE_REASONS.contains(&r), "{}: unknown reason {r}", M::KIND);
            assert_eq!(Reason::of(&e).as_str(), r, "the node counter for {e}");
            assert_eq!(e.kind(), M::KIND);
            assert!(!e.to_string().is_empty());
            *t.by_reason.entry(r).or_default() += 1;
        }
    }
}

/// Every decoder on one body. The checks on accepted messages restate the documented invariants rather than
/// call the types' own `check`.
fn decode_all(body: &[u8], t: &mut Tally) {
    let v = |v: u32| v == SCHEMA_VERSION;
    one::<JointStates>(body, t, |m| {
        let n = m.position.len();
        v(m.v)
            && n <= MAX_JOINTS
            && m.velocity.len() == n
            && m.effort.len() == n
            && (m.name.is_empty() || m.name.len() == n)
            && m.name.iter().all(|s| s.len() <= MAX_NAME_BYTES)
            && finite(&m.position)
            && finite(&m.velocity)
            && finite(&m.effort)
            && m.stamp.is_finite()
            && m.stamp >= 0.0
            && m.ee_position.iter().all(|x| x.is_finite() && x.abs() <= MAX_COORD_M)
    });
    one::<TorqueCmd>(body, t, |m| v(m.v) && m.effort.len() <= MAX_JOINTS && finite(&m.effort));
    one::<Target>(body, t, |m| v(m.v) && m.position.iter().all(|x| x.is_finite() && x.abs() <= MAX_COORD_M));
    one::<Payload>(body, t, |m| {
        v(m.v)
            && m.mass_kg.is_finite()
            && m.mass_kg >= 0.0
            && m.offset_m.iter().all(|x| x.is_finite() && x.abs() <= MAX_PAYLOAD_OFFSET_M)
    });
    one::<Estop>(body, t, |m| v(m.v) && m.source.len() <= MAX_NAME_BYTES);
    one::<Status>(body, t, |m| v(m.v) && m.stamp.is_finite());
    one::<ParamsRequest>(body, t, |m| v(m.v) && m.set.len() <= MAX_PARAMS && m.set.values().all(|x| x.is_finite()));
    one::<ParamsReply>(body, t, |m| v(m.v));
}

/// Valid bodies of every type, the seeds of the mutations.
fn corpus() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut put = |m: &dyn Fn(&mut Vec<u8>)| {
        let mut b = Vec::new();
        m(&mut b);
        out.push(b);
    };
    put(&|b| {
        encode_into(
            &JointStates {
                v: 1,
                stamp: 0.25,
                seq: 250,
                name: vec!["shoulder".into(), "elbow".into(), "wrist".into()],
                position: vec![0.1, -0.2, 0.3],
                velocity: vec![0.0, 1.5, -2.5],
                effort: vec![10.0, -5.0, 0.5],
                ee_position: [0.4, 0.0, 0.6],
                payload_effort: Vec::new(),
            },
            b,
        )
    });
    put(&|b| encode_into(&TorqueCmd { v: 1, seq: 250, effort: vec![1.0, -2.0, 3.0], adaptive: Vec::new() }, b));
    put(&|b| encode_into(&Target { v: 1, position: [0.3, 0.1, 0.5] }, b));
    put(&|b| encode_into(&Payload { v: 1, mass_kg: 2.0, offset_m: [0.0, 0.0, 0.05] }, b));
    put(&|b| encode_into(&Estop { v: 1, engaged: true, source: "operator".into() }, b));
    put(&|b| {
        encode_into(
            &ParamsRequest {
                v: 1,
                set: BTreeMap::from([("kp".to_string(), 50.0), ("learning_rate".to_string(), 1e-4)]),
            },
            b,
        )
    });
    put(&|b| encode_into(&ParamsReply { v: 1, params: BTreeMap::from([("kp".to_string(), 50.0)]), error: None }, b));
    let status: Status = serde_json::from_value(json!({
        "v": 1, "node": "controller", "stamp": 1.5, "state": "running", "ticks": 1500, "rejected": {"malformed": 3},
        "controller": {"name": "osc", "tracking_error_m": 0.01, "target": [0.3, 0.1, 0.5]}
    }))
    .unwrap();
    put(&|b| encode_into(&status, b));
    out
}

/// Replacement tokens: hostile numbers, wrong types, nested junk.
const JUNK: &[&str] = &[
    "\"NaN\"",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "4.9e-324",
    "1e-400",
    "18446744073709551616",
    "18446744073709551615",
    "-9223372036854775809",
    "-1",
    "-0",
    "0",
    "1e6",
    "1000.5",
    "-10.5",
    "11",
    "null",
    "true",
    "\"1.0\"",
    "\"\"",
    "[]",
    "{}",
    "[1,2,3,4,5]",
    "{\"a\":[{\"b\":null}]}",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "[[[[[[[[[[]]]]]]]]]]",
    "[0.5,0.5,0.5,0.5]",
    "[0.5]",
];
const KEYS: &[&str] = &[
    "v",
    "stamp",
    "seq",
    "name",
    "position",
    "velocity",
    "effort",
    "ee_position",
    "mass_kg",
    "offset_m",
    "engaged",
    "source",
    "set",
    "params",
    "node",
    "state",
    "ticks",
    "bogus",
    "",
];

/// xorshift64*: a fixed-seed generator with no dependencies, fast enough for millions of cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Spans of number tokens and of object keys (outside strings), and positions of `[`.
struct Shape {
    numbers: Vec<(usize, usize)>,
    keys: Vec<(usize, usize)>,
    arrays: Vec<usize>,
}

fn shape(b: &[u8]) -> Shape {
    let mut s = Shape { numbers: vec![], keys: vec![], arrays: vec![] };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                if b.get(i) == Some(&b':') {
                    s.keys.push((start, i.min(b.len())));
                }
                continue;
            }
            b'[' => s.arrays.push(i),
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    i += 1;
                }
                s.numbers.push((start, i));
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    s
}

fn splice(b: &[u8], (from, to): (usize, usize), with: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&b[..from]);
    out.extend_from_slice(with);
    out.extend_from_slice(&b[to..]);
}

/// One mutation of `b` into `out`.
fn mutate(rng: &mut Rng, b: &[u8], out: &mut Vec<u8>) {
    let s = shape(b);
    out.clear();
    match rng.below(13) {
        0 => (0..rng.below(160)).for_each(|_| out.push(rng.next() as u8)),
        1 => {
            const ALPHABET: &[u8] = b"{}[]\",:0123456789.eE-+ truefalsnl\\v";
            (0..rng.below(160)).for_each(|_| out.push(*rng.pick(ALPHABET)));
        }
        2..=4 if !s.numbers.is_empty() => splice(b, *rng.pick(&s.numbers), rng.pick(JUNK).as_bytes(), out),
        5 if !s.arrays.is_empty() => {
            // Longer list: extra elements right after a `[`.
            let at = *rng.pick(&s.arrays) + 1;
            let extra = "0.5,".repeat(1 + rng.below(70));
            splice(b, (at, at), extra.as_bytes(), out);
        }
        6 if !s.numbers.is_empty() => {
            // Shorter list: a number removed with its comma.
            let (from, to) = *rng.pick(&s.numbers);
            let to = if b.get(to) == Some(&b',') { to + 1 } else { to };
            splice(b, (from, to), b"", out);
        }
        7 if !s.keys.is_empty() => {
            let key = format!("\"{}\"", rng.pick(KEYS));
            splice(b, *rng.pick(&s.keys), key.as_bytes(), out);
        }
        8 => {
            let v = format!("{}", [0u64, 2, 1 << 32, u64::MAX][rng.below(4)]);
            let body = String::from_utf8_lossy(b).replacen("\"v\":1", &format!("\"v\":{v}"), 1);
            out.extend_from_slice(body.as_bytes());
        }
        9 => out.extend_from_slice(&b[..rng.below(b.len() + 1)]),
        10 => {
            out.extend_from_slice(b);
            let at = rng.below(out.len() + 1);
            if at < out.len() && rng.below(2) == 0 {
                out[at] ^= 1 << rng.below(8);
            } else {
                out.insert(at, rng.next() as u8);
            }
        }
        11 => {
            // A duplicated field or fragment.
            let (x, y) = (rng.below(b.len()), rng.below(b.len()));
            let (from, to) = (x.min(y), x.max(y));
            splice(b, (to, to), &b[from..to], out);
        }
        12 => {
            // Deep nesting, past serde_json's recursion limit at times.
            let depth = 1 + rng.below(400);
            out.extend(std::iter::repeat_n(b'[', depth));
            out.extend_from_slice(b);
            out.extend(std::iter::repeat_n(b']', depth));
        }
        _ => out.extend_from_slice(b),
    }
}

#[test]
fn every_decoder_survives_a_million_hostile_bodies() {
    let started = Instant::now();
    let seeds = corpus();
    let mut rng = Rng(0x005E_ED0F_F022);
    let mut t = Tally::default();
    let (mut body, mut tmp) = (Vec::new(), Vec::new());
    for s in &seeds {
        decode_all(s, &mut t);
    }
    // Each seed by its own decoder at least (a ParamsRequest needs only `v`, so it takes every seed).
    assert!(t.accepted >= seeds.len() as u64, "every seed is accepted: {t:?}");
    // Every seed padded with whitespace to exactly the cap (still accepted) and one byte past it (refused
    // unread). Built once: 64 KiB bodies are too costly to build per case, and are used now and then.
    let big: Vec<Vec<u8>> = seeds
        .iter()
        .flat_map(|s| {
            [MAX_BODY_BYTES, MAX_BODY_BYTES + 1].map(|len| {
                let mut b = s.clone();
                b.splice(1..1, std::iter::repeat_n(b' ', len - s.len()));
                b
            })
        })
        .collect();
    let mut bodies = 0u64;
    while t.cases < 1_000_000 {
        if rng.below(200) == 0 {
            let b: &Vec<u8> = rng.pick(&big);
            decode_all(b, &mut t);
        } else {
            let base = rng.pick(&seeds);
            mutate(&mut rng, base, &mut body);
            // Stack a second mutation now and then.
            if rng.below(4) == 0 {
                mutate(&mut rng, &body, &mut tmp);
                std::mem::swap(&mut body, &mut tmp);
            }
            decode_all(&body, &mut t);
        }
        bodies += 1;
    }
    println!(
        "byte-level fuzz: {} decode cases ({bodies} bodies × 8 decoders) in {:.1} s; accepted {}; refused by reason {:?}",
        t.cases,
        started.elapsed().as_secs_f64(),
        t.accepted,
        t.by_reason
    );
    assert!(t.cases >= 1_000_000);
    for r in ["too_large", "malformed", "version", "dimension", "out_of_range"] {
        assert!(t.by_reason.get(r).copied().unwrap_or(0) > 100, "reason {r} exercised: {t:?}");
    }
    assert!(t.accepted > 1000, "mutations that stay valid reach the content checks: {t:?}");
}

// ---- Structured (proptest): message-shaped JSON with hostile fields ----

fn junk() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<f64>().prop_map(|x| json!(x)),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        Just(json!("NaN")),
        Just(json!("inf")),
        prop::collection::vec(any::<char>(), 0..12).prop_map(|c| Value::from(c.into_iter().collect::<String>())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// Mostly plausible numbers; now and then a huge, tiny, negative-zero or non-number.
fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        40 => (-5.0..5.0f64).prop_map(Value::from),
        1 => prop::sample::select(vec![1e308, -1e308, 1e6, -1e6, 1e3 + 1e-9, 0.0, -0.0, 5e-324]).prop_map(Value::from),
        1 => junk(),
    ]
    .boxed()
}

fn numbers(typical: usize) -> BoxedStrategy<Value> {
    prop_oneof![
        8 => prop::collection::vec(number(), typical..=typical).prop_map(Value::Array),
        2 => prop::collection::vec(number(), 0..(2 * typical + 2)).prop_map(Value::Array),
        1 => prop::collection::vec(number(), MAX_JOINTS..MAX_JOINTS + 3).prop_map(Value::Array),
        1 => junk(),
    ]
    .boxed()
}

/// A field: usually the plausible value, sometimes missing (None) or junk.
fn field(valid: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![40 => valid.prop_map(Some), 1 => Just(None), 1 => junk().prop_map(Some)].boxed()
}

fn version() -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        10 => Just(Some(json!(SCHEMA_VERSION))),
        1 => any::<u32>().prop_map(|v| Some(json!(v))),
        1 => Just(None),
        1 => junk().prop_map(Some),
    ]
    .boxed()
}

fn text() -> BoxedStrategy<Value> {
    prop_oneof![
        8 => prop::sample::select(vec!["shoulder", "elbow", "wrist", "operator", "kp"]).prop_map(Value::from),
        1 => (0usize..3 * MAX_NAME_BYTES).prop_map(|n| Value::from("é".repeat(n / 2))),
    ]
    .boxed()
}

fn object(fields: Vec<(&'static str, Option<Value>)>, extra: Option<Value>) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in fields {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    }
    if let Some(x) = extra {
        m.insert("unexpected".into(), x);
    }
    Value::Object(m)
}

fn extra() -> BoxedStrategy<Option<Value>> {
    prop_oneof![8 => Just(None), 1 => junk().prop_map(Some)].boxed()
}

fn hostile_message() -> BoxedStrategy<Value> {
    let names = prop_oneof![
        8 => prop::collection::vec(text(), 3..=3).prop_map(Value::Array),
        2 => prop::collection::vec(text(), 0..6).prop_map(Value::Array),
    ]
    .boxed();
    let params = prop::collection::btree_map(text().prop_map(|v| v.as_str().unwrap().to_string()), number(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
        .boxed();
    let seq = prop_oneof![4 => (0u64..1_000_000).prop_map(Value::from), 1 => junk()].boxed();
    prop_oneof![
        (
            version(),
            field(number()),
            field(seq.clone()),
            field(names),
            field(numbers(3)),
            field(numbers(3)),
            field(numbers(3)),
            field(numbers(3)),
            extra()
        )
            .prop_map(|(v, stamp, seq, name, p, dq, e, ee, x)| object(
                vec![
                    ("v", v),
                    ("stamp", stamp),
                    ("seq", seq),
                    ("name", name),
                    ("position", p),
                    ("velocity", dq),
                    ("effort", e),
                    ("ee_position", ee)
                ],
                x
            )),
        (version(), field(seq), field(numbers(3)), extra())
            .prop_map(|(v, seq, e, x)| object(vec![("v", v), ("seq", seq), ("effort", e)], x)),
        (version(), field(numbers(3)), extra()).prop_map(|(v, p, x)| object(vec![("v", v), ("position", p)], x)),
        (version(), field(number()), field(numbers(3)), extra())
            .prop_map(|(v, m, o, x)| object(vec![("v", v), ("mass_kg", m), ("offset_m", o)], x)),
        (version(), field(any::<bool>().prop_map(Value::from).boxed()), field(text()), extra())
            .prop_map(|(v, e, s, x)| object(vec![("v", v), ("engaged", e), ("source", s)], x)),
        (version(), field(params.clone()), extra()).prop_map(|(v, s, x)| object(vec![("v", v), ("set", s)], x)),
        (version(), field(params), extra()).prop_map(|(v, p, x)| object(vec![("v", v), ("params", p)], x)),
        (version(), field(text()), field(number()), field(number()), extra()).prop_map(|(v, node, stamp, ticks, x)| {
            object(
                vec![("v", v), ("node", node), ("stamp", stamp), ("state", Some(json!("running"))), ("ticks", ticks)],
                x,
            )
        }),
    ]
    .boxed()
}

#[test]
fn every_decoder_refuses_hostile_fields_of_plausible_messages_with_a_reason() {
    let started = Instant::now();
    let config = Config { cases: 30_000, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let tally = RefCell::new(Tally::default());
    runner
        .run(&hostile_message(), |v| {
            let body = serde_json::to_vec(&v).unwrap();
            decode_all(&body, &mut tally.borrow_mut());
            Ok(())
        })
        .unwrap();
    let t = tally.into_inner();
    println!(
        "structured fuzz (proptest): {} decode cases in {:.1} s; accepted {}; refused by reason {:?}",
        t.cases,
        started.elapsed().as_secs_f64(),
        t.accepted,
        t.by_reason
    );
    for r in ["malformed", "version", "dimension", "out_of_range"] {
        assert!(t.by_reason.get(r).copied().unwrap_or(0) > 50, "reason {r} exercised: {t:?}");
    }
    assert!(t.accepted > 1000, "{t:?}");
}

// ---- A flood on the real bus ----

const Q_REF: [f64; 3] = [0.4, -0.3, 0.2];

struct Pd(HoldLaw);

impl Controller for Pd {
    fn tick(&mut self, input: &ControlInput<'_>, torque: &mut [f64]) -> Result<(), ControlError> {
        self.0.torque(&Q_REF, input.q, input.dq, torque).map_err(ControlError::Model)
    }
    fn dof(&self) -> usize {
        3
    }
    fn name(&self) -> &str {
        "pd"
    }
}

/// Marks a body that is accepted after clamping rather than refused.
const CLAMPED: &str = "clamped";

/// Hostile bodies per key, each with the reason the receiving node must count it under.
fn hostile_bodies() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut v: Vec<(&'static str, Vec<u8>, &'static str)> = Vec::new();
    let js = |name: Value, n: usize| {
        serde_json::to_vec(&json!({"v": 1, "stamp": 0.1, "seq": 999_999_999u64, "name": name,
            "position": vec![0.0; n], "velocity": vec![0.0; n], "effort": vec![0.0; n], "ee_position": [0, 0, 0]}))
        .unwrap()
    };
    // The controller's keys (joint_states and target: latest-value subscribers, so some are overwritten
    // unseen by newer ones; the parameter queryable: every query is answered and counted).
    v.push(("joint_states", js(json!(["a", "b", "c"]), 3), "unknown_arm"));
    v.push(("joint_states", js(json!([]), 5), "dimension"));
    v.push(("joint_states", b"{\"v\":1,\"stamp\":".to_vec(), "malformed"));
    v.push(("joint_states", vec![0xff; 40], "malformed"));
    v.push(("target", br#"{"v":1,"position":[1e6,0,0]}"#.to_vec(), "out_of_range"));
    v.push(("target", br#"{"v":1,"position":"NaN"}"#.to_vec(), "malformed"));
    // Valid but out of reach: accepted, clamped onto the reach sphere (the test controller ignores targets).
    v.push(("target", br#"{"v":1,"position":[5,0,0]}"#.to_vec(), CLAMPED));
    // The sim's keys (torque_cmd: latest-value; payload: queued, every body seen).
    v.push(("torque_cmd", br#"{"v":1,"seq":0,"effort":[1,2]}"#.to_vec(), "dimension"));
    v.push(("torque_cmd", br#"{"v":1,"seq":0,"effort":[1e999,0,0]}"#.to_vec(), "malformed"));
    let mut big = br#"{"v":1,"seq":0,"effort":[0,0,0],"pad":""#.to_vec();
    big.resize(MAX_BODY_BYTES + 10, b'x');
    big.extend_from_slice(b"\"}");
    v.push(("torque_cmd", big, "too_large"));
    v.push(("payload", br#"{"v":1,"mass_kg":1000,"offset_m":[0,0,0]}"#.to_vec(), "out_of_range"));
    v.push(("payload", br#"{"v":1,"mass_kg":-1,"offset_m":[0,0,0]}"#.to_vec(), "out_of_range"));
    v.push(("payload", br#"{"v":7,"mass_kg":1,"offset_m":[0,0,0]}"#.to_vec(), "version"));
    v.push(("payload", br#"{"v":1,"mass_kg":[1],"offset_m":[0,0,0]}"#.to_vec(), "malformed"));
    v
}

fn raw_session(endpoints: &[String]) -> zenoh::Session {
    use zenoh::Wait;
    let endpoints = serde_json::to_string(endpoints).unwrap();
    let cfg = format!(
        r#"{{ mode: "peer", listen: {{ endpoints: [] }}, connect: {{ endpoints: {endpoints} }},
             scouting: {{ multicast: {{ enabled: false }}, gossip: {{ enabled: false }} }} }}"#
    );
    zenoh::open(zenoh::Config::from_json5(&cfg).unwrap()).wait().unwrap()
}

#[test]
fn a_flood_of_hostile_bodies_is_counted_by_reason_while_control_goes_on() {
    use zenoh::Wait;
    // A full mesh (peers do not route for each other): sim, controller and watcher listen, each connects
    // to the earlier ones; the attacker connects to both nodes.
    let port = || {
        format!("tcp/127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
    };
    let eps = [port(), port(), port()];
    let open = |i: usize| {
        Bus::open(
            "threelink",
            &BusConfig { zenoh_json5: None, listen: vec![eps[i].clone()], connect: eps[..i].to_vec() },
        )
        .unwrap()
    };
    let (sim_bus, ctrl_bus, watcher) = (open(0), open(1), open(2));
    let statuses = watcher.queue::<Status>(&watcher.keys().status_all(), 1 << 16).unwrap();
    let attacker = raw_session(&eps[..2]);
    let env = arm("threelink.urdf").envelope().clone();
    let bodies = hostile_bodies();
    let keys = sim_bus.keys().clone();
    let key_of = |k: &str| match k {
        "joint_states" => keys.joint_states(),
        "target" => keys.target(),
        "torque_cmd" => keys.torque_cmd(),
        _ => keys.payload(),
    };

    let steps = 600u64;
    let mut spec = sim_settings();
    spec.duration_s = Some(steps as f64 * 0.001);
    spec.record_every = 1;
    // An overwritten state or torque costs one resend period in lockstep: keep it short under attack.
    spec.resend_s = 0.002;
    let stop_ctrl = Shutdown::new();
    let s2 = stop_ctrl.clone();
    let ctrl = thread::spawn(move || {
        let mut c = Pd(HoldLaw::new(&arm("threelink.urdf"), HoldParams::default()).unwrap());
        let cspec = controller_settings();
        let r = run_controller_node(&cspec, arm("threelink.urdf"), &mut c, &ctrl_bus, &s2);
        ctrl_bus.close().unwrap();
        r.unwrap()
    });
    let sim_done = Arc::new(AtomicBool::new(false));
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..bodies.len()).map(|_| AtomicU64::new(0)).collect());
    let flood = {
        let (sim_done, sent) = (sim_done.clone(), sent.clone());
        let puts: Vec<_> = bodies.iter().map(|(k, b, _)| (key_of(k), b.clone())).collect();
        let attacker = attacker.clone();
        thread::spawn(move || {
            let mut i = 0usize;
            while !sim_done.load(Ordering::Relaxed) {
                let (key, body) = &puts[i % puts.len()];
                // Blocking congestion control: nothing is dropped on the attacker's side.
                attacker
                    .put(key.as_str(), body.as_slice())
                    .congestion_control(zenoh::qos::CongestionControl::Block)
                    .wait()
                    .unwrap();
                sent[i % puts.len()].fetch_add(1, Ordering::Relaxed);
                i += 1;
                thread::sleep(Duration::from_micros(100));
            }
        })
    };
    // Parameter queries with hostile bodies: each must be answered with an error and counted.
    let queries = {
        let (sim_done, attacker, key) = (sim_done.clone(), attacker.clone(), keys.params("controller"));
        thread::spawn(move || {
            let bad: [&[u8]; 4] =
                [b"{", br#"{"v":9,"set":{}}"#, br#"{"v":1,"set":{"kp":[]}}"#, br#"{"v":1,"set":{"kp":1e999}}"#];
            let mut refused = [0u64; 4];
            let mut i = 0;
            while !sim_done.load(Ordering::Relaxed) {
                let replies = attacker
                    .get(key.as_str())
                    .payload(bad[i % bad.len()])
                    .timeout(Duration::from_secs(2))
                    .wait()
                    .unwrap();
                if let Ok(reply) = replies.recv()
                    && let Ok(sample) = reply.result()
                {
                    let r: ParamsReply = decode(&sample.payload().to_bytes()).unwrap();
                    assert!(r.error.is_some(), "a hostile query was refused: {r:?}");
                    refused[i % bad.len()] += 1;
                }
                i += 1;
            }
            refused
        })
    };

    let started = Instant::now();
    let sim = run_sim_node(&spec, arm("threelink.urdf"), &sim_bus, &Shutdown::new()).unwrap();
    sim_done.store(true, Ordering::Relaxed);
    flood.join().unwrap();
    let refused_by_body = queries.join().unwrap();
    let refused_queries: u64 = refused_by_body.iter().sum();
    thread::sleep(Duration::from_millis(100));
    stop_ctrl.trigger();
    let ctrl = ctrl.join().unwrap();
    let wall = started.elapsed().as_secs_f64();
    let mut last: BTreeMap<String, Status> = BTreeMap::new();
    while let Ok(Some(Ok(s))) = statuses.try_recv() {
        last.insert(s.node.clone(), s);
    }
    let sent: Vec<u64> = sent.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    sim_bus.close().unwrap();
    watcher.close().unwrap();
    attacker.close().wait().unwrap();
    let total_sent: u64 = sent.iter().sum();
    println!(
        "flood: {total_sent} hostile bodies + {refused_queries} hostile queries in {wall:.1} s; sim {} steps, \
         rejected {:?}, clamped {:?}; controller {} ticks, rejected {:?}",
        sim.steps, sim.rejected, sim.clamped, ctrl.ticks, ctrl.rejected
    );

    // Control went on through the flood, and it worked.
    assert_eq!(sim.steps, steps);
    assert!(ctrl.ticks >= steps, "{} ticks", ctrl.ticks);
    assert!(total_sent > 300, "the flood ran the whole time: {total_sent}");
    let end = sim.samples.last().unwrap();
    assert!(end.q.iter().zip(Q_REF).all(|(q, r)| (q - r).abs() < 0.1), "reached the posture: {:?}", end.q);
    assert!(sim.samples.iter().all(|s| s.payload_kg == 0.0 && !s.held), "no hostile payload or e-stop took effect");

    // Counting. Sent per (node, reason); the queued payload key and the queries are seen in full, the
    // latest-value keys at most in full.
    let mut sent_by: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for ((key, _, reason), n) in bodies.iter().zip(&sent).filter(|((_, _, r), _)| *r != CLAMPED) {
        let node = if matches!(*key, "joint_states" | "target") { "controller" } else { "sim" };
        *sent_by.entry((node, reason)).or_default() += n;
    }
    let payload_sent = |reason: &str| -> u64 {
        bodies.iter().zip(&sent).filter(|((k, _, r), _)| *k == "payload" && *r == reason).map(|(_, n)| n).sum()
    };
    let got = |m: &BTreeMap<String, u64>, r: &str| m.get(r).copied().unwrap_or(0);
    for ((node, reason), n) in &sent_by {
        let m = if *node == "sim" { &sim.rejected } else { &ctrl.rejected };
        assert!(got(m, reason) > 0, "{node} counted {reason}: {m:?}");
        if *node == "sim" {
            assert!(got(m, reason) <= *n, "{node} counted no more {reason} than sent ({n}): {m:?}");
        }
    }
    // The payload key is queued, so nothing is lost while the sim runs; only the bodies still in flight when
    // its last step ends (at most a queue's worth, 16, plus a few on the wire) go uncounted.
    for reason in ["out_of_range", "version"] {
        let (counted, sent) = (got(&sim.rejected, reason), payload_sent(reason));
        assert!(
            counted <= sent && counted + 24 >= sent,
            "queued payload bodies counted as {reason}: {counted} of {sent}"
        );
    }
    // Queries: the version one is the controller's only source of `version`; the other three are malformed.
    assert!(refused_queries > 10, "{refused_by_body:?}");
    assert_eq!(got(&ctrl.rejected, "version"), refused_by_body[1], "every refused query counted");
    assert!(got(&ctrl.rejected, "malformed") >= refused_by_body[0] + refused_by_body[2] + refused_by_body[3]);
    // Far targets were clamped onto the reach sphere, not refused.
    assert!(got(&ctrl.clamped, "target") > 0, "{:?}", ctrl.clamped);
    // The status carried the same counts and says what the last refusal was.
    for (node, rejected) in [("sim", &sim.rejected), ("controller", &ctrl.rejected)] {
        let st = last.get(node).unwrap_or_else(|| panic!("a status from {node}"));
        assert_eq!(&st.rejected, rejected, "{node} status");
        assert!(st.last_refusal.as_deref().is_some_and(|s| !s.is_empty()), "{node}: {st:?}");
        assert_ne!(st.state, NodeState::Estop);
    }
    let c = env.reach_center();
    if let Some(t) = last["controller"].controller().and_then(|c| c.target) {
        let r = ((t[0] - c[0]).powi(2) + (t[1] - c[1]).powi(2) + (t[2] - c[2]).powi(2)).sqrt();
        assert!(r <= env.reach_m() + 1e-9, "the target in force is reachable: {t:?}");
    }
    assert!(!sim.estop_log.iter().any(|e| e.engaged) && ctrl.estop_log.is_empty());
}
