//! Every key expression of the bus, in one place.

/// Key expressions for one arm. All keys live under `spikearm/<arm>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Root of every key.
    pub const ROOT: &'static str = "spikearm";

    /// Keys for the arm named `arm` (a single key chunk: no `/`, `*`, `$`, `?`, `#`, not empty).
    pub fn new(arm: &str) -> Result<Self, String> {
        if !valid_chunk(arm) {
            return Err(format!("arm name `{arm}` is not a single key chunk (no '/', '*', '$', '?', '#', not empty)"));
        }
        Ok(Self { prefix: format!("{}/{arm}", Self::ROOT) })
    }

    /// `spikearm/<arm>`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    /// Sim → all: [`super::JointStates`].
    pub fn joint_states(&self) -> String {
        format!("{}/joint_states", self.prefix)
    }
    /// Controller → sim: [`super::TorqueCmd`].
    pub fn torque_cmd(&self) -> String {
        format!("{}/torque_cmd", self.prefix)
    }
    /// Any → controller: [`super::Target`].
    pub fn target(&self) -> String {
        format!("{}/target", self.prefix)
    }
    /// Any → sim: [`super::Payload`].
    pub fn payload(&self) -> String {
        format!("{}/payload", self.prefix)
    }
    /// Any → all: [`super::Estop`].
    pub fn estop(&self) -> String {
        format!("{}/estop", self.prefix)
    }
    /// Nodes → all: [`super::Status`], one key per node: `…/status/<node>`.
    pub fn status(&self, node: &str) -> String {
        format!("{}/status/{node}", self.prefix)
    }
    /// Every node's status.
    pub fn status_all(&self) -> String {
        format!("{}/status/*", self.prefix)
    }
    /// Liveliness token of one node.
    pub fn alive(&self, node: &str) -> String {
        format!("{}/alive/{node}", self.prefix)
    }
    /// Every node's liveliness token.
    pub fn alive_all(&self) -> String {
        format!("{}/alive/*", self.prefix)
    }
    /// Parameter queryable of one node ([`super::ParamsRequest`] → [`super::ParamsReply`]).
    pub fn params(&self, node: &str) -> String {
        format!("{}/params/{node}", self.prefix)
    }
}

fn valid_chunk(s: &str) -> bool {
    !s.is_empty() && !s.contains(['/', '*', '$', '?', '#'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_under_the_arm_prefix() {
        let k = Keys::new("ur5e").unwrap();
        assert_eq!(k.joint_states(), "spikearm/ur5e/joint_states");
        assert_eq!(k.torque_cmd(), "spikearm/ur5e/torque_cmd");
        assert_eq!(k.alive("sim"), "spikearm/ur5e/alive/sim");
        assert_eq!(k.params("controller"), "spikearm/ur5e/params/controller");
        assert!(Keys::new("a/b").is_err());
        assert!(Keys::new("").is_err());
        assert!(Keys::new("**").is_err());
    }
}
