//! The report directory (metrics JSON, plots) and the terminal summary table.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::result::{FleetResult, ScenarioResult};

/// Writes `metrics.json`, `scenario.toml` and the plots (SVG and PNG) into `dir` (created). The bus
/// recordings (`bus-<controller>.mcap`) are written there during the runs.
pub fn write_report(dir: &Path, r: &ScenarioResult) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let metrics = serde_json::to_string_pretty(&r.metrics)?;
    std::fs::write(dir.join("metrics.json"), metrics).context("writing metrics.json")?;
    std::fs::write(dir.join("scenario.toml"), toml::to_string(&r.spec)?).context("writing scenario.toml")?;
    super::plots::write_plots(dir, r).context("writing plots")?;
    Ok(())
}

/// One arm's line of the fleet table and `fleet.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FleetArmLine {
    /// Arm id.
    pub arm: String,
    /// Main controller's mean error in the last window, m (NaN without windows).
    pub last_window_error_m: f64,
    /// The comparison controller's, m (NaN without a comparison run).
    pub comparison_error_m: f64,
    /// Normalised error in the last window (1 = the payload's whole effect remains, 0 = compensated).
    pub normalised_error: Option<f64>,
    /// Physics steps and lockstep speed of the main run.
    pub steps: u64,
    /// Steps per second of wall time (main run).
    pub steps_per_s: f64,
    /// Watchdog trips and deadline misses over all runs.
    pub watchdog_trips: u64,
    /// See `watchdog_trips`.
    pub deadline_misses: u64,
}

/// Per arm: the figures of the fleet table.
pub fn fleet_lines(r: &FleetResult) -> Vec<FleetArmLine> {
    r.arms
        .iter()
        .map(|a| {
            let last = a.spec.windows.last().map(|w| w.name.as_str()).unwrap_or("");
            let err =
                |i: usize| a.metrics.runs.get(i).and_then(|m| m.window_error_m.get(last)).copied().unwrap_or(f64::NAN);
            let main = a.metrics.runs.first();
            FleetArmLine {
                arm: a.spec.arm.clone(),
                last_window_error_m: err(0),
                comparison_error_m: err(1),
                normalised_error: a.metrics.normalised_error,
                steps: main.map_or(0, |m| m.steps),
                steps_per_s: main.map_or(0.0, |m| m.steps_per_s),
                watchdog_trips: a.metrics.runs.iter().map(|m| m.watchdog_trips).sum(),
                deadline_misses: a.metrics.runs.iter().map(|m| m.deadline_misses).sum(),
            }
        })
        .collect()
}

/// Writes a fleet's report: each arm's report ([`write_report`]) into `<dir>/<arm>/`, and `fleet.json` (the
/// fleet table's figures) and the `fleet_error` plot into `dir`. A one-arm scenario's report is `dir` itself.
pub fn write_fleet_report(dir: &Path, r: &FleetResult) -> anyhow::Result<()> {
    if !r.spec.is_fleet() {
        return write_report(dir, &r.arms[0]);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for a in &r.arms {
        write_report(&dir.join(&a.spec.arm), a)?;
    }
    let lines = fleet_lines(r);
    std::fs::write(dir.join("fleet.json"), serde_json::to_string_pretty(&lines)?).context("writing fleet.json")?;
    std::fs::write(dir.join("scenario.toml"), toml::to_string(&r.spec)?).context("writing scenario.toml")?;
    super::plots::write_fleet_plot(dir, r).context("writing the fleet plot")?;
    Ok(())
}

/// The fleet table: per arm, the main and comparison controllers' error in the last window (mm), the
/// normalised error, speed and safety counters. A one-arm scenario gets its summary table.
pub fn fleet_table(r: &FleetResult) -> String {
    if !r.spec.is_fleet() {
        return summary_table(&r.arms[0]);
    }
    let mut s = String::new();
    for a in &r.arms {
        let _ = writeln!(s, "arm {}:\n{}", a.spec.arm, summary_table(a));
    }
    let (main, cmp) = (r.spec.controllers.first(), r.spec.controllers.get(1));
    let last = r.spec.windows.last().map_or("-", |w| w.name.as_str());
    let _ = writeln!(s, "fleet `{}`, last window `{last}`:", r.spec.name);
    let _ = writeln!(
        s,
        "{:<16}{:>14}{:>14}{:>12}{:>12}{:>10}{:>10}",
        "arm",
        format!("{} mm", main.map_or("-", |c| c.as_str())),
        format!("{} mm", cmp.map_or("-", |c| c.as_str())),
        "normalised",
        "steps/s",
        "watchdog",
        "misses"
    );
    for l in fleet_lines(r) {
        let n = l.normalised_error.map_or("-".to_string(), |x| format!("{x:.2}"));
        let _ = writeln!(
            s,
            "{:<16}{:>14.2}{:>14.2}{:>12}{:>12.0}{:>10}{:>10}",
            l.arm,
            l.last_window_error_m * 1e3,
            l.comparison_error_m * 1e3,
            n,
            l.steps_per_s,
            l.watchdog_trips,
            l.deadline_misses
        );
    }
    s
}

/// A controller's name in a user's words: `adaptive-loihi` → `adaptive (spiking core)`, `osc` → `plain OSC`.
pub fn plain_controller_name(controller: &str) -> String {
    match controller {
        "osc" => "plain OSC".into(),
        "joint-pd" => "joint PD".into(),
        c if c.starts_with("pid") => "PID".into(),
        c if c.starts_with("adaptive") && c.contains("float") => "adaptive (float core)".into(),
        c if c.starts_with("adaptive") => "adaptive (spiking core)".into(),
        c => c.into(),
    }
}

/// Laps shown in the terminal's per-lap table; a longer run shows its first and last ones (`report/metrics.json`
/// and the `lap_error` plot hold them all).
const LAPS_SHOWN: usize = 8;

/// The per-lap table: per controller, the mean end-effector error of each lap of the target circle (mm), and
/// under each lap the payload carried at its end. `None` without laps.
pub fn lap_table(r: &ScenarioResult) -> Option<String> {
    let laps = &r.metrics.laps;
    if laps.is_empty() {
        return None;
    }
    let shown: Vec<usize> = if laps.len() <= LAPS_SHOWN {
        (0..laps.len()).collect()
    } else {
        (0..LAPS_SHOWN / 2).chain(laps.len() - LAPS_SHOWN / 2..laps.len()).collect()
    };
    let names: Vec<String> = r.metrics.runs.iter().map(|m| plain_controller_name(&m.controller)).collect();
    let first = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max(12) + 2;
    let load = |k: usize| {
        let kg = r.spec.payload_at(laps[k][1] - 1e-9);
        if kg > 0.0 { format!("{kg} kg") } else { "no load".into() }
    };
    const COL: usize = 10;
    let mut s = String::new();
    let _ = write!(s, "{:<first$}", "");
    for &k in &shown {
        let _ = write!(s, "{:>COL$}", format!("lap {}", k + 1));
    }
    let _ = write!(s, "\n{:<first$}", "");
    for &k in &shown {
        let _ = write!(s, "{:>COL$}", load(k));
    }
    s.push('\n');
    for (m, name) in r.metrics.runs.iter().zip(&names) {
        let _ = write!(s, "{name:<first$}");
        for &k in &shown {
            let _ = write!(s, "{:>COL$.2}", m.lap_error_m.get(k).copied().unwrap_or(f64::NAN) * 1e3);
        }
        let _ = writeln!(s, "  mm");
    }
    Some(s)
}

/// Runs at least this long (wall time, s) get a memory and deadline-miss line in the summary.
const LONG_RUN_WALL_S: f64 = 120.0;

/// The summary table: mean error per window and controller (mm), speed, safety counters.
pub fn summary_table(r: &ScenarioResult) -> String {
    let mut s = String::new();
    let windows: Vec<&str> = r.spec.windows.iter().map(|w| w.name.as_str()).collect();
    // Each column as wide as its heading (names vary), and two spaces between columns.
    let heads: Vec<String> = windows.iter().map(|w| format!("{w} (mm)")).collect();
    let widths: Vec<usize> = heads.iter().map(|h| h.chars().count().max(8) + 2).collect();
    let _ = write!(s, "{:<18}", "controller");
    for (h, w) in heads.iter().zip(&widths) {
        let _ = write!(s, "{h:>w$}");
    }
    let _ = writeln!(s, "{:>12}{:>10}{:>10}", "steps/s", "watchdog", "misses");
    for m in &r.metrics.runs {
        let _ = write!(s, "{:<18}", m.controller);
        for (name, w) in windows.iter().zip(&widths) {
            let _ = write!(s, "{:>w$.2}", m.window_error_m.get(*name).copied().unwrap_or(f64::NAN) * 1000.0);
        }
        let _ = writeln!(s, "{:>12.0}{:>10}{:>10}", m.steps_per_s, m.watchdog_trips, m.deadline_misses);
    }
    if let Some(x) = r.metrics.normalised_error {
        let _ = writeln!(
            s,
            "normalised error of {} vs {} in `{}`: {x:.2} (1 = payload effect fully present, 0 = compensated)",
            r.metrics.runs[0].controller,
            r.metrics.runs[1].controller,
            windows.last().unwrap_or(&"")
        );
    }
    if let Some(laps) = lap_table(r) {
        let _ = writeln!(s, "mean end-effector error per lap of the target circle:\n{laps}");
    }
    // Long runs (payload cycles): the worst window with and without the payload says more than a wide table.
    let worst = |on: bool| {
        r.spec
            .windows
            .iter()
            .skip(1)
            .filter(|w| (r.spec.payload_at(w.to_s - 1e-9) > 0.0) == on)
            .filter_map(|w| r.metrics.normalised_per_window.get(&w.name).map(|x| (x, &w.name)))
            .max_by(|a, b| a.0.total_cmp(b.0))
    };
    if let (Some((on, won)), Some((off, woff))) = (worst(true), worst(false)) {
        let _ = writeln!(s, "worst normalised error: {on:.2} with the payload (`{won}`), {off:.2} without (`{woff}`)");
    }
    // Memory and deadline-miss trends mean something on long runs only (soak, daemon).
    for m in r.metrics.runs.iter().filter(|m| m.wall_s >= LONG_RUN_WALL_S) {
        if let Some(h) = &m.health {
            let _ = writeln!(
                s,
                "{}: memory {} → {} KiB after warm-up (peak {:+.1} %), deadline misses/min {:.1} → {:.1} (trend {:+.2}/min per min), checkpoints {}",
                m.controller,
                h.rss_warm_kib,
                h.rss_end_kib,
                h.rss_growth_pct,
                h.misses_per_min_first_half,
                h.misses_per_min_second_half,
                h.miss_slope_per_min2,
                m.checkpoints
            );
            let _ = writeln!(
                s,
                "  misses by minute: {:?}; host steal by minute, ms: {:?}",
                h.misses_by_minute, h.steal_ms_by_minute
            );
        }
    }
    s
}
