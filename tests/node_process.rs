//! The real binary: `spikearm sim node` and `spikearm control` as two OS processes over zenoh (TCP on
//! loopback); SIGTERM to the controller leaves a complete checkpoint and exits 0.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spikearm"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env("RUST_LOG", "info").stdin(Stdio::null());
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success();
    assert!(ok, "kill -TERM");
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let end = Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("process did not exit within {within:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_leaves_a_complete_checkpoint_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("w.json");
    let ep = format!("tcp/127.0.0.1:{}", free_port());
    let mut sim = bin()
        .args(["sim", "node", "--config", "config/sim.toml", "--set", &format!("bus.listen=[\"{ep}\"]")])
        .args(["--set", "initial_q=[1.0, -1.4, -0.6]"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ctrl = bin()
        .args(["control", "--config", "config/control.toml", "--set", &format!("bus.connect=[\"{ep}\"]")])
        .args(["--set", &format!("checkpoint=\"{}\"", ckpt.display()), "--set", "checkpoint_period_s=0"])
        .args(["--set", "controller.neurons=200"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(2500));
    assert!(ctrl.try_wait().unwrap().is_none(), "controller still running before the signal");
    sigterm(&ctrl);
    let status = wait_exit(&mut ctrl, Duration::from_secs(10));
    let mut err = String::new();
    std::io::Read::read_to_string(ctrl.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "controller exit {status:?}\n{err}");
    assert!(err.contains("SIGTERM"), "{err}");
    sigterm(&sim);
    let sim_status = wait_exit(&mut sim, Duration::from_secs(10));
    assert!(sim_status.success(), "sim exit {sim_status:?}");
    let c = spikearm::node::load_checkpoint(Path::new(&ckpt)).unwrap().expect("a checkpoint was written");
    assert_eq!(c.weights.decoders.len(), c.weights.neurons * c.weights.dimensions, "a complete readout");
    assert_eq!(c.arm, "threelink");
}
