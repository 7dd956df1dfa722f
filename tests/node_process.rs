//! The real binary: `spikearm sim node` and `spikearm control` as two OS processes over zenoh (TCP on
//! loopback); SIGTERM to the controller leaves a complete checkpoint and exits 0; a controller killed with
//! SIGKILL and restarted on its checkpoint resumes at the adapted error, not the naive one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use spikearm::bus::{Bus, BusConfig, JointStates, NodeState, Payload, Queue, SCHEMA_VERSION, Status};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spikearm"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env("RUST_LOG", "info").stdin(Stdio::null());
    c
}

#[test]
fn sigterm_leaves_a_complete_checkpoint_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("w.json");
    let ep = loopback_endpoint();
    // Guarded: a failed assertion below must not leave a spinning node behind.
    let mut sim_cmd = bin();
    sim_cmd
        .args(["sim", "node", "--config", "config/sim.toml", "--set", &format!("bus.listen=[\"{ep}\"]")])
        .args(["--set", "initial_q=[1.0, -1.4, -0.6]"]);
    let sim = Logged::spawn(sim_cmd);
    let mut ctrl_cmd = bin();
    ctrl_cmd
        .args(["control", "--config", "config/control.toml", "--set", &format!("bus.connect=[\"{ep}\"]")])
        .args(["--set", &format!("checkpoint=\"{}\"", ckpt.display()), "--set", "checkpoint_period_s=0"])
        .args(["--set", "controller.neurons=200"]);
    let mut ctrl = Logged::spawn(ctrl_cmd);
    thread::sleep(Duration::from_millis(2500));
    assert!(ctrl.child.try_wait().unwrap().is_none(), "controller still running before the signal");
    let (status, err) = ctrl.stop_with("-TERM", Duration::from_secs(10));
    assert!(status.success(), "controller exit {status:?}\n{err}");
    assert!(err.contains("SIGTERM"), "{err}");
    let (sim_status, sim_log) = sim.stop_with("-TERM", Duration::from_secs(10));
    assert!(sim_status.success(), "sim exit {sim_status:?}\n{sim_log}");
    let c = spikearm::node::load_checkpoint(Path::new(&ckpt)).unwrap().expect("a checkpoint was written");
    assert_eq!(c.weights.decoders.len(), c.weights.neurons * c.weights.dimensions, "a complete readout");
    assert_eq!(c.arm, "threelink");
}

/// SIGKILL (no shutdown protocol, no final checkpoint), then its log.
fn kill9(node: Logged) -> String {
    let (status, log) = node.stop_with("-KILL", Duration::from_secs(10));
    assert!(!status.success(), "a SIGKILLed process cannot exit 0: {status:?}");
    log
}

/// Mean tracking error the controller reports over `[from, to)` s of sim time after its first running status
/// (status messages at 10 Hz carry the error of the latest state). Panics with the log if it never runs.
fn mean_error(statuses: &Queue<Status>, from: f64, to: f64, ctrl: &Logged) -> f64 {
    let give_up = Instant::now() + Duration::from_secs(30 + (to * 5.0) as u64);
    let mut t0 = None;
    let (mut sum, mut n) = (0.0, 0);
    while Instant::now() < give_up {
        let Some(Ok(st)) = statuses.recv_timeout(Duration::from_millis(50)).unwrap() else { continue };
        if st.node != "controller" || st.state != NodeState::Running || st.ticks == 0 {
            continue;
        }
        let t0 = *t0.get_or_insert(st.stamp);
        let t = st.stamp - t0;
        if t >= to {
            assert!(n >= 3, "only {n} status messages in [{from}, {to}) s");
            return sum / f64::from(n);
        }
        if t >= from
            && let Some(e) = st.controller().and_then(|c| c.tracking_error_m)
        {
            sum += e;
            n += 1;
        }
    }
    panic!("controller {:?} never reported {to} s of running (pid {})", t0, ctrl.child.id());
}

fn drain(q: &Queue<Status>) {
    while let Ok(Some(_)) = q.try_recv() {}
}

/// The controller is SIGKILLed after adapting to a payload (real-time sim, checkpoints every
/// second) and restarted on the same checkpoint with learning off: its error is the adapted one, well below
/// what the same controller without learned weights gets under the same payload (measured first).
#[test]
fn sigkill_then_restart_resumes_with_the_learned_weights() {
    const PAYLOAD_KG: f64 = 1.5;
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("w.json");
    let ep_sim = loopback_endpoint();
    let ep_test = loopback_endpoint();
    let mut sim_cmd = bin();
    sim_cmd
        .args(["sim", "node", "--config", "config/sim.toml", "--set", &format!("bus.listen=[\"{ep_sim}\"]")])
        .args(["--set", "timing=\"real_time\"", "--set", "initial_q=[1.0, -1.4, -0.6]"])
        .args(["--set", "wait=\"sleep\""]);
    let sim = Logged::spawn(sim_cmd);
    // The test is a third peer. zenoh peers do not forward between two others, so every controller connects
    // to both the sim and the test (a full mesh on loopback).
    let bus = Bus::open(
        "threelink",
        &BusConfig { zenoh_json5: None, listen: vec![ep_test.clone()], connect: vec![ep_sim.clone()] },
    )
    .unwrap();
    let keys = bus.keys().clone();
    let states = bus.latest::<JointStates>(&keys.joint_states()).unwrap();
    let statuses = bus.queue::<Status>(&keys.status("controller"), 4096).unwrap();
    let first = match states.recv_timeout(Duration::from_secs(30)).unwrap() {
        Some(Ok(js)) => js,
        Some(Err(e)) => panic!("{e}"),
        None => panic!("no joint states from the sim within 30 s"),
    };
    // One fixed target for every controller: where the arm starts.
    let target = first.ee_position;
    let payload = Payload { v: SCHEMA_VERSION, mass_kg: PAYLOAD_KG, offset_m: [0.0; 3] };
    for _ in 0..3 {
        bus.put(&keys.payload(), &payload).unwrap();
        thread::sleep(Duration::from_millis(100));
    }
    let controller = |learning: bool, checkpoint: bool| {
        let mut c = bin();
        c.args(["control", "--config", "config/control.toml"])
            .args(["--set", &format!("bus.connect=[\"{ep_sim}\", \"{ep_test}\"]")])
            .args(["--set", &format!("target=[{}, {}, {}]", target[0], target[1], target[2])])
            .args(["--set", "controller.neurons=200", "--set", &format!("controller.learning={learning}")])
            // A little above the default 2e-4 so that holding a pose adapts within a few seconds (1e-3 goes
            // unstable here).
            .args(["--set", "controller.learning_rate=3e-4", "--set", "checkpoint_period_s=1.0"])
            // Three busy processes (sim, controller, this test) on a two-core machine: spinning nodes would
            // starve zenoh's I/O threads (README, "spin"), and this test is about the weights, not latency.
            .args(["--set", "wait=\"sleep\""]);
        if checkpoint {
            c.args(["--set", &format!("checkpoint=\"{}\"", ckpt.display())]);
        }
        Logged::spawn(c)
    };

    // 1. The naive level: the adaptive controller with nothing learned and learning off.
    let naive = controller(false, false);
    let e_naive = mean_error(&statuses, 1.0, 2.5, &naive);
    kill9(naive);

    // 2. Learn, with a checkpoint every second; then SIGKILL (no final checkpoint).
    drain(&statuses);
    let learner = controller(true, true);
    let e_adapted = mean_error(&statuses, 6.0, 8.0, &learner);
    assert!(ckpt.exists(), "no periodic checkpoint within 8 s");
    let learner_log = kill9(learner);
    // A restart takes ~50 ms, about the watchdog's delay: wait so that the sim always holds the arm first.
    thread::sleep(Duration::from_millis(300));
    assert!(!learner_log.contains("learned weights restored"), "the learner started fresh: {learner_log}");
    let saved = spikearm::node::load_checkpoint(&ckpt).unwrap().expect("a complete checkpoint after SIGKILL");
    assert!(saved.weights.decoders.iter().any(|&w| w != 0.0), "the checkpoint holds learned weights");

    // 3. Restart on the checkpoint with learning off: whatever it does now comes from the restored weights.
    drain(&statuses);
    let restored = controller(false, true);
    let e_restored = mean_error(&statuses, 1.5, 3.5, &restored);
    let restored_log = restored.stop_with("-TERM", Duration::from_secs(10)).1;
    let sim_log = sim.stop_with("-TERM", Duration::from_secs(10)).1;
    eprintln!(
        "{PAYLOAD_KG} kg: naive {:.2} mm, adapted {:.2} mm, after SIGKILL + restart {:.2} mm",
        e_naive * 1e3,
        e_adapted * 1e3,
        e_restored * 1e3
    );
    assert!(restored_log.contains("learned weights restored"), "{restored_log}");
    assert!(sim_log.contains("holding"), "the sim held the arm while no controller ran");
    assert!(e_adapted < 0.25 * e_naive, "did not adapt: naive {e_naive}, adapted {e_adapted}");
    assert!(e_restored < 0.25 * e_naive, "restart lost the learned weights: naive {e_naive}, restored {e_restored}");
    // Close to the adapted level: within a factor of two, give or take 15 % of the naive error. The restored
    // controller (learning off) starts from where the payload pulled the held arm; over nineteen runs it settled
    // at 0.4–3.3 mm but once, under the full suite's load, at 7.3 mm; the adapted one at 0.01–0.6 mm, the naive
    // one at 58–73 mm.
    assert!(
        e_restored < 2.0 * e_adapted + 0.15 * e_naive,
        "restart is not at the adapted level: adapted {e_adapted}, restored {e_restored} (naive {e_naive})"
    );
}
