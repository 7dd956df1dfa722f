//! SVG plots of a scenario (plotters, SVG backend only: no font or image libraries to build).

use std::path::Path;

use plotters::prelude::*;

use super::runner::ScenarioResult;

const COLORS: [RGBColor; 6] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40), RGBColor(148, 103, 189), RGBColor(140, 86, 75)];

type Series = (String, Vec<(f64, f64)>);

/// Writes `ee_error.svg`, `torques.svg` and `adaptive_torque.svg` into `dir`.
pub fn write_plots(dir: &Path, r: &ScenarioResult) -> anyhow::Result<()> {
    let markers: Vec<f64> = r.spec.payload_times().iter().map(|(t, _)| *t).collect();
    let err: Vec<Series> = r
        .runs
        .iter()
        .map(|run| (run.controller.clone(), run.ctrl.samples.iter().map(|s| (s.t, s.error_m * 1000.0)).collect()))
        .collect();
    line_plot(&dir.join("ee_error.svg"), "end-effector error (payload events dashed)", "error, mm", &err, &markers)?;
    if let Some(main) = r.runs.first() {
        let n = main.ctrl.samples.first().map_or(0, |s| s.effort.len());
        let tau: Vec<Series> = (0..n)
            .map(|j| (format!("joint {j}"), main.ctrl.samples.iter().map(|s| (s.t, s.effort[j])).collect()))
            .collect();
        line_plot(&dir.join("torques.svg"), &format!("joint torques ({})", main.controller), "torque, N·m", &tau, &markers)?;
        let adapt: Vec<Series> =
            vec![(main.controller.clone(), main.ctrl.samples.iter().map(|s| (s.t, s.adaptive_norm)).collect())];
        line_plot(&dir.join("adaptive_torque.svg"), "adaptive torque |u_adapt|", "N·m", &adapt, &markers)?;
    }
    Ok(())
}

fn line_plot(path: &Path, title: &str, ylabel: &str, series: &[Series], markers: &[f64]) -> anyhow::Result<()> {
    let pts = series.iter().flat_map(|(_, s)| s.iter()).filter(|p| p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !(x0 < x1) {
        return Ok(());
    }
    if !(y0 < y1) {
        y1 = y0 + 1.0;
    }
    let pad = 0.05 * (y1 - y0);
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    chart.configure_mesh().x_desc("sim time, s").y_desc(ylabel).draw().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    for &t in markers {
        chart
            .draw_series(DashedLineSeries::new(vec![(t, y0 - pad), (t, y1 + pad)], 6, 4, BLACK.stroke_width(1)))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    for (i, (name, s)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(s.iter().copied().filter(|p| p.1.is_finite()), c.stroke_width(1)))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}
