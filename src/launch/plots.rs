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

/// Writes `ee_error`, `lap_error` (scenarios with a target circle), `torques`, `adaptive_torque`,
/// `learned_torque` (the adaptive term against the payload's true torque, runs with both), `spike_rate` and
/// `spike_raster` (adaptive runs only), each as `.svg` and `.png`, into `dir`. Returns the
/// files written.
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
        let p = Plot { title, ylabel, series, markers: &markers, pairs: false };
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
    if let Some((main, pairs)) = r.runs.first().and_then(|m| Some((m, learned_vs_payload(m)?))) {
        let title = format!(
            "torque learned by {} (solid) and the payload's true torque (dashed)",
            super::report::plain_controller_name(&main.controller)
        );
        let p = Plot { title: &title, ylabel: "torque, N·m", series: &pairs, markers: &markers, pairs: true };
        for ext in ["svg", "png"] {
            let path = dir.join(format!("learned_torque.{ext}"));
            if p.write(&path)? {
                written.push(path);
            }
        }
    }
    let laps = LapBars::new(r);
    for ext in ["svg", "png"] {
        let path = dir.join(format!("lap_error.{ext}"));
        if laps.write(&path)? {
            written.push(path);
        }
    }
    if let Some(raster) = Raster::new(r) {
        for ext in ["svg", "png"] {
            let path = dir.join(format!("spike_raster.{ext}"));
            raster.write(&path)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Spikes of the main run's sampled neurons on its logged ticks, over a window around the first payload event
/// (or the run's first seconds without one): a tick mark where a neuron spiked.
struct Raster {
    /// `(sim time, neuron k of the sampled ones)` of every spike shown.
    spikes: Vec<(f64, usize)>,
    /// Shown span of sim time, s.
    span: (f64, f64),
    /// The first payload change, if in the span.
    marker: Option<f64>,
    /// Span of sim time one logged sample covers, s.
    bin_s: f64,
    title: String,
}

impl Raster {
    /// Seconds shown either side of the payload event.
    const HALF_SPAN_S: f64 = 1.0;

    fn new(r: &ScenarioResult) -> Option<Self> {
        let run = r.runs.first()?;
        let logged: Vec<(f64, u64)> = run.ctrl.samples.iter().filter_map(|s| Some((s.t, s.raster_spikes?))).collect();
        let (first, last) = (logged.first()?.0, logged.last()?.0);
        let event = r.spec.payload_times().first().map(|e| e.0).filter(|t| (first..=last).contains(t));
        let centre = event.unwrap_or(first + Self::HALF_SPAN_S);
        let span = ((centre - Self::HALF_SPAN_S).max(first), (centre + Self::HALF_SPAN_S).min(last));
        let shown: Vec<&(f64, u64)> = logged.iter().filter(|(t, _)| (span.0..=span.1).contains(t)).collect();
        if shown.len() < 2 || span.1 <= span.0 {
            return None;
        }
        let every_ms = (shown[shown.len() - 1].0 - shown[0].0) / (shown.len() - 1) as f64 * 1e3;
        let spikes = shown
            .iter()
            .flat_map(|&&(t, bits)| {
                (0..crate::control::controller::RASTER_NEURONS).filter(move |k| bits >> k & 1 == 1).map(move |k| (t, k))
            })
            .collect();
        let title = format!(
            "{} of the ensemble's {} neurons: a mark where one spiked in a {every_ms:.0}-ms bin ({}{})",
            crate::control::controller::RASTER_NEURONS.min(r.spec.controller.neurons),
            r.spec.controller.neurons,
            super::report::plain_controller_name(&run.controller),
            if event.is_some() { "; payload dashed" } else { "" }
        );
        Some(Self { spikes, span, marker: event, bin_s: every_ms * 1e-3, title })
    }

    fn write(&self, path: &Path) -> anyhow::Result<()> {
        if path.extension().is_some_and(|e| e == "png") {
            self.draw(BitMapBackend::new(path, SIZE).into_drawing_area())
        } else {
            self.draw(SVGBackend::new(path, SIZE).into_drawing_area())
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
        let rows = crate::control::controller::RASTER_NEURONS as f64;
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(self.span.0..self.span.1, -0.5..rows - 0.5)
            .map_err(e)?;
        chart.configure_mesh().disable_mesh().x_desc("sim time, s").y_desc("sampled neuron").draw().map_err(e)?;
        let c = COLORS[0];
        // A logged sample covers the bin that ends at its tick.
        let bin = self.bin_s;
        chart
            .draw_series(
                self.spikes
                    .iter()
                    .map(|&(t, k)| Rectangle::new([(t - bin, k as f64 - 0.35), (t, k as f64 + 0.35)], c.filled())),
            )
            .map_err(e)?;
        if let Some(t) = self.marker {
            chart
                .draw_series(DashedLineSeries::new(vec![(t, -0.5), (t, rows - 0.5)], 6, 4, BLACK.stroke_width(1)))
                .map_err(e)?;
        }
        root.present().map_err(e)?;
        Ok(())
    }
}

/// Per joint that carries a noticeable part of the payload (≥ 10 % of the largest joint's peak), the adaptive
/// term's torque and the payload's true torque (as the sim reports it), in that order; `None` for a run without
/// an adaptive term or without payload torques.
fn learned_vs_payload(run: &super::result::RunResult) -> Option<Vec<Series>> {
    let samples = &run.ctrl.samples;
    let n = samples.iter().map(|s| s.payload_effort.len().min(s.adaptive.len())).max()?;
    let peak = |j: usize| samples.iter().filter_map(|s| s.payload_effort.get(j)).fold(0.0f64, |m, x| m.max(x.abs()));
    let top = (0..n).map(peak).fold(0.0, f64::max);
    if top <= 0.0 {
        return None;
    }
    let series = |j: usize, f: fn(&crate::node::ControllerSample) -> &Vec<f64>| -> Vec<(f64, f64)> {
        samples.iter().filter_map(|s| Some((s.t, *f(s).get(j)?))).collect()
    };
    let pairs = (0..n)
        .filter(|&j| peak(j) >= 0.1 * top)
        .flat_map(|j| {
            [
                (format!("joint {j} learned"), series(j, |s| &s.adaptive)),
                (format!("joint {j} payload"), series(j, |s| &s.payload_effort)),
            ]
        })
        .collect();
    Some(pairs)
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
    let p = Plot { title: &title, ylabel: "error, mm", series: &series, markers: &markers, pairs: false };
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
    /// Series come in pairs that share a colour, the second of each drawn dashed.
    pairs: bool,
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
            let (c, dashed) = if self.pairs {
                (COLORS[(i / 2) % COLORS.len()], i % 2 == 1)
            } else {
                (COLORS[i % COLORS.len()], false)
            };
            let pts = s.iter().copied().filter(|p| p.1.is_finite());
            let drawn = if dashed {
                chart.draw_series(DashedLineSeries::new(pts, 5, 4, c.stroke_width(2))).map_err(e)?
            } else {
                chart.draw_series(LineSeries::new(pts, c.stroke_width(1))).map_err(e)?
            };
            let len = if dashed { 7 } else { 18 };
            drawn
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + len, y)], c.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(e)?;
        root.present().map_err(e)?;
        Ok(())
    }
}

/// Mean error per lap of the target circle, one bar per controller and lap, payload changes marked at the lap
/// boundary where they happen: what the reaching looks like lap by lap, without the spikes of each target
/// switch that dominate the error over time.
struct LapBars {
    /// Per controller: its name and its mean error per lap, mm.
    runs: Vec<(String, Vec<f64>)>,
    /// Lap length, s.
    lap_s: f64,
    /// Payload changes: position in laps from the first lap's start, and the label (`+2 kg`, `payload off`).
    events: Vec<(f64, String)>,
}

impl LapBars {
    fn new(r: &ScenarioResult) -> Self {
        let laps = &r.metrics.laps;
        let (start, lap_s) = laps.first().map_or((0.0, 0.0), |l| (l[0], l[1] - l[0]));
        let runs = r
            .metrics
            .runs
            .iter()
            .map(|m| {
                (super::report::plain_controller_name(&m.controller), m.lap_error_m.iter().map(|e| e * 1e3).collect())
            })
            .collect();
        let events = r
            .spec
            .payload_times()
            .into_iter()
            .filter(|_| lap_s > 0.0)
            .map(|(t, kg)| {
                ((t - start) / lap_s, if kg > 0.0 { format!("+{kg} kg payload") } else { "payload off".into() })
            })
            .filter(|(x, _)| *x >= 0.0 && *x <= laps.len() as f64)
            .collect();
        Self { runs, lap_s, events }
    }

    fn laps(&self) -> usize {
        self.runs.iter().map(|(_, e)| e.len()).max().unwrap_or(0)
    }

    /// Writes SVG or PNG by `path`'s extension; `false` when there is no lap to draw.
    fn write(&self, path: &Path) -> anyhow::Result<bool> {
        if self.laps() == 0 {
            return Ok(false);
        }
        if path.extension().is_some_and(|e| e == "png") {
            self.draw(BitMapBackend::new(path, SIZE).into_drawing_area())?;
        } else {
            self.draw(SVGBackend::new(path, SIZE).into_drawing_area())?;
        }
        Ok(true)
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
        let n = self.laps();
        let top = self.runs.iter().flat_map(|(_, v)| v.iter().copied()).filter(|y| y.is_finite()).fold(0.0, f64::max);
        let y1 = if top > 0.0 { top * 1.15 } else { 1.0 };
        root.fill(&WHITE).map_err(e)?;
        let title = "mean end-effector error per lap (payload changes dashed)";
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.5..n as f64 + 0.5, 0.0..y1)
            .map_err(e)?;
        let whole = |x: &f64| {
            let k = x.round();
            if (x - k).abs() < 1e-6 && k >= 1.0 { format!("{k}") } else { String::new() }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(20))
            .x_label_formatter(&whole)
            .x_desc(format!("lap ({:.0} s each)", self.lap_s))
            .y_desc("mean error, mm")
            .draw()
            .map_err(e)?;
        let m = self.runs.len().max(1) as f64;
        let width = 0.8 / m;
        let label_bars = n * self.runs.len() <= 24;
        for (i, (name, errs)) in self.runs.iter().enumerate() {
            let c = COLORS[i % COLORS.len()];
            let left = |k: usize| k as f64 + 1.0 - 0.4 + i as f64 * width;
            let bars = errs
                .iter()
                .enumerate()
                .filter(|(_, y)| y.is_finite())
                .map(|(k, &y)| Rectangle::new([(left(k), 0.0), (left(k) + width * 0.92, y)], c.filled()));
            chart
                .draw_series(bars)
                .map_err(e)?
                .label(name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
            if label_bars {
                let font = ("sans-serif", 11).into_font().color(&BLACK);
                let texts = errs
                    .iter()
                    .enumerate()
                    .filter(|(_, y)| y.is_finite())
                    .map(|(k, &y)| Text::new(format!("{y:.1}"), (left(k), y + 0.015 * y1), font.clone()));
                chart.draw_series(texts).map_err(e)?;
            }
        }
        for (x, label) in &self.events {
            let x = x + 0.5;
            chart
                .draw_series(DashedLineSeries::new(vec![(x, 0.0), (x, y1)], 6, 4, BLACK.stroke_width(1)))
                .map_err(e)?;
            let font = ("sans-serif", 13).into_font().color(&BLACK);
            chart.draw_series(std::iter::once(Text::new(label.clone(), (x + 0.02, y1 * 0.97), font))).map_err(e)?;
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(e)?;
        root.present().map_err(e)?;
        Ok(())
    }
}
