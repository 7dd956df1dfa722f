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

use super::checkpoint::{Checkpoint, load_checkpoint, write_checkpoint};
use super::hold::{HoldLaw, HoldParams};
use super::sample_log::{DEFAULT_MAX_SAMPLES, SampleLog};
use super::schedule::TargetEvent;
use super::{NodeError, Shutdown};
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
    /// The arm's URDF text, for the parting hold torque (None: the parting command is zero torque and the
    /// sim's watchdog takes over).
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
        }
    }
}

/// One recorded tick.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
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
}

/// What a controller node did.
#[derive(Debug, Clone, Default, serde::Serialize)]
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
    /// Whether weights were restored from a checkpoint at start.
    pub restored: bool,
    /// Refused bodies by reason.
    pub rejected: BTreeMap<String, u64>,
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
    let mut report = ControllerNodeReport::default();
    if let Some(path) = &spec.checkpoint_path
        && controller.learned_weights().is_some()
        && let Some(ckpt) = load_checkpoint(path)?
    {
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

    let keys = bus.keys().clone();
    let sub_states = bus.latest::<JointStates>(&keys.joint_states())?;
    let sub_target = bus.latest::<Target>(&keys.target())?;
    let sub_estop = bus.queue::<Estop>(&keys.estop(), 16)?;
    let mut pub_torque = bus.publisher::<TorqueCmd>(&keys.torque_cmd(), QosClass::Control)?;
    let mut pub_status = bus.publisher::<Status>(&keys.status(&spec.node), QosClass::Report)?;
    let params = bus.param_server(&spec.node)?;
    let token = bus.liveliness_token(&spec.node)?;

    let mut events = spec.target_events.clone();
    events.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut next_event = 0;
    let mut target = spec.initial_target;
    let mut cmd = TorqueCmd { v: SCHEMA_VERSION, seq: 0, effort: vec![0.0; n] };
    let mut last_seq: Option<u64> = None;
    let mut last_state: Option<JointStates> = None;
    let mut node_state = NodeState::Waiting;
    let mut estop = false;
    let mut last_error = f64::NAN;
    let started = Instant::now();
    let mut last_state_at = started;
    let mut last_status = started;
    let mut last_ckpt = started;
    let mut log = SampleLog::<ControllerSample>::new(spec.record_every, spec.max_samples);

    while !shutdown.is_triggered() {
        while let Some(t) = sub_target.try_recv()? {
            match t {
                Ok(t) => target = Some(t.position),
                Err(e) => *report.rejected.entry(e.reason().into()).or_default() += 1,
            }
        }
        while let Some(e) = sub_estop.try_recv()? {
            match e {
                Ok(e) if e.engaged != estop => {
                    estop = e.engaged;
                    tracing::warn!(engaged = estop, source = %e.source, "controller: e-stop");
                    node_state = if estop { NodeState::Estop } else { NodeState::Waiting };
                }
                Ok(_) => {}
                Err(e) => *report.rejected.entry(e.reason().into()).or_default() += 1,
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
                Err(e) => ParamsReply { v: SCHEMA_VERSION, params: read_params(controller), error: Some(e.to_string()) },
            };
            if let Err(e) = q.reply(&reply) {
                tracing::warn!(error = %e, "controller: parameter reply failed");
            }
        }

        match sub_states.recv_timeout(POLL)? {
            Some(Ok(js)) if js.position.len() != n => {
                *report.rejected.entry("dimension".into()).or_default() += 1;
            }
            Some(Ok(js)) => {
                last_state_at = Instant::now();
                report.sim_time = js.stamp;
                if node_state == NodeState::Holding {
                    tracing::info!(seq = js.seq, "controller: joint states are back, resuming");
                }
                if estop {
                    node_state = NodeState::Estop;
                } else if last_seq == Some(js.seq) {
                    // The sim re-sent a state it is still waiting on: our answer was lost. Answer again, but
                    // do not tick: the controller (and its learning) must see each state once.
                    pub_torque.put(&cmd)?;
                    report.resent += 1;
                } else {
                    node_state = NodeState::Running;
                    while next_event < events.len() && js.stamp >= events[next_event].t - 1e-9 {
                        target = Some(events[next_event].position);
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
                    // Written into a recycled slot: no allocation once the log has filled.
                    log.offer(|r| {
                        r.t = js.stamp;
                        r.target = tgt;
                        r.ee = js.ee_position;
                        r.error_m = last_error;
                        r.effort.clone_from(&cmd.effort);
                        r.adaptive_norm = controller.status().adaptive_effort_norm.unwrap_or(0.0);
                    });
                }
                last_state = Some(js);
            }
            Some(Err(e)) => *report.rejected.entry(e.reason().into()).or_default() += 1,
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
            let st = status(spec, controller, &report, node_state, target, last_error);
            pub_status.put(&st)?;
            last_status = now;
        }
        if spec.checkpoint_period_s > 0.0 && now - last_ckpt >= secs(spec.checkpoint_period_s) {
            checkpoint(spec, controller, &mut report)?;
            last_ckpt = now;
        }
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
    let _ = pub_status.put(&status(spec, controller, &report, NodeState::Stopping, target, last_error));
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

fn checkpoint(spec: &ControllerNodeSpec, c: &dyn Controller, r: &mut ControllerNodeReport) -> Result<(), NodeError> {
    let (Some(path), Some(w)) = (&spec.checkpoint_path, c.learned_weights()) else {
        return Ok(());
    };
    write_checkpoint(path, &Checkpoint::new(&spec.arm, c.name(), r.sim_time, w))?;
    r.checkpoints += 1;
    tracing::debug!(path = %path.display(), "controller: checkpoint written");
    Ok(())
}

fn status(
    spec: &ControllerNodeSpec,
    c: &dyn Controller,
    r: &ControllerNodeReport,
    state: NodeState,
    target: Option<[f64; 3]>,
    err: f64,
) -> Status {
    let cs = c.status();
    Status {
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
        rejected: r.rejected.clone(),
    }
}
