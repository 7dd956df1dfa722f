//! A run's bus traffic recorded into the report directory (MCAP, which `spikearm replay` and Foxglove open).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::bus::{Bus, Recorder, RecordingReport};

/// A bus recording being written to a file of the report directory.
pub struct BusRecording {
    recorder: Recorder<BufWriter<File>>,
    path: PathBuf,
}

/// Name of a run's bus recording in the report directory: `bus-<controller>.mcap`.
pub fn recording_file_name(controller: &str) -> String {
    format!("bus-{controller}.mcap")
}

/// Starts recording every key of `bus`'s arm into `<dir>/bus-<controller>.mcap` (`dir` created). Start it
/// before the nodes, stop it with [`BusRecording::finish`] after they have stopped and before the bus closes.
pub fn start_recording(bus: &Bus, dir: &Path, controller: &str) -> anyhow::Result<BusRecording> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(recording_file_name(controller));
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let recorder = Recorder::start(bus, BufWriter::with_capacity(1 << 16, file))
        .with_context(|| format!("recording the bus into {}", path.display()))?;
    Ok(BusRecording { recorder, path })
}

impl BusRecording {
    /// Stops recording, finishes the file and reports what it holds (a warning if samples were dropped).
    pub fn finish(self) -> anyhow::Result<RecordingReport> {
        let r = self.recorder.stop().with_context(|| format!("finishing {}", self.path.display()))?;
        if r.dropped > 0 {
            tracing::warn!(dropped = r.dropped, path = %self.path.display(), "bus recording: the writer fell behind");
        }
        tracing::debug!(messages = r.messages, path = %self.path.display(), "bus recording written");
        Ok(r)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
