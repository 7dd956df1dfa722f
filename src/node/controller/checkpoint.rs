//! Learned-weight checkpoints: written atomically (temp file in the same directory, fsync, rename, fsync the
//! directory) so a crash leaves either the old or the new file, never a torn one; loaded with a checksum and
//! shape check; a corrupt file is refused with a message by [`load_checkpoint`], which never touches it. The
//! controller node then moves it aside with [`set_aside`] (renamed, never deleted) and starts fresh.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::control::controller::WeightsProvenance;
use crate::neuro::LearnedWeights;

const FORMAT: &str = "spikearm-checkpoint";
const VERSION: u32 = 1;

/// What a checkpoint holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Always `spikearm-checkpoint`.
    pub format: String,
    /// File format version.
    pub version: u32,
    /// Arm the weights were learned on.
    pub arm: String,
    /// Controller that learned them.
    pub controller: String,
    /// Sim time of the last state the controller had seen, s.
    pub sim_time: f64,
    /// What the weights belong to (design, executor, seeds, input scaling, core parameters; see
    /// [`WeightsProvenance`]). A checkpoint written before this was recorded has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<WeightsProvenance>,
    /// FNV-1a 64 of the JSON of `weights`, hex.
    pub checksum: String,
    /// The learned readout.
    pub weights: LearnedWeights,
}

impl Checkpoint {
    /// Wraps `weights` with its checksum and what they belong to.
    pub fn new(
        arm: &str,
        controller: &str,
        provenance: Option<WeightsProvenance>,
        sim_time: f64,
        weights: LearnedWeights,
    ) -> Self {
        let checksum = checksum(&weights);
        Self {
            format: FORMAT.into(),
            version: VERSION,
            arm: arm.into(),
            controller: controller.into(),
            provenance,
            sim_time,
            checksum,
            weights,
        }
    }
}

/// Why a checkpoint could not be used. A corrupt file is never deleted or overwritten on load.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing failed.
    #[error("checkpoint {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The file exists but is not a usable checkpoint.
    #[error("checkpoint {path} is corrupt ({detail})")]
    Corrupt { path: PathBuf, detail: String },
    /// The file is a valid checkpoint for something else.
    #[error("checkpoint {path} does not fit: {detail}")]
    Mismatch { path: PathBuf, detail: String },
}

fn checksum(w: &LearnedWeights) -> String {
    let bytes = serde_json::to_vec(w).expect("weights serialise");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Writes `ckpt` to `path` atomically.
pub fn write_checkpoint(path: &Path, ckpt: &Checkpoint) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "checkpoint".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let body = serde_json::to_vec(ckpt).expect("checkpoint serialises");
    // Serialising takes a few hundred µs; a background writer hands the core back to a spinning control loop
    // before it goes on (a no-op when nothing else wants the core).
    std::thread::yield_now();
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // The rename is durable only once the directory entry is.
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Loads a checkpoint: `Ok(None)` when the file does not exist, an error naming the problem when it exists
/// but cannot be trusted (the file is left untouched).
pub fn load_checkpoint(path: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CheckpointError::Io { path: path.to_path_buf(), source }),
    };
    let corrupt = |detail: String| CheckpointError::Corrupt { path: path.to_path_buf(), detail };
    let ckpt: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("not a checkpoint: {e}")))?;
    if ckpt.format != FORMAT || ckpt.version != VERSION {
        return Err(corrupt(format!(
            "format `{}` version {}, expected `{FORMAT}` {VERSION}",
            ckpt.format, ckpt.version
        )));
    }
    let w = &ckpt.weights;
    if w.decoders.len() != w.neurons * w.dimensions {
        return Err(corrupt(format!(
            "{} decoders for {} neurons × {} dimensions",
            w.decoders.len(),
            w.neurons,
            w.dimensions
        )));
    }
    if let Some(i) = w.decoders.iter().position(|x| !x.is_finite()) {
        return Err(corrupt(format!("decoder {i} is not finite")));
    }
    let sum = checksum(w);
    if sum != ckpt.checksum {
        return Err(corrupt(format!("checksum {sum} does not match the recorded {}", ckpt.checksum)));
    }
    Ok(Some(ckpt))
}

/// Moves a refused checkpoint out of the way, to `<name>.corrupt-<unix seconds>` in the same directory
/// (`…-<unix seconds>-<k>` if that exists), so that a fresh start never overwrites it and a human can inspect
/// it. Returns the new path.
pub fn set_aside(path: &Path) -> Result<PathBuf, CheckpointError> {
    let io = |source| CheckpointError::Io { path: path.to_path_buf(), source };
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "checkpoint".into());
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    for k in 0..1000u32 {
        let candidate = match k {
            0 => dir.join(format!("{name}.corrupt-{secs}")),
            _ => dir.join(format!("{name}.corrupt-{secs}-{k}")),
        };
        if candidate.symlink_metadata().is_ok() {
            continue;
        }
        fs::rename(path, &candidate).map_err(io)?;
        return Ok(candidate);
    }
    Err(io(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "no free `.corrupt-*` name")))
}
