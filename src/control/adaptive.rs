//! The adaptive controller: the OSC plus spiking ensembles whose readouts learn online, with PES on the
//! emulated neuromorphic core, the torque the arm model is missing (a payload, a heavier tool, wear).
//!
//! Two designs ([`AdaptiveDesign`]):
//!
//! **Inertial (default)** — learns the payload's weight *and* its inertia:
//! ```text
//! u = task + null + g(q) + E y₁ + Jᵀ y₂
//! y₁ = ensemble 1 (adapted joints' angles)        → torques of the adapted joints, output synapse 0.2 s
//! y₂ = ensemble 2 (commanded task acceleration)   → task-space force, output synapse 10 ms
//! r  = τ_prev − [M q̈ + c + g] on the payload-free model, q̈ from finite differences of measured q̇
//! e  = u_a − r                                     (u_a: the adaptive torque)
//! PES errors: J̄ᵀ e for ensemble 2; for ensemble 1, e without what ensemble 2's force supplies,
//!             e − Jᵀ J̄ᵀ e, on the adapted joints ([`JointShare`])
//! ```
//! Both learn the *model residual* (module `residual`), the torque the payload-free model cannot explain, rather
//! than the feedback: the feedback of the OSC is itself proportional to the commanded acceleration, so an
//! acceleration-fed ensemble trained on it keeps raising its own gain. The residual is zero where nothing is
//! missing, so without a payload the term stays quiet.
//!
//! **Posture** (the first generation, selectable) — the DeWolf/Eliasmith lineage with the choices our
//! payload-protocol runs found stable: one ensemble on the adapted joints' angles (and, in the textbook setting,
//! velocities), trained with PES error `−u_train`, `u_train` the OSC task + null-space feedback (or the task
//! term only in the textbook setting). It learns the payload's weight but not its inertia.
//!
//! Inputs are scaled by means and half-ranges and projected onto the unit hypersphere (d → d + 1). The error
//! convention of the core is output − target.

use nalgebra::Vector3;

use serde::{Deserialize, Serialize};

use super::controller::{ControlError, ControlInput, Controller, ControllerStatus, RASTER_NEURONS, WeightsProvenance};
use super::input_scaling::InputScaling;
use super::learned_ensemble::{EnsembleRecipe, LearnedEnsemble};
use super::osc::{Osc, check_torque};
use super::residual::{ResidualEstimator, ResidualParams};
use super::task_ensemble::{TaskEnsemble, TaskEnsembleParams, dynamic_task_force};
use crate::neuro::{Executor, ExecutorKind, LearnedWeights};

/// Which adaptive term runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AdaptiveDesign {
    /// Joint-space ensemble on the angles plus task-space ensemble on the commanded acceleration, both trained
    /// on the model residual: learns the payload's weight and inertia (default).
    #[default]
    Inertial,
    /// One joint-space ensemble on the angles trained on the feedback (the first generation): learns the
    /// payload's weight only.
    Posture,
}

impl AdaptiveDesign {
    /// The name a controller of this design reports on `executor` ([`Controller::name`]).
    pub fn controller_name(self, executor: ExecutorKind) -> &'static str {
        match (self, executor) {
            (AdaptiveDesign::Inertial, ExecutorKind::Loihi) => "adaptive-loihi",
            (AdaptiveDesign::Inertial, ExecutorKind::Float) => "adaptive-float",
            (AdaptiveDesign::Posture, ExecutorKind::Loihi) => "adaptive-posture-loihi",
            (AdaptiveDesign::Posture, ExecutorKind::Float) => "adaptive-posture-float",
        }
    }
}

/// What the posture design learns from (the inertial design always learns the model residual).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrainingSignal {
    /// OSC task term plus null-space term (default: stable and best on both arms in the reference).
    #[default]
    TaskAndNull,
    /// OSC task term only (abr_control's textbook choice).
    Task,
}

/// What the joint-space ensemble of the inertial design learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JointShare {
    /// Only what the task-space force cannot supply, `e − Jᵣᵀ (J̄ᵀ e)ᵣ` (default): the payload's weight and
    /// inertia go to the task-space ensemble, whose force holds at every posture; the joint-space ensemble
    /// learns the rest (a payload's moment when it sits off the end-effector origin, model error). On new targets
    /// every lap this more than halves the UR5e's error against [`JointShare::Whole`].
    #[default]
    BeyondTask,
    /// The whole error `e` on the adapted joints: both ensembles learn the weight, and the joint-space one,
    /// slow to unlearn it, keeps it tied to the postures it has seen.
    Whole,
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

/// Settings of the adaptive term. Defaults: the inertial design on the fixed-point core.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptiveParams {
    /// Which design. Default [`AdaptiveDesign::Inertial`].
    pub design: AdaptiveDesign,
    /// Joints (0-based, URDF order) the term adapts and reads; `None` (default) for all. The UR5e-class arm
    /// adapts joints 1–3 (shoulder lift, elbow, wrist 1): see [`AdaptiveParams::default_joints`].
    pub joints: Option<Vec<usize>>,
    /// Input signals of the joint-space ensemble. Default positions only (the inertial design takes positions
    /// only).
    pub inputs: AdaptiveInputs,
    /// Training signal of the posture design. Default task + null space.
    pub training: TrainingSignal,
    /// What the inertial design's joint-space ensemble learns. Default [`JointShare::BeyondTask`].
    pub joint_share: JointShare,
    /// Mean of each raw input (angles rad, then velocities rad/s), `None` for 0 each. Usually taken from a
    /// payload-free run ([`InputScaling::from_extremes`]).
    pub input_means: Option<Vec<f64>>,
    /// Half-range of each raw input, `None` for π rad (angles) and 1 rad/s (velocities).
    pub input_half_ranges: Option<Vec<f64>>,
    /// Project the scaled inputs onto the unit hypersphere (d → d + 1). Default true.
    pub hypersphere: bool,
    /// The joint-space ensemble: size, seed, neuron recipe, synapses, learning rate and executor (defaults in
    /// [`EnsembleRecipe::default`]).
    pub ensemble: EnsembleRecipe,
    /// The task-space ensemble (inertial design). Its seed is `ensemble.seed + 1`; its size, learning rate and
    /// output synapse are its own, the rest of its recipe is `ensemble`'s.
    pub task: TaskEnsembleParams,
    /// The model-residual estimate (inertial design).
    pub residual: ResidualParams,
}

impl Default for AdaptiveParams {
    fn default() -> Self {
        Self {
            design: AdaptiveDesign::Inertial,
            joints: None,
            inputs: AdaptiveInputs::Positions,
            training: TrainingSignal::TaskAndNull,
            joint_share: JointShare::BeyondTask,
            input_means: None,
            input_half_ranges: None,
            hypersphere: true,
            ensemble: EnsembleRecipe::default(),
            task: TaskEnsembleParams::default(),
            residual: ResidualParams::default(),
        }
    }
}

impl AdaptiveParams {
    /// The joints adapted by default on an arm with `dof` joints: 1–3 on a 6-DoF UR-class arm (the wrist
    /// roll joints carry no payload gravity worth learning and only add input dimensions), all otherwise.
    pub fn default_joints(dof: usize) -> Vec<usize> {
        if dof == 6 { vec![1, 2, 3] } else { (0..dof).collect() }
    }

    /// The first-generation posture design with its best settings (angles in, OSC task + null-space feedback
    /// as training signal).
    pub fn posture() -> Self {
        Self { design: AdaptiveDesign::Posture, ..Self::default() }
    }

    /// The textbook settings (abr_control): the posture design with inputs q and q̇, trained on the task term
    /// only.
    pub fn textbook() -> Self {
        Self { inputs: AdaptiveInputs::PositionsAndVelocities, training: TrainingSignal::Task, ..Self::posture() }
    }
}

/// The settings that give the learned readouts their meaning: design, executor and core parameters, the
/// ensembles' seeds and sizes, the adapted joints and the input scaling, the task rows and their scale.
fn provenance_of(params: &AdaptiveParams, dof: usize, joints: &[usize], scaling: &InputScaling) -> WeightsProvenance {
    let design = match params.design {
        AdaptiveDesign::Inertial => "inertial",
        AdaptiveDesign::Posture => "posture",
    };
    let e = &params.ensemble;
    let mut p = WeightsProvenance::default()
        .with("design", design)
        .with("executor", format!("{:?}", e.executor).to_lowercase())
        .with("seed", e.seed)
        .with("neurons", e.neurons)
        .with("joints", format!("{joints:?}"))
        .with("inputs", format!("{:?}", params.inputs))
        .with("input_means", format!("{:?}", scaling.means()))
        .with("input_half_ranges", format!("{:?}", scaling.half_ranges()))
        .with("hypersphere", scaling.hypersphere())
        .with("sparse_firing", format!("{:?}", e.sparse_firing))
        .with("max_rates", format!("{:?}", e.max_rates));
    if e.executor == ExecutorKind::Loihi {
        let c = &e.loihi;
        p = p.with(
            "core",
            format!(
                "weight_bits {} error_bits {} trace_bits {} train_epoch {} learn_epoch {} error_quantum {:?} \
                 auto_scale {} input_pairs {} graded_input {} delta_input {} soft_reset {}",
                c.weight_bits,
                c.error_bits,
                c.trace_bits,
                c.train_epoch,
                c.learn_epoch,
                c.error_quantum,
                c.auto_scale,
                c.input_pairs,
                c.graded_input,
                c.delta_input,
                c.soft_reset
            ),
        );
    }
    if params.design == AdaptiveDesign::Inertial {
        let rows = params.task.rows_for(dof);
        p = p
            .with("task_rows", format!("{rows:?}"))
            .with("task_neurons", params.task.neurons)
            .with("task_seed", e.seed.wrapping_add(1))
            .with("task_acceleration_scale", format!("{:?}", params.task.acceleration_scale))
            .with("task_acceleration_knee", format!("{:?}", params.task.acceleration_knee))
            .with("joint_share", format!("{:?}", params.joint_share));
    }
    p
}

/// The inertial design's extra parts: the task-space ensemble, the residual estimate and the error buffers.
struct InertialParts {
    task: TaskEnsemble,
    residual: ResidualEstimator,
    /// `u_a` lowpassed as the residual is, N·m per joint.
    ua_filtered: Vec<f64>,
    /// `u_a − r`, N·m per joint.
    joint_error: Vec<f64>,
    /// The joint-space ensemble's share of `joint_error`, N·m per joint.
    joint_share: Vec<f64>,
    /// Which share that is.
    share: JointShare,
    /// The task-space ensemble's learning rate over the joint-space one's, as configured.
    task_rate_ratio: f64,
}

/// OSC + the spiking adaptive term. `tick` allocates nothing.
pub struct AdaptiveOsc {
    osc: Osc,
    joint: LearnedEnsemble,
    inertial: Option<InertialParts>,
    design: AdaptiveDesign,
    joints: Vec<usize>,
    training: TrainingSignal,
    with_velocities: bool,
    learning_rate: f64,
    raw: Vec<f64>,
    error: Vec<f64>,
    adapt: Vec<f64>,
    name: &'static str,
    /// What the learned weights belong to (fixed at construction).
    provenance: WeightsProvenance,
    /// 1 / (neurons · dt) over all ensembles: turns one step's spike count into a mean firing rate, Hz per spike.
    hz_per_spike: f64,
}

/// Control period the spike-rate figure assumes, s (the cores step once per tick).
const CORE_DT: f64 = 0.001;

impl AdaptiveOsc {
    /// Builds the ensembles on the chosen executor around `osc`.
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
        let inertial = params.design == AdaptiveDesign::Inertial;
        if inertial && params.inputs != AdaptiveInputs::Positions {
            return Err(ControlError::BadInput(
                "the inertial design reads joint angles only (inputs = positions)".into(),
            ));
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
        // The inertial design clips: a payload's sag beyond the calibrated span reads as the span's edge.
        let scaling = InputScaling::new(means, half, params.hypersphere)?.with_clip(inertial);
        let recipe = &params.ensemble;
        let joint = LearnedEnsemble::new(recipe, scaling, m)?;
        let mut neurons = recipe.neurons;
        let inertial_parts = if inertial {
            let task_recipe = EnsembleRecipe { seed: recipe.seed.wrapping_add(1), ..recipe.clone() };
            let task = TaskEnsemble::new(&params.task, &task_recipe, n)?;
            neurons += params.task.neurons;
            Some(InertialParts {
                task,
                residual: ResidualEstimator::new(osc.model().clone(), params.residual.clone())?,
                ua_filtered: vec![0.0; n],
                joint_error: vec![0.0; n],
                joint_share: vec![0.0; n],
                share: params.joint_share,
                task_rate_ratio: if params.ensemble.learning_rate > 0.0 {
                    params.task.learning_rate / params.ensemble.learning_rate
                } else {
                    1.0
                },
            })
        } else {
            None
        };
        let provenance = provenance_of(&params, n, &joints, joint.scaling());
        Ok(Self {
            osc,
            joint,
            inertial: inertial_parts,
            provenance,
            design: params.design,
            raw: vec![0.0; d],
            error: vec![0.0; m],
            adapt: vec![0.0; n],
            joints,
            training: params.training,
            with_velocities,
            learning_rate: params.ensemble.learning_rate,
            name: params.design.controller_name(params.ensemble.executor),
            hz_per_spike: 1.0 / (neurons as f64 * CORE_DT),
        })
    }

    /// The design running.
    pub fn design(&self) -> AdaptiveDesign {
        self.design
    }

    /// The task-space ensemble (inertial design only).
    pub fn task_ensemble(&self) -> Option<&TaskEnsemble> {
        self.inertial.as_ref().map(|p| &p.task)
    }

    /// The last model-residual estimate, N·m per joint (inertial design only).
    pub fn residual(&self) -> Option<&[f64]> {
        self.inertial.as_ref().map(|p| p.residual.residual())
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
        self.joint.scaling()
    }

    /// The joint-space ensemble's neuromorphic core (accounting, spike counts).
    pub fn core(&self) -> &dyn Executor {
        self.joint.core()
    }

    /// Pauses (`false`) or resumes (`true`) learning; the learned readouts keep acting either way.
    pub fn set_learning(&mut self, enabled: bool) {
        self.joint.core_mut().set_learning(enabled);
        if let Some(p) = &mut self.inertial {
            p.task.core_mut().set_learning(enabled);
        }
    }

    /// Whether learning is on.
    pub fn learning(&self) -> bool {
        self.joint.core().learning()
    }

    /// Changes the PES learning rate kappa (dimensionless, ≥ 0): the joint-space ensemble's becomes `kappa`, the
    /// task-space ensemble's keeps its configured proportion to it.
    pub fn set_learning_rate(&mut self, kappa: f64) -> Result<(), ControlError> {
        self.joint.core_mut().set_learning_rate(kappa)?;
        if let Some(p) = &mut self.inertial {
            p.task.core_mut().set_learning_rate(kappa * p.task_rate_ratio)?;
        }
        self.learning_rate = kappa;
        Ok(())
    }

    /// The PES learning rate in use.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// The learned readout (decoders, N·m per spike/s, and N per spike/s for the task force), e.g. for a
    /// checkpoint. The inertial design's two readouts are one block-diagonal readout from the joint ensemble's
    /// neurons followed by the task ensemble's, onto the adapted joints' torques followed by the task force rows.
    pub fn export_weights(&self) -> LearnedWeights {
        let a = self.joint.export_weights();
        let Some(p) = &self.inertial else { return a };
        let b = p.task.export_weights();
        let (neurons, dimensions) = (a.neurons + b.neurons, a.dimensions + b.dimensions);
        let mut decoders = vec![0.0; neurons * dimensions];
        for k in 0..a.dimensions {
            decoders[k * neurons..k * neurons + a.neurons].copy_from_slice(&a.decoders[k * a.neurons..][..a.neurons]);
        }
        for k in 0..b.dimensions {
            let row = (a.dimensions + k) * neurons + a.neurons;
            decoders[row..row + b.neurons].copy_from_slice(&b.decoders[k * b.neurons..][..b.neurons]);
        }
        LearnedWeights { neurons, dimensions, decoders }
    }

    /// Replaces the learned readout (shape checked; the layout of [`export_weights`](Self::export_weights)).
    pub fn import_weights(&mut self, weights: &LearnedWeights) -> Result<(), ControlError> {
        let Some(p) = &mut self.inertial else { return self.joint.import_weights(weights) };
        let (na, da) = (self.joint.neurons(), self.joints.len());
        let (nb, db) = (p.task.ensemble().neurons(), p.task.rows().len());
        let (neurons, dimensions) = (na + nb, da + db);
        if weights.neurons != neurons
            || weights.dimensions != dimensions
            || weights.decoders.len() != neurons * dimensions
        {
            return Err(ControlError::BadInput(format!(
                "learned weights are {}×{} ({} values); this controller's readout is {dimensions}×{neurons} \
                 ({da} joint torques from {na} neurons, {db} task forces from {nb} neurons)",
                weights.dimensions,
                weights.neurons,
                weights.decoders.len()
            )));
        }
        let block = |rows: std::ops::Range<usize>, cols: std::ops::Range<usize>| LearnedWeights {
            neurons: cols.len(),
            dimensions: rows.len(),
            decoders: rows.flat_map(|r| weights.decoders[r * neurons..][cols.clone()].to_vec()).collect(),
        };
        let a = block(0..da, 0..na);
        let b = block(da..dimensions, na..neurons);
        // Check both before changing either, so a refused import changes nothing.
        if a.decoders.iter().chain(&b.decoders).any(|x| !x.is_finite()) {
            return Err(ControlError::BadInput("learned weights contain non-finite values".into()));
        }
        self.joint.import_weights(&a)?;
        p.task.import_weights(&b)
    }

    /// Operation counts of all ensembles since build.
    pub fn accounting(&self) -> crate::neuro::Accounting {
        let a = *self.joint.core().accounting();
        match &self.inertial {
            Some(p) => a.merged(p.task.core().accounting()),
            None => a,
        }
    }

    /// Spikes of all ensembles in the last step.
    fn spike_count(&self) -> usize {
        self.joint.core().last_spike_count() + self.inertial.as_ref().map_or(0, |p| p.task.core().last_spike_count())
    }

    /// The posture design's tick after the OSC terms: train on the feedback.
    fn tick_posture(&mut self, input: &ControlInput<'_>, torque: &mut [f64]) -> Result<(), ControlError> {
        let terms = self.osc.terms();
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
        let out = self.joint.step(&self.raw, Some(&self.error))?;
        for (k, &j) in self.joints.iter().enumerate() {
            self.adapt[j] = out[k];
            torque[j] += out[k];
        }
        Ok(())
    }

    /// The inertial design's tick after the OSC terms: residual, both ensembles, Jᵀ path.
    fn tick_inertial(&mut self, input: &ControlInput<'_>, torque: &mut [f64]) -> Result<(), ControlError> {
        let Some(p) = &mut self.inertial else { return Ok(()) };
        // 1. The residual of the previous tick and the error of the previous adaptive torque against it, as
        // joint torques and as the task force they amount to.
        let error_force = match p.residual.update(input.t, input.dq) {
            Some(r) => {
                p.joint_error.copy_from_slice(r);
                p.residual.filter_like(&mut p.ua_filtered, &self.adapt);
                for (e, ua) in p.joint_error.iter_mut().zip(&p.ua_filtered) {
                    *e = ua - *e;
                }
                let force = dynamic_task_force(&self.osc, &p.joint_error);
                p.joint_share.copy_from_slice(&p.joint_error);
                if p.share == JointShare::BeyondTask {
                    p.task.remove_task_part(&self.osc, &force, &mut p.joint_share);
                }
                for (k, &j) in self.joints.iter().enumerate() {
                    self.error[k] = p.joint_share[j];
                }
                Some(force)
            }
            None => {
                p.ua_filtered.copy_from_slice(&self.adapt);
                None
            }
        };
        let trained = error_force.is_some();
        // 2. Posture part on the adapted joints, 3. inertial part through Jᵀ.
        for (k, &j) in self.joints.iter().enumerate() {
            self.raw[k] = input.q[j];
        }
        self.adapt.fill(0.0);
        let stepped = self.joint.step(&self.raw, trained.then_some(&self.error[..])).map(|out| {
            for (k, &j) in self.joints.iter().enumerate() {
                self.adapt[j] = out[k];
            }
        });
        let task = p.task.step(&self.osc, input.dq, error_force.as_ref(), &mut self.adapt);
        if let Err(e) = stepped.and(task) {
            self.adapt.fill(0.0);
            p.residual.record(input.t, input.q, input.dq, torque);
            return Err(e);
        }
        for (t, a) in torque.iter_mut().zip(&self.adapt) {
            *t += a;
        }
        p.residual.record(input.t, input.q, input.dq, torque);
        Ok(())
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
                if let Some(p) = &mut self.inertial {
                    p.residual.reset();
                }
                return Err(e);
            }
        };
        for i in 0..n {
            torque[i] = terms.task[i] + terms.null[i] + terms.gravity[i];
        }
        let r = match self.design {
            AdaptiveDesign::Posture => self.tick_posture(input, torque),
            AdaptiveDesign::Inertial => self.tick_inertial(input, torque),
        };
        if r.is_err() {
            self.adapt.fill(0.0);
            self.joint.clear_output();
        }
        r
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

    fn weights_provenance(&self) -> Option<WeightsProvenance> {
        Some(self.provenance.clone())
    }

    fn raster_spikes(&self) -> Option<u64> {
        let (core, n) = (self.joint.core(), self.joint.neurons());
        let bits = (0..RASTER_NEURONS.min(n)).filter(|&k| core.spiked_last_step(k * n / RASTER_NEURONS));
        Some(bits.fold(0, |m, k| m | 1 << k))
    }

    fn adaptive_torque(&self) -> Option<&[f64]> {
        Some(&self.adapt)
    }

    /// The residual explains the torque the plant received: a brake or rate limit applied after this
    /// controller is then not mistaken for a payload.
    fn applied(&mut self, torque: &[f64]) {
        if let Some(p) = &mut self.inertial {
            p.residual.amend_torque(torque);
        }
    }

    fn status(&self) -> ControllerStatus {
        ControllerStatus {
            learning: Some(self.learning()),
            learning_rate: Some(self.learning_rate),
            adaptive_effort_norm: Some(self.adapt.iter().map(|u| u * u).sum::<f64>().sqrt()),
            accounting: Some(self.accounting()),
            spike_rate_hz: Some(self.spike_count() as f64 * self.hz_per_spike),
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
