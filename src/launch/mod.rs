//! Scenarios: a TOML file names the arm, the controllers, the timing mode, the duration and timed events;
//! running it starts a sim node and a controller node per controller over an in-process zenoh session (or as
//! two OS processes over zenoh TCP on loopback: [`run_scenario_processes`]), collects their reports, and
//! writes metrics, plots and a summary table.

mod health;
mod metrics;
mod plan;
mod plots;
mod processes;
mod report;
mod runner;
mod scenario;

pub use health::{HealthSample, HealthTrend, health_trend, rss_kib};
pub use metrics::{RunMetrics, ScenarioMetrics, WindowSpec};
pub use plan::RunPlan;
pub use processes::{ProcessLaunch, run_scenario_processes};
pub use report::{BusRecording, recording_file_name, start_recording, summary_table, write_report};
pub use runner::{RunResult, ScenarioResult, run_scenario};
pub use scenario::{CircleSpec, EventSpec, PayloadCycleSpec, ScenarioSpec};
