//! What a node refused or clamped, by reason: counted in fixed arrays (no allocation per refusal), logged
//! through a [`LogLimiter`], reported as maps in the node's report and `status`.

use std::collections::BTreeMap;
use std::fmt::{self, Display, Write as _};
use std::time::{Duration, Instant};

use super::rate_limit::LogLimiter;
use crate::bus::ros2::CdrError;
use crate::bus::{DecodeError, Violation};

/// Why a body from the bus was dropped. The names ([`Reason::as_str`]) are the keys of `rejected` in reports
/// and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Larger than [`crate::bus::MAX_BODY_BYTES`].
    TooLarge,
    /// Not JSON, wrong types, missing fields, numbers out of the type's range.
    Malformed,
    /// Another schema version.
    Version,
    /// NaN or infinite numbers.
    NonFinite,
    /// Wrong or inconsistent lengths (including a joint count that is not the arm's).
    Dimension,
    /// A value outside its documented range (e.g. a payload heavier than the sim's limit).
    OutOfRange,
    /// Joint names that are not this arm's (a state meant for another arm).
    UnknownArm,
    /// Anything else a decoder refused.
    Invalid,
}

impl Reason {
    /// Every reason, in counter order.
    pub const ALL: [Reason; 8] = [
        Reason::TooLarge,
        Reason::Malformed,
        Reason::Version,
        Reason::NonFinite,
        Reason::Dimension,
        Reason::OutOfRange,
        Reason::UnknownArm,
        Reason::Invalid,
    ];

    /// Counter label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::Version => "version",
            Self::NonFinite => "non_finite",
            Self::Dimension => "dimension",
            Self::OutOfRange => "out_of_range",
            Self::UnknownArm => "unknown_arm",
            Self::Invalid => "invalid",
        }
    }

    /// The reason a decoder gave.
    pub fn of(e: &DecodeError) -> Self {
        match e {
            DecodeError::TooLarge { .. } => Self::TooLarge,
            DecodeError::Malformed { .. } => Self::Malformed,
            DecodeError::Version { .. } => Self::Version,
            DecodeError::Refused { violation, .. } => Self::of_violation(violation),
            DecodeError::Invalid { .. } => Self::Invalid,
        }
    }

    /// The reason for a value a message's check refused.
    pub fn of_violation(v: &Violation) -> Self {
        match v {
            Violation::NonFinite(_) => Self::NonFinite,
            Violation::Dimension(_) => Self::Dimension,
            Violation::OutOfRange(_) => Self::OutOfRange,
        }
    }

    /// The reason for a ROS 2 body the CDR decoder refused: `too_large` above the cap, otherwise
    /// `malformed`, as for a JSON body that does not parse.
    pub fn of_cdr(e: &CdrError) -> Self {
        match e {
            CdrError::TooLarge { .. } => Self::TooLarge,
            _ => Self::Malformed,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What was accepted but clamped. Names ([`Clamp::as_str`]) are the keys of `clamped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clamp {
    /// A target outside the arm's reach, moved onto the reach sphere.
    Target,
    /// A torque command with entries above the joints' effort limits (the sim's physics, or the controller's
    /// own guard, clamps them).
    Torque,
    /// A controller command whose change from the previous one exceeded the torque rate limit.
    TorqueRate,
    /// A controller command that got a restoring torque near a joint's position or velocity limit.
    JointLimit,
}

impl Clamp {
    /// Every clamp kind, in counter order.
    pub const ALL: [Clamp; 4] = [Clamp::Target, Clamp::Torque, Clamp::TorqueRate, Clamp::JointLimit];

    /// Counter label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Target => "target",
            Self::Torque => "torque",
            Self::TorqueRate => "torque_rate",
            Self::JointLimit => "joint_limit",
        }
    }
}

const N_REASONS: usize = Reason::ALL.len();
const N_CLAMPS: usize = Clamp::ALL.len();
const N_SLOTS: usize = N_REASONS + N_CLAMPS;
/// Longest kept refusal text, bytes (longer ones are cut): the buffer is allocated once.
const LAST_CAP: usize = 240;
/// One log line per reason per second at most, after the first.
const LOG_PERIOD: Duration = Duration::from_secs(1);

/// Counts, logs (rate-limited) and remembers the latest refusal of one node.
#[derive(Debug, Clone)]
pub struct Rejections {
    node: String,
    counts: [u64; N_REASONS],
    clamps: [u64; N_CLAMPS],
    limiter: LogLimiter<N_SLOTS>,
    last: String,
}

impl Rejections {
    /// Empty counters for node `node` (named in log lines).
    pub fn new(node: &str) -> Self {
        Self {
            node: node.to_string(),
            counts: [0; N_REASONS],
            clamps: [0; N_CLAMPS],
            limiter: LogLimiter::new(LOG_PERIOD),
            last: String::with_capacity(LAST_CAP + 4),
        }
    }

    /// Counts a body refused by its decoder.
    pub fn decode_error(&mut self, e: &DecodeError) {
        self.refuse(Reason::of(e), e.kind(), e);
    }

    /// Counts a ROS 2 body of type `ros_type` (e.g. `std_msgs/msg/Float64MultiArray`) refused by the CDR
    /// decoder ([`Reason::of_cdr`]).
    pub fn cdr_error(&mut self, ros_type: &str, e: &CdrError) {
        self.refuse(Reason::of_cdr(e), ros_type, e);
    }

    /// Counts a body of kind `kind` dropped for `reason`.
    pub fn refuse(&mut self, reason: Reason, kind: &str, detail: &dyn Display) {
        self.counts[reason.index()] += 1;
        self.remember(kind, reason.as_str(), detail);
        if let Some(suppressed) = self.limiter.admit(reason.index(), Instant::now()) {
            tracing::warn!(
                node = %self.node, reason = reason.as_str(), total = self.counts[reason.index()], suppressed,
                "refused a {kind} body: {detail}"
            );
        }
    }

    /// Counts a value of kind `kind` that was accepted after clamping.
    pub fn clamp(&mut self, what: Clamp, kind: &str, detail: &dyn Display) {
        self.clamps[what as usize] += 1;
        self.remember(kind, what.as_str(), detail);
        if let Some(suppressed) = self.limiter.admit(N_REASONS + what as usize, Instant::now()) {
            tracing::warn!(node = %self.node, what = what.as_str(), total = self.clamps[what as usize], suppressed, "clamped a {kind}: {detail}");
        }
    }

    /// Counts a value the node limited itself as part of normal operation (the controller's command guard): no
    /// log line and no `last_refusal`, which speak of what came from outside; the count shows in `clamped`.
    pub fn count_clamp(&mut self, what: Clamp) {
        self.clamps[what as usize] += 1;
    }

    /// Bodies dropped for `reason`.
    pub fn count(&self, reason: Reason) -> u64 {
        self.counts[reason.index()]
    }

    /// Values clamped of kind `what`.
    pub fn clamped(&self, what: Clamp) -> u64 {
        self.clamps[what as usize]
    }

    /// Bodies dropped for any reason.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The latest refusal or clamp in words, if any.
    pub fn last(&self) -> Option<&str> {
        (!self.last.is_empty()).then_some(self.last.as_str())
    }

    /// Writes the non-zero counters into report maps (reason → count, clamp kind → count). Allocates: call
    /// when reporting, not per refusal.
    pub fn fill(&self, rejected: &mut BTreeMap<String, u64>, clamped: &mut BTreeMap<String, u64>) {
        for r in Reason::ALL {
            if self.count(r) > 0 {
                rejected.insert(r.as_str().to_string(), self.count(r));
            }
        }
        for c in Clamp::ALL {
            if self.clamped(c) > 0 {
                clamped.insert(c.as_str().to_string(), self.clamped(c));
            }
        }
    }

    fn remember(&mut self, kind: &str, label: &str, detail: &dyn Display) {
        self.last.clear();
        let mut w = Bounded { s: &mut self.last, cap: LAST_CAP };
        // A full buffer ends the write early; what fits is kept.
        let _ = write!(w, "{kind}: {label}: {detail}");
    }
}

/// Writes into a string up to `cap` bytes (on a char boundary), then refuses: never grows the buffer.
struct Bounded<'a> {
    s: &'a mut String,
    cap: usize,
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, part: &str) -> fmt::Result {
        let room = self.cap.saturating_sub(self.s.len());
        if part.len() <= room {
            self.s.push_str(part);
            return Ok(());
        }
        let mut cut = room;
        while !part.is_char_boundary(cut) {
            cut -= 1;
        }
        self.s.push_str(&part[..cut]);
        self.s.push('…');
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{JointStates, decode};

    #[test]
    fn counts_by_reason_and_keeps_a_bounded_last_message() {
        let mut r = Rejections::new("test");
        let e = decode::<JointStates>(b"{").unwrap_err();
        r.decode_error(&e);
        r.decode_error(&e);
        let long = "x".repeat(10_000);
        r.refuse(Reason::UnknownArm, "joint_states", &long);
        r.clamp(Clamp::Target, "target", &"moved onto the reach sphere");
        assert_eq!((r.count(Reason::Malformed), r.count(Reason::UnknownArm), r.total()), (2, 1, 3));
        let (mut rej, mut cl) = (BTreeMap::new(), BTreeMap::new());
        r.fill(&mut rej, &mut cl);
        assert_eq!(rej, BTreeMap::from([("malformed".into(), 2), ("unknown_arm".into(), 1)]));
        assert_eq!(cl, BTreeMap::from([("target".into(), 1)]));
        assert!(r.last().unwrap().starts_with("target: target: moved"));
        r.refuse(Reason::UnknownArm, "joint_states", &long);
        let last = r.last().unwrap();
        assert!(last.len() <= LAST_CAP + '…'.len_utf8() && last.ends_with('…'), "{}", last.len());
        assert!(r.last.capacity() <= LAST_CAP + 4, "the buffer never grew");
    }

    #[test]
    fn malformed_cdr_counts_like_malformed_json() {
        use crate::bus::ros2::{Float64MultiArray, MAX_CDR_BYTES, decode as cdr_decode};
        let mut r = Rejections::new("test");
        let truncated = cdr_decode::<Float64MultiArray>(&[0, 1, 0, 0, 1]).unwrap_err();
        r.cdr_error("std_msgs/msg/Float64MultiArray", &truncated);
        let huge = cdr_decode::<Float64MultiArray>(&vec![0; MAX_CDR_BYTES + 1]).unwrap_err();
        r.cdr_error("std_msgs/msg/Float64MultiArray", &huge);
        assert_eq!((r.count(Reason::Malformed), r.count(Reason::TooLarge)), (1, 1));
        assert!(r.last().unwrap().starts_with("std_msgs/msg/Float64MultiArray: too_large: "));
    }

    #[test]
    fn every_decoder_reason_has_its_own_counter() {
        for r in Reason::ALL {
            assert_eq!(Reason::ALL[r.index()], r);
        }
        let names: std::collections::BTreeSet<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), Reason::ALL.len());
    }
}
