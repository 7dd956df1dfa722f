//! Neuron-updates per second with PES learning on, both executors, n = 1e3..1e6, 1-D and 12-D input.
//!
//! `cargo bench --bench neuro_throughput` (add `-- --quick` to skip n = 1e6, `-- --n 10000 --d 1` for one row,
//! `-- --loihi-only` to skip the float executor when repeating rows; `-- --threads N` for the multi-threaded
//! speed-up instead: N threads against one, per wall-second, measured alternately in the same run at n = 1e5
//! and 1e6 or at the one `--n`, with `--rounds R` rounds; `-- --delivery` for the readout delivery sweep: per-spike against dense delivery
//! across firing rates, sizes and readout dimensions). Prints each figure with its
//! ratio to the anchors of docs/ARCHITECTURE.md §7 measured on this machine kind (Nengo reference simulator with PES:
//! 6 M/s at n = 1000, 16 M/s at n = 10 000; NengoLoihi emulator: 60 k/s); `scripts/nengo_compare.py` measures
//! Nengo in the same run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use spikearm::neuro::loihi::compartment::SpikeMasks;
use spikearm::neuro::loihi::delivery::{AllRows, Delivery, DeliveryPath, SPARSE_DELIVERY_RATIO, TileSpikes};
use spikearm::neuro::{
    BuiltNetwork, EnsembleSpec, Executor, FloatExecutor, LoihiExecutor, LoihiParams, NetworkSpec, PesSpec,
};

const NENGO_LOIHI_ANCHOR: f64 = 60e3;

/// CPU time of this thread, s: unlike wall time it does not count the time other jobs on this shared
/// 2-core machine hold the core, so the figure is the single-thread throughput the core reaches.
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// CPU time of the whole process (all threads), s.
fn process_cpu_s() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn nengo_anchor(n: usize) -> f64 {
    match n {
        0..=100 => 0.65e6,
        101..=1000 => 6e6,
        _ => 16e6,
    }
}

/// Steps per CPU-second and per wall-second (after warm-up) with learning on, running for about `budget`.
fn measure(exec: &mut dyn Executor, d: usize, k: usize, budget: Duration) -> (f64, f64) {
    let r = measure_all(exec, d, k, budget);
    (r.0, r.1)
}

/// [`measure`], and steps per CPU-second of the whole process (all its threads).
fn measure_all(exec: &mut dyn Executor, d: usize, k: usize, budget: Duration) -> (f64, f64, f64) {
    let mut out = vec![0.0; k];
    let mut input = vec![0.0; d];
    let mut error = vec![0.0; k];
    let mut t = 0usize;
    let mut step = |exec: &mut dyn Executor, t: usize| {
        let phase = t as f64 * 0.001 * std::f64::consts::TAU;
        for (j, x) in input.iter_mut().enumerate() {
            *x = (phase + j as f64).sin();
        }
        exec.step(&input, Some(&error), &mut out).unwrap();
        for (j, e) in error.iter_mut().enumerate() {
            *e = out[j] - input[0] * input[0] + 0.1 * j as f64;
        }
    };
    for _ in 0..50 {
        step(exec, t);
        t += 1;
    }
    let start = Instant::now();
    let (cpu_start, process_start) = (thread_cpu_s(), process_cpu_s());
    let mut steps = 0u64;
    while start.elapsed() < budget || steps < 20 {
        for _ in 0..10 {
            step(exec, t);
            t += 1;
        }
        steps += 10;
    }
    black_box(&out);
    (
        steps as f64 / (thread_cpu_s() - cpu_start),
        steps as f64 / start.elapsed().as_secs_f64(),
        steps as f64 / (process_cpu_s() - process_start),
    )
}

/// Wall-clock steps/s of the fixed-point executor on one thread and on `threads`, measured alternately
/// (`rounds` times, ~1.5 s each) so both see the same machine load; prints each round's speed-up and the median.
fn speedup_table(threads: usize, sizes: &[usize], dims: &[usize], rounds: usize) {
    // "cores used": process CPU-seconds per wall-second while the N threads ran; below N, other jobs held the
    // cores and the speed-up measures the machine's load, not the sweep. "efficiency": steps per CPU-second of
    // all N threads over steps per CPU-second of one (1.0: splitting the step costs no extra work).
    println!(
        "{:>9} {:>3} {:>8} {:>16} {:>16} {:>9} {:>11} {:>11}",
        "n", "d", "threads", "1-thread st/s", "N-thread st/s", "speed-up", "cores used", "efficiency"
    );
    for &d in dims {
        for &n in sizes {
            let spec = NetworkSpec::new(EnsembleSpec::new(n, d, 0), PesSpec::new(1, 1e-4));
            let built = BuiltNetwork::build(&spec).unwrap();
            // Parts of one tile at least: the split is measured at every size, to find where it starts to pay
            // (`LoihiParams::thread_min_neurons`' default follows that crossover).
            let params = |threads| LoihiParams { threads, thread_min_neurons: 1024, ..LoihiParams::default() };
            let exec_with = |t| LoihiExecutor::new(&built, params(t)).unwrap();
            let (mut one, mut many) = (exec_with(1), exec_with(threads));
            let budget = Duration::from_millis(1500);
            let mut ratios = Vec::new();
            for _ in 0..rounds {
                let (cpu_one, wall_one) = measure(&mut one, d, 1, budget);
                let (_, wall_many, cpu_many) = measure_all(&mut many, d, 1, budget);
                ratios.push(wall_many / wall_one);
                println!(
                    "{n:>9} {d:>3} {:>8} {wall_one:>16.1} {wall_many:>16.1} {:>8.2}x {:>11.2} {:>11.2}",
                    many.threads(),
                    wall_many / wall_one,
                    wall_many / cpu_many,
                    cpu_many / cpu_one
                );
            }
            ratios.sort_by(f64::total_cmp);
            println!("{n:>9} {d:>3} median speed-up {:.2}x over {rounds} rounds", ratios[rounds / 2]);
        }
    }
}

/// Readout delivery alone, per step (all tiles of the ensemble, spikes drawn at random at each firing rate):
/// per-spike row adds against the dense masked sum, and the automatic choice, in ns per step; the crossover
/// rate is where per-spike delivery stops winning. The readout layout (groups, shifts) is a real network's.
fn delivery_table(sizes: &[usize], dims: &[usize]) {
    const TILE: usize = 1024;
    let rates = [0.005, 0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.10, 0.15, 0.20];
    println!(
        "{:>9} {:>3} {:>7} {:>14} {:>14} {:>14} {:>9}",
        "n", "k", "rate", "sparse ns/step", "dense ns/step", "auto ns/step", "faster"
    );
    for &k in dims {
        for &n in sizes {
            let spec = NetworkSpec::new(EnsembleSpec::new(n, 1, 0), PesSpec::new(k, 1e-4));
            let built = BuiltNetwork::build(&spec).unwrap();
            let exec = LoihiExecutor::new(&built, LoihiParams::default()).unwrap();
            let readout = &exec.network().readout;
            let d = Delivery { k, group_size: readout.group_size, group_shift: &readout.group_shift };
            let mut state = 0x9E37_79B9_7F4A_7C15u64;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let mut weights: Vec<i32> = (0..n * k).map(|_| (next() >> 40) as i32 - (1 << 23)).collect();
            let mut crossover = None;
            for &rate in &rates {
                // Eight steps' spike masks, per tile, cycled, so the branch predictor cannot learn one pattern.
                let threshold = (rate * u64::MAX as f64) as u64;
                let masks: Vec<Vec<Vec<u16>>> = (0..8)
                    .map(|_| {
                        (0..n)
                            .step_by(TILE)
                            .map(|a| {
                                let mut tile = vec![0u16; SpikeMasks::words(TILE.min(n - a))];
                                for i in 0..TILE.min(n - a) {
                                    tile[i / 16] |= u16::from(next() < threshold) << (i % 16);
                                }
                                tile
                            })
                            .collect()
                    })
                    .collect();
                let mut out = vec![0i32; readout.group_shift.len() * k];
                let mut list = Vec::with_capacity(TILE);
                let rows = AllRows { weights: &mut weights, n };
                let mut time = |path: DeliveryPath| {
                    let mut step = |s: usize| {
                        let tiles = &masks[s % masks.len()];
                        for (t, a) in (0..n).step_by(TILE).enumerate() {
                            let len = TILE.min(n - a);
                            // (The core counts a tile's spikes as it updates it; here they are counted apart.)
                            let count = SpikeMasks::count(&tiles[t]);
                            let spikes = TileSpikes { masks: &tiles[t], len, count };
                            d.deliver(path, &rows, a, a, spikes, &mut list, &mut out);
                        }
                    };
                    (0..20).for_each(&mut step);
                    let (start, mut steps) = (Instant::now(), 0);
                    while start.elapsed() < Duration::from_millis(200) || steps < 20 {
                        step(steps);
                        steps += 1;
                    }
                    start.elapsed().as_nanos() as f64 / steps as f64
                };
                let (sparse, dense, auto) =
                    (time(DeliveryPath::Sparse), time(DeliveryPath::Dense), time(DeliveryPath::Auto));
                black_box(&out);
                if sparse > dense && crossover.is_none() {
                    crossover = Some(rate);
                }
                let faster = if sparse < dense { "sparse" } else { "dense" };
                println!("{n:>9} {k:>3} {:>6.1}% {sparse:>14.0} {dense:>14.0} {auto:>14.0} {faster:>9}", rate * 100.0);
            }
            let found = crossover.map_or("above every rate".into(), |r| format!("at or below {:.1} %", r * 100.0));
            let switch = (k - 1) as f64 / (k * SPARSE_DELIVERY_RATIO) as f64 * 100.0;
            println!("{n:>9} {k:>3} per-spike delivery stops winning {found} (auto switches at {switch:.1} %)");
        }
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let loihi_only = std::env::args().any(|a| a == "--loihi-only");
    let args: Vec<String> = std::env::args().collect();
    // `--n N` and `--d D` restrict the table to one size or input dimension (for profiling).
    let pick = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)?.parse::<usize>().ok());
    let all: &[usize] = if quick { &[1000, 10_000, 100_000] } else { &[1000, 10_000, 100_000, 1_000_000] };
    let sizes: Vec<usize> = all.iter().copied().filter(|&n| pick("--n").is_none_or(|p| p == n)).collect();
    let dims: Vec<usize> = [1usize, 12].into_iter().filter(|&d| pick("--d").is_none_or(|p| p == d)).collect();
    if args.iter().any(|a| a == "--delivery") {
        let sizes = pick("--n").map_or(vec![10_000, 100_000, 1_000_000], |n| vec![n]);
        let ks = pick("--k").map_or(vec![1, 2, 12], |k| vec![k]);
        delivery_table(&sizes, &ks);
        return;
    }
    if let Some(threads) = pick("--threads") {
        let sizes = pick("--n").map_or(vec![100_000, 1_000_000], |n| vec![n]);
        speedup_table(threads, &sizes, &dims, pick("--rounds").unwrap_or(3).max(1));
        return;
    }
    println!(
        "{:>9} {:>3} {:>6} {:>14} {:>10} {:>10} {:>12} {:>16}",
        "n", "d", "exec", "updates/cpu-s", "vs Nengo", "vs NLoihi", "cpu-µs/step", "updates/wall-s"
    );
    for &d in &dims {
        for &n in &sizes {
            let spec = NetworkSpec::new(EnsembleSpec::new(n, d, 0), PesSpec::new(1, 1e-4));
            let built = BuiltNetwork::build(&spec).unwrap();
            let budget = Duration::from_millis(if n >= 1_000_000 { 3000 } else { 1500 });
            let mut loihi = LoihiExecutor::new(&built, LoihiParams::default()).unwrap();
            let mut float = FloatExecutor::new(&built);
            let execs: Vec<(&str, &mut dyn Executor)> = if loihi_only {
                vec![("loihi", &mut loihi)]
            } else {
                vec![("loihi", &mut loihi), ("float", &mut float)]
            };
            for (name, exec) in execs {
                let (sps, wall_sps) = measure(exec, d, 1, budget);
                let ups = sps * n as f64;
                println!(
                    "{n:>9} {d:>3} {name:>6} {ups:>14.3e} {:>9.1}x {:>9.0}x {:>12.2} {:>16.3e}",
                    ups / nengo_anchor(n),
                    ups / NENGO_LOIHI_ANCHOR,
                    1e6 / sps,
                    wall_sps * n as f64
                );
            }
        }
    }
}
