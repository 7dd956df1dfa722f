//! Scenarios: a TOML file names the arm, the controllers, the timing mode, the duration and timed events;
//! running it starts a sim node and a controller node per controller over an in-process zenoh session,
//! collects their reports, and writes metrics, plots and a summary table.

mod metrics;
mod plots;
mod report;
mod runner;
mod scenario;

pub use metrics::{RunMetrics, ScenarioMetrics, WindowSpec};
pub use report::{summary_table, write_report};
pub use runner::{RunResult, ScenarioResult, run_scenario};
pub use scenario::{CircleSpec, EventSpec, ScenarioSpec};
