//! Scenarios and deployments: a TOML scenario names the arm, the controllers, the timing mode, the duration
//! and timed events; it expands into one description of what runs ([`Deployment`]: per run, the nodes and
//! their complete settings), which runs in one process over an in-process zenoh session ([`run_scenario`])
//! or as OS processes over zenoh TCP on loopback ([`run_scenario_processes`]). The node reports become
//! metrics, plots and a summary table.
//!
//! Files depend one way: `scenario` → `graph` → (`in_process` | `processes`) → `result` → (`report` →
//! `plots`), with `metrics`, `health` and `recording` below them.

mod graph;
mod health;
mod in_process;
mod metrics;
mod plots;
mod processes;
mod recording;
mod report;
mod result;
mod scenario;

pub use graph::{Deployment, NodeSpec, RunGraph};
pub use health::{HealthSample, HealthTrend, health_trend, rss_kib};
pub use in_process::run_scenario;
pub use metrics::{RunMetrics, ScenarioMetrics};
pub use processes::{ProcessLaunch, run_scenario_processes};
pub use recording::{BusRecording, recording_file_name, start_recording};
pub use report::{summary_table, write_report};
pub use result::{RunResult, ScenarioResult};
pub use scenario::{CircleSpec, EventSpec, PayloadCycleSpec, ScenarioSpec};
