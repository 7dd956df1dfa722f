//! The ROS 2 message types spikearm speaks, with their CDR encoding and type descriptions.
//!
//! Field names, order and types follow the `.msg` definitions of the ROS 2 packages (`builtin_interfaces`,
//! `std_msgs`, `sensor_msgs`, `geometry_msgs`, `trajectory_msgs`); a test checks every type's bytes and
//! RIHS01 hash against the independent `rosbags` implementation. Units are ROS's (REP 103): s, m, rad,
//! rad/s, N·m, kg.
//!
//! Decoding only checks the encoding; what a node accepts (finite numbers, joint counts, ranges) is the
//! node's check, as for the JSON wire types.

use super::cdr::{Cdr, CdrError, CdrReader, CdrWriter};
use super::type_hash::{
    FieldDescription as F, FieldType::Nested, FieldType::NestedSeq, FieldType::Primitive as P,
    FieldType::PrimitiveSeq as Seq, Primitive as T, TypeDescription,
};

/// A ROS 2 message: its CDR encoding and its type description (name, DDS name, RIHS01 hash).
pub trait RosMessage: Cdr {
    /// The type's definition, from which [`TypeDescription::dds_name`] and [`TypeDescription::rihs01`]
    /// follow.
    const TYPE: &'static TypeDescription;
}

const fn f(name: &'static str, ty: super::type_hash::FieldType) -> F {
    F { name, ty }
}

/// Implements [`Cdr`] and [`RosMessage`] for a struct from one list of fields, so that the encoder, the
/// decoder and the type description cannot disagree on order. Each field gives its Rust name, its CDR
/// kind (`bool`, `u8`, `i32`, `u32`, `f64`, `string`, `f64_seq`, `string_seq`, `nested`, `seq`), its
/// type-description entry and the fewest bytes it takes on the wire.
macro_rules! ros_message {
    (
        $(#[$meta:meta])*
        $ty:ident = $ros_name:literal, $desc:ident {
            $( $(#[$fmeta:meta])* $field:ident : $rust:ty => $kind:ident, $fdesc:expr, $min:expr; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
        pub struct $ty {
            $( $(#[$fmeta])* pub $field: $rust, )+
        }

        #[doc = concat!("Type description of `", $ros_name, "`.")]
        pub static $desc: TypeDescription =
            TypeDescription { name: $ros_name, fields: &[ $( f(stringify!($field), $fdesc), )+ ] };

        impl Cdr for $ty {
            const MIN_CDR_BYTES: usize = 0 $( + $min )+;
            fn write_cdr(&self, w: &mut CdrWriter<'_>) {
                $( ros_message!(@write w, self.$field, $kind); )+
            }
            fn read_cdr(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
                Ok(Self { $( $field: ros_message!(@read r, $kind), )+ })
            }
        }

        impl RosMessage for $ty {
            const TYPE: &'static TypeDescription = &$desc;
        }
    };
    (@write $w:ident, $v:expr, nested) => { $v.write_cdr($w) };
    (@write $w:ident, $v:expr, seq) => { $w.seq(&$v) };
    (@write $w:ident, $v:expr, string) => { $w.string(&$v) };
    (@write $w:ident, $v:expr, f64_seq) => { $w.f64_seq(&$v) };
    (@write $w:ident, $v:expr, string_seq) => { $w.string_seq(&$v) };
    (@write $w:ident, $v:expr, $kind:ident) => { $w.$kind($v) };
    (@read $r:ident, nested) => { Cdr::read_cdr($r)? };
    (@read $r:ident, $kind:ident) => { $r.$kind()? };
}

ros_message! {
    /// `builtin_interfaces/msg/Time`: a time point, seconds and nanoseconds since the clock's epoch.
    Time = "builtin_interfaces/msg/Time", TIME {
        /// Whole seconds, s.
        sec: i32 => i32, P(T::Int32), 4;
        /// Nanoseconds within the second, ns, in [0, 1e9).
        nanosec: u32 => u32, P(T::Uint32), 4;
    }
}

impl Time {
    /// The time `ns` nanoseconds after the epoch (negative before it); seconds saturate at the `i32` range.
    pub fn from_nanos(ns: i64) -> Self {
        let sec = ns.div_euclid(1_000_000_000).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        Self { sec, nanosec: ns.rem_euclid(1_000_000_000) as u32 }
    }

    /// The time `s` seconds after the epoch, rounded to the nanosecond (non-finite gives 0).
    pub fn from_secs_f64(s: f64) -> Self {
        if !s.is_finite() {
            return Self::default();
        }
        // `as` saturates: times past 2038 clamp like from_nanos.
        Self::from_nanos((s * 1e9).round() as i64)
    }

    /// Seconds since the epoch, s.
    pub fn as_secs_f64(&self) -> f64 {
        f64::from(self.sec) + f64::from(self.nanosec) * 1e-9
    }
}

ros_message! {
    /// `builtin_interfaces/msg/Duration`: a signed span of time.
    Duration = "builtin_interfaces/msg/Duration", DURATION {
        /// Whole seconds, s.
        sec: i32 => i32, P(T::Int32), 4;
        /// Nanoseconds added to `sec`, ns, in [0, 1e9).
        nanosec: u32 => u32, P(T::Uint32), 4;
    }
}

impl Duration {
    /// The span `s` seconds long, s (as [`Time::from_secs_f64`]).
    pub fn from_secs_f64(s: f64) -> Self {
        let t = Time::from_secs_f64(s);
        Self { sec: t.sec, nanosec: t.nanosec }
    }

    /// Length, s.
    pub fn as_secs_f64(&self) -> f64 {
        f64::from(self.sec) + f64::from(self.nanosec) * 1e-9
    }
}

ros_message! {
    /// `std_msgs/msg/Header`: when and in which frame a stamped message was taken.
    Header = "std_msgs/msg/Header", HEADER {
        /// Acquisition time.
        stamp: Time => nested, Nested(&TIME), 8;
        /// Coordinate frame (TF name), e.g. `base_link`; may be empty.
        frame_id: String => string, P(T::String), 5;
    }
}

ros_message! {
    /// `sensor_msgs/msg/JointState` (on `/joint_states`): per joint, position (rad or m), velocity (rad/s or
    /// m/s) and effort (N·m or N). Each array is either empty or as long as `name`.
    JointState = "sensor_msgs/msg/JointState", JOINT_STATE {
        /// Stamp and frame.
        header: Header => nested, Nested(&HEADER), 13;
        /// Joint names.
        name: Vec<String> => string_seq, Seq(T::String), 4;
        /// Positions, rad (revolute) or m (prismatic).
        position: Vec<f64> => f64_seq, Seq(T::Float64), 4;
        /// Velocities, rad/s or m/s.
        velocity: Vec<f64> => f64_seq, Seq(T::Float64), 4;
        /// Efforts, N·m or N.
        effort: Vec<f64> => f64_seq, Seq(T::Float64), 4;
    }
}

ros_message! {
    /// `std_msgs/msg/MultiArrayDimension`: one dimension of a multi-array layout.
    MultiArrayDimension = "std_msgs/msg/MultiArrayDimension", MULTI_ARRAY_DIMENSION {
        /// Label of the dimension (e.g. `joints`).
        label: String => string, P(T::String), 5;
        /// Number of elements along it.
        size: u32 => u32, P(T::Uint32), 4;
        /// Elements spanned by one step along it (size times the strides inside).
        stride: u32 => u32, P(T::Uint32), 4;
    }
}

ros_message! {
    /// `std_msgs/msg/MultiArrayLayout`: how a flat multi-array's data is laid out. ros2_controllers'
    /// forward command controllers ignore it (an empty layout is the usual).
    MultiArrayLayout = "std_msgs/msg/MultiArrayLayout", MULTI_ARRAY_LAYOUT {
        /// Dimensions, outermost first.
        dim: Vec<MultiArrayDimension> => seq, NestedSeq(&MULTI_ARRAY_DIMENSION), 4;
        /// Elements of padding before the data.
        data_offset: u32 => u32, P(T::Uint32), 4;
    }
}

ros_message! {
    /// `std_msgs/msg/Float64MultiArray`: the command of ros2_controllers' forward command controllers (one
    /// value per joint in the controller's joint order, e.g. efforts in N·m on `/<controller>/commands`).
    Float64MultiArray = "std_msgs/msg/Float64MultiArray", FLOAT64_MULTI_ARRAY {
        /// Layout (usually empty).
        layout: MultiArrayLayout => nested, Nested(&MULTI_ARRAY_LAYOUT), 8;
        /// The values.
        data: Vec<f64> => f64_seq, Seq(T::Float64), 4;
    }
}

impl Float64MultiArray {
    /// A one-dimensional array of `data` with an empty layout, as `ros2 topic pub` and the forward command
    /// controllers use it.
    pub fn from_data(data: Vec<f64>) -> Self {
        Self { layout: MultiArrayLayout::default(), data }
    }
}

ros_message! {
    /// `geometry_msgs/msg/Point`: a position, m.
    Point = "geometry_msgs/msg/Point", POINT {
        /// x, m.
        x: f64 => f64, P(T::Float64), 8;
        /// y, m.
        y: f64 => f64, P(T::Float64), 8;
        /// z, m.
        z: f64 => f64, P(T::Float64), 8;
    }
}

ros_message! {
    /// `geometry_msgs/msg/PointStamped`: a position in a frame at a time (targets).
    PointStamped = "geometry_msgs/msg/PointStamped", POINT_STAMPED {
        /// Stamp and the frame the point is in.
        header: Header => nested, Nested(&HEADER), 13;
        /// The point, m.
        point: Point => nested, Nested(&POINT), 24;
    }
}

ros_message! {
    /// `geometry_msgs/msg/Vector3`: a free vector (here an offset, m).
    Vector3 = "geometry_msgs/msg/Vector3", VECTOR3 {
        /// x component.
        x: f64 => f64, P(T::Float64), 8;
        /// y component.
        y: f64 => f64, P(T::Float64), 8;
        /// z component.
        z: f64 => f64, P(T::Float64), 8;
    }
}

ros_message! {
    /// `geometry_msgs/msg/Inertia`: mass, centre of mass and inertia tensor of a body (the payload: mass and
    /// its offset from the end-effector frame).
    Inertia = "geometry_msgs/msg/Inertia", INERTIA {
        /// Mass, kg.
        m: f64 => f64, P(T::Float64), 8;
        /// Centre of mass in the body frame, m.
        com: Vector3 => nested, Nested(&VECTOR3), 24;
        /// Inertia tensor entries, kg·m².
        ixx: f64 => f64, P(T::Float64), 8;
        /// kg·m².
        ixy: f64 => f64, P(T::Float64), 8;
        /// kg·m².
        ixz: f64 => f64, P(T::Float64), 8;
        /// kg·m².
        iyy: f64 => f64, P(T::Float64), 8;
        /// kg·m².
        iyz: f64 => f64, P(T::Float64), 8;
        /// kg·m².
        izz: f64 => f64, P(T::Float64), 8;
    }
}

ros_message! {
    /// `std_msgs/msg/Bool` (e.g. e-stop engaged).
    BoolMsg = "std_msgs/msg/Bool", BOOL {
        /// The value.
        data: bool => bool, P(T::Bool), 1;
    }
}

ros_message! {
    /// `std_msgs/msg/Float64` (e.g. a payload mass, kg).
    Float64Msg = "std_msgs/msg/Float64", FLOAT64 {
        /// The value.
        data: f64 => f64, P(T::Float64), 8;
    }
}

ros_message! {
    /// `std_msgs/msg/String` (e.g. `/robot_description`, the URDF text).
    StringMsg = "std_msgs/msg/String", STRING {
        /// The text (UTF-8).
        data: String => string, P(T::String), 5;
    }
}

ros_message! {
    /// `trajectory_msgs/msg/JointTrajectoryPoint`: one waypoint of a joint trajectory. Each array is empty or
    /// as long as the trajectory's `joint_names`.
    JointTrajectoryPoint = "trajectory_msgs/msg/JointTrajectoryPoint", JOINT_TRAJECTORY_POINT {
        /// Positions, rad or m.
        positions: Vec<f64> => f64_seq, Seq(T::Float64), 4;
        /// Velocities, rad/s or m/s.
        velocities: Vec<f64> => f64_seq, Seq(T::Float64), 4;
        /// Accelerations, rad/s² or m/s².
        accelerations: Vec<f64> => f64_seq, Seq(T::Float64), 4;
        /// Efforts, N·m or N.
        effort: Vec<f64> => f64_seq, Seq(T::Float64), 4;
        /// When to reach this point, from the trajectory's header stamp.
        time_from_start: Duration => nested, Nested(&DURATION), 8;
    }
}

ros_message! {
    /// `trajectory_msgs/msg/JointTrajectory`: waypoints for a set of joints.
    JointTrajectory = "trajectory_msgs/msg/JointTrajectory", JOINT_TRAJECTORY {
        /// Start time (zero: now) and frame.
        header: Header => nested, Nested(&HEADER), 13;
        /// Joints the points refer to, in order.
        joint_names: Vec<String> => string_seq, Seq(T::String), 4;
        /// Waypoints, in time order.
        points: Vec<JointTrajectoryPoint> => seq, NestedSeq(&JOINT_TRAJECTORY_POINT), 4;
    }
}

/// Every message type here, for tests and tools that walk them all.
pub static ALL_TYPES: [&TypeDescription; 16] = [
    &TIME,
    &DURATION,
    &HEADER,
    &JOINT_STATE,
    &MULTI_ARRAY_DIMENSION,
    &MULTI_ARRAY_LAYOUT,
    &FLOAT64_MULTI_ARRAY,
    &POINT,
    &POINT_STAMPED,
    &VECTOR3,
    &INERTIA,
    &BOOL,
    &FLOAT64,
    &STRING,
    &JOINT_TRAJECTORY_POINT,
    &JOINT_TRAJECTORY,
];
