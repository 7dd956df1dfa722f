//! The nodes as ROS 2 nodes over rmw_zenoh's conventions, end to end:
//! - a third-party rmw_zenoh client (`tests/python/ros2_client.py`: eclipse-zenoh and rosbags, no spikearm
//!   code) finds the real sim binary's node and topics in the graph with their types, decodes `/joint_states`
//!   and moves the arm with `Float64MultiArray` effort commands;
//! - the real controller node drives the real sim node over the ROS topics alone (no native control keys), in
//!   lockstep, through the threelink payload scenario, and meets its payload bar;
//! - malformed CDR on every topic the nodes read is refused and counted.
//!
//! The Python test says "skipped: …" and passes without python3, zenoh or rosbags, unless `CI=true` or
//! `SPIKEARM_REQUIRE_PYTHON=1` (set by `.ci/run`), where that is a failure.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use spikearm::arm::Arm;
use spikearm::bus::ros2::{
    BoolMsg, Distro, Float64MultiArray, Header, Inertia, JointState, PointStamped, RosMessage, Time, Vector3, data_key,
    encode, encode_into,
};
use spikearm::bus::{Bus, BusConfig, QosClass, RawPublisher};
use spikearm::launch::{Deployment, NodeSpec, RunResult, ScenarioResult, ScenarioSpec};
use spikearm::node::{ControllerNode, Shutdown, SimNode, TimingMode, WaitMode};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/ros2_client.py");

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

#[test]
fn a_third_party_rmw_zenoh_client_finds_reads_and_drives_the_sim() {
    if !python_available("import zenoh, rosbags, numpy") {
        return;
    }
    let ep = loopback_endpoint();
    // Gravity off: the client's plain joint-space PD then reaches its goal without a model of the arm.
    let _sim = Node(
        std::process::Command::new(env!("CARGO_BIN_EXE_spikearm"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .args(["sim", "node", "--config", "config/sim.toml", "--set", "timing=\"real_time\""])
            .args(["--set", "wait=\"sleep\"", "--set", "physics.gravity=[0.0, 0.0, 0.0]"])
            .args(["--set", &format!("bus.listen=[\"{ep}\"]"), "--set", "initial_q=[1.0, -1.4, -0.6]"])
            .args(["--set", "ros2.enabled=true", "--set", "ros2.joint_states_hz=200.0"])
            .spawn()
            .unwrap(),
    );
    let (ok, out, err) = run_with_limit(
        Command::new("python3").args(["-u", CLIENT, "--connect", &ep, "--seconds", "4", "--timeout", "10"]),
        Duration::from_secs(40),
    );
    println!("{out}");
    eprintln!("{err}");
    assert!(ok, "the client failed:\n{out}\n{err}");
    assert!(out.contains("nodes: ['/spikearm_sim']"), "{out}");
    assert!(out.contains("graph ok: sensor_msgs/msg/JointState on /joint_states"), "{out}");
    assert!(out.contains("joint_states: names ['joint1', 'joint2', 'joint3']"), "{out}");
    assert!(out.lines().last().is_some_and(|l| l.starts_with("ok:")), "{out}");
}

/// The threelink payload scenario with the sim and the controller on ROS 2 topics only, one in-process
/// session (the nodes share it as `launch` runs them; they still meet only on the ROS keys).
fn payload_scenario_over_ros(spec: &ScenarioSpec, arm: &Arc<Arm>) -> ScenarioResult {
    let deployment = Deployment::from_scenario(spec, &[arm.as_ref()]).unwrap();
    let arm_name = &deployment.arms[0];
    let mut runs = Vec::new();
    for run in &deployment.runs {
        let bus = Bus::open(arm_name, &BusConfig::default()).unwrap();
        // Anything on the native control keys would show here.
        let native = bus.tap(&format!("spikearm/{arm_name}/torque_cmd"), 16).unwrap();
        let (mut sim, mut ctrl) = (None, None);
        for node in &run.nodes {
            match node {
                NodeSpec::Sim(s) => sim = Some(s.clone()),
                NodeSpec::Controller(c) => ctrl = Some(c.clone()),
            }
        }
        let (mut sim, mut ctrl) = (sim.unwrap(), ctrl.unwrap());
        assert_eq!(sim.timing, TimingMode::Lockstep);
        sim.ros2.enabled = true;
        ctrl.ros2.enabled = true;
        // Two nodes spinning on a two-core CI machine next to other tests: sleep instead.
        sim.wait = WaitMode::Sleep;
        ctrl.wait = WaitMode::Sleep;
        let stop_ctrl = Shutdown::new();
        let (sim_report, ctrl_report) = thread::scope(|s| {
            let (bus_c, arm_c, stop_c) = (bus.clone(), Arc::clone(arm), stop_ctrl.clone());
            let c = s.spawn(move || {
                let mut controller = ctrl.controller.build(&arm_c).unwrap();
                ControllerNode::new(&ctrl, arm_c, controller.as_mut(), &bus_c).unwrap().run(&stop_c).unwrap()
            });
            let sim_report = SimNode::new(&sim, Arc::clone(arm), &bus).unwrap().run(&Shutdown::new()).unwrap();
            stop_ctrl.trigger();
            (sim_report, c.join().unwrap())
        });
        assert!(native.try_recv().is_none(), "a torque command went over the native key");
        assert_eq!(sim_report.ros2_commands, sim_report.steps, "every step's torque came over ROS 2");
        assert_eq!(sim_report.watchdog_trips, 0);
        assert_eq!(ctrl_report.ticks, sim_report.steps, "one tick per state");
        bus.close().unwrap();
        runs.push(RunResult { controller: run.label.clone(), sim: sim_report, ctrl: ctrl_report, health: vec![] });
    }
    ScenarioResult::new(spec, runs)
}

/// The scenario `launch/threelink_payload.toml` (65 s lockstep: a lap without payload, a 1 kg payload the
/// controller is not told about, three more laps; the adaptive controller and the OSC comparison) over ROS
/// topics alone. Bar: normalised error of the last lap ≤ 0.2 (the 3-link arm's bar). And the ROS path changes
/// nothing: the torques are bit for bit those of the native run (`launch`'s in-process runner) of the same
/// scenario, and the errors agree to the difference between the controller's forward kinematics (ROS states
/// carry no end effector) and the sim's.
#[test]
fn the_controller_meets_the_payload_bar_over_ros_topics_alone() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/launch/threelink_payload.toml")).unwrap();
    let mut spec = ScenarioSpec::from_toml(&text).unwrap();
    spec.record_every = 50;
    spec.record_bus = false;
    let arm = Arm::from_urdf_file(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(&spec.urdf)).unwrap();
    let t = Instant::now();
    let ros = payload_scenario_over_ros(&spec, &arm);
    let ros_s = t.elapsed().as_secs_f64();
    let native = spikearm::launch::run_scenario(&spec, Arc::clone(&arm), &Shutdown::new(), false, None).unwrap();
    for (r, n) in ros.metrics.runs.iter().zip(&native.metrics.runs) {
        println!("{} over ROS 2: {:?} ({:.0} steps/s)", r.controller, r.window_error_m, r.steps_per_s);
        println!("{} native:     {:?} ({:.0} steps/s)", n.controller, n.window_error_m, n.steps_per_s);
    }
    let x = ros.metrics.normalised_error.expect("a normalised error");
    let xn = native.metrics.normalised_error.expect("a native normalised error");
    println!("normalised error: over ROS 2 {x:.4} ({ros_s:.1} s), native {xn:.4}");
    assert!(x <= 0.2, "normalised error {x} over ROS 2");
    assert!((x - xn).abs() < 1e-3, "ROS 2 {x} vs native {xn}");
    for (r, n) in ros.runs.iter().zip(&native.runs) {
        assert_eq!(r.ctrl.samples.len(), n.ctrl.samples.len(), "{}", r.controller);
        for (a, b) in r.ctrl.samples.iter().zip(&n.ctrl.samples) {
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            // A ROS stamp is whole nanoseconds: the sim's time rounded.
            assert!((a.t - b.t).abs() < 1e-9, "{}: sample times {} vs {}", r.controller, a.t, b.t);
            assert_eq!(bits(&a.effort), bits(&b.effort), "{} at t = {}: efforts differ", r.controller, a.t);
            assert!(
                (a.error_m - b.error_m).abs() < 1e-6,
                "{} at t = {}: {} vs {}",
                r.controller,
                a.t,
                a.error_m,
                b.error_m
            );
        }
    }
}

/// A raw publisher on the ROS key of `topic` with type `T`, once some subscriber matches it.
fn raw_ros_publisher<T: RosMessage>(bus: &Bus, topic: &str) -> RawPublisher {
    let key = data_key(0, topic, T::TYPE, Distro::Jazzy).unwrap();
    let p = bus.raw_publisher(&key, QosClass::Event).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while !p.has_subscribers() {
        assert!(Instant::now() < end, "no subscriber on {key}");
        thread::sleep(Duration::from_millis(5));
    }
    p
}

/// Publishes `bodies` one by one, `gap` apart.
fn send_all(p: &RawPublisher, bodies: &[Vec<u8>], gap: Duration) {
    for b in bodies {
        p.put(b).unwrap();
        thread::sleep(gap);
    }
}

#[test]
fn malformed_cdr_is_refused_and_counted_by_both_nodes() {
    let arm = arm("threelink.urdf");
    let (sim_bus, ctrl_bus) = {
        let ep = loopback_endpoint();
        let a = Bus::open("threelink", &BusConfig { zenoh_json5: None, listen: vec![ep.clone()], connect: vec![] });
        let b = Bus::open("threelink", &BusConfig { zenoh_json5: None, listen: vec![], connect: vec![ep] });
        (a.unwrap(), b.unwrap())
    };
    let gap = Duration::from_millis(20);
    let header = [0u8, 1, 0, 0];
    let truncated: Vec<u8> = header.iter().copied().chain([5, 0]).collect();
    let too_large = vec![0u8; spikearm::bus::ros2::MAX_CDR_BYTES + 8];

    // The sim (real time, so that it runs without a controller): efforts, payload and e-stop topics.
    let mut sim = sim_settings();
    sim.timing = TimingMode::RealTime;
    sim.duration_s = Some(1.5);
    sim.record_every = 50;
    sim.ros2.enabled = true;
    let sim_report = thread::scope(|s| {
        let h = s.spawn(|| SimNode::new(&sim, Arc::clone(&arm), &sim_bus).unwrap().run(&Shutdown::new()).unwrap());
        let effort = raw_ros_publisher::<Float64MultiArray>(&ctrl_bus, "/effort_controller/commands");
        let payload = raw_ros_publisher::<Inertia>(&ctrl_bus, "/payload");
        let estop = raw_ros_publisher::<BoolMsg>(&ctrl_bus, "/estop");
        // efforts: malformed, too large, one torque short, non-finite.
        let short = encode(&Float64MultiArray::from_data(vec![1.0; 2]));
        let nan = encode(&Float64MultiArray::from_data(vec![f64::NAN; 3]));
        send_all(&effort, &[truncated.clone(), too_large.clone(), short, nan], gap);
        // payloads: malformed, above the limit, a valid one.
        let heavy = encode(&Inertia { m: 50.0, ..Default::default() });
        let ok = encode(&Inertia { m: 0.5, com: Vector3 { x: 0.0, y: 0.0, z: 0.05 }, ..Default::default() });
        send_all(&payload, &[truncated.clone(), heavy, ok], gap);
        // e-stop: a bool byte of 7 engages it (fail-safe) and is counted.
        send_all(&estop, &[vec![0, 1, 0, 0, 7]], gap);
        h.join().unwrap()
    });
    println!("sim rejected {:?}, estop {:?}", sim_report.rejected, sim_report.estop_log);
    let rej = |k: &str| sim_report.rejected.get(k).copied().unwrap_or(0);
    assert_eq!(rej("malformed"), 3, "truncated effort, truncated payload, bool 7");
    assert_eq!(rej("too_large"), 1);
    assert_eq!(rej("dimension"), 1);
    assert_eq!(rej("non_finite"), 1);
    assert_eq!(rej("out_of_range"), 1, "the 50 kg payload");
    assert_eq!(sim_report.ros2_commands, 0, "no effort command was usable");
    assert_eq!(sim_report.estop_log.len(), 1);
    assert!(sim_report.estop_log[0].engaged && sim_report.estop_log[0].source.contains("invalid_bool"));
    assert!(sim_report.samples.iter().any(|s| s.payload_kg == 0.5), "the valid payload was applied");

    // The controller: joint states and targets.
    let mut ctrl = controller_settings();
    ctrl.ros2.enabled = true;
    let stop = Shutdown::new();
    let ctrl_report = thread::scope(|s| {
        let (stop_c, arm_c, bus_c, ctrl) = (stop.clone(), Arc::clone(&arm), &ctrl_bus, &ctrl);
        let h = s.spawn(move || {
            let mut c = ctrl.controller.build(&arm_c).unwrap();
            ControllerNode::new(ctrl, arm_c, c.as_mut(), bus_c).unwrap().run(&stop_c).unwrap()
        });
        let states = raw_ros_publisher::<JointState>(&sim_bus, "/joint_states");
        let targets = raw_ros_publisher::<PointStamped>(&sim_bus, "/target");
        let other_arm = encode(&JointState {
            header: Header::default(),
            name: vec!["a".into(), "b".into(), "c".into()],
            position: vec![0.0; 3],
            velocity: vec![0.0; 3],
            effort: vec![],
        });
        send_all(&states, &[truncated.clone(), too_large.clone(), other_arm], gap);
        let mut far = PointStamped::default();
        far.point.x = 1e9;
        send_all(&targets, &[truncated.clone(), encode(&far)], gap);
        thread::sleep(Duration::from_millis(100));
        stop.trigger();
        h.join().unwrap()
    });
    println!("controller rejected {:?}", ctrl_report.rejected);
    let rej = |k: &str| ctrl_report.rejected.get(k).copied().unwrap_or(0);
    assert_eq!(rej("malformed"), 2, "truncated state and target");
    assert_eq!(rej("too_large"), 1);
    assert_eq!(rej("unknown_arm"), 1);
    assert_eq!(rej("out_of_range"), 1, "a target 1e9 m away");
    assert_eq!(ctrl_report.ticks, 0);
    sim_bus.close().unwrap();
    ctrl_bus.close().unwrap();
}

/// The shipped ROS 2 settings pair parses into the nodes' one settings type, with ROS on and valid names.
#[test]
fn the_ros2_config_pair_loads() {
    let read = |f: &str| std::fs::read_to_string(format!("{}/config/ros2/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let sim: spikearm::node::SimSettings = toml::from_str(&read("sim.toml")).unwrap();
    let ctl: spikearm::node::ControllerSettings = toml::from_str(&read("control.toml")).unwrap();
    sim.validate().unwrap();
    ctl.validate().unwrap();
    assert!(sim.ros2.enabled && ctl.ros2.enabled);
    assert_eq!(sim.ros2.effort_topic, ctl.ros2.effort_topic);
    assert_eq!(sim.ros2.joint_states_topic, ctl.ros2.joint_states_topic);
    assert_eq!((sim.ros2.domain_id, sim.ros2.distro), (ctl.ros2.domain_id, ctl.ros2.distro));
    assert_eq!(sim.ros2.joint_states_every(sim.physics.dt), 1, "1 kHz states for a 1 kHz controller");
}

/// What the nodes do per state on the ROS side before zenoh takes the body (which it copies, as for the native
/// JSON): refill a pre-sized message in place and encode it into a reused buffer. That allocates nothing.
#[test]
fn refilling_and_encoding_ros_messages_allocates_nothing() {
    let mut state = JointState {
        header: Header::default(),
        name: vec!["joint1".into(), "joint2".into(), "joint3".into()],
        position: vec![0.0; 3],
        velocity: vec![0.0; 3],
        effort: vec![0.0; 3],
    };
    let mut effort = Float64MultiArray::from_data(vec![0.0; 3]);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    encode_into(&state, &mut a);
    encode_into(&effort, &mut b);
    let before = allocations();
    for k in 0..1000 {
        let x = k as f64 * 1e-3;
        state.header.stamp = Time::from_secs_f64(x);
        state.position.copy_from_slice(&[x, -x, 0.5 * x]);
        state.velocity.copy_from_slice(&[1.0, -1.0, 0.5]);
        state.effort.copy_from_slice(&[x.sin(), x.cos(), 0.0]);
        encode_into(&state, &mut a);
        effort.data.copy_from_slice(&[x, 2.0 * x, 3.0 * x]);
        encode_into(&effort, &mut b);
    }
    assert_eq!(allocations() - before, 0);
    assert_eq!(spikearm::bus::ros2::decode::<JointState>(&a).unwrap(), state);
}
