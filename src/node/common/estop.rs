//! The e-stop latch both nodes keep: engaged by any engage message (or any body on the e-stop key that
//! cannot be decoded — fail-safe), released only by an explicit, valid clear (or a scheduled clear).
//! Targets, payloads, time and repeated engages never release it.

use super::rejections::Rejections;
use crate::bus::ros2::CdrError;
use crate::bus::{DecodeError, Estop};

/// One e-stop transition as a node applied it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EstopRecord {
    /// `seq` of the newest joint state the node had when it applied the transition (None: none yet). The
    /// sim's next step (seq + 1) and the controller's next state are the first to obey it.
    pub seq: Option<u64>,
    /// Sim time of that state, s.
    pub stamp: f64,
    /// Engaged (true) or cleared (false).
    pub engaged: bool,
    /// The message's `source`, `schedule`, or `refused <reason> body` for a fail-safe engage.
    pub source: String,
}

/// A change of the latch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstopChange {
    /// It just latched.
    Engaged,
    /// It was just cleared.
    Cleared,
}

/// The latched e-stop of one node, with the transitions it went through.
#[derive(Debug, Clone, Default)]
pub struct EstopLatch {
    engaged: bool,
    log: Vec<EstopRecord>,
}

impl EstopLatch {
    /// Not engaged.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the e-stop holds.
    pub fn engaged(&self) -> bool {
        self.engaged
    }

    /// The transitions so far.
    pub fn log(&self) -> &[EstopRecord] {
        &self.log
    }

    /// Applies one body from the e-stop key. A refused body is counted in `rej` and engages the latch.
    pub fn on_bus(
        &mut self,
        msg: Result<Estop, DecodeError>,
        rej: &mut Rejections,
        seq: Option<u64>,
        stamp: f64,
    ) -> Option<EstopChange> {
        match msg {
            Ok(e) => self.set(e.engaged, seq, stamp, || e.source.clone()),
            Err(err) => {
                rej.decode_error(&err);
                self.set(true, seq, stamp, || format!("refused {} body", err.reason()))
            }
        }
    }

    /// Applies one `std_msgs/msg/Bool` from a ROS 2 e-stop topic (`true` engages, `false` clears). As on
    /// the native key, a body that does not decode is counted in `rej` and engages the latch.
    pub fn on_ros2(
        &mut self,
        msg: Result<bool, CdrError>,
        rej: &mut Rejections,
        seq: Option<u64>,
        stamp: f64,
    ) -> Option<EstopChange> {
        match msg {
            Ok(engaged) => self.set(engaged, seq, stamp, || "ros2".to_string()),
            Err(err) => {
                rej.cdr_error("std_msgs/msg/Bool", &err);
                self.set(true, seq, stamp, || format!("refused {} ros2 body", err.reason()))
            }
        }
    }

    /// Applies a scheduled engage or clear.
    pub fn on_schedule(&mut self, engaged: bool, seq: Option<u64>, stamp: f64) -> Option<EstopChange> {
        self.set(engaged, seq, stamp, || "schedule".to_string())
    }

    fn set(
        &mut self,
        engaged: bool,
        seq: Option<u64>,
        stamp: f64,
        source: impl FnOnce() -> String,
    ) -> Option<EstopChange> {
        if engaged == self.engaged {
            return None;
        }
        self.engaged = engaged;
        let source = source();
        if engaged {
            tracing::warn!(seq, stamp, source = %source, "E-STOP engaged (latched until an explicit clear)");
        } else {
            tracing::info!(seq, stamp, source = %source, "e-stop cleared");
        }
        self.log.push(EstopRecord { seq, stamp, engaged, source });
        Some(if engaged { EstopChange::Engaged } else { EstopChange::Cleared })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{SCHEMA_VERSION, decode};

    fn msg(engaged: bool) -> Result<Estop, DecodeError> {
        Ok(Estop { v: SCHEMA_VERSION, engaged, source: "t".into() })
    }

    #[test]
    fn only_an_explicit_clear_releases_and_undecodable_bodies_engage() {
        let mut rej = Rejections::new("t");
        let mut l = EstopLatch::new();
        assert_eq!(l.on_bus(msg(false), &mut rej, None, 0.0), None, "a clear while clear changes nothing");
        assert_eq!(l.on_bus(msg(true), &mut rej, Some(3), 0.003), Some(EstopChange::Engaged));
        for _ in 0..5 {
            assert_eq!(l.on_bus(msg(true), &mut rej, Some(4), 0.004), None, "repeated engage");
        }
        assert!(l.engaged());
        assert_eq!(l.on_bus(msg(false), &mut rej, Some(9), 0.009), Some(EstopChange::Cleared));
        // A body of a future version on the e-stop key is still a stop request.
        let future = decode::<Estop>(br#"{"v":2,"engaged":false}"#);
        assert_eq!(l.on_bus(future, &mut rej, Some(10), 0.01), Some(EstopChange::Engaged));
        assert_eq!(rej.count(super::super::rejections::Reason::Version), 1);
        let garbage = decode::<Estop>(b"{\"v\":1,\"engaged\":0}");
        assert_eq!(l.on_bus(garbage, &mut rej, Some(11), 0.011), None, "stays engaged");
        assert!(l.engaged());
        let log: Vec<_> = l.log().iter().map(|r| (r.seq, r.engaged)).collect();
        assert_eq!(log, [(Some(3), true), (Some(9), false), (Some(10), true)]);
        assert_eq!(l.log()[2].source, "refused version body");
    }

    #[test]
    fn ros2_bools_engage_and_clear_and_bad_cdr_engages() {
        use crate::bus::ros2::{BoolMsg, decode as cdr_decode, encode};
        let mut rej = Rejections::new("t");
        let mut l = EstopLatch::new();
        let on = cdr_decode::<BoolMsg>(&encode(&BoolMsg { data: true })).map(|b| b.data);
        assert_eq!(l.on_ros2(on, &mut rej, Some(1), 0.001), Some(EstopChange::Engaged));
        assert_eq!(l.on_ros2(Ok(false), &mut rej, Some(2), 0.002), Some(EstopChange::Cleared));
        let bad = cdr_decode::<BoolMsg>(&[0, 1, 0, 0, 7]).map(|b| b.data);
        assert_eq!(l.on_ros2(bad, &mut rej, Some(3), 0.003), Some(EstopChange::Engaged));
        assert_eq!(rej.count(super::super::rejections::Reason::Malformed), 1);
        assert_eq!(l.log()[2].source, "refused invalid_bool ros2 body");
    }
}
