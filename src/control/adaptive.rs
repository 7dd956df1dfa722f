//! The adaptive controller: the OSC plus a spiking ensemble whose readout learns online, with PES on the
//! emulated neuromorphic core, the torque the arm model is missing (a payload, a heavier tool, wear).
//!
//! Per tick (the DeWolf/Eliasmith lineage, with the choices our payload-protocol runs found stable; see
//! BENCHMARKS.md):
//! 1. the OSC terms at the measured state (task, null space, gravity from the payload-free model);
//! 2. inputs: the adapted joints' angles (and, in the textbook setting, velocities), scaled by means and
//!    half-ranges and projected onto the unit hypersphere (d → d + 1);
//! 3. the ensemble steps with PES error `−u_train`, where `u_train` is the feedback the adaptive term should
//!    take over: the OSC task + null-space terms by default (stable), the task term only in the textbook
//!    setting (which drifts upward on the UR5e);
//! 4. `u = task + null + gravity + u_adapt` on the adapted joints.
//!
//! The error convention of the core is output − target; feeding `−u_train` makes the readout grow in the
//! direction of the feedback, so the feedback shrinks as the readout takes the load.

use nalgebra::Vector3;

use super::controller::{ControlError, ControlInput, Controller, ControllerStatus};
use super::input_scaling::InputScaling;
use super::osc::{Osc, check_torque};
use crate::neuro::{
    BuiltNetwork, EnsembleSpec, Executor, ExecutorKind, FloatExecutor, InterceptSpec, LearnedWeights, LoihiExecutor,
    LoihiParams, NetworkSpec, PesSpec, RangeSpec,
};

/// What the adaptive term learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrainingSignal {
    /// OSC task term plus null-space term (default: stable and best on both arms in the reference).
    #[default]
    TaskAndNull,
    /// OSC task term only (abr_control's textbook choice).
    Task,
}

/// Which signals feed the ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdaptiveInputs {
    /// Joint angles of the adapted joints (default).
    #[default]
    Positions,
    /// Angles and velocities (the textbook choice).
    PositionsAndVelocities,
}

/// Settings of the adaptive term. Defaults are the reference's best configuration on the fixed-point core.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptiveParams {
    /// Joints (0-based, URDF order) the term adapts and reads; `None` (default) for all. The UR5e-class arm
    /// adapts joints 1–3 (shoulder lift, elbow, wrist 1): see [`AdaptiveParams::default_joints`].
    pub joints: Option<Vec<usize>>,
    /// Input signals. Default positions only.
    pub inputs: AdaptiveInputs,
    /// Training signal. Default task + null space.
    pub training: TrainingSignal,
    /// Mean of each raw input (angles rad, then velocities rad/s), `None` for 0 each. Usually taken from a
    /// payload-free run ([`InputScaling::from_extremes`]).
    pub input_means: Option<Vec<f64>>,
    /// Half-range of each raw input, `None` for π rad (angles) and 1 rad/s (velocities).
    pub input_half_ranges: Option<Vec<f64>>,
    /// Project the scaled inputs onto the unit hypersphere (d → d + 1). Default true.
    pub hypersphere: bool,
    /// Ensemble size. Default 1000.
    pub neurons: usize,
    /// Seed of the ensemble build (encoders, rates, intercepts). Default 0.
    pub seed: u64,
    /// Triangular distribution of each neuron's firing probability (low, mode, high), mapped to intercepts.
    /// Default (0.35, 0.45, 0.55) (DeWolf et al.).
    pub sparse_firing: [f64; 3],
    /// Peak firing rates, spikes/s. Default U(200, 400) (Nengo).
    pub max_rates: (f64, f64),
    /// PES learning rate kappa, dimensionless. Default 2e-4: on the payload protocol the fixed-point core
    /// with 1e-4 compensated less (3-link last lap 0.29 vs 0.16–0.17 normalised), 1e-3 goes unstable.
    pub learning_rate: f64,
    /// Lowpass on the ensemble's input current, s. Default 0.012.
    pub input_synapse: f64,
    /// Lowpass on the presynaptic activities PES uses (the training synapse), s. Default 0.012.
    pub training_synapse: f64,
    /// Lowpass on the learned output torque, s. Default 0.2: slow enough that spike noise does not reach
    /// the motors, fast enough to follow a payload picked up.
    pub output_synapse: f64,
    /// Executor. Default the fixed-point core.
    pub executor: ExecutorKind,
    /// Fixed-point core parameters (used when `executor` is `Loihi`).
    pub loihi: LoihiParams,
}

impl Default for AdaptiveParams {
    fn default() -> Self {
        Self {
            joints: None,
            inputs: AdaptiveInputs::Positions,
            training: TrainingSignal::TaskAndNull,
            input_means: None,
            input_half_ranges: None,
            hypersphere: true,
            neurons: 1000,
            seed: 0,
            sparse_firing: [0.35, 0.45, 0.55],
            max_rates: (200.0, 400.0),
            learning_rate: 2e-4,
            input_synapse: 0.012,
            training_synapse: 0.012,
            output_synapse: 0.2,
            executor: ExecutorKind::Loihi,
            loihi: LoihiParams::default(),
        }
    }
}

impl AdaptiveParams {
    /// The joints adapted by default on an arm with `dof` joints: 1–3 on a 6-DoF UR-class arm (the wrist
    /// roll joints carry no payload gravity worth learning and only add input dimensions), all otherwise.
    pub fn default_joints(dof: usize) -> Vec<usize> {
        if dof == 6 { vec![1, 2, 3] } else { (0..dof).collect() }
    }

    /// The textbook settings (abr_control): inputs q and q̇, trained on the task term only.
    pub fn textbook() -> Self {
        Self { inputs: AdaptiveInputs::PositionsAndVelocities, training: TrainingSignal::Task, ..Self::default() }
    }
}

/// OSC + the spiking adaptive term. `tick` allocates nothing.
pub struct AdaptiveOsc {
    osc: Osc,
    core: Box<dyn Executor>,
    scaling: InputScaling,
    joints: Vec<usize>,
    training: TrainingSignal,
    with_velocities: bool,
    learning_rate: f64,
    raw: Vec<f64>,
    scaled: Vec<f64>,
    error: Vec<f64>,
    out: Vec<f64>,
    adapt: Vec<f64>,
    name: &'static str,
    /// 1 / (neurons · dt): turns one step's spike count into a mean firing rate, Hz per spike.
    hz_per_spike: f64,
}

impl AdaptiveOsc {
    /// Builds the ensemble on the chosen executor around `osc`.
    pub fn new(osc: Osc, params: AdaptiveParams) -> Result<Self, ControlError> {
        let n = osc.dof();
        let joints = params.joints.clone().unwrap_or_else(|| (0..n).collect());
        if joints.is_empty() || joints.iter().any(|&j| j >= n) {
            return Err(ControlError::BadInput(format!("adaptive joints {joints:?} must be non-empty and < {n}")));
        }
        let mut sorted = joints.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != joints.len() {
            return Err(ControlError::BadInput(format!("adaptive joints {joints:?} repeat a joint")));
        }
        let with_velocities = params.inputs == AdaptiveInputs::PositionsAndVelocities;
        let m = joints.len();
        let d = if with_velocities { 2 * m } else { m };
        let means = params.input_means.clone().unwrap_or_else(|| vec![0.0; d]);
        let half = params
            .input_half_ranges
            .clone()
            .unwrap_or_else(|| (0..d).map(|i| if i < m { std::f64::consts::PI } else { 1.0 }).collect());
        if means.len() != d || half.len() != d {
            return Err(ControlError::BadInput(format!(
                "adaptive input scaling needs {d} means and half-ranges ({m} joints{}), got {} and {}",
                if with_velocities { " × (q, dq)" } else { "" },
                means.len(),
                half.len()
            )));
        }
        let scaling = InputScaling::new(means, half, params.hypersphere)?;
        let ensemble = EnsembleSpec {
            neurons: params.neurons,
            dimensions: scaling.outputs(),
            seed: params.seed,
            radius: 1.0,
            max_rates: RangeSpec(params.max_rates.0, params.max_rates.1),
            intercepts: InterceptSpec::SparseFiring { sparse_firing: params.sparse_firing },
            tau_rc: 0.02,
            tau_ref: 0.002,
            input_synapse: Some(params.input_synapse),
        };
        let readout = PesSpec {
            dimensions: m,
            learning_rate: params.learning_rate,
            pre_synapse: params.training_synapse,
            synapse: params.output_synapse,
        };
        let spec = NetworkSpec::new(ensemble, readout);
        spec.validate()?;
        let built = BuiltNetwork::build(&spec)?;
        let (core, name): (Box<dyn Executor>, &'static str) = match params.executor {
            ExecutorKind::Float => (Box::new(FloatExecutor::new(&built)), "adaptive-float"),
            ExecutorKind::Loihi => (Box::new(LoihiExecutor::new(&built, params.loihi)?), "adaptive-loihi"),
        };
        Ok(Self {
            osc,
            core,
            raw: vec![0.0; d],
            scaled: vec![0.0; scaling.outputs()],
            scaling,
            error: vec![0.0; m],
            out: vec![0.0; m],
            adapt: vec![0.0; n],
            joints,
            training: params.training,
            with_velocities,
            learning_rate: params.learning_rate,
            name,
            hz_per_spike: 1.0 / (spec.ensemble.neurons as f64 * spec.dt),
        })
    }

    /// The OSC inside (its last terms, its model).
    pub fn osc(&self) -> &Osc {
        &self.osc
    }

    /// The OSC inside, mutably (gains).
    pub fn osc_mut(&mut self) -> &mut Osc {
        &mut self.osc
    }

    /// The joints adapted.
    pub fn joints(&self) -> &[usize] {
        &self.joints
    }

    /// The input scaling in use.
    pub fn scaling(&self) -> &InputScaling {
        &self.scaling
    }

    /// The neuromorphic core (accounting, spike counts).
    pub fn core(&self) -> &dyn Executor {
        self.core.as_ref()
    }

    /// Pauses (`false`) or resumes (`true`) learning; the learned readout keeps acting either way.
    pub fn set_learning(&mut self, enabled: bool) {
        self.core.set_learning(enabled);
    }

    /// Whether learning is on.
    pub fn learning(&self) -> bool {
        self.core.learning()
    }

    /// Changes the PES learning rate kappa (dimensionless, ≥ 0).
    pub fn set_learning_rate(&mut self, kappa: f64) -> Result<(), ControlError> {
        self.core.set_learning_rate(kappa)?;
        self.learning_rate = kappa;
        Ok(())
    }

    /// The PES learning rate in use.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// The learned readout (decoders, N·m per spike/s), e.g. for a checkpoint.
    pub fn export_weights(&self) -> LearnedWeights {
        self.core.export_weights()
    }

    /// Replaces the learned readout (shape checked).
    pub fn import_weights(&mut self, weights: &LearnedWeights) -> Result<(), ControlError> {
        self.core.import_weights(weights)?;
        Ok(())
    }

    /// The adaptive torque added on the last tick, N·m, one per joint (zero on joints not adapted).
    pub fn adaptive_torque(&self) -> &[f64] {
        &self.adapt
    }
}

impl Controller for AdaptiveOsc {
    /// On an OSC error the torque is zeroed; on a core error the OSC torque (with gravity) is still written
    /// and the adaptive term is left out for that tick.
    fn tick(&mut self, input: &ControlInput<'_>, torque: &mut [f64]) -> Result<(), ControlError> {
        let n = self.osc.dof();
        check_torque(torque, n)?;
        let terms = match self.osc.compute(input.q, input.dq, &input.target, &Vector3::zeros()) {
            Ok(t) => t,
            Err(e) => {
                torque.fill(0.0);
                return Err(e);
            }
        };
        let m = self.joints.len();
        for (k, &j) in self.joints.iter().enumerate() {
            self.raw[k] = input.q[j];
            if self.with_velocities {
                self.raw[m + k] = input.dq[j];
            }
            let u_train = match self.training {
                TrainingSignal::TaskAndNull => terms.task[j] + terms.null[j],
                TrainingSignal::Task => terms.task[j],
            };
            self.error[k] = -u_train;
        }
        for i in 0..n {
            torque[i] = terms.task[i] + terms.null[i] + terms.gravity[i];
        }
        self.scaling.apply(&self.raw, &mut self.scaled);
        if let Err(e) = self.core.step(&self.scaled, Some(&self.error), &mut self.out) {
            self.adapt.fill(0.0);
            return Err(e.into());
        }
        for (k, &j) in self.joints.iter().enumerate() {
            self.adapt[j] = self.out[k];
            torque[j] += self.out[k];
        }
        Ok(())
    }

    fn dof(&self) -> usize {
        self.osc.dof()
    }

    fn name(&self) -> &str {
        self.name
    }

    fn learned_weights(&self) -> Option<LearnedWeights> {
        Some(self.export_weights())
    }

    fn restore_weights(&mut self, weights: &LearnedWeights) -> Result<(), ControlError> {
        self.import_weights(weights)
    }

    fn status(&self) -> ControllerStatus {
        ControllerStatus {
            learning: Some(self.learning()),
            learning_rate: Some(self.learning_rate),
            adaptive_effort_norm: Some(self.adapt.iter().map(|u| u * u).sum::<f64>().sqrt()),
            accounting: Some(*self.core.accounting()),
            spike_rate_hz: Some(self.core.last_spike_count() as f64 * self.hz_per_spike),
        }
    }

    fn param_names(&self) -> &'static [&'static str] {
        &["kp", "kv", "null_damping", "rest_kp", "rest_kv", "learning", "learning_rate"]
    }

    fn param(&self, name: &str) -> Option<f64> {
        match name {
            "learning" => Some(if self.learning() { 1.0 } else { 0.0 }),
            "learning_rate" => Some(self.learning_rate),
            _ => self.osc.gain(name),
        }
    }

    /// `learning` takes 0 (pause) or 1 (resume); `learning_rate` any finite value ≥ 0; the OSC gains as
    /// [`Osc::set_gain`].
    fn set_param(&mut self, name: &str, value: f64) -> Result<(), ControlError> {
        match name {
            "learning" if value == 0.0 || value == 1.0 => {
                self.set_learning(value == 1.0);
                Ok(())
            }
            "learning" => Err(ControlError::BadInput(format!("learning must be 0 or 1, got {value}"))),
            "learning_rate" => self.set_learning_rate(value),
            _ => self.osc_mut().set_gain(name, value),
        }
    }
}
