//! Plots of a scenario, each written as SVG and PNG (plotters). Text in the PNGs is drawn by ab_glyph from a
//! font embedded in the binary (a DejaVu Sans subset, `assets/fonts`): no system font or image C libraries.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::result::{FleetResult, ScenarioResult};

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Plot size, pixels (PNG) or SVG user units.
const SIZE: (u32, u32) = (900, 420);

/// ASCII, Greek and a few signs (·, −, ≤, µ, …) of DejaVu Sans; see `assets/fonts/LICENSE-DejaVu.txt`.
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");

type Series = (String, Vec<(f64, f64)>);

/// Registers the embedded font as `sans-serif` (plotters' ab_glyph text needs every family registered).
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            tracing::warn!("plots: the embedded font was refused; plots will lack text");
        }
    });
}

/// Writes `ee_error`, `torques`, `adaptive_torque` and `spike_rate` (adaptive runs only), each as `.svg`
/// and `.png`, into `dir`. Returns the files written.
pub fn write_plots(dir: &Path, r: &ScenarioResult) -> anyhow::Result<Vec<std::path::PathBuf>> {
    register_font();
    let mut written = Vec::new();
    let markers: Vec<f64> = r.spec.payload_times().iter().map(|(t, _)| *t).collect();
    let err: Vec<Series> = r
        .runs
        .iter()
        .map(|run| (run.controller.clone(), run.ctrl.samples.iter().map(|s| (s.t, s.error_m * 1000.0)).collect()))
        .collect();
    let mut plot = |name: &str, title: &str, ylabel: &str, series: &[Series]| -> anyhow::Result<()> {
        let p = Plot { title, ylabel, series, markers: &markers };
        for ext in ["svg", "png"] {
            let path = dir.join(format!("{name}.{ext}"));
            if p.write(&path)? {
                written.push(path);
            }
        }
        Ok(())
    };
    plot("ee_error", "end-effector error (payload events dashed)", "error, mm", &err)?;
    if let Some(main) = r.runs.first() {
        let n = main.ctrl.samples.first().map_or(0, |s| s.effort.len());
        let tau: Vec<Series> = (0..n)
            .map(|j| (format!("joint {j}"), main.ctrl.samples.iter().map(|s| (s.t, s.effort[j])).collect()))
            .collect();
        plot("torques", &format!("joint torques ({})", main.controller), "torque, N·m", &tau)?;
        let adapt: Vec<Series> =
            vec![(main.controller.clone(), main.ctrl.samples.iter().map(|s| (s.t, s.adaptive_norm)).collect())];
        plot("adaptive_torque", "adaptive torque |u_adapt|", "N·m", &adapt)?;
    }
    let rates: Vec<Series> = r
        .runs
        .iter()
        .filter(|run| run.ctrl.samples.iter().any(|s| s.spike_rate_hz.is_some()))
        .map(|run| {
            let pts = run.ctrl.samples.iter().filter_map(|s| s.spike_rate_hz.map(|hz| (s.t, hz))).collect();
            (run.controller.clone(), pts)
        })
        .collect();
    if !rates.is_empty() {
        plot("spike_rate", "ensemble mean firing rate (one core step per tick)", "rate, Hz", &rates)?;
    }
    Ok(written)
}

/// Writes `fleet_error.svg` and `.png` into `dir`: each arm's end-effector error under the main controller,
/// payload events of every arm dashed.
pub fn write_fleet_plot(dir: &Path, r: &FleetResult) -> anyhow::Result<()> {
    register_font();
    let mut markers: Vec<f64> = r.arms.iter().flat_map(|a| a.spec.payload_times()).map(|(t, _)| t).collect();
    markers.sort_by(f64::total_cmp);
    markers.dedup();
    let series: Vec<Series> = r
        .arms
        .iter()
        .filter_map(|a| {
            let run = a.runs.first()?;
            Some((a.spec.arm.clone(), run.ctrl.samples.iter().map(|s| (s.t, s.error_m * 1000.0)).collect()))
        })
        .collect();
    let main = r.spec.controllers.first().map_or("", |c| c.as_str());
    let title = format!("end-effector error per arm, {main} (payload events dashed)");
    let p = Plot { title: &title, ylabel: "error, mm", series: &series, markers: &markers };
    for ext in ["svg", "png"] {
        p.write(&dir.join(format!("fleet_error.{ext}")))?;
    }
    Ok(())
}

/// One line plot: series against sim time, with dashed vertical markers.
struct Plot<'a> {
    title: &'a str,
    ylabel: &'a str,
    series: &'a [Series],
    markers: &'a [f64],
}

impl Plot<'_> {
    /// Writes SVG or PNG by `path`'s extension; `false` when there is nothing to draw (no time span).
    fn write(&self, path: &Path) -> anyhow::Result<bool> {
        let Some(ranges) = self.ranges() else { return Ok(false) };
        if path.extension().is_some_and(|e| e == "png") {
            self.draw(BitMapBackend::new(path, SIZE).into_drawing_area(), ranges)?;
        } else {
            self.draw(SVGBackend::new(path, SIZE).into_drawing_area(), ranges)?;
        }
        Ok(true)
    }

    /// `(x0, x1, y0, y1)` over the finite points, y padded by 5 %; `None` without a time span.
    fn ranges(&self) -> Option<(f64, f64, f64, f64)> {
        let pts = self.series.iter().flat_map(|(_, s)| s.iter()).filter(|p| p.1.is_finite());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for &(x, y) in pts {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        // Without finite points the bounds are still x0 = +inf > x1 = -inf.
        if x0 >= x1 {
            return None;
        }
        if y0 >= y1 {
            y1 = y0 + 1.0;
        }
        let pad = 0.05 * (y1 - y0);
        Some((x0, x1, y0 - pad, y1 + pad))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
        (x0, x1, y0, y1): (f64, f64, f64, f64),
    ) -> anyhow::Result<()> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(e)?;
        chart.configure_mesh().x_desc("sim time, s").y_desc(self.ylabel).draw().map_err(e)?;
        for &t in self.markers {
            chart.draw_series(DashedLineSeries::new(vec![(t, y0), (t, y1)], 6, 4, BLACK.stroke_width(1))).map_err(e)?;
        }
        for (i, (name, s)) in self.series.iter().enumerate() {
            let c = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(s.iter().copied().filter(|p| p.1.is_finite()), c.stroke_width(1)))
                .map_err(e)?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(e)?;
        root.present().map_err(e)?;
        Ok(())
    }
}
