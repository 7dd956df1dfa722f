//! Discretize: turn a float-built network into the core's integers, and check they fit.

use super::compartment::{CompartmentParams, INPUT_BITS, PackedBias, REF_DELAY_MAX, VMAX};
use super::cores::{CoreLimits, CoreMap};
use super::fixed::{decay_u, decay_v, keep};
use super::huge_pages::huge_vec;
use crate::neuro::NeuroError;
use crate::neuro::build::BuiltNetwork;

/// Tunables of the fixed-point core. Defaults follow Loihi and NengoLoihi where they have a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoihiParams {
    /// Bits of a synaptic weight mantissa, sign included (Loihi: 8).
    pub weight_bits: u32,
    /// Bits of an error sample, sign included (NengoLoihi: 8, i.e. ±127).
    pub error_bits: u32,
    /// Bits of a presynaptic trace, unsigned (Loihi: 7).
    pub trace_bits: u32,
    /// Steps between presynaptic trace updates (NengoLoihi: 2).
    pub train_epoch: u32,
    /// Steps between weight updates (NengoLoihi: 4); must be a multiple of `train_epoch`.
    pub learn_epoch: u32,
    /// Error resolution before any automatic scaling, output units (NengoLoihi: 0.01).
    pub error_quantum: f64,
    /// Let error and weight exponents follow the signal (see the `learning` module); off reproduces NengoLoihi's
    /// fixed scales, where errors beyond ±1.27 clip.
    pub auto_scale: bool,
    /// Steps over which a signal must stay below a quarter of its range before its exponent is lowered.
    pub rescale_window: u32,
    /// On/off spike-generator pairs per input dimension: together they fire up to this many spikes per step,
    /// which divides the input's quantization ripple by as much (NengoLoihi: 1 pair at 1000 spikes/s).
    pub input_pairs: u32,
    /// Input lowpass used when the spec feeds its input unfiltered, s (0: none).
    pub default_input_synapse: f64,
    /// Input encoding with graded spikes (Loihi 2; off on Loihi 1): each input dimension has one on and one off
    /// generator, and a generator that fires sends one event whose integer payload is the number of the
    /// `input_pairs` levels it fired this step. The neurons receive exactly the same input as from
    /// `input_pairs` binary generators, but one synaptic event per axon instead of one per spike, and
    /// `input_pairs` may then go up to [`GRADED_LEVELS_MAX`] (finer input quantization at no event cost).
    pub graded_input: bool,
    /// Send-on-change input (needs `graded_input`): a dimension's generator sends an event only when its input
    /// level (`input_pairs` levels per radius, after the input lowpass, which it applies itself) changes, with
    /// the change as payload; the ensemble's current does not decay (Loihi's `decay_u = 0`), so it holds the
    /// weighted sum of the levels exactly. Slow inputs then cost events only when they move.
    pub delta_input: bool,
    /// Subtractive reset (Loihi 2's programmable neurons; Loihi 1 resets to 0): a spike subtracts the threshold
    /// and the remainder is kept, so firing rates follow the continuous LIF rate curve instead of whole-step
    /// intervals (200 Hz where the float LIF fires 243 Hz with a hard reset).
    pub soft_reset: bool,
    /// Count as learning work only the weight updates whose presynaptic trace is non-zero (an event-driven
    /// learning engine that visits the synapses of recently active neurons only). An update with a zero trace
    /// changes nothing, so this changes the accounting, never the results. Off: every synapse of an updating
    /// dimension counts each learning epoch, as Loihi 1's learning engine processes them.
    pub count_active_updates: bool,
    /// Per-core resources.
    pub cores: CoreLimits,
    /// Threads that step the ensemble (0: one per CPU of the machine). Results are bit-identical on any count;
    /// a network gets at most one thread per [`thread_min_neurons`](Self::thread_min_neurons). Default 1: the
    /// controller's tick runs on its own thread and allocates nothing.
    pub threads: usize,
    /// Fewest neurons a thread's part of the step gets, neurons (counted in whole tiles of
    /// [`TILE`](super::sweep::TILE)): a network smaller than twice this stays on one thread whatever `threads`
    /// says. Default 32 768 (16 tiles): on the
    /// 2-core machine of BENCHMARKS.md two threads took 1.27 × the speed of one at 16 384 neurons, 1.45 × at
    /// 32 768 and 1.74 × at 65 536, so a network splits from 65 536 neurons on.
    pub thread_min_neurons: usize,
}

/// Largest input payload scale of [`LoihiParams::graded_input`] (Loihi 2's graded spikes carry more, but the
/// per-step input sums must stay within the core's 21-bit input accumulator).
pub const GRADED_LEVELS_MAX: u32 = 1 << 12;

/// Fixed-point core profiles: which chip's constraints the emulation keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CoreProfile {
    /// Loihi 1 (the default): binary spikes, 8-bit weight mantissas, 7-bit traces. Bit-exact to the golden trace.
    #[default]
    Loihi1,
    /// Loihi 2-style options (see [`LoihiParams::loihi2`]): graded input spikes and finer learned weights.
    Loihi2,
}

impl Default for LoihiParams {
    fn default() -> Self {
        LoihiParams {
            weight_bits: 8,
            error_bits: 8,
            trace_bits: 7,
            train_epoch: 2,
            learn_epoch: 4,
            error_quantum: 0.01,
            auto_scale: true,
            rescale_window: 256,
            input_pairs: 8,
            default_input_synapse: 0.0,
            graded_input: false,
            delta_input: false,
            soft_reset: false,
            count_active_updates: false,
            cores: CoreLimits::default(),
            threads: 1,
            thread_min_neurons: 1 << 15,
        }
    }
}

impl LoihiParams {
    /// The parameters of a profile: [`Default`] for Loihi 1, [`loihi2`](Self::loihi2) for Loihi 2.
    pub fn for_profile(profile: CoreProfile) -> Self {
        match profile {
            CoreProfile::Loihi1 => LoihiParams::default(),
            CoreProfile::Loihi2 => LoihiParams::loihi2(),
        }
    }

    /// Loihi 2-style options on top of the Loihi 1 defaults: the subtractive reset (rates on the continuous LIF
    /// curve), and graded send-on-change input with 128 levels per radius (no input ripple; an input event only
    /// when a level changes), and learning work counted only where a trace is non-zero. Weights, traces and errors keep Loihi 1's widths: widening them did not lower the
    /// learning suite's error (`scripts/learning_suite.py`).
    pub fn loihi2() -> Self {
        LoihiParams {
            soft_reset: true,
            graded_input: true,
            delta_input: true,
            input_pairs: 128,
            count_active_updates: true,
            ..LoihiParams::default()
        }
    }

    /// Sets one tunable by name (`weight_bits`, `error_bits`, `trace_bits`, `train_epoch`, `learn_epoch`,
    /// `error_quantum`, `auto_scale`, `rescale_window`, `input_pairs`, `default_input_synapse`, `graded_input`,
    /// `delta_input`, `soft_reset`, `count_active_updates`, `threads`, `thread_min_neurons`)
    /// from its text form, for ablations from the command line. The result is checked when a network is built.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), NeuroError> {
        fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, NeuroError> {
            value
                .trim()
                .parse()
                .map_err(|_| NeuroError::InvalidSpec(format!("core parameter {key}: cannot parse {value:?}")))
        }
        match key.trim() {
            "weight_bits" => self.weight_bits = parse(key, value)?,
            "error_bits" => self.error_bits = parse(key, value)?,
            "trace_bits" => self.trace_bits = parse(key, value)?,
            "train_epoch" => self.train_epoch = parse(key, value)?,
            "learn_epoch" => self.learn_epoch = parse(key, value)?,
            "error_quantum" => self.error_quantum = parse(key, value)?,
            "auto_scale" => self.auto_scale = parse(key, value)?,
            "rescale_window" => self.rescale_window = parse(key, value)?,
            "input_pairs" => self.input_pairs = parse(key, value)?,
            "default_input_synapse" => self.default_input_synapse = parse(key, value)?,
            "graded_input" => self.graded_input = parse(key, value)?,
            "delta_input" => self.delta_input = parse(key, value)?,
            "soft_reset" => self.soft_reset = parse(key, value)?,
            "count_active_updates" => self.count_active_updates = parse(key, value)?,
            "threads" => self.threads = parse(key, value)?,
            "thread_min_neurons" => self.thread_min_neurons = parse(key, value)?,
            other => return Err(NeuroError::InvalidSpec(format!("unknown core parameter {other:?}"))),
        }
        Ok(())
    }

    /// Spike generators per input dimension and polarity: `input_pairs` binary ones, or one graded one.
    pub fn generators_per_polarity(&self) -> u32 {
        if self.graded_input { 1 } else { self.input_pairs }
    }

    /// Largest weight mantissa magnitude.
    pub fn weight_max(&self) -> i32 {
        (1 << (self.weight_bits - 1)) - 1
    }

    /// Largest error sample magnitude.
    pub fn error_max(&self) -> i32 {
        (1 << (self.error_bits - 1)) - 1
    }

    /// Largest trace value.
    pub fn trace_max(&self) -> i32 {
        (1 << self.trace_bits) - 1
    }

    fn validate(&self) -> Result<(), NeuroError> {
        let ok = (2..=16).contains(&self.weight_bits)
            && (2..=16).contains(&self.error_bits)
            && (1..=15).contains(&self.trace_bits)
            && self.train_epoch >= 1
            && self.learn_epoch >= self.train_epoch
            && self.learn_epoch.is_multiple_of(self.train_epoch)
            && self.error_quantum.is_finite()
            && self.error_quantum > 0.0
            && self.rescale_window >= self.learn_epoch
            && (1..=if self.graded_input { GRADED_LEVELS_MAX } else { 64 }).contains(&self.input_pairs)
            && self.default_input_synapse.is_finite()
            && self.default_input_synapse >= 0.0
            && (self.graded_input || !self.delta_input);
        if ok { Ok(()) } else { Err(NeuroError::InvalidSpec(format!("invalid LoihiParams: {self:?}"))) }
    }
}

/// The ensemble as integers.
#[derive(Debug, Clone)]
pub struct DiscreteEnsemble {
    /// Shared compartment parameters.
    pub comp: CompartmentParams,
    /// Per-compartment bias (12-bit mantissa and sign × 2^0..7), stored as [`Biases`] says.
    pub bias: Biases,
    /// Initial voltages.
    pub v0: Vec<i32>,
    /// Input weight mantissas, one row of `n` per input dimension; the weight is mantissa × 2^`input_weight_exp`.
    /// A dimension's on axons carry its row, its off axons the row negated (the mantissas are symmetric, so
    /// the off row would be exactly the negation): one row serves both, half the memory.
    pub input_mantissas: InputRows,
    /// The 8-bit input mantissas again, four dimensions to a word and made unsigned (`m + 128`, in bytes
    /// little-endian, dimension `4q` lowest): word `q × n + i` holds dimensions `4q..4q + 4` of neuron `i`, a
    /// dimension past the last as 128 (a zero weight). The compartment loop sums a quad per neuron with one
    /// multiply-add where the CPU has AVX-512 VNNI. Empty when the mantissas are wider than 8 bits.
    pub input_quads: Vec<u32>,
    /// Exponent shared by the input weights.
    pub input_weight_exp: u32,
    /// Integer voltage units per float threshold unit.
    pub v_scale: f64,
    /// With [`LoihiParams::delta_input`]: the input lowpass's keep factor per step, which the generators apply
    /// before quantizing (0: unfiltered).
    pub input_filter: f64,
}

/// An ensemble's biases: their values for ensembles of up to [`BIAS_VALUES_MAX`] neurons, whose state stays in
/// the L2 cache and whose step is bound by the compartment loop's operations (a value needs no decoding: a fifth
/// of that loop), and the packed registers for larger ones, whose step streams every neuron's state from memory
/// (two bytes instead of four per neuron and step). The same biases either way.
#[derive(Debug, Clone)]
pub enum Biases {
    /// Values, voltage units per step.
    Values(Vec<i32>),
    /// Packed registers.
    Packed(Vec<PackedBias>),
}

/// Largest ensemble whose biases are stored as values (see [`Biases`]).
pub const BIAS_VALUES_MAX: usize = 1 << 16;

impl Biases {
    /// Stores `packed` as values or as they are, by the ensemble's size.
    pub fn new(packed: Vec<PackedBias>) -> Self {
        if packed.len() <= BIAS_VALUES_MAX {
            Biases::Values(packed.iter().map(|b| b.value()).collect())
        } else {
            Biases::Packed(packed)
        }
    }
}

/// Input weight mantissas stored as narrow as their width allows: Loihi's 8-bit mantissas in bytes (half the
/// memory the input spikes stream through each step), wider ones in 16 bits.
#[derive(Debug, Clone)]
pub enum InputRows {
    /// Mantissas of at most 8 bits.
    Bytes(Vec<i8>),
    /// Mantissas of 9 to 16 bits.
    Words(Vec<i16>),
}

impl InputRows {
    /// Stores `mantissas` in bytes if they all fit.
    pub fn new(mantissas: Vec<i16>) -> Self {
        if mantissas.iter().all(|&m| i8::try_from(m).is_ok()) {
            InputRows::Bytes(huge_vec(mantissas.len(), |i| mantissas[i] as i8))
        } else {
            InputRows::Words(huge_vec(mantissas.len(), |i| mantissas[i]))
        }
    }

    /// 8-bit rows of `n` mantissas four to a word, as [`DiscreteEnsemble::input_quads`] holds them (empty for
    /// wider mantissas).
    pub fn quads(&self, n: usize) -> Vec<u32> {
        let InputRows::Bytes(rows) = self else { return Vec::new() };
        let quads = rows.len().checked_div(n).unwrap_or(0).div_ceil(4);
        let biased = |dim: usize, i: usize| rows.get(dim * n + i).map_or(128, |&m| (m as u8 ^ 0x80) as u32);
        huge_vec(quads * n, |w| {
            let (q, i) = (w / n, w % n);
            (0..4).fold(0, |word, k| word | biased(4 * q + k, i) << (8 * k))
        })
    }
}

/// The learned readout's fixed scales (the exponents that move at run time live in the executor).
#[derive(Debug, Clone)]
pub struct DiscreteReadout {
    /// Keep factor of the readout compartments' current (the output synapse).
    pub keep_u: i32,
    /// Keep factor of the readout compartments' voltage (non-spiking, `decay_v = 4095`).
    pub keep_v: i32,
    /// Neurons per readout group.
    pub group_size: usize,
    /// Left shift of the weights into each group's compartments, chosen so no register can wrap.
    pub group_shift: Vec<u32>,
    /// Trace decay per training epoch, Q16.
    pub trace_decay_q16: i64,
    /// Trace increment per presynaptic spike.
    pub trace_increment: i64,
    /// Presynaptic rate per trace unit, spikes/s.
    pub trace_rate_scale: f64,
    /// Decoder value of one weight unit at weight exponent 0, output units per spike/s.
    pub decoder_quantum: f64,
    /// Output units per integer unit of a group's compartments at exponent and shift 0, inverse.
    pub output_scale: f64,
    /// The learning rate the quanta were chosen for.
    pub reference_rate: f64,
}

/// A network ready for the fixed-point executor.
#[derive(Debug, Clone)]
pub struct DiscreteNetwork {
    /// The core's tunables.
    pub params: LoihiParams,
    /// The ensemble.
    pub ensemble: DiscreteEnsemble,
    /// The learned readout.
    pub readout: DiscreteReadout,
    /// Where everything lives.
    pub cores: CoreMap,
}

/// Largest bias magnitude: 12-bit mantissa × 2^7.
const BIAS_MAX: f64 = 4095.0 * 128.0;
/// Thresholds stay at most 2^21 so voltages have head-room below the 2^23 ceiling.
const VTH_MAX: f64 = (1 << 21) as f64;

impl DiscreteNetwork {
    /// Discretizes and validates a built network.
    pub fn new(built: &BuiltNetwork, params: LoihiParams) -> Result<Self, NeuroError> {
        params.validate()?;
        let (n, d, k) = (built.neurons(), built.input_dims(), built.output_dims());
        let cores = CoreMap::layout(n, d, params.generators_per_polarity() as usize, k, params.cores)?;
        let ensemble = discretize_ensemble(built, &params)?;
        let readout = discretize_readout(built, &params, &cores);
        Ok(DiscreteNetwork { params, ensemble, readout, cores })
    }
}

fn discretize_ensemble(built: &BuiltNetwork, params: &LoihiParams) -> Result<DiscreteEnsemble, NeuroError> {
    let spec = &built.spec;
    let (n, d) = (built.neurons(), built.input_dims());
    let dt = spec.dt;
    let dv = decay_v(spec.ensemble.tau_rc, dt);
    let input_tau = spec.ensemble.input_synapse.unwrap_or(params.default_input_synapse);
    let du = decay_u(input_tau, dt);
    let delta_v = dv as f64 / 4096.0;
    // The current settles at input/(1 - keep_u/4096): weights carry that factor so u means delta_v*J. With
    // send-on-change input the current holds the levels' weighted sum itself (no decay, no factor).
    let (keep_u, u_gain) =
        if params.delta_input { (4096, 1.0) } else { (keep(du, 1), 1.0 - keep(du, 1) as f64 / 4096.0) };
    let max_bias = built.bias.iter().fold(0.0f64, |m, b| m.max(b.abs()));
    let max_drive = (0..n)
        .map(|i| built.gain[i] * built.encoders[i * d..(i + 1) * d].iter().map(|e| e.abs()).sum::<f64>())
        .fold(0.0f64, f64::max);
    // Largest scale for which bias, current and per-step input all fit their registers.
    let mut v_scale = VTH_MAX;
    if max_bias > 0.0 {
        v_scale = v_scale.min(BIAS_MAX / (max_bias * delta_v));
    }
    if max_drive > 0.0 {
        v_scale = v_scale.min((1 << 22) as f64 / (max_drive * delta_v));
        v_scale = v_scale.min(((1 << INPUT_BITS) - 1) as f64 / (max_drive * delta_v * u_gain));
        // (each of the `input_pairs` generators carries 1/input_pairs of the drive, so the per-step sum is the same)
    }
    let vth = ((v_scale / 64.0).floor() as i32) * 64;
    if vth < 64 * 16 {
        return Err(NeuroError::InvalidSpec(format!(
            "neuron gains or biases too large for the core's registers (threshold would be {vth}); \
             reduce max_rates or keep intercepts away from ±1"
        )));
    }
    let v_scale = vth as f64;
    let ref_delay = (spec.ensemble.tau_ref / dt).round() as i32 + 1;
    if ref_delay > REF_DELAY_MAX {
        return Err(NeuroError::InvalidSpec(format!(
            "tau_ref = {} s is {ref_delay} steps of dt = {dt} s; the core counts at most {REF_DELAY_MAX}",
            spec.ensemble.tau_ref
        )));
    }
    let bias = Biases::new(huge_vec(n, |i| quantize_bias(built.bias[i] * delta_v * v_scale)));
    let v0 = built.initial_voltage.iter().map(|v| (v * v_scale).round() as i32).collect();
    let mut real = vec![0.0; d * n];
    // Spike generators fire with probability |x|/radius per step, so a weight of gain·e (in v units) gives
    // the float current on average.
    for i in 0..n {
        for j in 0..d {
            let w = delta_v * v_scale * built.gain[i] * built.encoders[i * d + j] * u_gain / params.input_pairs as f64;
            real[j * n + i] = w;
        }
    }
    let (input_mantissas, input_weight_exp) = quantize_weights(&real, params.weight_max());
    let input_mantissas = InputRows::new(input_mantissas);
    let input_quads = input_mantissas.quads(n);
    Ok(DiscreteEnsemble {
        comp: CompartmentParams { keep_u, keep_v: keep(dv, 0), vth, vmin: 0, vmax: VMAX, ref_delay },
        bias,
        v0,
        input_mantissas,
        input_quads,
        input_weight_exp,
        v_scale,
        input_filter: if params.delta_input && input_tau > 0.0 { (-dt / input_tau).exp() } else { 0.0 },
    })
}

fn discretize_readout(built: &BuiltNetwork, params: &LoihiParams, cores: &CoreMap) -> DiscreteReadout {
    let spec = &built.spec;
    let dt = spec.dt;
    let n = built.neurons();
    let du = decay_u(spec.readout.synapse, dt);
    let keep_u = keep(du, 1);
    let u_gain = 1.0 - keep_u as f64 / 4096.0;
    let ref_steps = ((spec.ensemble.tau_ref / dt).round() as i32 + 1).max(1) as f64;
    let group_size = cores.readout_group_size;
    let wmax = params.weight_max() as f64;
    let group_shift = (0..cores.readout_groups())
        .map(|g| {
            let members = (n - g * group_size).min(group_size) as f64;
            // Worst case: every member at its top rate with the largest same-signed weight.
            let settle = members * wmax / ref_steps / u_gain;
            let burst = members * wmax;
            let room = (VMAX as f64 / settle).min(((1 << INPUT_BITS) - 1) as f64 / burst);
            room.log2().floor().clamp(0.0, 16.0) as u32
        })
        .collect();
    let epoch = params.train_epoch as f64;
    let trace_decay = (-epoch * dt / spec.readout.pre_synapse).exp();
    let trace_increment = ((params.trace_max() as f64 * (1.0 - trace_decay)).floor() as i64).max(1);
    let trace_rate_scale = (1.0 - trace_decay) / (trace_increment as f64 * epoch * dt);
    let reference_rate = if spec.readout.learning_rate > 0.0 { spec.readout.learning_rate } else { 1e-4 };
    // Chosen so that one weight update is exactly trace × summed error samples at exponents 0.
    let decoder_quantum = reference_rate * dt * trace_rate_scale * params.error_quantum / n as f64;
    DiscreteReadout {
        keep_u,
        keep_v: keep(4095, 0),
        group_size,
        group_shift,
        trace_decay_q16: (trace_decay * 65536.0).round() as i64,
        trace_increment,
        trace_rate_scale,
        decoder_quantum,
        output_scale: u_gain * decoder_quantum / dt,
        reference_rate,
    }
}

/// Nearest bias on the core's grid: a 12-bit mantissa with a per-compartment exponent 0..=7.
fn quantize_bias(b: f64) -> PackedBias {
    let mut exp = 0;
    while exp < 7 && (b / (1 << exp) as f64).abs().round() > 4095.0 {
        exp += 1;
    }
    let mant = (b / (1 << exp) as f64).round().clamp(-4095.0, 4095.0) as i32;
    PackedBias::new(mant, exp)
}

/// Nearest weights on the grid of a `weight_max` mantissa (at most 15 bits) with one shared exponent; returns
/// the mantissas and the exponent.
pub fn quantize_weights(w: &[f64], weight_max: i32) -> (Vec<i16>, u32) {
    let max = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let mut exp = 0u32;
    while max / ((1u64 << exp) as f64) > weight_max as f64 + 0.5 && exp < 24 {
        exp += 1;
    }
    let scale = (1u64 << exp) as f64;
    let q = w.iter().map(|x| (x / scale).round().clamp(-(weight_max as f64), weight_max as f64) as i16).collect();
    (q, exp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::{EnsembleSpec, NetworkSpec, PesSpec, RangeSpec};

    #[test]
    fn a_refractory_period_longer_than_the_counter_is_a_clear_error() {
        let mut spec = NetworkSpec::new(EnsembleSpec::new(50, 1, 0), PesSpec::new(1, 1e-4));
        spec.ensemble.tau_ref = 0.3;
        spec.ensemble.max_rates = RangeSpec(1.0, 3.0);
        let built = BuiltNetwork::build(&spec).unwrap();
        let err = DiscreteNetwork::new(&built, LoihiParams::default()).unwrap_err().to_string();
        assert!(err.contains("tau_ref") && err.contains("301 steps"), "{err}");
        spec.ensemble.tau_ref = 0.25;
        spec.ensemble.max_rates = RangeSpec(1.0, 3.5);
        assert!(DiscreteNetwork::new(&BuiltNetwork::build(&spec).unwrap(), LoihiParams::default()).is_ok());
    }

    #[test]
    fn core_parameters_are_set_by_name_and_bad_ones_are_clear_errors() {
        let mut p = LoihiParams::default();
        p.set("weight_bits", "10").unwrap();
        p.set("soft_reset", "true").unwrap();
        assert_eq!((p.weight_bits, p.soft_reset), (10, true));
        let err = p.set("weight_bitz", "3").unwrap_err().to_string();
        assert!(err.contains("weight_bitz"), "{err}");
        let err = p.set("trace_bits", "many").unwrap_err().to_string();
        assert!(err.contains("trace_bits") && err.contains("many"), "{err}");
        // Send-on-change input needs graded spikes; more than 64 binary pairs is refused, 4096 graded levels not.
        let built = BuiltNetwork::build(&NetworkSpec::new(EnsembleSpec::new(20, 1, 0), PesSpec::new(1, 1e-4))).unwrap();
        let delta_alone = LoihiParams { delta_input: true, ..LoihiParams::default() };
        assert!(DiscreteNetwork::new(&built, delta_alone).is_err());
        let many_pairs = LoihiParams { input_pairs: 128, ..LoihiParams::default() };
        assert!(DiscreteNetwork::new(&built, many_pairs).is_err());
        let graded = LoihiParams { graded_input: true, input_pairs: 4096, ..LoihiParams::default() };
        assert!(DiscreteNetwork::new(&built, graded).is_ok());
        assert_eq!(LoihiParams::for_profile(CoreProfile::Loihi1), LoihiParams::default());
        assert!(DiscreteNetwork::new(&built, LoihiParams::for_profile(CoreProfile::Loihi2)).is_ok());
    }

    #[test]
    fn biases_keep_their_value_in_the_packed_register() {
        for exp in 0..=7u32 {
            for mant in [-4095, -1234, -1, 0, 1, 777, 4095] {
                assert_eq!(PackedBias::new(mant, exp).value(), mant << exp, "{mant} × 2^{exp}");
            }
        }
        // The nearest point of the grid: within half a step of the exponent the magnitude needs, clipped at the top.
        for b in [0.0f64, 1.0, -1.0, 4095.0, -4095.4, 4096.0, 12_345.6, -300_000.0, 4095.0 * 128.0, -1e7] {
            let step = (b.abs() / 4095.5).max(1.0).log2().ceil().exp2();
            let want = b.clamp(-4095.0 * 128.0, 4095.0 * 128.0);
            assert!(
                (quantize_bias(b).value() as f64 - want).abs() <= step / 2.0,
                "bias {b}: {}",
                quantize_bias(b).value()
            );
        }
    }
}
