//! What both nodes share: the shutdown protocol, how they wait and advance time, the schedule of timed
//! events, input validation and its counters, the e-stop latch, fault injection, the decimating sample log,
//! the probe observers read a node's vital signs from, the `[bus]` settings, the checks of the `[ros2]`
//! names and what one turn of a node did.

mod bus_settings;
mod estop;
mod fault;
mod probe;
mod rate_limit;
mod rejections;
mod ros2_names;
mod sample_log;
mod schedule;
mod service_settings;
mod shutdown;
mod timing;
mod turn;
mod validation;
mod wait;

use std::time::Duration;

pub use bus_settings::BusSettings;
pub use estop::{EstopChange, EstopLatch, EstopRecord};
pub use fault::{FaultInjector, FaultParams};
pub use probe::NodeProbe;
pub use rate_limit::LogLimiter;
pub use rejections::{Clamp, Reason, Rejections};
pub use ros2_names::check_ros2_names;
pub use sample_log::{DEFAULT_MAX_SAMPLES, SampleLog};
pub use schedule::{EVENT_TOLERANCE_S, EstopEvent, PayloadEvent, Schedule, TargetEvent, Timed};
pub use service_settings::ServiceSettings;
pub use shutdown::Shutdown;
pub use timing::TimingMode;
pub use turn::{Patience, Turn};
pub use validation::{Refusal, check_state};
pub use wait::{Subscription, WaitMode};

/// Seconds as a `Duration`; negative and NaN give zero.
pub(crate) fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}
