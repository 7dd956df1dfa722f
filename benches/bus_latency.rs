//! Bus and nodes: the sim node and the adaptive controller node on the UR5e-class arm (1000
//! neurons, learning on, holding its start pose), each with its own zenoh session, joined over TCP on
//! 127.0.0.1 — the deployment path, in one process.
//!
//! 1. Real time at 1 kHz for `--secs` (default 60): the sim's state→torque latency (publishing `joint_states`
//!    seq k to receiving the `torque_cmd` answering k; p50/p99/p99.9/max), deadline misses, late answers.
//! 2. Lockstep for `--lockstep-secs` of sim time (default 10): steps per second of wall time through the bus,
//!    over TCP between two sessions and within one in-process session.
//!
//! 3. With `--ros2 HZ`: the real-time run again with the sim's ROS 2 side on (`[ros2]`, `/joint_states` at HZ
//!    with a subscriber across TCP), alternating off/on runs, to show what the ROS side costs the native path.
//!
//! 4. With `--metrics HZ`: the real-time run again with each node's service thread serving `/metrics` and
//!    `/healthz` and a scraper reading both endpoints of both nodes HZ times a second, alternating off/on runs,
//!    to show that serving metrics does not cost the 1 kHz loop deadlines.
//!
//! `cargo bench --bench bus_latency [-- --secs 60 --lockstep-secs 10 --arm ur5e|threelink --ros2 1000 --metrics 10]`. The
//! machine's load average is printed before and after: the numbers mean little on a loaded machine.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use spikearm::app::ServiceThread;
use spikearm::bus::{Bus, BusConfig};
use spikearm::control::factory::ControllerParams;
use spikearm::node::{
    ControllerNode, ControllerNodeReport, ControllerSettings, NodeProbe, ServiceSettings, Shutdown, SimNode,
    SimNodeReport, SimSettings, TimingMode, WaitMode,
};

#[path = "../tests/common/fixtures.rs"]
mod fixtures;
#[path = "common/load.rs"]
mod load;
use fixtures::{arm_urdf, free_port, loopback_endpoint};
use load::load_average;
use spikearm::arm::Arm;

struct Args {
    secs: f64,
    lockstep_secs: f64,
    arm: String,
    sim_wait: WaitMode,
    ctrl_wait: WaitMode,
    /// ROS 2 joint-state rate of the comparison runs, Hz; `None`: no comparison.
    ros2_hz: Option<f64>,
    /// `/metrics` scrapes per second of the comparison runs; `None`: no comparison.
    metrics_hz: Option<f64>,
}

/// What a run adds to the two nodes.
#[derive(Clone, Copy, Default)]
struct Extras {
    /// The sim's ROS 2 joint states at this rate, Hz, with a subscriber across TCP.
    ros2_hz: Option<f64>,
    /// Both nodes' service threads on, scraped this many times a second (each scrape: `/metrics` and
    /// `/healthz` of both nodes).
    metrics_hz: Option<f64>,
}

fn args() -> Args {
    let mut a = Args {
        secs: 60.0,
        lockstep_secs: 10.0,
        arm: "ur5e".into(),
        sim_wait: WaitMode::Spin,
        ctrl_wait: WaitMode::Spin,
        ros2_hz: None,
        metrics_hz: None,
    };
    let wait = |v: String| match v.as_str() {
        "spin" => WaitMode::Spin,
        "sleep" => WaitMode::Sleep,
        other => panic!("wait mode {other}: spin or sleep"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match k.as_str() {
            "--secs" => a.secs = val("--secs").parse().expect("--secs: seconds"),
            "--lockstep-secs" => a.lockstep_secs = val("--lockstep-secs").parse().expect("--lockstep-secs: seconds"),
            "--arm" => a.arm = val("--arm"),
            "--sim-wait" => a.sim_wait = wait(val("--sim-wait")),
            "--ctrl-wait" => a.ctrl_wait = wait(val("--ctrl-wait")),
            "--ros2" => a.ros2_hz = Some(val("--ros2").parse().expect("--ros2: joint states per second")),
            "--metrics" => a.metrics_hz = Some(val("--metrics").parse().expect("--metrics: scrapes per second")),
            _ => {} // cargo bench passes `--bench`
        }
    }
    a
}

/// Sim session and controller session: two sessions over TCP on loopback, or one shared session.
fn buses(arm: &str, tcp: bool) -> (Bus, Bus) {
    if tcp {
        let ep = loopback_endpoint();
        let sim = Bus::open(arm, &BusConfig { zenoh_json5: None, listen: vec![ep.clone()], connect: vec![] })
            .expect("sim bus");
        let ctrl =
            Bus::open(arm, &BusConfig { zenoh_json5: None, listen: vec![], connect: vec![ep] }).expect("ctrl bus");
        (sim, ctrl)
    } else {
        let b = Bus::open(arm, &BusConfig::default()).expect("bus");
        (b.clone(), b)
    }
}

/// One run's reports, and the scrapes answered (0 without `metrics_hz`).
struct RunReports {
    sim: SimNodeReport,
    ctrl: ControllerNodeReport,
    scrapes: u64,
}

fn run(a: &Args, timing: TimingMode, sim_secs: f64, tcp: bool, extras: Extras) -> RunReports {
    let (urdf_file, q0): (&str, Vec<f64>) = match a.arm.as_str() {
        "ur5e" => ("ur5e.urdf", vec![0.0, -1.2, 1.6, -1.97, -1.57, 0.0]),
        "threelink" => ("threelink.urdf", vec![1.0, -1.4, -0.6]),
        other => panic!("--arm {other}: ur5e or threelink"),
    };
    let arm = Arm::from_urdf(arm_urdf(urdf_file)).expect("arm");
    let (sim_bus, ctrl_bus) = buses(&a.arm, tcp);
    let mut controller = ControllerParams::default().build(&arm).expect("controller");
    let cspec = ControllerSettings { arm: a.arm.clone(), wait: a.ctrl_wait, ..ControllerSettings::default() };
    let mut sspec = SimSettings {
        arm: a.arm.clone(),
        timing,
        wait: a.sim_wait,
        initial_q: Some(q0),
        duration_s: Some(sim_secs),
        ..SimSettings::default()
    };
    // A ROS 2 observer in the controller's session, so that the ROS joint states really cross TCP (dropped
    // unread once its queue is full: it costs the receiving session, never blocks the sim).
    let _observer = extras.ros2_hz.map(|hz| {
        sspec.ros2.enabled = true;
        sspec.ros2.joint_states_hz = hz;
        ctrl_bus.tap("0/joint_states/**", 16).expect("ROS 2 observer")
    });
    let (stop_ctrl, stop_sim) = (Shutdown::new(), Shutdown::new());
    let (sim_probe, ctrl_probe) = (Arc::new(NodeProbe::new()), Arc::new(NodeProbe::new()));
    let services = extras.metrics_hz.map(|hz| {
        let addrs = [format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port())];
        let serve = |addr: &str, probe: &Arc<NodeProbe>, stop: &Shutdown| {
            let settings = ServiceSettings { metrics_listen: Some(addr.to_string()), log_level: None };
            ServiceThread::spawn(&settings, probe.clone(), stop.clone()).expect("service thread")
        };
        let threads = [serve(&addrs[0], &sim_probe, &stop_sim), serve(&addrs[1], &ctrl_probe, &stop_ctrl)];
        (threads, Scraper::start(addrs.to_vec(), hz))
    });
    let (sim, ctrl) = thread::scope(|s| {
        let ctrl = s.spawn(|| {
            ControllerNode::new(&cspec, arm.clone(), controller.as_mut(), &ctrl_bus)?
                .with_probe(ctrl_probe.clone())
                .run(&stop_ctrl)
        });
        // Let the controller's subscriptions reach the sim's session before the clock starts.
        thread::sleep(Duration::from_millis(500));
        let sim = SimNode::new(&sspec, arm.clone(), &sim_bus).and_then(|n| n.with_probe(sim_probe).run(&stop_sim));
        stop_ctrl.trigger();
        (sim.expect("sim node"), ctrl.join().expect("controller thread").expect("controller node"))
    });
    let scrapes = services.map_or(0, |(threads, scraper)| {
        threads.into_iter().for_each(ServiceThread::stop);
        scraper.stop()
    });
    let _ = sim_bus.close();
    let _ = ctrl_bus.close();
    RunReports { sim, ctrl, scrapes }
}

/// A Prometheus-like client on its own thread: `GET /metrics` and `GET /healthz` of every address, `hz` times a
/// second, counting the answers with status 200 (`/healthz` may answer 503 before the loop turns).
struct Scraper {
    done: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    handle: thread::JoinHandle<()>,
}

impl Scraper {
    fn start(addrs: Vec<String>, hz: f64) -> Self {
        let (done, answered) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let (d, n) = (done.clone(), answered.clone());
        let handle = thread::spawn(move || {
            let period = Duration::from_secs_f64(1.0 / hz);
            let mut next = Instant::now();
            while !d.load(Ordering::Relaxed) {
                for addr in &addrs {
                    for path in ["/metrics", "/healthz"] {
                        if http_get_ok(addr, path) {
                            n.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                next += period;
                thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        Self { done, answered, handle }
    }

    /// Stops and returns the answers counted.
    fn stop(self) -> u64 {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
        self.answered.load(Ordering::Relaxed)
    }
}

/// `GET path` over HTTP/1.0; whether it answered 200.
fn http_get_ok(addr: &str, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").is_err() {
        return false;
    }
    let mut text = String::new();
    s.read_to_string(&mut text).is_ok() && (text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.0 200"))
}

fn main() {
    let a = args();
    println!(
        "bus_latency: arm {}, adaptive controller (1000 neurons, learning on), sim waits by {:?}, controller by {:?}, load average {}",
        a.arm,
        a.sim_wait,
        a.ctrl_wait,
        load_average()
    );

    let t = Instant::now();
    let RunReports { sim, ctrl, .. } = run(&a, TimingMode::RealTime, a.secs, true, Extras::default());
    let l = sim.latency;
    println!(
        "real time 1 kHz, TCP 127.0.0.1, {:.0} s: {} steps in {:.1} s wall, {} answers timed",
        a.secs,
        sim.steps,
        t.elapsed().as_secs_f64(),
        l.count
    );
    println!(
        "  state→torque latency µs: p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  mean {:.1}",
        l.p50_us, l.p99_us, l.p999_us, l.max_us, l.mean_us
    );
    println!(
        "  deadline misses {} ({:.3} %), answers after the next step {}, watchdog trips {}, controller ticks {}",
        sim.deadline_misses,
        100.0 * sim.deadline_misses as f64 / sim.steps.max(1) as f64,
        sim.stale_torques,
        sim.watchdog_trips,
        ctrl.ticks
    );
    println!("  bar p99 ≤ 500 µs: {}", if l.p99_us <= 500.0 { "met" } else { "NOT met" });

    for tcp in [true, false] {
        let sim = run(&a, TimingMode::Lockstep, a.lockstep_secs, tcp, Extras::default()).sim;
        println!(
            "lockstep, {}: {} steps in {:.2} s wall = {:.0} steps/s (round trip p50 {:.1} µs, p99 {:.1} µs)",
            if tcp { "TCP 127.0.0.1 (two sessions)" } else { "in-process (one session)" },
            sim.steps,
            sim.wall_s,
            sim.steps as f64 / sim.wall_s,
            sim.latency.p50_us,
            sim.latency.p99_us
        );
    }
    if let Some(hz) = a.ros2_hz {
        comparison(&a, &format!("ROS 2 side ({hz} Hz)"), Extras { ros2_hz: Some(hz), ..Extras::default() });
    }
    if let Some(hz) = a.metrics_hz {
        comparison(&a, &format!("/metrics scraped at {hz} Hz"), Extras { metrics_hz: Some(hz), ..Extras::default() });
    }
    println!("load average after: {}", load_average());
}

/// One number read off a sim report.
type Figure = fn(&SimNodeReport) -> f64;

/// Real time without and with `extras`, alternating (four pairs of off, on runs) so that drifting load hits
/// both; the medians over each side's runs are compared.
fn comparison(a: &Args, what: &str, extras: Extras) {
    let secs = (a.secs / 4.0).max(5.0);
    let mut rows: Vec<(bool, SimNodeReport)> = Vec::new();
    for on in [false, true].repeat(4) {
        let r = run(a, TimingMode::RealTime, secs, true, if on { extras } else { Extras::default() });
        let l = r.sim.latency;
        println!(
            "real time 1 kHz, TCP, {secs:.0} s, {what} {}: p50 {:.1} µs  p99 {:.1} µs  p99.9 {:.1} µs  max {:.1} µs, deadline misses {}, ROS states {}, scrapes answered {}",
            if on { "on" } else { "off" },
            l.p50_us,
            l.p99_us,
            l.p999_us,
            l.max_us,
            r.sim.deadline_misses,
            r.sim.ros2_states,
            r.scrapes
        );
        rows.push((on, r.sim));
    }
    let median = |on: bool, f: Figure| {
        let mut v: Vec<f64> = rows.iter().filter(|r| r.0 == on).map(|r| f(&r.1)).collect();
        v.sort_by(f64::total_cmp);
        0.5 * (v[(v.len() - 1) / 2] + v[v.len() / 2])
    };
    let figures: [(&str, Figure); 3] = [
        ("p50 µs", |r| r.latency.p50_us),
        ("p99 µs", |r| r.latency.p99_us),
        ("deadline misses", |r| r.deadline_misses as f64),
    ];
    for (name, f) in figures {
        let (off, on) = (median(false, f), median(true, f));
        println!("{what}: median {name} off {off:.1}, on {on:.1}, ratio on/off {:.2}", on / off.max(1e-9));
    }
}
