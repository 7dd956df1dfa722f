//! How many adaptive arms one machine serves at 1 kHz through a router: `spikearm launch --processes` on a
//! real-time fleet of N UR5e-class arms (fixed-point core, 1000 + 1000 neurons, learning on, following a
//! target circle), all clients of the router the launcher starts, deployed either as a process per node
//! (`per-node`) or as two host processes — all sims in one, all controllers in the other — of T worker
//! threads each (`hosted-T`, `launch --hosted T`). For each deployment and N it prints the worst and the median
//! arm's state→torque p99, the deadline misses, the CPU the whole deployment used (router and nodes, from the
//! children's rusage) and the router's message rate.
//!
//! `cargo bench --bench fleet_scale [-- --arms 1,2,4,8 --secs 10 --deploy hosted-1,per-node --host-wait sleep
//! --chrt 50]`. With `--chrt P` the router (started by the bench, not the launcher) and every node process run
//! under `chrt -f P` (SCHED_FIFO, as a control computer runs its real-time loops; needs root), so that other
//! work on the machine cannot delay them. Bars of the fleet work: p99 ≤ 1 ms and misses ≤ 0.1 % on every arm.
//! The machine's load average is printed: on a shared machine the figures without `--chrt` say little.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use spikearm::bus::{JointStates, SCHEMA_VERSION, TorqueCmd, encode_into};
use spikearm::node::SimNodeReport;

#[path = "common/load.rs"]
mod load;
use load::load_average;

const UR5E_Q0: &str = "[0.0, -1.2, 1.6, -1.97, -1.57, 0.0]";

/// How the nodes are deployed.
#[derive(Debug, Clone, Copy)]
enum Deploy {
    /// A process per node.
    PerNode,
    /// A host process per role with this many worker threads.
    Hosted(u16),
}

impl Deploy {
    fn parse(s: &str) -> Self {
        match s.trim() {
            "per-node" => Deploy::PerNode,
            h => Deploy::Hosted(
                h.strip_prefix("hosted-").and_then(|t| t.parse().ok()).expect("--deploy: per-node or hosted-T"),
            ),
        }
    }

    fn label(self) -> String {
        match self {
            Deploy::PerNode => "per-node".into(),
            Deploy::Hosted(t) => format!("hosted-{t}"),
        }
    }
}

struct Args {
    arms: Vec<usize>,
    secs: f64,
    deploy: Vec<Deploy>,
    /// `launch --host-wait`.
    host_wait: Option<String>,
    /// SCHED_FIFO priority of the router and the nodes.
    chrt: Option<u8>,
}

fn args() -> Args {
    let mut a =
        Args { arms: vec![1, 2, 4, 8], secs: 10.0, deploy: vec![Deploy::Hosted(1)], host_wait: None, chrt: None };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--arms" => {
                let v = it.next().expect("--arms needs a list, e.g. 1,2,4,8");
                a.arms = v.split(',').map(|n| n.trim().parse().expect("--arms: numbers")).collect();
            }
            "--secs" => a.secs = it.next().and_then(|v| v.parse().ok()).expect("--secs: seconds"),
            "--deploy" => a.deploy = it.next().expect("--deploy: a list").split(',').map(Deploy::parse).collect(),
            "--host-wait" => a.host_wait = Some(it.next().expect("--host-wait: spin or sleep")),
            "--chrt" => a.chrt = Some(it.next().and_then(|v| v.parse().ok()).expect("--chrt: a priority, 1-99")),
            _ => {} // cargo bench passes `--bench`
        }
    }
    a
}

/// A real-time scenario of `n` UR5e arms, one adaptive controller each, `secs` long.
fn scenario(n: usize, secs: f64) -> String {
    let mut s = format!(
        "name = \"scale-{n}\"\ntiming = \"real_time\"\nduration_s = {secs}\ncontrollers = [\"adaptive\"]\n\n\
         [controller]\nneurons = 1000\nseed = 0\n\n\
         [circle]\nstart_s = 0.5\nreach_s = 1.0\ntargets = 8\nradius_m = 0.1\n\n\
         [[windows]]\nname = \"all\"\nfrom_s = 0.5\nto_s = {secs}\n"
    );
    for i in 0..n {
        s.push_str(&format!("\n[[arms]]\nid = \"arm{i}\"\nurdf = \"config/arms/ur5e.urdf\"\ninitial_q = {UR5E_Q0}\n"));
    }
    s
}

/// User plus system CPU time of this process's waited-for descendants so far, s.
fn children_cpu_s() -> f64 {
    // SAFETY: getrusage writes one plain struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// Encoded sizes of one UR5e state and one command on the bus, bytes.
fn message_bytes() -> (usize, usize) {
    let names = ["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3"];
    let js = JointStates {
        v: SCHEMA_VERSION,
        stamp: 12.345,
        seq: 12_345,
        name: names.iter().map(|s| format!("{s}_joint")).collect(),
        position: vec![-1.234_567_890_123; 6],
        velocity: vec![0.012_345_678_901; 6],
        effort: vec![-12.345_678_901_23; 6],
        ee_position: [0.456_789_012_345, -0.123_456_789_012, 0.678_901_234_567],
        payload_effort: Vec::new(),
    };
    let cmd =
        TorqueCmd { v: SCHEMA_VERSION, seq: 12_345, effort: vec![-12.345_678_901_23; 6], adaptive: vec![1.2345; 6] };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    encode_into(&js, &mut a);
    encode_into(&cmd, &mut b);
    (a.len(), b.len())
}

/// A router under `chrt -f prio` on a free loopback port (no access control, no scouting); its endpoint.
/// Stopped (and its CPU time then counted) by [`stop`].
fn start_router(dir: &Path, prio: u8) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let config = dir.join("router.json5");
    std::fs::write(
        &config,
        format!(
            "{{ mode: \"router\", listen: {{ endpoints: [\"{endpoint}\"] }}, scouting: {{ multicast: {{ enabled: false }} }} }}"
        ),
    )
    .unwrap();
    let child = Command::new("chrt")
        .args(["-f", &prio.to_string(), env!("CARGO_BIN_EXE_spikearm"), "router", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chrt spikearm router (chrt needs root or CAP_SYS_NICE)");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let t0 = Instant::now();
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(20), "the router did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, endpoint)
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").args(["-s", "TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

/// Every `sim_report.json` under `dir`.
fn sim_reports(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(sim_reports(&p));
        } else if p.file_name().is_some_and(|f| f == "sim_report.json") {
            found.push(p);
        }
    }
    found
}

fn main() {
    let a = args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (js_bytes, cmd_bytes) = message_bytes();
    println!(
        "fleet_scale: UR5e arms, adaptive (1000 + 1000 neurons, fixed point, learning on), real time 1 kHz, {:.0} s, \
         through a router; host workers {}; {}; load average {}",
        a.secs,
        a.host_wait.as_deref().unwrap_or("spinning"),
        a.chrt.map_or("normal priority".to_string(), |p| format!("SCHED_FIFO priority {p}")),
        load_average()
    );
    // At 1 kHz, bytes per step are kB/s; each message enters the router once and leaves it once.
    println!(
        "per arm: joint_states {js_bytes} B + torque_cmd {cmd_bytes} B per step = {} kB/s into the router and as \
         much out (JSON bodies, before zenoh's framing)",
        js_bytes + cmd_bytes
    );
    println!(
        "| deployment | arms | p99 worst arm | p99 median arm | misses worst arm | CPU (cores) | router msgs/s in | wall |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (&deploy, &n) in a.deploy.iter().flat_map(|d| a.arms.iter().map(move |n| (d, n))) {
        let label = deploy.label();
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("scale.toml");
        std::fs::write(&file, scenario(n, a.secs)).expect("scenario");
        let out = dir.path().join("report");
        let (cpu0, t0) = (children_cpu_s(), Instant::now());
        let router = a.chrt.map(|prio| start_router(dir.path(), prio));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spikearm"));
        cmd.current_dir(root)
            .args(["launch", file.to_str().unwrap(), "--processes", "--quiet", "--no-record", "--out"])
            .arg(&out);
        if let Deploy::Hosted(t) = deploy {
            cmd.args(["--hosted", &t.to_string()]);
            if let Some(w) = &a.host_wait {
                cmd.args(["--host-wait", w]);
            }
        }
        if let (Some(prio), Some((_, endpoint))) = (a.chrt, &router) {
            let on = format!("chrt -f {prio}");
            cmd.args(["--connect", endpoint, "--on", &format!("sim={on}"), "--on", &format!("controller={on}")]);
        }
        let status = cmd.stdin(Stdio::null()).stdout(Stdio::null()).status().expect("spikearm launch");
        if let Some((child, _)) = router {
            stop(child);
        }
        let (wall, cpu) = (t0.elapsed().as_secs_f64(), children_cpu_s() - cpu0);
        if !status.success() {
            println!("| {label} | {n} | launch failed ({status}); logs lost with the temp dir | | | | | |");
            continue;
        }
        let mut reports: Vec<SimNodeReport> = sim_reports(&out.join("processes"))
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("sim report")).expect("sim report JSON"))
            .collect();
        assert_eq!(reports.len(), n, "one sim report per arm under {}", out.display());
        reports.sort_by(|x, y| x.latency.p99_us.total_cmp(&y.latency.p99_us));
        let worst = reports.last().expect("one arm at least");
        let median = &reports[reports.len() / 2];
        let miss = |r: &SimNodeReport| 100.0 * r.deadline_misses as f64 / r.steps.max(1) as f64;
        let worst_miss = reports.iter().map(miss).fold(0.0, f64::max);
        let steps: u64 = reports.iter().map(|r| r.steps).sum();
        println!(
            "| {label} | {n} | {:.0} µs | {:.0} µs | {worst_miss:.2} % | {:.2} | {:.0} | {wall:.1} s |",
            worst.latency.p99_us,
            median.latency.p99_us,
            cpu / wall,
            2.0 * steps as f64 / a.secs
        );
    }
    println!("load average after: {}", load_average());
}
