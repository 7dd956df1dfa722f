//! A host: the nodes of many arms (sims, controllers, or both) served in one process by a small fixed pool
//! of threads, instead of a thread — and in real time a spinning core — per node.
//!
//! Each worker thread owns some of the nodes (dealt round-robin) and loops over them, giving each a
//! [`Turn`] that never waits ([`Patience::None`]): a sim steps when its period's deadline has come (each arm
//! at its own rate), a controller answers a state that has arrived. Only when no node had work does the
//! worker wait, as [`HostParams::wait`] says: spinning (yield, the 1 kHz choice: a halted CPU wakes late on
//! virtual machines, see [`WaitMode`]) or napping briefly once nothing has come for a few hundred µs. The
//! nodes' own `wait` settings are not used. A node that finishes is parted at once; one that fails ends
//! alone, with its error, and the others carry on.

use std::time::{Duration, Instant};

use super::common::{Patience, Shutdown, Turn, WaitMode};
use super::{ControllerNode, ControllerNodeReport, NodeError, SimNode, SimNodeReport};

/// How long a napping worker sleeps when none of its nodes had work, µs: a fraction of a 1-ms period.
const NAP: Duration = Duration::from_micros(50);
/// How long a napping worker keeps spinning after its last work before it naps: the answers to what it just
/// sent (a state's torque, the next state of an arm it just answered) come within a few hundred µs, and a
/// spinning worker sees them at once where a napping one sees them a wake-up later.
const SPIN_AFTER_WORK: Duration = Duration::from_micros(300);

/// The pool of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostParams {
    /// Worker threads (≥ 1). Each node is served by one of them; with fewer cores than workers, spinning
    /// workers take turns on the cores.
    pub threads: usize,
    /// How a worker waits when none of its nodes has work: spin (lowest latency, one busy core per worker)
    /// or sleep (naps of 50 µs once 300 µs have passed without work: for shared machines and real-time
    /// priority, where a thread that never sleeps is throttled).
    pub wait: WaitMode,
}

impl Default for HostParams {
    fn default() -> Self {
        Self { threads: 1, wait: WaitMode::Spin }
    }
}

/// A node a host serves.
pub enum HostedNode<'c> {
    /// A sim node.
    Sim(Box<SimNode>),
    /// A controller node (it borrows its controller, which outlives the host's threads).
    Controller(Box<ControllerNode<'c>>),
}

/// What a hosted node reports when it has finished.
#[derive(Debug)]
pub enum HostedReport {
    /// A sim node's report.
    Sim(Box<SimNodeReport>),
    /// A controller node's report.
    Controller(Box<ControllerNodeReport>),
}

impl HostedNode<'_> {
    fn start(&mut self) -> Result<(), NodeError> {
        match self {
            HostedNode::Sim(s) => s.start(),
            HostedNode::Controller(_) => Ok(()),
        }
    }

    fn turn(&mut self, shutdown: &Shutdown) -> Result<Turn, NodeError> {
        match self {
            HostedNode::Sim(s) => s.turn(shutdown, Patience::None),
            HostedNode::Controller(c) => c.turn(shutdown, Patience::None),
        }
    }

    fn finish(self) -> Result<HostedReport, NodeError> {
        Ok(match self {
            HostedNode::Sim(s) => HostedReport::Sim(Box::new(s.finish())),
            HostedNode::Controller(c) => HostedReport::Controller(Box::new(c.finish()?)),
        })
    }
}

/// Serves `nodes` on `params.threads` worker threads until every node has finished (its duration, its
/// sim's last state, or `shutdown`). Returns each node's report or error, in the order of `nodes`.
pub fn serve(
    nodes: Vec<HostedNode<'_>>,
    params: HostParams,
    shutdown: &Shutdown,
) -> Vec<Result<HostedReport, NodeError>> {
    let threads = params.threads.max(1);
    let mut shares: Vec<Vec<(usize, HostedNode<'_>)>> = (0..threads).map(|_| Vec::new()).collect();
    let total = nodes.len();
    for (i, n) in nodes.into_iter().enumerate() {
        shares[i % threads].push((i, n));
    }
    let mut results: Vec<Option<Result<HostedReport, NodeError>>> = (0..total).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = shares
            .into_iter()
            .enumerate()
            .filter(|(_, share)| !share.is_empty())
            .map(|(w, share)| {
                std::thread::Builder::new()
                    .name(format!("spikearm-host-{w}"))
                    .spawn_scoped(scope, move || work(share, params.wait, shutdown))
                    .expect("spawning a host worker thread")
            })
            .collect();
        for w in workers {
            for (i, r) in w.join().expect("a host worker panicked") {
                results[i] = Some(r);
            }
        }
    });
    results.into_iter().map(|r| r.expect("every node ends with a report or an error")).collect()
}

/// One worker: turns of its nodes, round and round, until each has finished.
fn work(
    mut nodes: Vec<(usize, HostedNode<'_>)>,
    wait: WaitMode,
    shutdown: &Shutdown,
) -> Vec<(usize, Result<HostedReport, NodeError>)> {
    let mut ended = Vec::with_capacity(nodes.len());
    let mut i = 0;
    while i < nodes.len() {
        match nodes[i].1.start() {
            Ok(()) => i += 1,
            Err(e) => ended.push((nodes.remove(i).0, Err(e))),
        }
    }
    let mut last_work = Instant::now();
    while !nodes.is_empty() {
        let mut worked = false;
        let mut i = 0;
        while i < nodes.len() {
            match nodes[i].1.turn(shutdown) {
                Ok(Turn::Worked) => {
                    worked = true;
                    i += 1;
                }
                Ok(Turn::Idle) => i += 1,
                Ok(Turn::Done) => {
                    let (k, node) = nodes.remove(i);
                    ended.push((k, node.finish()));
                }
                Err(e) => {
                    tracing::error!("host: a node failed and was stopped: {e}");
                    ended.push((nodes.remove(i).0, Err(e)));
                }
            }
        }
        if worked {
            last_work = Instant::now();
        } else if wait == WaitMode::Spin || last_work.elapsed() < SPIN_AFTER_WORK {
            std::thread::yield_now();
        } else {
            std::thread::sleep(NAP);
        }
    }
    ended
}
