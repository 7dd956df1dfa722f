//! The arm world: a URDF arm as a rapier multibody with a fixed base, exact joint torques and payloads.

use std::collections::HashMap;
use std::path::Path;

use nalgebra::{Isometry3, Matrix3, Translation3, UnitQuaternion, Vector3};
use rapier3d::prelude::{
    JointAxesMask, MassProperties, MultibodyIndex, PhysicsWorld, Pose, Real, RigidBodyBuilder, RigidBodyHandle, Vector,
};
use rapier3d_urdf::urdf_rs;
use rapier3d_urdf::{UrdfLoaderOptions, UrdfMultibodyOptions, UrdfRobot};

use crate::dynamics::{DynLink, Dynamics};
use crate::{ArmState, Energy, Integrator, JointLimits, PayloadSpec, SimError, SimParams};

/// Mass properties in f64: rapier keeps f32, but energy and payload sums are done here in f64.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MassProps {
    /// kg
    pub(crate) mass: f64,
    /// Centre of mass in the body (URDF link) frame, m.
    pub(crate) com: Vector3<f64>,
    /// Inertia tensor about the centre of mass, axes of the body frame, kg·m².
    pub(crate) inertia: Matrix3<f64>,
}

impl MassProps {
    const ZERO: Self = Self {
        mass: 0.0,
        com: Vector3::new(0.0, 0.0, 0.0),
        inertia: Matrix3::new(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    };

    /// From a URDF `<inertial>`: the tensor is given in the axes of the inertial origin's rpy, so it is
    /// rotated into the link frame here (rapier3d-urdf 0.36 drops that rotation).
    fn from_urdf(inertial: &urdf_rs::Inertial) -> Self {
        let o = &inertial.origin;
        let rot = UnitQuaternion::from_euler_angles(o.rpy[0], o.rpy[1], o.rpy[2]);
        let i = &inertial.inertia;
        let tensor = Matrix3::new(i.ixx, i.ixy, i.ixz, i.ixy, i.iyy, i.iyz, i.ixz, i.iyz, i.izz);
        let r = rot.to_rotation_matrix();
        Self {
            mass: inertial.mass.value,
            com: Vector3::new(o.xyz[0], o.xyz[1], o.xyz[2]),
            inertia: r.matrix() * tensor * r.matrix().transpose(),
        }
    }

    /// Rigid union of two bodies expressed in the same frame (parallel-axis theorem).
    fn combined(&self, other: &Self) -> Self {
        let mass = self.mass + other.mass;
        if mass <= 0.0 {
            return Self::ZERO;
        }
        let com = (self.com * self.mass + other.com * other.mass) / mass;
        let shifted = |p: &Self| {
            let d = p.com - com;
            p.inertia + p.mass * (Matrix3::identity() * d.norm_squared() - d * d.transpose())
        };
        Self { mass, com, inertia: shifted(self) + shifted(other) }
    }

    fn to_rapier(self) -> MassProperties {
        if self.mass <= 0.0 {
            return MassProperties::default();
        }
        let m = &self.inertia;
        let cols = [
            m[(0, 0)] as Real,
            m[(1, 0)] as Real,
            m[(2, 0)] as Real,
            m[(0, 1)] as Real,
            m[(1, 1)] as Real,
            m[(2, 1)] as Real,
            m[(0, 2)] as Real,
            m[(1, 2)] as Real,
            m[(2, 2)] as Real,
        ];
        MassProperties::with_inertia_matrix(
            Vector::new(self.com.x as Real, self.com.y as Real, self.com.z as Real),
            self.mass as Real,
            rapier3d::math::Matrix::from_cols_array(&cols),
        )
    }
}

/// One actuated (revolute or continuous) joint.
#[derive(Debug, Clone)]
struct ActuatedJoint {
    /// Joint name from the URDF.
    name: String,
    limits: JointLimits,
    /// Index of the child link inside its multibody.
    link_id: usize,
    child: RigidBodyHandle,
    parent: RigidBodyHandle,
    /// Joint axis in the child body frame (unit).
    axis_in_child: Vector,
}

/// One body of the multibody, for energy and velocity read-outs.
#[derive(Debug, Clone)]
struct BodyInfo {
    handle: RigidBodyHandle,
    /// Mass properties from the URDF (without payload).
    urdf_props: MassProps,
    /// Mass properties currently given to rapier (with payload on the `ee` carrier).
    props: MassProps,
}

/// The simulated arm: URDF loaded into rapier3d multibody joints with a fixed base.
///
/// # Conventions
/// - Joint order is the order of the actuated (revolute/continuous) joints in the URDF file;
///   `q` follows the URDF axis sign (right hand about `<axis>`), not wrapped.
/// - A torque τᵢ is the generalized force of joint i: it acts `+τ·axis` on the child link and
///   `−τ·axis` on the parent, so no other joint feels it. Torques are clamped to ±effort from the
///   URDF and held (zero-order hold) until the next [`ArmWorld::set_torques`].
/// - The equation of motion is `M(q) q̈ + C(q, q̇) q̇ + g(q) = τ`: the *holding torque* at rest is
///   `τ = g(q)`, e.g. (+25.506, +8.3385, +1.4715) N·m for the 3-link arm at q = 0.
/// - Joint position limits are hard stops (see [`SimParams::enforce_position_limits`]); velocity
///   limits are reported, not enforced.
/// - Payloads ([`PayloadSpec`]) sit on the `ee` frame's carrier link and act from the next step.
pub struct ArmWorld {
    world: PhysicsWorld,
    params: SimParams,
    robot: urdf_rs::Robot,
    joints: Vec<ActuatedJoint>,
    mb_index: MultibodyIndex,
    /// Bodies in multibody-link order (index = multibody link id).
    bodies: Vec<BodyInfo>,
    /// Index into `bodies` of the link carrying the `ee` frame.
    ee_body: usize,
    /// Pose of the `ee` frame in the carrier's frame.
    ee_offset: Isometry3<f64>,
    payload: Option<PayloadSpec>,
    tau: Vec<f64>,
    steps: u64,
    /// Scratch for generalized displacements, sized ndofs.
    scratch: Vec<Real>,
    /// Joint positions (rad) and velocities (rad/s) in f64, URDF order: the state the RK4 integrator
    /// carries from step to step (rapier holds an f32 copy for placing the links).
    q: Vec<f64>,
    dq: Vec<f64>,
    /// Candidate state of an RK4 step, before the limit check.
    q_next: Vec<f64>,
    dq_next: Vec<f64>,
    /// Multibody assembly index of each joint, URDF order.
    assembly: Vec<usize>,
    dynamics: Dynamics,
    /// The last step was a rapier step taken because of a joint stop (see [`ArmWorld::step`]).
    at_stop: bool,
}

/// How far (rad) every joint must be from its stops before RK4 takes over again after a stop.
const STOP_MARGIN: f64 = 1e-3;

impl std::fmt::Debug for ArmWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmWorld")
            .field("robot", &self.robot.name)
            .field("dof", &self.joints.len())
            .field("params", &self.params)
            .field("payload", &self.payload)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

fn iso_from_urdf(p: &urdf_rs::Pose) -> Isometry3<f64> {
    Isometry3::from_parts(
        Translation3::new(p.xyz[0], p.xyz[1], p.xyz[2]),
        UnitQuaternion::from_euler_angles(p.rpy[0], p.rpy[1], p.rpy[2]),
    )
}

fn pose_to_f64(p: &Pose) -> Isometry3<f64> {
    let t = p.translation;
    let r = p.rotation;
    Isometry3::from_parts(
        Translation3::new(t.x as f64, t.y as f64, t.z as f64),
        UnitQuaternion::new_normalize(nalgebra::Quaternion::new(r.w as f64, r.x as f64, r.y as f64, r.z as f64)),
    )
}

fn check_finite(what: &'static str, v: &[f64]) -> Result<(), SimError> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(SimError::NonFinite { what, index, value: v[index] }),
        None => Ok(()),
    }
}

impl ArmWorld {
    /// Builds the world from URDF text. The root link is welded to the world; every revolute or
    /// continuous joint is actuated; fixed joints are rigid. Other joint types are refused.
    /// The arm starts at q = 0, q̇ = 0, zero torque, no payload, t = 0.
    ///
    /// Each actuated joint needs a positive `effort` limit; revolute joints need `lower < upper`.
    pub fn from_urdf_str(urdf: &str, params: SimParams) -> Result<Self, SimError> {
        params.validate()?;
        let robot = urdf_rs::read_from_string(urdf).map_err(|e| SimError::UrdfParse(e.to_string()))?;
        Self::from_robot(robot, params)
    }

    fn from_robot(robot: urdf_rs::Robot, params: SimParams) -> Result<Self, SimError> {
        let unsupported = |m: String| Err(SimError::UnsupportedModel(m));

        // Parse what rapier3d-urdf ignores: effort/velocity limits, inertial rotations, the ee frame.
        let mut limits_by_joint = HashMap::new();
        for (i, j) in robot.joints.iter().enumerate() {
            match j.joint_type {
                urdf_rs::JointType::Revolute | urdf_rs::JointType::Continuous => {
                    let continuous = j.joint_type == urdf_rs::JointType::Continuous;
                    let l = &j.limit;
                    if !(l.effort.is_finite() && l.effort > 0.0) {
                        return unsupported(format!(
                            "joint '{}' needs a positive effort limit, got {}",
                            j.name, l.effort
                        ));
                    }
                    let (lower, upper) =
                        if continuous { (f64::NEG_INFINITY, f64::INFINITY) } else { (l.lower, l.upper) };
                    if !continuous && !(lower.is_finite() && upper.is_finite() && lower < upper) {
                        return unsupported(format!(
                            "joint '{}' needs lower < upper limits, got [{lower}, {upper}]",
                            j.name
                        ));
                    }
                    let velocity = if l.velocity > 0.0 { l.velocity } else { f64::INFINITY };
                    limits_by_joint
                        .insert(i, (j.name.clone(), JointLimits { lower, upper, effort: l.effort, velocity }));
                }
                urdf_rs::JointType::Fixed => {}
                ref other => {
                    return unsupported(format!(
                        "joint '{}' has type {other:?}; only revolute, continuous and fixed joints are simulated",
                        j.name
                    ));
                }
            }
        }
        if limits_by_joint.is_empty() {
            return unsupported("the URDF has no revolute or continuous joint".to_string());
        }
        let link_props: HashMap<&str, MassProps> =
            robot.links.iter().map(|l| (l.name.as_str(), MassProps::from_urdf(&l.inertial))).collect();
        for (name, p) in &link_props {
            if !(p.mass.is_finite() && p.mass >= 0.0) || p.inertia.iter().any(|x| !x.is_finite()) {
                return unsupported(format!("link '{name}' has a non-finite or negative mass or inertia"));
            }
        }
        if !robot.links.iter().any(|l| l.name == params.ee_link) {
            return unsupported(format!("the URDF has no link named '{}' (the end-effector frame)", params.ee_link));
        }

        let options = UrdfLoaderOptions {
            create_colliders_from_collision_shapes: false,
            create_colliders_from_visual_shapes: false,
            // Set below, with the inertial rotation applied.
            apply_imported_mass_props: false,
            enable_joint_collisions: false,
            make_roots_fixed: true,
            // A held arm must never be put to sleep: a sleeping body ignores the next torque change.
            rigid_body_blueprint: RigidBodyBuilder::dynamic().can_sleep(false),
            ..UrdfLoaderOptions::default()
        };
        let mut loaded = UrdfRobot::from_robot(&robot, options, Path::new("."));
        if !params.enforce_position_limits {
            for j in &mut loaded.joints {
                j.joint.limit_axes = JointAxesMask::empty();
            }
        }
        let link_names: Vec<String> =
            loaded.links.iter().map(|l| robot.links[l.urdf_link_index].name.clone()).collect();
        let joint_sources: Vec<usize> = loaded.joints.iter().map(|j| j.source_urdf_joint_index()).collect();
        for (i, link) in loaded.links.iter_mut().enumerate() {
            link.body.set_additional_mass_properties(link_props[link_names[i].as_str()].to_rapier(), false);
        }

        let mut world = PhysicsWorld::new();
        world.gravity = Vector::new(params.gravity[0] as Real, params.gravity[1] as Real, params.gravity[2] as Real);
        world.integration_parameters.dt = params.dt as Real;
        world.integration_parameters.num_solver_iterations = params.substeps;
        world.integration_parameters.num_internal_pgs_iterations = params.pgs_iterations;
        let handles = loaded.insert_using_multibody_joints(
            &mut world.bodies,
            &mut world.colliders,
            &mut world.multibody_joints,
            UrdfMultibodyOptions::DISABLE_SELF_CONTACTS,
        );

        // The root is free until forward kinematics sees it fixed; DoF indices are final only after.
        let root_handle =
            handles.links.iter().find_map(|l| world.multibody_joints.rigid_body_link(l.body).map(|id| id.multibody));
        let Some(mb_index) = root_handle else {
            return unsupported("no multibody was built from the URDF".to_string());
        };
        {
            let mb = world.multibody_joints.get_multibody_mut(mb_index).expect("multibody just inserted");
            mb.forward_kinematics(&world.bodies, true);
            mb.update_rigid_bodies(&mut world.bodies, true);
            mb.damping_mut().fill(params.joint_damping as Real);
            mb.frictions_mut().fill(params.joint_friction as Real);
        }
        let mb = world.multibody_joints.get_multibody(mb_index).expect("multibody just inserted");
        if mb.links().any(|l| l.is_root() && world.bodies[l.rigid_body_handle()].is_dynamic()) {
            return unsupported("the multibody root is not fixed".to_string());
        }
        if mb.ndofs() != limits_by_joint.len() {
            return unsupported(format!(
                "{} actuated joints in the URDF but {} degrees of freedom were built (a moving joint leading to a link without inertia is dropped by the loader; is the arm one tree?)",
                limits_by_joint.len(),
                mb.ndofs()
            ));
        }

        // Actuated joints, URDF order.
        let mut joints = Vec::with_capacity(limits_by_joint.len());
        let mut urdf_order: Vec<usize> = limits_by_joint.keys().copied().collect();
        urdf_order.sort_unstable();
        for urdf_index in urdf_order {
            let Some(k) = joint_sources.iter().position(|&s| s == urdf_index) else {
                return unsupported(format!("joint '{}' was not built by the loader", robot.joints[urdf_index].name));
            };
            let h = &handles.joints[k];
            let Some(mb_handle) = h.joint else {
                return unsupported(format!(
                    "joint '{}' could not be made a multibody joint",
                    robot.joints[urdf_index].name
                ));
            };
            let Some((mbody, link_id)) = world.multibody_joints.get(mb_handle) else {
                return unsupported(format!("joint '{}' has no multibody link", robot.joints[urdf_index].name));
            };
            let link = mbody.link(link_id).expect("link of a live joint");
            let axis_in_child = link.joint.data.local_frame2.rotation * Vector::X;
            let (name, limits) = limits_by_joint[&urdf_index].clone();
            joints.push(ActuatedJoint { name, limits, link_id, child: h.link2, parent: h.link1, axis_in_child });
        }

        // Bodies in multibody-link order, with their URDF names to find the ee carrier.
        let handle_to_name: HashMap<RigidBodyHandle, &str> =
            handles.links.iter().zip(&link_names).map(|(h, n)| (h.body, n.as_str())).collect();
        let mut bodies = Vec::new();
        let mut name_to_body = HashMap::new();
        for link in mb.links() {
            let name = handle_to_name[&link.rigid_body_handle()];
            let p = link_props[name];
            name_to_body.insert(name.to_string(), bodies.len());
            bodies.push(BodyInfo { handle: link.rigid_body_handle(), urdf_props: p, props: p });
        }

        // The ee frame: walk up fixed joints from `ee_link` to a link that kept its own body.
        let mut ee_offset = Isometry3::identity();
        let mut current = params.ee_link.clone();
        let ee_body = loop {
            if let Some(&b) = name_to_body.get(&current) {
                break b;
            }
            let Some(j) = robot.joints.iter().find(|j| j.child.link == current) else {
                return unsupported(format!("link '{}' is not attached to the arm", params.ee_link));
            };
            if j.joint_type != urdf_rs::JointType::Fixed {
                return unsupported(format!(
                    "the end-effector link '{}' must be rigidly attached (fixed joints) to a link with mass",
                    params.ee_link
                ));
            }
            ee_offset = iso_from_urdf(&j.origin) * ee_offset;
            current = j.parent.link.clone();
        };

        let n = joints.len();
        let ndofs = mb.ndofs();
        let dynamics = Self::build_dynamics(mb, &world, &joints, &bodies, &params)?;
        let assembly = joints.iter().map(|j| mb.link(j.link_id).expect("link").assembly_id()).collect();
        Ok(Self {
            world,
            params,
            robot,
            joints,
            mb_index,
            bodies,
            ee_body,
            ee_offset,
            payload: None,
            tau: vec![0.0; n],
            steps: 0,
            scratch: vec![0.0; ndofs],
            q: vec![0.0; n],
            dq: vec![0.0; n],
            q_next: vec![0.0; n],
            dq_next: vec![0.0; n],
            assembly,
            dynamics,
            at_stop: false,
        })
    }

    /// The tree as rapier built it (joint frames, parents) with the URDF mass properties, for the RK4
    /// integrator. Every moving joint must be a 1-DoF rotation about its frame's x axis (what the URDF
    /// loader builds for revolute and continuous joints).
    fn build_dynamics(
        mb: &rapier3d::prelude::Multibody,
        world: &PhysicsWorld,
        joints: &[ActuatedJoint],
        bodies: &[BodyInfo],
        params: &SimParams,
    ) -> Result<Dynamics, SimError> {
        let mut links = Vec::with_capacity(bodies.len());
        let mut root_pose = Isometry3::identity();
        for (i, link) in mb.links().enumerate() {
            if link.is_root() {
                if i != 0 {
                    return Err(SimError::UnsupportedModel("the multibody root is not its first link".to_string()));
                }
                root_pose = pose_to_f64(world.bodies[link.rigid_body_handle()].position());
                links.push(DynLink {
                    parent: None,
                    frame1: Isometry3::identity(),
                    frame2_inv: Isometry3::identity(),
                    dof: None,
                });
                continue;
            }
            let data = &link.joint.data;
            let dof = joints.iter().position(|j| j.link_id == i);
            let ndofs = link.joint.ndofs();
            // Bit 3 is the rotation about x: free for a revolute joint as the loader builds it.
            let rot_x_free = (data.locked_axes.bits() >> 3) & 1 == 0;
            let ok = match dof {
                Some(_) => ndofs == 1 && rot_x_free,
                None => ndofs == 0,
            };
            let parent = link.parent_id();
            if !ok || parent.is_none_or(|p| p >= i) {
                return Err(SimError::UnsupportedModel(format!(
                    "multibody link {i} has {ndofs} degrees of freedom (axes mask {:#b}); only rotations about the joint's x axis are integrated",
                    data.locked_axes.bits()
                )));
            }
            links.push(DynLink {
                parent,
                frame1: pose_to_f64(&data.local_frame1),
                frame2_inv: pose_to_f64(&data.local_frame2).inverse(),
                dof,
            });
        }
        let props = bodies.iter().map(|b| b.props).collect();
        Ok(Dynamics::new(links, props, root_pose, joints.len(), Vector3::from(params.gravity), params.joint_damping))
    }

    /// Number of actuated joints.
    pub fn dof(&self) -> usize {
        self.joints.len()
    }

    /// Names of the actuated joints, in the order of every joint vector.
    pub fn joint_names(&self) -> Vec<String> {
        self.joints.iter().map(|j| j.name.clone()).collect()
    }

    /// Limits of the actuated joints (position, effort, velocity), from the URDF.
    pub fn joint_limits(&self) -> Vec<JointLimits> {
        self.joints.iter().map(|j| j.limits).collect()
    }

    /// The URDF robot name.
    pub fn robot_name(&self) -> &str {
        &self.robot.name
    }

    /// The parameters the world was built with.
    pub fn params(&self) -> &SimParams {
        &self.params
    }

    /// Simulated time, s (steps × dt).
    pub fn time(&self) -> f64 {
        self.steps as f64 * self.params.dt
    }

    /// Steps taken since construction.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The payload currently attached, for ground-truth logging.
    pub fn payload(&self) -> Option<PayloadSpec> {
        self.payload
    }

    /// Torques applied during the next step (clamped), N·m.
    pub fn applied_torques(&self) -> &[f64] {
        &self.tau
    }

    /// Commands joint torques, N·m, one per joint. They are clamped to ±effort and held until the
    /// next call. A vector of the wrong length or with a NaN/Inf entry is refused as a whole and the
    /// previous torques stay in force. Returns how many entries were clamped.
    pub fn set_torques(&mut self, tau: &[f64]) -> Result<usize, SimError> {
        self.check_len("torque", tau.len())?;
        check_finite("torque", tau)?;
        let mut clamped = 0;
        for ((out, &t), j) in self.tau.iter_mut().zip(tau).zip(&self.joints) {
            let e = j.limits.effort;
            *out = t.clamp(-e, e);
            clamped += usize::from(*out != t);
        }
        Ok(clamped)
    }

    /// Puts the arm at joint positions `q` (rad) with velocities `dq` (rad/s). Time and torques are kept.
    /// Positions outside the URDF limits are refused while limits are enforced.
    pub fn set_state(&mut self, q: &[f64], dq: &[f64]) -> Result<(), SimError> {
        self.check_len("q", q.len())?;
        self.check_len("dq", dq.len())?;
        check_finite("q", q)?;
        check_finite("dq", dq)?;
        if self.params.enforce_position_limits {
            for (j, &v) in self.joints.iter().zip(q) {
                let l = &j.limits;
                if v < l.lower || v > l.upper {
                    return Err(SimError::OutsideLimits {
                        joint: j.name.clone(),
                        value: v,
                        lower: l.lower,
                        upper: l.upper,
                    });
                }
            }
        }
        self.q.copy_from_slice(q);
        self.dq.copy_from_slice(dq);
        self.at_stop = false;
        self.write_rapier_state();
        Ok(())
    }

    /// Puts rapier's multibody at the f64 state (`self.q`, `self.dq`) and places the links.
    fn write_rapier_state(&mut self) {
        let mb = self.world.multibody_joints.get_multibody_mut(self.mb_index).expect("multibody");
        self.scratch.fill(0.0);
        for (k, j) in self.joints.iter().enumerate() {
            let link = mb.link(j.link_id).expect("link");
            // The joint integrates `coords += disp`, so the displacement to `q` is the difference.
            self.scratch[self.assembly[k]] = self.q[k] as Real - link.joint.coords()[3];
        }
        mb.apply_displacements(&self.scratch);
        let mut vel = mb.generalized_velocity_mut();
        for (k, &i) in self.assembly.iter().enumerate() {
            vel[i] = self.dq[k] as Real;
        }
        mb.forward_kinematics(&self.world.bodies, false);
        mb.update_rigid_bodies(&mut self.world.bodies, true);
    }

    /// Copies rapier's multibody state into the f64 state after a rapier step.
    fn read_rapier_state(&mut self) {
        let mb = self.world.multibody_joints.get_multibody(self.mb_index).expect("multibody");
        let v = mb.generalized_velocity();
        for (k, j) in self.joints.iter().enumerate() {
            self.q[k] = mb.link(j.link_id).expect("link").joint.coords()[3] as f64;
            self.dq[k] = v[self.assembly[k]] as f64;
        }
    }

    /// Attaches, changes (`Some`) or removes (`None`) the payload. It acts from the next step, on
    /// gravity and on inertia.
    pub fn set_payload(&mut self, payload: Option<PayloadSpec>) -> Result<(), SimError> {
        if let Some(p) = &payload {
            p.validate()?;
        }
        let body = &mut self.bodies[self.ee_body];
        body.props = match &payload {
            None => body.urdf_props,
            Some(p) => {
                let at = self.ee_offset * nalgebra::Point3::new(p.offset_m[0], p.offset_m[1], p.offset_m[2]);
                let point = MassProps { mass: p.mass_kg, com: at.coords, inertia: Matrix3::zeros() };
                body.urdf_props.combined(&point)
            }
        };
        // Replaces (does not add to) the body's extra mass properties, hence the full sum above.
        self.world.bodies[body.handle].set_additional_mass_properties(body.props.to_rapier(), true);
        self.dynamics.set_props(self.ee_body, body.props);
        self.payload = payload;
        Ok(())
    }

    /// Advances the simulation by one `dt` with the current torques.
    ///
    /// With [`Integrator::Rk4`] the step is `substeps` RK4 steps of the joint-space dynamics; if that
    /// would carry a joint past an enforced position limit, or with joint friction, the step is taken by
    /// rapier instead (its constraint solver stops the joint; see [`SimParams::integrator`]), and so are
    /// the steps after it until every joint is 1 mrad clear of its stops.
    pub fn step(&mut self) {
        let rk4 = self.params.integrator == Integrator::Rk4 && self.params.joint_friction == 0.0;
        // After a step stopped by a limit, rapier keeps the step until every joint is STOP_MARGIN clear
        // of its stops: an arm resting on a stop would otherwise pay for a foreseen-then-refused RK4
        // step before every rapier step.
        if self.at_stop {
            self.at_stop = self
                .joints
                .iter()
                .zip(&self.q)
                .any(|(j, &q)| q - j.limits.lower < STOP_MARGIN || j.limits.upper - q < STOP_MARGIN);
        }
        if !(rk4 && !self.at_stop && self.rk4_step()) {
            self.rapier_step();
            self.at_stop = rk4 && self.params.enforce_position_limits;
        }
        self.steps += 1;
    }

    /// One step of RK4 from the f64 state; commits it and returns true unless it would pass an enforced
    /// joint limit (or failed numerically), in which case nothing changes.
    fn rk4_step(&mut self) -> bool {
        self.q_next.copy_from_slice(&self.q);
        self.dq_next.copy_from_slice(&self.dq);
        let h = self.params.dt / self.params.substeps as f64;
        let limits = self.params.enforce_position_limits;
        for _ in 0..self.params.substeps {
            let Some(a0) = self.dynamics.rk4_start(&self.q_next, &self.dq_next, &self.tau) else {
                return false;
            };
            // An arm resting on a stop would otherwise pay for a whole RK4 step before the rapier step:
            // the second-order Taylor step (within O(h³) of RK4's) foresees the crossing from stage 1.
            if limits
                && self.joints.iter().enumerate().any(|(k, j)| {
                    let q = self.q_next[k] + h * self.dq_next[k] + 0.5 * h * h * a0[k];
                    q < j.limits.lower || q > j.limits.upper
                })
            {
                return false;
            }
            if !self.dynamics.rk4_finish(&mut self.q_next, &mut self.dq_next, &self.tau, h) {
                return false;
            }
            if limits && self.joints.iter().zip(&self.q_next).any(|(j, &q)| q < j.limits.lower || q > j.limits.upper) {
                return false;
            }
        }
        std::mem::swap(&mut self.q, &mut self.q_next);
        std::mem::swap(&mut self.dq, &mut self.dq_next);
        self.write_rapier_state();
        true
    }

    /// One step of rapier's own multibody integrator (with its constraint solver).
    fn rapier_step(&mut self) {
        let bodies = &mut self.world.bodies;
        for b in &self.bodies {
            bodies[b.handle].reset_torques(false);
        }
        for (j, &tau) in self.joints.iter().zip(&self.tau) {
            let axis = *bodies[j.child].rotation() * j.axis_in_child;
            let t = axis * tau as Real;
            bodies[j.child].add_torque(t, true);
            bodies[j.parent].add_torque(-t, true);
        }
        self.world.step();
        self.read_rapier_state();
    }

    /// Sets the torques then steps once: the usual control-loop call.
    pub fn step_with_torques(&mut self, tau: &[f64]) -> Result<(), SimError> {
        self.set_torques(tau)?;
        self.step();
        Ok(())
    }

    /// Joint positions, rad (URDF order, not wrapped).
    pub fn q(&self) -> Vec<f64> {
        self.q.clone()
    }

    /// Joint velocities, rad/s.
    pub fn dq(&self) -> Vec<f64> {
        self.dq.clone()
    }

    /// Pose of the `ee` frame in the world.
    pub fn ee_pose(&self) -> Isometry3<f64> {
        let carrier = &self.world.bodies[self.bodies[self.ee_body].handle];
        pose_to_f64(carrier.position()) * self.ee_offset
    }

    /// A snapshot of the state (allocates; see [`Self::read_state_into`]).
    pub fn state(&self) -> ArmState {
        let mut s = ArmState::default();
        self.read_state_into(&mut s);
        s
    }

    /// Writes the state into `out`, reusing its vectors.
    pub fn read_state_into(&self, out: &mut ArmState) {
        out.t = self.time();
        out.q.clear();
        out.q.extend_from_slice(&self.q);
        out.dq.clear();
        out.dq.extend_from_slice(&self.dq);
        out.tau.clear();
        out.tau.extend_from_slice(&self.tau);
        let ee = self.ee_pose();
        out.ee_position = [ee.translation.x, ee.translation.y, ee.translation.z];
        let r = ee.rotation;
        out.ee_orientation = [r.i, r.j, r.k, r.w];
    }

    /// Kinetic and potential energy of the moving links and the payload, J.
    ///
    /// Link velocities are rebuilt from q̇ along the tree (joint anchors and axes from the link poses
    /// rapier placed), independently of the integrator's own dynamics, so this is a check on it.
    pub fn energy(&self) -> Energy {
        let mb = self.multibody();
        let g = Vector3::from(self.params.gravity);
        // Spatial velocity per link: angular ω and v0, the velocity of the body point at the world origin.
        let mut twists: Vec<(Vector3<f64>, Vector3<f64>)> = Vec::with_capacity(self.bodies.len());
        let mut e = Energy::default();
        for (i, link) in mb.links().enumerate() {
            let body = &self.world.bodies[link.rigid_body_handle()];
            let (mut w, mut v0) = match link.parent_id() {
                Some(p) => twists[p],
                None => (Vector3::zeros(), Vector3::zeros()),
            };
            let pose = pose_to_f64(body.position());
            if link.joint.ndofs() == 1 && !link.is_root() {
                let frame2 = pose_to_f64(&link.joint.data.local_frame2);
                let joint = pose * frame2;
                let axis = joint.rotation * Vector3::x();
                let anchor = joint.translation.vector;
                let rate = self.joints.iter().position(|j| j.link_id == i).map_or(0.0, |k| self.dq[k]);
                w += axis * rate;
                v0 += anchor.cross(&axis) * rate;
            }
            twists.push((w, v0));
            if link.is_root() {
                continue;
            }
            let p = &self.bodies[i].props;
            let c = pose * nalgebra::Point3::from(p.com);
            let vc = v0 + w.cross(&c.coords);
            let r = pose.rotation.to_rotation_matrix();
            let iw = r.matrix() * p.inertia * r.matrix().transpose();
            e.kinetic += 0.5 * p.mass * vc.norm_squared() + 0.5 * w.dot(&(iw * w));
            e.potential -= p.mass * g.dot(&c.coords);
        }
        e
    }

    /// Joint accelerations, rad/s², of the arm put at rest at `q` under torques `tau` (unclamped, no
    /// joint stops), with the current payload: `M(q)⁻¹ (τ − g(q))`. Measured by one step of a fresh copy
    /// of this world, so this world is untouched.
    pub fn accelerations_at_rest(&self, q: &[f64], tau: &[f64]) -> Result<Vec<f64>, SimError> {
        let mut probe = self.fresh_copy()?;
        probe.check_len("torque", tau.len())?;
        check_finite("torque", tau)?;
        probe.set_state(q, &vec![0.0; q.len()])?;
        probe.tau.copy_from_slice(tau);
        probe.step();
        let dt = self.params.dt;
        Ok(probe.dq().into_iter().map(|v| v / dt).collect())
    }

    /// The torque, N·m, that holds the arm still at `q` (with the current payload): `g(q)` as this
    /// simulator realises it. Measured from `dof + 1` rest probes (zero torque and unit torques), which
    /// give `M⁻¹` and `M⁻¹ g` without assuming anything about the model.
    pub fn holding_torque(&self, q: &[f64]) -> Result<Vec<f64>, SimError> {
        let (m, a0) = self.probe_mass_matrix(q)?;
        // q̈ = M⁻¹(τ − g) with τ = 0 gives a0 = −M⁻¹ g.
        Ok((-(m * a0)).iter().copied().collect())
    }

    /// The joint-space inertia `M(q)`, kg·m², as this simulator realises it (with the current payload),
    /// from rest probes like [`Self::holding_torque`]. Row-major `dof × dof`.
    pub fn mass_matrix(&self, q: &[f64]) -> Result<Vec<Vec<f64>>, SimError> {
        let (m, _) = self.probe_mass_matrix(q)?;
        Ok(m.row_iter().map(|r| r.iter().copied().collect()).collect())
    }

    fn probe_mass_matrix(&self, q: &[f64]) -> Result<(nalgebra::DMatrix<f64>, nalgebra::DVector<f64>), SimError> {
        let n = self.dof();
        let zero = vec![0.0; n];
        let a0 = nalgebra::DVector::from_vec(self.accelerations_at_rest(q, &zero)?);
        // Unit torques well inside every effort limit; f32 velocities keep ~7 digits of a·dt.
        let mut minv = nalgebra::DMatrix::zeros(n, n);
        for k in 0..n {
            let mut tau = zero.clone();
            tau[k] = 1.0;
            let a = nalgebra::DVector::from_vec(self.accelerations_at_rest(q, &tau)?);
            minv.set_column(k, &(a - &a0));
        }
        let minv = (&minv + minv.transpose()) * 0.5;
        let m =
            minv.try_inverse().ok_or_else(|| SimError::UnsupportedModel("singular joint-space inertia".to_string()))?;
        Ok((m, a0))
    }

    /// A new world with the same arm, parameters and payload, at rest at q = 0. Its stops are off so that
    /// a probe at (or past) a limit measures the arm, not the stop.
    fn fresh_copy(&self) -> Result<Self, SimError> {
        let params = SimParams { enforce_position_limits: false, ..self.params.clone() };
        let mut w = Self::from_robot(self.robot.clone(), params)?;
        w.set_payload(self.payload)?;
        Ok(w)
    }

    fn multibody(&self) -> &rapier3d::prelude::Multibody {
        self.world.multibody_joints.get_multibody(self.mb_index).expect("multibody")
    }

    fn check_len(&self, what: &'static str, got: usize) -> Result<(), SimError> {
        if got == self.joints.len() {
            Ok(())
        } else {
            Err(SimError::DimensionMismatch { what, expected: self.joints.len(), got })
        }
    }
}
