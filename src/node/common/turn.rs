//! One turn of a node: the unit a standalone node loops over and a [`crate::node::host`] interleaves with
//! other nodes' turns on its threads.

/// What one turn of a node did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// It stepped, answered a state or sent something time-critical: a host looks round its nodes again at once.
    Worked,
    /// Nothing was due yet (the next step's deadline, a state not yet arrived).
    Idle,
    /// The node has finished (its duration, its sim's last state, a shutdown): it is parted next.
    Done,
}

/// How long a turn may wait for the bus or the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    /// A node on a thread of its own: wait as its settings' `wait` says, up to its next deadline or a poll
    /// period, so that its loop does not spin on the turns themselves.
    Wait,
    /// A hosted node: never wait; the host serves its other nodes meanwhile.
    None,
}

impl Patience {
    /// How long a wait for the bus may last: `poll` for a node that waits, nothing for a hosted one.
    pub fn up_to(self, poll: std::time::Duration) -> std::time::Duration {
        match self {
            Patience::Wait => poll,
            Patience::None => std::time::Duration::ZERO,
        }
    }
}
