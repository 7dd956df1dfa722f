//! The sim node: owns the rapier arm, publishes `joint_states` after every step, applies `torque_cmd`, takes
//! `payload` and `estop` from the bus (and scheduled payload events from its spec), and holds the arm with
//! the watchdog when torques stop arriving.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use spikearm_sim::{ArmState, ArmWorld, PayloadSpec, SimParams};

use super::estop::{EstopChange, EstopLatch, EstopRecord};
use super::fault::{FaultInjector, FaultParams};
use super::hold::{HoldLaw, HoldParams};
use super::latency::{LatencySummary, StateLatency};
use super::rejections::{Clamp, Reason, Rejections};
use super::validation::ArmEnvelope;
use super::sample_log::{DEFAULT_MAX_SAMPLES, SampleLog};
use super::schedule::{EstopEvent, PayloadEvent};
use super::{NodeError, Shutdown, TimingMode, WaitMode};
use crate::bus::{
    Bus, DecodeError, Estop, JointStates, NodeState, Payload, QosClass, SCHEMA_VERSION, Status, TorqueCmd,
};

/// Everything a sim node needs (text, not paths: files are the app's business).
#[derive(Debug, Clone)]
pub struct SimNodeSpec {
    /// Node name on the bus (liveliness, status). Default `sim`.
    pub node: String,
    /// The arm's URDF text.
    pub urdf: String,
    /// Physics settings.
    pub sim: SimParams,
    /// Lockstep or real-time.
    pub timing: TimingMode,
    /// How the loop waits for torques and, in real time, for the next step. Default sleep (see [`WaitMode`]).
    pub wait: WaitMode,
    /// Initial joint angles, rad (default all zero).
    pub initial_q: Option<Vec<f64>>,
    /// Stop after this much simulated time, s (None: run until shutdown).
    pub duration_s: Option<f64>,
    /// Hold the arm when no torque command arrived for this long, s. Default 0.05.
    pub watchdog_s: f64,
    /// Gains of the hold law used by the watchdog and the e-stop.
    pub hold: HoldParams,
    /// Scheduled payload changes (applied at the first step at or after their time).
    pub payload_events: Vec<PayloadEvent>,
    /// Scheduled e-stop engagements and clearances.
    pub estop_events: Vec<EstopEvent>,
    /// Keep every n-th state in the report (0: none).
    pub record_every: u32,
    /// Most states kept; past that the record is thinned to every other state and the spacing doubled
    /// (a daemon's memory stays bounded). Default [`DEFAULT_MAX_SAMPLES`].
    pub max_samples: usize,
    /// Status period, s of wall time. Default 0.1.
    pub status_period_s: f64,
    /// Lockstep: re-publish the waited-on state after this long without its torque, s. Default 0.02.
    pub resend_s: f64,
    /// Injected loss of incoming torque commands (tests and drills only). Default off.
    pub faults: FaultParams,
    /// Heaviest payload accepted, kg; heavier ones from the bus are refused (`out_of_range`), scheduled
    /// ones are a spec error. Default [`DEFAULT_MAX_PAYLOAD_KG`].
    pub max_payload_kg: f64,
}

/// Default [`SimNodeSpec::max_payload_kg`], kg: above the UR5e's rated 5 kg with margin, far below what
/// would make the physics meaningless.
pub const DEFAULT_MAX_PAYLOAD_KG: f64 = 10.0;

impl SimNodeSpec {
    /// A spec with the documented defaults for `urdf`.
    pub fn new(urdf: String) -> Self {
        Self {
            node: "sim".into(),
            urdf,
            sim: SimParams::default(),
            timing: TimingMode::Lockstep,
            wait: WaitMode::default(),
            initial_q: None,
            duration_s: None,
            watchdog_s: 0.05,
            hold: HoldParams::default(),
            payload_events: Vec::new(),
            estop_events: Vec::new(),
            record_every: 0,
            max_samples: DEFAULT_MAX_SAMPLES,
            status_period_s: 0.1,
            resend_s: RESEND.as_secs_f64(),
            faults: FaultParams::default(),
            max_payload_kg: DEFAULT_MAX_PAYLOAD_KG,
        }
    }
}

/// One recorded state.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimSample {
    /// Sim time, s.
    pub t: f64,
    /// Joint angles, rad.
    pub q: Vec<f64>,
    /// Joint velocities, rad/s.
    pub dq: Vec<f64>,
    /// Torques applied in the step that led here, N·m.
    pub tau: Vec<f64>,
    /// End-effector position, m.
    pub ee: [f64; 3],
    /// Payload mass, kg.
    pub payload_kg: f64,
    /// Whether the watchdog or e-stop was holding the arm.
    pub held: bool,
}

/// What a sim node did.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SimNodeReport {
    /// Physics steps taken.
    pub steps: u64,
    /// Final sim time, s.
    pub sim_time: f64,
    /// Times the watchdog engaged.
    pub watchdog_trips: u64,
    /// For each trip, wall time from the last torque command to the engagement, s (at most
    /// [`MAX_TRIPS_KEPT`], thinned evenly past that).
    pub watchdog_latency_s: Vec<f64>,
    /// Real-time steps that started late (a full period or more).
    pub deadline_misses: u64,
    /// Torque commands answering an older state (ignored in lockstep, applied in real time).
    pub stale_torques: u64,
    /// Torque commands discarded by fault injection ([`SimNodeSpec::faults`]).
    pub injected_drops: u64,
    /// Lockstep states re-published because their torque did not come in time.
    pub resends: u64,
    /// Refused bodies by reason (see [`Reason`]).
    pub rejected: BTreeMap<String, u64>,
    /// Torque commands accepted with entries above the effort limits (clamped by the physics), as
    /// `{"torque": n}`.
    #[serde(default)]
    pub clamped: BTreeMap<String, u64>,
    /// E-stop transitions in the order applied.
    #[serde(default)]
    pub estop_log: Vec<EstopRecord>,
    /// Recorded states (every `sample_stride`-th).
    pub samples: Vec<SimSample>,
    /// Spacing of `samples` in steps: `record_every`, doubled each time the record filled up.
    #[serde(default)]
    pub sample_stride: u64,
    /// Wall time from publishing each state to receiving the torque command answering it.
    #[serde(default)]
    pub latency: LatencySummary,
    /// Wall time of the run, s.
    pub wall_s: f64,
}

/// How often a waiting lockstep sim re-publishes its state, in case the first one went out before the
/// controller's subscription was matched or was dropped by the control path's drop-on-congestion QoS.
const RESEND: Duration = Duration::from_millis(20);
/// Longest blocking wait, so that shutdown and bus events are seen promptly.
const POLL: Duration = Duration::from_millis(2);
/// Watchdog trip latencies kept in the report.
pub const MAX_TRIPS_KEPT: usize = 1024;

/// Runs a sim node until `shutdown` or the spec's duration. On return the arm's last command was a hold
/// torque (if stopped by shutdown) and the liveliness token is withdrawn; the caller closes the bus.
pub fn run_sim_node(spec: &SimNodeSpec, bus: &Bus, shutdown: &Shutdown) -> Result<SimNodeReport, NodeError> {
    let mut world = ArmWorld::from_urdf_str(&spec.urdf, spec.sim.clone())?;
    let n = world.dof();
    let mut hold = HoldLaw::from_urdf(&spec.urdf, spec.hold).map_err(NodeError::Model)?;
    if hold.dof() != n {
        return Err(NodeError::Spec(format!("model has {} joints, sim {n}", hold.dof())));
    }
    let q0 = spec.initial_q.clone().unwrap_or_else(|| vec![0.0; n]);
    if q0.len() != n {
        return Err(NodeError::Spec(format!("initial_q has {} entries, the arm {n} joints", q0.len())));
    }
    world.set_state(&q0, &vec![0.0; n])?;
    let envelope = ArmEnvelope::from_urdf(&spec.urdf).map_err(NodeError::Model)?;
    if let Some(ev) = spec.payload_events.iter().find(|e| !(e.mass_kg <= spec.max_payload_kg)) {
        return Err(NodeError::Spec(format!(
            "payload event at {} s: {} kg exceeds max_payload_kg {}",
            ev.t, ev.mass_kg, spec.max_payload_kg
        )));
    }
    let dt = spec.sim.dt;
    spec.faults.validate().map_err(NodeError::Spec)?;
    let mut faults = FaultInjector::new(spec.faults);
    let mut events = spec.payload_events.clone();
    events.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut next_event = 0;
    let mut estops = spec.estop_events.clone();
    estops.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut next_estop = 0;

    let keys = bus.keys().clone();
    let mut pub_states = bus.publisher::<JointStates>(&keys.joint_states(), QosClass::Control)?;
    let mut pub_status = bus.publisher::<Status>(&keys.status(&spec.node), QosClass::Report)?;
    let sub_torque = bus.latest::<TorqueCmd>(&keys.torque_cmd())?;
    let sub_payload = bus.queue::<Payload>(&keys.payload(), 16)?;
    let sub_estop = bus.queue::<Estop>(&keys.estop(), 16)?;
    let token = bus.liveliness_token(&spec.node)?;

    let mut report = SimNodeReport::default();
    let mut state = ArmState::default();
    world.read_state_into(&mut state);
    let mut msg = JointStates {
        v: SCHEMA_VERSION,
        stamp: 0.0,
        seq: 0,
        name: world.joint_names(),
        position: vec![0.0; n],
        velocity: vec![0.0; n],
        effort: vec![0.0; n],
        ee_position: [0.0; 3],
    };
    let mut seq: u64 = 0;
    let mut tau = vec![0.0; n];
    let mut q_hold = q0.clone();
    let mut estop = EstopLatch::new();
    let mut rej = Rejections::new(&spec.node);
    let mut ever_cmd = false;
    let mut holding = false;
    let started = Instant::now();
    let mut last_cmd = started;
    let mut last_pub;
    let mut last_status = started;
    let mut deadline = started;
    let mut log = SampleLog::<SimSample>::new(spec.record_every, spec.max_samples);
    let mut trips = SampleLog::<f64>::new(1, MAX_TRIPS_KEPT);
    let mut latency = StateLatency::new();
    // A real-time answer received while waiting for the next step, applied at that step.
    let mut pending: Option<Result<TorqueCmd, DecodeError>> = None;

    fill(&mut msg, &state, seq);
    latency.sent(seq, Instant::now());
    pub_states.put(&msg)?;
    last_pub = Instant::now();
    record(&mut log, &state, &world, false);

    'run: loop {
        if shutdown.is_triggered() {
            break;
        }
        if let Some(d) = spec.duration_s
            && state.t >= d - 0.5 * dt
        {
            break;
        }
        // Scheduled payload events, then bus events (both before this step's torque is chosen).
        while next_event < events.len() && state.t >= events[next_event].t - 0.5 * dt {
            let ev = events[next_event];
            apply_payload(&mut world, ev.mass_kg, ev.offset_m, &mut rej);
            next_event += 1;
        }
        while next_estop < estops.len() && state.t >= estops[next_estop].t - 0.5 * dt {
            if estop.on_schedule(estops[next_estop].engaged, Some(seq), state.t) == Some(EstopChange::Engaged) {
                q_hold.copy_from_slice(&state.q);
            }
            next_estop += 1;
        }
        poll_events(&sub_payload, &sub_estop, &mut world, &mut estop, &mut rej, spec, &mut q_hold, &state, seq)?;

        let mut held = estop.engaged();
        if estop.engaged() {
            hold.torque(&q_hold, &state.q, &state.dq, &mut tau).map_err(NodeError::Model)?;
        } else {
            match spec.timing {
                TimingMode::Lockstep => loop {
                    match timed(&mut latency, spec.wait.recv_timeout(&sub_torque, POLL)?) {
                        Some(Ok(_)) if faults.drop_this() => report.injected_drops += 1,
                        Some(Ok(cmd)) if cmd.seq == seq && cmd.effort.len() == n => {
                            note_clamp(&envelope, &mut rej, &cmd.effort);
                            tau.copy_from_slice(&cmd.effort);
                            last_cmd = Instant::now();
                            ever_cmd = true;
                            if holding {
                                tracing::info!(seq, "sim: torque commands are back, watchdog released");
                                holding = false;
                            }
                            break;
                        }
                        Some(Ok(cmd)) if cmd.effort.len() != n => refuse_len(&mut rej, &cmd, n),
                        Some(Ok(_)) => report.stale_torques += 1,
                        Some(Err(e)) => rej.decode_error(&e),
                        None => {}
                    }
                    if shutdown.is_triggered() {
                        break 'run;
                    }
                    poll_events(&sub_payload, &sub_estop, &mut world, &mut estop, &mut rej, spec, &mut q_hold, &state, seq)?;
                    if estop.engaged() {
                        // The e-stop takes over from the controller; this step runs on the hold torque.
                        hold.torque(&q_hold, &state.q, &state.dq, &mut tau).map_err(NodeError::Model)?;
                        held = true;
                        break;
                    }
                    let now = Instant::now();
                    if ever_cmd && !holding && now - last_cmd > secs(spec.watchdog_s) {
                        // Lockstep physics does not advance without a command: the arm is frozen, i.e. held.
                        holding = true;
                        report.watchdog_trips += 1;
                        trips.offer(|x| *x = (now - last_cmd).as_secs_f64());
                        tracing::warn!(seq, "sim: no torque command for {:.0} ms, holding", spec.watchdog_s * 1e3);
                    }
                    if now - last_pub > secs(spec.resend_s) {
                        pub_states.put(&msg)?;
                        report.resends += 1;
                        last_pub = now;
                    }
                    if now - last_status > secs(spec.status_period_s) {
                        publish_status(&mut pub_status, spec, &report, &rej, &state, seq, estop.engaged(), holding || !ever_cmd)?;
                        last_status = now;
                    }
                },
                TimingMode::RealTime => {
                    // Zero-order hold: the newest command stays in force until the next one or the watchdog.
                    while let Some(r) = match pending.take() {
                        Some(r) => Some(r),
                        None => timed(&mut latency, sub_torque.try_recv()?),
                    } {
                        match r {
                            Ok(_) if faults.drop_this() => report.injected_drops += 1,
                            Ok(cmd) if cmd.effort.len() == n => {
                                note_clamp(&envelope, &mut rej, &cmd.effort);
                                if cmd.seq != seq {
                                    report.stale_torques += 1;
                                }
                                tau.copy_from_slice(&cmd.effort);
                                last_cmd = Instant::now();
                                ever_cmd = true;
                                if holding {
                                    tracing::info!(seq, "sim: torque commands are back, watchdog released");
                                    holding = false;
                                }
                            }
                            Ok(cmd) => refuse_len(&mut rej, &cmd, n),
                            Err(e) => rej.decode_error(&e),
                        }
                    }
                    let now = Instant::now();
                    if ever_cmd && !holding && now - last_cmd > secs(spec.watchdog_s) {
                        holding = true;
                        q_hold.copy_from_slice(&state.q);
                        report.watchdog_trips += 1;
                        trips.offer(|x| *x = (now - last_cmd).as_secs_f64());
                        tracing::warn!(seq, "sim: no torque command for {:.0} ms, holding", spec.watchdog_s * 1e3);
                    }
                    if !ever_cmd || holding {
                        if !ever_cmd {
                            q_hold.copy_from_slice(&state.q);
                        }
                        hold.torque(&q_hold, &state.q, &state.dq, &mut tau).map_err(NodeError::Model)?;
                        held = true;
                    }
                }
            }
        }

        world.step_with_torques(&tau)?;
        seq += 1;
        world.read_state_into(&mut state);
        fill(&mut msg, &state, seq);
        latency.sent(seq, Instant::now());
        pub_states.put(&msg)?;
        last_pub = Instant::now();
        report.steps += 1;
        record(&mut log, &state, &world, held);

        if last_pub - last_status > secs(spec.status_period_s) {
            publish_status(&mut pub_status, spec, &report, &rej, &state, seq, estop.engaged(), holding || !ever_cmd)?;
            last_status = last_pub;
        }
        if spec.timing == TimingMode::RealTime {
            deadline += secs(dt);
            let now = Instant::now();
            if now >= deadline + secs(dt) {
                // A whole period late: count it and re-anchor rather than burst to catch up.
                report.deadline_misses += 1;
                deadline = now;
            } else if deadline > now {
                // Wait for this state's answer until the next step is due, so that its arrival is timed; it
                // is applied at the next step like any other (zero-order hold).
                pending = timed(&mut latency, spec.wait.recv_until(&sub_torque, deadline)?);
                if spec.wait.until(deadline, shutdown) {
                    break;
                }
            }
        }
    }

    // Parting: leave the hold torque in force (it matters when the physics is driven on after this node,
    // and documents intent), publish a final status and withdraw the token.
    let _ = hold.torque(&state.q.clone(), &state.q, &state.dq, &mut tau);
    let _ = world.set_torques(&tau);
    report.sim_time = state.t;
    report.wall_s = started.elapsed().as_secs_f64();
    report.latency = latency.summary();
    report.sample_stride = log.stride();
    report.samples = log.into_vec();
    report.watchdog_latency_s = trips.into_vec();
    rej.fill(&mut report.rejected, &mut report.clamped);
    report.estop_log = estop.log().to_vec();
    let _ = publish_status(&mut pub_status, spec, &report, &rej, &state, seq, estop.engaged(), true);
    drop(token);
    Ok(report)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn fill(msg: &mut JointStates, s: &ArmState, seq: u64) {
    msg.stamp = s.t;
    msg.seq = seq;
    msg.position.copy_from_slice(&s.q);
    msg.velocity.copy_from_slice(&s.dq);
    msg.effort.copy_from_slice(&s.tau);
    msg.ee_position = s.ee_position;
}

fn record(log: &mut SampleLog<SimSample>, s: &ArmState, w: &ArmWorld, held: bool) {
    // Written into a recycled slot: no allocation once the log has filled.
    log.offer(|r| {
        r.t = s.t;
        r.q.clone_from(&s.q);
        r.dq.clone_from(&s.dq);
        r.tau.clone_from(&s.tau);
        r.ee = s.ee_position;
        r.payload_kg = w.payload().map_or(0.0, |p| p.mass_kg);
        r.held = held;
    });
}

/// Times a received answer (see [`StateLatency`]) and passes it on.
fn timed(l: &mut StateLatency, r: Option<Result<TorqueCmd, DecodeError>>) -> Option<Result<TorqueCmd, DecodeError>> {
    if let Some(Ok(c)) = &r {
        l.answered(c.seq, Instant::now());
    }
    r
}

fn apply_payload(world: &mut ArmWorld, mass_kg: f64, offset_m: [f64; 3], rej: &mut Rejections) {
    let p = (mass_kg > 0.0).then_some(PayloadSpec { mass_kg, offset_m });
    match world.set_payload(p) {
        Ok(()) => tracing::info!(t = world.time(), mass_kg, "sim: payload set"),
        Err(e) => rej.refuse(Reason::OutOfRange, "payload", &e),
    }
}

/// Counts a torque command whose length is not the arm's joint count.
fn refuse_len(rej: &mut Rejections, cmd: &TorqueCmd, n: usize) {
    rej.refuse(Reason::Dimension, "torque_cmd", &format_args!("{} torques for {n} joints", cmd.effort.len()));
}

/// Counts an accepted torque command with entries beyond the effort limits (the physics clamps them).
fn note_clamp(envelope: &ArmEnvelope, rej: &mut Rejections, effort: &[f64]) {
    if let Ok(Some(over)) = envelope.check_torque(effort) {
        rej.clamp(Clamp::Torque, "torque_cmd", &format_args!("{over:.3} N·m above an effort limit, clamped"));
    }
}

/// Payloads and e-stops from the bus. A payload heavier than the spec's limit is refused; the e-stop latch
/// engages on any engage or undecodable body and clears only on an explicit clear.
#[allow(clippy::too_many_arguments)]
fn poll_events(
    sub_payload: &crate::bus::Queue<Payload>,
    sub_estop: &crate::bus::Queue<Estop>,
    world: &mut ArmWorld,
    estop: &mut EstopLatch,
    rej: &mut Rejections,
    spec: &SimNodeSpec,
    q_hold: &mut [f64],
    state: &ArmState,
    seq: u64,
) -> Result<(), NodeError> {
    while let Some(p) = sub_payload.try_recv()? {
        match p {
            Ok(p) if !(p.mass_kg <= spec.max_payload_kg) => rej.refuse(
                Reason::OutOfRange,
                "payload",
                &format_args!("{} kg exceeds max_payload_kg {}", p.mass_kg, spec.max_payload_kg),
            ),
            Ok(p) => apply_payload(world, p.mass_kg, p.offset_m, rej),
            Err(e) => rej.decode_error(&e),
        }
    }
    while let Some(e) = sub_estop.try_recv()? {
        if estop.on_bus(e, rej, Some(seq), state.t) == Some(EstopChange::Engaged) {
            q_hold.copy_from_slice(&state.q);
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn publish_status(
    p: &mut crate::bus::BusPublisher<Status>,
    spec: &SimNodeSpec,
    r: &SimNodeReport,
    rej: &Rejections,
    s: &ArmState,
    seq: u64,
    estop: bool,
    holding: bool,
) -> Result<(), NodeError> {
    let state = if estop {
        NodeState::Estop
    } else if holding {
        NodeState::Holding
    } else {
        NodeState::Running
    };
    let mut status = Status {
        v: SCHEMA_VERSION,
        node: spec.node.clone(),
        stamp: s.t,
        state,
        controller: String::new(),
        tracking_error_m: None,
        target: None,
        learning: None,
        learning_rate: None,
        adaptive_effort_norm: None,
        accounting: None,
        ticks: seq,
        deadline_misses: r.deadline_misses,
        watchdog_trips: r.watchdog_trips,
        checkpoints: 0,
        checkpoint_errors: 0,
        checkpoint_alert: None,
        rejected: BTreeMap::new(),
        clamped: BTreeMap::new(),
        last_refusal: rej.last().map(str::to_string),
    };
    rej.fill(&mut status.rejected, &mut status.clamped);
    p.put(&status)?;
    Ok(())
}
