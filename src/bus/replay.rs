//! Replaying a bus recording (MCAP, as written by [`super::Recorder`]): the recorded bodies are published
//! again, on the same keys under the replaying bus's arm, with their original relative timing.
//!
//! Reads the files of every build: `joint_states` and `torque_cmd` stored as CDR (what the recorder writes
//! now; turned back into their JSON bodies, see [`super::recorded`]) or as JSON (earlier builds, and bodies
//! the compact form would have altered), zstd-compressed chunks and uncompressed ones; lz4 chunks, which no
//! build wrote, are refused with an error naming the compression. The derived visualisation channels
//! (`viz/<arm>/…`) are not bus traffic and are left out.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::recorded::CompactKind;
use super::ros2::CdrError;
use super::session::{Bus, BusError, QosClass, RawPublisher};

/// How to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOptions {
    /// Playback speed: 1 = as recorded, 2 = twice as fast, 0 = as fast as possible. Default 1.
    pub speed: f64,
    /// Only these message kinds (`joint_states`, `status`, …); empty: every recorded key. Default empty.
    pub only: Vec<String>,
    /// Before the first message, wait up to this long for a subscriber to match one of the keys (a peer that
    /// just connected needs a moment to declare its interest). Default 2 s.
    pub wait_for_subscriber: Duration,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self { speed: 1.0, only: Vec::new(), wait_for_subscriber: Duration::from_secs(2) }
    }
}

/// What a replay published.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReplayReport {
    /// Messages published.
    pub messages: u64,
    /// Messages per key (as published, under the replaying arm).
    pub per_topic: BTreeMap<String, u64>,
    /// Recorded messages left out: keys outside `spikearm/<arm>/…` or kinds not selected.
    pub skipped: u64,
    /// Messages of the derived visualisation channels (`viz/<arm>/…`), never published.
    pub derived: u64,
    /// Recorded span, s (last minus first log time).
    pub recorded_s: f64,
    /// Wall time of the replay, s.
    pub wall_s: f64,
    /// Whether a subscriber matched before the first message (false: published into the void, or the
    /// wait was 0).
    pub subscriber_seen: bool,
    /// Stopped before the end.
    pub interrupted: bool,
}

/// Messages of one key in a recording.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TopicCount {
    /// Key.
    pub topic: String,
    /// Message encoding (`json`, or `cdr` for the compact kinds).
    pub encoding: String,
    /// Schema name (`spikearm.joint_states`, `foxglove.PoseInFrame`, …); empty when the channel has none.
    pub schema: String,
    /// Messages.
    pub messages: u64,
    /// First and last log time, ns since the Unix epoch.
    pub first_ns: u64,
    /// Last log time, ns since the Unix epoch.
    pub last_ns: u64,
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The recording could not be read.
    #[error("reading MCAP: {0}")]
    Mcap(#[from] mcap::McapError),
    /// Publishing failed.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// Bad options.
    #[error("replay: {0}")]
    Options(String),
    /// A channel in an encoding or with a schema this build cannot turn back into a bus body.
    #[error("replay: channel {topic}: {detail}")]
    Unsupported {
        /// The channel's topic.
        topic: String,
        /// What is not supported.
        detail: String,
    },
    /// A stored CDR message that does not decode.
    #[error("replay: a message on {topic} does not decode: {error}")]
    Cdr {
        /// The channel's topic.
        topic: String,
        /// Why.
        error: CdrError,
    },
}

/// Counts the messages of every key in a recording, in key order.
pub fn mcap_topic_counts(mcap: &[u8]) -> Result<Vec<TopicCount>, ReplayError> {
    let mut counts: BTreeMap<String, TopicCount> = BTreeMap::new();
    for m in mcap::MessageStream::new(mcap)? {
        let m = m?;
        let c = counts.entry(m.channel.topic.clone()).or_insert_with(|| TopicCount {
            topic: m.channel.topic.clone(),
            encoding: m.channel.message_encoding.clone(),
            schema: m.channel.schema.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
            messages: 0,
            first_ns: m.log_time,
            last_ns: m.log_time,
        });
        c.messages += 1;
        c.first_ns = c.first_ns.min(m.log_time);
        c.last_ns = c.last_ns.max(m.log_time);
    }
    Ok(counts.into_values().collect())
}

/// Every recorded bus message as its key and JSON body (the compact kinds decoded), in file order; the derived
/// visualisation channels are left out.
pub fn recorded_bus_messages(mcap: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ReplayError> {
    let mut out = Vec::new();
    for m in mcap::MessageStream::new(mcap)? {
        let m = m?;
        if !is_derived(&m.channel.topic) {
            out.push((m.channel.topic.clone(), bus_body(&m)?.into_owned()));
        }
    }
    Ok(out)
}

/// The arm a recording was made on: the `<arm>` of its first `spikearm/<arm>/…` key.
pub fn recorded_arm(mcap: &[u8]) -> Result<Option<String>, ReplayError> {
    for m in mcap::MessageStream::new(mcap)? {
        if let Some((arm, _)) = split_key(&m?.channel.topic) {
            return Ok(Some(arm.to_string()));
        }
    }
    Ok(None)
}

/// The bus body of a recorded message: JSON as it is, the compact kinds decoded back into JSON.
fn bus_body<'a>(m: &'a mcap::Message<'_>) -> Result<Cow<'a, [u8]>, ReplayError> {
    let c = &m.channel;
    match c.message_encoding.as_str() {
        "json" => Ok(Cow::Borrowed(&m.data[..])),
        "cdr" => {
            let kind = c.schema.as_ref().and_then(|s| CompactKind::from_schema(&s.name, &s.data)).ok_or_else(|| {
                ReplayError::Unsupported {
                    topic: c.topic.clone(),
                    detail: format!(
                        "CDR with schema {:?}, not one this build wrote",
                        c.schema.as_ref().map(|s| s.name.as_str()).unwrap_or("(none)")
                    ),
                }
            })?;
            kind.decode_to_json(&m.data)
                .map(Cow::Owned)
                .map_err(|error| ReplayError::Cdr { topic: c.topic.clone(), error })
        }
        other => Err(ReplayError::Unsupported {
            topic: c.topic.clone(),
            detail: format!("message encoding {other:?} (json and cdr are replayed)"),
        }),
    }
}

/// Whether a channel is one of the recorder's derived visualisation channels (`viz/<arm>/…`).
fn is_derived(topic: &str) -> bool {
    topic.strip_prefix(super::VIZ_ROOT).is_some_and(|rest| rest.starts_with('/'))
}

/// `spikearm/<arm>/<rest>` → `(arm, rest)`.
fn split_key(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix(super::Keys::ROOT)?.strip_prefix('/')?;
    let (arm, rest) = rest.split_once('/')?;
    (!arm.is_empty() && !rest.is_empty()).then_some((arm, rest))
}

/// Publishes the recorded messages of `mcap` on `bus`, each key `spikearm/<recorded arm>/<rest>` becoming
/// `<bus prefix>/<rest>`, spaced by their recorded log times divided by `opts.speed`. Returns early (with
/// `interrupted`) once `stop()` is true. Publishers use the event QoS (block rather than drop when
/// congested): a replay at full speed should lose nothing.
pub fn replay_mcap(
    bus: &Bus,
    mcap: &[u8],
    opts: &ReplayOptions,
    stop: &dyn Fn() -> bool,
) -> Result<ReplayReport, ReplayError> {
    if !(opts.speed.is_finite() && opts.speed >= 0.0) {
        return Err(ReplayError::Options(format!("speed must be ≥ 0 (0 = as fast as possible), got {}", opts.speed)));
    }
    let prefix = bus.keys().prefix().to_string();
    let selected = |rest: &str| opts.only.is_empty() || opts.only.iter().any(|k| rest.split('/').next() == Some(k));
    let target_key =
        |topic: &str| split_key(topic).filter(|(_, rest)| selected(rest)).map(|(_, rest)| format!("{prefix}/{rest}"));

    // Declare every publisher up front (from the summary when the file has one) so that the first messages
    // are not delayed by declarations, and so that a subscriber can be waited for.
    let mut publishers: HashMap<String, RawPublisher> = HashMap::new();
    if let Ok(Some(summary)) = mcap::Summary::read(mcap) {
        for c in summary.channels.values() {
            if let Some(key) = target_key(&c.topic)
                && !publishers.contains_key(&key)
            {
                publishers.insert(key.clone(), bus.raw_publisher(&key, QosClass::Event)?);
            }
        }
    }
    let mut report = ReplayReport::default();
    let deadline = Instant::now() + opts.wait_for_subscriber;
    while !opts.wait_for_subscriber.is_zero() && !stop() {
        if publishers.values().any(RawPublisher::has_subscribers) {
            report.subscriber_seen = true;
            break;
        }
        if Instant::now() >= deadline {
            tracing::warn!("replay: no subscriber after {:?}; publishing anyway", opts.wait_for_subscriber);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    let start = Instant::now();
    let mut first: Option<u64> = None;
    let mut last = 0u64;
    for m in mcap::MessageStream::new(mcap)? {
        let m = m?;
        if stop() {
            report.interrupted = true;
            break;
        }
        if is_derived(&m.channel.topic) {
            report.derived += 1;
            continue;
        }
        let Some(key) = target_key(&m.channel.topic) else {
            report.skipped += 1;
            continue;
        };
        // Decoded before the wait, so that the publication keeps the recorded pace.
        let body = bus_body(&m)?;
        let t0 = *first.get_or_insert(m.log_time);
        last = last.max(m.log_time);
        if opts.speed > 0.0 {
            let due = start + Duration::from_secs_f64(m.log_time.saturating_sub(t0) as f64 * 1e-9 / opts.speed);
            // Sleep in slices so that a stop request is seen within 50 ms even across long gaps.
            while let Some(wait) = due.checked_duration_since(Instant::now()) {
                if stop() {
                    report.interrupted = true;
                    break;
                }
                std::thread::sleep(wait.min(Duration::from_millis(50)));
            }
            if report.interrupted {
                break;
            }
        }
        let publisher = match publishers.get(&key) {
            Some(p) => p,
            None => {
                let p = bus.raw_publisher(&key, QosClass::Event)?;
                publishers.entry(key.clone()).or_insert(p)
            }
        };
        publisher.put(&body)?;
        report.messages += 1;
        *report.per_topic.entry(key).or_default() += 1;
    }
    report.recorded_s = first.map_or(0.0, |f| last.saturating_sub(f) as f64 * 1e-9);
    report.wall_s = start.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_arm_and_rest() {
        assert_eq!(split_key("spikearm/ur5e/joint_states"), Some(("ur5e", "joint_states")));
        assert_eq!(split_key("spikearm/ur5e/status/sim"), Some(("ur5e", "status/sim")));
        assert_eq!(split_key("spikearm/ur5e"), None);
        assert_eq!(split_key("other/ur5e/joint_states"), None);
        assert_eq!(split_key("spikearmx/ur5e/joint_states"), None);
        assert!(is_derived("viz/ur5e/ee") && !is_derived("vizier/x") && !is_derived("spikearm/ur5e/target"));
    }
}
