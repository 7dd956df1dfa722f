//! The controller node: answers every `joint_states` with a `torque_cmd` from its [`Controller`], follows
//! `target`, obeys `estop`, reports `status` (~10 Hz), serves its parameters through a queryable, and
//! checkpoints learned weights.
//!
//! One loop, one stage per line of [`ControllerNode::run`]: take commands (targets, e-stops), serve
//! parameters, then on a state tick (the time-critical part) or on silence decide whether to hold, then
//! housekeeping (status, checkpoints). When joint states stop arriving it *holds*: it neither commands nor
//! learns (a stale state is no evidence to learn from; the sim's watchdog owns the arm meanwhile) and
//! resumes with the next state.
//!
//! With `[ros2]` on, states come from a ROS 2 `sensor_msgs/msg/JointState` topic and torques go out as
//! `std_msgs/msg/Float64MultiArray` (see [`super::ros2`]); the native `joint_states` and `torque_cmd` keys are
//! then not used at all. The rest of the loop is the same.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nalgebra::Vector3;

use super::checkpoint::{Checkpoint, CheckpointError, load_checkpoint, set_aside, write_checkpoint};
use super::checkpoint_writer::CheckpointWriter;
use super::error_windows::ErrorWindows;
use super::param_bounds::check_request;
use super::report::{ControllerNodeReport, ControllerSample};
use super::ros2::{ControllerRos, JOINT_STATE};
use super::settings::ControllerSettings;
use crate::arm::Arm;
use crate::bus::ros2::{PointStamped, RosMessage};
use crate::bus::{
    Bus, BusPublisher, ControllerStatus, Estop, JointStates, Latest, LivenessToken, Message, NodeState, ParamServer,
    ParamsReply, QosClass, Queue, SCHEMA_VERSION, Status, StatusAccounting, StatusBody, Target, TorqueCmd,
};
use crate::control::controller::{ControlInput, Controller};
use crate::control::safety::{CommandGuard, GuardActions};
use crate::neuro::EnergyTable;
use crate::node::NodeError;
use crate::node::common::{
    Clamp, EstopChange, EstopLatch, FaultInjector, NodeProbe, Patience, Reason, Rejections, SampleLog, Schedule,
    Shutdown, TargetEvent, Turn, WaitMode, check_state, secs,
};

/// Longest blocking wait for a state, so that shutdown and bus events are seen promptly.
const POLL: Duration = Duration::from_millis(2);

/// The controller node's handles on the bus, declared once. The control path's (`states`, `torque`) only
/// when it runs on the native keys, not on ROS 2.
struct ControllerBus {
    states: Option<Latest<JointStates>>,
    target: Latest<Target>,
    estop: Queue<Estop>,
    torque: Option<BusPublisher<TorqueCmd>>,
    status: BusPublisher<Status>,
    params: ParamServer,
    _token: LivenessToken,
}

impl ControllerBus {
    fn declare(bus: &Bus, node: &str, native_control: bool) -> Result<Self, NodeError> {
        let keys = bus.keys();
        Ok(Self {
            states: native_control.then(|| bus.latest(&keys.joint_states())).transpose()?,
            target: bus.latest(&keys.target())?,
            estop: bus.queue(&keys.estop(), 16)?,
            torque: native_control.then(|| bus.publisher(&keys.torque_cmd(), QosClass::Control)).transpose()?,
            status: bus.publisher(&keys.status(node), QosClass::Report)?,
            params: bus.param_server(node)?,
            _token: bus.liveliness_token(node)?,
        })
    }
}

/// What the wait for the next state brought.
enum Next {
    /// A state of this arm to answer.
    State(JointStates),
    /// The state at `stop_at_s`: the run is over.
    Stop(JointStates),
    /// Nothing for a poll period.
    Silence,
    /// Something that was refused or discarded.
    Nothing,
}

/// Wall-clock marks of the loop.
struct Clock {
    last_state_at: Instant,
    last_status: Instant,
    last_ckpt: Instant,
}

/// A running controller node. Build it with [`ControllerNode::new`], run it with [`ControllerNode::run`].
pub struct ControllerNode<'c> {
    settings: ControllerSettings,
    controller: &'c mut dyn Controller,
    arm: Arc<Arm>,
    guard: CommandGuard,
    bus: ControllerBus,
    /// The ROS 2 side, when `[ros2]` is on: the control path then runs on it.
    ros: Option<ControllerRos>,
    targets: Schedule<TargetEvent>,
    faults: FaultInjector,
    target: Option<[f64; 3]>,
    cmd: TorqueCmd,
    last_seq: Option<u64>,
    last_state: Option<JointStates>,
    node_state: NodeState,
    estop: EstopLatch,
    /// An e-stop cleared since the last tick: the next command starts the resume ramp.
    estop_cleared: bool,
    last_error: f64,
    clock: Clock,
    log: SampleLog<ControllerSample>,
    /// Sampled neurons that spiked since the last logged tick (the next logged sample's raster bits).
    raster_since_logged: u64,
    rej: Rejections,
    writer: Option<CheckpointWriter>,
    probe: Arc<NodeProbe>,
    report: ControllerNodeReport,
}

impl<'c> ControllerNode<'c> {
    /// Restores `controller`'s learned weights from the checkpoint (if the settings name one) and declares
    /// the node on `bus`. The controller must drive `arm`.
    pub fn new(
        settings: &ControllerSettings,
        arm: Arc<Arm>,
        controller: &'c mut dyn Controller,
        bus: &Bus,
    ) -> Result<Self, NodeError> {
        settings.validate().map_err(NodeError::Spec)?;
        let n = controller.dof();
        if arm.dof() != n {
            return Err(NodeError::Spec(format!("the URDF has {} joints, the controller {n}", arm.dof())));
        }
        let mut report =
            ControllerNodeReport { error_windows: ErrorWindows::new(&settings.error_windows), ..Default::default() };
        restore(settings, controller, &mut report)?;
        let adaptive_len = controller.adaptive_torque().map_or(0, |_| n);
        let mut rej = Rejections::new(&settings.node);
        let target = settings.target.map(|t| reachable(&arm, &mut rej, t));
        let now = Instant::now();
        Ok(Self {
            guard: CommandGuard::new(&arm, settings.safety, settings.hold).map_err(NodeError::Model)?,
            bus: ControllerBus::declare(bus, &settings.node, !settings.ros2.enabled)?,
            ros: ControllerRos::declare(bus, &settings.ros2, &arm)?,
            writer: spawn_writer(settings, controller)?,
            targets: Schedule::new(&settings.target_events),
            faults: FaultInjector::new(settings.faults),
            log: SampleLog::new(settings.record_every, settings.max_samples),
            raster_since_logged: 0,
            settings: settings.clone(),
            controller,
            arm,
            target,
            cmd: TorqueCmd { v: SCHEMA_VERSION, seq: 0, effort: vec![0.0; n], adaptive: vec![0.0; adaptive_len] },
            last_seq: None,
            last_state: None,
            node_state: NodeState::Waiting,
            estop: EstopLatch::new(),
            estop_cleared: false,
            last_error: f64::NAN,
            clock: Clock { last_state_at: now, last_status: now, last_ckpt: now },
            rej,
            probe: Arc::new(NodeProbe::new()),
            report,
        })
    }

    /// Reports the loop's turns and statuses to `probe` (a service watchdog, `/metrics`).
    pub fn with_probe(mut self, probe: Arc<NodeProbe>) -> Self {
        self.probe = probe;
        self
    }

    /// Runs until `shutdown` (or the state at `stop_at_s`). On the way out it sends a parting hold torque,
    /// writes a final checkpoint and withdraws its liveliness token; the caller closes the bus.
    pub fn run(mut self, shutdown: &Shutdown) -> Result<ControllerNodeReport, NodeError> {
        while self.turn(shutdown, Patience::Wait)? != Turn::Done {}
        self.part()
    }

    /// One turn: take commands, serve parameters, the next state (the control tick) or silence, then
    /// housekeeping. With [`Patience::Wait`] it waits up to a poll period for a state; with
    /// [`Patience::None`] (a host) it looks once.
    pub fn turn(&mut self, shutdown: &Shutdown, patience: Patience) -> Result<Turn, NodeError> {
        if shutdown.is_triggered() {
            return Ok(Turn::Done);
        }
        self.take_commands()?;
        self.serve_parameters();
        let turn = match self.next_state(patience)? {
            Next::State(js) => {
                self.on_state(js)?;
                Turn::Worked
            }
            Next::Stop(js) => {
                self.report.sim_time = js.stamp;
                self.last_state = Some(js);
                return Ok(Turn::Done);
            }
            Next::Silence => {
                self.on_silence();
                Turn::Idle
            }
            Next::Nothing => Turn::Idle,
        };
        self.housekeeping()?;
        Ok(turn)
    }

    /// The parting protocol once [`Self::turn`] returned [`Turn::Done`]: see [`Self::run`].
    pub fn finish(self) -> Result<ControllerNodeReport, NodeError> {
        self.part()
    }

    /// Targets and e-stops from the bus, applied before the next state is looked at: that state is the
    /// first not ticked (or, after a clear, the first ticked again).
    fn take_commands(&mut self) -> Result<(), NodeError> {
        while let Some(t) = self.bus.target.try_recv()? {
            match t {
                Ok(t) => self.target = Some(reachable(&self.arm, &mut self.rej, t.position)),
                Err(e) => self.rej.decode_error(&e),
            }
        }
        while let Some(e) = self.bus.estop.try_recv()? {
            let seq = self.last_state.as_ref().map(|s| s.seq);
            if let Some(change) = self.estop.on_bus(e, &mut self.rej, seq, self.report.sim_time) {
                self.node_state = if change == EstopChange::Engaged { NodeState::Estop } else { NodeState::Waiting };
                self.estop_cleared = change == EstopChange::Cleared;
            }
        }
        self.take_ros_commands()
    }

    /// ROS 2 targets (`geometry_msgs/msg/PointStamped`, checked as native targets are) and e-stops.
    fn take_ros_commands(&mut self) -> Result<(), NodeError> {
        let Some(ros) = &self.ros else { return Ok(()) };
        while let Some(t) = ros.target.try_recv()? {
            const KIND: &str = PointStamped::TYPE.name;
            let t = t.map(|p| Target { v: SCHEMA_VERSION, position: [p.point.x, p.point.y, p.point.z] });
            match t {
                Err(e) => self.rej.cdr_error(KIND, &e),
                Ok(t) => match t.check() {
                    Err(v) => self.rej.refuse(Reason::of_violation(&v), KIND, &v),
                    Ok(()) => self.target = Some(reachable(&self.arm, &mut self.rej, t.position)),
                },
            }
        }
        while let Some(e) = ros.estop.try_recv()? {
            let seq = self.last_state.as_ref().map(|s| s.seq);
            let e = e.map(|b| b.data);
            if let Some(change) = self.estop.on_ros2(e, &mut self.rej, seq, self.report.sim_time) {
                self.node_state = if change == EstopChange::Engaged { NodeState::Estop } else { NodeState::Waiting };
                self.estop_cleared = change == EstopChange::Cleared;
            }
        }
        Ok(())
    }

    /// Parameter queries: set all the requested ones or none, reply with all.
    fn serve_parameters(&mut self) {
        while let Some(q) = self.bus.params.try_next() {
            let error = match q.request() {
                Ok(req) => set_all_or_none(self.controller, &req.set).err(),
                Err(e) => {
                    self.rej.decode_error(&e);
                    Some(e.to_string())
                }
            };
            let reply = ParamsReply { v: SCHEMA_VERSION, params: read_params(self.controller), error };
            if let Err(e) = q.reply(&reply) {
                tracing::warn!(error = %e, "controller: parameter reply failed");
            }
        }
    }

    /// Waits up to a poll period (or, hosted, not at all) for the next state. Spinning is for a stream of
    /// states; a node waiting for its first, or holding, need not burn a core.
    fn next_state(&mut self, patience: Patience) -> Result<Next, NodeError> {
        let wait = if self.node_state == NodeState::Running { self.settings.wait } else { WaitMode::Sleep };
        let timeout = patience.up_to(POLL);
        let got = match (&mut self.ros, &self.bus.states) {
            (Some(ros), _) => match wait.recv_timeout(&ros.states, timeout)? {
                None => None,
                Some(Err(e)) => {
                    self.rej.cdr_error(JOINT_STATE, &e);
                    return Ok(Next::Nothing);
                }
                Some(Ok(m)) => match ros.native_state(&m) {
                    Ok(js) => Some(Ok(js)),
                    Err(r) => {
                        self.rej.refuse(r.reason, JOINT_STATE, &r);
                        return Ok(Next::Nothing);
                    }
                },
            },
            (None, Some(states)) => wait.recv_timeout(states, timeout)?,
            (None, None) => unreachable!("the native states are declared when ROS 2 is off"),
        };
        Ok(match got {
            None => Next::Silence,
            Some(Err(e)) => {
                self.rej.decode_error(&e);
                Next::Nothing
            }
            Some(Ok(_)) if self.faults.drop_this() => {
                self.report.injected_drops += 1;
                Next::Nothing
            }
            Some(Ok(js)) => match check_state(self.arm.envelope(), &js) {
                Err(r) => {
                    self.rej.refuse(r.reason, "joint_states", &r);
                    Next::Nothing
                }
                Ok(()) if self.settings.stop_at_s.is_some_and(|t| js.stamp >= t) => Next::Stop(js),
                Ok(()) => Next::State(js),
            },
        })
    }

    /// A state arrived: answer it (the control tick), unless the e-stop holds or it is one already answered.
    fn on_state(&mut self, js: JointStates) -> Result<(), NodeError> {
        self.clock.last_state_at = Instant::now();
        self.report.sim_time = js.stamp;
        if self.node_state == NodeState::Holding {
            tracing::info!(seq = js.seq, "controller: joint states are back, resuming");
        }
        let after_silence = self.node_state == NodeState::Holding;
        if self.estop.engaged() {
            self.node_state = NodeState::Estop;
        } else if self.last_seq == Some(js.seq) {
            // The sim re-sent a state it is still waiting on: our answer was lost. Answer again, but do not
            // tick: the controller (and its learning) must see each state once.
            self.send_torque()?;
            self.report.resent += 1;
        } else {
            if std::mem::take(&mut self.estop_cleared) {
                // The sim held the arm while latched: blend in from the hold torque, whatever the target did.
                self.guard.resume(&js.position);
            } else if after_silence {
                // The last command says nothing about now (a new sim even restarts the clock).
                self.guard.restart();
            }
            self.node_state = NodeState::Running;
            self.tick(&js)?;
        }
        self.last_state = Some(js);
        Ok(())
    }

    /// The time-critical part: the schedule's targets, one controller tick, the torque out, the books.
    fn tick(&mut self, js: &JointStates) -> Result<(), NodeError> {
        while let Some(ev) = self.targets.due(js.stamp) {
            self.target = Some(reachable(&self.arm, &mut self.rej, ev.position));
        }
        let target = *self.target.get_or_insert(js.ee_position);
        let input = ControlInput { t: js.stamp, q: &js.position, dq: &js.velocity, target: Vector3::from(target) };
        match self.controller.tick(&input, &mut self.cmd.effort) {
            Ok(()) => {
                self.guard.controller_ok();
                copy_adaptive(self.controller.adaptive_torque(), &mut self.cmd.adaptive);
            }
            Err(e) => {
                self.report.control_errors += 1;
                tracing::debug!(error = %e, "controller: tick failed, holding the arm where it is");
                self.guard.substitute_hold(&js.position, &js.velocity, &mut self.cmd.effort);
                self.cmd.adaptive.fill(0.0);
            }
        }
        let acts = self.guard.apply(js.stamp, &js.position, &js.velocity, &mut self.cmd.effort);
        count_guard_actions(acts, &mut self.rej);
        self.controller.applied(&self.cmd.effort);
        self.cmd.seq = js.seq;
        self.send_torque()?;
        self.last_seq = Some(js.seq);
        self.report.ticks += 1;
        self.last_error = dist(&js.ee_position, &target);
        self.report.error_windows.add(js.stamp, self.last_error);
        let raster = self.controller.raster_spikes().map(|b| b | self.raster_since_logged);
        let (cmd, error, ctl) = (&self.cmd, self.last_error, &*self.controller);
        // Written into a recycled slot: no allocation once the log has filled.
        let logged = self.log.offer(|r| {
            r.t = js.stamp;
            r.target = target;
            r.ee = js.ee_position;
            r.error_m = error;
            r.effort.clone_from(&cmd.effort);
            r.adaptive.clone_from(&cmd.adaptive);
            // Always one value per joint (zeros when the state carried none), so that a recycled slot never
            // has to grow when a payload appears.
            r.payload_effort.clone_from(&js.payload_effort);
            r.payload_effort.resize(js.position.len(), 0.0);
            let cs = ctl.status();
            r.adaptive_norm = cs.adaptive_effort_norm.unwrap_or(0.0);
            r.spike_rate_hz = cs.spike_rate_hz;
            r.raster_spikes = raster;
        });
        self.raster_since_logged = if logged { 0 } else { raster.unwrap_or(0) };
        Ok(())
    }

    /// Sends `cmd`: on the native key, or as a ROS 2 effort command.
    fn send_torque(&mut self) -> Result<(), NodeError> {
        match (&mut self.ros, &mut self.bus.torque) {
            (Some(ros), _) => ros.put_effort(&self.cmd.effort),
            (None, Some(torque)) => Ok(torque.put(&self.cmd)?),
            (None, None) => unreachable!("the native torque publisher is declared when ROS 2 is off"),
        }
    }

    /// No state for a poll period: after `hold_after_s` of them, hold.
    fn on_silence(&mut self) {
        if self.node_state == NodeState::Running
            && self.clock.last_state_at.elapsed() > secs(self.settings.hold_after_s)
        {
            self.node_state = NodeState::Holding;
            self.report.holds += 1;
            tracing::warn!(
                "controller: no joint states for {:.0} ms, holding (not commanding, not learning)",
                self.settings.hold_after_s * 1e3
            );
        }
    }

    /// Off the tick: the status and the periodic checkpoint.
    fn housekeeping(&mut self) -> Result<(), NodeError> {
        self.probe.turn();
        let now = Instant::now();
        if now - self.clock.last_status >= secs(self.settings.status_period_s) {
            let status = self.status(self.node_state);
            self.bus.status.put(&status)?;
            self.probe.offer_status(&status);
            if let Some(ros) = &mut self.ros {
                ros.put_status(&status)?;
            }
            self.clock.last_status = now;
        }
        let Some(w) = self.writer.as_mut() else { return Ok(()) };
        if let Some(done) = w.poll() {
            periodic_checkpoint_done(done, &mut self.report);
        }
        if now - self.clock.last_ckpt >= secs(self.settings.checkpoint_period_s) {
            // The snapshot is taken here, between ticks; a write still in flight (slow disk) skips it.
            if let Some(weights) = self.controller.learned_weights() {
                w.submit(self.report.sim_time, weights);
            }
            self.clock.last_ckpt = now;
        }
        Ok(())
    }

    /// The shutdown protocol: the writer finishes, a parting safe torque, the final checkpoint, the final
    /// status; the token is withdrawn when `self` drops.
    fn part(mut self) -> Result<ControllerNodeReport, NodeError> {
        if let Some(done) = self.writer.take().and_then(CheckpointWriter::finish) {
            periodic_checkpoint_done(done, &mut self.report);
        }
        self.report.sample_stride = self.log.stride();
        self.report.samples = std::mem::replace(&mut self.log, SampleLog::new(0, 0)).into_vec();
        if let Some(js) = &self.last_state {
            self.guard.hold_command(&js.position, &js.position, &js.velocity, &mut self.cmd.effort);
            self.cmd.adaptive.fill(0.0);
            self.cmd.seq = js.seq + 1;
            let _ = self.send_torque();
        }
        let ckpt_result = final_checkpoint(&self.settings, self.controller, &mut self.report);
        self.rej.fill(&mut self.report.rejected, &mut self.report.clamped);
        self.report.estop_log = self.estop.log().to_vec();
        let status = self.status(NodeState::Stopping);
        let _ = self.bus.status.put(&status);
        if let Some(ros) = &mut self.ros {
            let _ = ros.put_status(&status);
        }
        ckpt_result?;
        Ok(std::mem::take(&mut self.report))
    }

    fn status(&self, state: NodeState) -> Status {
        let (r, cs) = (&self.report, self.controller.status());
        let mut st = Status {
            v: SCHEMA_VERSION,
            node: self.settings.node.clone(),
            stamp: r.sim_time,
            state,
            ticks: r.ticks,
            rejected: BTreeMap::new(),
            clamped: BTreeMap::new(),
            last_refusal: self.rej.last().map(str::to_string),
            body: StatusBody::Controller(ControllerStatus {
                name: self.controller.name().to_string(),
                tracking_error_m: self.last_error.is_finite().then_some(self.last_error),
                target: self.target,
                learning: cs.learning,
                learning_rate: cs.learning_rate,
                adaptive_effort_norm: cs.adaptive_effort_norm,
                accounting: cs.accounting.map(|a| {
                    let energy = a.energy(&EnergyTable::default());
                    StatusAccounting {
                        steps: a.steps,
                        neuron_updates: a.neuron_updates,
                        spikes: a.spikes,
                        synaptic_events: a.synaptic_events,
                        weight_updates: a.weight_updates,
                        energy_neuromorphic_j: energy.neuromorphic_j,
                        energy_dense_cpu_j: energy.dense_cpu_j,
                    }
                }),
                checkpoints: r.checkpoints,
                checkpoint_errors: r.checkpoint_errors,
                checkpoint_alert: r.checkpoint_error.clone().or_else(|| r.fresh_start.clone()),
            }),
        };
        self.rej.fill(&mut st.rejected, &mut st.clamped);
        st
    }
}

/// Restores the learned weights from the settings' checkpoint, if it exists. A corrupt one is set aside
/// (renamed, never deleted) and the node runs on fresh weights rather than leave the arm without a
/// controller; if it cannot be moved, the node refuses to start: the next write would destroy it.
fn restore(
    settings: &ControllerSettings,
    controller: &mut dyn Controller,
    report: &mut ControllerNodeReport,
) -> Result<(), NodeError> {
    let Some(path) = &settings.checkpoint else { return Ok(()) };
    if controller.learned_weights().is_none() {
        return Ok(());
    }
    let ckpt = match load_checkpoint(path) {
        Err(e @ CheckpointError::Corrupt { .. }) => {
            let aside = set_aside(path)?;
            let note = format!("{e}; moved to {}; started with fresh weights", aside.display());
            tracing::error!("controller: {note}");
            report.fresh_start = Some(note);
            return Ok(());
        }
        other => other?,
    };
    let Some(ckpt) = ckpt else { return Ok(()) };
    if ckpt.arm != settings.arm {
        return Err(CheckpointError::Mismatch {
            path: path.clone(),
            detail: format!("learned on arm `{}`, this node drives `{}`", ckpt.arm, settings.arm),
        }
        .into());
    }
    let mismatch = |detail: String| CheckpointError::Mismatch { path: path.clone(), detail };
    if ckpt.controller != controller.name() {
        return Err(mismatch(format!(
            "learned by controller `{}`, this node runs `{}` (set controller.design / the executor back, or move \
             the file away to start fresh)",
            ckpt.controller,
            controller.name()
        ))
        .into());
    }
    match (&ckpt.provenance, controller.weights_provenance()) {
        (Some(theirs), Some(ours)) => {
            let diff = theirs.differences(&ours);
            if !diff.is_empty() {
                return Err(mismatch(format!(
                    "the weights belong to other settings (checkpoint ≠ this controller): {}; move the file \
                     away to start fresh",
                    diff.join("; ")
                ))
                .into());
            }
        }
        (None, Some(_)) => tracing::warn!(
            path = %path.display(),
            "controller: the checkpoint records no provenance (written by an older version); loaded on its shape alone"
        ),
        _ => {}
    }
    controller.restore_weights(&ckpt.weights)?;
    report.restored = true;
    tracing::info!(path = %path.display(), sim_time = ckpt.sim_time, "controller: learned weights restored");
    Ok(())
}

/// The periodic checkpoint writer, when the settings ask for periodic checkpoints of a learning controller.
fn spawn_writer(
    settings: &ControllerSettings,
    controller: &dyn Controller,
) -> Result<Option<CheckpointWriter>, NodeError> {
    match &settings.checkpoint {
        Some(path) if settings.checkpoint_period_s > 0.0 && controller.learned_weights().is_some() => {
            CheckpointWriter::spawn(
                path.clone(),
                settings.arm.clone(),
                controller.name().to_string(),
                controller.weights_provenance(),
            )
            .map(Some)
            .map_err(|source| CheckpointError::Io { path: path.clone(), source }.into())
        }
        _ => Ok(None),
    }
}

fn dist(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Sets every parameter of `set` or, if any is out of its documented bounds or refused by the controller,
/// none: those already set are put back.
fn set_all_or_none(c: &mut dyn Controller, set: &BTreeMap<String, f64>) -> Result<(), String> {
    check_request(set.iter().map(|(k, x)| (k.as_str(), *x)))?;
    let before = read_params(c);
    for (k, x) in set {
        if let Err(e) = c.set_param(k, *x) {
            for (done, _) in set.range::<String, _>(..k.clone()) {
                if let Some(&old) = before.get(done) {
                    let _ = c.set_param(done, old);
                }
            }
            return Err(format!("nothing set: {k}: {e}"));
        }
    }
    tracing::info!(?set, "controller: parameters set");
    Ok(())
}

/// The adaptive term's share of the command, when the controller has one (same length by construction).
fn copy_adaptive(from: Option<&[f64]>, to: &mut [f64]) {
    if let Some(a) = from
        && a.len() == to.len()
    {
        to.copy_from_slice(a);
    }
}

/// Counts what the guard changed in a command (allocation-free: the counters are fixed arrays).
fn count_guard_actions(acts: GuardActions, rej: &mut Rejections) {
    for (acted, what) in [
        (acts.saturated, Clamp::Torque),
        (acts.rate_limited, Clamp::TorqueRate),
        (acts.limit_pushback, Clamp::JointLimit),
    ] {
        if acted {
            rej.count_clamp(what);
        }
    }
}

fn read_params(c: &dyn Controller) -> BTreeMap<String, f64> {
    c.param_names().iter().filter_map(|k| c.param(k).map(|v| (k.to_string(), v))).collect()
}

/// The final checkpoint, written on this thread: nothing is left to control.
fn final_checkpoint(
    settings: &ControllerSettings,
    c: &dyn Controller,
    r: &mut ControllerNodeReport,
) -> Result<(), NodeError> {
    let (Some(path), Some(w)) = (&settings.checkpoint, c.learned_weights()) else {
        return Ok(());
    };
    write_checkpoint(path, &Checkpoint::new(&settings.arm, c.name(), c.weights_provenance(), r.sim_time, w))?;
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

/// `t` moved onto the arm's reach sphere if it lies outside (counted as a clamp).
fn reachable(arm: &Arm, rej: &mut Rejections, mut t: [f64; 3]) -> [f64; 3] {
    let e = arm.envelope();
    if let Some(outside) = e.clamp_target(&mut t) {
        rej.clamp(
            Clamp::Target,
            "target",
            &format_args!("{outside:.3} m beyond the {:.3} m reach, moved to {t:.3?}", e.reach_m()),
        );
    }
    t
}
