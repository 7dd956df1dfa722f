//! `spikearm eval …`: closed-loop evaluations of the controllers against the sim. File I/O and threads live
//! here; the protocol and the controllers are library code (`eval::payload_eval`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, ensure};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::control::adaptive::{AdaptiveDesign, AdaptiveParams};
use crate::control::factory::ControllerParams;
use crate::eval::metrics::{normalised, normalised_per_lap};
use crate::eval::payload_eval::{Condition, PayloadEvalSpec};
use crate::eval::payload_protocol::ProtocolRun;
use crate::eval::targets::TargetPattern;
use crate::neuro::ExecutorKind;

/// Closed-loop evaluations.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// The payload protocol (docs/ARCHITECTURE.md §6): PD without and with payload, PID ki ∈ {0.5, 1, 2, 4},
    /// adaptive on the float and the fixed-point core; prints the table of normalised errors per 16-s lap.
    ///
    /// Example: spikearm eval payload --arm config/arms/ur5e.urdf --payload-kg 2 --json ur5e.json
    Payload(PayloadArgs),
}

/// Arguments of `spikearm eval payload`.
#[derive(Debug, Args)]
pub struct PayloadArgs {
    /// URDF file of the arm: 6 joints (UR5e-class start pose) or 3 joints (planar 3-link start pose).
    #[arg(long, value_name = "URDF")]
    pub arm: PathBuf,
    /// Payload mass at the `ee` frame, kg.
    #[arg(long, default_value_t = 2.0, value_name = "KG")]
    pub payload_kg: f64,
    /// Laps (16 s each) scored after the payload is attached.
    #[arg(long, default_value_t = 11, value_name = "N")]
    pub laps: usize,
    /// Seed of the adaptive ensembles.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed: u64,
    /// Write the results as JSON here.
    #[arg(long, value_name = "OUT.json")]
    pub json: Option<PathBuf>,
    /// Worker threads for the independent conditions.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub threads: usize,
    /// PES learning rate of the adaptive rows [default: the library's, 2e-4].
    #[arg(long, value_name = "KAPPA")]
    pub learning_rate: Option<f64>,
    /// Joints adapted, 0-based, comma-separated [default: 1,2,3 on 6-DoF arms, all otherwise].
    #[arg(long, value_delimiter = ',', value_name = "J,…")]
    pub joints: Option<Vec<usize>>,
    /// Adaptive design: `inertial` (joint angles and commanded task acceleration, trained on the model
    /// residual) or `posture` (the first generation: joint angles, trained on the feedback).
    #[arg(long, value_enum, default_value_t = AdaptiveDesign::Inertial, value_name = "DESIGN")]
    pub design: AdaptiveDesign,
    /// Textbook adaptive settings (posture design): inputs (q, dq), trained on the OSC task term only.
    #[arg(long)]
    pub textbook: bool,
    /// Calibrate the adaptive input scaling from the PD no-payload run (an experiment: the controller node,
    /// `launch` and `demo` run the default scaling, which is what `eval` measures without this flag).
    #[arg(long)]
    pub calibrate_inputs: bool,
    /// Factor on the calibrated input half-ranges (room for the payload's sag; with --calibrate-inputs).
    #[arg(long, default_value_t = 2.0, value_name = "F")]
    pub range_margin: f64,
    /// Skip the float adaptive row (the slowest).
    #[arg(long)]
    pub no_float: bool,
    /// Skip the PID rows (the adaptive bars need only the two OSC rows).
    #[arg(long)]
    pub no_pid: bool,
    /// Target pattern: `circle` (8 fixed targets), `random` (8 new seeded targets per lap within the circle's
    /// disc), `figure8` (a continuous figure-8 per lap).
    #[arg(long, value_enum, default_value_t = TargetPattern::Circle, value_name = "PATTERN")]
    pub targets: TargetPattern,
    /// Seed of the random targets.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub targets_seed: u64,
    /// Plant integrator: `rk4` or `rapier` [default: the sim's default].
    #[arg(long, value_parser = parse_integrator, value_name = "SCHEME")]
    pub integrator: Option<spikearm_sim::Integrator>,
    /// Laps run after removing the payload again (reported in the table, not in the JSON).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub laps_after_removal: usize,
    /// Laps run after putting the payload back on after the removal laps (reported in the table, not in the
    /// JSON).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub laps_after_return: usize,
    /// Payload position in the `ee` frame, m (x,y,z) [default: at the frame's origin].
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, value_name = "X,Y,Z")]
    pub payload_offset: Option<Vec<f64>>,
}

/// Per-controller result in the JSON.
#[derive(Debug, Serialize)]
struct ConditionJson {
    error_per_window: Vec<f64>,
    normalised_per_window: Vec<f64>,
}

#[derive(Debug, Serialize)]
struct ReportJson {
    /// Lap length, s: an integer when whole (16), as the JSON shape shows.
    window_s: serde_json::Value,
    controllers: BTreeMap<String, ConditionJson>,
    pid_gains: BTreeMap<String, ConditionJson>,
}

const PID_GAINS: [f64; 4] = [0.5, 1.0, 2.0, 4.0];

impl EvalCommand {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            EvalCommand::Payload(args) => run_payload(args),
        }
    }
}

fn run_payload(args: PayloadArgs) -> anyhow::Result<()> {
    ensure!(args.payload_kg.is_finite() && args.payload_kg > 0.0, "--payload-kg must be > 0");
    ensure!(args.laps >= 1, "--laps must be at least 1");
    ensure!(args.threads >= 1, "--threads must be at least 1");
    let urdf = std::fs::read_to_string(&args.arm).with_context(|| format!("reading {}", args.arm.display()))?;
    let mut spec = PayloadEvalSpec::new(urdf, args.payload_kg)?;
    spec.protocol.laps = args.laps;
    spec.protocol.laps_after_removal = args.laps_after_removal;
    spec.protocol.laps_after_return = args.laps_after_return;
    if let Some(off) = &args.payload_offset {
        ensure!(off.len() == 3 && off.iter().all(|x| x.is_finite()), "--payload-offset needs 3 finite values (x,y,z)");
        if let Some(p) = &mut spec.protocol.payload {
            p.offset_m = [off[0], off[1], off[2]];
        }
    }
    spec.protocol.pattern = args.targets;
    spec.protocol.targets_seed = args.targets_seed;
    spec.range_margin = args.range_margin;
    if let Some(i) = args.integrator {
        spec.sim.integrator = i;
    }
    // The controller node's settings type: what the node, `launch` and `demo` would run with these values.
    let mut node = ControllerParams { design: args.design, seed: args.seed, ..ControllerParams::default() };
    if let Some(k) = args.learning_rate {
        node.learning_rate = k;
    }
    spec.osc = node.osc_params();
    spec.adaptive = node.adaptive_params(spec.protocol.q0.len());
    if args.textbook {
        spec.adaptive = AdaptiveParams { ensemble: spec.adaptive.ensemble.clone(), ..AdaptiveParams::textbook() };
    }
    if let Some(j) = &args.joints {
        spec.adaptive.joints = Some(j.clone());
    }
    let started = std::time::Instant::now();

    // Phase 1: the two PD rows (with --calibrate-inputs the no-payload run also calibrates the adaptive input
    // scaling).
    let phase1 = run_parallel(&spec, &[Condition::PdNoPayload, Condition::PdPayload], None, args.threads)?;
    let calibration = args.calibrate_inputs.then_some(&phase1[0]);
    // Phase 2: everything else, slowest first so the threads finish together.
    let mut rest: Vec<Condition> = Vec::new();
    if !args.no_float {
        rest.push(Condition::Adaptive(ExecutorKind::Float));
    }
    rest.push(Condition::Adaptive(ExecutorKind::Loihi));
    rest.push(Condition::AdaptiveNoPayload(ExecutorKind::Loihi));
    if !args.no_pid {
        rest.extend(PID_GAINS.iter().map(|&k| Condition::Pid(k)));
    }
    let phase2 = run_parallel(&spec, &rest, calibration, args.threads)?;

    let (e0, e1) = (&phase1[0].error_per_lap, &phase1[1].error_per_lap);
    let json_of = |r: &ProtocolRun| ConditionJson {
        error_per_window: r.error_per_lap.clone(),
        normalised_per_window: normalised_per_lap(&r.error_per_lap, e0, e1),
    };
    let mut controllers = BTreeMap::new();
    let mut pid_gains = BTreeMap::new();
    controllers.insert("pd_no_payload".to_string(), json_of(&phase1[0]));
    controllers.insert("pd_payload".to_string(), json_of(&phase1[1]));
    let mut best_pid: Option<(f64, &ProtocolRun)> = None;
    for (cond, run) in rest.iter().zip(&phase2) {
        match cond {
            Condition::Pid(ki) => {
                pid_gains.insert(format!("{ki}"), json_of(run));
                let last = *run.error_per_lap.last().unwrap_or(&f64::INFINITY);
                if best_pid.is_none_or(|(b, _)| last < b) {
                    best_pid = Some((last, run));
                }
            }
            other => {
                controllers.insert(other.key(), json_of(run));
            }
        }
    }
    if let Some((_, best)) = best_pid {
        controllers.insert("pid".to_string(), json_of(best));
    }

    // Table: lap scores the bars use.
    let lap_s = spec.protocol.lap_s();
    let lap64 = ((64.0 / lap_s).round() as usize).clamp(1, args.laps) - 1;
    println!(
        "payload protocol: {} ({} joints), {} kg, {:?} targets, {} laps of {lap_s} s, seed {} — {:.1} s wall",
        args.arm.display(),
        spec.protocol.q0.len(),
        args.payload_kg,
        args.targets,
        args.laps,
        args.seed,
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>12} {:>12} {:>12} {:>10}",
        "condition",
        format!("lap@{}s", (lap64 + 1) as f64 * lap_s),
        "last lap",
        "max after",
        "last e (mm)",
        "final max mm",
        "removed (mm)",
        "returned"
    );
    let pd_returned =
        phase1[0].error_after_return.last().zip(phase1[1].error_after_return.last()).map(|(a, b)| (*a, *b));
    let mut rows: Vec<(String, &ProtocolRun)> =
        vec![("pd_no_payload".into(), &phase1[0]), ("pd_payload".into(), &phase1[1])];
    rows.extend(rest.iter().map(|c| c.key()).zip(phase2.iter()));
    for (key, run) in rows {
        let n = normalised_per_lap(&run.error_per_lap, e0, e1);
        let after = n.iter().skip(lap64 + 1).fold(f64::NAN, |m, &x| if m.is_nan() || x > m { x } else { m });
        let removed = run.error_after_removal.last().map(|e| format!("{:.2}", e * 1e3)).unwrap_or_else(|| "-".into());
        let final_max = run.final_error_per_reach.iter().fold(0.0f64, |m, &x| m.max(x));
        // After the payload is put back: the last lap's error normalised by the OSC's last lap with it.
        let returned = match (run.error_after_return.last(), pd_returned) {
            (Some(e), Some((e0, e1))) => format!("{:.3}", normalised(*e, e0, e1 - e0)),
            _ => "-".into(),
        };
        println!(
            "{key:<16} {:>10.3} {:>10.3} {:>10.3} {:>12.2} {:>12.2} {:>12} {returned:>10}",
            n[lap64],
            n[n.len() - 1],
            after,
            run.error_per_lap[run.error_per_lap.len() - 1] * 1e3,
            final_max * 1e3,
            removed
        );
    }
    if let Some((_, best)) = best_pid {
        println!("best PID (lowest last lap): {}", best.controller);
    }
    for (cond, run) in rest.iter().zip(&phase2) {
        match cond {
            Condition::Adaptive(_) => {
                let n = normalised_per_lap(&run.error_per_lap, e0, e1);
                println!("{} normalised per lap: {}", cond.key(), fmt_list(&n, 3));
            }
            Condition::AdaptiveNoPayload(_) => {
                let ratio: Vec<f64> = run.error_per_lap.iter().zip(e0).map(|(a, b)| a / b).collect();
                let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
                println!(
                    "{}: mean error {:.2} mm vs OSC {:.2} mm (× {:.3}); per lap × {}",
                    cond.key(),
                    mean(&run.error_per_lap) * 1e3,
                    mean(e0) * 1e3,
                    mean(&run.error_per_lap) / mean(e0),
                    fmt_list(&ratio, 3)
                );
            }
            _ => {}
        }
    }
    if let Some(path) = &args.json {
        let window_s = if lap_s.fract() == 0.0 && lap_s.abs() < 1e15 {
            serde_json::Value::from(lap_s as i64)
        } else {
            serde_json::Value::from(lap_s)
        };
        let report = ReportJson { window_s, controllers, pid_gains };
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `rk4` / `rapier` (the sim's serde names).
fn parse_integrator(s: &str) -> Result<spikearm_sim::Integrator, String> {
    serde_json::from_value(serde_json::Value::from(s)).map_err(|_| format!("`{s}` is not `rk4` or `rapier`"))
}

/// `[a, b, …]` with `digits` decimals.
fn fmt_list(v: &[f64], digits: usize) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.digits$}")).collect();
    format!("[{}]", items.join(", "))
}

/// Runs `conditions` on up to `threads` scoped threads (each condition is independent and deterministic),
/// returning results in the order given.
fn run_parallel(
    spec: &PayloadEvalSpec,
    conditions: &[Condition],
    calibration: Option<&ProtocolRun>,
    threads: usize,
) -> anyhow::Result<Vec<ProtocolRun>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<anyhow::Result<ProtocolRun>>>> =
        conditions.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.min(conditions.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(cond) = conditions.get(i) else { break };
                    let r = spec.run(*cond, calibration).with_context(|| format!("condition {}", cond.key()));
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| m.into_inner().ok().flatten().unwrap_or_else(|| Err(anyhow::anyhow!("a worker thread failed"))))
        .collect()
}
