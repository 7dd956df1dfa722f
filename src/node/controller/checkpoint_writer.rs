//! Periodic checkpoints written off the control thread. An atomic write (serialise, fsync the file, rename,
//! fsync the directory) takes milliseconds on a healthy disk and much longer on a failing one; a 1 kHz loop
//! that waited for it would miss its deadlines every checkpoint period. The control thread hands over a
//! snapshot of the weights and goes on; a writer thread checksums and writes it with [`write_checkpoint`] and
//! reports back.
//!
//! On a small machine the control loops spin on every core, and the writer's CPU work (≈ 0.6 ms per 1000×3
//! weights: two JSON serialisations) takes one of them. It yields between its pieces, so a loop loses a
//! few hundred µs at a time rather than a period. (Idle scheduling priority was tried and starves the writer
//! outright while the loops spin: checkpoints fall seconds behind.)

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;

use super::checkpoint::{Checkpoint, CheckpointError, write_checkpoint};
use crate::control::controller::WeightsProvenance;
use crate::neuro::LearnedWeights;

/// A snapshot handed to the writer: sim time, s, and the weights.
type Job = (f64, LearnedWeights);

/// A thread that writes one node's checkpoints to one path, one at a time.
pub struct CheckpointWriter {
    jobs: Option<SyncSender<Job>>,
    results: Receiver<Result<(), CheckpointError>>,
    thread: Option<JoinHandle<()>>,
    in_flight: bool,
    path: PathBuf,
}

impl CheckpointWriter {
    /// Starts the writer thread for `path`; its checkpoints name `arm` and `controller`.
    pub fn spawn(
        path: PathBuf,
        arm: String,
        controller: String,
        provenance: Option<WeightsProvenance>,
    ) -> std::io::Result<Self> {
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(1);
        let (result_tx, results) = mpsc::channel();
        let at = path.clone();
        let thread = std::thread::Builder::new().name("checkpoint-writer".into()).spawn(move || {
            for (sim_time, weights) in job_rx {
                let ckpt = Checkpoint::new(&arm, &controller, provenance.clone(), sim_time, weights);
                std::thread::yield_now();
                if result_tx.send(write_checkpoint(&at, &ckpt)).is_err() {
                    break;
                }
            }
        })?;
        Ok(Self { jobs: Some(jobs), results, thread: Some(thread), in_flight: false, path })
    }

    /// Whether a snapshot handed over has not been reported on yet.
    pub fn busy(&self) -> bool {
        self.in_flight
    }

    /// Hands the weights learned by sim time `sim_time` (s) to the writer without waiting. Returns `false`
    /// (and drops them) while the previous write is still going: a slow disk then costs checkpoint frequency,
    /// never control ticks.
    pub fn submit(&mut self, sim_time: f64, weights: LearnedWeights) -> bool {
        if self.in_flight || self.jobs.as_ref().is_none_or(|j| j.try_send((sim_time, weights)).is_err()) {
            return false;
        }
        self.in_flight = true;
        true
    }

    /// The outcome of the write handed over last, once it is done (`None` while it runs or if none is).
    pub fn poll(&mut self) -> Option<Result<(), CheckpointError>> {
        match self.results.try_recv() {
            Ok(r) => {
                self.in_flight = false;
                Some(r)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                // Only a panic in the writer ends it early; say so once and let the caller go on.
                let was = std::mem::replace(&mut self.in_flight, false);
                was.then(|| {
                    Err(CheckpointError::Io {
                        path: self.path.clone(),
                        source: std::io::Error::other("the checkpoint writer thread stopped"),
                    })
                })
            }
        }
    }

    /// Waits for the write in flight, stops the thread and returns that write's outcome (`None` if none
    /// was in flight).
    pub fn finish(mut self) -> Option<Result<(), CheckpointError>> {
        self.stop();
        let r = self.results.try_recv().ok();
        self.in_flight = false;
        r
    }

    fn stop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for CheckpointWriter {
    /// Lets a write in progress complete (the file is replaced atomically either way).
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::load_checkpoint;

    fn weights(t: f64) -> LearnedWeights {
        LearnedWeights { neurons: 2, dimensions: 1, decoders: vec![t, -t] }
    }

    fn writer(path: &std::path::Path) -> CheckpointWriter {
        CheckpointWriter::spawn(path.to_path_buf(), "threelink".into(), "adaptive".into(), None).unwrap()
    }

    #[test]
    fn writes_in_the_background_one_at_a_time_and_reports() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.json");
        let mut w = writer(&path);
        assert!(w.submit(1.0, weights(1.0)));
        assert!(!w.submit(2.0, weights(2.0)), "a second snapshot while the first is in flight is declined");
        let r = loop {
            if let Some(r) = w.poll() {
                break r;
            }
            std::thread::yield_now();
        };
        r.unwrap();
        assert!(!w.busy());
        let first = load_checkpoint(&path).unwrap().unwrap();
        assert_eq!((first.arm.as_str(), first.controller.as_str(), first.sim_time), ("threelink", "adaptive", 1.0));
        assert_eq!(first.weights, weights(1.0));
        assert!(w.submit(3.0, weights(3.0)));
        w.finish().expect("the write in flight is waited for").unwrap();
        assert_eq!(load_checkpoint(&path).unwrap().unwrap().weights, weights(3.0));
    }

    #[test]
    fn a_failed_write_comes_back_as_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: the rename fails.
        let path = dir.path().join("w.json");
        std::fs::create_dir(&path).unwrap();
        let mut w = writer(&path);
        assert!(w.submit(1.0, weights(1.0)));
        assert!(w.finish().unwrap().is_err());
    }
}
