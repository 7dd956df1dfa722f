//! Interop: the Python example client (`examples/python_client.py`, package `eclipse-zenoh`) against the real
//! binary's sim node (real time) and controller node over TCP on loopback. It must read joint states, have
//! its target reported in the controller's status and see its payload take effect in the sim's efforts.
//!
//! Without python3 or its zenoh module the test says "skipped: …" and passes, unless
//! `SPIKEARM_REQUIRE_PYTHON=1` (set by `.ci/run`), where that is a failure.

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python_client.py");

/// A child process that is stopped (SIGTERM, then SIGKILL) however the test ends.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spikearm"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env("RUST_LOG", "warn").stdin(Stdio::null());
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

#[test]
fn python_client_reads_states_sends_a_target_and_a_payload() {
    if !python_available("import zenoh") {
        return;
    }
    let ep = loopback_endpoint();
    let _sim = Node(
        bin()
            .args(["sim", "node", "--config", "config/sim.toml", "--set", "timing=\"real_time\""])
            .args(["--set", &format!("bus.listen=[\"{ep}\"]"), "--set", "initial_q=[1.0, -1.4, -0.6]"])
            .spawn()
            .unwrap(),
    );
    let _ctrl = Node(
        bin()
            .args(["control", "--config", "config/control.toml", "--set", &format!("bus.connect=[\"{ep}\"]")])
            .args(["--set", "controller.neurons=200"])
            .spawn()
            .unwrap(),
    );
    // The client retries its connection for up to --timeout, so it may start before the sim listens.
    let (ok, out, err) = run_with_limit(
        Command::new("python3").args(["-u", CLIENT, "--connect", &ep, "--arm", "threelink", "--timeout", "10"]),
        Duration::from_secs(30),
    );
    println!("{out}");
    eprintln!("{err}");
    assert!(ok, "the client failed:\n{out}\n{err}");

    let states = out.lines().filter(|l| l.starts_with("joint_states t =")).count();
    assert!(states >= 3, "joint states printed: {states}\n{out}");
    // The controller's status must carry the very target the client sent.
    let sent = out
        .lines()
        .find_map(|l| l.strip_prefix("sending target ").and_then(|r| r.split(" m ").next()))
        .unwrap_or_else(|| panic!("no target sent\n{out}"));
    assert!(
        out.lines().any(|l| l.starts_with("status controller:") && l.contains(&format!("target {sent}"))),
        "no controller status with target {sent}\n{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("status sim:")), "no sim status\n{out}");
    assert!(out.contains("mean effort with the payload"), "{out}");
    assert!(out.lines().last().is_some_and(|l| l.starts_with("ok:")), "{out}");
}
