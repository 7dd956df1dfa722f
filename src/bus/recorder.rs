//! Recording the bus: every sample under an arm's prefix, written to MCAP (the log format Foxglove and other
//! robotics tools open) on a thread of its own, never on a control tick.
//!
//! The file, as Foxglove and any MCAP reader see it:
//! - chunks compressed with zstd, each with a message index, and a summary with every schema and channel, so a
//!   viewer can seek;
//! - one channel per bus key. The two high-rate kinds, `joint_states` and `torque_cmd` (1 kHz each), are
//!   stored as CDR with a `ros2msg` schema naming every field of the body ([`super::recorded`]: array floats
//!   as `float32` by default, [`RecordingParams::floats`]), which makes a file ~6× smaller than JSON would
//!   (BENCHMARKS.md); the other kinds are the JSON bodies exactly as they crossed the bus, each kind with a
//!   JSON Schema (`spikearm.<kind>`, see [`super::schemas`]). Either way plots and message paths work on
//!   playback, and `spikearm replay` publishes the JSON bodies again;
//! - derived visualisation channels under `viz/<arm>/` (JSON, Foxglove well-known schemas, not bus traffic, never
//!   replayed): `viz/<arm>/ee` and `viz/<arm>/target` (`foxglove.PoseInFrame`, the end effector and the current
//!   target in the `base_link` frame) and `viz/<arm>/tf` (`foxglove.FrameTransforms`, `base_link` → `ee` and
//!   `base_link` → `target`), so the 3D panel shows the arm's tip chasing its target. They are written at most
//!   every [`RecordingParams::viz_period_s`] of sim time (end effector) or whenever a target is seen (a
//!   `target` message or a controller's `status`).
//!
//! `log_time` is when the sample reached the recorder's session (ns since the Unix epoch); `publish_time` is
//! the publisher's zenoh timestamp when its session stamps samples, else the same receive time. Sim time stays
//! in the bodies (`stamp`). The derived channels carry the log time of the sample they come from, in the
//! message's `timestamp` as well, so that Foxglove's transform lookups and its playback clock agree.

use std::collections::{BTreeMap, HashMap};
use std::io::{Seek, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::json;

use super::recorded::{CompactKind, Encoded, RecordedFloats};
use super::schemas;
use super::session::{Bus, BusError, RawSample};

/// Samples queued between the publishing threads and the writer thread. At ~600 bytes a sample this bounds
/// the backlog to ~40 MB; beyond it samples are dropped and counted rather than blocking the control loop.
const QUEUE: usize = 1 << 16;

/// The writer thread drains the queue, then sleeps this long. Blocking on the queue instead would make every
/// publish wake the writer (a futex call and a context switch per message, ~15 % of the lockstep demo's CPU);
/// at ~20 k messages/s a 5 ms nap leaves ~100 queued.
const NAP: Duration = Duration::from_millis(5);

/// Root of the derived visualisation channels' topics (`viz/<arm>/…`): not a bus key, so never replayed.
pub const VIZ_ROOT: &str = "viz";

/// Frame the end-effector and target positions are expressed in: the arm's base, named like the URDF root
/// link of the bundled arms.
pub const BASE_FRAME: &str = "base_link";

/// How a recording is written.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingParams {
    /// Compress the chunks with zstd (true) or leave them uncompressed (false, what earlier builds wrote).
    /// Default true.
    pub compress: bool,
    /// zstd level (1 fastest … 19 smallest). Default 3: level 19 saves only a few % more on these bodies
    /// and costs several times the CPU (BENCHMARKS.md).
    pub zstd_level: u32,
    /// Uncompressed size a chunk is closed at, bytes. Larger chunks compress better (repeats across more
    /// messages); a viewer decompresses one whole chunk to seek into it. Default 4 MiB.
    pub chunk_bytes: u64,
    /// Least sim time between two end-effector messages on the derived channels, s; 0 writes one per joint
    /// state, `f64::INFINITY` none. Default 0.02 (50 Hz of sim time, smooth in the 3D panel at a small
    /// fraction of the file).
    pub viz_period_s: f64,
    /// How the array floats of `joint_states` and `torque_cmd` are stored: `F32` (default; ~7 significant
    /// digits; files about a third smaller than with `F64`, estimated on the demo's messages) or `F64` (every
    /// bit; replay gives back the exact bodies).
    pub floats: RecordedFloats,
    /// One message in this many per key keeps the informational torques (`joint_states.payload_effort`,
    /// `torque_cmd.adaptive`: what the payload demands and what the adaptive term adds, for plots); the others
    /// record them empty. Default 20 (50 Hz of a 1-kHz loop, as the 3D channels): the two add 12 floats a
    /// millisecond that barely compress, ~2.7 MB per simulated minute of the demo. 1 keeps every one.
    pub detail_every: u64,
}

impl Default for RecordingParams {
    fn default() -> Self {
        Self {
            compress: true,
            zstd_level: 3,
            chunk_bytes: 4 << 20,
            viz_period_s: 0.02,
            floats: RecordedFloats::F32,
            detail_every: 20,
        }
    }
}

/// Why recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Subscribing to the bus failed.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// Writing the MCAP file failed (I/O or format).
    #[error("writing MCAP: {0}")]
    Mcap(#[from] mcap::McapError),
    /// Flushing the output failed.
    #[error("flushing the recording: {0}")]
    Io(#[from] std::io::Error),
    /// The writer thread panicked.
    #[error("the recorder thread panicked")]
    Panicked,
    /// Bad parameters.
    #[error("recording parameters: {0}")]
    Params(String),
}

/// What a recording holds.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RecordingReport {
    /// Bus messages written.
    pub messages: u64,
    /// Bus messages per key.
    pub per_topic: BTreeMap<String, u64>,
    /// Bus messages stored in compact form (CDR); the others are JSON as they crossed the bus.
    pub compact: u64,
    /// Messages written on the derived visualisation channels (`viz/<arm>/…`).
    pub viz_messages: u64,
    /// Samples dropped because the writer fell more than the queue behind (0 when the recording is whole).
    pub dropped: u64,
}

/// A derived visualisation channel of one arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Viz {
    Ee,
    Target,
    Tf,
}

impl Viz {
    fn topic(self, arm: &str) -> String {
        let leaf = match self {
            Self::Ee => "ee",
            Self::Target => "target",
            Self::Tf => "tf",
        };
        format!("{VIZ_ROOT}/{arm}/{leaf}")
    }
}

/// The visualisation state of one arm: the last end-effector message's sim time and the latest target.
#[derive(Debug, Default)]
struct ArmViz {
    last_ee_stamp: Option<f64>,
    target: Option<[f64; 3]>,
}

/// The fields the derived channels need, read from the bodies without the full validation of a node.
#[derive(Deserialize)]
struct EeFields {
    stamp: f64,
    ee_position: [f64; 3],
}

#[derive(Deserialize)]
struct TargetFields {
    position: [f64; 3],
}

/// The part of a controller's status the viewer needs: `{"controller": {"target": […]}}`.
#[derive(Deserialize)]
struct StatusFields {
    #[serde(default)]
    controller: Option<ControllerTarget>,
}

#[derive(Deserialize)]
struct ControllerTarget {
    #[serde(default)]
    target: Option<[f64; 3]>,
}

/// The channels of one bus key: the compact one (CDR) and, for bodies the compact form would alter, a JSON one.
#[derive(Debug, Default, Clone, Copy)]
struct KeyChannels {
    compact: Option<u16>,
    json: Option<u16>,
}

/// MCAP output over any `Write + Seek` (a file, a buffer): the file format, free of threads and paths.
pub struct McapSink<W: Write + Seek> {
    writer: mcap::Writer<W>,
    params: RecordingParams,
    channels: HashMap<String, KeyChannels>,
    schemas: HashMap<String, u16>,
    viz_channels: HashMap<(String, Viz), (u16, u32)>,
    arms: HashMap<String, ArmViz>,
    buf: Vec<u8>,
    cdr: Vec<u8>,
    scratch: Vec<u8>,
    report: RecordingReport,
}

impl<W: Write + Seek> McapSink<W> {
    /// Starts an MCAP file in `out` with the default [`RecordingParams`] (zstd chunks).
    pub fn new(out: W) -> Result<Self, RecordError> {
        Self::with_params(out, RecordingParams::default())
    }

    /// Starts an MCAP file in `out`.
    pub fn with_params(out: W, params: RecordingParams) -> Result<Self, RecordError> {
        if !(1..=19).contains(&params.zstd_level) {
            return Err(RecordError::Params(format!("zstd_level must be 1..=19, got {}", params.zstd_level)));
        }
        if params.chunk_bytes < 1024 {
            return Err(RecordError::Params(format!("chunk_bytes must be ≥ 1024, got {}", params.chunk_bytes)));
        }
        if params.detail_every == 0 {
            return Err(RecordError::Params("detail_every must be ≥ 1".into()));
        }
        if params.viz_period_s.is_nan() || params.viz_period_s < 0.0 {
            return Err(RecordError::Params(format!("viz_period_s must be ≥ 0 s, got {}", params.viz_period_s)));
        }
        let writer = mcap::WriteOptions::new()
            .compression(params.compress.then_some(mcap::Compression::Zstd))
            .compression_level(params.zstd_level)
            // Compress on the recorder thread itself: it is off the control path already, and zstd's worker
            // threads would compete with the nodes for the cores.
            .compression_threads(0)
            .chunk_size(Some(params.chunk_bytes))
            .profile("")
            .library(concat!("spikearm ", env!("CARGO_PKG_VERSION")))
            .create(out)?;
        Ok(Self {
            writer,
            params,
            channels: HashMap::new(),
            schemas: HashMap::new(),
            viz_channels: HashMap::new(),
            arms: HashMap::new(),
            buf: Vec::with_capacity(512),
            cdr: Vec::with_capacity(512),
            scratch: Vec::with_capacity(1024),
            report: RecordingReport::default(),
        })
    }

    /// Appends one bus message (and what the derived channels make of it). Times are ns since the Unix epoch.
    pub fn write(
        &mut self,
        topic: &str,
        log_time_ns: u64,
        publish_time_ns: u64,
        body: &[u8],
    ) -> Result<(), RecordError> {
        let detail = self.report.per_topic.get(topic).is_none_or(|n| n % self.params.detail_every == 0);
        let kind = CompactKind::of_kind(message_kind(topic), self.params.floats);
        let encoded = kind.and_then(|k| k.encode_json(body, detail, &mut self.scratch, &mut self.cdr));
        let compact = kind.filter(|_| encoded.is_some());
        let known = self.channels.get(topic).copied().unwrap_or_default();
        let channel_id = match (compact, known) {
            (Some(_), KeyChannels { compact: Some(id), .. }) | (None, KeyChannels { json: Some(id), .. }) => id,
            _ => self.add_channel(topic, compact)?,
        };
        let count = self.report.per_topic.entry(topic.to_string()).or_default();
        let header = mcap::records::MessageHeader {
            channel_id,
            // MCAP's sequence is per channel and 32-bit; wrapping is allowed by the format.
            sequence: *count as u32,
            log_time: log_time_ns,
            publish_time: publish_time_ns,
        };
        let data = if compact.is_some() { &self.cdr[..] } else { body };
        self.writer.write_to_known_channel(&header, data)?;
        *count += 1;
        self.report.messages += 1;
        self.report.compact += u64::from(compact.is_some());
        self.derive(topic, log_time_ns, body, encoded)
    }

    fn add_channel(&mut self, topic: &str, compact: Option<CompactKind>) -> Result<u16, RecordError> {
        if let Some(kind) = compact {
            let name = kind.schema_name();
            let schema_id = match self.schemas.get(name) {
                Some(&id) => id,
                None => {
                    let id = self.writer.add_schema(name, "ros2msg", kind.schema_text().as_bytes())?;
                    self.schemas.insert(name.to_string(), id);
                    id
                }
            };
            let id = self.writer.add_channel(schema_id, topic, "cdr", &BTreeMap::new())?;
            self.channels.entry(topic.to_string()).or_default().compact = Some(id);
            return Ok(id);
        }
        let kind = message_kind(topic);
        let schema_id = match self.schemas.get(kind) {
            Some(&id) => id,
            None => {
                let schema = schemas::kind_schema(kind).unwrap_or_else(|| schemas::unknown_kind_schema(kind));
                let id = self.add_schema(&schemas::kind_schema_name(kind), &schema)?;
                self.schemas.insert(kind.to_string(), id);
                id
            }
        };
        let id = self.writer.add_channel(schema_id, topic, "json", &BTreeMap::new())?;
        self.channels.entry(topic.to_string()).or_default().json = Some(id);
        Ok(id)
    }

    fn add_schema(&mut self, name: &str, schema: &serde_json::Value) -> Result<u16, RecordError> {
        let text = serde_json::to_vec(schema).expect("a JSON value serialises");
        Ok(self.writer.add_schema(name, "jsonschema", &text)?)
    }

    /// Writes the derived visualisation messages a bus message calls for. A body these fields cannot be read
    /// from (a hostile or newer publisher) is recorded as it is and derives nothing.
    /// The derived channels' messages of one bus message; `encoded` is what the compact encoder already read
    /// of it (a body kept as JSON is read here).
    fn derive(&mut self, topic: &str, log_ns: u64, body: &[u8], encoded: Option<Encoded>) -> Result<(), RecordError> {
        let Some((arm, kind)) = arm_and_kind(topic) else { return Ok(()) };
        match kind {
            "joint_states" => {
                let js = match encoded {
                    Some(Encoded::State { stamp, ee_position }) => EeFields { stamp, ee_position },
                    _ => match serde_json::from_slice::<EeFields>(body) {
                        Ok(js) => js,
                        Err(_) => return Ok(()),
                    },
                };
                let period = self.params.viz_period_s;
                let state = self.arms.entry(arm.to_string()).or_default();
                // Sim time going back (a restarted sim) starts the spacing again.
                let due = match state.last_ee_stamp {
                    None => period.is_finite(),
                    Some(last) => js.stamp < last || js.stamp - last >= period * (1.0 - 1e-9),
                };
                if !due || !js.ee_position.iter().all(|x| x.is_finite()) {
                    return Ok(());
                }
                state.last_ee_stamp = Some(js.stamp);
                let target = state.target;
                let arm = arm.to_string();
                self.write_pose(&arm, Viz::Ee, log_ns, js.ee_position)?;
                self.write_tf(&arm, log_ns, js.ee_position, target)
            }
            "target" | "status" => {
                let target = if kind == "target" {
                    serde_json::from_slice::<TargetFields>(body).ok().map(|t| t.position)
                } else {
                    serde_json::from_slice::<StatusFields>(body).ok().and_then(|s| s.controller?.target)
                };
                let Some(target) = target.filter(|t| t.iter().all(|x| x.is_finite())) else { return Ok(()) };
                self.arms.entry(arm.to_string()).or_default().target = Some(target);
                self.write_pose(arm, Viz::Target, log_ns, target)
            }
            _ => Ok(()),
        }
    }

    fn write_pose(&mut self, arm: &str, viz: Viz, log_ns: u64, p: [f64; 3]) -> Result<(), RecordError> {
        let msg = json!({
            "timestamp": time(log_ns),
            "frame_id": BASE_FRAME,
            "pose": { "position": vector3(p), "orientation": identity() },
        });
        self.write_viz(arm, viz, log_ns, &msg)
    }

    fn write_tf(&mut self, arm: &str, log_ns: u64, ee: [f64; 3], target: Option<[f64; 3]>) -> Result<(), RecordError> {
        let tf = |child: &str, p: [f64; 3]| {
            json!({
                "timestamp": time(log_ns),
                "parent_frame_id": BASE_FRAME,
                "child_frame_id": child,
                "translation": vector3(p),
                "rotation": identity(),
            })
        };
        let mut transforms = vec![tf("ee", ee)];
        transforms.extend(target.map(|t| tf("target", t)));
        self.write_viz(arm, Viz::Tf, log_ns, &json!({ "transforms": transforms }))
    }

    fn write_viz(&mut self, arm: &str, viz: Viz, log_ns: u64, msg: &serde_json::Value) -> Result<(), RecordError> {
        let key = (arm.to_string(), viz);
        let (channel_id, sequence) = match self.viz_channels.get(&key) {
            Some(&c) => c,
            None => {
                let (schema_name, schema) = match viz {
                    Viz::Ee | Viz::Target => (schemas::POSE_IN_FRAME, schemas::pose_in_frame_schema()),
                    Viz::Tf => (schemas::FRAME_TRANSFORMS, schemas::frame_transforms_schema()),
                };
                let schema_id = match self.schemas.get(schema_name) {
                    Some(&id) => id,
                    None => {
                        let id = self.add_schema(schema_name, &schema)?;
                        self.schemas.insert(schema_name.to_string(), id);
                        id
                    }
                };
                let meta = BTreeMap::from([("derived".to_string(), "visualisation, not bus traffic".to_string())]);
                let id = self.writer.add_channel(schema_id, &viz.topic(arm), "json", &meta)?;
                (id, 0)
            }
        };
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, msg).expect("a JSON value serialises");
        let header = mcap::records::MessageHeader { channel_id, sequence, log_time: log_ns, publish_time: log_ns };
        self.writer.write_to_known_channel(&header, &self.buf)?;
        self.viz_channels.insert(key, (channel_id, sequence.wrapping_add(1)));
        self.report.viz_messages += 1;
        Ok(())
    }

    /// Counts so far.
    pub fn report(&self) -> &RecordingReport {
        &self.report
    }

    /// Writes the summary and footer, flushes, and hands back the output.
    pub fn finish(mut self) -> Result<(RecordingReport, W), RecordError> {
        self.writer.finish()?;
        let mut out = self.writer.into_inner();
        out.flush()?;
        Ok((self.report, out))
    }
}

/// No rotation: the bus carries the end effector's position only.
fn identity() -> serde_json::Value {
    json!({ "x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0 })
}

fn time(ns: u64) -> serde_json::Value {
    json!({ "sec": ns / 1_000_000_000, "nsec": ns % 1_000_000_000 })
}

fn vector3(p: [f64; 3]) -> serde_json::Value {
    json!({ "x": p[0], "y": p[1], "z": p[2] })
}

/// `spikearm/<arm>/<kind>[/…]` → `(arm, kind)`.
fn arm_and_kind(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix(super::Keys::ROOT)?.strip_prefix('/')?;
    let mut chunks = rest.split('/');
    let arm = chunks.next().filter(|a| !a.is_empty())?;
    let kind = chunks.next().filter(|k| !k.is_empty())?;
    Some((arm, kind))
}

/// The message kind of a key: `spikearm/<arm>/joint_states` → `joint_states`, `…/status/<node>` → `status`.
fn message_kind(topic: &str) -> &str {
    let mut chunks = topic.split('/').skip(2);
    chunks.next().filter(|k| !k.is_empty()).unwrap_or(topic)
}

fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Records `spikearm/<arm>/**` of a bus into an [`McapSink`] on its own thread until [`Recorder::stop`].
pub struct Recorder<W: Write + Seek + Send + 'static> {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(RecordingReport, W), RecordError>>>,
}

impl<W: Write + Seek + Send + 'static> Recorder<W> {
    /// Subscribes to every key of `bus`'s arm and starts writing into `out`. Start it before the nodes so
    /// that their first messages are in the file. Samples are only queued in the publishing thread; the
    /// writer thread copies the bodies into the file, reads the few fields the derived channels need, and
    /// compresses.
    pub fn start(bus: &Bus, out: W) -> Result<Self, RecordError> {
        Self::start_with(bus, out, RecordingParams::default())
    }

    /// [`Recorder::start`] with explicit [`RecordingParams`].
    pub fn start_with(bus: &Bus, out: W, params: RecordingParams) -> Result<Self, RecordError> {
        let mut sink = McapSink::with_params(out, params)?;
        let tap = bus.tap(&format!("{}/**", bus.keys().prefix()), QUEUE)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("bus-recorder".into())
            .spawn(move || {
                loop {
                    // Read the flag first: what was published before `stop` is then drained below.
                    let stopping = flag.load(Ordering::Acquire);
                    while let Some(s) = tap.try_recv() {
                        write_sample(&mut sink, &s)?;
                    }
                    if stopping {
                        break;
                    }
                    std::thread::sleep(NAP);
                }
                let dropped = tap.dropped();
                drop(tap);
                let (mut report, out) = sink.finish()?;
                report.dropped = dropped;
                Ok((report, out))
            })
            .map_err(RecordError::Io)?;
        Ok(Self { stop, thread: Some(thread) })
    }

    /// Stops recording (what was published before the call is written), finishes the file and returns its
    /// counts and the output.
    pub fn stop_into_inner(mut self) -> Result<(RecordingReport, W), RecordError> {
        self.stop.store(true, Ordering::Release);
        let t = self.thread.take().expect("the thread is only taken by stop");
        t.join().map_err(|_| RecordError::Panicked)?
    }

    /// Stops recording and finishes the file (see [`Recorder::stop_into_inner`]).
    pub fn stop(self) -> Result<RecordingReport, RecordError> {
        self.stop_into_inner().map(|(r, _)| r)
    }
}

impl<W: Write + Seek + Send + 'static> Drop for Recorder<W> {
    /// A recorder dropped without `stop` still finishes its file (errors are logged).
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.store(true, Ordering::Release);
            match t.join() {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "bus recorder: finishing the recording failed"),
                Err(_) => tracing::warn!("bus recorder: thread panicked"),
            }
        }
    }
}

fn write_sample<W: Write + Seek>(sink: &mut McapSink<W>, s: &RawSample) -> Result<(), RecordError> {
    let log = unix_ns(s.received());
    let publish = s.published().map_or(log, unix_ns);
    sink.write(s.key(), log, publish, &s.body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_first_chunk_after_the_arm() {
        assert_eq!(message_kind("spikearm/ur5e/joint_states"), "joint_states");
        assert_eq!(message_kind("spikearm/ur5e/status/controller"), "status");
        assert_eq!(message_kind("other"), "other");
        assert_eq!(arm_and_kind("spikearm/ur5e/status/controller"), Some(("ur5e", "status")));
        assert_eq!(arm_and_kind("spikearm/ur5e"), None);
        assert_eq!(arm_and_kind("viz/ur5e/ee"), None);
    }

    fn joint_states(seq: u64, stamp: f64, ee: [f64; 3]) -> Vec<u8> {
        let js = super::super::JointStates {
            v: 1,
            stamp,
            seq,
            name: vec!["j".into()],
            position: vec![0.1],
            velocity: vec![0.0],
            effort: vec![0.0],
            ee_position: ee,
            payload_effort: Vec::new(),
        };
        serde_json::to_vec(&js).unwrap()
    }

    fn read(bytes: &[u8]) -> Vec<mcap::Message<'_>> {
        mcap::MessageStream::new(bytes).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn a_sink_writes_a_file_the_reader_accepts() {
        let mut sink = McapSink::new(std::io::Cursor::new(Vec::new())).unwrap();
        sink.write("spikearm/a/torque_cmd", 10, 10, br#"{"v":1,"seq":0,"effort":[1.0]}"#).unwrap();
        sink.write("spikearm/a/torque_cmd", 20, 20, br#"{"v":1,"seq":1,"effort":[2.0]}"#).unwrap();
        sink.write("spikearm/a/status/sim", 30, 25, b"{}").unwrap();
        sink.write("spikearm/a/new_kind", 40, 40, b"{}").unwrap();
        let (report, out) = sink.finish().unwrap();
        assert_eq!((report.messages, report.viz_messages, report.compact), (4, 0, 2));
        assert_eq!(report.per_topic["spikearm/a/torque_cmd"], 2);
        let bytes = out.into_inner();
        let msgs = read(&bytes);
        assert_eq!(msgs.len(), 4);
        assert_eq!(msgs[1].channel.topic, "spikearm/a/torque_cmd");
        assert_eq!(msgs[1].channel.message_encoding, "cdr");
        let cdr_schema = msgs[1].channel.schema.as_ref().unwrap();
        assert_eq!(
            (cdr_schema.name.as_str(), cdr_schema.encoding.as_str()),
            ("spikearm_msgs/msg/TorqueCmd", "ros2msg")
        );
        let kind = CompactKind::from_schema(&cdr_schema.name, &cdr_schema.data).unwrap();
        assert_eq!(kind.decode_to_json(&msgs[1].data).unwrap(), br#"{"v":1,"seq":1,"effort":[2.0]}"#);
        assert_eq!((msgs[1].log_time, msgs[2].publish_time), (20, 25));
        assert_eq!(msgs[2].channel.message_encoding, "json");
        let schema = msgs[2].channel.schema.as_ref().unwrap();
        assert_eq!((schema.name.as_str(), schema.encoding.as_str()), ("spikearm.status", "jsonschema"));
        let parsed: serde_json::Value = serde_json::from_slice(&schema.data).unwrap();
        assert_eq!(parsed, schemas::kind_schema("status").unwrap());
        let unknown = msgs[3].channel.schema.as_ref().unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&unknown.data).unwrap(),
            schemas::unknown_kind_schema("new_kind")
        );
    }

    /// A body the compact form would alter goes, as it is, to a JSON channel of the same key, and the key's
    /// bodies come back in their order.
    #[test]
    fn bodies_the_compact_form_cannot_hold_stay_json_on_the_same_key() {
        let params = RecordingParams { floats: RecordedFloats::F64, detail_every: 1, ..RecordingParams::default() };
        let mut sink = McapSink::with_params(std::io::Cursor::new(Vec::new()), params).unwrap();
        let bodies: [&[u8]; 4] = [
            br#"{"v":1,"seq":0,"effort":[0.30000000000000004]}"#,
            br#"{"v":1,"seq":1,"effort":[1e999]}"#,
            br#"{"v":1,"seq":2,"effort":[1.5],"new_field":1}"#,
            br#"{"v":1,"seq":3,"effort":[-2.5e-7]}"#,
        ];
        for (i, b) in bodies.iter().enumerate() {
            sink.write("spikearm/a/torque_cmd", i as u64, i as u64, b).unwrap();
        }
        let (report, out) = sink.finish().unwrap();
        assert_eq!((report.messages, report.compact), (4, 2));
        let bytes = out.into_inner();
        let encodings: Vec<String> = read(&bytes).iter().map(|m| m.channel.message_encoding.clone()).collect();
        assert_eq!(encodings, ["cdr", "json", "json", "cdr"]);
        let back = crate::bus::recorded_bus_messages(&bytes).unwrap();
        assert!(back.iter().all(|(t, _)| t == "spikearm/a/torque_cmd"));
        assert_eq!(back.iter().map(|(_, b)| b.as_slice()).collect::<Vec<_>>(), bodies);
    }

    /// The chunks are zstd-compressed (the chunk records say so and are smaller than what they hold), and the
    /// same messages come back as from an uncompressed file.
    #[test]
    fn chunks_are_zstd_compressed_and_read_back_the_same() {
        let write = |compress: bool| {
            let params = RecordingParams { compress, chunk_bytes: 16 << 10, ..RecordingParams::default() };
            let mut sink = McapSink::with_params(std::io::Cursor::new(Vec::new()), params).unwrap();
            for i in 0..2000u64 {
                let x = (i as f64 * 0.001).sin();
                sink.write(
                    "spikearm/a/joint_states",
                    1_000_000 * i,
                    1_000_000 * i,
                    &joint_states(i, i as f64 * 1e-3, [x, 0.2, 0.3]),
                )
                .unwrap();
            }
            sink.finish().unwrap().1.into_inner()
        };
        let (zstd, plain) = (write(true), write(false));
        let mut chunks = 0;
        for record in mcap::read::LinearReader::new(&zstd).unwrap() {
            if let mcap::records::Record::Chunk { header, data } = record.unwrap() {
                assert_eq!(header.compression, "zstd");
                assert!(
                    data.len() * 3 < header.uncompressed_size as usize,
                    "{} of {}",
                    data.len(),
                    header.uncompressed_size
                );
                chunks += 1;
            }
        }
        assert!(chunks > 1, "{chunks} chunks");
        assert!(zstd.len() * 3 < plain.len(), "zstd {} B, plain {} B", zstd.len(), plain.len());
        let (a, b) = (read(&zstd), read(&plain));
        assert_eq!(a.len(), b.len());
        assert!(
            a.iter()
                .zip(&b)
                .all(|(x, y)| x.data == y.data && x.log_time == y.log_time && x.channel.topic == y.channel.topic)
        );
    }

    #[test]
    fn derived_channels_follow_the_end_effector_and_the_target() {
        let params = RecordingParams { viz_period_s: 0.01, ..RecordingParams::default() };
        let mut sink = McapSink::with_params(std::io::Cursor::new(Vec::new()), params).unwrap();
        // 1 kHz states for 50 ms, a controller status carrying its target at 20 ms, a target message at 30 ms.
        for i in 0..50u64 {
            let t = i as f64 * 1e-3;
            sink.write("spikearm/a/joint_states", 1_000_000_000 + i * 1_000_000, 0, &joint_states(i, t, [0.5, 0.0, t]))
                .unwrap();
            if i == 20 {
                sink.write(
                    "spikearm/a/status/controller",
                    1_020_500_000,
                    0,
                    br#"{"v":1,"node":"controller","controller":{"target":[0.4,0.1,0.2]}}"#,
                )
                .unwrap();
                sink.write(
                    "spikearm/a/status/sim",
                    1_020_600_000,
                    0,
                    br#"{"v":1,"node":"sim","sim":{"deadline_misses":0}}"#,
                )
                .unwrap();
            }
            if i == 30 {
                sink.write("spikearm/a/target", 1_030_500_000, 0, br#"{"v":1,"position":[0.3,0.2,0.1]}"#).unwrap();
            }
        }
        sink.write("spikearm/a/joint_states", 2_000_000_000, 0, b"not json").unwrap();
        let (report, out) = sink.finish().unwrap();
        let bytes = out.into_inner();
        let msgs = read(&bytes);
        let on = |topic: &str| -> Vec<(u64, serde_json::Value)> {
            msgs.iter()
                .filter(|m| m.channel.topic == topic)
                .map(|m| (m.log_time, serde_json::from_slice(&m.data).unwrap()))
                .collect()
        };
        // Every 10 ms of sim time: states 0, 10, 20, 30, 40.
        let ee = on("viz/a/ee");
        assert_eq!(ee.iter().map(|(t, _)| (t - 1_000_000_000) / 1_000_000).collect::<Vec<_>>(), [0, 10, 20, 30, 40]);
        let (t, last) = &ee[4];
        assert_eq!(last["timestamp"], json!({ "sec": t / 1_000_000_000, "nsec": t % 1_000_000_000 }));
        assert_eq!(last["frame_id"], BASE_FRAME);
        assert_eq!(last["pose"]["position"], json!({ "x": 0.5, "y": 0.0, "z": 0.04 }));
        assert_eq!(last["pose"]["orientation"], json!({ "x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0 }));
        let targets = on("viz/a/target");
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].1["pose"]["position"], json!({ "x": 0.4, "y": 0.1, "z": 0.2 }));
        assert_eq!(targets[1].1["pose"]["position"], json!({ "x": 0.3, "y": 0.2, "z": 0.1 }));
        // The transforms carry the latest target once one is known: the status's (20.5 ms) from 30 ms on, the
        // target message's (30.5 ms) from 40 ms on.
        let tf = on("viz/a/tf");
        let children = |i: usize| {
            tf[i].1["transforms"].as_array().unwrap().iter().map(|t| t["child_frame_id"].clone()).collect::<Vec<_>>()
        };
        assert_eq!((children(2), children(3)), (vec![json!("ee")], vec![json!("ee"), json!("target")]));
        assert_eq!(tf[3].1["transforms"][1]["translation"], json!({ "x": 0.4, "y": 0.1, "z": 0.2 }));
        assert_eq!(tf[4].1["transforms"][1]["translation"], json!({ "x": 0.3, "y": 0.2, "z": 0.1 }));
        assert_eq!(report.viz_messages, (ee.len() + targets.len() + tf.len()) as u64);
        assert_eq!(report.messages, 54);
        let schema = |topic: &str| {
            msgs.iter().find(|m| m.channel.topic == topic).unwrap().channel.schema.as_ref().unwrap().name.clone()
        };
        assert_eq!(
            (schema("viz/a/ee"), schema("viz/a/tf")),
            ("foxglove.PoseInFrame".into(), "foxglove.FrameTransforms".into())
        );
    }

    #[test]
    fn bad_parameters_are_refused() {
        let bad = [
            RecordingParams { zstd_level: 0, ..RecordingParams::default() },
            RecordingParams { zstd_level: 20, ..RecordingParams::default() },
            RecordingParams { chunk_bytes: 10, ..RecordingParams::default() },
            RecordingParams { viz_period_s: -1.0, ..RecordingParams::default() },
            RecordingParams { viz_period_s: f64::NAN, ..RecordingParams::default() },
        ];
        for p in bad {
            let e = McapSink::with_params(std::io::Cursor::new(Vec::new()), p.clone())
                .err()
                .unwrap_or_else(|| panic!("{p:?} accepted"));
            assert!(matches!(e, RecordError::Params(_)), "{e}");
        }
    }
}
