//! Scenarios and deployments: a TOML scenario names the arm (or, with `[[arms]]`, a fleet of arms), the
//! controllers, the timing mode, the duration and timed events; it expands into one description of what runs
//! ([`Deployment`]: per run, the nodes of every arm and their complete settings), which runs in one process
//! over one zenoh session ([`run_fleet`], [`run_scenario`]) or as OS processes, clients of a zenoh router
//! ([`run_fleet_processes`], [`run_scenario_processes`]). The node reports become per-arm metrics, plots
//! and summary tables, and a fleet table.
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
pub use in_process::{RunOptions, run_fleet, run_scenario};
pub use metrics::{RunMetrics, ScenarioMetrics};
pub use processes::{HostedLaunch, PerRole, ProcessLaunch, run_fleet_processes, run_scenario_processes};
pub use recording::{BusRecording, recording_file_name, start_recording};
pub use report::{fleet_table, lap_table, plain_controller_name, summary_table, write_fleet_report, write_report};
pub use result::{FleetResult, RunResult, ScenarioResult};
pub use scenario::{ArmSpec, CircleSpec, EventSpec, PayloadCycleSpec, ScenarioSpec};
