//! Leaky integrate-and-fire neurons: Nengo's rate curve, gain/bias solution and one float step.

/// LIF constants, s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifParams {
    /// Membrane time constant, s.
    pub tau_rc: f64,
    /// Refractory period, s.
    pub tau_ref: f64,
}

impl Default for LifParams {
    fn default() -> Self {
        LifParams { tau_rc: 0.02, tau_ref: 0.002 }
    }
}

impl LifParams {
    /// Steady firing rate for input current `j` (threshold 1), spikes/s.
    pub fn rate(&self, j: f64) -> f64 {
        if j > 1.0 { 1.0 / (self.tau_ref + self.tau_rc * (1.0 / (j - 1.0)).ln_1p()) } else { 0.0 }
    }

    /// Gain and bias that make a neuron start firing at `intercept` and reach `max_rate` (spikes/s) at 1.
    pub fn gain_bias(&self, max_rate: f64, intercept: f64) -> (f64, f64) {
        let z = 1.0 / (1.0 - ((self.tau_ref - 1.0 / max_rate) / self.tau_rc).exp());
        let gain = (1.0 - z) / (intercept - 1.0);
        (gain, 1.0 - gain * intercept)
    }
}

/// Per-neuron float LIF state.
#[derive(Debug, Clone)]
pub struct LifState {
    /// Membrane voltage, threshold units.
    pub voltage: Vec<f64>,
    /// Remaining refractory time, s (may be negative: Nengo keeps counting down).
    pub refractory: Vec<f64>,
}

impl LifState {
    /// Voltages as given, nobody refractory.
    pub fn new(voltage: Vec<f64>) -> Self {
        let n = voltage.len();
        LifState { voltage, refractory: vec![0.0; n] }
    }

    /// One step of Nengo's `LIF.step` with currents `j`; writes 1 into `spiked[i]` for each spike, else 0.
    /// The spike time within the step is interpolated, which shortens the next refractory period.
    pub fn step(&mut self, p: &LifParams, dt: f64, j: &[f64], spiked: &mut [u8]) -> usize {
        let full = -(-dt / p.tau_rc).exp_m1();
        let mut count = 0;
        for i in 0..j.len() {
            let mut r = self.refractory[i] - dt;
            let delta_t = (dt - r).clamp(0.0, dt);
            let factor = if delta_t == dt { full } else { -(-delta_t / p.tau_rc).exp_m1() };
            let mut v = self.voltage[i] + (j[i] - self.voltage[i]) * factor;
            let s = v > 1.0;
            if s {
                let t_spike = dt + p.tau_rc * (-(v - 1.0) / (j[i] - 1.0)).ln_1p();
                r = p.tau_ref + t_spike;
                v = 0.0;
                count += 1;
            } else if v < 0.0 {
                v = 0.0;
            }
            self.voltage[i] = v;
            self.refractory[i] = r;
            spiked[i] = s as u8;
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_bias_round_trips_through_rate() {
        let p = LifParams::default();
        let (gain, bias) = p.gain_bias(300.0, 0.2);
        assert!((p.rate(gain + bias) - 300.0).abs() < 1e-9);
        assert!((gain * 0.2 + bias - 1.0).abs() < 1e-12);
    }
}
