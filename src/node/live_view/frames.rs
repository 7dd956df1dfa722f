//! The arm as the 3D panel draws it: one coordinate frame per URDF link, placed by the joint angles on the bus
//! (every joint of the URDF, fixed ones included, so any link a visual hangs on has a frame), and the links'
//! `<visual>` shapes (boxes, cylinders, spheres, capsules drawn as cylinders) as scene primitives attached to
//! those frames. Read from the URDF text itself, so the view draws exactly the file the nodes run.

use foxglove::messages::{
    Color, CubePrimitive, CylinderPrimitive, Pose, Quaternion, SceneEntity, SceneUpdate, SpherePrimitive, Vector3,
};
use nalgebra::{Isometry3, Translation3, Unit, UnitQuaternion, Vector3 as V3};

/// Grey for visuals without a colour of their own (RGBA, 0–1).
const DEFAULT_RGBA: [f64; 4] = [0.6, 0.6, 0.65, 1.0];

/// How a joint moves its child link.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Motion {
    /// Rotates about `axis` by the joint angle (revolute, continuous).
    Rotate(Unit<V3<f64>>),
    /// Slides along `axis` by the joint position (prismatic).
    Slide(Unit<V3<f64>>),
    /// Does not move (fixed, and the kinds the bus carries no coordinate for).
    Fixed,
}

/// One joint of the URDF: parent → child at `origin`, then the joint's motion.
#[derive(Debug, Clone)]
struct JointFrame {
    name: String,
    parent: String,
    child: String,
    origin: Isometry3<f64>,
    motion: Motion,
}

/// A parent → child transform: translation in m, rotation as a unit quaternion (x, y, z, w).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkTransform {
    /// The parent link's frame.
    pub parent: String,
    /// The child link's frame.
    pub child: String,
    /// Translation of the child frame in the parent frame, m.
    pub translation: [f64; 3],
    /// Rotation of the child frame in the parent frame (x, y, z, w).
    pub rotation: [f64; 4],
}

/// Why a URDF cannot be drawn.
#[derive(Debug, thiserror::Error)]
#[error("the arm's URDF: {0}")]
pub struct FramesError(String);

/// The URDF's links and joints, ready to turn joint angles into per-link transforms and visuals into a scene.
#[derive(Debug, Clone)]
pub struct ArmFrames {
    root: String,
    joints: Vec<JointFrame>,
    scene: SceneUpdate,
}

fn pose_iso(p: &urdf_rs::Pose) -> Isometry3<f64> {
    let [x, y, z] = p.xyz.0;
    let [r, pi, ya] = p.rpy.0;
    // URDF rpy: fixed-axis roll about x, then pitch about y, then yaw about z, i.e. R = Rz(yaw)·Ry(pitch)·Rx(roll),
    // which is nalgebra's `from_euler_angles(roll, pitch, yaw)`.
    Isometry3::from_parts(Translation3::new(x, y, z), UnitQuaternion::from_euler_angles(r, pi, ya))
}

fn pose_msg(iso: &Isometry3<f64>) -> Pose {
    let t = iso.translation.vector;
    let q = iso.rotation.coords; // (i, j, k, w)
    Pose {
        position: Some(Vector3 { x: t.x, y: t.y, z: t.z }),
        orientation: Some(Quaternion { x: q.x, y: q.y, z: q.z, w: q.w }),
    }
}

impl ArmFrames {
    /// Reads the links, joints and visuals of a URDF.
    pub fn from_urdf(urdf: &str) -> Result<Self, FramesError> {
        let robot = urdf_rs::read_from_string(urdf).map_err(|e| FramesError(e.to_string()))?;
        let children: std::collections::HashSet<&str> = robot.joints.iter().map(|j| j.child.link.as_str()).collect();
        let root = robot
            .links
            .iter()
            .find(|l| !children.contains(l.name.as_str()))
            .map(|l| l.name.clone())
            .ok_or_else(|| FramesError("no root link (every link is some joint's child)".into()))?;
        let joints = robot
            .joints
            .iter()
            .map(|j| {
                let axis = Unit::try_new(V3::from(j.axis.xyz.0), 1e-9);
                let motion = match (&j.joint_type, axis) {
                    (urdf_rs::JointType::Revolute | urdf_rs::JointType::Continuous, Some(a)) => Motion::Rotate(a),
                    (urdf_rs::JointType::Prismatic, Some(a)) => Motion::Slide(a),
                    _ => Motion::Fixed,
                };
                JointFrame {
                    name: j.name.clone(),
                    parent: j.parent.link.clone(),
                    child: j.child.link.clone(),
                    origin: pose_iso(&j.origin),
                    motion,
                }
            })
            .collect();
        let scene = scene_of(&robot);
        Ok(Self { root, joints, scene })
    }

    /// The root link: the frame everything else hangs from (the arm's base).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Number of transforms [`ArmFrames::transforms_into`] writes (one per URDF joint).
    pub fn len(&self) -> usize {
        self.joints.len()
    }

    /// Whether the URDF has no joints.
    pub fn is_empty(&self) -> bool {
        self.joints.is_empty()
    }

    /// Per-link transforms for the joint coordinates `position` named by `names` (the bus's joint state). A
    /// moving joint missing from `names` stands at 0; when `names` is empty the moving joints take `position`
    /// in URDF order (what a body without names means on the bus).
    pub fn transforms_into(&self, names: &[String], position: &[f64], out: &mut Vec<LinkTransform>) {
        out.clear();
        let mut unnamed = position.iter();
        for j in &self.joints {
            let q = if j.motion == Motion::Fixed {
                0.0
            } else if names.is_empty() {
                unnamed.next().copied().unwrap_or(0.0)
            } else {
                names.iter().position(|n| *n == j.name).and_then(|i| position.get(i)).copied().unwrap_or(0.0)
            };
            let moved = match j.motion {
                Motion::Rotate(a) => {
                    Isometry3::from_parts(Translation3::identity(), UnitQuaternion::from_axis_angle(&a, q))
                }
                Motion::Slide(a) => {
                    Isometry3::from_parts(Translation3::from(a.into_inner() * q), UnitQuaternion::identity())
                }
                Motion::Fixed => Isometry3::identity(),
            };
            let iso = j.origin * moved;
            let t = iso.translation.vector;
            let r = iso.rotation.coords;
            out.push(LinkTransform {
                parent: j.parent.clone(),
                child: j.child.clone(),
                translation: [t.x, t.y, t.z],
                rotation: [r.x, r.y, r.z, r.w],
            });
        }
    }

    /// The links' visuals as a `foxglove.SceneUpdate`: one entity per link that has visuals, in that link's
    /// frame (so the 3D panel moves them with the transforms).
    pub fn scene(&self) -> &SceneUpdate {
        &self.scene
    }
}

fn scene_of(robot: &urdf_rs::Robot) -> SceneUpdate {
    let named_color =
        |name: &str| robot.materials.iter().find(|m| m.name == name).and_then(|m| m.color.as_ref()).map(|c| c.rgba.0);
    let mut entities = Vec::new();
    for link in robot.links.iter().filter(|l| !l.visual.is_empty()) {
        let mut e = SceneEntity {
            frame_id: link.name.clone(),
            id: link.name.clone(),
            frame_locked: true,
            ..Default::default()
        };
        for v in &link.visual {
            let rgba = v
                .material
                .as_ref()
                .and_then(|m| m.color.as_ref().map(|c| c.rgba.0).or_else(|| named_color(&m.name)))
                .unwrap_or(DEFAULT_RGBA);
            let color = Some(Color { r: rgba[0], g: rgba[1], b: rgba[2], a: rgba[3] });
            let pose = Some(pose_msg(&pose_iso(&v.origin)));
            match &v.geometry {
                urdf_rs::Geometry::Box { size } => {
                    let [x, y, z] = size.0;
                    e.cubes.push(CubePrimitive { pose, size: Some(Vector3 { x, y, z }), color });
                }
                urdf_rs::Geometry::Cylinder { radius, length } | urdf_rs::Geometry::Capsule { radius, length } => {
                    let (d, l) = (2.0 * radius, *length);
                    e.cylinders.push(CylinderPrimitive {
                        pose,
                        size: Some(Vector3 { x: d, y: d, z: l }),
                        bottom_scale: 1.0,
                        top_scale: 1.0,
                        color,
                    });
                }
                urdf_rs::Geometry::Sphere { radius } => {
                    let d = 2.0 * radius;
                    e.spheres.push(SpherePrimitive { pose, size: Some(Vector3 { x: d, y: d, z: d }), color });
                }
                // Meshes need files the viewer can fetch; the bundled arms use primitives only.
                urdf_rs::Geometry::Mesh { .. } => {}
            }
        }
        entities.push(e);
    }
    SceneUpdate { deletions: vec![], entities }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urdf(name: &str) -> String {
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/arms").join(name))
            .unwrap()
    }

    /// Chains the transforms from the root to `link`.
    fn world(ts: &[LinkTransform], root: &str, link: &str) -> Isometry3<f64> {
        let mut iso = Isometry3::identity();
        let mut at = link.to_string();
        while at != root {
            let t = ts.iter().find(|t| t.child == at).unwrap();
            let [x, y, z] = t.translation;
            let [i, j, k, w] = t.rotation;
            let q = UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(w, i, j, k));
            iso = Isometry3::from_parts(Translation3::new(x, y, z), q) * iso;
            at = t.parent.clone();
        }
        iso
    }

    #[test]
    fn chained_link_transforms_put_the_ee_where_the_arm_model_does() {
        for (file, q) in
            [("threelink.urdf", vec![0.3, -0.7, 1.1]), ("ur5e.urdf", vec![0.1, -1.2, 1.6, -1.97, -1.57, 0.4])]
        {
            let text = urdf(file);
            let frames = ArmFrames::from_urdf(&text).unwrap();
            let arm = crate::arm::Arm::from_urdf(text.clone()).unwrap();
            let names: Vec<String> = arm.envelope().joint_names().to_vec();
            let mut ts = Vec::new();
            frames.transforms_into(&names, &q, &mut ts);
            assert_eq!(ts.len(), frames.len());
            let tip = world(&ts, frames.root(), "ee");
            let want = arm.model().unwrap().ee_position(&q).unwrap();
            assert!((tip.translation.vector - want).norm() < 1e-9, "{file}: {} vs {want}", tip.translation.vector);
        }
    }

    #[test]
    fn the_bundled_arms_have_visuals_on_every_moving_link() {
        for file in ["threelink.urdf", "ur5e.urdf"] {
            let frames = ArmFrames::from_urdf(&urdf(file)).unwrap();
            let drawn: Vec<&str> = frames.scene().entities.iter().map(|e| e.frame_id.as_str()).collect();
            for j in frames.joints.iter().filter(|j| j.motion != Motion::Fixed) {
                assert!(drawn.contains(&j.child.as_str()), "{file}: {} has no visual", j.child);
            }
            for e in &frames.scene().entities {
                assert!(!(e.cubes.is_empty() && e.cylinders.is_empty() && e.spheres.is_empty()), "{}", e.id);
            }
        }
    }
}
