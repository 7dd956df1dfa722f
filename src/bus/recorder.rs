//! Recording the bus: every sample under an arm's prefix, written to MCAP (the log format Foxglove and other
//! robotics tools open) on a thread of its own, never on a control tick.
//!
//! One MCAP channel per key, message encoding `json` (the bodies as they crossed the bus), a JSON-schema
//! record per message kind. `log_time` is when the sample reached the recorder's session (ns since the Unix
//! epoch); `publish_time` is the publisher's zenoh timestamp when its session stamps samples, else the same
//! receive time. Sim time stays in the bodies (`stamp`).

use std::collections::{BTreeMap, HashMap};
use std::io::{Seek, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::session::{Bus, BusError, RawSample};

/// Samples queued between the publishing threads and the writer thread. At ~600 bytes a sample this bounds
/// the backlog to ~40 MB; beyond it samples are dropped and counted rather than blocking the control loop.
const QUEUE: usize = 1 << 16;

/// The writer thread drains the queue, then sleeps this long. Blocking on the queue instead would make every
/// publish wake the writer (a futex call and a context switch per message, ~15 % of the lockstep demo's CPU);
/// at ~20 k messages/s a 5 ms nap leaves ~100 queued.
const NAP: Duration = Duration::from_millis(5);

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
}

/// What a recording holds.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RecordingReport {
    /// Messages written.
    pub messages: u64,
    /// Messages per key.
    pub per_topic: BTreeMap<String, u64>,
    /// Samples dropped because the writer fell more than the queue behind (0 when the recording is whole).
    pub dropped: u64,
}

/// MCAP output over any `Write + Seek` (a file, a buffer): the file format, free of threads and paths.
pub struct McapSink<W: Write + Seek> {
    writer: mcap::Writer<W>,
    channels: HashMap<String, u16>,
    schemas: HashMap<String, u16>,
    report: RecordingReport,
}

impl<W: Write + Seek> McapSink<W> {
    /// Starts an MCAP file in `out` (uncompressed chunks: compression would need C libraries).
    pub fn new(out: W) -> Result<Self, RecordError> {
        let writer = mcap::WriteOptions::new()
            .compression(None)
            .profile("")
            .library(concat!("spikearm ", env!("CARGO_PKG_VERSION")))
            .create(out)?;
        Ok(Self { writer, channels: HashMap::new(), schemas: HashMap::new(), report: RecordingReport::default() })
    }

    /// Appends one message. Times are ns since the Unix epoch.
    pub fn write(&mut self, topic: &str, log_time_ns: u64, publish_time_ns: u64, body: &[u8]) -> Result<(), RecordError> {
        let channel_id = match self.channels.get(topic) {
            Some(&id) => id,
            None => self.add_channel(topic)?,
        };
        let count = self.report.per_topic.entry(topic.to_string()).or_default();
        let header = mcap::records::MessageHeader {
            channel_id,
            // MCAP's sequence is per channel and 32-bit; wrapping is allowed by the format.
            sequence: *count as u32,
            log_time: log_time_ns,
            publish_time: publish_time_ns,
        };
        self.writer.write_to_known_channel(&header, body)?;
        *count += 1;
        self.report.messages += 1;
        Ok(())
    }

    fn add_channel(&mut self, topic: &str) -> Result<u16, RecordError> {
        let kind = message_kind(topic);
        let schema_id = match self.schemas.get(kind) {
            Some(&id) => id,
            None => {
                // A minimal JSON schema: enough for viewers to treat the bodies as objects; fields are inferred.
                let schema = format!(r#"{{"title":"spikearm {kind} (schema v{})","type":"object"}}"#, super::SCHEMA_VERSION);
                let id = self.writer.add_schema(&format!("spikearm.{kind}"), "jsonschema", schema.as_bytes())?;
                self.schemas.insert(kind.to_string(), id);
                id
            }
        };
        let id = self.writer.add_channel(schema_id, topic, "json", &BTreeMap::new())?;
        self.channels.insert(topic.to_string(), id);
        Ok(id)
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
    /// that their first messages are in the file. Samples are only queued in the publishing thread; parsing
    /// nothing, the writer thread copies bodies straight into the file.
    pub fn start(bus: &Bus, out: W) -> Result<Self, RecordError> {
        let mut sink = McapSink::new(out)?;
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
    }

    #[test]
    fn a_sink_writes_a_file_the_reader_accepts() {
        let mut sink = McapSink::new(std::io::Cursor::new(Vec::new())).unwrap();
        sink.write("spikearm/a/torque_cmd", 10, 10, br#"{"v":1,"seq":0,"effort":[1.0]}"#).unwrap();
        sink.write("spikearm/a/torque_cmd", 20, 20, br#"{"v":1,"seq":1,"effort":[2.0]}"#).unwrap();
        sink.write("spikearm/a/status/sim", 30, 25, b"{}").unwrap();
        let (report, out) = sink.finish().unwrap();
        assert_eq!(report.messages, 3);
        assert_eq!(report.per_topic["spikearm/a/torque_cmd"], 2);
        let bytes = out.into_inner();
        let msgs: Vec<_> = mcap::MessageStream::new(&bytes).unwrap().map(Result::unwrap).collect();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[1].channel.topic, "spikearm/a/torque_cmd");
        assert_eq!(msgs[1].channel.message_encoding, "json");
        assert_eq!((msgs[1].log_time, msgs[2].publish_time), (20, 25));
        assert_eq!(&*msgs[1].data, br#"{"v":1,"seq":1,"effort":[2.0]}"#);
        assert_eq!(msgs[2].channel.schema.as_ref().unwrap().name, "spikearm.status");
    }
}
