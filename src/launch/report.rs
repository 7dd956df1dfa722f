//! The report directory (metrics JSON, plots) and the terminal summary table.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::runner::ScenarioResult;

/// Writes `metrics.json`, `scenario.toml` and the plots into `dir` (created).
pub fn write_report(dir: &Path, r: &ScenarioResult) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let metrics = serde_json::to_string_pretty(&r.metrics)?;
    std::fs::write(dir.join("metrics.json"), metrics).context("writing metrics.json")?;
    std::fs::write(dir.join("scenario.toml"), toml::to_string(&r.spec)?).context("writing scenario.toml")?;
    super::plots::write_plots(dir, r).context("writing plots")?;
    Ok(())
}

/// The summary table: mean error per window and controller (mm), speed, safety counters.
pub fn summary_table(r: &ScenarioResult) -> String {
    let mut s = String::new();
    let windows: Vec<&str> = r.spec.windows.iter().map(|w| w.name.as_str()).collect();
    let _ = write!(s, "{:<18}", "controller");
    for w in &windows {
        let _ = write!(s, "{:>16}", format!("{w} (mm)"));
    }
    let _ = writeln!(s, "{:>12}{:>10}{:>10}", "steps/s", "watchdog", "misses");
    for m in &r.metrics.runs {
        let _ = write!(s, "{:<18}", m.controller);
        for w in &windows {
            let _ = write!(s, "{:>16.2}", m.window_error_m.get(*w).copied().unwrap_or(f64::NAN) * 1000.0);
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
    s
}
