//! The arm-dependent half of input validation, shared by both nodes (the stateless half is each message's
//! `check` in `crate::bus`): joint count and names of incoming states. The
//! arm's envelope itself lives with the arm ([`ArmEnvelope`]).

use std::fmt;

use super::rejections::Reason;
use crate::arm::envelope::ArmEnvelope;
use crate::bus::JointStates;

/// A refusal by the validation below: the counter reason and what was wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// Counter reason.
    pub reason: Reason,
    /// What was wrong, in words.
    pub detail: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// Refuses a state that is not of this arm: a joint count other than the arm's (`dimension`) or, when the
/// state names its joints, other names or another order (`unknown_arm`). Allocation-free when the state is
/// accepted.
pub fn check_state(arm: &ArmEnvelope, js: &JointStates) -> Result<(), Refusal> {
    if js.position.len() != arm.dof() {
        return Err(Refusal {
            reason: Reason::Dimension,
            detail: format!("{} joints, this arm has {}", js.position.len(), arm.dof()),
        });
    }
    if !js.name.is_empty() && js.name != arm.joint_names() {
        return Err(Refusal {
            reason: Reason::UnknownArm,
            detail: format!("joint names {:?} are not this arm's {:?}", js.name, arm.joint_names()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::description::ArmSpec;

    fn urdf(name: &str) -> String {
        std::fs::read_to_string(format!("{}/config/arms/{name}.urdf", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn states_of_another_arm_are_recognised() {
        let env = ArmEnvelope::from_spec(&ArmSpec::from_urdf_str(&urdf("threelink")).unwrap());
        let mut js = JointStates {
            v: 1,
            stamp: 0.0,
            seq: 0,
            name: env.joint_names().to_vec(),
            position: vec![0.0; 3],
            velocity: vec![0.0; 3],
            effort: vec![0.0; 3],
            ee_position: [0.0; 3],
            payload_effort: Vec::new(),
        };
        assert_eq!(check_state(&env, &js), Ok(()));
        js.name.clear();
        assert_eq!(check_state(&env, &js), Ok(()), "names are optional");
        js.name = vec!["shoulder_pan_joint".into(), "b".into(), "c".into()];
        assert_eq!(check_state(&env, &js).unwrap_err().reason, Reason::UnknownArm);
        js.name.clear();
        js.position.push(0.0);
        assert_eq!(check_state(&env, &js).unwrap_err().reason, Reason::Dimension);
    }
}
