//! The scenario file format.

use serde::{Deserialize, Serialize};

use crate::control::factory::ControllerParams;
use crate::eval::metrics::WindowSpec;
use crate::node::TimingMode;

/// A scenario. Unknown keys are refused by name.
///
/// One arm is described by the top-level `arm`, `urdf` and `initial_q`; a fleet by `[[arms]]` tables
/// instead (then the top-level three are left out). Everything else (timing, duration, controllers,
/// windows, and the `controller`, `circle` and `events` an arm does not set itself) applies to every arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Short name for the report.
    pub name: String,
    /// Arm name (bus key prefix) of a one-arm scenario; empty with `[[arms]]`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arm: String,
    /// URDF file of a one-arm scenario, relative to the working directory; empty with `[[arms]]`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub urdf: String,
    /// Timing mode of the sim. Default lockstep.
    #[serde(default = "lockstep")]
    pub timing: TimingMode,
    /// Simulated duration, s.
    pub duration_s: f64,
    /// Start pose of a one-arm scenario, rad; empty with `[[arms]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub initial_q: Vec<f64>,
    /// The arms of a fleet, all running at once (each on its own keys `spikearm/<id>/…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arms: Vec<ArmSpec>,
    /// Keep every n-th state/tick for metrics and plots. Default 10.
    #[serde(default = "default_record_every")]
    pub record_every: u32,
    /// Controllers run on the same events, one run each; the first is the main one. Default `["adaptive"]`.
    #[serde(default = "default_controllers")]
    pub controllers: Vec<String>,
    /// Settings shared by every controller (its `kind` is replaced by each entry of `controllers`).
    #[serde(default)]
    pub controller: ControllerParams,
    /// Targets on a circle around the start end-effector position (optional).
    #[serde(default)]
    pub circle: Option<CircleSpec>,
    /// Timed events.
    #[serde(default)]
    pub events: Vec<EventSpec>,
    /// Metric windows (named spans of sim time over which the mean error is reported).
    #[serde(default)]
    pub windows: Vec<WindowSpec>,
    /// A payload put on and taken off periodically (soak runs). Expanded into `events` and `windows` when
    /// the file is read, so the report's `scenario.toml` lists what actually ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_cycle: Option<PayloadCycleSpec>,
    /// Checkpoint the learned weights into this directory (created) while running, as the daemon does
    /// (`<dir>/<scenario>-<controller>.json`). None: no checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_dir: Option<String>,
    /// Record the run's bus traffic into the report (`bus-<controller>.mcap`, ~0.2 MB per simulated second
    /// at 1 kHz). Default true; long runs turn it off.
    #[serde(default = "default_true")]
    pub record_bus: bool,
    /// Checkpoint period, s of wall time (with `checkpoint_dir`). Default 10.
    #[serde(default = "default_checkpoint_period")]
    pub checkpoint_period_s: f64,
}

/// One arm of a fleet (`[[arms]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmSpec {
    /// The arm's name: its bus key prefix `spikearm/<id>/` and its report directory.
    pub id: String,
    /// URDF file, relative to the working directory.
    pub urdf: String,
    /// Start pose, rad.
    pub initial_q: Vec<f64>,
    /// This arm's controller settings, replacing the scenario's `[controller]` (its `kind` is replaced by
    /// each entry of `controllers`). Absent: the scenario's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<ControllerParams>,
    /// This arm's target circle, replacing the scenario's. Absent: the scenario's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circle: Option<CircleSpec>,
    /// This arm's timed events (payload, e-stop, targets), added to the scenario's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventSpec>,
}

fn lockstep() -> TimingMode {
    TimingMode::Lockstep
}
fn default_true() -> bool {
    true
}
fn default_checkpoint_period() -> f64 {
    10.0
}

/// The payload goes on at `start_s`, off one `period_s` later, on again after another, … until the end of the
/// run. Every period gets a scored window: its last `score_s` seconds, named `on_<k>` or `off_<k>` (k counts
/// periods from 1). A window `before` covers the `score_s` before `start_s` (the no-payload reference).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadCycleSpec {
    /// First attachment, s.
    pub start_s: f64,
    /// Time between changes, s.
    pub period_s: f64,
    /// Payload mass while on, kg.
    pub mass_kg: f64,
    /// Length of the scored window at the end of each period, s (one lap of targets is natural).
    pub score_s: f64,
}

/// Most laps scored per run (each costs a comparison per controller tick; a 30-min soak has ~110).
pub const MAX_LAPS: usize = 256;

fn default_record_every() -> u32 {
    10
}
fn default_controllers() -> Vec<String> {
    vec!["adaptive".into()]
}

/// Reaching targets on a circle in the world x–z plane around the start end-effector position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircleSpec {
    /// First target at this time, s.
    pub start_s: f64,
    /// Time per target, s.
    pub reach_s: f64,
    /// Targets per lap.
    pub targets: usize,
    /// Radius, m.
    pub radius_m: f64,
}

/// One timed event: exactly one of `target`, `payload_kg`, `estop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// Sim time, s.
    pub t: f64,
    /// New end-effector target, m.
    #[serde(default)]
    pub target: Option<[f64; 3]>,
    /// Attach (kg > 0) or remove (0) the payload at the end effector.
    #[serde(default)]
    pub payload_kg: Option<f64>,
    /// Engage (true) or clear (false) the e-stop.
    #[serde(default)]
    pub estop: Option<bool>,
}

impl ScenarioSpec {
    /// Parses and checks a scenario.
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let mut s: Self = toml::from_str(text)?;
        anyhow::ensure!(s.duration_s > 0.0 && s.duration_s.is_finite(), "duration_s must be > 0");
        anyhow::ensure!(s.checkpoint_period_s >= 0.0, "checkpoint_period_s must be ≥ 0");
        if let Some(c) = s.payload_cycle.take() {
            s.expand_payload_cycle(&c)?;
        }
        anyhow::ensure!(!s.controllers.is_empty(), "controllers must name at least one controller");
        for e in s.events.iter().chain(s.arms.iter().flat_map(|a| &a.events)) {
            let n =
                usize::from(e.target.is_some()) + usize::from(e.payload_kg.is_some()) + usize::from(e.estop.is_some());
            anyhow::ensure!(n == 1, "event at t = {} must set exactly one of target, payload_kg, estop", e.t);
        }
        if s.arms.is_empty() {
            anyhow::ensure!(
                !s.arm.is_empty() && !s.urdf.is_empty(),
                "a scenario names `arm` and `urdf`, or `[[arms]]`"
            );
        } else {
            anyhow::ensure!(
                s.arm.is_empty() && s.urdf.is_empty() && s.initial_q.is_empty(),
                "with `[[arms]]`, the top-level `arm`, `urdf` and `initial_q` are left out (each arm names its own)"
            );
            let mut ids = std::collections::BTreeSet::new();
            for a in &s.arms {
                crate::bus::Keys::new(&a.id).map_err(|e| anyhow::anyhow!("arm id: {e}"))?;
                anyhow::ensure!(ids.insert(a.id.as_str()), "arm id `{}` appears twice", a.id);
            }
        }
        Ok(s)
    }

    /// Whether the scenario has `[[arms]]` tables (a fleet), even of one.
    pub fn is_fleet(&self) -> bool {
        !self.arms.is_empty()
    }

    /// Each arm as a one-arm scenario of its own: the arm's fields, its controller and circle (or the
    /// scenario's), the scenario's events followed by the arm's (in time order), named `<name>-<id>`. That
    /// scenario run alone gives this arm's results in the fleet, bit for bit in lockstep. A one-arm scenario
    /// gives itself.
    pub fn arm_scenarios(&self) -> Vec<ScenarioSpec> {
        if self.arms.is_empty() {
            return vec![self.clone()];
        }
        self.arms
            .iter()
            .map(|a| {
                let mut events: Vec<EventSpec> = self.events.iter().chain(&a.events).cloned().collect();
                events.sort_by(|x, y| x.t.total_cmp(&y.t));
                ScenarioSpec {
                    name: format!("{}-{}", self.name, a.id),
                    arm: a.id.clone(),
                    urdf: a.urdf.clone(),
                    initial_q: a.initial_q.clone(),
                    arms: Vec::new(),
                    controller: a.controller.clone().unwrap_or_else(|| self.controller.clone()),
                    circle: a.circle.or(self.circle),
                    events,
                    ..self.clone()
                }
            })
            .collect()
    }

    fn expand_payload_cycle(&mut self, c: &PayloadCycleSpec) -> anyhow::Result<()> {
        anyhow::ensure!(
            c.period_s > 0.0 && c.score_s > 0.0 && c.score_s <= c.period_s && c.start_s >= c.score_s,
            "payload_cycle needs period_s > 0, 0 < score_s ≤ period_s and start_s ≥ score_s"
        );
        anyhow::ensure!(c.mass_kg > 0.0 && c.mass_kg.is_finite(), "payload_cycle.mass_kg must be > 0");
        self.windows.push(WindowSpec { name: "before".into(), from_s: c.start_s - c.score_s, to_s: c.start_s });
        let mut k = 0usize;
        while c.start_s + k as f64 * c.period_s < self.duration_s {
            let t = c.start_s + k as f64 * c.period_s;
            let on = k.is_multiple_of(2);
            self.events.push(EventSpec {
                t,
                target: None,
                payload_kg: Some(if on { c.mass_kg } else { 0.0 }),
                estop: None,
            });
            let end = t + c.period_s;
            if end <= self.duration_s {
                let name = format!("{}_{}", if on { "on" } else { "off" }, k + 1);
                self.windows.push(WindowSpec { name, from_s: end - c.score_s, to_s: end });
            }
            k += 1;
        }
        Ok(())
    }

    /// The laps of the target circle, `(from_s, to_s)`: one per `targets × reach_s` from the circle's start,
    /// whole laps within the run only, at most [`MAX_LAPS`]. Empty without a circle.
    pub fn laps(&self) -> Vec<(f64, f64)> {
        let Some(c) = self.circle.filter(|c| c.targets > 0 && c.reach_s > 0.0) else { return Vec::new() };
        let lap = c.reach_s * c.targets as f64;
        (0..MAX_LAPS)
            .map(|k| (c.start_s + k as f64 * lap, c.start_s + (k + 1) as f64 * lap))
            .take_while(|&(_, to)| to <= self.duration_s + 1e-9)
            .collect()
    }

    /// Payload mass in effect at sim time `t`, kg (the last payload event at or before `t`).
    pub fn payload_at(&self, t: f64) -> f64 {
        let mut events: Vec<(f64, f64)> = self.payload_times();
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        events.iter().take_while(|(te, _)| *te <= t).last().map_or(0.0, |(_, m)| *m)
    }

    /// Times of payload changes, s (for plot markers).
    pub fn payload_times(&self) -> Vec<(f64, f64)> {
        self.events.iter().filter_map(|e| e.payload_kg.map(|m| (e.t, m))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "name = \"s\"\narm = \"a\"\nurdf = \"u\"\nduration_s = 100.0\ninitial_q = [0.0]\n";

    #[test]
    fn a_payload_cycle_expands_into_alternating_events_and_scored_windows() {
        let text = format!("{BASE}[payload_cycle]\nstart_s = 10.0\nperiod_s = 30.0\nmass_kg = 2.0\nscore_s = 8.0\n");
        let s = ScenarioSpec::from_toml(&text).unwrap();
        assert_eq!(s.payload_cycle, None, "expanded, so the written scenario lists what ran");
        assert_eq!(s.payload_times(), vec![(10.0, 2.0), (40.0, 0.0), (70.0, 2.0)]);
        let w: Vec<(&str, f64, f64)> = s.windows.iter().map(|w| (w.name.as_str(), w.from_s, w.to_s)).collect();
        // The third period (70–100 s) ends exactly at the end of the run and is scored.
        assert_eq!(w, vec![("before", 2.0, 10.0), ("on_1", 32.0, 40.0), ("off_2", 62.0, 70.0), ("on_3", 92.0, 100.0)]);
        assert_eq!(
            (s.payload_at(9.9), s.payload_at(10.0), s.payload_at(50.0), s.payload_at(99.0)),
            (0.0, 2.0, 0.0, 2.0)
        );
        let again = ScenarioSpec::from_toml(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(again, s, "the expanded scenario reads back unchanged");
    }

    #[test]
    fn arms_become_one_arm_scenarios_with_the_shared_settings_and_their_own() {
        let text = "name = \"f\"\nduration_s = 5.0\ncontrollers = [\"adaptive\", \"osc\"]\n\
                    [controller]\nkp = 150.0\n[[events]]\nt = 2.0\nestop = true\n\
                    [[arms]]\nid = \"a\"\nurdf = \"ua\"\ninitial_q = [0.1]\n\
                    [[arms.events]]\nt = 1.0\npayload_kg = 1.0\n\
                    [[arms]]\nid = \"b\"\nurdf = \"ub\"\ninitial_q = [0.2, 0.3]\n[arms.controller]\nkp = 90.0\n";
        let s = ScenarioSpec::from_toml(text).unwrap();
        let per = s.arm_scenarios();
        assert_eq!(per.len(), 2);
        assert_eq!((per[0].name.as_str(), per[0].arm.as_str(), per[0].urdf.as_str()), ("f-a", "a", "ua"));
        assert_eq!(per[0].controller.kp, 150.0);
        assert_eq!(per[1].controller.kp, 90.0);
        assert_eq!(per[0].events.iter().map(|e| e.t).collect::<Vec<_>>(), vec![1.0, 2.0]);
        assert_eq!(per[1].events.len(), 1);
        assert!(per.iter().all(|p| !p.is_fleet() && p.controllers == s.controllers));
        assert_eq!(ScenarioSpec::from_toml(&toml::to_string(&s).unwrap()).unwrap(), s, "reads back");
        // Duplicate ids, and top-level arm fields next to [[arms]], are refused.
        let dup = format!("{text}[[arms]]\nid = \"a\"\nurdf = \"u\"\ninitial_q = [0.0]\n");
        assert!(ScenarioSpec::from_toml(&dup).unwrap_err().to_string().contains("twice"));
        let both = format!("arm = \"x\"\n{text}");
        assert!(ScenarioSpec::from_toml(&both).is_err());
    }

    #[test]
    fn a_payload_cycle_without_room_for_the_reference_window_is_refused() {
        let text = format!("{BASE}[payload_cycle]\nstart_s = 4.0\nperiod_s = 30.0\nmass_kg = 2.0\nscore_s = 8.0\n");
        let e = ScenarioSpec::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("start_s ≥ score_s"), "{e}");
    }
}
