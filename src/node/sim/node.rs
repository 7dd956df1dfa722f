//! The sim node: owns the rapier arm, publishes `joint_states` after every step, applies `torque_cmd`, takes
//! `payload` and `estop` from the bus (and scheduled payload and e-stop events from its settings), and holds
//! the arm with the watchdog when torques stop arriving.
//!
//! One loop, one stage per line of [`SimNode::run`]: apply the schedule, drain the bus, choose this step's
//! torque, step and publish, the ROS 2 joint state (when `[ros2]` is on), housekeeping, pace. Lockstep and
//! real time share every stage; they differ in how the torque is waited for (lockstep: the answer to the
//! state just published, or nothing happens; real time: the newest that has arrived, zero-order hold) and in
//! pacing (real time waits for the next period).
//!
//! With `[ros2]` on, effort commands may also come as `std_msgs/msg/Float64MultiArray` (they carry no state
//! number: lockstep takes the first one after each published state as its answer, real time the newest),
//! and the ROS joint state goes out after the native one, so the native path is not delayed by it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use spikearm_sim::{ArmState, ArmWorld, PayloadSpec};

use super::latency::StateLatency;
use super::payload_torque::PayloadTorque;
use super::report::{MAX_TRIPS_KEPT, SimNodeReport, SimSample};
use super::ros2::SimRos;
use super::settings::SimSettings;
use crate::arm::Arm;
use crate::arm::hold::HoldLaw;
use crate::bus::Latest;
use crate::bus::ros2::{CdrError, Float64MultiArray, RosMessage};
use crate::bus::{
    Bus, BusPublisher, DecodeError, Estop, JointStates, LivenessToken, NodeState, Payload, QosClass, Queue,
    SCHEMA_VERSION, SimStatus, Status, StatusBody, TorqueCmd,
};
use crate::node::NodeError;
use crate::node::common::{
    Clamp, EstopChange, EstopEvent, EstopLatch, FaultInjector, NodeProbe, Patience, PayloadEvent, Reason, Rejections,
    SampleLog, Schedule, Shutdown, TimingMode, Turn, secs,
};

/// Longest blocking wait, so that shutdown and bus events are seen promptly.
const POLL: Duration = Duration::from_millis(2);

/// The sim node's handles on the bus, declared once.
struct SimBus {
    states: BusPublisher<JointStates>,
    status: BusPublisher<Status>,
    torque: Latest<TorqueCmd>,
    payload: Queue<Payload>,
    estop: Queue<Estop>,
    _token: LivenessToken,
}

impl SimBus {
    fn declare(bus: &Bus, node: &str) -> Result<Self, NodeError> {
        let keys = bus.keys();
        Ok(Self {
            states: bus.publisher(&keys.joint_states(), QosClass::Control)?,
            status: bus.publisher(&keys.status(node), QosClass::Report)?,
            torque: bus.latest(&keys.torque_cmd())?,
            payload: bus.queue(&keys.payload(), 16)?,
            estop: bus.queue(&keys.estop(), 16)?,
            _token: bus.liveliness_token(node)?,
        })
    }
}

/// The watchdog: when torque commands stop arriving, the arm is held.
#[derive(Debug)]
struct Watchdog {
    /// A command has arrived since start (before the first, real time holds the start pose).
    ever_cmd: bool,
    holding: bool,
    last_cmd: Instant,
}

/// Wall-clock marks of the loop.
#[derive(Debug)]
struct Clock {
    started: Instant,
    last_pub: Instant,
    last_status: Instant,
    /// Real time: when the next step is due.
    deadline: Instant,
}

/// A running sim node. Build it with [`SimNode::new`], run it with [`SimNode::run`].
pub struct SimNode {
    settings: SimSettings,
    world: ArmWorld,
    hold: HoldLaw,
    bus: SimBus,
    /// The ROS 2 side, when `[ros2]` is on.
    ros: Option<SimRos>,
    /// Lockstep: the last answer came over ROS 2 (so the next is awaited there first).
    ros_answers: bool,
    payloads: Schedule<PayloadEvent>,
    estops: Schedule<EstopEvent>,
    faults: FaultInjector,
    state: ArmState,
    msg: JointStates,
    seq: u64,
    tau: Vec<f64>,
    q_hold: Vec<f64>,
    payload_torque: PayloadTorque,
    /// The torque in `tau` is a command accepted since the last step (its clamping is counted once).
    fresh_cmd: bool,
    estop: EstopLatch,
    rej: Rejections,
    watchdog: Watchdog,
    clock: Clock,
    /// Real time: an answer received while waiting for the next step, applied at that step.
    pending: Option<Result<TorqueCmd, DecodeError>>,
    /// Lockstep: this step's schedule and bus are taken; its torque is awaited.
    awaiting: bool,
    log: SampleLog<SimSample>,
    trips: SampleLog<f64>,
    latency: StateLatency,
    probe: Arc<NodeProbe>,
    report: SimNodeReport,
}

impl SimNode {
    /// Builds the physics of `arm` at the start pose and declares the node on `bus`.
    pub fn new(settings: &SimSettings, arm: Arc<Arm>, bus: &Bus) -> Result<Self, NodeError> {
        settings.validate().map_err(NodeError::Spec)?;
        let mut world = ArmWorld::from_urdf_str(arm.urdf(), settings.physics.clone())?;
        let n = world.dof();
        let hold = HoldLaw::new(&arm, settings.hold).map_err(NodeError::Model)?;
        if hold.dof() != n {
            return Err(NodeError::Spec(format!("model has {} joints, sim {n}", hold.dof())));
        }
        let q0 = settings.initial_q.clone().unwrap_or_else(|| vec![0.0; n]);
        if q0.len() != n {
            return Err(NodeError::Spec(format!("initial_q has {} entries, the arm {n} joints", q0.len())));
        }
        world.set_state(&q0, &vec![0.0; n])?;
        let mut state = ArmState::default();
        world.read_state_into(&mut state);
        let msg = JointStates {
            v: SCHEMA_VERSION,
            stamp: 0.0,
            seq: 0,
            name: world.joint_names(),
            position: vec![0.0; n],
            velocity: vec![0.0; n],
            effort: vec![0.0; n],
            ee_position: [0.0; 3],
            payload_effort: Vec::with_capacity(n),
        };
        let now = Instant::now();
        Ok(Self {
            bus: SimBus::declare(bus, &settings.node)?,
            ros: SimRos::declare(bus, &settings.ros2, world.joint_names(), settings.physics.dt)?,
            ros_answers: false,
            payloads: Schedule::new(&settings.payload_events),
            estops: Schedule::new(&settings.estop_events),
            faults: FaultInjector::new(settings.faults),
            rej: Rejections::new(&settings.node),
            log: SampleLog::new(settings.record_every, settings.max_samples),
            settings: settings.clone(),
            world,
            hold,
            state,
            msg,
            seq: 0,
            tau: vec![0.0; n],
            q_hold: q0,
            payload_torque: PayloadTorque::new(&arm).map_err(NodeError::Model)?,
            fresh_cmd: false,
            estop: EstopLatch::new(),
            watchdog: Watchdog { ever_cmd: false, holding: false, last_cmd: now },
            clock: Clock { started: now, last_pub: now, last_status: now, deadline: now },
            pending: None,
            awaiting: false,
            trips: SampleLog::new(1, MAX_TRIPS_KEPT),
            latency: StateLatency::new(),
            probe: Arc::new(NodeProbe::new()),
            report: SimNodeReport::default(),
        })
    }

    /// Reports the loop's turns and statuses to `probe` (a service watchdog, `/metrics`).
    pub fn with_probe(mut self, probe: Arc<NodeProbe>) -> Self {
        self.probe = probe;
        self
    }

    /// Runs until `shutdown` or the settings' duration. On return the arm's last command was a hold torque
    /// and the liveliness token is withdrawn; the caller closes the bus.
    pub fn run(mut self, shutdown: &Shutdown) -> Result<SimNodeReport, NodeError> {
        self.start()?;
        while self.turn(shutdown, Patience::Wait)? != Turn::Done {}
        Ok(self.part())
    }

    /// Publishes the start state: the first thing a sim does, before its first [`Self::turn`].
    pub fn start(&mut self) -> Result<(), NodeError> {
        self.publish_state()?;
        self.ros_state()?;
        self.record(false);
        Ok(())
    }

    /// One turn: the next physics step if it is due — apply the schedule, drain the bus, choose the torque,
    /// step and publish, the ROS 2 joint state, housekeeping — or, until it is due, the wait for it (real
    /// time: the period's deadline; lockstep: the controller's answer). With [`Patience::None`] (a host) it
    /// never waits: it looks once and returns [`Turn::Idle`].
    pub fn turn(&mut self, shutdown: &Shutdown, patience: Patience) -> Result<Turn, NodeError> {
        if self.finished(shutdown) {
            return Ok(Turn::Done);
        }
        let held = match self.settings.timing {
            TimingMode::RealTime => {
                if self.before_deadline(shutdown, patience)? {
                    return Ok(Turn::Idle);
                }
                self.apply_schedule();
                self.drain_bus()?;
                self.newest_torque()?
            }
            TimingMode::Lockstep => {
                if !self.awaiting {
                    self.apply_schedule();
                    self.drain_bus()?;
                    self.awaiting = true;
                }
                let Some(held) = self.answer(patience)? else { return Ok(Turn::Idle) };
                self.awaiting = false;
                held
            }
        };
        self.step_and_publish(held)?;
        self.ros_state()?;
        self.status_if_due(self.clock.last_pub)?;
        self.probe.turn();
        self.next_deadline();
        Ok(Turn::Worked)
    }

    /// The report, once [`Self::turn`] returned [`Turn::Done`]: see [`Self::run`].
    pub fn finish(self) -> SimNodeReport {
        self.part()
    }

    fn finished(&self, shutdown: &Shutdown) -> bool {
        let end = self.settings.duration_s.map_or(f64::INFINITY, |d| d - 0.5 * self.settings.physics.dt);
        shutdown.is_triggered() || self.state.t >= end
    }

    /// Scheduled payload and e-stop events due at this step, before its torque is chosen.
    fn apply_schedule(&mut self) {
        while let Some(ev) = self.payloads.due(self.state.t) {
            self.apply_payload(ev.mass_kg, ev.offset_m);
        }
        while let Some(ev) = self.estops.due(self.state.t) {
            if self.estop.on_schedule(ev.engaged, Some(self.seq), self.state.t) == Some(EstopChange::Engaged) {
                self.q_hold.copy_from_slice(&self.state.q);
            }
        }
    }

    /// Payloads and e-stops from the bus. A payload heavier than the limit is refused; the e-stop latch
    /// engages on any engage or undecodable body and clears only on an explicit clear.
    fn drain_bus(&mut self) -> Result<(), NodeError> {
        while let Some(p) = self.bus.payload.try_recv()? {
            match p {
                Ok(p) if !(p.mass_kg <= self.settings.max_payload_kg) => self.rej.refuse(
                    Reason::OutOfRange,
                    "payload",
                    &format_args!("{} kg exceeds max_payload_kg {}", p.mass_kg, self.settings.max_payload_kg),
                ),
                Ok(p) => self.apply_payload(p.mass_kg, p.offset_m),
                Err(e) => self.rej.decode_error(&e),
            }
        }
        while let Some(e) = self.bus.estop.try_recv()? {
            if self.estop.on_bus(e, &mut self.rej, Some(self.seq), self.state.t) == Some(EstopChange::Engaged) {
                self.q_hold.copy_from_slice(&self.state.q);
            }
        }
        self.drain_ros()
    }

    /// The ROS 2 payload (`geometry_msgs/msg/Inertia`: mass and centre of mass) and e-stop (`std_msgs/msg/
    /// Bool`) topics, checked as their native counterparts are.
    fn drain_ros(&mut self) -> Result<(), NodeError> {
        const INERTIA: &str = crate::bus::ros2::Inertia::TYPE.name;
        while let Some(p) = self.ros.as_ref().map(|r| r.payload.try_recv()).transpose()?.flatten() {
            let p = p.map(|i| Payload { v: SCHEMA_VERSION, mass_kg: i.m, offset_m: [i.com.x, i.com.y, i.com.z] });
            match p {
                Err(e) => self.rej.cdr_error(INERTIA, &e),
                Ok(p) => match crate::bus::Message::check(&p) {
                    Err(v) => self.rej.refuse(Reason::of_violation(&v), INERTIA, &v),
                    Ok(()) if !(p.mass_kg <= self.settings.max_payload_kg) => self.rej.refuse(
                        Reason::OutOfRange,
                        INERTIA,
                        &format_args!("{} kg exceeds max_payload_kg {}", p.mass_kg, self.settings.max_payload_kg),
                    ),
                    Ok(()) => self.apply_payload(p.mass_kg, p.offset_m),
                },
            }
        }
        let Some(ros) = &self.ros else { return Ok(()) };
        while let Some(e) = ros.estop.try_recv()? {
            let e = e.map(|b| b.data);
            if self.estop.on_ros2(e, &mut self.rej, Some(self.seq), self.state.t) == Some(EstopChange::Engaged) {
                self.q_hold.copy_from_slice(&self.state.q);
            }
        }
        Ok(())
    }

    /// Real time: this step's torque into `tau` (the hold torque under an e-stop, else the newest command);
    /// returns whether it is a hold torque.
    fn newest_torque(&mut self) -> Result<bool, NodeError> {
        if self.held_by_estop()? {
            return Ok(true);
        }
        self.take_newest()
    }

    /// Under an e-stop, the hold torque into `tau`; returns whether the e-stop holds the arm.
    fn held_by_estop(&mut self) -> Result<bool, NodeError> {
        let engaged = self.estop.engaged();
        if engaged {
            self.hold_torque()?;
        }
        Ok(engaged)
    }

    /// Lockstep: this step's torque into `tau` once the answer to the state just published has come (or
    /// the hold torque under an e-stop); returns whether it is a hold torque, or `None` while it is awaited.
    /// Meanwhile the bus is drained (an e-stop takes over from the controller), the watchdog watches, the
    /// state is re-sent, status goes out.
    fn answer(&mut self, patience: Patience) -> Result<Option<bool>, NodeError> {
        if self.held_by_estop()? {
            return Ok(Some(true));
        }
        if self.poll_answer(patience.up_to(POLL))? {
            return Ok(Some(false));
        }
        self.drain_bus()?;
        if self.held_by_estop()? {
            return Ok(Some(true));
        }
        let now = Instant::now();
        self.watch(now);
        if now - self.clock.last_pub > secs(self.settings.resend_s) {
            self.bus.states.put(&self.msg)?;
            if let Some(ros) = &mut self.ros {
                ros.publish(&self.state)?;
            }
            self.report.resends += 1;
            self.clock.last_pub = now;
        }
        self.status_if_due(now)?;
        Ok(None)
    }

    /// Lockstep: waits up to `timeout` for the answer. With `[ros2]` on, answers may come from either
    /// side: the wait blocks on the side the last answer came from and looks at the other without waiting,
    /// so a controller on either side costs no extra latency (after its first answer).
    fn poll_answer(&mut self, timeout: Duration) -> Result<bool, NodeError> {
        let wait = self.settings.wait;
        let ros_first = self.ros_answers;
        if let Some(ros) = &self.ros {
            let got = if ros_first { wait.recv_timeout(&ros.effort, timeout)? } else { ros.effort.try_recv()? };
            if let Some(r) = got
                && self.intake_ros(r)
            {
                self.ros_answers = true;
                return Ok(true);
            }
        }
        let got = if ros_first { self.bus.torque.try_recv()? } else { wait.recv_timeout(&self.bus.torque, timeout)? };
        if let Some(r) = self.timed(got)
            && self.intake(r)
        {
            self.ros_answers = false;
            return Ok(true);
        }
        Ok(false)
    }

    /// Real time: the newest command that has arrived stays in force (zero-order hold) until the next one
    /// or the watchdog; before the first command and while holding, the hold law drives the arm.
    fn take_newest(&mut self) -> Result<bool, NodeError> {
        loop {
            let r = match self.pending.take() {
                Some(r) => r,
                None => match self.bus.torque.try_recv()? {
                    Some(r) => self.timed(Some(r)).expect("a received sample"),
                    None => break,
                },
            };
            self.intake(r);
        }
        while let Some(r) = self.ros_command()? {
            self.intake_ros(r);
        }
        self.watch(Instant::now());
        if self.watchdog.ever_cmd && !self.watchdog.holding {
            return Ok(false);
        }
        if !self.watchdog.ever_cmd {
            self.q_hold.copy_from_slice(&self.state.q);
        }
        self.hold_torque()?;
        Ok(true)
    }

    /// Takes one received torque command into `tau` if it is usable; returns whether it was. Lockstep uses
    /// only the answer to the state just published; real time uses the newest whatever state it answers and
    /// counts answers to older states as stale.
    fn intake(&mut self, r: Result<TorqueCmd, DecodeError>) -> bool {
        let n = self.tau.len();
        let lockstep = self.settings.timing == TimingMode::Lockstep;
        match r {
            Ok(_) if self.faults.drop_this() => self.report.injected_drops += 1,
            Ok(cmd) if cmd.effort.len() != n => self.rej.refuse(
                Reason::Dimension,
                "torque_cmd",
                &format_args!("{} torques for {n} joints", cmd.effort.len()),
            ),
            Ok(cmd) if cmd.seq != self.seq && lockstep => self.report.stale_torques += 1,
            Ok(cmd) => {
                if cmd.seq != self.seq {
                    self.report.stale_torques += 1;
                }
                self.accept(&cmd.effort);
                return true;
            }
            Err(e) => self.rej.decode_error(&e),
        }
        false
    }

    /// The newest ROS 2 effort command, if `[ros2]` is on and one arrived.
    fn ros_command(&mut self) -> Result<Option<Result<Float64MultiArray, CdrError>>, NodeError> {
        Ok(match &self.ros {
            Some(ros) => ros.effort.try_recv()?,
            None => None,
        })
    }

    /// Takes one ROS 2 effort command into `tau` if it is usable (one finite torque per joint, N·m);
    /// returns whether it was. It names no state, so it answers the newest one.
    fn intake_ros(&mut self, r: Result<Float64MultiArray, CdrError>) -> bool {
        const KIND: &str = Float64MultiArray::TYPE.name;
        let n = self.tau.len();
        match r {
            Ok(_) if self.faults.drop_this() => self.report.injected_drops += 1,
            Ok(c) if c.data.len() != n => {
                self.rej.refuse(Reason::Dimension, KIND, &format_args!("{} efforts for {n} joints", c.data.len()))
            }
            Ok(c) if c.data.iter().any(|x| !x.is_finite()) => {
                self.rej.refuse(Reason::NonFinite, KIND, &"an effort is NaN or infinite")
            }
            Ok(c) => {
                self.report.ros2_commands += 1;
                self.accept(&c.data);
                return true;
            }
            Err(e) => self.rej.cdr_error(KIND, &e),
        }
        false
    }

    /// A usable command: its torques apply from this step on, and the watchdog is fed.
    fn accept(&mut self, effort: &[f64]) {
        self.tau.copy_from_slice(effort);
        self.fresh_cmd = true;
        self.watchdog.last_cmd = Instant::now();
        self.watchdog.ever_cmd = true;
        if self.watchdog.holding {
            tracing::info!(seq = self.seq, "sim: torque commands are back, watchdog released");
            self.watchdog.holding = false;
        }
    }

    /// The ROS 2 joint state of the step just taken: every step in lockstep, decimated in real time. In
    /// lockstep a command still pending now arrived before this state went out, so it cannot answer it: it
    /// is dropped as stale (a controller's duplicate answer to a re-sent state).
    fn ros_state(&mut self) -> Result<(), NodeError> {
        let lockstep = self.settings.timing == TimingMode::Lockstep;
        let Some(ros) = &mut self.ros else { return Ok(()) };
        if lockstep {
            match ros.effort.try_recv()? {
                Some(Ok(_)) => self.report.stale_torques += 1,
                Some(Err(e)) => self.rej.cdr_error(Float64MultiArray::TYPE.name, &e),
                None => {}
            }
        } else if !ros.due(self.seq) {
            return Ok(());
        }
        ros.publish(&self.state)?;
        self.report.ros2_states += 1;
        Ok(())
    }

    /// Trips the watchdog when no command came for `watchdog_s`. In real time the arm is then held where it
    /// is; in lockstep the physics does not advance without a command, so the arm is frozen, i.e. held.
    fn watch(&mut self, now: Instant) {
        let w = &mut self.watchdog;
        if !(w.ever_cmd && !w.holding && now - w.last_cmd > secs(self.settings.watchdog_s)) {
            return;
        }
        w.holding = true;
        if self.settings.timing == TimingMode::RealTime {
            self.q_hold.copy_from_slice(&self.state.q);
        }
        self.report.watchdog_trips += 1;
        let late = (now - w.last_cmd).as_secs_f64();
        self.trips.offer(|x| *x = late);
        tracing::warn!(seq = self.seq, "sim: no torque command for {:.0} ms, holding", self.settings.watchdog_s * 1e3);
    }

    fn hold_torque(&mut self) -> Result<(), NodeError> {
        self.hold.torque(&self.q_hold, &self.state.q, &self.state.dq, &mut self.tau).map_err(NodeError::Model)
    }

    /// One physics step with `tau`, then the new state goes out. A fresh command the physics had to clamp
    /// to the effort limits is counted once.
    fn step_and_publish(&mut self, held: bool) -> Result<(), NodeError> {
        let clamped = self.world.set_torques(&self.tau)?;
        self.payload_torque.before_step(&self.state.q, &self.state.dq);
        self.world.step();
        if std::mem::take(&mut self.fresh_cmd) && !held && clamped > 0 {
            let n = self.tau.len();
            self.rej.clamp(
                Clamp::Torque,
                "torque_cmd",
                &format_args!("{clamped} of {n} torques above their effort limits, clamped"),
            );
        }
        self.seq += 1;
        self.world.read_state_into(&mut self.state);
        self.payload_torque.after_step(&self.state.dq, self.settings.physics.dt, &mut self.msg.payload_effort);
        self.publish_state()?;
        self.report.steps += 1;
        self.record(held);
        Ok(())
    }

    fn publish_state(&mut self) -> Result<(), NodeError> {
        let (m, s) = (&mut self.msg, &self.state);
        m.stamp = s.t;
        m.seq = self.seq;
        m.position.copy_from_slice(&s.q);
        m.velocity.copy_from_slice(&s.dq);
        m.effort.copy_from_slice(&s.tau);
        m.ee_position = s.ee_position;
        self.latency.sent(self.seq, Instant::now());
        self.bus.states.put(&self.msg)?;
        self.clock.last_pub = Instant::now();
        Ok(())
    }

    fn record(&mut self, held: bool) {
        let (s, payload_kg) = (&self.state, self.world.payload().map_or(0.0, |p| p.mass_kg));
        // Written into a recycled slot: no allocation once the log has filled.
        self.log.offer(|r| {
            r.t = s.t;
            r.q.clone_from(&s.q);
            r.dq.clone_from(&s.dq);
            r.tau.clone_from(&s.tau);
            r.ee = s.ee_position;
            r.payload_kg = payload_kg;
            r.held = held;
        });
    }

    /// Real time: whether the next step is not yet due. Until it is, the answer to the last state is timed
    /// as it arrives (and applied at the next step like any other); with [`Patience::Wait`] this waits for
    /// the deadline (or a stop), else it looks once.
    fn before_deadline(&mut self, shutdown: &Shutdown, patience: Patience) -> Result<bool, NodeError> {
        let deadline = self.clock.deadline;
        if Instant::now() >= deadline {
            return Ok(false);
        }
        if self.pending.is_none() {
            let got = match patience {
                Patience::Wait => self.settings.wait.recv_until(&self.bus.torque, deadline)?,
                Patience::None => self.bus.torque.try_recv()?,
            };
            self.pending = self.timed(got);
        }
        if patience == Patience::Wait {
            self.settings.wait.until(deadline, shutdown);
        }
        Ok(true)
    }

    /// Real time: the deadline of the next step. A step a whole period late is counted and the clock
    /// re-anchored rather than bursting to catch up.
    fn next_deadline(&mut self) {
        if self.settings.timing != TimingMode::RealTime {
            return;
        }
        let dt = secs(self.settings.physics.dt);
        self.clock.deadline += dt;
        let now = Instant::now();
        if now >= self.clock.deadline + dt {
            self.report.deadline_misses += 1;
            self.clock.deadline = now;
        }
    }

    /// Times a received answer (see [`StateLatency`]) and passes it on.
    fn timed(&mut self, r: Option<Result<TorqueCmd, DecodeError>>) -> Option<Result<TorqueCmd, DecodeError>> {
        if let Some(Ok(c)) = &r {
            self.latency.answered(c.seq, Instant::now());
        }
        r
    }

    fn apply_payload(&mut self, mass_kg: f64, offset_m: [f64; 3]) {
        let p = (mass_kg > 0.0).then_some(PayloadSpec { mass_kg, offset_m });
        match self.world.set_payload(p).map_err(|e| e.to_string()).and_then(|()| self.payload_torque.set_payload(p)) {
            Ok(()) => tracing::info!(t = self.world.time(), mass_kg, "sim: payload set"),
            Err(e) => self.rej.refuse(Reason::OutOfRange, "payload", &e),
        }
    }

    fn status_if_due(&mut self, now: Instant) -> Result<(), NodeError> {
        if now - self.clock.last_status > secs(self.settings.status_period_s) {
            let holding = self.watchdog.holding || !self.watchdog.ever_cmd;
            let status = self.status(holding);
            self.bus.status.put(&status)?;
            self.probe.offer_status(&status);
            self.clock.last_status = now;
        }
        Ok(())
    }

    fn status(&self, holding: bool) -> Status {
        let state = if self.estop.engaged() {
            NodeState::Estop
        } else if holding {
            NodeState::Holding
        } else {
            NodeState::Running
        };
        let mut status = Status {
            v: SCHEMA_VERSION,
            node: self.settings.node.clone(),
            stamp: self.state.t,
            state,
            ticks: self.seq,
            rejected: Default::default(),
            clamped: Default::default(),
            last_refusal: self.rej.last().map(str::to_string),
            body: StatusBody::Sim(SimStatus {
                deadline_misses: self.report.deadline_misses,
                watchdog_trips: self.report.watchdog_trips,
            }),
        };
        self.rej.fill(&mut status.rejected, &mut status.clamped);
        status
    }

    /// Parting: leave the hold torque in force (it matters when the physics is driven on after this node,
    /// and documents intent), publish a final status; the token is withdrawn when `self` drops.
    fn part(mut self) -> SimNodeReport {
        self.q_hold.copy_from_slice(&self.state.q);
        let _ = self.hold_torque();
        let _ = self.world.set_torques(&self.tau);
        let mut r = std::mem::take(&mut self.report);
        r.sim_time = self.state.t;
        r.wall_s = self.clock.started.elapsed().as_secs_f64();
        r.latency = self.latency.summary();
        r.sample_stride = self.log.stride();
        r.samples = std::mem::replace(&mut self.log, SampleLog::new(0, 0)).into_vec();
        r.watchdog_latency_s = std::mem::replace(&mut self.trips, SampleLog::new(0, 0)).into_vec();
        self.rej.fill(&mut r.rejected, &mut r.clamped);
        r.estop_log = self.estop.log().to_vec();
        self.report = r;
        let _ = self.bus.status.put(&self.status(true));
        std::mem::take(&mut self.report)
    }
}
