//! `spikearm sim …`: open-loop physics runs. File I/O lives here; the physics is `spikearm_sim`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use spikearm_sim::{ArmWorld, PayloadSpec, SimParams};

/// Commands on the physics alone.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Run a URDF arm open-loop (given torques, no controller) and write its trajectory as JSON.
    ///
    /// Example: spikearm sim run --arm config/arms/ur5e.urdf --q0 0,-1.57,0,0,0,0 --steps 2000 --out traj.json
    Run(RunArgs),
    /// The sim node: the physics on the zenoh bus (publishes joint_states, applies torque_cmd, watchdog).
    ///
    /// Example: spikearm sim node --config config/sim.toml --set timing=lockstep
    Node(super::node_cmd::NodeArgs),
}

/// Arguments of `spikearm sim run`. Vectors are comma-separated, one value per actuated joint in URDF order.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// URDF file of the arm (e.g. config/arms/ur5e.urdf); it needs an `ee` link.
    #[arg(long, value_name = "URDF")]
    pub arm: PathBuf,
    /// Initial joint positions, rad [default: all 0].
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, value_name = "Q,…")]
    pub q0: Option<Vec<f64>>,
    /// Initial joint velocities, rad/s [default: all 0].
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, value_name = "DQ,…")]
    pub dq0: Option<Vec<f64>>,
    /// Torque schedule, JSON: {"torques": [[τ1, …, τn], …], "hold_steps": 1} or a bare [[…], …].
    /// Row k acts during steps k·hold_steps … (k+1)·hold_steps − 1; the last row is held to the end.
    #[arg(long, value_name = "FILE.json", conflicts_with = "const_torque")]
    pub torques: Option<PathBuf>,
    /// Constant joint torques, N·m, for the whole run [default: zero torque].
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, value_name = "TAU,…")]
    pub const_torque: Option<Vec<f64>>,
    /// Number of steps to simulate.
    #[arg(long, value_name = "N")]
    pub steps: u64,
    /// Step length, s.
    #[arg(long, default_value_t = 0.001, value_name = "S")]
    pub dt: f64,
    /// Point-mass payload on the `ee` frame, kg, attached from the start.
    #[arg(long, value_name = "KG")]
    pub payload_kg: Option<f64>,
    /// Payload position in the `ee` frame, m (x,y,z).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, value_name = "X,Y,Z", requires = "payload_kg")]
    pub payload_offset: Option<Vec<f64>>,
    /// Record every K-th step (the initial state and the last step are always recorded).
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub every: u64,
    /// Viscous joint damping, N·m·s/rad, on every joint.
    #[arg(long, default_value_t = 0.0, value_name = "D")]
    pub damping: f64,
    /// Internal substeps per step: with rapier's integrator (the default) more lowers its energy drift at a
    /// proportional cost; with RK4 one is already faithful at 1 ms.
    #[arg(long, default_value_t = SimParams::default().substeps, value_name = "N")]
    pub substeps: usize,
    /// Let joints pass their URDF position limits instead of stopping hard.
    #[arg(long)]
    pub no_limits: bool,
    /// Output trajectory file (JSON).
    #[arg(long, value_name = "TRAJ.json")]
    pub out: PathBuf,
}

/// A torque schedule file.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TorqueFile {
    Table(TorqueTable),
    Rows(Vec<Vec<f64>>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TorqueTable {
    /// One row of joint torques (N·m) per hold period.
    torques: Vec<Vec<f64>>,
    /// Steps each row is held for.
    #[serde(default = "one")]
    hold_steps: u64,
}

fn one() -> u64 {
    1
}

/// The trajectory file: metadata plus one column per recorded quantity, one entry per recorded step.
#[derive(Debug, Serialize)]
struct Trajectory {
    arm: String,
    urdf: String,
    joint_names: Vec<String>,
    dt: f64,
    steps: u64,
    every: u64,
    substeps: usize,
    payload: Option<PayloadOut>,
    /// s
    t: Vec<f64>,
    /// rad
    q: Vec<Vec<f64>>,
    /// rad/s
    dq: Vec<Vec<f64>>,
    /// N·m, applied (clamped) during the step that ended at t
    tau: Vec<Vec<f64>>,
    /// m, world frame
    ee: Vec<[f64; 3]>,
    /// unit quaternion [x, y, z, w]
    ee_quat: Vec<[f64; 4]>,
    /// J, kinetic + potential
    energy: Vec<f64>,
    /// J
    kinetic: Vec<f64>,
    /// J
    potential: Vec<f64>,
}

#[derive(Debug, Serialize)]
struct PayloadOut {
    mass_kg: f64,
    offset_m: [f64; 3],
}

impl SimCommand {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            SimCommand::Run(args) => args.run(),
            SimCommand::Node(args) => super::node_cmd::run_sim(&args),
        }
    }
}

fn check_dof(what: &str, v: &[f64], dof: usize, arm: &Path) -> anyhow::Result<()> {
    ensure!(v.len() == dof, "{what} has {} values but {} has {dof} actuated joints", v.len(), arm.display());
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        bail!("{what}[{i}] is not a finite number ({})", v[i]);
    }
    Ok(())
}

impl RunArgs {
    fn run(self) -> anyhow::Result<()> {
        ensure!(self.steps > 0, "--steps must be at least 1");
        ensure!(self.every > 0, "--every must be at least 1");
        let urdf = std::fs::read_to_string(&self.arm)
            .with_context(|| format!("cannot read the arm file {}", self.arm.display()))?;
        let params = SimParams {
            dt: self.dt,
            joint_damping: self.damping,
            substeps: self.substeps,
            enforce_position_limits: !self.no_limits,
            ..SimParams::default()
        };
        let mut world = ArmWorld::from_urdf_str(&urdf, params)
            .with_context(|| format!("cannot build the arm from {}", self.arm.display()))?;
        let dof = world.dof();

        let q0 = self.q0.clone().unwrap_or_else(|| vec![0.0; dof]);
        let dq0 = self.dq0.clone().unwrap_or_else(|| vec![0.0; dof]);
        check_dof("--q0", &q0, dof, &self.arm)?;
        check_dof("--dq0", &dq0, dof, &self.arm)?;
        world.set_state(&q0, &dq0).context("invalid initial state")?;

        let payload = match self.payload_kg {
            None => None,
            Some(mass_kg) => {
                let offset = self.payload_offset.clone().unwrap_or_else(|| vec![0.0; 3]);
                ensure!(offset.len() == 3, "--payload-offset needs 3 values (x,y,z), got {}", offset.len());
                Some(PayloadSpec { mass_kg, offset_m: [offset[0], offset[1], offset[2]] })
            }
        };
        world.set_payload(payload).context("invalid --payload-kg/--payload-offset")?;

        let (rows, hold) = self.torque_schedule(dof)?;
        let traj = simulate(&mut world, &self, &rows, hold, payload)?;

        let file = std::fs::File::create(&self.out)
            .with_context(|| format!("cannot create the output file {}", self.out.display()))?;
        let mut writer = std::io::BufWriter::new(file);
        serde_json::to_writer(&mut writer, &traj).context("cannot serialise the trajectory")?;
        writer.flush().with_context(|| format!("cannot write the output file {}", self.out.display()))?;
        tracing::info!(
            steps = self.steps,
            samples = traj.t.len(),
            out = %self.out.display(),
            "trajectory written"
        );
        Ok(())
    }

    /// Torque rows and the number of steps each is held for.
    fn torque_schedule(&self, dof: usize) -> anyhow::Result<(Vec<Vec<f64>>, u64)> {
        if let Some(c) = &self.const_torque {
            check_dof("--const-torque", c, dof, &self.arm)?;
            return Ok((vec![c.clone()], 1));
        }
        let Some(path) = &self.torques else {
            return Ok((vec![vec![0.0; dof]], 1));
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the torque file {}", path.display()))?;
        let file: TorqueFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a torque file: expected {{\"torques\": [[τ1, …], …], \"hold_steps\": 1}} or [[τ1, …], …]",
                path.display()
            )
        })?;
        let (rows, hold) = match file {
            TorqueFile::Table(t) => (t.torques, t.hold_steps),
            TorqueFile::Rows(r) => (r, 1),
        };
        ensure!(!rows.is_empty(), "{}: the torque table is empty", path.display());
        ensure!(hold > 0, "{}: hold_steps must be at least 1", path.display());
        for (k, row) in rows.iter().enumerate() {
            check_dof(&format!("{} row {k}", path.display()), row, dof, &self.arm)?;
        }
        Ok((rows, hold))
    }
}

fn simulate(
    world: &mut ArmWorld,
    args: &RunArgs,
    rows: &[Vec<f64>],
    hold: u64,
    payload: Option<PayloadSpec>,
) -> anyhow::Result<Trajectory> {
    let capacity = (args.steps / args.every + 2) as usize;
    let mut traj = Trajectory {
        arm: world.robot_name().to_string(),
        urdf: args.arm.display().to_string(),
        joint_names: world.joint_names(),
        dt: args.dt,
        steps: args.steps,
        every: args.every,
        substeps: args.substeps,
        payload: payload.map(|p| PayloadOut { mass_kg: p.mass_kg, offset_m: p.offset_m }),
        t: Vec::with_capacity(capacity),
        q: Vec::with_capacity(capacity),
        dq: Vec::with_capacity(capacity),
        tau: Vec::with_capacity(capacity),
        ee: Vec::with_capacity(capacity),
        ee_quat: Vec::with_capacity(capacity),
        energy: Vec::with_capacity(capacity),
        kinetic: Vec::with_capacity(capacity),
        potential: Vec::with_capacity(capacity),
    };
    let record = |world: &ArmWorld, traj: &mut Trajectory| -> anyhow::Result<()> {
        let s = world.state();
        if s.q.iter().chain(&s.dq).any(|v| !v.is_finite()) {
            bail!("the simulation diverged at t = {} s (non-finite joint state)", s.t);
        }
        let e = world.energy();
        traj.t.push(s.t);
        traj.q.push(s.q);
        traj.dq.push(s.dq);
        traj.tau.push(s.tau);
        traj.ee.push(s.ee_position);
        traj.ee_quat.push(s.ee_orientation);
        traj.energy.push(e.total());
        traj.kinetic.push(e.kinetic);
        traj.potential.push(e.potential);
        Ok(())
    };
    record(world, &mut traj)?;
    let mut warned = false;
    for k in 0..args.steps {
        let row = ((k / hold) as usize).min(rows.len() - 1);
        if k % hold == 0 {
            let clamped = world.set_torques(&rows[row]).context("invalid torque command")?;
            if clamped > 0 && !warned {
                tracing::warn!(step = k, "torques beyond the URDF effort limits are clamped");
                warned = true;
            }
        }
        world.step();
        if (k + 1) % args.every == 0 || k + 1 == args.steps {
            record(world, &mut traj)?;
        }
    }
    Ok(traj)
}
