//! The controller node: answers every `joint_states` with a `torque_cmd` from its
//! [`Controller`], follows `target`, obeys `estop`, reports `status` (~10 Hz), serves its parameters
//! through a queryable, and checkpoints learned weights.
//!
//! When joint states stop arriving it *holds*: it neither commands nor learns (a stale state is no
//! evidence to learn from; the sim's watchdog owns the arm meanwhile) and resumes with the next state.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nalgebra::Vector3;

use super::error_windows::ErrorWindows;
use super::estop::{EstopChange, EstopLatch, EstopRecord};
use super::checkpoint::{Checkpoint, CheckpointError, load_checkpoint, set_aside, write_checkpoint};
use super::checkpoint_writer::CheckpointWriter;
use super::fault::{FaultInjector, FaultParams};
use super::hold::{HoldLaw, HoldParams};
use super::rejections::{Clamp, Rejections};
use super::sample_log::{DEFAULT_MAX_SAMPLES, SampleLog};
use super::validation::ArmEnvelope;
use super::schedule::TargetEvent;
use super::{NodeError, Shutdown, WaitMode};
use crate::bus::{
    Bus, Estop, JointStates, NodeState, ParamsReply, QosClass, SCHEMA_VERSION, Status, StatusAccounting, Target,
    TorqueCmd,
};
use crate::control::controller::{ControlInput, Controller};

/// Settings of a controller node.
#[derive(Debug, Clone)]
pub struct ControllerNodeSpec {
    /// Node name on the bus. Default `controller`.
    pub node: String,
    /// Arm name recorded in checkpoints.
    pub arm: String,
    /// The arm's URDF text, for the parting hold torque and input validation: joint names of incoming
    /// states, targets clamped to the reach sphere (None: the parting command is zero torque, the sim's
    /// watchdog takes over, and only the joint count is checked).
    pub urdf: Option<String>,
    /// Target before any arrives (None: hold the end effector where the first state puts it).
    pub initial_target: Option<[f64; 3]>,
    /// Scheduled target changes, applied at the first state at or after their time.
    pub target_events: Vec<TargetEvent>,
    /// Declare holding after this long without joint states, s of wall time. Default 0.1.
    pub hold_after_s: f64,
    /// Status period, s of wall time. Default 0.1 (10 Hz).
    pub status_period_s: f64,
    /// Where learned weights are checkpointed (None: never).
    pub checkpoint_path: Option<PathBuf>,
    /// Checkpoint period, s of wall time (0: only on shutdown). Default 10.
    pub checkpoint_period_s: f64,
    /// Keep every n-th tick in the report (0: none).
    pub record_every: u32,
    /// Most ticks kept; past that the record is thinned to every other tick and the spacing doubled (a
    /// daemon's memory stays bounded). Default [`DEFAULT_MAX_SAMPLES`].
    pub max_samples: usize,
    /// Return at the first state stamped at or after this sim time, without answering it (None: run until
    /// shutdown). With the sim's stop time (its `duration_s` less half a step) that is the sim's last state,
    /// which it sends after its final step and waits on no one for: ticks and samples then do not depend on
    /// when the node is stopped.
    pub stop_at_s: Option<f64>,
    /// Spans of sim time, s, whose mean tracking error the node accumulates at every tick (scenario windows).
    pub error_windows: Vec<(f64, f64)>,
    /// Injected loss of incoming joint states (tests and drills only). Default off.
    pub faults: FaultParams,
    /// How the loop waits for the next state while states flow (it sleeps while waiting or holding).
    /// Default sleep (see [`WaitMode`]).
    pub wait: WaitMode,
}

impl ControllerNodeSpec {
    /// A spec with the documented defaults.
    pub fn new(arm: &str) -> Self {
        Self {
            node: "controller".into(),
            arm: arm.into(),
            urdf: None,
            initial_target: None,
            target_events: Vec::new(),
            hold_after_s: 0.1,
            status_period_s: 0.1,
            checkpoint_path: None,
            checkpoint_period_s: 10.0,
            record_every: 0,
            max_samples: DEFAULT_MAX_SAMPLES,
            stop_at_s: None,
            error_windows: Vec::new(),
            faults: FaultParams::default(),
            wait: WaitMode::default(),
        }
    }
}

/// One recorded tick.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ControllerSample {
    /// Sim time of the state answered, s.
    pub t: f64,
    /// Target, m.
    pub target: [f64; 3],
    /// End effector, m.
    pub ee: [f64; 3],
    /// |ee − target|, m.
    pub error_m: f64,
    /// Commanded torque, N·m.
    pub effort: Vec<f64>,
    /// Norm of the adaptive torque, N·m (0 when not adaptive).
    pub adaptive_norm: f64,
    /// Mean firing rate of the controller's ensemble over this tick, Hz (None without a spiking core).
    #[serde(default)]
    pub spike_rate_hz: Option<f64>,
}

/// What a controller node did.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ControllerNodeReport {
    /// Controller ticks (states answered).
    pub ticks: u64,
    /// Duplicate states answered again from the last command (no tick, no learning).
    pub resent: u64,
    /// Times the node went into holding because joint states stopped.
    pub holds: u64,
    /// Ticks whose controller returned an error (the safe torque it left was sent).
    pub control_errors: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// Periodic checkpoint writes that failed (the previous file stays intact; control went on).
    pub checkpoint_errors: u64,
    /// Mean tracking error per span of `error_windows`, from every tick.
    pub error_windows: ErrorWindows,
    /// The last checkpoint write error, while writes keep failing (cleared by the next good write).
    pub checkpoint_error: Option<String>,
    /// Whether weights were restored from a checkpoint at start.
    pub restored: bool,
    /// Why the node started on fresh weights although a checkpoint file existed (it was corrupt and has
    /// been set aside under the name given here).
    pub fresh_start: Option<String>,
    /// Joint states discarded by fault injection ([`ControllerNodeSpec::faults`]).
    pub injected_drops: u64,
    /// Refused bodies by reason (see [`super::Reason`]).
    pub rejected: BTreeMap<String, u64>,
    /// Targets clamped onto the reach sphere, as `{"target": n}`.
    #[serde(default)]
    pub clamped: BTreeMap<String, u64>,
    /// E-stop transitions in the order applied.
    #[serde(default)]
    pub estop_log: Vec<EstopRecord>,
    /// Recorded ticks (every `sample_stride`-th, the first included).
    pub samples: Vec<ControllerSample>,
    /// Spacing of `samples` in ticks: `record_every`, doubled each time the record filled up.
    #[serde(default)]
    pub sample_stride: u64,
    /// Last sim time seen, s.
    pub sim_time: f64,
}

const POLL: Duration = Duration::from_millis(2);

/// Runs the node until `shutdown`. On the way out it sends a parting hold torque, writes a final checkpoint
/// and withdraws its liveliness token; the caller closes the bus.
pub fn run_controller_node(
    spec: &ControllerNodeSpec,
    controller: &mut dyn Controller,
    bus: &Bus,
    shutdown: &Shutdown,
) -> Result<ControllerNodeReport, NodeError> {
    let n = controller.dof();
    let mut report = ControllerNodeReport { error_windows: ErrorWindows::new(&spec.error_windows), ..Default::default() };
    spec.faults.validate().map_err(NodeError::Spec)?;
    let mut faults = FaultInjector::new(spec.faults);
    let loaded = match &spec.checkpoint_path {
        Some(path) if controller.learned_weights().is_some() => match load_checkpoint(path) {
            Err(e @ CheckpointError::Corrupt { .. }) => {
                // Keep the evidence (renamed, never deleted) and run on fresh weights rather than leave the
                // arm without a controller; if it cannot be moved, refuse: the next write would destroy it.
                let aside = set_aside(path)?;
                let note = format!("{e}; moved to {}; started with fresh weights", aside.display());
                tracing::error!("controller: {note}");
                report.fresh_start = Some(note);
                None
            }
            other => other?,
        },
        _ => None,
    };
    if let (Some(path), Some(ckpt)) = (&spec.checkpoint_path, loaded) {
        if ckpt.arm != spec.arm {
            return Err(super::CheckpointError::Mismatch {
                path: path.clone(),
                detail: format!("learned on arm `{}`, this node drives `{}`", ckpt.arm, spec.arm),
            }
            .into());
        }
        controller.restore_weights(&ckpt.weights)?;
        report.restored = true;
        tracing::info!(path = %path.display(), sim_time = ckpt.sim_time, "controller: learned weights restored");
    }
    let mut hold = match &spec.urdf {
        Some(u) => Some(HoldLaw::from_urdf(u, HoldParams::default()).map_err(NodeError::Model)?),
        None => None,
    };

    let envelope = match &spec.urdf {
        Some(u) => Some(ArmEnvelope::from_urdf(u).map_err(NodeError::Model)?),
        None => None,
    };
    if let Some(e) = &envelope
        && e.dof() != n
    {
        return Err(NodeError::Spec(format!("the URDF has {} joints, the controller {n}", e.dof())));
    }
    let mut rej = Rejections::new(&spec.node);

    let keys = bus.keys().clone();
    let sub_states = bus.latest::<JointStates>(&keys.joint_states())?;
    let sub_target = bus.latest::<Target>(&keys.target())?;
    let sub_estop = bus.queue::<Estop>(&keys.estop(), 16)?;
    let mut pub_torque = bus.publisher::<TorqueCmd>(&keys.torque_cmd(), QosClass::Control)?;
    let mut pub_status = bus.publisher::<Status>(&keys.status(&spec.node), QosClass::Report)?;
    let params = bus.param_server(&spec.node)?;
    let token = bus.liveliness_token(&spec.node)?;
    let mut writer = match &spec.checkpoint_path {
        Some(path) if spec.checkpoint_period_s > 0.0 && controller.learned_weights().is_some() => Some(
            CheckpointWriter::spawn(path.clone(), spec.arm.clone(), controller.name().to_string())
                .map_err(|source| CheckpointError::Io { path: path.clone(), source })?,
        ),
        _ => None,
    };

    let mut events = spec.target_events.clone();
    events.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut next_event = 0;
    let mut target = spec.initial_target.map(|t| reachable(envelope.as_ref(), &mut rej, t));
    let mut cmd = TorqueCmd { v: SCHEMA_VERSION, seq: 0, effort: vec![0.0; n] };
    let mut last_seq: Option<u64> = None;
    let mut last_state: Option<JointStates> = None;
    let mut node_state = NodeState::Waiting;
    let mut estop = EstopLatch::new();
    let mut last_error = f64::NAN;
    let started = Instant::now();
    let mut last_state_at = started;
    let mut last_status = started;
    let mut last_ckpt = started;
    let mut log = SampleLog::<ControllerSample>::new(spec.record_every, spec.max_samples);

    while !shutdown.is_triggered() {
        while let Some(t) = sub_target.try_recv()? {
            match t {
                Ok(t) => target = Some(reachable(envelope.as_ref(), &mut rej, t.position)),
                Err(e) => rej.decode_error(&e),
            }
        }
        while let Some(e) = sub_estop.try_recv()? {
            // Applied before the next state is looked at: that state is the first not ticked (or, after a
            // clear, the first ticked again).
            if let Some(change) = estop.on_bus(e, &mut rej, last_state.as_ref().map(|s| s.seq), report.sim_time) {
                node_state = if change == EstopChange::Engaged { NodeState::Estop } else { NodeState::Waiting };
            }
        }
        while let Some(q) = params.try_next() {
            let reply = match q.request() {
                Ok(req) => {
                    let mut error = None;
                    for (k, x) in &req.set {
                        if let Err(e) = controller.set_param(k, *x) {
                            error = Some(e.to_string());
                            break;
                        }
                        tracing::info!(param = %k, value = x, "controller: parameter set");
                    }
                    ParamsReply { v: SCHEMA_VERSION, params: read_params(controller), error }
                }
                Err(e) => {
                    rej.decode_error(&e);
                    ParamsReply { v: SCHEMA_VERSION, params: read_params(controller), error: Some(e.to_string()) }
                }
            };
            if let Err(e) = q.reply(&reply) {
                tracing::warn!(error = %e, "controller: parameter reply failed");
            }
        }

        // Spinning is for a stream of states; a node waiting for its first, or holding, need not burn a core.
        let wait = if node_state == NodeState::Running { spec.wait } else { WaitMode::Sleep };
        match wait.recv_timeout(&sub_states, POLL)? {
            Some(Ok(_)) if faults.drop_this() => report.injected_drops += 1,
            // Counts (in `rej`) and skips a state that is not of this arm.
            Some(Ok(js)) if !accept_state(envelope.as_ref(), &mut rej, &js, n) => {}
            Some(Ok(js)) if spec.stop_at_s.is_some_and(|t| js.stamp >= t) => {
                report.sim_time = js.stamp;
                last_state = Some(js);
                break;
            }
            Some(Ok(js)) => {
                last_state_at = Instant::now();
                report.sim_time = js.stamp;
                if node_state == NodeState::Holding {
                    tracing::info!(seq = js.seq, "controller: joint states are back, resuming");
                }
                if estop.engaged() {
                    node_state = NodeState::Estop;
                } else if last_seq == Some(js.seq) {
                    // The sim re-sent a state it is still waiting on: our answer was lost. Answer again, but
                    // do not tick: the controller (and its learning) must see each state once.
                    pub_torque.put(&cmd)?;
                    report.resent += 1;
                } else {
                    node_state = NodeState::Running;
                    while next_event < events.len() && js.stamp >= events[next_event].t - 1e-9 {
                        target = Some(reachable(envelope.as_ref(), &mut rej, events[next_event].position));
                        next_event += 1;
                    }
                    let tgt = *target.get_or_insert(js.ee_position);
                    let input = ControlInput { t: js.stamp, q: &js.position, dq: &js.velocity, target: Vector3::from(tgt) };
                    if let Err(e) = controller.tick(&input, &mut cmd.effort) {
                        report.control_errors += 1;
                        tracing::debug!(error = %e, "controller: tick failed, sending its safe torque");
                    }
                    cmd.seq = js.seq;
                    pub_torque.put(&cmd)?;
                    last_seq = Some(js.seq);
                    report.ticks += 1;
                    last_error = dist(&js.ee_position, &tgt);
                    report.error_windows.add(js.stamp, last_error);
                    // Written into a recycled slot: no allocation once the log has filled.
                    log.offer(|r| {
                        r.t = js.stamp;
                        r.target = tgt;
                        r.ee = js.ee_position;
                        r.error_m = last_error;
                        r.effort.clone_from(&cmd.effort);
                        let cs = controller.status();
                        r.adaptive_norm = cs.adaptive_effort_norm.unwrap_or(0.0);
                        r.spike_rate_hz = cs.spike_rate_hz;
                    });
                }
                last_state = Some(js);
            }
            Some(Err(e)) => rej.decode_error(&e),
            None => {
                if node_state == NodeState::Running && last_state_at.elapsed() > secs(spec.hold_after_s) {
                    node_state = NodeState::Holding;
                    report.holds += 1;
                    tracing::warn!("controller: no joint states for {:.0} ms, holding (not commanding, not learning)", spec.hold_after_s * 1e3);
                }
            }
        }

        let now = Instant::now();
        if now - last_status >= secs(spec.status_period_s) {
            let st = status(spec, controller, &report, &rej, node_state, target, last_error);
            pub_status.put(&st)?;
            last_status = now;
        }
        if let Some(w) = writer.as_mut() {
            if let Some(done) = w.poll() {
                periodic_checkpoint_done(done, &mut report);
            }
            if now - last_ckpt >= secs(spec.checkpoint_period_s) {
                // The snapshot is taken here, between ticks; a write still in flight (slow disk) skips it.
                if let Some(weights) = controller.learned_weights() {
                    w.submit(report.sim_time, weights);
                }
                last_ckpt = now;
            }
        }
    }
    if let Some(done) = writer.and_then(CheckpointWriter::finish) {
        periodic_checkpoint_done(done, &mut report);
    }

    report.sample_stride = log.stride();
    report.samples = log.into_vec();
    // Shutdown protocol: parting safe torque, final checkpoint, final status, token withdrawn.
    if let (Some(js), Some(h)) = (&last_state, hold.as_mut()) {
        let _ = h.torque(&js.position, &js.position, &js.velocity, &mut cmd.effort);
        cmd.seq = js.seq + 1;
        let _ = pub_torque.put(&cmd);
    }
    let ckpt_result = checkpoint(spec, controller, &mut report);
    rej.fill(&mut report.rejected, &mut report.clamped);
    report.estop_log = estop.log().to_vec();
    let _ = pub_status.put(&status(spec, controller, &report, &rej, NodeState::Stopping, target, last_error));
    drop(token);
    ckpt_result?;
    Ok(report)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn dist(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

fn read_params(c: &dyn Controller) -> BTreeMap<String, f64> {
    c.param_names().iter().filter_map(|k| c.param(k).map(|v| (k.to_string(), v))).collect()
}

/// The final checkpoint, written on this thread: nothing is left to control.
fn checkpoint(spec: &ControllerNodeSpec, c: &dyn Controller, r: &mut ControllerNodeReport) -> Result<(), NodeError> {
    let (Some(path), Some(w)) = (&spec.checkpoint_path, c.learned_weights()) else {
        return Ok(());
    };
    write_checkpoint(path, &Checkpoint::new(&spec.arm, c.name(), r.sim_time, w))?;
    r.checkpoints += 1;
    r.checkpoint_error = None;
    Ok(())
}

/// Books a periodic write. A failed one (disk full, read-only) left the previous checkpoint intact: count
/// it, say so in the status, and keep controlling; the next period tries again.
fn periodic_checkpoint_done(done: Result<(), CheckpointError>, r: &mut ControllerNodeReport) {
    match done {
        Ok(()) => {
            r.checkpoints += 1;
            if r.checkpoint_error.take().is_some() {
                tracing::info!("controller: checkpoints are being written again");
            }
            tracing::debug!("controller: checkpoint written");
        }
        Err(e) => {
            r.checkpoint_errors += 1;
            if r.checkpoint_error.is_none() || r.checkpoint_errors.is_power_of_two() {
                tracing::error!(failures = r.checkpoint_errors, "controller: checkpoint not written: {e}");
            }
            r.checkpoint_error = Some(e.to_string());
        }
    }
}

/// Whether a decoded state is of this arm (joint count, and names when the URDF is known); counts it if not.
fn accept_state(envelope: Option<&ArmEnvelope>, rej: &mut Rejections, js: &JointStates, n: usize) -> bool {
    let refusal = match envelope {
        Some(e) => e.check_state(js).err(),
        None if js.position.len() != n => Some(super::Refusal {
            reason: super::Reason::Dimension,
            detail: format!("{} joints, the controller has {n}", js.position.len()),
        }),
        None => None,
    };
    match refusal {
        Some(r) => {
            rej.refuse(r.reason, "joint_states", &r);
            false
        }
        None => true,
    }
}

/// `t` moved onto the arm's reach sphere if it lies outside (counted as a clamp); as is without a URDF.
fn reachable(envelope: Option<&ArmEnvelope>, rej: &mut Rejections, mut t: [f64; 3]) -> [f64; 3] {
    if let Some(e) = envelope
        && let Some(outside) = e.clamp_target(&mut t)
    {
        rej.clamp(
            Clamp::Target,
            "target",
            &format_args!("{outside:.3} m beyond the {:.3} m reach, moved to {t:.3?}", e.reach_m()),
        );
    }
    t
}

#[allow(clippy::too_many_arguments)]
fn status(
    spec: &ControllerNodeSpec,
    c: &dyn Controller,
    r: &ControllerNodeReport,
    rej: &Rejections,
    state: NodeState,
    target: Option<[f64; 3]>,
    err: f64,
) -> Status {
    let cs = c.status();
    let mut st = Status {
        v: SCHEMA_VERSION,
        node: spec.node.clone(),
        stamp: r.sim_time,
        state,
        controller: c.name().to_string(),
        tracking_error_m: err.is_finite().then_some(err),
        target,
        learning: cs.learning,
        learning_rate: cs.learning_rate,
        adaptive_effort_norm: cs.adaptive_effort_norm,
        accounting: cs.accounting.map(|a| StatusAccounting {
            steps: a.steps,
            neuron_updates: a.neuron_updates,
            spikes: a.spikes,
            synaptic_events: a.synaptic_events,
            weight_updates: a.weight_updates,
        }),
        ticks: r.ticks,
        deadline_misses: 0,
        watchdog_trips: 0,
        checkpoints: r.checkpoints,
        checkpoint_errors: r.checkpoint_errors,
        checkpoint_alert: r.checkpoint_error.clone().or_else(|| r.fresh_start.clone()),
        rejected: BTreeMap::new(),
        clamped: BTreeMap::new(),
        last_refusal: rej.last().map(str::to_string),
    };
    rej.fill(&mut st.rejected, &mut st.clamped);
    st
}
