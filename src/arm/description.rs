//! URDF → [`ArmSpec`]: the serial chain of revolute joints from the fixed base to the `ee` link.
//!
//! The controller reads the same URDF as the rapier sim but interprets it itself, so that the two can be
//! cross-checked. Only what a serial manipulator needs is accepted: revolute and continuous joints, fixed
//! joints (folded into the moving link they hang from), one chain with no branches, an `ee` link on it.
//! Anything else is refused with an error that names the offending joint or link rather than being
//! silently approximated.
//!
//! Frames: the *base frame* is the URDF root link's frame. Joint `i`'s frame is its child link's frame;
//! each [`JointSpec`] is expressed in the frame of the previous moving link (or the base for the first).
//! Units: m, kg, kg·m², rad, rad/s, N·m.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nalgebra::{Isometry3, Matrix3, Translation3, Unit, UnitQuaternion, Vector3};

use super::body_inertia::BodyInertia;

/// Name of the end-effector link the chain must reach.
pub const EE_LINK: &str = "ee";

/// Why a URDF could not be turned into an [`ArmSpec`].
#[derive(Debug, thiserror::Error)]
pub enum UrdfChainError {
    /// The file could not be read.
    #[error("cannot read URDF file {}: {source}", path.display())]
    Io {
        /// The file that was asked for.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The text is not parseable URDF XML.
    #[error("cannot parse URDF: {0}")]
    Parse(String),
    /// The tree has no root link, or more than one.
    #[error("URDF must have exactly one root link (a link that is no joint's child); found {0:?}")]
    Roots(Vec<String>),
    /// A joint names a link that does not exist.
    #[error("joint `{joint}` refers to link `{link}`, which is not defined")]
    UnknownLink {
        /// The joint.
        joint: String,
        /// The missing link.
        link: String,
    },
    /// A link is the child of more than one joint (not a tree).
    #[error("link `{0}` is the child of more than one joint")]
    MultipleParents(String),
    /// The kinematic tree branches; only serial chains are supported.
    #[error("link `{link}` has several child joints {children:?}; only a serial chain (no branches) is supported")]
    Branch {
        /// The link where the tree forks.
        link: String,
        /// Its child joints.
        children: Vec<String>,
    },
    /// There is no link named `ee` in the chain.
    #[error("URDF has no link named `{0}`: the arm model needs it as the end-effector frame")]
    MissingEe(String),
    /// A joint type the model cannot represent.
    #[error("joint `{joint}` has type `{kind}`; the arm model supports only revolute, continuous and fixed joints")]
    UnsupportedJoint {
        /// The joint.
        joint: String,
        /// Its URDF type.
        kind: String,
    },
    /// Mimic joints couple DoFs, which the model does not represent.
    #[error("joint `{0}` is a mimic joint; mimic joints are not supported")]
    Mimic(String),
    /// A moving joint lies beyond the `ee` link.
    #[error("joint `{0}` lies beyond the `ee` link and is not fixed; `ee` must be at or after the last moving joint")]
    MovingJointAfterEe(String),
    /// No moving joint between the base and `ee`.
    #[error("no revolute or continuous joint between the base and `ee`")]
    NoJoints,
    /// A NaN or infinity where a finite number is required.
    #[error("non-finite number in {0}")]
    NonFinite(String),
    /// A joint axis of zero length.
    #[error("joint `{0}` has a zero-length axis")]
    ZeroAxis(String),
    /// Physically impossible mass or inertia.
    #[error("link `{link}` has invalid inertial parameters: {reason}")]
    InvalidInertia {
        /// The link (or joint body) concerned.
        link: String,
        /// What is wrong.
        reason: String,
    },
    /// Inconsistent joint limits.
    #[error("joint `{joint}` has invalid limits: {reason}")]
    InvalidLimits {
        /// The joint.
        joint: String,
        /// What is wrong.
        reason: String,
    },
}

/// Joint limits as read from the URDF `<limit>` element (continuous joints get infinite position limits,
/// a missing velocity limit is `+inf`): the simulation's type, so that the two readings of one URDF compare.
pub use spikearm_sim::JointLimits;

/// One revolute joint and the rigid body it moves.
#[derive(Debug, Clone, PartialEq)]
pub struct JointSpec {
    /// URDF joint name.
    pub name: String,
    /// URDF name of the link the joint moves (the body's frame).
    pub child_link: String,
    /// Pose of the joint frame at q = 0 in the previous moving link's frame (the base frame for the first
    /// joint), with any fixed joints in between folded in. m, rad.
    pub origin: Isometry3<f64>,
    /// Rotation axis in the joint frame, unit length; positive q turns right-handed about it.
    pub axis: Unit<Vector3<f64>>,
    /// Position, velocity and effort limits.
    pub limits: JointLimits,
    /// The moved body in the joint frame, including links welded to it by fixed joints.
    pub body: BodyInertia,
}

/// An inert description of a serial arm: base → revolute joints → `ee`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmSpec {
    /// URDF robot name.
    pub name: String,
    /// URDF root link; its frame is the base frame of all model outputs.
    pub base_link: String,
    /// Joints from base to tip.
    pub joints: Vec<JointSpec>,
    /// Pose of the `ee` frame in the last joint's frame. m, rad.
    pub ee_offset: Isometry3<f64>,
}

impl ArmSpec {
    /// Reads a URDF file. See [`ArmSpec::from_urdf_str`].
    pub fn from_urdf_file(path: impl AsRef<Path>) -> Result<Self, UrdfChainError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|source| UrdfChainError::Io { path: path.to_owned(), source })?;
        Self::from_urdf_str(&text)
    }

    /// Parses URDF text into the chain from the root link to the link named [`EE_LINK`].
    pub fn from_urdf_str(urdf: &str) -> Result<Self, UrdfChainError> {
        let robot = urdf_rs::read_from_string(urdf).map_err(|e| UrdfChainError::Parse(e.to_string()))?;
        let spec = chain_from_robot(&robot)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Number of moving joints.
    pub fn dof(&self) -> usize {
        self.joints.len()
    }

    /// Checks everything the model relies on: finite numbers, unit axes, physical inertias, ordered limits.
    /// [`ArmSpec::from_urdf_str`] calls it; call it yourself on a hand-built spec (the model does).
    pub fn validate(&self) -> Result<(), UrdfChainError> {
        if self.joints.is_empty() {
            return Err(UrdfChainError::NoJoints);
        }
        check_pose(&self.ee_offset, "the `ee` offset")?;
        for j in &self.joints {
            check_pose(&j.origin, &format!("the origin of joint `{}`", j.name))?;
            let a = j.axis.into_inner();
            check_finite(a.as_slice(), &format!("the axis of joint `{}`", j.name))?;
            if (a.norm() - 1.0).abs() > 1e-9 {
                return Err(UrdfChainError::ZeroAxis(j.name.clone()));
            }
            check_limits(&j.name, &j.limits)?;
            check_inertia(&j.child_link, &j.body)?;
        }
        Ok(())
    }
}

fn check_finite(values: &[f64], what: &str) -> Result<(), UrdfChainError> {
    if values.iter().all(|v| v.is_finite()) { Ok(()) } else { Err(UrdfChainError::NonFinite(what.to_owned())) }
}

fn check_pose(pose: &Isometry3<f64>, what: &str) -> Result<(), UrdfChainError> {
    check_finite(pose.translation.vector.as_slice(), what)?;
    check_finite(pose.rotation.coords.as_slice(), what)
}

fn check_limits(joint: &str, l: &JointLimits) -> Result<(), UrdfChainError> {
    let bad = |reason: String| Err(UrdfChainError::InvalidLimits { joint: joint.to_owned(), reason });
    // Infinite limits are legitimate ("no limit", URDF 1.2); NaN never is.
    if [l.lower, l.upper, l.velocity, l.effort].iter().any(|v| v.is_nan()) {
        return Err(UrdfChainError::NonFinite(format!("the limits of joint `{joint}`")));
    }
    if l.lower > l.upper {
        return bad(format!("lower {} > upper {}", l.lower, l.upper));
    }
    if l.velocity < 0.0 || l.effort < 0.0 {
        return bad(format!("negative velocity {} or effort {}", l.velocity, l.effort));
    }
    Ok(())
}

fn check_inertia(link: &str, b: &BodyInertia) -> Result<(), UrdfChainError> {
    let what = format!("the inertial of link `{link}`");
    check_finite(&[b.mass], &what)?;
    check_finite(b.com.as_slice(), &what)?;
    check_finite(b.inertia.as_slice(), &what)?;
    let bad = |reason: String| Err(UrdfChainError::InvalidInertia { link: link.to_owned(), reason });
    if b.mass < 0.0 {
        return bad(format!("negative mass {}", b.mass));
    }
    if (b.inertia - b.inertia.transpose()).abs().max() > 1e-12 * (1.0 + b.inertia.abs().max()) {
        return bad("inertia tensor is not symmetric".to_owned());
    }
    // Principal moments must be non-negative and obey the triangle inequality, or no mass distribution
    // produces them (and M(q) may lose positive definiteness).
    let p = b.inertia.symmetric_eigenvalues();
    let tol = 1e-9 * (1.0 + p.abs().max());
    if p.min() < -tol {
        return bad(format!("inertia tensor has a negative principal moment {:.3e}", p.min()));
    }
    if p[0] + p[1] + tol < p[2] || p[1] + p[2] + tol < p[0] || p[2] + p[0] + tol < p[1] {
        return bad(format!(
            "principal moments ({:.3e}, {:.3e}, {:.3e}) violate the triangle inequality",
            p[0], p[1], p[2]
        ));
    }
    Ok(())
}

fn pose(p: &urdf_rs::Pose, what: &str) -> Result<Isometry3<f64>, UrdfChainError> {
    check_finite(&p.xyz.0, what)?;
    check_finite(&p.rpy.0, what)?;
    let [x, y, z] = p.xyz.0;
    let [r, pi, ya] = p.rpy.0;
    // URDF rpy: fixed-axis roll about x, then pitch about y, then yaw about z = Rz·Ry·Rx, which is exactly
    // nalgebra's from_euler_angles.
    Ok(Isometry3::from_parts(Translation3::new(x, y, z), UnitQuaternion::from_euler_angles(r, pi, ya)))
}

/// The link's inertial expressed in the link frame (COM as a point, tensor rotated by the inertial rpy).
fn link_inertia(link: &urdf_rs::Link) -> Result<BodyInertia, UrdfChainError> {
    let what = format!("the inertial of link `{}`", link.name);
    let inertial = &link.inertial;
    let frame = pose(&inertial.origin, &what)?;
    let i = &inertial.inertia;
    let tensor = Matrix3::new(i.ixx, i.ixy, i.ixz, i.ixy, i.iyy, i.iyz, i.ixz, i.iyz, i.izz);
    check_finite(&[inertial.mass.value], &what)?;
    check_finite(tensor.as_slice(), &what)?;
    let local = BodyInertia { mass: inertial.mass.value, com: Vector3::zeros(), inertia: tensor };
    Ok(local.transformed(&frame))
}

fn chain_from_robot(robot: &urdf_rs::Robot) -> Result<ArmSpec, UrdfChainError> {
    let links: HashMap<&str, &urdf_rs::Link> = robot.links.iter().map(|l| (l.name.as_str(), l)).collect();
    let mut parent_of: HashMap<&str, &urdf_rs::Joint> = HashMap::new();
    let mut children_of: HashMap<&str, Vec<&urdf_rs::Joint>> = HashMap::new();
    for j in &robot.joints {
        for link in [&j.parent.link, &j.child.link] {
            if !links.contains_key(link.as_str()) {
                return Err(UrdfChainError::UnknownLink { joint: j.name.clone(), link: link.clone() });
            }
        }
        if parent_of.insert(j.child.link.as_str(), j).is_some() {
            return Err(UrdfChainError::MultipleParents(j.child.link.clone()));
        }
        children_of.entry(j.parent.link.as_str()).or_default().push(j);
    }
    // Keep the document order of links so error messages are deterministic.
    let roots: Vec<&str> =
        robot.links.iter().map(|l| l.name.as_str()).filter(|name| !parent_of.contains_key(name)).collect();
    let [root] = roots[..] else {
        return Err(UrdfChainError::Roots(roots.iter().map(|s| s.to_string()).collect()));
    };
    if !links.contains_key(EE_LINK) {
        return Err(UrdfChainError::MissingEe(EE_LINK.to_owned()));
    }

    let mut joints: Vec<JointSpec> = Vec::new();
    // Pose of the current link in the frame of the last moving link (or the base).
    let mut acc = Isometry3::identity();
    let mut ee_offset = None;
    let mut link = root;
    loop {
        let children = children_of.get(link).map(Vec::as_slice).unwrap_or(&[]);
        let joint = match children {
            [] => break,
            [j] => *j,
            many => {
                return Err(UrdfChainError::Branch {
                    link: link.to_owned(),
                    children: many.iter().map(|j| j.name.clone()).collect(),
                });
            }
        };
        if joint.mimic.is_some() {
            return Err(UrdfChainError::Mimic(joint.name.clone()));
        }
        let child = links[joint.child.link.as_str()];
        let origin = pose(&joint.origin, &format!("the origin of joint `{}`", joint.name))?;
        match joint.joint_type {
            urdf_rs::JointType::Fixed => {
                acc *= origin;
                let welded = link_inertia(child)?.transformed(&acc);
                // Mass welded to the base never moves, so it cannot matter to the dynamics.
                if let Some(last) = joints.last_mut() {
                    last.body = last.body.combined(&welded);
                }
            }
            urdf_rs::JointType::Revolute | urdf_rs::JointType::Continuous => {
                if ee_offset.is_some() {
                    return Err(UrdfChainError::MovingJointAfterEe(joint.name.clone()));
                }
                let axis_v = Vector3::from(joint.axis.xyz.0);
                check_finite(axis_v.as_slice(), &format!("the axis of joint `{}`", joint.name))?;
                let axis = Unit::try_new(axis_v, 1e-12).ok_or_else(|| UrdfChainError::ZeroAxis(joint.name.clone()))?;
                let l = &joint.limit;
                let limits = if joint.joint_type == urdf_rs::JointType::Continuous {
                    JointLimits {
                        lower: f64::NEG_INFINITY,
                        upper: f64::INFINITY,
                        velocity: l.velocity,
                        effort: l.effort,
                    }
                } else {
                    JointLimits { lower: l.lower, upper: l.upper, velocity: l.velocity, effort: l.effort }
                };
                joints.push(JointSpec {
                    name: joint.name.clone(),
                    child_link: child.name.clone(),
                    origin: acc * origin,
                    axis,
                    limits,
                    body: link_inertia(child)?,
                });
                acc = Isometry3::identity();
            }
            ref other => {
                return Err(UrdfChainError::UnsupportedJoint {
                    joint: joint.name.clone(),
                    kind: format!("{other:?}").to_lowercase(),
                });
            }
        }
        link = child.name.as_str();
        if link == EE_LINK {
            if joints.is_empty() {
                return Err(UrdfChainError::NoJoints);
            }
            ee_offset = Some(acc);
        }
    }
    let Some(ee_offset) = ee_offset else {
        // `ee` exists but hangs off a branch we never walked (impossible without a Branch error) or is the root.
        return Err(UrdfChainError::MissingEe(EE_LINK.to_owned()));
    };
    Ok(ArmSpec { name: robot.name.clone(), base_link: root.to_owned(), joints, ee_offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-link arm with a fixed tool link in the middle, written out so every number is checkable.
    fn urdf(extra_joints: &str) -> String {
        format!(
            r#"<robot name="t">
  <link name="base"/>
  <link name="l1"><inertial><origin xyz="0.25 0 0" rpy="0 0 0"/><mass value="2"/>
    <inertia ixx="1e-4" ixy="0" ixz="0" iyy="0.0416667" iyz="0" izz="0.0416667"/></inertial></link>
  <link name="bracket"><inertial><origin xyz="0 0 0"/><mass value="1"/>
    <inertia ixx="0" ixy="0" ixz="0" iyy="0" iyz="0" izz="0"/></inertial></link>
  <link name="l2"><inertial><origin xyz="0.2 0 0" rpy="0 0 1.5707963267948966"/><mass value="1.5"/>
    <inertia ixx="1" ixy="0" ixz="0" iyy="2" iyz="0" izz="3"/></inertial></link>
  <link name="ee"/>
  <joint name="j1" type="revolute"><parent link="base"/><child link="l1"/>
    <origin xyz="0 0 0.1"/><axis xyz="0 -2 0"/><limit lower="-3" upper="3" effort="80" velocity="10"/></joint>
  <joint name="weld" type="fixed"><parent link="l1"/><child link="bracket"/><origin xyz="0.5 0 0"/></joint>
  <joint name="j2" type="continuous"><parent link="bracket"/><child link="l2"/>
    <origin xyz="0 0 0"/><axis xyz="0 -1 0"/><limit effort="40" velocity="10"/></joint>
  <joint name="tip" type="fixed"><parent link="l2"/><child link="ee"/><origin xyz="0.4 0 0"/></joint>
  {extra_joints}
</robot>"#
        )
    }

    #[test]
    fn reads_chain_folds_fixed_links_and_rotates_inertia() {
        let spec = ArmSpec::from_urdf_str(&urdf("")).unwrap();
        assert_eq!(spec.dof(), 2);
        assert_eq!(spec.base_link, "base");
        let j1 = &spec.joints[0];
        assert_eq!(j1.axis.into_inner(), Vector3::new(0.0, -1.0, 0.0));
        assert_eq!(j1.origin.translation.vector, Vector3::new(0.0, 0.0, 0.1));
        assert_eq!(j1.limits, JointLimits { lower: -3.0, upper: 3.0, velocity: 10.0, effort: 80.0 });
        // The 1 kg bracket at x = 0.5 is welded onto l1: COM moves to (2·0.25 + 0.5)/3.
        assert!((j1.body.mass - 3.0).abs() < 1e-12);
        assert!((j1.body.com.x - 1.0 / 3.0).abs() < 1e-12);
        let j2 = &spec.joints[1];
        assert_eq!(j2.origin.translation.vector, Vector3::new(0.5, 0.0, 0.0));
        assert_eq!(j2.limits.lower, f64::NEG_INFINITY);
        // Inertial yaw of 90° swaps ixx and iyy.
        assert!((j2.body.inertia - Matrix3::from_diagonal(&Vector3::new(2.0, 1.0, 3.0))).norm() < 1e-9);
        assert_eq!(spec.ee_offset.translation.vector, Vector3::new(0.4, 0.0, 0.0));
    }

    #[test]
    fn refuses_branches() {
        let extra =
            r#"<link name="camera"/><joint name="cam" type="fixed"><parent link="l1"/><child link="camera"/></joint>"#;
        let text = urdf("").replace("<link name=\"ee\"/>", &format!("<link name=\"ee\"/>{extra}"));
        let err = ArmSpec::from_urdf_str(&text).unwrap_err();
        assert!(matches!(err, UrdfChainError::Branch { ref link, .. } if link == "l1"), "{err}");
    }

    #[test]
    fn refuses_missing_ee() {
        let text = urdf("").replace("\"ee\"", "\"tool0\"");
        assert!(matches!(ArmSpec::from_urdf_str(&text), Err(UrdfChainError::MissingEe(_))));
    }

    #[test]
    fn refuses_prismatic() {
        let text = urdf("").replace("type=\"continuous\"", "type=\"prismatic\"");
        let err = ArmSpec::from_urdf_str(&text).unwrap_err();
        assert!(
            matches!(err, UrdfChainError::UnsupportedJoint { ref joint, ref kind } if joint == "j2" && kind == "prismatic")
        );
        assert!(err.to_string().contains("j2"));
    }

    #[test]
    fn refuses_non_finite_numbers() {
        let text = urdf("").replace("<mass value=\"1.5\"/>", "<mass value=\"NaN\"/>");
        assert!(matches!(ArmSpec::from_urdf_str(&text), Err(UrdfChainError::NonFinite(_))));
        let text = urdf("").replace("xyz=\"0.4 0 0\"", "xyz=\"inf 0 0\"");
        assert!(matches!(ArmSpec::from_urdf_str(&text), Err(UrdfChainError::NonFinite(_))));
    }

    #[test]
    fn refuses_moving_joint_after_ee_and_bad_inertia_and_zero_axis() {
        let extra = r#"<link name="finger"/><joint name="grip" type="revolute"><parent link="ee"/><child link="finger"/>
            <limit lower="0" upper="1" effort="1" velocity="1"/></joint>"#;
        assert!(matches!(ArmSpec::from_urdf_str(&urdf(extra)), Err(UrdfChainError::MovingJointAfterEe(_))));
        let text = urdf("").replace(
            "ixx=\"1\" ixy=\"0\" ixz=\"0\" iyy=\"2\" iyz=\"0\" izz=\"3\"",
            "ixx=\"1\" ixy=\"0\" ixz=\"0\" iyy=\"1\" iyz=\"0\" izz=\"3\"",
        );
        assert!(matches!(ArmSpec::from_urdf_str(&text), Err(UrdfChainError::InvalidInertia { .. })));
        let text = urdf("").replace("xyz=\"0 -2 0\"", "xyz=\"0 0 0\"");
        assert!(matches!(ArmSpec::from_urdf_str(&text), Err(UrdfChainError::ZeroAxis(_))));
    }

    #[test]
    fn reports_unreadable_files_with_the_path() {
        let err = ArmSpec::from_urdf_file("/nonexistent/arm.urdf").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/arm.urdf"));
    }
}
