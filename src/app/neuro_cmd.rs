//! `spikearm neuro …`: the neuromorphic core on its own, fed with recorded data.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};

use crate::neuro::offline::run_offline;
use crate::neuro::{
    BuiltNetwork, CoreProfile, EnergyTable, EnsembleSpec, Executor, ExecutorKind, FloatExecutor, LoihiExecutor,
    LoihiParams, NetworkSpec, PesSpec,
};

/// Commands on the neuromorphic core alone.
#[derive(Debug, Subcommand)]
pub enum NeuroCommand {
    /// Learn a readout offline with PES from a CSV of inputs and targets (error = output − target).
    ///
    /// The spec (TOML) has [ensemble] (neurons, dimensions, seed, radius, max_rates, intercepts, tau_rc,
    /// tau_ref, input_synapse), [readout] (dimensions, learning_rate, pre_synapse, synapse), an optional
    /// top-level dt (s, default 0.001) and [data] (input = [...], target = [...] column names).
    /// The CSV has a header with a time column `t` (s, one row per dt) and those columns.
    Learn(LearnArgs),
}

/// Arguments of `spikearm neuro learn`.
#[derive(Debug, Args)]
pub struct LearnArgs {
    /// Network and data-column spec (TOML).
    #[arg(long)]
    spec: PathBuf,
    /// Recorded data (CSV with header: t, inputs, targets).
    #[arg(long)]
    data: PathBuf,
    /// Which executor runs the network.
    #[arg(long, value_enum, default_value_t = ExecutorKind::Loihi)]
    executor: ExecutorKind,
    /// Fixed-point core profile (with `--executor loihi`): loihi1 (default) keeps Loihi 1's constraints; loihi2
    /// adds Loihi 2-style options: subtractive reset, graded send-on-change input, active-update accounting.
    #[arg(long, value_enum, default_value_t = CoreProfile::Loihi1)]
    profile: CoreProfile,
    /// Overrides one fixed-point core parameter, `KEY=VALUE` (repeatable; e.g. `weight_bits=10`), for ablations.
    /// Keys: weight_bits, error_bits, trace_bits, train_epoch, learn_epoch, error_quantum, auto_scale,
    /// rescale_window, input_pairs, default_input_synapse, graded_input, delta_input, soft_reset,
    /// count_active_updates, threads, thread_min_neurons.
    #[arg(long = "core", value_name = "KEY=VALUE")]
    core: Vec<String>,
    /// Threads that step the fixed-point core (0: one per CPU). Results are bit-identical on any count; a network
    /// gets at most one thread per `thread_min_neurons` (default 32 768; `--core thread_min_neurons=N`).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Overrides the spec's ensemble seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Length of the RMSE windows, s.
    #[arg(long, default_value_t = 1.0)]
    window: f64,
    /// Where to write the results (JSON).
    #[arg(long)]
    out: PathBuf,
}

/// The spec file of `neuro learn`: a network plus which CSV columns feed it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LearnSpec {
    ensemble: EnsembleSpec,
    readout: PesSpec,
    dt: Option<f64>,
    data: DataColumns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataColumns {
    input: Vec<String>,
    target: Vec<String>,
}

/// Rows of recorded data.
struct Recording {
    inputs: Vec<Vec<f64>>,
    targets: Vec<Vec<f64>>,
}

#[derive(Serialize)]
struct LearnReport<'a> {
    executor: ExecutorKind,
    profile: Option<CoreProfile>,
    seed: u64,
    neurons: usize,
    /// Threads that stepped the core (1 for the float executor).
    threads: usize,
    steps: usize,
    dt: f64,
    rmse_per_window: &'a [f64],
    rmse_first: f64,
    rmse_last: f64,
    wall_time_s: f64,
    neuron_updates_per_s: f64,
    /// CPU time of the process (all threads) over the run loop, s: unlike the wall time it leaves out the time
    /// other jobs on a shared machine hold the cores.
    cpu_time_s: f64,
    neuron_updates_per_cpu_s: f64,
    accounting: crate::neuro::Accounting,
    energy: crate::neuro::EnergyEstimate,
    energy_table: EnergyTable,
    cores: Option<&'a crate::neuro::CoreMap>,
    output: &'a [Vec<f64>],
}

impl NeuroCommand {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            NeuroCommand::Learn(args) => learn(args),
        }
    }
}

fn learn(args: LearnArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.spec).with_context(|| format!("reading spec {}", args.spec.display()))?;
    let spec: LearnSpec = toml::from_str(&text).with_context(|| format!("in spec {}", args.spec.display()))?;
    let mut network = NetworkSpec::new(spec.ensemble, spec.readout);
    if let Some(dt) = spec.dt {
        network.dt = dt;
    }
    if let Some(seed) = args.seed {
        network.ensemble.seed = seed;
    }
    if spec.data.input.len() != network.ensemble.dimensions || spec.data.target.len() != network.readout.dimensions {
        bail!(
            "spec {}: [data] names {} input and {} target columns but the network has {} input and {} output dimensions",
            args.spec.display(),
            spec.data.input.len(),
            spec.data.target.len(),
            network.ensemble.dimensions,
            network.readout.dimensions
        );
    }
    if !(args.window.is_finite() && args.window > 0.0) {
        bail!("--window must be a positive number of seconds, got {}", args.window);
    }
    let rec = read_recording(&args.data, &spec.data, network.dt)?;
    let built = BuiltNetwork::build(&network).with_context(|| format!("in spec {}", args.spec.display()))?;
    let (mut exec, cores, threads): (Box<dyn Executor>, _, _) = match args.executor {
        ExecutorKind::Float => (Box::new(FloatExecutor::new(&built)), None, 1),
        ExecutorKind::Loihi => {
            let mut params = LoihiParams::for_profile(args.profile);
            params.threads = args.threads;
            for kv in &args.core {
                let (key, value) = kv.split_once('=').with_context(|| format!("--core {kv}: expected KEY=VALUE"))?;
                params.set(key, value)?;
            }
            let e = LoihiExecutor::new(&built, params)?;
            let (cores, threads) = (e.core_map().clone(), e.threads());
            (Box::new(e), Some(cores), threads)
        }
    };
    let window_steps = (args.window / network.dt).round().max(1.0) as usize;
    let (start, cpu_start) = (Instant::now(), process_cpu_s());
    let result = run_offline(exec.as_mut(), &rec.inputs, &rec.targets, window_steps)?;
    let (wall, cpu) = (start.elapsed().as_secs_f64(), process_cpu_s() - cpu_start);
    let steps = rec.inputs.len();
    let table = EnergyTable::default();
    let report = LearnReport {
        executor: args.executor,
        profile: (args.executor == ExecutorKind::Loihi).then_some(args.profile),
        seed: network.ensemble.seed,
        neurons: network.ensemble.neurons,
        threads,
        steps,
        dt: network.dt,
        rmse_per_window: &result.rmse_per_window,
        rmse_first: result.rmse_first,
        rmse_last: result.rmse_last,
        wall_time_s: wall,
        neuron_updates_per_s: (network.ensemble.neurons * steps) as f64 / wall.max(1e-12),
        cpu_time_s: cpu,
        neuron_updates_per_cpu_s: (network.ensemble.neurons * steps) as f64 / cpu.max(1e-12),
        accounting: result.accounting,
        energy: result.accounting.energy(&table),
        energy_table: table,
        cores: cores.as_ref(),
        output: &result.output,
    };
    let json = serde_json::to_string(&report)?;
    std::fs::write(&args.out, json).with_context(|| format!("writing {}", args.out.display()))?;
    tracing::info!(
        rmse_first = result.rmse_first,
        rmse_last = result.rmse_last,
        steps,
        wall_s = wall,
        energy_neuromorphic_uj = report.energy.neuromorphic_j * 1e6,
        energy_dense_cpu_uj = report.energy.dense_cpu_j * 1e6,
        "learned; results in {}",
        args.out.display()
    );
    Ok(())
}

/// CPU time of this process (all threads), s.
fn process_cpu_s() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn read_recording(path: &Path, cols: &DataColumns, dt: f64) -> anyhow::Result<Recording> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("opening data {}", path.display()))?;
    let header = reader.headers().with_context(|| format!("{}: reading the header", path.display()))?.clone();
    let find = |name: &str| {
        header.iter().position(|h| h == name).with_context(|| {
            format!(
                "{}: column '{name}' is not in the header ({})",
                path.display(),
                header.iter().collect::<Vec<_>>().join(", ")
            )
        })
    };
    let t_col = find("t")?;
    let in_cols = cols.input.iter().map(|c| find(c)).collect::<anyhow::Result<Vec<_>>>()?;
    let tgt_cols = cols.target.iter().map(|c| find(c)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut rec = Recording { inputs: Vec::new(), targets: Vec::new() };
    let mut last_t: Option<f64> = None;
    for row in reader.records() {
        let row = row.map_err(|e| match e.position() {
            Some(pos) => anyhow::anyhow!("{} line {}: malformed row: {e}", path.display(), pos.line()),
            None => anyhow::anyhow!("{}: malformed row: {e}", path.display()),
        })?;
        let line = row.position().map_or(0, |p| p.line());
        let value = |col: usize| -> anyhow::Result<f64> {
            let field = &row[col];
            match field.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => {
                    bail!("{} line {line}, column '{}': '{field}' is not a finite number", path.display(), &header[col])
                }
            }
        };
        let t = value(t_col)?;
        if let Some(prev) = last_t
            && ((t - prev) - dt).abs() > 0.01 * dt
        {
            bail!("{} line {line}: time step {} s does not match dt = {dt} s", path.display(), t - prev);
        }
        last_t = Some(t);
        rec.inputs.push(in_cols.iter().map(|&c| value(c)).collect::<anyhow::Result<_>>()?);
        rec.targets.push(tgt_cols.iter().map(|&c| value(c)).collect::<anyhow::Result<_>>()?);
    }
    if rec.inputs.is_empty() {
        bail!("{}: no data rows", path.display());
    }
    Ok(rec)
}
