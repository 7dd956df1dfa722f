//! Fixtures the node and bus tests share: free loopback ports and the shipped arm files.
//! Include with `#[path = "common/fixtures.rs"] mod fixtures;`.
#![allow(dead_code)] // each test file uses what it needs

use std::path::Path;

/// A free loopback port: bind port 0, read it, release it (tests running in parallel then do not collide).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A zenoh TCP endpoint on a free loopback port.
pub fn loopback_endpoint() -> String {
    format!("tcp/127.0.0.1:{}", free_port())
}

/// The text of a shipped arm, `config/arms/<file>`.
pub fn arm_urdf(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/arms").join(file)).unwrap()
}

/// A shipped arm, parsed once (`config/arms/<file>`).
pub fn arm(file: &str) -> std::sync::Arc<spikearm::arm::Arm> {
    spikearm::arm::Arm::from_urdf(arm_urdf(file)).unwrap()
}

/// Sim settings for tests: lockstep, and sleeping between steps so that several node pairs share two cores.
pub fn sim_settings() -> spikearm::node::SimSettings {
    spikearm::node::SimSettings {
        timing: spikearm::node::TimingMode::Lockstep,
        wait: spikearm::node::WaitMode::Sleep,
        ..Default::default()
    }
}

/// Controller settings for tests: sleeping between states (see [`sim_settings`]).
pub fn controller_settings() -> spikearm::node::ControllerSettings {
    spikearm::node::ControllerSettings { wait: spikearm::node::WaitMode::Sleep, ..Default::default() }
}

/// `n` sessions of arm `arm` in a full mesh over loopback TCP: each listens on its own port and connects to the
/// earlier ones (peers do not route for each other).
pub fn mesh_buses(arm: &str, n: usize) -> Vec<spikearm::bus::Bus> {
    let eps: Vec<String> = (0..n).map(|_| loopback_endpoint()).collect();
    (0..n)
        .map(|i| {
            let cfg = spikearm::bus::BusConfig {
                zenoh_json5: None,
                listen: vec![eps[i].clone()],
                connect: eps[..i].to_vec(),
            };
            spikearm::bus::Bus::open(arm, &cfg).unwrap()
        })
        .collect()
}

/// A child process whose stderr is drained on a thread (a full pipe would block its logging), killed if the
/// test fails before it is stopped (no spinning node is left behind).
pub struct Logged {
    pub child: std::process::Child,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Logged {
    /// Spawns `cmd` with stdout discarded and stderr captured.
    pub fn spawn(mut cmd: std::process::Command) -> Self {
        use std::io::Read as _;
        use std::process::Stdio;
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let mut pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        });
        Self { child, stderr: Some(stderr) }
    }

    /// Sends `sig` (`-TERM`, `-HUP`, `-KILL`, …) with kill(1).
    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success(), "kill {sig}");
    }

    /// Signals `sig`, waits up to `within` for the exit, and returns its status and the log.
    pub fn stop_with(mut self, sig: &str, within: std::time::Duration) -> (std::process::ExitStatus, String) {
        self.signal(sig);
        let end = std::time::Instant::now() + within;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(std::time::Instant::now() < end, "process did not exit within {within:?} of {sig}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        (status, self.stderr.take().unwrap().join().unwrap())
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the built `spikearm` with `args` (from `dir`, stdin closed), asserts it exits 0 — naming `what` with
/// its status, stdout and stderr otherwise — and returns its stdout.
pub fn spikearm_ok(dir: &Path, args: &[&str], what: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spikearm"))
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{what}: {:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    stdout
}

/// Whether tests that need Python must run it (`CI=true` or `SPIKEARM_REQUIRE_PYTHON=1`): a missing module then
/// fails them instead of skipping them.
pub fn python_required() -> bool {
    std::env::var("CI").as_deref() == Ok("true") || std::env::var("SPIKEARM_REQUIRE_PYTHON").as_deref() == Ok("1")
}

/// Whether `python3 -c <probe>` (an import line) runs here. When it does not, the test is skipped with a loud
/// note, or fails when Python is required ([`python_required`]).
pub fn python_available(probe: &str) -> bool {
    let Some(why) = python_missing(probe) else { return true };
    assert!(!python_required(), "CI=true or SPIKEARM_REQUIRE_PYTHON=1: {why}");
    eprintln!("\n*** skipped: {why} ***\n");
    false
}

/// Why `python3 -c <probe>` (an import line) cannot run here, or `None` when it can.
pub fn python_missing(probe: &str) -> Option<String> {
    use std::process::{Command, Stdio};
    match Command::new("python3").args(["-c", probe]).stdout(Stdio::null()).stderr(Stdio::piped()).output() {
        Err(e) => Some(format!("python3 not runnable ({e})")),
        Ok(o) if !o.status.success() => Some(format!(
            "python3 cannot `{probe}` (pip install -r examples/requirements.txt): {}",
            String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")
        )),
        Ok(_) => None,
    }
}

/// Runs `cmd` to completion within `limit`, returning (success, stdout, stderr); killed past the limit.
pub fn run_with_limit(cmd: &mut std::process::Command, limit: std::time::Duration) -> (bool, String, String) {
    use std::io::Read as _;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Drain both pipes on threads so that a chatty child never blocks on a full pipe.
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let end = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    match status {
        Some(s) => (s.success(), out, err),
        None => (false, out, format!("{err}\n(killed: still running after {limit:?})")),
    }
}
